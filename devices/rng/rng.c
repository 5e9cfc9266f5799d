/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-rng: every available chain gets random bytes in its device-writable
 * part, at most RNG_MAX_REQUEST and, with a rate, at most what the bucket
 * holds; device-readable descriptors are never written (a chain with none
 * writable completes with 0 bytes). A request that finds the bucket short is
 * given back to the ring and waits for the timer, so nothing spins.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "rng.h"

#define NS_PER_S 1000000000ull

static uint64_t rng_features(struct virtio_dev *vd)
{
	(void)vd;
	return VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
}

/* Add the tokens earned since last_ns; the remainder of a token stays earned. */
static void bucket_refill(struct rng *r)
{
	uint64_t now = r->now(), add;

	if (now <= r->last_ns)
		return;
	add = (uint64_t)((unsigned __int128)(now - r->last_ns) * r->rate / NS_PER_S);
	if (r->tokens + add >= r->rate) {
		r->tokens = r->rate;
		r->last_ns = now;
		return;
	}
	r->tokens += add;
	r->last_ns += (uint64_t)((unsigned __int128)add * NS_PER_S / r->rate);
}

/* How long until the bucket holds want tokens (it holds fewer now). */
static uint64_t bucket_wait_ns(const struct rng *r, uint64_t want)
{
	uint64_t need = want - r->tokens;

	return (uint64_t)(((unsigned __int128)need * NS_PER_S + r->rate - 1) / r->rate);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Fill the first n writable bytes of the chain; 0 or -errno. */
static int fill_chain(struct rng *r, uint64_t n)
{
	const struct virtq_chain *c = &r->chain;

	for (unsigned int i = c->nread; i < c->nread + c->nwrite && n > 0; i++) {
		size_t take = (size_t)min_u64(c->iov[i].iov_len, n);
		int err = r->fill(c->iov[i].iov_base, take);

		if (err < 0)
			return err;
		n -= take;
	}
	return 0;
}

/*
 * The bytes this chain gets now: 0 for a chain with nothing writable, else
 * at most RNG_MAX_REQUEST and what the bucket holds. -1: the bucket holds
 * less than the chain wants (its size, or a second's worth if that is less):
 * it waits for them, so that a slow rate means few, full requests, not a
 * stream of tiny ones.
 */
static int64_t request_size(struct rng *r)
{
	uint64_t n = min_u64(r->chain.write_len, RNG_MAX_REQUEST);

	if (n == 0 || !r->rate)
		return (int64_t)n;
	bucket_refill(r);
	if (r->tokens < min_u64(n, r->rate))
		return -1;
	return (int64_t)min_u64(n, r->tokens);
}

/* The bucket is short: give the chain back and wait for enough tokens for it. */
static void rng_wait(struct rng *r, struct virtq *q)
{
	uint64_t want = min_u64(min_u64(r->chain.write_len, RNG_MAX_REQUEST), r->rate);
	int err;

	virtq_unpop(q, 1);
	r->stats.waits++;
	err = r->wait(r, bucket_wait_ns(r, want));
	if (err < 0) {
		errno = -err;
		log_warn("rng: cannot arm the rate timer");
		virtio_fail(&r->vd, 0, "the rate timer failed");
		return;
	}
	r->waiting = 1;
}

static void rng_serve(struct rng *r)
{
	struct virtq *q = &r->vd.queues[0];
	int pushed = 0;

	while (!r->waiting && virtio_queue_live(&r->vd, 0)) {
		enum virtq_error e = virtq_pop(q, r->vd.mem, &r->chain);
		int64_t n;
		int failed;

		if (e == VIRTQ_EMPTY) {
			if (!virtq_arm_notify(q))
				break;
			continue;
		}
		if (e != VIRTQ_OK) {
			virtio_needs_reset(&r->vd, 0, e);
			break;
		}
		n = request_size(r);
		if (n < 0) {
			rng_wait(r, q);
			break;
		}
		failed = n > 0 && fill_chain(r, (uint64_t)n) < 0;
		if (failed) {
			log_warn("rng: getrandom");
			n = 0; /* the host failed: the guest gets nothing this time */
		}
		if (r->rate)
			r->tokens -= (uint64_t)n;
		r->stats.requests++;
		r->stats.bytes += (uint64_t)n;
		r->stats.empty += n == 0;
		virtq_push(q, r->chain.head, (uint32_t)n);
		virtio_count(&r->vd, 1, (uint64_t)n, (uint64_t)failed);
		pushed = 1;
	}
	if (pushed)
		virtio_used(&r->vd, 0);
}

void rng_timer(struct rng *r)
{
	r->waiting = 0;
	rng_serve(r);
}

static void rng_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	(void)q;
	rng_serve(vd->priv);
}

/* A reset forgets the request that waited; the bucket keeps its tokens. */
static void rng_reset(struct virtio_dev *vd)
{
	struct rng *r = vd->priv;

	r->waiting = 0;
}

const struct virtio_dev_ops rng_virtio_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = IPC_RNG_QUEUES,
	.features = rng_features,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
};

void rng_setup(struct rng *r, uint64_t rate, const struct guest_mem *mem)
{
	r->rate = rate;
	r->tokens = rate;
	r->last_ns = r->now();
	r->waiting = 0;
	memset(&r->stats, 0, sizeof(r->stats));
	virtio_init(&r->vd, &rng_virtio_ops, mem, r);
}
