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

#include "ipc/ipc.h"
#include "mem/mem.h"

struct devproc;

struct devproc_ops {
	const char *name; /* "bulkhead-serial", ... for logs */
	const char *policy; /* its seccomp policy: "serial", "blk", "net" */
	uint32_t kind; /* enum ipc_dev_kind */
	uint32_t space; /* enum ipc_space of the register window */
	uint64_t window_len; /* bytes or ports */
	int uses_guest_memory; /* map the CFG_MEM regions */
	/* cfg_table: device-specific bootstrap messages (handlers get the devproc). Optional. */
	const struct ipc_handler *cfg_table;
	size_t ncfg_table;
	/* init: the configuration is in dp->cfg; set up the model. Optional. */
	int (*init)(struct devproc *dp);
	/* io_read/io_write: one register access, offset < window_len, size 1/2/4/8. */
	uint64_t (*io_read)(struct devproc *dp, uint64_t offset, unsigned int size);
	void (*io_write)(struct devproc *dp, uint64_t offset, unsigned int size, uint64_t val);
	/* input: dp->cfg.cd_in_fd is readable (only while devproc_watch_input is on). Optional. */
	int (*input)(struct devproc *dp);
	/* queue_notify: the guest kicked queue q. Optional. */
	int (*queue_notify)(struct devproc *dp, unsigned int q);
	/* flush: called after each batch of events and before exit. Optional. */
	int (*flush)(struct devproc *dp);
};

struct devproc {
	const struct devproc_ops *ops;
	struct ipc_cfg_device cfg;
	struct guest_mem mem;
	void *priv; /* the device's own state */
	uint32_t state;
	int ep;
	int input_watched;
	int chan_closed; /* the vcpu process has gone */
	struct ipc_cfg_jail jail; /* CFG_JAIL, required before CFG_DONE */
	int reported; /* an ERROR with the reason went to the supervisor already */
	int done;
	/* IPC_DEV_F_SHADOW: the register shadow the device keeps current, else NULL. */
	struct ipc_shadow *shadow;
	uint32_t applied; /* register writes applied, published as shadow->sh_applied */
	uint64_t poll_ns; /* how long to poll for events before blocking (adaptive) */
	uint64_t polls, poll_hits; /* for the verbose log at exit */
	uint64_t reads; /* register reads forwarded to this process, for the same log */
};

/* devproc_main: run a device process with ops and the device state priv; returns main's status. */
int devproc_main(const struct devproc_ops *ops, void *priv, int argc, char **argv);
#define DEVPROC_NOFILE 64 /* RLIMIT_NOFILE in the jail: every fd we hold is below 32 */

/*
 * Polling before blocking is switched off: with it on, the nested Linux tier
 * hung in about 1 of 3 full runs (L1 busy on both CPUs, the case not ending
 * even on SIGTERM), cause not found; see docs/performance.md, item 1.
 */
#define DEVPROC_POLL 0
/* Bounds of the adaptive poll window before the loop blocks in epoll_wait. */
#define DEVPROC_POLL_MIN_NS 4000ull
#define DEVPROC_POLL_MAX_NS 50000ull

/* DEVPROC_ST_BOOT: the state in which bootstrap messages are permitted (for cfg_table rows). */
#define DEVPROC_ST_BOOT 1u

/* devproc_irq: pulse the device's interrupt (write its irqfd). */
void devproc_irq(struct devproc *dp);
/* devproc_watch_input: start (on=1) or stop (on=0) polling cd_in_fd; stop before the model is full. */
int devproc_watch_input(struct devproc *dp, int on) __attribute__((warn_unused_result));

#endif
