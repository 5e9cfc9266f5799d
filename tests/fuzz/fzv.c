/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fuzzer's virtio-mmio driver (see fzv.h): decodes ops, keeps the
 * register mirror and the memory shadow, and works out which guest bytes
 * the device may write.
 *
 * Which bytes may change: the used ring of every queue layout that was ever
 * live during the input, and every buffer of a descriptor with the WRITE
 * flag found in those layouts' descriptor tables (and the indirect tables
 * they point to), rescanned whenever this driver changed memory. The device
 * can only write through chains it walked, and it walks only descriptors
 * that were in memory at some point; those were either written by this
 * driver (so a scan saw them) or by the device itself, which can only
 * happen when a writable buffer overlaps a descriptor table: such inputs
 * are not judged (the device may then legitimately write anywhere the
 * guest's self-modifying ring sends it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fzv.h"
#include "mem/mem.h"

#define FZV_MAX_OPS 4096 /* per input */
#define FZV_MAX_RANGES 16384
#define FZV_HASH_SLOTS 32768 /* a power of two, at least 2 * FZV_MAX_RANGES */
#define FZV_VERSION_1 (1ull << 32)
#define FZV_EVENT_IDX (1ull << 29)
#define FZV_INDIRECT_DESC (1ull << 28)

static void *fzv_alloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p)
		fz_fail("out of memory (%zu bytes)", n);
	return p;
}

static void ranges_init(struct fzv_ranges *s)
{
	s->r = fzv_alloc(sizeof(*s->r) * FZV_MAX_RANGES);
	s->cap = FZV_MAX_RANGES;
	s->hash = fzv_alloc(sizeof(*s->hash) * FZV_HASH_SLOTS);
	s->n = 0;
	s->overflow = 0;
}

static void ranges_clear(struct fzv_ranges *s)
{
	if (s->n)
		memset(s->hash, 0, sizeof(*s->hash) * FZV_HASH_SLOTS);
	s->n = 0;
	s->overflow = 0;
}

/* Add [gpa, gpa+len) clipped to memory, once. */
static void ranges_add(struct fzv_ranges *s, uint64_t mem_size, uint64_t gpa, uint64_t len)
{
	uint64_t start = gpa, end;
	uint32_t h;

	if (len == 0 || start >= mem_size)
		return;
	end = len > mem_size - start ? mem_size : start + len;
	h = (uint32_t)((start * 0x9e3779b97f4a7c15ull) ^ (end * 0xc2b2ae3d27d4eb4full)) >> 3;
	for (uint32_t i = 0; i < FZV_HASH_SLOTS; i++) {
		uint32_t slot = (h + i) & (FZV_HASH_SLOTS - 1);
		uint32_t idx = s->hash[slot];

		if (idx == 0) {
			if (s->n >= s->cap) {
				s->overflow = 1;
				return;
			}
			s->r[s->n] = (struct fzv_range){ start, end };
			s->hash[slot] = (uint32_t)++s->n;
			return;
		}
		if (s->r[idx - 1].start == start && s->r[idx - 1].end == end)
			return;
	}
	s->overflow = 1;
}

static int range_cmp(const void *a, const void *b)
{
	const struct fzv_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Sort and merge in place (the hash is stale afterwards: call only at the end). */
static size_t ranges_merge(struct fzv_ranges *s)
{
	size_t n = 0;

	qsort(s->r, s->n, sizeof(*s->r), range_cmp);
	for (size_t i = 0; i < s->n; i++) {
		if (n && s->r[i].start <= s->r[n - 1].end) {
			if (s->r[i].end > s->r[n - 1].end)
				s->r[n - 1].end = s->r[i].end;
		} else {
			s->r[n++] = s->r[i];
		}
	}
	s->n = n;
	return n;
}

static int ranges_contain(const struct fzv_ranges *s, uint64_t x)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x < s->r[mid].start)
			hi = mid;
		else if (x >= s->r[mid].end)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

void fzv_guest(struct guest_mem *m, uint64_t size, const char *name)
{
	if (mem_layout(m, size) < 0 || mem_create(m, name) < 0 || mem_map(m) < 0)
		fz_fail("cannot create %llu bytes of sealed guest memory", (unsigned long long)size);
}

void fzv_init(struct fzv *v, const struct fzv_backend *be, uint8_t *mem, uint64_t mem_size)
{
	memset(v, 0, sizeof(*v));
	v->be = be;
	v->mem = mem;
	v->mem_size = mem_size;
	v->shadow = fzv_alloc(mem_size);
	ranges_init(&v->writable);
	ranges_init(&v->tables);
}

static void mirror_reset(struct fzv *v)
{
	v->status = 0;
	v->sel = 0;
	v->drv_sel = 0;
	v->drv_features = 0;
	memset(v->q, 0, sizeof(v->q));
}

void fzv_mem_write(struct fzv *v, uint64_t gpa, const void *src, size_t len)
{
	if (gpa >= v->mem_size)
		return;
	if (len > v->mem_size - gpa)
		len = (size_t)(v->mem_size - gpa);
	memcpy(v->mem + gpa, src, len);
	memcpy(v->shadow + gpa, src, len);
	v->dirty = 1;
}

static int mem_get(const struct fzv *v, uint64_t gpa, void *dst, size_t len)
{
	if (gpa >= v->mem_size || len > v->mem_size - gpa)
		return -1;
	memcpy(dst, v->mem + gpa, len);
	return 0;
}

static void mem_put16(struct fzv *v, uint64_t gpa, uint16_t val)
{
	fzv_mem_write(v, gpa, &val, sizeof(val));
}

uint64_t fzv_read(struct fzv *v, uint64_t off, unsigned int size)
{
	return v->be->io_read(v->be->ctx, off, size);
}

static void live_add(struct fzv *v, const struct fzv_mq *q)
{
	for (unsigned int i = 0; i < v->nlive; i++) {
		const struct fzv_mq *l = &v->live[i];

		if (l->desc == q->desc && l->avail == q->avail && l->used == q->used && l->num == q->num)
			return;
	}
	if (v->nlive >= sizeof(v->live) / sizeof(v->live[0])) {
		v->unchecked = 1;
		return;
	}
	v->live[v->nlive++] = *q;
	v->dirty = 1;
}

static void addr_write(uint64_t *field, int high, uint32_t val)
{
	if (high)
		*field = (*field & 0xffffffffull) | ((uint64_t)val << 32);
	else
		*field = (*field & ~0xffffffffull) | val;
}

void fzv_write(struct fzv *v, uint64_t off, unsigned int size, uint64_t val64)
{
	uint32_t val = (uint32_t)val64;
	struct fzv_mq *q = v->sel < v->be->nqueues && v->sel < FZV_MAXQ ? &v->q[v->sel] : NULL;

	v->be->io_write(v->be->ctx, off, size, val64);
	/* The mirror follows the transport: only aligned 32-bit accesses below config space count. */
	if (size != 4 || off % 4 || off >= FZV_R_CONFIG)
		return;
	switch (off) {
	case FZV_R_DRV_FEAT:
		if (!(v->status & FZV_S_FEATURES_OK) && v->drv_sel <= 1)
			addr_write(&v->drv_features, v->drv_sel == 1, val);
		break;
	case FZV_R_DRV_FEAT_SEL:
		v->drv_sel = val;
		break;
	case FZV_R_QUEUE_SEL:
		v->sel = val;
		break;
	case FZV_R_QUEUE_NUM:
		if (q && !q->ready)
			q->num = val <= 256 ? val : 0;
		break;
	case FZV_R_QUEUE_READY:
		if (!q)
			break;
		if (!(val & 1)) {
			q->ready = 0;
		} else if (!q->ready) {
			/* The device refuses rings outside memory or a bad size: ask it. */
			q->ready = (int)(fzv_read(v, FZV_R_QUEUE_READY, 4) & 1);
			if (q->ready)
				live_add(v, q);
		}
		break;
	case FZV_R_DESC_LO:
	case FZV_R_DESC_HI:
		if (q && !q->ready)
			addr_write(&q->desc, off == FZV_R_DESC_HI, val);
		break;
	case FZV_R_DRIVER_LO:
	case FZV_R_DRIVER_HI:
		if (q && !q->ready)
			addr_write(&q->avail, off == FZV_R_DRIVER_HI, val);
		break;
	case FZV_R_DEVICE_LO:
	case FZV_R_DEVICE_HI:
		if (q && !q->ready)
			addr_write(&q->used, off == FZV_R_DEVICE_HI, val);
		break;
	case FZV_R_STATUS:
		if ((val & 0xff) == 0) {
			uint16_t next[FZV_MAXQ];

			for (unsigned int i = 0; i < FZV_MAXQ; i++)
				next[i] = v->q[i].next_desc;
			mirror_reset(v);
			for (unsigned int i = 0; i < FZV_MAXQ; i++)
				v->q[i].next_desc = next[i];
		} else {
			/* The device may refuse FEATURES_OK: ask it. */
			v->status = (uint32_t)fzv_read(v, FZV_R_STATUS, 4);
		}
		break;
	default:
		break;
	}
}

uint64_t fzv_features(const struct fzv *v)
{
	return (v->status & FZV_S_FEATURES_OK) ? v->drv_features : 0;
}

void fzv_begin(struct fzv *v)
{
	v->be->io_write(v->be->ctx, FZV_R_STATUS, 4, 0);
	if (v->be->sync)
		v->be->sync(v->be->ctx);
	mirror_reset(v);
	memset(v->mem, 0, v->mem_size);
	memset(v->shadow, 0, v->mem_size);
	v->bump = FZV_BUF_START;
	v->nlive = 0;
	v->dirty = 0;
	v->unchecked = 0;
	v->ops = 0;
	ranges_clear(&v->writable);
	ranges_clear(&v->tables);
}

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Record the buffers the device may write for the layouts that were live. */
static void scan(struct fzv *v)
{
	if (!v->dirty || v->unchecked)
		return;
	v->dirty = 0;
	for (unsigned int l = 0; l < v->nlive; l++) {
		const struct fzv_mq *q = &v->live[l];

		ranges_add(&v->tables, v->mem_size, q->desc, 16ull * q->num);
		ranges_add(&v->writable, v->mem_size, q->used, 6 + 8ull * q->num);
		for (uint32_t i = 0; i < q->num; i++) {
			struct vdesc d;

			if (mem_get(v, q->desc + 16ull * i, &d, sizeof(d)) < 0)
				break;
			if (d.flags & FZV_D_INDIRECT) {
				/* what the device accepts as an indirect table */
				if (d.len == 0 || d.len % 16 || d.len / 16 > 256 || d.addr % 8)
					continue;
				ranges_add(&v->tables, v->mem_size, d.addr, d.len);
				for (uint32_t j = 0; j < d.len / 16; j++) {
					struct vdesc e;

					if (mem_get(v, d.addr + 16ull * j, &e, sizeof(e)) < 0)
						break;
					if ((e.flags & FZV_D_WRITE) && !(e.flags & FZV_D_INDIRECT))
						ranges_add(&v->writable, v->mem_size, e.addr, e.len);
				}
			} else if (d.flags & FZV_D_WRITE) {
				ranges_add(&v->writable, v->mem_size, d.addr, d.len);
			}
		}
	}
	if (v->writable.overflow || v->tables.overflow)
		v->unchecked = 1;
}

int fzv_check(struct fzv *v, char *why, size_t len)
{
	v->dirty = 1;
	scan(v);
	if (v->unchecked)
		return 0;
	ranges_merge(&v->writable);
	ranges_merge(&v->tables);
	/* A writable buffer over a descriptor table: the guest's ring rewrites itself; not judged. */
	for (size_t i = 0, j = 0; i < v->writable.n && j < v->tables.n;) {
		if (v->writable.r[i].end <= v->tables.r[j].start)
			i++;
		else if (v->tables.r[j].end <= v->writable.r[i].start)
			j++;
		else
			return 0;
	}
	for (uint64_t off = 0; off < v->mem_size; off += 64) {
		uint64_t n = v->mem_size - off < 64 ? v->mem_size - off : 64;

		if (memcmp(v->mem + off, v->shadow + off, n) == 0)
			continue;
		for (uint64_t i = off; i < off + n; i++) {
			if (v->mem[i] != v->shadow[i] && !ranges_contain(&v->writable, i)) {
				snprintf(why, len,
					 "device wrote guest byte 0x%llx (0x%02x, driver wrote 0x%02x) outside "
					 "every used ring and device-writable buffer",
					 (unsigned long long)i, v->mem[i], v->shadow[i]);
				return -1;
			}
		}
	}
	return 0;
}

static uint64_t bump_alloc(struct fzv *v, uint64_t len, uint64_t align)
{
	uint64_t room = v->mem_size - FZV_BUF_START;
	uint64_t a = (v->bump + align - 1) & ~(align - 1);

	if (len > room)
		return FZV_BUF_START; /* runs off the end of memory: the device must refuse it */
	if (a + len > v->mem_size)
		a = FZV_BUF_START;
	v->bump = a + len;
	return a;
}

static void fzv_setup(struct fzv *v, struct fz *in)
{
	uint8_t flags = fz_u8(in);
	uint64_t offer, feat;
	uint32_t st = FZV_S_ACK | FZV_S_DRIVER;

	fzv_write(v, FZV_R_STATUS, 4, 0);
	fzv_write(v, FZV_R_STATUS, 4, FZV_S_ACK);
	fzv_write(v, FZV_R_STATUS, 4, st);
	fzv_write(v, FZV_R_DEV_FEAT_SEL, 4, 0);
	offer = (uint32_t)fzv_read(v, FZV_R_DEV_FEAT, 4);
	fzv_write(v, FZV_R_DEV_FEAT_SEL, 4, 1);
	offer |= (uint64_t)(uint32_t)fzv_read(v, FZV_R_DEV_FEAT, 4) << 32;
	feat = offer;
	if (flags & FZV_SETUP_FEATURES) {
		uint64_t f = fz_u64(in);

		feat = (flags & FZV_SETUP_RAW_FEATURES) ? f : (offer & f) | FZV_VERSION_1;
	}
	if (flags & FZV_SETUP_NO_EVENT_IDX)
		feat &= ~FZV_EVENT_IDX;
	if (flags & FZV_SETUP_NO_INDIRECT)
		feat &= ~FZV_INDIRECT_DESC;
	fzv_write(v, FZV_R_DRV_FEAT_SEL, 4, 0);
	fzv_write(v, FZV_R_DRV_FEAT, 4, (uint32_t)feat);
	fzv_write(v, FZV_R_DRV_FEAT_SEL, 4, 1);
	fzv_write(v, FZV_R_DRV_FEAT, 4, (uint32_t)(feat >> 32));
	st |= FZV_S_FEATURES_OK;
	fzv_write(v, FZV_R_STATUS, 4, st);
	for (unsigned int q = 0; q < v->be->nqueues && q < FZV_MAXQ; q++) {
		uint8_t code = fz_u8(in);
		uint32_t size = (code & 0x80) ? fz_u16(in) : 1u << (code % 9);
		uint64_t desc = FZV_QBASE(q), avail = desc + 0x1000, used = desc + 0x2000;

		if (flags & FZV_SETUP_ADDRS) {
			desc = fz_u32(in);
			avail = fz_u32(in);
			used = fz_u32(in);
		}
		fzv_write(v, FZV_R_QUEUE_SEL, 4, q);
		fzv_write(v, FZV_R_QUEUE_NUM, 4, size);
		fzv_write(v, FZV_R_DESC_LO, 4, (uint32_t)desc);
		fzv_write(v, FZV_R_DESC_HI, 4, (uint32_t)(desc >> 32));
		fzv_write(v, FZV_R_DRIVER_LO, 4, (uint32_t)avail);
		fzv_write(v, FZV_R_DRIVER_HI, 4, (uint32_t)(avail >> 32));
		fzv_write(v, FZV_R_DEVICE_LO, 4, (uint32_t)used);
		fzv_write(v, FZV_R_DEVICE_HI, 4, (uint32_t)(used >> 32));
		fzv_write(v, FZV_R_QUEUE_READY, 4, 1);
	}
	if (!(flags & FZV_SETUP_NO_DRIVER_OK))
		fzv_write(v, FZV_R_STATUS, 4, st | FZV_S_DRIVER_OK);
}

struct seg {
	uint64_t addr;
	uint32_t len;
	uint8_t flags;
};

static void fzv_chain(struct fzv *v, struct fz *in)
{
	unsigned int qi = fz_u8(in) % (v->be->nqueues ? v->be->nqueues : 1);
	uint8_t shape = fz_u8(in);
	unsigned int n = FZV_CHAIN_NSEG(shape);
	struct fzv_mq *q = &v->q[qi < FZV_MAXQ ? qi : 0];
	uint32_t num = q->num;
	struct seg s[8];
	uint16_t head, idx;

	/* Consume every operand first, so the input decodes the same whatever the state. */
	for (unsigned int i = 0; i < n; i++) {
		uint8_t fill[255];
		uint8_t nfill;

		s[i].len = fz_u16(in);
		s[i].flags = fz_u8(in);
		s[i].addr = (s[i].flags & FZV_SEG_RAW_ADDR) ? fz_u32(in) : bump_alloc(v, s[i].len, 16);
		nfill = fz_u8(in);
		fz_take(in, fill, nfill);
		fzv_mem_write(v, s[i].addr, fill, nfill < s[i].len ? nfill : s[i].len);
	}
	if (num == 0 || num > 256 || (num & (num - 1)))
		return; /* no usable ring to post to */
	head = q->next_desc % num;
	if (shape & FZV_CHAIN_INDIRECT) {
		uint64_t table = bump_alloc(v, 16ull * n, 16);
		struct vdesc d = { .addr = table, .len = 16 * n, .flags = FZV_D_INDIRECT };

		for (unsigned int i = 0; i < n; i++) {
			struct vdesc e = {
				.addr = s[i].addr,
				.len = s[i].len,
				.flags = (uint16_t)(((s[i].flags & FZV_SEG_WRITE) ? FZV_D_WRITE : 0) |
						    (i + 1 < n ? FZV_D_NEXT : 0)),
				.next = (uint16_t)(i + 1 < n ? i + 1 : 0),
			};

			fzv_mem_write(v, table + 16ull * i, &e, sizeof(e));
		}
		fzv_mem_write(v, q->desc + 16ull * head, &d, sizeof(d));
		q->next_desc++;
	} else {
		for (unsigned int i = 0; i < n; i++) {
			uint16_t at = (uint16_t)((q->next_desc + i) % num);
			uint16_t nx = (uint16_t)((q->next_desc + i + 1) % num);
			struct vdesc d = {
				.addr = s[i].addr,
				.len = s[i].len,
				.flags = (uint16_t)(((s[i].flags & FZV_SEG_WRITE) ? FZV_D_WRITE : 0) |
						    (i + 1 < n ? FZV_D_NEXT : 0)),
				.next = (uint16_t)(i + 1 < n ? nx : 0),
			};

			fzv_mem_write(v, q->desc + 16ull * at, &d, sizeof(d));
		}
		q->next_desc = (uint16_t)(q->next_desc + n);
	}
	if (shape & FZV_CHAIN_NO_PUBLISH)
		return;
	if (mem_get(v, q->avail + 2, &idx, sizeof(idx)) < 0)
		return;
	mem_put16(v, q->avail + 4 + 2ull * (idx % num), head);
	mem_put16(v, q->avail + 2, (uint16_t)(idx + 1));
}

void fzv_run(struct fzv *v, struct fz *in)
{
	static const unsigned int sizes[4] = { 1, 2, 4, 8 };

	while (!fz_empty(in) && v->ops++ < FZV_MAX_OPS) {
		uint8_t op = fz_u8(in) % FZV_NOPS;
		unsigned int nq = v->be->nqueues ? v->be->nqueues : 1;

		scan(v);
		switch (op) {
		case FZV_OP_WRITE32: {
			uint64_t off = (uint64_t)fz_u8(in) * 4;

			fzv_write(v, off, 4, fz_u32(in));
			break;
		}
		case FZV_OP_READ32:
			(void)fzv_read(v, (uint64_t)fz_u8(in) * 4, 4);
			break;
		case FZV_OP_ACCESS: {
			uint8_t fl = fz_u8(in);
			unsigned int size = sizes[(fl >> 1) & 3];
			uint64_t off = fz_u16(in) % FZV_WINDOW, val = fz_u64(in);

			if (off > FZV_WINDOW - size)
				off = FZV_WINDOW - size;
			if (fl & 1)
				fzv_write(v, off, size, val);
			else
				(void)fzv_read(v, off, size);
			break;
		}
		case FZV_OP_MEM: {
			uint8_t buf[256];
			uint64_t gpa = fz_u32(in) % v->mem_size;
			size_t n = (size_t)fz_u8(in) + 1;

			fz_take(in, buf, n);
			fzv_mem_write(v, gpa, buf, n);
			break;
		}
		case FZV_OP_KICK:
			v->be->kick(v->be->ctx, fz_u8(in) % nq);
			break;
		case FZV_OP_SETUP:
			fzv_setup(v, in);
			break;
		case FZV_OP_CHAIN:
			fzv_chain(v, in);
			break;
		case FZV_OP_AVAIL_IDX: {
			const struct fzv_mq *q = &v->q[(fz_u8(in) % nq) % FZV_MAXQ];

			mem_put16(v, q->avail + 2, fz_u16(in));
			break;
		}
		case FZV_OP_STATUS:
			fzv_write(v, FZV_R_STATUS, 4, fz_u8(in));
			break;
		case FZV_OP_BACKEND: {
			uint8_t sub = fz_u8(in);

			if (v->be->backend)
				v->be->backend(v->be->ctx, in, sub);
			break;
		}
		case FZV_OP_SYNC:
			if (v->be->sync)
				v->be->sync(v->be->ctx);
			break;
		case FZV_OP_EVENT: {
			const struct fzv_mq *q = &v->q[(fz_u8(in) % nq) % FZV_MAXQ];

			mem_put16(v, q->avail + 4 + 2ull * q->num, fz_u16(in));
			break;
		}
		default:
			break;
		}
		scan(v);
		if (v->be->after_op)
			v->be->after_op(v->be->ctx);
	}
	if (v->be->sync)
		v->be->sync(v->be->ctx);
}

/* Seed encoding. */

void fzw_setup(struct fzw *w, uint8_t flags, uint64_t features, unsigned int nq, const uint16_t *sizes)
{
	fzw_u8(w, FZV_OP_SETUP);
	fzw_u8(w, flags);
	if (flags & FZV_SETUP_FEATURES)
		fzw_u64(w, features);
	for (unsigned int q = 0; q < nq; q++) {
		unsigned int code = 0;

		while (code < 8 && (1u << code) < sizes[q])
			code++;
		if ((1u << code) == sizes[q]) {
			fzw_u8(w, (uint8_t)code);
		} else {
			fzw_u8(w, 0x80);
			fzw_u16(w, sizes[q]);
		}
		if (flags & FZV_SETUP_ADDRS) {
			fzw_u32(w, (uint32_t)FZV_QBASE(q));
			fzw_u32(w, (uint32_t)FZV_QBASE(q) + 0x1000);
			fzw_u32(w, (uint32_t)FZV_QBASE(q) + 0x2000);
		}
	}
}

void fzw_kick(struct fzw *w, uint8_t q)
{
	fzw_u8(w, FZV_OP_KICK);
	fzw_u8(w, q);
}

void fzw_chain(struct fzw *w, uint8_t q, uint8_t shape_flags, const struct fzw_seg *segs, unsigned int n)
{
	fzw_u8(w, FZV_OP_CHAIN);
	fzw_u8(w, q);
	fzw_u8(w, (uint8_t)(((n - 1) & 7) | (shape_flags & ~7u)));
	for (unsigned int i = 0; i < n; i++) {
		fzw_u16(w, segs[i].len);
		fzw_u8(w, segs[i].flags & ~FZV_SEG_RAW_ADDR);
		fzw_u8(w, segs[i].nfill);
		fzw_bytes(w, segs[i].fill, segs[i].nfill);
	}
}
