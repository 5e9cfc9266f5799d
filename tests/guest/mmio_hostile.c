/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mmio-hostile: the virtio-mmio register protocol (virtio 1.2 sections 2.1,
 * 2.2, 3.1 and 4.2) broken on purpose, through a virtio-blk disk and the
 * engine in hostile.h: accesses of every width and alignment, writes of
 * read-only and reads of write-only registers, selectors beyond what exists,
 * queue registers written while the queue runs, QueueReady and Status
 * dropped with requests in flight, feature negotiation out of order, and
 * ConfigGeneration read against a second vCPU that keeps changing the
 * device's state.
 */
#include "hostile.h"

#define REG_END 0x100 /* control registers: [0, REG_END) */
#define INFLIGHT 64 /* requests in flight for the reset and QueueReady cases */
#define INFLIGHT_BYTES KiB(128) /* each reads this much */
#define GEN_RACE_US 200000

static struct vdev *dev(struct hctx *h)
{
	return &h->b->dev;
}

/* io_works: one good IN through the ring by hand (the driver's state may be stale); 0 or
 * -1 (h->note). */
static int io_works(struct hctx *h)
{
	uint16_t want = (uint16_t)(vq_used_idx(h->q) + 1);

	hostile_good_chain(h, h->q->desc);
	hostile_post(h, 0);
	if (hostile_wait_used(h, want, HOSTILE_TIMEOUT_US) <= 0 || *h->s->status != VIRTIO_BLK_S_OK) {
		snappendf(h->note, sizeof(h->note), "; then a good request: used idx %u (want %u), status %u, Status 0x%x", vq_used_idx(h->q),
			 want, *h->s->status, vdev_status(dev(h)));
		return -1;
	}
	return 0;
}

/* ---- widths, alignments and directions ---- */

static void read_sized(uint64_t a, unsigned int size)
{
	switch (size) {
	case 1:
		(void)*(volatile uint8_t *)phys(a);
		break;
	case 2:
		(void)*(volatile uint16_t *)phys(a);
		break;
	case 4:
		(void)*(volatile uint32_t *)phys(a);
		break;
	default:
		(void)*(volatile uint64_t *)phys(a);
		break;
	}
}

static void write_sized(uint64_t a, unsigned int size, uint64_t v)
{
	switch (size) {
	case 1:
		*(volatile uint8_t *)phys(a) = (uint8_t)v;
		break;
	case 2:
		*(volatile uint16_t *)phys(a) = (uint16_t)v;
		break;
	case 4:
		*(volatile uint32_t *)phys(a) = (uint32_t)v;
		break;
	default:
		*(volatile uint64_t *)phys(a) = v;
		break;
	}
}

/* state_same: Status and queue 0's QueueReady as they were; note what changed. */
static int state_same(struct hctx *h, uint32_t status)
{
	uint32_t st = vdev_status(dev(h)), ready;

	vdev_write32(dev(h), VIRTIO_MMIO_QUEUE_SEL, 0);
	ready = vdev_read32(dev(h), VIRTIO_MMIO_QUEUE_READY);
	if (st == status && ready == 1)
		return 1;
	snappendf(h->note, sizeof(h->note), "; Status 0x%x (was 0x%x), QueueReady %u", st, status, ready);
	return 0;
}

/* M0001, M0002: every control register read and written (zeros) at 1, 2 and 8 bytes and
 * at 4 bytes off its alignment; config space read at every width and offset. */
static unsigned int c_widths(struct hctx *h)
{
	static const unsigned int sizes[] = { 1, 2, 8 };
	uint64_t base = dev(h)->base;
	uint32_t status;
	unsigned int n = 0;

	if (hostile_live(h))
		return O_NONE;
	status = vdev_status(dev(h));
	for (uint32_t off = 0; off < REG_END; off += 4) {
		for (unsigned int i = 0; i < nitems(sizes); i++) {
			if (off + sizes[i] > REG_END)
				continue;
			read_sized(base + off, sizes[i]);
			write_sized(base + off, sizes[i], 0);
			n += 2;
		}
		for (uint32_t mis = 1; mis < 4 && off + mis + 4 <= REG_END; mis++) {
			read_sized(base + off + mis, 4);
			write_sized(base + off + mis, 4, 0);
			n += 2;
		}
	}
	for (uint32_t off = 0; off < 64; off++)
		for (unsigned int size = 1; size <= 8; size *= 2, n++)
			read_sized(base + VIRTIO_MMIO_CONFIG + off, size);
	snprintf(h->note, sizeof(h->note), "%u accesses", n);
	if (!state_same(h, status) || io_works(h))
		return O_WRONG;
	return O_IGNORED;
}

/* M0008, M0016: writes to the read-only registers and to read-only config space. */
static unsigned int c_write_ro(struct hctx *h)
{
	static const uint32_t ro[] = { 0x000, 0x004, 0x008, 0x00c, 0x010, 0x034, 0x060, 0x0fc };
	struct vdev *d = dev(h);
	uint32_t status, gen, isr, max, f0;
	uint64_t cap;

	if (hostile_live(h))
		return O_NONE;
	status = vdev_status(d);
	gen = vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
	isr = vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	max = vdev_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	vdev_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f0 = vdev_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
	cap = vdev_config64(d, BLK_CFG_CAPACITY);
	for (unsigned int i = 0; i < nitems(ro); i++)
		vdev_write32(d, ro[i], 0x5a5a5a5a);
	*(volatile uint32_t *)phys(d->base + VIRTIO_MMIO_CONFIG + BLK_CFG_CAPACITY) = 1;
	*(volatile uint32_t *)phys(d->base + VIRTIO_MMIO_CONFIG + BLK_CFG_BLK_SIZE) = 1;
	snprintf(h->note, sizeof(h->note),
		 "magic 0x%x version %u device %u vendor 0x%x features 0x%x QueueNumMax %u InterruptStatus 0x%x "
		 "generation %u capacity %lu", vdev_read32(d, 0x000), vdev_read32(d, 0x004), vdev_read32(d, 0x008),
		 vdev_read32(d, 0x00c), vdev_read32(d, VIRTIO_MMIO_DEVICE_FEATURES),
		 vdev_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS),
		 vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION), vdev_config64(d, BLK_CFG_CAPACITY));
	if (vdev_read32(d, 0x000) != VIRTIO_MMIO_MAGIC || vdev_read32(d, 0x004) != d->version ||
	    vdev_read32(d, 0x008) != d->device_id || vdev_read32(d, 0x00c) != d->vendor_id ||
	    vdev_read32(d, VIRTIO_MMIO_DEVICE_FEATURES) != f0 || vdev_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX) != max ||
	    vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS) != isr ||
	    vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION) != gen || vdev_config64(d, BLK_CFG_CAPACITY) != cap) {
		snappendf(h->note, sizeof(h->note), "; a read-only value changed");
		return O_WRONG;
	}
	if (!state_same(h, status) || io_works(h))
		return O_WRONG;
	return O_IGNORED;
}

/* M0009: reads of the write-only registers have no effect: reading QueueNotify is no
 * notification, reading InterruptACK acknowledges nothing. */
static unsigned int c_read_wo(struct hctx *h)
{
	static const uint32_t wo[] = { 0x014, 0x020, 0x024, 0x030, 0x038, 0x050, 0x064,
				       0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4 };
	struct vdev *d = dev(h);
	struct vq *q = h->q;
	uint64_t end;
	uint32_t isr;

	if (hostile_live(h))
		return O_NONE;
	/* A posted DRIVER_OK that the device applies after the request below is made
	 * available serves it then, rightly; reading Status waits until it is applied. */
	(void)vdev_status(d);
	/* Ask for an interrupt on every completion, both ways the driver can. */
	q->avail[0] = 0;
	q->avail[2 + q->size] = 0;
	hostile_good_chain(h, q->desc);
	q->avail[2] = 0;
	q->avail_idx = 1;
	vq_publish(q);
	mb();
	for (unsigned int i = 0; i < nitems(wo); i++)
		(void)vdev_read32(d, wo[i]);
	end = rdtsc() + us_to_tsc(HOSTILE_QUIET_US);
	while (rdtsc() < end) {
		if (vq_used_idx(q)) {
			snprintf(h->note, sizeof(h->note), "a request was served without a notification");
			return O_WRONG;
		}
		cpu_relax();
	}
	hostile_notify(h);
	if (hostile_wait_used(h, 1, HOSTILE_TIMEOUT_US) <= 0) {
		snprintf(h->note, sizeof(h->note), "not served after QueueNotify (Status 0x%x)", vdev_status(d));
		return O_NONE;
	}
	isr = vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	(void)vdev_read32(d, VIRTIO_MMIO_INTERRUPT_ACK);
	snprintf(h->note, sizeof(h->note), "nothing served for %u ms of reads; InterruptStatus 0x%x, 0x%x after "
		 "reading InterruptACK", HOSTILE_QUIET_US / 1000, isr, vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS));
	if (!(isr & VIRTIO_INT_USED) || vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS) != isr)
		return O_WRONG;
	vdev_write32(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS) == 0 ? O_IGNORED : O_WRONG;
}

/* ---- selectors beyond what exists ---- */

/* M0011: DeviceFeatures for selectors 2 and up reads 0 (no such bits); a DriverFeatures
 * write under such a selector changes nothing (FEATURES_OK still holds). */
static unsigned int c_features_sel(struct hctx *h)
{
	static const uint32_t sels[] = { 2, 3, 0x80000000u, 0xffffffffu };
	struct vdev *d = dev(h);
	uint32_t v[nitems(sels)];
	const char *why = "";
	unsigned int i;
	int zero = 1;

	if (vdev_reset(d))
		return O_NONE;
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE);
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER);
	for (i = 0; i < nitems(sels); i++) {
		vdev_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sels[i]);
		v[i] = vdev_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
		zero &= v[i] == 0;
	}
	d->features = h->b->dev.offered & (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->features);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	for (i = 0; i < nitems(sels); i++) {
		vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sels[i]);
		vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffffu);
	}
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK);
	snprintf(h->note, sizeof(h->note), "DeviceFeatures under selectors 2, 3, 2^31, 2^32-1: 0x%x 0x%x 0x%x 0x%x; "
		 "Status 0x%x after FEATURES_OK", v[0], v[1], v[2], v[3], vdev_status(d));
	if (!(vdev_status(d) & VIRTIO_FEATURES_OK) || !zero)
		return O_WRONG;
	if (vq_setup(d, 0, h->b->opts.qsize, BLK_MAX_SEGS + 2, &why)) {
		snappendf(h->note, sizeof(h->note), "; queue setup failed");
		return O_WRONG;
	}
	vdev_driver_ok(d);
	h->driver_ok = 1;
	return io_works(h) ? O_WRONG : O_IGNORED;
}

/* M0004, M0019: QueueSel beyond the queues: QueueNumMax and QueueReady read 0, writes to
 * its registers and a QueueNotify of it change nothing; queue 0 runs on. */
static unsigned int c_queue_sel(struct hctx *h)
{
	static const uint32_t sels[] = { 1, 2, 0x8000, 0xffffffffu };
	struct vdev *d = dev(h);
	uint32_t status;
	unsigned int i, bad = 0;

	if (hostile_live(h))
		return O_NONE;
	status = vdev_status(d);
	for (i = 0; i < nitems(sels); i++) {
		vdev_write32(d, VIRTIO_MMIO_QUEUE_SEL, sels[i]);
		bad += vdev_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX) != 0;
		vdev_write32(d, VIRTIO_MMIO_QUEUE_NUM, 8);
		vdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)HPHYS(h->t1->buf));
		vdev_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)HPHYS(h->t1->buf) + 4096);
		vdev_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)HPHYS(h->t1->buf) + 8192);
		vdev_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
		bad += vdev_read32(d, VIRTIO_MMIO_QUEUE_READY) != 0;
		vdev_write32(d, VIRTIO_MMIO_QUEUE_NOTIFY, sels[i]);
	}
	snprintf(h->note, sizeof(h->note), "QueueSel 1, 2, 0x8000, 2^32-1: %u nonzero QueueNumMax or QueueReady "
		 "reads", bad);
	if (bad || !state_same(h, status) || io_works(h))
		return O_WRONG;
	return O_IGNORED;
}

/* M0012: QueueNum above QueueNumMax. */
static unsigned int c_queue_over_max(struct hctx *h)
{
	struct vq *q = h->q;
	uint32_t max;

	vdev_write32(dev(h), VIRTIO_MMIO_QUEUE_SEL, 0);
	max = vdev_read32(dev(h), VIRTIO_MMIO_QUEUE_NUM_MAX);
	return hostile_queue(h, max * 2, HPHYS(q->desc), HPHYS(q->avail), HPHYS(q->used));
}

/* M0015, M0021: the queue's size and ring addresses written while it is ready. */
static unsigned int c_layout_while_ready(struct hctx *h)
{
	struct vdev *d = dev(h);
	uint32_t status;

	if (hostile_live(h))
		return O_NONE;
	status = vdev_status(d);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_NUM, 4);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)HPHYS(h->t1->buf));
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)HPHYS(h->t1->buf) + 4096);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)HPHYS(h->t1->buf) + 8192);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 1);
	snprintf(h->note, sizeof(h->note), "QueueNum and the three ring addresses rewritten while ready");
	if (!state_same(h, status) || io_works(h))
		return O_WRONG;
	return O_IGNORED;
}

/* ---- requests in flight when the driver pulls the queue or the device away ---- */

/* post_reads: INFLIGHT IN requests of INFLIGHT_BYTES into h->big (shared), statuses at
 * status[0..INFLIGHT), interrupts wanted; then notify. */
static void post_reads(struct hctx *h, uint8_t *status)
{
	struct vq *q = h->q;
	uint32_t bytes = INFLIGHT_BYTES;

	if (bytes > h->b->max_req_bytes)
		bytes = h->b->max_req_bytes;
	hostile_request(h, VIRTIO_BLK_T_IN);
	h->s->hdr->sector = 0;
	q->avail[0] = 0;
	q->avail[2 + q->size] = 0;
	for (unsigned int i = 0; i < INFLIGHT; i++) {
		status[i] = 0xff;
		hostile_desc(q->desc, 3 * i, HHDR(h), 16, HR | HN, (uint16_t)(3 * i + 1));
		hostile_desc(q->desc, 3 * i + 1, HPHYS(h->big), bytes, HW | HN, (uint16_t)(3 * i + 2));
		hostile_desc(q->desc, 3 * i + 2, HPHYS(status + i), 1, HW, 0);
		q->avail[2 + i] = (uint16_t)(3 * i);
	}
	q->avail_idx = INFLIGHT;
	vq_publish(q);
	hostile_notify(h);
}

/* quiet: for HOSTILE_QUIET_US nothing changes in the used ring, the statuses or the data
 * (all poisoned first); 1 if so. */
static int quiet(struct hctx *h, uint8_t *status)
{
	struct vq *q = h->q;
	size_t used_len = 4 + 8 * (size_t)q->size;
	uint64_t end;

	memset(status, 0xee, INFLIGHT);
	memset(q->used, 0xee, used_len);
	memset(h->big, 0xee, KiB(4));
	end = rdtsc() + us_to_tsc(HOSTILE_QUIET_US);
	while (rdtsc() < end)
		cpu_relax();
	return mem_filled(status, INFLIGHT, 0xee) && mem_filled(q->used, used_len, 0xee) &&
	       mem_filled(h->big, KiB(4), 0xee);
}

/* T0095: QueueReady 0 with requests in flight: once it reads 0, the device touches the
 * queue no more (4.2.2.1: MUST NOT access the queue while QueueReady is 0). */
static unsigned int c_ready_toggle(struct hctx *h)
{
	uint8_t *status = h->t2->buf;
	struct vdev *d = dev(h);
	uint64_t end;
	uint16_t done;

	if (hostile_live(h))
		return O_NONE;
	post_reads(h, status);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_READY, 0);
	end = rdtsc() + us_to_tsc(HOSTILE_TIMEOUT_US);
	while (vdev_read32(d, VIRTIO_MMIO_QUEUE_READY) && rdtsc() < end)
		cpu_relax();
	done = vq_used_idx(h->q);
	snprintf(h->note, sizeof(h->note), "QueueReady 0 with %u requests in flight: %u done when it read 0",
		 INFLIGHT, done);
	if (vdev_read32(d, VIRTIO_MMIO_QUEUE_READY)) {
		snappendf(h->note, sizeof(h->note), "; QueueReady still reads 1");
		return O_WRONG;
	}
	if (!quiet(h, status)) {
		snappendf(h->note, sizeof(h->note), "; the device wrote the ring, a status or data afterwards");
		return O_WRONG;
	}
	return O_QUIET;
}

/* M0010, B0041: Status 0 with requests in flight: once Status reads 0, InterruptStatus and
 * QueueReady read 0 and the device touches nothing of the old queue (2.4, 4.2.2.1). */
static unsigned int c_reset_inflight(struct hctx *h)
{
	uint8_t *status = h->t2->buf;
	struct vdev *d = dev(h);
	uint32_t isr, ready;
	uint16_t done;

	if (hostile_setup(h, 1))
		return O_NONE;
	post_reads(h, status);
	if (vdev_reset(d)) {
		snprintf(h->note, sizeof(h->note), "Status did not read 0 within 1 s (0x%x)", vdev_status(d));
		return O_NONE;
	}
	done = vq_used_idx(h->q);
	isr = vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	ready = vdev_read32(d, VIRTIO_MMIO_QUEUE_READY);
	snprintf(h->note, sizeof(h->note), "Status 0 with %u requests in flight (%u done): InterruptStatus 0x%x, "
		 "QueueReady %u", INFLIGHT, done, isr, ready);
	if (isr || ready)
		return O_WRONG;
	if (!quiet(h, status)) {
		snappendf(h->note, sizeof(h->note), "; the device wrote the ring, a status or data after the reset");
		return O_WRONG;
	}
	return O_QUIET;
}

/* ---- feature negotiation out of order ---- */

/* negotiate_raw: reset, ACKNOWLEDGE, DRIVER, DriverFeatures = f (both words). */
static int negotiate_raw(struct hctx *h, uint64_t f)
{
	struct vdev *d = dev(h);

	if (vdev_reset(d)) {
		snprintf(h->note, sizeof(h->note), "Status did not read 0 after a reset");
		return -1;
	}
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE);
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	d->features = f;
	return 0;
}

static uint64_t base_features(struct hctx *h)
{
	return h->b->dev.offered & (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
}

/* features_ok: set FEATURES_OK; whether it reads back set. */
static int features_ok(struct hctx *h)
{
	vdev_set_status(dev(h), VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK);
	return (vdev_status(dev(h)) & VIRTIO_FEATURES_OK) != 0;
}

/* T0037: a feature bit the device did not offer (2.2.2: MUST fail FEATURES_OK). */
static unsigned int c_unoffered(struct hctx *h)
{
	uint64_t offered = h->b->dev.offered;
	unsigned int bit;

	for (bit = 0; bit < 64 && ((offered >> bit) & 1); bit++)
		;
	int accepted;

	if (negotiate_raw(h, base_features(h) | VIRTIO_BIT(bit)))
		return O_NONE;
	accepted = features_ok(h);
	snprintf(h->note, sizeof(h->note), "bit %u (not offered) accepted: FEATURES_OK %s", bit,
		 accepted ? "set" : "refused");
	return accepted ? O_NONE : O_REFUSED;
}

/* Without VERSION_1 (6.1: the device MAY refuse to work): refused, or it works. */
static unsigned int c_no_version_1(struct hctx *h)
{
	const char *why = "";

	if (negotiate_raw(h, base_features(h) & ~VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return O_NONE;
	if (!features_ok(h)) {
		snprintf(h->note, sizeof(h->note), "FEATURES_OK refused without VERSION_1");
		return O_REFUSED;
	}
	snprintf(h->note, sizeof(h->note), "FEATURES_OK accepted without VERSION_1");
	if (vq_setup(dev(h), 0, h->b->opts.qsize, BLK_MAX_SEGS + 2, &why))
		return O_NONE;
	vdev_driver_ok(dev(h));
	h->driver_ok = 1;
	return io_works(h) ? O_NONE : O_SERVED;
}

/* quiet_request: post a good request and notify; 1 if nothing is served for
 * HOSTILE_QUIET_US. */
static int quiet_request(struct hctx *h)
{
	uint64_t end;

	hostile_good_chain(h, h->q->desc);
	hostile_post(h, 0);
	end = rdtsc() + us_to_tsc(HOSTILE_QUIET_US);
	while (rdtsc() < end) {
		if (vq_used_idx(h->q))
			return 0;
		cpu_relax();
	}
	return 1;
}

/* T0039: the queue set up and DRIVER_OK without FEATURES_OK ever set. */
static unsigned int c_skip_features_ok(struct hctx *h)
{
	const char *why = "";

	if (negotiate_raw(h, base_features(h)) || vq_setup(dev(h), 0, h->b->opts.qsize, BLK_MAX_SEGS + 2, &why))
		return O_NONE;
	vdev_set_status(dev(h), VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_DRIVER_OK);
	h->driver_ok = 1;
	if (hostile_needs_reset(h))
		return O_NEEDS_RESET;
	if (!quiet_request(h)) {
		snprintf(h->note, sizeof(h->note), "served without FEATURES_OK (status %u)", *h->s->status);
		return O_NONE;
	}
	if (hostile_needs_reset(h))
		return O_NEEDS_RESET;
	snprintf(h->note, sizeof(h->note), "Status 0x%x: nothing served for %u ms", vdev_status(dev(h)),
		 HOSTILE_QUIET_US / 1000);
	return O_QUIET;
}

/* 3.1.1 out of order: DRIVER_OK, then FEATURES_OK. */
static unsigned int c_driver_ok_first(struct hctx *h)
{
	struct vdev *d = dev(h);
	const char *why = "";
	uint32_t st;

	if (negotiate_raw(h, base_features(h)) || vq_setup(d, 0, h->b->opts.qsize, BLK_MAX_SEGS + 2, &why))
		return O_NONE;
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_DRIVER_OK);
	h->driver_ok = 1;
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_DRIVER_OK | VIRTIO_FEATURES_OK);
	st = vdev_status(d);
	if (st & VIRTIO_NEEDS_RESET)
		return hostile_needs_reset(h) ? O_NEEDS_RESET : O_NONE;
	if (!quiet_request(h)) {
		snprintf(h->note, sizeof(h->note), "Status 0x%x: served (status %u)", st, *h->s->status);
		return O_SERVED;
	}
	if (hostile_needs_reset(h))
		return O_NEEDS_RESET;
	snprintf(h->note, sizeof(h->note), "Status 0x%x after FEATURES_OK followed DRIVER_OK; nothing served for "
		 "%u ms", st, HOSTILE_QUIET_US / 1000);
	return st & VIRTIO_FEATURES_OK ? O_QUIET : O_REFUSED;
}

/* T0040: INDIRECT_DESC dropped from DriverFeatures after FEATURES_OK (3.1.1: the driver
 * MUST NOT): the device keeps what was agreed and serves an indirect request. */
static unsigned int c_features_changed(struct hctx *h)
{
	struct vdev *d = dev(h);
	struct vq_desc *t = (struct vq_desc *)h->t1->buf;
	const char *why = "";
	unsigned int out;

	if (negotiate_raw(h, base_features(h)) || !features_ok(h)) {
		snappendf(h->note, sizeof(h->note), "; FEATURES_OK refused for VERSION_1 | INDIRECT_DESC");
		return O_NONE;
	}
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	if (vq_setup(d, 0, h->b->opts.qsize, BLK_MAX_SEGS + 2, &why))
		return O_NONE;
	vdev_driver_ok(d);
	h->driver_ok = 1;
	hostile_good_chain(h, t);
	hostile_desc(h->q->desc, 0, HPHYS(t), 3 * sizeof(*t), VQ_DESC_F_INDIRECT, 0);
	hostile_post(h, 0);
	out = hostile_wait_outcome(h, 0);
	snappendf(h->note, sizeof(h->note), "; DriverFeatures written 0 after FEATURES_OK, then an indirect request");
	return out == O_OK ? O_IGNORED : out;
}

/* T0034: the driver clears DRIVER_OK (2.1.2: MUST NOT clear a status bit). */
static unsigned int c_status_cleared(struct hctx *h)
{
	struct vdev *d = dev(h);
	uint32_t status;

	if (hostile_live(h))
		return O_NONE;
	status = vdev_status(d);
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK);
	snprintf(h->note, sizeof(h->note), "Status 0x%x, written 0x%x: reads 0x%x", status,
		 VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK, vdev_status(d));
	if (hostile_needs_reset(h))
		return O_NEEDS_RESET;
	if (!state_same(h, status) || io_works(h))
		return O_NONE;
	return O_IGNORED;
}

/* ---- ConfigGeneration against a second vCPU ---- */

struct churn {
	struct hctx *h;
	volatile int stop;
	uint32_t rounds, resets;
};

/* churn_device: set the device up, break its ring (NEEDS_RESET), reset it, over and over. */
static void churn_device(void *arg)
{
	struct churn *c = arg;
	struct hctx *h = c->h;

	while (!READ_ONCE(c->stop)) {
		if (hostile_setup(h, 1))
			break;
		hostile_good_chain(h, h->q->desc);
		hostile_post(h, h->q->size);
		c->resets += hostile_wait_used(h, 0xffff, HOSTILE_TIMEOUT_US) < 0;
		c->rounds++;
	}
}

/* M0016 and 4.2.2.1: a read of the 64-bit capacity between two equal ConfigGeneration
 * reads is never torn, while the other vCPU keeps changing the device's state. */
static unsigned int c_generation_race(struct hctx *h)
{
	static struct churn c;
	struct vdev *d = dev(h);
	uint64_t cap = h->b->capacity, end;
	unsigned int reads = 0, retries = 0, wrong = 0, changes = 0;
	uint32_t last;

	memset(&c, 0, sizeof(c));
	c.h = h;
	if (smp_run(churn_device, &c)) {
		snprintf(h->note, sizeof(h->note), "the worker CPU did not take the job");
		return O_NONE;
	}
	last = vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
	end = rdtsc() + us_to_tsc(GEN_RACE_US);
	while (rdtsc() < end) {
		uint32_t g1 = vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION), lo, hi, g2;

		lo = vdev_config32(d, BLK_CFG_CAPACITY);
		hi = vdev_config32(d, BLK_CFG_CAPACITY + 4);
		g2 = vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
		changes += g1 != last;
		last = g2;
		if (g1 != g2) {
			retries++;
			continue;
		}
		reads++;
		wrong += ((uint64_t)hi << 32 | lo) != cap;
	}
	c.stop = 1;
	end = rdtsc() + us_to_tsc(2 * HOSTILE_TIMEOUT_US);
	while (!smp_done() && rdtsc() < end)
		cpu_relax();
	snprintf(h->note, sizeof(h->note), "%u consistent reads (%u wrong), %u retried, generation moved %u times; "
		 "the other vCPU: %u rounds, %u NEEDS_RESET", reads, wrong, retries, changes, c.rounds, c.resets);
	if (!smp_done()) {
		snappendf(h->note, sizeof(h->note), "; the other vCPU never finished");
		return O_NONE;
	}
	return wrong || !reads ? O_WRONG : O_SURVIVED;
}

static const struct hcase cases[] = {
	{ "access-width-alignment", "1, 2, 8-byte and misaligned 4-byte reads and writes of every register",
	  NULL, c_widths, O_IGNORED, 0, 0, 1 },
	{ "write-read-only", "writes to MagicValue .. ConfigGeneration and to config space", NULL, c_write_ro,
	  O_IGNORED, 0, 0, 1 },
	{ "read-write-only", "reads of QueueNotify, InterruptACK and every other write-only register", NULL,
	  c_read_wo, O_IGNORED, 0, 0, 1 },
	{ "features-sel-beyond", "DeviceFeaturesSel and DriverFeaturesSel 2 .. 2^32-1", NULL, c_features_sel,
	  O_IGNORED, 0, 0, 1 },
	{ "queue-sel-beyond", "QueueSel past the queues: read, set up, ready, notify", NULL, c_queue_sel,
	  O_IGNORED, 0, 0, 1 },
	{ "queue-size-over-max", "QueueNum = 2 x QueueNumMax, then QueueReady 1", NULL, c_queue_over_max,
	  O_REFUSED, 0, 0, 1 },
	{ "queue-layout-while-ready", "QueueNum and ring addresses written while QueueReady is 1", NULL,
	  c_layout_while_ready, O_IGNORED, 0, 0, 1 },
	{ "queue-ready-off-in-flight", "QueueReady 0 with 64 requests in flight", NULL, c_ready_toggle, O_QUIET,
	  0, 0, 1 },
	{ "status-zero-in-flight", "Status 0 (reset) with 64 requests in flight", NULL, c_reset_inflight,
	  O_QUIET, 0, 0, 1 },
	{ "features-unoffered", "a feature bit the device did not offer, then FEATURES_OK", NULL, c_unoffered,
	  O_REFUSED, 0, 0, 1 },
	{ "features-without-version-1", "FEATURES_OK without VERSION_1", NULL, c_no_version_1,
	  O_REFUSED | O_SERVED, 0, 0, 1 },
	{ "features-ok-skipped", "queue set up and DRIVER_OK without FEATURES_OK", NULL, c_skip_features_ok,
	  O_QUIET | O_NEEDS_RESET, 0, 0, 1 },
	{ "driver-ok-before-features-ok", "DRIVER_OK, then FEATURES_OK", NULL, c_driver_ok_first,
	  O_REFUSED | O_NEEDS_RESET, 0, 0, 1 },
	{ "features-changed-after-ok", "DriverFeatures rewritten after FEATURES_OK", NULL, c_features_changed,
	  O_IGNORED, 1, 0, 1 },
	{ "status-bits-cleared", "DRIVER_OK cleared by a Status write", NULL, c_status_cleared,
	  O_IGNORED | O_NEEDS_RESET, 0, 0, 1 },
	{ "config-generation-race", "64-bit config reads against a vCPU that keeps resetting the device",
	  NULL, c_generation_race, O_SURVIVED, 0, 0, 2 },
};

void mmio_hostile(void)
{
	hostile_run("mmio-hostile", cases, nitems(cases));
}
