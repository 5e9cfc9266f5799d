/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The split virtqueue (virtio 1.2 section 2.7). The guest may change any
 * ring byte at any moment, so each field is read once (a descriptor is
 * copied before it is checked) and every address goes through mem_ptr.
 */
#include <errno.h>
#include <string.h>

#include "virtio.h"

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_DESC_SIZE 16
#define VIRTQ_INDIRECT_ALIGN 8 /* the natural alignment of a descriptor's fields */

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vdesc) == VIRTQ_DESC_SIZE, "descriptor size");

struct vused_elem {
	uint32_t id;
	uint32_t len;
};

/* Ring field accessors: the rings are shared with a running guest. */
static uint16_t *avail_field(const struct virtq *q, unsigned int i)
{
	return (uint16_t *)q->avail + i; /* 0 flags, 1 idx, 2.. ring, 2+size used_event */
}

static uint16_t *used_field(const struct virtq *q, unsigned int i)
{
	return (uint16_t *)q->used + i; /* 0 flags, 1 idx */
}

static struct vused_elem *used_ring(const struct virtq *q)
{
	return (struct vused_elem *)((uint8_t *)q->used + 4);
}

static uint16_t *used_avail_event(const struct virtq *q)
{
	return (uint16_t *)((uint8_t *)q->used + 4 + 8 * (size_t)q->size);
}

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* [a, a+alen) and [b, b+blen) share a byte; lengths are small, addresses may be anything. */
static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen && a + alen > a && b + blen > b;
}

static void live_store(uint16_t *p, uint16_t v)
{
	if (p)
		__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

void virtq_persist(struct virtq *q, uint16_t *avail, uint16_t *used)
{
	q->live_avail = avail;
	q->live_used = used;
	live_store(avail, q->last_avail);
	live_store(used, q->used_idx);
}

int virtq_resume(struct virtq *q, uint16_t used_idx)
{
	uint16_t avail_idx;

	if (!q->used)
		return -EINVAL;
	avail_idx = __atomic_load_n(avail_field(q, 1), __ATOMIC_ACQUIRE);
	if ((uint16_t)(avail_idx - used_idx) > q->size)
		return -EINVAL;
	q->last_avail = q->used_idx = used_idx;
	live_store(q->live_avail, used_idx);
	live_store(q->live_used, used_idx);
	__atomic_store_n(used_field(q, 1), used_idx, __ATOMIC_RELEASE);
	q->signalled_valid = 0;
	return 0;
}

static uint64_t desc_bytes(const struct virtq *q)
{
	return VIRTQ_DESC_SIZE * (uint64_t)q->size;
}

static uint64_t avail_bytes(const struct virtq *q)
{
	return 6 + 2 * (uint64_t)q->size;
}

static uint64_t used_bytes(const struct virtq *q)
{
	return 6 + 8 * (uint64_t)q->size;
}

/* The rings the device reads (descriptor table, avail ring) of q share a byte with
 * [addr, addr + len). */
static int over_read_rings(const struct virtq *q, uint64_t addr, uint64_t len)
{
	return ranges_overlap(addr, len, q->desc_gpa, desc_bytes(q)) ||
	       ranges_overlap(addr, len, q->avail_gpa, avail_bytes(q));
}

/* Queues a and b (two of them) overlap where the device writes: a used ring over any
 * ring of the other queue. */
static int used_over_rings(const struct virtq *a, const struct virtq *b)
{
	return over_read_rings(b, a->used_gpa, used_bytes(a)) ||
	       over_read_rings(a, b->used_gpa, used_bytes(b)) ||
	       ranges_overlap(a->used_gpa, used_bytes(a), b->used_gpa, used_bytes(b));
}

/* Whether device-written bytes at [addr, addr + len) would land on a ring the device
 * reads, of q or of a started sibling. */
static int over_any_read_ring(const struct virtq *q, uint64_t addr, uint64_t len)
{
	if (over_read_rings(q, addr, len))
		return 1;
	for (unsigned int i = 0; i < q->nsiblings; i++) {
		const struct virtq *s = &q->siblings[i];

		if (s != q && s->desc && over_read_rings(s, addr, len))
			return 1;
	}
	return 0;
}

enum virtq_error virtq_start(struct virtq *q, const struct guest_mem *mem)
{
	uint64_t n = q->size;

	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return VIRTQ_E_RING;
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return VIRTQ_E_RING;
	/* A used ring is the device's to write: over a descriptor table or an avail
	 * ring, of this queue or another, each push would hand the device new work of
	 * its own making, and a kick would never end. */
	if (over_read_rings(q, q->used_gpa, used_bytes(q)))
		return VIRTQ_E_RING;
	for (unsigned int i = 0; i < q->nsiblings; i++) {
		const struct virtq *s = &q->siblings[i];

		if (s != q && s->desc && used_over_rings(q, s))
			return VIRTQ_E_RING;
	}
	q->desc = mem_ptr(mem, q->desc_gpa, VIRTQ_DESC_SIZE * n);
	q->avail = mem_ptr(mem, q->avail_gpa, 6 + 2 * n);
	q->used = mem_ptr(mem, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used) {
		q->desc = q->avail = q->used = NULL;
		return VIRTQ_E_RING;
	}
	q->last_avail = 0;
	q->used_idx = 0; /* 2.7.8: "This starts at 0", whatever the driver left in memory */
	q->signalled_valid = 0;
	live_store(q->live_avail, q->last_avail);
	live_store(q->live_used, q->used_idx);
	return VIRTQ_OK;
}

int virtq_has_avail(const struct virtq *q)
{
	if (!q->avail)
		return 0;
	return __atomic_load_n(avail_field(q, 1), __ATOMIC_ACQUIRE) != q->last_avail;
}

static enum virtq_error chain_add(const struct virtq *q, struct virtq_chain *c,
				  const struct guest_mem *mem, const struct vdesc *d)
{
	unsigned int n = c->nread + c->nwrite;
	void *hva;

	if (d->len == 0)
		return VIRTQ_E_LEN;
	if (n >= VIRTQ_MAX_SEGS)
		return VIRTQ_E_LOOP;
	hva = mem_ptr(mem, d->addr, d->len);
	if (!hva)
		return VIRTQ_E_ADDR;
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		if (c->write_len + d->len > VIRTQ_MAX_CHAIN_BYTES - c->read_len)
			return VIRTQ_E_LEN;
		/* Device-written data over the rings the device reads would let it
		 * make its own work (a blk IN that rewrites avail->idx, an rx frame
		 * that writes tx descriptors). */
		if (over_any_read_ring(q, d->addr, d->len))
			return VIRTQ_E_ADDR;
		c->nwrite++;
		c->write_len += d->len;
	} else {
		if (c->nwrite)
			return VIRTQ_E_ORDER;
		if (c->read_len + d->len > VIRTQ_MAX_CHAIN_BYTES - c->write_len)
			return VIRTQ_E_LEN;
		c->nread++;
		c->read_len += d->len;
	}
	c->iov[n].iov_base = hva;
	c->iov[n].iov_len = d->len;
	c->gpa[n] = d->addr;
	return VIRTQ_OK;
}

/* Switch the walk into the indirect table d describes. */
static enum virtq_error chain_enter_indirect(const struct virtq *q, const struct guest_mem *mem,
					     const struct vdesc *d, int *in_indirect,
					     const struct vdesc **table, uint32_t *table_size)
{
	if (!q->indirect || *in_indirect || (d->flags & VIRTQ_DESC_F_NEXT))
		return VIRTQ_E_INDIRECT; /* not negotiated, nested, or chained on */
	if (d->len == 0 || d->len % VIRTQ_DESC_SIZE || d->len / VIRTQ_DESC_SIZE > VIRTQ_MAX_SEGS ||
	    d->addr % VIRTQ_INDIRECT_ALIGN)
		return VIRTQ_E_INDIRECT;
	*table = mem_ptr(mem, d->addr, d->len);
	if (!*table)
		return VIRTQ_E_ADDR;
	*table_size = d->len / VIRTQ_DESC_SIZE;
	*in_indirect = 1;
	return VIRTQ_OK;
}

static enum virtq_error chain_walk(const struct virtq *q, const struct guest_mem *mem,
				   struct virtq_chain *c, uint16_t head)
{
	const struct vdesc *table = q->desc;
	uint32_t table_size = q->size, idx = head, steps = 0;
	int in_indirect = 0;
	enum virtq_error e;
	struct vdesc d;

	c->head = head;
	c->nread = c->nwrite = 0;
	c->read_len = c->write_len = 0;
	for (;;) {
		/* More steps than entries in the table means the chain loops. */
		if (steps++ >= table_size)
			return VIRTQ_E_LOOP;
		memcpy(&d, (const void *)&table[idx], sizeof(d));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			e = chain_enter_indirect(q, mem, &d, &in_indirect, &table, &table_size);
			if (e != VIRTQ_OK)
				return e;
			idx = 0;
			steps = 0;
			continue;
		}
		e = chain_add(q, c, mem, &d);
		if (e != VIRTQ_OK)
			return e;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return VIRTQ_OK;
		idx = d.next;
		if (idx >= table_size)
			return VIRTQ_E_NEXT;
	}
}

enum virtq_error virtq_pop(struct virtq *q, const struct guest_mem *mem, struct virtq_chain *c)
{
	uint16_t avail_idx, head;
	enum virtq_error e;

	if (!q->avail)
		return VIRTQ_E_RING;
	/* Acquire: the ring entries and descriptors behind this index are visible after it. */
	avail_idx = __atomic_load_n(avail_field(q, 1), __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail)
		return VIRTQ_EMPTY;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return VIRTQ_E_AVAIL_IDX;
	head = load16(avail_field(q, 2 + (q->last_avail & (q->size - 1))));
	if (head >= q->size)
		return VIRTQ_E_HEAD;
	e = chain_walk(q, mem, c, head);
	if (e != VIRTQ_OK)
		return e;
	q->last_avail++;
	live_store(q->live_avail, q->last_avail);
	return VIRTQ_OK;
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
	q->last_avail -= n;
	live_store(q->live_avail, q->last_avail);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	struct vused_elem *e;

	if (!q->used)
		return;
	e = &used_ring(q)[q->used_idx & (q->size - 1)];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, written, __ATOMIC_RELAXED);
	q->used_idx++;
	/* Kept before the guest sees it: a process that takes over does not push it twice. */
	live_store(q->live_used, q->used_idx);
	/* Release: the element is visible before the index that publishes it. */
	__atomic_store_n(used_field(q, 1), q->used_idx, __ATOMIC_RELEASE);
}

/* 2.7.10: notify if the driver's used_event lies in [old, new). */
static int need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

int virtq_need_interrupt(struct virtq *q)
{
	uint16_t old = q->signalled_used;
	int valid = q->signalled_valid;

	if (!q->avail)
		return 0;
	/* Full barrier: our used->idx store must be visible before we read the
	 * driver's suppression state, or an interrupt could be lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(avail_field(q, 0)) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	q->signalled_used = q->used_idx;
	q->signalled_valid = 1;
	if (!valid)
		return 1;
	return need_event(load16(avail_field(q, 2 + q->size)), q->used_idx, old);
}

int virtq_arm_notify(struct virtq *q)
{
	if (!q->used)
		return 0;
	if (q->event_idx)
		__atomic_store_n(used_avail_event(q), q->last_avail, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq_has_avail(q);
}

int virtq_slice(const struct virtq_chain *c, int writable, uint64_t off, uint64_t len,
		struct iovec *out, unsigned int max)
{
	unsigned int first = writable ? c->nread : 0;
	unsigned int end = writable ? c->nread + c->nwrite : c->nread;
	unsigned int n = 0;

	for (unsigned int i = first; i < end && len > 0; i++) {
		uint64_t seg = c->iov[i].iov_len, take;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		if (n >= max)
			return -1;
		take = seg - off < len ? seg - off : len;
		out[n].iov_base = (uint8_t *)c->iov[i].iov_base + off;
		out[n].iov_len = take;
		n++;
		len -= take;
		off = 0;
	}
	return len ? -1 : (int)n;
}

size_t virtq_read_chain(const struct virtq_chain *c, uint64_t off, void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < c->nread && done < len; i++) {
		size_t seg = c->iov[i].iov_len, n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = seg - off < len - done ? seg - off : len - done;
		memcpy((uint8_t *)dst + done, (uint8_t *)c->iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t virtq_write_chain(const struct virtq_chain *c, uint64_t off, const void *src, size_t len)
{
	size_t done = 0;

	for (unsigned int i = c->nread; i < c->nread + c->nwrite && done < len; i++) {
		size_t seg = c->iov[i].iov_len, n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = seg - off < len - done ? seg - off : len - done;
		memcpy((uint8_t *)c->iov[i].iov_base + off, (const uint8_t *)src + done, n);
		done += n;
		off = 0;
	}
	return done;
}

const char *virtq_error_name(enum virtq_error e)
{
	static const char *const names[] = {
		[VIRTQ_OK] = "ok",
		[VIRTQ_EMPTY] = "empty",
		[VIRTQ_E_AVAIL_IDX] = "avail index moved by more than the queue size",
		[VIRTQ_E_HEAD] = "chain head beyond the queue",
		[VIRTQ_E_NEXT] = "next index beyond the table",
		[VIRTQ_E_LOOP] = "chain longer than its table (a loop)",
		[VIRTQ_E_ADDR] = "buffer outside guest memory",
		[VIRTQ_E_LEN] = "zero-length descriptor or chain over 4 GiB",
		[VIRTQ_E_ORDER] = "readable descriptor after a writable one",
		[VIRTQ_E_INDIRECT] = "bad indirect descriptor",
		[VIRTQ_E_RING] = "rings not in guest memory or bad queue size",
	};

	if ((unsigned int)e >= sizeof(names) / sizeof(names[0]) || !names[e])
		return "unknown";
	return names[e];
}
