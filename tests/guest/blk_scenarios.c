/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The disk scenarios (README.md): blk-info, blk-rw, blk-verify, blk-flush,
 * blk-id, blk-discard, blk-ro, blk-two and blk-bench. Parameters come from the
 * command line: bulkhead.disk=N (0 = vda), bulkhead.seed=S, bulkhead.start=S,
 * bulkhead.sectors=N, bulkhead.serial=ID, and the driver options of
 * blk_opts_from_cmdline().
 */
#include "blk.h"

#define TAG GUEST_TAG

static const uint16_t mix_sectors[] = { 8, 1, 256, 3, 64, 16, 7, 128, 2, 31, 255, 32, 5, 96, 24 };
static const uint8_t mix_segs[] = { 1, 2, 3, 1, 8, 4, 17, 32, 1, 5, 2, 12 };

/* One pass of the pattern over [next, end). */
struct pat_ctx {
	uint64_t seed, next, end;
	uint32_t type; /* VIRTIO_BLK_T_IN or _OUT */
	int mixed; /* mixed sizes and segment counts; else req_bytes in one segment */
	int nodata; /* bench: neither fill nor check */
	uint32_t req_bytes;
	uint64_t rng;
	uint64_t fnv; /* over the bytes written, in disk order */
	/* read-back: these sector ranges must read as zeros */
	unsigned int nzero;
	uint64_t zlo[2], zhi[2];
};

static const char *type_name(uint32_t t)
{
	switch (t) {
	case VIRTIO_BLK_T_IN:
		return "IN";
	case VIRTIO_BLK_T_OUT:
		return "OUT";
	case VIRTIO_BLK_T_FLUSH:
		return "FLUSH";
	case VIRTIO_BLK_T_GET_ID:
		return "GET_ID";
	case VIRTIO_BLK_T_DISCARD:
		return "DISCARD";
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return "WRITE_ZEROES";
	default:
		return "?";
	}
}

static const char *status_name(int st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK:
		return "OK";
	case VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	case 0xff:
		return "not written";
	default:
		return "invalid";
	}
}

static char disk_name_buf[BLK_MAX_DISKS][8];

static const char *disk_name(const struct blk *b)
{
	char *n = disk_name_buf[b->disk % BLK_MAX_DISKS];

	if (b->disk < 26)
		snprintf(n, 8, "vd%c", 'a' + b->disk);
	else
		snprintf(n, 8, "disk%u", b->disk);
	return n;
}

/* slot_word: the data word at byte offset off of s's data. */
static uint64_t slot_word(const struct blk_slot *s, uint64_t off)
{
	unsigned int i;

	for (i = 0; i < s->nseg; i++) {
		if (off < s->seg_len[i])
			return *(const uint64_t *)(s->seg[i] + off);
		off -= s->seg_len[i];
	}
	return 0;
}

static int in_zero_range(const struct pat_ctx *c, uint64_t sector)
{
	unsigned int i;

	for (i = 0; i < c->nzero; i++)
		if (sector >= c->zlo[i] && sector < c->zhi[i])
			return 1;
	return 0;
}

/* check_zero_ranges: the read-back of blk-discard; -1 if all is as expected, else the offset. */
static int64_t check_zero_ranges(const struct pat_ctx *c, const struct blk_slot *s, uint64_t *want)
{
	uint64_t off = s->sector * SECTOR, data = 0;
	unsigned int i;
	uint32_t k;

	for (i = 0; i < s->nseg; i++) {
		const uint64_t *w = (const uint64_t *)s->seg[i];

		for (k = 0; k < s->seg_len[i] / 8; k++, off += 8, data += 8) {
			uint64_t e = in_zero_range(c, off / SECTOR) ? 0 : pattern_word(c->seed, off);

			if (w[k] != e) {
				*want = e;
				return (int64_t)data;
			}
		}
	}
	return -1;
}

static int pat_prep(struct blk_job *j, struct blk_slot *s)
{
	struct pat_ctx *c = j->ctx;
	struct blk *b = j->b;
	uint64_t bs = b->lbs / SECTOR, max = b->max_req_bytes / SECTOR, n;
	unsigned int nseg = 1;

	if (c->next >= c->end)
		return 0;
	if (c->mixed) {
		n = mix_sectors[rng64(&c->rng) % nitems(mix_sectors)];
		nseg = mix_segs[rng64(&c->rng) % nitems(mix_segs)];
	} else {
		n = c->req_bytes / SECTOR;
	}
	n = (n + bs - 1) / bs * bs;
	if (n > max)
		n = max;
	if (n > c->end - c->next)
		n = c->end - c->next;
	s->type = c->type;
	s->sector = c->next;
	blk_slot_layout(b, s, (uint32_t)(n * SECTOR), nseg, c->mixed ? &c->rng : NULL);
	if (c->type == VIRTIO_BLK_T_OUT && !c->nodata) {
		blk_slot_fill(s, c->seed);
		c->fnv = blk_slot_fnv(s, c->fnv);
	}
	c->next += n;
	return 1;
}

static int pat_done(struct blk_job *j, struct blk_slot *s)
{
	struct pat_ctx *c = j->ctx;
	int64_t bad;
	uint64_t want = 0;

	if (s->result != VIRTIO_BLK_S_OK) {
		snprintf(j->why, sizeof(j->why), "%s of %u bytes in %u segments at sector %lu: status %u (%s)",
			 type_name(s->type), s->len, s->nseg, s->sector, s->result, status_name(s->result));
		return -1;
	}
	if (s->type != VIRTIO_BLK_T_IN || c->nodata)
		return 0;
	if (c->nzero) {
		bad = check_zero_ranges(c, s, &want);
	} else {
		bad = blk_slot_check(s, c->seed);
		if (bad >= 0)
			want = pattern_word(c->seed, s->sector * SECTOR + (uint64_t)bad);
	}
	if (bad >= 0) {
		uint64_t off = s->sector * SECTOR + (uint64_t)bad;

		snprintf(j->why, sizeof(j->why),
			 "data mismatch at disk byte 0x%lx (sector %lu + %lu): read 0x%016lx, want 0x%016lx",
			 off, off / SECTOR, off % SECTOR, slot_word(s, (uint64_t)bad), want);
		return -1;
	}
	return 0;
}

static void describe(const struct blk *b)
{
	const struct vq *q = &b->dev.vq[0];

	cprintf(TAG "blk: %s at 0x%lx gsi %u: %lu sectors (%lu MiB), block %u, queue %u, indirect %s, "
		    "event-idx %s, %s, %u segments x %u bytes, requests up to %u KiB\n",
		disk_name(b), b->dev.base, b->dev.gsi, b->capacity, b->capacity >> 11, b->lbs, q->size,
		q->use_indirect ? "on" : "off", q->event_idx ? "on" : "off",
		b->dev.irq_mode ? "interrupts" : "polling", b->max_segs, b->max_seg_bytes,
		b->max_req_bytes >> 10);
}

static struct blk *open_disk_n(unsigned int disk)
{
	struct blk_opts o;
	struct blk *b;

	blk_opts_from_cmdline(&o);
	b = blk_open(disk, &o);
	describe(b);
	return b;
}

static struct blk *open_disk(void)
{
	return open_disk_n((unsigned int)param_u64("bulkhead.disk", 0));
}

/* range_param: bulkhead.start and bulkhead.sectors, checked against the disk. */
static void range_param(const struct blk *b, uint64_t *start, uint64_t *n)
{
	uint64_t bs = b->lbs / SECTOR;

	*start = param_u64("bulkhead.start", 0);
	*n = param_u64("bulkhead.sectors", 2048);
	if (*start % bs || *n % bs)
		fail("%s: start %lu and sectors %lu must be multiples of the block size (%u bytes)",
		     disk_name(b), *start, *n, b->lbs);
	if (!*n || *start > b->capacity || *n > b->capacity - *start)
		fail("%s: sectors [%lu, %lu) are not on the disk (%lu sectors)", disk_name(b), *start,
		     *start + *n, b->capacity);
}

static unsigned int depth_param(const struct blk *b)
{
	uint64_t d = param_u64("bulkhead.depth", b->nslots);

	return (unsigned int)(d < 1 ? 1 : d > b->nslots ? b->nslots : d);
}

/* fmt_rate: "X.Y" MB/s (10^6 bytes) for bytes moved in cycles. */
static void fmt_rate(char *buf, size_t n, uint64_t bytes, uint64_t cycles)
{
	uint64_t us = tsc_to_us(cycles);

	if (!us)
		us = 1;
	snprintf(buf, n, "%lu.%lu", bytes / us, bytes * 10 / us % 10);
}

/* run_jobs: blk_run, FAIL on error; the TSC cycles it took. */
static uint64_t run_jobs(struct blk_job *jobs, unsigned int njobs)
{
	uint64_t t0 = rdtsc();

	if (blk_run(jobs, njobs))
		fail("%s", blk_run_error());
	return rdtsc() - t0;
}

static void job_init(struct blk_job *j, struct blk *b, struct pat_ctx *c, unsigned int depth)
{
	memset(j, 0, sizeof(*j));
	j->b = b;
	j->depth = depth;
	j->prep = pat_prep;
	j->done = pat_done;
	j->ctx = c;
}

static void ctx_init(struct pat_ctx *c, uint32_t type, uint64_t start, uint64_t n, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->next = start;
	c->end = start + n;
	c->seed = seed;
	c->mixed = 1;
	c->rng = seed * 0x9e3779b97f4a7c15ull + start + 1;
	c->fnv = FNV1A_INIT;
}

static void report_pass(const char *what, const struct blk *b, const struct blk_job *j, uint64_t cycles)
{
	char rate[32];

	fmt_rate(rate, sizeof(rate), j->bytes, cycles);
	cprintf(TAG "%s: %s %s: %lu requests, %lu bytes, %lu us, %s MB/s; up to %u in flight, "
		    "queue full %lu times; %lu kicks, %lu notifies, %lu interrupts\n",
		scenario_name, disk_name(b), what, j->requests, j->bytes, tsc_to_us(cycles), rate,
		j->max_inflight, j->queue_full, j->kicks, j->notifies, b->dev.irq_mode ? j->irqs : 0);
}

/* write_pattern, read_pattern: one disk, mixed requests, depth from the command line. */
static uint64_t write_pattern(struct blk *b, uint64_t start, uint64_t n, uint64_t seed)
{
	struct pat_ctx c;
	struct blk_job j;
	uint64_t t;

	ctx_init(&c, VIRTIO_BLK_T_OUT, start, n, seed);
	job_init(&j, b, &c, depth_param(b));
	t = run_jobs(&j, 1);
	report_pass("write", b, &j, t);
	return c.fnv;
}

static void read_pattern(struct blk *b, uint64_t start, uint64_t n, uint64_t seed, const struct pat_ctx *zero)
{
	struct pat_ctx c;
	struct blk_job j;
	uint64_t t;

	ctx_init(&c, VIRTIO_BLK_T_IN, start, n, seed);
	c.rng ^= 0x5555;
	if (zero) {
		c.nzero = zero->nzero;
		memcpy(c.zlo, zero->zlo, sizeof(c.zlo));
		memcpy(c.zhi, zero->zhi, sizeof(c.zhi));
	}
	job_init(&j, b, &c, depth_param(b));
	t = run_jobs(&j, 1);
	report_pass("read", b, &j, t);
}

/* ---- blk-info ---- */

void blk_info(void)
{
	unsigned int n = blk_count(), i;
	struct blk_opts o;

	cprintf(TAG "blk-info: %u virtio-blk disks among %u virtio-mmio devices\n", n, boot.ndev);
	blk_opts_from_cmdline(&o);
	for (i = 0; i < n && i < BLK_MAX_DISKS; i++) {
		struct blk *b = blk_open(i, &o);
		char f[512] = "";
		uint32_t qmax;

		describe(b);
		vdev_feature_names(b->dev.offered, VIRTIO_ID_BLOCK, f, sizeof(f));
		cprintf(TAG "blk-info: %s: version %u vendor 0x%x, features offered 0x%lx: %s\n", disk_name(b),
			b->dev.version, b->dev.vendor_id, b->dev.offered, f);
		f[0] = '\0';
		vdev_feature_names(b->dev.features, VIRTIO_ID_BLOCK, f, sizeof(f));
		cprintf(TAG "blk-info: %s: features accepted 0x%lx: %s\n", disk_name(b), b->dev.features, f);
		cprintf(TAG "blk-info: %s: capacity %lu sectors (%lu bytes), size_max %u, seg_max %u, blk_size %u\n",
			disk_name(b), b->capacity, b->capacity * SECTOR, b->size_max, b->seg_max, b->blk_size);
		cprintf(TAG "blk-info: %s: geometry %u/%u/%u, topology exp %u align %u min_io %u opt_io %u, "
			    "writeback %u, num_queues %u\n",
			disk_name(b), b->cylinders, b->heads, b->sectors, b->physical_block_exp,
			b->alignment_offset, b->min_io_size, b->opt_io_size, b->writeback, b->num_queues);
		cprintf(TAG "blk-info: %s: discard max %u sectors x %u segments, alignment %u; "
			    "write-zeroes max %u sectors x %u segments, may_unmap %u\n",
			disk_name(b), b->max_discard_sectors, b->max_discard_seg, b->discard_sector_alignment,
			b->max_write_zeroes_sectors, b->max_write_zeroes_seg, b->write_zeroes_may_unmap);
		vdev_write32(&b->dev, VIRTIO_MMIO_QUEUE_SEL, 0);
		qmax = vdev_read32(&b->dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
		cprintf(TAG "blk-info: %s: QueueNumMax %u, queue in use %u\n", disk_name(b), qmax,
			b->dev.vq[0].size);
	}
	pass();
}

/* ---- blk-rw, blk-verify, blk-flush ---- */

void blk_rw(void)
{
	struct blk *b = open_disk();
	uint64_t start, n, seed = param_u64("bulkhead.seed", 1), sum;

	uint64_t passes = param_u64("bulkhead.passes", 1);
	/* bulkhead.seconds=N: more passes until N seconds have gone by */
	uint64_t until = rdtsc() + us_to_tsc(param_u64("bulkhead.seconds", 0) * 1000000);

	range_param(b, &start, &n);
	if (blk_has(b, VIRTIO_BLK_F_RO))
		fail("%s is read-only", disk_name(b));
	for (uint64_t p = 0; p < passes || rdtsc() < until; p++, seed++) {
		sum = write_pattern(b, start, n, seed);
		cprintf(TAG "blk-rw: wrote %lu sectors at %lu seed %lu checksum 0x%016lx\n", n, start, seed,
			sum);
		read_pattern(b, start, n, seed, NULL);
		cprintf(TAG "blk-rw: read back %lu sectors: match\n", n);
	}
	pass();
}

void blk_verify(void)
{
	struct blk *b = open_disk();
	uint64_t start, n, seed = param_u64("bulkhead.seed", 1);

	range_param(b, &start, &n);
	read_pattern(b, start, n, seed, NULL);
	cprintf(TAG "blk-verify: %lu sectors at %lu hold the pattern of seed %lu\n", n, start, seed);
	pass();
}

void blk_flush(void)
{
	struct blk *b = open_disk();
	uint64_t start, n, seed = param_u64("bulkhead.seed", 1), sum;
	struct blk_slot *s;
	const char *why = "";
	int st;

	range_param(b, &start, &n);
	if (!blk_has(b, VIRTIO_BLK_F_FLUSH))
		fail("%s does not offer VIRTIO_BLK_F_FLUSH", disk_name(b));
	sum = write_pattern(b, start, n, seed);
	cprintf(TAG "blk-flush: wrote %lu sectors at %lu seed %lu checksum 0x%016lx\n", n, start, seed, sum);
	s = blk_slot_get(b);
	s->type = VIRTIO_BLK_T_FLUSH;
	s->sector = 0;
	s->nseg = 0;
	s->len = 0;
	st = blk_sync(b, s, &why);
	if (st < 0)
		fail("FLUSH: %s", why);
	if (st != VIRTIO_BLK_S_OK)
		fail("FLUSH: status %d (%s)", st, status_name(st));
	cprintf(TAG "blk-flush: flushed\n");
	cprintf(TAG "blk-flush: halting; the host stops the VM and checks the image\n");
	cpu_stop();
}

/* ---- blk-id ---- */

void blk_id(void)
{
	struct blk *b = open_disk();
	struct blk_slot *s = blk_slot_get(b);
	const char *why = "", *want;
	char id[VIRTIO_BLK_ID_BYTES + 1];
	size_t wlen, len;
	int st;

	s->type = VIRTIO_BLK_T_GET_ID;
	s->sector = 0;
	s->nseg = 1;
	s->len = VIRTIO_BLK_ID_BYTES;
	s->seg[0] = s->buf;
	s->seg_len[0] = VIRTIO_BLK_ID_BYTES;
	memset(s->buf, 0xa5, VIRTIO_BLK_ID_BYTES);
	st = blk_sync(b, s, &why);
	if (st < 0)
		fail("GET_ID: %s", why);
	want = param_get("bulkhead.serial", &wlen);
	if (st != VIRTIO_BLK_S_OK) {
		cprintf(TAG "blk-id: %s: GET_ID status %d (%s)\n", disk_name(b), st, status_name(st));
		if (want)
			fail("GET_ID status %d (%s)", st, status_name(st));
		pass();
	}
	memcpy(id, s->buf, VIRTIO_BLK_ID_BYTES);
	id[VIRTIO_BLK_ID_BYTES] = '\0';
	len = strnlen(id, VIRTIO_BLK_ID_BYTES);
	for (size_t i = 0; i < len; i++)
		if (id[i] < 0x20 || id[i] > 0x7e)
			id[i] = '?';
	cprintf(TAG "blk-id: %s: \"%s\" (%zu bytes, used len %u)\n", disk_name(b), id, len, s->used_len);
	if (want) {
		char w[VIRTIO_BLK_ID_BYTES + 1];

		if (wlen > VIRTIO_BLK_ID_BYTES)
			wlen = VIRTIO_BLK_ID_BYTES;
		memcpy(w, want, wlen);
		w[wlen] = '\0';
		if (len != wlen || memcmp(s->buf, want, wlen))
			fail("GET_ID gave \"%s\", want \"%s\"", id, w);
		cprintf(TAG "blk-id: matches bulkhead.serial\n");
	}
	pass();
}

/* ---- blk-discard ---- */

/* dwz_range: DISCARD or WRITE_ZEROES of [lo, hi), split into at least two segments (when the
 * device takes two per request; else two requests) within the device's limits. */
static void dwz_range(struct blk *b, uint32_t type, uint64_t lo, uint64_t hi, uint32_t max_sectors,
		      uint32_t max_seg, int unmap_second)
{
	uint64_t half = (hi - lo) / 2, g = b->lbs / SECTOR, at = lo;
	unsigned int requests = 0, segs = 0;

	if (!max_sectors)
		max_sectors = 0xffffffffu;
	if (!max_seg)
		max_seg = 1;
	if (max_seg > BLK_SLOT_BYTES / sizeof(struct blk_dwz))
		max_seg = BLK_SLOT_BYTES / sizeof(struct blk_dwz);
	half = half / g * g;
	if (!half)
		half = hi - lo;
	while (at < hi) {
		struct blk_slot *s = blk_slot_get(b);
		struct blk_dwz *d = (struct blk_dwz *)s->buf;
		const char *why = "";
		unsigned int k = 0;
		int st;

		while (at < hi && k < max_seg) {
			uint64_t cnt = hi - at;

			if (at < lo + half && cnt > lo + half - at)
				cnt = lo + half - at; /* the first half is its own segment */
			if (cnt > max_sectors)
				cnt = max_sectors / g * g;
			d[k].sector = at;
			d[k].num_sectors = (uint32_t)cnt;
			d[k].flags = unmap_second && at >= lo + half ? VIRTIO_BLK_WZ_UNMAP : 0;
			at += cnt;
			k++;
		}
		s->type = type;
		s->sector = 0;
		s->nseg = 1;
		s->len = (uint32_t)(k * sizeof(*d));
		s->seg[0] = s->buf;
		s->seg_len[0] = s->len;
		st = blk_sync(b, s, &why);
		if (st < 0)
			fail("%s: %s", type_name(type), why);
		if (st != VIRTIO_BLK_S_OK)
			fail("%s of %u segments from sector %lu: status %d (%s)", type_name(type), k, d[0].sector,
			     st, status_name(st));
		blk_slot_put(b, s);
		requests++;
		segs += k;
	}
	cprintf(TAG "blk-discard: %s sectors [%lu, %lu): %u requests, %u segments\n", type_name(type), lo, hi,
		requests, segs);
}

void blk_discard(void)
{
	struct blk *b = open_disk();
	uint64_t start, n, seed = param_u64("bulkhead.seed", 1), g, sum;
	int expect_none = param_u64("bulkhead.expect-no-discard", 0) != 0;
	int has_d = blk_has(b, VIRTIO_BLK_F_DISCARD), has_z = blk_has(b, VIRTIO_BLK_F_WRITE_ZEROES);
	struct pat_ctx zero;

	range_param(b, &start, &n);
	cprintf(TAG "blk-discard: DISCARD %s, WRITE_ZEROES %s\n", has_d ? "offered" : "not offered",
		has_z ? "offered" : "not offered");
	if ((!has_d || !has_z) && !expect_none)
		fail("%s does not offer %s", disk_name(b), !has_d ? "VIRTIO_BLK_F_DISCARD" : "VIRTIO_BLK_F_WRITE_ZEROES");
	if (blk_has(b, VIRTIO_BLK_F_RO))
		fail("%s is read-only", disk_name(b));
	/* Ranges on 4 KiB (and block, and discard alignment) boundaries. */
	g = 8;
	if (b->lbs / SECTOR > g)
		g = b->lbs / SECTOR;
	if (has_d && b->discard_sector_alignment > g && b->discard_sector_alignment <= 2048)
		g = b->discard_sector_alignment;
	memset(&zero, 0, sizeof(zero));
	if (has_d) {
		zero.zlo[zero.nzero] = (start + n / 4 + g - 1) / g * g;
		zero.zhi[zero.nzero] = (start + n / 2) / g * g;
		zero.nzero++;
	}
	if (has_z) {
		zero.zlo[zero.nzero] = (start + 5 * n / 8 + g - 1) / g * g;
		zero.zhi[zero.nzero] = (start + 7 * n / 8) / g * g;
		zero.nzero++;
	}
	for (unsigned int i = 0; i < zero.nzero; i++)
		if (zero.zhi[i] <= zero.zlo[i])
			fail("bulkhead.sectors=%lu is too small for %lu-sector aligned ranges", n, g);
	sum = write_pattern(b, start, n, seed);
	cprintf(TAG "blk-discard: wrote %lu sectors at %lu seed %lu checksum 0x%016lx\n", n, start, seed, sum);
	if (has_d)
		dwz_range(b, VIRTIO_BLK_T_DISCARD, zero.zlo[0], zero.zhi[0], b->max_discard_sectors,
			  b->max_discard_seg, 0);
	if (has_z)
		dwz_range(b, VIRTIO_BLK_T_WRITE_ZEROES, zero.zlo[zero.nzero - 1], zero.zhi[zero.nzero - 1],
			  b->max_write_zeroes_sectors, b->max_write_zeroes_seg, b->write_zeroes_may_unmap);
	read_pattern(b, start, n, seed, &zero);
	cprintf(TAG "blk-discard: read back: %u ranges read as zeros, the rest keeps the pattern\n", zero.nzero);
	pass();
}

/* ---- blk-ro ---- */

void blk_ro(void)
{
	struct blk *b = open_disk();
	struct blk_slot *s = blk_slot_get(b), *w = blk_slot_get(b);
	uint64_t h1, h2;
	const char *why = "";
	int st;

	if (!blk_offers(b, VIRTIO_BLK_F_RO))
		fail("%s does not offer VIRTIO_BLK_F_RO", disk_name(b));
	cprintf(TAG "blk-ro: %s offers VIRTIO_BLK_F_RO\n", disk_name(b));
	s->type = VIRTIO_BLK_T_IN;
	s->sector = 0;
	blk_slot_layout(b, s, 4096 < b->max_req_bytes ? 4096 : b->max_req_bytes, 1, NULL);
	st = blk_sync(b, s, &why);
	if (st != VIRTIO_BLK_S_OK)
		fail("IN of sector 0: %s", st < 0 ? why : status_name(st));
	h1 = blk_slot_fnv(s, FNV1A_INIT);
	cprintf(TAG "blk-ro: read %u bytes at sector 0: OK (checksum 0x%016lx)\n", s->len, h1);
	w->type = VIRTIO_BLK_T_OUT;
	w->sector = 0;
	blk_slot_layout(b, w, s->len, 1, NULL);
	blk_slot_fill(w, param_u64("bulkhead.seed", 1) ^ 0xdead);
	st = blk_sync(b, w, &why);
	if (st < 0)
		fail("OUT of sector 0: %s", why);
	cprintf(TAG "blk-ro: OUT of %u bytes at sector 0: status %d (%s)\n", w->len, st, status_name(st));
	if (st == VIRTIO_BLK_S_OK)
		fail("a write to a read-only disk succeeded");
	st = blk_sync(b, s, &why);
	if (st != VIRTIO_BLK_S_OK)
		fail("IN of sector 0 after the write: %s", st < 0 ? why : status_name(st));
	h2 = blk_slot_fnv(s, FNV1A_INIT);
	if (h1 != h2)
		fail("sector 0 changed after a refused write (checksum 0x%016lx, was 0x%016lx)", h2, h1);
	cprintf(TAG "blk-ro: sector 0 unchanged\n");
	pass();
}

/* ---- blk-two ---- */

void blk_two(void)
{
	struct blk *b[2];
	struct pat_ctx c[2];
	struct blk_job j[2];
	uint64_t start, n, seed[2], t;
	unsigned int i;

	if (blk_count() < 2)
		fail("blk-two needs two disks; %u found", blk_count());
	b[0] = open_disk_n(0);
	b[1] = open_disk_n(1);
	seed[0] = param_u64("bulkhead.seed", 1);
	seed[1] = param_u64("bulkhead.seed2", seed[0] + 1);
	range_param(b[0], &start, &n);
	range_param(b[1], &start, &n);
	for (i = 0; i < 2; i++) {
		ctx_init(&c[i], VIRTIO_BLK_T_OUT, start, n, seed[i]);
		job_init(&j[i], b[i], &c[i], depth_param(b[i]));
	}
	t = run_jobs(j, 2);
	for (i = 0; i < 2; i++) {
		report_pass("write", b[i], &j[i], t);
		cprintf(TAG "blk-two: %s wrote %lu sectors at %lu seed %lu checksum 0x%016lx\n", disk_name(b[i]), n,
			start, seed[i], c[i].fnv);
	}
	for (i = 0; i < 2; i++) {
		ctx_init(&c[i], VIRTIO_BLK_T_IN, start, n, seed[i]);
		job_init(&j[i], b[i], &c[i], depth_param(b[i]));
	}
	t = run_jobs(j, 2);
	for (i = 0; i < 2; i++) {
		report_pass("read", b[i], &j[i], t);
		cprintf(TAG "blk-two: %s read back %lu sectors: match\n", disk_name(b[i]), n);
	}
	pass();
}

/* ---- blk-gaps ---- */

#define GAPS_MAX 64

/* Keep the count longest of the gaps seen in top[], longest first. */
static void keep_longest(uint64_t *top, unsigned int count, uint64_t gap)
{
	unsigned int i = count;

	if (gap <= top[count - 1])
		return;
	while (i > 0 && top[i - 1] < gap) {
		if (i < count)
			top[i] = top[i - 1];
		i--;
	}
	top[i] = gap;
}

/*
 * One 4 KiB read at a time for bulkhead.seconds (2), and the bulkhead.gaps (5)
 * longest times from one completion to the next: with the device process killed
 * that many times during the run (--on-device-failure restart), each is the time
 * from a kill to the next completed request, plus at most one request's own time.
 */
void blk_gaps(void)
{
	struct blk *b = open_disk();
	struct blk_slot *s = blk_slot_get(b);
	uint64_t count = param_u64("bulkhead.gaps", 5), seconds = param_u64("bulkhead.seconds", 2);
	uint64_t top[GAPS_MAX] = { 0 }, until, last, now, n = 0;
	const char *why = "";
	char line[GAPS_MAX * 12];
	size_t len = 0;
	int st;

	if (!count || count > GAPS_MAX)
		fail("bulkhead.gaps=%lu is not in 1..%u", count, GAPS_MAX);
	if (b->capacity < 8)
		fail("%s has %lu sectors, fewer than 8", disk_name(b), b->capacity);
	until = rdtsc() + us_to_tsc(seconds * 1000000);
	last = rdtsc();
	while (last < until) {
		s->type = VIRTIO_BLK_T_IN;
		s->sector = (n * 8) % (b->capacity - 7);
		s->nseg = 1;
		s->len = 4096;
		s->seg[0] = s->buf;
		s->seg_len[0] = 4096;
		st = blk_sync(b, s, &why);
		if (st != VIRTIO_BLK_S_OK)
			fail("read %lu: %s", n, st < 0 ? why : status_name(st));
		now = rdtsc();
		keep_longest(top, (unsigned int)count, now - last);
		last = now;
		n++;
	}
	for (unsigned int i = 0; i < count && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %lu", tsc_to_us(top[i]));
	cprintf(TAG "blk-gaps: %lu reads of 4 KiB; longest gaps (us):%s\n", n, line);
	pass();
}

/* ---- blk-bench ---- */

struct rand_ctx {
	uint64_t left, blocks, rng;
};

static int rand_prep(struct blk_job *j, struct blk_slot *s)
{
	struct rand_ctx *c = j->ctx;

	if (!c->left)
		return 0;
	c->left--;
	s->type = VIRTIO_BLK_T_IN;
	s->sector = rng64(&c->rng) % c->blocks * 8;
	s->nseg = 1;
	s->len = 4096;
	s->seg[0] = s->buf;
	s->seg_len[0] = 4096;
	return 1;
}

static int rand_done(struct blk_job *j, struct blk_slot *s)
{
	if (s->result != VIRTIO_BLK_S_OK) {
		snprintf(j->why, sizeof(j->why), "random read at sector %lu: status %u (%s)", s->sector, s->result,
			 status_name(s->result));
		return -1;
	}
	return 0;
}

static uint64_t bench_seq(struct blk *b, uint32_t type, uint64_t sectors, uint32_t req, unsigned int qd)
{
	struct pat_ctx c;
	struct blk_job j;
	uint64_t t;

	ctx_init(&c, type, 0, sectors, 1);
	c.mixed = 0;
	c.nodata = 1;
	c.req_bytes = req;
	job_init(&j, b, &c, qd);
	t = run_jobs(&j, 1);
	return t;
}

static uint64_t bench_rand(struct blk *b, uint64_t sectors, uint64_t ios, unsigned int qd)
{
	struct rand_ctx c = { .left = ios, .blocks = sectors / 8, .rng = 0x1234567 + qd };
	struct blk_job j;

	memset(&j, 0, sizeof(j));
	j.b = b;
	j.depth = qd;
	j.prep = rand_prep;
	j.done = rand_done;
	j.ctx = &c;
	return run_jobs(&j, 1);
}

void blk_bench(void)
{
	struct blk *b = open_disk();
	uint64_t mib = param_u64("bulkhead.mib", 0), ios = param_u64("bulkhead.ios", 20000);
	uint64_t sectors, bytes, t, us;
	unsigned int qd = (unsigned int)param_u64("bulkhead.qd", 16);
	uint32_t req = BLK_SLOT_BYTES;
	char rate[32];

	if (blk_has(b, VIRTIO_BLK_F_RO))
		fail("%s is read-only", disk_name(b));
	if (!mib) {
		if (b->capacity < MiB(512) / SECTOR)
			fail("%s has %lu MiB; blk-bench needs 512 MiB or more (or bulkhead.mib=N)", disk_name(b),
			     b->capacity >> 11);
		sectors = b->capacity;
	} else {
		sectors = mib * (MiB(1) / SECTOR);
		if (sectors > b->capacity)
			fail("bulkhead.mib=%lu is more than the disk's %lu MiB", mib, b->capacity >> 11);
	}
	sectors &= ~7ull;
	if (sectors < 8 || !ios)
		fail("nothing to do");
	if (req > b->max_req_bytes)
		req = b->max_req_bytes;
	if (qd > b->nslots)
		qd = b->nslots;
	bytes = sectors * SECTOR;
	cprintf(TAG "blk-bench: %lu MiB in %u KiB requests at queue depth %u; %lu random 4 KiB reads\n",
		bytes >> 20, req >> 10, qd, ios);

	t = bench_seq(b, VIRTIO_BLK_T_OUT, sectors, req, qd);
	fmt_rate(rate, sizeof(rate), bytes, t);
	cprintf(TAG "blk-bench: seq-write MB/s %s (%lu us)\n", rate, tsc_to_us(t));
	t = bench_seq(b, VIRTIO_BLK_T_IN, sectors, req, qd);
	fmt_rate(rate, sizeof(rate), bytes, t);
	cprintf(TAG "blk-bench: seq-read MB/s %s (%lu us)\n", rate, tsc_to_us(t));

	t = bench_rand(b, sectors, ios, 1);
	us = tsc_to_us(t) ? tsc_to_us(t) : 1;
	cprintf(TAG "blk-bench: randread-qd1 IOPS %lu lat-us %lu.%lu (%lu us)\n", ios * 1000000 / us, us / ios,
		us * 10 / ios % 10, us);
	qd = 32 < b->nslots ? 32 : b->nslots;
	t = bench_rand(b, sectors, ios, qd);
	us = tsc_to_us(t) ? tsc_to_us(t) : 1;
	cprintf(TAG "blk-bench: randread-qd%u IOPS %lu (%lu us)\n", qd, ios * 1000000 / us, us);
	pass();
}

/*
 * ioapic-hostile: the IOAPIC's registers as a hostile guest drives them, then
 * a disk that completes by interrupt. Every register gets all ones (which
 * leaves a redirection entry masked) and its read-only bits must read 0;
 * narrow and unaligned accesses, and the disk's pin churned through masked,
 * ExtINT, reserved and nowhere-bound entries while the disk is idle. The VMM
 * must survive all of it, and once the pin is routed properly the disk's
 * writes and reads must complete by interrupt. Its verdict is the same under
 * KVM's in-kernel IOAPIC and bulkhead's own (--irqchip split).
 */
#define RTE_RO_BITS ((1u << 12) | (1u << 14)) /* delivery status, remote IRR */
#define RTE_MASKED 0x10000u

static void ioapic_garbage(void)
{
	volatile uint8_t *win = phys(IOAPIC_BASE);
	uint32_t id = ioapic_read(0), ver = ioapic_read(1), v;

	if ((ver & 0xff) != 0x11 || ((ver >> 16) & 0xff) != 23)
		fail("IOAPIC version register 0x%x: want 0x11 with 24 pins", ver);
	for (uint32_t reg = 1; reg < 256; reg++) {
		int rte_low = reg >= 0x10 && reg < 0x40 && !(reg & 1);

		ioapic_write(reg, 0xffffffffu);
		v = ioapic_read(reg);
		if (rte_low && ((v & RTE_RO_BITS) || !(v & RTE_MASKED)))
			fail("IOAPIC register 0x%x reads 0x%x after all ones", reg, v);
		if (reg == 1 && v != ver)
			fail("IOAPIC version register took a write: 0x%x", v);
		ioapic_write(reg, rte_low ? RTE_MASKED : 0);
	}
	ioapic_write(0, 0xffffffffu);
	ioapic_write(0, id);
	/* Narrow, wide and odd accesses, with the read-only version register selected. */
	win[0x00] = 1;
	v = win[0x10];
	if (v != (ver & 0xff) || *(volatile uint16_t *)(win + 0x10) != (ver & 0xffff))
		fail("IOAPIC version register read narrow: 0x%x, want 0x%x", v, ver & 0xff);
	(void)win[0x11];
	(void)*(volatile uint16_t *)(win + 0x12);
	*(volatile uint8_t *)(win + 0x10) = 0x55;
	*(volatile uint16_t *)(win + 0x12) = 0x5555;
	for (unsigned int off = 0x04; off < 0x100; off += 4)
		if (off != 0x10)
			*(volatile uint32_t *)(win + off) = 0xffffffffu;
	(void)*(volatile uint64_t *)(win + 0x10);
	if (ioapic_read(1) != ver)
		fail("IOAPIC version register changed: 0x%x", ioapic_read(1));
}

/* The disk's pin through entries that deliver nothing, or deliver to nobody. */
static unsigned int ioapic_churn(unsigned int gsi)
{
	static const uint32_t low[] = {
		0x30 | RTE_MASKED,
		0x30 | 7u << 8, /* ExtINT: there is no PIC */
		0x30 | 3u << 8, /* reserved */
		0x30 | 6u << 8, /* reserved */
		0x30 | RTE_MASKED | 1u << 15, /* level, masked */
		0x31 | 1u << 8 | 1u << 11, /* lowest priority, logical, to no CPU (dest 0) */
		0x32 | 1u << 11, /* fixed, logical, to no CPU */
	};
	unsigned int n = 0;

	ioapic_write(0x10 + 2 * gsi + 1, 0);
	for (unsigned int i = 0; i < 2000; i++, n++)
		ioapic_write(0x10 + 2 * gsi, low[i % nitems(low)]);
	ioapic_mask(gsi);
	return n;
}

void ioapic_hostile(void)
{
	struct blk_opts o;
	struct blk *b;
	uint64_t n = 256;
	uint32_t before;
	unsigned int churned;

	blk_opts_from_cmdline(&o);
	o.irq = 1;
	b = blk_open((unsigned int)param_u64("bulkhead.disk", 0), &o);
	if (!b->dev.irq_mode)
		fail("%s: no interrupt line", disk_name(b));
	ioapic_garbage();
	churned = ioapic_churn(b->dev.gsi);
	cprintf(TAG "ioapic-hostile: 256 registers written with all ones, odd accesses, "
		"%u entries on GSI %u\n", churned, b->dev.gsi);
	vdev_irq_setup(&b->dev);
	before = irq_count[VEC_IRQ_BASE + b->dev.gsi];
	write_pattern(b, 0, n, 7);
	read_pattern(b, 0, n, 7, NULL);
	if (irq_count[VEC_IRQ_BASE + b->dev.gsi] == before)
		fail("%s: the disk's requests completed without an interrupt", disk_name(b));
	cprintf(TAG "ioapic-hostile: %u interrupts on GSI %u after\n",
		irq_count[VEC_IRQ_BASE + b->dev.gsi] - before, b->dev.gsi);
	pass();
}
