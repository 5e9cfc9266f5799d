/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devices/rng/rng.c driven as a guest driver drives it (vdriver.h), with a
 * clock and a random source of the test's own: what a request gets and
 * where (device-writable bytes only, at most RNG_MAX_REQUEST), the hostile
 * chains of the test guest's rng scenarios (read-only, zero-length, beyond
 * RAM), the token bucket (full at start, refilled continuously, capped at one
 * second's worth, a request that finds fewer tokens than it wants waits for
 * the time they need and is served when the timer fires), a reset while waiting,
 * and the real getrandom(2) wrapper's bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cmocka.h>

#include "../../common/layout.h"
#include "../../common/log.h"
#include "../../devices/rng/rng.h"
#include "vdriver.h"

#define MEM_SIZE MiB(4)
#define RQ_BASE 0x10000ull
#define BUF 0x100000ull /* the buffers, from here up */

static struct guest_mem g_mem;
static struct rng *R;
static struct vdrv D;
static uint64_t g_now; /* the test's clock, ns */
static uint64_t g_filled; /* bytes fill() made so far: each is (its number & 0xff) | 1 */
static unsigned int g_irqs, g_waits;
static uint64_t g_wait_ns;

static uint64_t fake_now(void)
{
	return g_now;
}

/* Byte n of the stream is (n & 0xff) | 1: never 0 and never the 0xee poison of a read. */
static int counting_fill(void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(((g_filled + i) & 0xff) | 1);
	g_filled += len;
	return 0;
}

static int rec_wait(struct rng *r, uint64_t ns)
{
	(void)r;
	g_waits++;
	g_wait_ns = ns;
	return 0;
}

static void rec_irq(struct virtio_dev *vd)
{
	(void)vd;
	g_irqs++;
}

static int group_setup(void **state)
{
	(void)state;
	log_init("test_rng");
	if (mem_layout(&g_mem, MEM_SIZE) < 0 || mem_create(&g_mem, "rng") < 0 || mem_map(&g_mem) < 0)
		return -1;
	R = calloc(1, sizeof(*R));
	return R ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(R);
	mem_close(&g_mem);
	return 0;
}

/* A device at rate (0: unlimited), set up to DRIVER_OK with a queue of 16. */
static void start(uint64_t rate)
{
	memset(R, 0, sizeof(*R));
	g_now = 1000000000ull;
	g_filled = 0;
	g_irqs = g_waits = 0;
	g_wait_ns = 0;
	R->now = fake_now;
	rng_setup(R, rate, &g_mem);
	R->fill = counting_fill;
	R->wait = rec_wait;
	R->vd.irq = rec_irq;
	D = (struct vdrv){ .vd = &R->vd, .mem = &g_mem };
	assert_true(vdrv_negotiate(&D, 0));
	vdrv_queue(&D, 0, 16, RQ_BASE);
	vdrv_ok(&D);
}

/* One chain of bufs, poisoned with 0xee where it is guest memory; kicked. Its head. */
static uint16_t request(const struct vdrv_buf *bufs, unsigned int n)
{
	uint16_t head;

	for (unsigned int i = 0; i < n; i++) {
		void *p = mem_ptr(&g_mem, bufs[i].gpa, bufs[i].len);

		if (p)
			memset(p, 0xee, bufs[i].len);
	}
	head = vdrv_post(&D, 0, bufs, n);
	virtio_kick(&R->vd, 0);
	return head;
}

static uint16_t request1(uint64_t gpa, uint32_t len, int write)
{
	struct vdrv_buf b = { gpa, len, write };

	return request(&b, 1);
}

/* The next completion must be head with len bytes. */
static void expect_used(uint16_t head, uint32_t len)
{
	uint32_t id, got;

	assert_true(vdrv_used(&D, 0, &id, &got));
	assert_int_equal(id, head);
	assert_int_equal(got, len);
}

static void expect_no_used(void)
{
	uint32_t id, got;

	assert_false(vdrv_used(&D, 0, &id, &got));
}

/* [gpa, gpa + len) holds the counting stream from byte from, or all 0xee (from < 0). */
static void expect_bytes(uint64_t gpa, uint32_t len, int64_t from)
{
	const uint8_t *p = vdrv_gp(&D, gpa, len);

	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(p[i], from < 0 ? 0xee : (uint8_t)((((uint64_t)from + i) & 0xff) | 1));
}

/* ---- identity ---- */

static void test_identity(void **state)
{
	(void)state;
	start(0);
	assert_int_equal(vdrv_rd(&D, VDRV_DEVICE_ID), 4);
	assert_true(vdrv_offered(&D) & VIRTIO_BIT(VIRTIO_F_VERSION_1));
	assert_int_equal(R->vd.ops->nqueues, 1);
	assert_int_equal(R->vd.ops->config_len, 0);
}

/* ---- what a request gets, and where ---- */

static void test_fill_one(void **state)
{
	uint16_t h;

	(void)state;
	start(0);
	h = request1(BUF, 64, 1);
	expect_used(h, 64);
	expect_bytes(BUF, 64, 0);
	assert_int_equal(g_irqs, 1);
}

static void test_fill_segments(void **state)
{
	const struct vdrv_buf b[3] = { { BUF, 10, 1 }, { BUF + 0x1000, 1, 1 }, { BUF + 0x2000, 100, 1 } };
	uint16_t h;

	(void)state;
	start(0);
	h = request(b, 3);
	expect_used(h, 111);
	expect_bytes(BUF, 10, 0);
	expect_bytes(BUF + 0x1000, 1, 10);
	expect_bytes(BUF + 0x2000, 100, 11);
}

/* A device-readable buffer is the driver's: nothing is written there (5.4.6). */
static void test_read_only(void **state)
{
	uint16_t h;

	(void)state;
	start(0);
	h = request1(BUF, 64, 0);
	expect_used(h, 0);
	expect_bytes(BUF, 64, -1);
	assert_int_equal(R->stats.empty, 1);
	assert_false(vdrv_needs_reset(&D));
}

static void test_readable_then_writable(void **state)
{
	const struct vdrv_buf b[2] = { { BUF, 32, 0 }, { BUF + 0x1000, 48, 1 } };
	uint16_t h;

	(void)state;
	start(0);
	h = request(b, 2);
	expect_used(h, 48);
	expect_bytes(BUF, 32, -1);
	expect_bytes(BUF + 0x1000, 48, 0);
}

/* A huge request gets RNG_MAX_REQUEST bytes; the spec lets the device use less. */
static void test_huge_request(void **state)
{
	uint16_t h;

	(void)state;
	start(0);
	h = request1(BUF, 0x200000, 1);
	expect_used(h, RNG_MAX_REQUEST);
	expect_bytes(BUF, RNG_MAX_REQUEST, 0);
	expect_bytes(BUF + RNG_MAX_REQUEST, 0x200000 - RNG_MAX_REQUEST, -1);
}

static void test_many_one_interrupt(void **state)
{
	uint16_t h[8];

	(void)state;
	start(0);
	for (int i = 0; i < 8; i++)
		h[i] = vdrv_post(&D, 0, &(struct vdrv_buf){ BUF + 0x1000ull * i, 16, 1 }, 1);
	virtio_kick(&R->vd, 0);
	for (int i = 0; i < 8; i++)
		expect_used(h[i], 16);
	assert_int_equal(g_irqs, 1);
}

/* ---- hostile chains: the walker's refusals put the device in NEEDS_RESET ---- */

static void test_zero_length(void **state)
{
	(void)state;
	start(0);
	(void)request1(BUF, 0, 1);
	expect_no_used();
	assert_true(vdrv_needs_reset(&D));
	assert_true(vdrv_rd(&D, VDRV_INT_STATUS) & VIRTIO_INT_CONFIG);
	assert_int_equal(g_filled, 0);
}

static void test_beyond_ram(void **state)
{
	(void)state;
	start(0);
	(void)request1(MEM_SIZE - 16, 64, 1);
	expect_no_used();
	assert_true(vdrv_needs_reset(&D));
	start(0);
	(void)request1(1ull << 40, 64, 1);
	assert_true(vdrv_needs_reset(&D));
	assert_int_equal(g_filled, 0);
}

/* After NEEDS_RESET, a reset and a new setup work again. */
static void test_recovers_after_reset(void **state)
{
	uint16_t h;

	(void)state;
	start(0);
	(void)request1(1ull << 40, 64, 1);
	assert_true(vdrv_needs_reset(&D));
	assert_true(vdrv_negotiate(&D, 0));
	vdrv_queue(&D, 0, 16, RQ_BASE);
	vdrv_ok(&D);
	h = request1(BUF, 8, 1);
	expect_used(h, 8);
}

/* ---- the token bucket ---- */

static void test_bucket_starts_full(void **state)
{
	uint16_t h;

	(void)state;
	start(1000);
	h = request1(BUF, 600, 1);
	expect_used(h, 600);
	h = request1(BUF + 0x1000, 400, 1);
	expect_used(h, 400);
	assert_int_equal(g_waits, 0);
	assert_int_equal(R->tokens, 0);
}

/* A request waits for all it wants, not for the first token: few, full requests. */
static void test_short_bucket_waits(void **state)
{
	uint16_t h;

	(void)state;
	start(1000);
	expect_used(request1(BUF, 600, 1), 600);
	h = request1(BUF + 0x1000, 600, 1); /* 400 are there, 600 wanted */
	expect_no_used();
	assert_int_equal(g_waits, 1);
	assert_int_equal(g_wait_ns, 200000000ull);
	g_now += 200000000ull;
	rng_timer(R);
	expect_used(h, 600);
	/* wanting more than a second's worth waits for a second's worth */
	h = request1(BUF + 0x2000, 5000, 1);
	assert_int_equal(g_wait_ns, 1000000000ull);
	g_now += 1000000000ull;
	rng_timer(R);
	expect_used(h, 1000);
}

static void test_empty_bucket_waits(void **state)
{
	uint16_t h;

	(void)state;
	start(1000);
	expect_used(request1(BUF, 1000, 1), 1000);
	h = request1(BUF + 0x1000, 600, 1);
	expect_no_used();
	assert_int_equal(g_waits, 1);
	/* 600 tokens at 1000 bytes a second: 0.6 s */
	assert_int_equal(g_wait_ns, 600000000ull);
	expect_bytes(BUF + 0x1000, 600, -1);
	/* a kick while waiting serves nothing and arms nothing more */
	virtio_kick(&R->vd, 0);
	expect_no_used();
	assert_int_equal(g_waits, 1);
	g_now += 600000000ull;
	rng_timer(R);
	expect_used(h, 600);
	expect_bytes(BUF + 0x1000, 600, 1000);
}

/* A timer that fires early (a clock step) waits again for the rest, and no more. */
static void test_early_timer(void **state)
{
	uint16_t h;

	(void)state;
	start(1000);
	expect_used(request1(BUF, 1000, 1), 1000);
	h = request1(BUF + 0x1000, 600, 1);
	g_now += 250000000ull;
	rng_timer(R);
	expect_no_used();
	assert_int_equal(g_waits, 2);
	assert_int_equal(g_wait_ns, 350000000ull);
	g_now += 350000000ull;
	rng_timer(R);
	expect_used(h, 600);
	assert_int_equal(R->tokens, 0);
}

/* The bucket holds at most one second's worth, however long it was idle. */
static void test_bucket_cap(void **state)
{
	uint16_t h;

	(void)state;
	start(1000);
	expect_used(request1(BUF, 1000, 1), 1000);
	g_now += 3600ull * 1000000000ull;
	h = request1(BUF + 0x1000, 5000, 1);
	expect_used(h, 1000);
}

/* Fractions of a token are kept: 1000 steps of 0.5 ms at 1000 B/s make 500 bytes. */
static void test_refill_keeps_fractions(void **state)
{
	uint64_t got = 0;
	uint32_t id, len;

	(void)state;
	start(1000);
	expect_used(request1(BUF, 1000, 1), 1000);
	for (int i = 0, outstanding = 0; i < 1000; i++) {
		if (!outstanding)
			(void)request1(BUF + 0x1000, 1, 1);
		outstanding = 1;
		g_now += 500000ull;
		if (R->waiting)
			rng_timer(R); /* every 0.5 ms, early or not */
		while (vdrv_used(&D, 0, &id, &len)) {
			got += len;
			outstanding = 0;
		}
	}
	assert_in_range(got, 499, 500);
}

static void test_reset_while_waiting(void **state)
{
	uint16_t h;

	(void)state;
	start(100);
	expect_used(request1(BUF, 100, 1), 100);
	(void)request1(BUF + 0x1000, 50, 1);
	assert_true(R->waiting);
	assert_true(vdrv_negotiate(&D, 0));
	assert_false(R->waiting);
	vdrv_queue(&D, 0, 16, RQ_BASE);
	vdrv_ok(&D);
	g_now += 1000000000ull;
	rng_timer(R); /* the old timer fires: harmless */
	h = request1(BUF + 0x2000, 50, 1);
	expect_used(h, 50);
}

/* A read-only chain completes at once even with the bucket empty. */
static void test_read_only_needs_no_tokens(void **state)
{
	uint16_t h;

	(void)state;
	start(10);
	expect_used(request1(BUF, 10, 1), 10);
	h = request1(BUF + 0x1000, 64, 0);
	expect_used(h, 0);
	assert_int_equal(g_waits, 0);
}

/* ---- the real source: getrandom(2) bytes are not constant and do not repeat ---- */

static int getrandom_fill(void *buf, size_t len)
{
	return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}

static void test_getrandom_bytes(void **state)
{
	const uint8_t *p;
	unsigned int counts[256] = { 0 }, distinct = 0, maxc = 0;

	(void)state;
	start(0);
	R->fill = getrandom_fill;
	expect_used(request1(BUF, 65536, 1), 65536);
	p = vdrv_gp(&D, BUF, 65536);
	for (int i = 0; i < 65536; i++)
		counts[p[i]]++;
	for (int i = 0; i < 256; i++) {
		distinct += counts[i] > 0;
		if (counts[i] > maxc)
			maxc = counts[i];
	}
	/* 256 expected per value; 512 is more than 15 standard deviations away */
	assert_int_equal(distinct, 256);
	assert_true(maxc < 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_fill_one),
		cmocka_unit_test(test_fill_segments),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_readable_then_writable),
		cmocka_unit_test(test_huge_request),
		cmocka_unit_test(test_many_one_interrupt),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_beyond_ram),
		cmocka_unit_test(test_recovers_after_reset),
		cmocka_unit_test(test_bucket_starts_full),
		cmocka_unit_test(test_empty_bucket_waits),
		cmocka_unit_test(test_short_bucket_waits),
		cmocka_unit_test(test_early_timer),
		cmocka_unit_test(test_bucket_cap),
		cmocka_unit_test(test_refill_keeps_fractions),
		cmocka_unit_test(test_reset_while_waiting),
		cmocka_unit_test(test_read_only_needs_no_tokens),
		cmocka_unit_test(test_getrandom_bytes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
