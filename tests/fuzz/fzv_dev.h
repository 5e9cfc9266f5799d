/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For the in-process targets: compare a virtio device's transport state
 * with the fzv driver's register mirror.
 */
#ifndef BULKHEAD_TESTS_FUZZ_FZV_DEV_H
#define BULKHEAD_TESTS_FUZZ_FZV_DEV_H

#include "devices/virtio/virtio.h"
#include "fz.h"
#include "fzv.h"
#include "mem/mem.h"

/* A backend's register accesses and kicks straight into a virtio device (ctx: its
 * struct virtio_dev), for devices that need nothing else after them. */
static inline uint64_t fzv_dev_read(void *ctx, uint64_t off, unsigned int size)
{
	return virtio_mmio_read(ctx, off, size);
}

static inline void fzv_dev_write(void *ctx, uint64_t off, unsigned int size, uint64_t val)
{
	virtio_mmio_write(ctx, off, size, val);
}

static inline void fzv_dev_kick(void *ctx, unsigned int q)
{
	virtio_kick(ctx, q);
}

/* The device's own state must agree with what the driver was allowed to do. */
static inline void fzv_check_transport(const struct virtio_dev *vd, const struct fzv *v, const struct guest_mem *m)
{
	FZ_CHECK((vd->status & ~(uint32_t)FZV_S_NEEDS_RESET) == (v->status & ~(uint32_t)FZV_S_NEEDS_RESET),
		 "status 0x%x, driver's mirror 0x%x", vd->status, v->status);
	if (vd->status & FZV_S_FEATURES_OK)
		FZ_CHECK(vd->driver_features == v->drv_features, "features 0x%llx, driver wrote 0x%llx",
			 (unsigned long long)vd->driver_features, (unsigned long long)v->drv_features);
	for (unsigned int i = 0; i < vd->ops->nqueues; i++) {
		const struct virtq *q = &vd->queues[i];
		const struct fzv_mq *mq = &v->q[i];

		FZ_CHECK(q->ready == mq->ready, "queue %u ready %d, mirror %d", i, q->ready, mq->ready);
		FZ_CHECK(q->size <= VIRTQ_MAX_SIZE, "queue %u size %u", i, q->size);
		if (!q->ready)
			continue;
		FZ_CHECK(q->desc_gpa == mq->desc && q->avail_gpa == mq->avail && q->used_gpa == mq->used &&
				 q->size == mq->num,
			 "queue %u live layout changed under the driver", i);
		FZ_CHECK(q->size && !(q->size & (q->size - 1)), "live queue %u has size %u", i, q->size);
		FZ_CHECK(q->desc == mem_ptr(m, q->desc_gpa, 16ull * q->size) &&
				 q->avail == mem_ptr(m, q->avail_gpa, 6 + 2ull * q->size) &&
				 q->used == mem_ptr(m, q->used_gpa, 6 + 8ull * q->size) && q->desc && q->avail &&
				 q->used,
			 "live queue %u rings are not where its registers say", i);
	}
	FZ_CHECK(!(vd->isr & ~3u), "isr 0x%x", vd->isr);
}

#endif
