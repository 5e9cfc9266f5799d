/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test guest's virtio-9p driver (virtio 1.2 section 5.3) and a small
 * 9P2000.L client over it, in ring 3. One request at a time by default: a
 * request is a chain of the T-message (readable) and a reply buffer
 * (writable), completed by polling the used ring. The scenarios that break
 * the protocol build their own messages with the same writer (p9c_begin ...
 * p9c_end) and send them with p9c_send_raw.
 *
 * Every call returns >= 0, a negative errno from an Rlerror, or P9C_BAD when
 * the transport or the reply's framing failed (c->why says how).
 */
#ifndef BULKHEAD_TESTS_GUEST_P9_H
#define BULKHEAD_TESTS_GUEST_P9_H

#include "virtio.h"

#define VIRTIO_ID_9P 9
#define VIRTIO_9P_F_MOUNT_TAG 0

#define P9C_BUF (KiB(512) + KiB(8)) /* each of the request and reply buffers */
#define P9C_MSIZE KiB(128) /* what the scenarios ask for (bulkhead.p9-msize) */
#define P9C_BAD (-100000)
#define P9C_ZC_MIN 1024u /* Linux's client: zero-copy above 1 KiB */
#define P9C_NOFID 0xffffffffu
#define P9C_NOTAG 0xffffu
#define P9C_TAG_MAX 64

/* Message types (T; R = T + 1). */
enum {
	P9_RLERROR = 7,
	P9_TSTATFS = 8,
	P9_TLOPEN = 12,
	P9_TLCREATE = 14,
	P9_TSYMLINK = 16,
	P9_TMKNOD = 18,
	P9_TREADLINK = 22,
	P9_TGETATTR = 24,
	P9_TSETATTR = 26,
	P9_TXATTRWALK = 30,
	P9_TREADDIR = 40,
	P9_TFSYNC = 50,
	P9_TLOCK = 52,
	P9_TGETLOCK = 54,
	P9_TLINK = 70,
	P9_TMKDIR = 72,
	P9_TRENAMEAT = 74,
	P9_TUNLINKAT = 76,
	P9_TVERSION = 100,
	P9_TATTACH = 104,
	P9_TFLUSH = 108,
	P9_TWALK = 110,
	P9_TREAD = 116,
	P9_TWRITE = 118,
	P9_TCLUNK = 120,
	P9_TREMOVE = 122,
};

/* Linux's open flags and errnos, as 9P2000.L carries them. */
#define L_O_RDONLY 0
#define L_O_WRONLY 1
#define L_O_RDWR 2
#define L_O_CREAT 0100
#define L_O_EXCL 0200
#define L_O_TRUNC 01000
#define L_O_DIRECTORY 0200000
#define L_EPERM 1
#define L_ENOENT 2
#define L_EBADF 9
#define L_EACCES 13
#define L_EEXIST 17
#define L_ENOTDIR 20
#define L_EISDIR 21
#define L_EINVAL 22
#define L_EROFS 30
#define L_ENAMETOOLONG 36
#define L_ELOOP 40
#define L_EPROTO 71
#define L_EMSGSIZE 90
#define L_EOPNOTSUPP 95
#define L_AT_REMOVEDIR 0x200
#define P9_GETATTR_BASIC 0x7ffull
#define P9_SETATTR_MODE 0x1
#define P9_SETATTR_UID 0x2
#define P9_SETATTR_GID 0x4
#define P9_SETATTR_SIZE 0x8
#define P9_SETATTR_ATIME 0x10
#define P9_SETATTR_MTIME 0x20
#define P9_SETATTR_ATIME_SET 0x80
#define P9_SETATTR_MTIME_SET 0x100
#define P9_LOCK_WRLCK 1
#define P9_LOCK_UNLCK 2
#define P9_LOCK_SUCCESS 0
#define P9_QTDIR 0x80
#define P9_QTSYMLINK 0x02

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

struct p9_attr {
	struct p9_qid qid;
	uint32_t mode, uid, gid;
	uint64_t nlink, size;
};

struct p9_setattr {
	uint32_t valid, mode, uid, gid;
	uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
};

struct p9c {
	struct vdev dev;
	char tag[P9C_TAG_MAX + 1]; /* the mount tag from config space */
	uint8_t *tx, *rx; /* P9C_BUF bytes each */
	uint32_t msize; /* negotiated, 0 before Tversion */
	uint16_t next_tag;
	unsigned int timeout_ms;
	/* the request being written */
	size_t wlen;
	/* the last reply */
	uint32_t rlen; /* bytes the device said it wrote */
	uint8_t rtype;
	uint16_t rtag;
	size_t rpos;
	int rbad; /* a read past its end */
	/* The payload of a Tread or Twrite of more than P9C_ZC_MIN bytes stays in the caller's
	 * buffer, a descriptor of its own after the message's header, as Linux's client posts
	 * the user's pages (its zero-copy path): no copy through tx or rx. */
	const void *zc_out;
	void *zc_in;
	uint32_t zc_len;
	char why[160];
};

/* p9c_count: virtio-9p devices on the command line. p9c_open: set up device n (FAILs the
 * scenario if it cannot). */
unsigned int p9c_count(void);
struct p9c *p9c_open(unsigned int n);
/* p9c_setup: (re)initialize c's device from a reset; 0, or -1 with c->why. */
int p9c_setup(struct p9c *c);

/* Writing a T-message: begin (header, a fresh tag), fields, end (the size). */
void p9c_begin(struct p9c *c, uint8_t type);
void p9c_u8(struct p9c *c, uint8_t v);
void p9c_u16(struct p9c *c, uint16_t v);
void p9c_u32(struct p9c *c, uint32_t v);
void p9c_u64(struct p9c *c, uint64_t v);
void p9c_str(struct p9c *c, const char *s, size_t len);
void p9c_cstr(struct p9c *c, const char *s);
void p9c_bytes(struct p9c *c, const void *p, size_t len);
size_t p9c_end(struct p9c *c);
/* Reading the reply. */
uint8_t p9c_g8(struct p9c *c);
uint16_t p9c_g16(struct p9c *c);
uint32_t p9c_g32(struct p9c *c);
uint64_t p9c_g64(struct p9c *c);
void p9c_gqid(struct p9c *c, struct p9_qid *q);

/* p9c_xfer: send tx[0..len) with a reply room of room bytes and wait for the device; 0 with
 * c->rlen, or P9C_BAD (timeout, a bad used entry). With a payload in the caller's buffer
 * (zc_out, zc_in: p9c_read and p9c_write set them) it follows tx, or the reply's 11-byte
 * header room, as a descriptor of its own, and room is not used for a read. */
int p9c_xfer(struct p9c *c, size_t len, uint32_t room);
/* p9c_rpc: end the message, send it with room for msize bytes, check the reply's frame and
 * tag: 0 (the reader is at the body), -errno for Rlerror, P9C_BAD. */
int p9c_rpc(struct p9c *c);
/* p9c_send_raw: p9c_xfer of len bytes already in tx, then the frame check of p9c_rpc (the
 * tag must be tag). */
int p9c_send_raw(struct p9c *c, size_t len, uint32_t room, uint16_t tag);

/* The messages. */
int p9c_version(struct p9c *c, uint32_t msize, const char *version);
int p9c_attach(struct p9c *c, uint32_t fid, struct p9_qid *qid);
/* p9c_walk: names[0..n); the number of qids (== n on success), or an error. */
int p9c_walk(struct p9c *c, uint32_t fid, uint32_t newfid, unsigned int n, const char *const *names,
	     struct p9_qid *qids);
/* p9c_walk_path: "a/b/c" from fid to newfid ("" clones); 0 or an error (a partial walk is
 * -ENOENT). */
int p9c_walk_path(struct p9c *c, uint32_t fid, uint32_t newfid, const char *path);
int p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags, struct p9_qid *qid);
int p9c_lcreate(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags, uint32_t mode,
		struct p9_qid *qid);
/* p9c_read: up to count bytes at off into dst; how many. p9c_write: from src; how many. */
int p9c_read(struct p9c *c, uint32_t fid, uint64_t off, uint32_t count, void *dst);
int p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *src, uint32_t count);
int p9c_clunk(struct p9c *c, uint32_t fid);
int p9c_getattr(struct p9c *c, uint32_t fid, struct p9_attr *a);
int p9c_setattr(struct p9c *c, uint32_t fid, const struct p9_setattr *a);
/* p9c_setattr_mode_size: Tsetattr of the mode, the size, or both (valid). */
int p9c_setattr_mode_size(struct p9c *c, uint32_t fid, uint32_t valid, uint32_t mode, uint64_t size);
int p9c_link(struct p9c *c, uint32_t dfid, uint32_t fid, const char *name);
int p9c_mknod(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode);
int p9c_remove(struct p9c *c, uint32_t fid);
/* p9c_lock: Tlock of type over the whole file; Rlock's status. p9c_getlock: Rgetlock's type. */
int p9c_lock(struct p9c *c, uint32_t fid, uint8_t type);
int p9c_getlock(struct p9c *c, uint32_t fid, uint8_t type);
int p9c_mkdir(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode, struct p9_qid *qid);
int p9c_symlink(struct p9c *c, uint32_t dfid, const char *name, const char *target);
/* p9c_readlink: the target into buf[n] (NUL-terminated); its length. */
int p9c_readlink(struct p9c *c, uint32_t fid, char *buf, size_t n);
int p9c_unlinkat(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags);
int p9c_renameat(struct p9c *c, uint32_t odfid, const char *oname, uint32_t ndfid, const char *nname);
int p9c_fsync(struct p9c *c, uint32_t fid, int datasync);
int p9c_statfs(struct p9c *c, uint32_t fid, uint32_t *bsize, uint64_t *blocks);
int p9c_flush(struct p9c *c, uint16_t oldtag);
/* p9c_dir_find: whether the opened directory fid lists name (1), not (0), or an error. */
int p9c_dir_find(struct p9c *c, uint32_t fid, const char *name);

/* ---- scenarios (p9_scenarios.c) ---- */

void p9_info(void);
void p9_rw(void);
void p9_ro(void);
void p9_hostile(void);
void p9_bench(void);

#endif
