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

static int tap_set_offload(int fd, unsigned int flags)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags);
}

static int net_watch(struct net *n, int on)
{
	return devproc_watch_input(n->owner, on);
}

static int on_cfg_net(void *arg, const void *msg)
{
	const struct ipc_cfg_net *m = msg;

	(void)arg;
	/* A MAC must be unicast (bit 0 of the first byte clear). */
	if (net_cfg.h.ih_type || (m->cn_mac[0] & 1))
		return -EPROTO;
	net_cfg = *m;
	return 0;
}

static int net_init(struct devproc *dp)
{
	struct net *n = dp->priv;
	int fl;

	if (!net_cfg.h.ih_type || dp->cfg.cd_nqueues != 2 || dp->cfg.cd_in_fd == IPC_FD_NONE)
		return -EPROTO;
	fl = fcntl(dp->cfg.cd_in_fd, F_GETFL);
	if (fl < 0 || fcntl(dp->cfg.cd_in_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	net_setup(n, dp->cfg.cd_in_fd, net_cfg.cn_mac, &dp->mem);
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

static const struct ipc_handler net_cfg_table[] = {
	{ IPC_CFG_NET, sizeof(struct ipc_cfg_net), DEVPROC_ST_BOOT, on_cfg_net },
};

static const struct devproc_ops net_ops = {
	.name = "bulkhead-net",
	.policy = "net",
	.kind = IPC_DEV_NET,
	.space = IPC_SPACE_MMIO,
	.window_len = LAYOUT_VIRTIO_MMIO_SIZE,
	.uses_guest_memory = 1,
	.cfg_table = net_cfg_table,
	.ncfg_table = nitems(net_cfg_table),
	.init = net_init,
	.io_read = virtio_dp_read,
	.io_write = virtio_dp_write,
	.input = net_input,
	.queue_notify = virtio_dp_notify,
	.flush = net_flush,
};

int main(int argc, char **argv)
{
	return devproc_main(&net_ops, &net, argc, argv);
}
