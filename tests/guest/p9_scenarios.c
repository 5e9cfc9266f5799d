/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-9p scenarios (p9.h). The host prepares the shared directory
 * (tests/integration/functional/test_9p.py) and checks it afterwards:
 *
 *   p9-info     the mount tag, a session, the root's attributes; PASS
 *   p9-rw       read data.bin (the pattern of bulkhead.seed), write
 *               from-guest.bin (seed + 1), make a directory, a file in it, a
 *               symlink, a hard link, a FIFO; rename, unlink, remove,
 *               truncate, chmod, chown to itself, set times, lock; the host
 *               checks
 *   p9-ro       a read-only share: reads work, every change is EROFS
 *   p9-hostile  traversal, bad names, bad fids, walks of 16 and 17, msize
 *               abuse, malformed frames, a chain without room for a reply,
 *               many requests at once; the server must answer each as
 *               9P2000.L says and go on serving
 *   p9-bench    the bench's figure 8 on the test guest: read read.bin to its
 *               end, write bulkhead.p9-bytes to write.bin and fsync it, walk
 *               to and getattr files/f0 .. f(bulkhead.p9-files - 1), each
 *               timed with the TSC; one line of figures, then PASS
 */
#include "blk.h" /* fnv1a, the pattern checksum */
#include "p9.h"

#define ROOT 0u
#define SEED_DEFAULT 1
#define BYTES_DEFAULT MiB(1)
#define HELLO "hello from the host\n"

static struct p9c *session(void)
{
	struct p9c *c = p9c_open((unsigned int)param_u64("bulkhead.p9-dev", 0));
	uint32_t msize = (uint32_t)param_u64("bulkhead.p9-msize", P9C_MSIZE);
	int r = p9c_version(c, msize, "9P2000.L");

	if (r < 0 || !c->msize)
		fail("Tversion %u: %d %s (msize %u)", msize, r, c->why, c->msize);
	r = p9c_attach(c, ROOT, NULL);
	if (r)
		fail("Tattach: %d %s", r, c->why);
	return c;
}

/* Data bytes per Tread or Twrite: the message size less Rread's or Twrite's header. */
static uint32_t chunk_of(const struct p9c *c)
{
	return (c->msize - 23) & ~7u;
}

/* ---- p9-info ---- */

void p9_info(void)
{
	struct p9c *c = session();
	struct p9_attr a;
	uint64_t blocks;
	uint32_t bsize;
	char feats[256] = "";
	int r;

	vdev_feature_names(c->dev.offered, VIRTIO_ID_9P, feats, sizeof(feats));
	cprintf(GUEST_TAG "p9-info: tag '%s' msize %u features %s\n", c->tag, c->msize, feats);
	r = p9c_getattr(c, ROOT, &a);
	if (r)
		fail("Tgetattr of the root: %d %s", r, c->why);
	cprintf(GUEST_TAG "p9-info: root mode 0x%x uid %u gid %u nlink %lu qid type 0x%x\n", a.mode,
		a.uid, a.gid, a.nlink, a.qid.type);
	r = p9c_statfs(c, ROOT, &bsize, &blocks);
	if (r)
		fail("Tstatfs: %d %s", r, c->why);
	cprintf(GUEST_TAG "p9-info: statfs bsize %u blocks %lu\n", bsize, blocks);
	if (a.qid.type != P9_QTDIR)
		fail("the root is not a directory (qid type 0x%x)", a.qid.type);
	pass();
}

/* ---- p9-rw ---- */

/* Read fid (opened) to its end and check the pattern of seed; the bytes read. */
static uint64_t read_pattern(struct p9c *c, uint32_t fid, uint64_t seed, uint8_t *buf, uint64_t *fnv)
{
	uint64_t off = 0;
	uint32_t step = chunk_of(c);

	*fnv = FNV1A_INIT;
	for (;;) {
		int n = p9c_read(c, fid, off, step, buf);

		if (n < 0)
			fail("Tread at %lu: %d %s", off, n, c->why);
		if (n == 0)
			return off;
		if (n % 8)
			fail("Tread at %lu: %d bytes, not whole words", off, n);
		for (int k = 0; k < n; k += 8)
			if (*(uint64_t *)(buf + k) != pattern_word(seed, off + (uint64_t)k))
				fail("data.bin: byte %lu differs from the pattern of seed %lu", off + (uint64_t)k, seed);
		*fnv = fnv1a(*fnv, buf, (size_t)n);
		off += (uint64_t)n;
	}
}

static uint64_t write_pattern(struct p9c *c, uint32_t fid, uint64_t seed, uint64_t bytes, uint8_t *buf)
{
	uint64_t h = FNV1A_INIT;
	uint32_t step = chunk_of(c);

	for (uint64_t off = 0; off < bytes; off += step) {
		uint32_t len = bytes - off < step ? (uint32_t)(bytes - off) : step;
		int n;

		for (uint32_t k = 0; k < len; k += 8)
			*(uint64_t *)(buf + k) = pattern_word(seed, off + k);
		n = p9c_write(c, fid, off, buf, len);
		if (n != (int)len)
			fail("Twrite of %u bytes at %lu: %d %s", len, off, n, c->why);
		h = fnv1a(h, buf, len);
	}
	return h;
}

static void must(struct p9c *c, int r, const char *what)
{
	if (r < 0)
		fail("%s: %d %s", what, r, r == P9C_BAD ? c->why : "");
}

static void make_file(struct p9c *c, uint32_t dir, uint32_t fid, const char *name, uint32_t mode,
		      const char *text)
{
	must(c, p9c_walk_path(c, dir, fid, ""), "Twalk (clone)");
	must(c, p9c_lcreate(c, fid, name, L_O_RDWR | L_O_CREAT | L_O_EXCL, mode, NULL), name);
	if (text && p9c_write(c, fid, 0, text, (uint32_t)strlen(text)) != (int)strlen(text))
		fail("Twrite to %s: %s", name, c->why);
	must(c, p9c_clunk(c, fid), "Tclunk");
}

void p9_rw(void)
{
	struct p9c *c = session();
	uint64_t seed = param_u64("bulkhead.seed", SEED_DEFAULT);
	uint64_t bytes = param_u64("bulkhead.p9-bytes", BYTES_DEFAULT) & ~7ull;
	uint8_t *buf = phys_alloc(c->msize, 4096);
	uint64_t rfnv, wfnv, got, blocks;
	struct p9_setattr set;
	struct p9_attr a;
	uint32_t bsize;
	char link[64];

	if (!buf)
		fail("out of guest memory");
	/* Read the host's file. */
	must(c, p9c_walk_path(c, ROOT, 1, "data.bin"), "Twalk data.bin");
	must(c, p9c_getattr(c, 1, &a), "Tgetattr data.bin");
	must(c, p9c_lopen(c, 1, L_O_RDONLY, NULL), "Tlopen data.bin");
	got = read_pattern(c, 1, seed, buf, &rfnv);
	if (got != a.size)
		fail("data.bin: read %lu bytes, Tgetattr says %lu", got, a.size);
	must(c, p9c_clunk(c, 1), "Tclunk");
	cprintf(GUEST_TAG "p9-rw: read data.bin: %lu bytes, fnv 0x%016lx, msize %u\n", got, rfnv, c->msize);

	/* Write one back. */
	must(c, p9c_walk_path(c, ROOT, 2, ""), "Twalk (clone)");
	must(c, p9c_lcreate(c, 2, "from-guest.bin", L_O_RDWR | L_O_CREAT | L_O_EXCL, 0640, NULL),
	     "Tlcreate from-guest.bin");
	wfnv = write_pattern(c, 2, seed + 1, bytes, buf);
	must(c, p9c_fsync(c, 2, 0), "Tfsync");
	must(c, p9c_fsync(c, 2, 1), "Tfsync datasync");
	must(c, p9c_getattr(c, 2, &a), "Tgetattr from-guest.bin");
	if (a.size != bytes)
		fail("from-guest.bin: %lu bytes after writing %lu", a.size, bytes);
	must(c, p9c_clunk(c, 2), "Tclunk");
	cprintf(GUEST_TAG "p9-rw: wrote from-guest.bin: %lu bytes, fnv 0x%016lx\n", bytes, wfnv);

	/* A directory, a file in it, a symlink. */
	must(c, p9c_mkdir(c, ROOT, "newdir", 0750, NULL), "Tmkdir newdir");
	must(c, p9c_walk_path(c, ROOT, 3, "newdir"), "Twalk newdir");
	make_file(c, 3, 4, "inner.txt", 0604, "inner\n");
	must(c, p9c_symlink(c, ROOT, "link-to-hello", "hello.txt"), "Tsymlink");
	must(c, p9c_walk_path(c, ROOT, 5, "link-to-hello"), "Twalk link-to-hello");
	if (p9c_readlink(c, 5, link, sizeof(link)) < 0 || strcmp(link, "hello.txt"))
		fail("Treadlink: '%s' %s", link, c->why);
	must(c, p9c_clunk(c, 5), "Tclunk");

	/* Rename, unlink, truncate, chmod. */
	make_file(c, ROOT, 6, "tmp.txt", 0644, "renamed file\n");
	must(c, p9c_renameat(c, ROOT, "tmp.txt", ROOT, "renamed.txt"), "Trenameat");
	make_file(c, ROOT, 7, "gone.txt", 0644, NULL);
	must(c, p9c_unlinkat(c, ROOT, "gone.txt", 0), "Tunlinkat");
	must(c, p9c_walk_path(c, ROOT, 8, "renamed.txt"), "Twalk renamed.txt");
	must(c, p9c_setattr_mode_size(c, 8, P9_SETATTR_SIZE | P9_SETATTR_MODE, 0100600, 3), "Tsetattr");
	must(c, p9c_getattr(c, 8, &a), "Tgetattr renamed.txt");
	if (a.size != 3 || (a.mode & 07777) != 0600)
		fail("renamed.txt: size %lu mode 0x%x after Tsetattr", a.size, a.mode);
	set = (struct p9_setattr){ .valid = P9_SETATTR_UID | P9_SETATTR_GID | P9_SETATTR_ATIME |
					    P9_SETATTR_MTIME | P9_SETATTR_ATIME_SET | P9_SETATTR_MTIME_SET,
				   .uid = a.uid, .gid = a.gid, .atime_sec = 1000000000, .mtime_sec = 1234567890 };
	must(c, p9c_setattr(c, 8, &set), "Tsetattr owner and times");
	must(c, p9c_link(c, ROOT, 8, "hard-link"), "Tlink");
	must(c, p9c_clunk(c, 8), "Tclunk");

	/* A lock, a FIFO, a Tremove. */
	must(c, p9c_walk_path(c, ROOT, 10, "hard-link"), "Twalk hard-link");
	must(c, p9c_lopen(c, 10, L_O_RDWR, NULL), "Tlopen hard-link");
	if (p9c_lock(c, 10, P9_LOCK_WRLCK) != P9_LOCK_SUCCESS || p9c_getlock(c, 10, P9_LOCK_WRLCK) != P9_LOCK_UNLCK ||
	    p9c_lock(c, 10, P9_LOCK_UNLCK) != P9_LOCK_SUCCESS)
		fail("Tlock, Tgetlock: %s", c->why);
	must(c, p9c_clunk(c, 10), "Tclunk");
	must(c, p9c_mknod(c, ROOT, "fifo", 0010644), "Tmknod fifo");
	make_file(c, ROOT, 11, "removed.txt", 0644, NULL);
	must(c, p9c_walk_path(c, ROOT, 11, "removed.txt"), "Twalk removed.txt");
	must(c, p9c_remove(c, 11), "Tremove");
	if (p9c_clunk(c, 11) != -L_EBADF)
		fail("Tremove left its fid");

	/* The root lists what was made and not what was removed. */
	must(c, p9c_walk_path(c, ROOT, 9, ""), "Twalk (clone)");
	must(c, p9c_lopen(c, 9, L_O_RDONLY | L_O_DIRECTORY, NULL), "Tlopen the root");
	if (p9c_dir_find(c, 9, "renamed.txt") != 1 || p9c_dir_find(c, 9, "newdir") != 1 ||
	    p9c_dir_find(c, 9, "hard-link") != 1 || p9c_dir_find(c, 9, "tmp.txt") != 0 ||
	    p9c_dir_find(c, 9, "gone.txt") != 0 || p9c_dir_find(c, 9, "removed.txt") != 0)
		fail("Treaddir of the root does not list what it should (%s)", c->why);
	must(c, p9c_clunk(c, 9), "Tclunk");
	must(c, p9c_statfs(c, ROOT, &bsize, &blocks), "Tstatfs");
	cprintf(GUEST_TAG "p9-rw: directories, links, a FIFO, rename, unlink, remove, setattr, locks done; statfs bsize %u\n",
		bsize);
	pass();
}

/* ---- p9-ro ---- */

static int erofs(struct p9c *c, int r, const char *what)
{
	if (r == -L_EROFS)
		return 0;
	cprintf(GUEST_TAG "p9-ro: %s: %d, not EROFS %s\n", what, r, r == P9C_BAD ? c->why : "");
	return 1;
}

void p9_ro(void)
{
	struct p9c *c = session();
	char buf[64];
	int bad = 0, n;

	must(c, p9c_walk_path(c, ROOT, 1, "hello.txt"), "Twalk hello.txt");
	must(c, p9c_walk_path(c, ROOT, 2, "hello.txt"), "Twalk hello.txt");
	must(c, p9c_lopen(c, 1, L_O_RDONLY, NULL), "Tlopen");
	n = p9c_read(c, 1, 0, sizeof(buf) - 1, buf);
	if (n != (int)strlen(HELLO) || memcmp(buf, HELLO, (size_t)n))
		fail("reading hello.txt: %d %s", n, c->why);
	must(c, p9c_walk_path(c, ROOT, 3, ""), "Twalk (clone)");
	bad += erofs(c, p9c_lcreate(c, 3, "new.txt", L_O_RDWR | L_O_CREAT, 0644, NULL), "Tlcreate");
	bad += erofs(c, p9c_lopen(c, 2, L_O_WRONLY, NULL), "Tlopen O_WRONLY");
	bad += erofs(c, p9c_lopen(c, 2, L_O_RDWR | L_O_TRUNC, NULL), "Tlopen O_RDWR|O_TRUNC");
	bad += erofs(c, p9c_mkdir(c, ROOT, "newdir", 0755, NULL), "Tmkdir");
	bad += erofs(c, p9c_symlink(c, ROOT, "link", "hello.txt"), "Tsymlink");
	bad += erofs(c, p9c_unlinkat(c, ROOT, "hello.txt", 0), "Tunlinkat");
	bad += erofs(c, p9c_renameat(c, ROOT, "hello.txt", ROOT, "moved.txt"), "Trenameat");
	bad += erofs(c, p9c_setattr_mode_size(c, 2, P9_SETATTR_MODE, 0100777, 0), "Tsetattr mode");
	bad += erofs(c, p9c_setattr_mode_size(c, 2, P9_SETATTR_SIZE, 0, 0), "Tsetattr size");
	bad += erofs(c, p9c_write(c, 1, 0, "x", 1), "Twrite");
	if (bad)
		fail("%d change(s) to a read-only share were not EROFS", bad);
	cprintf(GUEST_TAG "p9-ro: reads work, 10 kinds of change are EROFS\n");
	pass();
}

/* ---- p9-hostile ---- */

struct hx {
	struct p9c *c;
	struct p9_qid root;
	char note[160];
};

static int expect_err(struct hx *h, int r, int want, const char *what)
{
	if (r == -want)
		return 0;
	snprintf(h->note, sizeof(h->note), "%s: %d, want -%d %s", what, r, want,
		 r == P9C_BAD ? h->c->why : "");
	return -1;
}

/* Any error answer (Rlerror), not a success and not a broken reply. */
static int expect_any_err(struct hx *h, int r, const char *what)
{
	if (r < 0 && r != P9C_BAD)
		return 0;
	snprintf(h->note, sizeof(h->note), "%s: %d, want an Rlerror %s", what, r,
		 r == P9C_BAD ? h->c->why : "");
	return -1;
}

/* A walk that must stop after `stop` elements of n (and make no fid). */
static int expect_stop(struct hx *h, unsigned int n, const char *const *names, int stop)
{
	int r = p9c_walk(h->c, ROOT, 100, n, names, NULL);

	if (r != stop) {
		snprintf(h->note, sizeof(h->note), "walk of %u names answered %d, want %d qids %s", n, r,
			 stop, r == P9C_BAD ? h->c->why : "");
		return -1;
	}
	return expect_err(h, p9c_clunk(h->c, 100), L_EBADF, "Tclunk of the walk's newfid");
}

static int hx_dotdot_root(struct hx *h)
{
	const char *const up[] = { ".." };
	struct p9_qid q;
	int r = p9c_walk(h->c, ROOT, 100, 1, up, &q);

	if (r != 1 || q.path != h->root.path || q.type != P9_QTDIR) {
		snprintf(h->note, sizeof(h->note), "'..' of the root: %d, qid path 0x%lx (root 0x%lx)", r,
			 q.path, h->root.path);
		return -1;
	}
	return p9c_clunk(h->c, 100);
}

static int hx_dotdot_escape(struct hx *h)
{
	const char *const up[] = { "..", "..", "..", "..", "outside.txt" };

	return expect_stop(h, 5, up, 4);
}

static int hx_symlink_root(struct hx *h)
{
	const char *const through[] = { "escape-root", "etc", "passwd" };
	char target[64];
	int r;

	if (expect_stop(h, 3, through, 1))
		return -1;
	r = p9c_walk_path(h->c, ROOT, 101, "escape-root");
	if (r)
		return expect_err(h, r, 0, "Twalk escape-root");
	r = p9c_readlink(h->c, 101, target, sizeof(target));
	if (r < 0 || strcmp(target, "/"))
		return expect_err(h, r, 0, "Treadlink escape-root");
	r = expect_any_err(h, p9c_lopen(h->c, 101, L_O_RDONLY, NULL), "Tlopen of a link to /");
	if (!r)
		r = expect_any_err(h, p9c_lcreate(h->c, 101, "pwned", L_O_RDWR | L_O_CREAT, 0644, NULL),
				   "Tlcreate in a link to /");
	if (!r)
		r = expect_any_err(h, p9c_mkdir(h->c, 101, "pwned-dir", 0755, NULL), "Tmkdir in a link to /");
	p9c_clunk(h->c, 101);
	return r;
}

static int hx_links_out(struct hx *h)
{
	static const char *const links[] = { "escape-abs", "escape-up", "magic" };

	for (size_t i = 0; i < nitems(links); i++) {
		const char *const through[] = { links[i], "x" };
		int r = p9c_walk_path(h->c, ROOT, 102, links[i]);

		if (r)
			return expect_err(h, r, 0, links[i]);
		r = expect_any_err(h, p9c_lopen(h->c, 102, L_O_RDONLY, NULL), links[i]);
		p9c_clunk(h->c, 102);
		if (r || expect_stop(h, 2, through, 1))
			return -1;
	}
	return 0;
}

static int hx_bad_names(struct hx *h)
{
	static const char *const names[] = { "a/b", "/etc", ".", "..", "" };
	struct p9c *c = h->c;
	int r;

	for (size_t i = 0; i < nitems(names); i++) {
		if (p9c_walk_path(c, ROOT, 103, "") || p9c_lcreate(c, 103, names[i], L_O_RDWR | L_O_CREAT, 0644, NULL) != -L_EINVAL ||
		    p9c_mkdir(c, ROOT, names[i], 0755, NULL) != -L_EINVAL ||
		    p9c_unlinkat(c, ROOT, names[i], 0) != -L_EINVAL) {
			snprintf(h->note, sizeof(h->note), "the name '%s' was not refused with EINVAL", names[i]);
			p9c_clunk(c, 103);
			return -1;
		}
		p9c_clunk(c, 103);
	}
	/* A walk element with '/' in it, and a name with a NUL in it. */
	r = expect_err(h, p9c_walk(c, ROOT, 103, 1, (const char *const[]){ "escape-root/etc" }, NULL),
		       L_EINVAL, "Twalk 'escape-root/etc'");
	if (r)
		return r;
	p9c_begin(c, P9_TMKDIR);
	p9c_u32(c, ROOT);
	p9c_str(c, "ok\0bad", 6);
	p9c_u32(c, 0755);
	p9c_u32(c, 0);
	return expect_err(h, p9c_rpc(c), L_EINVAL, "Tmkdir of a name with a NUL");
}

static int hx_walk16(struct hx *h)
{
	const char *names[17] = { "deep" };
	struct p9_qid q[17];
	int r;

	for (int i = 1; i < 17; i++)
		names[i] = "d";
	r = p9c_walk(h->c, ROOT, 104, 16, names, q);
	if (r != 16 || q[15].type != P9_QTDIR) {
		snprintf(h->note, sizeof(h->note), "a walk of 16 answered %d %s", r, h->c->why);
		return -1;
	}
	if (p9c_clunk(h->c, 104))
		return -1;
	return expect_any_err(h, p9c_walk(h->c, ROOT, 104, 17, names, q), "a walk of 17");
}

static int hx_fids(struct hx *h)
{
	struct p9_attr a;
	char b[8];

	if (expect_err(h, p9c_getattr(h->c, 777, &a), L_EBADF, "Tgetattr of an unknown fid") ||
	    expect_err(h, p9c_clunk(h->c, 777), L_EBADF, "Tclunk of an unknown fid") ||
	    expect_err(h, p9c_attach(h->c, ROOT, NULL), L_EEXIST, "Tattach to a fid in use") ||
	    expect_err(h, p9c_walk(h->c, ROOT, P9C_NOFID, 0, NULL, NULL), L_EBADF, "Twalk to NOFID") ||
	    expect_any_err(h, p9c_read(h->c, ROOT, 0, 8, b), "Tread of a fid never opened"))
		return -1;
	if (p9c_walk_path(h->c, ROOT, 105, ""))
		return -1;
	if (expect_err(h, p9c_walk_path(h->c, ROOT, 105, ""), L_EEXIST, "Twalk to a newfid in use"))
		return -1;
	return p9c_clunk(h->c, 105);
}

/* Back to a normal session (after the msize cases and a reset). */
static int renegotiate(struct hx *h)
{
	int r = p9c_version(h->c, P9C_MSIZE, "9P2000.L");

	if (r < 0 || h->c->msize != P9C_MSIZE || p9c_attach(h->c, ROOT, &h->root)) {
		snprintf(h->note, sizeof(h->note), "a new session: Tversion %d, msize %u %s", r, h->c->msize,
			 h->c->why);
		return -1;
	}
	return 0;
}

static int hx_msize(struct hx *h)
{
	int r = p9c_version(h->c, 0xffffffffu, "9P2000.L");

	if (r < 4096 || r > 512 * 1024 || h->c->msize != (uint32_t)r) {
		snprintf(h->note, sizeof(h->note), "Tversion msize 4 GiB answered %d %s", r, h->c->why);
		return -1;
	}
	if (expect_err(h, p9c_getattr(h->c, ROOT, &(struct p9_attr){ 0 }), L_EBADF,
		       "a fid of the session Tversion ended"))
		return -1;
	if (expect_any_err(h, p9c_version(h->c, 100, "9P2000.L"), "Tversion msize 100"))
		return -1;
	r = p9c_version(h->c, P9C_MSIZE, "9P1999");
	if (r < 0 || h->c->msize) {
		snprintf(h->note, sizeof(h->note), "an unknown version was taken: %d msize %u", r, h->c->msize);
		return -1;
	}
	return renegotiate(h);
}

/* Tread of count bytes of fid 106 with a reply room of room: the data must fit the room. */
static int read_cut(struct hx *h, uint32_t count, uint32_t room, const char *what)
{
	struct p9c *c = h->c;
	uint32_t n;
	int r;

	p9c_begin(c, P9_TREAD);
	p9c_u32(c, 106);
	p9c_u64(c, 0);
	p9c_u32(c, count);
	r = p9c_send_raw(c, p9c_end(c), room, (uint16_t)(c->next_tag - 1));
	n = p9c_g32(c);
	if (r || n > room - 11 || c->rlen != 11 + n) {
		snprintf(h->note, sizeof(h->note), "%s: %d, %u bytes in %u", what, r, n, c->rlen);
		return -1;
	}
	return 0;
}

static int hx_oversize(struct hx *h)
{
	struct p9c *c = h->c;
	int r;

	if (p9c_walk_path(c, ROOT, 106, "big.bin") || p9c_lopen(c, 106, L_O_RDONLY, NULL))
		return expect_err(h, -1, 0, "open big.bin");
	/* count of 4 GiB: at most what msize lets an Rread carry; a reply room of 100 bytes:
	 * the data is cut to fit */
	if (read_cut(h, 0xffffffffu, c->msize, "Tread of 4 GiB") ||
	    read_cut(h, 65536, 100, "Tread into 100 bytes"))
		return -1;
	/* Twrite that says more data than it carries */
	p9c_begin(c, P9_TWRITE);
	p9c_u32(c, 106);
	p9c_u64(c, 0);
	p9c_u32(c, 4096);
	p9c_bytes(c, "short", 5);
	r = expect_any_err(h, p9c_rpc(c), "Twrite whose count is beyond its message");
	p9c_clunk(c, 106);
	return r;
}

static int hx_frames(struct hx *h)
{
	struct p9c *c = h->c;
	uint32_t size;

	/* A size field beyond the readable bytes. */
	p9c_begin(c, P9_TCLUNK);
	p9c_u32(c, ROOT);
	p9c_end(c);
	size = 1000;
	memcpy(c->tx, &size, 4);
	if (expect_any_err(h, p9c_send_raw(c, 11, 4096, (uint16_t)(c->next_tag - 1)), "size beyond the buffer"))
		return -1;
	/* A size field below the header's. */
	size = 3;
	memcpy(c->tx, &size, 4);
	if (expect_any_err(h, p9c_send_raw(c, 11, 4096, (uint16_t)(c->next_tag - 1)), "size 3"))
		return -1;
	/* Fewer bytes than a header: the tag cannot be read, NOTAG answers. */
	if (expect_any_err(h, p9c_send_raw(c, 5, 4096, P9C_NOTAG), "a 5-byte message"))
		return -1;
	/* An unknown type, and an R-message sent as a request. */
	p9c_begin(c, 200);
	if (expect_err(h, p9c_rpc(c), L_EOPNOTSUPP, "type 200"))
		return -1;
	p9c_begin(c, P9_TGETATTR + 1);
	p9c_u32(c, ROOT);
	if (expect_any_err(h, p9c_rpc(c), "an Rgetattr sent to the server"))
		return -1;
	/* Trailing bytes after the fields. */
	p9c_begin(c, P9_TCLUNK);
	p9c_u32(c, 4242);
	p9c_u32(c, 0);
	return expect_any_err(h, p9c_rpc(c), "Tclunk with trailing bytes");
}

/* The chain's writable part cannot hold an Rlerror: the device needs a reset. */
static int hx_no_room(struct hx *h)
{
	struct p9c *c = h->c;
	struct vq *q = &c->dev.vq[0];
	struct vq_buf b[2];
	uint64_t end;

	p9c_begin(c, P9_TCLUNK);
	p9c_u32(c, 4242);
	b[0] = (struct vq_buf){ (uintptr_t)c->tx, (uint32_t)p9c_end(c), 0 };
	b[1] = (struct vq_buf){ (uintptr_t)c->rx, 4, 1 };
	if (vq_add(q, b, 2, c) < 0)
		return expect_err(h, -1, 0, "queueing the request");
	vq_kick(&c->dev, q);
	end = rdtsc() + us_to_tsc(1000000);
	while (!(vdev_status(&c->dev) & VIRTIO_NEEDS_RESET) && rdtsc() < end)
		cpu_relax();
	if (vq_pending(q)) {
		snprintf(h->note, sizeof(h->note), "a request with 4 writable bytes was answered");
		return -1;
	}
	if (!(vdev_status(&c->dev) & VIRTIO_NEEDS_RESET)) {
		snprintf(h->note, sizeof(h->note), "no NEEDS_RESET (status 0x%x)", vdev_status(&c->dev));
		return -1;
	}
	if (p9c_setup(c)) {
		snprintf(h->note, sizeof(h->note), "setting the device up again: %s", c->why);
		return -1;
	}
	return renegotiate(h);
}

/* 32 requests in flight at once, each with its own buffers and tag: every answer matches. */
#define HX_BATCH 32
static int hx_many(struct hx *h)
{
	struct p9c *c = h->c;
	struct vq *q = &c->dev.vq[0];
	uint8_t *mem = phys_alloc(HX_BATCH * 512, 4096);
	unsigned int got = 0, seen = 0;
	uint64_t end = rdtsc() + us_to_tsc(5000000);

	if (!mem)
		return -1;
	for (unsigned int i = 0; i < HX_BATCH; i++) {
		uint8_t *t = mem + i * 512;
		uint32_t size = 19;
		uint16_t tag = (uint16_t)(1000 + i);
		uint64_t mask = P9_GETATTR_BASIC;
		struct vq_buf b[2] = { { (uintptr_t)t, size, 0 }, { (uintptr_t)t + 256, 256, 1 } };

		memcpy(t, &size, 4);
		t[4] = P9_TGETATTR;
		memcpy(t + 5, &tag, 2);
		memcpy(t + 7, &(uint32_t){ ROOT }, 4);
		memcpy(t + 11, &mask, 8);
		if (vq_add(q, b, 2, t) < 0)
			return expect_err(h, -1, 0, "queueing 32 requests");
	}
	vq_kick(&c->dev, q);
	while (got < HX_BATCH && rdtsc() < end) {
		void *cookie;
		uint32_t len;
		uint16_t head, tag;
		int r = vq_get(q, &cookie, &len, &head);

		if (r < 0)
			return expect_err(h, -1, 0, "a bad used entry");
		if (!r) {
			cpu_relax();
			continue;
		}
		got++;
		memcpy(&tag, (uint8_t *)cookie + 256 + 5, 2);
		if (len == 160 && ((uint8_t *)cookie)[256 + 4] == P9_TGETATTR + 1 &&
		    tag == 1000 + ((uint8_t *)cookie - mem) / 512)
			seen++;
	}
	if (got != HX_BATCH || seen != HX_BATCH) {
		snprintf(h->note, sizeof(h->note), "%u of %u answered, %u right", got, HX_BATCH, seen);
		return -1;
	}
	return expect_err(h, p9c_flush(c, 1000), 0, "Tflush");
}

struct hxcase {
	const char *name, *what;
	int (*run)(struct hx *h);
};

static const struct hxcase hx_cases[] = {
	{ "dotdot-root", "'..' of the root is the root", hx_dotdot_root },
	{ "dotdot-escape", "'..' four times then a file beside the share: stops", hx_dotdot_escape },
	{ "symlink-root", "a link to /: no walk, open, create or mkdir through it", hx_symlink_root },
	{ "links-out", "absolute, '../' and /proc/self/root links: not followed", hx_links_out },
	{ "bad-names", "'/', '.', '..', '' and NUL in names: EINVAL", hx_bad_names },
	{ "walk16", "a walk of 16 names works, of 17 is refused", hx_walk16 },
	{ "fids", "unknown fids, fids in use, NOFID, an unopened fid", hx_fids },
	{ "msize", "msize 4 GiB is cut, 100 refused, an unknown version refused", hx_msize },
	{ "oversize", "reads of more than msize or the reply room; a short Twrite", hx_oversize },
	{ "frames", "sizes beyond and below the message, unknown types, trailing bytes", hx_frames },
	{ "no-room", "no room for a reply: NEEDS_RESET, then a new session works", hx_no_room },
	{ "many", "32 requests in flight, each answered with its tag; Tflush", hx_many },
};

void p9_hostile(void)
{
	struct hx h = { .c = session() };
	char buf[64];
	unsigned int failed = 0;
	int n;

	if (p9c_walk(h.c, ROOT, 100, 0, NULL, NULL) != 0 || p9c_getattr(h.c, 100, &(struct p9_attr){ 0 }) ||
	    p9c_clunk(h.c, 100))
		fail("a clone of the root: %s", h.c->why);
	{
		struct p9_attr a;

		must(h.c, p9c_getattr(h.c, ROOT, &a), "Tgetattr of the root");
		h.root = a.qid;
	}
	for (size_t i = 0; i < nitems(hx_cases); i++) {
		const struct hxcase *k = &hx_cases[i];
		int r;

		h.note[0] = '\0';
		r = k->run(&h);
		cprintf(GUEST_TAG "p9-hostile: %s: %s ... %s%s%s\n", k->name, k->what, r ? "FAIL" : "ok",
			h.note[0] ? ": " : "", h.note);
		failed += r != 0;
	}
	/* The server is still serving the share, and only it. */
	must(h.c, p9c_walk_path(h.c, ROOT, 110, "hello.txt"), "Twalk hello.txt at the end");
	must(h.c, p9c_lopen(h.c, 110, L_O_RDONLY, NULL), "Tlopen hello.txt at the end");
	n = p9c_read(h.c, 110, 0, sizeof(buf), buf);
	if (n != (int)strlen(HELLO) || memcmp(buf, HELLO, (size_t)n))
		fail("hello.txt after the cases: %d %s", n, h.c->why);
	cprintf(GUEST_TAG "p9-hostile: %zu cases, %u failed\n", nitems(hx_cases), failed);
	if (failed)
		fail("%u of %zu cases failed", failed, nitems(hx_cases));
	pass();
}

/* ---- p9-bench ---- */

static uint64_t bench_read(struct p9c *c, uint8_t *buf, uint64_t *us)
{
	uint32_t step = chunk_of(c);
	uint64_t off = 0, t0;
	int n;

	must(c, p9c_walk_path(c, ROOT, 1, "read.bin"), "Twalk read.bin");
	must(c, p9c_lopen(c, 1, L_O_RDONLY, NULL), "Tlopen read.bin");
	t0 = rdtsc();
	while ((n = p9c_read(c, 1, off, step, buf)) > 0)
		off += (uint64_t)n;
	*us = tsc_to_us(rdtsc() - t0);
	if (n < 0)
		fail("Tread at %lu: %d %s", off, n, c->why);
	must(c, p9c_clunk(c, 1), "Tclunk");
	return off;
}

static void bench_write(struct p9c *c, uint8_t *buf, uint64_t bytes, uint64_t *us, uint64_t *fsync_us)
{
	uint32_t step = chunk_of(c);
	uint64_t t0, t1, t2;

	for (uint32_t k = 0; k < step; k += 8)
		*(uint64_t *)(buf + k) = pattern_word(7, k);
	must(c, p9c_walk_path(c, ROOT, 2, ""), "Twalk (clone)");
	must(c, p9c_lcreate(c, 2, "write.bin", L_O_RDWR | L_O_CREAT | L_O_TRUNC, 0644, NULL),
	     "Tlcreate write.bin");
	t0 = rdtsc();
	for (uint64_t off = 0; off < bytes; off += step) {
		uint32_t len = bytes - off < step ? (uint32_t)(bytes - off) : step;
		int n = p9c_write(c, 2, off, buf, len);

		if (n != (int)len)
			fail("Twrite of %u bytes at %lu: %d %s", len, off, n, c->why);
	}
	t1 = rdtsc();
	must(c, p9c_fsync(c, 2, 0), "Tfsync");
	t2 = rdtsc();
	*us = tsc_to_us(t2 - t0);
	*fsync_us = tsc_to_us(t2 - t1);
	must(c, p9c_clunk(c, 2), "Tclunk");
}

/* Each file as `ls -l` has it looked up: a walk to it, its attributes, the fid let go. */
static void bench_stat(struct p9c *c, uint64_t files, uint64_t *us)
{
	struct p9_attr a;
	char name[32];
	uint64_t t0;

	must(c, p9c_walk_path(c, ROOT, 3, "files"), "Twalk files");
	t0 = rdtsc();
	for (uint64_t i = 0; i < files; i++) {
		snprintf(name, sizeof(name), "f%lu", i);
		must(c, p9c_walk_path(c, 3, 4, name), "Twalk files/f*");
		must(c, p9c_getattr(c, 4, &a), "Tgetattr files/f*");
		must(c, p9c_clunk(c, 4), "Tclunk");
	}
	*us = tsc_to_us(rdtsc() - t0);
	must(c, p9c_clunk(c, 3), "Tclunk");
}

void p9_bench(void)
{
	struct p9c *c = session();
	uint64_t bytes = param_u64("bulkhead.p9-bytes", MiB(64)) & ~7ull;
	uint64_t files = param_u64("bulkhead.p9-files", 2000);
	uint8_t *buf = phys_alloc(c->msize, 4096);
	uint64_t got, read_us, write_us, fsync_us, stat_us;

	if (!buf)
		fail("out of guest memory");
	got = bench_read(c, buf, &read_us);
	bench_write(c, buf, bytes, &write_us, &fsync_us);
	bench_stat(c, files, &stat_us);
	cprintf(GUEST_TAG "p9-bench read-bytes %lu read-us %lu write-bytes %lu write-us %lu "
			  "files %lu stat-us %lu msize %u fsync-us %lu\n",
		got, read_us, bytes, write_us, files, stat_us, c->msize, fsync_us);
	pass();
}
