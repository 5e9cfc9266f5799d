/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to devices/9p: the bounded wire codec, the fid table, path
 * resolution and the request handlers. p9.h is the module's interface.
 */
#ifndef BULKHEAD_DEVICES_9P_INTERNAL_H
#define BULKHEAD_DEVICES_9P_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "p9.h"

#define WU __attribute__((warn_unused_result))

/* ---- wire: little-endian fields read from a bounded buffer ---- */

/* A reader: any read past the end yields zeros and marks the message bad. */
struct p9_in {
	const uint8_t *p;
	size_t len, pos;
	int bad;
};

/* A string as it lies in the message: not NUL-terminated, may hold anything. */
struct p9_str {
	const char *p;
	uint16_t len;
};

struct p9_out {
	uint8_t *p;
	size_t cap, len;
	int over; /* something did not fit */
};

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};
#define P9_QID_SIZE 13u
#define P9_QTDIR 0x80
#define P9_QTSYMLINK 0x02
#define P9_QTFILE 0x00

uint8_t p9_get_u8(struct p9_in *in);
uint16_t p9_get_u16(struct p9_in *in);
uint32_t p9_get_u32(struct p9_in *in);
uint64_t p9_get_u64(struct p9_in *in);
void p9_get_str(struct p9_in *in, struct p9_str *s);
/* p9_in_done: 0 if every field was there and nothing follows them, else -EPROTO. */
int p9_in_done(const struct p9_in *in) WU;

void p9_put_u8(struct p9_out *out, uint8_t v);
void p9_put_u16(struct p9_out *out, uint16_t v);
void p9_put_u32(struct p9_out *out, uint32_t v);
void p9_put_u64(struct p9_out *out, uint64_t v);
void p9_put_str(struct p9_out *out, const char *p, size_t len);
void p9_put_qid(struct p9_out *out, const struct p9_qid *q);

/* p9_name: a path element into name[P9_NAME_MAX + 1]; -EINVAL for "", ".", "..", '/' or NUL,
 * -ENAMETOOLONG beyond P9_NAME_MAX. dotdot = 1 lets ".." through (walk). */
int p9_name(const struct p9_str *s, char *name, int dotdot) WU;
/* p9_text: any string without NUL into buf[max + 1]; -EINVAL (NUL) or -ENAMETOOLONG. */
int p9_text(const struct p9_str *s, char *buf, size_t max) WU;

/* Scatter-gather copies: bytes copied from/to offset off of the buffers. */
size_t p9_iov_read(const struct iovec *iov, unsigned int n, size_t off, void *dst, size_t len);
size_t p9_iov_write(const struct iovec *iov, unsigned int n, size_t off, const void *src, size_t len);
/* p9_iov_slice: the buffers covering [off, off + len) into out[max]; the count, or -1. */
int p9_iov_slice(const struct iovec *iov, unsigned int n, size_t off, size_t len, struct iovec *out,
		 unsigned int max);
size_t p9_iov_len(const struct iovec *iov, unsigned int n);

/* ---- fids ---- */

enum p9_fid_kind {
	P9_FID_FILE, /* a file, directory or symlink of the share */
	P9_FID_XATTR, /* the result of Txattrwalk: an empty attribute list */
};

struct p9_fid {
	struct p9_fid *next; /* hash chain */
	uint32_t num;
	uint8_t kind;
	uint8_t opened; /* Tlopen/Tlcreate made fd an open file */
	int omode; /* O_ACCMODE of an opened fid */
	int fd; /* O_PATH (not opened) or the open file; -1: only the path is kept */
	dev_t dev;
	ino_t ino;
	struct p9_qid qid;
	char *path; /* below the root, "" for the root itself; never '/'-led, no "." or ".." */
	size_t pathlen;
};

struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t num);
/* p9_fid_new: an empty fid num; -EBADF for P9_NOFID, -EEXIST if in use, -ENFILE if too many. */
int p9_fid_new(struct p9_server *s, uint32_t num, struct p9_fid **out) WU;
/* p9_fid_free: unlink, close its fd, free. */
void p9_fid_free(struct p9_server *s, struct p9_fid *f);
/* p9_fid_set_path: the fid's path becomes path[0..len); -ENFILE over the session's budget. */
int p9_fid_set_path(struct p9_server *s, struct p9_fid *f, const char *path, size_t len) WU;
/* p9_fid_set_stat: the fid is the object st describes. */
void p9_fid_set_stat(struct p9_server *s, struct p9_fid *f, const struct stat *st);
/* p9_fid_keep_fd: the fid holds O_PATH fd if the budget allows, else it is closed. */
void p9_fid_keep_fd(struct p9_server *s, struct p9_fid *f, int fd);
/* p9_fid_set_open: the fid becomes the open file fd (its O_PATH fd is closed). */
void p9_fid_set_open(struct p9_server *s, struct p9_fid *f, int fd, int omode);
/* p9_fid_can_open: -EMFILE when the session holds as many fds as it may. */
int p9_fid_can_open(const struct p9_server *s) WU;
/* p9_fid_clear: close every fid (reset). */
void p9_fid_clear(struct p9_server *s);

/* p9_fid_fd: an fd for the fid's object (its own, or a fresh O_PATH one); release with p9_fid_put. */
int p9_fid_fd(struct p9_server *s, struct p9_fid *f, int *fd) WU;
void p9_fid_put(const struct p9_fid *f, int fd);
/* p9_fid_dir: like p9_fid_fd, for a fid that must be a directory (-ENOTDIR). */
int p9_fid_dir(struct p9_server *s, struct p9_fid *f, int *fd) WU;
/* p9_fid_reopen: open the fid's object again with flags (O_NOFOLLOW, beneath the root); fd or -errno,
 * -ESTALE if the path now names another file. */
int p9_fid_reopen(struct p9_server *s, const struct p9_fid *f, int flags) WU;
/* p9_fid_parent: an O_PATH fd of the fid's directory and its name there (checked to be the fid's
 * file); -EBUSY for the root. */
int p9_fid_parent(struct p9_server *s, const struct p9_fid *f, int *dirfd, const char **name) WU;
/* p9_fid_renamed: fids at or below old now live at new. */
void p9_fid_renamed(struct p9_server *s, const char *old, size_t oldlen, const char *new, size_t newlen);
/* p9_join: dir + "/" + name into buf[P9_PATH_MAX + 1] (name alone under the root); length or
 * -ENAMETOOLONG. */
int p9_join(char *buf, const char *dir, size_t dirlen, const char *name) WU;

/* ---- resolution: the only ways the server names a file ---- */

/* p9_openat: openat2(dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC, mode) beneath dirfd, no symlinks,
 * no magic links, no mount crossing; "" is dirfd itself. fd or -errno. */
int p9_openat(int dirfd, const char *path, int flags, mode_t mode) WU;
/* p9_fstat: fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW); 0 or -errno. */
int p9_fstat(int fd, struct stat *st) WU;
void p9_qid_of(const struct p9_server *s, const struct stat *st, struct p9_qid *q);

/* ---- handlers ---- */

/* One request being served. */
struct p9_req {
	uint8_t type;
	uint16_t tag;
	uint32_t size; /* the whole T-message */
	struct p9_in in; /* the body after the header */
	struct p9_out out; /* the reply's body after its header */
	const struct iovec *req, *rsp; /* the transport's buffers: Twrite and Rread data */
	unsigned int nreq, nrsp;
	size_t rcap; /* the reply may be this long: min(msize, writable) */
	size_t direct; /* data bytes already placed in rsp after the body (Rread) */
};

typedef int (*p9_handler)(struct p9_server *s, struct p9_req *r);

int p9_op_lopen(struct p9_server *s, struct p9_req *r) WU;
int p9_op_lcreate(struct p9_server *s, struct p9_req *r) WU;
int p9_op_read(struct p9_server *s, struct p9_req *r) WU;
int p9_op_write(struct p9_server *s, struct p9_req *r) WU;
int p9_op_readdir(struct p9_server *s, struct p9_req *r) WU;
int p9_op_fsync(struct p9_server *s, struct p9_req *r) WU;
int p9_op_lock(struct p9_server *s, struct p9_req *r) WU;
int p9_op_getlock(struct p9_server *s, struct p9_req *r) WU;

int p9_op_getattr(struct p9_server *s, struct p9_req *r) WU;
int p9_op_setattr(struct p9_server *s, struct p9_req *r) WU;
int p9_op_statfs(struct p9_server *s, struct p9_req *r) WU;
int p9_op_readlink(struct p9_server *s, struct p9_req *r) WU;
int p9_op_xattrwalk(struct p9_server *s, struct p9_req *r) WU;
int p9_op_xattrcreate(struct p9_server *s, struct p9_req *r) WU;

int p9_op_mkdir(struct p9_server *s, struct p9_req *r) WU;
int p9_op_symlink(struct p9_server *s, struct p9_req *r) WU;
int p9_op_mknod(struct p9_server *s, struct p9_req *r) WU;
int p9_op_link(struct p9_server *s, struct p9_req *r) WU;
int p9_op_unlinkat(struct p9_server *s, struct p9_req *r) WU;
int p9_op_renameat(struct p9_server *s, struct p9_req *r) WU;
int p9_op_rename(struct p9_server *s, struct p9_req *r) WU;
int p9_op_remove(struct p9_server *s, struct p9_req *r) WU;

/* p9_file_fid: *f = fid num, a file of the share: -EBADF if there is no such fid, -EINVAL if it is
 * an xattr fid. */
int p9_file_fid(struct p9_server *s, uint32_t num, struct p9_fid **f) WU;
/* p9_req_fid: the request was read to its end (else -EPROTO) and *f is fid num: any fid
 * (file = 0, else -EBADF) or, with file = 1, as p9_file_fid. */
int p9_req_fid(struct p9_server *s, const struct p9_req *r, uint32_t num, int file, struct p9_fid **f) WU;

#endif
