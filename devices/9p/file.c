/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Open files: Tlopen, Tlcreate, Tread, Twrite, Treaddir, Tfsync, Tlock,
 * Tgetlock. Data moves straight between the file and the transport's
 * buffers (preadv into the reply's, pwritev from the request's): no copy.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

/* Tlopen/Tlcreate flags (Linux's, as include/net/9p/9p.h names them P9_DOTL_*). */
#define DOTL_ACCMODE 03
#define DOTL_EXCL 0200
#define DOTL_TRUNC 01000
#define DOTL_APPEND 02000
#define DOTL_DSYNC 010000
#define DOTL_DIRECTORY 0200000
#define DOTL_SYNC 04000000

/* Tlock/Tgetlock: the lock types as the wire numbers them (read, write, unlock),
 * each the fcntl type it is. */
static const short wire_lock_types[] = { F_RDLCK, F_WRLCK, F_UNLCK };
#define LOCK_TYPES (sizeof(wire_lock_types) / sizeof(wire_lock_types[0]))
#define LOCK_SUCCESS 0
#define LOCK_BLOCKED 1

#define P9_IOHDR (P9_HDR + 4) /* Rread, Rreaddir: header and count */
#define P9_TWRITE_HDR (P9_HDR + 16)
#define P9_IOV_MAX UIO_MAXIOV

/*
 * The host flags for a client's open flags. Kept: the access mode, TRUNC,
 * APPEND, DSYNC, SYNC, DIRECTORY. Dropped: CREAT and EXCL (Tlcreate's
 * business), NONBLOCK, NOCTTY, FASYNC, LARGEFILE, CLOEXEC (the server's
 * own choices), DIRECT (guest buffers need not be aligned), NOATIME (needs
 * ownership), NOFOLLOW (always on).
 */
static int open_flags(uint32_t f, int *flags)
{
	static const int acc[] = { O_RDONLY, O_WRONLY, O_RDWR };

	if ((f & DOTL_ACCMODE) == DOTL_ACCMODE)
		return -EINVAL;
	*flags = acc[f & DOTL_ACCMODE];
	if (f & DOTL_TRUNC)
		*flags |= O_TRUNC;
	if (f & DOTL_APPEND)
		*flags |= O_APPEND;
	if (f & DOTL_DSYNC)
		*flags |= O_DSYNC;
	if (f & DOTL_SYNC)
		*flags |= O_SYNC;
	if (f & DOTL_DIRECTORY)
		*flags |= O_DIRECTORY;
	return 0;
}

static int writes(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* Only regular files and directories are opened: a FIFO or a device would block or act on open. */
static int openable(const struct stat *st)
{
	return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) ? 0 : -EOPNOTSUPP;
}

static int put_open_reply(struct p9_server *s, struct p9_req *r, struct p9_fid *f)
{
	struct stat st;
	int err = p9_fstat(f->fd, &st);

	if (err < 0)
		return err;
	p9_fid_set_stat(s, f, &st);
	p9_put_qid(&r->out, &f->qid);
	p9_put_u32(&r->out, 0); /* iounit 0: the client uses msize */
	return 0;
}

int p9_op_lopen(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in), dflags = p9_get_u32(&r->in);
	struct p9_fid *f;
	struct stat st;
	int err, flags, fd;

	err = p9_req_fid(s, r, num, 1, &f);
	if (err == 0)
		err = f->opened ? -EBADF : open_flags(dflags, &flags);
	if (err < 0)
		return err;
	if ((s->flags & P9_F_READONLY) && writes(flags))
		return -EROFS;
	err = p9_fid_fd(s, f, &fd);
	if (err < 0)
		return err;
	err = p9_fstat(fd, &st);
	p9_fid_put(f, fd);
	if (err == 0)
		err = openable(&st);
	if (err == 0)
		err = p9_fid_can_open(s);
	if (err < 0)
		return err;
	/* O_NONBLOCK: a file swapped for a FIFO behind our back must not block the server. */
	fd = p9_fid_reopen(s, f, flags | O_NONBLOCK);
	if (fd < 0)
		return fd;
	p9_fid_set_open(s, f, fd, flags & O_ACCMODE);
	return put_open_reply(s, r, f);
}

int p9_op_lcreate(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in), dflags, mode;
	char name[P9_NAME_MAX + 1], path[P9_PATH_MAX + 1];
	struct p9_str sname;
	struct p9_fid *f;
	struct stat st;
	int err, flags, dirfd, fd, plen;

	p9_get_str(&r->in, &sname);
	dflags = p9_get_u32(&r->in);
	mode = p9_get_u32(&r->in);
	p9_get_u32(&r->in); /* gid: new files belong to the server's ids */
	err = p9_req_fid(s, r, num, 1, &f);
	if (err == 0)
		err = p9_name(&sname, name, 0);
	if (err == 0)
		err = f->opened ? -EBADF : open_flags(dflags & ~(uint32_t)DOTL_DIRECTORY, &flags);
	if (err == 0)
		err = p9_fid_can_open(s);
	if (err < 0)
		return err;
	plen = p9_join(path, f->path, f->pathlen, name);
	if (plen < 0)
		return plen;
	err = p9_fid_dir(s, f, &dirfd);
	if (err < 0)
		return err;
	flags |= O_CREAT | O_NONBLOCK | ((dflags & DOTL_EXCL) ? O_EXCL : 0);
	fd = p9_openat(dirfd, name, flags, mode & 07777);
	p9_fid_put(f, dirfd);
	if (fd < 0)
		return fd;
	err = p9_fstat(fd, &st);
	if (err == 0)
		err = S_ISREG(st.st_mode) ? 0 : -EOPNOTSUPP;
	if (err == 0)
		err = p9_fid_set_path(s, f, path, (size_t)plen);
	if (err < 0) {
		close(fd);
		return err;
	}
	p9_fid_set_open(s, f, fd, flags & O_ACCMODE);
	return put_open_reply(s, r, f);
}

/* The request was read to its end, and fid num is open (-EBADF if not). */
static int open_fid(struct p9_server *s, const struct p9_req *r, uint32_t num, struct p9_fid **f)
{
	int err = p9_req_fid(s, r, num, 1, f);

	if (err == 0 && !(*f)->opened)
		err = -EBADF;
	return err;
}

int p9_op_read(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in), count;
	uint64_t offset = p9_get_u64(&r->in);
	struct iovec iov[P9_IOV_MAX];
	struct p9_fid *f;
	ssize_t got;
	int err, n;

	count = p9_get_u32(&r->in);
	err = p9_req_fid(s, r, num, 0, &f);
	if (err < 0)
		return err;
	if (f->kind == P9_FID_XATTR) {
		p9_put_u32(&r->out, 0); /* the empty attribute list */
		return 0;
	}
	if (!f->opened)
		return -EBADF;
	if (offset > INT64_MAX)
		return -EINVAL;
	/* Never more than the reply can carry: a short read is a read. */
	if (count > r->rcap - P9_IOHDR)
		count = (uint32_t)(r->rcap - P9_IOHDR);
	n = p9_iov_slice(r->rsp, r->nrsp, P9_IOHDR, count, iov, P9_IOV_MAX);
	if (n < 0)
		return -EINVAL;
	got = preadv(f->fd, iov, n, (off_t)offset);
	if (got < 0)
		return -errno;
	p9_put_u32(&r->out, (uint32_t)got);
	r->direct = (size_t)got;
	s->stats.bytes_read += (uint64_t)got;
	return 0;
}

int p9_op_write(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in), count;
	uint64_t offset = p9_get_u64(&r->in);
	struct iovec iov[P9_IOV_MAX];
	struct p9_fid *f;
	ssize_t put;
	int err, n;

	count = p9_get_u32(&r->in);
	err = open_fid(s, r, num, &f);
	if (err == 0 && (uint64_t)r->size != P9_TWRITE_HDR + (uint64_t)count)
		err = -EPROTO; /* the data is not what count says */
	if (err < 0)
		return err;
	if (offset > INT64_MAX)
		return -EINVAL;
	n = p9_iov_slice(r->req, r->nreq, P9_TWRITE_HDR, count, iov, P9_IOV_MAX);
	if (n < 0)
		return -EINVAL;
	put = pwritev(f->fd, iov, n, (off_t)offset);
	if (put < 0)
		return -errno;
	p9_put_u32(&r->out, (uint32_t)put);
	s->stats.bytes_written += (uint64_t)put;
	return 0;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	uint16_t d_reclen;
	uint8_t d_type;
	char d_name[];
};

/* One directory entry into the reply: 0, or -ENOSPC if it does not fit in count. */
static int put_dirent(struct p9_server *s, struct p9_req *r, const struct p9_fid *f,
		      const struct linux_dirent64 *d, size_t namelen, uint32_t count)
{
	struct p9_qid q = { .type = P9_QTFILE, .path = d->d_ino };

	if (r->out.len - 4 + P9_QID_SIZE + 8 + 1 + 2 + namelen > count)
		return -ENOSPC;
	if (d->d_type == DT_DIR)
		q.type = P9_QTDIR;
	else if (d->d_type == DT_LNK)
		q.type = P9_QTSYMLINK;
	/* ".." of the root is the root: the inode above it is none of the client's business. */
	if (f->pathlen == 0 && namelen == 2 && memcmp(d->d_name, "..", 2) == 0)
		q.path = s->root_ino;
	p9_put_qid(&r->out, &q);
	p9_put_u64(&r->out, (uint64_t)d->d_off);
	p9_put_u8(&r->out, d->d_type);
	p9_put_str(&r->out, d->d_name, namelen);
	return 0;
}

int p9_op_readdir(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in), count;
	uint64_t offset = p9_get_u64(&r->in);
	struct p9_fid *f;
	size_t want, pos = 0, entries = 0;
	ssize_t got;
	int err;

	count = p9_get_u32(&r->in);
	err = open_fid(s, r, num, &f);
	if (err == 0 && f->qid.type != P9_QTDIR)
		err = -ENOTDIR;
	if (err == 0 && offset > INT64_MAX)
		err = -EINVAL;
	if (err < 0)
		return err;
	if (count > r->rcap - P9_IOHDR)
		count = (uint32_t)(r->rcap - P9_IOHDR);
	/* The offset is the cookie of the last entry the client has: start after it. */
	if (lseek(f->fd, (off_t)offset, SEEK_SET) < 0)
		return -errno;
	want = count < 4096 ? 4096 : count; /* getdents64 refuses a buffer smaller than one entry */
	got = getdents64(f->fd, s->dents, want);
	if (got < 0)
		return -errno;
	p9_put_u32(&r->out, 0);
	while (pos + offsetof(struct linux_dirent64, d_name) < (size_t)got) {
		const struct linux_dirent64 *d = (const void *)(s->dents + pos);
		size_t max, namelen;

		if (d->d_reclen < offsetof(struct linux_dirent64, d_name) || d->d_reclen > (size_t)got - pos)
			return -EIO;
		max = d->d_reclen - offsetof(struct linux_dirent64, d_name);
		namelen = strnlen(d->d_name, max);
		if (namelen == max || namelen > P9_NAME_MAX)
			return -EIO;
		if (put_dirent(s, r, f, d, namelen, count) < 0)
			break;
		entries++;
		pos += d->d_reclen;
	}
	if (entries == 0 && pos < (size_t)got)
		return -EINVAL; /* count cannot hold even the next entry */
	/* The count in front of the entries. */
	for (int i = 0; i < 4; i++)
		r->out.p[i] = (uint8_t)((r->out.len - 4) >> (8 * i));
	return 0;
}

int p9_op_fsync(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in), datasync = p9_get_u32(&r->in);
	struct p9_fid *f;
	int err = open_fid(s, r, num, &f);

	if (err < 0)
		return err;
	if ((datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0)
		return -errno;
	return 0;
}

struct lock_req {
	uint32_t num;
	uint8_t type;
	uint64_t start, length;
	uint32_t proc_id;
	struct p9_str client_id;
};

/* The common part of Tlock (with flags) and Tgetlock (without). */
static int parse_lock(struct p9_server *s, struct p9_req *r, struct lock_req *l, int with_flags,
		      struct p9_fid **f, struct flock *fl)
{
	char id[P9_NAME_MAX + 1];
	int err;

	l->num = p9_get_u32(&r->in);
	l->type = p9_get_u8(&r->in);
	if (with_flags)
		p9_get_u32(&r->in); /* BLOCK, RECLAIM: we never wait; the client retries on BLOCKED */
	l->start = p9_get_u64(&r->in);
	l->length = p9_get_u64(&r->in);
	l->proc_id = p9_get_u32(&r->in);
	p9_get_str(&r->in, &l->client_id);
	err = open_fid(s, r, l->num, f);
	if (err == 0)
		err = p9_text(&l->client_id, id, P9_NAME_MAX);
	if (err < 0)
		return err;
	if (l->type >= LOCK_TYPES || l->start > INT64_MAX || l->length > INT64_MAX)
		return -EINVAL;
	memset(fl, 0, sizeof(*fl));
	fl->l_type = wire_lock_types[l->type];
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)l->start;
	fl->l_len = (off_t)l->length;
	return 0;
}

/*
 * Locks are open-file-description locks on the fid's open file, so two
 * fids conflict as two host processes would, and host processes see them.
 * On a read-only share nothing is locked on the host (a guest must not be
 * able to hold up the host's writers): every lock is granted, and the
 * guest kernel's own lock table still orders the guest's processes.
 */
int p9_op_lock(struct p9_server *s, struct p9_req *r)
{
	struct lock_req l;
	struct p9_fid *f;
	struct flock fl;
	uint8_t status = LOCK_SUCCESS;
	int err = parse_lock(s, r, &l, 1, &f, &fl);

	if (err < 0)
		return err;
	if (!(s->flags & P9_F_READONLY) && fcntl(f->fd, F_OFD_SETLK, &fl) < 0) {
		if (errno != EAGAIN && errno != EACCES)
			return -errno;
		status = LOCK_BLOCKED;
	}
	p9_put_u8(&r->out, status);
	return 0;
}

/* The wire's number for an fcntl lock type (an unknown one reads as a write lock). */
static uint8_t wire_lock_type(short type)
{
	uint8_t i = 0;

	while (i < LOCK_TYPES && wire_lock_types[i] != type)
		i++;
	return i < LOCK_TYPES ? i : 1;
}

int p9_op_getlock(struct p9_server *s, struct p9_req *r)
{
	struct lock_req l;
	struct p9_fid *f;
	struct flock fl;
	int err = parse_lock(s, r, &l, 0, &f, &fl);

	if (err == 0 && fl.l_type == F_UNLCK)
		err = -EINVAL;
	if (err < 0)
		return err;
	if (s->flags & P9_F_READONLY)
		fl.l_type = F_UNLCK;
	else if (fcntl(f->fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	p9_put_u8(&r->out, wire_lock_type(fl.l_type));
	if (fl.l_type == F_UNLCK) {
		p9_put_u64(&r->out, l.start);
		p9_put_u64(&r->out, l.length);
	} else {
		p9_put_u64(&r->out, (uint64_t)fl.l_start);
		p9_put_u64(&r->out, (uint64_t)fl.l_len);
	}
	p9_put_u32(&r->out, l.proc_id);
	p9_put_str(&r->out, l.client_id.p, l.client_id.len);
	return 0;
}
