/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-vsock: one virtio-vsock device with Firecracker's hybrid host
 * side. It opens no path: host programs reach it through the listening UNIX
 * socket the supervisor made at PATH and passed (LISTEN_FD); a guest
 * connection to the host's port P becomes a connected socket to PATH_P that
 * it asks the supervisor for (devproc_connect, the broker of kinds/vsock.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "common/layout.h"
#include "common/log.h"
#include "devices/devproc/devproc.h"
#include "vsock.h"

/* Every host connection, the channel, queues and the rest, with room to spare. */
#define VSOCK_NOFILE (VSOCK_MAX_CONNS + DEVPROC_NOFILE)

static struct vsock vsock;
static struct ipc_cfg_vsock vsock_cfg;
static const struct ipc_fd_field vsock_fds[] = IPC_CFG_VSOCK_FDS;

static int vsock_cfg_check(struct devproc *dp, const void *msg)
{
	const struct ipc_cfg_vsock *m = msg;

	(void)dp;
	if (m->vs_cid < IPC_VSOCK_CID_MIN || m->vs_cid > IPC_VSOCK_CID_MAX || m->vs_pad)
		return -EPROTO;
	vsock_cfg = *m;
	return 0;
}

static int dp_watch(struct vsock *v, int op, int fd, uint32_t events, uint32_t tag)
{
	return devproc_watch_fd(v->owner, op, fd, events, tag);
}

static int dp_connect(struct vsock *v, uint32_t seq, uint32_t port)
{
	return devproc_connect(v->owner, seq, port);
}

static int vsock_init(struct devproc *dp)
{
	struct vsock *v = dp->priv;
	int fl = fcntl(vsock_cfg.vs_listen_fd, F_GETFL);

	if (fl < 0 || fcntl(vsock_cfg.vs_listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	vsock_setup(v, vsock_cfg.vs_cid, vsock_cfg.vs_listen_fd, &dp->rt.mem);
	v->owner = dp;
	v->watch = dp_watch;
	v->connect = dp_connect;
	virtio_dp_attach(&v->vd, dp);
	return vsock_start(v);
}

static int vsock_dp_event(struct devproc *dp, uint32_t tag, uint32_t events)
{
	vsock_event(dp->priv, tag, events);
	return 0;
}

static int vsock_dp_connected(struct devproc *dp, uint32_t seq, int err, int fd)
{
	vsock_connected(dp->priv, seq, err, fd);
	return 0;
}

static int vsock_dp_flush(struct devproc *dp)
{
	vsock_flush(dp->priv);
	return 0;
}

static const struct devproc_ops vsock_ops = {
	.name = "bulkhead-vsock",
	.policy = "vsock",
	.kind = IPC_DEV_VSOCK,
	.nqueues = IPC_VSOCK_QUEUES,
	.window = &virtio_dp_window,
	.nofile = VSOCK_NOFILE,
	.msg = DEVPROC_MSG(IPC_CFG_VSOCK, struct ipc_cfg_vsock, vsock_fds),
	.cfg = vsock_cfg_check,
	.init = vsock_init,
	.flush = vsock_dp_flush,
	.event = vsock_dp_event,
	.connected = vsock_dp_connected,
};

int main(int argc, char **argv)
{
	return devproc_main(&vsock_ops, &vsock, argc, argv);
}
