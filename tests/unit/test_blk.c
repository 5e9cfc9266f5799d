/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devices/blk/blk.c: the virtio-blk request handler against memfd guest
 * memory and a memfd image, driven only through the virtio-mmio register
 * window and the rings, exactly as a guest driver would: negotiate, set up
 * queue 0, lay requests out in guest memory, publish, kick, and check the
 * used ring, the status byte, the image (against a shadow copy) and the
 * interrupts. Hostile requests and broken rings are tables.
 *
 * The direct-I/O bounce path is not covered: a memfd does not take O_DIRECT.
 *
 * REGRESSION TEST for a fixed bug (see test_bug_data_direction): blk_data
 * in devices/blk/blk.c hands virtq_slice the disk direction (write) where it
 * wants the descriptor direction (writable), so every IN and OUT that carries
 * data fails with IOERR. The fix is `virtq_slice(c, !write, ...)` in both
 * calls. Until it lands, every test that moves data through the disk fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../devices/blk/blk.h"

#define MEM_SIZE MiB(16)
#define IMG_SIZE MiB(1)
#define SECTOR 512u
#define CAPACITY (IMG_SIZE / SECTOR)
#define SERIAL "BH-DISK-7" /* shorter than 20 bytes: GET_ID pads it with NULs */
#define SERIAL20 "0123456789abcdefghij"

/* Guest-physical layout of the test driver: rings, then a bump heap for buffers. */
#define DESC_GPA 0x1000ull
#define AVAIL_GPA 0x2000ull
#define USED_GPA 0x3000ull
#define RING_END 0x4000ull
#define HEAP_GPA 0x10000ull

#define POISON 0xcc /* device-writable buffers start as this */

/* virtio-mmio registers (virtio 1.2 4.2.2). */
enum {
	R_MAGIC = 0x000,
	R_VERSION = 0x004,
	R_DEVICE_ID = 0x008,
	R_DEV_FEATURES = 0x010,
	R_DEV_FEATURES_SEL = 0x014,
	R_DRV_FEATURES = 0x020,
	R_DRV_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030,
	R_QUEUE_NUM_MAX = 0x034,
	R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = 0x050,
	R_INT_STATUS = 0x060,
	R_INT_ACK = 0x064,
	R_STATUS = 0x070,
	R_DESC_LO = 0x080,
	R_DESC_HI = 0x084,
	R_DRIVER_LO = 0x090,
	R_DRIVER_HI = 0x094,
	R_DEVICE_LO = 0x0a0,
	R_DEVICE_HI = 0x0a4,
	R_CONFIG_GEN = 0x0fc,
};

/* virtio-blk feature bits (5.2.3). */
#define BLK_F_SIZE_MAX 1
#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_F_DISCARD 13
#define BLK_F_WRITE_ZEROES 14

#define F_V1 VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define F_IND VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVT VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)

#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define DESC_F_INDIRECT 4
#define AVAIL_F_NO_INTERRUPT 1

#define DZ_F_UNMAP 1

#define ST_DRIVER (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER)
#define ST_FEATURES (ST_DRIVER | VIRTIO_STATUS_FEATURES_OK)
#define ST_LIVE (ST_FEATURES | VIRTIO_STATUS_DRIVER_OK)

/* The wire formats as the spec writes them (the model's own structs are private). */
struct tdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct tdesc) == 16, "virtq_desc");

struct thdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
_Static_assert(sizeof(struct thdr) == 16, "virtio_blk_req header");

struct dz_seg {
	uint64_t sector;
	uint32_t num;
	uint32_t flags;
};
_Static_assert(sizeof(struct dz_seg) == 16, "virtio_blk_discard_write_zeroes");

/* Table-driven checks name their case on failure. */
#define CHECK(name, cond)                                                  \
	do {                                                               \
		if (!(cond))                                               \
			fail_msg("%s: %s", (name), #cond);                 \
	} while (0)
#define CHECK_EQ(name, a, b)                                                         \
	do {                                                                         \
		unsigned long long a_ = (a), b_ = (b);                               \
		if (a_ != b_)                                                        \
			fail_msg("%s: %s is %#llx, want %#llx", (name), #a, a_, b_); \
	} while (0)

struct tseg {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;
};

struct treq {
	struct tseg seg[VIRTQ_MAX_SEGS];
	unsigned int n;
};

/* A block request laid out in guest memory. */
struct breq {
	struct treq r;
	uint64_t hdr, status;
	uint64_t data[VIRTQ_MAX_SEGS];
	uint32_t dlen[VIRTQ_MAX_SEGS];
	unsigned int nd;
	uint64_t total;
};

struct tb {
	struct guest_mem mem;
	int imgfd;
	uint8_t *shadow; /* what the image must hold */
	uint8_t *scratch; /* the image read back */
	struct blk b;
	unsigned int irqs; /* vd.irq calls */
	uint16_t qsize;
	uint16_t avail_idx; /* the driver's avail->idx */
	uint16_t used_seen; /* used entries the driver has taken */
	uint16_t next_desc; /* next free descriptor; all are free again after a kick */
	uint64_t heap; /* bump allocator for buffers */
	struct breq *reqs; /* NREQS request layouts, owned here so a failing test leaks nothing */
	struct blk *spare; /* for blk_setup calls that must not touch b */
};

#define NREQS 64

static uint8_t wbuf[MiB(1)], rbuf[MiB(1)];

/* ---- the image and its shadow ---- */

static void pattern(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 29 + i * 7 + (i >> 9) * 3 + 1);
}

/* Fill image and shadow with bytes that are never zero, so any zeroing shows. */
static void image_refill(struct tb *t, unsigned int seed)
{
	for (size_t i = 0; i < IMG_SIZE; i++)
		t->shadow[i] = 0x80 | (uint8_t)(i * 37 + (i >> 9) + seed);
	assert_int_equal(pwrite(t->imgfd, t->shadow, IMG_SIZE, 0), IMG_SIZE);
}

static void check_image_named(struct tb *t, const char *name)
{
	struct stat st;

	assert_int_equal(fstat(t->imgfd, &st), 0);
	CHECK_EQ(name, st.st_size, IMG_SIZE);
	assert_int_equal(pread(t->imgfd, t->scratch, IMG_SIZE, 0), IMG_SIZE);
	if (memcmp(t->scratch, t->shadow, IMG_SIZE) == 0)
		return;
	for (size_t i = 0; i < IMG_SIZE; i++) {
		if (t->scratch[i] != t->shadow[i])
			fail_msg("%s: image byte %zu (sector %zu) is %#x, want %#x", name, i,
				 i / SECTOR, t->scratch[i], t->shadow[i]);
	}
}

#define check_image(t) check_image_named((t), __func__)

/* ---- the device ---- */

static void count_irq(struct virtio_dev *vd)
{
	struct tb *t = vd->owner;

	t->irqs++;
}

static void dev_open(struct tb *t, uint32_t flags, const char *serial)
{
	assert_int_equal(blk_setup(&t->b, t->imgfd, IMG_SIZE, flags, serial, &t->mem), 0);
	t->b.vd.owner = t;
	t->b.vd.irq = count_irq;
	t->irqs = 0;
}

static int setup(void **state)
{
	struct tb *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_int_equal(mem_layout(&t->mem, MEM_SIZE), 0);
	assert_int_equal(mem_create(&t->mem, "test-blk"), 0);
	assert_int_equal(mem_map(&t->mem), 0);
	t->imgfd = memfd_create("test-blk-image", MFD_CLOEXEC);
	assert_true(t->imgfd >= 0);
	assert_int_equal(ftruncate(t->imgfd, IMG_SIZE), 0);
	t->shadow = malloc(IMG_SIZE);
	t->scratch = malloc(IMG_SIZE);
	t->reqs = calloc(NREQS, sizeof(*t->reqs));
	t->spare = calloc(1, sizeof(*t->spare));
	assert_non_null(t->shadow);
	assert_non_null(t->scratch);
	assert_non_null(t->reqs);
	assert_non_null(t->spare);
	image_refill(t, 0);
	t->heap = HEAP_GPA;
	dev_open(t, 0, SERIAL);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tb *t = *state;

	mem_close(&t->mem);
	close(t->imgfd);
	free(t->b.bounce);
	free(t->shadow);
	free(t->scratch);
	free(t->reqs);
	free(t->spare);
	free(t);
	return 0;
}

static uint32_t rd(struct tb *t, uint64_t off)
{
	return (uint32_t)virtio_mmio_read(&t->b.vd, off, 4);
}

static void wr(struct tb *t, uint64_t off, uint32_t val)
{
	virtio_mmio_write(&t->b.vd, off, 4, val);
}

static uint64_t cfg(struct tb *t, uint32_t off, unsigned int size)
{
	return virtio_mmio_read(&t->b.vd, VIRTIO_MMIO_CONFIG + off, size);
}

static uint64_t dev_features(struct tb *t)
{
	uint64_t f;

	wr(t, R_DEV_FEATURES_SEL, 0);
	f = rd(t, R_DEV_FEATURES);
	wr(t, R_DEV_FEATURES_SEL, 1);
	return f | (uint64_t)rd(t, R_DEV_FEATURES) << 32;
}

/* ---- guest memory and the rings, as the driver sees them ---- */

static void *gp(struct tb *t, uint64_t gpa, uint64_t len)
{
	void *p = mem_ptr(&t->mem, gpa, len);

	assert_non_null(p);
	return p;
}

/* A buffer of len bytes at 16-byte alignment plus skew, filled with fill. */
static uint64_t galloc(struct tb *t, uint64_t len, uint8_t fill, unsigned int skew)
{
	uint64_t gpa = t->heap + skew;

	/* a gap after each buffer: an overrun lands in memory nobody checks as data */
	t->heap = (gpa + len + 64 + 15) & ~15ull;
	assert_true(t->heap <= MEM_SIZE);
	memset(gp(t, gpa, len), fill, len);
	return gpa;
}

static void desc_put(struct tb *t, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct tdesc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	/* memcpy: a table the test misaligns on purpose is no place for a struct store */
	memcpy(gp(t, table + 16ull * i, 16), &d, sizeof(d));
}

static void desc_set(struct tb *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	assert_true(i < t->qsize);
	desc_put(t, DESC_GPA, i, addr, len, flags, next);
}

/* avail ring as 16-bit words: 0 flags, 1 idx, 2.. ring, 2 + qsize used_event */
static uint16_t *avail_at(struct tb *t, unsigned int i)
{
	return gp(t, AVAIL_GPA + 2ull * i, 2);
}

static void avail_set_idx(struct tb *t, uint16_t idx)
{
	__atomic_store_n(avail_at(t, 1), idx, __ATOMIC_RELEASE);
}

static void avail_publish(struct tb *t, uint16_t head)
{
	*avail_at(t, 2 + t->avail_idx % t->qsize) = head;
	t->avail_idx++;
	avail_set_idx(t, t->avail_idx);
}

static void set_used_event(struct tb *t, uint16_t v)
{
	*avail_at(t, 2 + t->qsize) = v;
}

static uint16_t used_idx(struct tb *t)
{
	return __atomic_load_n((uint16_t *)gp(t, USED_GPA + 2, 2), __ATOMIC_ACQUIRE);
}

static uint16_t avail_event(struct tb *t)
{
	return *(uint16_t *)gp(t, USED_GPA + 4 + 8ull * t->qsize, 2);
}

static void used_elem(struct tb *t, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint32_t *e = gp(t, USED_GPA + 4 + 8ull * (i % t->qsize), 8);

	*id = e[0];
	*len = e[1];
}

/* Take the next used entry, which must be head's; its length. */
static uint32_t drv_take_used(struct tb *t, uint16_t head)
{
	uint32_t id, len;

	assert_int_not_equal(used_idx(t), t->used_seen);
	used_elem(t, t->used_seen, &id, &len);
	assert_int_equal(id, head);
	t->used_seen++;
	return len;
}

/* ---- driver bring-up (3.1.1) ---- */

/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK; whether the device kept FEATURES_OK. */
static int drv_begin(struct tb *t, uint64_t features)
{
	wr(t, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(t, R_STATUS, ST_DRIVER);
	wr(t, R_DRV_FEATURES_SEL, 0);
	wr(t, R_DRV_FEATURES, (uint32_t)features);
	wr(t, R_DRV_FEATURES_SEL, 1);
	wr(t, R_DRV_FEATURES, (uint32_t)(features >> 32));
	wr(t, R_STATUS, ST_FEATURES);
	return (rd(t, R_STATUS) & VIRTIO_STATUS_FEATURES_OK) != 0;
}

static void drv_queue(struct tb *t, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(t, R_QUEUE_SEL, 0);
	assert_int_equal(rd(t, R_QUEUE_READY), 0);
	wr(t, R_QUEUE_NUM, num);
	wr(t, R_DESC_LO, (uint32_t)desc);
	wr(t, R_DESC_HI, (uint32_t)(desc >> 32));
	wr(t, R_DRIVER_LO, (uint32_t)avail);
	wr(t, R_DRIVER_HI, (uint32_t)(avail >> 32));
	wr(t, R_DEVICE_LO, (uint32_t)used);
	wr(t, R_DEVICE_HI, (uint32_t)(used >> 32));
	wr(t, R_QUEUE_READY, 1);
}

static void drv_ok(struct tb *t)
{
	wr(t, R_STATUS, ST_LIVE);
}

/* A fresh driver on a reset device: zeroed rings, queue 0 of qsize, VERSION_1 | features. */
static void drv_setup(struct tb *t, uint16_t qsize, uint64_t features, int driver_ok)
{
	assert_int_equal(rd(t, R_STATUS), 0);
	memset(gp(t, DESC_GPA, RING_END - DESC_GPA), 0, RING_END - DESC_GPA);
	t->qsize = qsize;
	t->avail_idx = t->used_seen = t->next_desc = 0;
	assert_true(drv_begin(t, F_V1 | features));
	assert_true(rd(t, R_QUEUE_NUM_MAX) >= qsize);
	drv_queue(t, qsize, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(rd(t, R_QUEUE_READY), 1);
	if (driver_ok) {
		drv_ok(t);
		assert_int_equal(rd(t, R_STATUS), ST_LIVE);
	}
}

/* Status 0: the device forgets everything. */
static void drv_reset(struct tb *t)
{
	wr(t, R_STATUS, 0);
	assert_int_equal(rd(t, R_STATUS), 0);
	assert_int_equal(rd(t, R_INT_STATUS), 0);
	wr(t, R_QUEUE_SEL, 0);
	assert_int_equal(rd(t, R_QUEUE_READY), 0);
}

static void drv_kick(struct tb *t)
{
	virtio_kick(&t->b.vd, 0);
	t->next_desc = 0;
}

/* ---- requests ---- */

static void req_add(struct treq *r, uint64_t gpa, uint32_t len, int write)
{
	assert_true(r->n < nitems(r->seg));
	r->seg[r->n].gpa = gpa;
	r->seg[r->n].len = len;
	r->seg[r->n].flags = write ? DESC_F_WRITE : 0;
	r->n++;
}

/*
 * Put r in descriptors and publish its head. Direct chains take consecutive
 * descriptors in reverse order; an indirect table keeps its first entry at 0
 * (2.7.5.3) and the rest in reverse, so every next index is followed, not assumed.
 */
static uint16_t drv_submit(struct tb *t, const struct treq *r, int indirect)
{
	unsigned int n = r->n;
	uint16_t head;

	assert_true(n > 0);
	if (indirect) {
		uint64_t tbl = galloc(t, 16ull * n, 0, 0);

		for (unsigned int i = 0; i < n; i++) {
			uint16_t slot = i ? (uint16_t)(n - i) : 0;
			uint16_t next = i + 1 < n ? (uint16_t)(n - i - 1) : 0;

			desc_put(t, tbl, slot, r->seg[i].gpa, r->seg[i].len,
				 r->seg[i].flags | (i + 1 < n ? DESC_F_NEXT : 0), next);
		}
		assert_true(t->next_desc < t->qsize);
		head = t->next_desc++;
		desc_set(t, head, tbl, 16 * n, DESC_F_INDIRECT, 0);
	} else {
		uint16_t base = t->next_desc;

		assert_true(t->next_desc + n <= t->qsize);
		t->next_desc += n;
		for (unsigned int i = 0; i < n; i++)
			desc_set(t, (uint16_t)(base + n - 1 - i), r->seg[i].gpa, r->seg[i].len,
				 r->seg[i].flags | (i + 1 < n ? DESC_F_NEXT : 0),
				 (uint16_t)(base + n - 2 - i));
		head = (uint16_t)(base + n - 1);
	}
	avail_publish(t, head);
	return head;
}

/*
 * Header (readable), data in nsegs pieces of segs[] bytes (device-writable if
 * dwrite) at odd alignments, status (one writable byte, preset to 0xff).
 * hdr_with_data: the header and the first piece share a readable descriptor;
 * data_with_status: the last piece and the status share a writable one.
 */
static void breq_build(struct tb *t, struct breq *q, uint32_t type, uint64_t sector, int dwrite,
		       const uint32_t *segs, unsigned int nsegs, int hdr_with_data,
		       int data_with_status)
{
	struct thdr h = { .type = type, .sector = sector };

	memset(q, 0, sizeof(*q));
	assert_true(nsegs <= nitems(q->data));
	assert_true(!hdr_with_data || (!dwrite && nsegs > 0));
	assert_true(!data_with_status || (dwrite && nsegs > 0));
	if (!hdr_with_data) {
		q->hdr = galloc(t, sizeof(h), 0, 0);
		req_add(&q->r, q->hdr, sizeof(h), 0);
	}
	for (unsigned int i = 0; i < nsegs; i++) {
		uint32_t before = i == 0 && hdr_with_data ? sizeof(h) : 0;
		uint32_t after = i == nsegs - 1 && data_with_status ? 1 : 0;
		uint64_t g = galloc(t, before + segs[i] + after, dwrite ? POISON : 0, i % 8);

		if (before)
			q->hdr = g;
		if (after)
			q->status = g + before + segs[i];
		q->data[i] = g + before;
		q->dlen[i] = segs[i];
		q->total += segs[i];
		req_add(&q->r, g, before + segs[i] + after, dwrite);
	}
	q->nd = nsegs;
	if (!data_with_status) {
		q->status = galloc(t, 1, 0, 0);
		req_add(&q->r, q->status, 1, 1);
	}
	assert_int_equal(mem_write(&t->mem, q->hdr, &h, sizeof(h)), 0);
	*(uint8_t *)gp(t, q->status, 1) = 0xff;
}

static void breq_simple(struct tb *t, struct breq *q, uint32_t type, uint64_t sector, int dwrite,
			uint32_t len)
{
	breq_build(t, q, type, sector, dwrite, &len, len ? 1 : 0, 0, 0);
}

/*
 * DISCARD / WRITE_ZEROES: header, nseg segments and extra stray bytes, laid out
 * as separate descriptors (layout 0), header and payload in one (1), or the
 * payload cut into 7-byte descriptors (2); then the status byte.
 */
static void breq_dz(struct tb *t, struct breq *q, uint32_t type, const struct dz_seg *segs,
		    unsigned int nseg, uint32_t extra, int layout)
{
	struct thdr h = { .type = type };
	uint32_t plen = nseg * (uint32_t)sizeof(*segs) + extra;
	uint64_t g;

	memset(q, 0, sizeof(*q));
	g = galloc(t, sizeof(h) + plen, 0, 0);
	q->hdr = g;
	assert_int_equal(mem_write(&t->mem, g, &h, sizeof(h)), 0);
	if (nseg)
		assert_int_equal(mem_write(&t->mem, g + sizeof(h), segs, nseg * sizeof(*segs)), 0);
	switch (layout) {
	case 0:
		req_add(&q->r, g, sizeof(h), 0);
		if (plen)
			req_add(&q->r, g + sizeof(h), plen, 0);
		break;
	case 1:
		req_add(&q->r, g, sizeof(h) + plen, 0);
		break;
	default:
		req_add(&q->r, g, sizeof(h), 0);
		for (uint32_t off = 0; off < plen; off += 7)
			req_add(&q->r, g + sizeof(h) + off, plen - off < 7 ? plen - off : 7, 0);
		break;
	}
	q->status = galloc(t, 1, 0xff, 0);
	req_add(&q->r, q->status, 1, 1);
}

static void breq_put(struct tb *t, const struct breq *q, const uint8_t *src)
{
	for (unsigned int i = 0; i < q->nd; i++) {
		memcpy(gp(t, q->data[i], q->dlen[i]), src, q->dlen[i]);
		src += q->dlen[i];
	}
}

static void breq_get(struct tb *t, const struct breq *q, uint8_t *dst)
{
	for (unsigned int i = 0; i < q->nd; i++) {
		memcpy(dst, gp(t, q->data[i], q->dlen[i]), q->dlen[i]);
		dst += q->dlen[i];
	}
}

static uint8_t breq_status(struct tb *t, const struct breq *q)
{
	return *(uint8_t *)gp(t, q->status, 1);
}

/* Submit, kick, take the one used entry (one interrupt, no NEEDS_RESET): the used length. */
static uint32_t drv_run(struct tb *t, const struct breq *q, int indirect)
{
	unsigned int irqs = t->irqs;
	uint16_t head = drv_submit(t, &q->r, indirect);
	uint32_t len;

	drv_kick(t);
	assert_int_equal(rd(t, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
	len = drv_take_used(t, head);
	assert_int_equal(used_idx(t), t->used_seen);
	assert_int_equal(t->irqs, irqs + 1);
	assert_true(rd(t, R_INT_STATUS) & VIRTIO_INT_USED);
	wr(t, R_INT_ACK, VIRTIO_INT_USED);
	return len;
}

/* The device is in NEEDS_RESET with one config interrupt and nothing used since used_before. */
static void expect_broken(struct tb *t, const char *name, unsigned int irqs_before,
			  uint16_t used_before)
{
	CHECK(name, rd(t, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(name, rd(t, R_INT_STATUS) & VIRTIO_INT_CONFIG);
	CHECK_EQ(name, t->irqs, irqs_before + 1);
	CHECK_EQ(name, used_idx(t), used_before);
	/* a broken device stays quiet until reset, however often it is kicked */
	drv_kick(t);
	wr(t, R_QUEUE_NOTIFY, 0);
	CHECK_EQ(name, t->irqs, irqs_before + 1);
	CHECK_EQ(name, used_idx(t), used_before);
}

/* After a reset and a fresh setup, a good OUT and IN go through. */
static void expect_recovers(struct tb *t, const char *name, uint64_t features)
{
	struct breq q;

	drv_reset(t);
	drv_setup(t, 16, features, 1);
	breq_simple(t, &q, VIRTIO_BLK_T_OUT, 17, 0, 1024);
	pattern(wbuf, 1024, 77);
	breq_put(t, &q, wbuf);
	CHECK_EQ(name, drv_run(t, &q, 0), 1);
	CHECK_EQ(name, breq_status(t, &q), VIRTIO_BLK_S_OK);
	memcpy(t->shadow + 17 * SECTOR, wbuf, 1024);
	check_image_named(t, name);
	breq_simple(t, &q, VIRTIO_BLK_T_IN, 17, 1, 1024);
	CHECK_EQ(name, drv_run(t, &q, 0), 1025);
	CHECK_EQ(name, breq_status(t, &q), VIRTIO_BLK_S_OK);
	breq_get(t, &q, rbuf);
	CHECK(name, memcmp(rbuf, wbuf, 1024) == 0);
}

/* ---- tests ---- */

/*
 * REGRESSION TEST for a fixed bug: blk_data calls
 *	n = virtq_slice(c, write, write ? sizeof(*h) : 0, len, b->iov, VIRTQ_MAX_SEGS);
 * but virtq_slice's second argument selects the device-WRITABLE part: OUT data
 * is in the readable part after the header, IN data in the writable part
 * before the status. Both calls (the second is the O_DIRECT retry) must pass
 * !write. The smallest request that shows it: one sector out, one sector in.
 */
static void test_bug_data_direction(void **state)
{
	struct tb *t = *state;
	struct breq q;

	drv_setup(t, 16, 0, 1);
	breq_simple(t, &q, VIRTIO_BLK_T_OUT, 1, 0, SECTOR);
	pattern(wbuf, SECTOR, 1);
	breq_put(t, &q, wbuf);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK); /* IOERR with the bug */
	memcpy(t->shadow + SECTOR, wbuf, SECTOR);
	check_image(t);
	breq_simple(t, &q, VIRTIO_BLK_T_IN, 1, 1, SECTOR);
	assert_int_equal(drv_run(t, &q, 0), SECTOR + 1); /* 1 with the bug */
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	breq_get(t, &q, rbuf);
	assert_memory_equal(rbuf, wbuf, SECTOR);
}

static void test_setup_rejects(void **state)
{
	enum { FD_IMG, FD_PIPE, FD_NONE };
	static const struct {
		const char *name;
		int fd;
		uint64_t size;
		const char *serial;
		int ret;
	} cases[] = {
		{ "the image as it is", FD_IMG, IMG_SIZE, SERIAL, 0 },
		{ "20-byte serial", FD_IMG, IMG_SIZE, SERIAL20, 0 },
		{ "empty serial", FD_IMG, IMG_SIZE, "", 0 },
		{ "21-byte serial", FD_IMG, IMG_SIZE, SERIAL20 "k", -EINVAL },
		{ "size smaller than the image", FD_IMG, IMG_SIZE - SECTOR, SERIAL, -EINVAL },
		{ "size larger than the image", FD_IMG, IMG_SIZE + SECTOR, SERIAL, -EINVAL },
		{ "size not a multiple of 512", FD_IMG, IMG_SIZE - 1, SERIAL, -EINVAL },
		{ "size 0", FD_IMG, 0, SERIAL, -EINVAL },
		{ "a pipe", FD_PIPE, IMG_SIZE, SERIAL, -EINVAL },
		{ "no fd", FD_NONE, IMG_SIZE, SERIAL, -EBADF },
	};
	struct tb *t = *state;
	struct blk *b = t->spare;
	int p[2];

	assert_int_equal(pipe(p), 0);
	for (size_t i = 0; i < nitems(cases); i++) {
		int fd = cases[i].fd == FD_IMG ? t->imgfd : cases[i].fd == FD_PIPE ? p[0] : -1;

		CHECK_EQ(cases[i].name, blk_setup(b, fd, cases[i].size, 0, cases[i].serial, &t->mem),
			 (unsigned long long)cases[i].ret);
	}
	close(p[0]);
	close(p[1]);
}

static void test_config_and_features(void **state)
{
	/* Offsets as the spec lays virtio_blk_config out (5.2.4). */
	static const struct {
		const char *name;
		uint32_t off;
		unsigned int size;
		uint64_t want;
	} cases[] = {
		{ "capacity", 0, 8, CAPACITY },
		{ "capacity low", 0, 4, CAPACITY },
		{ "capacity high", 4, 4, 0 },
		{ "size_max", 8, 4, 1u << 20 },
		{ "seg_max", 12, 4, VIRTQ_MAX_SIZE - 2 },
		{ "blk_size", 20, 4, 512 },
		{ "num_queues", 34, 2, 1 },
		{ "max_discard_sectors", 36, 4, 1u << 22 },
		{ "max_discard_seg", 40, 4, 32 },
		{ "discard_sector_alignment", 44, 4, 8 },
		{ "max_write_zeroes_sectors", 48, 4, 1u << 22 },
		{ "max_write_zeroes_seg", 52, 4, 32 },
		{ "write_zeroes_may_unmap", 56, 1, 1 },
		{ "last byte", 59, 1, 0 },
		{ "beyond the config", 60, 1, 0 },
		{ "crossing the end", 58, 4, 0 },
		{ "odd size", 0, 3, 0 },
		/* what lies behind the config in the model (host pointers) must not show */
		{ "offset 64", 64, 8, 0 },
		{ "offset 96", 96, 8, 0 },
		{ "offset 104", 104, 8, 0 },
		{ "offset 256", 256, 8, 0 },
		{ "the end of the window", 0xef8, 8, 0 },
	};
	static const unsigned int always[] = {
		BLK_F_SIZE_MAX, BLK_F_SEG_MAX, BLK_F_BLK_SIZE, BLK_F_FLUSH,
		VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_VERSION_1,
	};
	struct tb *t = *state;
	struct breq q;
	uint64_t f;

	/* one request first, so the model's state next to its config is not all zero */
	drv_setup(t, 16, 0, 1);
	breq_simple(t, &q, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	assert_int_equal(drv_run(t, &q, 0), 1);

	assert_int_equal(rd(t, R_MAGIC), VIRTIO_MMIO_MAGIC);
	assert_int_equal(rd(t, R_VERSION), 2);
	assert_int_equal(rd(t, R_DEVICE_ID), VIRTIO_ID_BLOCK);
	wr(t, R_QUEUE_SEL, 0);
	assert_int_equal(rd(t, R_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	for (size_t i = 0; i < nitems(cases); i++)
		CHECK_EQ(cases[i].name, cfg(t, cases[i].off, cases[i].size), cases[i].want);
	/* seg_max descriptors of data plus header and status fit in the largest queue */
	assert_true(cfg(t, 12, 4) + 2 <= rd(t, R_QUEUE_NUM_MAX));

	/* read-write: discard and write-zeroes offered, RO not */
	f = dev_features(t);
	for (size_t i = 0; i < nitems(always); i++)
		CHECK("read-write", f & VIRTIO_BIT(always[i]));
	assert_true(f & VIRTIO_BIT(BLK_F_DISCARD));
	assert_true(f & VIRTIO_BIT(BLK_F_WRITE_ZEROES));
	assert_false(f & VIRTIO_BIT(BLK_F_RO));

	/* read-only: RO offered, discard and write-zeroes not; the config is the same disk */
	dev_open(t, IPC_BLK_F_READONLY, SERIAL);
	f = dev_features(t);
	for (size_t i = 0; i < nitems(always); i++)
		CHECK("read-only", f & VIRTIO_BIT(always[i]));
	assert_true(f & VIRTIO_BIT(BLK_F_RO));
	assert_false(f & VIRTIO_BIT(BLK_F_DISCARD));
	assert_false(f & VIRTIO_BIT(BLK_F_WRITE_ZEROES));
	assert_int_equal(cfg(t, 0, 8), CAPACITY);
	assert_int_equal(cfg(t, 20, 4), 512);

	/* a config write is ignored */
	virtio_mmio_write(&t->b.vd, VIRTIO_MMIO_CONFIG, 8, 1);
	assert_int_equal(cfg(t, 0, 8), CAPACITY);
}

static void test_negotiation(void **state)
{
	static const struct {
		const char *name;
		uint32_t flags;
		uint64_t features;
		int ok;
	} cases[] = {
		{ "VERSION_1 only", 0, F_V1, 1 },
		{ "everything offered", 0,
		  F_V1 | F_IND | F_EVT | VIRTIO_BIT(BLK_F_FLUSH) | VIRTIO_BIT(BLK_F_DISCARD) |
			  VIRTIO_BIT(BLK_F_WRITE_ZEROES) | VIRTIO_BIT(BLK_F_SEG_MAX),
		  1 },
		{ "no VERSION_1 (legacy)", 0, F_IND, 0 },
		{ "a feature not offered (MQ)", 0, F_V1 | VIRTIO_BIT(12), 0 },
		{ "a high feature not offered", 0, F_V1 | VIRTIO_BIT(40), 0 },
		{ "read-only, RO accepted", IPC_BLK_F_READONLY, F_V1 | VIRTIO_BIT(BLK_F_RO), 1 },
		{ "read-only, DISCARD", IPC_BLK_F_READONLY, F_V1 | VIRTIO_BIT(BLK_F_DISCARD), 0 },
		{ "read-only, WRITE_ZEROES", IPC_BLK_F_READONLY,
		  F_V1 | VIRTIO_BIT(BLK_F_WRITE_ZEROES), 0 },
		{ "read-write, RO", 0, F_V1 | VIRTIO_BIT(BLK_F_RO), 0 },
	};
	struct tb *t = *state;

	for (size_t i = 0; i < nitems(cases); i++) {
		dev_open(t, cases[i].flags, SERIAL);
		CHECK_EQ(cases[i].name, drv_begin(t, cases[i].features), cases[i].ok);
	}
}

/* Split total bytes into n uneven pieces (a few bytes either side of total / n). */
static void split(uint32_t total, unsigned int n, uint32_t *out)
{
	uint32_t base = total / n, sum = 0;

	for (unsigned int i = 0; i + 1 < n; i++) {
		uint32_t d = i % 5 + 1;

		out[i] = i & 1 ? base + d : base - d;
		sum += out[i];
	}
	out[n - 1] = total - sum;
}

static void test_rw_roundtrip(void **state)
{
	static const uint32_t s_512[] = { 512 };
	static const uint32_t s_4k[] = { 4096 };
	static const uint32_t s_1_4095[] = { 1, 4095 };
	static const uint32_t s_odd[] = { 511, 513, 1023, 1, 2048 };
	static const uint32_t s_tiny[] = { 3, 5, 7, 1521 };
	static const uint32_t s_six[] = { 100, 200, 300, 400, 500, 548 };
	static const uint32_t s_64k[] = { 4097, 61439 };
	static const uint32_t s_128k[] = { 131072 };
	static const struct {
		const char *name;
		const uint32_t *segs; /* NULL: split total into nsplit pieces */
		unsigned int nsegs;
		uint32_t total;
		uint64_t sector;
		int hdr_with_data; /* OUT: header and first piece in one descriptor */
		int data_with_status; /* IN: last piece and status in one descriptor */
	} cases[] = {
		{ "one sector", s_512, 1, 0, 0, 0, 0 },
		{ "one sector, the last", s_512, 1, 0, CAPACITY - 1, 0, 0 },
		{ "one sector, merged", s_512, 1, 0, 2, 1, 1 },
		{ "4 KiB", s_4k, 1, 0, 8, 0, 0 },
		{ "4 KiB merged", s_4k, 1, 0, 16, 1, 1 },
		{ "1 + 4095", s_1_4095, 2, 0, 33, 0, 0 },
		{ "1 + 4095 merged", s_1_4095, 2, 0, 41, 1, 1 },
		{ "511 513 1023 1 2048", s_odd, 5, 0, 100, 0, 0 },
		{ "511 513 1023 1 2048 merged", s_odd, 5, 0, 101, 1, 1 },
		{ "3 5 7 1521", s_tiny, 4, 0, 7, 1, 0 },
		{ "100 .. 548", s_six, 6, 0, 1000, 0, 1 },
		{ "64 KiB in two, ending at capacity", s_64k, 2, 0, CAPACITY - 128, 0, 0 },
		{ "128 KiB in one", s_128k, 1, 0, 500, 0, 0 },
		{ "62 pieces: a chain as long as a 64-entry queue", NULL, 62, 62 * 512, 300, 0, 0 },
		{ "254 pieces (seg_max)", NULL, 254, 254 * 512, 600, 0, 0 },
		{ "254 pieces of 128 KiB merged", NULL, 254, 131072, 1200, 1, 1 },
	};
	struct tb *t = *state;
	static uint32_t pieces[VIRTQ_MAX_SEGS];
	struct breq *q = &t->reqs[0];

	drv_setup(t, VIRTQ_MAX_SIZE, F_IND, 1);
	for (int ind = 0; ind < 2; ind++) {
		for (size_t i = 0; i < nitems(cases); i++) {
			const char *name = cases[i].name;
			const uint32_t *segs = cases[i].segs;
			unsigned int n = cases[i].nsegs;
			uint64_t sector = cases[i].sector;
			uint64_t total;

			if (!segs) {
				split(cases[i].total, n, pieces);
				segs = pieces;
			}
			/* OUT: the image changes there and nowhere else */
			breq_build(t, q, VIRTIO_BLK_T_OUT, sector, 0, segs, n, cases[i].hdr_with_data, 0);
			total = q->total;
			assert_true(total % SECTOR == 0 && total <= sizeof(wbuf));
			pattern(wbuf, total, (unsigned int)(i * 2 + ind + 1));
			breq_put(t, q, wbuf);
			CHECK_EQ(name, drv_run(t, q, ind), 1);
			CHECK_EQ(name, breq_status(t, q), VIRTIO_BLK_S_OK);
			memcpy(t->shadow + sector * SECTOR, wbuf, total);
			check_image_named(t, name);

			/* IN: the same bytes come back, used len = data + status */
			breq_build(t, q, VIRTIO_BLK_T_IN, sector, 1, segs, n, 0,
				   cases[i].data_with_status);
			CHECK_EQ(name, drv_run(t, q, ind), total + 1);
			CHECK_EQ(name, breq_status(t, q), VIRTIO_BLK_S_OK);
			breq_get(t, q, rbuf);
			CHECK(name, memcmp(rbuf, wbuf, total) == 0);
		}
	}
}

/*
 * FLUSH must reach the image, not just answer OK: fdatasync is wrapped
 * (UNIT_LDFLAGS_blk in the Makefile: --wrap=fdatasync), counting the calls and
 * the descriptor they name, and failing them on demand.
 */
static unsigned int g_fdatasync_calls;
static int g_fdatasync_fd = -1;
static int g_fdatasync_errno; /* nonzero: the next calls fail with it */

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_fdatasync(int fd)
{
	g_fdatasync_calls++;
	g_fdatasync_fd = fd;
	if (g_fdatasync_errno) {
		errno = g_fdatasync_errno;
		return -1;
	}
	return __real_fdatasync(fd);
}

static void fdatasync_watch(int fail_errno)
{
	g_fdatasync_calls = 0;
	g_fdatasync_fd = -1;
	g_fdatasync_errno = fail_errno;
}

static void test_flush(void **state)
{
	struct tb *t = *state;
	struct breq q;
	uint16_t head;

	drv_setup(t, 16, 0, 1);
	fdatasync_watch(0);
	/* a write alone syncs nothing; the flush after it does, on the image */
	breq_simple(t, &q, VIRTIO_BLK_T_OUT, 3, 0, 4096);
	pattern(wbuf, 4096, 11);
	breq_put(t, &q, wbuf);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	memcpy(t->shadow + 3 * SECTOR, wbuf, 4096);
	assert_int_equal(g_fdatasync_calls, 0);
	breq_simple(t, &q, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	assert_int_equal(g_fdatasync_calls, 1);
	assert_int_equal(g_fdatasync_fd, t->imgfd);
	/* the sector of a flush is ignored */
	breq_simple(t, &q, VIRTIO_BLK_T_FLUSH, UINT64_MAX, 0, 0);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	assert_int_equal(g_fdatasync_calls, 2);
	/* a kick forwarded through QueueNotify is the same kick */
	breq_simple(t, &q, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	head = drv_submit(t, &q.r, 0);
	wr(t, R_QUEUE_NOTIFY, 0);
	t->next_desc = 0;
	assert_int_equal(drv_take_used(t, head), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	assert_int_equal(g_fdatasync_calls, 3);
	assert_int_equal(t->irqs, 4);
	check_image(t);
}

/* A flush whose fdatasync fails is an IOERR (5.2.6: the status for a device error), and
 * the device goes on: the next flush that syncs is OK. */
static void test_flush_fails(void **state)
{
	static const int errnos[] = { EIO, ENOSPC, EDQUOT, EROFS, EINVAL };
	struct tb *t = *state;
	struct breq q;

	drv_setup(t, 16, 0, 1);
	for (size_t i = 0; i < nitems(errnos); i++) {
		fdatasync_watch(errnos[i]);
		breq_simple(t, &q, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
		assert_int_equal(drv_run(t, &q, 0), 1);
		assert_int_equal(g_fdatasync_calls, 1);
		if (breq_status(t, &q) != VIRTIO_BLK_S_IOERR)
			fail_msg("fdatasync failed with %s, FLUSH answered %u", strerror(errnos[i]),
				 breq_status(t, &q));
	}
	fdatasync_watch(0);
	breq_simple(t, &q, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	assert_int_equal(g_fdatasync_calls, 1);
	assert_false(rd(t, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	check_image(t);
}

/* max_discard_sectors and max_write_zeroes_sectors hold inside the disk: a 2 GiB + 8 KiB
 * sparse image, so that one segment of the limit fits and one of limit + 8 does too (only
 * the limit refuses it). Ranges are unmapped: punching holes in a memfd costs nothing. */
static void test_discard_sector_limits(void **state)
{
	struct tb *t = *state;
	uint64_t big;
	uint32_t max_d, max_wz;
	struct breq q;

	max_d = (uint32_t)cfg(t, offsetof(struct blk_config, max_discard_sectors), 4);
	max_wz = (uint32_t)cfg(t, offsetof(struct blk_config, max_write_zeroes_sectors), 4);
	big = ((uint64_t)(max_d > max_wz ? max_d : max_wz) + 16) * SECTOR;
	assert_int_equal(ftruncate(t->imgfd, (off_t)big), 0);
	assert_int_equal(blk_setup(&t->b, t->imgfd, big, 0, SERIAL, &t->mem), 0);
	t->b.vd.owner = t;
	t->b.vd.irq = count_irq;
	drv_setup(t, 16, VIRTIO_BIT(BLK_F_DISCARD) | VIRTIO_BIT(BLK_F_WRITE_ZEROES), 1);
	{
		const struct {
			const char *name;
			uint32_t type, num, flags;
			uint8_t want;
		} cases[] = {
			{ "DISCARD of max_discard_sectors", VIRTIO_BLK_T_DISCARD, max_d, 0, VIRTIO_BLK_S_OK },
			{ "DISCARD of max_discard_sectors + 8", VIRTIO_BLK_T_DISCARD, max_d + 8, 0,
			  VIRTIO_BLK_S_IOERR },
			{ "WRITE_ZEROES (unmap) of max_write_zeroes_sectors", VIRTIO_BLK_T_WRITE_ZEROES, max_wz,
			  DZ_F_UNMAP, VIRTIO_BLK_S_OK },
			{ "WRITE_ZEROES (unmap) of max_write_zeroes_sectors + 8", VIRTIO_BLK_T_WRITE_ZEROES,
			  max_wz + 8, DZ_F_UNMAP, VIRTIO_BLK_S_IOERR },
		};

		for (size_t i = 0; i < nitems(cases); i++) {
			struct dz_seg seg = { .sector = 8, .num = cases[i].num, .flags = cases[i].flags };

			assert_true((seg.sector + seg.num) * SECTOR <= big);
			breq_dz(t, &q, cases[i].type, &seg, 1, 0, 0);
			assert_int_equal(drv_run(t, &q, 0), 1);
			if (breq_status(t, &q) != cases[i].want)
				fail_msg("%s: status %u, want %u", cases[i].name, breq_status(t, &q), cases[i].want);
		}
	}
}

static void test_get_id(void **state)
{
	static const struct {
		const char *name;
		const char *serial;
		uint32_t segs[2];
		unsigned int nsegs;
		int with_status;
		uint32_t want; /* serial bytes written */
	} cases[] = {
		{ "20-byte buffer", SERIAL, { 20 }, 1, 0, 20 },
		{ "20-byte buffer, status in it", SERIAL, { 20 }, 1, 1, 20 },
		{ "7 + 13", SERIAL, { 7, 13 }, 2, 0, 20 },
		{ "8-byte buffer gets a prefix", SERIAL, { 8 }, 1, 0, 8 },
		{ "1-byte buffer", SERIAL, { 1 }, 1, 0, 1 },
		{ "32-byte buffer gets 20", SERIAL, { 32 }, 1, 0, 20 },
		{ "no buffer", SERIAL, { 0 }, 0, 0, 0 },
		{ "20-byte serial", SERIAL20, { 20 }, 1, 0, 20 },
		{ "20-byte serial, 19-byte buffer", SERIAL20, { 19 }, 1, 1, 19 },
		{ "empty serial", "", { 20 }, 1, 0, 20 },
	};
	struct tb *t = *state;

	for (size_t i = 0; i < nitems(cases); i++) {
		const char *name = cases[i].name;
		char want[IPC_BLK_SERIAL_MAX] = { 0 };
		uint8_t got[64];
		struct breq q;
		uint32_t buflen = 0;

		memcpy(want, cases[i].serial, strlen(cases[i].serial));
		dev_open(t, 0, cases[i].serial);
		drv_setup(t, 16, 0, 1);
		breq_build(t, &q, VIRTIO_BLK_T_GET_ID, 0, 1, cases[i].segs, cases[i].nsegs, 0,
			   cases[i].with_status);
		CHECK_EQ(name, drv_run(t, &q, 0), cases[i].want + 1);
		CHECK_EQ(name, breq_status(t, &q), VIRTIO_BLK_S_OK);
		breq_get(t, &q, got);
		buflen = (uint32_t)q.total;
		CHECK(name, memcmp(got, want, cases[i].want) == 0);
		for (uint32_t j = cases[i].want; j < buflen; j++)
			CHECK_EQ(name, got[j], POISON);
	}
	check_image(t);
}

static void test_bad_requests(void **state)
{
	static const struct {
		const char *name;
		uint32_t type;
		uint64_t sector;
		uint32_t len;
		int dwrite;
		uint8_t want;
	} cases[] = {
		{ "unknown type 99", 99, 0, 512, 1, VIRTIO_BLK_S_UNSUPP },
		{ "unknown type 99, no data", 99, 0, 0, 0, VIRTIO_BLK_S_UNSUPP },
		{ "type 2 (SCSI)", 2, 0, 512, 1, VIRTIO_BLK_S_UNSUPP },
		{ "type 10 (GET_LIFETIME)", 10, 0, 16, 1, VIRTIO_BLK_S_UNSUPP },
		{ "type 14 (SECURE_ERASE)", 14, 0, 16, 0, VIRTIO_BLK_S_UNSUPP },
		{ "type 0x80000001", 0x80000001u, 0, 512, 0, VIRTIO_BLK_S_UNSUPP },
		{ "IN the last sector", VIRTIO_BLK_T_IN, CAPACITY - 1, 512, 1, VIRTIO_BLK_S_OK },
		{ "IN at capacity", VIRTIO_BLK_T_IN, CAPACITY, 512, 1, VIRTIO_BLK_S_IOERR },
		{ "IN crossing the end", VIRTIO_BLK_T_IN, CAPACITY - 1, 1024, 1, VIRTIO_BLK_S_IOERR },
		{ "IN far beyond", VIRTIO_BLK_T_IN, CAPACITY * 1000, 512, 1, VIRTIO_BLK_S_IOERR },
		{ "OUT the last sector", VIRTIO_BLK_T_OUT, CAPACITY - 1, 512, 0, VIRTIO_BLK_S_OK },
		{ "OUT at capacity", VIRTIO_BLK_T_OUT, CAPACITY, 512, 0, VIRTIO_BLK_S_IOERR },
		{ "OUT crossing the end", VIRTIO_BLK_T_OUT, CAPACITY - 2, 2048, 0, VIRTIO_BLK_S_IOERR },
		{ "IN 511 bytes", VIRTIO_BLK_T_IN, 0, 511, 1, VIRTIO_BLK_S_IOERR },
		{ "IN 513 bytes", VIRTIO_BLK_T_IN, 0, 513, 1, VIRTIO_BLK_S_IOERR },
		{ "IN 1 byte", VIRTIO_BLK_T_IN, 0, 1, 1, VIRTIO_BLK_S_IOERR },
		{ "OUT 100 bytes", VIRTIO_BLK_T_OUT, 0, 100, 0, VIRTIO_BLK_S_IOERR },
		{ "OUT 1000 bytes", VIRTIO_BLK_T_OUT, 4, 1000, 0, VIRTIO_BLK_S_IOERR },
		{ "IN sector UINT64_MAX", VIRTIO_BLK_T_IN, UINT64_MAX, 512, 1, VIRTIO_BLK_S_IOERR },
		{ "OUT sector UINT64_MAX", VIRTIO_BLK_T_OUT, UINT64_MAX, 512, 0, VIRTIO_BLK_S_IOERR },
		{ "IN sector UINT64_MAX / 512", VIRTIO_BLK_T_IN, UINT64_MAX / 512, 512, 1,
		  VIRTIO_BLK_S_IOERR },
		/* sector * 512 wraps to exactly 0 */
		{ "IN sector 2^55", VIRTIO_BLK_T_IN, 1ull << 55, 512, 1, VIRTIO_BLK_S_IOERR },
		{ "OUT sector 2^55", VIRTIO_BLK_T_OUT, 1ull << 55, 512, 0, VIRTIO_BLK_S_IOERR },
		{ "OUT sector 2^55 + 1", VIRTIO_BLK_T_OUT, (1ull << 55) + 1, 512, 0,
		  VIRTIO_BLK_S_IOERR },
		{ "OUT sector 2^63", VIRTIO_BLK_T_OUT, 1ull << 63, 512, 0, VIRTIO_BLK_S_IOERR },
		{ "IN no data, sector UINT64_MAX", VIRTIO_BLK_T_IN, UINT64_MAX, 0, 1,
		  VIRTIO_BLK_S_IOERR },
	};
	struct tb *t = *state;

	drv_setup(t, 16, 0, 1);
	for (size_t i = 0; i < nitems(cases); i++) {
		const char *name = cases[i].name;
		uint32_t want_len = 1;
		struct breq q;

		breq_simple(t, &q, cases[i].type, cases[i].sector, cases[i].dwrite, cases[i].len);
		if (!cases[i].dwrite) {
			pattern(wbuf, cases[i].len, (unsigned int)i + 100);
			breq_put(t, &q, wbuf);
		}
		if (cases[i].want == VIRTIO_BLK_S_OK && cases[i].type == VIRTIO_BLK_T_IN)
			want_len += cases[i].len;
		CHECK_EQ(name, drv_run(t, &q, 0), want_len);
		CHECK_EQ(name, breq_status(t, &q), cases[i].want);
		if (cases[i].want == VIRTIO_BLK_S_OK && cases[i].type == VIRTIO_BLK_T_OUT)
			memcpy(t->shadow + cases[i].sector * SECTOR, wbuf, cases[i].len);
		check_image_named(t, name);
	}
}

/* The counters the supervisor reads: one request each, the data bytes moved, the failures. */
static void test_counters(void **state)
{
	static const struct {
		uint32_t type;
		uint64_t sector;
		uint32_t len;
		int dwrite;
	} reqs[] = {
		{ VIRTIO_BLK_T_OUT, 0, 4096, 0 },
		{ VIRTIO_BLK_T_IN, 0, 1024, 1 },
		{ VIRTIO_BLK_T_IN, CAPACITY, 512, 1 }, /* IOERR: moves nothing */
		{ 99, 0, 512, 1 }, /* UNSUPP */
	};
	struct ipc_counters ct;
	struct tb *t = *state;

	memset(&ct, 0, sizeof(ct));
	t->b.vd.counters = &ct;
	drv_setup(t, 16, 0, 1);
	for (size_t i = 0; i < nitems(reqs); i++) {
		struct breq q;

		breq_simple(t, &q, reqs[i].type, reqs[i].sector, reqs[i].dwrite, reqs[i].len);
		if (!reqs[i].dwrite) {
			pattern(wbuf, reqs[i].len, (unsigned int)i);
			breq_put(t, &q, wbuf);
			memcpy(t->shadow + reqs[i].sector * SECTOR, wbuf, reqs[i].len);
		}
		(void)drv_run(t, &q, 0);
	}
	assert_int_equal(ct.ct_requests, 4);
	assert_int_equal(ct.ct_bytes, 4096 + 1024);
	assert_int_equal(ct.ct_errors, 2);
	t->b.vd.counters = NULL;
}

static void test_discard_write_zeroes(void **state)
{
	static const struct {
		const char *name;
		uint32_t type;
		struct dz_seg seg[3];
		unsigned int nseg;
		unsigned int gen; /* instead of seg: gen generated ranges of 3 sectors */
		uint32_t extra; /* stray payload bytes after the segments */
		int layout;
		uint8_t want;
	} cases[] = {
		{ "discard one range", VIRTIO_BLK_T_DISCARD, { { 8, 16, 0 } }, 1, 0, 0, 0,
		  VIRTIO_BLK_S_OK },
		{ "discard one sector inside a page", VIRTIO_BLK_T_DISCARD, { { 3, 1, 0 } }, 1, 0, 0, 1,
		  VIRTIO_BLK_S_OK },
		{ "discard three ranges, the last at the end", VIRTIO_BLK_T_DISCARD,
		  { { 0, 1, 0 }, { 100, 9, 0 }, { CAPACITY - 8, 8, 0 } }, 3, 0, 0, 2,
		  VIRTIO_BLK_S_OK },
		{ "discard zero sectors", VIRTIO_BLK_T_DISCARD, { { 8, 0, 0 } }, 1, 0, 0, 0,
		  VIRTIO_BLK_S_OK },
		{ "write zeroes", VIRTIO_BLK_T_WRITE_ZEROES, { { 40, 16, 0 } }, 1, 0, 0, 0,
		  VIRTIO_BLK_S_OK },
		{ "write zeroes, unmap", VIRTIO_BLK_T_WRITE_ZEROES, { { 64, 24, DZ_F_UNMAP } }, 1, 0,
		  0, 1, VIRTIO_BLK_S_OK },
		{ "write zeroes, mixed, payload in pieces", VIRTIO_BLK_T_WRITE_ZEROES,
		  { { 5, 1, 0 }, { 200, 7, DZ_F_UNMAP }, { CAPACITY - 1, 1, DZ_F_UNMAP } }, 3, 0, 0,
		  2, VIRTIO_BLK_S_OK },
		{ "write zeroes, the whole disk", VIRTIO_BLK_T_WRITE_ZEROES, { { 0, CAPACITY, 0 } },
		  1, 0, 0, 0, VIRTIO_BLK_S_OK },
		{ "discard 32 ranges (max_discard_seg)", VIRTIO_BLK_T_DISCARD, { { 0 } }, 0, 32, 0,
		  0, VIRTIO_BLK_S_OK },
		{ "write zeroes 32 ranges", VIRTIO_BLK_T_WRITE_ZEROES, { { 0 } }, 0, 32, 0, 1,
		  VIRTIO_BLK_S_OK },
		{ "discard 33 ranges", VIRTIO_BLK_T_DISCARD, { { 0 } }, 0, 33, 0, 0,
		  VIRTIO_BLK_S_UNSUPP },
		{ "write zeroes 33 ranges", VIRTIO_BLK_T_WRITE_ZEROES, { { 0 } }, 0, 33, 0, 1,
		  VIRTIO_BLK_S_UNSUPP },
		{ "discard with the unmap flag", VIRTIO_BLK_T_DISCARD, { { 8, 16, DZ_F_UNMAP } }, 1,
		  0, 0, 0, VIRTIO_BLK_S_UNSUPP },
		{ "discard flag bit 1", VIRTIO_BLK_T_DISCARD, { { 8, 16, 2 } }, 1, 0, 0, 0,
		  VIRTIO_BLK_S_UNSUPP },
		{ "write zeroes flag bit 1", VIRTIO_BLK_T_WRITE_ZEROES, { { 8, 16, 2 } }, 1, 0, 0, 0,
		  VIRTIO_BLK_S_UNSUPP },
		{ "write zeroes unmap | bit 31", VIRTIO_BLK_T_WRITE_ZEROES,
		  { { 8, 16, 0x80000001u } }, 1, 0, 0, 0, VIRTIO_BLK_S_UNSUPP },
		{ "discard at capacity", VIRTIO_BLK_T_DISCARD, { { CAPACITY, 1, 0 } }, 1, 0, 0, 0,
		  VIRTIO_BLK_S_IOERR },
		{ "discard crossing the end", VIRTIO_BLK_T_DISCARD, { { CAPACITY - 1, 2, 0 } }, 1, 0,
		  0, 0, VIRTIO_BLK_S_IOERR },
		{ "write zeroes crossing the end", VIRTIO_BLK_T_WRITE_ZEROES,
		  { { CAPACITY - 8, 16, DZ_F_UNMAP } }, 1, 0, 0, 0, VIRTIO_BLK_S_IOERR },
		{ "write zeroes sector 2^55 (wraps to 0)", VIRTIO_BLK_T_WRITE_ZEROES,
		  { { 1ull << 55, 1, 0 } }, 1, 0, 0, 0, VIRTIO_BLK_S_IOERR },
		{ "discard sector UINT64_MAX", VIRTIO_BLK_T_DISCARD, { { UINT64_MAX, 1, 0 } }, 1, 0,
		  0, 0, VIRTIO_BLK_S_IOERR },
		{ "write zeroes beyond max_write_zeroes_sectors", VIRTIO_BLK_T_WRITE_ZEROES,
		  { { 0, (1u << 22) + 1, 0 } }, 1, 0, 0, 0, VIRTIO_BLK_S_IOERR },
		{ "discard UINT32_MAX sectors", VIRTIO_BLK_T_DISCARD, { { 0, UINT32_MAX, 0 } }, 1, 0,
		  0, 0, VIRTIO_BLK_S_IOERR },
		{ "discard payload of 24 bytes", VIRTIO_BLK_T_DISCARD, { { 8, 16, 0 } }, 1, 0, 8, 0,
		  VIRTIO_BLK_S_UNSUPP },
		{ "write zeroes payload of 17 bytes, one descriptor", VIRTIO_BLK_T_WRITE_ZEROES,
		  { { 8, 16, 0 } }, 1, 0, 1, 1, VIRTIO_BLK_S_UNSUPP },
		{ "write zeroes payload of 8 bytes", VIRTIO_BLK_T_WRITE_ZEROES, { { 0 } }, 0, 0, 8, 0,
		  VIRTIO_BLK_S_UNSUPP },
		{ "discard without a payload", VIRTIO_BLK_T_DISCARD, { { 0 } }, 0, 0, 0, 0,
		  VIRTIO_BLK_S_UNSUPP },
	};
	struct tb *t = *state;
	struct dz_seg segs[40];

	drv_setup(t, 128, 0, 1);
	for (size_t i = 0; i < nitems(cases); i++) {
		const char *name = cases[i].name;
		unsigned int n = cases[i].nseg;
		struct breq q;

		image_refill(t, (unsigned int)i);
		if (cases[i].gen) {
			n = cases[i].gen;
			for (unsigned int j = 0; j < n; j++)
				segs[j] = (struct dz_seg){ .sector = 16ull * j + 1, .num = 3 };
		} else {
			memcpy(segs, cases[i].seg, sizeof(cases[i].seg));
		}
		breq_dz(t, &q, cases[i].type, segs, n, cases[i].extra, cases[i].layout);
		CHECK_EQ(name, drv_run(t, &q, 0), 1);
		CHECK_EQ(name, breq_status(t, &q), cases[i].want);
		if (cases[i].want == VIRTIO_BLK_S_OK) {
			for (unsigned int j = 0; j < n; j++)
				memset(t->shadow + segs[j].sector * SECTOR, 0,
				       (size_t)segs[j].num * SECTOR);
		}
		check_image_named(t, name);
	}
}

static void test_readonly(void **state)
{
	static const struct dz_seg range = { .sector = 0, .num = 8 };
	static const struct dz_seg range_unmap = { .sector = 8, .num = 8, .flags = DZ_F_UNMAP };
	static const struct dz_seg range_bad = { .sector = 8, .num = 8, .flags = 2 };
	struct tb *t = *state;
	uint8_t id[IPC_BLK_SERIAL_MAX];
	struct breq q;

	dev_open(t, IPC_BLK_F_READONLY, SERIAL);
	drv_setup(t, 16, VIRTIO_BIT(BLK_F_RO), 1);

	breq_simple(t, &q, VIRTIO_BLK_T_OUT, 0, 0, 4096);
	pattern(wbuf, 4096, 5);
	breq_put(t, &q, wbuf);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_IOERR);
	check_image(t);

	breq_dz(t, &q, VIRTIO_BLK_T_DISCARD, &range, 1, 0, 0);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_IOERR);
	breq_dz(t, &q, VIRTIO_BLK_T_WRITE_ZEROES, &range, 1, 0, 0);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_IOERR);
	breq_dz(t, &q, VIRTIO_BLK_T_WRITE_ZEROES, &range_unmap, 1, 0, 0);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_IOERR);
	breq_dz(t, &q, VIRTIO_BLK_T_WRITE_ZEROES, &range_bad, 1, 0, 0);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_IOERR);
	check_image(t);

	breq_simple(t, &q, VIRTIO_BLK_T_IN, 8, 1, 4096);
	assert_int_equal(drv_run(t, &q, 0), 4097);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	breq_get(t, &q, rbuf);
	assert_memory_equal(rbuf, t->shadow + 8 * SECTOR, 4096);

	breq_simple(t, &q, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	assert_int_equal(drv_run(t, &q, 0), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);

	breq_simple(t, &q, VIRTIO_BLK_T_GET_ID, 0, 1, sizeof(id));
	assert_int_equal(drv_run(t, &q, 0), sizeof(id) + 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	breq_get(t, &q, id);
	assert_memory_equal(id, SERIAL, sizeof(SERIAL));
	check_image(t);
}

static void test_bad_header(void **state)
{
	enum shape {
		H_NONE, /* status only */
		H_WRITABLE, /* header device-writable, then status */
		H_WRITABLE_WITH_STATUS, /* header and status in one writable descriptor */
		H_WRITABLE_OUT_DATA, /* an OUT header and its data, all writable */
		H_SHORT8, /* 8 readable header bytes */
		H_SHORT15, /* 15 */
		H_SPLIT_OUT, /* 8 + 8 readable, OUT: fine */
		H_SPLIT_IN, /* 3 + 13 readable, IN: fine */
	};
	/* FLUSH and GET_ID need nothing after the header: only its length can fail them */
	static const struct {
		const char *name;
		enum shape shape;
		uint32_t type;
		uint8_t want;
		uint32_t want_len;
	} cases[] = {
		{ "no header", H_NONE, VIRTIO_BLK_T_OUT, VIRTIO_BLK_S_IOERR, 1 },
		{ "header writable", H_WRITABLE, VIRTIO_BLK_T_OUT, VIRTIO_BLK_S_IOERR, 1 },
		{ "FLUSH header writable", H_WRITABLE, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_S_IOERR, 1 },
		{ "header and status in one writable descriptor", H_WRITABLE_WITH_STATUS,
		  VIRTIO_BLK_T_OUT, VIRTIO_BLK_S_IOERR, 1 },
		{ "FLUSH header and status in one writable descriptor", H_WRITABLE_WITH_STATUS,
		  VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_S_IOERR, 1 },
		{ "OUT header and data writable", H_WRITABLE_OUT_DATA, VIRTIO_BLK_T_OUT,
		  VIRTIO_BLK_S_IOERR, 1 },
		{ "8-byte OUT header", H_SHORT8, VIRTIO_BLK_T_OUT, VIRTIO_BLK_S_IOERR, 1 },
		{ "8-byte FLUSH header", H_SHORT8, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_S_IOERR, 1 },
		{ "15-byte FLUSH header", H_SHORT15, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_S_IOERR, 1 },
		{ "15-byte GET_ID header", H_SHORT15, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_S_IOERR, 1 },
		{ "header in 8 + 8, OUT", H_SPLIT_OUT, VIRTIO_BLK_T_OUT, VIRTIO_BLK_S_OK, 1 },
		{ "header in 3 + 13, IN", H_SPLIT_IN, VIRTIO_BLK_T_IN, VIRTIO_BLK_S_OK, 513 },
	};
	struct tb *t = *state;

	drv_setup(t, 16, 0, 1);
	for (size_t i = 0; i < nitems(cases); i++) {
		const char *name = cases[i].name;
		struct thdr h = { .type = cases[i].type, .sector = 4 };
		uint64_t hdr = galloc(t, 17, 0, 0), data = galloc(t, 512, POISON, 0);
		uint64_t st = galloc(t, 1, 0xff, 0);
		struct breq q;

		memset(&q, 0, sizeof(q));
		pattern(wbuf, 512, (unsigned int)i + 50);
		if (cases[i].type == VIRTIO_BLK_T_OUT)
			memcpy(gp(t, data, 512), wbuf, 512);
		assert_int_equal(mem_write(&t->mem, hdr, &h, sizeof(h)), 0);
		*(uint8_t *)gp(t, hdr + 16, 1) = 0xff;
		switch (cases[i].shape) {
		case H_NONE:
			break;
		case H_WRITABLE:
			req_add(&q.r, hdr, 16, 1);
			break;
		case H_WRITABLE_WITH_STATUS:
			req_add(&q.r, hdr, 17, 1);
			st = hdr + 16;
			break;
		case H_WRITABLE_OUT_DATA:
			req_add(&q.r, hdr, 16, 1);
			req_add(&q.r, data, 512, 1);
			break;
		case H_SHORT8:
			req_add(&q.r, hdr, 8, 0);
			break;
		case H_SHORT15:
			req_add(&q.r, hdr, 15, 0);
			break;
		case H_SPLIT_OUT:
			req_add(&q.r, hdr, 8, 0);
			req_add(&q.r, hdr + 8, 8, 0);
			req_add(&q.r, data, 512, 0);
			break;
		case H_SPLIT_IN:
			req_add(&q.r, hdr, 3, 0);
			req_add(&q.r, hdr + 3, 13, 0);
			req_add(&q.r, data, 512, 1);
			break;
		}
		if (cases[i].shape != H_WRITABLE_WITH_STATUS)
			req_add(&q.r, st, 1, 1);
		q.status = st;
		CHECK_EQ(name, drv_run(t, &q, 0), cases[i].want_len);
		CHECK_EQ(name, breq_status(t, &q), cases[i].want);
		if (cases[i].shape == H_SPLIT_OUT)
			memcpy(t->shadow + 4 * SECTOR, wbuf, 512);
		if (cases[i].shape == H_SPLIT_IN)
			CHECK(name, memcmp(gp(t, data, 512), t->shadow + 4 * SECTOR, 512) == 0);
		check_image_named(t, name);
	}
}

static void test_no_status_needs_reset(void **state)
{
	enum shape { S_ALL_READABLE, S_HEADER_ONLY, S_ONE_DESCRIPTOR };
	static const struct {
		const char *name;
		enum shape shape;
		int indirect;
	} cases[] = {
		{ "header, data, status all readable", S_ALL_READABLE, 0 },
		{ "the same, indirect", S_ALL_READABLE, 1 },
		{ "header alone", S_HEADER_ONLY, 0 },
		{ "header, data and status in one readable descriptor", S_ONE_DESCRIPTOR, 0 },
	};
	struct tb *t = *state;

	for (size_t i = 0; i < nitems(cases); i++) {
		const char *name = cases[i].name;
		struct thdr h = { .type = VIRTIO_BLK_T_OUT, .sector = 0 };
		uint64_t hdr = galloc(t, 16 + 512 + 1, 0x5a, 0);
		uint32_t gen;
		struct treq r;

		drv_setup(t, 16, F_IND, 1);
		gen = rd(t, R_CONFIG_GEN);
		assert_int_equal(mem_write(&t->mem, hdr, &h, sizeof(h)), 0);
		memset(&r, 0, sizeof(r));
		switch (cases[i].shape) {
		case S_ALL_READABLE:
			req_add(&r, hdr, 16, 0);
			req_add(&r, hdr + 16, 512, 0);
			req_add(&r, hdr + 16 + 512, 1, 0);
			break;
		case S_HEADER_ONLY:
			req_add(&r, hdr, 16, 0);
			break;
		case S_ONE_DESCRIPTOR:
			req_add(&r, hdr, 16 + 512 + 1, 0);
			break;
		}
		drv_submit(t, &r, cases[i].indirect);
		drv_kick(t);
		expect_broken(t, name, 0, 0);
		CHECK(name, rd(t, R_CONFIG_GEN) != gen);
		CHECK_EQ(name, *(uint8_t *)gp(t, hdr + 16 + 512, 1), 0x5a);
		check_image_named(t, name);
		/* the driver acks the config interrupt, resets and starts over */
		wr(t, R_INT_ACK, VIRTIO_INT_CONFIG);
		CHECK_EQ(name, rd(t, R_INT_STATUS), 0);
		expect_recovers(t, name, F_IND);
		drv_reset(t);
		t->irqs = 0;
	}
}

enum viol {
	V_GOOD,
	V_GOOD_INDIRECT,
	V_AVAIL_JUMP,
	V_AVAIL_BACK,
	V_HEAD,
	V_HEAD_FFFF,
	V_LOOP,
	V_SELF_LOOP,
	V_NEXT,
	V_ADDR_END,
	V_ADDR_HOLE,
	V_ADDR_WRAP,
	V_ADDR_HDR,
	V_ADDR_STATUS,
	V_LEN0,
	V_ORDER,
	V_IND_NOT_NEGOTIATED,
	V_IND_NESTED,
	V_IND_NEXT,
	V_IND_LEN0,
	V_IND_LEN56,
	V_IND_MISALIGNED,
	V_IND_TOO_BIG,
	V_IND_OUTSIDE,
	V_IND_LOOP,
	V_IND_NEXT_OOR,
	V_IND_ADDR,
};

/*
 * Publish an OUT of one sector to sector 0, broken as kind says: the good chain
 * is header, data, status in descriptors 0, 1, 2 (or entries 0, 1, 2 of an
 * indirect table), and each kind changes one thing. Where a bad index points
 * just past a table, a good descriptor waits there, so that an off-by-one in
 * the device would complete the write rather than fail on a zero descriptor.
 */
static void submit_violation(struct tb *t, enum viol kind, const uint8_t *data_bytes)
{
	struct thdr h = { .type = VIRTIO_BLK_T_OUT, .sector = 0 };
	uint64_t hdr = galloc(t, 16, 0, 0), data = galloc(t, 512, 0, 0);
	uint64_t st = galloc(t, 1, 0xff, 0), tbl = galloc(t, 16 * 260, 0, 0);
	uint64_t mis = galloc(t, 48, 0, 4), outer = galloc(t, 16, 0, 0);
	uint16_t qs = t->qsize;

	assert_int_equal(mem_write(&t->mem, hdr, &h, sizeof(h)), 0);
	memcpy(gp(t, data, 512), data_bytes, 512);
	desc_set(t, 0, hdr, 16, DESC_F_NEXT, 1);
	desc_set(t, 1, data, 512, DESC_F_NEXT, 2);
	desc_set(t, 2, st, 1, DESC_F_WRITE, 0);
	for (uint64_t table = tbl; table; table = table == tbl ? mis : 0) {
		desc_put(t, table, 0, hdr, 16, DESC_F_NEXT, 1);
		desc_put(t, table, 1, data, 512, DESC_F_NEXT, 2);
		desc_put(t, table, 2, st, 1, DESC_F_WRITE, 0);
	}
	if (kind >= V_IND_NOT_NEGOTIATED || kind == V_GOOD_INDIRECT)
		desc_set(t, 0, tbl, 48, DESC_F_INDIRECT, 0);
	switch (kind) {
	case V_GOOD:
	case V_GOOD_INDIRECT:
	case V_IND_NOT_NEGOTIATED:
		break;
	case V_AVAIL_JUMP:
		avail_publish(t, 0);
		avail_set_idx(t, qs + 1);
		return;
	case V_AVAIL_BACK:
		avail_publish(t, 0);
		avail_set_idx(t, 0xffff);
		return;
	case V_HEAD:
		/* just past the table, a well-formed chain the device must not follow */
		desc_put(t, DESC_GPA, qs, hdr, 16, DESC_F_NEXT, 1);
		avail_publish(t, qs);
		return;
	case V_HEAD_FFFF:
		avail_publish(t, 0xffff);
		return;
	case V_LOOP:
		desc_set(t, 1, data, 512, DESC_F_NEXT, 0);
		break;
	case V_SELF_LOOP:
		desc_set(t, 0, hdr, 16, DESC_F_NEXT, 0);
		break;
	case V_NEXT:
		desc_set(t, 0, hdr, 16, DESC_F_NEXT, qs);
		desc_put(t, DESC_GPA, qs, data, 512, DESC_F_NEXT, 2);
		break;
	case V_ADDR_END:
		desc_set(t, 1, MEM_SIZE - 256, 512, DESC_F_NEXT, 2);
		break;
	case V_ADDR_HOLE:
		desc_set(t, 1, LAYOUT_VIRTIO_MMIO_BASE, 512, DESC_F_NEXT, 2);
		break;
	case V_ADDR_WRAP:
		desc_set(t, 1, UINT64_MAX - 255, 512, DESC_F_NEXT, 2);
		break;
	case V_ADDR_HDR:
		desc_set(t, 0, MEM_SIZE, 16, DESC_F_NEXT, 1);
		break;
	case V_ADDR_STATUS:
		desc_set(t, 2, MEM_SIZE + 4096, 1, DESC_F_WRITE, 0);
		break;
	case V_LEN0:
		desc_set(t, 1, data, 0, DESC_F_NEXT, 2);
		break;
	case V_ORDER:
		desc_set(t, 0, hdr, 16, DESC_F_NEXT, 2);
		desc_set(t, 2, st, 1, DESC_F_WRITE | DESC_F_NEXT, 1);
		desc_set(t, 1, data, 512, 0, 0);
		break;
	case V_IND_NESTED:
		desc_put(t, outer, 0, tbl, 48, DESC_F_INDIRECT, 0);
		desc_set(t, 0, outer, 16, DESC_F_INDIRECT, 0);
		break;
	case V_IND_NEXT:
		desc_set(t, 0, tbl, 48, DESC_F_INDIRECT | DESC_F_NEXT, 1);
		desc_set(t, 1, st, 1, DESC_F_WRITE, 0);
		break;
	case V_IND_LEN0:
		desc_set(t, 0, tbl, 0, DESC_F_INDIRECT, 0);
		break;
	case V_IND_LEN56:
		/* the good three entries and half a fourth */
		desc_set(t, 0, tbl, 56, DESC_F_INDIRECT, 0);
		break;
	case V_IND_MISALIGNED:
		desc_set(t, 0, mis, 48, DESC_F_INDIRECT, 0);
		break;
	case V_IND_TOO_BIG:
		desc_set(t, 0, tbl, 16 * (VIRTQ_MAX_SEGS + 1), DESC_F_INDIRECT, 0);
		break;
	case V_IND_OUTSIDE:
		desc_set(t, 0, MEM_SIZE - 32, 48, DESC_F_INDIRECT, 0);
		break;
	case V_IND_LOOP:
		desc_put(t, tbl, 1, data, 512, DESC_F_NEXT, 0);
		break;
	case V_IND_NEXT_OOR:
		desc_put(t, tbl, 1, data, 512, DESC_F_NEXT, 3);
		desc_put(t, tbl, 3, st, 1, DESC_F_WRITE, 0); /* past the table's 48 bytes */
		break;
	case V_IND_ADDR:
		desc_put(t, tbl, 1, MEM_SIZE - 100, 512, DESC_F_NEXT, 2);
		break;
	}
	avail_publish(t, 0);
}

static void test_ring_violations(void **state)
{
	static const struct {
		const char *name;
		enum viol kind;
		uint64_t features;
	} cases[] = {
		{ "control: the good chain", V_GOOD, F_IND },
		{ "control: the good chain, indirect", V_GOOD_INDIRECT, F_IND },
		{ "avail idx jumps past the queue size", V_AVAIL_JUMP, F_IND },
		{ "avail idx goes backwards", V_AVAIL_BACK, F_IND },
		{ "head == queue size", V_HEAD, F_IND },
		{ "head 0xffff", V_HEAD_FFFF, F_IND },
		{ "a loop 0 -> 1 -> 0", V_LOOP, F_IND },
		{ "a self loop", V_SELF_LOOP, F_IND },
		{ "next == queue size", V_NEXT, F_IND },
		{ "data crossing the end of RAM", V_ADDR_END, F_IND },
		{ "data in the MMIO hole", V_ADDR_HOLE, F_IND },
		{ "data address wrapping", V_ADDR_WRAP, F_IND },
		{ "header beyond RAM", V_ADDR_HDR, F_IND },
		{ "status beyond RAM", V_ADDR_STATUS, F_IND },
		{ "zero-length data descriptor", V_LEN0, F_IND },
		{ "readable after writable", V_ORDER, F_IND },
		{ "indirect not negotiated", V_IND_NOT_NEGOTIATED, 0 },
		{ "nested indirect", V_IND_NESTED, F_IND },
		{ "indirect with NEXT", V_IND_NEXT, F_IND },
		{ "indirect table of length 0", V_IND_LEN0, F_IND },
		{ "indirect table of 56 bytes", V_IND_LEN56, F_IND },
		{ "indirect table misaligned", V_IND_MISALIGNED, F_IND },
		{ "indirect table of 257 entries", V_IND_TOO_BIG, F_IND },
		{ "indirect table beyond RAM", V_IND_OUTSIDE, F_IND },
		{ "a loop in the indirect table", V_IND_LOOP, F_IND },
		{ "next beyond the indirect table", V_IND_NEXT_OOR, F_IND },
		{ "indirect entry beyond RAM", V_IND_ADDR, F_IND },
	};
	struct tb *t = *state;

	pattern(wbuf, 512, 9);
	for (size_t i = 0; i < nitems(cases); i++) {
		const char *name = cases[i].name;

		drv_setup(t, 16, cases[i].features, 1);
		t->irqs = 0;
		submit_violation(t, cases[i].kind, wbuf);
		drv_kick(t);
		if (cases[i].kind == V_GOOD || cases[i].kind == V_GOOD_INDIRECT) {
			CHECK_EQ(name, rd(t, R_STATUS), ST_LIVE);
			CHECK_EQ(name, drv_take_used(t, 0), 1);
			CHECK_EQ(name, t->irqs, 1);
			memcpy(t->shadow, wbuf, 512);
			check_image_named(t, name);
			image_refill(t, (unsigned int)i);
		} else {
			expect_broken(t, name, 0, 0);
			check_image_named(t, name);
			expect_recovers(t, name, cases[i].features);
		}
		drv_reset(t);
	}
}

/* A good request and a broken one in the same kick: the first completes, then the device stops. */
static void test_good_then_bad(void **state)
{
	struct tb *t = *state;
	uint64_t hdr2 = 0;
	struct breq q;
	uint16_t head;

	drv_setup(t, 16, 0, 1);
	breq_simple(t, &q, VIRTIO_BLK_T_OUT, 9, 0, 512);
	pattern(wbuf, 512, 3);
	breq_put(t, &q, wbuf);
	head = drv_submit(t, &q.r, 0);
	/* then a header looping on itself, with an OUT to sector 10 */
	hdr2 = galloc(t, 16, 0, 0);
	assert_int_equal(mem_write(&t->mem, hdr2,
				   &(struct thdr){ .type = VIRTIO_BLK_T_OUT, .sector = 10 }, 16),
			 0);
	desc_set(t, 8, hdr2, 16, DESC_F_NEXT, 8);
	avail_publish(t, 8);
	drv_kick(t);
	assert_int_equal(drv_take_used(t, head), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	assert_true(rd(t, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd(t, R_INT_STATUS), VIRTIO_INT_USED | VIRTIO_INT_CONFIG);
	assert_int_equal(t->irqs, 2);
	assert_int_equal(used_idx(t), 1);
	memcpy(t->shadow + 9 * SECTOR, wbuf, 512);
	check_image(t);
	expect_recovers(t, __func__, 0);
}

static void test_queue_setup_violations(void **state)
{
	static const struct {
		const char *name;
		uint32_t num;
		uint64_t desc, avail, used;
		int ok;
	} cases[] = {
		{ "control", 16, DESC_GPA, AVAIL_GPA, USED_GPA, 1 },
		{ "descriptor table ends at the end of RAM", 16, MEM_SIZE - 256, AVAIL_GPA,
		  USED_GPA, 1 },
		{ "avail ring ends at the end of RAM", 16, DESC_GPA, MEM_SIZE - 38, USED_GPA, 1 },
		{ "QueueNum 0", 0, DESC_GPA, AVAIL_GPA, USED_GPA, 0 },
		{ "QueueNum 3", 3, DESC_GPA, AVAIL_GPA, USED_GPA, 0 },
		{ "QueueNum 48", 48, DESC_GPA, AVAIL_GPA, USED_GPA, 0 },
		{ "QueueNum 512", 512, DESC_GPA, AVAIL_GPA, USED_GPA, 0 },
		{ "QueueNum 65536", 65536, DESC_GPA, AVAIL_GPA, USED_GPA, 0 },
		{ "descriptor table misaligned", 16, DESC_GPA + 8, AVAIL_GPA, USED_GPA, 0 },
		{ "avail ring misaligned", 16, DESC_GPA, AVAIL_GPA + 1, USED_GPA, 0 },
		{ "used ring misaligned", 16, DESC_GPA, AVAIL_GPA, USED_GPA + 2, 0 },
		{ "descriptor table crossing the end of RAM", 16, MEM_SIZE - 128, AVAIL_GPA,
		  USED_GPA, 0 },
		{ "descriptor table above 4 GiB", 16, DESC_GPA | (1ull << 32), AVAIL_GPA, USED_GPA,
		  0 },
		{ "avail ring without room for used_event", 16, DESC_GPA, MEM_SIZE - 36, USED_GPA,
		  0 },
		{ "used ring without room for avail_event", 16, DESC_GPA, AVAIL_GPA,
		  MEM_SIZE - 4 - 8 * 16, 0 },
		{ "used ring in the MMIO hole", 16, DESC_GPA, AVAIL_GPA, LAYOUT_VIRTIO_MMIO_BASE, 0 },
	};
	struct tb *t = *state;

	for (size_t i = 0; i < nitems(cases); i++) {
		const char *name = cases[i].name;

		t->irqs = 0;
		CHECK(name, drv_begin(t, F_V1));
		drv_queue(t, cases[i].num, cases[i].desc, cases[i].avail, cases[i].used);
		CHECK_EQ(name, rd(t, R_QUEUE_READY), cases[i].ok);
		if (cases[i].ok) {
			CHECK_EQ(name, rd(t, R_STATUS), ST_FEATURES);
			CHECK_EQ(name, t->irqs, 0);
		} else {
			CHECK(name, rd(t, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
			CHECK(name, rd(t, R_INT_STATUS) & VIRTIO_INT_CONFIG);
			CHECK_EQ(name, t->irqs, 1);
		}
		drv_reset(t);
	}
	expect_recovers(t, __func__, 0);
}

/*
 * n one-sector OUTs in one kick, then n INs of them in another; each used in
 * submission order, one interrupt per kick. merged: two descriptors a request.
 */
static void run_batch(struct tb *t, struct breq *q, unsigned int n, int indirect, int merged,
		      unsigned int seed)
{
	unsigned int irqs = t->irqs;
	uint16_t heads[VIRTQ_MAX_SIZE];
	uint16_t used0 = t->used_seen;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t sector = (seed * 7 + i * 5) % CAPACITY;
		uint32_t len = SECTOR;

		breq_build(t, &q[i], VIRTIO_BLK_T_OUT, sector, 0, &len, 1, merged, 0);
		pattern(wbuf, SECTOR, seed + i);
		breq_put(t, &q[i], wbuf);
		memcpy(t->shadow + sector * SECTOR, wbuf, SECTOR);
		heads[i] = drv_submit(t, &q[i].r, indirect);
	}
	assert_int_equal(used_idx(t), used0);
	drv_kick(t);
	assert_int_equal(t->irqs, irqs + 1);
	assert_int_equal(used_idx(t), (uint16_t)(used0 + n));
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(drv_take_used(t, heads[i]), 1);
		assert_int_equal(breq_status(t, &q[i]), VIRTIO_BLK_S_OK);
	}
	check_image(t);

	for (unsigned int i = 0; i < n; i++) {
		uint64_t sector = (seed * 7 + i * 5) % CAPACITY;
		uint32_t len = SECTOR;

		/* merged: the data and the status share a descriptor */
		breq_build(t, &q[i], VIRTIO_BLK_T_IN, sector, 1, &len, 1, 0, merged);
		heads[i] = drv_submit(t, &q[i].r, indirect);
	}
	drv_kick(t);
	assert_int_equal(t->irqs, irqs + 2);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t sector = (seed * 7 + i * 5) % CAPACITY;

		assert_int_equal(drv_take_used(t, heads[i]), SECTOR + 1);
		assert_int_equal(breq_status(t, &q[i]), VIRTIO_BLK_S_OK);
		breq_get(t, &q[i], rbuf);
		assert_memory_equal(rbuf, t->shadow + sector * SECTOR, SECTOR);
	}
}

static void test_many_in_one_kick(void **state)
{
	struct tb *t = *state;
	struct breq *q = t->reqs;

	/* 64 indirect requests: every avail slot and every descriptor of a 64-entry queue */
	drv_setup(t, 64, F_IND, 1);
	run_batch(t, q, 64, 1, 0, 1);
	run_batch(t, q, 64, 1, 0, 2);
	drv_reset(t);
	/* 32 direct two-descriptor requests (header and data in one) fill the table; the
	 * ring indexes wrap past the queue size over the rounds */
	drv_setup(t, 64, 0, 1);
	for (unsigned int round = 0; round < 5; round++)
		run_batch(t, q, 32, 0, 1, 10 + round);
}

/* n flushes in one kick; all must complete. */
static void flush_batch(struct tb *t, unsigned int n)
{
	uint16_t heads[VIRTQ_MAX_SIZE];
	struct breq q;

	for (unsigned int i = 0; i < n; i++) {
		breq_simple(t, &q, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
		heads[i] = drv_submit(t, &q.r, 0);
	}
	drv_kick(t);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(drv_take_used(t, heads[i]), 1);
	assert_int_equal(used_idx(t), t->used_seen);
	assert_int_equal(rd(t, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void test_event_idx(void **state)
{
	static const struct {
		const char *name;
		uint16_t used_event; /* set before the batch */
		uint16_t avail_flags;
		unsigned int n;
		int irq;
	} rounds[] = {
		/* used 0 -> 4; used_event 0 lies in it */
		{ "used_event 0, first batch", 0, 0, 4, 1 },
		/* 4 -> 12 */
		{ "used_event far ahead", 4 + 1000, 0, 8, 0 },
		/* 12 -> 16 */
		{ "used_event inside the batch", 13, 0, 4, 1 },
		/* 16 -> 20 */
		{ "used_event already passed", 15, 0, 4, 0 },
		/* 20 -> 24: the last entry of the batch */
		{ "used_event the last new entry", 23, 0, 4, 1 },
		/* 24 -> 28: one past the batch */
		{ "used_event one past the batch", 28, 0, 4, 0 },
		/* 28 -> 29: NO_INTERRUPT is ignored with EVENT_IDX (2.7.7.2) */
		{ "NO_INTERRUPT set, used_event hit", 28, AVAIL_F_NO_INTERRUPT, 1, 1 },
		/* 29 -> 30 */
		{ "used_event far behind", (uint16_t)(29 - 1000), 0, 1, 0 },
	};
	struct tb *t = *state;

	drv_setup(t, 64, F_EVT, 1);
	for (size_t i = 0; i < nitems(rounds); i++) {
		const char *name = rounds[i].name;
		unsigned int irqs = t->irqs;

		set_used_event(t, rounds[i].used_event);
		*avail_at(t, 0) = rounds[i].avail_flags;
		flush_batch(t, rounds[i].n);
		CHECK_EQ(name, t->irqs, irqs + rounds[i].irq);
		/* the device asks for a kick at the next new entry */
		CHECK_EQ(name, avail_event(t), t->avail_idx);
	}
}

static void test_no_interrupt_flag(void **state)
{
	struct tb *t = *state;

	drv_setup(t, 16, 0, 1);
	*avail_at(t, 0) = AVAIL_F_NO_INTERRUPT;
	flush_batch(t, 3);
	assert_int_equal(t->irqs, 0);
	assert_int_equal(rd(t, R_INT_STATUS), 0);
	/* used_event means nothing without EVENT_IDX */
	*avail_at(t, 0) = 0;
	set_used_event(t, 1000);
	flush_batch(t, 2);
	assert_int_equal(t->irqs, 1);
	assert_int_equal(rd(t, R_INT_STATUS), VIRTIO_INT_USED);
	/* and the device never touches avail_event without EVENT_IDX */
	assert_int_equal(avail_event(t), 0);
}

static void test_kick_before_driver_ok(void **state)
{
	struct tb *t = *state;
	struct breq q;
	uint16_t head;

	drv_setup(t, 16, 0, 0);
	breq_simple(t, &q, VIRTIO_BLK_T_OUT, 30, 0, 2048);
	pattern(wbuf, 2048, 11);
	breq_put(t, &q, wbuf);
	head = drv_submit(t, &q.r, 0);
	virtio_kick(&t->b.vd, 0);
	wr(t, R_QUEUE_NOTIFY, 0);
	/* queues that do not exist are ignored too */
	virtio_kick(&t->b.vd, 1);
	virtio_kick(&t->b.vd, 1000);
	wr(t, R_QUEUE_NOTIFY, 1);
	assert_int_equal(used_idx(t), 0);
	assert_int_equal(breq_status(t, &q), 0xff);
	assert_int_equal(t->irqs, 0);
	check_image(t);

	drv_ok(t);
	assert_int_equal(rd(t, R_STATUS), ST_LIVE);
	assert_int_equal(drv_take_used(t, head), 1);
	assert_int_equal(breq_status(t, &q), VIRTIO_BLK_S_OK);
	assert_int_equal(t->irqs, 1);
	memcpy(t->shadow + 30 * SECTOR, wbuf, 2048);
	check_image(t);

	/* a queue the driver took back (QueueReady 0) is not served either */
	breq_simple(t, &q, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	head = drv_submit(t, &q.r, 0);
	wr(t, R_QUEUE_READY, 0);
	drv_kick(t);
	assert_int_equal(used_idx(t), 1);
	assert_int_equal(t->irqs, 1);
}

/* 16-bit ring indexes wrap: more than 65536 requests through an 8-entry queue. */
static void test_index_wrap(void **state)
{
	enum { QS = 8, BATCHES = 65536 / QS + 5 };
	struct tb *t = *state;
	uint64_t hdr[QS], data[QS], st[QS], tbl[QS];

	drv_setup(t, QS, F_IND, 1);
	for (uint16_t s = 0; s < QS; s++) {
		hdr[s] = galloc(t, 16, 0, 0);
		data[s] = galloc(t, SECTOR, 0, 0);
		st[s] = galloc(t, 1, 0, 0);
		tbl[s] = galloc(t, 48, 0, 0);
		desc_put(t, tbl[s], 0, hdr[s], 16, DESC_F_NEXT, 1);
		desc_put(t, tbl[s], 1, data[s], SECTOR, DESC_F_NEXT | DESC_F_WRITE, 2);
		desc_put(t, tbl[s], 2, st[s], 1, DESC_F_WRITE, 0);
		desc_set(t, s, tbl[s], 48, DESC_F_INDIRECT, 0);
	}
	for (unsigned int b = 0; b < BATCHES; b++) {
		for (uint16_t s = 0; s < QS; s++) {
			struct thdr h = { .type = VIRTIO_BLK_T_IN, .sector = (b * QS + s) % CAPACITY };

			assert_int_equal(mem_write(&t->mem, hdr[s], &h, sizeof(h)), 0);
			*(uint8_t *)gp(t, st[s], 1) = 0xff;
			avail_publish(t, s);
		}
		virtio_kick(&t->b.vd, 0);
		assert_int_equal(t->irqs, b + 1);
		for (uint16_t s = 0; s < QS; s++) {
			uint64_t sector = (b * QS + s) % CAPACITY;

			if (drv_take_used(t, s) != SECTOR + 1 ||
			    *(uint8_t *)gp(t, st[s], 1) != VIRTIO_BLK_S_OK ||
			    memcmp(gp(t, data[s], SECTOR), t->shadow + sector * SECTOR, SECTOR))
				fail_msg("batch %u slot %u", b, s);
		}
	}
	assert_true(t->avail_idx < QS * 10); /* it did wrap */
	assert_int_equal(used_idx(t), t->avail_idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bug_data_direction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_and_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_sector_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_status_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_violations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_good_then_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_setup_violations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_in_one_kick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_before_driver_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_wrap, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
