/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The child half of the bootstrap, the same for bulkhead-vcpu and every
 * device process: check the fds the supervisor placed, take the guest memory
 * and jail messages, close the jail and load the process's seccomp policy
 * with its placeholders bound, say READY, hear STOP, report an ERROR once.
 *
 * A process keeps one struct runtime. Its control messages go through
 * runtime_control(): CFG_MEM, CFG_JAIL and STOP are handled here, everything
 * else by the process's own table, in the states its rows allow.
 */
#ifndef BULKHEAD_RUNTIME_RUNTIME_H
#define BULKHEAD_RUNTIME_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/ipc.h"
#include "mem/mem.h"
#include "seccomp/policy.h"

#define RUNTIME_ST_BOOT 0x1u /* receiving configuration; processes define higher bits */
#define RUNTIME_MAX_BINDINGS 48

struct runtime {
	const char *policy; /* its seccomp policy: "vcpu", "blk" ... */
	uint32_t state; /* RUNTIME_ST_BOOT or a state bit of the process's own */
	int wants_mem; /* CFG_MEM is accepted (and required before CFG_DONE) */
	struct guest_mem mem; /* the CFG_MEM regions, in order */
	struct ipc_cfg_jail jail; /* CFG_JAIL, required before CFG_DONE */
	struct policy_binding bind[RUNTIME_MAX_BINDINGS]; /* the policy's placeholders */
	size_t nbind;
	uint16_t fd_type; /* the one control message that may carry fds (CONNECT_REPLY), or 0 */
	int rx_fds[IPC_MAX_FDS]; /* the fds that came with the message being dispatched */
	size_t nrx_fds;
	int reported; /* an ERROR with the reason went to the supervisor already */
	int done; /* STOP, or the supervisor is gone: leave the main loop */
	/* the 9p server: its jail's root is a bind mount of this directory fd (jail.h: share),
	 * read-only with share_readonly; -1 for an empty root */
	int share_fd;
	int share_readonly;
};

/* runtime_init: log as name, accept guest memory if wants_mem, bind @CONTROL_FD. */
void runtime_init(struct runtime *rt, const char *name, const char *policy, int wants_mem);
/* runtime_fd_ok: fd is a number messages may name and is open in this process. */
int runtime_fd_ok(int32_t fd);
/* runtime_fd_ok_or_none: runtime_fd_ok, or IPC_FD_NONE. */
int runtime_fd_ok_or_none(int32_t fd);
/* runtime_bind: bind policy placeholder name (which must stay valid) to value; 0 or -ENOSPC. */
int runtime_bind(struct runtime *rt, const char *name, int64_t value)
	__attribute__((warn_unused_result));
/*
 * runtime_bind_fds: check and bind the fd fields of a kind's configuration
 * message msg (fields as in ipc.h's IPC_CFG_<KIND>_FDS); 0 or -EPROTO.
 */
int runtime_bind_fds(struct runtime *rt, const void *msg, const struct ipc_fd_field *fds,
		     size_t nfds) __attribute__((warn_unused_result));
/* runtime_msg_fd: the fd in field f of msg. */
int32_t runtime_msg_fd(const void *msg, const struct ipc_fd_field *f);
/*
 * runtime_control: receive one control message and dispatch it (the runtime's
 * rows first, then table[n] with ctx); 0 or -errno. EOF sets rt->done.
 */
int runtime_control(struct runtime *rt, const struct ipc_handler *table, size_t n, void *ctx)
	__attribute__((warn_unused_result));
/*
 * runtime_accept_fd: from now on, control messages of type (CONNECT_REPLY,
 * VCPU_DEV_SWAP) may carry fds (at most IPC_MAX_FDS); every other message that
 * carries one is refused.
 * runtime_take_fd: in that message's handler, take its one fd (or -1 if it
 * brought none, or more than one); runtime_take_fds: take up to max of its
 * fds into out, and how many. Fds not taken are closed after the handler.
 */
void runtime_accept_fd(struct runtime *rt, uint16_t type);
int runtime_take_fd(struct runtime *rt);
size_t runtime_take_fds(struct runtime *rt, int *out, size_t max);
/* runtime_configured: CFG_JAIL (and CFG_MEM if wanted) arrived; check at CFG_DONE. */
int runtime_configured(const struct runtime *rt);
/* runtime_map_mem: map the guest memory regions. 0 or -errno. */
int runtime_map_mem(struct runtime *rt) __attribute__((warn_unused_result));
/* runtime_map_shadow: map the register shadow memfd fd (checked) with prot; NULL and errno. */
void *runtime_map_shadow(int fd, int prot);
/* runtime_map_page: map the sealed memfd fd of exactly size bytes with prot; NULL and errno. */
void *runtime_map_page(int fd, size_t size, int prot);
/*
 * runtime_jail_fs / runtime_jail_creds: the two halves of the jail (jail.h)
 * with RLIMIT_NOFILE nofile; keep_nproc for the vcpu process. Then
 * runtime_seccomp loads the policy with every binding made. Each failure is
 * logged and reported to the supervisor once. 0 or -errno.
 */
int runtime_jail_fs(struct runtime *rt, unsigned int nofile)
	__attribute__((warn_unused_result));
int runtime_jail_creds(struct runtime *rt, unsigned int nofile, int keep_nproc)
	__attribute__((warn_unused_result));
int runtime_seccomp(struct runtime *rt) __attribute__((warn_unused_result));
/* runtime_lockdown: the whole jail, then the seccomp policy (single-threaded processes). */
int runtime_lockdown(struct runtime *rt, unsigned int nofile) __attribute__((warn_unused_result));
/* runtime_send: send a message without body (READY) on the control channel. */
int runtime_send(enum ipc_type type) __attribute__((warn_unused_result));
/* runtime_fail: report err (negative errno) with what to the supervisor, unless already done. */
void runtime_fail(struct runtime *rt, int err, const char *what);

#endif
