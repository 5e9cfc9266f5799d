/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "devproc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "testhooks/testhooks.h"

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

/* One more of a counter of this process's, if it keeps them. */
static void count(struct devproc *dp, size_t off, uint64_t n)
{
	if (dp->counters)
		ipc_count((uint64_t *)(void *)((char *)dp->counters + off), n);
}

void devproc_count(struct devproc *dp, uint64_t requests, uint64_t bytes, uint64_t errors)
{
	count(dp, offsetof(struct ipc_counters, ct_requests), requests);
	count(dp, offsetof(struct ipc_counters, ct_bytes), bytes);
	count(dp, offsetof(struct ipc_counters, ct_errors), errors);
}

void devproc_irq(struct devproc *dp)
{
	uint64_t one = 1;

	if (dp->cfg.cd_irq_fd == IPC_FD_NONE)
		return;
	if (write(dp->cfg.cd_irq_fd, &one, sizeof(one)) < 0)
		log_warn("irqfd");
	else
		count(dp, offsetof(struct ipc_counters, ct_interrupts), 1);
}

void devproc_set_input(struct devproc *dp, int fd)
{
	dp->input_fd = fd;
}

int devproc_watch_input(struct devproc *dp, int on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_INPUT };

	if (dp->input_fd < 0 || dp->input_watched == on)
		return 0;
	if (epoll_ctl(dp->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, dp->input_fd, &ev) < 0) {
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

int devproc_watch_fd(struct devproc *dp, int op, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = EV_DEVICE | tag };

	if (epoll_ctl(dp->ep, op, fd, &ev) < 0)
		return -errno;
	return 0;
}

static int cfg_device_ok(const struct devproc *dp, const struct ipc_cfg_device *m)
{
	if (m->cd_kind != dp->ops->kind || !ipc_str_ok(m->cd_name, sizeof(m->cd_name)) ||
	    !runtime_fd_ok(m->cd_chan_fd) || !runtime_fd_ok_or_none(m->cd_irq_fd) ||
	    m->cd_nqueues != dp->ops->nqueues || m->cd_nqueues > IPC_MAX_QUEUES ||
	    (m->cd_flags & ~(uint32_t)(IPC_DEV_F_VERBOSE | IPC_DEV_F_SHADOW | IPC_DEV_F_STATE |
				       IPC_DEV_F_RESTORE)))
		return 0;
	if ((m->cd_flags & IPC_DEV_F_RESTORE) && !(m->cd_flags & IPC_DEV_F_STATE))
		return 0;
	if ((m->cd_flags & IPC_DEV_F_STATE) &&
	    (!dp->ops->window->save || !runtime_fd_ok(m->cd_state_fd) ||
	     mem_check_fd(m->cd_state_fd, IPC_STATE_SIZE) < 0))
		return 0;
	for (uint32_t q = 0; q < m->cd_nqueues; q++) {
		if (!runtime_fd_ok(m->cd_queue_fd[q]))
			return 0;
	}
	if ((m->cd_flags & IPC_DEV_F_SHADOW) &&
	    (!runtime_fd_ok(m->cd_shadow_fd) || mem_check_fd(m->cd_shadow_fd, IPC_SHADOW_SIZE) < 0))
		return 0;
	return 1;
}

/* The generic fds, named as every device policy names them. */
static int bind_device_fds(struct devproc *dp)
{
	const struct ipc_cfg_device *c = &dp->cfg;
	int err = runtime_bind(&dp->rt, "CHAN_FD", c->cd_chan_fd);

	if (!err)
		err = runtime_bind(&dp->rt, "IRQ_FD", c->cd_irq_fd);
	if (!err)
		err = runtime_bind(&dp->rt, "EPOLL_FD", dp->ep);
	for (uint32_t q = 0; !err && q < c->cd_nqueues; q++)
		err = runtime_bind(&dp->rt, "QUEUE_FD", c->cd_queue_fd[q]);
	return err;
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
	return bind_device_fds(dp) < 0 ? -EPROTO : 0;
}

static int on_cfg_kind(void *arg, const void *msg)
{
	struct devproc *dp = arg;

	if (dp->have_kind_cfg ||
	    runtime_bind_fds(&dp->rt, msg, dp->ops->msg.fds, dp->ops->msg.nfds) < 0 ||
	    dp->ops->cfg(dp, msg) < 0)
		return -EPROTO;
	dp->have_kind_cfg = 1;
	return 0;
}

static int shadow_map(struct devproc *dp)
{
	if (!(dp->cfg.cd_flags & IPC_DEV_F_SHADOW))
		return 0;
	dp->shadow = runtime_map_shadow(dp->cfg.cd_shadow_fd, PROT_READ | PROT_WRITE);
	if (!dp->shadow)
		return -errno;
	dp->counters = (struct ipc_counters *)(void *)((char *)dp->shadow + IPC_COUNTERS_OFF);
	/* A replacement counts on from its predecessor: the vcpu process's count of
	 * writes sent goes on over the restart (its own value; a lie harms only us). */
	if (dp->cfg.cd_flags & IPC_DEV_F_RESTORE)
		dp->applied = __atomic_load_n(&dp->shadow->sh_applied, __ATOMIC_ACQUIRE);
	return 0;
}

/* The page a process that died left, copied before anything here writes it. */
static int state_take_over(struct devproc *dp)
{
	static struct ipc_state copy;
	uint32_t cur = __atomic_load_n(&dp->state->st_cur, __ATOMIC_ACQUIRE);

	memcpy(&copy, dp->state, sizeof(copy));
	dp->restore_from = &copy;
	dp->restore_ok = copy.st_magic == IPC_STATE_MAGIC && cur < 2 && copy.st_cur == cur &&
			 copy.st_kind == dp->ops->kind && copy.st_len[cur] <= IPC_STATE_SNAP;
	return 0;
}

static int state_map(struct devproc *dp)
{
	if (!(dp->cfg.cd_flags & IPC_DEV_F_STATE))
		return 0;
	dp->state = runtime_map_page(dp->cfg.cd_state_fd, IPC_STATE_SIZE, PROT_READ | PROT_WRITE);
	if (!dp->state)
		return -errno;
	return (dp->cfg.cd_flags & IPC_DEV_F_RESTORE) ? state_take_over(dp) : 0;
}

/*
 * Until a replacement has restored, the page is its predecessor's: if this
 * process dies first, the next one must find it as it was. So nothing is
 * written through before state_restore, and the restore itself runs detached.
 */
void *devproc_state_live(struct devproc *dp)
{
	return dp->state && !dp->restore_from ? dp->state->st_live : NULL;
}

/* A new snapshot, if it differs from the current one, into the other slot, then switch. */
static void state_save(struct devproc *dp)
{
	static _Alignas(8) uint8_t snap[IPC_STATE_SNAP];
	struct ipc_state *st = dp->state;
	uint32_t cur, next;
	size_t len;

	if (!st)
		return;
	len = dp->ops->window->save(dp, snap, sizeof(snap));
	cur = st->st_cur & 1;
	if (st->st_magic == IPC_STATE_MAGIC && st->st_len[cur] == len &&
	    memcmp(st->st_snap[cur], snap, len) == 0)
		return;
	next = cur ^ 1;
	memcpy(st->st_snap[next], snap, len);
	st->st_len[next] = (uint32_t)len;
	st->st_kind = dp->ops->kind;
	st->st_magic = IPC_STATE_MAGIC;
	__atomic_store_n(&st->st_cur, next, __ATOMIC_RELEASE);
}

/* After the jail closed: the guest's input is read from here on. */
static int state_restore(struct devproc *dp)
{
	const struct ipc_state *from = dp->restore_from;
	uint32_t cur = from ? from->st_cur : 0;

	if (!from) {
		state_save(dp); /* a first snapshot, before the guest can touch the device */
		return 0;
	}
	log_info("restoring from the state of the process it replaces%s",
		 dp->restore_ok ? "" : " (not a whole snapshot: the device will need a reset)");
	(void)dp->ops->window->restore(dp, dp->restore_ok ? from->st_snap[cur] : NULL,
				       dp->restore_ok ? from->st_len[cur] : 0, from->st_live);
	dp->restore_from = NULL;
	/* The window's save attaches the live area, and the page is ours from here on. */
	state_save(dp);
	/* Then the requests its predecessor left in flight, and any made available
	 * since, are served, with every index they move kept in the page. */
	for (unsigned int q = 0; q < dp->ops->nqueues && dp->ops->window->queue_notify; q++)
		(void)dp->ops->window->queue_notify(dp, q);
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
	int err = 0;

	if (dp->ops->window->uses_guest_memory)
		err = runtime_map_mem(&dp->rt);
	if (!err)
		err = shadow_map(dp);
	if (!err)
		err = state_map(dp);
	if (!err)
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

/* The jail closes after the configuration is in and before any guest input is read. */
static int on_cfg_done(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	int err;

	(void)msg;
	if (!dp->cfg.h.ih_type || !dp->have_kind_cfg || !runtime_configured(&dp->rt))
		return -EPROTO;
	err = devproc_setup(dp);
	if (err == 0)
		err = runtime_lockdown(&dp->rt, dp->ops->nofile ? dp->ops->nofile : DEVPROC_NOFILE);
	if (err == 0)
		err = state_restore(dp);
	if (err == 0)
		err = runtime_send(IPC_READY);
	if (err == 0)
		dp->rt.state = DEVPROC_ST_RUN;
	return err;
}

int devproc_connect(struct devproc *dp, uint32_t seq, uint32_t port)
{
	struct ipc_connect m;

	if (!dp->ops->connected)
		return -EINVAL;
	ipc_init(&m, IPC_CONNECT, sizeof(m));
	m.cq_seq = seq;
	m.cq_port = port;
	return ipc_send(IPC_FD_CONTROL, &m);
}

/* The answer carries an fd exactly when it says the connection was made. */
static int on_connect_reply(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	const struct ipc_connect_reply *m = msg;
	int fd = runtime_take_fd(&dp->rt);

	if (m->cr_errno < 0 || m->cr_errno > IPC_ERRNO_MAX || (m->cr_errno == 0) != (fd >= 0)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	return dp->ops->connected(dp, m->cr_seq, -m->cr_errno, fd);
}

static void control_table_init(struct devproc *dp)
{
	dp->table[0] = (struct ipc_handler){ IPC_CFG_DEVICE, sizeof(struct ipc_cfg_device),
					     RUNTIME_ST_BOOT, on_cfg_device };
	dp->table[1] = (struct ipc_handler){ dp->ops->msg.type, dp->ops->msg.size, RUNTIME_ST_BOOT,
					     on_cfg_kind };
	dp->table[2] = (struct ipc_handler){ IPC_CFG_DONE, sizeof(struct ipc_empty), RUNTIME_ST_BOOT,
					     on_cfg_done };
	dp->ntable = 3;
	if (dp->ops->connected) {
		dp->table[dp->ntable++] = (struct ipc_handler){ IPC_CONNECT_REPLY,
								sizeof(struct ipc_connect_reply),
								DEVPROC_ST_RUN, on_connect_reply };
		runtime_accept_fd(&dp->rt, IPC_CONNECT_REPLY);
	}
}

static int io_valid(const struct devproc *dp, const struct ipc_io *io)
{
	const struct devproc_window *w = dp->ops->window;
	unsigned int s = io->io_size;

	return io->io_space == w->space && (s == 1 || s == 2 || s == 4 || s == 8) &&
	       io->io_offset < w->len && s <= w->len - io->io_offset;
}

static int reply(struct devproc *dp, uint32_t seq, uint64_t data)
{
	struct ipc_io_reply r;

	ipc_init(&r, IPC_IO_REPLY, sizeof(r));
	r.ir_seq = seq;
	r.ir_data = data;
	return ipc_send(dp->cfg.cd_chan_fd, &r);
}

static int on_io_read(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	const struct ipc_io *io = msg;

	testhook_fault_fire();
	if (!io_valid(dp, io))
		return -EPROTO;
	dp->reads++;
	count(dp, offsetof(struct ipc_counters, ct_reads), 1);
	return reply(dp, io->io_seq, dp->ops->window->io_read(dp, io->io_offset, io->io_size));
}

static int on_io_write(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	const struct ipc_io *io = msg;

	testhook_fault_fire();
	if (!io_valid(dp, io))
		return -EPROTO;
	dp->ops->window->io_write(dp, io->io_offset, io->io_size, io->io_data);
	count(dp, offsetof(struct ipc_counters, ct_writes), 1);
	state_save(dp);
	shadow_applied(dp);
	return io->h.ih_type == IPC_IO_WRITE_SYNC ? reply(dp, io->io_seq, 0) : 0;
}

static const struct ipc_handler channel_table[] = {
	{ IPC_IO_READ, sizeof(struct ipc_io), DEVPROC_ST_RUN, on_io_read },
	{ IPC_IO_WRITE, sizeof(struct ipc_io), DEVPROC_ST_RUN, on_io_write },
	{ IPC_IO_WRITE_SYNC, sizeof(struct ipc_io), DEVPROC_ST_RUN, on_io_write },
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
		err = ipc_dispatch(channel_table, nitems(channel_table), buf, (size_t)n, dp->rt.state,
				   dp);
		if (err < 0)
			return err;
	}
}

/* Take queue q's kicks (its ioeventfd's count). */
static int kick_take(struct devproc *dp, unsigned int q)
{
	uint64_t v;

	if (read(dp->cfg.cd_queue_fd[q], &v, sizeof(v)) < 0)
		return errno == EAGAIN ? 0 : -errno;
	count(dp, offsetof(struct ipc_counters, ct_notifications), v);
	return 0;
}

static int queue_kick(struct devproc *dp, unsigned int q)
{
	int err = kick_take(dp, q);

	if (err < 0)
		return err;
	if (!dp->ops->window->queue_notify)
		return 0;
	return dp->ops->window->queue_notify(dp, q);
}

int devproc_pending(struct devproc *dp, unsigned int q)
{
	struct epoll_event evs[8];
	int n = epoll_wait(dp->ep, evs, (int)nitems(evs), 0), busy = 0;

	for (int i = 0; i < n; i++) {
		/* A kick of the queue being watched says what the watch sees: take it, or it
		 * would end the watch, and every watch after (re-armed, the driver kicks). */
		if (evs[i].data.u64 == EV_QUEUE + q && q < dp->cfg.cd_nqueues)
			busy |= kick_take(dp, q) < 0;
		else
			busy = 1;
	}
	return busy;
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
	int running = dp->rt.state == DEVPROC_ST_RUN;
	int err = 0;

	/* A posted write the guest made before a kick was queued on the channel
	 * before the kick was signalled, so one epoll_wait reports both: drain the
	 * channel first, and only when it has something (no recvmsg for EAGAIN). */
	if (running && !dp->chan_closed && has_event(evs, n, EV_CHANNEL))
		err = channel_drain(dp);
	for (int i = 0; i < n && !err && !dp->rt.done; i++) {
		uint64_t tag = evs[i].data.u64;

		if (tag == EV_CONTROL)
			err = runtime_control(&dp->rt, dp->table, dp->ntable, dp);
		else if (tag == EV_INPUT && dp->input_watched && dp->ops->input)
			err = dp->ops->input(dp);
		else if (tag >= EV_QUEUE && tag < EV_QUEUE + dp->cfg.cd_nqueues)
			err = queue_kick(dp, (unsigned int)(tag - EV_QUEUE));
		else if ((tag & EV_DEVICE) && running && dp->ops->event)
			err = dp->ops->event(dp, (uint32_t)tag, evs[i].events);
	}
	if (!err && dp->rt.state == DEVPROC_ST_RUN && dp->ops->flush)
		err = dp->ops->flush(dp);
	if (!err && dp->rt.state == DEVPROC_ST_RUN)
		state_save(dp);
	return err;
}

static int devproc_loop(struct devproc *dp)
{
	int err = epoll_add(dp->ep, IPC_FD_CONTROL, EV_CONTROL);

	while (!err && !dp->rt.done) {
		struct epoll_event evs[16];
		int n = epoll_wait(dp->ep, evs, (int)nitems(evs), -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		err = handle_events(dp, evs, n);
	}
	log_debug("%llu register reads forwarded", (unsigned long long)dp->reads);
	return err;
}

int devproc_main(const struct devproc_ops *ops, void *priv, int argc, char **argv)
{
	static struct devproc dp;
	int err;

	(void)argc;
	runtime_init(&dp.rt, argv[0] && argv[0][0] ? argv[0] : ops->name, ops->policy,
		     ops->window->uses_guest_memory);
	dp.ops = ops;
	dp.priv = priv;
	dp.input_fd = -1;
	control_table_init(&dp);
	dp.ep = epoll_create1(EPOLL_CLOEXEC);
	if (dp.ep < 0)
		fatal("epoll_create1");
	err = devproc_loop(&dp);
	if (!err && dp.rt.state == DEVPROC_ST_RUN && ops->flush)
		err = ops->flush(&dp);
	if (err < 0) {
		errno = -err;
		log_warn("stopping");
		runtime_fail(&dp.rt, err, err == -EPROTO ? "protocol error" : ops->name);
		return 1;
	}
	return 0;
}
