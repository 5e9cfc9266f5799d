/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device-kind table: one const row per kind of device process (serial,
 * blk, net, ...). Everything the supervisor does per kind is a loop over it:
 * parsing and checking the kind's option and printing it in --help and the
 * man page, opening its host resources, placing its register window (and
 * listing it on the command line and in the DSDT), spawning its process with
 * its kind's configuration message. The probe and the policy build loop over
 * it too. Each row lives in its kind's file here (kinds/blk.c, ...); kinds.c
 * lists them.
 *
 * These files run in the supervisor only: everything a device process runs
 * is in devices/<kind>/, jailed.
 */
#ifndef BULKHEAD_KINDS_KINDS_H
#define BULKHEAD_KINDS_KINDS_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/ipc.h"
#include "supervisor/config.h"

/*
 * How a kind's register window is reached: where the supervisor places it,
 * and what the vcpu process must know to forward it (its kind's declaration:
 * the vcpu process knows no device model).
 */
struct dev_transport {
	const char *name; /* "virtio-mmio" */
	uint32_t space; /* enum ipc_space */
	uint64_t base; /* a fixed first port or address, or 0: the next virtio-mmio window */
	uint64_t len; /* bytes or ports */
	uint32_t gsi; /* a fixed GSI, or 0: the window's */
	uint32_t notify_off; /* queue notify register (ioeventfds), for kinds with queues */
	uint32_t nsync; /* writes to sync_off[0..nsync) wait until the device applied them */
	uint32_t sync_off[IPC_MAX_SYNC_WRITES];
	uint16_t shadow_width; /* register shadow: registers of this width from offset 0 */
	uint16_t shadow_regs; /* how many (0: the kind keeps no shadow) */
	uint32_t shadow_config_off; /* and config space from here (0: none) */
	int shadow; /* a shadow page (its count of applied writes at least; see shadow_regs) */
	int announce; /* a virtio-mmio window: listed on the command line and in the DSDT */
};

/* The transports there are. */
extern const struct dev_transport kinds_virtio_mmio;
extern const struct dev_transport kinds_com1;

struct dev_inst;

struct dev_kind {
	/* The option: --<option> synopsis; help is one paragraph for --help and the man page. */
	const char *option;
	const char *synopsis;
	const char *help;
	const struct key_def *keys; /* of the kind's options struct, at most 32 */
	size_t nkeys;
	/* a value that is one bare word (--serial stdio): 0 if taken, -1 if not a word */
	int (*word)(void *opts, const char *val);
	const char *words; /* for messages: "stdio, none" */
	/* the bare word opts stand for, or NULL when its keys say it all; optional */
	const char *(*word_of)(const void *opts);
	void (*defaults)(void *opts); /* a new instance's options before its keys; optional */
	/* after parsing: one line naming the option in err and -1, or 0 */
	int (*check)(void *opts, char *err, size_t errlen);
	unsigned int max; /* instances at most; 1: the option replaces its one instance */
	/* the option may be given with no value (--rng): an instance with its defaults; a kind
	 * with a required key cannot set this */
	int bare;
	int always; /* there is an instance even without the option */

	/* The process: bulkhead-<helper>, policy <helper>.policy, instances <helper>0, ... */
	const char *helper;
	uint32_t ipc_kind; /* enum ipc_dev_kind */
	uint32_t virtio_id; /* virtio device id, or 0 */
	unsigned int nqueues; /* ioeventfds (ipc.h: IPC_<KIND>_QUEUES) */
	int uses_guest_memory;
	/* its register window, or NULL for a process that has none (the API's):
	 * no window, vcpu channel, interrupt, queues, shadow or CFG_DEVICE */
	const struct dev_transport *transport;

	/*
	 * open: open the instance's host resources and fill its configuration
	 * message d->msg (type msg_type, msg_size bytes), the fds in its fd fields
	 * (fds[nfds], from ipc.h's IPC_CFG_<KIND>_FDS) being the supervisor's own,
	 * which it places in the child and closes at exit. 0, or -1 with one line
	 * naming the option in err.
	 */
	int (*open)(struct dev_inst *d, char *err, size_t errlen);
	uint16_t msg_type;
	uint32_t msg_size;
	const struct ipc_fd_field *fds;
	size_t nfds;
	/* the fd field (its placeholder) whose directory the process's jail root is a bind
	 * mount of (jail.h: share), or NULL for an empty root; the probe builds that jail */
	const char *share_fd;

	/* --on-device-failure restart: whether a process of this kind may be replaced
	 * while the guest runs, and if not, why. */
	int restartable;
	const char *no_restart_reason;
	/* the VM goes on without its process if it dies and is not restarted (the API) */
	int expendable;
	/* its process may send API_REQUEST: snapshots, pause, resume, shutdown (the API) */
	int controls;
	/*
	 * the fd field of a listening socket the kind's process serves, or NULL. With
	 * one, the process starts at the first connection (the spawner starts it, as a
	 * restart would; clients wait in the backlog), not with the VM: an idle socket
	 * costs the start nothing. Only for an expendable, restartable kind without a
	 * window (the API's).
	 */
	const char *listen_fd;

	/*
	 * connect: the broker for this kind's run-time host connections, or NULL
	 * (then the device may not ask). Its device sent CONNECT for port: check
	 * port against the instance's configuration, and return a connected,
	 * non-blocking, close-on-exec stream socket, or -errno. It runs in the
	 * supervisor after its lockdown: without blocking, with only the calls
	 * supervisor.policy allows for brokering (socket(AF_UNIX), connect).
	 */
	int (*connect)(const struct dev_inst *d, uint32_t port);
};

/* One device of the VM as the supervisor runs it. */
struct dev_inst {
	const struct dev_kind *kind;
	const void *opts; /* its options (struct dev_config.opts) */
	unsigned int index; /* among its kind: blk0, blk1 */
	char name[IPC_NAME_MAX]; /* "blk0"; "serial" for a kind with one instance */
	uint64_t base, len; /* its window */
	uint32_t gsi;
	int uses_stdio; /* its host end is the supervisor's terminal (made raw while it runs) */
	union {
		struct ipc_hdr h;
		_Alignas(8) char bytes[IPC_MAX_MSG];
	} msg; /* its kind's configuration message */
};

/* The table. */
extern const struct dev_kind *const kinds_table[];
extern const size_t kinds_count;

/* kinds_find: the kind whose option is name[0..len), or NULL. */
const struct dev_kind *kinds_find(const char *name, size_t len);
/* kinds_by_helper: the kind whose process is bulkhead-<helper>, or NULL. */
const struct dev_kind *kinds_by_helper(const char *helper);
/* kinds_announced: k has a virtio-mmio window listed on the command line and in the DSDT. */
int kinds_announced(const struct dev_kind *k);
/* kinds_msg_fd / kinds_set_msg_fd: the fd in field i of d's message. */
int kinds_msg_fd(const struct dev_inst *d, size_t i);
void kinds_set_msg_fd(struct dev_inst *d, size_t i, int fd);
/* kinds_listen_fd: the supervisor's listening socket of d whose first client starts
 * d's process (the kind's listen_fd), or -1. */
int kinds_listen_fd(const struct dev_inst *d);
/* kinds_close: close the supervisor's fds in d's message. */
void kinds_close(struct dev_inst *d);

/*
 * The supervisor's policy lets it create and connect sockets for brokered
 * connections only while a device of a kind with a broker runs: the
 * placeholders @BROKER_FAMILY and @BROKER_ADDRLEN of supervisor.policy are
 * bound to AF_UNIX and sizeof(struct sockaddr_un) then, else to
 * KINDS_BROKER_NONE, which no socket family or address length is.
 */
#define KINDS_BROKER_NONE UINT64_MAX

#endif
