/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * make-seeds OUTDIR [KERNEL...]: write the seed corpus of every fuzz
 * target into OUTDIR/<target>/, in each target's input encoding (fz.h,
 * fzv.h), from the cases the unit tests use: working device setups and
 * requests of every type (tests/unit/test_blk.c, test_net.c), valid ring
 * layouts (test_virtq.c), driver init sequences (test_uart.c), a full
 * bootstrap of each process (test_ipc.c, supervisor/vm.c), option lines
 * (test_config.c), bzImage and ELF/PVH images (test_loader.c), 9P2000.L
 * sessions (test_9p.c). Each KERNEL
 * file (e.g. the test guest, a real bzImage) becomes one more fuzz_loader
 * seed, truncated to 256 KiB. Called by make-seeds.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/layout.h"
#include "fz.h"
#include "fzv.h"
#include "ipc/ipc.h"
#include "fuzz_ipc.h"
#include "fzapi.h"
#include "procfuzz.h"

static const char *outdir;

static void save(const char *target, const char *name, const struct fzw *w)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f || (w->n && fwrite(w->p, 1, w->n, f) != w->n) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void reset(struct fzw *w)
{
	w->n = 0;
}

static void op_mem(struct fzw *w, uint32_t gpa, const void *src, uint8_t len)
{
	fzw_u8(w, FZV_OP_MEM);
	fzw_u32(w, gpa);
	fzw_u8(w, (uint8_t)(len - 1));
	fzw_bytes(w, src, len);
}

static void op_status(struct fzw *w, uint8_t v)
{
	fzw_u8(w, FZV_OP_STATUS);
	fzw_u8(w, v);
}

static void op_read32(struct fzw *w, uint8_t reg)
{
	fzw_u8(w, FZV_OP_READ32);
	fzw_u8(w, reg / 4);
}

static void op_write32(struct fzw *w, uint16_t reg, uint32_t val)
{
	fzw_u8(w, FZV_OP_WRITE32);
	fzw_u8(w, (uint8_t)(reg / 4));
	fzw_u32(w, val);
}

static void op_access(struct fzw *w, int write, unsigned int size, uint16_t off, uint64_t val)
{
	uint8_t code = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;

	fzw_u8(w, FZV_OP_ACCESS);
	fzw_u8(w, (uint8_t)(write | code << 1));
	fzw_u16(w, off);
	fzw_u64(w, val);
}

static void op_backend(struct fzw *w, uint8_t sub)
{
	fzw_u8(w, FZV_OP_BACKEND);
	fzw_u8(w, sub);
}

/* ---- virtio-blk ---- */

struct blkhdr {
	uint32_t type, reserved;
	uint64_t sector;
};

#define VIRTIO_BLK_T_OUT_SEED 1

static void blk_req(struct fzw *w, uint8_t shape, uint32_t type, uint64_t sector, uint16_t dlen, int dwrite)
{
	struct blkhdr h = { .type = type, .sector = sector };
	static const uint8_t pat[64] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8 };
	struct fzw_seg s[3] = {
		{ .len = sizeof(h), .flags = 0, .fill = &h, .nfill = sizeof(h) },
		{ .len = dlen, .flags = dwrite ? FZV_SEG_WRITE : 0, .fill = pat, .nfill = dwrite ? 0 : sizeof(pat) },
		{ .len = 1, .flags = FZV_SEG_WRITE },
	};

	if (dlen) {
		fzw_chain(w, 0, shape, s, 3);
	} else {
		s[1] = s[2];
		fzw_chain(w, 0, shape, s, 2);
	}
}

static void blk_discard(struct fzw *w, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	struct {
		struct blkhdr h;
		uint64_t sector;
		uint32_t num, flags;
	} __attribute__((packed)) r = { { .type = type }, sector, n, flags };
	struct fzw_seg s[2] = {
		{ .len = sizeof(r), .flags = 0, .fill = &r, .nfill = sizeof(r) },
		{ .len = 1, .flags = FZV_SEG_WRITE },
	};

	fzw_chain(w, 0, 0, s, 2);
}

/* fuzz_blk's own header: flags, image size code, serial. */
static void blk_prefix(struct fzw *w, uint8_t flags)
{
	fzw_u8(w, flags);
	fzw_u8(w, 15); /* 64 KiB image */
	fzw_u8(w, 8);
	fzw_bytes(w, "fuzzdisk", 8);
}

static void save_blk(const char *name, const struct fzw *ops, uint8_t flags)
{
	struct fzw w = { 0 };

	blk_prefix(&w, flags);
	fzw_bytes(&w, ops->p, ops->n);
	save("fuzz_blk", name, &w);
	save("fuzz_proc_blk", name, ops);
	free(w.p);
}

static void seeds_blk(void)
{
	static const uint16_t q1[1] = { 16 };
	static const uint16_t q8[1] = { 8 };
	struct fzw w = { 0 };

	reset(&w);
	fzw_setup(&w, 0, 0, 1, q1);
	blk_req(&w, 0, 0, 1, 512, 1);
	fzw_kick(&w, 0);
	save_blk("in", &w, 0);

	reset(&w);
	fzw_setup(&w, 0, 0, 1, q1);
	blk_req(&w, 0, 1, 2, 1024, 0);
	blk_req(&w, 0, 0, 2, 1024, 1);
	fzw_kick(&w, 0);
	save_blk("out-then-in", &w, 0);

	reset(&w);
	fzw_setup(&w, 0, 0, 1, q8);
	blk_req(&w, FZV_CHAIN_INDIRECT, 0, 0, 4096, 1);
	blk_req(&w, FZV_CHAIN_INDIRECT, 1, 8, 512, 0);
	fzw_kick(&w, 0);
	save_blk("indirect", &w, 0);

	reset(&w);
	fzw_setup(&w, 0, 0, 1, q1);
	blk_req(&w, 0, 4, 0, 0, 0);
	blk_req(&w, 0, 8, 0, 20, 1);
	blk_req(&w, 0, 99, 0, 0, 0);
	fzw_kick(&w, 0);
	save_blk("flush-getid-unsupp", &w, 0);

	reset(&w);
	fzw_setup(&w, 0, 0, 1, q1);
	blk_discard(&w, 11, 8, 8, 0);
	blk_discard(&w, 13, 16, 8, 1);
	blk_discard(&w, 13, 24, 8, 0);
	fzw_kick(&w, 0);
	save_blk("discard-write-zeroes", &w, 0);

	reset(&w);
	fzw_setup(&w, 0, 0, 1, q1);
	blk_req(&w, 0, 1, 0, 512, 0);
	blk_req(&w, 0, 0, 127, 512, 1);
	fzw_kick(&w, 0);
	save_blk("readonly", &w, IPC_BLK_F_READONLY);
	save_blk("direct", &w, IPC_BLK_F_DIRECT);

	/* O_DIRECT image (fuzz_blk flag 4): aligned and unaligned buffers, the bounce path */
	reset(&w);
	fzw_setup(&w, 0, 0, 1, q1);
	blk_req(&w, 0, 1, 0, 4096, 0);
	blk_req(&w, 0, 0, 0, 4096, 1);
	{
		struct blkhdr h = { .type = VIRTIO_BLK_T_OUT_SEED, .sector = 8 };
		static const uint8_t pat[16] = { 1, 2, 3, 4 };
		struct fzw_seg s[4] = {
			{ .len = sizeof(h), .fill = &h, .nfill = sizeof(h) },
			{ .len = 100, .fill = pat, .nfill = sizeof(pat) },
			{ .len = 412, .fill = pat, .nfill = sizeof(pat) },
			{ .len = 1, .flags = FZV_SEG_WRITE },
		};

		fzw_chain(&w, 0, 0, s, 4);
		h.type = 0;
		s[1].flags = s[2].flags = FZV_SEG_WRITE;
		s[1].nfill = s[2].nfill = 0;
		fzw_chain(&w, 0, 0, s, 4);
	}
	fzw_kick(&w, 0);
	save_blk("o-direct-bounce", &w, 4 | IPC_BLK_F_DIRECT);

	reset(&w);
	fzw_setup(&w, FZV_SETUP_NO_EVENT_IDX | FZV_SETUP_NO_INDIRECT, 0, 1, q8);
	for (int i = 0; i < 6; i++)
		blk_req(&w, 0, (uint32_t)(i & 1), (uint64_t)i, 512, !(i & 1));
	fzw_kick(&w, 0);
	fzw_u8(&w, FZV_OP_EVENT);
	fzw_u8(&w, 0);
	fzw_u16(&w, 3);
	blk_req(&w, 0, 0, 9, 512, 1);
	fzw_kick(&w, 0);
	save_blk("batch-no-event-idx", &w, 0);

	/* a request before DRIVER_OK, served at DRIVER_OK; then a reset and a second setup */
	reset(&w);
	fzw_setup(&w, FZV_SETUP_NO_DRIVER_OK, 0, 1, q1);
	blk_req(&w, 0, 0, 3, 512, 1);
	op_status(&w, 15);
	op_status(&w, 0);
	fzw_setup(&w, 0, 0, 1, q8);
	blk_req(&w, 0, 0, 3, 512, 1);
	fzw_kick(&w, 0);
	op_read32(&w, FZV_R_INT_STATUS);
	op_write32(&w, FZV_R_INT_ACK, 1);
	save_blk("before-driver-ok-and-reset", &w, 0);

	/* rings at addresses from the input, config space reads */
	reset(&w);
	fzw_setup(&w, FZV_SETUP_ADDRS, 0, 1, q8);
	blk_req(&w, 0, 0, 1, 512, 1);
	fzw_kick(&w, 0);
	for (uint16_t off = 0x100; off < 0x13c; off += 4)
		op_access(&w, 0, 4, off, 0);
	op_access(&w, 0, 8, 0x100, 0);
	save_blk("addrs-config", &w, 0);
	free(w.p);
}

/* ---- virtio-net ---- */

struct nethdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};

static void net_tx(struct fzw *w, uint8_t shape, const struct nethdr *h, uint16_t flen)
{
	static const uint8_t eth[14] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56, 2, 0, 0, 0, 0, 1, 8, 0 };
	struct fzw_seg s[2] = {
		{ .len = sizeof(*h), .flags = 0, .fill = h, .nfill = sizeof(*h) },
		{ .len = flen, .flags = 0, .fill = eth, .nfill = sizeof(eth) },
	};

	fzw_chain(w, 1, shape, s, 2);
}

static void net_rx(struct fzw *w, uint8_t shape, uint16_t len)
{
	struct fzw_seg s[1] = { { .len = len, .flags = FZV_SEG_WRITE } };

	fzw_chain(w, 0, shape, s, 1);
}

static void net_frame(struct fzw *w, uint16_t len)
{
	op_backend(w, 0);
	fzw_u16(w, len);
	fzw_u8(w, 12);
	fzw_bytes(w, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
}

static void seeds_net(void)
{
	static const uint16_t q[2] = { 16, 16 };
	static const uint16_t small[2] = { 4, 8 };
	const uint64_t csum = 1ull << 0, guest_csum = 1ull << 1, mrg = 1ull << 15, tso4 = 1ull << 11,
		       tso6 = 1ull << 12;
	struct nethdr plain = { 0 }, cs = { .flags = 1, .csum_start = 34, .csum_offset = 16 },
		      gso = { .flags = 1, .gso_type = 1, .hdr_len = 54, .gso_size = 1448, .csum_start = 34,
			      .csum_offset = 16 },
		      gso6 = { .flags = 1, .gso_type = 4 | 0x80, .hdr_len = 74, .gso_size = 1440, .csum_start = 54,
			       .csum_offset = 16 };
	struct fzw w = { 0 };

	reset(&w);
	fzw_setup(&w, 0, 0, 2, q);
	net_tx(&w, 0, &plain, 60);
	net_tx(&w, 0, &cs, 1514);
	fzw_kick(&w, 1);
	save("fuzz_net", "tx", &w);
	save("fuzz_proc_net", "tx", &w);

	reset(&w);
	fzw_setup(&w, FZV_SETUP_FEATURES, csum | tso4 | tso6 | (1ull << 28) | (1ull << 29), 2, q);
	net_tx(&w, 0, &gso, 4000);
	net_tx(&w, FZV_CHAIN_INDIRECT, &gso6, 3000);
	net_tx(&w, 0, &cs, 100);
	fzw_kick(&w, 1);
	save("fuzz_net", "tx-gso", &w);
	save("fuzz_proc_net", "tx-gso", &w);

	reset(&w);
	fzw_setup(&w, FZV_SETUP_FEATURES, guest_csum, 2, q);
	for (int i = 0; i < 4; i++)
		net_rx(&w, 0, 1526);
	fzw_kick(&w, 0);
	net_frame(&w, 12 + 60);
	net_frame(&w, 12 + 1514);
	op_backend(&w, 1);
	fzw_u8(&w, FZV_OP_SYNC);
	net_frame(&w, 12 + 1600); /* larger than the buffer: dropped */
	op_backend(&w, 1);
	save("fuzz_net", "rx", &w);
	save("fuzz_proc_net", "rx", &w);

	reset(&w);
	fzw_setup(&w, FZV_SETUP_FEATURES, mrg | guest_csum | (1ull << 7) | (1ull << 28), 2, small);
	net_rx(&w, 0, 100);
	net_rx(&w, 0, 200);
	fzw_kick(&w, 0);
	net_frame(&w, 12 + 400); /* needs more buffers: waits */
	op_backend(&w, 1);
	net_rx(&w, 0, 1000);
	net_rx(&w, FZV_CHAIN_INDIRECT, 1000);
	fzw_kick(&w, 0);
	op_backend(&w, 3); /* a 64 KiB frame */
	fzw_u8(&w, 0x41);
	op_backend(&w, 2);
	fzw_u8(&w, 10);
	op_backend(&w, 1);
	save("fuzz_net", "rx-mergeable", &w);
	save("fuzz_proc_net", "rx-mergeable", &w);
	/* the process-level harness only: a hostile vcpu process */
	reset(&w);
	fzw_setup(&w, 0, 0, 2, q);
	op_backend(&w, PF_SUB_ODD_IO);
	fzw_u8(&w, IPC_SPACE_MMIO);
	fzw_u8(&w, 3);
	fzw_u16(&w, 0x70);
	fzw_u8(&w, 1);
	fzw_u64(&w, 0);
	save("fuzz_proc_net", "odd-io", &w);
	/* the process-level harness only: register writes as IO_WRITE_SYNC */
	reset(&w);
	op_backend(&w, PF_SUB_SYNC);
	fzw_setup(&w, 0, 0, 2, q);
	net_tx(&w, 0, &plain, 60);
	fzw_kick(&w, 1);
	save("fuzz_proc_net", "sync-writes", &w);
	reset(&w);
	{
		struct ipc_empty e;

		ipc_init(&e, IPC_STOP, sizeof(e));
		op_backend(&w, PF_SUB_RAW_CTL);
		fzw_u16(&w, sizeof(e));
		fzw_bytes(&w, &e, sizeof(e));
	}
	save("fuzz_proc_blk", "stop", &w);

	reset(&w);
	fzw_setup(&w, FZV_SETUP_NO_EVENT_IDX, 0, 2, q);
	net_rx(&w, 0, 1526);
	fzw_kick(&w, 0);
	net_tx(&w, 0, &plain, 60);
	fzw_kick(&w, 1);
	op_status(&w, 0);
	op_backend(&w, 2);
	fzw_u8(&w, 3);
	fzw_setup(&w, 0, 0, 2, q);
	net_rx(&w, 0, 1526);
	fzw_kick(&w, 0);
	for (uint16_t off = 0x100; off < 0x10a; off += 2)
		op_access(&w, 0, 2, off, 0);
	save("fuzz_net", "reset-config", &w);
	save("fuzz_proc_net", "reset-config", &w);
	free(w.p);
}

/* ---- virtio-rng ---- */

static void rng_req(struct fzw *w, uint8_t shape, uint16_t len, int write)
{
	struct fzw_seg s[1] = { { .len = len, .flags = write ? FZV_SEG_WRITE : 0 } };

	fzw_chain(w, 0, shape, s, 1);
}

/* fuzz_rng's own header is the rate; fuzz_proc_rng's child runs at 1 MiB/s. */
static void save_rng(const char *name, const struct fzw *ops, uint32_t rate)
{
	struct fzw w = { 0 };

	fzw_u32(&w, rate);
	fzw_bytes(&w, ops->p, ops->n);
	save("fuzz_rng", name, &w);
	save("fuzz_proc_rng", name, ops);
	free(w.p);
}

static void seeds_rng(void)
{
	static const uint16_t q[1] = { 16 };
	struct fzw w = { 0 };

	reset(&w);
	fzw_setup(&w, 0, 0, 1, q);
	rng_req(&w, 0, 64, 1);
	rng_req(&w, 0, 4096, 1);
	rng_req(&w, 0, 32, 0); /* read-only: completes empty */
	fzw_kick(&w, 0);
	fzw_u8(&w, FZV_OP_SYNC);
	save_rng("read", &w, 0);

	reset(&w);
	fzw_setup(&w, 0, 0, 1, q);
	for (int i = 0; i < 6; i++)
		rng_req(&w, i & 1 ? FZV_CHAIN_INDIRECT : 0, 300, 1);
	fzw_kick(&w, 0);
	op_backend(&w, 0); /* 0.25 s pass */
	fzw_u32(&w, 250000000);
	op_backend(&w, 1); /* the timer */
	op_backend(&w, 0);
	fzw_u32(&w, 1000000000);
	op_backend(&w, 1);
	save_rng("rate", &w, 999); /* 1000 bytes a second */
	free(w.p);
}

/* ---- virtio-vsock ---- */

struct vshdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

#define VS_GUEST_CID 3 /* what fuzz_vsock and procfuzz configure */

static void vs_pkt(struct fzw *w, uint16_t op, uint32_t sport, uint32_t dport, const void *data, uint16_t len)
{
	struct vshdr h = { .src_cid = VS_GUEST_CID, .dst_cid = 2, .src_port = sport, .dst_port = dport,
			   .len = len, .type = 1, .op = op, .buf_alloc = 65536 };
	struct fzw_seg s[2] = {
		{ .len = sizeof(h), .flags = 0, .fill = &h, .nfill = sizeof(h) },
		{ .len = len, .flags = 0, .fill = data, .nfill = (uint8_t)(len < 255 ? len : 255) },
	};

	fzw_chain(w, 1, 0, s, len ? 2 : 1);
	fzw_kick(w, 1);
}

static void vs_rx_buffers(struct fzw *w, unsigned int n)
{
	struct fzw_seg s[1] = { { .len = 44 + 4096, .flags = FZV_SEG_WRITE } };
	struct fzw_seg ev[1] = { { .len = 4, .flags = FZV_SEG_WRITE } };

	for (unsigned int i = 0; i < n; i++)
		fzw_chain(w, 0, 0, s, 1);
	fzw_kick(w, 0);
	fzw_chain(w, 2, 0, ev, 1);
	fzw_kick(w, 2);
}

static void vs_backend(struct fzw *w, uint8_t sub, uint8_t arg)
{
	op_backend(w, sub);
	fzw_u8(w, arg);
}

static void seeds_vsock(void)
{
	static const uint16_t q[3] = { 16, 16, 4 };
	static const char line[] = "CONNECT 1234\n";
	static const char data[] = "some bytes from the guest";
	struct fzw w = { 0 };

	/* guest to host: REQUEST, the broker connects, data, credit, shutdown */
	reset(&w);
	fzw_setup(&w, 0, 0, 3, q);
	vs_rx_buffers(&w, 8);
	vs_pkt(&w, 1, 1024, 5000, NULL, 0);
	vs_backend(&w, 1, 0); /* connected */
	vs_pkt(&w, 5, 1024, 5000, data, sizeof(data));
	vs_backend(&w, 2, 0); /* the host answers */
	fzw_u16(&w, 3000);
	vs_pkt(&w, 6, 1024, 5000, NULL, 0);
	vs_pkt(&w, 7, 1024, 5000, NULL, 0);
	vs_backend(&w, 4, 0);
	vs_pkt(&w, 4, 1024, 5000, NULL, 0);
	vs_backend(&w, 3, 0x80);
	vs_pkt(&w, 3, 1024, 5000, NULL, 0);
	save("fuzz_vsock", "guest-to-host", &w);
	save("fuzz_proc_vsock", "guest-to-host", &w);

	/* host to guest: CONNECT, RESPONSE, data both ways, a refused REQUEST */
	reset(&w);
	fzw_setup(&w, 0, 0, 3, q);
	vs_rx_buffers(&w, 8);
	op_backend(&w, 0);
	fzw_u8(&w, sizeof(line) - 1);
	fzw_bytes(&w, line, sizeof(line) - 1);
	fzw_u8(&w, FZV_OP_SYNC);
	vs_pkt(&w, 2, 1234, 1u << 30, NULL, 0);
	vs_backend(&w, 2, 0);
	fzw_u16(&w, 5000);
	vs_pkt(&w, 5, 1234, 1u << 30, data, sizeof(data));
	vs_pkt(&w, 1, 2000, 6000, NULL, 0);
	vs_backend(&w, 1, 1); /* refused: RST */
	save("fuzz_vsock", "host-to-guest", &w);
	save("fuzz_proc_vsock", "host-to-guest", &w);

	/* hostile: bad type, CIDs, op, a length beyond the chain, a short header */
	reset(&w);
	fzw_setup(&w, 0, 0, 3, q);
	vs_rx_buffers(&w, 4);
	{
		struct vshdr h = { .src_cid = 4, .dst_cid = 2, .type = 1, .op = 1 };
		struct fzw_seg s[1] = { { .len = sizeof(h), .flags = 0, .fill = &h, .nfill = sizeof(h) } };

		fzw_chain(&w, 1, 0, s, 1);
		h.src_cid = VS_GUEST_CID;
		h.type = 2;
		fzw_chain(&w, 1, 0, s, 1);
		h.type = 1;
		h.op = 9;
		fzw_chain(&w, 1, 0, s, 1);
		h.op = 5;
		h.len = 1000;
		fzw_chain(&w, 1, 0, s, 1);
		s[0].len = 20;
		fzw_chain(&w, 1, 0, s, 1);
		fzw_kick(&w, 1);
	}
	op_status(&w, 0);
	save("fuzz_vsock", "hostile", &w);
	save("fuzz_proc_vsock", "hostile", &w);
	free(w.p);
}

/* ---- virtio-mmio with the fake device ---- */

static void seeds_mmio(void)
{
	static const uint16_t q[3] = { 8, 16, 256 };
	struct fzw w = { 0 };
	struct fzw_seg seg[2] = { { .len = 64, .flags = 0 }, { .len = 64, .flags = FZV_SEG_WRITE } };

	reset(&w);
	for (uint16_t r = 0; r < 0x100; r += 4)
		op_read32(&w, (uint8_t)r);
	fzw_setup(&w, 0, 0, 3, q);
	fzw_chain(&w, 0, 0, seg, 2);
	fzw_chain(&w, 2, FZV_CHAIN_INDIRECT, seg, 2);
	fzw_kick(&w, 0);
	fzw_kick(&w, 2);
	op_write32(&w, FZV_R_QUEUE_NOTIFY, 1);
	op_read32(&w, FZV_R_INT_STATUS);
	op_write32(&w, FZV_R_INT_ACK, 3);
	{
		uint16_t ev = 5; /* queue 1's used_event (avail + 4 + 2 * 16) */

		op_mem(&w, (uint32_t)FZV_QBASE(1) + 0x1000 + 4 + 2 * 16, &ev, sizeof(ev));
	}
	fzw_chain(&w, 1, 0, seg, 2);
	fzw_kick(&w, 1);
	save("fuzz_mmio", "setup-and-kick", &w);

	/* Status 0 in every state */
	reset(&w);
	{
		static const uint8_t states[] = { 1, 3, 11, 15, 0x8f, 0x83, 0x40 };

		for (size_t i = 0; i < sizeof(states); i++) {
			for (size_t j = 0; j <= i; j++)
				op_status(&w, states[j]);
			op_write32(&w, FZV_R_QUEUE_SEL, 1);
			op_write32(&w, FZV_R_QUEUE_NUM, 8);
			op_write32(&w, FZV_R_DESC_LO, 0x1000);
			op_write32(&w, FZV_R_QUEUE_READY, 1);
			op_status(&w, 0);
		}
	}
	save("fuzz_mmio", "reset-in-every-state", &w);

	/* refused features, odd accesses, features after FEATURES_OK, queue layout while ready */
	reset(&w);
	op_status(&w, 1);
	op_status(&w, 3);
	op_write32(&w, FZV_R_DRV_FEAT_SEL, 0);
	op_write32(&w, FZV_R_DRV_FEAT, 0x22);
	op_write32(&w, FZV_R_DRV_FEAT_SEL, 1);
	op_write32(&w, FZV_R_DRV_FEAT, 1);
	op_status(&w, 11);
	op_read32(&w, FZV_R_STATUS);
	op_write32(&w, FZV_R_DRV_FEAT_SEL, 0);
	op_write32(&w, FZV_R_DRV_FEAT, 0x2);
	op_status(&w, 11);
	op_write32(&w, FZV_R_DRV_FEAT, 0x1);
	op_access(&w, 1, 2, FZV_R_STATUS, 0);
	op_access(&w, 0, 1, FZV_R_MAGIC + 1, 0);
	op_access(&w, 1, 8, FZV_R_QUEUE_NUM, 16);
	op_write32(&w, FZV_R_QUEUE_NUM, 16);
	op_write32(&w, FZV_R_QUEUE_READY, 1);
	op_write32(&w, FZV_R_DESC_LO, 0x2000);
	op_write32(&w, FZV_R_QUEUE_NUM, 4);
	op_write32(&w, FZV_R_QUEUE_READY, 0);
	op_write32(&w, FZV_R_QUEUE_SEL, 7);
	op_write32(&w, FZV_R_QUEUE_READY, 1);
	op_read32(&w, FZV_R_QUEUE_NUM_MAX);
	for (uint16_t off = 0x100; off < 0x120; off++)
		op_access(&w, off & 1, 1 << (off % 4), off, off);
	save("fuzz_mmio", "negotiation-and-odd-accesses", &w);
	free(w.p);
}

/* ---- the split virtqueue ---- */

static void vq_desc(struct fzw *w, uint8_t i, uint32_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	fzw_u8(w, 11);
	fzw_u8(w, i);
	fzw_u32(w, addr);
	fzw_u32(w, len);
	fzw_u16(w, flags);
	fzw_u16(w, next);
}

static void vq_head(struct fzw *w, uint8_t size_code, uint8_t flags)
{
	fzw_u8(w, size_code);
	fzw_u8(w, flags);
	fzw_u32(w, 0x1000);
	fzw_u32(w, 0x2000);
	fzw_u32(w, 0x3000);
}

static void vq_publish(struct fzw *w, uint8_t slot, uint16_t head, uint16_t idx)
{
	fzw_u8(w, 12);
	fzw_u8(w, slot);
	fzw_u16(w, head);
	fzw_u8(w, 10);
	fzw_u16(w, idx);
}

static void seeds_virtq(void)
{
	struct fzw w = { 0 };

	reset(&w);
	vq_head(&w, 3, 3);
	vq_desc(&w, 0, 0x8000, 16, 1, 1);
	vq_desc(&w, 1, 0x9000, 512, 3, 2);
	vq_desc(&w, 2, 0xa000, 1, 2, 0);
	vq_publish(&w, 0, 0, 1);
	fzw_u8(&w, 1);
	fzw_u8(&w, 1);
	fzw_u8(&w, 4);
	fzw_u8(&w, 5);
	fzw_u8(&w, 8);
	fzw_u8(&w, 1);
	fzw_u32(&w, 4);
	fzw_u32(&w, 100);
	fzw_u8(&w, 9);
	fzw_u8(&w, 1);
	fzw_u32(&w, 0);
	fzw_u16(&w, 513);
	save("fuzz_virtq", "chain", &w);

	reset(&w);
	vq_head(&w, 4, 1);
	vq_desc(&w, 0, 0x4000, 48, 4, 0);
	{
		uint8_t table[48] = { 0 };
		uint64_t a0 = 0x8000, a1 = 0x9000, a2 = 0xa000;
		uint32_t l0 = 16, l1 = 4096, l2 = 1;
		uint16_t f0 = 1, f1 = 3, f2 = 2, n0 = 1, n1 = 2;

		memcpy(table + 0, &a0, 8);
		memcpy(table + 8, &l0, 4);
		memcpy(table + 12, &f0, 2);
		memcpy(table + 14, &n0, 2);
		memcpy(table + 16, &a1, 8);
		memcpy(table + 24, &l1, 4);
		memcpy(table + 28, &f1, 2);
		memcpy(table + 30, &n1, 2);
		memcpy(table + 32, &a2, 8);
		memcpy(table + 40, &l2, 4);
		memcpy(table + 44, &f2, 2);
		fzw_u8(&w, 0);
		fzw_u16(&w, 0x4000);
		fzw_u8(&w, 47);
		fzw_bytes(&w, table, 48);
	}
	vq_publish(&w, 0, 0, 1);
	fzw_u8(&w, 2);
	fzw_u8(&w, 8);
	fzw_u8(&w, 0);
	fzw_u32(&w, 0);
	fzw_u32(&w, 16);
	fzw_u8(&w, 6);
	fzw_u8(&w, 1);
	fzw_u8(&w, 2);
	save("fuzz_virtq", "indirect-unpop", &w);

	/* a loop, then a restart with event idx and pushes */
	reset(&w);
	vq_head(&w, 2, 2);
	vq_desc(&w, 0, 0x8000, 16, 1, 1);
	vq_desc(&w, 1, 0x8000, 16, 1, 0);
	vq_publish(&w, 0, 0, 1);
	fzw_u8(&w, 2);
	fzw_u8(&w, 7);
	fzw_u8(&w, 2);
	fzw_u32(&w, 0x1000);
	fzw_u32(&w, 0x2000);
	fzw_u32(&w, 0x3000);
	vq_desc(&w, 1, 0x8000, 16, 0, 0);
	vq_publish(&w, 0, 1, 1);
	vq_publish(&w, 1, 1, 2);
	fzw_u8(&w, 1);
	fzw_u8(&w, 1);
	fzw_u8(&w, 4);
	fzw_u8(&w, 3);
	fzw_u16(&w, 1);
	fzw_u32(&w, 0);
	fzw_u8(&w, 4);
	save("fuzz_virtq", "loop-restart-event-idx", &w);
	free(w.p);
}

/* ---- IOAPIC ---- */

/* fuzz_ioapic's op 2: IOREGSEL, then IOWIN. */
static void ioapic_reg(struct fzw *w, uint8_t reg, uint32_t v)
{
	fzw_u8(w, 2);
	fzw_u8(w, reg);
	fzw_u32(w, v);
}

static void seeds_ioapic(void)
{
	struct fzw w = { 0 };

	/* what Linux does: mask, destination, then the low half; a level pin; a read back */
	reset(&w);
	ioapic_reg(&w, 0x18, 0x10000);
	ioapic_reg(&w, 0x19, 0);
	ioapic_reg(&w, 0x18, 0x31);
	ioapic_reg(&w, 0x1b, 1u << 24);
	ioapic_reg(&w, 0x1a, 0x32 | 1u << 8 | 1u << 11);
	ioapic_reg(&w, 0x16, 0x30 | 1u << 13 | 1u << 15);
	ioapic_reg(&w, 0x18, 0x31 | 0x10000);
	fzw_u8(&w, 0);
	fzw_u8(&w, 0x10);
	fzw_u8(&w, 2);
	save("fuzz_ioapic", "linux-like", &w);
	free(w.p);
}

/* ---- UART ---- */

static void uart_w(struct fzw *w, int proc, uint8_t off, uint8_t val)
{
	fzw_u8(w, proc ? PF_SER_WRITE : 1);
	fzw_u8(w, off);
	fzw_u8(w, val);
}

static void uart_r(struct fzw *w, int proc, uint8_t off)
{
	fzw_u8(w, proc ? PF_SER_READ : 0);
	fzw_u8(w, off);
}

static void uart_in(struct fzw *w, int proc, const char *s)
{
	fzw_u8(w, proc ? PF_SER_INPUT : 2);
	fzw_u8(w, (uint8_t)strlen(s));
	fzw_bytes(w, s, strlen(s));
}

static void seeds_uart(void)
{
	struct fzw w = { 0 };

	for (int proc = 0; proc <= 1; proc++) {
		const char *t = proc ? "fuzz_proc_serial" : "fuzz_uart";

		/* what Linux's 8250 driver does at probe and open */
		reset(&w);
		uart_w(&w, proc, 3, 0x80);
		uart_w(&w, proc, 0, 0x01);
		uart_w(&w, proc, 1, 0x00);
		uart_w(&w, proc, 3, 0x03);
		uart_w(&w, proc, 2, 0xc7);
		uart_w(&w, proc, 4, 0x0b);
		uart_w(&w, proc, 1, 0x03);
		uart_r(&w, proc, 2);
		uart_r(&w, proc, 5);
		for (const char *c = "hello\n"; *c; c++)
			uart_w(&w, proc, 0, (uint8_t)*c);
		uart_in(&w, proc, "login: root\n");
		if (proc)
			fzw_u8(&w, PF_SER_SYNC);
		for (int i = 0; i < 14; i++)
			uart_r(&w, proc, 0);
		uart_r(&w, proc, 2);
		uart_r(&w, proc, 6);
		save(t, "linux-8250", &w);
		if (proc) {
			/* the same, its register writes synchronous */
			struct fzw b = { 0 };

			fzw_u8(&b, PF_SUB_SYNC);
			fzw_bytes(&b, w.p, w.n);
			save(t, "linux-8250-sync", &b);
			free(b.p);
		}

		/* loopback: the 8250 autoconfig test */
		reset(&w);
		uart_w(&w, proc, 4, 0x1f);
		uart_r(&w, proc, 6);
		uart_w(&w, proc, 2, 0x01);
		for (int i = 0; i < 18; i++)
			uart_w(&w, proc, 0, (uint8_t)('A' + i));
		uart_r(&w, proc, 5);
		for (int i = 0; i < 17; i++)
			uart_r(&w, proc, 0);
		uart_w(&w, proc, 4, 0x08);
		uart_w(&w, proc, 1, 0x0f);
		uart_r(&w, proc, 2);
		uart_w(&w, proc, 2, 0x00);
		uart_w(&w, proc, 7, 0x55);
		uart_r(&w, proc, 7);
		if (!proc) {
			uart_r(&w, proc, 9);
			uart_w(&w, proc, 8, 1);
		}
		save(t, "loopback", &w);
	}
	free(w.p);
}

/* ---- IPC ---- */

static void msg(struct fzw *w, uint8_t receiver, const void *m, size_t len)
{
	fzw_u8(w, receiver);
	fzw_u16(w, (uint16_t)len);
	fzw_bytes(w, m, len);
}

/* A message behind one selector byte (R_SUPERVISOR: phase; R_RECV: fds to attach). */
static void msg_pre(struct fzw *w, uint8_t receiver, uint8_t pre, const void *m, size_t len)
{
	fzw_u8(w, receiver);
	fzw_u16(w, (uint16_t)(len + 1));
	fzw_u8(w, pre);
	fzw_bytes(w, m, len);
}

static void dev_bootstrap(struct fzw *w, uint32_t kind)
{
	struct ipc_cfg_mem m;
	struct ipc_cfg_device d;
	struct ipc_cfg_jail j;
	struct ipc_empty done;

	if (kind != IPC_DEV_SERIAL) {
		ipc_init(&m, IPC_CFG_MEM, sizeof(m));
		m.cm_size = FZIPC_MEM_SIZE;
		m.cm_fd = FZIPC_FD_MEM;
		msg(w, 0, &m, sizeof(m));
	}
	ipc_init(&d, IPC_CFG_DEVICE, sizeof(d));
	snprintf(d.cd_name, sizeof(d.cd_name), "dev0");
	d.cd_kind = kind;
	d.cd_chan_fd = FZIPC_FD_CHAN;
	d.cd_irq_fd = FZIPC_FD_IRQ;
	d.cd_base = kind == IPC_DEV_SERIAL ? LAYOUT_COM1_PORT : LAYOUT_VIRTIO_MMIO_BASE;
	d.cd_nqueues = kind == IPC_DEV_BLK ? 1 : kind == IPC_DEV_NET ? 2 : 0;
	for (unsigned int q = 0; q < d.cd_nqueues; q++)
		d.cd_queue_fd[q] = FZIPC_FD_QUEUE + (int)q;
	msg(w, 0, &d, sizeof(d));
	if (kind == IPC_DEV_BLK) {
		struct ipc_cfg_blk b;

		ipc_init(&b, IPC_CFG_BLK, sizeof(b));
		b.cb_disk_fd = FZIPC_FD_IMAGE;
		b.cb_size = FZIPC_IMAGE_SIZE;
		snprintf(b.cb_serial, sizeof(b.cb_serial), "disk0");
		msg(w, 0, &b, sizeof(b));
	} else if (kind == IPC_DEV_NET) {
		struct ipc_cfg_net n;

		ipc_init(&n, IPC_CFG_NET, sizeof(n));
		n.cn_tap_fd = FZIPC_FD_TAP;
		n.cn_mac[0] = 0x52;
		n.cn_mac[5] = 1;
		msg(w, 0, &n, sizeof(n));
	} else {
		struct ipc_cfg_serial sm;

		ipc_init(&sm, IPC_CFG_SERIAL, sizeof(sm));
		sm.cs_in_fd = FZIPC_FD_TAP;
		sm.cs_out_fd = FZIPC_FD_IRQ;
		msg(w, 0, &sm, sizeof(sm));
	}
	ipc_init(&j, IPC_CFG_JAIL, sizeof(j));
	j.cj_uid = j.cj_gid = 62222;
	j.cj_policy_fd = j.cj_include_fd = IPC_FD_NONE;
	msg(w, 0, &j, sizeof(j));
	ipc_init(&done, IPC_CFG_DONE, sizeof(done));
	msg(w, 0, &done, sizeof(done));
}

static void io(struct fzw *w, int write, uint8_t space, uint64_t off, uint8_t size, uint64_t val, uint32_t seq)
{
	struct ipc_io m;

	ipc_init(&m, write ? IPC_IO_WRITE : IPC_IO_READ, sizeof(m));
	m.io_seq = seq;
	m.io_space = space;
	m.io_size = size;
	m.io_offset = off;
	m.io_data = val;
	msg(w, 1, &m, sizeof(m));
}

static void seeds_ipc(void)
{
	struct fzw w = { 0 };
	struct ipc_cfg_mem m;
	struct ipc_cfg_vcpu v;
	struct ipc_cfg_vcpu_dev d;
	struct ipc_cfg_jail j;
	struct ipc_empty e;
	struct ipc_error er;
	struct ipc_vm_exit ve;

	reset(&w);
	fzw_u8(&w, 0);
	dev_bootstrap(&w, IPC_DEV_BLK);
	io(&w, 0, IPC_SPACE_MMIO, 0, 4, 0, 1);
	io(&w, 1, IPC_SPACE_MMIO, 0x70, 4, 1, 0);
	io(&w, 0, IPC_SPACE_MMIO, 0x100, 8, 0, 2);
	io(&w, 0, IPC_SPACE_MMIO, 0xffc, 8, 0, 3);
	save("fuzz_ipc", "blk", &w);

	reset(&w);
	fzw_u8(&w, 1);
	dev_bootstrap(&w, IPC_DEV_NET);
	io(&w, 0, IPC_SPACE_MMIO, 0x8, 4, 0, 1);
	io(&w, 1, IPC_SPACE_MMIO, 0x50, 4, 1, 0);
	save("fuzz_ipc", "net", &w);

	reset(&w);
	fzw_u8(&w, 2);
	dev_bootstrap(&w, IPC_DEV_SERIAL);
	io(&w, 1, IPC_SPACE_PIO, 0, 1, 'x', 0);
	io(&w, 0, IPC_SPACE_PIO, 5, 1, 0, 1);
	io(&w, 0, IPC_SPACE_PIO, 7, 2, 0, 2);
	{
		struct ipc_io sync;

		ipc_init(&sync, IPC_IO_WRITE_SYNC, sizeof(sync));
		sync.io_seq = 3;
		sync.io_space = IPC_SPACE_PIO;
		sync.io_size = 1;
		sync.io_data = 'y';
		msg(&w, 1, &sync, sizeof(sync));
	}
	ipc_init(&e, IPC_STOP, sizeof(e));
	msg(&w, 0, &e, sizeof(e));
	save("fuzz_ipc", "serial", &w);

	reset(&w);
	fzw_u8(&w, 0);
	ipc_init(&m, IPC_CFG_MEM, sizeof(m));
	m.cm_size = FZIPC_MEM_SIZE;
	m.cm_fd = FZIPC_FD_MEM;
	msg(&w, 2, &m, sizeof(m));
	ipc_init(&v, IPC_CFG_VCPU, sizeof(v));
	v.cv_nvcpus = 2;
	v.cv_entry_mode = IPC_ENTRY_PVH32;
	v.cv_entry = 0x100000;
	v.cv_kvm_fd = FZIPC_FD_KVM;
	v.cv_cpuid_fd = FZIPC_FD_CPUID;
	snprintf(v.cv_name, sizeof(v.cv_name), "vm");
	v.cv_deadline_ms = IPC_DEADLINE_MS;
	msg(&w, 2, &v, sizeof(v));
	ipc_init(&d, IPC_CFG_VCPU_DEV, sizeof(d));
	snprintf(d.cd_name, sizeof(d.cd_name), "serial");
	d.cd_space = IPC_SPACE_PIO;
	d.cd_gsi = 4;
	d.cd_base = 0x3f8;
	d.cd_len = 8;
	d.cd_chan_fd = FZIPC_FD_CHAN;
	d.cd_irq_fd = FZIPC_FD_IRQ;
	msg(&w, 2, &d, sizeof(d));
	ipc_init(&d, IPC_CFG_VCPU_DEV, sizeof(d));
	snprintf(d.cd_name, sizeof(d.cd_name), "blk0");
	d.cd_space = IPC_SPACE_MMIO;
	d.cd_gsi = 5;
	d.cd_base = LAYOUT_VIRTIO_MMIO_BASE;
	d.cd_len = LAYOUT_VIRTIO_MMIO_SIZE;
	d.cd_chan_fd = FZIPC_FD_CHAN;
	d.cd_irq_fd = FZIPC_FD_IRQ;
	d.cd_nqueues = 1;
	d.cd_notify_off = 0x50;
	d.cd_queue_fd[0] = FZIPC_FD_QUEUE;
	msg(&w, 2, &d, sizeof(d));
	ipc_init(&j, IPC_CFG_JAIL, sizeof(j));
	j.cj_uid = j.cj_gid = 62222;
	j.cj_policy_fd = j.cj_include_fd = IPC_FD_NONE;
	msg(&w, 2, &j, sizeof(j));
	ipc_init(&e, IPC_CFG_DONE, sizeof(e));
	msg(&w, 2, &e, sizeof(e));
	ipc_init(&e, IPC_START, sizeof(e));
	msg(&w, 2, &e, sizeof(e));
	ipc_init(&e, IPC_STOP, sizeof(e));
	msg(&w, 2, &e, sizeof(e));
	save("fuzz_ipc", "vcpu", &w);

	reset(&w);
	fzw_u8(&w, 0);
	ipc_init(&e, IPC_READY, sizeof(e));
	msg_pre(&w, 3, 1, &e, sizeof(e)); /* READY while starting */
	ipc_init(&er, IPC_ERROR, sizeof(er));
	snprintf(er.ie_text, sizeof(er.ie_text), "blk0: cannot read the image");
	msg_pre(&w, 3, 2, &er, sizeof(er));
	ipc_init(&ve, IPC_VM_EXIT, sizeof(ve));
	ve.ve_reason = IPC_EXIT_DEBUG;
	ve.ve_value = 1;
	snprintf(ve.ve_text, sizeof(ve.ve_text), "the guest wrote 1 to the debug-exit port");
	msg_pre(&w, 3, 0x82, &ve, sizeof(ve)); /* from the vcpu process, while running */
	memset(ve.ve_text, 'A', sizeof(ve.ve_text));
	msg_pre(&w, 3, 0x83, &ve, sizeof(ve));
	msg(&w, 4, "serial0\0", 8);
	msg(&w, 4, "bad\x01name", 8);
	msg_pre(&w, 5, 1, &e, sizeof(e)); /* with an fd attached */
	msg_pre(&w, 5, 3, &e, sizeof(e)); /* with two */
	msg_pre(&w, 5, 0, &e, sizeof(e));
	{
		uint8_t big[560];

		memset(big, 0, sizeof(big));
		msg(&w, 5, big, sizeof(big));
	}
	save("fuzz_ipc", "supervisor-recv-str", &w);
	free(w.p);
}

/* ---- api: requests over a page like the supervisor's (fuzz_api.c) ---- */

static void api_seed(const char *name, const char *req, uint8_t piece, uint8_t answer, int page)
{
	static struct ipc_api_page pg;
	struct fzw w = { 0 };

	fzw_u8(&w, piece);
	fzw_u8(&w, answer);
	fzw_u8(&w, 1);
	fzw_u16(&w, (uint16_t)strlen(req));
	fzw_bytes(&w, req, strlen(req));
	if (page) {
		fz_api_page(&pg);
		fzw_bytes(&w, &pg, offsetof(struct ipc_api_page, pg_config) + pg.pg_config_len);
	}
	save("fuzz_api", name, &w);
	free(w.p);
}

/* fuzz_proc_api's ops (fuzz_proc_api.c): clients, the supervisor's answers, waits. */
static void proc_api_save(const char *name, const uint8_t *ops, size_t n)
{
	struct fzw w = { 0 };

	fzw_bytes(&w, ops, n);
	save("fuzz_proc_api", name, &w);
	free(w.p);
}

static void seeds_proc_api(void)
{
	/* connect, a template request, serve, wait: for each template */
	for (uint8_t r = 0; r < 8; r++) {
		const uint8_t ops[] = { 0, 0, 2, 0, r, 6, 3, 5, 0, 0, 6, 5 };
		char name[32];

		snprintf(name, sizeof(name), "template-%u", r);
		proc_api_save(name, ops, sizeof(ops));
	}
	{
		/* three clients at once, one half-sent and closed, answers refused */
		const uint8_t ops[] = { 0, 1, 0, 2, 0, 3, 2, 1, 1, 2, 2, 2, 4, 1, 8, 0, 'G', 'E', 'T', ' ',
					'/', 'a', 'p', 'i', 5, 4, 0, 4, 2, 6, 9 };

		proc_api_save("three-clients", ops, sizeof(ops));
	}
	{
		/* raw bytes: a bad request line, then the client leaves its side open */
		const uint8_t ops[] = { 0, 5, 1, 5, 12, 0, 'X', ' ', '/', ' ', 'H', 'T', 'T', 'P', '\r', '\n',
					'\r', '\n', 6, 10, 5, 0, 0 };

		proc_api_save("bad-line", ops, sizeof(ops));
	}
}

static void seeds_api(void)
{
	api_seed("info", "GET /api/v1/vm.info HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 0, 1);
	api_seed("info-bytewise", "GET http://localhost/api/v1/vm.info?x=1 HTTP/1.0\r\n\r\n", 1, 0, 1);
	api_seed("ping", "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n", 7, 0, 1);
	api_seed("counters", "GET /api/v1/vm.counters HTTP/1.1\r\nAccept: */*\r\n\r\n", 0, 0, 1);
	api_seed("metrics", "GET /metrics HTTP/1.1\r\n\r\n", 0, 0, 1);
	api_seed("pause", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 3, 0, 0);
	api_seed("pause-again", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, 4, 0);
	api_seed("resume-chunked", "PUT /api/v1/vm.resume HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "2\r\n{}\r\n0\r\n\r\n", 5, 0, 0);
	api_seed("shutdown", "PUT /api/v1/vm.shutdown HTTP/1.1\r\n\r\n", 0, 0, 0);
	api_seed("power-button", "PUT /api/v1/vm.power-button HTTP/1.1\r\n\r\n", 0, 6, 0);
	api_seed("wrong-method", "POST /api/v1/vm.pause HTTP/1.1\r\n\r\n", 0, 0, 0);
	api_seed("no-path", "GET /api/v2/nothing HTTP/1.1\r\n\r\n", 0, 0, 0);
	api_seed("body-json", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"a\":[1]}", 0, 0, 0);
	api_seed("too-long", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 99999\r\n\r\n", 0, 0, 0);
	api_seed("upgrade", "GET /metrics HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n", 0, 0, 0);
	api_seed("cut-short", "GET /api/v1/vm.info HTTP/1.1\r\nHo", 0, 0, 0);
	api_seed("timeout", "GET /api/v1/vm.info HTTP/1.1\r\n\r\n", 0, 8, 1);
	seeds_proc_api();
}

/* ---- config ---- */

static void cfg_seed(const char *name, uint8_t flags, const char *const *argv, size_t argc, const char *file)
{
	struct fzw w = { 0 };

	fzw_u8(&w, flags);
	fzw_u32(&w, 8192);
	fzw_u16(&w, 64);
	for (size_t i = 0; i < argc; i++) {
		if (i)
			fzw_u8(&w, 0);
		fzw_bytes(&w, argv[i], strlen(argv[i]));
	}
	if (file) {
		fzw_bytes(&w, "\n\n\n", 3);
		fzw_bytes(&w, file, strlen(file));
	}
	save("fuzz_config", name, &w);
	free(w.p);
}

#define ARGS(...) (const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *)

static void seeds_config(void)
{
	cfg_seed("full", 0,
		 ARGS("--kernel", "path=vmlinuz,cmdline=console=ttyS0 reboot=k panic=-1", "--initrd",
		      "path=initramfs.cpio.gz", "--memory", "size_mib=256", "--vcpus", "num=2", "--serial", "stdio",
		      "--disk", "path=a.img,readonly=on,serial=abc", "--disk", "path=\"b,c.img\",direct=on",
		      "--net", "tap=tap0,mac=52:54:00:12:34:56", "--net", "fd=3", "--jail", "uid=1000,gid=1000",
		      "--seccomp", "log", "--acpi", "off", "--name", "A.b_c-9", "-v", "--verbose"),
		 NULL);
	cfg_seed("equals-quotes", 0,
		 ARGS("--kernel=path=k,cmdline=a=b", "--memory=size_mib=0x100", "--vcpus=num=4", "--name=test-1",
		      "--serial=none", "--kernel", "cmdline=\"path=x,y\",path=k", "--serial", "file=\"y z\"",
		      "--seccomp-policy-dir", "/etc/bulkhead/policies", "--jail", "no-namespaces"),
		 NULL);
	cfg_seed("config-file", 1, ARGS("--name", "x", "--config", "@CONFIG", "--vcpus", "num=1"),
		 "# a VM\nkernel path=vmlinuz,cmdline=console=ttyS0,115200\n  --memory size_mib=64\n"
		 "disk = path=disk.img,readonly=off\n\n-v\nnet tap=tap1\nserial file=/tmp/console.log\n");
	cfg_seed("errors", 0, ARGS("--kernel", "path=k", "--acpi", "maybe", "--bogus=1", "-x", "--"), NULL);
	cfg_seed("help", 0, ARGS("--help"), NULL);
	cfg_seed("bad-config-line", 1, ARGS("--config=@CONFIG"), "kernel path=k\nconfig other\n\x01\n");
}

/* ---- 9p (fuzz_9p: u8 flags, then per message u8 ctl, u16 length, the bytes) ---- */

/* 9P2000.L message types and flags, as the protocol numbers them. */
enum {
	S9_TSTATFS = 8, S9_TLOPEN = 12, S9_TLCREATE = 14, S9_TSYMLINK = 16, S9_TMKNOD = 18,
	S9_TRENAME = 20, S9_TREADLINK = 22, S9_TGETATTR = 24, S9_TSETATTR = 26, S9_TXATTRWALK = 30,
	S9_TXATTRCREATE = 32, S9_TREADDIR = 40, S9_TFSYNC = 50, S9_TLOCK = 52, S9_TGETLOCK = 54,
	S9_TLINK = 70, S9_TMKDIR = 72, S9_TRENAMEAT = 74, S9_TUNLINKAT = 76, S9_TVERSION = 100,
	S9_TATTACH = 104, S9_TFLUSH = 108, S9_TWALK = 110, S9_TREAD = 116, S9_TWRITE = 118,
	S9_TCLUNK = 120, S9_TREMOVE = 122,
};

struct p9m {
	uint8_t b[4096];
	size_t n;
	uint16_t tag;
};

static void p9_put(struct p9m *m, const void *p, size_t n)
{
	if (m->n + n > sizeof(m->b)) {
		fprintf(stderr, "make-seeds: 9p message too long\n");
		exit(1);
	}
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void p9_8(struct p9m *m, uint8_t v)
{
	p9_put(m, &v, 1);
}

static void p9_16(struct p9m *m, uint16_t v)
{
	p9_put(m, &v, 2);
}

static void p9_32(struct p9m *m, uint32_t v)
{
	p9_put(m, &v, 4);
}

static void p9_64(struct p9m *m, uint64_t v)
{
	p9_put(m, &v, 8);
}

static void p9_str(struct p9m *m, const char *s)
{
	p9_16(m, (uint16_t)strlen(s));
	p9_put(m, s, strlen(s));
}

static void p9_begin(struct p9m *m, uint8_t type)
{
	m->n = 0;
	p9_32(m, 0); /* fuzz_9p sets the size field */
	p9_8(m, type);
	p9_16(m, ++m->tag);
}

/* fuzz_proc_9p's seed being written beside fuzz_9p's, or NULL. */
static struct fzw *p9_proc;

/* The same message for fuzz_proc_9p: a chain of it (its size field set) and a reply room of
 * fuzz_9p's table (at most 4 KiB), kicked and waited for. */
static void p9_emit_proc(const struct p9m *m, uint8_t ctl)
{
	static const uint16_t rooms[16] = { 4096, 0, 6, 10, 11, 12, 16, 20, 24, 40, 160, 300, 4096, 4096, 4096, 4096 };
	uint8_t msg[255];
	size_t n = m->n < sizeof(msg) ? m->n : sizeof(msg);
	uint32_t size = (uint32_t)m->n;
	struct fzw_seg segs[2] = {
		{ .len = (uint16_t)m->n, .fill = msg, .nfill = (uint8_t)n },
		{ .len = rooms[ctl >> 4], .flags = FZV_SEG_WRITE },
	};

	memcpy(msg, m->b, n);
	if (!(ctl & 1) && n >= 4)
		memcpy(msg, &size, 4);
	fzw_chain(p9_proc, 0, 0, segs, 2);
	fzw_kick(p9_proc, 0);
	fzw_u8(p9_proc, FZV_OP_SYNC);
}

/* Append the message built in m with ctl (reply room, buffer split) to the seed. */
static void p9_emit(struct fzw *w, const struct p9m *m, uint8_t ctl)
{
	fzw_u8(w, ctl);
	fzw_u16(w, (uint16_t)m->n);
	fzw_bytes(w, m->b, m->n);
	if (p9_proc)
		p9_emit_proc(m, ctl);
}

static void p9_fid(struct fzw *w, struct p9m *m, uint8_t type, uint32_t fid)
{
	p9_begin(m, type);
	p9_32(m, fid);
	p9_emit(w, m, 0);
}

static void p9_walk(struct fzw *w, struct p9m *m, uint32_t fid, uint32_t newfid, const char *const *names,
		    unsigned int n)
{
	p9_begin(m, S9_TWALK);
	p9_32(m, fid);
	p9_32(m, newfid);
	p9_16(m, (uint16_t)n);
	for (unsigned int i = 0; i < n; i++)
		p9_str(m, names[i]);
	p9_emit(w, m, 0);
}

#define WALK(w, m, fid, newfid, ...) \
	p9_walk(w, m, fid, newfid, (const char *const[]){ __VA_ARGS__ }, \
		sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static void p9_rw(struct fzw *w, struct p9m *m, uint8_t type, uint32_t fid, uint64_t off, const char *data,
		  uint32_t count, uint8_t ctl)
{
	p9_begin(m, type);
	p9_32(m, fid);
	p9_64(m, off);
	if (type == S9_TWRITE) {
		p9_32(m, (uint32_t)strlen(data));
		p9_put(m, data, strlen(data));
	} else {
		p9_32(m, count);
	}
	p9_emit(w, m, ctl);
}

static void p9_lopen(struct fzw *w, struct p9m *m, uint32_t fid, uint32_t flags)
{
	p9_begin(m, S9_TLOPEN);
	p9_32(m, fid);
	p9_32(m, flags);
	p9_emit(w, m, 0);
}

static void p9_named(struct fzw *w, struct p9m *m, uint8_t type, uint32_t dfid, const char *name, uint32_t a,
		     uint32_t b)
{
	p9_begin(m, type);
	p9_32(m, dfid);
	p9_str(m, name);
	p9_32(m, a);
	if (type == S9_TMKNOD) {
		p9_32(m, 0);
		p9_32(m, 0);
	}
	if (type != S9_TUNLINKAT)
		p9_32(m, b);
	p9_emit(w, m, 0);
}

/* fuzz_proc_9p's session before the body, as fuzz_9p's automatic one (flags bit 1 clear). */
static void p9_proc_session(uint8_t flags)
{
	static const uint16_t q[1] = { 64 };
	static const uint32_t msizes[4] = { 65536, 4096, 8192, 512 * 1024 };
	struct p9m m = { .tag = 0xfffe };

	fzw_setup(p9_proc, 0, 0, 1, q);
	if (flags & 2)
		return;
	p9_begin(&m, S9_TVERSION);
	p9_32(&m, msizes[(flags >> 2) & 3]);
	p9_str(&m, "9P2000.L");
	p9_emit_proc(&m, 0);
	p9_begin(&m, S9_TATTACH);
	p9_32(&m, 0);
	p9_32(&m, 0xffffffff);
	p9_str(&m, "");
	p9_str(&m, "");
	p9_32(&m, 0);
	p9_emit_proc(&m, 0);
}

/* A fuzz_9p seed, and the same messages as a fuzz_proc_9p seed (whose share is read-write). */
static void save_9p(const char *name, uint8_t flags, void (*body)(struct fzw *w, struct p9m *m))
{
	struct fzw w = { 0 }, proc = { 0 };
	struct p9m m = { .tag = 0 };

	fzw_u8(&w, flags);
	p9_proc = &proc;
	p9_proc_session(flags);
	body(&w, &m);
	p9_proc = NULL;
	save("fuzz_9p", name, &w);
	if (!(flags & 1))
		save("fuzz_proc_9p", name, &proc);
	free(w.p);
	free(proc.p);
}

static void p9s_read(struct fzw *w, struct p9m *m)
{
	WALK(w, m, 0, 1, "hello");
	p9_lopen(w, m, 1, 0);
	p9_rw(w, m, S9_TREAD, 1, 0, NULL, 100, 0);
	p9_rw(w, m, S9_TREAD, 1, 5, NULL, 4, 3 << 1); /* in four buffers */
	p9_begin(m, S9_TGETATTR);
	p9_32(m, 1);
	p9_64(m, 0x3fff);
	p9_emit(w, m, 0);
	p9_fid(w, m, S9_TCLUNK, 1);
}

static void p9s_create(struct fzw *w, struct p9m *m)
{
	p9_walk(w, m, 0, 2, NULL, 0);
	p9_begin(m, S9_TLCREATE);
	p9_32(m, 2);
	p9_str(m, "new");
	p9_32(m, 2);
	p9_32(m, 0644);
	p9_32(m, 0);
	p9_emit(w, m, 0);
	p9_rw(w, m, S9_TWRITE, 2, 0, "some data for the file", 0, 0);
	p9_rw(w, m, S9_TREAD, 2, 0, NULL, 64, 0);
	p9_begin(m, S9_TFSYNC);
	p9_32(m, 2);
	p9_32(m, 1);
	p9_emit(w, m, 0);
	p9_begin(m, S9_TSETATTR);
	p9_32(m, 2);
	p9_32(m, 0x1 | 0x8 | 0x10 | 0x20 | 0x80);
	p9_32(m, 0600);
	p9_32(m, 0);
	p9_32(m, 0);
	p9_64(m, 4);
	p9_64(m, 1000);
	p9_64(m, 0);
	p9_64(m, 2000);
	p9_64(m, 0);
	p9_emit(w, m, 0);
	p9_fid(w, m, S9_TCLUNK, 2);
}

static void p9s_dirs(struct fzw *w, struct p9m *m)
{
	p9_named(w, m, S9_TMKDIR, 0, "d", 0755, 0);
	p9_begin(m, S9_TSYMLINK);
	p9_32(m, 0);
	p9_str(m, "l");
	p9_str(m, "hello");
	p9_32(m, 0);
	p9_emit(w, m, 0);
	p9_named(w, m, S9_TMKNOD, 0, "fifo", 0010644, 0);
	WALK(w, m, 0, 3, "d");
	WALK(w, m, 0, 4, "hello");
	p9_begin(m, S9_TLINK);
	p9_32(m, 3);
	p9_32(m, 4);
	p9_str(m, "hard");
	p9_emit(w, m, 0);
	p9_lopen(w, m, 3, 0);
	p9_begin(m, S9_TREADDIR);
	p9_32(m, 3);
	p9_64(m, 0);
	p9_32(m, 4096);
	p9_emit(w, m, 0);
	p9_begin(m, S9_TRENAMEAT);
	p9_32(m, 0);
	p9_str(m, "d");
	p9_32(m, 0);
	p9_str(m, "e");
	p9_emit(w, m, 0);
	p9_named(w, m, S9_TUNLINKAT, 0, "l", 0, 0);
	p9_named(w, m, S9_TUNLINKAT, 0, "e", 0x200, 0);
	p9_begin(m, S9_TRENAME);
	p9_32(m, 4);
	p9_32(m, 0);
	p9_str(m, "moved");
	p9_emit(w, m, 0);
	p9_fid(w, m, S9_TREMOVE, 4);
	WALK(w, m, 0, 5, "sub");
	p9_lopen(w, m, 5, 0);
	p9_begin(m, S9_TREADDIR);
	p9_32(m, 5);
	p9_64(m, 0);
	p9_32(m, 100);
	p9_emit(w, m, 0);
}

static void p9s_traversal(struct fzw *w, struct p9m *m)
{
	WALK(w, m, 0, 1, "..", "..");
	WALK(w, m, 0, 2, "toroot", "etc");
	WALK(w, m, 0, 3, "abs");
	p9_fid(w, m, S9_TREADLINK, 3);
	p9_lopen(w, m, 3, 0);
	WALK(w, m, 0, 4, "sub", "escape", "..");
	WALK(w, m, 0, 5, "magic", "etc");
	WALK(w, m, 0, 6, "sub", "..", "sub", "..", "sub", "..", "sub", "..", "sub", "..", "sub", "..", "sub",
	     "..", "sub", "..");
	WALK(w, m, 0, 7, "sub", "..", "sub", "..", "sub", "..", "sub", "..", "sub", "..", "sub", "..", "sub",
	     "..", "sub", "..", "sub");
	WALK(w, m, 0, 8, "sub/inner");
	WALK(w, m, 0, 0, "sub", "deep");
	WALK(w, m, 0, 9, "..", "x");
}

static void p9s_attrs(struct fzw *w, struct p9m *m)
{
	p9_begin(m, S9_TGETATTR);
	p9_32(m, 0);
	p9_64(m, 0x7ff);
	p9_emit(w, m, 0);
	p9_fid(w, m, S9_TSTATFS, 0);
	p9_begin(m, S9_TXATTRWALK);
	p9_32(m, 0);
	p9_32(m, 7);
	p9_str(m, "");
	p9_emit(w, m, 0);
	p9_rw(w, m, S9_TREAD, 7, 0, NULL, 64, 0);
	p9_begin(m, S9_TXATTRWALK);
	p9_32(m, 0);
	p9_32(m, 8);
	p9_str(m, "security.selinux");
	p9_emit(w, m, 0);
	p9_begin(m, S9_TXATTRCREATE);
	p9_32(m, 0);
	p9_str(m, "user.x");
	p9_64(m, 4);
	p9_32(m, 0);
	p9_emit(w, m, 0);
	p9_begin(m, S9_TFLUSH);
	p9_16(m, 3);
	p9_emit(w, m, 0);
}

static void p9s_locks(struct fzw *w, struct p9m *m)
{
	WALK(w, m, 0, 1, "hello");
	WALK(w, m, 0, 2, "hello");
	p9_lopen(w, m, 1, 2);
	p9_lopen(w, m, 2, 2);
	for (int i = 0; i < 3; i++) {
		p9_begin(m, S9_TLOCK);
		p9_32(m, (uint32_t)(1 + i % 2));
		p9_8(m, i == 2 ? 0 : 1);
		p9_32(m, 1);
		p9_64(m, 0);
		p9_64(m, 10);
		p9_32(m, 77);
		p9_str(m, "guest");
		p9_emit(w, m, 0);
	}
	p9_begin(m, S9_TGETLOCK);
	p9_32(m, 2);
	p9_8(m, 1);
	p9_64(m, 0);
	p9_64(m, 0);
	p9_32(m, 77);
	p9_str(m, "guest");
	p9_emit(w, m, 0);
}

/* Replies in rooms too small for them, and frames that lie. */
static void p9s_hostile(struct fzw *w, struct p9m *m)
{
	WALK(w, m, 0, 1, "hello");
	p9_lopen(w, m, 1, 0);
	p9_rw(w, m, S9_TREAD, 1, 0, NULL, 0xffffffffu, 5 << 4); /* room 12 */
	p9_begin(m, S9_TGETATTR);
	p9_32(m, 0);
	p9_64(m, 0);
	p9_emit(w, m, 9 << 4); /* room 40 */
	p9_fid(w, m, S9_TCLUNK, 1);
	p9_emit(w, m, 1 << 4); /* room 0 */
	p9_begin(m, S9_TCLUNK);
	p9_32(m, 1);
	m->b[0] = 200; /* a size beyond the message */
	p9_emit(w, m, 1);
	p9_fid(w, m, S9_TCLUNK, 99);
	p9_fid(w, m, 0x2a, 0);
}

static void p9s_session(struct fzw *w, struct p9m *m)
{
	p9_begin(m, S9_TVERSION);
	p9_32(m, 0xffffffffu);
	p9_str(m, "9P2000.L");
	p9_emit(w, m, 0);
	p9_begin(m, S9_TATTACH);
	p9_32(m, 0);
	p9_32(m, 0xffffffffu);
	p9_str(m, "root");
	p9_str(m, "");
	p9_32(m, 0);
	p9_emit(w, m, 0);
	p9_begin(m, S9_TVERSION);
	p9_32(m, 4096);
	p9_str(m, "9P2000.u");
	p9_emit(w, m, 0);
	p9_fid(w, m, S9_TCLUNK, 0);
}

static void seeds_9p(void)
{
	save_9p("read", 0, p9s_read);
	save_9p("create-write", 0, p9s_create);
	save_9p("create-write-readonly", 1, p9s_create);
	save_9p("dirs", 0, p9s_dirs);
	save_9p("dirs-readonly", 1, p9s_dirs);
	save_9p("traversal", 0, p9s_traversal);
	save_9p("attrs", 4, p9s_attrs);
	save_9p("locks", 0, p9s_locks);
	save_9p("hostile", 8, p9s_hostile);
	save_9p("session", 2, p9s_session);
}

/* ---- loader ---- */

static void loader_head(struct fzw *w, uint8_t flags, uint32_t isize)
{
	fzw_u8(w, flags);
	fzw_u8(w, 2); /* vCPUs */
	fzw_u8(w, 2); /* devices */
	fzw_u8(w, 5); /* first GSI */
	fzw_u32(w, isize);
	fzw_u16(w, 40);
	fzw_u8(w, 'c');
	fzw_u8(w, 0);
	fzw_u32(w, 0);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* A bzImage as test_loader.c's bz_build makes it: 4 setup sectors, a small protected-mode kernel. */
static void seeds_bzimage(void)
{
	static uint8_t img[5 * 512 + 8192];
	struct fzw w = { 0 };

	memset(img, 0, sizeof(img));
	img[0x1f1] = 4;
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x66; /* header ends at 0x268 */
	put32(img + 0x202, 0x53726448);
	put16(img + 0x206, 0x020f);
	img[0x211] = 0x01;
	put32(img + 0x214, 0x100000);
	put32(img + 0x22c, 0x37ffffff);
	put32(img + 0x230, 0x200000);
	img[0x234] = 1;
	put16(img + 0x236, 0x1);
	put32(img + 0x238, 2048);
	put64(img + 0x258, 0x1000000);
	put32(img + 0x260, 0x800000);
	for (size_t i = 5 * 512; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 13);
	loader_head(&w, 1, 8192);
	fzw_bytes(&w, img, sizeof(img));
	save("fuzz_loader", "bzimage", &w);
	reset(&w);
	img[0x234] = 0; /* not relocatable: code32_start */
	loader_head(&w, 2 | 4, 0);
	fzw_bytes(&w, img, sizeof(img));
	save("fuzz_loader", "bzimage-fixed-highmem", &w);
	free(w.p);
}

/* ELF images: a 64-bit vmlinux, a 64-bit PVH ELF (note in a PT_NOTE and a section), a 32-bit PVH ELF. */
static void seeds_elf(void)
{
	static uint8_t img[0x3000];
	struct fzw w = { 0 };

	for (int kind = 0; kind < 3; kind++) {
		int is64 = kind < 2, pvh = kind > 0;
		size_t ehsz = is64 ? 64 : 52, phsz = is64 ? 56 : 32;
		uint8_t *ph, *note = img + 0x200;

		memset(img, 0, sizeof(img));
		memcpy(img, "\177ELF", 4);
		img[4] = is64 ? 2 : 1;
		img[5] = 1;
		img[6] = 1;
		put16(img + 16, 2); /* ET_EXEC */
		put16(img + 18, is64 ? 62 : 3);
		put32(img + 20, 1);
		if (is64) {
			put64(img + 24, pvh ? 0x100000 : 0xffffffff81000000ull);
			put64(img + 32, ehsz);
			put16(img + 52, (uint16_t)ehsz);
			put16(img + 54, (uint16_t)phsz);
			put16(img + 56, 2);
		} else {
			put32(img + 24, 0x100000);
			put32(img + 28, (uint32_t)ehsz);
			put16(img + 40, (uint16_t)ehsz);
			put16(img + 42, (uint16_t)phsz);
			put16(img + 44, 2);
		}
		/* the Xen PHYS32_ENTRY note */
		put32(note, 4);
		put32(note + 4, 8);
		put32(note + 8, 18);
		memcpy(note + 12, "Xen", 4);
		put64(note + 16, 0x100010);
		ph = img + ehsz;
		if (is64) {
			put32(ph, 1);
			put32(ph + 4, 7);
			put64(ph + 8, 0x1000);
			put64(ph + 16, pvh ? 0x100000 : 0xffffffff81000000ull);
			put64(ph + 24, 0x100000);
			put64(ph + 32, 0x2000);
			put64(ph + 40, 0x4000);
			put64(ph + 48, 0x1000);
			ph += phsz;
			put32(ph, pvh ? 4 : 6); /* PT_NOTE, or a PT_PHDR that is ignored */
			put64(ph + 8, 0x200);
			put64(ph + 32, 24);
			put64(ph + 40, 24);
			put64(ph + 48, 4);
		} else {
			put32(ph, 1);
			put32(ph + 4, 0x1000);
			put32(ph + 8, 0x100000);
			put32(ph + 12, 0x100000);
			put32(ph + 16, 0x2000);
			put32(ph + 20, 0x4000);
			put32(ph + 24, 7);
			put32(ph + 28, 0x1000);
			ph += phsz;
			put32(ph, 4);
			put32(ph + 4, 0x200);
			put32(ph + 16, 24);
			put32(ph + 20, 24);
			put32(ph + 28, 4);
		}
		for (size_t i = 0x1000; i < sizeof(img); i++)
			img[i] = (uint8_t)(i * 7);
		reset(&w);
		loader_head(&w, (uint8_t)(kind == 1 ? 1 : 0), 4096);
		fzw_bytes(&w, img, sizeof(img));
		save("fuzz_loader", kind == 0 ? "elf64-vmlinux" : kind == 1 ? "elf64-pvh" : "elf32-pvh", &w);
	}
	free(w.p);
}

static void seed_kernel_file(const char *path, unsigned int i)
{
	struct fzw w = { 0 };
	char name[64];
	uint8_t *buf = malloc(256 * 1024);
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f || !buf) {
		fprintf(stderr, "make-seeds: %s: %s (skipped)\n", path, strerror(errno));
		if (f)
			fclose(f);
		free(buf);
		return;
	}
	n = fread(buf, 1, 256 * 1024, f);
	fclose(f);
	loader_head(&w, 1, 65536);
	fzw_bytes(&w, buf, n);
	snprintf(name, sizeof(name), "kernel-file-%u", i);
	save("fuzz_loader", name, &w);
	free(buf);
	free(w.p);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OUTDIR [KERNEL...]\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		perror(outdir);
		return 1;
	}
	seeds_blk();
	seeds_net();
	seeds_rng();
	seeds_vsock();
	seeds_mmio();
	seeds_virtq();
	seeds_uart();
	seeds_ioapic();
	seeds_ipc();
	seeds_config();
	seeds_9p();
	seeds_api();
	seeds_bzimage();
	seeds_elf();
	for (int i = 2; i < argc; i++)
		seed_kernel_file(argv[i], (unsigned int)(i - 2));
	return 0;
}
