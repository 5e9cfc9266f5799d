/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-blk driver and the request engine (blk.h), in ring 3.
 */
#include "blk.h"

#define BLK_WANT                                                                                \
	(VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |                 \
	 VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |                      \
	 VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |                    \
	 VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES))

static struct blk disks[BLK_MAX_DISKS];
static unsigned int ndisks_open;
static char run_error[256];

uint64_t fnv1a(uint64_t h, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len--) {
		h ^= *p++;
		h *= FNV1A_PRIME;
	}
	return h;
}

uint64_t rng64(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x2545f4914f6cdd1dull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

void blk_opts_from_cmdline(struct blk_opts *o)
{
	o->indirect = param_u64("bulkhead.indirect", 1) != 0;
	o->event_idx = param_u64("bulkhead.event-idx", 1) != 0;
	o->irq = param_u64("bulkhead.irq", 0) != 0;
	o->qsize = (unsigned int)param_u64("bulkhead.qsize", VQ_MAX_SIZE);
	o->timeout_ms = (unsigned int)param_u64("bulkhead.timeout-ms", 10000);
}

/* The virtio-blk devices among boot.dev, in command-line order. */
static struct {
	int probed;
	unsigned int n;
	uint8_t dev[MAX_MMIO_DEVS];
} found;

static void probe_all(void)
{
	unsigned int i;

	if (found.probed)
		return;
	found.probed = 1;
	for (i = 0; i < boot.ndev; i++) {
		struct vdev d;

		if (!phys_mapped(boot.dev[i].base, 0x100))
			continue;
		if (vdev_probe(&d, boot.dev[i].base, boot.dev[i].gsi) == 0 && d.device_id == VIRTIO_ID_BLOCK)
			found.dev[found.n++] = (uint8_t)i;
	}
}

unsigned int blk_count(void)
{
	probe_all();
	return found.n;
}

int blk_find(unsigned int disk, uint64_t *base, uint32_t *gsi)
{
	probe_all();
	if (disk >= found.n)
		return -1;
	*base = boot.dev[found.dev[disk]].base;
	*gsi = boot.dev[found.dev[disk]].gsi;
	return 0;
}

static void read_config(struct blk *b)
{
	const struct vdev *d = &b->dev;

	b->capacity = vdev_config64(d, BLK_CFG_CAPACITY);
	b->size_max = vdev_config32(d, BLK_CFG_SIZE_MAX);
	b->seg_max = vdev_config32(d, BLK_CFG_SEG_MAX);
	b->cylinders = vdev_config16(d, BLK_CFG_GEOMETRY);
	b->heads = vdev_config8(d, BLK_CFG_GEOMETRY + 2);
	b->sectors = vdev_config8(d, BLK_CFG_GEOMETRY + 3);
	b->blk_size = vdev_config32(d, BLK_CFG_BLK_SIZE);
	b->physical_block_exp = vdev_config8(d, BLK_CFG_TOPOLOGY);
	b->alignment_offset = vdev_config8(d, BLK_CFG_TOPOLOGY + 1);
	b->min_io_size = vdev_config16(d, BLK_CFG_TOPOLOGY + 2);
	b->opt_io_size = vdev_config32(d, BLK_CFG_TOPOLOGY + 4);
	b->writeback = vdev_config8(d, BLK_CFG_WRITEBACK);
	b->num_queues = vdev_config16(d, BLK_CFG_NUM_QUEUES);
	b->max_discard_sectors = vdev_config32(d, BLK_CFG_MAX_DISCARD_SECTORS);
	b->max_discard_seg = vdev_config32(d, BLK_CFG_MAX_DISCARD_SEG);
	b->discard_sector_alignment = vdev_config32(d, BLK_CFG_DISCARD_ALIGN);
	b->max_write_zeroes_sectors = vdev_config32(d, BLK_CFG_MAX_WZ_SECTORS);
	b->max_write_zeroes_seg = vdev_config32(d, BLK_CFG_MAX_WZ_SEG);
	b->write_zeroes_may_unmap = vdev_config8(d, BLK_CFG_WZ_MAY_UNMAP);
}

static int alloc_slots(struct blk *b)
{
	struct blk_hdr *hdrs;
	uint8_t *status;
	unsigned int i;

	b->nslots = BLK_NSLOTS;
	b->slots = phys_alloc(sizeof(struct blk_slot) * b->nslots, 64);
	hdrs = phys_alloc(sizeof(struct blk_hdr) * b->nslots, 64);
	status = phys_alloc(64 * (uint64_t)b->nslots, 64);
	if (!b->slots || !hdrs || !status)
		return -1;
	for (i = 0; i < b->nslots; i++) {
		struct blk_slot *s = &b->slots[i];

		s->index = i;
		s->hdr = &hdrs[i];
		s->status = status + 64 * i;
		s->buf = phys_alloc(BLK_SLOT_BYTES + BLK_MAX_SEGS * BLK_SEG_GAP, 4096);
		if (!s->buf)
			return -1;
	}
	return 0;
}

int blk_setup(struct blk *b, int driver_ok, const char **why)
{
	uint64_t want = BLK_WANT;
	struct vq *q = &b->dev.vq[0];
	unsigned int i;

	b->dev.irq_mode = b->opts.irq;
	if (b->opts.indirect)
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (b->opts.event_idx)
		want |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (vdev_negotiate(&b->dev, want, why))
		return -1;
	read_config(b);
	if (vq_setup(&b->dev, 0, b->opts.qsize, BLK_MAX_SEGS + 2, why))
		return -1;
	if (q->size < 4) {
		*why = "queue smaller than 4 entries";
		return -1;
	}
	b->lbs = SECTOR;
	if (blk_has(b, VIRTIO_BLK_F_BLK_SIZE) && b->blk_size > SECTOR && b->blk_size <= KiB(64) &&
	    !(b->blk_size & (b->blk_size - 1)))
		b->lbs = b->blk_size;
	b->max_segs = BLK_MAX_SEGS;
	if (blk_has(b, VIRTIO_BLK_F_SEG_MAX) && b->seg_max && b->seg_max < b->max_segs)
		b->max_segs = b->seg_max;
	if (b->max_segs + 2 > q->size)
		b->max_segs = q->size - 2u; /* a chain is never longer than the queue */
	b->max_seg_bytes = 0xfffffff8u;
	if (blk_has(b, VIRTIO_BLK_F_SIZE_MAX) && b->size_max) {
		if (b->size_max < SECTOR) {
			*why = "size_max below 512 bytes";
			return -1;
		}
		b->max_seg_bytes = b->size_max & ~7u;
	}
	b->max_req_bytes = BLK_SLOT_BYTES;
	if ((uint64_t)b->max_segs * b->max_seg_bytes < b->max_req_bytes)
		b->max_req_bytes = b->max_segs * b->max_seg_bytes;
	b->max_req_bytes &= ~(b->lbs - 1);
	if (!b->max_req_bytes) {
		*why = "size_max x seg_max below one block";
		return -1;
	}
	if (!b->slots && alloc_slots(b)) {
		*why = "out of guest memory for request buffers";
		return -1;
	}
	b->nfree = b->nslots;
	for (i = 0; i < b->nslots; i++)
		b->free[i] = (uint16_t)(b->nslots - 1 - i);
	if (driver_ok)
		vdev_driver_ok(&b->dev);
	return 0;
}

struct blk *blk_open(unsigned int disk, const struct blk_opts *o)
{
	struct blk *b;
	const char *why = "";
	uint64_t base;
	uint32_t gsi;

	if (blk_find(disk, &base, &gsi))
		fail("no virtio-blk disk %u (%u found among %u virtio-mmio devices)", disk, blk_count(),
		     boot.ndev);
	if (ndisks_open == BLK_MAX_DISKS)
		fail("more than %u disks open", BLK_MAX_DISKS);
	b = &disks[ndisks_open++];
	b->disk = disk;
	b->opts = *o;
	vdev_probe(&b->dev, base, gsi);
	if (blk_setup(b, 1, &why))
		fail("disk %u at 0x%lx: %s", disk, base, why);
	return b;
}

struct blk_slot *blk_slot_get(struct blk *b)
{
	if (!b->nfree)
		return NULL;
	return &b->slots[b->free[--b->nfree]];
}

void blk_slot_put(struct blk *b, struct blk_slot *s)
{
	b->free[b->nfree++] = (uint16_t)s->index;
}

void blk_slot_layout(struct blk *b, struct blk_slot *s, uint32_t len, unsigned int nseg, uint64_t *rng)
{
	uint32_t left = len, max = b->max_seg_bytes, need = (uint32_t)(((uint64_t)len + max - 1) / max);
	uint8_t *p = s->buf;
	unsigned int i;

	if (nseg < need)
		nseg = need;
	if (nseg > b->max_segs)
		nseg = b->max_segs;
	if (nseg > len / 8)
		nseg = len / 8;
	if (!nseg)
		nseg = 1;
	s->len = len;
	s->nseg = nseg;
	for (i = 0; i < nseg; i++) {
		uint32_t rest = nseg - 1 - i, l, lo, hi;

		if (!rest) {
			l = left;
		} else {
			/* Leave at least 8 bytes for each later segment and at most max for each. */
			uint64_t rest_max = (uint64_t)rest * max;

			lo = left > rest_max ? (uint32_t)(left - rest_max) : 8;
			hi = left - rest * 8 < max ? left - rest * 8 : max;
			if (lo < 8)
				lo = 8;
			if (hi < lo)
				hi = lo;
			if (rng)
				l = lo + 8 * (uint32_t)(rng64(rng) % ((hi - lo) / 8 + 1));
			else
				l = ((left / (rest + 1) + 7) & ~7u) < lo ? lo : ((left / (rest + 1) + 7) & ~7u);
			if (l > hi)
				l = hi;
		}
		s->seg[i] = p;
		s->seg_len[i] = l;
		p += l + BLK_SEG_GAP;
		left -= l;
	}
}

void blk_slot_fill(struct blk_slot *s, uint64_t seed)
{
	uint64_t off = s->sector * SECTOR;
	unsigned int i;
	uint32_t k;

	for (i = 0; i < s->nseg; i++) {
		uint64_t *w = (uint64_t *)s->seg[i];

		for (k = 0; k < s->seg_len[i] / 8; k++, off += 8)
			w[k] = pattern_word(seed, off);
	}
}

int64_t blk_slot_check(const struct blk_slot *s, uint64_t seed)
{
	uint64_t off = s->sector * SECTOR, data = 0;
	unsigned int i;
	uint32_t k;

	for (i = 0; i < s->nseg; i++) {
		const uint64_t *w = (const uint64_t *)s->seg[i];

		for (k = 0; k < s->seg_len[i] / 8; k++, off += 8, data += 8)
			if (w[k] != pattern_word(seed, off))
				return (int64_t)data;
	}
	return -1;
}

int64_t blk_slot_zero(const struct blk_slot *s)
{
	uint64_t data = 0;
	unsigned int i;
	uint32_t k;

	for (i = 0; i < s->nseg; i++) {
		const uint64_t *w = (const uint64_t *)s->seg[i];

		for (k = 0; k < s->seg_len[i] / 8; k++, data += 8)
			if (w[k])
				return (int64_t)data;
	}
	return -1;
}

uint64_t blk_slot_fnv(const struct blk_slot *s, uint64_t h)
{
	unsigned int i;

	for (i = 0; i < s->nseg; i++)
		h = fnv1a(h, s->seg[i], s->seg_len[i]);
	return h;
}

int blk_submit(struct blk *b, struct blk_slot *s)
{
	struct vq_buf bufs[BLK_MAX_SEGS + 2];
	int dev_writes = s->type == VIRTIO_BLK_T_IN || s->type == VIRTIO_BLK_T_GET_ID;
	unsigned int n = 0, i;

	s->hdr->type = s->type;
	s->hdr->reserved = 0;
	s->hdr->sector = s->sector;
	bufs[n++] = (struct vq_buf){ (uintptr_t)s->hdr, sizeof(*s->hdr), 0 };
	for (i = 0; i < s->nseg && i < BLK_MAX_SEGS; i++)
		bufs[n++] = (struct vq_buf){ (uintptr_t)s->seg[i], s->seg_len[i], dev_writes };
	*s->status = 0xff;
	s->result = 0xff;
	s->used_len = 0;
	bufs[n++] = (struct vq_buf){ (uintptr_t)s->status, 1, 1 };
	s->t_submit = rdtsc();
	return vq_add(&b->dev.vq[0], bufs, n, s) < 0 ? -1 : 0;
}

void blk_kick(struct blk *b)
{
	vq_kick(&b->dev, &b->dev.vq[0]);
}

int blk_reap(struct blk *b, struct blk_slot **sp)
{
	struct blk_slot *s;
	void *cookie;
	uint32_t len;
	uint16_t head;
	int r;

	r = vq_get(&b->dev.vq[0], &cookie, &len, &head);
	if (r <= 0) {
		if (r < 0)
			snprintf(run_error, sizeof(run_error),
				 "disk %u: the device returned id %u, which is not in flight", b->disk, head);
		return r;
	}
	s = cookie;
	s->used_len = len;
	s->result = *s->status;
	s->t_done = rdtsc();
	*sp = s;
	return 1;
}

/* dev_irqs: interrupts taken on d's vector so far. */
static uint32_t dev_irqs(const struct vdev *d)
{
	return d->gsi < 24 ? irq_count[VEC_IRQ_BASE + d->gsi] : 0;
}

/* wait_step: nothing completed; spin once, or sleep until an interrupt. */
static void wait_step(struct blk *const *bs, unsigned int n)
{
	uint64_t seen;
	unsigned int i;

	if (!bs[0]->dev.irq_mode) {
		cpu_relax();
		return;
	}
	for (i = 0; i < n; i++)
		vdev_irq_ack(&bs[i]->dev);
	seen = irq_seq;
	for (i = 0; i < n; i++)
		if (vq_want_irq(&bs[i]->dev.vq[0]))
			return;
	irq_wait(seen);
	for (i = 0; i < n; i++)
		vdev_irq_ack(&bs[i]->dev);
}

int blk_sync(struct blk *b, struct blk_slot *s, const char **why)
{
	uint64_t end = rdtsc() + us_to_tsc((uint64_t)b->opts.timeout_ms * 1000);
	struct blk_slot *got;
	int r;

	if (blk_submit(b, s)) {
		*why = "no room in the queue";
		return -1;
	}
	blk_kick(b);
	for (;;) {
		r = blk_reap(b, &got);
		if (r < 0) {
			*why = run_error;
			return -1;
		}
		if (r > 0) {
			if (got != s) {
				*why = "a different request completed";
				return -1;
			}
			return s->result;
		}
		if (rdtsc() > end) {
			*why = "timed out";
			return -1;
		}
		wait_step(&b, 1);
	}
}

const char *blk_run_error(void)
{
	return run_error;
}

/* fill_job: submit what j may, return how many. */
static unsigned int fill_job(struct blk_job *j, int *err)
{
	struct blk *b = j->b;
	unsigned int added = 0;

	while (!j->finished && j->inflight < j->depth) {
		struct blk_slot *s = j->pending;

		if (!s) {
			s = blk_slot_get(b);
			if (!s)
				break;
			if (!j->prep(j, s)) {
				blk_slot_put(b, s);
				j->finished = 1;
				break;
			}
		}
		if (blk_submit(b, s)) {
			if (!j->pending)
				j->queue_full++;
			j->pending = s;
			if (!b->dev.vq[0].inflight) {
				snprintf(j->why, sizeof(j->why), "a request of %u segments never fits the queue",
					 s->nseg);
				*err = 1;
			}
			break;
		}
		j->pending = NULL;
		j->inflight++;
		j->requests++;
		if (j->inflight > j->max_inflight)
			j->max_inflight = j->inflight;
		added++;
	}
	return added;
}

int blk_run(struct blk_job *jobs, unsigned int n)
{
	struct blk *bs[BLK_MAX_DISKS];
	uint64_t last = rdtsc(), limit;
	unsigned int i;

	if (!n || n > BLK_MAX_DISKS) {
		snprintf(run_error, sizeof(run_error), "blk_run: %u jobs", n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		bs[i] = jobs[i].b;
		jobs[i].pending = NULL;
		jobs[i].finished = 0;
		jobs[i].inflight = 0;
		jobs[i].why[0] = '\0';
		if (!jobs[i].depth)
			jobs[i].depth = 1;
	}
	limit = us_to_tsc((uint64_t)bs[0]->opts.timeout_ms * 1000);
	for (i = 0; i < n; i++)
		jobs[i].irqs = dev_irqs(&bs[i]->dev);
	for (;;) {
		int progress = 0, busy = 0, err = 0;

		for (i = 0; i < n; i++) {
			struct blk_job *j = &jobs[i];

			if (fill_job(j, &err)) {
				struct vq *q = &j->b->dev.vq[0];

				j->kicks++;
				j->notifies += (unsigned int)vq_kick(&j->b->dev, q);
			}
			if (err) {
				snprintf(run_error, sizeof(run_error), "disk %u: %s", j->b->disk, j->why);
				return -1;
			}
		}
		for (i = 0; i < n; i++) {
			struct blk_job *j = &jobs[i];
			struct blk_slot *s;
			int r;

			while ((r = blk_reap(j->b, &s)) > 0) {
				progress = 1;
				j->inflight--;
				j->bytes += s->len;
				if (j->done(j, s)) {
					snprintf(run_error, sizeof(run_error), "disk %u: %s", j->b->disk, j->why);
					blk_slot_put(j->b, s);
					return -1;
				}
				blk_slot_put(j->b, s);
			}
			if (r < 0)
				return -1;
			if (!j->finished || j->inflight || j->pending)
				busy = 1;
		}
		if (!busy) {
			for (i = 0; i < n; i++)
				jobs[i].irqs = dev_irqs(&bs[i]->dev) - jobs[i].irqs;
			return 0;
		}
		if (progress) {
			last = rdtsc();
			continue;
		}
		if (rdtsc() - last > limit) {
			int off = 0;

			off = snprintf(run_error, sizeof(run_error), "no completion for %u ms:",
				       bs[0]->opts.timeout_ms);
			for (i = 0; i < n && off < (int)sizeof(run_error); i++) {
				struct vq *q = &jobs[i].b->dev.vq[0];

				off += snprintf(run_error + off, sizeof(run_error) - (size_t)off,
						" disk %u: %u in flight, avail %u used %u, Status 0x%x;",
						jobs[i].b->disk, jobs[i].inflight, q->avail_idx, vq_used_idx(q),
						vdev_status(&jobs[i].b->dev));
			}
			return -1;
		}
		wait_step(bs, n);
	}
}
