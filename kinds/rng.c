/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --rng: virtio-rng, served by bulkhead-rng, which takes its bytes from
 * getrandom(2): there is no host resource to open. rate= limits it with a
 * token bucket of that many bytes, as Firecracker's entropy rate limiter does;
 * the device then sleeps on a timerfd made here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>

#include "common/log.h"
#include "kinds.h"

struct rng_opts {
	uint64_t rate; /* rate=BYTES_PER_SECOND, 0: unlimited */
};
_Static_assert(sizeof(struct rng_opts) <= CONFIG_DEV_OPTS_MAX, "rng options fit");

static const struct key_def rng_keys[] = {
	CONFIG_KEY("rate", KEY_U64, struct rng_opts, rate, KEY_NONEMPTY | KEY_MIN1),
};

static int rng_check(void *opts, char *err, size_t errlen)
{
	const struct rng_opts *o = opts;

	if (o->rate > IPC_RNG_RATE_MAX) {
		snprintf(err, errlen, "--rng: rate=%llu: at most %llu bytes per second",
			 (unsigned long long)o->rate, (unsigned long long)IPC_RNG_RATE_MAX);
		return -1;
	}
	return 0;
}

/* With a rate, the timer that wakes the device when the bucket has refilled: made here,
 * as every fd a device holds is. */
static int rng_open(struct dev_inst *d, char *err, size_t errlen)
{
	const struct rng_opts *o = d->opts;
	struct ipc_cfg_rng *m = (struct ipc_cfg_rng *)d->msg.bytes;

	ipc_init(m, IPC_CFG_RNG, sizeof(*m));
	m->rg_rate = o->rate;
	m->rg_timer_fd = IPC_FD_NONE;
	if (!o->rate)
		return 0;
	m->rg_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->rg_timer_fd < 0) {
		snprintf(err, errlen, "--rng: rate=%llu: timerfd_create: %s",
			 (unsigned long long)o->rate, strerror(errno));
		m->rg_timer_fd = IPC_FD_NONE;
		return -1;
	}
	return 0;
}

static const struct ipc_fd_field rng_fds[] = IPC_CFG_RNG_FDS;

const struct dev_kind kind_rng = {
	.option = "rng",
	.synopsis = "[rate=BYTES_PER_SECOND]",
	.help = "A virtio-rng entropy device (at most one): the guest's buffers are filled from "
		"getrandom(2) by its bulkhead-rng process, which opens nothing. rate= limits it to "
		"that many bytes per second with a token bucket of one second's worth that refills "
		"continuously; a request that finds it empty waits. Given alone (--rng), no limit.",
	.keys = rng_keys,
	.nkeys = nitems(rng_keys),
	.check = rng_check,
	.max = 1,
	.bare = 1,
	.helper = "rng",
	.ipc_kind = IPC_DEV_RNG,
	.virtio_id = IPC_RNG_VIRTIO_ID,
	.nqueues = IPC_RNG_QUEUES,
	.uses_guest_memory = 1,
	.transport = &kinds_virtio_mmio,
	.open = rng_open,
	.msg_type = IPC_CFG_RNG,
	.msg_size = sizeof(struct ipc_cfg_rng),
	.fds = rng_fds,
	.nfds = nitems(rng_fds),
	.restartable = 1,
};
