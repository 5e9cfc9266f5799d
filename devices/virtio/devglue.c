/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/* A virtio device served by a device process: register window, kicks, interrupt. */
#include <string.h>

#include "devices/devproc/devproc.h"
#include "virtio.h"

static void dp_irq(struct virtio_dev *vd)
{
	devproc_irq(vd->owner);
}

_Static_assert(sizeof(struct virtio_state) <= IPC_STATE_SNAP, "the virtio snapshot fits its slot");
_Static_assert(sizeof(struct virtio_live) <= IPC_STATE_LIVE, "the virtio indices fit the live area");

static int dp_busy(struct virtio_dev *vd, unsigned int q)
{
	return devproc_pending(vd->owner, q);
}

void virtio_dp_attach(struct virtio_dev *vd, struct devproc *dp)
{
	vd->owner = dp;
	vd->irq = dp_irq;
	vd->busy = dp_busy;
	vd->counters = dp->counters;
	if (dp->shadow)
		virtio_shadow_attach(vd, dp->shadow);
	if (devproc_state_live(dp))
		virtio_live_attach(vd, devproc_state_live(dp));
}

static uint64_t virtio_dp_read(struct devproc *dp, uint64_t off, unsigned int size)
{
	return virtio_mmio_read(dp->priv, off, size);
}

static void virtio_dp_write(struct devproc *dp, uint64_t off, unsigned int size, uint64_t val)
{
	virtio_mmio_write(dp->priv, off, size, val);
}

static int virtio_dp_notify(struct devproc *dp, unsigned int q)
{
	virtio_kick(dp->priv, q);
	return 0;
}

static size_t virtio_dp_save(struct devproc *dp, void *data, size_t max)
{
	struct virtio_dev *vd = dp->priv;
	struct virtio_state st;

	if (max < sizeof(st))
		return 0;
	/* A replacement runs detached until it has restored (devproc_state_live). */
	if (!vd->live && devproc_state_live(dp))
		virtio_live_attach(vd, devproc_state_live(dp));
	virtio_save(vd, &st);
	memcpy(data, &st, sizeof(st));
	return sizeof(st);
}

static int virtio_dp_restore(struct devproc *dp, const void *data, size_t len, const void *live)
{
	struct virtio_state st;
	struct virtio_live lv;

	if (!data || len != sizeof(st))
		return virtio_restore(dp->priv, NULL, NULL);
	memcpy(&st, data, sizeof(st));
	memcpy(&lv, live, sizeof(lv));
	return virtio_restore(dp->priv, &st, &lv);
}

const struct devproc_window virtio_dp_window = {
	.space = IPC_SPACE_MMIO,
	.len = LAYOUT_VIRTIO_MMIO_SIZE,
	.uses_guest_memory = 1,
	.io_read = virtio_dp_read,
	.io_write = virtio_dp_write,
	.queue_notify = virtio_dp_notify,
	.save = virtio_dp_save,
	.restore = virtio_dp_restore,
};
