/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_virtq: the split-virtqueue chain walker (devices/virtio/virtq.c) over
 * a fuzzed 64 KiB memfd guest and ring state.
 *
 * Input: u8 size code (bit 7: a raw u16 size follows, else 1 << (code % 9)),
 * u8 flags (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX negotiated), u32 desc,
 * avail and used addresses, then ops (first byte % VQ_NOPS):
 *   MEM       u16 gpa, u8 len-1, bytes    guest writes memory
 *   POP_ALL   u8 flags                    virtq_pop until empty or an error
 *                                          (bit 0: push each chain at once)
 *   POP       -                           one virtq_pop
 *   PUSH      u16 head, u32 written       virtq_push
 *   NEED_INT  -                           virtq_need_interrupt
 *   ARM       -                           virtq_arm_notify
 *   UNPOP     u8 n                        virtq_unpop (at most what was taken)
 *   RESTART   u8 code, u32 x3             new layout, virtq_start again
 *   SLICE     u8 writable, u32 off, u32 len   virtq_slice on the last chain
 *   COPY      u8 dir, u32 off, u16 len    virtq_read_chain / virtq_write_chain
 *   AVAIL_IDX u16                         avail->idx
 *   DESC      u8 i, u32 addr, u32 len, u16 flags, u16 next   one descriptor
 *   RING      u8 slot, u16 head           one avail ring entry
 *
 * Checked: every chain virtq_pop returns has a head inside the queue, at
 * most VIRTQ_MAX_SEGS non-empty segments that all lie inside the mapping
 * and match their guest addresses, readable before writable, lengths that
 * add up and stay within 4 GiB; an error or EMPTY consumes nothing; the
 * slice and copy helpers stay inside the chain. Pops are bounded per op,
 * so a walker that spins is caught by -timeout.
 */
#include <stdint.h>
#include <string.h>

#include "devices/virtio/virtio.h"
#include "fz.h"

#define VQ_MEM 0x10000ULL

enum {
	VQ_MEM_OP,
	VQ_POP_ALL,
	VQ_POP,
	VQ_PUSH,
	VQ_NEED_INT,
	VQ_ARM,
	VQ_UNPOP,
	VQ_RESTART,
	VQ_SLICE,
	VQ_COPY,
	VQ_AVAIL_IDX,
	VQ_DESC,
	VQ_RING,
	VQ_NOPS
};

static struct guest_mem gm;
static struct virtq q;
static struct virtq_chain chain;
static int chain_ok;
static unsigned int taken; /* popped since the last push or unpop */
static uint8_t buf[65536];

static void put(uint64_t gpa, const void *src, size_t len)
{
	if (gpa >= VQ_MEM)
		return;
	if (len > VQ_MEM - gpa)
		len = (size_t)(VQ_MEM - gpa);
	memcpy(gm.regions[0].hva + gpa, src, len);
}

static uint16_t size_from(struct fz *in)
{
	uint8_t code = fz_u8(in);

	return (code & 0x80) ? fz_u16(in) : (uint16_t)(1u << (code % 9));
}

static void layout(struct fz *in, uint16_t size, uint8_t flags)
{
	virtq_reset(&q);
	q.size = size;
	q.desc_gpa = fz_u32(in);
	q.avail_gpa = fz_u32(in);
	q.used_gpa = fz_u32(in);
	q.indirect = flags & 1;
	q.event_idx = (flags >> 1) & 1;
	(void)virtq_start(&q, &gm);
	chain_ok = 0;
	taken = 0;
}

static void check_chain(const struct virtq_chain *c)
{
	const uint8_t *lo = gm.regions[0].hva, *hi = lo + VQ_MEM;
	uint64_t rl = 0, wl = 0;

	FZ_CHECK(c->head < q.size, "head %u in a queue of %u", c->head, q.size);
	FZ_CHECK(c->nread + c->nwrite >= 1 && c->nread + c->nwrite <= VIRTQ_MAX_SEGS, "%u + %u segments",
		 c->nread, c->nwrite);
	for (unsigned int i = 0; i < c->nread + c->nwrite; i++) {
		const uint8_t *b = c->iov[i].iov_base;
		size_t l = c->iov[i].iov_len;

		FZ_CHECK(l > 0, "segment %u is empty", i);
		FZ_CHECK(b >= lo && b < hi && l <= (size_t)(hi - b), "segment %u [%p, +%zu) outside the mapping", i,
			 (const void *)b, l);
		FZ_CHECK(mem_ptr(&gm, c->gpa[i], l) == b, "segment %u does not match its guest address 0x%llx", i,
			 (unsigned long long)c->gpa[i]);
		if (i < c->nread)
			rl += l;
		else
			wl += l;
	}
	FZ_CHECK(rl == c->read_len && wl == c->write_len, "lengths %llu/%llu, segments add up to %llu/%llu",
		 (unsigned long long)c->read_len, (unsigned long long)c->write_len, (unsigned long long)rl,
		 (unsigned long long)wl);
	FZ_CHECK(rl + wl <= VIRTQ_MAX_CHAIN_BYTES, "chain of %llu bytes", (unsigned long long)(rl + wl));
}

static enum virtq_error pop_one(void)
{
	uint16_t before = q.last_avail;
	enum virtq_error e = virtq_pop(&q, &gm, &chain);

	if (e == VIRTQ_OK) {
		FZ_CHECK(q.last_avail == (uint16_t)(before + 1), "pop moved last_avail %u -> %u", before,
			 q.last_avail);
		check_chain(&chain);
		chain_ok = 1;
		taken++;
	} else {
		FZ_CHECK(q.last_avail == before, "%s consumed a chain", virtq_error_name(e));
		FZ_CHECK(e > VIRTQ_OK && e <= VIRTQ_E_RING, "virtq_pop returned %d", (int)e);
		chain_ok = 0;
	}
	return e;
}

static void check_slice(struct fz *in)
{
	struct iovec out[VIRTQ_MAX_SEGS];
	int writable = fz_u8(in) & 1;
	uint64_t off = fz_u32(in), len = fz_u32(in);
	uint64_t part = writable ? chain.write_len : chain.read_len, sum = 0;
	int n;

	if (!chain_ok)
		return;
	n = virtq_slice(&chain, writable, off, len, out, VIRTQ_MAX_SEGS);
	if (len == 0) {
		FZ_CHECK(n == 0, "empty slice gave %d", n);
		return;
	}
	if (off + len > part) {
		FZ_CHECK(n == -1, "slice [%llu, +%llu) of a %llu-byte part gave %d iovecs",
			 (unsigned long long)off, (unsigned long long)len, (unsigned long long)part, n);
		return;
	}
	FZ_CHECK(n >= 0, "slice [%llu, +%llu) of a %llu-byte part failed", (unsigned long long)off,
		 (unsigned long long)len, (unsigned long long)part);
	for (int i = 0; i < n; i++) {
		int inside = 0;

		for (unsigned int s = writable ? chain.nread : 0;
		     s < (writable ? chain.nread + chain.nwrite : chain.nread) && !inside; s++) {
			const uint8_t *b = chain.iov[s].iov_base;

			inside = (const uint8_t *)out[i].iov_base >= b &&
				 out[i].iov_len <= chain.iov[s].iov_len &&
				 (size_t)((const uint8_t *)out[i].iov_base - b) <= chain.iov[s].iov_len - out[i].iov_len;
		}
		FZ_CHECK(inside, "slice iovec %d is outside the chain's segments", i);
		sum += out[i].iov_len;
	}
	FZ_CHECK(sum == len, "slice covers %llu bytes, asked %llu", (unsigned long long)sum,
		 (unsigned long long)len);
}

static void check_copy(struct fz *in)
{
	int write = fz_u8(in) & 1;
	uint64_t off = fz_u32(in);
	size_t len = fz_u16(in), done, want;
	uint64_t part = write ? chain.write_len : chain.read_len;

	if (!chain_ok)
		return;
	want = off >= part ? 0 : (part - off < len ? (size_t)(part - off) : len);
	memset(buf, 0x5a, len);
	done = write ? virtq_write_chain(&chain, off, buf, len) : virtq_read_chain(&chain, off, buf, len);
	FZ_CHECK(done == want, "copy of %zu at %llu in a %llu-byte part moved %zu, want %zu", len,
		 (unsigned long long)off, (unsigned long long)part, done, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in;
	uint16_t qsize;
	uint8_t flags;
	unsigned int ops = 0;

	if (!gm.nregions) {
		if (mem_layout(&gm, VQ_MEM) < 0 || mem_create(&gm, "fuzz-virtq") < 0 || mem_map(&gm) < 0)
			fz_fail("guest memory");
	}
	memset(gm.regions[0].hva, 0, VQ_MEM);
	fz_init(&in, data, size);
	qsize = size_from(&in);
	flags = fz_u8(&in);
	layout(&in, qsize, flags);
	while (!fz_empty(&in) && ops++ < 2048) {
		switch (fz_u8(&in) % VQ_NOPS) {
		case VQ_MEM_OP: {
			uint8_t b[256];
			uint64_t gpa = fz_u16(&in);
			size_t n = (size_t)fz_u8(&in) + 1;

			fz_take(&in, b, n);
			put(gpa, b, n);
			break;
		}
		case VQ_POP_ALL: {
			int push = fz_u8(&in) & 1;

			for (unsigned int i = 0; i <= q.size; i++) {
				if (pop_one() != VIRTQ_OK)
					break;
				if (push) {
					virtq_push(&q, chain.head, (uint32_t)chain.write_len);
					taken = 0;
				}
			}
			break;
		}
		case VQ_POP:
			(void)pop_one();
			break;
		case VQ_PUSH: {
			uint16_t head = fz_u16(&in);

			virtq_push(&q, head, fz_u32(&in));
			taken = 0;
			break;
		}
		case VQ_NEED_INT:
			(void)virtq_need_interrupt(&q);
			break;
		case VQ_ARM:
			(void)virtq_arm_notify(&q);
			break;
		case VQ_UNPOP: {
			unsigned int n = fz_u8(&in);

			if (n > taken)
				n = taken;
			virtq_unpop(&q, (uint16_t)n);
			taken -= n;
			chain_ok = 0;
			break;
		}
		case VQ_RESTART: {
			uint16_t s = size_from(&in);

			layout(&in, s, flags);
			break;
		}
		case VQ_SLICE:
			check_slice(&in);
			break;
		case VQ_COPY:
			check_copy(&in);
			break;
		case VQ_AVAIL_IDX: {
			uint16_t v = fz_u16(&in);

			put(q.avail_gpa + 2, &v, 2);
			break;
		}
		case VQ_DESC: {
			uint8_t i = fz_u8(&in);
			uint8_t d[16];

			fz_take(&in, d, 4);
			memset(d + 4, 0, 4); /* u32 addresses: most land in the guest */
			fz_take(&in, d + 8, 8);
			put(q.desc_gpa + 16ull * i, d, 16);
			break;
		}
		case VQ_RING: {
			uint8_t slot = fz_u8(&in);
			uint16_t head = fz_u16(&in);

			if (q.size)
				put(q.avail_gpa + 4 + 2ull * (slot % q.size), &head, 2);
			break;
		}
		default:
			break;
		}
	}
	return 0;
}
