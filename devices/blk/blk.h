/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-blk device model, separate from its process so that unit tests
 * and fuzzers drive it against memfd guest memory and a memfd image.
 */
#ifndef BULKHEAD_DEVICES_BLK_BLK_H
#define BULKHEAD_DEVICES_BLK_BLK_H

#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/virtio.h"
#include "ipc/ipc.h"

#define VIRTIO_ID_BLOCK IPC_BLK_VIRTIO_ID

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

/* The config space we serve (virtio 1.2 5.2.4), little-endian like the host. */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));
_Static_assert(sizeof(struct blk_config) == 60, "virtio_blk_config size");

struct blk {
	struct virtio_dev vd; /* first: the device process's priv points here */
	int fd;
	uint64_t size;
	uint32_t flags; /* IPC_BLK_F_* */
	char serial[IPC_BLK_SERIAL_MAX];
	struct blk_config config;
	struct virtq_chain chain;
	struct iovec iov[VIRTQ_MAX_SEGS];
	uint64_t moved; /* data bytes the request being served moved */
	void *bounce; /* for direct=on requests whose buffers are not aligned */
	size_t bounce_len;
};

extern const struct virtio_dev_ops blk_virtio_ops;

/*
 * blk_setup: serve image fd (size bytes, checked against fstat; flags
 * IPC_BLK_F_*; serial at most 20 bytes) to a guest with memory mem.
 * Initializes b->vd; the caller sets b->vd.irq (or attaches a devproc).
 */
int blk_setup(struct blk *b, int fd, uint64_t size, uint32_t flags, const char *serial,
	      const struct guest_mem *mem) __attribute__((warn_unused_result));

#endif
