/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test guest's virtio-mmio (version 2) driver and split virtqueue, all in
 * ring 3: the register window is mapped user-accessible and uncached, and the
 * rings live in guest RAM from phys_alloc(). Completion is found by polling
 * the used ring (the fast path here, where ring 3 runs natively) or, when a
 * device is set up with interrupts, by WAIT_IRQ on its IOAPIC-routed GSI.
 *
 * Ordering (x86, write-back RAM, uncached MMIO): stores are not reordered with
 * other stores, so a compiler barrier orders the ring writes before the avail
 * idx store and that before the QueueNotify write. A store followed by a load
 * of something the device writes (avail idx, then used->flags or avail_event;
 * used_event, then used->idx) needs a full fence: mfence, native in ring 3.
 *
 * The structures are open so that the hostile-guest suite can break them.
 */
#ifndef BULKHEAD_TESTS_GUEST_VIRTIO_H
#define BULKHEAD_TESTS_GUEST_VIRTIO_H

#include "guest.h"

/* Register window (virtio 1.2 section 4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */

/* Device status (2.1). */
#define VIRTIO_ACKNOWLEDGE 0x01
#define VIRTIO_DRIVER 0x02
#define VIRTIO_DRIVER_OK 0x04
#define VIRTIO_FEATURES_OK 0x08
#define VIRTIO_NEEDS_RESET 0x40
#define VIRTIO_FAILED 0x80

/* InterruptStatus bits. */
#define VIRTIO_INT_USED 0x1
#define VIRTIO_INT_CONFIG 0x2

/* Transport feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_BIT(b) (1ull << (b))

/* Split virtqueue (2.7). */
#define VQ_DESC_F_NEXT 1
#define VQ_DESC_F_WRITE 2
#define VQ_DESC_F_INDIRECT 4
#define VQ_AVAIL_F_NO_INTERRUPT 1
#define VQ_USED_F_NO_NOTIFY 1
#define VQ_MAX_SIZE 256 /* the largest queue this driver sets up */

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vq_desc) == 16, "virtq descriptor");

struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* One buffer of a request, as the driver hands it to vq_add. */
struct vq_buf {
	uint64_t addr;
	uint32_t len;
	int write; /* the device writes it */
};

struct vq {
	unsigned int index; /* queue number */
	uint16_t size; /* QueueNum in use (power of two) */
	uint16_t cap; /* entries the rings were allocated for */
	struct vq_desc *desc;
	uint16_t *avail; /* [0] flags, [1] idx, [2..2+size) ring, [2+size] used_event */
	uint8_t *used; /* flags, idx, size x vq_used_elem, avail_event */
	uint16_t avail_idx; /* the driver's next avail idx (published by vq_publish) */
	uint16_t kicked_idx; /* avail idx at the last notify decision */
	uint16_t last_used; /* next used entry to take */
	uint16_t free_head, nfree;
	uint16_t *link; /* free list and chain links (the driver's own copy of .next) */
	uint16_t *ndesc; /* per head: descriptors the chain holds, 0 if not in flight */
	void **cookie; /* per head */
	struct vq_desc *indirect; /* cap x max_indirect entries, or NULL */
	unsigned int max_indirect; /* entries per indirect table */
	int event_idx, use_indirect;
	unsigned int inflight;
};

/* A virtio-mmio device. */
struct vdev {
	uint64_t base;
	uint32_t gsi;
	uint32_t version, device_id, vendor_id;
	uint64_t offered; /* device features */
	uint64_t features; /* negotiated */
	int irq_mode; /* completions by interrupt (WAIT_IRQ) instead of polling */
	uint32_t irq_seen; /* irq_count[vector] at the last InterruptStatus read */
	uint32_t last_isr; /* InterruptStatus seen at the last ack */
	unsigned int nvq;
	struct vq vq[3]; /* virtio-blk uses one queue, virtio-net two, virtio-vsock three */
};

/* Register access (one MMIO exit each here: about 25 us from ring 3). */
static inline uint32_t vdev_read32(const struct vdev *d, uint32_t off)
{
	return *(volatile uint32_t *)phys(d->base + off);
}
static inline void vdev_write32(const struct vdev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)phys(d->base + off) = v;
}
static inline uint8_t vdev_config8(const struct vdev *d, uint32_t off)
{
	return *(volatile uint8_t *)phys(d->base + VIRTIO_MMIO_CONFIG + off);
}
static inline uint16_t vdev_config16(const struct vdev *d, uint32_t off)
{
	return *(volatile uint16_t *)phys(d->base + VIRTIO_MMIO_CONFIG + off);
}
static inline uint32_t vdev_config32(const struct vdev *d, uint32_t off)
{
	return *(volatile uint32_t *)phys(d->base + VIRTIO_MMIO_CONFIG + off);
}
/* vdev_config64: two 32-bit reads, retried until ConfigGeneration is stable. */
uint64_t vdev_config64(const struct vdev *d, uint32_t off);

/* mb: full fence (a store before a load of device-written memory). */
static inline void mb(void)
{
	__asm__ __volatile__("mfence" ::: "memory");
}

/* vdev_probe: read magic, version, device and vendor id of the window at base; 0 if it is a
 * virtio-mmio device (any version), else -1. */
int vdev_probe(struct vdev *d, uint64_t base, uint32_t gsi);
/* vdev_reset: write 0 to Status and wait (bounded) until it reads 0; 0 or -1. */
int vdev_reset(struct vdev *d);
/* vdev_status: read Status. vdev_set_status: write it. */
uint32_t vdev_status(const struct vdev *d);
void vdev_set_status(const struct vdev *d, uint32_t s);
/* vdev_negotiate: reset, ACKNOWLEDGE, DRIVER, read the offered features, accept
 * offered & want (VERSION_1 must be offered and is always taken), FEATURES_OK and
 * re-read it. 0, or -1 with *why set (the device is left FAILED). */
int vdev_negotiate(struct vdev *d, uint64_t want, const char **why);
/* vq_setup: set up queue idx with up to size entries (rounded down to a power of two and
 * to QueueNumMax), indirect tables of max_indirect entries (0: none); 0 or -1 with *why. */
int vq_setup(struct vdev *d, unsigned int idx, unsigned int size, unsigned int max_indirect,
	     const char **why);
/* vdev_queue_place: queue idx of size n at desc, avail and used, then QueueReady 1; what
 * QueueReady reads back (vq_setup's register writes, for callers that lay rings out
 * themselves). */
uint32_t vdev_queue_place(const struct vdev *d, unsigned int idx, uint32_t n, uint64_t desc, uint64_t avail,
			  uint64_t used);
/* vdev_driver_ok: set DRIVER_OK (and, in irq_mode, route the GSI and enable interrupts). */
void vdev_driver_ok(struct vdev *d);
/* vdev_irq_setup: route d's GSI to VEC_IRQ_BASE + gsi on this CPU, start the watchdog
 * tick (the LAPIC timer, so a lost interrupt cannot hang WAIT_IRQ), IF = 1. */
void vdev_irq_setup(struct vdev *d);
/* vdev_irq_ack: if d's vector fired since the last call, read InterruptStatus and ack it;
 * returns the bits acked. */
uint32_t vdev_irq_ack(struct vdev *d);
/* vdev_feature_names: append the names of the bits in f to buf (device-specific bits named
 * for device_id 1, network, and 2, block). */
void vdev_feature_names(uint64_t f, uint32_t device_id, char *buf, size_t n);

/* vq_add: make a chain of bufs[0..n) available (not yet published); readable buffers must
 * come first. Uses an indirect table when the queue has them and n > 1. Returns the head,
 * or -1 if there are not enough free descriptors. */
int vq_add(struct vq *q, const struct vq_buf *bufs, unsigned int n, void *cookie);
/* vq_publish: store avail idx (after a compiler barrier). */
void vq_publish(struct vq *q);
/* vq_kick: publish, then notify the device unless it suppressed notifications; returns 1 if
 * it wrote QueueNotify. */
int vq_kick(struct vdev *d, struct vq *q);
/* vq_pending: the device has returned buffers we have not taken. */
static inline int vq_pending(const struct vq *q)
{
	return READ_ONCE(*(const uint16_t *)(q->used + 2)) != q->last_used;
}
/* vq_get: take one used buffer: 1 with *cookie, *len and *head; 0 if none; -1 if the
 * device returned an id that is not in flight (*head is the bad id). */
int vq_get(struct vq *q, void **cookie, uint32_t *len, uint16_t *head);
/* vq_want_irq: ask for an interrupt at the next used buffer (used_event or flags), then
 * fence; returns 1 if buffers arrived meanwhile (do not sleep). */
int vq_want_irq(struct vq *q);
/* vq_used_idx: the device's used idx. */
static inline uint16_t vq_used_idx(const struct vq *q)
{
	return READ_ONCE(*(const uint16_t *)(q->used + 2));
}
/* vq_used_elem: used ring entry i (mod size). */
static inline struct vq_used_elem *vq_used_elem(const struct vq *q, uint16_t i)
{
	return (struct vq_used_elem *)(q->used + 4) + (i & (q->size - 1));
}

/* mmio_bench: the mmio-bench scenario (mmio_bench.c). */
void mmio_bench(void);
/* mmio_loop: the mmio-loop scenario (mmio_bench.c): device register accesses forever. */
NORETURN void mmio_loop(void);

/* The entropy device (rng.c): device id, and the rng-read and rng-hostile scenarios. */
#define VIRTIO_ID_RNG 4
void rng_read(void);
void rng_hostile(void);

#endif
