/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devices/9p: the 9P2000.L server against a temporary directory, driven
 * with byte buffers exactly as a client sends them (the wire format is
 * written out here from the protocol, not taken from the server's code),
 * and the virtio-9p device through its register window and rings.
 *
 * Every test builds a fresh tree:
 *   BASE/secret                 a file outside the share: no request may reach it
 *   BASE/share/                 the shared directory (the server's root)
 *     hello                     "hello, world\n"
 *     sub/inner                 "inner\n"
 *     toroot -> /               symlinks a client may walk to, never through
 *     abs -> BASE/secret
 *     up -> ..
 *     magic -> /proc/self/root
 *     sub/escape -> ../..
 * and checks replies against the host's own view of those files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../devices/9p/p9.h"

/* The protocol's numbers, from the 9P2000.L description (Linux include/net/9p/9p.h). */
enum {
	RLERROR = 7,
	TSTATFS = 8,
	TLOPEN = 12,
	TLCREATE = 14,
	TSYMLINK = 16,
	TMKNOD = 18,
	TRENAME = 20,
	TREADLINK = 22,
	TGETATTR = 24,
	TSETATTR = 26,
	TXATTRWALK = 30,
	TXATTRCREATE = 32,
	TREADDIR = 40,
	TFSYNC = 50,
	TLOCK = 52,
	TGETLOCK = 54,
	TLINK = 70,
	TMKDIR = 72,
	TRENAMEAT = 74,
	TUNLINKAT = 76,
	TVERSION = 100,
	TAUTH = 102,
	TATTACH = 104,
	TFLUSH = 108,
	TWALK = 110,
	TOPEN = 112,
	TREAD = 116,
	TWRITE = 118,
	TCLUNK = 120,
	TREMOVE = 122,
	TSTAT = 124,
};
#define NOFID 0xffffffffu
#define NOTAG 0xffffu
#define QTDIR 0x80
#define QTSYMLINK 0x02
#define QTFILE 0x00
#define O_RD 0
#define O_WR 1
#define O_RW 2
#define O_TR 01000
#define AT_RMDIR 0x200
#define SA_MODE 0x1
#define SA_UID 0x2
#define SA_GID 0x4
#define SA_SIZE 0x8
#define SA_ATIME 0x10
#define SA_MTIME 0x20
#define SA_ATIME_SET 0x80
#define SA_MTIME_SET 0x100
#define LK_RD 0
#define LK_WR 1
#define LK_UN 2
#define LK_OK 0
#define LK_BLOCKED 1

#define ROOT 1 /* the fid the session helper attaches */
#define BIG (1u << 20)

struct tqid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

struct tattr {
	uint64_t valid;
	struct tqid qid;
	uint32_t mode, uid, gid;
	uint64_t nlink, rdev, size, blksize, blocks;
	uint64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
};

struct t {
	char base[512];
	char share[600];
	int rootfd;
	struct p9_server s;
	size_t rcap; /* writable bytes offered to each reply */
	uint16_t tag;
};

static uint8_t reqbuf[BIG], rspbuf[BIG];
static size_t mlen; /* bytes of the request built so far */

/* The reply being read. */
static struct {
	uint8_t type;
	uint16_t tag;
	size_t len, pos;
} rep;

/* ---- the host side ---- */

static void hpath(const struct t *t, const char *rel, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s", t->share, rel);
}

static void hwrite(const struct t *t, const char *rel, const char *text)
{
	char p[PATH_MAX];
	int fd;

	hpath(t, rel, p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The host's content of rel (NUL-terminated into buf), or -errno. */
static int hread(const struct t *t, const char *rel, char *buf, size_t size)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	hpath(t, rel, p);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return 0;
}

static int hexists(const struct t *t, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	hpath(t, rel, p);
	return lstat(p, &st) == 0;
}

static void hstat(const struct t *t, const char *rel, struct stat *st)
{
	char p[PATH_MAX];

	hpath(t, rel, p);
	assert_int_equal(lstat(p, st), 0);
}

static void hsymlink(const struct t *t, const char *target, const char *rel)
{
	char p[PATH_MAX];

	hpath(t, rel, p);
	assert_int_equal(symlink(target, p), 0);
}

static void hmkdir(const struct t *t, const char *rel)
{
	char p[PATH_MAX];

	hpath(t, rel, p);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	const char *tmp = getenv("TMPDIR");
	char p[PATH_MAX + 32];
	int fd;

	assert_non_null(t);
	umask(0);
	/* tmpfs where there is one: it takes the huge sparse files some tests make */
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(t->base, sizeof(t->base), "%s/test_9p.XXXXXX", tmp);
	assert_non_null(mkdtemp(t->base));
	snprintf(t->share, sizeof(t->share), "%s/share", t->base);
	assert_int_equal(mkdir(t->share, 0755), 0);
	snprintf(p, sizeof(p), "%s/secret", t->base);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "SECRET", 6), 6);
	close(fd);
	hwrite(t, "hello", "hello, world\n");
	hmkdir(t, "sub");
	hwrite(t, "sub/inner", "inner\n");
	hsymlink(t, "/", "toroot");
	hsymlink(t, p, "abs");
	hsymlink(t, "..", "up");
	hsymlink(t, "/proc/self/root", "magic");
	hsymlink(t, "../..", "sub/escape");
	t->rootfd = open(t->share, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(t->rootfd >= 0);
	assert_int_equal(p9_server_init(&t->s, t->rootfd, 0, 1024), 0);
	t->rcap = sizeof(rspbuf);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	p9_server_destroy(&t->s);
	close(t->rootfd);
	assert_int_equal(nftw(t->base, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(t);
	return 0;
}

/* ---- building requests ---- */

static void put(const void *p, size_t n)
{
	assert_true(mlen + n <= sizeof(reqbuf));
	memcpy(reqbuf + mlen, p, n);
	mlen += n;
}

static void m8(uint8_t v)
{
	put(&v, 1);
}

static void m16(uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	put(b, 2);
}

static void m32(uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(b, 4);
}

static void m64(uint64_t v)
{
	m32((uint32_t)v);
	m32((uint32_t)(v >> 32));
}

static void mbytes(const void *p, size_t n)
{
	m16((uint16_t)n);
	put(p, n);
}

static void mstr(const char *s)
{
	mbytes(s, strlen(s));
}

static void mbegin(struct t *t, uint8_t type)
{
	mlen = 0;
	m32(0);
	m8(type);
	m16(++t->tag == NOTAG ? ++t->tag : t->tag);
}

static void mend(void)
{
	for (int i = 0; i < 4; i++)
		reqbuf[i] = (uint8_t)(mlen >> (8 * i));
}

/* ---- reading replies ---- */

static const uint8_t *take(size_t n)
{
	const uint8_t *p = rspbuf + rep.pos;

	if (rep.pos + n > rep.len)
		fail_msg("reply of %zu bytes read past its end (at %zu, %zu more)", rep.len, rep.pos, n);
	rep.pos += n;
	return p;
}

static uint8_t g8(void)
{
	return *take(1);
}

static uint16_t g16(void)
{
	const uint8_t *p = take(2);

	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t g32(void)
{
	const uint8_t *p = take(4);

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t g64(void)
{
	uint64_t lo = g32();

	return lo | (uint64_t)g32() << 32;
}

static void gqid(struct tqid *q)
{
	struct tqid dummy;

	if (!q)
		q = &dummy;
	q->type = g8();
	q->version = g32();
	q->path = g64();
}

/* A string into buf (NUL-terminated); its length. */
static size_t gstr(char *buf, size_t size)
{
	uint16_t n = g16();
	const uint8_t *p = take(n);

	assert_true(n < size);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return n;
}

static void gend(void)
{
	if (rep.pos != rep.len)
		fail_msg("reply has %zu bytes, %zu were read", rep.len, rep.pos);
}

/* Send reqbuf[0..len) with rcap writable bytes; the reply's length (its header is parsed). */
static size_t send_raw(struct t *t, size_t len, size_t rcap)
{
	struct iovec in = { reqbuf, len }, out = { rspbuf, rcap };
	size_t n;

	memset(rspbuf, 0xcc, rcap < sizeof(rspbuf) ? rcap + 1 : rcap);
	n = p9_handle(&t->s, &in, 1, &out, 1);
	assert_true(n <= rcap);
	if (rcap < sizeof(rspbuf))
		assert_int_equal(rspbuf[rcap], 0xcc); /* nothing written past the buffer */
	rep.len = n;
	rep.pos = 0;
	if (n == 0)
		return 0;
	assert_true(n >= 7);
	assert_int_equal(g32(), n);
	rep.type = g8();
	rep.tag = g16();
	return n;
}

/* The request built is answered: 0 for its R-message, -ecode for Rlerror. */
static int rpc_cap(struct t *t, size_t rcap)
{
	uint8_t type = reqbuf[4];

	mend();
	assert_true(send_raw(t, mlen, rcap) > 0);
	assert_int_equal(rep.tag, t->tag);
	if (rep.type == RLERROR) {
		int e = (int)g32();

		gend();
		assert_true(e > 0);
		return -e;
	}
	assert_int_equal(rep.type, type + 1);
	return 0;
}

static int rpc(struct t *t)
{
	return rpc_cap(t, t->rcap);
}

/* rpc() for a request whose reply has no body. */
static int rpc_empty(struct t *t)
{
	int err = rpc(t);

	if (!err)
		gend();
	return err;
}

/* rpc() for a request answered with a qid (and an iounit, with iounit = 1). */
static int rpc_qid(struct t *t, struct tqid *q, int iounit)
{
	int err = rpc(t);

	if (err)
		return err;
	gqid(q);
	if (iounit)
		g32();
	gend();
	return 0;
}

/* An Rlerror's errno for a raw message (tag not checked), or 0 for any other reply. */
static int raw_error(struct t *t, size_t len, size_t rcap)
{
	assert_true(send_raw(t, len, rcap) > 0);
	if (rep.type != RLERROR)
		return 0;
	return (int)g32();
}

/* ---- one helper per message ---- */

static int t_version(struct t *t, uint32_t msize, const char *version, char *got, uint32_t *got_msize)
{
	char buf[64];
	int err;

	mbegin(t, TVERSION);
	m32(msize);
	mstr(version);
	err = rpc(t);
	if (err)
		return err;
	*got_msize = g32();
	gstr(got ? got : buf, 64);
	gend();
	return 0;
}

static int t_attach(struct t *t, uint32_t fid, struct tqid *q)
{
	mbegin(t, TATTACH);
	m32(fid);
	m32(NOFID);
	mstr("user");
	mstr("");
	m32(0);
	return rpc_qid(t, q, 0);
}

static void session(struct t *t)
{
	uint32_t msize;
	char v[64];

	assert_int_equal(t_version(t, 65536, "9P2000.L", v, &msize), 0);
	assert_string_equal(v, "9P2000.L");
	assert_int_equal(msize, 65536);
	assert_int_equal(t_attach(t, ROOT, NULL), 0);
}

/* Twalk of n names: the number of qids in Rwalk (into q), or -errno. */
static int t_walkn(struct t *t, uint32_t fid, uint32_t newfid, unsigned int n, const char *const *names,
		   struct tqid *q)
{
	uint16_t nq;
	int err;

	mbegin(t, TWALK);
	m32(fid);
	m32(newfid);
	m16((uint16_t)n);
	for (unsigned int i = 0; i < n; i++)
		mstr(names[i]);
	err = rpc(t);
	if (err)
		return err;
	nq = g16();
	for (unsigned int i = 0; i < nq; i++)
		gqid(q ? &q[i] : NULL);
	gend();
	return nq;
}

/* Twalk of a '/'-separated path ("" walks no names: a clone). */
static int t_walk(struct t *t, uint32_t fid, uint32_t newfid, const char *path, struct tqid *last)
{
	char buf[4096], *save = NULL;
	const char *names[64];
	struct tqid q[64];
	unsigned int n = 0;
	int r;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		assert_true(n < 64);
		names[n++] = tok;
	}
	r = t_walkn(t, fid, newfid, n, names, q);
	if (r > 0 && last)
		*last = q[r - 1];
	return r;
}

static int t_fid0(struct t *t, uint8_t type, uint32_t fid)
{
	mbegin(t, type);
	m32(fid);
	return rpc(t);
}

static int t_clunk(struct t *t, uint32_t fid)
{
	mbegin(t, TCLUNK);
	m32(fid);
	return rpc_empty(t);
}

static int t_remove(struct t *t, uint32_t fid)
{
	mbegin(t, TREMOVE);
	m32(fid);
	return rpc_empty(t);
}

static int t_lopen(struct t *t, uint32_t fid, uint32_t flags, struct tqid *q)
{
	mbegin(t, TLOPEN);
	m32(fid);
	m32(flags);
	return rpc_qid(t, q, 1);
}

static int t_lcreate(struct t *t, uint32_t fid, const char *name, uint32_t flags, uint32_t mode, struct tqid *q)
{
	mbegin(t, TLCREATE);
	m32(fid);
	mstr(name);
	m32(flags);
	m32(mode);
	m32(0);
	return rpc_qid(t, q, 1);
}

/* Tread: bytes read into buf, or -errno. */
static int t_read(struct t *t, uint32_t fid, uint64_t off, uint32_t count, void *buf)
{
	uint32_t n;
	int err;

	mbegin(t, TREAD);
	m32(fid);
	m64(off);
	m32(count);
	err = rpc(t);
	if (err)
		return err;
	n = g32();
	assert_true(n <= count);
	memcpy(buf, take(n), n);
	gend();
	return (int)n;
}

static int t_write(struct t *t, uint32_t fid, uint64_t off, const void *data, uint32_t len)
{
	int err;

	mbegin(t, TWRITE);
	m32(fid);
	m64(off);
	m32(len);
	put(data, len);
	err = rpc(t);
	if (err)
		return err;
	err = (int)g32();
	gend();
	return err;
}

static int t_getattr(struct t *t, uint32_t fid, struct tattr *a)
{
	struct tattr dummy;
	int err;

	mbegin(t, TGETATTR);
	m32(fid);
	m64(0x3fff);
	err = rpc(t);
	if (err)
		return err;
	if (!a)
		a = &dummy;
	a->valid = g64();
	gqid(&a->qid);
	a->mode = g32();
	a->uid = g32();
	a->gid = g32();
	a->nlink = g64();
	a->rdev = g64();
	a->size = g64();
	a->blksize = g64();
	a->blocks = g64();
	a->atime = g64();
	a->atime_ns = g64();
	a->mtime = g64();
	a->mtime_ns = g64();
	a->ctime = g64();
	a->ctime_ns = g64();
	for (int i = 0; i < 4; i++)
		g64();
	gend();
	return 0;
}

static int t_setattr(struct t *t, uint32_t fid, uint32_t valid, uint32_t mode, uint64_t size, uint64_t atime,
		     uint64_t mtime)
{
	mbegin(t, TSETATTR);
	m32(fid);
	m32(valid);
	m32(mode);
	m32((uint32_t)getuid());
	m32((uint32_t)getgid());
	m64(size);
	m64(atime);
	m64(0);
	m64(mtime);
	m64(0);
	return rpc_empty(t);
}

static int t_dirop(struct t *t, uint8_t type, uint32_t dfid, const char *name, uint32_t mode, struct tqid *q)
{
	mbegin(t, type);
	m32(dfid);
	mstr(name);
	m32(mode);
	if (type == TMKNOD) {
		m32(0);
		m32(0);
	}
	m32(0); /* gid */
	return rpc_qid(t, q, 0);
}

static int t_mkdir(struct t *t, uint32_t dfid, const char *name, uint32_t mode)
{
	return t_dirop(t, TMKDIR, dfid, name, mode, NULL);
}

static int t_symlink(struct t *t, uint32_t dfid, const char *name, const char *target, struct tqid *q)
{
	mbegin(t, TSYMLINK);
	m32(dfid);
	mstr(name);
	mstr(target);
	m32(0);
	return rpc_qid(t, q, 0);
}

static int t_readlink(struct t *t, uint32_t fid, char *buf, size_t size)
{
	int err = t_fid0(t, TREADLINK, fid);

	if (err)
		return err;
	gstr(buf, size);
	gend();
	return 0;
}

static int t_unlinkat(struct t *t, uint32_t dfid, const char *name, uint32_t flags)
{
	mbegin(t, TUNLINKAT);
	m32(dfid);
	mstr(name);
	m32(flags);
	return rpc_empty(t);
}

static int t_renameat(struct t *t, uint32_t ofid, const char *oname, uint32_t nfid, const char *nname)
{
	mbegin(t, TRENAMEAT);
	m32(ofid);
	mstr(oname);
	m32(nfid);
	mstr(nname);
	return rpc_empty(t);
}

/* Trename (fid, dfid, name) and Tlink (dfid, fid, name): two fids and a name. */
static int t_fids_name(struct t *t, uint8_t type, uint32_t a, uint32_t b, const char *name)
{
	mbegin(t, type);
	m32(a);
	m32(b);
	mstr(name);
	return rpc_empty(t);
}

static int t_rename(struct t *t, uint32_t fid, uint32_t dfid, const char *name)
{
	return t_fids_name(t, TRENAME, fid, dfid, name);
}

static int t_link(struct t *t, uint32_t dfid, uint32_t fid, const char *name)
{
	return t_fids_name(t, TLINK, dfid, fid, name);
}

static int t_lock(struct t *t, uint8_t type, uint32_t fid, uint8_t ltype, uint64_t start, uint64_t len,
		  uint8_t *status_or_type)
{
	int err;

	mbegin(t, type);
	m32(fid);
	m8(ltype);
	if (type == TLOCK)
		m32(0);
	m64(start);
	m64(len);
	m32(1234);
	mstr("guest");
	err = rpc(t);
	if (err)
		return err;
	*status_or_type = g8();
	if (type == TGETLOCK) {
		char id[64];

		g64();
		g64();
		assert_int_equal(g32(), 1234);
		gstr(id, sizeof(id));
		assert_string_equal(id, "guest");
	}
	gend();
	return 0;
}

/* ---- tests: the session ---- */

static void test_version(void **state)
{
	struct t *t = *state;
	uint32_t msize;
	char v[64];

	/* Nothing before Tversion. */
	assert_int_equal(t_attach(t, ROOT, NULL), -EPROTO);
	/* The msize is the smaller of the client's and ours; huge ones are clamped. */
	assert_int_equal(t_version(t, 8192, "9P2000.L", v, &msize), 0);
	assert_int_equal(msize, 8192);
	assert_int_equal(t_version(t, 0xffffffffu, "9P2000.L", v, &msize), 0);
	assert_int_equal(msize, P9_MSIZE_MAX);
	/* A dialect of 9P2000.L is answered with the base; anything else with "unknown". */
	assert_int_equal(t_version(t, 65536, "9P2000.L.ext", v, &msize), 0);
	assert_string_equal(v, "9P2000.L");
	assert_int_equal(t_version(t, 65536, "9P2000", v, &msize), 0);
	assert_string_equal(v, "unknown");
	assert_int_equal(t_attach(t, ROOT, NULL), -EPROTO); /* no session after "unknown" */
	assert_int_equal(t_version(t, 65536, "9P2000.Lx", v, &msize), 0);
	assert_string_equal(v, "unknown");
	/* Too small for our replies. */
	assert_int_equal(t_version(t, 4095, "9P2000.L", v, &msize), -EINVAL);
	assert_int_equal(t_version(t, 0, "9P2000.L", v, &msize), -EINVAL);
	/* Tversion ends the session: its fids are gone. */
	session(t);
	assert_int_equal(t_walk(t, ROOT, 2, "sub", NULL), 1);
	assert_int_equal(t_version(t, 65536, "9P2000.L", v, &msize), 0);
	assert_int_equal(t_getattr(t, 2, NULL), -EBADF);
	assert_int_equal(t_getattr(t, ROOT, NULL), -EBADF);
	/* A reply is never larger than the negotiated msize. */
	assert_int_equal(t_version(t, 4096, "9P2000.L", v, &msize), 0);
	assert_int_equal(t_attach(t, ROOT, NULL), 0);
	{
		static char big[10000];

		memset(big, 'b', sizeof(big) - 1);
		hwrite(t, "big", big);
		assert_int_equal(t_walk(t, ROOT, 2, "big", NULL), 1);
		assert_int_equal(t_lopen(t, 2, O_RD, NULL), 0);
		assert_int_equal(t_read(t, 2, 0, 8192, big), 4096 - 11);
		assert_int_equal(t_read(t, 2, 0, 0xffffffffu, big), 4096 - 11);
		assert_int_equal(t_read(t, 2, 9000, 0xffffffffu, big), 999);
		/* A message larger than msize is refused. */
		mbegin(t, TWRITE);
		m32(2);
		m64(0);
		m32(4096 - 22);
		for (int i = 0; i < 4096 - 22; i++)
			m8('w');
		assert_int_equal(rpc(t), -EMSGSIZE);
	}
}

static void test_attach(void **state)
{
	struct t *t = *state;
	struct tattr a;
	struct tqid q;
	struct stat st;

	session(t);
	assert_int_equal(t_getattr(t, ROOT, &a), 0);
	assert_int_equal(fstat(t->rootfd, &st), 0);
	assert_int_equal(a.qid.type, QTDIR);
	assert_int_equal(a.qid.path, st.st_ino);
	assert_int_equal(a.mode, st.st_mode);
	assert_int_equal(a.uid, st.st_uid);
	assert_int_equal(a.gid, st.st_gid);
	/* A fid in use cannot be attached again; NOFID is no fid. */
	assert_int_equal(t_attach(t, ROOT, NULL), -EEXIST);
	assert_int_equal(t_attach(t, NOFID, NULL), -EBADF);
	/* Several attaches are fine (one per user). */
	assert_int_equal(t_attach(t, 7, &q), 0);
	assert_int_equal(q.path, st.st_ino);
	/* No authentication: Tauth fails, and an afid is refused. */
	mbegin(t, TAUTH);
	m32(9);
	mstr("user");
	mstr("");
	m32(0);
	assert_int_equal(rpc(t), -EOPNOTSUPP);
	mbegin(t, TATTACH);
	m32(9);
	m32(3);
	mstr("user");
	mstr("");
	m32(0);
	assert_int_equal(rpc(t), -EBADF);
	/* Strings with NUL are refused. */
	mbegin(t, TATTACH);
	m32(9);
	m32(NOFID);
	mbytes("us\0er", 5);
	mstr("");
	m32(0);
	assert_int_equal(rpc(t), -EINVAL);
	/* Tflush: every request is answered at once, so there is nothing to flush. */
	mbegin(t, TFLUSH);
	m16(3);
	assert_int_equal(rpc(t), 0);
	gend();
}

static void test_getattr_matches_host(void **state)
{
	struct t *t = *state;
	struct tattr a;
	struct tqid q;
	struct stat st;

	session(t);
	assert_int_equal(chown(t->share, 4321, 8765), 0); /* as root; the guest sees host ids */
	assert_int_equal(t_getattr(t, ROOT, &a), 0);
	assert_int_equal(a.uid, 4321);
	assert_int_equal(a.gid, 8765);
	assert_int_equal(t_walk(t, ROOT, 2, "hello", &q), 1);
	assert_int_equal(t_getattr(t, 2, &a), 0);
	hstat(t, "hello", &st);
	assert_int_equal(a.valid, 0x7ff);
	assert_int_equal(a.qid.type, QTFILE);
	assert_int_equal(a.qid.path, st.st_ino);
	assert_int_equal(q.path, st.st_ino);
	assert_int_equal(a.mode, st.st_mode);
	assert_int_equal(a.size, 13);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.mtime, st.st_mtim.tv_sec);
	assert_int_equal(a.mtime_ns, st.st_mtim.tv_nsec);
	assert_int_equal(a.blocks, st.st_blocks);
	assert_int_equal(t_walk(t, ROOT, 3, "toroot", &q), 1);
	assert_int_equal(q.type, QTSYMLINK);
	assert_int_equal(t_getattr(t, 3, &a), 0);
	assert_true(S_ISLNK(a.mode));
	assert_int_equal(a.size, 1);
	/* A huge sparse file (where the file system takes one: tmpfs does, ext4 stops at 16 TiB). */
	{
		char p[PATH_MAX];

		hpath(t, "hello", p);
		if (truncate(p, 1ll << 62) == 0) {
			assert_int_equal(t_getattr(t, 2, &a), 0);
			assert_int_equal(a.size, 1ull << 62);
		}
	}
}

/* ---- walk ---- */

static void test_walk(void **state)
{
	static const char *const sixteen[16] = { "d", "d", "d", "d", "d", "d", "d", "d",
						  "d", "d", "d", "d", "d", "d", "d", "d" };
	static const char *const seventeen[17] = { "d", "d", "d", "d", "d", "d", "d", "d", "d",
						    "d", "d", "d", "d", "d", "d", "d", "d" };
	struct t *t = *state;
	char path[128] = "";
	struct tqid q[17], qs;
	struct tattr a;
	struct stat st;

	for (int i = 0; i < 16; i++) {
		strcat(path, i ? "/d" : "d");
		hmkdir(t, path);
	}
	session(t);
	/* 16 elements is the most; each gets its qid. */
	assert_int_equal(t_walkn(t, ROOT, 2, 16, sixteen, q), 16);
	hstat(t, path, &st);
	assert_int_equal(q[15].path, st.st_ino);
	assert_int_equal(q[15].type, QTDIR);
	assert_int_equal(t_getattr(t, 2, &a), 0);
	assert_int_equal(a.qid.path, st.st_ino);
	/* 17 is a protocol error, and creates nothing. */
	assert_int_equal(t_walkn(t, ROOT, 3, 17, seventeen, q), -EINVAL);
	assert_int_equal(t_getattr(t, 3, NULL), -EBADF);
	/* A walk that fails at once is an error; later, a short Rwalk and no new fid. */
	assert_int_equal(t_walk(t, ROOT, 3, "nothere", NULL), -ENOENT);
	assert_int_equal(t_walk(t, ROOT, 3, "sub/nothere/x", NULL), 1);
	assert_int_equal(t_getattr(t, 3, NULL), -EBADF);
	assert_int_equal(t_walk(t, ROOT, 3, "hello/x", NULL), 1); /* a file is no directory */
	assert_int_equal(t_walk(t, ROOT, 3, "hello", NULL), 1);
	assert_int_equal(t_walk(t, 3, 4, "x", NULL), -ENOTDIR);
	/* Clone (no names), and a walk of a fid onto itself. */
	assert_int_equal(t_walk(t, 3, 4, "", NULL), 0);
	assert_int_equal(t_getattr(t, 4, &a), 0);
	assert_int_equal(a.size, 13);
	assert_int_equal(t_walk(t, 2, 2, "../..", &qs), 2);
	hstat(t, "d/d/d/d/d/d/d/d/d/d/d/d/d/d", &st);
	assert_int_equal(qs.path, st.st_ino);
	assert_int_equal(t_getattr(t, 2, &a), 0);
	assert_int_equal(a.qid.path, st.st_ino);
	/* newfid in use, NOFID, bogus fid. */
	assert_int_equal(t_walk(t, ROOT, 3, "sub", NULL), -EEXIST);
	assert_int_equal(t_walk(t, ROOT, NOFID, "sub", NULL), -EBADF);
	assert_int_equal(t_walk(t, 99, 98, "sub", NULL), -EBADF);
	/* A walk from an opened fid is still a lookup. */
	assert_int_equal(t_walk(t, ROOT, 5, "sub", NULL), 1);
	assert_int_equal(t_lopen(t, 5, O_RD, NULL), 0);
	assert_int_equal(t_walk(t, 5, 6, "inner", NULL), 1);
	assert_int_equal(t_walk(t, 5, 7, "", NULL), 0);
	assert_int_equal(t_getattr(t, 7, NULL), 0);
}

static void test_names(void **state)
{
	struct t *t = *state;
	char long_name[300];
	uint8_t nul[] = { 'a', 0, 'b' };

	session(t);
	/* Walk names: no '/', no NUL, not "" or "."; ".." is allowed (below). */
	assert_int_equal(t_walk(t, ROOT, 2, "sub", NULL), 1);
	mbegin(t, TWALK);
	m32(ROOT);
	m32(3);
	m16(1);
	mstr("sub/inner");
	assert_int_equal(rpc(t), -EINVAL);
	mbegin(t, TWALK);
	m32(ROOT);
	m32(3);
	m16(1);
	mbytes(nul, sizeof(nul));
	assert_int_equal(rpc(t), -EINVAL);
	mbegin(t, TWALK);
	m32(ROOT);
	m32(3);
	m16(2);
	mstr("sub");
	mstr("");
	assert_int_equal(rpc(t), -EINVAL);
	mbegin(t, TWALK);
	m32(ROOT);
	m32(3);
	m16(1);
	mstr(".");
	assert_int_equal(rpc(t), -EINVAL);
	memset(long_name, 'x', 256);
	long_name[256] = '\0';
	assert_int_equal(t_walk(t, ROOT, 3, long_name, NULL), -ENAMETOOLONG);
	long_name[255] = '\0';
	assert_int_equal(t_walk(t, ROOT, 3, long_name, NULL), -ENOENT);
	/* Names that create: never "." or "..", '/' or NUL. */
	assert_int_equal(t_mkdir(t, ROOT, "..", 0755), -EINVAL);
	assert_int_equal(t_mkdir(t, ROOT, ".", 0755), -EINVAL);
	assert_int_equal(t_mkdir(t, ROOT, "a/b", 0755), -EINVAL);
	assert_int_equal(t_mkdir(t, ROOT, "", 0755), -EINVAL);
	assert_int_equal(t_symlink(t, ROOT, "../evil", "x", NULL), -EINVAL);
	assert_int_equal(t_lcreate(t, 2, "..", O_RW, 0644, NULL), -EINVAL);
	assert_int_equal(t_unlinkat(t, 2, "..", 0), -EINVAL);
	assert_int_equal(t_renameat(t, 2, "inner", ROOT, ".."), -EINVAL);
	assert_int_equal(t_renameat(t, 2, "../hello", ROOT, "x"), -EINVAL);
	mbegin(t, TMKDIR);
	m32(ROOT);
	mbytes(nul, sizeof(nul));
	m32(0755);
	m32(0);
	assert_int_equal(rpc(t), -EINVAL);
	assert_false(hexists(t, "a"));
	assert_true(hexists(t, "sub/inner"));
	/* A symlink target may be anything but empty or NUL-bearing: the server never follows it. */
	mbegin(t, TSYMLINK);
	m32(ROOT);
	mstr("l");
	mbytes(nul, sizeof(nul));
	m32(0);
	assert_int_equal(rpc(t), -EINVAL);
	assert_int_equal(t_symlink(t, ROOT, "l", "", NULL), -ENOENT);
	assert_false(hexists(t, "l"));
}

/* ---- traversal ---- */

static void test_dotdot_stays_inside(void **state)
{
	struct t *t = *state;
	struct tqid root, q;
	struct stat st;

	assert_int_equal(t_version(t, 65536, "9P2000.L", NULL, &(uint32_t){ 0 }), 0);
	assert_int_equal(t_attach(t, ROOT, &root), 0);
	/* ".." of the root is the root, however often. */
	assert_int_equal(t_walk(t, ROOT, 2, "..", &q), 1);
	assert_int_equal(q.path, root.path);
	assert_int_equal(t_walk(t, ROOT, 3, "../../../..", &q), 4);
	assert_int_equal(q.path, root.path);
	assert_int_equal(t_walk(t, ROOT, 4, "sub/../../..", &q), 4);
	assert_int_equal(q.path, root.path);
	/* The secret lies next to the share: one ".." too many does not find it. */
	assert_int_equal(t_walk(t, ROOT, 5, "../secret", NULL), 1);
	assert_int_equal(t_getattr(t, 5, NULL), -EBADF);
	assert_int_equal(t_walk(t, 2, 5, "secret", NULL), -ENOENT);
	assert_int_equal(t_walk(t, 2, 5, "share", NULL), -ENOENT);
	/* ".." from a subdirectory is its parent. */
	assert_int_equal(t_walk(t, ROOT, 6, "sub/..", &q), 2);
	assert_int_equal(q.path, root.path);
	assert_int_equal(t_walk(t, ROOT, 7, "sub/../hello", &q), 3);
	hstat(t, "hello", &st);
	assert_int_equal(q.path, st.st_ino);
	/* ... and from a walked fid, by its own path. */
	assert_int_equal(t_walk(t, ROOT, 8, "sub", NULL), 1);
	assert_int_equal(t_walk(t, 8, 9, "../..", &q), 2);
	assert_int_equal(q.path, root.path);
	/* Readdir of the root does not show the inode above it. */
	{
		uint8_t *p;
		uint32_t count;
		int seen = 0;

		assert_int_equal(t_walk(t, ROOT, 10, "", NULL), 0);
		assert_int_equal(t_lopen(t, 10, O_RD, NULL), 0);
		mbegin(t, TREADDIR);
		m32(10);
		m64(0);
		m32(60000);
		assert_int_equal(rpc(t), 0);
		count = g32();
		p = rspbuf + rep.pos;
		for (size_t off = 0; off < count;) {
			struct tqid dq;
			char name[256];
			size_t start = rep.pos;

			gqid(&dq);
			g64();
			g8();
			gstr(name, sizeof(name));
			if (strcmp(name, "..") == 0) {
				assert_int_equal(dq.path, root.path);
				seen = 1;
			}
			off += rep.pos - start;
		}
		(void)p;
		assert_true(seen);
	}
}

static void expect_symlink_stops(struct t *t, const char *link, const char *target)
{
	char buf[PATH_MAX], path[PATH_MAX];
	struct tqid q;

	int depth = 1;

	for (const char *c = link; *c; c++)
		depth += *c == '/';
	/* The link itself is a symlink fid; nothing walks through it, nothing opens it. */
	assert_int_equal(t_walk(t, ROOT, 20, link, &q), depth);
	assert_int_equal(q.type, QTSYMLINK);
	assert_int_equal(t_readlink(t, 20, buf, sizeof(buf)), 0);
	assert_string_equal(buf, target);
	assert_int_equal(t_lopen(t, 20, O_RD, NULL), -EOPNOTSUPP);
	snprintf(path, sizeof(path), "%s/etc", link);
	assert_int_equal(t_walk(t, ROOT, 21, path, NULL), depth); /* stops at the link */
	assert_int_equal(t_getattr(t, 21, NULL), -EBADF);
	assert_int_equal(t_walk(t, 20, 21, "etc", NULL), -ENOTDIR);
	assert_int_equal(t_walk(t, 20, 21, "secret", NULL), -ENOTDIR);
	assert_int_equal(t_clunk(t, 20), 0);
}

static void test_symlinks_never_followed(void **state)
{
	struct t *t = *state;
	char secret[PATH_MAX + 16];

	session(t);
	snprintf(secret, sizeof(secret), "%s/secret", t->base);
	expect_symlink_stops(t, "toroot", "/");
	expect_symlink_stops(t, "abs", secret);
	expect_symlink_stops(t, "up", "..");
	expect_symlink_stops(t, "magic", "/proc/self/root");
	expect_symlink_stops(t, "sub/escape", "../..");
	/* A symlink swapped in for a walked file on the host: the fid no longer opens. */
	assert_int_equal(t_walk(t, ROOT, 30, "hello", NULL), 1);
	{
		char p[PATH_MAX];

		hpath(t, "hello", p);
		assert_int_equal(unlink(p), 0);
		assert_int_equal(symlink(secret, p), 0);
	}
	assert_true(t_lopen(t, 30, O_RD, NULL) < 0);
	/* A new walk finds the symlink, and stops there. */
	expect_symlink_stops(t, "hello", secret);
}

static void test_no_mount_crossing(void **state)
{
	struct t *t = *state;
	struct p9_server s2;
	struct p9_server keep = t->s;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct statfs sf;

	/* /proc is another mount than /: a server rooted at / does not enter it. */
	assert_true(fd >= 0);
	assert_int_equal(statfs("/proc", &sf), 0);
	assert_int_equal(p9_server_init(&s2, fd, P9_F_READONLY, 64), 0);
	t->s = s2;
	session(t);
	if (sf.f_type == 0x9fa0) /* PROC_SUPER_MAGIC: /proc is mounted, so it is a mount point */
		assert_int_equal(t_walk(t, ROOT, 2, "proc", NULL), -EXDEV);
	assert_int_equal(t_walk(t, ROOT, 3, "proc/self/root", NULL) <= 0, 1);
	p9_server_destroy(&t->s);
	t->s = keep;
	close(fd);
}

/* ---- files ---- */

static void test_read_write(void **state)
{
	struct t *t = *state;
	static uint8_t data[200000], back[200000];
	char buf[64];
	struct tqid q;
	struct stat st;

	session(t);
	assert_int_equal(t_walk(t, ROOT, 2, "hello", NULL), 1);
	assert_int_equal(t_read(t, 2, 0, 10, buf), -EBADF); /* not open */
	assert_int_equal(t_lopen(t, 2, O_RD, &q), 0);
	assert_int_equal(t_lopen(t, 2, O_RD, &q), -EBADF); /* open twice */
	assert_int_equal(t_read(t, 2, 0, sizeof(buf), buf), 13);
	assert_memory_equal(buf, "hello, world\n", 13);
	assert_int_equal(t_read(t, 2, 7, 5, buf), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(t_read(t, 2, 1000, 10, buf), 0);
	assert_int_equal(t_read(t, 2, 1ull << 63, 10, buf), -EINVAL);
	assert_int_equal(t_write(t, 2, 0, "x", 1), -EBADF); /* opened read-only */
	/* Create, write across several messages, read back; the host sees the same. */
	assert_int_equal(t_walk(t, ROOT, 3, "", NULL), 0);
	assert_int_equal(t_lcreate(t, 3, "new", O_RW, 0640, &q), 0);
	hstat(t, "new", &st);
	assert_int_equal(q.path, st.st_ino);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, getuid()); /* the server's own ids */
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 10));
	for (size_t off = 0; off < sizeof(data); off += 60000) {
		uint32_t n = sizeof(data) - off < 60000 ? (uint32_t)(sizeof(data) - off) : 60000;

		assert_int_equal(t_write(t, 3, off, data + off, n), (int)n);
	}
	for (size_t off = 0; off < sizeof(data);) {
		int n = t_read(t, 3, off, 65536, back + off);

		/* msize 65536: a reply carries at most 65536 - 11 bytes */
		assert_true(n > 0 && n <= 65536 - 11);
		off += (size_t)n;
	}
	assert_memory_equal(data, back, sizeof(data));
	hstat(t, "new", &st);
	assert_int_equal(st.st_size, sizeof(data));
	/* A Twrite whose size does not match its count. */
	mbegin(t, TWRITE);
	m32(3);
	m64(0);
	m32(10);
	put("abc", 3);
	assert_int_equal(rpc(t), -EPROTO);
	/* lcreate on an existing name with EXCL, on a non-directory, twice on one fid. */
	assert_int_equal(t_walk(t, ROOT, 4, "", NULL), 0);
	assert_int_equal(t_lcreate(t, 4, "new", O_RW | 0200, 0644, NULL), -EEXIST);
	assert_int_equal(t_lcreate(t, 2, "x", O_RW, 0644, NULL), -EBADF);
	assert_int_equal(t_walk(t, ROOT, 5, "hello", NULL), 1);
	assert_int_equal(t_lcreate(t, 5, "x", O_RW, 0644, NULL), -ENOTDIR);
	/* Truncating open. */
	assert_int_equal(t_walk(t, ROOT, 6, "new", NULL), 1);
	assert_int_equal(t_lopen(t, 6, O_WR | O_TR, NULL), 0);
	hstat(t, "new", &st);
	assert_int_equal(st.st_size, 0);
	/* Directories open read-only, and read through Treaddir only. */
	assert_int_equal(t_walk(t, ROOT, 7, "sub", NULL), 1);
	assert_int_equal(t_lopen(t, 7, O_WR, NULL), -EISDIR);
	assert_int_equal(t_lopen(t, 7, O_RD, NULL), 0);
	assert_int_equal(t_read(t, 7, 0, 10, buf), -EISDIR);
	/* fsync on open fids only. */
	mbegin(t, TFSYNC);
	m32(3);
	m32(0);
	assert_int_equal(rpc(t), 0);
	mbegin(t, TFSYNC);
	m32(5);
	m32(1);
	assert_int_equal(rpc(t), -EBADF);
}

static void test_special_files(void **state)
{
	struct t *t = *state;
	struct tqid q;
	struct stat st;
	char p[PATH_MAX];

	session(t);
	/* mknod: FIFOs and sockets, never device nodes. */
	assert_int_equal(t_dirop(t, TMKNOD, ROOT, "fifo", S_IFIFO | 0600, &q), 0);
	hstat(t, "fifo", &st);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(q.path, st.st_ino);
	assert_int_equal(t_dirop(t, TMKNOD, ROOT, "null", S_IFCHR | 0666, NULL), -EPERM);
	assert_int_equal(t_dirop(t, TMKNOD, ROOT, "disk", S_IFBLK | 0666, NULL), -EPERM);
	assert_int_equal(t_dirop(t, TMKNOD, ROOT, "weird", 0170000 | 0666, NULL), -EINVAL);
	assert_false(hexists(t, "null"));
	/* A FIFO is not opened: the server would block on it. */
	assert_int_equal(t_walk(t, ROOT, 2, "fifo", NULL), 1);
	assert_int_equal(t_lopen(t, 2, O_RD, NULL), -EOPNOTSUPP);
	/* ... nor through lcreate on its name. */
	assert_int_equal(t_walk(t, ROOT, 3, "", NULL), 0);
	assert_int_equal(t_lcreate(t, 3, "fifo", O_RD, 0644, NULL), -EOPNOTSUPP);
	/* A device node made on the host is not opened either. */
	hpath(t, "devnull", p);
	if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0) {
		assert_int_equal(t_walk(t, ROOT, 4, "devnull", NULL), 1);
		assert_int_equal(t_lopen(t, 4, O_RW, NULL), -EOPNOTSUPP);
	}
}

static void test_readdir(void **state)
{
	struct t *t = *state;
	enum { N = 300 };
	static char seen[N + 2];
	uint64_t off = 0;
	unsigned int calls = 0, total = 0, dots = 0;

	for (int i = 0; i < N; i++) {
		char name[32];

		snprintf(name, sizeof(name), "sub/file-%03d", i);
		hwrite(t, name, "x");
	}
	session(t);
	assert_int_equal(t_walk(t, ROOT, 2, "sub", NULL), 1);
	mbegin(t, TREADDIR);
	m32(2);
	m64(0);
	m32(4096);
	assert_int_equal(rpc(t), -EBADF); /* not open */
	assert_int_equal(t_lopen(t, 2, O_RD, NULL), 0);
	/* Small counts: many calls, each going on from the last entry's offset. */
	for (;;) {
		uint32_t count;
		size_t end;

		mbegin(t, TREADDIR);
		m32(2);
		m64(off);
		m32(700);
		assert_int_equal(rpc(t), 0);
		count = g32();
		assert_true(count <= 700);
		if (count == 0)
			break;
		calls++;
		end = rep.pos + count;
		while (rep.pos < end) {
			struct tqid q;
			char name[256];
			uint8_t type;

			gqid(&q);
			off = g64();
			type = g8();
			gstr(name, sizeof(name));
			total++;
			if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
				assert_int_equal(type, DT_DIR);
				assert_int_equal(q.type, QTDIR);
				dots++;
			} else if (strcmp(name, "inner") == 0 || strcmp(name, "escape") == 0) {
				seen[N + (name[0] == 'e')]++;
			} else {
				int i;

				assert_int_equal(sscanf(name, "file-%03d", &i), 1);
				assert_true(i >= 0 && i < N);
				seen[i]++;
				assert_int_equal(type, DT_REG);
			}
		}
		gend();
		assert_true(calls < 1000);
	}
	assert_true(calls > 5);
	assert_int_equal(dots, 2);
	for (int i = 0; i < N + 2; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(total, N + 4);
	/* A count too small for any entry is an error, not the end of the directory. */
	mbegin(t, TREADDIR);
	m32(2);
	m64(0);
	m32(10);
	assert_int_equal(rpc(t), -EINVAL);
	/* A huge count is clamped to what the reply can carry. */
	mbegin(t, TREADDIR);
	m32(2);
	m64(0);
	m32(0xffffffffu);
	assert_int_equal(rpc(t), 0);
	assert_true(g32() <= 65536 - 11);
}

/* ---- the name space ---- */

static void test_namespace_ops(void **state)
{
	struct t *t = *state;
	char buf[PATH_MAX];
	struct tqid q;
	struct stat st, st2;

	session(t);
	assert_int_equal(t_mkdir(t, ROOT, "d", 0750), 0);
	hstat(t, "d", &st);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(t_mkdir(t, ROOT, "d", 0750), -EEXIST);
	assert_int_equal(t_walk(t, ROOT, 2, "d", NULL), 1);
	assert_int_equal(t_walk(t, ROOT, 3, "hello", NULL), 1);
	assert_int_equal(t_mkdir(t, 3, "x", 0755), -ENOTDIR);
	/* symlink and readlink */
	assert_int_equal(t_symlink(t, 2, "ln", "../hello", &q), 0);
	assert_int_equal(q.type, QTSYMLINK);
	assert_int_equal(readlink(strcat(strcpy(buf, t->share), "/d/ln"), buf, sizeof(buf)), 8);
	assert_int_equal(t_walk(t, 2, 4, "ln", NULL), 1);
	assert_int_equal(t_readlink(t, 4, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "../hello");
	assert_int_equal(t_readlink(t, 3, buf, sizeof(buf)), -EINVAL);
	/* link */
	assert_int_equal(t_link(t, 2, 3, "hard"), 0);
	hstat(t, "d/hard", &st);
	hstat(t, "hello", &st2);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(t_link(t, 2, 3, "hard"), -EEXIST);
	assert_int_equal(t_link(t, 3, 3, "x"), -ENOTDIR);
	assert_int_equal(t_link(t, ROOT, 2, "dirlink"), -EPERM);
	/* renameat, and fids below the old name follow it */
	hwrite(t, "d/f", "content\n");
	assert_int_equal(t_walk(t, ROOT, 5, "d/f", NULL), 2);
	assert_int_equal(t_renameat(t, ROOT, "d", ROOT, "e"), 0);
	assert_false(hexists(t, "d"));
	assert_true(hexists(t, "e/f"));
	assert_int_equal(t_lopen(t, 5, O_RD, NULL), 0); /* by its new path */
	assert_int_equal(t_read(t, 5, 0, sizeof(buf), buf), 8);
	assert_memory_equal(buf, "content\n", 8);
	assert_int_equal(t_renameat(t, ROOT, "nothere", ROOT, "x"), -ENOENT);
	/* rename (by fid) */
	assert_int_equal(t_walk(t, ROOT, 6, "e/hard", NULL), 2);
	assert_int_equal(t_rename(t, 6, ROOT, "moved"), 0);
	assert_true(hexists(t, "moved"));
	assert_false(hexists(t, "e/hard"));
	assert_int_equal(t_getattr(t, 6, NULL), 0);
	assert_int_equal(t_walk(t, 6, 7, "", NULL), 0);
	assert_int_equal(t_rename(t, ROOT, ROOT, "x"), -EBUSY); /* the root stays where it is */
	/* unlinkat, files and directories */
	assert_int_equal(t_unlinkat(t, ROOT, "moved", 0), 0);
	assert_false(hexists(t, "moved"));
	assert_int_equal(t_unlinkat(t, ROOT, "e", 0), -EISDIR);
	assert_int_equal(t_unlinkat(t, ROOT, "e", AT_RMDIR), -ENOTEMPTY);
	assert_int_equal(t_unlinkat(t, ROOT, "e", 0x1), -EINVAL);
	assert_int_equal(t_unlinkat(t, ROOT, "nothere", 0), -ENOENT);
	/* remove clunks, whether it worked or not */
	assert_int_equal(t_remove(t, 5), 0);
	assert_false(hexists(t, "e/f"));
	assert_int_equal(t_getattr(t, 5, NULL), -EBADF);
	assert_int_equal(t_walk(t, ROOT, 8, "e", NULL), 1);
	assert_int_equal(t_remove(t, 4), 0); /* the symlink ln, now in e */
	assert_int_equal(t_remove(t, 8), 0);
	assert_false(hexists(t, "e"));
	assert_int_equal(t_walk(t, ROOT, 9, "sub", NULL), 1);
	assert_int_equal(t_remove(t, 9), -ENOTEMPTY);
	assert_int_equal(t_getattr(t, 9, NULL), -EBADF);
	assert_true(hexists(t, "sub"));
	assert_int_equal(t_walk(t, ROOT, 10, "", NULL), 0);
	assert_int_equal(t_remove(t, 10), -EBUSY);
	assert_int_equal(t_remove(t, 10), -EBADF);
}

static void test_setattr(void **state)
{
	struct t *t = *state;
	struct tattr a;
	struct stat st;

	session(t);
	assert_int_equal(t_walk(t, ROOT, 2, "hello", NULL), 1);
	assert_int_equal(t_setattr(t, 2, SA_MODE, 0600, 0, 0, 0), 0);
	hstat(t, "hello", &st);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(t_setattr(t, 2, SA_SIZE, 0, 5, 0, 0), 0);
	hstat(t, "hello", &st);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(t_setattr(t, 2, SA_ATIME | SA_ATIME_SET | SA_MTIME | SA_MTIME_SET, 0, 0, 1000000, 2000000),
			 0);
	hstat(t, "hello", &st);
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	assert_int_equal(t_setattr(t, 2, SA_MTIME, 0, 0, 0, 0), 0); /* now */
	hstat(t, "hello", &st);
	assert_true(st.st_mtim.tv_sec > 2000000);
	assert_int_equal(t_setattr(t, 2, SA_UID | SA_GID, 0, 0, 0, 0), 0);
	assert_int_equal(t_getattr(t, 2, &a), 0);
	assert_int_equal(a.uid, getuid());
	assert_int_equal(a.size, 5);
	/* Nanoseconds beyond a second, a size beyond off_t. */
	mbegin(t, TSETATTR);
	m32(2);
	m32(SA_MTIME | SA_MTIME_SET);
	for (int i = 0; i < 3; i++)
		m32(0);
	m64(0);
	m64(0);
	m64(0);
	m64(1);
	m64(1000000000);
	assert_int_equal(rpc(t), -EINVAL);
	assert_int_equal(t_setattr(t, 2, SA_SIZE, 0, 1ull << 63, 0, 0), -EINVAL);
	/* A directory and a symlink. */
	assert_int_equal(t_walk(t, ROOT, 3, "sub", NULL), 1);
	assert_int_equal(t_setattr(t, 3, SA_MODE, 0700, 0, 0, 0), 0);
	hstat(t, "sub", &st);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(t_setattr(t, 3, SA_SIZE, 0, 0, 0, 0), -EISDIR);
	assert_int_equal(t_setattr(t, ROOT, SA_MODE, 0711, 0, 0, 0), 0);
	hstat(t, ".", &st);
	assert_int_equal(st.st_mode & 07777, 0711);
	assert_int_equal(t_walk(t, ROOT, 4, "toroot", NULL), 1);
	assert_int_equal(t_setattr(t, 4, SA_MODE, 0700, 0, 0, 0), -EOPNOTSUPP);
	assert_int_equal(t_setattr(t, 4, SA_MTIME | SA_MTIME_SET, 0, 0, 0, 12345), 0);
	hstat(t, "toroot", &st);
	assert_int_equal(st.st_mtim.tv_sec, 12345);
	/* A file opened for writing truncates through its own fd. */
	assert_int_equal(t_lopen(t, 2, O_RW, NULL), 0);
	assert_int_equal(t_setattr(t, 2, SA_SIZE | SA_MODE, 0644, 1, 0, 0), 0);
	hstat(t, "hello", &st);
	assert_int_equal(st.st_size, 1);
	assert_int_equal(st.st_mode & 07777, 0644);
}

static void test_statfs_xattr_lock(void **state)
{
	struct t *t = *state;
	struct statfs sf;
	uint8_t st;
	char buf[16];

	session(t);
	assert_int_equal(t_fid0(t, TSTATFS, ROOT), 0);
	assert_int_equal(fstatfs(t->rootfd, &sf), 0);
	assert_int_equal(g32(), (uint32_t)sf.f_type);
	assert_int_equal(g32(), (uint32_t)sf.f_bsize);
	assert_int_equal(g64(), sf.f_blocks);
	g64();
	g64();
	assert_int_equal(g64(), sf.f_files);
	g64();
	g64();
	assert_int_equal(g32(), (uint32_t)sf.f_namelen);
	gend();
	/* No xattrs: an empty list, no attribute by name, no setting one. */
	mbegin(t, TXATTRWALK);
	m32(ROOT);
	m32(2);
	mstr("");
	assert_int_equal(rpc(t), 0);
	assert_int_equal(g64(), 0);
	gend();
	assert_int_equal(t_read(t, 2, 0, sizeof(buf), buf), 0);
	assert_int_equal(t_clunk(t, 2), 0);
	mbegin(t, TXATTRWALK);
	m32(ROOT);
	m32(2);
	mstr("security.selinux");
	assert_int_equal(rpc(t), -ENODATA);
	assert_int_equal(t_getattr(t, 2, NULL), -EBADF);
	mbegin(t, TXATTRWALK);
	m32(ROOT);
	m32(ROOT);
	mstr("");
	assert_int_equal(rpc(t), -EEXIST);
	mbegin(t, TXATTRCREATE);
	m32(ROOT);
	mstr("user.x");
	m64(3);
	m32(0);
	assert_int_equal(rpc(t), -EOPNOTSUPP);
	/* Locks: two fids on one file conflict as two host processes would. */
	assert_int_equal(t_walk(t, ROOT, 3, "hello", NULL), 1);
	assert_int_equal(t_walk(t, ROOT, 4, "hello", NULL), 1);
	assert_int_equal(t_lock(t, TLOCK, 3, LK_WR, 0, 0, &st), -EBADF); /* not open */
	assert_int_equal(t_lopen(t, 3, O_RW, NULL), 0);
	assert_int_equal(t_lopen(t, 4, O_RW, NULL), 0);
	assert_int_equal(t_lock(t, TLOCK, 3, LK_WR, 0, 0, &st), 0);
	assert_int_equal(st, LK_OK);
	assert_int_equal(t_lock(t, TLOCK, 4, LK_RD, 0, 10, &st), 0);
	assert_int_equal(st, LK_BLOCKED);
	assert_int_equal(t_lock(t, TGETLOCK, 4, LK_RD, 0, 10, &st), 0);
	assert_int_equal(st, LK_WR);
	assert_int_equal(t_lock(t, TGETLOCK, 3, LK_WR, 0, 10, &st), 0);
	assert_int_equal(st, LK_UN); /* its own lock does not conflict */
	assert_int_equal(t_lock(t, TLOCK, 3, LK_UN, 0, 0, &st), 0);
	assert_int_equal(t_lock(t, TLOCK, 4, LK_RD, 0, 10, &st), 0);
	assert_int_equal(st, LK_OK);
	assert_int_equal(t_lock(t, TLOCK, 4, 7, 0, 10, &st), -EINVAL);
	assert_int_equal(t_lock(t, TLOCK, 4, LK_RD, 1ull << 63, 10, &st), -EINVAL);
	assert_int_equal(t_lock(t, TGETLOCK, 4, LK_UN, 0, 10, &st), -EINVAL);
	/* Clunking the fid closes its file, and its locks go with it. */
	assert_int_equal(t_clunk(t, 4), 0);
	assert_int_equal(t_lock(t, TLOCK, 3, LK_WR, 0, 0, &st), 0);
	assert_int_equal(st, LK_OK);
}

/* ---- read-only ---- */

static void test_readonly(void **state)
{
	struct t *t = *state;
	char before[64], after[64];
	uint8_t st;
	struct stat s1, s2;

	p9_server_destroy(&t->s);
	assert_int_equal(p9_server_init(&t->s, t->rootfd, P9_F_READONLY, 64), 0);
	session(t);
	assert_int_equal(hread(t, "hello", before, sizeof(before)), 0);
	hstat(t, "hello", &s1);
	assert_int_equal(t_walk(t, ROOT, 2, "hello", NULL), 1);
	assert_int_equal(t_lopen(t, 2, O_WR, NULL), -EROFS);
	assert_int_equal(t_lopen(t, 2, O_RW, NULL), -EROFS);
	assert_int_equal(t_lopen(t, 2, O_RD | O_TR, NULL), -EROFS);
	assert_int_equal(t_setattr(t, 2, SA_SIZE, 0, 0, 0, 0), -EROFS);
	assert_int_equal(t_setattr(t, 2, SA_MODE, 0777, 0, 0, 0), -EROFS);
	assert_int_equal(t_walk(t, ROOT, 3, "", NULL), 0);
	assert_int_equal(t_lcreate(t, 3, "new", O_RW, 0644, NULL), -EROFS);
	assert_int_equal(t_mkdir(t, ROOT, "d", 0755), -EROFS);
	assert_int_equal(t_symlink(t, ROOT, "l", "x", NULL), -EROFS);
	assert_int_equal(t_dirop(t, TMKNOD, ROOT, "f", S_IFIFO | 0644, NULL), -EROFS);
	assert_int_equal(t_link(t, ROOT, 2, "h"), -EROFS);
	assert_int_equal(t_unlinkat(t, ROOT, "hello", 0), -EROFS);
	assert_int_equal(t_renameat(t, ROOT, "hello", ROOT, "x"), -EROFS);
	assert_int_equal(t_rename(t, 2, ROOT, "x"), -EROFS);
	assert_int_equal(t_remove(t, 2), -EROFS);
	assert_int_equal(t_getattr(t, 2, NULL), -EBADF); /* clunked all the same */
	/* Reading works; a write on a read-only open is refused before anything else. */
	assert_int_equal(t_walk(t, ROOT, 4, "hello", NULL), 1);
	assert_int_equal(t_lopen(t, 4, O_RD, NULL), 0);
	assert_int_equal(t_read(t, 4, 0, sizeof(after), after), 13);
	assert_int_equal(t_write(t, 4, 0, "XX", 2), -EROFS);
	/* Locks stay in the guest: granted, and nothing is held on the host. */
	assert_int_equal(t_lock(t, TLOCK, 4, LK_RD, 0, 0, &st), 0);
	assert_int_equal(st, LK_OK);
	assert_int_equal(t_lock(t, TGETLOCK, 4, LK_WR, 0, 0, &st), 0);
	assert_int_equal(st, LK_UN);
	assert_int_equal(hread(t, "hello", after, sizeof(after)), 0);
	assert_string_equal(before, after);
	hstat(t, "hello", &s2);
	assert_int_equal(s1.st_mode, s2.st_mode);
	assert_int_equal(s1.st_size, s2.st_size);
	assert_false(hexists(t, "new"));
	assert_false(hexists(t, "d"));
	assert_false(hexists(t, "x"));
}

/* ---- hostile frames ---- */

static void test_bogus_fids(void **state)
{
	static const uint8_t types[] = { TSTATFS, TLOPEN, TREADLINK, TGETATTR, TCLUNK, TREMOVE };
	struct t *t = *state;
	char buf[16];

	session(t);
	for (size_t i = 0; i < nitems(types); i++) {
		mbegin(t, types[i]);
		m32(12345);
		if (types[i] == TLOPEN)
			m32(0);
		if (types[i] == TGETATTR)
			m64(0);
		if (rpc(t) != -EBADF)
			fail_msg("type %u: a bogus fid is not EBADF", types[i]);
	}
	assert_int_equal(t_read(t, 12345, 0, 10, buf), -EBADF);
	assert_int_equal(t_write(t, 12345, 0, "x", 1), -EBADF);
	assert_int_equal(t_setattr(t, 12345, SA_MODE, 0, 0, 0, 0), -EBADF);
	assert_int_equal(t_mkdir(t, 12345, "x", 0755), -EBADF);
	assert_int_equal(t_unlinkat(t, 12345, "hello", 0), -EBADF);
	assert_int_equal(t_renameat(t, 12345, "hello", ROOT, "x"), -EBADF);
	assert_int_equal(t_renameat(t, ROOT, "hello", 12345, "x"), -EBADF);
	assert_int_equal(t_link(t, ROOT, 12345, "x"), -EBADF);
	assert_int_equal(t_rename(t, 12345, ROOT, "x"), -EBADF);
	assert_int_equal(t_clunk(t, NOFID), -EBADF);
	/* Clunk once. */
	assert_int_equal(t_walk(t, ROOT, 2, "", NULL), 0);
	assert_int_equal(t_clunk(t, 2), 0);
	assert_int_equal(t_clunk(t, 2), -EBADF);
	assert_true(hexists(t, "hello"));
}

/* Each message type, cut short at every length and with a byte too many. */
static void test_truncated_and_trailing(void **state)
{
	struct t *t = *state;
	struct {
		uint8_t type;
		size_t len;
		uint8_t body[64];
	} msgs[] = {
		{ TVERSION, 14, { 0, 0, 1, 0, 8, 0, '9', 'P', '2', '0', '0', '0', '.', 'L' } },
		{ TATTACH, 16, { 9, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 } },
		{ TWALK, 15, { 1, 0, 0, 0, 9, 0, 0, 0, 1, 0, 3, 0, 's', 'u', 'b' } },
		{ TGETATTR, 12, { 1, 0, 0, 0, 0xff, 0x3f } },
		{ TLOPEN, 8, { 1, 0, 0, 0 } },
		{ TREAD, 16, { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0 } },
		{ TMKDIR, 17, { 1, 0, 0, 0, 3, 0, 'n', 'e', 'w', 0xed, 1, 0, 0, 0, 0, 0, 0 } },
		{ TSETATTR, 60, { 1 } },
		{ TLOCK, 31, { 1 } },
		{ TCLUNK, 4, { 1 } },
		{ TFLUSH, 2, { 1 } },
		{ TSTATFS, 4, { 1 } },
	};

	session(t);
	for (size_t m = 0; m < nitems(msgs); m++) {
		for (size_t cut = 0; cut <= msgs[m].len + 1; cut++) {
			int e;

			if (cut == msgs[m].len)
				continue;
			mbegin(t, msgs[m].type);
			put(msgs[m].body, cut);
			e = -rpc(t);
			if (msgs[m].type == TVERSION)
				session(t); /* a good Tversion was nothing to lose, a bad one the session */
			if (e != EPROTO && !(msgs[m].type == TVERSION && e == 0))
				fail_msg("type %u cut at %zu: errno %d, want EPROTO", msgs[m].type, cut, e);
		}
	}
	assert_false(hexists(t, "new"));
}

static void test_bad_frames(void **state)
{
	struct t *t = *state;
	struct iovec in = { reqbuf, 0 }, out = { rspbuf, sizeof(rspbuf) };

	session(t);
	/* Fewer than 7 bytes: no tag to answer to. */
	memcpy(reqbuf, "\x05\0\0\0\x64", 5);
	in.iov_len = 5;
	assert_int_equal(p9_handle(&t->s, &in, 1, &out, 1), 11);
	assert_memory_equal(rspbuf, "\x0b\0\0\0\x07\xff\xff\x47\0\0\0", 11); /* EPROTO, NOTAG */
	/* A size below the header, or beyond what was sent. */
	mbegin(t, TCLUNK);
	m32(1);
	mend();
	reqbuf[0] = 6;
	assert_int_equal(raw_error(t, mlen, sizeof(rspbuf)), EPROTO);
	reqbuf[0] = 12;
	assert_int_equal(raw_error(t, mlen, sizeof(rspbuf)), EPROTO);
	/* Bytes after the message are ignored (the size says where it ends). */
	reqbuf[0] = 11;
	reqbuf[11] = 0x55;
	assert_int_equal(raw_error(t, 12, sizeof(rspbuf)), 0);
	assert_int_equal(rep.type, TCLUNK + 1);
	/* Larger than msize. */
	mbegin(t, TWRITE);
	m32(1);
	m64(0);
	m32(70000);
	for (int i = 0; i < 70000; i++)
		m8(0);
	assert_int_equal(rpc(t), -EMSGSIZE);
	/* Unknown and R-message types, and 9P2000's Topen/Tstat. */
	for (unsigned int type = 0; type < 256; type++) {
		if (type == TVERSION || type == TAUTH || type == TATTACH || type == TFLUSH || type == TWALK ||
		    type == TREAD || type == TWRITE || type == TCLUNK || type == TREMOVE || type == TSTATFS ||
		    type == TLOPEN || type == TLCREATE || type == TSYMLINK || type == TMKNOD || type == TRENAME ||
		    type == TREADLINK || type == TGETATTR || type == TSETATTR || type == TXATTRWALK ||
		    type == TXATTRCREATE || type == TREADDIR || type == TFSYNC || type == TLOCK ||
		    type == TGETLOCK || type == TLINK || type == TMKDIR || type == TRENAMEAT || type == TUNLINKAT)
			continue;
		mbegin(t, (uint8_t)type);
		m32(1);
		if (rpc(t) != -EOPNOTSUPP)
			fail_msg("type %u is not refused with EOPNOTSUPP", type);
	}
	(void)TOPEN;
	(void)TSTAT;
}

/* "A server asked for more than it has": replies never exceed what the client gave room for. */
static void test_reply_room(void **state)
{
	static const char *const sixteen[16] = { "sub", "..", "sub", "..", "sub", "..", "sub", "..",
						  "sub", "..", "sub", "..", "sub", "..", "sub", ".." };
	struct t *t = *state;
	struct iovec in = { reqbuf, 0 }, out = { rspbuf, 10 };
	char buf[64];

	session(t);
	/* Not even an Rlerror fits: no reply at all (the transport fails the request). */
	mbegin(t, TCLUNK);
	m32(ROOT);
	mend();
	in.iov_len = mlen;
	assert_int_equal(p9_handle(&t->s, &in, 1, &out, 1), 0);
	assert_int_equal(t_getattr(t, ROOT, NULL), 0); /* and nothing was done */
	/* Room for an Rlerror but not the reply: EMSGSIZE, and nothing was done. */
	mbegin(t, TMKDIR);
	m32(ROOT);
	mstr("d");
	m32(0755);
	m32(0);
	assert_int_equal(rpc_cap(t, 15), -EMSGSIZE);
	assert_false(hexists(t, "d"));
	mbegin(t, TGETATTR);
	m32(ROOT);
	m64(0);
	assert_int_equal(rpc_cap(t, 100), -EMSGSIZE);
	t->rcap = 7 + 2 + 13 * 15;
	assert_int_equal(t_walkn(t, ROOT, 2, 16, sixteen, NULL), -EMSGSIZE);
	assert_int_equal(t_getattr(t, 2, NULL), -EBADF); /* no fid was made */
	t->rcap = 7 + 2 + 13 * 16;
	assert_int_equal(t_walkn(t, ROOT, 2, 16, sixteen, NULL), 16);
	/* A read asking for more than the reply can hold gets what fits. */
	t->rcap = sizeof(rspbuf);
	assert_int_equal(t_walk(t, ROOT, 3, "hello", NULL), 1);
	assert_int_equal(t_lopen(t, 3, O_RD, NULL), 0);
	t->rcap = 11 + 5;
	assert_int_equal(t_read(t, 3, 0, 0xffffffffu, buf), 5);
	assert_memory_equal(buf, "hello", 5);
	t->rcap = sizeof(rspbuf);
	assert_int_equal(t_read(t, 3, 0, 0xffffffffu, buf), 13);
}

/* The read reply lands in the writable buffers as given, in pieces, header first. */
static void test_scattered_buffers(void **state)
{
	struct t *t = *state;
	uint8_t a[3], b[9], c[5], d[100];
	struct iovec in[3], out[4] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) }, { d, sizeof(d) } };
	uint8_t all[117];
	size_t n;

	session(t);
	assert_int_equal(t_walk(t, ROOT, 2, "hello", NULL), 1);
	assert_int_equal(t_lopen(t, 2, O_RD, NULL), 0);
	mbegin(t, TREAD);
	m32(2);
	m64(0);
	m32(100);
	mend();
	in[0] = (struct iovec){ reqbuf, 2 };
	in[1] = (struct iovec){ reqbuf + 2, 9 };
	in[2] = (struct iovec){ reqbuf + 11, mlen - 11 };
	n = p9_handle(&t->s, in, 3, out, 4);
	assert_int_equal(n, 11 + 13);
	memcpy(all, a, 3);
	memcpy(all + 3, b, 9);
	memcpy(all + 12, c, 5);
	memcpy(all + 17, d, 100);
	assert_int_equal(all[4], TREAD + 1);
	assert_int_equal(all[7], 13);
	assert_memory_equal(all + 11, "hello, world\n", 13);
	/* A Twrite whose data is spread over several buffers. */
	assert_int_equal(t_walk(t, ROOT, 3, "", NULL), 0);
	assert_int_equal(t_lcreate(t, 3, "w", O_RW, 0644, NULL), 0);
	mbegin(t, TWRITE);
	m32(3);
	m64(0);
	m32(10);
	put("0123456789", 10);
	mend();
	in[0] = (struct iovec){ reqbuf, 20 };
	in[1] = (struct iovec){ reqbuf + 20, 7 };
	in[2] = (struct iovec){ reqbuf + 27, mlen - 27 };
	out[0] = (struct iovec){ rspbuf, 64 };
	assert_int_equal(p9_handle(&t->s, in, 3, out, 1), 11);
	assert_int_equal(hread(t, "w", (char *)d, sizeof(d)), 0);
	assert_string_equal((char *)d, "0123456789");
}

/* Fids past the fd budget keep only their path, and still work; opens past it are refused. */
static void test_fd_budget(void **state)
{
	struct t *t = *state;
	char buf[16];
	uint32_t fid;

	p9_server_destroy(&t->s);
	assert_int_equal(p9_server_init(&t->s, t->rootfd, 0, 16), 0);
	session(t);
	for (fid = 10; fid < 40; fid++)
		assert_int_equal(t_walk(t, ROOT, fid, "sub/inner", NULL), 2);
	assert_true(t->s.held_fds <= 16);
	assert_true(t->s.path_fds <= 8);
	/* The last ones hold no fd: they resolve their path again, and check it. */
	assert_int_equal(t_getattr(t, 39, NULL), 0);
	assert_int_equal(t_walk(t, 39, 40, "", NULL), 0);
	assert_int_equal(t_lopen(t, 39, O_RD, NULL), 0);
	assert_int_equal(t_read(t, 39, 0, sizeof(buf), buf), 6);
	for (fid = 10; fid < 38 && t->s.held_fds < 16; fid++)
		assert_int_equal(t_lopen(t, fid, O_RD, NULL), 0);
	assert_int_equal(t_lopen(t, 38, O_RD, NULL), -EMFILE);
	assert_int_equal(t_clunk(t, 10), 0);
	assert_int_equal(t_lopen(t, 38, O_RD, NULL), 0);
	/* A path-only fid whose file was replaced is stale. */
	assert_int_equal(t_walk(t, ROOT, 50, "hello", NULL), 1);
	assert_int_equal(t_walk(t, ROOT, 51, "hello", NULL), 1);
	{
		char p[PATH_MAX];

		char o[PATH_MAX];

		/* renamed over it while the old file still exists: a new inode for sure */
		hwrite(t, "other", "other");
		hpath(t, "hello", p);
		hpath(t, "other", o);
		assert_int_equal(rename(o, p), 0);
	}
	/* The budget is spent, so 50 and 51 keep only their paths, which now name another file. */
	assert_int_equal(t_getattr(t, 50, NULL), -ESTALE);
	assert_int_equal(t_walk(t, 51, 52, "", NULL), -ESTALE);
	/* A fid that holds its fd still has the file it walked to, even unlinked. */
	assert_int_equal(t_clunk(t, 11), 0);
	assert_int_equal(t_clunk(t, 12), 0);
	assert_int_equal(t_walk(t, ROOT, 53, "sub/inner", NULL), 2);
	{
		char p[PATH_MAX];

		hpath(t, "sub/inner", p);
		assert_int_equal(unlink(p), 0);
	}
	assert_int_equal(t_getattr(t, 53, NULL), 0);
}

/* A session holds at most P9_FIDS_MAX fids: past that a new one is ENFILE, and a clunk makes room. */
static void test_fid_limit(void **state)
{
	struct t *t = *state;
	uint32_t fid;
	int err = 0;

	session(t);
	for (fid = 2; fid < P9_FIDS_MAX + 10; fid++) {
		err = t_walk(t, ROOT, fid, "", NULL);
		if (err < 0)
			break;
	}
	assert_int_equal(err, -ENFILE);
	assert_int_equal(fid, P9_FIDS_MAX + 1); /* ROOT and fids 2..P9_FIDS_MAX */
	assert_int_equal(t_attach(t, fid, NULL), -ENFILE);
	assert_int_equal(t_getattr(t, P9_FIDS_MAX, NULL), 0);
	assert_int_equal(t_clunk(t, 2), 0);
	assert_int_equal(t_walk(t, ROOT, fid, "sub", NULL), 1);
	assert_true(t->s.held_fds <= 1024);
}

/* ---- the virtio device ---- */

#define MEM_SIZE MiB(16)
#define DESC_GPA 0x1000ull
#define AVAIL_GPA 0x2000ull
#define USED_GPA 0x3000ull
#define HEAP_GPA 0x10000ull
#define QSIZE 16
#define TAG "share0"

enum {
	R_DEVICE_ID = 0x008,
	R_DEV_FEATURES = 0x010,
	R_DEV_FEATURES_SEL = 0x014,
	R_DRV_FEATURES = 0x020,
	R_DRV_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030,
	R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044,
	R_STATUS = 0x070,
	R_DESC_LO = 0x080,
	R_DRIVER_LO = 0x090,
	R_DEVICE_LO = 0x0a0,
	R_CONFIG = 0x100,
};
#define D_NEXT 1
#define D_WRITE 2
#define S_NEEDS_RESET 64

struct tv {
	struct t *t;
	struct guest_mem mem;
	struct p9_dev dev;
	unsigned int irqs;
	uint16_t avail_idx, used_seen, next_desc;
	uint64_t heap;
};

static void tv_irq(struct virtio_dev *vd)
{
	struct tv *v = vd->owner;

	v->irqs++;
}

static uint32_t vrd(struct tv *v, uint64_t off)
{
	return (uint32_t)virtio_mmio_read(&v->dev.vd, off, 4);
}

static void vwr(struct tv *v, uint64_t off, uint32_t val)
{
	virtio_mmio_write(&v->dev.vd, off, 4, val);
}

static void *gp(struct tv *v, uint64_t gpa, uint64_t len)
{
	void *p = mem_ptr(&v->mem, gpa, len);

	assert_non_null(p);
	return p;
}

static uint64_t galloc(struct tv *v, uint64_t len)
{
	uint64_t gpa = v->heap;

	v->heap = (gpa + len + 64 + 15) & ~15ull;
	assert_true(v->heap <= MEM_SIZE);
	memset(gp(v, gpa, len), 0xcc, len);
	return gpa;
}

static void tv_open(struct tv *v, struct t *t)
{
	memset(v, 0, sizeof(*v));
	v->t = t;
	v->heap = HEAP_GPA;
	assert_int_equal(mem_layout(&v->mem, MEM_SIZE), 0);
	assert_int_equal(mem_create(&v->mem, "test-9p"), 0);
	assert_int_equal(mem_map(&v->mem), 0);
	assert_int_equal(p9_dev_setup(&v->dev, t->rootfd, 0, 64, TAG, &v->mem), 0);
	v->dev.vd.owner = v;
	v->dev.vd.irq = tv_irq;
}

static void tv_close(struct tv *v)
{
	p9_dev_destroy(&v->dev);
	mem_close(&v->mem);
}

/* Reset, negotiate features, set up the queue, DRIVER_OK. */
static void tv_start(struct tv *v, uint64_t features)
{
	vwr(v, R_STATUS, 0);
	vwr(v, R_STATUS, 1);
	vwr(v, R_STATUS, 3);
	vwr(v, R_DRV_FEATURES_SEL, 0);
	vwr(v, R_DRV_FEATURES, (uint32_t)features);
	vwr(v, R_DRV_FEATURES_SEL, 1);
	vwr(v, R_DRV_FEATURES, (uint32_t)(features >> 32));
	vwr(v, R_STATUS, 11);
	assert_int_equal(vrd(v, R_STATUS), 11);
	memset(gp(v, DESC_GPA, 0x3000), 0, 0x3000);
	vwr(v, R_QUEUE_SEL, 0);
	vwr(v, R_QUEUE_NUM, QSIZE);
	vwr(v, R_DESC_LO, DESC_GPA);
	vwr(v, R_DRIVER_LO, AVAIL_GPA);
	vwr(v, R_DEVICE_LO, USED_GPA);
	vwr(v, R_QUEUE_READY, 1);
	vwr(v, R_STATUS, 15);
	v->avail_idx = v->used_seen = v->next_desc = 0;
}

static void desc(struct tv *v, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	memcpy(gp(v, DESC_GPA + 16ull * i, 16), d, 16);
}

/*
 * Post the request in reqbuf[0..len), split into readable pieces of the given sizes (0-ended,
 * the last one takes the rest), with writable buffers of the given sizes; their addresses into
 * wgpa[]. The chain's head.
 */
static uint16_t post(struct tv *v, size_t len, const uint32_t *rsplit, const uint32_t *wsizes, uint64_t *wgpa)
{
	uint16_t head = v->next_desc, i = head;
	size_t off = 0;
	unsigned int nw = 0;
	uint16_t *avail = gp(v, AVAIL_GPA, 4 + 2 * QSIZE);

	while (wsizes[nw])
		nw++;
	for (unsigned int k = 0; off < len; k++) {
		uint32_t piece = rsplit[k] && rsplit[k] < len - off ? rsplit[k] : (uint32_t)(len - off);
		uint64_t gpa = galloc(v, piece);
		int last = off + piece == len && nw == 0;

		memcpy(gp(v, gpa, piece), reqbuf + off, piece);
		desc(v, i, gpa, piece, last ? 0 : D_NEXT, (uint16_t)((i + 1) % QSIZE));
		i = (uint16_t)((i + 1) % QSIZE);
		off += piece;
	}
	for (unsigned int k = 0; k < nw; k++) {
		wgpa[k] = galloc(v, wsizes[k]);
		desc(v, i, wgpa[k], wsizes[k], (uint16_t)(D_WRITE | (k + 1 < nw ? D_NEXT : 0)),
		     (uint16_t)((i + 1) % QSIZE));
		i = (uint16_t)((i + 1) % QSIZE);
	}
	v->next_desc = i;
	avail[2 + v->avail_idx % QSIZE] = head;
	v->avail_idx++;
	__atomic_store_n(&avail[1], v->avail_idx, __ATOMIC_RELEASE);
	return head;
}

/* The next used entry: its head and length. */
static uint32_t used(struct tv *v, uint16_t *head)
{
	uint16_t idx = __atomic_load_n((uint16_t *)gp(v, USED_GPA + 2, 2), __ATOMIC_ACQUIRE);
	uint32_t *e;

	assert_int_not_equal(idx, v->used_seen);
	e = gp(v, USED_GPA + 4 + 8ull * (v->used_seen % QSIZE), 8);
	v->used_seen++;
	*head = (uint16_t)e[0];
	return e[1];
}

/* Copy the reply out of the writable buffers into rspbuf and parse its header. */
static void collect(struct tv *v, const uint32_t *wsizes, const uint64_t *wgpa, uint32_t len)
{
	size_t off = 0;

	for (unsigned int k = 0; wsizes[k] && off < len; k++) {
		size_t n = len - off < wsizes[k] ? len - off : wsizes[k];

		memcpy(rspbuf + off, gp(v, wgpa[k], n), n);
		off += n;
	}
	rep.len = len;
	rep.pos = 0;
	assert_int_equal(g32(), len);
	rep.type = g8();
	rep.tag = g16();
}

/* One request through the queue: post, kick, take the used entry; 0 or -ecode as rpc(). */
static int vrpc(struct tv *v, const uint32_t *rsplit, const uint32_t *wsizes)
{
	uint64_t wgpa[8];
	uint16_t head, got;
	uint32_t len;
	uint8_t type = reqbuf[4];

	mend();
	head = post(v, mlen, rsplit, wsizes, wgpa);
	virtio_kick(&v->dev.vd, 0);
	len = used(v, &got);
	assert_int_equal(got, head);
	collect(v, wsizes, wgpa, len);
	assert_int_equal(rep.tag, v->t->tag);
	if (rep.type == RLERROR)
		return -(int)g32();
	assert_int_equal(rep.type, type + 1);
	return 0;
}

static const uint32_t one_piece[] = { 0 };
static const uint32_t page[] = { 4096, 0 };

/* Tversion and Tattach of ROOT through the queue. */
static void tv_session(struct tv *v)
{
	mbegin(v->t, TVERSION);
	m32(65536);
	mstr("9P2000.L");
	assert_int_equal(vrpc(v, one_piece, page), 0);
	assert_int_equal(g32(), 65536);
	mbegin(v->t, TATTACH);
	m32(ROOT);
	m32(NOFID);
	mstr("u");
	mstr("");
	m32(0);
	assert_int_equal(vrpc(v, one_piece, page), 0);
}

static void test_virtio_device(void **state)
{
	struct t *t = *state;
	struct p9_dev bad;
	struct tv v;
	uint64_t f;
	char buf[64];
	struct tqid q;

	tv_open(&v, t);
	/* Identity, features, config space: tag_len then the tag. */
	assert_int_equal(vrd(&v, R_DEVICE_ID), 9);
	vwr(&v, R_DEV_FEATURES_SEL, 0);
	f = vrd(&v, R_DEV_FEATURES);
	vwr(&v, R_DEV_FEATURES_SEL, 1);
	f |= (uint64_t)vrd(&v, R_DEV_FEATURES) << 32;
	assert_true(f & 1); /* VIRTIO_9P_MOUNT_TAG */
	assert_true(f & (1ull << 32)); /* VERSION_1 */
	assert_int_equal(virtio_mmio_read(&v.dev.vd, R_CONFIG, 2), strlen(TAG));
	for (size_t i = 0; i < strlen(TAG); i++)
		assert_int_equal(virtio_mmio_read(&v.dev.vd, R_CONFIG + 2 + i, 1), TAG[i]);
	assert_int_equal(virtio_mmio_read(&v.dev.vd, R_CONFIG + 2 + strlen(TAG), 1), 0);
	/* Tags: 1 to 31 graphic ASCII bytes. */
	assert_int_equal(p9_dev_setup(&bad, t->rootfd, 0, 64, "", &v.mem), -EINVAL);
	assert_int_equal(p9_dev_setup(&bad, t->rootfd, 0, 64, "a b", &v.mem), -EINVAL);
	assert_int_equal(p9_dev_setup(&bad, t->rootfd, 0, 64, "0123456789abcdef0123456789abcdef", &v.mem),
			 -EINVAL);
	assert_true(p9_tag_ok("0123456789abcdef0123456789abcde"));
	assert_false(p9_tag_ok("caf\xc3\xa9"));

	tv_start(&v, 1ull | (1ull << 32));
	mbegin(t, TVERSION);
	m32(65536);
	mstr("9P2000.L");
	assert_int_equal(vrpc(&v, one_piece, page), 0);
	assert_int_equal(rep.len, 7 + 4 + 2 + 8);
	assert_int_equal(g32(), 65536);
	assert_true(v.irqs > 0);
	mbegin(t, TATTACH);
	m32(ROOT);
	m32(NOFID);
	mstr("u");
	mstr("");
	m32(0);
	assert_int_equal(vrpc(&v, (const uint32_t[]){ 3, 5, 0 }, (const uint32_t[]){ 2, 3, 100, 0 }), 0);
	gqid(&q);
	assert_int_equal(q.type, QTDIR);
	/* A read as Linux's zero-copy path lays it out: an 11-byte header buffer, then the data pages. */
	mbegin(t, TWALK);
	m32(ROOT);
	m32(2);
	m16(1);
	mstr("hello");
	assert_int_equal(vrpc(&v, one_piece, page), 0);
	mbegin(t, TLOPEN);
	m32(2);
	m32(O_RD);
	assert_int_equal(vrpc(&v, one_piece, page), 0);
	mbegin(t, TREAD);
	m32(2);
	m64(0);
	m32(8192);
	assert_int_equal(vrpc(&v, one_piece, (const uint32_t[]){ 11, 4096, 4096, 0 }), 0);
	assert_int_equal(g32(), 13);
	assert_memory_equal(take(13), "hello, world\n", 13);
	/* Twrite with its data in separate descriptors. */
	mbegin(t, TWALK);
	m32(ROOT);
	m32(3);
	m16(0);
	assert_int_equal(vrpc(&v, one_piece, page), 0);
	mbegin(t, TLCREATE);
	m32(3);
	mstr("w");
	m32(O_RW);
	m32(0644);
	m32(0);
	assert_int_equal(vrpc(&v, one_piece, page), 0);
	mbegin(t, TWRITE);
	m32(3);
	m64(0);
	m32(6);
	put("abcdef", 6);
	assert_int_equal(vrpc(&v, (const uint32_t[]){ 23, 2, 0 }, (const uint32_t[]){ 11, 0 }), 0);
	assert_int_equal(g32(), 6);
	assert_int_equal(hread(t, "w", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abcdef");
	/* An error that fits exactly in the 11 bytes a zero-copy read leaves for the header. */
	mbegin(t, TREAD);
	m32(77);
	m64(0);
	m32(4096);
	assert_int_equal(vrpc(&v, one_piece, (const uint32_t[]){ 11, 4096, 0 }), -EBADF);
	tv_close(&v);
}

/* Many requests outstanding at once: one kick answers them all, each in its own chain. */
static void test_virtio_many_outstanding(void **state)
{
	struct t *t = *state;
	uint64_t wgpa[QSIZE][1];
	uint16_t heads[QSIZE], tags[QSIZE];
	static const uint32_t w[] = { 512, 0 };
	struct tv v;

	tv_open(&v, t);
	tv_start(&v, 1ull | (1ull << 32));
	tv_session(&v);
	v.irqs = 0;
	for (unsigned int i = 0; i < 8; i++) {
		mbegin(t, TWALK);
		m32(ROOT);
		m32(100 + i);
		m16(1);
		mstr(i % 2 ? "sub" : "hello");
		mend();
		tags[i] = t->tag;
		heads[i] = post(&v, mlen, one_piece, w, wgpa[i]);
	}
	virtio_kick(&v.dev.vd, 0);
	assert_int_equal(v.irqs, 1);
	for (unsigned int i = 0; i < 8; i++) {
		uint16_t head;
		uint32_t len = used(&v, &head);
		struct tqid q;

		assert_int_equal(head, heads[i]);
		collect(&v, w, wgpa[i], len);
		assert_int_equal(rep.type, TWALK + 1);
		assert_int_equal(rep.tag, tags[i]);
		assert_int_equal(g16(), 1);
		gqid(&q);
		assert_int_equal(q.type, i % 2 ? QTDIR : QTFILE);
		gend();
	}
	tv_close(&v);
}

static void test_virtio_hostile_chains(void **state)
{
	struct t *t = *state;
	uint64_t wgpa[2];
	uint16_t head;
	struct tv v;

	tv_open(&v, t);
	tv_start(&v, 1ull | (1ull << 32));
	/* Writable part too small for any reply: the device needs a reset. */
	mbegin(t, TVERSION);
	m32(65536);
	mstr("9P2000.L");
	mend();
	post(&v, mlen, one_piece, (const uint32_t[]){ 10, 0 }, wgpa);
	virtio_kick(&v.dev.vd, 0);
	assert_true(vrd(&v, R_STATUS) & S_NEEDS_RESET);
	/* A reset brings it back, with a fresh session. */
	tv_start(&v, 1ull | (1ull << 32));
	tv_session(&v);
	tv_start(&v, 1ull | (1ull << 32));
	mbegin(t, TCLUNK);
	m32(ROOT);
	assert_int_equal(vrpc(&v, one_piece, page), -EPROTO); /* no Tversion since the reset */
	/* No readable part at all: answered with an error, without a tag to name. */
	mlen = 0;
	head = post(&v, 0, one_piece, page, wgpa);
	virtio_kick(&v.dev.vd, 0);
	{
		uint16_t got;
		uint32_t len = used(&v, &got);

		assert_int_equal(got, head);
		collect(&v, page, wgpa, len);
		assert_int_equal(rep.type, RLERROR);
		assert_int_equal(rep.tag, NOTAG);
		assert_int_equal(g32(), EPROTO);
	}
	assert_false(vrd(&v, R_STATUS) & S_NEEDS_RESET);
	tv_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_getattr_matches_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotdot_stays_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_never_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_mount_crossing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setattr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statfs_xattr_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bogus_fids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_trailing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scattered_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fid_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_virtio_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_virtio_many_outstanding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_virtio_hostile_chains, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
