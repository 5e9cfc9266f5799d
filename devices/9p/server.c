/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 9P2000.L server: framing, the dispatch table, and the session
 * messages (version, attach, walk, clunk, flush). One request at a time:
 * every request is complete when p9_handle returns, so a Tflush always
 * finds its request answered, and the transport may keep any number of
 * requests outstanding.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "internal.h"

#define P9_VERSION "9P2000.L"
#define P9_NBUCKETS 4096u /* a power of two */
#define P9_RLERROR_SIZE (P9_HDR + 4)
#define P9_TWRITE_HDR (P9_HDR + 16) /* fid[4] offset[8] count[4] */

struct p9_op {
	uint8_t type;
	uint8_t modifies; /* refused with EROFS on a read-only share */
	uint16_t rmax; /* the reply's body is at most this long (checked before anything is done) */
	p9_handler fn;
};

int p9_tag_ok(const char *tag)
{
	size_t len = strnlen(tag, P9_TAG_MAX + 1);

	if (len == 0 || len > P9_TAG_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (tag[i] <= 0x20 || tag[i] >= 0x7f)
			return 0;
	}
	return 1;
}

/* ---- session messages ---- */

static int op_version(struct p9_server *s, struct p9_req *r)
{
	uint32_t msize = p9_get_u32(&r->in);
	struct p9_str v;
	int known, err;

	p9_get_str(&r->in, &v);
	err = p9_in_done(&r->in);
	if (err < 0)
		return err;
	/* Tversion starts a new session: every fid of the old one is gone. */
	p9_server_reset(s);
	if (msize < P9_MSIZE_MIN)
		return -EINVAL;
	if (msize > P9_MSIZE_MAX)
		msize = P9_MSIZE_MAX;
	/* "9P2000.L" or a dialect of it ("9P2000.L.foo"): we speak the base. */
	known = v.len >= 8 && memcmp(v.p, P9_VERSION, 8) == 0 && (v.len == 8 || v.p[8] == '.');
	p9_put_u32(&r->out, msize);
	if (!known) {
		p9_put_str(&r->out, "unknown", 7);
		return 0;
	}
	p9_put_str(&r->out, P9_VERSION, 8);
	s->msize = msize;
	return 0;
}

static int op_auth(struct p9_server *s, struct p9_req *r)
{
	struct p9_str uname, aname;
	int err;

	(void)s;
	p9_get_u32(&r->in);
	p9_get_str(&r->in, &uname);
	p9_get_str(&r->in, &aname);
	p9_get_u32(&r->in);
	err = p9_in_done(&r->in);
	return err < 0 ? err : -EOPNOTSUPP; /* no authentication: attach with afid NOFID */
}

static int op_attach(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in), afid = p9_get_u32(&r->in);
	char buf[P9_NAME_MAX + 1];
	struct p9_str uname, aname;
	struct p9_fid *f;
	struct stat st;
	int err, fd;

	p9_get_str(&r->in, &uname);
	p9_get_str(&r->in, &aname);
	p9_get_u32(&r->in); /* n_uname: files keep the ids the server runs as (no switching) */
	err = p9_in_done(&r->in);
	if (err < 0)
		return err;
	err = p9_text(&uname, buf, P9_NAME_MAX);
	if (err == 0)
		err = p9_text(&aname, buf, P9_NAME_MAX);
	if (err < 0)
		return err;
	if (afid != P9_NOFID)
		return -EBADF; /* there is no auth fid to name */
	fd = p9_openat(s->root_fd, "", O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	err = p9_fstat(fd, &st);
	if (err == 0)
		err = p9_fid_new(s, num, &f);
	if (err < 0) {
		close(fd);
		return err;
	}
	p9_fid_set_stat(s, f, &st);
	p9_fid_keep_fd(s, f, fd);
	p9_put_qid(&r->out, &f->qid);
	return 0;
}

static int op_flush(struct p9_server *s, struct p9_req *r)
{
	(void)s;
	p9_get_u16(&r->in);
	/* Requests are answered in order and at once: the flushed one has its reply already. */
	return p9_in_done(&r->in);
}

static int op_clunk(struct p9_server *s, struct p9_req *r)
{
	uint32_t num = p9_get_u32(&r->in);
	struct p9_fid *f;
	int err = p9_req_fid(s, r, num, 0, &f);

	if (err < 0)
		return err;
	p9_fid_free(s, f);
	return 0;
}

/* ---- walk ---- */

struct walk {
	char names[P9_MAXWELEM][P9_NAME_MAX + 1];
	struct p9_qid qids[P9_MAXWELEM];
	char path[P9_PATH_MAX + 1];
	size_t plen;
	uint16_t n;
};

/* One element from directory fd cur: the new fd, with w->path updated. */
static int walk_one(struct p9_server *s, struct walk *w, int cur, const char *name)
{
	size_t nlen = strlen(name), sep = w->plen ? 1 : 0;
	int fd;

	if (strcmp(name, "..") == 0) {
		/* The parent by path from the root: ".." of the root is the root. */
		char *slash = memrchr(w->path, '/', w->plen);

		w->plen = slash ? (size_t)(slash - w->path) : 0;
		w->path[w->plen] = '\0';
		return p9_openat(s->root_fd, w->path, O_PATH | O_DIRECTORY, 0);
	}
	if (w->plen + sep + nlen > P9_PATH_MAX)
		return -ENAMETOOLONG;
	fd = p9_openat(cur, name, O_PATH, 0);
	if (fd < 0)
		return fd;
	if (sep)
		w->path[w->plen] = '/';
	memcpy(w->path + w->plen + sep, name, nlen + 1);
	w->plen += sep + nlen;
	return fd;
}

/* An fd of its own for a clone of f (nwname 0). */
static int walk_clone_fd(struct p9_server *s, struct p9_fid *f, int cur)
{
	if (cur != f->fd)
		return cur; /* a fresh one already */
	if (f->opened)
		return p9_fid_reopen(s, f, O_PATH);
	cur = fcntl(cur, F_DUPFD_CLOEXEC, 0);
	return cur < 0 ? -errno : cur;
}

/* Make newfid (or fid itself) the file fd found at w->path. */
static int walk_finish(struct p9_server *s, struct p9_fid *f, uint32_t newnum, int fd, struct walk *w)
{
	struct p9_fid *nf = f;
	struct stat st;
	int err = p9_fstat(fd, &st);

	if (err == 0 && newnum != f->num)
		err = p9_fid_new(s, newnum, &nf);
	if (err == 0)
		err = p9_fid_set_path(s, nf, w->path, w->plen);
	if (err < 0) {
		if (nf != f)
			p9_fid_free(s, nf);
		close(fd);
		return err;
	}
	p9_fid_set_stat(s, nf, &st);
	p9_fid_keep_fd(s, nf, fd);
	return 0;
}

static int walk_parse(struct p9_req *r, struct walk *w, uint32_t *num, uint32_t *newnum)
{
	int err = 0;

	*num = p9_get_u32(&r->in);
	*newnum = p9_get_u32(&r->in);
	w->n = p9_get_u16(&r->in);
	if (w->n > P9_MAXWELEM)
		return -EINVAL;
	for (unsigned int i = 0; i < w->n; i++) {
		struct p9_str name;

		p9_get_str(&r->in, &name);
		if (err == 0 && !r->in.bad)
			err = p9_name(&name, w->names[i], 1);
	}
	if (p9_in_done(&r->in) < 0)
		return -EPROTO;
	if (err < 0)
		return err;
	/* Rwalk with every qid must fit: a client sizes its buffer for that. */
	return P9_HDR + 2 + P9_QID_SIZE * w->n > r->rcap ? -EMSGSIZE : 0;
}

static int op_walk(struct p9_server *s, struct p9_req *r)
{
	struct walk w;
	uint32_t num, newnum;
	struct p9_fid *f;
	uint8_t type;
	unsigned int i;
	int err, cur;

	err = walk_parse(r, &w, &num, &newnum);
	if (err == 0)
		err = p9_file_fid(s, num, &f);
	if (err < 0)
		return err;
	if (newnum != num && (newnum == P9_NOFID || p9_fid_get(s, newnum)))
		return newnum == P9_NOFID ? -EBADF : -EEXIST;
	err = p9_fid_fd(s, f, &cur);
	if (err < 0)
		return err;
	memcpy(w.path, f->path, f->pathlen + 1);
	w.plen = f->pathlen;
	type = f->qid.type;
	for (i = 0; i < w.n; i++) {
		struct stat st;
		int fd;

		if (type != P9_QTDIR) {
			err = -ENOTDIR;
			break;
		}
		fd = walk_one(s, &w, cur, w.names[i]);
		if (fd < 0) {
			err = fd;
			break;
		}
		p9_fid_put(f, cur);
		cur = fd;
		err = p9_fstat(cur, &st);
		if (err < 0)
			break;
		p9_qid_of(s, &st, &w.qids[i]);
		type = w.qids[i].type;
	}
	if (i < w.n || err < 0) {
		p9_fid_put(f, cur);
		if (i == 0)
			return err;
	} else {
		if (w.n == 0)
			cur = walk_clone_fd(s, f, cur);
		err = cur < 0 ? cur : walk_finish(s, f, newnum, cur, &w);
		if (err < 0)
			return err;
	}
	/* A walk that stopped early answers with the qids it found, and makes no fid. */
	p9_put_u16(&r->out, (uint16_t)i);
	for (unsigned int k = 0; k < i; k++)
		p9_put_qid(&r->out, &w.qids[k]);
	return 0;
}

/* ---- dispatch ---- */

static const struct p9_op ops[] = {
	{ P9_TVERSION, 0, 4 + 2 + 8, op_version },
	{ P9_TAUTH, 0, P9_QID_SIZE, op_auth },
	{ P9_TATTACH, 0, P9_QID_SIZE, op_attach },
	{ P9_TFLUSH, 0, 0, op_flush },
	{ P9_TWALK, 0, 2, op_walk },
	{ P9_TCLUNK, 0, 0, op_clunk },
	{ P9_TREMOVE, 0, 0, p9_op_remove },
	{ P9_TLOPEN, 0, P9_QID_SIZE + 4, p9_op_lopen },
	{ P9_TLCREATE, 1, P9_QID_SIZE + 4, p9_op_lcreate },
	{ P9_TREAD, 0, 4, p9_op_read },
	{ P9_TWRITE, 1, 4, p9_op_write },
	{ P9_TREADDIR, 0, 4, p9_op_readdir },
	{ P9_TFSYNC, 0, 0, p9_op_fsync },
	{ P9_TLOCK, 0, 1, p9_op_lock },
	{ P9_TGETLOCK, 0, 1 + 8 + 8 + 4 + 2, p9_op_getlock },
	{ P9_TGETATTR, 0, 153, p9_op_getattr },
	{ P9_TSETATTR, 1, 0, p9_op_setattr },
	{ P9_TSTATFS, 0, 60, p9_op_statfs },
	{ P9_TREADLINK, 0, 2 + P9_PATH_MAX, p9_op_readlink },
	{ P9_TXATTRWALK, 0, 8, p9_op_xattrwalk },
	{ P9_TXATTRCREATE, 0, 0, p9_op_xattrcreate },
	{ P9_TMKDIR, 1, P9_QID_SIZE, p9_op_mkdir },
	{ P9_TSYMLINK, 1, P9_QID_SIZE, p9_op_symlink },
	{ P9_TMKNOD, 1, P9_QID_SIZE, p9_op_mknod },
	{ P9_TLINK, 1, 0, p9_op_link },
	{ P9_TUNLINKAT, 1, 0, p9_op_unlinkat },
	{ P9_TRENAMEAT, 1, 0, p9_op_renameat },
	{ P9_TRENAME, 1, 0, p9_op_rename },
};

static const struct p9_op *find_op(uint8_t type)
{
	for (size_t i = 0; i < nitems(ops); i++) {
		if (ops[i].type == type)
			return &ops[i];
	}
	return NULL;
}

static void put_header(uint8_t *p, uint32_t size, uint8_t type, uint16_t tag)
{
	struct p9_out out = { .p = p, .cap = P9_HDR };

	p9_put_u32(&out, size);
	p9_put_u8(&out, type);
	p9_put_u16(&out, tag);
}

/* Check the frame and run the request; 0 with the reply body in r->out, or -errno. */
static int serve(struct p9_server *s, struct p9_req *r, size_t have)
{
	uint32_t limit = s->msize ? s->msize : P9_MSIZE_MAX;
	const struct p9_op *op;
	struct p9_in hdr;
	size_t copy;

	if (have < P9_HDR)
		return -EPROTO;
	hdr = (struct p9_in){ .p = s->req, .len = P9_HDR };
	p9_iov_read(r->req, r->nreq, 0, s->req, P9_HDR);
	r->size = p9_get_u32(&hdr);
	r->type = p9_get_u8(&hdr);
	r->tag = p9_get_u16(&hdr);
	if (r->size < P9_HDR || r->size > have)
		return -EPROTO;
	if (r->size > limit)
		return -EMSGSIZE;
	op = find_op(r->type);
	if (!op)
		return -EOPNOTSUPP;
	if (!s->msize && r->type != P9_TVERSION)
		return -EPROTO; /* Tversion comes first */
	if (P9_HDR + (size_t)op->rmax > r->rcap)
		return -EMSGSIZE;
	if (op->modifies && (s->flags & P9_F_READONLY))
		return -EROFS;
	/* A Twrite's data stays where it is: the handler writes it straight from the buffers. */
	copy = r->type == P9_TWRITE && r->size > P9_TWRITE_HDR ? P9_TWRITE_HDR : r->size;
	p9_iov_read(r->req, r->nreq, 0, s->req, copy);
	r->in = (struct p9_in){ .p = s->req + P9_HDR, .len = copy - P9_HDR };
	r->out = (struct p9_out){ .p = s->rsp + P9_HDR, .cap = r->rcap - P9_HDR };
	return op->fn(s, r);
}

size_t p9_handle(struct p9_server *s, const struct iovec *req, unsigned int nreq, const struct iovec *rsp,
		 unsigned int nrsp)
{
	struct p9_req r = { .req = req, .nreq = nreq, .rsp = rsp, .nrsp = nrsp, .tag = P9_NOTAG };
	size_t wcap = p9_iov_len(rsp, nrsp), limit = s->msize ? s->msize : P9_MSIZE_MAX;
	size_t len;
	int err;

	s->stats.requests++;
	r.rcap = wcap < limit ? wcap : limit;
	if (r.rcap < P9_RLERROR_SIZE)
		return 0;
	err = serve(s, &r, p9_iov_len(req, nreq));
	if (err == 0 && r.out.over)
		err = -EMSGSIZE;
	if (err < 0) {
		struct p9_out out = { .p = s->rsp + P9_HDR, .cap = 4 };

		/* Only errnos travel: anything else would mean nothing to the client. */
		p9_put_u32(&out, (uint32_t)(-err > 0 && -err < 4096 ? -err : EIO));
		put_header(s->rsp, P9_RLERROR_SIZE, P9_RLERROR, r.tag);
		s->stats.errors++;
		return p9_iov_write(rsp, nrsp, 0, s->rsp, P9_RLERROR_SIZE);
	}
	len = P9_HDR + r.out.len;
	put_header(s->rsp, (uint32_t)(len + r.direct), (uint8_t)(r.type + 1), r.tag);
	p9_iov_write(rsp, nrsp, 0, s->rsp, len);
	return len + r.direct;
}

/* ---- life cycle ---- */

int p9_server_init(struct p9_server *s, int root_fd, uint32_t flags, unsigned int fd_budget)
{
	struct stat st;
	int fd;

	memset(s, 0, sizeof(*s));
	s->root_fd = root_fd;
	if (fd_budget < 16 || (flags & ~(uint32_t)P9_F_READONLY))
		return -EINVAL;
	if (fstat(root_fd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* openat2 or nothing: without it there is no confined lookup. */
	fd = p9_openat(root_fd, "", O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	close(fd);
	s->root_dev = st.st_dev;
	s->root_ino = st.st_ino;
	s->flags = flags;
	s->fd_budget = fd_budget;
	s->nbuckets = P9_NBUCKETS;
	s->buckets = calloc(P9_NBUCKETS, sizeof(*s->buckets));
	s->req = malloc(P9_MSIZE_MAX);
	s->rsp = malloc(P9_MSIZE_MAX);
	s->dents = malloc(P9_MSIZE_MAX);
	if (!s->buckets || !s->req || !s->rsp || !s->dents) {
		p9_server_destroy(s);
		return -ENOMEM;
	}
	return 0;
}

void p9_server_reset(struct p9_server *s)
{
	if (s->buckets)
		p9_fid_clear(s);
	s->msize = 0;
}

void p9_server_destroy(struct p9_server *s)
{
	p9_server_reset(s);
	free(s->buckets);
	free(s->req);
	free(s->rsp);
	free(s->dents);
	s->buckets = NULL;
	s->req = s->rsp = s->dents = NULL;
}
