/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_rng: the virtio-rng request path (devices/rng/rng.c over the real
 * transport and virtqueue) in this process, against memfd guest memory,
 * driven by the hostile driver of fzv.c, with a clock and a timer of the
 * harness's own.
 *
 * Input: u32 rate (0: unlimited; else rate % 2^20 + 1 bytes a second), then
 * fzv ops. FZV_OP_BACKEND sub-ops (sub % 2):
 *   0  u32 ns: time passes
 *   1  the timer fires (rng_timer), if the device armed it
 *
 * Checked after every op: the transport against the driver's mirror; the
 * bucket never holds more than a second's worth; every byte the device
 * handed out was earned: at most the bucket's start plus the rate times the
 * time that passed; a device that waits has asked for a timer; after the
 * input: no guest byte outside used rings and device-writable buffers
 * changed. The random bytes are the harness's (a counter), so the run is
 * repeatable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/rng/rng.h"
#include "fz.h"
#include "fzv.h"
#include "fzv_dev.h"

static struct guest_mem gm;
static struct rng rng;
static struct fzv drv;
static uint64_t now, start_ns, waits;
static int armed;

static void on_irq(struct virtio_dev *vd)
{
	(void)vd;
}

static uint64_t clock_now(void)
{
	return now;
}

static int counting_fill(void *buf, size_t len)
{
	static uint8_t next;

	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = next++;
	return 0;
}

static int arm(struct rng *r, uint64_t ns)
{
	(void)r;
	FZ_CHECK(ns > 0 && ns <= 1000000000ull + 1, "a timer of %llu ns", (unsigned long long)ns);
	armed = 1;
	waits++;
	return 0;
}

static void be_backend(void *ctx, struct fz *in, uint8_t sub)
{
	(void)ctx;
	if (sub % 2 == 0) {
		now += fz_u32(in);
	} else if (armed) {
		armed = 0;
		rng_timer(&rng);
	}
}

static void be_after(void *ctx)
{
	(void)ctx;
	fzv_check_transport(&rng.vd, &drv, &gm);
	if (!rng.rate)
		return;
	FZ_CHECK(rng.tokens <= rng.rate, "the bucket holds %llu of %llu", (unsigned long long)rng.tokens,
		 (unsigned long long)rng.rate);
	/* earned: a full bucket at start, then the rate (the bucket only loses what it caps) */
	FZ_CHECK(rng.stats.bytes <= rng.rate + (uint64_t)((unsigned __int128)(now - start_ns) * rng.rate /
							     1000000000ull),
		 "%llu bytes handed out in %llu ns at %llu bytes a second", (unsigned long long)rng.stats.bytes,
		 (unsigned long long)(now - start_ns), (unsigned long long)rng.rate);
	FZ_CHECK(!rng.waiting || armed, "the device waits with no timer armed");
}

static const struct fzv_backend backend = {
	.ctx = &rng.vd,
	.nqueues = 1,
	.io_read = fzv_dev_read,
	.io_write = fzv_dev_write,
	.kick = fzv_dev_kick,
	.backend = be_backend,
	.after_op = be_after,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	char why[256];
	struct fz in;
	uint32_t rate;

	if (!inited) {
		fzv_guest(&gm, FZV_MEM_SIZE, "fuzz-rng");
		fzv_init(&drv, &backend, gm.regions[0].hva, FZV_MEM_SIZE);
		inited = 1;
	}
	fz_init(&in, data, size);
	rate = fz_u32(&in);
	now = start_ns = 1000000000ull;
	armed = 0;
	waits = 0;
	memset(&rng, 0, sizeof(rng));
	rng.now = clock_now;
	rng_setup(&rng, rate ? rate % (1u << 20) + 1 : 0, &gm);
	rng.fill = counting_fill;
	rng.wait = arm;
	rng.vd.irq = on_irq;
	fzv_begin(&drv);
	fzv_run(&drv, &in);
	if (fzv_check(&drv, why, sizeof(why)) < 0)
		fz_fail("%s", why);
	be_after(NULL);
	if (getenv("BH_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_rng: rate %llu: %llu requests, %llu bytes, %llu empty, %llu waits\n",
			(unsigned long long)rng.rate, (unsigned long long)rng.stats.requests,
			(unsigned long long)rng.stats.bytes, (unsigned long long)rng.stats.empty,
			(unsigned long long)waits);
	return 0;
}
