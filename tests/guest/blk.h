/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test guest's virtio-blk driver (virtio 1.2 section 5.2) over virtio.h,
 * the request engine the disk scenarios share, and the data pattern the host
 * checks images with (tests/guest/pattern.py computes the same).
 *
 * A request lives in a slot: its header, its status byte and a data buffer of
 * BLK_SLOT_BYTES that the request's segments are cut from, with a gap between
 * segments so that no two are contiguous. The engine (blk_run) keeps up to a
 * job's depth of requests in flight on each disk, one job per disk, polling
 * the used rings or sleeping on interrupts.
 */
#ifndef BULKHEAD_TESTS_GUEST_BLK_H
#define BULKHEAD_TESTS_GUEST_BLK_H

#include "virtio.h"

#define VIRTIO_ID_BLOCK 2

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Config space offsets (struct virtio_blk_config). */
#define BLK_CFG_CAPACITY 0
#define BLK_CFG_SIZE_MAX 8
#define BLK_CFG_SEG_MAX 12
#define BLK_CFG_GEOMETRY 16 /* le16 cylinders, u8 heads, u8 sectors */
#define BLK_CFG_BLK_SIZE 20
#define BLK_CFG_TOPOLOGY 24 /* u8 physical_block_exp, u8 alignment_offset, le16 min_io_size, le32 opt_io_size */
#define BLK_CFG_WRITEBACK 32
#define BLK_CFG_NUM_QUEUES 34
#define BLK_CFG_MAX_DISCARD_SECTORS 36
#define BLK_CFG_MAX_DISCARD_SEG 40
#define BLK_CFG_DISCARD_ALIGN 44
#define BLK_CFG_MAX_WZ_SECTORS 48
#define BLK_CFG_MAX_WZ_SEG 52
#define BLK_CFG_WZ_MAY_UNMAP 56

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_WZ_UNMAP 1
#define SECTOR 512

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
_Static_assert(sizeof(struct blk_hdr) == 16, "virtio_blk_req header");

/* A DISCARD or WRITE_ZEROES segment. */
struct blk_dwz {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
_Static_assert(sizeof(struct blk_dwz) == 16, "virtio_blk_discard_write_zeroes");

#define BLK_MAX_DISKS 4
#define BLK_NSLOTS 64 /* requests in flight per disk, at most */
#define BLK_SLOT_BYTES KiB(128) /* data bytes per request, at most */
#define BLK_MAX_SEGS 32 /* data segments per request, at most */
#define BLK_SEG_GAP 64 /* bytes left between two segments of a request */

struct blk_slot {
	unsigned int index;
	struct blk_hdr *hdr;
	volatile uint8_t *status;
	uint8_t *buf; /* BLK_SLOT_BYTES + BLK_MAX_SEGS * BLK_SEG_GAP */
	/* the request: blk_submit sends these */
	uint32_t type;
	uint64_t sector;
	uint32_t len; /* data bytes, the sum of seg_len */
	unsigned int nseg;
	uint8_t *seg[BLK_MAX_SEGS];
	uint32_t seg_len[BLK_MAX_SEGS];
	/* set at completion */
	uint8_t result; /* the status byte the device wrote (0xff: none) */
	uint32_t used_len;
	uint64_t t_submit, t_done;
	uint64_t user; /* free for the job */
};

struct blk_opts {
	int indirect; /* negotiate INDIRECT_DESC if offered (bulkhead.indirect, 1) */
	int event_idx; /* negotiate RING_EVENT_IDX if offered (bulkhead.event-idx, 1) */
	int irq; /* completions by interrupt (bulkhead.irq, 0) */
	unsigned int qsize; /* queue size asked for (bulkhead.qsize, 256) */
	unsigned int timeout_ms; /* a request outstanding this long fails (bulkhead.timeout-ms, 10000) */
};

struct blk {
	struct vdev dev;
	unsigned int disk; /* index among the virtio-blk devices: vda = 0 */
	struct blk_opts opts;
	/* config space */
	uint64_t capacity; /* 512-byte sectors */
	uint32_t size_max, seg_max, blk_size;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	/* limits this driver keeps to */
	unsigned int max_segs; /* data segments per request */
	uint32_t max_seg_bytes; /* bytes per segment */
	uint32_t max_req_bytes; /* data bytes per request (a multiple of the block size) */
	uint32_t lbs; /* logical block size in bytes (512 unless BLK_SIZE says otherwise) */
	/* slots */
	unsigned int nslots, nfree;
	struct blk_slot *slots;
	uint16_t free[BLK_NSLOTS];
};

/* ---- the data pattern (pattern.py) ---- */

/* splitmix64 and pattern_word are in lib.h (the network frames use them too). */
#define FNV1A_INIT 0xcbf29ce484222325ull
#define FNV1A_PRIME 0x100000001b3ull
/* fnv1a: continue the 64-bit FNV-1a hash h over buf[0..len). */
uint64_t fnv1a(uint64_t h, const void *buf, size_t len);

/* ---- driver ---- */

/* blk_opts_from_cmdline: the options above from the command line. */
void blk_opts_from_cmdline(struct blk_opts *o);
/* blk_count: how many virtio-blk devices the command line lists (probed once). */
unsigned int blk_count(void);
/* blk_find: the device window of disk n: 0, or -1 if there is none. */
int blk_find(unsigned int disk, uint64_t *base, uint32_t *gsi);
/* blk_open: set up disk n (index among the virtio-blk devices) with o; FAILs the scenario
 * if it cannot. */
struct blk *blk_open(unsigned int disk, const struct blk_opts *o);
/* blk_setup: (re)initialize b from scratch (reset, features, config, queue, DRIVER_OK);
 * 0, or -1 with *why. driver_ok = 0 stops before DRIVER_OK. */
int blk_setup(struct blk *b, int driver_ok, const char **why);
/* blk_has: feature bit negotiated. blk_offers: offered. */
static inline int blk_has(const struct blk *b, unsigned int bit) { return (b->dev.features >> bit) & 1; }
static inline int blk_offers(const struct blk *b, unsigned int bit) { return (b->dev.offered >> bit) & 1; }

/* blk_slot_get: a free slot (NULL if none); blk_slot_put: give it back. */
struct blk_slot *blk_slot_get(struct blk *b);
void blk_slot_put(struct blk *b, struct blk_slot *s);
/* blk_slot_layout: data of len bytes in nseg segments (raised to what size_max needs,
 * lowered to max_segs and len / 8), split at multiples of 8 chosen from *rng. */
void blk_slot_layout(struct blk *b, struct blk_slot *s, uint32_t len, unsigned int nseg, uint64_t *rng);
/* blk_slot_fill, blk_slot_check: the pattern for disk offset sector * 512 over the
 * segments; check returns -1 if it matches, else the byte offset (in the data) of the
 * first bad word. blk_slot_zero: -1 if all data is zero, else the first nonzero offset. */
void blk_slot_fill(struct blk_slot *s, uint64_t seed);
int64_t blk_slot_check(const struct blk_slot *s, uint64_t seed);
int64_t blk_slot_zero(const struct blk_slot *s);
/* blk_slot_fnv: continue FNV-1a over the data in order. */
uint64_t blk_slot_fnv(const struct blk_slot *s, uint64_t h);
/* blk_submit: make s's request available (not yet notified); 0, or -1 if the queue has
 * no room for it now. */
int blk_submit(struct blk *b, struct blk_slot *s);
/* blk_kick: notify the device of everything submitted. */
void blk_kick(struct blk *b);
/* blk_reap: take one completion: 1 with *s (result and used_len set), 0 if none, -1 if
 * the device returned a buffer that was not in flight. */
int blk_reap(struct blk *b, struct blk_slot **s);
/* blk_sync: submit s alone, wait for it (bounded by the timeout); its status byte, or -1
 * on timeout or a bad completion (*why set). */
int blk_sync(struct blk *b, struct blk_slot *s, const char **why);
/* rng64: xorshift64* step. */
uint64_t rng64(uint64_t *state);

/* ---- the engine ---- */

struct blk_job {
	struct blk *b;
	unsigned int depth; /* requests in flight, at most */
	/* prep: fill s with the next request; 1, or 0 when there are no more. */
	int (*prep)(struct blk_job *j, struct blk_slot *s);
	/* done: check a completed request; 0, or -1 with why set (the run stops). */
	int (*done)(struct blk_job *j, struct blk_slot *s);
	void *ctx;
	/* kept by blk_run */
	struct blk_slot *pending;
	int finished;
	unsigned int inflight;
	uint64_t requests, bytes, kicks, notifies, irqs;
	unsigned int max_inflight; /* most requests in flight at once */
	uint64_t queue_full; /* times a request waited for free descriptors */
	char why[192];
};

/* blk_run: run jobs[0..n) (one per disk) together until all are done; 0, or -1 with the
 * failing job's why (a timeout or a bad completion also stops it). */
int blk_run(struct blk_job *jobs, unsigned int n);
/* blk_run_error: why the last blk_run failed. */
const char *blk_run_error(void);

/* ---- scenarios (blk_scenarios.c, blk_hostile.c) ---- */

void blk_info(void);
void blk_rw(void);
void blk_gaps(void);
void blk_verify(void);
void blk_flush(void);
void blk_id(void);
void blk_discard(void);
void blk_ro(void);
void blk_two(void);
void blk_bench(void);
void blk_hostile(void);
void ioapic_hostile(void);

#endif
