/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-mmio version 2 register window (virtio 1.2 section 4.2.2) and
 * the device status state machine. Register accesses other than 32-bit
 * aligned ones are ignored (reads return 0), as the spec allows.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "virtio.h"

enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = VIRTIO_MMIO_QUEUE_NOTIFY,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = VIRTIO_MMIO_INTERRUPT_ACK_OFF,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_CONFIG_GENERATION = 0x0fc,
};

_Static_assert(REG_CONFIG_GENERATION / 4 < IPC_SHADOW_REGS, "shadowed registers fit");

/*
 * The registers a read of which has no side effect and depends on no
 * selector: the vcpu process may answer these from the shadow. The
 * selector-dependent ones (features, queue registers) always come here.
 */
static const uint32_t shadowed_regs[] = {
	REG_MAGIC,	    REG_VERSION, REG_DEVICE_ID,	       REG_VENDOR_ID,
	REG_INTERRUPT_STATUS, REG_STATUS,  REG_CONFIG_GENERATION,
};

static uint64_t offered_features(struct virtio_dev *vd)
{
	uint64_t f = VIRTIO_BIT(VIRTIO_F_VERSION_1);

	if (vd->ops->features)
		f |= vd->ops->features(vd);
	return f;
}

void virtio_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct guest_mem *mem,
		 void *priv)
{
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->mem = mem;
	vd->priv = priv;
}

int virtio_has_feature(const struct virtio_dev *vd, unsigned int bit)
{
	return bit < 64 && (vd->driver_features & VIRTIO_BIT(bit)) != 0;
}

int virtio_queue_live(const struct virtio_dev *vd, unsigned int q)
{
	uint32_t need = VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;

	return q < vd->ops->nqueues && (vd->status & need) == need &&
	       !(vd->status & VIRTIO_STATUS_NEEDS_RESET) && vd->queues[q].ready;
}

static struct virtq *selected_queue(struct virtio_dev *vd)
{
	return vd->queue_sel < vd->ops->nqueues ? &vd->queues[vd->queue_sel] : NULL;
}

static void shadow_store(struct virtio_dev *vd, uint32_t reg)
{
	__atomic_store_n(&vd->shadow->sh_regs[reg / 4], (uint32_t)virtio_mmio_read(vd, reg, 4),
			 __ATOMIC_RELEASE);
}

/* The registers the device's own work changes: before the interrupt that tells of them. */
static void shadow_publish_state(struct virtio_dev *vd)
{
	if (!vd->shadow)
		return;
	shadow_store(vd, REG_INTERRUPT_STATUS);
	shadow_store(vd, REG_STATUS);
	shadow_store(vd, REG_CONFIG_GENERATION);
}

/* Config space as the transport reads it, a byte at a time (reads of any width compose). */
static void shadow_publish_config(struct virtio_dev *vd)
{
	uint32_t len = vd->ops->config_read ? vd->ops->config_len : 0;

	if (len > IPC_SHADOW_CONFIG_MAX)
		len = IPC_SHADOW_CONFIG_MAX;
	for (uint32_t i = 0; i < len; i++)
		__atomic_store_n(&vd->shadow->sh_config[i],
				 (uint8_t)virtio_mmio_read(vd, VIRTIO_MMIO_CONFIG + i, 1),
				 __ATOMIC_RELAXED);
	__atomic_store_n(&vd->shadow->sh_config_len, len, __ATOMIC_RELEASE);
}

static void shadow_publish_all(struct virtio_dev *vd)
{
	if (!vd->shadow)
		return;
	for (size_t i = 0; i < nitems(shadowed_regs); i++)
		shadow_store(vd, shadowed_regs[i]);
	shadow_publish_config(vd);
}

void virtio_shadow_attach(struct virtio_dev *vd, struct ipc_shadow *sh)
{
	uint64_t valid = 0;

	vd->shadow = sh;
	shadow_publish_all(vd);
	for (size_t i = 0; i < nitems(shadowed_regs); i++)
		valid |= 1ull << (shadowed_regs[i] / 4);
	__atomic_store_n(&sh->sh_regs_valid, valid, __ATOMIC_RELEASE);
}

static void raise_irq(struct virtio_dev *vd, uint32_t bit)
{
	vd->isr |= bit;
	shadow_publish_state(vd);
	if (vd->irq)
		vd->irq(vd);
}

void virtio_fail(struct virtio_dev *vd, unsigned int q, const char *why)
{
	if (vd->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	log_warnx("%s: queue %u: %s; device needs reset", vd->ops->name, q, why);
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	vd->config_generation++;
	raise_irq(vd, VIRTIO_INT_CONFIG);
}

void virtio_needs_reset(struct virtio_dev *vd, unsigned int q, enum virtq_error why)
{
	virtio_fail(vd, q, virtq_error_name(why));
}

void virtio_used(struct virtio_dev *vd, unsigned int q)
{
	if (q < vd->ops->nqueues && virtq_need_interrupt(&vd->queues[q]))
		raise_irq(vd, VIRTIO_INT_USED);
}

uint32_t virtio_poll_window(uint32_t window, uint64_t gap_ns)
{
	uint64_t w;

	if (gap_ns > VIRTIO_POLL_MAX_NS) {
		w = window / 2;
		return w < VIRTIO_POLL_MIN_NS ? 0 : (uint32_t)w;
	}
	w = 2 * gap_ns;
	return w < VIRTIO_POLL_MIN_NS ? VIRTIO_POLL_MIN_NS : w > VIRTIO_POLL_MAX_NS ? VIRTIO_POLL_MAX_NS : (uint32_t)w;
}

/*
 * Watch queue q for the driver's next request for up to its window. The
 * watch ends as soon as the owner has other work: a driver that takes
 * interrupts acknowledges each with a register write its vCPU waits on.
 * Yielding between looks lets a task our interrupt woke onto this CPU (the
 * vCPU's thread) run at once instead of after the window.
 */
static int poll_for_more(struct virtio_dev *vd, unsigned int q)
{
	uint64_t start = now_ns();

	do {
		if (virtq_has_avail(&vd->queues[q]))
			return 1;
		if (vd->busy && vd->busy(vd, q))
			return 0;
		sched_yield();
	} while (now_ns() - start < vd->poll_ns[q]);
	return virtq_has_avail(&vd->queues[q]);
}

/* A kick after the queue slept: how long it slept sets the next window. */
static void poll_adapt(struct virtio_dev *vd, unsigned int q)
{
	if (!vd->ops->poll || !vd->slept_at[q])
		return;
	vd->poll_ns[q] = virtio_poll_window(vd->poll_ns[q], now_ns() - vd->slept_at[q]);
	vd->slept_at[q] = 0;
}

void virtio_serve_queue(struct virtio_dev *vd, unsigned int q, struct virtq_chain *c,
			int (*serve)(struct virtio_dev *vd, unsigned int q))
{
	struct virtq *vq = &vd->queues[q];
	int pushed = 0;

	poll_adapt(vd, q);
	for (;;) {
		enum virtq_error e = virtq_pop(vq, vd->mem, c);

		if (e == VIRTQ_EMPTY && pushed && vd->ops->poll && vd->poll_ns[q]) {
			/* The driver sees its replies before we watch for its next request. */
			virtio_used(vd, q);
			pushed = 0;
			if (poll_for_more(vd, q))
				continue;
		}
		if (e == VIRTQ_EMPTY) {
			if (virtq_arm_notify(vq))
				continue;
			if (vd->ops->poll)
				vd->slept_at[q] = now_ns();
			break;
		}
		if (e != VIRTQ_OK) {
			virtio_needs_reset(vd, q, e);
			break;
		}
		if (serve(vd, q) < 0)
			break;
		pushed = 1;
	}
	if (pushed)
		virtio_used(vd, q);
}

void virtio_kick(struct virtio_dev *vd, unsigned int q)
{
	if (!virtio_queue_live(vd, q)) {
		log_debug("%s: kick of queue %u ignored (not live)", vd->ops->name, q);
		return;
	}
	vd->ops->queue_notify(vd, q);
}

static void device_reset(struct virtio_dev *vd)
{
	for (unsigned int q = 0; q < vd->ops->nqueues; q++) {
		virtq_reset(&vd->queues[q]);
		if (vd->live)
			virtq_persist(&vd->queues[q], &vd->live->avail[q], &vd->live->used[q]);
	}
	vd->status = 0;
	vd->isr = 0;
	memset(vd->poll_ns, 0, sizeof(vd->poll_ns));
	memset(vd->slept_at, 0, sizeof(vd->slept_at));
	vd->dev_features_sel = vd->drv_features_sel = 0;
	vd->driver_features = 0;
	vd->queue_sel = 0;
	if (vd->ops->reset)
		vd->ops->reset(vd);
}

static int features_acceptable(struct virtio_dev *vd)
{
	uint64_t f = vd->driver_features;

	if (!(f & VIRTIO_BIT(VIRTIO_F_VERSION_1)) || (f & ~offered_features(vd)))
		return 0;
	return !vd->ops->features_ok || vd->ops->features_ok(vd, f) == 0;
}

static void status_write(struct virtio_dev *vd, uint32_t val)
{
	uint32_t old = vd->status, now = val & 0xff;

	if (now == 0) {
		device_reset(vd);
		return;
	}
	/* The driver must not clear bits (2.1.2); ignore a write that tries, so
	 * that features cannot be renegotiated under running queues. */
	if ((old & ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET) & ~now)
		return;
	if ((now & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		/* 3.1.1: features are agreed before DRIVER_OK. A driver that set
		 * DRIVER_OK first gets no FEATURES_OK, so no queue of it ever runs. */
		if ((old & VIRTIO_STATUS_DRIVER_OK) || !features_acceptable(vd)) {
			now &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
		} else {
			for (unsigned int q = 0; q < vd->ops->nqueues; q++) {
				vd->queues[q].event_idx = virtio_has_feature(vd, VIRTIO_F_RING_EVENT_IDX);
				vd->queues[q].indirect = virtio_has_feature(vd, VIRTIO_F_INDIRECT_DESC);
			}
		}
	}
	vd->status = now | (old & VIRTIO_STATUS_NEEDS_RESET);
	if ((now & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    (now & VIRTIO_STATUS_FEATURES_OK) && !(vd->status & VIRTIO_STATUS_NEEDS_RESET)) {
		if (vd->ops->driver_ok)
			vd->ops->driver_ok(vd);
		/* Buffers made available before DRIVER_OK are served now. */
		for (unsigned int q = 0; q < vd->ops->nqueues && !vd->restoring; q++) {
			if (virtio_queue_live(vd, q) && virtq_has_avail(&vd->queues[q]))
				vd->ops->queue_notify(vd, q);
		}
	}
}

static void queue_ready_write(struct virtio_dev *vd, struct virtq *q, uint32_t val)
{
	enum virtq_error e;

	if (!(val & 1)) {
		/* Forget the rings: their size and place may change before the next ready. */
		q->ready = 0;
		q->desc = q->avail = q->used = NULL;
		return;
	}
	if (q->ready)
		return;
	/* The other queues' rings are off limits to this one's writes, and the reverse. */
	q->siblings = vd->queues;
	q->nsiblings = vd->ops->nqueues;
	e = virtq_start(q, vd->mem);
	if (e != VIRTQ_OK) {
		virtio_needs_reset(vd, vd->queue_sel, e);
		return;
	}
	q->ready = 1;
}

/* Queue layout registers are writable only while the queue is not ready (4.2.3.2). */
static void queue_addr_write(struct virtq *q, uint64_t *field, int high, uint32_t val)
{
	if (q->ready)
		return;
	if (high)
		*field = (*field & 0xffffffffull) | ((uint64_t)val << 32);
	else
		*field = (*field & ~0xffffffffull) | val;
}

static uint64_t config_read(struct virtio_dev *vd, uint64_t off, unsigned int size)
{
	uint64_t cfg = off - VIRTIO_MMIO_CONFIG;

	if (!vd->ops->config_read || (size != 1 && size != 2 && size != 4 && size != 8) ||
	    cfg >= vd->ops->config_len || size > vd->ops->config_len - cfg)
		return 0;
	return vd->ops->config_read(vd, (uint32_t)cfg, size);
}

static void config_write(struct virtio_dev *vd, uint64_t off, unsigned int size, uint64_t val)
{
	uint64_t cfg = off - VIRTIO_MMIO_CONFIG;

	if (!vd->ops->config_write || (size != 1 && size != 2 && size != 4 && size != 8) ||
	    cfg >= vd->ops->config_len || size > vd->ops->config_len - cfg)
		return;
	vd->ops->config_write(vd, (uint32_t)cfg, size, val);
}

uint64_t virtio_mmio_read(struct virtio_dev *vd, uint64_t off, unsigned int size)
{
	struct virtq *q = selected_queue(vd);

	if (off >= VIRTIO_MMIO_CONFIG)
		return config_read(vd, off, size);
	if (size != 4 || off % 4)
		return 0;
	switch (off) {
	case REG_MAGIC:
		return VIRTIO_MMIO_MAGIC;
	case REG_VERSION:
		return VIRTIO_MMIO_VERSION;
	case REG_DEVICE_ID:
		return vd->ops->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		if (vd->dev_features_sel > 1)
			return 0;
		return (uint32_t)(offered_features(vd) >> (32 * vd->dev_features_sel));
	case REG_QUEUE_NUM_MAX:
		return q ? VIRTQ_MAX_SIZE : 0;
	case REG_QUEUE_READY:
		return q ? (uint64_t)q->ready : 0;
	case REG_INTERRUPT_STATUS:
		return vd->isr;
	case REG_STATUS:
		return vd->status;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
		return 0xffffffff; /* no shared memory regions */
	case REG_CONFIG_GENERATION:
		return vd->config_generation;
	default:
		return 0;
	}
}

static void queue_reg_write(struct virtio_dev *vd, uint64_t off, uint32_t val)
{
	struct virtq *q = selected_queue(vd);

	if (!q)
		return;
	switch (off) {
	case REG_QUEUE_NUM:
		if (!q->ready)
			q->size = val <= VIRTQ_MAX_SIZE ? (uint16_t)val : 0;
		break;
	case REG_QUEUE_READY:
		queue_ready_write(vd, q, val);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		queue_addr_write(q, &q->desc_gpa, off == REG_QUEUE_DESC_HIGH, val);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		queue_addr_write(q, &q->avail_gpa, off == REG_QUEUE_DRIVER_HIGH, val);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		queue_addr_write(q, &q->used_gpa, off == REG_QUEUE_DEVICE_HIGH, val);
		break;
	default:
		break;
	}
}

static void mmio_write(struct virtio_dev *vd, uint64_t off, unsigned int size, uint64_t val64)
{
	uint32_t val = (uint32_t)val64;

	if (off >= VIRTIO_MMIO_CONFIG) {
		config_write(vd, off, size, val64);
		return;
	}
	if (size != 4 || off % 4)
		return;
	switch (off) {
	case REG_DEVICE_FEATURES_SEL:
		vd->dev_features_sel = val;
		break;
	case REG_DRIVER_FEATURES:
		if (vd->status & VIRTIO_STATUS_FEATURES_OK || vd->drv_features_sel > 1)
			break;
		if (vd->drv_features_sel)
			vd->driver_features = (vd->driver_features & 0xffffffffull) | ((uint64_t)val << 32);
		else
			vd->driver_features = (vd->driver_features & ~0xffffffffull) | val;
		break;
	case REG_DRIVER_FEATURES_SEL:
		vd->drv_features_sel = val;
		break;
	case REG_QUEUE_SEL:
		vd->queue_sel = val;
		break;
	case REG_QUEUE_NOTIFY:
		/* Normally an ioeventfd catches this; a forwarded write is the same kick. */
		if (val < vd->ops->nqueues)
			virtio_kick(vd, val);
		break;
	case REG_INTERRUPT_ACK:
		vd->isr &= ~val;
		break;
	case REG_STATUS:
		status_write(vd, val);
		break;
	default:
		queue_reg_write(vd, off, val);
		break;
	}
}

/* The caller (devproc) publishes the count of applied writes after this returns. */
void virtio_mmio_write(struct virtio_dev *vd, uint64_t off, unsigned int size, uint64_t val)
{
	mmio_write(vd, off, size, val);
	shadow_publish_all(vd);
}

void virtio_live_attach(struct virtio_dev *vd, struct virtio_live *live)
{
	vd->live = live;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_persist(&vd->queues[q], &live->avail[q], &live->used[q]);
}

void virtio_save(const struct virtio_dev *vd, struct virtio_state *st)
{
	memset(st, 0, sizeof(*st));
	st->status = vd->status;
	st->isr = vd->isr;
	st->config_generation = vd->config_generation;
	st->queue_sel = vd->queue_sel;
	st->dev_features_sel = vd->dev_features_sel;
	st->drv_features_sel = vd->drv_features_sel;
	st->driver_features = vd->driver_features;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		const struct virtq *vq = &vd->queues[q];

		st->q[q] = (struct virtio_state_queue){ .desc = vq->desc_gpa, .avail = vq->avail_gpa,
							.used = vq->used_gpa, .size = vq->size,
							.ready = (uint16_t)vq->ready };
	}
}

static void write32(struct virtio_dev *vd, uint64_t off, uint32_t val)
{
	mmio_write(vd, off, 4, val);
}

static void write64(struct virtio_dev *vd, uint64_t off, uint64_t val)
{
	write32(vd, off, (uint32_t)val);
	write32(vd, off + 4, (uint32_t)(val >> 32));
}

/* The queues as the driver set them; each ready one goes on from its used index. */
static int restore_queues(struct virtio_dev *vd, const struct virtio_state *st,
			  const struct virtio_live *live)
{
	for (unsigned int q = 0; q < vd->ops->nqueues; q++) {
		const struct virtio_state_queue *sq = &st->q[q];

		write32(vd, REG_QUEUE_SEL, q);
		write32(vd, REG_QUEUE_NUM, sq->size);
		write64(vd, REG_QUEUE_DESC_LOW, sq->desc);
		write64(vd, REG_QUEUE_DRIVER_LOW, sq->avail);
		write64(vd, REG_QUEUE_DEVICE_LOW, sq->used);
		if (!sq->ready)
			continue;
		write32(vd, REG_QUEUE_READY, 1);
		if (!vd->queues[q].ready || virtq_resume(&vd->queues[q], live->used[q]) < 0)
			return -EINVAL;
	}
	return 0;
}

/* The status bits, features and queues, in the order a driver sets them. */
static int restore_transport(struct virtio_dev *vd, const struct virtio_state *st,
			     const struct virtio_live *live)
{
	uint32_t want = st->status & ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET;
	uint32_t early = want & (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

	if (want == 0)
		return 0;
	write32(vd, REG_STATUS, early);
	write32(vd, REG_DRIVER_FEATURES_SEL, 0);
	write32(vd, REG_DRIVER_FEATURES, (uint32_t)st->driver_features);
	write32(vd, REG_DRIVER_FEATURES_SEL, 1);
	write32(vd, REG_DRIVER_FEATURES, (uint32_t)(st->driver_features >> 32));
	if (want & VIRTIO_STATUS_FEATURES_OK) {
		write32(vd, REG_STATUS, early | VIRTIO_STATUS_FEATURES_OK);
		if (!(vd->status & VIRTIO_STATUS_FEATURES_OK))
			return -EINVAL;
	}
	if (restore_queues(vd, st, live) < 0)
		return -EINVAL;
	write32(vd, REG_QUEUE_SEL, st->queue_sel);
	write32(vd, REG_DEVICE_FEATURES_SEL, st->dev_features_sel);
	write32(vd, REG_DRIVER_FEATURES_SEL, st->drv_features_sel);
	vd->isr = st->isr & (VIRTIO_INT_USED | VIRTIO_INT_CONFIG);
	vd->config_generation = st->config_generation;
	/* Last: DRIVER_OK. The requests in flight and those made available since are
	 * served once the live area is attached (devproc kicks every queue then): served
	 * here, detached, a process killed before attaching would leave indices behind
	 * the guest's, and the next would complete them again. */
	write32(vd, REG_STATUS, want);
	return vd->status == want ? 0 : -EINVAL;
}

int virtio_restore(struct virtio_dev *vd, const struct virtio_state *st, const struct virtio_live *live)
{
	int err;

	vd->restoring = 1;
	err = st && live ? restore_transport(vd, st, live) : -EINVAL;
	vd->restoring = 0;

	if (err == 0 && st->status & VIRTIO_STATUS_NEEDS_RESET)
		err = -EINVAL;
	if (err < 0) {
		virtio_fail(vd, 0, "the state of the process it replaces is not consistent");
		shadow_publish_all(vd);
		return err;
	}
	/* A completion just before the old process died may not have been signalled. */
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(vd, VIRTIO_INT_USED);
	shadow_publish_all(vd);
	return 0;
}
