/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/* The supervisor's private interface between its files. */
#ifndef BULKHEAD_SUPERVISOR_SUPERVISOR_H
#define BULKHEAD_SUPERVISOR_SUPERVISOR_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "ipc/ipc.h"
#include "kinds/kinds.h"
#include "loader/loader.h"
#include "common/layout.h"
#include "mem/mem.h"
#include "seccomp/policy.h"

/* Exit statuses (docs/architecture.md, README, bulkhead.1). */
#define EXIT_GUEST_DONE 0 /* reset, power off, triple fault */
#define EXIT_USAGE 2 /* bad usage or configuration */
#define EXIT_VM_FAILED 4 /* a bulkhead process failed, or the VM hit an error */
#define EXIT_SIGNAL_BASE 128 /* + signal number: stopped by SIGINT/SIGTERM/SIGHUP */

/* --on-device-failure restart: more than SUP_RESTART_MAX failures of one device
 * within SUP_RESTART_WINDOW_MS end the VM. */
#define SUP_RESTART_MAX 5
#define SUP_RESTART_WINDOW_MS 60000

/* The vcpu process's: every device's channel, irqfd, queues and shadow, and more. */
#define SPAWN_MAX_FDS (16 + LAYOUT_MAX_DEVICES * (4 + IPC_MAX_QUEUES))

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
	int dev; /* the device instance it serves (s->devs), or -1 */
	int is_spawner; /* the spawner (vm.c), not a child of the VM's own */
	int dismissed; /* the spawner, told to stop: nothing is left for it to start */
	int unstarted; /* its process starts at its socket's first client (kinds.h listen_fd) */
	int ctl_eof; /* its control socket reached EOF; kept open for its next incarnation's */
	/* --on-device-failure restart */
	int restarting; /* dead, its next incarnation asked of the spawner */
	unsigned int gen; /* incarnations after the first */
	uint64_t failed_ns[SUP_RESTART_MAX + 1]; /* when it last failed, newest first */
	char failure[IPC_TEXT_MAX]; /* how it last failed, for the API; "" if it never did */
	uint64_t failed_at; /* when, in ns since launch */
	int error_said; /* this incarnation said why it fails (ERROR), in failure */
	/* With an API socket: its /proc/PID/stat and smaps_rollup (control.c), or -1. */
	int stat_fd, smaps_fd;
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
#define SPAWN_SIBLING 0x4 /* a child of our parent (the spawner's, for the supervisor to reap) */
#define SPAWN_WAIT_EXEC 0x8 /* return once the child has exec'd (CLONE_VFORK) */
#define SPAWN_REPLACEMENT 0x10 /* the next process of a device, not its first */
#define SPAWN_QUIET 0x20 /* a failed clone is the caller's to report */

/* spawn_child: clone + exec helper exe with argv[0] = c->title; ctl and the map's fds only. */
int spawn_child(struct child *c, const char *exe, int ctl_child_end, const struct fd_map *m,
		unsigned int spawn_flags) __attribute__((warn_unused_result));
/* helper_path: where the helper executable "bulkhead-NAME" lives (beside us, else LIBEXECDIR). */
int helper_path(const char *name, char *buf, size_t len) __attribute__((warn_unused_result));

#endif

#ifndef BULKHEAD_SUPERVISOR_SUP_STATE
#define BULKHEAD_SUPERVISOR_SUP_STATE
#define SUP_MAX_CHILDREN (1 + LAYOUT_MAX_DEVICES)
#define SUP_READY_TIMEOUT_MS 10000
#define SUP_STOP_TIMEOUT_MS 3000

enum sup_phase {
	PHASE_STARTING = 1, /* waiting for READY from every child */
	PHASE_RUNNING = 2,
	PHASE_STOPPING = 3, /* STOP sent; waiting for children to exit */
};

/* The eventfds, register shadow and state page of one device, made once for all its processes. */
struct dev_link {
	int irq_fd;
	int queue_fd[IPC_MAX_QUEUES]; /* ioeventfds, datamatch = index */
	unsigned int nqueues;
	int shadow_fd; /* the register shadow memfd (struct ipc_shadow), if the kind keeps one */
	const struct ipc_counters *counters; /* in the shadow, mapped read-only; or NULL */
	int state_fd; /* with restarts: the state page memfd (struct ipc_state), else -1 */
};

struct sup {
	struct vm_config cfg;
	uint64_t launch_ns;
	int kvm_fd;
	struct guest_mem mem;
	struct loader_result boot;
	struct dev_inst devs[LAYOUT_MAX_DEVICES]; /* in the order of the kind table */
	unsigned int ndevs;
	char cmdline[CONFIG_CMDLINE_MAX + LAYOUT_MAX_DEVICES * 48]; /* with virtio_mmio.device= */
	struct child children[SUP_MAX_CHILDREN];
	unsigned int nchildren;
	enum sup_phase phase;
	int status; /* exit status once decided, else -1 */
	char reason[IPC_TEXT_MAX + 64]; /* why the VM ended */
	int sigfd;
	int ep;
	unsigned int spawn_flags; /* SPAWN_*, from the jail mode and our privilege */
	int jail_unprobed; /* spawn_flags's namespaces are not yet known to work (jailplan.c) */
	int jail_failed; /* and a start failed with them: main asks jailplan_recheck why */
	char jail_spawn_error[192]; /* a refused clone, said only if the jail was not why */
	int signalled; /* a signal ended the VM (on_signal) */
	sigset_t old_sigmask; /* what bulkhead was started with, for a second start */
	int policy_fds[2 * SUP_MAX_CHILDREN]; /* --seccomp-policy-dir files, closed after spawning */
	unsigned int npolicy_fds;
	int kmsg_fd; /* /dev/kmsg at its end, to name the call of a seccomp kill; or -1 */
	unsigned int deadline_ms; /* a device answers or drains within this (IPC_DEADLINE_MS) */
	unsigned int restart_window_ms; /* SUP_RESTART_WINDOW_MS (test builds may shorten it) */
	int in_spawner; /* this is the spawner's copy (vm.c) */
	/* What outlives a device's processes: its eventfds, shadow and state page. */
	struct dev_link links[LAYOUT_MAX_DEVICES];
	/* --api-socket (control.c): the API page (mapped read-write), or NULL */
	struct ipc_api_page *api_page;
	int power_fd; /* the power button's eventfd (the GED's irqfd), or -1 */
	int paused; /* every vCPU is stopped (VCPU_PAUSED) */
	uint32_t cmd; /* the API command waiting for the vcpu process (PAUSE, RESUME), or 0 */
	uint32_t cmd_seq; /* and its sequence number */
	int self_stat_fd, self_smaps_fd; /* our own /proc files, or -1 */
};


/* sup_run: the event loop from spawn to the last child's exit; returns the exit status. */
int sup_run(struct sup *s);
/* sup_stop_all: the VM ends: STOP to every child (once). */
void sup_stop_all(struct sup *s);
/* sup_decide: record the VM's exit status and reason, unless one is already recorded. */
void sup_decide(struct sup *s, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * vm_open_devices: one instance per configured device, in the kind table's
 * order, each with its host resources open and its window placed (and listed
 * in s->cmdline); 0, or -1 with a one-line error naming the option in err.
 */
int vm_open_devices(struct sup *s, char *err, size_t errlen) __attribute__((warn_unused_result));
/* vm_close_devices: close the devices' host resources. */
void vm_close_devices(struct sup *s);
/* vm_start_children: create channels and eventfds, spawn and configure every child. */
int vm_start_children(struct sup *s) __attribute__((warn_unused_result));
/*
 * vm_start_spawner: when vm_spawner_needed, fork the spawner, which keeps what
 * starting a device needs (privileges, fds) while the supervisor locks itself
 * down, and starts a device's next (or first) process on request (IPC_SPAWN).
 * 0 or -errno.
 */
int vm_start_spawner(struct sup *s) __attribute__((warn_unused_result));
/* vm_spawner_needed: a device may need a process after the lockdown: --on-device-failure
 * restart, or one whose process has not started yet. */
int vm_spawner_needed(const struct sup *s);
/* vm_ask_respawn: ask the spawner for device i's next process (its first with first).
 * 0 or -errno. */
int vm_ask_respawn(struct sup *s, unsigned int i, int first) __attribute__((warn_unused_result));
/* vm_close_links: close the devices' eventfds, shadows and state pages. */
void vm_close_links(struct sup *s);
/*
 * jailplan_begin: for --jail on, start the throwaway child that finds out which
 * namespaces this environment lets us make, while the supervisor goes on
 * (loading the kernel); jailplan_choose takes its verdict, jailplan_done reaps it.
 */
void jailplan_begin(const struct sup *s);
void jailplan_done(void);
/*
 * A privileged supervisor's full jail is not probed before the children are
 * spawned (s->jail_unprobed); a start that then fails calls jailplan_recheck,
 * which probes as jailplan_choose would have: 0 when the full jail works (the
 * failure was something else), 1 when only a user namespace's does (start
 * again with JAILPLAN_PROBE_ENV set to 1: the probe first, as without
 * privileges), or -EPERM with jailplan_choose's line in err.
 */
#define JAILPLAN_PROBE_ENV "BULKHEAD_JAIL_PROBE"
int jailplan_recheck(struct sup *s, char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * jailplan_choose: for s->cfg's --jail mode, the strongest jail this environment
 * allows (s->spawn_flags, and the children's ids for no-namespaces without
 * CAP_SETUID), said with -v and, when weaker than the full jail, on stderr.
 * 0, or -errno with one line naming --jail and the way out in err.
 */
int jailplan_choose(struct sup *s, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * The API socket's supervisor side (control.c). The api process parses HTTP
 * and JSON; the supervisor answers its fixed-size requests: it fills the API
 * page (the VM's state, every process's figures, every device's counters,
 * the configuration) and runs its commands.
 */
/* control_init: with --api-socket, the API page, the power button's eventfd (with ACPI)
 * and our own /proc files. 0 or -errno. */
int control_init(struct sup *s) __attribute__((warn_unused_result));
/* control_config: with --api-socket, the configuration (the jail's too) into the API page. */
void control_config(const struct sup *s);
/* control_proc_open: with --api-socket, open the /proc files of c's process (exec'd). */
void control_proc_open(const struct sup *s, struct child *c);
/* control_request: API_REQUEST from c (a kind that controls); answers it, or will. */
void control_request(struct sup *s, struct child *c, const struct ipc_api_request *m);
/* control_paused: VCPU_PAUSED from the vcpu process; 0, or -EPROTO if nothing asked for it. */
int control_paused(struct sup *s, const struct ipc_vcpu_pause *m)
	__attribute__((warn_unused_result));
/* control_bindings: the lockdown's placeholders for control.c's fds, into b[0 .. max). */
size_t control_bindings(const struct sup *s, struct policy_binding *b, size_t max);
/* proc_files_open: /proc/PID/stat and smaps_rollup of pid, each -1 if it cannot be opened. */
void proc_files_open(pid_t pid, int *stat_fd, int *smaps_fd);
/*
 * procstat_cpu_ns: user plus system time of /proc/PID/stat text s[0..n), in
 * ns (ticks of tck per second); procstat_mem: Rss and Pss of smaps_rollup
 * text, in bytes. 0, or -EINVAL for text that is not what the kernel writes.
 */
int procstat_cpu_ns(const char *s, size_t n, long tck, uint64_t *ns)
	__attribute__((warn_unused_result));
int procstat_mem(const char *s, size_t n, uint64_t *rss, uint64_t *pss)
	__attribute__((warn_unused_result));
#endif
