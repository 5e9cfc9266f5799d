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

_Static_assert(sizeof(struct virtio_state) <= sizeof(((struct ipc_state *)0)->st_data),
	       "the virtio state fits its page");

void virtio_dp_attach(struct virtio_dev *vd, struct devproc *dp)
{
	vd->owner = dp;
	vd->irq = dp_irq;
	vd->counters = dp->counters;
	if (dp->shadow)
		virtio_shadow_attach(vd, dp->shadow);
	if (devproc_state_data(dp))
		virtio_state_attach(vd, devproc_state_data(dp));
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
	(void)data;
	(void)max;
	virtio_save(dp->priv);
	return sizeof(struct virtio_state);
}

static int virtio_dp_restore(struct devproc *dp, const void *data, size_t len)
{
	struct virtio_state st;

	if (!data || len != sizeof(st))
		return virtio_restore(dp->priv, NULL);
	memcpy(&st, data, sizeof(st));
	return virtio_restore(dp->priv, &st);
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
