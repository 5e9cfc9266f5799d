/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A 9P2000.L file server for one shared directory, and the virtio-9p device
 * model that carries it (virtio 1.2 section 5.3, "P9 Transport").
 *
 * The protocol layer (struct p9_server) knows nothing of virtio: it takes a
 * T-message in a list of readable buffers and writes the R-message into a
 * list of writable ones, so unit tests and fuzzers drive it with byte
 * buffers and a temporary directory. Every message is hostile input: sizes
 * are checked against the message and msize, names against the rules of
 * the protocol, and every path is resolved from a directory fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV |
 * RESOLVE_NO_SYMLINKS), never by a call that could leave the shared
 * directory. A bad request gets Rlerror with an errno; nothing a guest
 * sends ends the process. docs/architecture.md, "bulkhead-9p", has the
 * protocol coverage, the resolution rules, ownership and the limits.
 */
#ifndef BULKHEAD_DEVICES_9P_P9_H
#define BULKHEAD_DEVICES_9P_P9_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "devices/virtio/virtio.h"

#define VIRTIO_ID_9P 9
#define VIRTIO_9P_F_MOUNT_TAG 0 /* the config space holds the mount tag */

/*
 * The mount tag: neither the spec nor Linux bounds it below 64 KiB, but
 * QEMU has always refused more than 31 bytes, so a tag that works here
 * works there too. Graphic ASCII only: it ends up on kernel command lines
 * (root=TAG) and in mount(8) arguments.
 */
#define P9_TAG_MAX 31

/* msize: at least what a Linux client accepts, at most what one chain of ours carries comfortably
 * (Linux's own virtio limit is 125 pages). */
#define P9_MSIZE_MIN 4096u
#define P9_MSIZE_MAX (512u * 1024)
#define P9_MAXWELEM 16 /* walk elements in one Twalk */
#define P9_FIDS_MAX 65536u /* fids one session may hold */
#define P9_PATH_BYTES_MAX (32u << 20) /* bytes of fid paths one session may hold */
#define P9_NAME_MAX 255 /* one path element */
#define P9_PATH_MAX 4095 /* a fid's path below the root, and a symlink target */

/* p9_server_init flags. */
#define P9_F_READONLY 0x1 /* every request that would change the share fails with EROFS */

/* The message types (Linux include/net/9p/9p.h; R = T + 1). */
enum p9_type {
	P9_TLERROR = 6,
	P9_RLERROR = 7,
	P9_TSTATFS = 8,
	P9_TLOPEN = 12,
	P9_TLCREATE = 14,
	P9_TSYMLINK = 16,
	P9_TMKNOD = 18,
	P9_TRENAME = 20,
	P9_TREADLINK = 22,
	P9_TGETATTR = 24,
	P9_TSETATTR = 26,
	P9_TXATTRWALK = 30,
	P9_TXATTRCREATE = 32,
	P9_TREADDIR = 40,
	P9_TFSYNC = 50,
	P9_TLOCK = 52,
	P9_TGETLOCK = 54,
	P9_TLINK = 70,
	P9_TMKDIR = 72,
	P9_TRENAMEAT = 74,
	P9_TUNLINKAT = 76,
	P9_TVERSION = 100,
	P9_TAUTH = 102,
	P9_TATTACH = 104,
	P9_TFLUSH = 108,
	P9_TWALK = 110,
	P9_TREAD = 116,
	P9_TWRITE = 118,
	P9_TCLUNK = 120,
	P9_TREMOVE = 122,
};

#define P9_NOTAG 0xffffu
#define P9_NOFID 0xffffffffu
#define P9_HDR 7u /* size[4] type[1] tag[2] */

struct p9_fid;

/* Counters for the verbose log. */
struct p9_stats {
	uint64_t requests, errors;
	uint64_t bytes_read, bytes_written;
};

struct p9_server {
	int root_fd; /* the shared directory; never closed by the server */
	dev_t root_dev;
	ino_t root_ino;
	uint32_t flags; /* P9_F_* */
	uint32_t msize; /* 0 until Tversion */
	/* fids: a chained hash table with at most P9_FIDS_MAX entries */
	struct p9_fid **buckets;
	uint32_t nbuckets;
	uint32_t nfids;
	size_t path_bytes;
	/* file descriptors: fids keep an O_PATH fd while path_fds < fd_budget / 2, opened files
	 * while held_fds < fd_budget; past that a fid keeps only its path */
	unsigned int fd_budget;
	unsigned int held_fds; /* every fd the fids hold */
	unsigned int path_fds; /* ... of which O_PATH */
	uint8_t *req; /* the request (a Twrite's header only), P9_MSIZE_MAX bytes */
	uint8_t *rsp; /* the reply being built, P9_MSIZE_MAX bytes */
	uint8_t *dents; /* getdents64 buffer for Treaddir, P9_MSIZE_MAX bytes */
	struct p9_stats stats;
};

/*
 * p9_server_init: serve the directory root_fd (O_PATH or O_RDONLY, a
 * directory) with flags P9_F_*, holding at most fd_budget file descriptors
 * (>= 16; what RLIMIT_NOFILE leaves for the server). -ENOTDIR if root_fd is
 * not a directory, -ENOSYS if the kernel has no openat2 (there is no weaker
 * fallback), -ENOMEM.
 */
int p9_server_init(struct p9_server *s, int root_fd, uint32_t flags, unsigned int fd_budget)
	__attribute__((warn_unused_result));
/* p9_server_reset: forget the session (every fid, the negotiated msize), as Tversion does. */
void p9_server_reset(struct p9_server *s);
/* p9_server_destroy: reset and free; root_fd stays open (its owner closes it). */
void p9_server_destroy(struct p9_server *s);

/*
 * p9_handle: serve one T-message, read from req[0..nreq) (its size field
 * counts; bytes after it are ignored), with the reply written into
 * rsp[0..nrsp). Returns the reply's length, at most the writable length and
 * the session's msize; 0 when the writable part cannot hold even an
 * Rlerror (11 bytes), so the request cannot be answered at all.
 */
size_t p9_handle(struct p9_server *s, const struct iovec *req, unsigned int nreq, const struct iovec *rsp,
		 unsigned int nrsp);

/* p9_tag_ok: tag is a valid mount tag (1 to P9_TAG_MAX graphic ASCII bytes). */
int p9_tag_ok(const char *tag);

/* ---- the virtio-9p device ---- */

/* Config space (5.3.4): tag_len, then the tag; our tag area is fixed-size, zero-padded. */
struct p9_virtio_config {
	uint16_t tag_len;
	uint8_t tag[P9_TAG_MAX];
} __attribute__((packed));

struct p9_dev {
	struct virtio_dev vd; /* first: the device process's priv points here */
	struct p9_server srv;
	struct p9_virtio_config config;
	struct virtq_chain chain;
};

extern const struct virtio_dev_ops p9_virtio_ops;

/*
 * p9_dev_setup: a virtio-9p device serving root_fd (see p9_server_init) as
 * mount tag tag (p9_tag_ok) to a guest with memory mem. Initializes d->vd;
 * the caller sets d->vd.irq (or attaches a devproc).
 */
int p9_dev_setup(struct p9_dev *d, int root_fd, uint32_t flags, unsigned int fd_budget, const char *tag,
		 const struct guest_mem *mem) __attribute__((warn_unused_result));
/* p9_dev_destroy: free the server's state. */
void p9_dev_destroy(struct p9_dev *d);

#endif
