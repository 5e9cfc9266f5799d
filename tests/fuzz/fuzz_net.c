/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_net: the virtio-net model (devices/net/net.c over the real transport
 * and virtqueue) in this process, with a SOCK_DGRAM socketpair standing in
 * for the TAP (one datagram = 12-byte virtio-net header + frame, as a TAP
 * with IFF_VNET_HDR gives), driven by the hostile driver of fzv.c. The
 * device-process loop is emulated after every op: the TAP is read while the
 * device watches it and has a frame waiting, then net_update_watch runs as
 * devproc's flush does.
 *
 * Input: fzv ops. FZV_OP_BACKEND sub-ops (sub % 4):
 *   0  u16 length, u8 fill count, bytes: inject a datagram (header + frame)
 *   1  call net_tap_readable as an epoll wake-up would (only while watched)
 *   2  u8 count: inject that many minimum-size frames
 *   3  u8 fill byte: inject one largest frame (12 + NET_MAX_FRAME bytes)
 *
 * Checked: every frame the device hands to the TAP passes the header rules
 * of architecture.md for the features the guest negotiated (so a hostile
 * header never reaches the host kernel); transport state against the
 * driver's mirror; guest bytes outside used rings and device-writable
 * buffers never change; no crash, no spin (-timeout).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/net/net.h"
#include "fz.h"
#include "fzv.h"
#include "fzv_dev.h"

static struct guest_mem gm;
static struct net net;
static struct fzv drv;
static int tap[2] = { -1, -1 }; /* [0] the device's end, [1] the host network's */
static int watched;
static uint8_t frame[NET_HDR_LEN + NET_MAX_FRAME + 64];

static void on_irq(struct virtio_dev *vd)
{
	(void)vd;
}

static int on_watch(struct net *n, int on)
{
	(void)n;
	watched = on;
	return 0;
}

static int on_offload(int fd, unsigned int flags)
{
	(void)fd;
	(void)flags;
	return 0;
}

static int tap_pending(void)
{
	struct pollfd p = { .fd = tap[0], .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* What devproc's loop would do after an event batch: input while watched, then flush. */
static void loop_turn(void)
{
	if (net.tap_watched && tap_pending())
		(void)!net_tap_readable(&net);
	(void)!net_update_watch(&net);
}

static uint64_t be_read(void *ctx, uint64_t off, unsigned int size)
{
	uint64_t v;

	(void)ctx;
	v = virtio_mmio_read(&net.vd, off, size);
	loop_turn();
	return v;
}

static void be_write(void *ctx, uint64_t off, unsigned int size, uint64_t val)
{
	(void)ctx;
	virtio_mmio_write(&net.vd, off, size, val);
	loop_turn();
}

static void be_kick(void *ctx, unsigned int q)
{
	(void)ctx;
	virtio_kick(&net.vd, q);
	loop_turn();
}

static void inject(const void *buf, size_t len)
{
	if (send(tap[1], buf, len, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != ENOBUFS &&
	    errno != EMSGSIZE)
		fz_fail("inject: %s", strerror(errno));
}

static void be_backend(void *ctx, struct fz *in, uint8_t sub)
{
	(void)ctx;
	switch (sub % 4) {
	case 0: {
		size_t len = fz_u16(in) % (NET_HDR_LEN + 2048);
		size_t nfill = fz_u8(in);

		for (size_t i = 0; i < len; i++)
			frame[i] = (uint8_t)(i * 7 + 1);
		fz_take(in, frame, nfill < len ? nfill : len);
		if (nfill > len) {
			uint8_t skip[255];

			fz_take(in, skip, nfill - len);
		}
		inject(frame, len);
		break;
	}
	case 1:
		if (net.tap_watched)
			(void)!net_tap_readable(&net);
		break;
	case 2: {
		unsigned int k = fz_u8(in) % 64;

		memset(frame, 0, NET_HDR_LEN + 60);
		for (unsigned int i = 0; i < k; i++)
			inject(frame, NET_HDR_LEN + 60);
		break;
	}
	case 3:
		memset(frame, fz_u8(in), NET_HDR_LEN + NET_MAX_FRAME);
		memset(frame, 0, NET_HDR_LEN);
		inject(frame, NET_HDR_LEN + NET_MAX_FRAME);
		break;
	default:
		break;
	}
	loop_turn();
}

/* The rules of tx_header_ok, restated from architecture.md and virtio 1.2 5.1.6.2. */
static void check_tx_frame(const uint8_t *buf, size_t len, uint64_t f)
{
	struct virtio_net_hdr h;
	uint64_t flen;
	uint8_t gso;

	FZ_CHECK(len >= NET_HDR_LEN && len <= NET_HDR_LEN + NET_MAX_FRAME, "TAP got a %zu-byte datagram", len);
	memcpy(&h, buf, sizeof(h));
	flen = len - NET_HDR_LEN;
	gso = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	FZ_CHECK(!(h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM), "TAP got header flags 0x%x", h.flags);
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		FZ_CHECK((f & VIRTIO_BIT(VIRTIO_NET_F_CSUM)) &&
				 (uint64_t)h.csum_start + h.csum_offset + 2 <= flen,
			 "TAP got NEEDS_CSUM with csum_start %u csum_offset %u in a %llu-byte frame "
			 "(features 0x%llx)",
			 h.csum_start, h.csum_offset, (unsigned long long)flen, (unsigned long long)f);
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		FZ_CHECK(h.gso_type == VIRTIO_NET_HDR_GSO_NONE, "TAP got gso_type 0x%x", h.gso_type);
		return;
	}
	FZ_CHECK((gso == VIRTIO_NET_HDR_GSO_TCPV4 && (f & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4))) ||
			 (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (f & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6))),
		 "TAP got gso_type 0x%x with features 0x%llx", h.gso_type, (unsigned long long)f);
	FZ_CHECK(h.gso_size > 0 && h.hdr_len <= flen && (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM),
		 "TAP got GSO with gso_size %u hdr_len %u flags 0x%x in a %llu-byte frame", h.gso_size,
		 h.hdr_len, h.flags, (unsigned long long)flen);
}

static void drain_tx(void)
{
	for (;;) {
		ssize_t n = recv(tap[1], frame, sizeof(frame), MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			fz_fail("TAP peer recv: %s", strerror(errno));
		check_tx_frame(frame, (size_t)n, net.vd.driver_features);
	}
}

static void be_after(void *ctx)
{
	(void)ctx;
	fzv_check_transport(&net.vd, &drv, &gm);
	FZ_CHECK(net.tap_watched == watched, "tap_watched %d, last watch_tap(%d)", net.tap_watched, watched);
	FZ_CHECK(!net.frame_pending || (net.frame_len >= NET_HDR_LEN && net.frame_len <= sizeof(net.frame)),
		 "pending frame of %zu bytes", net.frame_len);
	drain_tx();
}

static const struct fzv_backend backend = {
	.nqueues = 2,
	.io_read = be_read,
	.io_write = be_write,
	.kick = be_kick,
	.backend = be_backend,
	.after_op = be_after,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	char why[256];
	struct fz in;

	if (tap[0] < 0)
		fzv_guest(&gm, FZV_MEM_SIZE, "fuzz-net");
	if (tap[0] >= 0) {
		close(tap[0]);
		close(tap[1]);
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tap) < 0)
		fz_fail("socketpair: %s", strerror(errno));
	if (!drv.be)
		fzv_init(&drv, &backend, gm.regions[0].hva, FZV_MEM_SIZE);
	net_setup(&net, tap[0], mac, &gm);
	net.vd.irq = on_irq;
	net.set_offload = on_offload;
	net.watch_tap = on_watch;
	watched = 0;
	fz_init(&in, data, size);
	fzv_begin(&drv);
	fzv_run(&drv, &in);
	be_after(NULL);
	if (fzv_check(&drv, why, sizeof(why)) < 0)
		fz_fail("%s", why);
	if (getenv("BH_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_net: status 0x%x, tx %llu frames (%llu dropped), rx %llu frames (%llu dropped)\n",
			net.vd.status, (unsigned long long)net.stats.tx_frames,
			(unsigned long long)net.stats.tx_dropped, (unsigned long long)net.stats.rx_frames,
			(unsigned long long)net.stats.rx_dropped);
	return 0;
}
