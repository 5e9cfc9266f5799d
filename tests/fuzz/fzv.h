/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A hostile virtio-mmio driver driven by fuzzer input, shared by the
 * in-process targets (fuzz_blk, fuzz_net, fuzz_mmio) and the process-level
 * harness (procfuzz.c), so one corpus serves both. The input is a sequence
 * of ops (enum fzv_op): register accesses, guest memory writes, kicks, and
 * macros that set a device up or post a descriptor chain the way a real
 * driver would, so mutations start from working traffic.
 *
 * The driver keeps a shadow copy of everything it wrote to guest memory and
 * a mirror of the queue registers, and from them the set of bytes the
 * device may write: used rings of queues that were live and the buffers of
 * descriptors marked device-writable. fzv_check() says whether the device
 * wrote anything else.
 */
#ifndef BULKHEAD_TESTS_FUZZ_FZV_H
#define BULKHEAD_TESTS_FUZZ_FZV_H

#include <stddef.h>
#include <stdint.h>

#include "fz.h"

/* The guest: one region at gpa 0; rings of queue q at FZV_QBASE(q), buffers above FZV_BUF_START. */
#define FZV_MEM_SIZE 0x40000ULL
#define FZV_QBASE(q) (0x1000ULL + 0x3000ULL * (q)) /* desc; avail at +0x1000; used at +0x2000 */
#define FZV_BUF_START 0x10000ULL
#define FZV_MAXQ 4
#define FZV_WINDOW 0x1000ULL

/* virtio-mmio registers (virtio 1.2, 4.2.2). */
#define FZV_R_MAGIC 0x000
#define FZV_R_DEV_FEAT 0x010
#define FZV_R_DEV_FEAT_SEL 0x014
#define FZV_R_DRV_FEAT 0x020
#define FZV_R_DRV_FEAT_SEL 0x024
#define FZV_R_QUEUE_SEL 0x030
#define FZV_R_QUEUE_NUM_MAX 0x034
#define FZV_R_QUEUE_NUM 0x038
#define FZV_R_QUEUE_READY 0x044
#define FZV_R_QUEUE_NOTIFY 0x050
#define FZV_R_INT_STATUS 0x060
#define FZV_R_INT_ACK 0x064
#define FZV_R_STATUS 0x070
#define FZV_R_DESC_LO 0x080
#define FZV_R_DESC_HI 0x084
#define FZV_R_DRIVER_LO 0x090
#define FZV_R_DRIVER_HI 0x094
#define FZV_R_DEVICE_LO 0x0a0
#define FZV_R_DEVICE_HI 0x0a4
#define FZV_R_CONFIG_GEN 0x0fc
#define FZV_R_CONFIG 0x100

#define FZV_S_ACK 1
#define FZV_S_DRIVER 2
#define FZV_S_DRIVER_OK 4
#define FZV_S_FEATURES_OK 8
#define FZV_S_NEEDS_RESET 64

#define FZV_D_NEXT 1
#define FZV_D_WRITE 2
#define FZV_D_INDIRECT 4

/*
 * Ops: the first byte of each, modulo FZV_NOPS, then its operands (all
 * little-endian). The numbering is part of the corpus format: append, never
 * renumber.
 */
enum fzv_op {
	FZV_OP_WRITE32 = 0, /* u8 reg/4, u32 value: an aligned 32-bit register write */
	FZV_OP_READ32 = 1, /* u8 reg/4 */
	FZV_OP_ACCESS = 2, /* u8 flags (bit 0 write, bits 1-2 size 1/2/4/8), u16 offset, u64 value */
	FZV_OP_MEM = 3, /* u32 gpa (mod memory), u8 len-1, bytes: the guest writes its memory */
	FZV_OP_KICK = 4, /* u8 queue: the ioeventfd of that queue fires */
	FZV_OP_SETUP = 5, /* see fzv_setup: reset, negotiate, set up every queue, DRIVER_OK */
	FZV_OP_CHAIN = 6, /* see fzv_chain: post one descriptor chain */
	FZV_OP_AVAIL_IDX = 7, /* u8 queue, u16 value: set avail->idx */
	FZV_OP_STATUS = 8, /* u8 value: write Status (0 resets) */
	FZV_OP_BACKEND = 9, /* u8 sub-op and the backend's operands (TAP frames, console bytes) */
	FZV_OP_SYNC = 10, /* wait until the device has done everything asked so far */
	FZV_OP_EVENT = 11, /* u8 queue, u16 value: set avail->used_event */
	FZV_NOPS
};

/* FZV_OP_SETUP flags. */
#define FZV_SETUP_FEATURES 0x01 /* u64 follows: offer & value | VERSION_1 */
#define FZV_SETUP_RAW_FEATURES 0x02 /* with 0x01: the value as is */
#define FZV_SETUP_ADDRS 0x04 /* three u32 ring addresses per queue follow its size */
#define FZV_SETUP_NO_DRIVER_OK 0x08
#define FZV_SETUP_NO_EVENT_IDX 0x10
#define FZV_SETUP_NO_INDIRECT 0x20
/* Per queue: u8 size code; bit 7 set: a raw u16 size follows, else 1 << (code % 9). */

/* FZV_OP_CHAIN: u8 queue, u8 shape, then per segment u16 len, u8 flags, u8 fill count, bytes. */
#define FZV_CHAIN_NSEG(shape) (((shape) & 7) + 1)
#define FZV_CHAIN_INDIRECT 0x08 /* the segments go into an indirect table */
#define FZV_CHAIN_NO_PUBLISH 0x10 /* write the descriptors, leave avail alone */
#define FZV_SEG_WRITE 0x01 /* device-writable */
#define FZV_SEG_RAW_ADDR 0x02 /* u32 address follows the flags (else allocated) */

/* What a driver talks to: a device model in this process or a device process. */
struct fzv_backend {
	void *ctx;
	unsigned int nqueues;
	uint64_t (*io_read)(void *ctx, uint64_t off, unsigned int size);
	void (*io_write)(void *ctx, uint64_t off, unsigned int size, uint64_t val);
	void (*kick)(void *ctx, unsigned int q);
	/* backend: a device-specific op (FZV_OP_BACKEND); may be NULL. */
	void (*backend)(void *ctx, struct fz *in, uint8_t sub);
	/* sync: return when the device has handled everything sent so far; may be NULL. */
	void (*sync)(void *ctx);
	/* after_op: called after every op (in-process targets check invariants here); may be NULL. */
	void (*after_op)(void *ctx);
};

struct fzv_range {
	uint64_t start, end;
};

struct fzv_ranges {
	struct fzv_range *r;
	size_t n, cap;
	uint32_t *hash; /* index + 1 of each range, open addressing */
	int overflow;
};

struct fzv_mq {
	uint64_t desc, avail, used;
	uint32_t num;
	int ready;
	uint16_t next_desc;
};

struct fzv {
	const struct fzv_backend *be;
	uint8_t *mem; /* guest memory as the device sees it */
	uint8_t *shadow; /* what this driver wrote */
	uint64_t mem_size;
	/* mirror of the device's registers, kept exact by reading back what the device may refuse */
	uint32_t status, sel, drv_sel;
	uint64_t drv_features;
	struct fzv_mq q[FZV_MAXQ];
	uint64_t bump;
	/* live queue layouts seen, the device-writable ranges and the rings/tables they imply */
	struct fzv_mq live[32];
	unsigned int nlive;
	int dirty; /* memory or layouts changed since the last scan */
	struct fzv_ranges writable, tables;
	int unchecked; /* too many layouts or ranges to track: skip fzv_check */
	unsigned long ops;
};

struct guest_mem;
/* fzv_guest: size bytes of sealed memfd guest memory at gpa 0, mapped (fails the run if it cannot). */
void fzv_guest(struct guest_mem *m, uint64_t size, const char *name);
/* fzv_init: a driver for be over guest memory mem (mem_size bytes at gpa 0). */
void fzv_init(struct fzv *v, const struct fzv_backend *be, uint8_t *mem, uint64_t mem_size);
/* fzv_begin: start a new input: clear guest memory, reset the device (Status 0) and the mirror. */
void fzv_begin(struct fzv *v);
/* fzv_run: interpret the ops in the rest of in. */
void fzv_run(struct fzv *v, struct fz *in);
/* fzv_check: 0 if the device wrote only where it may, else -1 with a reason in why. */
int fzv_check(struct fzv *v, char *why, size_t len);
/* fzv_read/fzv_write: one register access through the mirror. */
uint64_t fzv_read(struct fzv *v, uint64_t off, unsigned int size);
void fzv_write(struct fzv *v, uint64_t off, unsigned int size, uint64_t val);
/* fzv_mem_write: the guest writes its memory (kept in the shadow). */
void fzv_mem_write(struct fzv *v, uint64_t gpa, const void *src, size_t len);
/* fzv_features: the features the device accepted (FEATURES_OK), else 0. */
uint64_t fzv_features(const struct fzv *v);

/* The seed generator's side: encode ops. */
void fzw_setup(struct fzw *w, uint8_t flags, uint64_t features, unsigned int nq, const uint16_t *sizes);
void fzw_kick(struct fzw *w, uint8_t q);
/* A segment for fzw_chain: len bytes, FZV_SEG_* flags, fill bytes written at its start. */
struct fzw_seg {
	uint16_t len;
	uint8_t flags;
	const void *fill;
	uint8_t nfill;
};
void fzw_chain(struct fzw *w, uint8_t q, uint8_t shape_flags, const struct fzw_seg *segs, unsigned int n);

#endif
