/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Changes to the name space: Tmkdir, Tsymlink, Tmknod, Tlink, Tunlinkat,
 * Trenameat, Trename, Tremove. Each is one *at system call on a directory
 * fd the server resolved itself and a single checked name (no '/', not "."
 * or ".."), and none of those calls follows a final symlink, so nothing a
 * client names can reach outside the share. New files belong to the ids the
 * server runs as: the gid a client asks for is not applied.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define DOTL_AT_REMOVEDIR 0x200

/* A name in directory fid num: the directory's fd (release with p9_fid_put) and the checked name. */
struct at {
	struct p9_fid *dir;
	int fd;
	char name[P9_NAME_MAX + 1];
};

static int at_get(struct p9_server *s, uint32_t num, const struct p9_str *name, struct at *at)
{
	int err = p9_name(name, at->name, 0);

	if (err == 0)
		err = p9_file_fid(s, num, &at->dir);
	if (err == 0)
		err = p9_fid_dir(s, at->dir, &at->fd);
	return err;
}

/* After rc = the call that made at->name: reply with its qid, and let the directory go. */
static int at_made(struct p9_server *s, struct p9_req *r, struct at *at, int rc)
{
	struct stat st;
	struct p9_qid q;
	int err = 0;

	if (rc < 0 || fstatat(at->fd, at->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	p9_fid_put(at->dir, at->fd);
	if (err < 0)
		return err;
	p9_qid_of(s, &st, &q);
	p9_put_qid(&r->out, &q);
	return 0;
}

/* Tmkdir (dfid name mode gid) and Tmknod (dfid name mode major minor gid): the directory, the name
 * and the mode; the gid is not applied (new files belong to the server's ids). */
static int get_dir_name_mode(struct p9_req *r, int mknod, uint32_t *num, struct p9_str *name, uint32_t *mode)
{
	*num = p9_get_u32(&r->in);
	p9_get_str(&r->in, name);
	*mode = p9_get_u32(&r->in);
	if (mknod) {
		p9_get_u32(&r->in); /* major */
		p9_get_u32(&r->in); /* minor */
	}
	p9_get_u32(&r->in); /* gid */
	return p9_in_done(&r->in);
}

int p9_op_mkdir(struct p9_server *s, struct p9_req *r)
{
	uint32_t num, mode;
	struct p9_str name;
	struct at at;
	int err = get_dir_name_mode(r, 0, &num, &name, &mode);

	if (err == 0)
		err = at_get(s, num, &name, &at);
	if (err < 0)
		return err;
	return at_made(s, r, &at, mkdirat(at.fd, at.name, mode & 07777));
}

int p9_op_symlink(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in);
	char target[P9_PATH_MAX + 1];
	struct p9_str name, tgt;
	struct at at;
	int err;

	p9_get_str(&r->in, &name);
	p9_get_str(&r->in, &tgt);
	p9_get_u32(&r->in); /* gid */
	err = p9_in_done(&r->in);
	/* The target is data the server never follows: any bytes but NUL, as symlink(2) takes. */
	if (err == 0)
		err = p9_text(&tgt, target, P9_PATH_MAX);
	if (err == 0 && tgt.len == 0)
		err = -ENOENT;
	if (err == 0)
		err = at_get(s, num, &name, &at);
	if (err < 0)
		return err;
	return at_made(s, r, &at, symlinkat(target, at.fd, at.name));
}

int p9_op_mknod(struct p9_server *s, struct p9_req *r)
{
	uint32_t num, mode;
	struct p9_str name;
	struct at at;
	int err = get_dir_name_mode(r, 1, &num, &name, &mode);

	if (err < 0)
		return err;
	/* FIFOs, sockets and plain files; device nodes need privileges the server does not have. */
	switch (mode & S_IFMT) {
	case 0:
		mode |= S_IFREG;
		break;
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFCHR:
	case S_IFBLK:
		return -EPERM;
	default:
		return -EINVAL;
	}
	err = at_get(s, num, &name, &at);
	if (err < 0)
		return err;
	return at_made(s, r, &at, mknodat(at.fd, at.name, mode & (S_IFMT | 07777), 0));
}

/* Tlink (dfid, fid, name) and Trename (fid, dfid, name): a fid, and a name in a directory fid. */
static int fid_and_at(struct p9_server *s, struct p9_req *r, int dir_first, struct p9_fid **f, struct at *at)
{
	uint32_t a = p9_get_u32(&r->in), b = p9_get_u32(&r->in);
	struct p9_str name;
	int err;

	p9_get_str(&r->in, &name);
	err = p9_req_fid(s, r, dir_first ? b : a, 1, f);
	if (err == 0)
		err = at_get(s, dir_first ? a : b, &name, at);
	return err;
}

int p9_op_link(struct p9_server *s, struct p9_req *r)
{
	const char *oname;
	struct p9_fid *f;
	struct at at;
	int err = fid_and_at(s, r, 1, &f, &at), pfd;

	if (err < 0)
		return err;
	/* By name in its directory: linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH. */
	err = p9_fid_parent(s, f, &pfd, &oname);
	if (err == 0) {
		if (linkat(pfd, oname, at.fd, at.name, 0) < 0)
			err = -errno;
		close(pfd);
	}
	p9_fid_put(at.dir, at.fd);
	return err;
}

int p9_op_unlinkat(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in), flags;
	struct p9_str name;
	struct at at;
	int err;

	p9_get_str(&r->in, &name);
	flags = p9_get_u32(&r->in);
	err = p9_in_done(&r->in);
	if (err == 0 && (flags & ~(uint32_t)DOTL_AT_REMOVEDIR))
		err = -EINVAL;
	if (err == 0)
		err = at_get(s, num, &name, &at);
	if (err < 0)
		return err;
	if (unlinkat(at.fd, at.name, (flags & DOTL_AT_REMOVEDIR) ? AT_REMOVEDIR : 0) < 0)
		err = -errno;
	p9_fid_put(at.dir, at.fd);
	return err;
}

/* renameat, then the fids that named the old path (or below it) name the new one. */
static int do_rename(struct p9_server *s, int ofd, const char *oname, const char *opath, int nfd,
		     const struct at *to)
{
	char npath[P9_PATH_MAX + 1];
	int nlen = p9_join(npath, to->dir->path, to->dir->pathlen, to->name);

	if (nlen < 0)
		return nlen;
	if (renameat(ofd, oname, nfd, to->name) < 0)
		return -errno;
	p9_fid_renamed(s, opath, strlen(opath), npath, (size_t)nlen);
	return 0;
}

int p9_op_renameat(struct p9_server *s, struct p9_req *r)
{
	uint32_t onum = p9_get_u32(&r->in), nnum;
	char opath[P9_PATH_MAX + 1];
	struct p9_str oname, nname;
	struct at from, to;
	int err;

	p9_get_str(&r->in, &oname);
	nnum = p9_get_u32(&r->in);
	p9_get_str(&r->in, &nname);
	err = p9_in_done(&r->in);
	if (err == 0)
		err = at_get(s, onum, &oname, &from);
	if (err < 0)
		return err;
	err = p9_join(opath, from.dir->path, from.dir->pathlen, from.name);
	if (err >= 0)
		err = at_get(s, nnum, &nname, &to);
	if (err < 0) {
		p9_fid_put(from.dir, from.fd);
		return err;
	}
	err = do_rename(s, from.fd, from.name, opath, to.fd, &to);
	p9_fid_put(from.dir, from.fd);
	p9_fid_put(to.dir, to.fd);
	return err;
}

int p9_op_rename(struct p9_server *s, struct p9_req *r)
{
	char opath[P9_PATH_MAX + 1];
	const char *oname;
	struct p9_fid *f;
	struct at to;
	int err = fid_and_at(s, r, 0, &f, &to), pfd;

	if (err < 0)
		return err;
	memcpy(opath, f->path, f->pathlen + 1);
	err = p9_fid_parent(s, f, &pfd, &oname);
	if (err == 0) {
		err = do_rename(s, pfd, oname, opath, to.fd, &to);
		close(pfd);
	}
	p9_fid_put(to.dir, to.fd);
	return err;
}

/* Tremove: unlink the fid's file and clunk the fid, whether the unlink worked or not. */
int p9_op_remove(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in);
	const char *name;
	struct p9_fid *f;
	int err, pfd;

	err = p9_req_fid(s, r, num, 0, &f);
	if (err < 0)
		return err;
	if (f->kind != P9_FID_FILE)
		err = -EINVAL;
	else if (s->flags & P9_F_READONLY)
		err = -EROFS;
	else
		err = p9_fid_parent(s, f, &pfd, &name);
	if (err == 0) {
		if (unlinkat(pfd, name, f->qid.type == P9_QTDIR ? AT_REMOVEDIR : 0) < 0)
			err = -errno;
		close(pfd);
	}
	p9_fid_free(s, f);
	return err;
}
