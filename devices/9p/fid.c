/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fids and how they name files. A fid keeps the path of its file below the
 * root (as its walks built it, updated by renames made through the server)
 * and, while the fd budget allows, an O_PATH fd of the file itself. Every
 * lookup is one openat2 call confined beneath a directory fd:
 * RESOLVE_BENEATH (no "..", no absolute path above the start),
 * RESOLVE_NO_SYMLINKS (the server never follows a symlink: the client does,
 * with Treadlink), RESOLVE_NO_MAGICLINKS and RESOLVE_NO_XDEV (no other
 * mount). A fid with no fd, or an operation that needs the file's directory,
 * resolves its path from the root again and checks that it found the same
 * inode (-ESTALE otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define P9_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

int p9_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = P9_RESOLVE,
	};
	long fd = syscall(SYS_openat2, dirfd, path[0] ? path : ".", &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

int p9_fstat(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

void p9_qid_of(const struct p9_server *s, const struct stat *st, struct p9_qid *q)
{
	q->type = S_ISDIR(st->st_mode) ? P9_QTDIR : S_ISLNK(st->st_mode) ? P9_QTSYMLINK : P9_QTFILE;
	/* As QEMU does, so clients see the same cache behaviour. */
	q->version = (uint32_t)((uint64_t)st->st_mtim.tv_sec ^ ((uint64_t)st->st_size << 8));
	q->path = (uint64_t)st->st_ino;
	/* One mount, but possibly several st_dev (btrfs subvolumes): keep their inodes apart. */
	if (st->st_dev != s->root_dev)
		q->path = (q->path & ((1ull << 48) - 1)) | ((uint64_t)(st->st_dev & 0x7fff) + 1) << 48;
}

static uint32_t bucket_of(const struct p9_server *s, uint32_t num)
{
	return (num * 2654435761u) & (s->nbuckets - 1);
}

struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t num)
{
	for (struct p9_fid *f = s->buckets[bucket_of(s, num)]; f; f = f->next) {
		if (f->num == num)
			return f;
	}
	return NULL;
}

int p9_file_fid(struct p9_server *s, uint32_t num, struct p9_fid **f)
{
	*f = p9_fid_get(s, num);
	if (!*f)
		return -EBADF;
	return (*f)->kind == P9_FID_FILE ? 0 : -EINVAL;
}

int p9_req_fid(struct p9_server *s, const struct p9_req *r, uint32_t num, int file, struct p9_fid **f)
{
	int err = p9_in_done(&r->in);

	if (err < 0)
		return err;
	if (file)
		return p9_file_fid(s, num, f);
	*f = p9_fid_get(s, num);
	return *f ? 0 : -EBADF;
}

int p9_fid_new(struct p9_server *s, uint32_t num, struct p9_fid **out)
{
	struct p9_fid *f;
	uint32_t b;

	if (num == P9_NOFID)
		return -EBADF;
	if (p9_fid_get(s, num))
		return -EEXIST;
	if (s->nfids >= P9_FIDS_MAX)
		return -ENFILE;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = malloc(1);
	if (!f->path) {
		free(f);
		return -ENOMEM;
	}
	f->path[0] = '\0';
	f->num = num;
	f->fd = -1;
	b = bucket_of(s, num);
	f->next = s->buckets[b];
	s->buckets[b] = f;
	s->nfids++;
	*out = f;
	return 0;
}

static void fid_close_fd(struct p9_server *s, struct p9_fid *f)
{
	if (f->fd < 0)
		return;
	close(f->fd);
	f->fd = -1;
	s->held_fds--;
	if (!f->opened)
		s->path_fds--;
}

void p9_fid_free(struct p9_server *s, struct p9_fid *f)
{
	struct p9_fid **pp = &s->buckets[bucket_of(s, f->num)];

	while (*pp != f)
		pp = &(*pp)->next;
	*pp = f->next;
	fid_close_fd(s, f);
	s->path_bytes -= f->pathlen;
	free(f->path);
	free(f);
	s->nfids--;
}

void p9_fid_clear(struct p9_server *s)
{
	for (uint32_t b = 0; b < s->nbuckets; b++) {
		while (s->buckets[b])
			p9_fid_free(s, s->buckets[b]);
	}
}

int p9_fid_set_path(struct p9_server *s, struct p9_fid *f, const char *path, size_t len)
{
	char *p;

	if (len > P9_PATH_MAX)
		return -ENAMETOOLONG;
	if (len > f->pathlen && s->path_bytes + (len - f->pathlen) > P9_PATH_BYTES_MAX)
		return -ENFILE;
	p = malloc(len + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, path, len);
	p[len] = '\0';
	free(f->path);
	s->path_bytes = s->path_bytes - f->pathlen + len;
	f->path = p;
	f->pathlen = len;
	return 0;
}

void p9_fid_set_stat(struct p9_server *s, struct p9_fid *f, const struct stat *st)
{
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	p9_qid_of(s, st, &f->qid);
}

void p9_fid_keep_fd(struct p9_server *s, struct p9_fid *f, int fd)
{
	fid_close_fd(s, f);
	f->opened = 0;
	if (s->path_fds >= s->fd_budget / 2 || s->held_fds >= s->fd_budget) {
		close(fd);
		return;
	}
	f->fd = fd;
	s->held_fds++;
	s->path_fds++;
}

void p9_fid_set_open(struct p9_server *s, struct p9_fid *f, int fd, int omode)
{
	fid_close_fd(s, f);
	f->fd = fd;
	f->opened = 1;
	f->omode = omode;
	s->held_fds++;
}

int p9_fid_can_open(const struct p9_server *s)
{
	return s->held_fds >= s->fd_budget ? -EMFILE : 0;
}

/* fd must be the file f was: same device and inode. */
static int same_file(const struct p9_fid *f, int fd)
{
	struct stat st;
	int err = p9_fstat(fd, &st);

	if (err < 0)
		return err;
	return st.st_dev == f->dev && st.st_ino == f->ino ? 0 : -ESTALE;
}

int p9_fid_reopen(struct p9_server *s, const struct p9_fid *f, int flags)
{
	int fd = p9_openat(s->root_fd, f->path, flags, 0);
	int err;

	if (fd < 0)
		return fd;
	err = same_file(f, fd);
	if (err < 0) {
		close(fd);
		return err;
	}
	return fd;
}

int p9_fid_fd(struct p9_server *s, struct p9_fid *f, int *fd)
{
	int r;

	if (f->fd >= 0) {
		*fd = f->fd;
		return 0;
	}
	r = p9_fid_reopen(s, f, O_PATH);
	if (r < 0)
		return r;
	*fd = r;
	return 0;
}

void p9_fid_put(const struct p9_fid *f, int fd)
{
	if (fd != f->fd)
		close(fd);
}

int p9_fid_dir(struct p9_server *s, struct p9_fid *f, int *fd)
{
	if (f->qid.type != P9_QTDIR)
		return -ENOTDIR;
	return p9_fid_fd(s, f, fd);
}

int p9_fid_parent(struct p9_server *s, const struct p9_fid *f, int *dirfd, const char **name)
{
	const char *slash = strrchr(f->path, '/');
	char dir[P9_PATH_MAX + 1];
	struct stat st;
	size_t dlen = slash ? (size_t)(slash - f->path) : 0;
	int fd;

	if (f->pathlen == 0)
		return -EBUSY; /* the root has no parent here */
	memcpy(dir, f->path, dlen);
	dir[dlen] = '\0';
	*name = slash ? slash + 1 : f->path;
	fd = p9_openat(s->root_fd, dir, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	if (fstatat(fd, *name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (st.st_dev != f->dev || st.st_ino != f->ino) {
		close(fd);
		return -ESTALE;
	}
	*dirfd = fd;
	return 0;
}

int p9_join(char *buf, const char *dir, size_t dirlen, const char *name)
{
	size_t nlen = strlen(name);
	size_t len = dirlen ? dirlen + 1 + nlen : nlen;

	if (len > P9_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, dir, dirlen);
	if (dirlen)
		buf[dirlen++] = '/';
	memcpy(buf + dirlen, name, nlen);
	buf[len] = '\0';
	return (int)len;
}

void p9_fid_renamed(struct p9_server *s, const char *old, size_t oldlen, const char *new, size_t newlen)
{
	char path[P9_PATH_MAX + 1];

	for (uint32_t b = 0; b < s->nbuckets; b++) {
		for (struct p9_fid *f = s->buckets[b]; f; f = f->next) {
			size_t rest;
			int err;

			if (f->kind != P9_FID_FILE || f->pathlen < oldlen || memcmp(f->path, old, oldlen) ||
			    (f->pathlen > oldlen && f->path[oldlen] != '/'))
				continue;
			rest = f->pathlen - oldlen;
			/* Too long now (or no memory): the fid keeps its old path, and lookups by path
			 * fail with ENOENT or ESTALE. */
			if (newlen + rest > P9_PATH_MAX)
				continue;
			memcpy(path, new, newlen);
			memcpy(path + newlen, f->path + oldlen, rest);
			err = p9_fid_set_path(s, f, path, newlen + rest);
			(void)err;
		}
	}
}
