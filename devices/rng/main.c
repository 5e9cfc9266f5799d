/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-rng: one virtio-rng device. Its random bytes come from
 * getrandom(2), so it needs nothing open in its jail but guest memory and
 * its channel; with rate=, the timerfd the supervisor made (TIMER_FD) wakes
 * it when the bucket has tokens again.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "devices/devproc/devproc.h"
#include "rng.h"

static struct rng rng;
static struct ipc_cfg_rng rng_cfg;
static const struct ipc_fd_field rng_fds[] = IPC_CFG_RNG_FDS;

static int rng_cfg_check(struct devproc *dp, const void *msg)
{
	const struct ipc_cfg_rng *m = msg;

	(void)dp;
	/* a timer exactly when there is a rate */
	if (m->rg_rate > IPC_RNG_RATE_MAX || m->rg_pad ||
	    (m->rg_rate == 0) != (m->rg_timer_fd == IPC_FD_NONE))
		return -EPROTO;
	rng_cfg = *m;
	return 0;
}

/* getrandom(2) returns fewer bytes than asked when a signal comes: go on. */
static int fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int arm_timer(struct rng *r, uint64_t ns)
{
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(ns / 1000000000ull),
						.tv_nsec = (long)(ns % 1000000000ull) } };

	(void)r;
	if (ns == 0)
		its.it_value.tv_nsec = 1;
	return timerfd_settime(rng_cfg.rg_timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static int rng_init(struct devproc *dp)
{
	struct rng *r = dp->priv;

	r->now = now_ns;
	r->fill = fill_random;
	rng_setup(r, rng_cfg.rg_rate, &dp->rt.mem);
	virtio_dp_attach(&r->vd, dp);
	if (!r->rate)
		return 0;
	/* The timer is polled all along: it is readable only when it fired. */
	r->wait = arm_timer;
	devproc_set_input(dp, rng_cfg.rg_timer_fd);
	return devproc_watch_input(dp, 1);
}

/* The timer fired: the bucket has the tokens the waiting request wanted. */
static int rng_input(struct devproc *dp)
{
	uint64_t expirations;

	if (read(rng_cfg.rg_timer_fd, &expirations, sizeof(expirations)) < 0)
		return errno == EAGAIN ? 0 : -errno;
	rng_timer(dp->priv);
	return 0;
}

static const struct devproc_ops rng_ops = {
	.name = "bulkhead-rng",
	.policy = "rng",
	.kind = IPC_DEV_RNG,
	.nqueues = IPC_RNG_QUEUES,
	.window = &virtio_dp_window,
	.msg = DEVPROC_MSG(IPC_CFG_RNG, struct ipc_cfg_rng, rng_fds),
	.cfg = rng_cfg_check,
	.init = rng_init,
	.input = rng_input,
};

int main(int argc, char **argv)
{
	return devproc_main(&rng_ops, &rng, argc, argv);
}
