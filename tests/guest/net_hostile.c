/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net-hostile: a guest that breaks the virtio-net rules on purpose, with the
 * host peer on the TAP. Each case sets the NIC up from reset (some with
 * features left out), commits one violation, and waits for the device's
 * answer:
 *
 *  - a bad transmit frame (shorter than the header, longer than 12 + 65550
 *    bytes, a header the negotiated features do not allow) must be used and
 *    never reach the TAP (dropped), or put the device in DEVICE_NEEDS_RESET;
 *  - receive buffers smaller than the header, and broken rings on either
 *    queue, must put the device in DEVICE_NEEDS_RESET (with InterruptStatus
 *    bit 1) once it looks at them: the receive cases ask the host peer for a
 *    frame so that it does;
 *  - frames sent while the guest has no receive buffers must wait and arrive,
 *    intact and in order, once buffers are posted;
 *  - without MRG_RXBUF, a frame too big for the one posted buffer must be
 *    dropped and the buffer kept for the next frame, which fits.
 *
 * Then it resets the device, sets it up again with every feature, echoes one
 * frame through the host peer and asks the peer how many frames it saw that
 * the device must not have sent (op BAD): that count must not grow. Every bad
 * frame the guest builds is a BAD frame, so the host also sees it if the
 * device lets one through.
 */
#include "net.h"

#define TAG GUEST_TAG "net-hostile: "
#define TX_OUTCOME_US 1000000
#define RX_OUTCOME_US 2000000
#define NO_BUFFERS_US 300000 /* how long frames must wait for rx buffers */
#define NOWHERE (1ull << 40) /* 1 TiB: no RAM there */
#define BIG_DATA (NET_MAX_FRAME + 1) /* one byte more than any frame */
#define SEQ_BASE 0x40000u /* seqs of this suite's frames */

enum {
	O_NONE = 0,
	O_NEEDS_RESET = 1 << 0,
	O_DROPPED = 1 << 1, /* a tx buffer used, the frame never on the TAP */
	O_WAITED = 1 << 2, /* frames waited for rx buffers, then all arrived */
	O_KEPT = 1 << 3, /* the big frame dropped, the buffer got the next one */
	O_WRONG = 1 << 4, /* something the device must not do */
};

struct hctx {
	struct nic *n;
	struct net_opts base;
	uint8_t *big; /* NET_HDR + BIG_DATA + slack: bad tx frames */
	uint32_t seq; /* next seq */
	uint32_t bad_seen; /* BAD frames the host has seen */
	uint32_t isr;
	char note[192];
};

struct ncase {
	const char *name, *what;
	uint64_t need; /* features the case needs offered (and negotiates) */
	uint64_t drop; /* features the case leaves out */
	int post; /* rx buffers to post at setup: -1 all */
	uint32_t rxbuf; /* their size (0: the default) */
	unsigned int (*run)(struct hctx *h);
	unsigned int accept;
};

#define F(b) VIRTIO_BIT(VIRTIO_NET_F_##b)
#define TSO (F(HOST_TSO4) | F(HOST_TSO6))

/* ---- helpers ---- */

static struct vq *rxq(struct hctx *h)
{
	return &h->n->dev.vq[NET_RXQ];
}

static struct vq *txq(struct hctx *h)
{
	return &h->n->dev.vq[NET_TXQ];
}

static void setd(struct vq_desc *t, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

/* post: head into q's avail ring, publish, notify (whatever the device asked). */
static void post(struct hctx *h, struct vq *q, uint16_t head)
{
	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	q->avail_idx++;
	vq_publish(q);
	mb();
	vdev_write32(&h->n->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

/* bad_frame: header (zeroed) and a BAD frame of len bytes in h->big; its address. */
static uint64_t bad_frame(struct hctx *h, uint32_t len)
{
	uint8_t *f = h->big + NET_HDR;

	memset(h->big, 0, NET_HDR);
	netp_data(f, net_dst(h->n), h->n->mac, NETP_BAD, h->seq++, 0xbad, len < 0x10000 ? len : 0x1000);
	if (len >= 0x10000) {
		/* Longer than the length field: the rest is more of the pattern's kind of bytes. */
		f[NETP_OFF_LEN] = f[NETP_OFF_LEN + 1] = 0;
		for (uint32_t i = 0x1000; i < len; i++)
			f[i] = (uint8_t)(i * 7);
	}
	return (uint64_t)(uintptr_t)h->big;
}

static struct net_hdr *bad_hdr(struct hctx *h)
{
	return (struct net_hdr *)h->big;
}

/* send_raw: the chain hdr+frame (one descriptor of len) at desc 0 of the tx queue. */
static void send_raw(struct hctx *h, uint32_t len)
{
	setd(txq(h)->desc, 0, (uint64_t)(uintptr_t)h->big, len, 0, 0);
	post(h, txq(h), 0);
}

/* host_send: ask the peer (quietly: no SENT) for count frames from seq of size bytes. */
static int host_send(struct hctx *h, uint32_t count, uint32_t seq, uint32_t size)
{
	uint32_t a[5] = { count, seq, 0x5eed, size, NETP_SEND_QUIET };

	if (net_ctrl(h->n, NETP_SEND, a, 5, 0, 0)) {
		snprintf(h->note, sizeof(h->note), "SEND: %s", h->n->why);
		return -1;
	}
	return 0;
}

static int needs_reset(struct hctx *h)
{
	uint32_t st = vdev_status(&h->n->dev);

	if (!(st & VIRTIO_NEEDS_RESET))
		return 0;
	h->isr = vdev_read32(&h->n->dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	snprintf(h->note, sizeof(h->note), "Status 0x%x, InterruptStatus 0x%x", st, h->isr);
	return 1;
}

/* tx_outcome: the bad chain at tx desc 0 was used (dropped), or NEEDS_RESET. */
static unsigned int tx_outcome(struct hctx *h)
{
	uint64_t end = rdtsc() + us_to_tsc(TX_OUTCOME_US);

	for (;;) {
		if (vq_used_idx(txq(h)) != 0) {
			struct vq_used_elem *e = vq_used_elem(txq(h), 0);

			snprintf(h->note, sizeof(h->note), "used (id %u, len %u), Status 0x%x", e->id, e->len,
				 vdev_status(&h->n->dev));
			if (e->id != 0) {
				snprintf(h->note, sizeof(h->note), "used with id %u, posted 0", e->id);
				return O_WRONG;
			}
			return needs_reset(h) ? O_NEEDS_RESET : O_DROPPED;
		}
		if (needs_reset(h))
			return O_NEEDS_RESET;
		if (rdtsc() > end) {
			snprintf(h->note, sizeof(h->note), "no answer within %u ms (Status 0x%x)",
				 TX_OUTCOME_US / 1000, vdev_status(&h->n->dev));
			return O_NONE;
		}
		cpu_relax();
	}
}

/* reset_outcome: NEEDS_RESET within us, and no buffer used on the queue of the case. */
static unsigned int reset_outcome(struct hctx *h, uint64_t us, int rx)
{
	uint64_t end = rdtsc() + us_to_tsc(us);
	struct vq *q = rx ? rxq(h) : txq(h);

	for (;;) {
		if (needs_reset(h))
			return O_NEEDS_RESET;
		if (vq_used_idx(q) != 0) {
			snprintf(h->note, sizeof(h->note), "the device used %u %s buffer(s) (the first: len %u)",
				 vq_used_idx(q), rx ? "rx" : "tx", vq_used_elem(q, 0)->len);
			return O_WRONG;
		}
		if (rdtsc() > end) {
			snprintf(h->note, sizeof(h->note), "no NEEDS_RESET within %lu ms (Status 0x%x, used %u/%u)",
				 us / 1000, vdev_status(&h->n->dev), vq_used_idx(rxq(h)), vq_used_idx(txq(h)));
			return O_NONE;
		}
		cpu_relax();
	}
}

/* ---- transmit cases ---- */

static unsigned int c_tx_short(struct hctx *h)
{
	bad_frame(h, 64);
	send_raw(h, 8);
	return tx_outcome(h);
}

static unsigned int c_tx_oversized(struct hctx *h)
{
	uint64_t a = bad_frame(h, BIG_DATA);

	setd(txq(h)->desc, 0, a, NET_HDR, VQ_DESC_F_NEXT, 1);
	setd(txq(h)->desc, 1, a + NET_HDR, BIG_DATA, 0, 0);
	post(h, txq(h), 0);
	return tx_outcome(h);
}

static unsigned int c_hdr_flags(struct hctx *h)
{
	bad_frame(h, 100);
	bad_hdr(h)->flags = 0x80;
	send_raw(h, NET_HDR + 100);
	return tx_outcome(h);
}

static unsigned int c_csum_unneg(struct hctx *h)
{
	struct net_hdr *x = bad_hdr(h);

	bad_frame(h, 100);
	x->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	x->csum_start = 14;
	x->csum_offset = 16;
	send_raw(h, NET_HDR + 100);
	return tx_outcome(h);
}

static unsigned int c_csum_beyond(struct hctx *h)
{
	struct net_hdr *x = bad_hdr(h);

	bad_frame(h, 100);
	x->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	x->csum_start = 98;
	x->csum_offset = 2; /* the checksum field would end at 102 */
	send_raw(h, NET_HDR + 100);
	return tx_outcome(h);
}

/* gso: a TCPv4 GSO header over a full frame. */
static void gso(struct hctx *h, uint8_t type, uint16_t gso_size, uint16_t hdr_len)
{
	struct net_hdr *x = bad_hdr(h);

	bad_frame(h, NET_ETH_FRAME);
	x->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	x->gso_type = type;
	x->hdr_len = hdr_len;
	x->gso_size = gso_size;
	x->csum_start = 34;
	x->csum_offset = 16;
	send_raw(h, NET_HDR + NET_ETH_FRAME);
}

static unsigned int c_gso_unneg(struct hctx *h)
{
	gso(h, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 54);
	return tx_outcome(h);
}

static unsigned int c_gso_size0(struct hctx *h)
{
	gso(h, VIRTIO_NET_HDR_GSO_TCPV4, 0, 54);
	return tx_outcome(h);
}

static unsigned int c_hdr_len(struct hctx *h)
{
	gso(h, VIRTIO_NET_HDR_GSO_TCPV4, 1448, NET_ETH_FRAME + 1);
	return tx_outcome(h);
}

static unsigned int c_gso_unknown(struct hctx *h)
{
	gso(h, VIRTIO_NET_HDR_GSO_UDP, 1448, 42);
	return tx_outcome(h);
}

/* ---- receive cases ---- */

static unsigned int c_rx_small(struct hctx *h)
{
	if (host_send(h, 1, h->seq++, 0))
		return O_NONE;
	return reset_outcome(h, RX_OUTCOME_US, 1);
}

/* recv_one: the next RX frame from the host within us (other frames are counted and
 * skipped; with no_refill, their buffer is posted again); 1, 0 or -1 (h->note). */
static int recv_one(struct hctx *h, uint8_t **f, uint32_t *len, uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);

	for (;;) {
		int r = net_recv(h->n, f, len);

		if (r < 0) {
			snprintf(h->note, sizeof(h->note), "%s", h->n->why);
			return -1;
		}
		if (r > 0) {
			if (netp_is(*f, *len, NETP_RX))
				return 1;
			if (netp_is(*f, *len, 0))
				h->n->rx_stale++;
			else
				h->n->rx_stray++;
			if (h->n->no_refill)
				net_rx_post(h->n, 1);
			continue;
		}
		if (rdtsc() > end)
			return 0;
		cpu_relax();
	}
}

static unsigned int c_rx_none(struct hctx *h)
{
	uint32_t seq0 = h->seq, i;
	uint64_t end;

	h->seq += 8;
	if (host_send(h, 8, seq0, 0))
		return O_NONE;
	end = rdtsc() + us_to_tsc(NO_BUFFERS_US);
	while (rdtsc() < end) {
		if (needs_reset(h))
			return O_NEEDS_RESET | O_WRONG;
		cpu_relax();
	}
	if (vq_used_idx(rxq(h)) != 0) {
		snprintf(h->note, sizeof(h->note), "used idx %u with no buffers posted", vq_used_idx(rxq(h)));
		return O_WRONG;
	}
	net_rx_post(h->n, h->n->nrx);
	for (i = 0; i < 8; i++) {
		uint8_t *f;
		uint32_t len, want = netp_frame_size(seq0 + i);
		int64_t bad;
		int r = recv_one(h, &f, &len, RX_OUTCOME_US);

		if (r <= 0) {
			if (!r)
				snprintf(h->note, sizeof(h->note), "%u of 8 frames arrived after posting buffers", i);
			return O_NONE;
		}
		bad = netp_check(f, len, NETP_RX);
		if (!netp_is(f, len, NETP_RX) || netp_seq(f) != seq0 + i || len != want || bad >= 0) {
			snprintf(h->note, sizeof(h->note), "frame %u: op %u seq 0x%x, %u bytes (want %u), bad at %ld", i,
				 netp_op(f), netp_seq(f), len, want, bad);
			return O_WRONG;
		}
	}
	snprintf(h->note, sizeof(h->note), "nothing for %u ms, then 8 of 8 frames intact and in order",
		 NO_BUFFERS_US / 1000);
	return O_WAITED;
}

static unsigned int c_rx_small_nonmrg(struct hctx *h)
{
	uint32_t big = h->seq++, small = h->seq++;
	uint8_t *f;
	uint32_t len;
	int r;

	h->n->no_refill = 1;
	if (host_send(h, 1, big, NET_ETH_FRAME) || host_send(h, 1, small, 100))
		return O_NONE;
	r = recv_one(h, &f, &len, RX_OUTCOME_US);
	if (r < 0)
		return O_NONE;
	if (!r) {
		snprintf(h->note, sizeof(h->note), "nothing arrived within %u ms (Status 0x%x)", RX_OUTCOME_US / 1000,
			 vdev_status(&h->n->dev));
		return needs_reset(h) ? O_NEEDS_RESET : O_NONE;
	}
	if (netp_seq(f) == big) {
		snprintf(h->note, sizeof(h->note), "the 1514-byte frame arrived (%u bytes) in a %u-byte buffer", len,
			 h->n->rxbuf);
		return O_WRONG;
	}
	if (netp_seq(f) != small || len != 100 || netp_check(f, len, NETP_RX) >= 0) {
		snprintf(h->note, sizeof(h->note), "got seq 0x%x of %u bytes, want 0x%x of 100", netp_seq(f), len,
			 small);
		return O_WRONG;
	}
	snprintf(h->note, sizeof(h->note), "the 1514-byte frame dropped, the %u-byte buffer got the 100-byte one",
		 h->n->rxbuf);
	return needs_reset(h) ? O_NEEDS_RESET | O_WRONG : O_KEPT;
}

/* ---- ring violations, on either queue ---- */

/* good_desc: a valid buffer in descriptor i of q (writable for rx, a BAD frame for tx). */
static void good_desc(struct hctx *h, struct vq *q, unsigned int i)
{
	if (q->index == NET_RXQ)
		setd(q->desc, i, (uint64_t)(uintptr_t)h->n->rxmem, NET_RXBUF_DEFAULT, VQ_DESC_F_WRITE, 0);
	else
		setd(q->desc, i, bad_frame(h, 100), NET_HDR + 100, 0, 0);
}

/* ring_outcome: rx violations need a frame before the device looks at the ring. */
static unsigned int ring_outcome(struct hctx *h, struct vq *q)
{
	if (q->index == NET_RXQ) {
		if (host_send(h, 1, h->seq++, 0))
			return O_NONE;
		return reset_outcome(h, RX_OUTCOME_US, 1);
	}
	return reset_outcome(h, TX_OUTCOME_US, 0);
}

static unsigned int avail_jump(struct hctx *h, struct vq *q)
{
	unsigned int i;

	/* Every ring entry names a valid buffer, so a device that misses the jump uses one. */
	good_desc(h, q, 0);
	for (i = 0; i < q->size; i++)
		q->avail[2 + i] = 0;
	q->avail_idx = (uint16_t)(q->size + 1);
	vq_publish(q);
	mb();
	vdev_write32(&h->n->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
	return ring_outcome(h, q);
}

static unsigned int head_range(struct hctx *h, struct vq *q)
{
	good_desc(h, q, 0);
	post(h, q, q->size);
	return ring_outcome(h, q);
}

static unsigned int beyond_ram(struct hctx *h, struct vq *q)
{
	good_desc(h, q, 0);
	q->desc[0].addr = NOWHERE;
	post(h, q, 0);
	return ring_outcome(h, q);
}

static unsigned int loop2(struct hctx *h, struct vq *q)
{
	uint16_t w = q->index == NET_RXQ ? VQ_DESC_F_WRITE : 0;
	uint64_t a = q->index == NET_RXQ ? (uint64_t)(uintptr_t)h->n->rxmem : bad_frame(h, 100);

	setd(q->desc, 0, a, 64, w | VQ_DESC_F_NEXT, 1);
	setd(q->desc, 1, a + 64, 64, w | VQ_DESC_F_NEXT, 0);
	post(h, q, 0);
	return ring_outcome(h, q);
}

static unsigned int c_rx_jump(struct hctx *h) { return avail_jump(h, rxq(h)); }
static unsigned int c_rx_head(struct hctx *h) { return head_range(h, rxq(h)); }
static unsigned int c_rx_ram(struct hctx *h) { return beyond_ram(h, rxq(h)); }
static unsigned int c_rx_loop(struct hctx *h) { return loop2(h, rxq(h)); }
static unsigned int c_tx_jump(struct hctx *h) { return avail_jump(h, txq(h)); }
static unsigned int c_tx_head(struct hctx *h) { return head_range(h, txq(h)); }
static unsigned int c_tx_ram(struct hctx *h) { return beyond_ram(h, txq(h)); }
static unsigned int c_tx_loop(struct hctx *h) { return loop2(h, txq(h)); }

#define TXBAD (O_DROPPED | O_NEEDS_RESET)

static const struct ncase cases[] = {
	{ "tx-short", "tx chain of 8 bytes (shorter than the header)", 0, 0, -1, 0, c_tx_short, TXBAD },
	{ "tx-oversized", "tx chain of 12 + 65551 bytes", 0, 0, -1, 0, c_tx_oversized, TXBAD },
	{ "hdr-unknown-flags", "header flags 0x80", 0, 0, -1, 0, c_hdr_flags, TXBAD },
	{ "hdr-csum-unnegotiated", "NEEDS_CSUM without CSUM negotiated", 0, F(CSUM) | TSO, -1, 0, c_csum_unneg,
	  TXBAD },
	{ "hdr-csum-beyond", "csum_start + csum_offset beyond the frame", F(CSUM), 0, -1, 0, c_csum_beyond, TXBAD },
	{ "hdr-gso-unnegotiated", "GSO TCPv4 without HOST_TSO4", F(CSUM), TSO, -1, 0, c_gso_unneg, TXBAD },
	{ "hdr-gso-size-0", "GSO TCPv4 with gso_size 0", F(CSUM) | F(HOST_TSO4), 0, -1, 0, c_gso_size0, TXBAD },
	{ "hdr-len-beyond", "GSO TCPv4 with hdr_len beyond the frame", F(CSUM) | F(HOST_TSO4), 0, -1, 0, c_hdr_len,
	  TXBAD },
	{ "hdr-gso-unknown", "GSO type UDP (UFO not negotiated)", F(CSUM) | F(HOST_TSO4), 0, -1, 0, c_gso_unknown,
	  TXBAD },
	{ "rx-buffer-below-header", "rx buffers of 8 bytes, then a frame", 0, 0, 4, 8, c_rx_small,
	  O_NEEDS_RESET },
	{ "rx-no-buffers", "8 frames while no rx buffer is posted", 0, 0, 0, 0, c_rx_none, O_WAITED },
	{ "rx-small-nonmergeable", "no MRG_RXBUF, one 140-byte buffer, a 1514- then a 100-byte frame", 0,
	  F(MRG_RXBUF), 1, NET_HDR + 128, c_rx_small_nonmrg, O_KEPT },
	{ "rx-avail-idx-jump", "rx avail idx moved by queue size + 1", 0, 0, 0, 0, c_rx_jump, O_NEEDS_RESET },
	{ "rx-head-out-of-range", "rx avail ring head = queue size", 0, 0, 0, 0, c_rx_head, O_NEEDS_RESET },
	{ "rx-addr-beyond-ram", "rx buffer at 1 TiB", 0, 0, 0, 0, c_rx_ram, O_NEEDS_RESET },
	{ "rx-loop", "rx descriptors 0 -> 1 -> 0", 0, 0, 0, 0, c_rx_loop, O_NEEDS_RESET },
	{ "tx-avail-idx-jump", "tx avail idx moved by queue size + 1", 0, 0, -1, 0, c_tx_jump, O_NEEDS_RESET },
	{ "tx-head-out-of-range", "tx avail ring head = queue size", 0, 0, -1, 0, c_tx_head, O_NEEDS_RESET },
	{ "tx-addr-beyond-ram", "tx buffer at 1 TiB", 0, 0, -1, 0, c_tx_ram, O_NEEDS_RESET },
	{ "tx-loop", "tx descriptors 0 -> 1 -> 0", 0, 0, -1, 0, c_tx_loop, O_NEEDS_RESET },
};

static const char *outcome_name(unsigned int o)
{
	if (o & O_WRONG)
		return "wrong";
	if (o & O_NEEDS_RESET)
		return "NEEDS_RESET";
	if (o & O_DROPPED)
		return "dropped";
	if (o & O_WAITED)
		return "waited";
	if (o & O_KEPT)
		return "kept";
	return "nothing";
}

/* bad_count: the BAD frames the host peer has seen; 0 or -1 (h->note). */
static int bad_count(struct hctx *h, uint32_t *count)
{
	if (net_ctrl(h->n, NETP_REPORT, NULL, 0, NETP_REPORT_ACK, h->n->opts.timeout_ms)) {
		snprintf(h->note, sizeof(h->note), "REPORT: %s", h->n->why);
		return -1;
	}
	*count = netp_a(h->n->ctrl_reply, 2);
	return 0;
}

/* recover: reset, set up with every feature, echo one frame, and no BAD frame on the TAP. */
static int recover(struct hctx *h)
{
	struct net_echo_result r;
	char why[192];
	uint32_t bad;

	h->n->no_refill = 0;
	if (vdev_reset(&h->n->dev)) {
		snprintf(h->note, sizeof(h->note), "Status did not read 0 within 1 s of a reset");
		return -1;
	}
	h->n->opts = h->base;
	if (net_setup(h->n, -1, 0)) {
		snprintf(h->note, sizeof(h->note), "setup after the reset: %s", h->n->why);
		return -1;
	}
	if (net_echo_run(&h->n, 1, 1, 0, 1, h->seq++, &r, why, sizeof(why))) {
		snprintf(h->note, sizeof(h->note), "echo after the reset: %s", why);
		return -1;
	}
	if (bad_count(h, &bad))
		return -1;
	if (bad != h->bad_seen) {
		snprintf(h->note, sizeof(h->note), "the host peer saw %u frame(s) the device must not have sent",
			 bad - h->bad_seen);
		h->bad_seen = bad;
		return -1;
	}
	return 0;
}

void net_hostile(void)
{
	struct net_opts o;
	struct hctx h;
	unsigned int i, passed = 0, failed = 0, skipped = 0;
	const char *only;
	size_t only_len = 0;

	memset(&h, 0, sizeof(h));
	net_opts_from_cmdline(&o);
	o.irq = 0; /* the suite polls */
	o.rxsegs = 1;
	h.n = net_open((unsigned int)param_u64("bulkhead.nic", 0), &o);
	h.base = h.n->opts;
	h.seq = SEQ_BASE;
	h.big = phys_alloc(NET_HDR + BIG_DATA + 64, 4096);
	if (!h.big)
		fail("out of guest memory");
	only = param_get("bulkhead.case", &only_len);
	net_describe(h.n, "net-hostile");
	if (net_hello(h.n))
		fail("%s", h.n->why);
	if (bad_count(&h, &h.bad_seen))
		fail("%s", h.note);
	for (i = 0; i < nitems(cases); i++) {
		const struct ncase *c = &cases[i];
		unsigned int out;
		int ok;

		if (only && (strlen(c->name) != only_len || strncmp(c->name, only, only_len)))
			continue;
		h.note[0] = '\0';
		h.isr = 0;
		if ((h.n->dev.offered & c->need) != c->need) {
			cprintf(TAG "%s: %s ... skipped (a feature it needs is not offered)\n", c->name, c->what);
			skipped++;
			continue;
		}
		h.n->opts = h.base;
		h.n->opts.want = (h.base.want | c->need) & ~c->drop;
		h.n->no_refill = 0;
		if (net_setup(h.n, c->post, c->rxbuf)) {
			snprintf(h.note, sizeof(h.note), "setup: %s", h.n->why);
			out = O_NONE;
		} else if ((h.n->dev.features & c->need) != c->need || (h.n->dev.features & c->drop)) {
			snprintf(h.note, sizeof(h.note), "features 0x%lx negotiated", h.n->dev.features);
			out = O_NONE;
		} else {
			out = c->run(&h);
		}
		ok = !(out & O_WRONG) && (out & c->accept) != 0;
		/* NEEDS_RESET must come with a configuration-change interrupt. */
		if (ok && (out & O_NEEDS_RESET) && !(h.isr & VIRTIO_INT_CONFIG)) {
			ok = 0;
			snprintf(h.note + strlen(h.note), sizeof(h.note) - strlen(h.note),
				 "; no configuration-change bit in InterruptStatus");
		}
		if (recover(&h)) {
			ok = 0;
			out |= O_WRONG;
		}
		if (ok) {
			passed++;
			cprintf(TAG "%s: %s ... ok (%s) [%s]\n", c->name, c->what, outcome_name(out & c->accept), h.note);
		} else {
			failed++;
			cprintf(TAG "%s: %s ... FAIL (%s) [%s]\n", c->name, c->what, outcome_name(out), h.note);
		}
	}
	cprintf(TAG "%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	if (failed)
		fail("%u of %u cases failed", failed, passed + failed);
	if (!passed)
		fail("no case ran");
	pass();
}
