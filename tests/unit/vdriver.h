/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small virtio-mmio driver for the unit tests of device models
 * (test_rng.c, test_vsock.c): negotiation and queue setup through the real
 * transport's registers, split rings written into memfd guest memory the
 * test owns, chains of any shape (hostile ones included: any address,
 * length and flags), and the used ring read back. Header-only: each test
 * binary links the model and the transport, and includes this once.
 */
#ifndef BULKHEAD_TESTS_UNIT_VDRIVER_H
#define BULKHEAD_TESTS_UNIT_VDRIVER_H

#include <string.h>

#include "../../devices/virtio/virtio.h"

#define VDRV_MAGIC 0x000
#define VDRV_DEVICE_ID 0x008
#define VDRV_DEV_FEAT 0x010
#define VDRV_DEV_FEAT_SEL 0x014
#define VDRV_DRV_FEAT 0x020
#define VDRV_DRV_FEAT_SEL 0x024
#define VDRV_QUEUE_SEL 0x030
#define VDRV_QUEUE_NUM 0x038
#define VDRV_QUEUE_READY 0x044
#define VDRV_INT_STATUS 0x060
#define VDRV_STATUS 0x070
#define VDRV_DESC_LO 0x080
#define VDRV_DRIVER_LO 0x090
#define VDRV_DEVICE_LO 0x0a0
#define VDRV_CONFIG 0x100
#define VDRV_RUNNING (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
		      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK)
#define VDRV_F_NEXT 1
#define VDRV_F_WRITE 2
#define VDRV_MAXQ 4
#define VDRV_RING_SPAN 0x3000ull /* desc at base, avail at +0x1000, used at +0x2000 */

/* One buffer of a chain: gpa and len as the descriptor says, writable or not. */
struct vdrv_buf {
	uint64_t gpa;
	uint32_t len;
	int write;
};

struct vdrv_q {
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t next_desc, avail_idx, used_seen;
};

struct vdrv {
	struct virtio_dev *vd;
	const struct guest_mem *mem;
	struct vdrv_q q[VDRV_MAXQ];
};

/* The host view of guest bytes [gpa, gpa + len), which must be guest memory. */
static inline void *vdrv_gp(const struct vdrv *d, uint64_t gpa, uint64_t len)
{
	void *p = mem_ptr(d->mem, gpa, len);

	assert_non_null(p);
	return p;
}

static inline void vdrv_wr(const struct vdrv *d, uint64_t off, uint32_t v)
{
	virtio_mmio_write(d->vd, off, 4, v);
}

static inline uint32_t vdrv_rd(const struct vdrv *d, uint64_t off)
{
	return (uint32_t)virtio_mmio_read(d->vd, off, 4);
}

/* Reset, negotiate VERSION_1 | features: whether the device kept FEATURES_OK. */
static inline int vdrv_negotiate(const struct vdrv *d, uint64_t features)
{
	features |= VIRTIO_BIT(VIRTIO_F_VERSION_1);
	vdrv_wr(d, VDRV_STATUS, 0);
	vdrv_wr(d, VDRV_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdrv_wr(d, VDRV_DRV_FEAT_SEL, 0);
	vdrv_wr(d, VDRV_DRV_FEAT, (uint32_t)features);
	vdrv_wr(d, VDRV_DRV_FEAT_SEL, 1);
	vdrv_wr(d, VDRV_DRV_FEAT, (uint32_t)(features >> 32));
	vdrv_wr(d, VDRV_STATUS,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return (vdrv_rd(d, VDRV_STATUS) & VIRTIO_STATUS_FEATURES_OK) != 0;
}

/* The device's offered features. */
static inline uint64_t vdrv_offered(const struct vdrv *d)
{
	uint64_t f;

	vdrv_wr(d, VDRV_DEV_FEAT_SEL, 0);
	f = vdrv_rd(d, VDRV_DEV_FEAT);
	vdrv_wr(d, VDRV_DEV_FEAT_SEL, 1);
	return f | (uint64_t)vdrv_rd(d, VDRV_DEV_FEAT) << 32;
}

/* Queue qi of size entries with its rings from base (VDRV_RING_SPAN bytes, cleared). */
static inline void vdrv_queue(struct vdrv *d, unsigned int qi, uint16_t size, uint64_t base)
{
	struct vdrv_q *q = &d->q[qi];

	memset(vdrv_gp(d, base, VDRV_RING_SPAN), 0, VDRV_RING_SPAN);
	memset(q, 0, sizeof(*q));
	q->size = size;
	q->desc = base;
	q->avail = base + 0x1000;
	q->used = base + 0x2000;
	vdrv_wr(d, VDRV_QUEUE_SEL, qi);
	vdrv_wr(d, VDRV_QUEUE_NUM, size);
	vdrv_wr(d, VDRV_DESC_LO, (uint32_t)q->desc);
	vdrv_wr(d, VDRV_DESC_LO + 4, (uint32_t)(q->desc >> 32));
	vdrv_wr(d, VDRV_DRIVER_LO, (uint32_t)q->avail);
	vdrv_wr(d, VDRV_DRIVER_LO + 4, (uint32_t)(q->avail >> 32));
	vdrv_wr(d, VDRV_DEVICE_LO, (uint32_t)q->used);
	vdrv_wr(d, VDRV_DEVICE_LO + 4, (uint32_t)(q->used >> 32));
	vdrv_wr(d, VDRV_QUEUE_READY, 1);
	assert_int_equal(vdrv_rd(d, VDRV_QUEUE_READY), 1);
}

static inline void vdrv_ok(const struct vdrv *d)
{
	vdrv_wr(d, VDRV_STATUS, VDRV_RUNNING);
	assert_int_equal(vdrv_rd(d, VDRV_STATUS), VDRV_RUNNING);
}

/* The device set DEVICE_NEEDS_RESET. */
static inline int vdrv_needs_reset(const struct vdrv *d)
{
	return (vdrv_rd(d, VDRV_STATUS) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

/* Make bufs[0..n) one chain of direct descriptors on queue qi, available but not
 * kicked (the test kicks with virtio_kick). Its head. */
static inline uint16_t vdrv_post(struct vdrv *d, unsigned int qi, const struct vdrv_buf *bufs,
				 unsigned int n)
{
	struct vdrv_q *q = &d->q[qi];
	uint16_t head;
	unsigned int i;

	assert_true(n >= 1 && n <= q->size);
	if ((unsigned int)q->next_desc + n > q->size)
		q->next_desc = 0;
	head = q->next_desc;
	for (i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)(head + i);
		uint8_t *desc = vdrv_gp(d, q->desc + 16ull * idx, 16);
		uint16_t flags = (uint16_t)((bufs[i].write ? VDRV_F_WRITE : 0) |
					    (i + 1 < n ? VDRV_F_NEXT : 0));
		uint16_t next = (uint16_t)(idx + 1);

		memcpy(desc, &bufs[i].gpa, 8);
		memcpy(desc + 8, &bufs[i].len, 4);
		memcpy(desc + 12, &flags, 2);
		memcpy(desc + 14, &next, 2);
	}
	q->next_desc = (uint16_t)((head + n) % q->size);
	*(uint16_t *)vdrv_gp(d, q->avail + 4 + 2ull * (q->avail_idx & (q->size - 1)), 2) = head;
	q->avail_idx++;
	__atomic_store_n((uint16_t *)vdrv_gp(d, q->avail + 2, 2), q->avail_idx, __ATOMIC_RELEASE);
	return head;
}

/* The driver takes the next used element of qi: 1 with id and len, or 0 if none. */
static inline int vdrv_used(struct vdrv *d, unsigned int qi, uint32_t *id, uint32_t *len)
{
	struct vdrv_q *q = &d->q[qi];
	const uint32_t *e;

	if (q->used_seen == __atomic_load_n((uint16_t *)vdrv_gp(d, q->used + 2, 2), __ATOMIC_ACQUIRE))
		return 0;
	e = vdrv_gp(d, q->used + 4 + 8ull * (q->used_seen & (q->size - 1)), 8);
	*id = e[0];
	*len = e[1];
	q->used_seen++;
	return 1;
}

#endif
