/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/* The supervisor's private interface between its files. */
#ifndef BULKHEAD_SUPERVISOR_SUPERVISOR_H
#define BULKHEAD_SUPERVISOR_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "ipc/ipc.h"
#include "loader/loader.h"
#include "common/layout.h"
#include "mem/mem.h"

/* Exit statuses (docs/architecture.md, README, bulkhead.1). */
#define EXIT_GUEST_DONE 0 /* reset, power off, triple fault */
#define EXIT_USAGE 2 /* bad usage or configuration */
#define EXIT_VM_FAILED 4 /* a bulkhead process failed, or the VM hit an error */
#define EXIT_SIGNAL_BASE 128 /* + signal number: stopped by SIGINT/SIGTERM/SIGHUP */

/* The vcpu process's: 16 virtio devices x (channel, irqfd, 2 queues, shadow), and more. */
#define SPAWN_MAX_FDS 128

struct child {
	char name[IPC_NAME_MAX]; /* "vcpu", "serial" */
	char title[64]; /* argv[0]: "bulkhead/<vm>/<name>" */
	pid_t pid;
	int pidfd;
	int ctl; /* supervisor end of the control socket */
	int ready;
	int exited;
	int is_vcpu;
	int policy_fd, include_fd; /* --seccomp-policy-dir: numbers in the child, or IPC_FD_NONE */
};

/* Fds to place in a child at fixed numbers. */
struct fd_map {
	int src[SPAWN_MAX_FDS];
	int dst[SPAWN_MAX_FDS];
	unsigned int n;
	int next; /* next free number */
};

/* fdmap_init: empty map whose first number is IPC_FD_CONTROL + 1. */
void fdmap_init(struct fd_map *m);
/* fdmap_add: place src in the child; returns its number there, or -1 if full. */
int fdmap_add(struct fd_map *m, int src);
#define SPAWN_NEWPID 0x1 /* a new PID namespace: the child sees no other process */
#define SPAWN_NEWUSER 0x2 /* and a user namespace, for an unprivileged supervisor */

/* spawn_child: clone + exec helper exe with argv[0] = c->title; ctl and the map's fds only. */
int spawn_child(struct child *c, const char *exe, int ctl_child_end, const struct fd_map *m,
		unsigned int spawn_flags) __attribute__((warn_unused_result));
/* helper_path: where the helper executable "bulkhead-NAME" lives (beside us, else LIBEXECDIR). */
int helper_path(const char *name, char *buf, size_t len) __attribute__((warn_unused_result));

#endif

#ifndef BULKHEAD_SUPERVISOR_SUP_STATE
#define BULKHEAD_SUPERVISOR_SUP_STATE
#define SUP_MAX_CHILDREN (2 + IPC_MAX_DEVICES)
#define SUP_READY_TIMEOUT_MS 10000
#define SUP_STOP_TIMEOUT_MS 3000

enum sup_phase {
	PHASE_STARTING = 1, /* waiting for READY from every child */
	PHASE_RUNNING = 2,
	PHASE_STOPPING = 3, /* STOP sent; waiting for children to exit */
};

/* A virtio-mmio device the supervisor sets up: its window, GSI, backend and config. */
struct vdev {
	char name[IPC_NAME_MAX]; /* "blk0" */
	const char *helper; /* executable suffix: "blk" */
	uint32_t kind; /* enum ipc_dev_kind */
	uint64_t base; /* MMIO window */
	uint32_t gsi;
	unsigned int nqueues;
	int backend_fd; /* image or TAP */
	struct ipc_cfg_blk blk; /* IPC_DEV_BLK */
	struct ipc_cfg_net net; /* IPC_DEV_NET */
};

struct sup {
	struct vm_config cfg;
	uint64_t launch_ns;
	int kvm_fd;
	int serial_fd; /* --serial file=: opened at start, handed to the serial process */
	struct guest_mem mem;
	struct loader_result boot;
	struct vdev vdevs[LAYOUT_MAX_VIRTIO_DEVICES];
	unsigned int nvdevs;
	char cmdline[CONFIG_CMDLINE_MAX + LAYOUT_MAX_VIRTIO_DEVICES * 48]; /* with virtio_mmio.device= */
	struct child children[SUP_MAX_CHILDREN];
	unsigned int nchildren;
	enum sup_phase phase;
	int status; /* exit status once decided, else -1 */
	char reason[IPC_TEXT_MAX + 64]; /* why the VM ended */
	int sigfd;
	int ep;
	unsigned int spawn_flags; /* SPAWN_*, from the jail mode and our privilege */
	int policy_fds[2 * SUP_MAX_CHILDREN]; /* --seccomp-policy-dir files, closed after spawning */
	unsigned int npolicy_fds;
	int kmsg_fd; /* /dev/kmsg at its end, to name the call of a seccomp kill; or -1 */
};

/* sup_run: the event loop from spawn to the last child's exit; returns the exit status. */
int sup_run(struct sup *s);
/* sup_decide: record the VM's exit status and reason, unless one is already recorded. */
void sup_decide(struct sup *s, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* disks_open: open, check and lock every --disk image into s->vdevs; 0, or -1 with a
 * one-line error naming the option in err. */
int disks_open(struct sup *s, char *err, size_t errlen) __attribute__((warn_unused_result));
/* nets_open: open (or adopt) every --net TAP into s->vdevs; 0 or -1 with err. */
int nets_open(struct sup *s, char *err, size_t errlen) __attribute__((warn_unused_result));
/* vm_start_children: create channels and eventfds, spawn and configure every child. */
int vm_start_children(struct sup *s) __attribute__((warn_unused_result));
/* now_ns: CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/*
 * jailplan_choose: for s->cfg's --jail mode, the strongest jail this environment
 * allows (s->spawn_flags, and the children's ids for no-namespaces without
 * CAP_SETUID), said with -v and, when weaker than the full jail, on stderr.
 * 0, or -errno with one line naming --jail and the way out in err.
 */
int jailplan_choose(struct sup *s, char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * snapshot_overlay: for --disk snapshot=on, a private unlinked copy (reflink
 * where it can) of the open image at path, of size bytes, which it closes; the
 * new fd (O_DIRECT with direct), or -1 with one line naming --disk in err.
 */
int snapshot_overlay(int image, const char *path, int direct, uint64_t size, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
#endif
