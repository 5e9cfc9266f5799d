/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "devproc.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "jail/jail.h"
#include "seccomp/policy.h"
#include "testhooks/testhooks.h"

enum devproc_state {
	ST_BOOT = DEVPROC_ST_BOOT,
	ST_RUN = 1 << 1,
};

enum ev_source {
	EV_CONTROL = 1,
	EV_CHANNEL = 2,
	EV_INPUT = 3,
	EV_QUEUE = 16, /* EV_QUEUE + q */
};

static int fd_open(int fd)
{
	return ipc_fd_ok(fd) && fcntl(fd, F_GETFD) >= 0;
}

static int fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int epoll_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void devproc_irq(struct devproc *dp)
{
	uint64_t one = 1;

	if (dp->cfg.cd_irq_fd != IPC_FD_NONE && write(dp->cfg.cd_irq_fd, &one, sizeof(one)) < 0)
		log_warn("irqfd");
}

int devproc_watch_input(struct devproc *dp, int on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_INPUT };

	if (dp->cfg.cd_in_fd == IPC_FD_NONE || dp->input_watched == on)
		return 0;
	if (epoll_ctl(dp->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, dp->cfg.cd_in_fd, &ev) < 0) {
		/* A regular file or /dev/null cannot be polled. Remember the state we
		 * asked for, or every batch would retry (and fail) the same call. */
		if (errno != EPERM)
			return -errno;
		dp->input_watched = on;
		return 0;
	}
	dp->input_watched = on;
	return 0;
}

static int on_cfg_mem(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	const struct ipc_cfg_mem *m = msg;
	struct mem_region *r;

	if (!dp->ops->uses_guest_memory || m->cm_index != dp->mem.nregions ||
	    m->cm_index >= LAYOUT_MAX_MEM_REGIONS || m->cm_gpa % 4096 || m->cm_size == 0 ||
	    m->cm_size % 4096 || !fd_open(m->cm_fd) || mem_check_fd(m->cm_fd, m->cm_size) < 0)
		return -EPROTO;
	if (m->cm_gpa != (m->cm_index == 0 ? 0 : LAYOUT_HIGH_RAM_START))
		return -EPROTO;
	r = &dp->mem.regions[dp->mem.nregions++];
	r->gpa = m->cm_gpa;
	r->size = m->cm_size;
	r->fd = m->cm_fd;
	return 0;
}

static int cfg_device_ok(const struct devproc *dp, const struct ipc_cfg_device *m)
{
	if (m->cd_kind != dp->ops->kind || !ipc_str_ok(m->cd_name, sizeof(m->cd_name)) ||
	    !fd_open(m->cd_chan_fd) || m->cd_nqueues > IPC_MAX_QUEUES)
		return 0;
	if (m->cd_irq_fd != IPC_FD_NONE && !fd_open(m->cd_irq_fd))
		return 0;
	if (m->cd_in_fd != IPC_FD_NONE && !fd_open(m->cd_in_fd))
		return 0;
	if (m->cd_out_fd != IPC_FD_NONE && !fd_open(m->cd_out_fd))
		return 0;
	for (uint32_t q = 0; q < m->cd_nqueues; q++) {
		if (!fd_open(m->cd_queue_fd[q]))
			return 0;
	}
	if ((m->cd_flags & IPC_DEV_F_SHADOW) &&
	    (!fd_open(m->cd_shadow_fd) || mem_check_fd(m->cd_shadow_fd, IPC_SHADOW_SIZE) < 0))
		return 0;
	return 1;
}

static int on_cfg_device(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	const struct ipc_cfg_device *m = msg;

	if (dp->cfg.h.ih_type || !cfg_device_ok(dp, m))
		return -EPROTO;
	dp->cfg = *m;
	if (m->cd_flags & IPC_DEV_F_VERBOSE)
		log_set_verbose(1);
	return 0;
}

static int on_cfg_jail(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	struct jail_config jc;

	if (dp->jail.h.ih_type || jail_from_ipc(msg, &jc, DEVPROC_NOFILE) < 0)
		return -EPROTO;
	memcpy(&dp->jail, msg, sizeof(dp->jail));
	return 0;
}

/* The fds the policy's placeholders stand for. */
static size_t devproc_bindings(const struct devproc *dp, struct policy_binding *b, size_t max)
{
	const struct ipc_cfg_device *c = &dp->cfg;
	size_t n = 0;

	b[n++] = (struct policy_binding){ "CONTROL_FD", IPC_FD_CONTROL };
	b[n++] = (struct policy_binding){ "CHAN_FD", (uint64_t)(int64_t)c->cd_chan_fd };
	b[n++] = (struct policy_binding){ "IRQ_FD", (uint64_t)(int64_t)c->cd_irq_fd };
	b[n++] = (struct policy_binding){ "IN_FD", (uint64_t)(int64_t)c->cd_in_fd };
	b[n++] = (struct policy_binding){ "OUT_FD", (uint64_t)(int64_t)c->cd_out_fd };
	b[n++] = (struct policy_binding){ "DISK_FD", (uint64_t)(int64_t)c->cd_in_fd };
	b[n++] = (struct policy_binding){ "TAP_FD", (uint64_t)(int64_t)c->cd_in_fd };
	b[n++] = (struct policy_binding){ "EPOLL_FD", (uint64_t)(int64_t)dp->ep };
	for (uint32_t q = 0; q < c->cd_nqueues && n < max; q++)
		b[n++] = (struct policy_binding){ "QUEUE_FD", (uint64_t)(int64_t)c->cd_queue_fd[q] };
	return n;
}

/* The seccomp filter, last step of the jail: embedded, or from --seccomp-policy-dir. */
static int devproc_seccomp(struct devproc *dp, char *err, size_t errlen)
{
	struct policy_binding b[8 + IPC_MAX_QUEUES];

	return policy_load_from(dp->ops->policy, dp->jail.cj_policy_fd, dp->jail.cj_include_fd, b,
				devproc_bindings(dp, b, nitems(b)),
				(enum policy_mode)dp->jail.cj_seccomp, err, errlen);
}

/* The jail closes after the configuration is in and before any guest input is read. */
static int devproc_lockdown(struct devproc *dp)
{
	struct jail_config jc;
	char err[IPC_TEXT_MAX];
	int e;

	if (jail_from_ipc(&dp->jail, &jc, DEVPROC_NOFILE) < 0)
		return -EPROTO;
	e = jail_enter(&jc, err, sizeof(err));
	if (e == 0)
		e = devproc_seccomp(dp, err, sizeof(err));
	if (e < 0) {
		log_warnx("%s", err);
		ipc_send_error(IPC_FD_CONTROL, -e, "%s", err);
		dp->reported = 1;
	}
	return e;
}

static int send_simple(enum ipc_type type)
{
	struct ipc_empty m;

	ipc_init(&m, type, sizeof(m));
	return ipc_send(IPC_FD_CONTROL, &m);
}

static int shadow_map(struct devproc *dp)
{
	void *p;

	if (!(dp->cfg.cd_flags & IPC_DEV_F_SHADOW))
		return 0;
	p = mmap(NULL, IPC_SHADOW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, dp->cfg.cd_shadow_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	dp->shadow = p;
	return 0;
}

/* One more register write was applied: its effects are in the shadow already. */
static void shadow_applied(struct devproc *dp)
{
	if (dp->shadow)
		__atomic_store_n(&dp->shadow->sh_applied, ++dp->applied, __ATOMIC_RELEASE);
}

static int devproc_setup(struct devproc *dp)
{
	int err;

	if (dp->ops->uses_guest_memory) {
		err = mem_map(&dp->mem);
		if (err < 0)
			return err;
	}
	err = shadow_map(dp);
	if (err < 0)
		return err;
	err = fd_nonblock(dp->cfg.cd_chan_fd);
	if (!err)
		err = epoll_add(dp->ep, dp->cfg.cd_chan_fd, EV_CHANNEL);
	for (uint32_t q = 0; !err && q < dp->cfg.cd_nqueues; q++) {
		err = fd_nonblock(dp->cfg.cd_queue_fd[q]);
		if (!err)
			err = epoll_add(dp->ep, dp->cfg.cd_queue_fd[q], EV_QUEUE + q);
	}
	if (!err && dp->ops->init)
		err = dp->ops->init(dp);
	return err;
}

static int on_cfg_done(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	int err;

	(void)msg;
	if (!dp->cfg.h.ih_type || (dp->ops->uses_guest_memory && dp->mem.nregions == 0))
		return -EPROTO;
	if (!dp->jail.h.ih_type)
		return -EPROTO;
	err = devproc_setup(dp);
	if (err == 0)
		err = devproc_lockdown(dp);
	if (err < 0)
		return err;
	/* Configuration is complete: this is where the jail will close in. */
	err = send_simple(IPC_READY);
	if (err < 0)
		return err;
	dp->state = ST_RUN;
	return 0;
}

static int on_stop(void *arg, const void *msg)
{
	struct devproc *dp = arg;

	(void)msg;
	dp->done = 1;
	return 0;
}

static const struct ipc_handler control_table[] = {
	{ IPC_CFG_MEM, sizeof(struct ipc_cfg_mem), ST_BOOT, on_cfg_mem },
	{ IPC_CFG_DEVICE, sizeof(struct ipc_cfg_device), ST_BOOT, on_cfg_device },
	{ IPC_CFG_JAIL, sizeof(struct ipc_cfg_jail), ST_BOOT, on_cfg_jail },
	{ IPC_CFG_DONE, sizeof(struct ipc_empty), ST_BOOT, on_cfg_done },
	{ IPC_STOP, sizeof(struct ipc_empty), ST_BOOT | ST_RUN, on_stop },
};

static int control_read(struct devproc *dp)
{
	char buf[IPC_MAX_MSG];
	ssize_t n = ipc_recv(IPC_FD_CONTROL, buf);

	if (n == 0) {
		dp->done = 1;
		return 0;
	}
	if (n < 0)
		return n == -EAGAIN ? 0 : (int)n;
	if (dp->ops->cfg_table && ipc_check(dp->ops->cfg_table, dp->ops->ncfg_table, buf, (size_t)n,
					    dp->state))
		return ipc_dispatch(dp->ops->cfg_table, dp->ops->ncfg_table, buf, (size_t)n,
				    dp->state, dp);
	return ipc_dispatch(control_table, nitems(control_table), buf, (size_t)n, dp->state, dp);
}

static int io_valid(const struct devproc *dp, const struct ipc_io *io)
{
	unsigned int s = io->io_size;

	return io->io_space == dp->ops->space && (s == 1 || s == 2 || s == 4 || s == 8) &&
	       io->io_offset < dp->ops->window_len && s <= dp->ops->window_len - io->io_offset;
}

static int on_io_read(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	const struct ipc_io *io = msg;
	struct ipc_io_reply r;

	testhook_fault_fire();
	if (!io_valid(dp, io))
		return -EPROTO;
	dp->reads++;
	ipc_init(&r, IPC_IO_REPLY, sizeof(r));
	r.ir_seq = io->io_seq;
	r.ir_data = dp->ops->io_read(dp, io->io_offset, io->io_size);
	return ipc_send(dp->cfg.cd_chan_fd, &r);
}

static int on_io_write(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	const struct ipc_io *io = msg;

	testhook_fault_fire();
	if (!io_valid(dp, io))
		return -EPROTO;
	dp->ops->io_write(dp, io->io_offset, io->io_size, io->io_data);
	shadow_applied(dp);
	return 0;
}

/* Every write is checked before the first is applied: a bad batch changes nothing. */
static int on_io_write_batch(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	const struct ipc_io_batch *b = msg;

	if (!ipc_io_batch_ok(b, dp->ops->space, dp->ops->window_len))
		return -EPROTO;
	for (unsigned int i = 0; i < b->ib_count; i++) {
		dp->ops->io_write(dp, b->ib_writes[i].iw_offset, b->ib_writes[i].iw_size,
				  b->ib_writes[i].iw_data);
		shadow_applied(dp);
	}
	return 0;
}

static const struct ipc_handler channel_table[] = {
	{ IPC_IO_READ, sizeof(struct ipc_io), ST_RUN, on_io_read },
	{ IPC_IO_WRITE, sizeof(struct ipc_io), ST_RUN, on_io_write },
	{ IPC_IO_WRITE_BATCH, sizeof(struct ipc_io_batch), ST_RUN, on_io_write_batch },
};

/* Drain the vcpu channel. Posted writes must be seen before queue kicks that
 * the guest made after them, so this runs before the other events of a batch. */
static int channel_drain(struct devproc *dp)
{
	_Alignas(8) char buf[IPC_MAX_MSG];

	for (;;) {
		ssize_t n = ipc_recv(dp->cfg.cd_chan_fd, buf);
		int err;

		if (n == -EAGAIN)
			return 0;
		if (n == 0) {
			/* The vcpu process is gone. The supervisor saw it too and
			 * will say STOP; leaving now would blur which process failed. */
			epoll_ctl(dp->ep, EPOLL_CTL_DEL, dp->cfg.cd_chan_fd, NULL);
			dp->chan_closed = 1;
			return 0;
		}
		if (n < 0)
			return (int)n;
		err = ipc_dispatch(channel_table, nitems(channel_table), buf, (size_t)n, dp->state, dp);
		if (err < 0)
			return err;
	}
}

static int queue_kick(struct devproc *dp, unsigned int q)
{
	uint64_t v;

	if (read(dp->cfg.cd_queue_fd[q], &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	if (!dp->ops->queue_notify)
		return 0;
	return dp->ops->queue_notify(dp, q);
}

static int has_event(const struct epoll_event *evs, int n, uint64_t tag)
{
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == tag)
			return 1;
	}
	return 0;
}

static int handle_events(struct devproc *dp, const struct epoll_event *evs, int n)
{
	int err = 0;

	/* A posted write the guest made before a kick was queued on the channel
	 * before the kick was signalled, so one epoll_wait reports both: drain the
	 * channel first, and only when it has something (no recvmsg for EAGAIN). */
	if (dp->state == ST_RUN && !dp->chan_closed && has_event(evs, n, EV_CHANNEL))
		err = channel_drain(dp);
	for (int i = 0; i < n && !err && !dp->done; i++) {
		uint64_t tag = evs[i].data.u64;

		if (tag == EV_CONTROL)
			err = control_read(dp);
		else if (tag == EV_INPUT && dp->input_watched && dp->ops->input)
			err = dp->ops->input(dp);
		else if (tag >= EV_QUEUE && tag < EV_QUEUE + dp->cfg.cd_nqueues)
			err = queue_kick(dp, (unsigned int)(tag - EV_QUEUE));
	}
	if (!err && dp->state == ST_RUN && dp->ops->flush)
		err = dp->ops->flush(dp);
	return err;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The poll window follows how long the device waited for its last event
 * (QEMU's IOThread poll-grow/poll-shrink): an event that came within the
 * window keeps it; one that came later but within DEVPROC_POLL_MAX_NS would
 * have been caught by a longer window, so it doubles; a longer wait means the
 * device is idle, so it halves, and below DEVPROC_POLL_MIN_NS it is off.
 */
static void poll_adjust(struct devproc *dp, uint64_t waited_ns)
{
	if (waited_ns <= dp->poll_ns)
		return;
	if (waited_ns > DEVPROC_POLL_MAX_NS) {
		dp->poll_ns /= 2;
		if (dp->poll_ns < DEVPROC_POLL_MIN_NS)
			dp->poll_ns = 0;
	} else if (dp->poll_ns == 0) {
		dp->poll_ns = DEVPROC_POLL_MIN_NS;
	} else {
		dp->poll_ns *= 2;
		if (dp->poll_ns > DEVPROC_POLL_MAX_NS)
			dp->poll_ns = DEVPROC_POLL_MAX_NS;
	}
}

/*
 * Wait for events: poll without sleeping for the current window, then block.
 * On this project's hosts a blocked thread's CPU halts, and waking it again
 * takes 20-30 us, more than a request takes to serve. Between polls the CPU
 * goes to any task waiting for it: the peer this process just answered (a
 * sync wake-up, as a reply on a socket is) is often queued right here.
 */
static int wait_events(struct devproc *dp, struct epoll_event *evs, int max)
{
	uint64_t start = now_ns();
	int n = 0;

	if (DEVPROC_POLL && dp->poll_ns) {
		for (;;) {
			n = epoll_wait(dp->ep, evs, max, 0);
			if (n != 0 || now_ns() - start >= dp->poll_ns)
				break;
			sched_yield();
		}
		dp->polls++;
		dp->poll_hits += n > 0;
	}
	if (n == 0)
		n = epoll_wait(dp->ep, evs, max, -1);
	if (n > 0)
		poll_adjust(dp, now_ns() - start);
	return n;
}

static int devproc_loop(struct devproc *dp)
{
	int err = epoll_add(dp->ep, IPC_FD_CONTROL, EV_CONTROL);

	while (!err && !dp->done) {
		struct epoll_event evs[16];
		int n = wait_events(dp, evs, (int)nitems(evs));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		err = handle_events(dp, evs, n);
	}
	log_debug("polled %llu times, %llu caught an event; %llu register reads",
		  (unsigned long long)dp->polls, (unsigned long long)dp->poll_hits,
		  (unsigned long long)dp->reads);
	return err;
}

static void report_error(int err, const char *what)
{
	ipc_send_error(IPC_FD_CONTROL, err, "%s: %s", what, strerror(err));
}

int devproc_main(const struct devproc_ops *ops, void *priv, int argc, char **argv)
{
	static struct devproc dp;
	int err;

	(void)argc;
	log_init(argv[0] && argv[0][0] ? argv[0] : ops->name);
	dp.ops = ops;
	dp.priv = priv;
	dp.state = ST_BOOT;
	for (unsigned int i = 0; i < LAYOUT_MAX_MEM_REGIONS; i++)
		dp.mem.regions[i].fd = -1;
	dp.ep = epoll_create1(EPOLL_CLOEXEC);
	if (dp.ep < 0)
		fatal("epoll_create1");
	err = devproc_loop(&dp);
	if (!err && dp.state == ST_RUN && ops->flush)
		err = ops->flush(&dp);
	if (err < 0) {
		errno = -err;
		log_warn("stopping");
		if (!dp.reported)
			report_error(-err, err == -EPROTO ? "protocol error" : ops->name);
		return 1;
	}
	return 0;
}
