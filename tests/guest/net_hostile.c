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
 *    dropped and the buffer kept for the next frame, which fits;
 *  - rx headers carry the true num_buffers whatever the buffer held before,
 *    buffers of the wrong direction or of length 0 are refused, aliased tx
 *    buffers go out as the bytes they name (or not at all), and rx chains
 *    through indirect tables work (the table descriptor's WRITE flag is
 *    ignored, 2.7.5.3.2);
 *  - no queue's used ring and no rx buffer may lie over the other queue's
 *    rings (the vring class across queues);
 *  - with a second vCPU shrinking and growing posted rx buffers while
 *    mergeable frames arrive, every frame that arrives is intact.
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
#define RACE_US 300000 /* how long the rx buffers are rewritten */
#define CANARY 0x5c

enum {
	O_NONE = 0,
	O_NEEDS_RESET = 1 << 0,
	O_DROPPED = 1 << 1, /* a tx buffer used, the frame never on the TAP */
	O_WAITED = 1 << 2, /* frames waited for rx buffers, then all arrived */
	O_KEPT = 1 << 3, /* the big frame dropped, the buffer got the next one */
	O_DELIVERED = 1 << 4, /* the frame arrived intact (and as the spec has it) */
	O_REFUSED = 1 << 5, /* QueueReady stayed 0 */
	O_SURVIVED = 1 << 6, /* every frame that arrived was intact */
	O_WRONG = 1 << 7, /* something the device must not do */
};

struct hctx {
	struct nic *n;
	struct net_opts base;
	uint8_t *big; /* NET_HDR + BIG_DATA + slack: bad tx frames */
	uint8_t *mem; /* 16 KiB: indirect tables and buffers of the cases' own */
	unsigned int cpus; /* online; the second runs smp_run jobs */
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
	unsigned int cpus; /* 2: needs a second vCPU */
};

#define F(b) VIRTIO_BIT(VIRTIO_NET_F_##b)
#define TSO (F(HOST_TSO4) | F(HOST_TSO6))
#define INDIRECT VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define HPHYS_NET(p) ((uint64_t)(uintptr_t)(p))

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

/* ---- headers, directions, lengths, aliases, indirect rx ---- */

/* rx_used: the first rx buffer the device used (1) or NEEDS_RESET (-1) within us, else 0. */
static int rx_used(struct hctx *h, uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);

	for (;;) {
		if (vq_used_idx(rxq(h)))
			return 1;
		if (needs_reset(h))
			return -1;
		if (rdtsc() > end)
			return 0;
		cpu_relax();
	}
}

/* 5.1.6.4: the device sets num_buffers, whatever the buffer held (0xffff here). */
static unsigned int nb_garbage(struct hctx *h)
{
	struct nic *n = h->n;
	uint64_t nb_not_one = n->nb_not_one;
	uint32_t seq = h->seq++, len;
	uint8_t *f;
	int r;

	for (unsigned int i = 0; i < n->nrx; i++) {
		struct net_hdr *x = (struct net_hdr *)(n->rxmem + (size_t)i * n->rx_stride);

		memset(x, 0xff, sizeof(*x));
	}
	net_rx_post(n, n->nrx);
	if (host_send(h, 1, seq, 100))
		return O_NONE;
	r = recv_one(h, &f, &len, RX_OUTCOME_US);
	if (r <= 0) {
		if (!r)
			snprintf(h->note, sizeof(h->note), "nothing arrived (Status 0x%x)", vdev_status(&n->dev));
		else
			snappendf(h->note, sizeof(h->note), " (num_buffers left as the buffer held it?)");
		return r < 0 ? O_WRONG : O_NONE;
	}
	snprintf(h->note, sizeof(h->note), "frame of %u bytes, num_buffers %u", len, n->rx_hdr.num_buffers);
	if (netp_seq(f) != seq || len != 100 || netp_check(f, len, NETP_RX) >= 0 || n->rx_hdr.num_buffers != 1 ||
	    n->nb_not_one != nb_not_one)
		return O_WRONG;
	return O_DELIVERED;
}

static unsigned int c_nb_garbage_mrg(struct hctx *h) { return nb_garbage(h); }
static unsigned int c_nb_garbage(struct hctx *h) { return nb_garbage(h); }

/* echo_frame: a zero header and an ECHO frame of len bytes at h->big; its seq. */
static uint32_t echo_frame(struct hctx *h, uint32_t len)
{
	uint32_t seq = h->seq++;

	memset(h->big, 0, NET_HDR);
	netp_data(h->big + NET_HDR, net_dst(h->n), h->n->mac, NETP_ECHO, seq, 0xec0, len);
	return seq;
}

/* echo_back: the echo of seq within us: 1 with *f, *len; 0 if none came. */
static int echo_back(struct hctx *h, uint32_t seq, uint8_t **f, uint32_t *len, uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);

	while (rdtsc() < end) {
		int r = net_recv(h->n, f, len);

		if (r < 0)
			return 0;
		if (r > 0 && netp_is(*f, *len, NETP_ECHO) && netp_seq(*f) == seq)
			return 1;
		if (!r)
			cpu_relax();
	}
	return 0;
}

/* sent_as: the tx chain posted for echo frame seq was used: dropped, or sent as exactly the
 * want_len bytes at want (the echo comes back with the MACs swapped); else its outcome. */
static unsigned int sent_as(struct hctx *h, uint32_t seq, const uint8_t *want, uint32_t want_len)
{
	unsigned int out = tx_outcome(h);
	uint32_t len;
	uint8_t *f;

	if (out != O_DROPPED || !echo_back(h, seq, &f, &len, 500000))
		return out;
	snprintf(h->note, sizeof(h->note), "sent: the echo came back, %u bytes", len);
	return len == want_len && !memcmp(f + 12, want + 12, len - 12) ? O_DELIVERED : O_WRONG;
}

/* N0021: num_buffers 0xffff in a transmit header (the driver's to leave 0): the frame goes
 * out unchanged, or is dropped. */
static unsigned int c_tx_nb(struct hctx *h)
{
	uint32_t seq = echo_frame(h, 100);

	((struct net_hdr *)h->big)->num_buffers = 0xffff;
	send_raw(h, NET_HDR + 100);
	return sent_as(h, seq, h->big + NET_HDR, 100);
}

/* N0009: an rx buffer the device may only read (2.7.4: it MUST NOT write it). */
static unsigned int c_rx_readable(struct hctx *h)
{
	uint8_t *b = h->n->rxmem;
	unsigned int out;

	memset(b, CANARY, NET_RXBUF_DEFAULT);
	setd(rxq(h)->desc, 0, HPHYS_NET(b), NET_RXBUF_DEFAULT, 0, 0);
	post(h, rxq(h), 0);
	out = ring_outcome(h, rxq(h));
	if (!mem_filled(b, NET_RXBUF_DEFAULT, CANARY)) {
		snappendf(h->note, sizeof(h->note), "; the device wrote into the device-readable buffer");
		return out | O_WRONG;
	}
	return out;
}

/* N0010: a tx chain the device may only write (the frame in a device-writable buffer). */
static unsigned int c_tx_writable(struct hctx *h)
{
	setd(txq(h)->desc, 0, bad_frame(h, 100), NET_HDR + 100, VQ_DESC_F_WRITE, 0);
	post(h, txq(h), 0);
	return tx_outcome(h);
}

/* N0023: an rx buffer of length 0. */
static unsigned int c_rx_zero(struct hctx *h)
{
	setd(rxq(h)->desc, 0, HPHYS_NET(h->n->rxmem), 0, VQ_DESC_F_WRITE, 0);
	post(h, rxq(h), 0);
	return ring_outcome(h, rxq(h));
}

/* N0045: a tx chain naming the same frame bytes twice: if sent, exactly those bytes. */
static unsigned int c_tx_aliased(struct hctx *h)
{
	uint64_t a = HPHYS_NET(h->big);
	uint32_t seq = echo_frame(h, 100);
	uint8_t *twice = h->mem + KiB(8);

	memcpy(twice, h->big + NET_HDR, 100);
	memcpy(twice + 100, h->big + NET_HDR, 100);
	setd(txq(h)->desc, 0, a, NET_HDR, VQ_DESC_F_NEXT, 1);
	setd(txq(h)->desc, 1, a + NET_HDR, 100, VQ_DESC_F_NEXT, 2);
	setd(txq(h)->desc, 2, a + NET_HDR, 100, 0, 0);
	post(h, txq(h), 0);
	return sent_as(h, seq, twice, 200);
}

/* An rx chain through an indirect table: header, then the frame. */
static unsigned int rx_indirect(struct hctx *h, uint16_t table_flags, uint16_t entry_flags)
{
	struct vq_desc *t = (struct vq_desc *)h->mem;
	uint8_t *hdr = h->mem + 256, *data = h->mem + 512;
	uint32_t seq = h->seq++, len;
	int r;

	memset(hdr, CANARY, 256 + NET_ETH_FRAME);
	setd(t, 0, HPHYS_NET(hdr), NET_HDR, entry_flags | VQ_DESC_F_NEXT, 1);
	setd(t, 1, HPHYS_NET(data), NET_ETH_FRAME, entry_flags, 0);
	setd(rxq(h)->desc, 0, HPHYS_NET(t), 2 * sizeof(*t), VQ_DESC_F_INDIRECT | table_flags, 0);
	post(h, rxq(h), 0);
	if (host_send(h, 1, seq, 100))
		return O_NONE;
	r = rx_used(h, RX_OUTCOME_US);
	if (r < 0)
		return O_NEEDS_RESET;
	if (!r) {
		snprintf(h->note, sizeof(h->note), "nothing used within %u ms (Status 0x%x)", RX_OUTCOME_US / 1000,
			 vdev_status(&h->n->dev));
		return O_NONE;
	}
	len = vq_used_elem(rxq(h), 0)->len;
	snprintf(h->note, sizeof(h->note), "used len %u, num_buffers %u", len, ((struct net_hdr *)hdr)->num_buffers);
	if (entry_flags != VQ_DESC_F_WRITE) {
		snappendf(h->note, sizeof(h->note), "; a frame written into device-readable buffers");
		return O_WRONG;
	}
	if (len != NET_HDR + 100 || netp_seq(data) != seq || netp_check(data, 100, NETP_RX) >= 0 ||
	    ((struct net_hdr *)hdr)->num_buffers != 1)
		return O_WRONG;
	return O_DELIVERED;
}

static unsigned int c_rx_indirect(struct hctx *h)
{
	return rx_indirect(h, 0, VQ_DESC_F_WRITE);
}

static unsigned int c_rx_indirect_wflag(struct hctx *h)
{
	return rx_indirect(h, VQ_DESC_F_WRITE, VQ_DESC_F_WRITE);
}

static unsigned int c_rx_indirect_readable(struct hctx *h)
{
	return rx_indirect(h, 0, 0);
}

/* ---- rings across the two queues ---- */

/* queue_at: queue qi with its own size at desc/avail/used, QueueReady 1: O_REFUSED if it
 * reads 0 (note set). */
static unsigned int queue_at(struct hctx *h, unsigned int qi, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct vdev *d = &h->n->dev;
	uint32_t ready;

	ready = vdev_queue_place(d, qi, d->vq[qi].size, desc, avail, used);
	snprintf(h->note, sizeof(h->note), "queue %u: QueueReady reads %u, Status 0x%x", qi, ready, vdev_status(d));
	return ready ? O_NONE : O_REFUSED;
}

/* across: from reset, queue first set up properly, then queue second with its used ring
 * (used_over) or its descriptor table (desc_under) on the first queue's used ring. */
static unsigned int across(struct hctx *h, unsigned int first, int tx_used_over_rx_avail)
{
	struct vdev *d = &h->n->dev;
	struct vq *r = rxq(h), *t = txq(h);
	const char *why = "";

	if (vdev_negotiate(d, d->features, &why) || vq_setup(d, first, r->size, 0, &why)) {
		snprintf(h->note, sizeof(h->note), "setup: %s", why);
		return O_NONE;
	}
	if (tx_used_over_rx_avail)
		return queue_at(h, NET_TXQ, HPHYS_NET(t->desc), HPHYS_NET(t->avail), HPHYS_NET(r->avail));
	return queue_at(h, NET_RXQ, HPHYS_NET(t->used), HPHYS_NET(r->avail), HPHYS_NET(r->used));
}

static unsigned int c_tx_used_over_rx(struct hctx *h)
{
	return across(h, NET_RXQ, 1);
}

static unsigned int c_rx_desc_under_tx(struct hctx *h)
{
	return across(h, NET_TXQ, 0);
}

/* An rx buffer over one of the tx queue's rings: the frame would write tx work. */
static unsigned int rx_over_tx(struct hctx *h, void *ring, size_t len)
{
	static uint8_t before[4096];
	unsigned int out;

	setd(rxq(h)->desc, 0, HPHYS_NET(ring), NET_RXBUF_DEFAULT, VQ_DESC_F_WRITE, 0);
	post(h, rxq(h), 0);
	/* The request for the frame goes out on the tx queue itself: the ring as it is
	 * after that, before the peer can answer, is what must stay. */
	if (host_send(h, 1, h->seq++, 0))
		return O_NONE;
	copy_fast(before, ring, len);
	out = reset_outcome(h, RX_OUTCOME_US, 1);
	if (memcmp(before, ring, len)) {
		snappendf(h->note, sizeof(h->note), "; a received frame was written over the tx ring");
		return out | O_WRONG;
	}
	return out;
}

static unsigned int c_rx_over_tx_avail(struct hctx *h)
{
	return rx_over_tx(h, txq(h)->avail, 6 + 2 * (size_t)txq(h)->size);
}

static unsigned int c_rx_over_tx_desc(struct hctx *h)
{
	return rx_over_tx(h, txq(h)->desc, sizeof(struct vq_desc) * txq(h)->size);
}

/* ---- rx buffers resized by a second vCPU while mergeable frames arrive ---- */

struct resize {
	struct vq_desc *d;
	uint16_t size;
	uint32_t big;
	volatile int stop;
	uint32_t flips;
};

static void resize_rx(void *arg)
{
	struct resize *r = arg;
	uint64_t x = 0x5eed;

	while (!READ_ONCE(r->stop)) {
		x = splitmix64(x);
		WRITE_ONCE(r->d[x % r->size].len, x & 0x10000 ? r->big : 64);
		r->flips++;
	}
}

static unsigned int c_mrg_race(struct hctx *h)
{
	static struct resize r;
	unsigned int frames = 0, bad = 0, lost = 0;
	uint64_t end;
	int reset = 0;

	memset(&r, 0, sizeof(r));
	r.d = rxq(h)->desc;
	r.size = rxq(h)->size;
	r.big = h->n->rxbuf;
	if (smp_run(resize_rx, &r)) {
		snprintf(h->note, sizeof(h->note), "the worker CPU did not take the job");
		return O_NONE;
	}
	end = rdtsc() + us_to_tsc(RACE_US);
	while (rdtsc() < end && !reset && !bad && !lost) {
		uint32_t seq0 = h->seq;

		h->seq += 8;
		if (host_send(h, 8, seq0, 0))
			break;
		for (uint32_t i = 0; i < 8 && !reset; i++) {
			uint8_t *f;
			uint32_t len;
			int got = recv_one(h, &f, &len, RX_OUTCOME_US);

			if (got < 0 || needs_reset(h)) {
				reset = needs_reset(h);
				bad += !reset;
				break;
			}
			if (!got) {
				lost++;
				break;
			}
			frames++;
			if (netp_seq(f) - seq0 >= 8 || len != netp_frame_size(netp_seq(f)) ||
			    netp_check(f, len, NETP_RX) >= 0)
				bad++;
		}
	}
	r.stop = 1;
	end = rdtsc() + us_to_tsc(1000000);
	while (!smp_done() && rdtsc() < end)
		cpu_relax();
	if (!reset)
		h->note[0] = '\0';
	snappendf(h->note, sizeof(h->note), "%s%u frames intact, %u bad, %u missing, %u resizes%s",
		  reset ? "; " : "", frames - bad, bad, lost, r.flips, reset ? ", then NEEDS_RESET" : "");
	if (bad)
		return O_WRONG;
	if (lost)
		return O_NONE;
	return reset ? O_NEEDS_RESET : O_SURVIVED;
}

#define TXBAD (O_DROPPED | O_NEEDS_RESET)

static const struct ncase cases[] = {
	{ "tx-short", "tx chain of 8 bytes (shorter than the header)", 0, 0, -1, 0, c_tx_short, TXBAD, 1 },
	{ "tx-oversized", "tx chain of 12 + 65551 bytes", 0, 0, -1, 0, c_tx_oversized, TXBAD, 1 },
	{ "hdr-unknown-flags", "header flags 0x80", 0, 0, -1, 0, c_hdr_flags, TXBAD, 1 },
	{ "hdr-csum-unnegotiated", "NEEDS_CSUM without CSUM negotiated", 0, F(CSUM) | TSO, -1, 0, c_csum_unneg,
	  TXBAD, 1 },
	{ "hdr-csum-beyond", "csum_start + csum_offset beyond the frame", F(CSUM), 0, -1, 0, c_csum_beyond, TXBAD, 1 },
	{ "hdr-gso-unnegotiated", "GSO TCPv4 without HOST_TSO4", F(CSUM), TSO, -1, 0, c_gso_unneg, TXBAD, 1 },
	{ "hdr-gso-size-0", "GSO TCPv4 with gso_size 0", F(CSUM) | F(HOST_TSO4), 0, -1, 0, c_gso_size0, TXBAD, 1 },
	{ "hdr-len-beyond", "GSO TCPv4 with hdr_len beyond the frame", F(CSUM) | F(HOST_TSO4), 0, -1, 0, c_hdr_len,
	  TXBAD, 1 },
	{ "hdr-gso-unknown", "GSO type UDP (UFO not negotiated)", F(CSUM) | F(HOST_TSO4), 0, -1, 0, c_gso_unknown,
	  TXBAD, 1 },
	{ "rx-buffer-below-header", "rx buffers of 8 bytes, then a frame", 0, 0, 4, 8, c_rx_small,
	  O_NEEDS_RESET, 1 },
	{ "rx-no-buffers", "8 frames while no rx buffer is posted", 0, 0, 0, 0, c_rx_none, O_WAITED, 1 },
	{ "rx-small-nonmergeable", "no MRG_RXBUF, one 140-byte buffer, a 1514- then a 100-byte frame", 0,
	  F(MRG_RXBUF), 1, NET_HDR + 128, c_rx_small_nonmrg, O_KEPT, 1 },
	{ "rx-avail-idx-jump", "rx avail idx moved by queue size + 1", 0, 0, 0, 0, c_rx_jump, O_NEEDS_RESET, 1 },
	{ "rx-head-out-of-range", "rx avail ring head = queue size", 0, 0, 0, 0, c_rx_head, O_NEEDS_RESET, 1 },
	{ "rx-addr-beyond-ram", "rx buffer at 1 TiB", 0, 0, 0, 0, c_rx_ram, O_NEEDS_RESET, 1 },
	{ "rx-loop", "rx descriptors 0 -> 1 -> 0", 0, 0, 0, 0, c_rx_loop, O_NEEDS_RESET, 1 },
	{ "tx-avail-idx-jump", "tx avail idx moved by queue size + 1", 0, 0, -1, 0, c_tx_jump, O_NEEDS_RESET, 1 },
	{ "tx-head-out-of-range", "tx avail ring head = queue size", 0, 0, -1, 0, c_tx_head, O_NEEDS_RESET, 1 },
	{ "tx-addr-beyond-ram", "tx buffer at 1 TiB", 0, 0, -1, 0, c_tx_ram, O_NEEDS_RESET, 1 },
	{ "tx-loop", "tx descriptors 0 -> 1 -> 0", 0, 0, -1, 0, c_tx_loop, O_NEEDS_RESET, 1 },
	{ "rx-num-buffers-garbage", "rx headers preset to num_buffers 0xffff (MRG_RXBUF)", F(MRG_RXBUF), 0, 0, 0,
	  c_nb_garbage_mrg, O_DELIVERED, 1 },
	{ "rx-num-buffers-garbage-nonmergeable", "rx headers preset to num_buffers 0xffff, no MRG_RXBUF", 0,
	  F(MRG_RXBUF), 0, 0, c_nb_garbage, O_DELIVERED, 1 },
	{ "tx-num-buffers-nonzero", "a transmit header with num_buffers 0xffff", 0, 0, -1, 0, c_tx_nb,
	  O_DELIVERED | O_DROPPED, 1 },
	{ "rx-device-readable", "an rx buffer the device may only read", 0, 0, 0, 0, c_rx_readable,
	  O_NEEDS_RESET, 1 },
	{ "tx-device-writable", "a tx frame in a device-writable buffer", 0, 0, -1, 0, c_tx_writable, TXBAD, 1 },
	{ "rx-zero-length", "an rx buffer of length 0", 0, 0, 0, 0, c_rx_zero, O_NEEDS_RESET, 1 },
	{ "tx-aliased", "a tx chain naming the same 100 frame bytes twice", 0, 0, -1, 0, c_tx_aliased,
	  O_DELIVERED | O_DROPPED | O_NEEDS_RESET, 1 },
	{ "rx-indirect", "an rx chain through an indirect table", INDIRECT, 0, 0, 0, c_rx_indirect, O_DELIVERED, 1 },
	{ "rx-indirect-write-flag", "INDIRECT | WRITE on the rx table's descriptor (ignored)", INDIRECT, 0, 0, 0,
	  c_rx_indirect_wflag, O_DELIVERED, 1 },
	{ "rx-indirect-readable", "an rx indirect table of device-readable entries", INDIRECT, 0, 0, 0,
	  c_rx_indirect_readable, O_NEEDS_RESET, 1 },
	{ "tx-used-over-rx-avail", "the tx used ring on the rx avail ring", 0, 0, 0, 0, c_tx_used_over_rx,
	  O_REFUSED, 1 },
	{ "rx-desc-under-tx-used", "the rx descriptor table under the tx used ring", 0, 0, 0, 0,
	  c_rx_desc_under_tx, O_REFUSED, 1 },
	{ "rx-buffer-over-tx-avail", "an rx buffer over the tx avail ring", 0, 0, 0, 0, c_rx_over_tx_avail,
	  O_NEEDS_RESET, 1 },
	{ "rx-buffer-over-tx-desc", "an rx buffer over the tx descriptor table", 0, 0, 0, 0, c_rx_over_tx_desc,
	  O_NEEDS_RESET, 1 },
	{ "rx-mrg-resize-race", "a second vCPU resizes posted rx buffers while mergeable frames arrive",
	  F(MRG_RXBUF), 0, -1, 0, c_mrg_race, O_SURVIVED | O_NEEDS_RESET, 2 },
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
	if (o & O_DELIVERED)
		return "delivered";
	if (o & O_REFUSED)
		return "refused";
	if (o & O_SURVIVED)
		return "survived";
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

static int case_wanted(const struct ncase *c, const char *only, size_t only_len)
{
	return !only || (strlen(c->name) == only_len && !strncmp(c->name, only, only_len));
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
	h.mem = phys_alloc(KiB(16), 4096);
	if (!h.mem)
		fail("out of guest memory");
	only = param_get("bulkhead.case", &only_len);
	h.cpus = 1;
	for (i = 0; i < nitems(cases); i++)
		if (case_wanted(&cases[i], only, only_len) && cases[i].cpus > 1)
			h.cpus = smp_start_worker();
	net_describe(h.n, "net-hostile");
	if (net_hello(h.n))
		fail("%s", h.n->why);
	if (bad_count(&h, &h.bad_seen))
		fail("%s", h.note);
	for (i = 0; i < nitems(cases); i++) {
		const struct ncase *c = &cases[i];
		unsigned int out;
		int ok;

		if (!case_wanted(c, only, only_len))
			continue;
		h.note[0] = '\0';
		h.isr = 0;
		if ((h.n->dev.offered & c->need) != c->need || c->cpus > h.cpus) {
			cprintf(TAG "%s: %s ... skipped (%s)\n", c->name, c->what,
				c->cpus > h.cpus ? "needs a second vCPU" : "a feature it needs is not offered");
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
