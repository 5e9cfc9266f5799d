/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-blk device model (virtio 1.2 section 5.2) over a raw image fd:
 * requests are walked by the shared virtqueue code and served with
 * preadv/pwritev straight between the image and guest memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blk.h"
#include "common/log.h"

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define SECTOR 512ull
#define BLK_SEG_MAX (VIRTQ_MAX_SIZE - 2) /* header and status take two descriptors */
#define BLK_SIZE_MAX (1u << 20) /* bytes per segment */
#define BLK_DISCARD_SEG_MAX 32
#define BLK_DISCARD_SECTORS_MAX (1u << 22) /* 2 GiB per segment */
#define BLK_WRITE_ZEROES_MAY_UNMAP 1

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_discard_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

static uint64_t blk_features(struct virtio_dev *vd)
{
	struct blk *b = vd->priv;
	uint64_t f = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		     VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
		     VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);

	if (b->flags & IPC_BLK_F_READONLY)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	else
		f |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

static uint64_t blk_config_read(struct virtio_dev *vd, uint32_t off, unsigned int size)
{
	struct blk *b = vd->priv;
	uint64_t v = 0;

	memcpy(&v, (const uint8_t *)&b->config + off, size);
	return v;
}

/* Move the whole of iov through preadv/pwritev, resuming after short transfers. */
static int blk_rw_all(struct blk *b, int write, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = write ? pwritev(b->fd, iov, n, (off_t)off) : preadv(b->fd, iov, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* the image shrank under us */
		off += (uint64_t)r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* O_DIRECT needs aligned buffers; guest buffers may not be. Copy through one. */
static int blk_rw_bounce(struct blk *b, int write, struct iovec *iov, int n, uint64_t off,
			 uint64_t len)
{
	struct iovec one;
	size_t done = 0;
	int err;

	if (len > b->bounce_len) {
		void *p;

		if (posix_memalign(&p, 4096, len))
			return -ENOMEM;
		free(b->bounce);
		b->bounce = p;
		b->bounce_len = len;
	}
	if (write) {
		for (int i = 0; i < n; i++, done += iov[i - 1].iov_len)
			memcpy((uint8_t *)b->bounce + done, iov[i].iov_base, iov[i].iov_len);
	}
	one.iov_base = b->bounce;
	one.iov_len = len;
	err = blk_rw_all(b, write, &one, 1, off);
	if (err || write)
		return err;
	for (int i = 0; i < n; i++, done += iov[i - 1].iov_len)
		memcpy(iov[i].iov_base, (uint8_t *)b->bounce + done, iov[i].iov_len);
	return 0;
}

static int blk_range_ok(const struct blk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t off;

	if (sector > UINT64_MAX / SECTOR)
		return 0;
	off = sector * SECTOR;
	return off <= b->size && bytes <= b->size - off;
}

static uint8_t blk_data(struct blk *b, int write, const struct blk_req_hdr *h, uint32_t *written)
{
	const struct virtq_chain *c = &b->chain;
	/* OUT: data follows the header in the readable part; IN: it precedes the status byte. */
	uint64_t len = write ? c->read_len - sizeof(*h) : c->write_len - 1;
	int n, err;

	if (write && (b->flags & IPC_BLK_F_READONLY))
		return VIRTIO_BLK_S_IOERR;
	/* Beyond seg_max * size_max the driver ignored our limits; refuse rather than bounce it. */
	if (len % SECTOR || len > (uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX ||
	    !blk_range_ok(b, h->sector, len))
		return VIRTIO_BLK_S_IOERR;
	n = virtq_slice(c, !write, write ? sizeof(*h) : 0, len, b->iov, VIRTQ_MAX_SEGS);
	if (n < 0)
		return VIRTIO_BLK_S_IOERR;
	err = blk_rw_all(b, write, b->iov, n, h->sector * SECTOR);
	if (err == -EINVAL && (b->flags & IPC_BLK_F_DIRECT)) {
		n = virtq_slice(c, !write, write ? sizeof(*h) : 0, len, b->iov, VIRTQ_MAX_SEGS);
		err = blk_rw_bounce(b, write, b->iov, n, h->sector * SECTOR, len);
	}
	if (err < 0) {
		errno = -err;
		log_warn("%s at sector %llu", write ? "write" : "read",
			 (unsigned long long)h->sector);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!write)
		*written = (uint32_t)len;
	b->moved = len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_get_id(struct blk *b, uint32_t *written)
{
	uint64_t room = b->chain.write_len - 1;
	size_t n = room < sizeof(b->serial) ? (size_t)room : sizeof(b->serial);

	*written = (uint32_t)virtq_write_chain(&b->chain, 0, b->serial, n);
	return VIRTIO_BLK_S_OK;
}

static int blk_zero_range(struct blk *b, uint64_t off, uint64_t len, int unmap)
{
	static const uint8_t zeros[65536];
	int mode = unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE;

	if (fallocate(b->fd, mode, (off_t)off, (off_t)len) == 0)
		return 0;
	if (unmap && fallocate(b->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len) == 0)
		return 0;
	/* Block devices and some filesystems: write the zeros. */
	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t w = pwrite(b->fd, zeros, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static uint8_t blk_discard(struct blk *b, int zeroes)
{
	uint64_t len = b->chain.read_len - sizeof(struct blk_req_hdr);
	uint64_t nseg = len / sizeof(struct blk_discard_seg);

	if (b->flags & IPC_BLK_F_READONLY)
		return VIRTIO_BLK_S_IOERR;
	if (len == 0 || len % sizeof(struct blk_discard_seg) || nseg > BLK_DISCARD_SEG_MAX)
		return VIRTIO_BLK_S_UNSUPP;
	for (uint64_t i = 0; i < nseg; i++) {
		struct blk_discard_seg s;
		uint64_t off = sizeof(struct blk_req_hdr) + i * sizeof(s);

		virtq_read_chain(&b->chain, off, &s, sizeof(s));
		/* Unknown flag bits, or the unmap flag on a discard, are unsupported (5.2.6.2). */
		if (s.flags & ~(uint32_t)(zeroes ? BLK_WRITE_ZEROES_MAY_UNMAP : 0))
			return VIRTIO_BLK_S_UNSUPP;
		if (s.num_sectors > BLK_DISCARD_SECTORS_MAX ||
		    !blk_range_ok(b, s.sector, (uint64_t)s.num_sectors * SECTOR))
			return VIRTIO_BLK_S_IOERR;
		if (blk_zero_range(b, s.sector * SECTOR, (uint64_t)s.num_sectors * SECTOR,
				   !zeroes || (s.flags & BLK_WRITE_ZEROES_MAY_UNMAP)) < 0)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_execute(struct blk *b, const struct blk_req_hdr *h, uint32_t *written)
{
	switch (h->type) {
	case VIRTIO_BLK_T_IN:
		return blk_data(b, 0, h, written);
	case VIRTIO_BLK_T_OUT:
		return blk_data(b, 1, h, written);
	case VIRTIO_BLK_T_FLUSH:
		if (!(b->flags & IPC_BLK_F_READONLY) && fdatasync(b->fd) < 0) {
			log_warn("fdatasync");
			return VIRTIO_BLK_S_IOERR;
		}
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		return blk_get_id(b, written);
	case VIRTIO_BLK_T_DISCARD:
		return blk_discard(b, 0);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_discard(b, 1);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* One request: header readable, status the last writable byte (5.2.6). */
static int blk_request(struct virtio_dev *vd, unsigned int q)
{
	struct blk *b = vd->priv;
	const struct virtq_chain *c = &b->chain;
	struct blk_req_hdr h;
	uint32_t written = 0;
	uint8_t status;

	if (c->nwrite == 0) {
		/* No writable status byte: the request cannot even be answered. */
		virtio_fail(&b->vd, q, "request without a writable status byte");
		return -1;
	}
	b->moved = 0;
	if (c->read_len < sizeof(h)) {
		status = VIRTIO_BLK_S_IOERR; /* the header is missing or write-only */
	} else {
		virtq_read_chain(c, 0, &h, sizeof(h));
		status = blk_execute(b, &h, &written);
	}
	virtq_write_chain(c, c->write_len - 1, &status, 1);
	virtq_push(&b->vd.queues[q], c->head, written + 1);
	virtio_count(&b->vd, 1, b->moved, status != VIRTIO_BLK_S_OK);
	return 0;
}

static void blk_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	struct blk *b = vd->priv;

	virtio_serve_queue(vd, q, &b->chain, blk_request);
}

const struct virtio_dev_ops blk_virtio_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = IPC_BLK_QUEUES,
	.features = blk_features,
	.queue_notify = blk_queue_notify,
	.config_len = sizeof(struct blk_config),
	.config_read = blk_config_read,
	.poll = 1, /* at depth 1 each request waits for the last: every round trip counts */
};

/* The image must be what the supervisor said: as large, and not shrinkable under us by accident. */
static int blk_check_image(struct blk *b)
{
	uint64_t size;
	struct stat st;

	if (fstat(b->fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) < 0)
			return -errno;
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		return -EINVAL;
	}
	if (size != b->size) {
		log_warnx("image is %llu bytes, the supervisor said %llu", (unsigned long long)size,
			  (unsigned long long)b->size);
		return -EINVAL;
	}
	return 0;
}

static void blk_fill_config(struct blk *b)
{
	struct blk_config *c = &b->config;

	memset(c, 0, sizeof(*c));
	c->capacity = b->size / SECTOR;
	c->size_max = BLK_SIZE_MAX;
	c->seg_max = BLK_SEG_MAX;
	c->blk_size = SECTOR;
	c->num_queues = 1;
	c->max_discard_sectors = BLK_DISCARD_SECTORS_MAX;
	c->max_discard_seg = BLK_DISCARD_SEG_MAX;
	c->discard_sector_alignment = 4096 / SECTOR;
	c->max_write_zeroes_sectors = BLK_DISCARD_SECTORS_MAX;
	c->max_write_zeroes_seg = BLK_DISCARD_SEG_MAX;
	c->write_zeroes_may_unmap = 1;
}

int blk_setup(struct blk *b, int fd, uint64_t size, uint32_t flags, const char *serial,
	      const struct guest_mem *mem)
{
	int err;

	if (size == 0 || size % SECTOR || strlen(serial) > IPC_BLK_SERIAL_MAX)
		return -EINVAL;
	b->fd = fd;
	b->size = size;
	b->flags = flags;
	b->bounce = NULL;
	b->bounce_len = 0;
	memset(b->serial, 0, sizeof(b->serial));
	memcpy(b->serial, serial, strlen(serial));
	err = blk_check_image(b);
	if (err < 0)
		return err;
	blk_fill_config(b);
	virtio_init(&b->vd, &blk_virtio_ops, mem, b);
	return 0;
}
