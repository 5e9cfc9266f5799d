/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-rng driver (device id 4, one request queue), in ring 3 and
 * polling, and its scenarios:
 *
 *  rng-read     reads bulkhead.bytes (65536) bytes in requests of
 *               bulkhead.chunk (4096) bytes, times it, and judges them: not
 *               constant, a byte histogram whose chi-square (255 degrees of
 *               freedom) is below 400, and a compressor's view: the share of
 *               bytes a 4-byte match of earlier data (what LZ77 would replace)
 *               covers is below 1%. With bulkhead.max-rate=R it also checks
 *               that no more came than a bucket of R bytes refilled at R
 *               bytes a second allows (10% slack on the time). bulkhead.warm=1
 *               reads once untimed first (the device's first touch of a page
 *               of guest memory is not what a benchmark wants to time).
 *  rng-hostile  the suite below; each case then resets the device, sets it up
 *               again and reads 64 bytes.
 */
#include "virtio.h"

#define TAG GUEST_TAG "rng-"
#define RNG_QSIZE 64
#define OUTCOME_US 1000000
#define NOWHERE (1ull << 40) /* 1 TiB: no RAM there */
#define HUGE_LEN MiB(8)
#define POISON 0xa5

static struct {
	struct vdev dev;
	int open;
	uint8_t *buf; /* HUGE_LEN bytes */
	char note[160];
} R;

static void rng_open(void)
{
	const char *why = "";

	if (!R.open) {
		unsigned int i;

		for (i = 0; i < boot.ndev; i++) {
			if (phys_mapped(boot.dev[i].base, 0x100) &&
			    vdev_probe(&R.dev, boot.dev[i].base, boot.dev[i].gsi) == 0 &&
			    R.dev.device_id == VIRTIO_ID_RNG)
				break;
		}
		if (i == boot.ndev)
			fail("no virtio-rng device among %u virtio-mmio devices", boot.ndev);
		R.buf = phys_alloc(HUGE_LEN, 4096);
		if (!R.buf)
			fail("out of guest memory for the rng buffers");
		R.open = 1;
	}
	if (vdev_negotiate(&R.dev, VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX), &why) ||
	    vq_setup(&R.dev, 0, RNG_QSIZE, 0, &why))
		fail("rng setup: %s", why);
	vdev_driver_ok(&R.dev);
}

static struct vq *rq(void)
{
	return &R.dev.vq[0];
}

/* One request of len bytes at buf (writable); its used length, or -1 on a timeout. */
static int64_t rng_request(void *buf, uint32_t len, uint64_t timeout_us)
{
	struct vq_buf b = { (uint64_t)(uintptr_t)buf, len, 1 };
	uint64_t end = rdtsc() + us_to_tsc(timeout_us);
	uint32_t got;
	uint16_t head;
	void *cookie;

	if (vq_add(rq(), &b, 1, buf) < 0)
		fail("rng: the queue is full");
	vq_kick(&R.dev, rq());
	for (;;) {
		int r = vq_get(rq(), &cookie, &got, &head);

		if (r < 0)
			fail("rng: the device returned id %u, not in flight", head);
		if (r > 0)
			return got;
		if (rdtsc() > end)
			return -1;
		cpu_relax();
	}
}

/* ---- judging random bytes ---- */

static uint32_t counts[256];

/* The byte histogram of p[0..n) into counts; how many values occur. */
static unsigned int histogram(const uint8_t *p, uint64_t n)
{
	unsigned int distinct = 0;

	memset(counts, 0, sizeof(counts));
	for (uint64_t k = 0; k < n; k++)
		counts[p[k]]++;
	for (unsigned int i = 0; i < 256; i++)
		distinct += counts[i] > 0;
	return distinct;
}

/* Chi-square of the histogram against the uniform one, times 100 (no floating point). */
static uint64_t chi2_x100(uint64_t n)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < 256; i++) {
		int64_t d = (int64_t)counts[i] * 256 - (int64_t)n;

		sum += (uint64_t)(d * d);
	}
	/* sum((c - n/256)^2 / (n/256)) = sum((256c - n)^2) / (256 n) */
	return n ? sum * 100 / (256 * n) : 0;
}

/*
 * What a compressor would find: bytes covered by a match of at least 4 bytes
 * with earlier data, found through a hash of 4-byte strings (as LZ77 finds
 * them). Random data has almost none; anything with structure has plenty.
 */
static uint64_t lz_covered(const uint8_t *p, uint64_t n)
{
	static uint32_t table[1 << 16];
	uint64_t covered = 0, i = 0;

	memset(table, 0xff, sizeof(table));
	while (i + 4 <= n) {
		uint32_t w = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
			     (uint32_t)p[i + 3] << 24;
		uint32_t h = (w * 2654435761u) >> 16, prev = table[h];

		table[h] = (uint32_t)i;
		if (prev != 0xffffffffu && memcmp(p + prev, p + i, 4) == 0) {
			uint64_t len = 4;

			while (i + len < n && p[prev + len] == p[i + len])
				len++;
			covered += len;
			i += len;
			continue;
		}
		i++;
	}
	return covered;
}

/* Fill R.buf[0..total) with requests of chunk bytes; the number of requests. */
static unsigned int read_all(uint64_t total, uint64_t chunk, uint64_t timeout)
{
	unsigned int requests = 0;
	uint64_t got = 0;

	while (got < total) {
		uint32_t want = (uint32_t)(total - got < chunk ? total - got : chunk);
		int64_t n = rng_request(R.buf + got, want, timeout);

		if (n < 0)
			fail("no answer to a %u-byte request within %lu ms (%lu bytes so far)", want, timeout / 1000,
			     got);
		if (n == 0 || n > want)
			fail("a %u-byte request got %ld bytes", want, n);
		got += (uint64_t)n;
		requests++;
	}
	return requests;
}

void rng_read(void)
{
	uint64_t total = param_u64("bulkhead.bytes", 65536), chunk = param_u64("bulkhead.chunk", 4096);
	uint64_t max_rate = param_u64("bulkhead.max-rate", 0), t0, us, chi, lz;
	uint64_t timeout = param_u64("bulkhead.timeout-ms", 20000) * 1000;
	unsigned int requests, distinct;

	rng_open();
	if (total > HUGE_LEN || total == 0 || chunk == 0 || chunk > total)
		fail("bulkhead.bytes=%lu must be 1..%lu and bulkhead.chunk=%lu 1..bytes", total, HUGE_LEN, chunk);
	memset(R.buf, 0, total);
	/* bulkhead.warm=1: an untimed pass first, so that the timed one measures the device,
	 * not its first touch of each guest page */
	if (param_u64("bulkhead.warm", 0))
		(void)read_all(total, chunk, timeout);
	t0 = rdtsc();
	requests = read_all(total, chunk, timeout);
	us = tsc_to_us(rdtsc() - t0);
	distinct = histogram(R.buf, total);
	chi = chi2_x100(total);
	lz = lz_covered(R.buf, total);
	cprintf(TAG "read: %lu bytes in %u requests, %lu us, bytes/s %lu\n", total, requests, us,
		us ? total * 1000000 / us : 0);
	cprintf(TAG "read: %u distinct byte values, chi-square %lu.%02lu (255 expected), "
		    "4-byte matches cover %lu bytes\n",
		distinct, chi / 100, chi % 100, lz);
	if (chi >= 40000)
		fail("the bytes are not uniform: chi-square %lu", chi / 100);
	if (lz * 100 >= total)
		fail("the bytes compress: matches cover %lu of %lu", lz, total);
	if (max_rate && total > max_rate + max_rate * us / 1000000 * 11 / 10 + 64)
		fail("%lu bytes in %lu us: more than rate %lu allows", total, us, max_rate);
	pass();
}

/* ---- rng-hostile ---- */

enum {
	O_NONE = 0,
	O_NEEDS_RESET = 1 << 0,
	O_EMPTY = 1 << 1, /* used with 0 bytes, nothing written */
	O_FILLED = 1 << 2, /* used with bytes in the writable part only */
	O_WRONG = 1 << 3, /* something the device must not do */
};

struct rcase {
	const char *name, *what;
	unsigned int (*run)(void);
	unsigned int accept;
};

static void setd(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vq_desc *d = &rq()->desc[i];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Make head available (raw: the driver's own bookkeeping is bypassed) and notify. */
static void post_raw(uint16_t head, uint16_t idx_after)
{
	rq()->avail[2 + (rq()->avail_idx & (rq()->size - 1))] = head;
	rq()->avail_idx = idx_after;
	vq_publish(rq());
	mb();
	vdev_write32(&R.dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static int needs_reset(void)
{
	uint32_t st = vdev_status(&R.dev), isr;

	if (!(st & VIRTIO_NEEDS_RESET))
		return 0;
	isr = vdev_read32(&R.dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	snprintf(R.note, sizeof(R.note), "Status 0x%x, InterruptStatus 0x%x", st, isr);
	return isr & VIRTIO_INT_CONFIG ? 1 : -1;
}

/* The answer to a chain at desc 0: its used length (*len), NEEDS_RESET, or nothing. */
static unsigned int outcome(uint32_t *len)
{
	uint64_t end = rdtsc() + us_to_tsc(OUTCOME_US);

	for (;;) {
		int nr = needs_reset();

		if (nr)
			return nr > 0 ? O_NEEDS_RESET : O_WRONG;
		if (vq_used_idx(rq()) != 0) {
			struct vq_used_elem *e = vq_used_elem(rq(), 0);

			*len = e->len;
			snprintf(R.note, sizeof(R.note), "used (id %u, len %u)", e->id, e->len);
			return e->id == 0 ? O_FILLED : O_WRONG;
		}
		if (rdtsc() > end) {
			snprintf(R.note, sizeof(R.note), "no answer within %u ms (Status 0x%x)",
				 OUTCOME_US / 1000, vdev_status(&R.dev));
			return O_NONE;
		}
		cpu_relax();
	}
}

static int all_poison(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] != POISON)
			return 0;
	return 1;
}

/* One chain of single buffers; the outcome, with O_EMPTY for a 0-byte completion that
 * wrote nothing, O_WRONG if a readable byte changed or more came than was writable. */
static unsigned int one_chain(const struct vq_buf *b, unsigned int n)
{
	uint64_t writable = 0;
	uint32_t len = 0;
	unsigned int o;

	for (unsigned int i = 0; i < n; i++) {
		if (phys_is_ram(b[i].addr, b[i].len))
			memset(phys(b[i].addr), POISON, b[i].len);
		writable += b[i].write ? b[i].len : 0;
		setd(i, b[i].addr, b[i].len, (uint16_t)((b[i].write ? VQ_DESC_F_WRITE : 0) |
						       (i + 1 < n ? VQ_DESC_F_NEXT : 0)), (uint16_t)(i + 1));
	}
	post_raw(0, 1);
	o = outcome(&len);
	if (o != O_FILLED)
		return o;
	for (unsigned int i = 0; i < n; i++) {
		if (!b[i].write && phys_is_ram(b[i].addr, b[i].len) && !all_poison(phys(b[i].addr), b[i].len)) {
			snprintf(R.note, sizeof(R.note), "a device-readable buffer was written");
			return O_WRONG;
		}
	}
	if (len > writable) {
		snprintf(R.note, sizeof(R.note), "used length %u, only %lu bytes writable", len, writable);
		return O_WRONG;
	}
	return len ? O_FILLED : O_EMPTY;
}

static uint64_t ram_end(void)
{
	uint64_t end = 0;

	for (unsigned int i = 0; i < boot.nmem; i++)
		if (boot.mem[i].type == 1 && boot.mem[i].addr + boot.mem[i].size > end)
			end = boot.mem[i].addr + boot.mem[i].size;
	return end;
}

static uint64_t at(uint64_t off)
{
	return (uint64_t)(uintptr_t)R.buf + off;
}

static unsigned int c_read_only(void)
{
	const struct vq_buf b = { at(0), 64, 0 };

	return one_chain(&b, 1);
}

static unsigned int c_read_then_write(void)
{
	const struct vq_buf b[2] = { { at(0), 64, 0 }, { at(4096), 64, 1 } };

	return one_chain(b, 2);
}

static unsigned int c_zero_length(void)
{
	const struct vq_buf b = { at(0), 0, 1 };

	return one_chain(&b, 1);
}

static unsigned int c_beyond_ram(void)
{
	const struct vq_buf b = { NOWHERE, 64, 1 };

	return one_chain(&b, 1);
}

static unsigned int c_straddles_end(void)
{
	const struct vq_buf b = { ram_end() - 32, 64, 1 };

	return one_chain(&b, 1);
}

/* A huge buffer: some of it filled (the device may use less), nothing beyond what it says. */
static unsigned int c_huge(void)
{
	const struct vq_buf b = { at(0), (uint32_t)HUGE_LEN, 1 };
	uint32_t len = 0;
	unsigned int o;

	memset(R.buf, POISON, HUGE_LEN);
	setd(0, b.addr, b.len, VQ_DESC_F_WRITE, 0);
	post_raw(0, 1);
	o = outcome(&len);
	if (o != O_FILLED)
		return o;
	if (len == 0 || len > HUGE_LEN || !all_poison(R.buf + len, HUGE_LEN - len)) {
		snprintf(R.note, sizeof(R.note), "used length %u, or bytes written beyond it", len);
		return O_WRONG;
	}
	snprintf(R.note, sizeof(R.note), "%u of %lu bytes", len, HUGE_LEN);
	return O_FILLED;
}

static unsigned int c_loop(void)
{
	setd(0, at(0), 64, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 1);
	setd(1, at(4096), 64, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 0);
	post_raw(0, 1);
	return outcome(&(uint32_t){ 0 });
}

static unsigned int c_avail_jump(void)
{
	for (unsigned int i = 0; i < rq()->size; i++) {
		setd(i, at(64ull * i), 64, VQ_DESC_F_WRITE, 0);
		rq()->avail[2 + i] = (uint16_t)i;
	}
	post_raw(0, (uint16_t)(rq()->size + 1));
	return outcome(&(uint32_t){ 0 });
}

static const struct rcase rcases[] = {
	{ "read-only", "one device-readable buffer", c_read_only, O_EMPTY | O_NEEDS_RESET },
	{ "read-then-write", "a readable buffer, then a writable one", c_read_then_write, O_FILLED },
	{ "zero-length", "a writable descriptor of length 0", c_zero_length, O_EMPTY | O_NEEDS_RESET },
	{ "beyond-ram", "a buffer at 1 TiB", c_beyond_ram, O_EMPTY | O_NEEDS_RESET },
	{ "straddles-ram-end", "a buffer across the end of RAM", c_straddles_end, O_EMPTY | O_NEEDS_RESET },
	{ "huge", "one 8 MiB buffer", c_huge, O_FILLED },
	{ "loop", "descriptors 0 -> 1 -> 0", c_loop, O_NEEDS_RESET },
	{ "avail-idx-jump", "avail idx = queue size + 1", c_avail_jump, O_NEEDS_RESET },
};

static const char *outcome_name(unsigned int o)
{
	return o == O_NEEDS_RESET ? "NEEDS_RESET" : o == O_EMPTY ? "empty" : o == O_FILLED ? "filled"
	       : o == O_WRONG ? "WRONG" : "nothing";
}

void rng_hostile(void)
{
	const char *only = NULL;
	size_t only_len = 0;
	unsigned int passed = 0, failed = 0;

	only = param_get("bulkhead.case", &only_len);
	rng_open();
	for (size_t i = 0; i < nitems(rcases); i++) {
		const struct rcase *c = &rcases[i];
		unsigned int o;
		int64_t n;
		int ok;

		if (only && (strlen(c->name) != only_len || strncmp(c->name, only, only_len)))
			continue;
		rng_open(); /* from reset, with a fresh ring */
		R.note[0] = '\0';
		o = c->run();
		rng_open();
		n = rng_request(R.buf, 64, OUTCOME_US);
		ok = (o & c->accept) && !(o & O_WRONG) && n > 0;
		cprintf(TAG "hostile: %s: %s ... %s (%s) %s%s\n", c->name, c->what, ok ? "ok" : "FAIL",
			outcome_name(o), R.note, n > 0 ? "" : "; and no bytes after a reset");
		if (ok)
			passed++;
		else
			failed++;
	}
	cprintf(TAG "hostile: %u passed, %u failed\n", passed, failed);
	if (failed || !passed)
		fail("rng-hostile: %u of %u cases failed", failed, passed + failed);
	pass();
}

