/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-net: one virtio-net device over a TAP fd the supervisor opened
 * (with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and a 12-byte vnet header).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/layout.h"
#include "common/log.h"
#include "devices/devproc/devproc.h"
#include "net.h"

static struct net net;
static struct ipc_cfg_net net_cfg;
static const struct ipc_fd_field net_fds[] = IPC_CFG_NET_FDS;

static int tap_set_offload(int fd, unsigned int flags)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags);
}

static int net_watch(struct net *n, int on)
{
	return devproc_watch_input(n->owner, on);
}

static int net_cfg_check(struct devproc *dp, const void *msg)
{
	const struct ipc_cfg_net *m = msg;

	/* A MAC must be unicast (bit 0 of the first byte clear). */
	if (m->cn_mac[0] & 1)
		return -EPROTO;
	net_cfg = *m;
	devproc_set_input(dp, m->cn_tap_fd);
	return 0;
}

static int net_init(struct devproc *dp)
{
	struct net *n = dp->priv;
	int fl;

	fl = fcntl(net_cfg.cn_tap_fd, F_GETFL);
	if (fl < 0 || fcntl(net_cfg.cn_tap_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	net_setup(n, net_cfg.cn_tap_fd, net_cfg.cn_mac, &dp->rt.mem);
	n->set_offload = tap_set_offload;
	n->watch_tap = net_watch;
	n->owner = dp;
	virtio_dp_attach(&n->vd, dp);
	return 0;
}

static int net_input(struct devproc *dp)
{
	return net_tap_readable(dp->priv);
}

static int net_flush(struct devproc *dp)
{
	return net_update_watch(dp->priv);
}

static const struct devproc_ops net_ops = {
	.name = "bulkhead-net",
	.policy = "net",
	.kind = IPC_DEV_NET,
	.nqueues = IPC_NET_QUEUES,
	.window = &virtio_dp_window,
	.msg = DEVPROC_MSG(IPC_CFG_NET, struct ipc_cfg_net, net_fds),
	.cfg = net_cfg_check,
	.init = net_init,
	.input = net_input,
	.flush = net_flush,
};

int main(int argc, char **argv)
{
	return devproc_main(&net_ops, &net, argc, argv);
}
