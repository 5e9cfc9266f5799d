/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --vsock: virtio-vsock, served by bulkhead-vsock, with Firecracker's hybrid
 * host side. The supervisor makes the listening UNIX socket at uds=PATH
 * (host programs connect there and write "CONNECT <port>\n") and passes it;
 * it refuses a PATH that is not a socket or where something listens, and
 * removes a stale socket left by an earlier run. A guest connection to the
 * host's port P is brokered: the device asks (IPC_CONNECT), and vsock_connect
 * below connects to PATH_P without blocking and hands the socket over.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "common/log.h"
#include "kinds.h"
#include "supervisor/unixsock.h"

#define VSOCK_BACKLOG 64
#define PORT_DIGITS 10 /* "_4294967295" */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))
/* PATH_<port> must fit a sockaddr_un with its NUL. */
#define UDS_MAX (SUN_PATH_MAX - 1 - 1 - PORT_DIGITS)

struct vsock_opts {
	uint64_t cid; /* cid=N, >= 3 */
	char uds[PATH_MAX]; /* uds=PATH */
};
_Static_assert(sizeof(struct vsock_opts) <= CONFIG_DEV_OPTS_MAX, "vsock options fit");

static const struct key_def vsock_keys[] = {
	CONFIG_KEY("cid", KEY_U64, struct vsock_opts, cid, KEY_REQUIRED | KEY_NONEMPTY),
	CONFIG_KEY("uds", KEY_STRING, struct vsock_opts, uds,
		   KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
};

static int vsock_check(void *opts, char *err, size_t errlen)
{
	const struct vsock_opts *o = opts;

	if (o->cid < IPC_VSOCK_CID_MIN || o->cid > IPC_VSOCK_CID_MAX) {
		snprintf(err, errlen, "--vsock: cid=%llu: must be from %u to %llu (0-2 are reserved)",
			 (unsigned long long)o->cid, IPC_VSOCK_CID_MIN,
			 (unsigned long long)IPC_VSOCK_CID_MAX);
		return -1;
	}
	if (strlen(o->uds) > UDS_MAX) {
		snprintf(err, errlen,
			 "--vsock: uds=%.48s...: too long: PATH_<port> must fit a UNIX socket address "
			 "(PATH at most %zu bytes)",
			 o->uds, (size_t)UDS_MAX);
		return -1;
	}
	return 0;
}

static int vsock_open(struct dev_inst *d, char *err, size_t errlen)
{
	const struct vsock_opts *o = d->opts;
	struct ipc_cfg_vsock *m = (struct ipc_cfg_vsock *)d->msg.bytes;
	int fd = unix_sock_listen("--vsock: uds=", o->uds, UNIX_SOCK_UMASK_KEEP, VSOCK_BACKLOG, err,
				  errlen);

	if (fd < 0)
		return -1;
	ipc_init(m, IPC_CFG_VSOCK, sizeof(*m));
	m->vs_cid = o->cid;
	m->vs_listen_fd = fd;
	return 0;
}

/* The broker: the guest connects to the host's port: PATH_<port>, never waiting. */
static int vsock_connect(const struct dev_inst *d, uint32_t port)
{
	const struct vsock_opts *o = d->opts;
	char path[SUN_PATH_MAX];

	if (snprintf(path, sizeof(path), "%s_%u", o->uds, port) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return unix_sock_connect(path);
}

static const struct ipc_fd_field vsock_fds[] = IPC_CFG_VSOCK_FDS;

const struct dev_kind kind_vsock = {
	.option = "vsock",
	.synopsis = "cid=N,uds=PATH",
	.help = "A virtio-vsock device (at most one) with Firecracker's hybrid host side, served "
		"by bulkhead-vsock. N is the guest's CID (3 or more). A host program connects to "
		"the UNIX socket PATH, which bulkhead creates (removing a stale one), writes "
		"\"CONNECT <port>\\n\", reads \"OK <host_port>\\n\" and then talks to the guest's "
		"listener on that port; a guest connection to CID 2, port P reaches the program "
		"listening on the UNIX socket PATH_P. Stream sockets; at most 64 connections.",
	.keys = vsock_keys,
	.nkeys = nitems(vsock_keys),
	.check = vsock_check,
	.max = 1,
	.helper = "vsock",
	.ipc_kind = IPC_DEV_VSOCK,
	.virtio_id = IPC_VSOCK_VIRTIO_ID,
	.nqueues = IPC_VSOCK_QUEUES,
	.uses_guest_memory = 1,
	.transport = &kinds_virtio_mmio,
	.open = vsock_open,
	.msg_type = IPC_CFG_VSOCK,
	.msg_size = sizeof(struct ipc_cfg_vsock),
	.fds = vsock_fds,
	.nfds = nitems(vsock_fds),
	.connect = vsock_connect,
	.no_restart_reason = "its connections are host sockets and credit counters that die with "
			     "the process",
};
