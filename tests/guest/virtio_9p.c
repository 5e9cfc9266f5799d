/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-9p driver and the 9P2000.L client (p9.h), in ring 3.
 */
#include "p9.h"

#define P9C_MAX_DEVS 4
#define P9C_QSIZE 64
#define P9C_HDR 7u

static struct p9c devs[P9C_MAX_DEVS];
static unsigned int ndevs_open;

/* The virtio-9p devices among boot.dev, in command-line order. */
static struct {
	int probed;
	unsigned int n;
	uint8_t dev[MAX_MMIO_DEVS];
} found;

static void probe_all(void)
{
	if (found.probed)
		return;
	found.probed = 1;
	for (unsigned int i = 0; i < boot.ndev; i++) {
		struct vdev d;

		if (phys_mapped(boot.dev[i].base, 0x100) &&
		    vdev_probe(&d, boot.dev[i].base, boot.dev[i].gsi) == 0 && d.device_id == VIRTIO_ID_9P)
			found.dev[found.n++] = (uint8_t)i;
	}
}

unsigned int p9c_count(void)
{
	probe_all();
	return found.n;
}

int p9c_setup(struct p9c *c)
{
	const char *why = "";
	uint16_t len;

	if (vdev_negotiate(&c->dev, VIRTIO_BIT(VIRTIO_9P_F_MOUNT_TAG), &why) ||
	    vq_setup(&c->dev, 0, P9C_QSIZE, 0, &why)) {
		snprintf(c->why, sizeof(c->why), "%s", why);
		return -1;
	}
	if (!(c->dev.features & VIRTIO_BIT(VIRTIO_9P_F_MOUNT_TAG))) {
		snprintf(c->why, sizeof(c->why), "MOUNT_TAG not offered");
		return -1;
	}
	len = vdev_config16(&c->dev, 0);
	if (len == 0 || len > P9C_TAG_MAX) {
		snprintf(c->why, sizeof(c->why), "tag_len %u", len);
		return -1;
	}
	for (uint16_t i = 0; i < len; i++)
		c->tag[i] = (char)vdev_config8(&c->dev, 2 + i);
	c->tag[len] = '\0';
	c->msize = 0;
	vdev_driver_ok(&c->dev);
	return 0;
}

struct p9c *p9c_open(unsigned int n)
{
	struct p9c *c;
	unsigned int i;

	probe_all();
	if (n >= found.n)
		fail("no virtio-9p device %u (%u found among %u virtio-mmio devices)", n, found.n,
		     boot.ndev);
	if (ndevs_open == P9C_MAX_DEVS)
		fail("more than %u virtio-9p devices open", P9C_MAX_DEVS);
	c = &devs[ndevs_open++];
	i = found.dev[n];
	vdev_probe(&c->dev, boot.dev[i].base, boot.dev[i].gsi);
	c->tx = phys_alloc(P9C_BUF, 4096);
	c->rx = phys_alloc(P9C_BUF, 4096);
	if (!c->tx || !c->rx)
		fail("out of guest memory for the 9p buffers");
	c->timeout_ms = (unsigned int)param_u64("bulkhead.timeout-ms", 10000);
	c->next_tag = 1;
	if (p9c_setup(c))
		fail("virtio-9p device %u at 0x%lx: %s", n, c->dev.base, c->why);
	return c;
}

/* ---- the writer and the reader ---- */

static void put(struct p9c *c, const void *p, size_t len)
{
	if (c->wlen + len <= P9C_BUF)
		memcpy(c->tx + c->wlen, p, len);
	c->wlen += len;
}

void p9c_u8(struct p9c *c, uint8_t v) { put(c, &v, 1); }
void p9c_u16(struct p9c *c, uint16_t v) { put(c, &v, 2); }
void p9c_u32(struct p9c *c, uint32_t v) { put(c, &v, 4); }
void p9c_u64(struct p9c *c, uint64_t v) { put(c, &v, 8); }
void p9c_bytes(struct p9c *c, const void *p, size_t len) { put(c, p, len); }

void p9c_str(struct p9c *c, const char *s, size_t len)
{
	p9c_u16(c, (uint16_t)len);
	put(c, s, len);
}

void p9c_cstr(struct p9c *c, const char *s)
{
	p9c_str(c, s, strlen(s));
}

void p9c_begin(struct p9c *c, uint8_t type)
{
	uint16_t tag = c->next_tag++;

	if (c->next_tag == P9C_NOTAG)
		c->next_tag = 1;
	c->wlen = 0;
	c->zc_out = NULL;
	c->zc_in = NULL;
	c->zc_len = 0;
	p9c_u32(c, 0);
	p9c_u8(c, type);
	p9c_u16(c, type == P9_TVERSION ? P9C_NOTAG : tag);
}

size_t p9c_end(struct p9c *c)
{
	uint32_t size = (uint32_t)(c->wlen + (c->zc_out ? c->zc_len : 0));

	memcpy(c->tx, &size, 4);
	return c->wlen;
}

static void get(struct p9c *c, void *p, size_t len)
{
	if (c->rbad || c->rpos + len > c->rlen) {
		c->rbad = 1;
		memset(p, 0, len);
		return;
	}
	memcpy(p, c->rx + c->rpos, len);
	c->rpos += len;
}

uint8_t p9c_g8(struct p9c *c) { uint8_t v; get(c, &v, 1); return v; }
uint16_t p9c_g16(struct p9c *c) { uint16_t v; get(c, &v, 2); return v; }
uint32_t p9c_g32(struct p9c *c) { uint32_t v; get(c, &v, 4); return v; }
uint64_t p9c_g64(struct p9c *c) { uint64_t v; get(c, &v, 8); return v; }

void p9c_gqid(struct p9c *c, struct p9_qid *q)
{
	struct p9_qid tmp;

	if (!q)
		q = &tmp;
	q->type = p9c_g8(c);
	q->version = p9c_g32(c);
	q->path = p9c_g64(c);
}

/* ---- the transport ---- */

/* The request's buffers: the message, its payload if the caller's buffer holds it, the reply's
 * room, the caller's buffer for a read's payload. With the payload in its own buffer, rx takes
 * only the reply's header (Rread's, or an Rlerror: 11 bytes each). */
static unsigned int request_chain(const struct p9c *c, struct vq_buf *bufs, size_t len, uint32_t room)
{
	unsigned int n = 0;

	bufs[n++] = (struct vq_buf){ (uintptr_t)c->tx, (uint32_t)len, 0 };
	if (c->zc_out)
		bufs[n++] = (struct vq_buf){ (uintptr_t)c->zc_out, c->zc_len, 0 };
	bufs[n++] = (struct vq_buf){ (uintptr_t)c->rx, c->zc_in ? P9C_HDR + 4 : room, 1 };
	if (c->zc_in)
		bufs[n++] = (struct vq_buf){ (uintptr_t)c->zc_in, c->zc_len, 1 };
	return n;
}

int p9c_xfer(struct p9c *c, size_t len, uint32_t room)
{
	struct vq *q = &c->dev.vq[0];
	struct vq_buf bufs[4];
	uint64_t end = rdtsc() + us_to_tsc((uint64_t)c->timeout_ms * 1000);
	void *cookie;
	uint16_t head;
	int r;

	if (len > P9C_BUF || room > P9C_BUF || vq_add(q, bufs, request_chain(c, bufs, len, room), c) < 0) {
		snprintf(c->why, sizeof(c->why), "cannot queue a request of %zu bytes", len);
		return P9C_BAD;
	}
	vq_kick(&c->dev, q);
	while ((r = vq_get(q, &cookie, &c->rlen, &head)) == 0) {
		if (rdtsc() > end) {
			snprintf(c->why, sizeof(c->why), "no answer in %u ms (status 0x%x)", c->timeout_ms,
				 vdev_status(&c->dev));
			return P9C_BAD;
		}
		cpu_relax();
	}
	if (r < 0 || cookie != c) {
		snprintf(c->why, sizeof(c->why), "a used entry for head %u that was not in flight", head);
		return P9C_BAD;
	}
	return 0;
}

/* The reply's frame: its size is what the device wrote, its tag the request's. */
static int check_reply(struct p9c *c, uint8_t ttype, uint16_t tag)
{
	uint32_t size;

	c->rpos = 0;
	c->rbad = 0;
	if (c->rlen < P9C_HDR || c->rlen > P9C_BUF) {
		snprintf(c->why, sizeof(c->why), "reply of %u bytes", c->rlen);
		return P9C_BAD;
	}
	size = p9c_g32(c);
	c->rtype = p9c_g8(c);
	c->rtag = p9c_g16(c);
	if (size != c->rlen || c->rtag != tag) {
		snprintf(c->why, sizeof(c->why), "reply size %u (used length %u), tag %u (want %u)", size,
			 c->rlen, c->rtag, tag);
		return P9C_BAD;
	}
	if (c->rtype == P9_RLERROR) {
		uint32_t e = p9c_g32(c);

		if (c->rbad || c->rlen != P9C_HDR + 4 || e == 0 || e > 4095) {
			snprintf(c->why, sizeof(c->why), "a malformed Rlerror (errno %u)", e);
			return P9C_BAD;
		}
		return -(int)e;
	}
	if (c->rtype != ttype + 1) {
		snprintf(c->why, sizeof(c->why), "reply type %u to type %u", c->rtype, ttype);
		return P9C_BAD;
	}
	return 0;
}

int p9c_send_raw(struct p9c *c, size_t len, uint32_t room, uint16_t tag)
{
	int r = p9c_xfer(c, len, room);

	return r ? r : check_reply(c, c->tx[4], tag);
}

int p9c_rpc(struct p9c *c)
{
	size_t len = p9c_end(c);
	uint16_t tag;
	int r;

	memcpy(&tag, c->tx + 5, 2);
	r = p9c_send_raw(c, len, c->msize ? c->msize : P9C_BUF, tag);
	c->zc_out = NULL;
	c->zc_in = NULL;
	c->zc_len = 0;
	return r;
}

/* The body must have been read to its end. */
static int body_done(struct p9c *c, int ret)
{
	if (c->rbad || c->rpos != c->rlen) {
		snprintf(c->why, sizeof(c->why), "reply type %u: %zu of %u bytes read%s", c->rtype, c->rpos,
			 c->rlen, c->rbad ? ", short" : "");
		return P9C_BAD;
	}
	return ret;
}

/* ---- messages ---- */

int p9c_version(struct p9c *c, uint32_t msize, const char *version)
{
	char got[16];
	uint32_t m;
	uint16_t n;
	int r;

	p9c_begin(c, P9_TVERSION);
	p9c_u32(c, msize);
	p9c_cstr(c, version);
	c->msize = 0;
	r = p9c_rpc(c);
	if (r)
		return r;
	m = p9c_g32(c);
	n = p9c_g16(c);
	if (n >= sizeof(got) || c->rpos + n > c->rlen)
		return body_done(c, P9C_BAD);
	get(c, got, n);
	got[n] = '\0';
	if (strcmp(got, "9P2000.L") == 0 && m >= 4096 && m <= msize)
		c->msize = m;
	return body_done(c, (int)m);
}

int p9c_attach(struct p9c *c, uint32_t fid, struct p9_qid *qid)
{
	int r;

	p9c_begin(c, P9_TATTACH);
	p9c_u32(c, fid);
	p9c_u32(c, P9C_NOFID);
	p9c_cstr(c, "root");
	p9c_cstr(c, "");
	p9c_u32(c, 0);
	r = p9c_rpc(c);
	if (r)
		return r;
	p9c_gqid(c, qid);
	return body_done(c, 0);
}

int p9c_walk(struct p9c *c, uint32_t fid, uint32_t newfid, unsigned int n, const char *const *names,
	     struct p9_qid *qids)
{
	uint16_t got;
	int r;

	p9c_begin(c, P9_TWALK);
	p9c_u32(c, fid);
	p9c_u32(c, newfid);
	p9c_u16(c, (uint16_t)n);
	for (unsigned int i = 0; i < n; i++)
		p9c_cstr(c, names[i]);
	r = p9c_rpc(c);
	if (r)
		return r;
	got = p9c_g16(c);
	if (got > n)
		return body_done(c, P9C_BAD);
	for (unsigned int i = 0; i < got; i++)
		p9c_gqid(c, qids ? &qids[i] : NULL);
	return body_done(c, got);
}

int p9c_walk_path(struct p9c *c, uint32_t fid, uint32_t newfid, const char *path)
{
	char buf[256], *names[16];
	unsigned int n = 0;
	size_t len = strlcpy(buf, path, sizeof(buf));
	int r;

	if (len >= sizeof(buf))
		return -L_ENAMETOOLONG;
	for (char *p = buf; *p && n < nitems(names);) {
		names[n++] = p;
		while (*p && *p != '/')
			p++;
		if (*p)
			*p++ = '\0';
	}
	r = p9c_walk(c, fid, newfid, n, (const char *const *)names, NULL);
	return r < 0 ? r : (unsigned int)r == n ? 0 : -L_ENOENT;
}

static int open_reply(struct p9c *c, int r, struct p9_qid *qid)
{
	if (r)
		return r;
	p9c_gqid(c, qid);
	p9c_g32(c); /* iounit */
	return body_done(c, 0);
}

int p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags, struct p9_qid *qid)
{
	p9c_begin(c, P9_TLOPEN);
	p9c_u32(c, fid);
	p9c_u32(c, flags);
	return open_reply(c, p9c_rpc(c), qid);
}

int p9c_lcreate(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags, uint32_t mode,
		struct p9_qid *qid)
{
	p9c_begin(c, P9_TLCREATE);
	p9c_u32(c, dfid);
	p9c_cstr(c, name);
	p9c_u32(c, flags);
	p9c_u32(c, mode);
	p9c_u32(c, 0);
	return open_reply(c, p9c_rpc(c), qid);
}

int p9c_read(struct p9c *c, uint32_t fid, uint64_t off, uint32_t count, void *dst)
{
	/* zero-copy as Linux's client does it: only a count the reply can carry whole (msize
	 * less Rread's header); a larger one is the server's to trim, into rx */
	int zc = count > P9C_ZC_MIN && c->msize > P9C_HDR + 4 && count <= c->msize - (P9C_HDR + 4);
	uint32_t n;
	int r;

	p9c_begin(c, P9_TREAD);
	p9c_u32(c, fid);
	p9c_u64(c, off);
	p9c_u32(c, count);
	if (zc) {
		c->zc_in = dst;
		c->zc_len = count;
	}
	r = p9c_rpc(c);
	if (r)
		return r;
	n = p9c_g32(c);
	if (n > count || c->rpos + n != c->rlen)
		return body_done(c, P9C_BAD);
	if (!zc)
		copy_fast(dst, c->rx + c->rpos, n);
	c->rpos += n;
	return body_done(c, (int)n);
}

int p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *src, uint32_t count)
{
	uint32_t n;
	int r;

	p9c_begin(c, P9_TWRITE);
	p9c_u32(c, fid);
	p9c_u64(c, off);
	p9c_u32(c, count);
	if (c->wlen + count > P9C_BUF)
		return P9C_BAD;
	if (count > P9C_ZC_MIN) {
		c->zc_out = src;
		c->zc_len = count;
	} else {
		copy_fast(c->tx + c->wlen, src, count);
		c->wlen += count;
	}
	r = p9c_rpc(c);
	if (r)
		return r;
	n = p9c_g32(c);
	return body_done(c, n > count ? P9C_BAD : (int)n);
}

/* The reply has no body (Rclunk, Rfsync, Rsetattr, ...). */
static int no_body(struct p9c *c)
{
	int r = p9c_rpc(c);

	return r ? r : body_done(c, 0);
}

int p9c_clunk(struct p9c *c, uint32_t fid)
{
	p9c_begin(c, P9_TCLUNK);
	p9c_u32(c, fid);
	return no_body(c);
}

int p9c_remove(struct p9c *c, uint32_t fid)
{
	p9c_begin(c, P9_TREMOVE);
	p9c_u32(c, fid);
	return no_body(c);
}

int p9c_fsync(struct p9c *c, uint32_t fid, int datasync)
{
	p9c_begin(c, P9_TFSYNC);
	p9c_u32(c, fid);
	p9c_u32(c, datasync ? 1 : 0);
	return no_body(c);
}

int p9c_link(struct p9c *c, uint32_t dfid, uint32_t fid, const char *name)
{
	p9c_begin(c, P9_TLINK);
	p9c_u32(c, dfid);
	p9c_u32(c, fid);
	p9c_cstr(c, name);
	return no_body(c);
}

/* Tlock and Tgetlock: the whole file, for process 1 of client "guest". */
static void lock_fields(struct p9c *c, uint32_t fid, uint8_t type, int with_flags)
{
	p9c_u32(c, fid);
	p9c_u8(c, type);
	if (with_flags)
		p9c_u32(c, 0);
	p9c_u64(c, 0);
	p9c_u64(c, 0);
	p9c_u32(c, 1);
	p9c_cstr(c, "guest");
}

int p9c_lock(struct p9c *c, uint32_t fid, uint8_t type)
{
	uint8_t status;
	int r;

	p9c_begin(c, P9_TLOCK);
	lock_fields(c, fid, type, 1);
	r = p9c_rpc(c);
	if (r)
		return r;
	status = p9c_g8(c);
	return body_done(c, status);
}

int p9c_getlock(struct p9c *c, uint32_t fid, uint8_t type)
{
	uint8_t got;
	uint16_t len;
	int r;

	p9c_begin(c, P9_TGETLOCK);
	lock_fields(c, fid, type, 0);
	r = p9c_rpc(c);
	if (r)
		return r;
	got = p9c_g8(c);
	p9c_g64(c);
	p9c_g64(c);
	p9c_g32(c);
	len = p9c_g16(c);
	c->rpos += len;
	return body_done(c, got);
}

int p9c_getattr(struct p9c *c, uint32_t fid, struct p9_attr *a)
{
	int r;

	p9c_begin(c, P9_TGETATTR);
	p9c_u32(c, fid);
	p9c_u64(c, P9_GETATTR_BASIC);
	r = p9c_rpc(c);
	if (r)
		return r;
	p9c_g64(c); /* valid */
	p9c_gqid(c, &a->qid);
	a->mode = p9c_g32(c);
	a->uid = p9c_g32(c);
	a->gid = p9c_g32(c);
	a->nlink = p9c_g64(c);
	p9c_g64(c); /* rdev */
	a->size = p9c_g64(c);
	for (int i = 0; i < 12; i++)
		p9c_g64(c); /* blksize, blocks, 4 times, gen, data_version */
	return body_done(c, 0);
}

int p9c_setattr(struct p9c *c, uint32_t fid, const struct p9_setattr *a)
{
	p9c_begin(c, P9_TSETATTR);
	p9c_u32(c, fid);
	p9c_u32(c, a->valid);
	p9c_u32(c, a->mode);
	p9c_u32(c, a->uid);
	p9c_u32(c, a->gid);
	p9c_u64(c, a->size);
	p9c_u64(c, a->atime_sec);
	p9c_u64(c, a->atime_nsec);
	p9c_u64(c, a->mtime_sec);
	p9c_u64(c, a->mtime_nsec);
	return no_body(c);
}

int p9c_setattr_mode_size(struct p9c *c, uint32_t fid, uint32_t valid, uint32_t mode, uint64_t size)
{
	struct p9_setattr a = { .valid = valid, .mode = mode, .size = size };

	return p9c_setattr(c, fid, &a);
}

int p9c_mknod(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode)
{
	int r;

	p9c_begin(c, P9_TMKNOD);
	p9c_u32(c, dfid);
	p9c_cstr(c, name);
	p9c_u32(c, mode);
	p9c_u32(c, 0);
	p9c_u32(c, 0);
	p9c_u32(c, 0);
	r = p9c_rpc(c);
	if (r)
		return r;
	p9c_gqid(c, NULL);
	return body_done(c, 0);
}

int p9c_mkdir(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode, struct p9_qid *qid)
{
	int r;

	p9c_begin(c, P9_TMKDIR);
	p9c_u32(c, dfid);
	p9c_cstr(c, name);
	p9c_u32(c, mode);
	p9c_u32(c, 0);
	r = p9c_rpc(c);
	if (r)
		return r;
	p9c_gqid(c, qid);
	return body_done(c, 0);
}

int p9c_symlink(struct p9c *c, uint32_t dfid, const char *name, const char *target)
{
	int r;

	p9c_begin(c, P9_TSYMLINK);
	p9c_u32(c, dfid);
	p9c_cstr(c, name);
	p9c_cstr(c, target);
	p9c_u32(c, 0);
	r = p9c_rpc(c);
	if (r)
		return r;
	p9c_gqid(c, NULL);
	return body_done(c, 0);
}

int p9c_readlink(struct p9c *c, uint32_t fid, char *buf, size_t n)
{
	uint16_t len;
	int r;

	p9c_begin(c, P9_TREADLINK);
	p9c_u32(c, fid);
	r = p9c_rpc(c);
	if (r)
		return r;
	len = p9c_g16(c);
	if (len >= n || c->rpos + len > c->rlen)
		return body_done(c, P9C_BAD);
	get(c, buf, len);
	buf[len] = '\0';
	return body_done(c, len);
}

int p9c_unlinkat(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags)
{
	p9c_begin(c, P9_TUNLINKAT);
	p9c_u32(c, dfid);
	p9c_cstr(c, name);
	p9c_u32(c, flags);
	return no_body(c);
}

int p9c_renameat(struct p9c *c, uint32_t odfid, const char *oname, uint32_t ndfid, const char *nname)
{
	p9c_begin(c, P9_TRENAMEAT);
	p9c_u32(c, odfid);
	p9c_cstr(c, oname);
	p9c_u32(c, ndfid);
	p9c_cstr(c, nname);
	return no_body(c);
}

int p9c_statfs(struct p9c *c, uint32_t fid, uint32_t *bsize, uint64_t *blocks)
{
	int r;

	p9c_begin(c, P9_TSTATFS);
	p9c_u32(c, fid);
	r = p9c_rpc(c);
	if (r)
		return r;
	p9c_g32(c); /* type */
	*bsize = p9c_g32(c);
	*blocks = p9c_g64(c);
	for (int i = 0; i < 5; i++)
		p9c_g64(c); /* bfree, bavail, files, ffree, fsid */
	p9c_g32(c); /* namelen */
	return body_done(c, 0);
}

int p9c_flush(struct p9c *c, uint16_t oldtag)
{
	p9c_begin(c, P9_TFLUSH);
	p9c_u16(c, oldtag);
	return no_body(c);
}

/* One Treaddir's entries: qid[13] offset[8] type[1] name[s]. 1 if name is among them. */
static int dir_scan(struct p9c *c, uint32_t n, const char *name, uint64_t *next)
{
	size_t end = c->rpos + n, want = strlen(name);
	int hit = 0;

	while (c->rpos < end && !c->rbad) {
		uint16_t len;

		p9c_gqid(c, NULL);
		*next = p9c_g64(c);
		p9c_g8(c);
		len = p9c_g16(c);
		if (c->rpos + len > end) {
			c->rbad = 1;
			break;
		}
		hit |= len == want && memcmp(c->rx + c->rpos, name, len) == 0;
		c->rpos += len;
	}
	return hit;
}

int p9c_dir_find(struct p9c *c, uint32_t fid, const char *name)
{
	uint64_t off = 0;
	int hit = 0;

	for (int rounds = 0; rounds < 1000; rounds++) {
		uint32_t n;
		int r;

		p9c_begin(c, P9_TREADDIR);
		p9c_u32(c, fid);
		p9c_u64(c, off);
		p9c_u32(c, 8192);
		r = p9c_rpc(c);
		if (r)
			return r;
		n = p9c_g32(c);
		if (n == 0)
			return body_done(c, hit);
		if (c->rpos + n != c->rlen)
			return body_done(c, P9C_BAD);
		hit |= dir_scan(c, n, name, &off);
		if (body_done(c, 0))
			return P9C_BAD;
	}
	snprintf(c->why, sizeof(c->why), "a directory that does not end");
	return P9C_BAD;
}
