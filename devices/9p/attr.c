/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Attributes: Tgetattr, Tsetattr, Tstatfs, Treadlink, and the extended
 * attribute messages, answered as a file system without xattrs (an empty
 * list, ENODATA for any name, EOPNOTSUPP for a set), which the Linux
 * client takes in its stride.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "internal.h"

#define GETATTR_BASIC 0x7ffull /* mode .. blocks: what a stat(2) gives */

/* Tsetattr valid bits. */
#define SETATTR_MODE 0x001
#define SETATTR_UID 0x002
#define SETATTR_GID 0x004
#define SETATTR_SIZE 0x008
#define SETATTR_ATIME 0x010
#define SETATTR_MTIME 0x020
#define SETATTR_ATIME_SET 0x080
#define SETATTR_MTIME_SET 0x100

#define XATTR_NAME_MAX 255

/* The request was read to its end and fid num is a file: *f and an fd of it (release with p9_fid_put). */
static int req_fid_fd(struct p9_server *s, const struct p9_req *r, uint32_t num, struct p9_fid **f, int *fd)
{
	int err = p9_req_fid(s, r, num, 1, f);

	return err < 0 ? err : p9_fid_fd(s, *f, fd);
}

int p9_op_getattr(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in);
	struct p9_fid *f;
	struct stat st;
	int err, fd;

	p9_get_u64(&r->in); /* request_mask: we always answer the basic set */
	err = req_fid_fd(s, r, num, &f, &fd);
	if (err < 0)
		return err;
	err = p9_fstat(fd, &st);
	p9_fid_put(f, fd);
	if (err < 0)
		return err;
	p9_qid_of(s, &st, &f->qid);
	p9_put_u64(&r->out, GETATTR_BASIC);
	p9_put_qid(&r->out, &f->qid);
	p9_put_u32(&r->out, st.st_mode);
	/* The host's ids as they are: the guest sees who owns each file. */
	p9_put_u32(&r->out, st.st_uid);
	p9_put_u32(&r->out, st.st_gid);
	p9_put_u64(&r->out, st.st_nlink);
	p9_put_u64(&r->out, st.st_rdev);
	p9_put_u64(&r->out, (uint64_t)st.st_size);
	p9_put_u64(&r->out, (uint64_t)st.st_blksize);
	p9_put_u64(&r->out, (uint64_t)st.st_blocks);
	p9_put_u64(&r->out, (uint64_t)st.st_atim.tv_sec);
	p9_put_u64(&r->out, (uint64_t)st.st_atim.tv_nsec);
	p9_put_u64(&r->out, (uint64_t)st.st_mtim.tv_sec);
	p9_put_u64(&r->out, (uint64_t)st.st_mtim.tv_nsec);
	p9_put_u64(&r->out, (uint64_t)st.st_ctim.tv_sec);
	p9_put_u64(&r->out, (uint64_t)st.st_ctim.tv_nsec);
	for (int i = 0; i < 4; i++)
		p9_put_u64(&r->out, 0); /* btime, gen, data_version: not in the basic set */
	return 0;
}

struct setattr {
	uint32_t valid, mode, uid, gid;
	uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
};

/*
 * chmod has no call that works on an O_PATH fd before Linux 6.6
 * (fchmodat2): use the fid's open file, else fchmodat on its directory and
 * name, after p9_fid_parent checked that the name is the fid's file and
 * not a symlink (Linux has no chmod of a symlink, and fchmodat would follow
 * one).
 */
static int set_mode(struct p9_server *s, struct p9_fid *f, mode_t mode)
{
	const char *name;
	int dirfd, err = 0;

	if (f->opened)
		return fchmod(f->fd, mode) < 0 ? -errno : 0;
	if (f->qid.type == P9_QTSYMLINK)
		return -EOPNOTSUPP;
	if (f->pathlen == 0) {
		int fd = p9_openat(s->root_fd, "", O_RDONLY | O_DIRECTORY, 0);

		if (fd < 0)
			return fd;
		if (fchmod(fd, mode) < 0)
			err = -errno;
		close(fd);
		return err;
	}
	err = p9_fid_parent(s, f, &dirfd, &name);
	if (err < 0)
		return err;
	if (fchmodat(dirfd, name, mode, 0) < 0)
		err = -errno;
	close(dirfd);
	return err;
}

static int time_of(uint32_t valid, uint32_t now_bit, uint32_t set_bit, uint64_t sec, uint64_t nsec,
		   struct timespec *ts)
{
	if (!(valid & now_bit)) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
	} else if (!(valid & set_bit)) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
	} else {
		if (sec > INT64_MAX || nsec >= 1000000000)
			return -EINVAL;
		ts->tv_sec = (time_t)sec;
		ts->tv_nsec = (long)nsec;
	}
	return 0;
}

static int set_size(struct p9_server *s, struct p9_fid *f, uint64_t size)
{
	int fd, err = 0;

	if (size > INT64_MAX)
		return -EINVAL;
	if (f->opened && f->omode != O_RDONLY)
		return ftruncate(f->fd, (off_t)size) < 0 ? -errno : 0;
	fd = p9_fid_reopen(s, f, O_WRONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* In the order QEMU applies them: mode, times, owner, size. */
static int apply_setattr(struct p9_server *s, struct p9_fid *f, int fd, const struct setattr *a)
{
	struct timespec ts[2];
	int err;

	if (a->valid & SETATTR_MODE) {
		err = set_mode(s, f, a->mode & 07777);
		if (err < 0)
			return err;
	}
	if (a->valid & (SETATTR_ATIME | SETATTR_MTIME)) {
		err = time_of(a->valid, SETATTR_ATIME, SETATTR_ATIME_SET, a->atime_sec, a->atime_nsec, &ts[0]);
		if (err == 0)
			err = time_of(a->valid, SETATTR_MTIME, SETATTR_MTIME_SET, a->mtime_sec, a->mtime_nsec,
				      &ts[1]);
		if (err == 0 && utimensat(fd, "", ts, AT_EMPTY_PATH) < 0)
			err = -errno;
		if (err < 0)
			return err;
	}
	if (a->valid & (SETATTR_UID | SETATTR_GID)) {
		uid_t uid = (a->valid & SETATTR_UID) ? a->uid : (uid_t)-1;
		gid_t gid = (a->valid & SETATTR_GID) ? a->gid : (gid_t)-1;

		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
			return -errno;
	}
	if (a->valid & SETATTR_SIZE)
		return set_size(s, f, a->size);
	return 0;
}

int p9_op_setattr(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in);
	struct setattr a;
	struct p9_fid *f;
	int err, fd;

	a.valid = p9_get_u32(&r->in);
	a.mode = p9_get_u32(&r->in);
	a.uid = p9_get_u32(&r->in);
	a.gid = p9_get_u32(&r->in);
	a.size = p9_get_u64(&r->in);
	a.atime_sec = p9_get_u64(&r->in);
	a.atime_nsec = p9_get_u64(&r->in);
	a.mtime_sec = p9_get_u64(&r->in);
	a.mtime_nsec = p9_get_u64(&r->in);
	err = req_fid_fd(s, r, num, &f, &fd);
	if (err < 0)
		return err;
	err = apply_setattr(s, f, fd, &a);
	p9_fid_put(f, fd);
	return err;
}

int p9_op_statfs(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in);
	struct p9_fid *f;
	struct statfs sf;
	int err, fd;

	err = req_fid_fd(s, r, num, &f, &fd);
	if (err < 0)
		return err;
	if (fstatfs(fd, &sf) < 0)
		err = -errno;
	p9_fid_put(f, fd);
	if (err < 0)
		return err;
	p9_put_u32(&r->out, (uint32_t)sf.f_type);
	p9_put_u32(&r->out, (uint32_t)sf.f_bsize);
	p9_put_u64(&r->out, sf.f_blocks);
	p9_put_u64(&r->out, sf.f_bfree);
	p9_put_u64(&r->out, sf.f_bavail);
	p9_put_u64(&r->out, sf.f_files);
	p9_put_u64(&r->out, sf.f_ffree);
	p9_put_u64(&r->out, (uint32_t)sf.f_fsid.__val[0] | (uint64_t)(uint32_t)sf.f_fsid.__val[1] << 32);
	p9_put_u32(&r->out, (uint32_t)sf.f_namelen);
	return 0;
}

int p9_op_readlink(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in);
	char target[P9_PATH_MAX + 1];
	struct p9_fid *f;
	ssize_t n;
	int err, fd;

	err = p9_req_fid(s, r, num, 1, &f);
	if (err == 0 && f->qid.type != P9_QTSYMLINK)
		err = -EINVAL;
	if (err == 0)
		err = p9_fid_fd(s, f, &fd);
	if (err < 0)
		return err;
	n = readlinkat(fd, "", target, sizeof(target));
	if (n < 0)
		err = -errno;
	p9_fid_put(f, fd);
	if (err < 0)
		return err;
	if ((size_t)n > P9_PATH_MAX)
		return -ENAMETOOLONG;
	p9_put_str(&r->out, target, (size_t)n);
	return 0;
}

int p9_op_xattrwalk(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in), newnum = p9_get_u32(&r->in);
	char name[XATTR_NAME_MAX + 1];
	struct p9_str sname;
	struct p9_fid *f, *nf;
	int err;

	p9_get_str(&r->in, &sname);
	err = p9_in_done(&r->in);
	if (err == 0)
		err = p9_text(&sname, name, XATTR_NAME_MAX);
	if (err == 0)
		err = p9_file_fid(s, num, &f);
	if (err < 0)
		return err;
	/* A name asks for one attribute, which no file has; no name asks for the list, which is empty. */
	if (sname.len)
		return -ENODATA;
	err = p9_fid_new(s, newnum, &nf);
	if (err < 0)
		return err;
	nf->kind = P9_FID_XATTR;
	p9_put_u64(&r->out, 0);
	return 0;
}

int p9_op_xattrcreate(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in);
	char name[XATTR_NAME_MAX + 1];
	struct p9_str sname;
	struct p9_fid *f;
	int err;

	p9_get_str(&r->in, &sname);
	p9_get_u64(&r->in);
	p9_get_u32(&r->in);
	err = p9_in_done(&r->in);
	if (err == 0)
		err = p9_text(&sname, name, XATTR_NAME_MAX);
	if (err == 0)
		err = p9_file_fid(s, num, &f);
	return err < 0 ? err : -EOPNOTSUPP;
}
