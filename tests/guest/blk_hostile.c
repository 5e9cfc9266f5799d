/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * blk-hostile: a guest that breaks the virtio rules on purpose. Each case sets
 * the device up cleanly, commits one violation, then waits (at most about 1 s
 * of TSC time) for the device to refuse it: the request completes with a
 * non-OK status byte, or Status gets DEVICE_NEEDS_RESET (with InterruptStatus
 * bit 1, the configuration-change interrupt, when the driver was DRIVER_OK).
 * Then it resets the device (Status = 0, until it reads 0), sets it up again,
 * and a good write and read must succeed.
 *
 * The violations are written straight into the rings, bypassing vq_add.
 */
#include "blk.h"

#define TAG GUEST_TAG "blk-hostile: "
#define OUTCOME_TIMEOUT_US 1000000
#define QUIET_US 100000 /* notify before DRIVER_OK: how long nothing may happen */
#define NOWHERE (1ull << 40) /* 1 TiB: no RAM there */

/* What the device did. */
enum {
	O_NONE = 0,
	O_NEEDS_RESET = 1 << 0,
	O_IOERR = 1 << 1,
	O_UNSUPP = 1 << 2,
	O_NOSTATUS = 1 << 3, /* completed without writing the status byte */
	O_OK = 1 << 4, /* completed with status OK */
	O_BADSTATUS = 1 << 5, /* a status value that is none of the above */
	O_REFUSED = 1 << 6, /* QueueReady stayed 0 */
};
#define O_ERROR (O_NEEDS_RESET | O_IOERR | O_UNSUPP)

struct hctx {
	struct blk *b;
	struct blk_opts base;
	struct vq *q;
	struct blk_slot *s, *t1, *t2; /* request (header, status, data), two indirect tables */
	uint64_t sector; /* sector of the hostile request */
	uint64_t scratch; /* sector of the recovery write and read */
	uint64_t seed;
	uint32_t isr; /* InterruptStatus when NEEDS_RESET was seen */
	uint8_t status; /* the status byte at completion */
	char note[128];
};

struct hcase {
	const char *name, *what;
	/* build: commit the violation; 0, or 1 to skip the case (h->note says why). */
	int (*build)(struct hctx *h);
	/* custom: a case that runs its own sequence; returns the outcome. */
	unsigned int (*custom)(struct hctx *h);
	unsigned int accept; /* outcomes that pass */
	int indirect; /* 1: needs INDIRECT_DESC negotiated; -1: must not negotiate it; 0: either */
};

static void setd(struct vq_desc *t, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

/* request: header for type at h->sector; status 0xff. */
static void request(struct hctx *h, uint32_t type)
{
	h->s->hdr->type = type;
	h->s->hdr->reserved = 0;
	h->s->hdr->sector = h->sector;
	*h->s->status = 0xff;
}

#define HDR(h) ((uint64_t)(uintptr_t)(h)->s->hdr)
#define STATUS(h) ((uint64_t)(uintptr_t)(h)->s->status)
#define DATA(h) ((uint64_t)(uintptr_t)(h)->s->buf)
#define R 0
#define W VQ_DESC_F_WRITE
#define N VQ_DESC_F_NEXT

/* good_chain: a valid IN of one block in descriptors t[0..2]. */
static void good_chain(struct hctx *h, struct vq_desc *t)
{
	request(h, VIRTIO_BLK_T_IN);
	setd(t, 0, HDR(h), 16, R | N, 1);
	setd(t, 1, DATA(h), h->b->lbs, W | N, 2);
	setd(t, 2, STATUS(h), 1, W, 0);
}

/* post: head into the avail ring, publish, notify (whatever the device asked). */
static void post(struct hctx *h, uint16_t head)
{
	struct vq *q = h->q;

	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	q->avail_idx++;
	vq_publish(q);
	mb();
	vdev_write32(&h->b->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

static int c_avail_jump(struct hctx *h)
{
	struct vq *q = h->q;
	unsigned int i;

	/* Every ring entry names a valid request, so a device that misses the jump completes it. */
	good_chain(h, q->desc);
	for (i = 0; i < q->size; i++)
		q->avail[2 + i] = 0;
	q->avail_idx = (uint16_t)(q->size + 1);
	vq_publish(q);
	mb();
	vdev_write32(&h->b->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
	return 0;
}

static int c_head_range(struct hctx *h)
{
	good_chain(h, h->q->desc);
	post(h, h->q->size);
	return 0;
}

static int c_next_range(struct hctx *h)
{
	request(h, VIRTIO_BLK_T_IN);
	setd(h->q->desc, 0, HDR(h), 16, R | N, h->q->size);
	post(h, 0);
	return 0;
}

static int c_loop2(struct hctx *h)
{
	/* Both readable (an OUT), so that the loop, not the order rule, is what breaks. */
	request(h, VIRTIO_BLK_T_OUT);
	setd(h->q->desc, 0, HDR(h), 16, R | N, 1);
	setd(h->q->desc, 1, DATA(h), h->b->lbs, R | N, 0);
	post(h, 0);
	return 0;
}

static int c_loop_self(struct hctx *h)
{
	request(h, VIRTIO_BLK_T_IN);
	setd(h->q->desc, 0, HDR(h), 16, R | N, 1);
	setd(h->q->desc, 1, DATA(h), h->b->lbs, W | N, 1);
	post(h, 0);
	return 0;
}

static int c_beyond_ram(struct hctx *h)
{
	good_chain(h, h->q->desc);
	h->q->desc[1].addr = NOWHERE;
	h->q->desc[1].len = 4096;
	post(h, 0);
	return 0;
}

static int c_wrap(struct hctx *h)
{
	good_chain(h, h->q->desc);
	h->q->desc[1].addr = 0xfffffffffffff000ull;
	h->q->desc[1].len = 0x2000; /* ends at 0x1000 past 2^64 */
	post(h, 0);
	return 0;
}

static int c_zero_len(struct hctx *h)
{
	good_chain(h, h->q->desc);
	h->q->desc[1].len = 0;
	post(h, 0);
	return 0;
}

static int c_order(struct hctx *h)
{
	request(h, VIRTIO_BLK_T_IN);
	setd(h->q->desc, 0, HDR(h), 16, R | N, 1);
	setd(h->q->desc, 1, DATA(h), h->b->lbs, W | N, 2);
	setd(h->q->desc, 2, DATA(h) + KiB(64), h->b->lbs, R | N, 3);
	setd(h->q->desc, 3, STATUS(h), 1, W, 0);
	post(h, 0);
	return 0;
}

static uint64_t table(const struct blk_slot *t)
{
	return (uint64_t)(uintptr_t)t->buf;
}

static int c_ind_nested(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)h->t1->buf, *t2 = (struct vq_desc *)h->t2->buf;

	request(h, VIRTIO_BLK_T_IN);
	setd(t1, 0, HDR(h), 16, R | N, 1);
	setd(t1, 1, table(h->t2), 2 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	setd(t2, 0, DATA(h), h->b->lbs, W | N, 1);
	setd(t2, 1, STATUS(h), 1, W, 0);
	setd(h->q->desc, 0, table(h->t1), 2 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	post(h, 0);
	return 0;
}

static int c_ind_next(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)h->t1->buf;

	request(h, VIRTIO_BLK_T_IN);
	setd(t1, 0, HDR(h), 16, R | N, 1);
	setd(t1, 1, DATA(h), h->b->lbs, W, 0);
	setd(h->q->desc, 0, table(h->t1), 2 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT | N, 1);
	setd(h->q->desc, 1, STATUS(h), 1, W, 0);
	post(h, 0);
	return 0;
}

static int c_ind_misaligned(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)(h->t1->buf + 4);

	good_chain(h, t1);
	setd(h->q->desc, 0, table(h->t1) + 4, 3 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	post(h, 0);
	return 0;
}

static int c_ind_oversized(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)h->t1->buf;
	unsigned int i;

	for (i = 3; i < 257; i++)
		setd(t1, i, DATA(h) + KiB(64), 8, W, 0); /* unreachable, but well-formed */
	good_chain(h, t1);
	setd(h->q->desc, 0, table(h->t1), 257 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	post(h, 0);
	return 0;
}

static int c_ind_unneg(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)h->t1->buf;

	good_chain(h, t1);
	setd(h->q->desc, 0, table(h->t1), 3 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	post(h, 0);
	return 0;
}

static int c_capacity(struct hctx *h)
{
	h->sector = h->b->capacity;
	good_chain(h, h->q->desc);
	post(h, 0);
	return 0;
}

static int c_straddle(struct hctx *h)
{
	uint32_t bs = h->b->lbs / SECTOR;

	h->sector = h->b->capacity - bs;
	good_chain(h, h->q->desc);
	h->q->desc[1].len = 2 * h->b->lbs;
	post(h, 0);
	return 0;
}

static int c_unknown(struct hctx *h)
{
	good_chain(h, h->q->desc);
	h->s->hdr->type = 0x55;
	post(h, 0);
	return 0;
}

static int c_hdr_wo(struct hctx *h)
{
	good_chain(h, h->q->desc);
	h->q->desc[0].flags = W | N;
	post(h, 0);
	return 0;
}

static int c_status_ro(struct hctx *h)
{
	struct blk_slot *s = h->s;

	request(h, VIRTIO_BLK_T_OUT);
	/* The data written is what the recovery check writes there anyway. */
	s->sector = h->sector;
	blk_slot_layout(h->b, s, h->b->lbs, 1, NULL);
	blk_slot_fill(s, h->seed);
	setd(h->q->desc, 0, HDR(h), 16, R | N, 1);
	setd(h->q->desc, 1, DATA(h), h->b->lbs, R | N, 2);
	setd(h->q->desc, 2, STATUS(h), 1, R, 0);
	post(h, 0);
	return 0;
}

/* The queue-size cases: QueueNum n, then QueueReady = 1 must leave the queue not ready. */
static unsigned int queue_size_case(struct hctx *h, uint32_t n)
{
	struct vdev *d = &h->b->dev;
	struct vq *q = h->q;
	const char *why = "";
	unsigned int out = O_NONE;
	uint32_t ready, st;

	if (vdev_negotiate(d, d->features | VIRTIO_BIT(VIRTIO_F_VERSION_1), &why)) {
		snprintf(h->note, sizeof(h->note), "setup: %s", why);
		return O_NONE;
	}
	vdev_write32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	if (n == 100 && vdev_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX) < 100)
		n = 3;
	vdev_write32(d, VIRTIO_MMIO_QUEUE_NUM, n);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(uintptr_t)q->desc);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(uintptr_t)q->avail);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(uintptr_t)q->used);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	ready = vdev_read32(d, VIRTIO_MMIO_QUEUE_READY);
	st = vdev_status(d);
	h->isr = vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	snprintf(h->note, sizeof(h->note), "QueueNum %u: QueueReady reads %u, Status 0x%x", n, ready, st);
	if (!ready)
		out |= O_REFUSED;
	if (st & VIRTIO_NEEDS_RESET)
		out |= O_NEEDS_RESET;
	return out;
}

static unsigned int c_qsize0(struct hctx *h)
{
	return queue_size_case(h, 0);
}

static unsigned int c_qsize_odd(struct hctx *h)
{
	return queue_size_case(h, 100);
}

/* wait_used: up to us for a used entry; 1 if one came. */
static int wait_used(struct hctx *h, uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);

	while (rdtsc() < end) {
		if (vq_used_idx(h->q) != 0)
			return 1;
		cpu_relax();
	}
	return 0;
}

static unsigned int c_early_notify(struct hctx *h)
{
	struct blk *b = h->b;
	const char *why = "";

	if (blk_setup(b, 0, &why)) {
		snprintf(h->note, sizeof(h->note), "setup: %s", why);
		return O_NONE;
	}
	good_chain(h, h->q->desc);
	post(h, 0);
	if (wait_used(h, QUIET_US)) {
		snprintf(h->note, sizeof(h->note), "completed before DRIVER_OK (status %u)", *h->s->status);
		return O_BADSTATUS;
	}
	vdev_set_status(&b->dev, vdev_status(&b->dev) | VIRTIO_DRIVER_OK);
	if (!wait_used(h, OUTCOME_TIMEOUT_US)) {
		snprintf(h->note, sizeof(h->note), "not served within 1 s of DRIVER_OK (Status 0x%x)",
			 vdev_status(&b->dev));
		return O_NONE;
	}
	h->status = *h->s->status;
	snprintf(h->note, sizeof(h->note), "nothing for %u ms, then served after DRIVER_OK with status %u",
		 QUIET_US / 1000, h->status);
	return h->status == VIRTIO_BLK_S_OK ? O_OK : O_BADSTATUS;
}

static const struct hcase cases[] = {
	{ "avail-idx-jump", "avail idx moved by queue size + 1", c_avail_jump, NULL, O_ERROR, 0 },
	{ "head-out-of-range", "avail ring head = queue size", c_head_range, NULL, O_ERROR, 0 },
	{ "next-out-of-range", "descriptor next = queue size", c_next_range, NULL, O_ERROR, 0 },
	{ "loop-two", "descriptors 0 -> 1 -> 0", c_loop2, NULL, O_ERROR, 0 },
	{ "loop-self", "descriptor 1 -> 1", c_loop_self, NULL, O_ERROR, 0 },
	{ "addr-beyond-ram", "data buffer at 1 TiB", c_beyond_ram, NULL, O_ERROR, 0 },
	{ "addr-wrap", "data buffer 0xfffffffffffff000 + 0x2000", c_wrap, NULL, O_ERROR, 0 },
	{ "zero-length", "zero-length data descriptor", c_zero_len, NULL, O_ERROR, 0 },
	{ "read-after-write", "readable descriptor after a writable one", c_order, NULL, O_ERROR, 0 },
	{ "indirect-nested", "indirect table inside an indirect table", c_ind_nested, NULL, O_ERROR, 1 },
	{ "indirect-next", "INDIRECT | NEXT", c_ind_next, NULL, O_ERROR, 1 },
	{ "indirect-misaligned", "indirect table at an address % 8 == 4", c_ind_misaligned, NULL, O_ERROR, 1 },
	{ "indirect-oversized", "indirect table of 257 entries", c_ind_oversized, NULL, O_ERROR, 1 },
	{ "indirect-unnegotiated", "indirect descriptor without INDIRECT_DESC", c_ind_unneg, NULL, O_ERROR, -1 },
	{ "queue-size-0", "QueueNum 0, then QueueReady 1", NULL, c_qsize0, O_REFUSED, 0 },
	{ "queue-size-odd", "QueueNum 100 (not a power of two), then QueueReady 1", NULL, c_qsize_odd,
	  O_REFUSED, 0 },
	{ "notify-before-driver-ok", "QueueNotify before DRIVER_OK", NULL, c_early_notify, O_OK, 0 },
	{ "beyond-capacity", "IN at sector = capacity", c_capacity, NULL, O_IOERR, 0 },
	{ "straddles-end", "IN of two blocks from the last block", c_straddle, NULL, O_IOERR, 0 },
	{ "unknown-type", "request type 0x55", c_unknown, NULL, O_UNSUPP, 0 },
	{ "header-write-only", "request header in a device-writable descriptor", c_hdr_wo, NULL, O_ERROR, 0 },
	{ "status-read-only", "status byte in a device-readable descriptor", c_status_ro, NULL,
	  O_NEEDS_RESET | O_NOSTATUS, 0 },
};

static const char *outcome_name(unsigned int o)
{
	if (o & O_NEEDS_RESET)
		return "NEEDS_RESET";
	if (o & O_IOERR)
		return "IOERR";
	if (o & O_UNSUPP)
		return "UNSUPP";
	if (o & O_NOSTATUS)
		return "completed without a status";
	if (o & O_OK)
		return "OK";
	if (o & O_REFUSED)
		return "refused";
	if (o & O_BADSTATUS)
		return "bad status";
	return "nothing";
}

/* wait_outcome: the device's answer to the violation, within OUTCOME_TIMEOUT_US. */
static unsigned int wait_outcome(struct hctx *h, int status_ro)
{
	uint64_t end = rdtsc() + us_to_tsc(OUTCOME_TIMEOUT_US);
	struct vdev *d = &h->b->dev;

	for (;;) {
		uint32_t st;

		if (vq_used_idx(h->q) != 0) {
			barrier();
			h->status = *h->s->status;
			snprintf(h->note, sizeof(h->note), "completed, used len %u, status %u",
				 vq_used_elem(h->q, 0)->len, h->status);
			switch (h->status) {
			case VIRTIO_BLK_S_OK:
				return O_OK;
			case VIRTIO_BLK_S_IOERR:
				return status_ro ? O_BADSTATUS : O_IOERR;
			case VIRTIO_BLK_S_UNSUPP:
				return status_ro ? O_BADSTATUS : O_UNSUPP;
			case 0xff:
				return O_NOSTATUS;
			default:
				return O_BADSTATUS;
			}
		}
		st = vdev_status(d);
		if (st & VIRTIO_NEEDS_RESET) {
			h->isr = vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
			snprintf(h->note, sizeof(h->note), "Status 0x%x, InterruptStatus 0x%x", st, h->isr);
			return O_NEEDS_RESET;
		}
		if (rdtsc() > end) {
			snprintf(h->note, sizeof(h->note), "no answer within 1 s (Status 0x%x, used idx %u)", st,
				 vq_used_idx(h->q));
			return O_NONE;
		}
		cpu_relax();
	}
}

/* recover: reset, set up again, write and read back one block; 0 or -1 with h->note. */
static int recover(struct hctx *h)
{
	struct blk *b = h->b;
	struct blk_slot *s = h->s;
	const char *why = "";
	int st;

	if (vdev_reset(&b->dev)) {
		snprintf(h->note, sizeof(h->note), "Status did not read 0 within 1 s of a reset");
		return -1;
	}
	b->opts = h->base;
	if (blk_setup(b, 1, &why)) {
		snprintf(h->note, sizeof(h->note), "setup after the reset: %s", why);
		return -1;
	}
	s->type = VIRTIO_BLK_T_OUT;
	s->sector = h->scratch;
	blk_slot_layout(b, s, 8 * SECTOR > b->lbs ? 8 * SECTOR : b->lbs, 2, NULL);
	blk_slot_fill(s, h->seed);
	st = blk_sync(b, s, &why);
	if (st != VIRTIO_BLK_S_OK) {
		snprintf(h->note, sizeof(h->note), "write after the reset: %s", st < 0 ? why : "bad status");
		return -1;
	}
	s->type = VIRTIO_BLK_T_IN;
	blk_slot_layout(b, s, s->len, 3, NULL);
	memset(s->buf, 0, s->len + 3 * BLK_SEG_GAP);
	st = blk_sync(b, s, &why);
	if (st != VIRTIO_BLK_S_OK) {
		snprintf(h->note, sizeof(h->note), "read after the reset: %s", st < 0 ? why : "bad status");
		return -1;
	}
	if (blk_slot_check(s, h->seed) >= 0) {
		snprintf(h->note, sizeof(h->note), "read after the reset: data mismatch");
		return -1;
	}
	return 0;
}

void blk_hostile(void)
{
	struct blk_opts o;
	struct hctx h;
	unsigned int i, passed = 0, failed = 0, skipped = 0;
	const char *only;
	size_t only_len = 0;

	memset(&h, 0, sizeof(h));
	blk_opts_from_cmdline(&o);
	o.irq = 0; /* the suite polls */
	o.indirect = 1;
	h.base = o;
	h.b = blk_open((unsigned int)param_u64("bulkhead.disk", 0), &o);
	h.q = &h.b->dev.vq[0];
	h.seed = param_u64("bulkhead.seed", 1);
	h.scratch = param_u64("bulkhead.start", 0);
	only = param_get("bulkhead.case", &only_len);
	if (blk_has(h.b, VIRTIO_BLK_F_RO))
		fail("the disk is read-only");
	h.s = &h.b->slots[0];
	h.t1 = &h.b->slots[1];
	h.t2 = &h.b->slots[2];
	cprintf(TAG "disk at 0x%lx, %lu sectors, features offered 0x%lx, queue %u\n", h.b->dev.base,
		h.b->capacity, h.b->dev.offered, h.q->size);
	for (i = 0; i < nitems(cases); i++) {
		const struct hcase *c = &cases[i];
		unsigned int out;
		const char *why = "";
		int ok;

		if (only && (strlen(c->name) != only_len || strncmp(c->name, only, only_len)))
			continue;
		h.note[0] = '\0';
		h.isr = 0;
		h.status = 0xff;
		h.sector = h.scratch;
		h.b->opts = h.base;
		h.b->opts.indirect = c->indirect >= 0;
		if (c->indirect > 0 && !blk_offers(h.b, VIRTIO_F_INDIRECT_DESC)) {
			cprintf(TAG "%s: %s ... skipped (INDIRECT_DESC not offered)\n", c->name, c->what);
			skipped++;
			continue;
		}
		if (c->custom) {
			out = c->custom(&h);
		} else if (blk_setup(h.b, 1, &why)) {
			snprintf(h.note, sizeof(h.note), "setup: %s", why);
			out = O_NONE;
		} else {
			c->build(&h);
			out = wait_outcome(&h, c->build == c_status_ro);
		}
		ok = (out & c->accept) != 0;
		/* NEEDS_RESET on a live device must come with a configuration-change interrupt. */
		if (ok && (out & O_NEEDS_RESET) && !c->custom && !(h.isr & VIRTIO_INT_CONFIG)) {
			ok = 0;
			snprintf(h.note + strlen(h.note), sizeof(h.note) - strlen(h.note),
				 "; no configuration-change bit in InterruptStatus");
		}
		if (recover(&h)) {
			ok = 0;
			out = O_NONE;
		}
		if (ok) {
			passed++;
			cprintf(TAG "%s: %s ... ok (%s) [%s]\n", c->name, c->what, outcome_name(out & c->accept),
				h.note);
		} else {
			failed++;
			cprintf(TAG "%s: %s ... FAIL (%s) [%s]\n", c->name, c->what, outcome_name(out), h.note);
		}
	}
	cprintf(TAG "%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	if (failed)
		fail("%u of %u cases failed", failed, passed + failed);
	if (!passed)
		fail("no case ran");
	pass();
}
