/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vring-hostile: the split virtqueue (virtio 1.2 section 2.7) broken on
 * purpose, through a virtio-blk disk and the engine in hostile.h:
 * descriptors rewritten by a second vCPU while the device works on them,
 * event-idx values poisoned, the driver writing the used ring, rings that
 * overlap, are unaligned or lie beyond RAM, the avail index going back, one
 * head made available twice, bad indirect tables, and device-writable
 * buffers over the queue's own rings. Rings across two queues are in
 * net-hostile (virtio-net has two).
 */
#include "hostile.h"

#define RACE_US 300000 /* how long the rewriting runs */
#define RACE_MAX 4000 /* requests at most in that time */
#define WRAP_BATCHES 257 /* batches of a whole ring: the 16-bit indexes wrap once */
#define EVENT_IDX VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)

/* ---- descriptors rewritten while the device works on them ---- */

struct race {
	struct vq_desc *d; /* the descriptor the worker rewrites */
	uint64_t addr; /* its good address (len 512) */
	uint16_t size; /* the queue size (next = size is out of range) */
	volatile int stop;
	uint32_t flips;
};

/* rewrite: flip d's fields one store at a time between good values and bad ones, so the
 * device sees every mix of the two (torn reads of a descriptor included). */
static void rewrite(void *arg)
{
	struct race *r = arg;
	uint64_t x = 0x5eed;
	volatile struct vq_desc *d = r->d;

	while (!READ_ONCE(r->stop)) {
		x = splitmix64(x);
		switch (x % 5) {
		case 0:
			d->addr = x & 0x100 ? r->addr : HOSTILE_NOWHERE;
			break;
		case 1:
			d->len = x & 0x100 ? SECTOR : 0x40000000u; /* 1 GiB: beyond RAM from there */
			break;
		case 2:
			d->next = x & 0x100 ? 2 : x & 0x200 ? r->size : 1; /* on, out of range, a loop */
			break;
		case 3:
			d->flags = x & 0x100 ? HW | HN : x & 0x200 ? HR | HN : HW;
			break;
		default:
			d->addr = r->addr;
			d->len = SECTOR;
			d->next = 2;
			d->flags = HW | HN;
			break;
		}
		r->flips++;
	}
}

static unsigned int c_desc_race(struct hctx *h)
{
	static struct race r;
	uint8_t *buf = h->s->buf; /* canary | 512 data bytes | canary */
	unsigned int posted = 0, ok = 0, err = 0, other = 0, resets = 0, stuck = 0;
	uint64_t end;

	if (hostile_live(h))
		return O_NONE;
	memset(buf, 0xc3, KiB(4));
	memset(&r, 0, sizeof(r));
	hostile_good_chain(h, h->q->desc);
	r.d = &h->q->desc[1];
	r.addr = HPHYS(buf) + 64;
	r.size = h->q->size;
	r.d->addr = r.addr;
	if (smp_run(rewrite, &r)) {
		snprintf(h->note, sizeof(h->note), "the worker CPU did not take the job");
		return O_NONE;
	}
	end = rdtsc() + us_to_tsc(RACE_US);
	while (rdtsc() < end && posted < RACE_MAX && !stuck) {
		int w;

		*h->s->status = 0xff;
		hostile_post(h, 0);
		posted++;
		w = hostile_wait_used(h, h->q->avail_idx, HOSTILE_TIMEOUT_US);
		if (w > 0) {
			uint8_t st = *h->s->status;

			ok += st == VIRTIO_BLK_S_OK;
			err += st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP;
			other += st > VIRTIO_BLK_S_UNSUPP;
		} else if (w < 0) {
			resets++;
			if (!(h->isr & VIRTIO_INT_CONFIG) || hostile_setup(h, 1))
				stuck = 1;
			hostile_good_chain(h, h->q->desc); /* the setup cleared the ring */
			r.d->addr = r.addr;
		} else {
			stuck = 1;
		}
	}
	r.stop = 1;
	end = rdtsc() + us_to_tsc(HOSTILE_TIMEOUT_US);
	while (!smp_done() && rdtsc() < end)
		cpu_relax();
	snprintf(h->note, sizeof(h->note),
		 "%u requests, %u rewrites: %u OK, %u IOERR/UNSUPP, %u other status, %u NEEDS_RESET", posted,
		 r.flips, ok, err, other, resets);
	if (stuck) {
		snappendf(h->note, sizeof(h->note), "; then no answer, or NEEDS_RESET without the configuration interrupt (Status 0x%x)",
			 vdev_status(&h->b->dev));
		return O_NONE;
	}
	if (!mem_filled(buf, 64, 0xc3) || !mem_filled(buf + 64 + SECTOR, KiB(4) - 64 - SECTOR, 0xc3)) {
		snappendf(h->note, sizeof(h->note), "; bytes outside the 512-byte buffer were written");
		return O_WRONG;
	}
	h->driver_ok = 0; /* every NEEDS_RESET was checked for its interrupt above */
	return O_SURVIVED;
}

/* ---- event-idx values poisoned ---- */

static uint16_t *used_event(const struct vq *q)
{
	return &q->avail[2 + q->size];
}

/* isr_take: read InterruptStatus and ack what it says; the bits. */
static uint32_t isr_take(struct hctx *h)
{
	uint32_t isr = vdev_read32(&h->b->dev, VIRTIO_MMIO_INTERRUPT_STATUS);

	if (isr)
		vdev_write32(&h->b->dev, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

/* one_request: post the good chain again and wait for it; 0, or -1 (h->note). */
static int one_request(struct hctx *h)
{
	int w;

	*h->s->status = 0xff;
	hostile_post(h, 0);
	w = hostile_wait_used(h, h->q->avail_idx, HOSTILE_TIMEOUT_US);
	if (w <= 0 || *h->s->status != VIRTIO_BLK_S_OK) {
		if (w >= 0)
			snprintf(h->note, sizeof(h->note), "request %u: %s (status %u)", h->q->avail_idx,
				 w ? "not OK" : "no answer within 1 s", *h->s->status);
		return -1;
	}
	return 0;
}

/* used_event_case: used_event = last used idx + delta before each of 8 requests. */
static unsigned int used_event_case(struct hctx *h, uint16_t delta)
{
	unsigned int i, notified = 0;

	if (hostile_live(h))
		return O_NONE;
	hostile_good_chain(h, h->q->desc);
	for (i = 0; i < 8; i++) {
		WRITE_ONCE(*used_event(h->q), (uint16_t)(vq_used_idx(h->q) + delta));
		isr_take(h);
		if (one_request(h))
			return hostile_needs_reset(h) ? O_NEEDS_RESET : O_NONE;
		notified += (isr_take(h) & VIRTIO_INT_USED) != 0;
	}
	snprintf(h->note, sizeof(h->note), "8 of 8 served with used_event = used idx + 0x%x (%u notified)", delta,
		 notified);
	return O_SERVED;
}

static unsigned int c_event_ahead(struct hctx *h)
{
	return used_event_case(h, 0x7fff);
}

static unsigned int c_event_behind(struct hctx *h)
{
	return used_event_case(h, 0xffff); /* one behind: already passed */
}

/* notified: served, if the used-buffer notification the spec demands came (2.7.7.2). */
static unsigned int notified(struct hctx *h, int ok)
{
	if (ok)
		return O_SERVED;
	snappendf(h->note, sizeof(h->note), "; no used-buffer notification (2.7.7.2: MUST)");
	return O_WRONG;
}

/* The used_event the next entry crosses: 2.7.7.2, the device MUST notify. */
static unsigned int c_event_exact(struct hctx *h)
{
	uint32_t isr;

	if (hostile_live(h))
		return O_NONE;
	hostile_good_chain(h, h->q->desc);
	if (one_request(h))
		return O_NONE;
	isr_take(h);
	WRITE_ONCE(*used_event(h->q), vq_used_idx(h->q)); /* the entry the next completion fills */
	if (one_request(h))
		return O_NONE;
	isr = isr_take(h);
	snprintf(h->note, sizeof(h->note), "used_event %u, used idx now %u: InterruptStatus 0x%x",
		 *used_event(h->q), vq_used_idx(h->q), isr);
	return notified(h, isr & VIRTIO_INT_USED);
}

/* Indexes through the 16-bit wrap: WRAP_BATCHES batches of a whole ring of cheap
 * requests (an unknown type: UNSUPP, no disk I/O), one head named by every entry, with
 * used_event 0xffff: the batch whose completions cross it must be notified. */
static unsigned int c_event_wrap(struct hctx *h)
{
	struct vq *q = h->q;
	unsigned int b, i, crossed = 0;
	uint32_t isr = 0;

	if (hostile_live(h))
		return O_NONE;
	hostile_request(h, 0x55);
	hostile_desc(q->desc, 0, HHDR(h), 16, HR | HN, 1);
	hostile_desc(q->desc, 1, HSTATUS(h), 1, HW, 0);
	for (i = 0; i < q->size; i++)
		q->avail[2 + i] = 0;
	WRITE_ONCE(*used_event(q), 0xffff);
	for (b = 0; b < WRAP_BATCHES; b++) {
		uint16_t before = vq_used_idx(q);
		int w;

		isr_take(h);
		*h->s->status = 0xff;
		q->avail_idx = (uint16_t)(q->avail_idx + q->size);
		vq_publish(q);
		hostile_notify(h);
		w = hostile_wait_used(h, q->avail_idx, HOSTILE_TIMEOUT_US);
		if (w <= 0) {
			if (!w)
				snprintf(h->note, sizeof(h->note), "batch %u: used idx %u, avail idx %u after 1 s", b,
					 vq_used_idx(q), q->avail_idx);
			return w < 0 ? O_NEEDS_RESET : O_NONE;
		}
		if (*h->s->status != VIRTIO_BLK_S_UNSUPP) {
			snprintf(h->note, sizeof(h->note), "batch %u: status %u for type 0x55", b, *h->s->status);
			return O_NONE;
		}
		if (0xffffu - before < q->size) { /* this batch's completions crossed 0xffff */
			crossed = 1;
			isr = isr_take(h);
		}
	}
	snprintf(h->note, sizeof(h->note), "%u requests, used idx wrapped to %u; InterruptStatus 0x%x after the "
		 "batch that crossed used_event 0xffff", WRAP_BATCHES * q->size, vq_used_idx(q), isr);
	return notified(h, crossed && (isr & VIRTIO_INT_USED));
}

/* ---- the driver writing the used ring ---- */

static unsigned int c_used_scribble(struct hctx *h)
{
	struct vq *q = h->q;
	struct vq_used_elem *e;
	unsigned int i;

	if (hostile_live(h))
		return O_NONE;
	hostile_good_chain(h, q->desc);
	if (one_request(h))
		return O_NONE;
	/* Everything the device owns: flags, idx, every element, avail_event. */
	WRITE_ONCE(*(uint16_t *)q->used, 0xffff);
	WRITE_ONCE(*(uint16_t *)(q->used + 2), 0x4321);
	for (i = 0; i < q->size; i++) {
		vq_used_elem(q, (uint16_t)i)->id = 0xdead;
		vq_used_elem(q, (uint16_t)i)->len = 0xbeef;
	}
	WRITE_ONCE(*(uint16_t *)(q->used + 4 + 8 * q->size), 0x1234);
	*h->s->status = 0xff;
	hostile_post(h, 0);
	if (hostile_wait_used(h, 2, HOSTILE_TIMEOUT_US) <= 0) {
		snprintf(h->note, sizeof(h->note), "used idx %u, not 2, after the driver wrote 0x4321 there",
			 vq_used_idx(q));
		return vq_used_idx(q) == 0x4322 ? O_WRONG : O_NONE;
	}
	e = vq_used_elem(q, 1);
	snprintf(h->note, sizeof(h->note), "used idx 2 (the device's own count), entry 1 = id %u len %u, status %u",
		 e->id, e->len, *h->s->status);
	return e->id == 0 && *h->s->status == VIRTIO_BLK_S_OK ? O_IGNORED : O_WRONG;
}

/* 2.7.8: used idx starts at 0, whatever the ring's memory held when the queue was enabled. */
static unsigned int c_used_idx_stale(struct hctx *h)
{
	struct vq *q = h->q;
	unsigned int out;
	uint16_t idx;

	if (hostile_setup(h, 1))
		return O_NONE;
	memset(q->desc, 0, sizeof(struct vq_desc) * q->size);
	memset(q->avail, 0, 6 + 2 * (size_t)q->size);
	memset(q->used, 0, 6 + 8 * (size_t)q->size);
	WRITE_ONCE(*(uint16_t *)(q->used + 2), 0x1234);
	out = hostile_queue(h, q->size, HPHYS(q->desc), HPHYS(q->avail), HPHYS(q->used));
	if (out != O_NONE)
		return O_NONE;
	q->avail_idx = q->kicked_idx = q->last_used = 0;
	vdev_set_status(&h->b->dev, vdev_status(&h->b->dev) | VIRTIO_DRIVER_OK);
	h->driver_ok = 1;
	hostile_good_chain(h, q->desc);
	*h->s->status = 0xff;
	hostile_post(h, 0);
	if (hostile_wait_used(h, 1, HOSTILE_TIMEOUT_US) <= 0) {
		idx = vq_used_idx(q);
		snprintf(h->note, sizeof(h->note), "used idx %u after one completion (0x1234 was in memory)", idx);
		return idx == 0x1235 ? O_WRONG : O_NONE;
	}
	snprintf(h->note, sizeof(h->note), "used idx 1, entry 0 = id %u, status %u (0x1234 was in memory)",
		 vq_used_elem(q, 0)->id, *h->s->status);
	return vq_used_elem(q, 0)->id == 0 ? O_IGNORED : O_WRONG;
}

/* ---- ring layouts ---- */

static unsigned int layout(struct hctx *h, int64_t desc, int64_t avail, int64_t used)
{
	struct vq *q = h->q;

	return hostile_queue(h, q->size, HPHYS(q->desc) + (uint64_t)desc, HPHYS(q->avail) + (uint64_t)avail,
			     HPHYS(q->used) + (uint64_t)used);
}

static unsigned int c_used_over_desc(struct hctx *h)
{
	return layout(h, 0, 0, (int64_t)(HPHYS(h->q->desc) - HPHYS(h->q->used)) + 16);
}

static unsigned int c_used_over_avail(struct hctx *h)
{
	return layout(h, 0, 0, (int64_t)(HPHYS(h->q->avail) - HPHYS(h->q->used)));
}

static unsigned int c_desc_unaligned(struct hctx *h)
{
	return layout(h, 8, 0, 0);
}

static unsigned int c_avail_unaligned(struct hctx *h)
{
	return layout(h, 0, 1, 0);
}

static unsigned int c_used_unaligned(struct hctx *h)
{
	return layout(h, 0, 0, 2);
}

static unsigned int c_used_beyond_ram(struct hctx *h)
{
	return layout(h, 0, 0, (int64_t)(HOSTILE_NOWHERE - HPHYS(h->q->used)));
}

static unsigned int c_desc_wraps(struct hctx *h)
{
	return layout(h, (int64_t)(0xfffffffffffff000ull - HPHYS(h->q->desc)), 0, 0);
}

/* ---- avail ring abuse ---- */

static unsigned int c_avail_back(struct hctx *h)
{
	struct vq *q = h->q;

	if (hostile_live(h))
		return O_NONE;
	hostile_good_chain(h, q->desc);
	if (one_request(h) || one_request(h))
		return O_NONE;
	q->avail_idx = 1;
	vq_publish(q);
	hostile_notify(h);
	if (hostile_wait_used(h, 0xffff, HOSTILE_TIMEOUT_US) < 0)
		return O_NEEDS_RESET;
	snprintf(h->note, sizeof(h->note), "avail idx 2 -> 1: used idx %u, Status 0x%x after 1 s", vq_used_idx(q),
		 vdev_status(&h->b->dev));
	return O_NONE;
}

static unsigned int c_head_twice(struct hctx *h)
{
	struct vq *q = h->q;
	int w;

	if (hostile_live(h))
		return O_NONE;
	hostile_good_chain(h, q->desc);
	q->avail[2] = q->avail[3] = 0;
	q->avail_idx = 2;
	vq_publish(q);
	hostile_notify(h);
	w = hostile_wait_used(h, 2, HOSTILE_TIMEOUT_US);
	if (w < 0)
		return O_NEEDS_RESET;
	snprintf(h->note, sizeof(h->note), "used idx %u: ids %u and %u, status %u", vq_used_idx(q),
		 vq_used_elem(q, 0)->id, vq_used_elem(q, 1)->id, *h->s->status);
	return w && *h->s->status == VIRTIO_BLK_S_OK ? O_SERVED : O_NONE;
}

/* ---- indirect tables ---- */

static int indirect(struct hctx *h, uint64_t addr, uint32_t len, uint16_t flags)
{
	hostile_good_chain(h, (struct vq_desc *)h->t1->buf);
	hostile_desc(h->q->desc, 0, addr, len, flags, 0);
	hostile_post(h, 0);
	return 0;
}

static int c_ind_len0(struct hctx *h)
{
	return indirect(h, HPHYS(h->t1->buf), 0, VQ_DESC_F_INDIRECT);
}

static int c_ind_len40(struct hctx *h)
{
	return indirect(h, HPHYS(h->t1->buf), 40, VQ_DESC_F_INDIRECT);
}

static int c_ind_beyond_ram(struct hctx *h)
{
	return indirect(h, HOSTILE_NOWHERE, 48, VQ_DESC_F_INDIRECT);
}

static int c_ind_write(struct hctx *h)
{
	return indirect(h, HPHYS(h->t1->buf), 48, VQ_DESC_F_INDIRECT | HW);
}

/* ---- device-writable buffers over the queue's own rings ---- */

static unsigned int buffer_over(struct hctx *h, void *ring, size_t len)
{
	static uint8_t before[4096];
	unsigned int out;

	if (hostile_live(h))
		return O_NONE;
	hostile_good_chain(h, h->q->desc);
	h->q->desc[1].addr = HPHYS(ring);
	h->q->avail[2] = 0;
	h->q->avail_idx = 1;
	vq_publish(h->q);
	copy_fast(before, ring, len);
	hostile_notify(h);
	out = hostile_wait_outcome(h, 0);
	if (memcmp(before, ring, len)) {
		snappendf(h->note, sizeof(h->note), "; the device wrote disk data over the ring");
		return out | O_WRONG;
	}
	return out;
}

static unsigned int c_buf_over_avail(struct hctx *h)
{
	return buffer_over(h, h->q->avail, 6 + 2 * (size_t)h->q->size);
}

static unsigned int c_buf_over_desc(struct hctx *h)
{
	return buffer_over(h, h->q->desc, sizeof(struct vq_desc) * h->q->size);
}

static const struct hcase cases[] = {
	{ "desc-rewrite-race", "a second vCPU rewrites addr, len, next, flags of an in-flight descriptor",
	  NULL, c_desc_race, O_SURVIVED, 0, 0, 2 },
	{ "used-event-far-ahead", "used_event = used idx + 0x7fff", NULL, c_event_ahead, O_SERVED, 0, EVENT_IDX,
	  1 },
	{ "used-event-behind", "used_event = used idx - 1", NULL, c_event_behind, O_SERVED, 0, EVENT_IDX, 1 },
	{ "used-event-exact", "used_event = the entry the next completion fills", NULL, c_event_exact, O_SERVED,
	  0, EVENT_IDX, 1 },
	{ "index-wrap", "65792 requests: avail and used idx wrap, used_event 0xffff", NULL, c_event_wrap,
	  O_SERVED, 0, EVENT_IDX, 1 },
	{ "driver-writes-used-ring", "the driver overwrites used flags, idx, elements, avail_event", NULL,
	  c_used_scribble, O_IGNORED, 0, 0, 1 },
	{ "used-idx-stale-at-ready", "used idx 0x1234 in memory when QueueReady is written", NULL,
	  c_used_idx_stale, O_IGNORED, 0, 0, 1 },
	{ "ring-used-over-desc", "used ring over the descriptor table", NULL, c_used_over_desc, O_REFUSED, 0, 0,
	  1 },
	{ "ring-used-over-avail", "used ring at the avail ring", NULL, c_used_over_avail, O_REFUSED, 0, 0, 1 },
	{ "ring-desc-unaligned", "descriptor table at 8 mod 16", NULL, c_desc_unaligned, O_REFUSED, 0, 0, 1 },
	{ "ring-avail-unaligned", "avail ring at an odd address", NULL, c_avail_unaligned, O_REFUSED, 0, 0, 1 },
	{ "ring-used-unaligned", "used ring at 2 mod 4", NULL, c_used_unaligned, O_REFUSED, 0, 0, 1 },
	{ "ring-beyond-ram", "used ring at 1 TiB", NULL, c_used_beyond_ram, O_REFUSED, 0, 0, 1 },
	{ "ring-wraps", "descriptor table at 0xfffffffffffff000", NULL, c_desc_wraps, O_REFUSED, 0, 0, 1 },
	{ "avail-idx-back", "avail idx 2, then 1", NULL, c_avail_back, O_NEEDS_RESET, 0, 0, 1 },
	{ "same-head-twice", "head 0 in two avail entries at once", NULL, c_head_twice,
	  O_SERVED | O_NEEDS_RESET, 0, 0, 1 },
	{ "indirect-length-0", "indirect table of length 0", c_ind_len0, NULL, O_ERROR, 1, 0, 1 },
	{ "indirect-length-40", "indirect table of 40 bytes (not a multiple of 16)", c_ind_len40, NULL, O_ERROR,
	  1, 0, 1 },
	{ "indirect-beyond-ram", "indirect table at 1 TiB", c_ind_beyond_ram, NULL, O_ERROR, 1, 0, 1 },
	{ "indirect-write-flag", "INDIRECT | WRITE on the table's descriptor (2.7.5.3.2: ignored)", c_ind_write,
	  NULL, O_OK, 1, 0, 1 },
	{ "buffer-over-avail-ring", "an IN's data buffer over the queue's avail ring", NULL, c_buf_over_avail,
	  O_ERROR, 0, 0, 1 },
	{ "buffer-over-desc-table", "an IN's data buffer over the queue's descriptor table", NULL,
	  c_buf_over_desc, O_ERROR, 0, 0, 1 },
};

void vring_hostile(void)
{
	hostile_run("vring-hostile", cases, nitems(cases));
}
