/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The jail every bulkhead child enters after its bootstrap and before it
 * reads anything from the guest (DESIGN.md, Jail), in this order:
 *  1. (at spawn, by the supervisor: a new PID namespace, and for an
 *     unprivileged supervisor a new user namespace with it)
 *  2. new mount, network, IPC and UTS namespaces; pivot_root into an empty
 *     read-only tmpfs: no /proc, no /dev (or, for the 9p file server, into
 *     a bind mount of the shared directory: see share below)
 *  3. rlimits: no new processes, no core files, bounded open files
 *  4. drop every capability (libcap-ng), then setgroups, setresgid, setresuid
 *     to the unprivileged id
 *  5. PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0
 *  6. (the caller then loads its seccomp filter, last)
 * A step that cannot be taken is an error naming the step; the jail is never
 * weakened silently.
 */
#ifndef BULKHEAD_JAIL_JAIL_H
#define BULKHEAD_JAIL_JAIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum jail_mode {
	JAIL_FULL = 0, /* every step */
	JAIL_NO_NAMESPACES = 1, /* --jail no-namespaces: skip step 2 (and 1) */
	JAIL_OFF = 2, /* --jail off: nothing */
};

#define JAIL_DEFAULT_ID 62222 /* the dedicated uid/gid when none is configured */

struct jail_config {
	enum jail_mode mode;
	uid_t uid; /* never 0 */
	gid_t gid; /* never 0 */
	int userns; /* we run in a user namespace we own (unprivileged supervisor) */
	unsigned int nofile; /* RLIMIT_NOFILE: highest fd the process may hold + 1 */
	/*
	 * Skip RLIMIT_NPROC 0. Only for the vcpu process: since Linux 6.13 KVM
	 * starts its per-VM worker (NX huge page recovery) on the first KVM_RUN
	 * as a user worker task of the calling process, which counts against
	 * RLIMIT_NPROC, so KVM_RUN fails with EAGAIN under the limit. Its
	 * seccomp policy allows no process or thread creation instead.
	 */
	int keep_nproc;
	/*
	 * share: the new root is not an empty tmpfs but a bind mount of the
	 * directory share_fd (the 9p server's shared directory), nosuid, nodev,
	 * noexec, and read-only with share_readonly; afterwards share_fd refers
	 * to that mount's root. The bind is not recursive: mounts below the
	 * directory stay out of it, and where they cannot (an unprivileged user's
	 * namespace locks them in) the step fails. Not used for other processes.
	 */
	int share;
	int share_fd;
	int share_readonly;
};

/*
 * jail_map_ids: in a user namespace just made by an unprivileged user (step
 * 1), map its root to that user's uid and gid, with setgroups denied. 0 or
 * -errno.
 */
int jail_map_ids(uid_t uid, gid_t gid) __attribute__((warn_unused_result));

/*
 * jail_enter_fs: steps 2 (namespaces and the empty root). Must run while the
 * process is single-threaded. 0 or -errno with the failed step in err.
 */
int jail_enter_fs(const struct jail_config *jc, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/*
 * jail_enter_creds: steps 3 to 5 (rlimits, capabilities, ids, no_new_privs,
 * not dumpable). Threads created before it share the id change. 0 or -errno
 * with the failed step in err.
 */
int jail_enter_creds(const struct jail_config *jc, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/*
 * jail_narrow_supervisor: what the supervisor keeps once its children run
 * (it stays in the host's namespaces to watch them): run as root, only
 * CAP_KILL, for stragglers; and no_new_privs, before its own seccomp filter.
 * 0 or -errno with the failed step in err.
 */
int jail_narrow_supervisor(char *err, size_t errlen) __attribute__((warn_unused_result));

/* jail_enter: jail_enter_fs then jail_enter_creds, for single-threaded children. */
int jail_enter(const struct jail_config *jc, char *err, size_t errlen)
	__attribute__((warn_unused_result));

struct ipc_cfg_jail;

/* jail_from_ipc: the jail configuration a CFG_JAIL message describes; 0 or -EPROTO. */
int jail_from_ipc(const struct ipc_cfg_jail *m, struct jail_config *jc, unsigned int nofile)
	__attribute__((warn_unused_result));

#endif
