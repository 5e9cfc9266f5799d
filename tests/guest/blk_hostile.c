/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * blk-hostile: a guest that breaks the virtio and virtio-blk rules on purpose,
 * and the engine (hostile.h) that mmio-hostile and vring-hostile share. Each
 * case sets the device up cleanly, commits one violation, then waits (at most
 * about 1 s of TSC time) for the device to refuse it: the request completes
 * with a non-OK status byte, or Status gets DEVICE_NEEDS_RESET (with
 * InterruptStatus bit 1, the configuration-change interrupt, when the driver
 * was DRIVER_OK). Then it resets the device (Status = 0, until it reads 0),
 * sets it up again, and a good write and read must succeed.
 *
 * The violations are written straight into the rings, bypassing vq_add.
 * Requests that could write the disk (OUT, DISCARD, WRITE_ZEROES) aim at
 * OTHER_SECTOR sectors past bulkhead.start, which the recovery I/O never
 * touches, so the host can tell whether the device wrote anything there.
 */
#include "hostile.h"

#define OTHER_SECTOR 16 /* past h->scratch: where writes the device must refuse would land */

/* ---- the engine ---- */

void hostile_desc(struct vq_desc *t, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

void hostile_request(struct hctx *h, uint32_t type)
{
	h->s->hdr->type = type;
	h->s->hdr->reserved = 0;
	h->s->hdr->sector = h->sector;
	*h->s->status = 0xff;
}

void hostile_good_chain(struct hctx *h, struct vq_desc *t)
{
	hostile_request(h, VIRTIO_BLK_T_IN);
	hostile_desc(t, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(t, 1, HDATA(h), h->b->lbs, HW | HN, 2);
	hostile_desc(t, 2, HSTATUS(h), 1, HW, 0);
}

void hostile_notify(struct hctx *h)
{
	mb();
	vdev_write32(&h->b->dev, VIRTIO_MMIO_QUEUE_NOTIFY, h->q->index);
}

void hostile_post(struct hctx *h, uint16_t head)
{
	struct vq *q = h->q;

	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	q->avail_idx++;
	vq_publish(q);
	hostile_notify(h);
}

int hostile_needs_reset(struct hctx *h)
{
	struct vdev *d = &h->b->dev;
	uint32_t st = vdev_status(d);

	if (!(st & VIRTIO_NEEDS_RESET))
		return 0;
	h->isr = vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	snprintf(h->note, sizeof(h->note), "Status 0x%x, InterruptStatus 0x%x", st, h->isr);
	return 1;
}

int hostile_wait_used(struct hctx *h, uint16_t want, uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);

	for (;;) {
		if (vq_used_idx(h->q) == want)
			return 1;
		if (hostile_needs_reset(h))
			return -1;
		if (rdtsc() > end)
			return 0;
		cpu_relax();
	}
}

unsigned int hostile_wait_outcome(struct hctx *h, int status_ro)
{
	uint64_t end = rdtsc() + us_to_tsc(HOSTILE_TIMEOUT_US);

	for (;;) {
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
		if (hostile_needs_reset(h))
			return O_NEEDS_RESET;
		if (rdtsc() > end) {
			snprintf(h->note, sizeof(h->note), "no answer within 1 s (Status 0x%x, used idx %u)",
				 vdev_status(&h->b->dev), vq_used_idx(h->q));
			return O_NONE;
		}
		cpu_relax();
	}
}

int hostile_setup(struct hctx *h, int driver_ok)
{
	const char *why = "";

	if (blk_setup(h->b, driver_ok, &why)) {
		snprintf(h->note, sizeof(h->note), "setup: %s", why);
		return -1;
	}
	return 0;
}

int hostile_live(struct hctx *h)
{
	if (hostile_setup(h, 1))
		return -1;
	h->driver_ok = 1;
	return 0;
}

unsigned int hostile_queue(struct hctx *h, uint32_t n, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct vdev *d = &h->b->dev;
	const char *why = "";
	unsigned int out = O_NONE;
	uint32_t ready, st;

	if (vdev_negotiate(d, d->features | VIRTIO_BIT(VIRTIO_F_VERSION_1), &why)) {
		snprintf(h->note, sizeof(h->note), "setup: %s", why);
		return O_WRONG;
	}
	ready = vdev_queue_place(d, 0, n, desc, avail, used);
	st = vdev_status(d);
	h->isr = vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	snprintf(h->note, sizeof(h->note), "QueueNum %u desc 0x%lx avail 0x%lx used 0x%lx: QueueReady reads %u, "
		 "Status 0x%x", n, desc, avail, used, ready, st);
	if (!ready)
		out |= O_REFUSED;
	if (st & VIRTIO_NEEDS_RESET)
		out |= O_NEEDS_RESET;
	return out;
}

int hostile_io(struct hctx *h, int write)
{
	struct blk *b = h->b;
	struct blk_slot *s = h->s;
	const char *why = "";
	int st;

	s->type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	s->sector = h->scratch;
	blk_slot_layout(b, s, 8 * SECTOR > b->lbs ? 8 * SECTOR : b->lbs, write ? 2 : 3, NULL);
	if (write)
		blk_slot_fill(s, h->seed);
	else
		memset(s->buf, 0, s->len + 3 * BLK_SEG_GAP);
	st = blk_sync(b, s, &why);
	if (st != VIRTIO_BLK_S_OK) {
		snprintf(h->note, sizeof(h->note), "%s: %s (Status 0x%x)", write ? "write" : "read",
			 st < 0 ? why : "bad status", vdev_status(&b->dev));
		return -1;
	}
	if (!write && blk_slot_check(s, h->seed) >= 0) {
		snprintf(h->note, sizeof(h->note), "read: data mismatch");
		return -1;
	}
	return 0;
}

/* recover: reset, set up again, write and read back one block; 0 or -1 with h->note. */
static int recover(struct hctx *h)
{
	char before[sizeof(h->note)];

	strlcpy(before, h->note, sizeof(before));
	if (vdev_reset(&h->b->dev)) {
		snprintf(h->note, sizeof(h->note), "%s; Status did not read 0 within 1 s of a reset", before);
		return -1;
	}
	h->b->opts = h->base;
	if (hostile_setup(h, 1) || hostile_io(h, 1) || hostile_io(h, 0)) {
		char after[sizeof(h->note)];

		strlcpy(after, h->note, sizeof(after));
		snprintf(h->note, sizeof(h->note), "%s; after the reset: %s", before, after);
		return -1;
	}
	strlcpy(h->note, before, sizeof(h->note));
	return 0;
}

static const char *outcome_name(unsigned int o)
{
	static const char *const names[] = {
		"NEEDS_RESET", "IOERR", "UNSUPP", "completed without a status", "OK", "bad status",
		"refused", "ignored", "served", "quiet", "survived",
	};

	if (o & O_WRONG)
		return "wrong";
	for (unsigned int i = 0; i < nitems(names); i++)
		if (o & (1u << i))
			return names[i];
	return "nothing";
}

/* run_case: one case from a reset device; its outcome (h->note says more). */
static unsigned int run_case(struct hctx *h, const struct hcase *c)
{
	if (c->custom)
		return c->custom(h);
	if (hostile_live(h))
		return O_NONE;
	if (c->build(h))
		return O_NONE;
	return hostile_wait_outcome(h, 0);
}

/* skip_reason: why c cannot run here, or NULL. */
static const char *skip_reason(const struct hctx *h, const struct hcase *c)
{
	if (c->indirect > 0 && !blk_offers(h->b, VIRTIO_F_INDIRECT_DESC))
		return "INDIRECT_DESC not offered";
	if ((h->b->dev.offered & c->need) != c->need)
		return "a feature it needs is not offered";
	if (c->cpus > h->cpus)
		return "needs a second vCPU";
	return NULL;
}

static int wanted(const struct hcase *c, const char *only, size_t only_len)
{
	return !only || (strlen(c->name) == only_len && !strncmp(c->name, only, only_len));
}

NORETURN void hostile_run(const char *suite, const struct hcase *cases, size_t n)
{
	static struct hctx h;
	struct blk_opts o;
	unsigned int passed = 0, failed = 0, skipped = 0, cpus = 1;
	const char *only;
	size_t i, only_len = 0;

	memset(&h, 0, sizeof(h));
	h.suite = suite;
	blk_opts_from_cmdline(&o);
	o.irq = 0; /* the suites poll */
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
	h.big = phys_alloc(HOSTILE_BIG, 4096);
	if (!h.big)
		fail("out of guest memory");
	for (i = 0; i < n; i++)
		if (wanted(&cases[i], only, only_len) && cases[i].cpus > cpus)
			cpus = cases[i].cpus;
	h.cpus = cpus > 1 ? smp_start_worker() : 1;
	cprintf(GUEST_TAG "%s: disk at 0x%lx, %lu sectors, features offered 0x%lx, queue %u, %u cpus\n", suite,
		h.b->dev.base, h.b->capacity, h.b->dev.offered, h.q->size, h.cpus);
	for (i = 0; i < n; i++) {
		const struct hcase *c = &cases[i];
		const char *skip;
		unsigned int out;
		int ok;

		if (!wanted(c, only, only_len))
			continue;
		h.note[0] = '\0';
		h.isr = 0;
		h.status = 0xff;
		h.driver_ok = 0;
		h.sector = h.scratch;
		h.b->opts = h.base;
		h.b->opts.indirect = c->indirect >= 0;
		skip = skip_reason(&h, c);
		if (skip) {
			cprintf(GUEST_TAG "%s: %s: %s ... skipped (%s)\n", suite, c->name, c->what, skip);
			skipped++;
			continue;
		}
		out = run_case(&h, c);
		ok = !(out & O_WRONG) && (out & c->accept) != 0;
		/* NEEDS_RESET on a live device must come with a configuration-change interrupt. */
		if (ok && (out & O_NEEDS_RESET) && (c->accept & O_NEEDS_RESET) && h.driver_ok &&
		    !(h.isr & VIRTIO_INT_CONFIG)) {
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
			cprintf(GUEST_TAG "%s: %s: %s ... ok (%s) [%s]\n", suite, c->name, c->what,
				outcome_name(out & c->accept), h.note);
		} else {
			failed++;
			cprintf(GUEST_TAG "%s: %s: %s ... FAIL (%s) [%s]\n", suite, c->name, c->what,
				outcome_name(out), h.note);
		}
	}
	cprintf(GUEST_TAG "%s: %u passed, %u failed, %u skipped\n", suite, passed, failed, skipped);
	if (failed)
		fail("%u of %u cases failed", failed, passed + failed);
	if (!passed)
		fail("no case ran");
	pass();
}

/* ---- blk-hostile: rings broken through a disk ---- */

static int c_avail_jump(struct hctx *h)
{
	struct vq *q = h->q;
	unsigned int i;

	/* Every ring entry names a valid request, so a device that misses the jump completes it. */
	hostile_good_chain(h, q->desc);
	for (i = 0; i < q->size; i++)
		q->avail[2 + i] = 0;
	q->avail_idx = (uint16_t)(q->size + 1);
	vq_publish(q);
	hostile_notify(h);
	return 0;
}

static int c_head_range(struct hctx *h)
{
	hostile_good_chain(h, h->q->desc);
	hostile_post(h, h->q->size);
	return 0;
}

static int c_next_range(struct hctx *h)
{
	hostile_request(h, VIRTIO_BLK_T_IN);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, h->q->size);
	hostile_post(h, 0);
	return 0;
}

static int c_loop2(struct hctx *h)
{
	/* Both readable (an OUT), so that the loop, not the order rule, is what breaks. */
	hostile_request(h, VIRTIO_BLK_T_OUT);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(h->q->desc, 1, HDATA(h), h->b->lbs, HR | HN, 0);
	hostile_post(h, 0);
	return 0;
}

static int c_loop_self(struct hctx *h)
{
	hostile_request(h, VIRTIO_BLK_T_IN);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(h->q->desc, 1, HDATA(h), h->b->lbs, HW | HN, 1);
	hostile_post(h, 0);
	return 0;
}

static int c_beyond_ram(struct hctx *h)
{
	hostile_good_chain(h, h->q->desc);
	h->q->desc[1].addr = HOSTILE_NOWHERE;
	h->q->desc[1].len = 4096;
	hostile_post(h, 0);
	return 0;
}

static int c_wrap(struct hctx *h)
{
	hostile_good_chain(h, h->q->desc);
	h->q->desc[1].addr = 0xfffffffffffff000ull;
	h->q->desc[1].len = 0x2000; /* ends at 0x1000 past 2^64 */
	hostile_post(h, 0);
	return 0;
}

static int c_zero_len(struct hctx *h)
{
	hostile_good_chain(h, h->q->desc);
	h->q->desc[1].len = 0;
	hostile_post(h, 0);
	return 0;
}

static int c_order(struct hctx *h)
{
	hostile_request(h, VIRTIO_BLK_T_IN);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(h->q->desc, 1, HDATA(h), h->b->lbs, HW | HN, 2);
	hostile_desc(h->q->desc, 2, HDATA(h) + KiB(64), h->b->lbs, HR | HN, 3);
	hostile_desc(h->q->desc, 3, HSTATUS(h), 1, HW, 0);
	hostile_post(h, 0);
	return 0;
}

static uint64_t table(const struct blk_slot *t)
{
	return HPHYS(t->buf);
}

static int c_ind_nested(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)h->t1->buf, *t2 = (struct vq_desc *)h->t2->buf;

	hostile_request(h, VIRTIO_BLK_T_IN);
	hostile_desc(t1, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(t1, 1, table(h->t2), 2 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	hostile_desc(t2, 0, HDATA(h), h->b->lbs, HW | HN, 1);
	hostile_desc(t2, 1, HSTATUS(h), 1, HW, 0);
	hostile_desc(h->q->desc, 0, table(h->t1), 2 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	hostile_post(h, 0);
	return 0;
}

static int c_ind_next(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)h->t1->buf;

	hostile_request(h, VIRTIO_BLK_T_IN);
	hostile_desc(t1, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(t1, 1, HDATA(h), h->b->lbs, HW, 0);
	hostile_desc(h->q->desc, 0, table(h->t1), 2 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT | HN, 1);
	hostile_desc(h->q->desc, 1, HSTATUS(h), 1, HW, 0);
	hostile_post(h, 0);
	return 0;
}

static int c_ind_misaligned(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)(h->t1->buf + 4);

	hostile_good_chain(h, t1);
	hostile_desc(h->q->desc, 0, table(h->t1) + 4, 3 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	hostile_post(h, 0);
	return 0;
}

static int c_ind_oversized(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)h->t1->buf;
	unsigned int i;

	for (i = 3; i < 257; i++)
		hostile_desc(t1, i, HDATA(h) + KiB(64), 8, HW, 0); /* unreachable, but well-formed */
	hostile_good_chain(h, t1);
	hostile_desc(h->q->desc, 0, table(h->t1), 257 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	hostile_post(h, 0);
	return 0;
}

static int c_ind_unneg(struct hctx *h)
{
	struct vq_desc *t1 = (struct vq_desc *)h->t1->buf;

	hostile_good_chain(h, t1);
	hostile_desc(h->q->desc, 0, table(h->t1), 3 * sizeof(struct vq_desc), VQ_DESC_F_INDIRECT, 0);
	hostile_post(h, 0);
	return 0;
}

static int c_capacity(struct hctx *h)
{
	h->sector = h->b->capacity;
	hostile_good_chain(h, h->q->desc);
	hostile_post(h, 0);
	return 0;
}

static int c_out_capacity(struct hctx *h)
{
	h->sector = h->b->capacity;
	hostile_request(h, VIRTIO_BLK_T_OUT);
	memset(h->s->buf, 0xbd, h->b->lbs);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(h->q->desc, 1, HDATA(h), h->b->lbs, HR | HN, 2);
	hostile_desc(h->q->desc, 2, HSTATUS(h), 1, HW, 0);
	hostile_post(h, 0);
	return 0;
}

static int c_straddle(struct hctx *h)
{
	uint32_t bs = h->b->lbs / SECTOR;

	h->sector = h->b->capacity - bs;
	hostile_good_chain(h, h->q->desc);
	h->q->desc[1].len = 2 * h->b->lbs;
	hostile_post(h, 0);
	return 0;
}

static int c_unknown(struct hctx *h)
{
	hostile_good_chain(h, h->q->desc);
	h->s->hdr->type = 0x55;
	hostile_post(h, 0);
	return 0;
}

static int c_hdr_wo(struct hctx *h)
{
	hostile_good_chain(h, h->q->desc);
	h->q->desc[0].flags = HW | HN;
	hostile_post(h, 0);
	return 0;
}

static int c_status_ro(struct hctx *h)
{
	struct blk_slot *s = h->s;

	hostile_request(h, VIRTIO_BLK_T_OUT);
	/* The data written is what the recovery check writes there anyway. */
	s->sector = h->sector;
	blk_slot_layout(h->b, s, h->b->lbs, 1, NULL);
	blk_slot_fill(s, h->seed);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(h->q->desc, 1, HDATA(h), h->b->lbs, HR | HN, 2);
	hostile_desc(h->q->desc, 2, HSTATUS(h), 1, HR, 0);
	hostile_post(h, 0);
	return 0;
}

/* A status written into the device-readable byte is no answer: wait with status_ro. */
static unsigned int c_status_ro_run(struct hctx *h)
{
	if (hostile_live(h))
		return O_NONE;
	c_status_ro(h);
	return hostile_wait_outcome(h, 1);
}

static unsigned int c_qsize0(struct hctx *h)
{
	struct vq *q = h->q;

	return hostile_queue(h, 0, HPHYS(q->desc), HPHYS(q->avail), HPHYS(q->used));
}

static unsigned int c_qsize_odd(struct hctx *h)
{
	struct vq *q = h->q;
	uint32_t n;

	vdev_write32(&h->b->dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	n = vdev_read32(&h->b->dev, VIRTIO_MMIO_QUEUE_NUM_MAX) < 100 ? 3 : 100;
	return hostile_queue(h, n, HPHYS(q->desc), HPHYS(q->avail), HPHYS(q->used));
}

/* wait_any_used: up to us for a used entry; 1 if one came. */
static int wait_any_used(struct hctx *h, uint64_t us)
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

	if (hostile_setup(h, 0))
		return O_NONE;
	hostile_good_chain(h, h->q->desc);
	hostile_post(h, 0);
	if (wait_any_used(h, HOSTILE_QUIET_US)) {
		snprintf(h->note, sizeof(h->note), "completed before DRIVER_OK (status %u)", *h->s->status);
		return O_BADSTATUS;
	}
	vdev_set_status(&b->dev, vdev_status(&b->dev) | VIRTIO_DRIVER_OK);
	if (!wait_any_used(h, HOSTILE_TIMEOUT_US)) {
		snprintf(h->note, sizeof(h->note), "not served within 1 s of DRIVER_OK (Status 0x%x)",
			 vdev_status(&b->dev));
		return O_NONE;
	}
	h->status = *h->s->status;
	snprintf(h->note, sizeof(h->note), "nothing for %u ms, then served after DRIVER_OK with status %u",
		 HOSTILE_QUIET_US / 1000, h->status);
	return h->status == VIRTIO_BLK_S_OK ? O_OK : O_BADSTATUS;
}

/* ---- blk-hostile: virtio-blk requests the spec does not allow ---- */

/* in_at: a valid IN of len bytes at sector in descriptors 0..2 of the ring. */
static void in_at(struct hctx *h, uint64_t sector, uint32_t len)
{
	h->sector = sector;
	hostile_good_chain(h, h->q->desc);
	h->q->desc[1].len = len;
}

static int c_sector_wraps(struct hctx *h)
{
	in_at(h, 1ull << 55, h->b->lbs); /* sector * 512 is 2^64: 0 once it wraps */
	hostile_post(h, 0);
	return 0;
}

static int c_sector_len_wraps(struct hctx *h)
{
	in_at(h, (1ull << 55) - 1, 2 * h->b->lbs); /* offset 2^64 - 512, and two blocks from there */
	hostile_post(h, 0);
	return 0;
}

static int c_in_not_512(struct hctx *h)
{
	in_at(h, h->scratch, SECTOR + 1);
	hostile_post(h, 0);
	return 0;
}

static int c_out_not_512(struct hctx *h)
{
	h->sector = h->scratch + OTHER_SECTOR;
	hostile_request(h, VIRTIO_BLK_T_OUT);
	memset(h->s->buf, 0xbd, 100);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(h->q->desc, 1, HDATA(h), 100, HR | HN, 2);
	hostile_desc(h->q->desc, 2, HSTATUS(h), 1, HW, 0);
	hostile_post(h, 0);
	return 0;
}

/* dwz: a DISCARD or WRITE_ZEROES request of nseg segments of nsect sectors each from
 * sector (consecutive), each with flags, in data bytes len (0: nseg * 16). */
static void dwz(struct hctx *h, uint32_t type, unsigned int nseg, uint64_t sector, uint32_t nsect,
		uint32_t flags, uint32_t len)
{
	struct blk_dwz *seg = (struct blk_dwz *)h->s->buf;

	for (unsigned int i = 0; i < nseg; i++) {
		seg[i].sector = sector + (uint64_t)nsect * i;
		seg[i].num_sectors = nsect;
		seg[i].flags = flags;
	}
	h->sector = 0;
	hostile_request(h, type);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(h->q->desc, 1, HDATA(h), len ? len : nseg * (uint32_t)sizeof(*seg), HR | HN, 2);
	hostile_desc(h->q->desc, 2, HSTATUS(h), 1, HW, 0);
	hostile_post(h, 0);
}

static int c_discard_unmap(struct hctx *h)
{
	dwz(h, VIRTIO_BLK_T_DISCARD, 1, h->scratch + OTHER_SECTOR, 8, VIRTIO_BLK_WZ_UNMAP, 0);
	return 0;
}

static int c_wz_flags(struct hctx *h)
{
	dwz(h, VIRTIO_BLK_T_WRITE_ZEROES, 1, h->scratch + OTHER_SECTOR, 8, 2, 0);
	return 0;
}

/* over_max_seg: a DISCARD or WRITE_ZEROES of max + 1 segments (max from config space). */
static int over_max_seg(struct hctx *h, uint32_t type, uint32_t max)
{
	if (!max || max >= BLK_SLOT_BYTES / sizeof(struct blk_dwz)) {
		snprintf(h->note, sizeof(h->note), "max segments %u", max);
		return 1;
	}
	dwz(h, type, max + 1, h->scratch + OTHER_SECTOR, 8, 0, 0);
	return 0;
}

static int c_discard_segs(struct hctx *h)
{
	return over_max_seg(h, VIRTIO_BLK_T_DISCARD, h->b->max_discard_seg);
}

static int c_wz_segs(struct hctx *h)
{
	return over_max_seg(h, VIRTIO_BLK_T_WRITE_ZEROES, h->b->max_write_zeroes_seg);
}

static int c_discard_sectors(struct hctx *h)
{
	dwz(h, VIRTIO_BLK_T_DISCARD, 1, h->scratch + OTHER_SECTOR, h->b->max_discard_sectors + 8, 0, 0);
	return 0;
}

static int c_dwz_not_16(struct hctx *h)
{
	dwz(h, VIRTIO_BLK_T_DISCARD, 2, h->scratch + OTHER_SECTOR, 8, 0, 24);
	return 0;
}

static int c_discard_capacity(struct hctx *h)
{
	dwz(h, VIRTIO_BLK_T_DISCARD, 1, h->b->capacity - 4, 8, 0, 0);
	return 0;
}

static int c_wz_wraps(struct hctx *h)
{
	dwz(h, VIRTIO_BLK_T_WRITE_ZEROES, 1, 1ull << 55, 8, 0, 0);
	return 0;
}

/* get_id_short: GET_ID into 8 bytes, with a canary after them. */
static unsigned int c_get_id_short(struct hctx *h)
{
	uint8_t *id = h->s->buf;
	unsigned int out;

	if (hostile_live(h))
		return O_NONE;
	memset(id, 0x5a, 64);
	h->sector = 0;
	hostile_request(h, VIRTIO_BLK_T_GET_ID);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(h->q->desc, 1, HDATA(h), 8, HW | HN, 2);
	hostile_desc(h->q->desc, 2, HSTATUS(h), 1, HW, 0);
	hostile_post(h, 0);
	out = hostile_wait_outcome(h, 0);
	if (!mem_filled(id + 8, 56, 0x5a)) {
		snappendf(h->note, sizeof(h->note), "; bytes past the 8-byte buffer were written");
		return out | O_WRONG;
	}
	if (out & O_OK) {
		uint32_t len = vq_used_elem(h->q, 0)->len;

		if (len > 9) {
			snappendf(h->note, sizeof(h->note), "; used len %u for 8 bytes and a status", len);
			return out | O_WRONG;
		}
	}
	return out;
}

static int c_hdr_short(struct hctx *h)
{
	in_at(h, h->scratch, h->b->lbs);
	h->q->desc[0].len = 8; /* type and reserved, no sector */
	hostile_post(h, 0);
	return 0;
}

static int c_size_max(struct hctx *h)
{
	uint32_t len = h->b->size_max + SECTOR;

	if (len > HOSTILE_BIG || (uint64_t)len / SECTOR > h->b->capacity) {
		snprintf(h->note, sizeof(h->note), "size_max %u", h->b->size_max);
		return 1;
	}
	in_at(h, 0, len);
	h->q->desc[1].addr = HPHYS(h->big);
	hostile_post(h, 0);
	return 0;
}

static int c_seg_max(struct hctx *h)
{
	struct vq_desc *t = (struct vq_desc *)h->t1->buf;
	uint32_t nseg = h->b->seg_max + 1, i;

	if (!h->b->seg_max || nseg + 1 > VQ_MAX_SIZE || (uint64_t)nseg * SECTOR + 1 > HOSTILE_BIG ||
	    nseg > h->b->capacity) {
		snprintf(h->note, sizeof(h->note), "seg_max %u", h->b->seg_max);
		return 1;
	}
	/* The header, then seg_max + 1 data segments in one indirect table; the status byte
	 * is the last byte of the last segment (framing is free, 2.6.4). */
	hostile_request(h, VIRTIO_BLK_T_IN);
	h->s->hdr->sector = 0;
	hostile_desc(t, 0, HHDR(h), 16, HR | HN, 1);
	for (i = 0; i < nseg; i++)
		hostile_desc(t, 1 + i, HPHYS(h->big) + (uint64_t)i * SECTOR, SECTOR + (i + 1 == nseg), HW | HN,
			     (uint16_t)(2 + i));
	t[nseg].flags = HW;
	t[nseg].next = 0;
	h->big[(uint64_t)nseg * SECTOR] = 0xff;
	hostile_desc(h->q->desc, 0, table(h->t1), (nseg + 1) * (uint32_t)sizeof(*t), VQ_DESC_F_INDIRECT, 0);
	hostile_post(h, 0);
	return 0;
}

/* c_seg_max's status byte is in the last segment, not in h->s. */
static unsigned int c_seg_max_run(struct hctx *h)
{
	unsigned int out;

	if (hostile_live(h))
		return O_NONE;
	if (c_seg_max(h))
		return O_NONE;
	out = hostile_wait_outcome(h, 0);
	if (out & (O_NOSTATUS | O_BADSTATUS | O_OK | O_IOERR | O_UNSUPP)) {
		uint8_t st = h->big[(uint64_t)(h->b->seg_max + 1) * SECTOR];

		snprintf(h->note, sizeof(h->note), "completed, used len %u, status %u", vq_used_elem(h->q, 0)->len,
			 st);
		out = st == VIRTIO_BLK_S_OK ? O_OK : st == VIRTIO_BLK_S_IOERR ? O_IOERR : O_BADSTATUS;
	}
	return out;
}

/* full ring: every avail entry a request (INDIRECT, three entries each), one kick. */
static unsigned int c_full_ring(struct hctx *h)
{
	struct vq *q = h->q;
	struct vq_desc *t = (struct vq_desc *)h->big; /* size tables of 4 entries */
	uint8_t *status = h->big + KiB(16), *data = h->big + KiB(32);
	unsigned int i, bad = 0;
	int r;

	if (hostile_live(h))
		return O_NONE;
	hostile_request(h, VIRTIO_BLK_T_IN);
	for (i = 0; i < q->size; i++) {
		struct vq_desc *ti = t + 4 * i;

		status[i] = 0xff;
		hostile_desc(ti, 0, HHDR(h), 16, HR | HN, 1);
		hostile_desc(ti, 1, HPHYS(data) + (uint64_t)i * SECTOR, SECTOR, HW | HN, 2);
		hostile_desc(ti, 2, HPHYS(status + i), 1, HW, 0);
		hostile_desc(q->desc, i, HPHYS(ti), 3 * sizeof(*ti), VQ_DESC_F_INDIRECT, 0);
		q->avail[2 + i] = (uint16_t)i;
	}
	q->avail_idx = q->size;
	vq_publish(q);
	hostile_notify(h);
	r = hostile_wait_used(h, q->size, HOSTILE_TIMEOUT_US);
	for (i = 0; i < q->size; i++)
		bad += status[i] != VIRTIO_BLK_S_OK;
	snprintf(h->note, sizeof(h->note), "%u requests in a ring of %u: used idx %u, %u not OK", q->size, q->size,
		 vq_used_idx(q), bad);
	if (r < 0)
		return O_NEEDS_RESET;
	return r > 0 && !bad ? O_SERVED : O_NONE;
}

/* wrong_direction: data of the wrong direction, with a canary in it; the device must not
 * write a device-readable buffer (2.7.4). */
static unsigned int wrong_direction(struct hctx *h, uint32_t type)
{
	unsigned int out;

	if (hostile_live(h))
		return O_NONE;
	h->sector = h->scratch + OTHER_SECTOR;
	hostile_request(h, type);
	memset(h->s->buf, 0x3c, h->b->lbs);
	hostile_desc(h->q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(h->q->desc, 1, HDATA(h), h->b->lbs, (type == VIRTIO_BLK_T_IN ? HR : HW) | HN, 2);
	hostile_desc(h->q->desc, 2, HSTATUS(h), 1, HW, 0);
	hostile_post(h, 0);
	out = hostile_wait_outcome(h, 0);
	if (type == VIRTIO_BLK_T_IN && !mem_filled(h->s->buf, h->b->lbs, 0x3c)) {
		snappendf(h->note, sizeof(h->note), "; the device wrote into the device-readable buffer");
		return out | O_WRONG;
	}
	return out;
}

static unsigned int c_in_readable(struct hctx *h)
{
	return wrong_direction(h, VIRTIO_BLK_T_IN);
}

static unsigned int c_out_writable(struct hctx *h)
{
	return wrong_direction(h, VIRTIO_BLK_T_OUT);
}

#define DISCARD VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)
#define WZ VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)

static const struct hcase cases[] = {
	{ "avail-idx-jump", "avail idx moved by queue size + 1", c_avail_jump, NULL, O_ERROR, 0, 0, 1 },
	{ "head-out-of-range", "avail ring head = queue size", c_head_range, NULL, O_ERROR, 0, 0, 1 },
	{ "next-out-of-range", "descriptor next = queue size", c_next_range, NULL, O_ERROR, 0, 0, 1 },
	{ "loop-two", "descriptors 0 -> 1 -> 0", c_loop2, NULL, O_ERROR, 0, 0, 1 },
	{ "loop-self", "descriptor 1 -> 1", c_loop_self, NULL, O_ERROR, 0, 0, 1 },
	{ "addr-beyond-ram", "data buffer at 1 TiB", c_beyond_ram, NULL, O_ERROR, 0, 0, 1 },
	{ "addr-wrap", "data buffer 0xfffffffffffff000 + 0x2000", c_wrap, NULL, O_ERROR, 0, 0, 1 },
	{ "zero-length", "zero-length data descriptor", c_zero_len, NULL, O_ERROR, 0, 0, 1 },
	{ "read-after-write", "readable descriptor after a writable one", c_order, NULL, O_ERROR, 0, 0, 1 },
	{ "indirect-nested", "indirect table inside an indirect table", c_ind_nested, NULL, O_ERROR, 1, 0, 1 },
	{ "indirect-next", "INDIRECT | NEXT", c_ind_next, NULL, O_ERROR, 1, 0, 1 },
	{ "indirect-misaligned", "indirect table at an address % 8 == 4", c_ind_misaligned, NULL, O_ERROR, 1, 0,
	  1 },
	{ "indirect-oversized", "indirect table of 257 entries", c_ind_oversized, NULL, O_ERROR, 1, 0, 1 },
	{ "indirect-unnegotiated", "indirect descriptor without INDIRECT_DESC", c_ind_unneg, NULL, O_ERROR, -1, 0,
	  1 },
	{ "queue-size-0", "QueueNum 0, then QueueReady 1", NULL, c_qsize0, O_REFUSED, 0, 0, 1 },
	{ "queue-size-odd", "QueueNum 100 (not a power of two), then QueueReady 1", NULL, c_qsize_odd,
	  O_REFUSED, 0, 0, 1 },
	{ "notify-before-driver-ok", "QueueNotify before DRIVER_OK", NULL, c_early_notify, O_OK, 0, 0, 1 },
	{ "beyond-capacity", "IN at sector = capacity", c_capacity, NULL, O_IOERR, 0, 0, 1 },
	{ "straddles-end", "IN of two blocks from the last block", c_straddle, NULL, O_IOERR, 0, 0, 1 },
	{ "out-beyond-capacity", "OUT of one block at sector = capacity (the image must not grow)", c_out_capacity,
	  NULL, O_IOERR, 0, 0, 1 },
	{ "unknown-type", "request type 0x55", c_unknown, NULL, O_UNSUPP, 0, 0, 1 },
	{ "header-write-only", "request header in a device-writable descriptor", c_hdr_wo, NULL, O_ERROR, 0, 0,
	  1 },
	{ "status-read-only", "status byte in a device-readable descriptor", NULL, c_status_ro_run,
	  O_NEEDS_RESET | O_NOSTATUS, 0, 0, 1 },
	{ "sector-times-512-wraps", "IN at sector 2^55 (the byte offset wraps to 0)", c_sector_wraps, NULL,
	  O_IOERR, 0, 0, 1 },
	{ "sector-plus-length-wraps", "IN of two blocks at byte offset 2^64 - 512", c_sector_len_wraps, NULL,
	  O_IOERR, 0, 0, 1 },
	{ "in-length-513", "IN of 513 bytes (not a multiple of 512)", c_in_not_512, NULL, O_IOERR, 0, 0, 1 },
	{ "out-length-100", "OUT of 100 bytes (not a multiple of 512)", c_out_not_512, NULL, O_IOERR, 0, 0, 1 },
	{ "discard-unmap-flag", "DISCARD with the unmap flag", c_discard_unmap, NULL, O_UNSUPP, 0, DISCARD, 1 },
	{ "write-zeroes-unknown-flag", "WRITE_ZEROES with flag bit 1", c_wz_flags, NULL, O_UNSUPP, 0, WZ, 1 },
	{ "discard-over-max-seg", "DISCARD of max_discard_seg + 1 segments", c_discard_segs, NULL,
	  O_IOERR | O_UNSUPP, 0, DISCARD, 1 },
	{ "write-zeroes-over-max-seg", "WRITE_ZEROES of max_write_zeroes_seg + 1 segments", c_wz_segs, NULL,
	  O_IOERR | O_UNSUPP, 0, WZ, 1 },
	{ "discard-over-max-sectors", "DISCARD of max_discard_sectors + 8 sectors", c_discard_sectors, NULL,
	  O_IOERR | O_UNSUPP, 0, DISCARD, 1 },
	{ "discard-length-24", "DISCARD data of 24 bytes (not a multiple of 16)", c_dwz_not_16, NULL, O_ERROR, 0,
	  DISCARD, 1 },
	{ "discard-beyond-capacity", "DISCARD of 8 sectors from capacity - 4", c_discard_capacity, NULL, O_IOERR,
	  0, DISCARD, 1 },
	{ "write-zeroes-sector-wraps", "WRITE_ZEROES at sector 2^55", c_wz_wraps, NULL, O_IOERR, 0, WZ, 1 },
	{ "get-id-short", "GET_ID into an 8-byte buffer", NULL, c_get_id_short, O_OK | O_IOERR | O_UNSUPP, 0, 0,
	  1 },
	{ "header-short", "IN whose readable part is 8 bytes (no sector)", c_hdr_short, NULL, O_ERROR, 0, 0, 1 },
	{ "segment-over-size-max", "IN with one segment of size_max + 512 bytes", c_size_max, NULL,
	  O_OK | O_IOERR, 0, VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX), 1 },
	{ "segments-over-seg-max", "IN of seg_max + 1 data segments", NULL, c_seg_max_run, O_OK | O_IOERR, 1,
	  VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX), 1 },
	{ "full-avail-ring", "every avail entry a request, one kick", NULL, c_full_ring, O_SERVED, 1, 0, 1 },
	{ "in-data-device-readable", "IN whose data descriptor is device-readable", NULL, c_in_readable,
	  O_OK | O_ERROR, 0, 0, 1 },
	{ "out-data-device-writable", "OUT whose data descriptor is device-writable", NULL, c_out_writable,
	  O_OK | O_ERROR, 0, 0, 1 },
};

void blk_hostile(void)
{
	hostile_run("blk-hostile", cases, nitems(cases));
}
