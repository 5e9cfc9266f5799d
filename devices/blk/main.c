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

static int on_cfg_blk(void *arg, const void *msg)
{
	const struct ipc_cfg_blk *m = msg;

	(void)arg;
	if (blk_cfg.h.ih_type || m->cb_size == 0 || m->cb_size % 512 ||
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

	if (!blk_cfg.h.ih_type || dp->cfg.cd_nqueues != 1 || dp->cfg.cd_in_fd == IPC_FD_NONE)
		return -EPROTO;
	err = blk_setup(b, dp->cfg.cd_in_fd, blk_cfg.cb_size, blk_cfg.cb_flags, blk_cfg.cb_serial,
			&dp->mem);
	if (err < 0)
		return err;
	virtio_dp_attach(&b->vd, dp);
	return 0;
}

static int blk_flush(struct devproc *dp)
{
	(void)dp;
	return 0;
}

static const struct ipc_handler blk_cfg_table[] = {
	{ IPC_CFG_BLK, sizeof(struct ipc_cfg_blk), DEVPROC_ST_BOOT, on_cfg_blk },
};

static const struct devproc_ops blk_ops = {
	.name = "bulkhead-blk",
	.policy = "blk",
	.kind = IPC_DEV_BLK,
	.space = IPC_SPACE_MMIO,
	.window_len = LAYOUT_VIRTIO_MMIO_SIZE,
	.uses_guest_memory = 1,
	.cfg_table = blk_cfg_table,
	.ncfg_table = nitems(blk_cfg_table),
	.init = blk_init,
	.io_read = virtio_dp_read,
	.io_write = virtio_dp_write,
	.queue_notify = virtio_dp_notify,
	.flush = blk_flush,
};

int main(int argc, char **argv)
{
	return devproc_main(&blk_ops, &blk, argc, argv);
}
