/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-mmio version 2 and the split virtqueue, driven from ring 3
 * (virtio.h). Register accesses trap to the VMM, so the hot paths touch
 * registers only to notify (QueueNotify) and, in interrupt mode, to read and
 * ack InterruptStatus once per interrupt.
 */
#include "virtio.h"

#define RESET_TIMEOUT_US 1000000
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_DCR 0x3e0
#define LAPIC_TIMER_PERIODIC 0x20000
#define WATCHDOG_COUNT 625000 /* 10 ms at KVM's 1 GHz APIC bus, divide by 16 */

uint64_t vdev_config64(const struct vdev *d, uint32_t off)
{
	uint32_t gen, lo, hi;
	int i;

	for (i = 0; i < 16; i++) {
		gen = vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
		lo = vdev_config32(d, off);
		hi = vdev_config32(d, off + 4);
		if (vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION) == gen)
			break;
	}
	return (uint64_t)hi << 32 | lo;
}

int vdev_probe(struct vdev *d, uint64_t base, uint32_t gsi)
{
	memset(d, 0, sizeof(*d));
	d->base = base;
	d->gsi = gsi;
	if (vdev_read32(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC)
		return -1;
	d->version = vdev_read32(d, VIRTIO_MMIO_VERSION);
	d->device_id = vdev_read32(d, VIRTIO_MMIO_DEVICE_ID);
	d->vendor_id = vdev_read32(d, VIRTIO_MMIO_VENDOR_ID);
	return 0;
}

uint32_t vdev_status(const struct vdev *d)
{
	return vdev_read32(d, VIRTIO_MMIO_STATUS);
}

void vdev_set_status(const struct vdev *d, uint32_t s)
{
	vdev_write32(d, VIRTIO_MMIO_STATUS, s);
}

int vdev_reset(struct vdev *d)
{
	uint64_t end = rdtsc() + us_to_tsc(RESET_TIMEOUT_US);

	vdev_set_status(d, 0);
	while (vdev_status(d) != 0) {
		if (rdtsc() > end)
			return -1;
		cpu_relax();
	}
	d->features = 0;
	d->last_isr = 0;
	return 0;
}

int vdev_negotiate(struct vdev *d, uint64_t want, const char **why)
{
	uint64_t f;

	if (d->version != 2) {
		*why = d->version == 1 ? "a legacy virtio-mmio device (version 1); this driver needs version 2"
				       : "virtio-mmio version is not 2";
		return -1;
	}
	if (vdev_reset(d)) {
		*why = "Status did not read 0 after a reset";
		return -1;
	}
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE);
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER);
	vdev_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = vdev_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
	vdev_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t)vdev_read32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	d->offered = f;
	if (!(f & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FAILED);
		*why = "VIRTIO_F_VERSION_1 not offered";
		return -1;
	}
	d->features = f & (want | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->features);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK);
	if (!(vdev_status(d) & VIRTIO_FEATURES_OK)) {
		vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FAILED);
		*why = "the device cleared FEATURES_OK";
		return -1;
	}
	d->nvq = 0;
	return 0;
}

/* vq_alloc: rings for VQ_MAX_SIZE entries (once), indirect tables (grown when asked for more). */
static int vq_alloc(struct vq *q, unsigned int max_indirect)
{
	if (!q->cap) {
		q->desc = phys_alloc(sizeof(struct vq_desc) * VQ_MAX_SIZE, 4096);
		q->avail = phys_alloc(6 + 2 * VQ_MAX_SIZE, 4096);
		q->used = phys_alloc(6 + sizeof(struct vq_used_elem) * VQ_MAX_SIZE, 4096);
		q->link = phys_alloc(sizeof(*q->link) * VQ_MAX_SIZE, 8);
		q->ndesc = phys_alloc(sizeof(*q->ndesc) * VQ_MAX_SIZE, 8);
		q->cookie = phys_alloc(sizeof(*q->cookie) * VQ_MAX_SIZE, 8);
		if (!q->desc || !q->avail || !q->used || !q->link || !q->ndesc || !q->cookie)
			return -1;
		q->cap = VQ_MAX_SIZE;
	}
	if (max_indirect > q->max_indirect) {
		q->indirect = phys_alloc(sizeof(struct vq_desc) * VQ_MAX_SIZE * max_indirect, 4096);
		if (!q->indirect) {
			q->max_indirect = 0;
			return -1;
		}
		q->max_indirect = max_indirect;
	}
	return 0;
}

int vq_setup(struct vdev *d, unsigned int idx, unsigned int size, unsigned int max_indirect,
	     const char **why)
{
	struct vq *q;
	uint32_t max;
	unsigned int n, i;

	if (idx >= nitems(d->vq)) {
		*why = "queue index beyond the driver's table";
		return -1;
	}
	q = &d->vq[idx];
	vdev_write32(d, VIRTIO_MMIO_QUEUE_SEL, idx);
	if (vdev_read32(d, VIRTIO_MMIO_QUEUE_READY)) {
		*why = "QueueReady already set after a reset";
		return -1;
	}
	max = vdev_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max) {
		*why = "QueueNumMax is 0 (no such queue)";
		return -1;
	}
	n = size < max ? size : max;
	if (n > VQ_MAX_SIZE)
		n = VQ_MAX_SIZE;
	while (n & (n - 1))
		n &= n - 1; /* round down to a power of two */
	if (!n) {
		*why = "queue size 0";
		return -1;
	}
	if (vq_alloc(q, max_indirect)) {
		*why = "out of guest memory for the rings";
		return -1;
	}
	memset(q->desc, 0, sizeof(struct vq_desc) * q->cap);
	memset(q->avail, 0, 6 + 2 * (size_t)q->cap);
	memset(q->used, 0, 6 + sizeof(struct vq_used_elem) * q->cap);
	for (i = 0; i < n; i++) {
		q->link[i] = (uint16_t)(i + 1);
		q->ndesc[i] = 0;
		q->cookie[i] = NULL;
	}
	q->index = idx;
	q->size = (uint16_t)n;
	q->free_head = 0;
	q->nfree = (uint16_t)n;
	q->avail_idx = q->kicked_idx = q->last_used = 0;
	q->inflight = 0;
	q->event_idx = (d->features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)) != 0;
	q->use_indirect = (d->features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) && max_indirect > 1;
	if (!d->irq_mode) {
		/* Polling: no interrupts wanted (used_event far ahead with EVENT_IDX). */
		q->avail[0] = VQ_AVAIL_F_NO_INTERRUPT;
		q->avail[2 + n] = 0x8000;
	}
	if (vdev_queue_place(d, idx, n, (uintptr_t)q->desc, (uintptr_t)q->avail, (uintptr_t)q->used) != 1) {
		*why = "QueueReady reads 0 after setting it";
		return -1;
	}
	if (d->nvq < idx + 1)
		d->nvq = idx + 1;
	return 0;
}

uint32_t vdev_queue_place(const struct vdev *d, unsigned int idx, uint32_t n, uint64_t desc, uint64_t avail,
			  uint64_t used)
{
	vdev_write32(d, VIRTIO_MMIO_QUEUE_SEL, idx);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_NUM, n);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
	vdev_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	vdev_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return vdev_read32(d, VIRTIO_MMIO_QUEUE_READY);
}

void vdev_irq_setup(struct vdev *d)
{
	static int lapic_done;
	unsigned int vec = VEC_IRQ_BASE + d->gsi;
	uint32_t isr;

	if (!lapic_done) {
		lapic_init();
		/* A periodic tick bounds every WAIT_IRQ, so a lost interrupt is a timeout, not a hang. */
		lapic_write(LAPIC_TIMER_DCR, 0x3); /* divide by 16 */
		lapic_write(LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | VEC_TIMER);
		lapic_write(LAPIC_TIMER_ICR, WATCHDOG_COUNT);
		lapic_done = 1;
	}
	ioapic_route(d->gsi, vec, lapic_id());
	d->irq_seen = irq_count[vec];
	/* An interrupt raised before the route (edge-triggered here) would never come again. */
	isr = vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr)
		vdev_write32(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	irq_enable();
}

uint32_t vdev_irq_ack(struct vdev *d)
{
	uint32_t c = irq_count[VEC_IRQ_BASE + d->gsi], isr;

	if (c == d->irq_seen)
		return 0;
	d->irq_seen = c;
	isr = vdev_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr)
		vdev_write32(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	d->last_isr |= isr;
	return isr;
}

void vdev_driver_ok(struct vdev *d)
{
	if (d->irq_mode && (d->gsi >= 24 || VEC_IRQ_BASE + d->gsi >= VEC_TIMER)) {
		cprintf(GUEST_TAG "virtio: GSI %u cannot be routed; polling instead\n", d->gsi);
		d->irq_mode = 0;
	}
	if (d->irq_mode)
		vdev_irq_setup(d);
	vdev_set_status(d, vdev_status(d) | VIRTIO_DRIVER_OK);
}

int vq_add(struct vq *q, const struct vq_buf *bufs, unsigned int n, void *cookie)
{
	unsigned int k, need;
	uint16_t head, i, last = 0;

	if (!n)
		return -1;
	need = q->use_indirect && n > 1 && n <= q->max_indirect ? 1 : n;
	if (need > q->nfree)
		return -1;
	head = q->free_head;
	if (need == 1 && n > 1) {
		struct vq_desc *t = q->indirect + (size_t)head * q->max_indirect;

		for (k = 0; k < n; k++) {
			t[k].addr = bufs[k].addr;
			t[k].len = bufs[k].len;
			t[k].flags = (uint16_t)((bufs[k].write ? VQ_DESC_F_WRITE : 0) |
						(k + 1 < n ? VQ_DESC_F_NEXT : 0));
			t[k].next = (uint16_t)(k + 1 < n ? k + 1 : 0);
		}
		q->desc[head].addr = (uintptr_t)t;
		q->desc[head].len = (uint32_t)(n * sizeof(*t));
		q->desc[head].flags = VQ_DESC_F_INDIRECT;
		q->desc[head].next = 0;
		q->free_head = q->link[head];
	} else {
		i = head;
		for (k = 0; k < n; k++) {
			q->desc[i].addr = bufs[k].addr;
			q->desc[i].len = bufs[k].len;
			q->desc[i].flags = (uint16_t)((bufs[k].write ? VQ_DESC_F_WRITE : 0) |
						      (k + 1 < n ? VQ_DESC_F_NEXT : 0));
			q->desc[i].next = k + 1 < n ? q->link[i] : 0;
			last = i;
			i = q->link[i];
		}
		q->free_head = q->link[last];
	}
	q->nfree = (uint16_t)(q->nfree - need);
	q->ndesc[head] = (uint16_t)need;
	q->cookie[head] = cookie;
	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	q->avail_idx++;
	q->inflight++;
	return head;
}

void vq_publish(struct vq *q)
{
	barrier(); /* ring and descriptor stores first (x86 keeps stores in order) */
	WRITE_ONCE(q->avail[1], q->avail_idx);
}

int vq_kick(struct vdev *d, struct vq *q)
{
	uint16_t old = q->kicked_idx, now = q->avail_idx;
	int need;

	vq_publish(q);
	mb(); /* avail idx visible before we read the device's suppression state */
	if (now == old)
		return 0;
	if (q->event_idx) {
		uint16_t ev = READ_ONCE(*(uint16_t *)(q->used + 4 + sizeof(struct vq_used_elem) * q->size));

		need = (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
	} else {
		need = !(READ_ONCE(*(uint16_t *)q->used) & VQ_USED_F_NO_NOTIFY);
	}
	q->kicked_idx = now;
	if (need)
		vdev_write32(d, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
	return need;
}

int vq_get(struct vq *q, void **cookie, uint32_t *len, uint16_t *head)
{
	struct vq_used_elem *e;
	uint32_t raw;
	uint16_t id, tail, k, n;

	if (vq_used_idx(q) == q->last_used)
		return 0;
	barrier(); /* x86 does not reorder loads; the compiler must not either */
	e = vq_used_elem(q, q->last_used);
	raw = READ_ONCE(e->id);
	id = (uint16_t)raw;
	*head = id;
	if (raw >= q->size || !q->ndesc[id])
		return -1;
	*len = READ_ONCE(e->len);
	*cookie = q->cookie[id];
	n = q->ndesc[id];
	tail = id;
	for (k = 1; k < n; k++)
		tail = q->link[tail];
	q->link[tail] = q->free_head;
	q->free_head = id;
	q->nfree = (uint16_t)(q->nfree + n);
	q->ndesc[id] = 0;
	q->cookie[id] = NULL;
	q->inflight--;
	q->last_used++;
	if (q->event_idx && q->avail[0] == VQ_AVAIL_F_NO_INTERRUPT)
		q->avail[2 + q->size] = (uint16_t)(q->last_used + 0x8000); /* polling: keep it away */
	return 1;
}

int vq_want_irq(struct vq *q)
{
	if (q->event_idx)
		WRITE_ONCE(q->avail[2 + q->size], q->last_used);
	else
		WRITE_ONCE(q->avail[0], 0);
	mb();
	return vq_pending(q);
}

static const char *const transport_names[64] = {
	[24] = "NOTIFY_ON_EMPTY", [27] = "ANY_LAYOUT", [28] = "INDIRECT_DESC",
	[29] = "RING_EVENT_IDX", [32] = "VERSION_1", [33] = "ACCESS_PLATFORM",
	[34] = "RING_PACKED", [35] = "IN_ORDER", [36] = "ORDER_PLATFORM",
	[37] = "SR_IOV", [38] = "NOTIFICATION_DATA", [39] = "NOTIF_CONFIG_DATA",
	[40] = "RING_RESET",
};
static const char *const blk_names[24] = {
	[0] = "BARRIER", [1] = "SIZE_MAX", [2] = "SEG_MAX", [4] = "GEOMETRY", [5] = "RO",
	[6] = "BLK_SIZE", [7] = "SCSI", [9] = "FLUSH", [10] = "TOPOLOGY", [11] = "CONFIG_WCE",
	[12] = "MQ", [13] = "DISCARD", [14] = "WRITE_ZEROES", [15] = "LIFETIME",
	[16] = "SECURE_ERASE", [17] = "ZONED",
};

static const char *const net_names[24] = {
	[0] = "CSUM", [1] = "GUEST_CSUM", [2] = "CTRL_GUEST_OFFLOADS", [3] = "MTU", [5] = "MAC",
	[7] = "GUEST_TSO4", [8] = "GUEST_TSO6", [9] = "GUEST_ECN", [10] = "GUEST_UFO",
	[11] = "HOST_TSO4", [12] = "HOST_TSO6", [13] = "HOST_ECN", [14] = "HOST_UFO",
	[15] = "MRG_RXBUF", [16] = "STATUS", [17] = "CTRL_VQ", [18] = "CTRL_RX", [19] = "CTRL_VLAN",
	[20] = "CTRL_RX_EXTRA", [21] = "GUEST_ANNOUNCE", [22] = "MQ", [23] = "CTRL_MAC_ADDR",
};

void vdev_feature_names(uint64_t f, uint32_t device_id, char *buf, size_t n)
{
	size_t len = strnlen(buf, n);
	unsigned int b;

	for (b = 0; b < 64 && len + 1 < n; b++) {
		const char *name = NULL;
		char tmp[16];

		if (!(f & (1ull << b)))
			continue;
		if (b < 24 && device_id == 2)
			name = blk_names[b];
		else if (b < 24 && device_id == 1)
			name = net_names[b];
		else if (b >= 24)
			name = transport_names[b];
		if (!name) {
			snprintf(tmp, sizeof(tmp), "bit%u", b);
			name = tmp;
		}
		len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? " " : "", name);
	}
}
