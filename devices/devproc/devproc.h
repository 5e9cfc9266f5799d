/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shape every device process shares: receive the configuration from the
 * supervisor, map guest memory if the device needs it, answer READY, then
 * one epoll loop: register accesses from the vcpu process, queue kicks, and
 * the backend fd. A device is a const ops table; this module owns main's loop.
 */
#ifndef BULKHEAD_DEVICES_DEVPROC_DEVPROC_H
#define BULKHEAD_DEVICES_DEVPROC_DEVPROC_H

#include <stdint.h>

#include "common/log.h"
#include "ipc/ipc.h"
#include "mem/mem.h"
#include "runtime/runtime.h"

struct devproc;

/*
 * A device's register window and what reaches it from the guest: the same
 * for every device of one transport (devices/virtio: virtio_dp_window).
 */
struct devproc_window {
	uint32_t space; /* enum ipc_space */
	uint64_t len; /* bytes or ports */
	int uses_guest_memory; /* map the CFG_MEM regions */
	/* io_read/io_write: one register access, offset < len, size 1/2/4/8. */
	uint64_t (*io_read)(struct devproc *dp, uint64_t offset, unsigned int size);
	void (*io_write)(struct devproc *dp, uint64_t offset, unsigned int size, uint64_t val);
	/* queue_notify: the guest kicked queue q. Optional. */
	int (*queue_notify)(struct devproc *dp, unsigned int q);
	/*
	 * For --on-device-failure restart (ipc.h, struct ipc_state): save writes
	 * a snapshot of what a replacing process needs into data (at most max
	 * bytes) and returns its length; restore takes over from a copy of the
	 * snapshot and of the live area a process that died left (data NULL: the
	 * page is not to be trusted, the device must say it needs a reset). Both
	 * or neither.
	 */
	size_t (*save)(struct devproc *dp, void *data, size_t max);
	int (*restore)(struct devproc *dp, const void *data, size_t len, const void *live);
};

/*
 * A kind's configuration message (ipc.h): type, exact size and fd fields. The
 * runtime checks the fds and binds them to the placeholders they name.
 */
struct devproc_msg {
	uint16_t type;
	uint32_t size;
	const struct ipc_fd_field *fds;
	size_t nfds;
};
#define DEVPROC_MSG(t, s, f) { .type = (t), .size = sizeof(s), .fds = (f), .nfds = nitems(f) }

struct devproc_ops {
	const char *name; /* "bulkhead-serial", ... for logs */
	const char *policy; /* its seccomp policy: "serial", "blk", "net" */
	uint32_t kind; /* enum ipc_dev_kind */
	unsigned int nqueues; /* ioeventfds it must be given (ipc.h: IPC_<KIND>_QUEUES) */
	const struct devproc_window *window;
	unsigned int nofile; /* RLIMIT_NOFILE in the jail; 0: DEVPROC_NOFILE */
	struct devproc_msg msg;
	/* cfg: check the message's other fields and keep what the device needs */
	int (*cfg)(struct devproc *dp, const void *msg);
	/* init: the configuration is in; set up the model. Optional. */
	int (*init)(struct devproc *dp);
	/* input: the input fd is readable (only while devproc_watch_input is on). Optional. */
	int (*input)(struct devproc *dp);
	/* flush: called after each batch of events and before exit. Optional. */
	int (*flush)(struct devproc *dp);
	/* event: an fd the device watches (devproc_watch_fd) has events (EPOLLIN, EPOLLOUT,
	 * EPOLLHUP...) under the device's tag. Optional. */
	int (*event)(struct devproc *dp, uint32_t tag, uint32_t events);
	/*
	 * connected: the supervisor answered devproc_connect(seq): err 0 and fd, a
	 * connected non-blocking socket the device now owns, or a negative errno
	 * and fd -1. Set only by a kind whose row has a broker (kinds.h: connect);
	 * then, and only then, the control channel takes CONNECT_REPLY with its fd.
	 */
	int (*connected)(struct devproc *dp, uint32_t seq, int err, int fd);
};

/* The main loop's epoll tags: what woke it (and what devproc_pending tells apart). */
enum ev_source {
	EV_CONTROL = 1,
	EV_CHANNEL = 2,
	EV_INPUT = 3,
	EV_QUEUE = 16, /* EV_QUEUE + q */
};
#define EV_DEVICE (1ull << 32) /* EV_DEVICE | tag: an fd of the device's own (devproc_watch_fd) */

struct devproc {
	const struct devproc_ops *ops;
	struct runtime rt; /* bootstrap, jail, guest memory (rt.mem) */
	struct ipc_cfg_device cfg;
	int have_kind_cfg;
	struct ipc_handler table[4]; /* CFG_DEVICE, the kind's message, CFG_DONE, CONNECT_REPLY */
	size_t ntable;
	void *priv; /* the device's own state */
	int ep;
	int input_fd; /* what input() reads (devproc_set_input), or -1 */
	int input_watched;
	int chan_closed; /* the vcpu process has gone */
	/* IPC_DEV_F_SHADOW: the register shadow the device keeps current, else NULL. */
	struct ipc_shadow *shadow;
	/* The counters the supervisor reads (ipc.h), in the shadow page; NULL without one. */
	struct ipc_counters *counters;
	/* IPC_DEV_F_STATE: the state page the device keeps current, else NULL; with
	 * IPC_DEV_F_RESTORE, a copy of what the process it replaces left there. */
	struct ipc_state *state;
	struct ipc_state *restore_from;
	int restore_ok; /* restore_from's current slot holds a whole snapshot of this kind */
	uint32_t applied; /* register writes applied, published as shadow->sh_applied */
	uint64_t reads; /* register reads forwarded to this process, for the verbose log */
};

/* devproc_main: run a device process with ops and the device state priv; returns main's status. */
int devproc_main(const struct devproc_ops *ops, void *priv, int argc, char **argv);
#define DEVPROC_NOFILE 64 /* RLIMIT_NOFILE in the jail: every fd we hold is below 32 */

/* DEVPROC_ST_RUN: serving, after READY. */
#define DEVPROC_ST_RUN 0x2u

/* devproc_state_live: the state page's live area (IPC_STATE_LIVE bytes, written through),
 * or NULL: without a state page, and in a replacement until it has restored. */
void *devproc_state_live(struct devproc *dp);
/* devproc_count: add to the device's counters (ipc.h, struct ipc_counters), if it keeps any. */
void devproc_count(struct devproc *dp, uint64_t requests, uint64_t bytes, uint64_t errors);
/* devproc_irq: pulse the device's interrupt (write its irqfd). */
void devproc_irq(struct devproc *dp);
/* devproc_pending: something waits for the main loop (a register access, a control message,
 * a kick of another queue) while queue q is watched; q's own kicks are taken. */
int devproc_pending(struct devproc *dp, unsigned int q);
/* devproc_set_input: the fd input() reads (from the kind's message), in cfg(). */
void devproc_set_input(struct devproc *dp, int fd);
/* devproc_watch_input: start (on=1) or stop (on=0) polling the input fd; stop before the model is full. */
int devproc_watch_input(struct devproc *dp, int on) __attribute__((warn_unused_result));
/* devproc_connect: ask the supervisor for the host connection the kind maps port to;
 * ops->connected gets the answer to seq. 0 or -errno. */
int devproc_connect(struct devproc *dp, uint32_t seq, uint32_t port)
	__attribute__((warn_unused_result));
/*
 * devproc_watch_fd: op (EPOLL_CTL_ADD, _MOD, _DEL) on the device's own fd (a
 * host connection) in the process's epoll set: its events are reported to
 * ops->event with tag. An fd the device closes leaves the set with it; an
 * event of it may still be in the batch being handled, so tags should tell a
 * reused fd from the old one. 0 or -errno.
 */
int devproc_watch_fd(struct devproc *dp, int op, int fd, uint32_t events, uint32_t tag)
	__attribute__((warn_unused_result));

#endif
