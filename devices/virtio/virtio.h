/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio 1.2 for device processes: the split virtqueue (one descriptor-chain
 * walker shared by every device) and the virtio-mmio version 2 register
 * window. Every ring field and register value is guest input; a malformed
 * ring fails the request or puts the device in DEVICE_NEEDS_RESET, never
 * touches memory outside the guest, never spins and never exits.
 */
#ifndef BULKHEAD_DEVICES_VIRTIO_VIRTIO_H
#define BULKHEAD_DEVICES_VIRTIO_VIRTIO_H

#include <stdint.h>
#include <sys/uio.h>

#include "ipc/ipc.h"
#include "mem/mem.h"

/* Feature bits (virtio 1.2 section 6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_BIT(b) (1ull << (b))

/* Device status (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Interrupt status bits (4.2.2). */
#define VIRTIO_INT_USED 1
#define VIRTIO_INT_CONFIG 2

#define VIRTQ_MAX_SIZE 256 /* QueueNumMax we offer */
#define VIRTQ_MAX_SEGS VIRTQ_MAX_SIZE /* no chain is longer than a queue */
#define VIRTQ_MAX_CHAIN_BYTES (1ull << 32) /* 2.7.5: a chain is at most 4 GiB */

/* The virtio-mmio register window (4.2.2). */
#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION 2
#define VIRTIO_MMIO_VENDOR 0x484b4c42 /* "BLKH" */
#define VIRTIO_MMIO_QUEUE_NOTIFY VIRTIO_MMIO_QUEUE_NOTIFY_OFF
#define VIRTIO_MMIO_CONFIG VIRTIO_MMIO_CONFIG_OFF

/* Why a chain was refused (for logs and tests). */
enum virtq_error {
	VIRTQ_OK = 0,
	VIRTQ_EMPTY, /* nothing available: not an error */
	VIRTQ_E_AVAIL_IDX, /* avail idx moved by more than the queue size */
	VIRTQ_E_HEAD, /* head index >= queue size */
	VIRTQ_E_NEXT, /* next index >= queue size (or table size) */
	VIRTQ_E_LOOP, /* chain longer than the queue or the table: a loop */
	VIRTQ_E_ADDR, /* buffer outside guest memory */
	VIRTQ_E_LEN, /* zero length, or total beyond VIRTQ_MAX_CHAIN_BYTES */
	VIRTQ_E_ORDER, /* a readable descriptor after a writable one */
	VIRTQ_E_INDIRECT, /* indirect not negotiated, nested, with NEXT, misaligned or badly sized */
	VIRTQ_E_RING, /* the rings themselves are not in guest memory */
};

struct virtq {
	uint16_t size; /* QueueNum, a power of two <= VIRTQ_MAX_SIZE */
	int ready; /* QueueReady */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail; /* next avail ring slot the device will take */
	uint16_t used_idx; /* the device's copy of used->idx */
	uint16_t signalled_used; /* used->idx at the last interrupt (EVENT_IDX) */
	int signalled_valid;
	int event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
	int indirect; /* VIRTIO_F_INDIRECT_DESC negotiated */
	/* host pointers to the rings, set by virtq_start */
	void *desc, *avail, *used;
	/* With a state page (restart): last_avail and used_idx, written through at
	 * every pop and push, before the guest sees the push (virtq_persist). */
	uint16_t *live_avail, *live_used;
	/* The device's queues (this one among them), set by the transport before
	 * virtq_start: no used ring and no device-writable buffer of this queue may
	 * cover a ring the device reads of a started sibling. NULL: none. */
	const struct virtq *siblings;
	unsigned int nsiblings;
};

/* A descriptor chain, validated: readable segments first, then writable ones. */
struct virtq_chain {
	uint16_t head;
	unsigned int nread, nwrite; /* iov[0..nread) readable, iov[nread..nread+nwrite) writable */
	uint64_t read_len, write_len;
	struct iovec iov[VIRTQ_MAX_SEGS];
	uint64_t gpa[VIRTQ_MAX_SEGS]; /* guest-physical address of each segment */
};

/* virtq_start: check the rings lie in guest memory, are aligned and do not overlap a ring
 * of q or of a started sibling where the device writes, and map them; VIRTQ_OK or
 * VIRTQ_E_RING. The used index starts at 0 (2.7.8). */
enum virtq_error virtq_start(struct virtq *q, const struct guest_mem *mem);
/* virtq_reset: forget everything (queue back to its power-on state), virtq_persist too. */
void virtq_reset(struct virtq *q);
/* virtq_persist: write last_avail and used_idx through to *avail and *used from now on. */
void virtq_persist(struct virtq *q, uint16_t *avail, uint16_t *used);
/*
 * virtq_resume: after virtq_start, go on from used_idx as a process that died
 * left it: every chain it took but did not complete is taken again, and the
 * used index is published once more. 0, or -EINVAL if used_idx is not within
 * a queue's length of what the driver made available.
 */
int virtq_resume(struct virtq *q, uint16_t used_idx);
/* virtq_pop: take the next available chain into c; VIRTQ_OK, VIRTQ_EMPTY, or an error
 * after which the queue is broken (the device goes to NEEDS_RESET). */
enum virtq_error virtq_pop(struct virtq *q, const struct guest_mem *mem, struct virtq_chain *c);
/* virtq_push: return chain head with written bytes to the used ring. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);
/* virtq_need_interrupt: after pushes, whether the driver wants an interrupt now. */
int virtq_need_interrupt(struct virtq *q);
/* virtq_arm_notify: ask the driver to kick again for new buffers; returns 1 if buffers
 * arrived meanwhile (process them before sleeping). */
int virtq_arm_notify(struct virtq *q);
/* virtq_unpop: give back the last n chains taken by virtq_pop (not yet pushed). */
void virtq_unpop(struct virtq *q, uint16_t n);
/* virtq_has_avail: buffers are available now. */
int virtq_has_avail(const struct virtq *q);
/* virtq_error_name: text for logs. */
const char *virtq_error_name(enum virtq_error e);

/*
 * virtq_slice: the iovecs covering bytes [off, off+len) of the chain's readable
 * (writable = 0) or writable part, into out[max]; the count, or -1 if the part
 * is shorter or more than max iovecs would be needed.
 */
int virtq_slice(const struct virtq_chain *c, int writable, uint64_t off, uint64_t len,
		struct iovec *out, unsigned int max);
/* Copy helpers over a chain's segments: bytes copied. */
size_t virtq_read_chain(const struct virtq_chain *c, uint64_t off, void *dst, size_t len);
size_t virtq_write_chain(const struct virtq_chain *c, uint64_t off, const void *src, size_t len);

struct virtio_dev;

#define VIRTIO_MAX_QUEUES 4

/*
 * What a virtio device keeps in its state page (ipc.h, struct ipc_state) so
 * that a new process can take over: the transport registers as the driver
 * set them, snapshotted after every register write and batch of work, and
 * each queue's indices in the live area, written through as they move. All
 * of it is hostile input to the process that restores it (virtio_restore).
 */
struct virtio_state_queue {
	uint64_t desc, avail, used;
	uint16_t size, ready;
	uint32_t pad;
};

struct virtio_state {
	uint32_t status, isr, config_generation, queue_sel;
	uint32_t dev_features_sel, drv_features_sel;
	uint64_t driver_features;
	struct virtio_state_queue q[VIRTIO_MAX_QUEUES];
};

struct virtio_live {
	uint16_t avail[VIRTIO_MAX_QUEUES]; /* each queue's last_avail */
	uint16_t used[VIRTIO_MAX_QUEUES]; /* each queue's used index */
};

/* A virtio device model: a small const ops table. Optional members may be NULL. */
struct virtio_dev_ops {
	const char *name;
	uint32_t device_id; /* 2 block, 1 network */
	unsigned int nqueues;
	/* features: what the device offers (VERSION_1 is added by the transport). */
	uint64_t (*features)(struct virtio_dev *vd);
	/* features_ok: accept the driver's feature set; 0 or -EINVAL (FEATURES_OK stays clear). */
	int (*features_ok)(struct virtio_dev *vd, uint64_t features);
	/* queue_notify: queue q has new buffers (the device is DRIVER_OK and the queue ready). */
	void (*queue_notify)(struct virtio_dev *vd, unsigned int q);
	/* config_read/config_write: device config space, off + size <= config_len. */
	uint32_t config_len;
	uint64_t (*config_read)(struct virtio_dev *vd, uint32_t off, unsigned int size);
	void (*config_write)(struct virtio_dev *vd, uint32_t off, unsigned int size, uint64_t val);
	/* driver_ok: the driver set DRIVER_OK. */
	void (*driver_ok)(struct virtio_dev *vd);
	/* reset: the driver wrote 0 to Status; forget in-flight state. */
	void (*reset)(struct virtio_dev *vd);
	/* poll: after serving a queue, watch it for the driver's next request before
	 * sleeping (virtio_serve_queue), for a window adapted to how soon it comes */
	int poll;
};

/* Bounds of a queue's poll window: at most VIRTIO_POLL_MAX_NS of a CPU after each
 * request; a window under VIRTIO_POLL_MIN_NS is none. */
#define VIRTIO_POLL_MAX_NS 50000u
#define VIRTIO_POLL_MIN_NS 2000u

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const struct guest_mem *mem;
	void *priv;
	/* raise the interrupt line (irqfd); set by the owner */
	void (*irq)(struct virtio_dev *vd);
	/* while queue q is watched (ops->poll): the owner has other work waiting (a
	 * register access: an InterruptACK the vCPU waits on), so the watch ends. Set
	 * by the owner, or NULL */
	int (*busy)(struct virtio_dev *vd, unsigned int q);
	void *owner; /* the device process runtime (struct devproc), for irq and busy */
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t isr; /* InterruptStatus */
	uint32_t config_generation;
	struct virtq queues[VIRTIO_MAX_QUEUES];
	struct ipc_shadow *shadow; /* the register shadow kept current, or NULL */
	struct ipc_counters *counters; /* the process's counters (in the shadow page), or NULL */
	struct virtio_live *live; /* the restart state's live area kept current, or NULL */
	/* Within virtio_restore: DRIVER_OK serves no queue (the caller kicks them once
	 * the live area is attached, so that what it does then is kept). */
	int restoring;
	/* ops->poll: each queue's poll window, and when it last went to sleep (0: not since
	 * it was served) */
	uint32_t poll_ns[VIRTIO_MAX_QUEUES];
	uint64_t slept_at[VIRTIO_MAX_QUEUES];
};

/* virtio_init: set up vd for ops with guest memory mem. */
void virtio_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct guest_mem *mem,
		 void *priv);
/* virtio_shadow_attach: keep the register shadow sh current from now on (ipc.h). */
void virtio_shadow_attach(struct virtio_dev *vd, struct ipc_shadow *sh);
/* virtio_live_attach: keep each queue's indices in live (the state page) from now on. */
void virtio_live_attach(struct virtio_dev *vd, struct virtio_live *live);
/* virtio_save: a snapshot of the transport registers into st. */
void virtio_save(const struct virtio_dev *vd, struct virtio_state *st);
/*
 * virtio_restore: take over from the state a process that died left (st and
 * live, copies; st NULL if the page could not be trusted). Every register is set as the
 * driver set it, through the same checks as the driver's own writes, and the
 * queues go on from their used index; nothing is served here: the caller kicks
 * each queue once it keeps the indices in the state page again, and what was
 * in flight is taken again then. An
 * inconsistent state leaves the device in DEVICE_NEEDS_RESET with a config
 * interrupt. A device that was running raises its interrupt once. 0, or
 * -EINVAL when it did not restore.
 */
int virtio_restore(struct virtio_dev *vd, const struct virtio_state *st, const struct virtio_live *live);
/* virtio_mmio_read/write: one access to the 4 KiB register window. */
uint64_t virtio_mmio_read(struct virtio_dev *vd, uint64_t off, unsigned int size);
void virtio_mmio_write(struct virtio_dev *vd, uint64_t off, unsigned int size, uint64_t val);
/*
 * virtio_poll_window: the poll window after a sleep of gap_ns that the driver's
 * kick ended, given the last window: one that would have caught the request
 * (twice the gap, the gap holding the kick's and the wake-up's cost too; at
 * least VIRTIO_POLL_MIN_NS), when the gap was within VIRTIO_POLL_MAX_NS; else
 * half the last (requests that come further apart are not worth a CPU), and
 * none once that is under VIRTIO_POLL_MIN_NS.
 */
uint32_t virtio_poll_window(uint32_t window, uint64_t gap_ns);
/* virtio_kick: queue q was notified (ioeventfd); ignored unless DRIVER_OK and ready. */
void virtio_kick(struct virtio_dev *vd, unsigned int q);
/*
 * virtio_serve_queue: take every chain available on queue q into *c and hand it
 * to serve (which pushes it, or returns -1 after it failed the device), until
 * the ring is empty with notifications re-armed; then signal the used buffers.
 * A broken ring puts the device in NEEDS_RESET. With ops->poll, once the ring
 * is empty the used buffers are signalled and the ring is watched for up to
 * the queue's poll window, its notifications left off (the driver does not
 * kick), before they are re-armed.
 */
void virtio_serve_queue(struct virtio_dev *vd, unsigned int q, struct virtq_chain *c,
			int (*serve)(struct virtio_dev *vd, unsigned int q));
/* virtio_used: raise a used-buffer interrupt for queue q if the driver wants one. */
void virtio_used(struct virtio_dev *vd, unsigned int q);
/* virtio_needs_reset: the driver broke a ring: set NEEDS_RESET and raise a config interrupt. */
void virtio_needs_reset(struct virtio_dev *vd, unsigned int q, enum virtq_error why);
/* virtio_fail: like virtio_needs_reset, for a reason the device found (why is logged). */
void virtio_fail(struct virtio_dev *vd, unsigned int q, const char *why);
/* virtio_queue_live: queue q may be processed (DRIVER_OK, ready, not NEEDS_RESET). */
int virtio_queue_live(const struct virtio_dev *vd, unsigned int q);
/* virtio_has_feature: the driver accepted feature bit. */
int virtio_has_feature(const struct virtio_dev *vd, unsigned int bit);

/* virtio_count: add to the device's counters (ipc.h, struct ipc_counters), if it keeps any. */
static inline void virtio_count(struct virtio_dev *vd, uint64_t requests, uint64_t bytes,
				uint64_t errors)
{
	if (!vd->counters)
		return;
	ipc_count(&vd->counters->ct_requests, requests);
	ipc_count(&vd->counters->ct_bytes, bytes);
	ipc_count(&vd->counters->ct_errors, errors);
}

/*
 * Glue to the device-process runtime (devices/devproc): a virtio device
 * process sets dp->priv to its struct virtio_dev and uses virtio_dp_window
 * as its devproc_ops window (a 4 KiB virtio-mmio window, guest memory,
 * register accesses and kicks into the model).
 */
struct devproc;
struct devproc_window;
/* virtio_dp_attach: vd raises its interrupt through dp's irqfd. */
void virtio_dp_attach(struct virtio_dev *vd, struct devproc *dp);
extern const struct devproc_window virtio_dp_window;

#endif
