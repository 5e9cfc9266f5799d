/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-blk: one virtio-blk device over a raw image the supervisor opened.
 * Requests arrive through an ioeventfd and complete through an irqfd: the
 * vcpu process is not on the data path.
 */
#include <errno.h>
#include <string.h>

#include "blk.h"
#include "common/layout.h"
#include "common/log.h"
#include "devices/devproc/devproc.h"

static struct blk blk;
static struct ipc_cfg_blk blk_cfg;
static const struct ipc_fd_field blk_fds[] = IPC_CFG_BLK_FDS;

static int blk_cfg_check(struct devproc *dp, const void *msg)
{
	const struct ipc_cfg_blk *m = msg;

	(void)dp;
	if (m->cb_size == 0 || m->cb_size % 512 ||
	    (m->cb_flags & ~(uint32_t)(IPC_BLK_F_READONLY | IPC_BLK_F_DIRECT)) ||
	    !ipc_str_ok(m->cb_serial, sizeof(m->cb_serial)) ||
	    strlen(m->cb_serial) > IPC_BLK_SERIAL_MAX)
		return -EPROTO;
	blk_cfg = *m;
	return 0;
}

static int blk_init(struct devproc *dp)
{
	struct blk *b = dp->priv;
	int err;

	err = blk_setup(b, blk_cfg.cb_disk_fd, blk_cfg.cb_size, blk_cfg.cb_flags, blk_cfg.cb_serial,
			&dp->rt.mem);
	if (err < 0)
		return err;
	virtio_dp_attach(&b->vd, dp);
	return 0;
}

static const struct devproc_ops blk_ops = {
	.name = "bulkhead-blk",
	.policy = "blk",
	.kind = IPC_DEV_BLK,
	.nqueues = IPC_BLK_QUEUES,
	.window = &virtio_dp_window,
	.msg = DEVPROC_MSG(IPC_CFG_BLK, struct ipc_cfg_blk, blk_fds),
	.cfg = blk_cfg_check,
	.init = blk_init,
};

int main(int argc, char **argv)
{
	return devproc_main(&blk_ops, &blk, argc, argv);
}
