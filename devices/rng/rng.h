/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-rng (entropy) device model, virtio 1.2 section 5.4: one
 * request queue whose device-writable buffers the device fills with random
 * bytes. Separate from its process so that unit tests and fuzzers drive it
 * against memfd guest memory, with their own clock and random source.
 *
 * With a rate (bytes per second), a token bucket limits it as Firecracker's
 * entropy rate limiter does: the bucket holds at most one second's worth,
 * starts full and refills continuously; a request that finds fewer tokens
 * than it wants (its size, at most a second's worth) waits (the process arms
 * a timerfd) until they are there.
 */
#ifndef BULKHEAD_DEVICES_RNG_RNG_H
#define BULKHEAD_DEVICES_RNG_RNG_H

#include <stdint.h>

#include "devices/virtio/virtio.h"
#include "ipc/ipc.h"

#define VIRTIO_ID_RNG IPC_RNG_VIRTIO_ID
#define RNG_MAX_REQUEST (64u * 1024) /* bytes one request gets at most: the spec lets us use less */

struct rng_stats {
	uint64_t requests, bytes;
	uint64_t empty; /* requests with no device-writable byte: completed with 0 bytes */
	uint64_t waits; /* times the bucket was empty */
};

struct rng {
	struct virtio_dev vd; /* first: the device process's priv points here */
	uint64_t rate; /* bytes per second; 0: no limit */
	uint64_t tokens; /* bytes the bucket holds now, at most rate */
	uint64_t last_ns; /* the bucket was refilled up to this time */
	int waiting; /* a request waits for tokens: wait() was called and has not fired */
	/* fill: len random bytes at buf; 0 or -errno (getrandom in the process) */
	int (*fill)(void *buf, size_t len);
	/* now: a monotonic clock in ns */
	uint64_t (*now)(void);
	/* wait: call rng_timer after ns nanoseconds (rate only); 0 or -errno */
	int (*wait)(struct rng *r, uint64_t ns);
	struct virtq_chain chain;
	struct rng_stats stats;
};

extern const struct virtio_dev_ops rng_virtio_ops;

/* rng_setup: serve a guest with memory mem at rate bytes per second (0: unlimited),
 * the bucket full now; the caller has set now, and sets fill, (with a rate) wait
 * and vd.irq. */
void rng_setup(struct rng *r, uint64_t rate, const struct guest_mem *mem);
/* rng_timer: the wait asked for is over: serve the requests that waited. */
void rng_timer(struct rng *r);

#endif
