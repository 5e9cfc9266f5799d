/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net driver (net.h), in ring 3, and the guest side of the frame
 * protocol spoken with the host peer (netpeer.py).
 */
#include "net.h"

#define RX_MEM_BUDGET MiB(8) /* receive buffers per NIC, at most */
#define TX_STRIDE 2048 /* a slot: header at 0, the frame at 12 or 64 (+ 128 for a third part) */
#define HELLO_RESEND_US 100000
#define CTRL_RESEND_US 250000

const uint8_t net_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct nic nics[NET_MAX_NICS];
static unsigned int nnics_open;

typedef uint64_t __attribute__((aligned(1), may_alias)) u64_unaligned;

/* ---- the frame protocol ---- */

uint32_t netp_frame_size(uint32_t seq)
{
	if (seq % 16 == 0)
		return NET_MIN_FRAME;
	if (seq % 16 == 1)
		return NET_ETH_FRAME;
	return NET_MIN_FRAME + (uint32_t)(splitmix64(seq) % (NET_ETH_FRAME - NET_MIN_FRAME + 1));
}

/* The pattern word for data byte i (a multiple of 8) of frame seq. */
static inline uint64_t frame_word(uint32_t seed, uint32_t seq, uint32_t i)
{
	return pattern_word(seed, ((uint64_t)seq << 16) + i);
}

static void fill_pattern(uint8_t *p, uint32_t n, uint32_t seed, uint32_t seq)
{
	uint32_t i;

	for (i = 0; i + 8 <= n; i += 8)
		*(u64_unaligned *)(p + i) = frame_word(seed, seq, i);
	if (i < n) {
		uint64_t w = frame_word(seed, seq, i);

		for (; i < n; i++, w >>= 8)
			p[i] = (uint8_t)w;
	}
}

static void put_head(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], unsigned int op, uint32_t seq,
		     uint32_t arg, uint32_t len)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = NETP_ETHERTYPE >> 8;
	f[13] = NETP_ETHERTYPE & 0xff;
	put_le32(f + NETP_OFF_MAGIC, NETP_MAGIC);
	f[NETP_OFF_OP] = (uint8_t)op;
	f[NETP_OFF_OP + 1] = (uint8_t)(op >> 8);
	f[NETP_OFF_LEN] = len > 0xffff ? 0 : (uint8_t)len;
	f[NETP_OFF_LEN + 1] = len > 0xffff ? 0 : (uint8_t)(len >> 8);
	put_le32(f + NETP_OFF_SEQ, seq);
	put_le32(f + NETP_OFF_ARG, arg);
}

void netp_data(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], unsigned int op, uint32_t seq,
	       uint32_t seed, uint32_t len)
{
	put_head(f, dst, src, op, seq, seed, len);
	fill_pattern(f + NETP_OFF_DATA, len - NETP_OFF_DATA, seed, seq);
}

int netp_is(const uint8_t *f, uint32_t len, unsigned int op)
{
	if (len < NETP_OFF_DATA || f[12] != NETP_ETHERTYPE >> 8 || f[13] != (NETP_ETHERTYPE & 0xff) ||
	    get_le32(f + NETP_OFF_MAGIC) != NETP_MAGIC)
		return 0;
	return !op || netp_op(f) == op;
}

int64_t netp_check(const uint8_t *f, uint32_t len, unsigned int op)
{
	uint32_t seq, seed, n, i, field;

	if (len < NET_MIN_FRAME)
		return len;
	if (f[12] != NETP_ETHERTYPE >> 8 || f[13] != (NETP_ETHERTYPE & 0xff))
		return 12;
	if (get_le32(f + NETP_OFF_MAGIC) != NETP_MAGIC)
		return NETP_OFF_MAGIC;
	if (netp_op(f) != op)
		return NETP_OFF_OP;
	field = (uint32_t)(f[NETP_OFF_LEN] | f[NETP_OFF_LEN + 1] << 8);
	if (field != (len > 0xffff ? 0 : len))
		return NETP_OFF_LEN;
	seq = netp_seq(f);
	seed = netp_arg(f);
	f += NETP_OFF_DATA;
	n = len - NETP_OFF_DATA;
	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t w = frame_word(seed, seq, i), got = *(const u64_unaligned *)(f + i);

		if (got != w) {
			while ((uint8_t)got == (uint8_t)w) {
				got >>= 8;
				w >>= 8;
				i++;
			}
			return NETP_OFF_DATA + i;
		}
	}
	if (i < n) {
		uint64_t w = frame_word(seed, seq, i);

		for (; i < n; i++, w >>= 8)
			if (f[i] != (uint8_t)w)
				return NETP_OFF_DATA + i;
	}
	return -1;
}

/* ---- options and discovery ---- */

static const struct {
	const char *key;
	unsigned int bit;
} feature_params[] = {
	{ "bulkhead.csum", VIRTIO_NET_F_CSUM },
	{ "bulkhead.guest-csum", VIRTIO_NET_F_GUEST_CSUM },
	{ "bulkhead.mac", VIRTIO_NET_F_MAC },
	{ "bulkhead.guest-tso4", VIRTIO_NET_F_GUEST_TSO4 },
	{ "bulkhead.guest-tso6", VIRTIO_NET_F_GUEST_TSO6 },
	{ "bulkhead.host-tso4", VIRTIO_NET_F_HOST_TSO4 },
	{ "bulkhead.host-tso6", VIRTIO_NET_F_HOST_TSO6 },
	{ "bulkhead.mrg", VIRTIO_NET_F_MRG_RXBUF },
	{ "bulkhead.status", VIRTIO_NET_F_STATUS },
	{ "bulkhead.indirect", VIRTIO_F_INDIRECT_DESC },
	{ "bulkhead.event-idx", VIRTIO_F_RING_EVENT_IDX },
};

void net_opts_from_cmdline(struct net_opts *o)
{
	unsigned int i;

	o->want = 0;
	for (i = 0; i < nitems(feature_params); i++)
		if (param_u64(feature_params[i].key, 1))
			o->want |= VIRTIO_BIT(feature_params[i].bit);
	o->irq = param_u64("bulkhead.irq", 0) != 0;
	o->qsize = (unsigned int)param_u64("bulkhead.qsize", VQ_MAX_SIZE);
	o->rxbuf = (uint32_t)param_u64("bulkhead.rxbuf", 0);
	o->rxsegs = param_u64("bulkhead.rxsegs", 1) == 2 ? 2 : 1;
	o->timeout_ms = (unsigned int)param_u64("bulkhead.timeout-ms", 5000);
	o->lossy = param_u64("bulkhead.lossy", 0) != 0;
}

static struct {
	int probed;
	unsigned int n;
	uint8_t dev[MAX_MMIO_DEVS];
} found;

static void probe_all(void)
{
	unsigned int i;

	if (found.probed)
		return;
	found.probed = 1;
	for (i = 0; i < boot.ndev; i++) {
		struct vdev d;

		if (!phys_mapped(boot.dev[i].base, 0x100))
			continue;
		if (vdev_probe(&d, boot.dev[i].base, boot.dev[i].gsi) == 0 && d.device_id == VIRTIO_ID_NET)
			found.dev[found.n++] = (uint8_t)i;
	}
}

unsigned int net_count(void)
{
	probe_all();
	return found.n;
}

const char *net_name(const struct nic *n)
{
	static char names[NET_MAX_NICS][8];
	char *s = names[n->index % NET_MAX_NICS];

	snprintf(s, 8, "eth%u", n->index);
	return s;
}

/* ---- setup ---- */

static uint64_t read_offered(const struct vdev *d)
{
	uint64_t f;

	vdev_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = vdev_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
	vdev_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)vdev_read32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

/* wanted: opts.want within the offer, without offloads whose checksum feature is missing (5.1.3.1). */
static uint64_t wanted(const struct nic *n, uint64_t offered)
{
	uint64_t f = n->opts.want & offered;

	if (!(f & VIRTIO_BIT(VIRTIO_NET_F_CSUM)))
		f &= ~(VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6));
	if (!(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)))
		f &= ~(VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6));
	return f;
}

static void read_config(struct nic *n)
{
	const struct vdev *d = &n->dev;
	uint32_t gen;
	unsigned int i, tries;

	if (net_has(n, VIRTIO_NET_F_MAC)) {
		for (tries = 0; tries < 16; tries++) {
			gen = vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
			for (i = 0; i < 6; i++)
				n->mac[i] = vdev_config8(d, NET_CFG_MAC + i);
			if (vdev_read32(d, VIRTIO_MMIO_CONFIG_GENERATION) == gen)
				break;
		}
	} else {
		/* A locally administered address of our own (5.1.5: the driver picks one). */
		static const uint8_t own[6] = { 0x02, 0x00, 0x00, 0x62, 0x68, 0x00 };

		memcpy(n->mac, own, 6);
		n->mac[5] = (uint8_t)(n->index + 1);
	}
	n->status = net_has(n, VIRTIO_NET_F_STATUS) ? vdev_config16(d, NET_CFG_STATUS) : VIRTIO_NET_S_LINK_UP;
	n->max_pairs = net_has(n, VIRTIO_NET_F_MQ) ? vdev_config16(d, NET_CFG_MAX_PAIRS) : 1;
}

/* alloc_buffers: once, sized by the first negotiation. */
static int alloc_buffers(struct nic *n)
{
	uint32_t rxbuf = n->opts.rxbuf;
	uint64_t count;

	if (!rxbuf) {
		int big = !n->mrg && (net_has(n, VIRTIO_NET_F_GUEST_TSO4) || net_has(n, VIRTIO_NET_F_GUEST_TSO6));

		rxbuf = big ? NET_RXBUF_BIG : NET_RXBUF_DEFAULT;
		n->opts.rxbuf = rxbuf;
	}
	n->rx_stride = (rxbuf + NET_SEG_GAP + 63) & ~63u;
	count = RX_MEM_BUDGET / n->rx_stride;
	if (count > VQ_MAX_SIZE)
		count = VQ_MAX_SIZE;
	if (!count)
		count = 1;
	n->nrx = (unsigned int)count;
	n->rxmem = phys_alloc((uint64_t)n->nrx * n->rx_stride, 4096);
	n->rx_free = phys_alloc(sizeof(*n->rx_free) * n->nrx, 8);
	n->frame = phys_alloc(NET_HDR + NET_MAX_FRAME + 64, 64);
	n->ntx = VQ_MAX_SIZE;
	n->tx_stride = TX_STRIDE;
	n->txmem = phys_alloc((uint64_t)n->ntx * n->tx_stride, 4096);
	n->tx_free = phys_alloc(sizeof(*n->tx_free) * n->ntx, 8);
	if (!n->rxmem || !n->rx_free || !n->frame || !n->txmem || !n->tx_free) {
		n->rxmem = NULL;
		return -1;
	}
	return 0;
}

int net_setup(struct nic *n, int npost, uint32_t rxbuf)
{
	struct vdev *d = &n->dev;
	const char *why = "";
	unsigned int i;

	n->why[0] = '\0';
	n->frame_len = 0;
	n->frag_have = n->frag_want = 0;
	d->irq_mode = n->opts.irq;
	if (vdev_negotiate(d, wanted(n, read_offered(d)), &why)) {
		snprintf(n->why, sizeof(n->why), "%s", why);
		return -1;
	}
	n->mrg = net_has(n, VIRTIO_NET_F_MRG_RXBUF);
	read_config(n);
	if (vq_setup(d, NET_RXQ, n->opts.qsize, n->opts.rxsegs > 1 ? 2 : 0, &why) ||
	    vq_setup(d, NET_TXQ, n->opts.qsize, NET_TX_SEGS, &why)) {
		snprintf(n->why, sizeof(n->why), "queue setup: %s", why);
		return -1;
	}
	if (!n->rxmem && alloc_buffers(n)) {
		snprintf(n->why, sizeof(n->why), "out of guest memory for buffers");
		return -1;
	}
	n->rxbuf = rxbuf ? rxbuf : n->opts.rxbuf;
	if (n->rxbuf > n->rx_stride - NET_SEG_GAP)
		n->rxbuf = n->rx_stride - NET_SEG_GAP;
	n->rxsegs = n->opts.rxsegs > 1 && n->rxbuf > NET_HDR ? 2 : 1;
	n->nrx_free = n->nrx;
	for (i = 0; i < n->nrx; i++)
		n->rx_free[i] = (uint16_t)(n->nrx - 1 - i);
	n->ntx_free = n->ntx;
	for (i = 0; i < n->ntx; i++)
		n->tx_free[i] = (uint16_t)(n->ntx - 1 - i);
	vdev_driver_ok(d);
	if (npost)
		net_rx_post(n, npost < 0 ? n->nrx : (unsigned int)npost);
	return 0;
}

struct nic *net_open(unsigned int idx, const struct net_opts *o)
{
	struct nic *n;

	probe_all();
	if (idx >= found.n)
		fail("no virtio-net device %u (%u found among %u virtio-mmio devices)", idx, found.n, boot.ndev);
	if (nnics_open == NET_MAX_NICS)
		fail("more than %u NICs open", NET_MAX_NICS);
	if (o->rxbuf && o->rxbuf < 64)
		fail("bulkhead.rxbuf=%u is below 64 bytes", o->rxbuf);
	n = &nics[nnics_open++];
	n->index = idx;
	n->opts = *o;
	n->ctrl_seq = ((uint32_t)rdtsc() & 0xfffff000u) + 0x100u * idx; /* a new HELLO each boot */
	vdev_probe(&n->dev, boot.dev[found.dev[idx]].base, boot.dev[found.dev[idx]].gsi);
	if (net_setup(n, -1, 0))
		fail("%s at 0x%lx: %s", net_name(n), n->dev.base, n->why);
	n->irqs_at_open = n->dev.gsi < 24 ? irq_count[VEC_IRQ_BASE + n->dev.gsi] : 0;
	return n;
}

void net_describe(const struct nic *n, const char *tag)
{
	char f[512] = "";

	vdev_feature_names(n->dev.features & ~VIRTIO_BIT(VIRTIO_F_VERSION_1), VIRTIO_ID_NET, f, sizeof(f));
	cprintf(GUEST_TAG "%s: %s at 0x%lx gsi %u: mac %02x:%02x:%02x:%02x:%02x:%02x, link %s, queues %u/%u, "
		    "rx %u buffers of %u bytes posted (%u descriptor%s each), %s; features %s\n",
		tag, net_name(n), n->dev.base, n->dev.gsi, n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
		n->mac[5], n->status & VIRTIO_NET_S_LINK_UP ? "up" : "down", n->dev.vq[NET_RXQ].size,
		n->dev.vq[NET_TXQ].size, n->dev.vq[NET_RXQ].inflight, n->rxbuf, n->rxsegs, n->rxsegs > 1 ? "s" : "",
		n->dev.irq_mode ? "interrupts" : "polling", f[0] ? f : "none");
}

/* ---- queues ---- */

void net_kick(struct nic *n, unsigned int q)
{
	n->kicks++;
	n->notifies += (unsigned int)vq_kick(&n->dev, &n->dev.vq[q]);
}

static uint8_t *rx_base(const struct nic *n, unsigned int i)
{
	return n->rxmem + (size_t)i * n->rx_stride;
}

/* rx_copy: bytes [off, off + len) of rx buffer i (its two parts, if split) to dst. */
static void rx_copy(const struct nic *n, unsigned int i, uint32_t off, void *dst, uint32_t len)
{
	const uint8_t *b = rx_base(n, i);
	uint8_t *d = dst;

	if (n->rxsegs > 1 && off < NET_HDR) {
		uint32_t k = NET_HDR - off < len ? NET_HDR - off : len;

		copy_fast(d, b + off, k);
		d += k;
		off += k;
		len -= k;
	}
	if (len)
		copy_fast(d, b + off + (n->rxsegs > 1 ? NET_SEG_GAP : 0), len);
}

unsigned int net_rx_post(struct nic *n, unsigned int count)
{
	struct vq *q = &n->dev.vq[NET_RXQ];
	unsigned int posted = 0;

	while (posted < count && n->nrx_free) {
		uint16_t i = n->rx_free[n->nrx_free - 1];
		uint8_t *b = rx_base(n, i);
		struct vq_buf bufs[2];
		unsigned int nb = 1;

		if (n->rxsegs > 1) {
			bufs[0] = (struct vq_buf){ (uintptr_t)b, NET_HDR, 1 };
			bufs[1] = (struct vq_buf){ (uintptr_t)b + NET_HDR + NET_SEG_GAP, n->rxbuf - NET_HDR, 1 };
			nb = 2;
		} else {
			bufs[0] = (struct vq_buf){ (uintptr_t)b, n->rxbuf, 1 };
		}
		if (vq_add(q, bufs, nb, (void *)(uintptr_t)(i + 1)) < 0)
			break;
		n->nrx_free--;
		posted++;
	}
	if (posted)
		net_kick(n, NET_RXQ);
	return posted;
}

int net_recv(struct nic *n, uint8_t **frame, uint32_t *len)
{
	struct vq *q = &n->dev.vq[NET_RXQ];
	int ret = 0;

	for (;;) {
		void *cookie;
		uint32_t ulen, off = 0, dlen;
		uint16_t head, i;
		int r = vq_get(q, &cookie, &ulen, &head);

		if (r == 0)
			break;
		if (r < 0) {
			snprintf(n->why, sizeof(n->why), "rx: the device returned id %u, which is not in flight", head);
			return -1;
		}
		i = (uint16_t)((uintptr_t)cookie - 1);
		n->rx_bufs++;
		n->rx_free[n->nrx_free++] = i;
		if (ulen > n->rxbuf) {
			snprintf(n->why, sizeof(n->why), "rx: used length %u beyond the %u-byte buffer", ulen,
				 n->rxbuf);
			return -1;
		}
		if (!n->frag_want) {
			uint16_t nb;

			if (ulen < NET_HDR) {
				snprintf(n->why, sizeof(n->why), "rx: used length %u is shorter than the header",
					 ulen);
				return -1;
			}
			rx_copy(n, i, 0, &n->rx_hdr, NET_HDR);
			nb = n->rx_hdr.num_buffers;
			if (n->mrg) {
				if (!nb || nb > q->size) {
					snprintf(n->why, sizeof(n->why), "rx: num_buffers %u (queue of %u)", nb,
						 q->size);
					return -1;
				}
			} else {
				if (nb != 1)
					n->nb_not_one++;
				nb = 1;
			}
			n->frag_want = nb;
			n->frag_have = 0;
			n->frame_len = 0;
			off = NET_HDR;
		}
		dlen = ulen - off;
		if (n->frame_len + dlen > NET_MAX_FRAME) {
			snprintf(n->why, sizeof(n->why), "rx: a frame of more than %u bytes (%u buffers)",
				 NET_MAX_FRAME, n->frag_want);
			return -1;
		}
		rx_copy(n, i, off, n->frame + n->frame_len, dlen);
		n->frame_len += dlen;
		if (++n->frag_have == n->frag_want) {
			if (n->frag_want > n->max_bufs_per_frame)
				n->max_bufs_per_frame = n->frag_want;
			if (n->frag_want > 1)
				n->multi_buf_frames++;
			n->frag_want = 0;
			n->rx_frames++;
			n->rx_bytes += n->frame_len;
			*frame = n->frame;
			*len = n->frame_len;
			ret = 1;
			break;
		}
	}
	if (!n->no_refill && (n->nrx_free >= 16 || (n->nrx_free && q->inflight < 16)))
		net_rx_post(n, n->nrx_free);
	return ret;
}

int net_tx_reclaim(struct nic *n)
{
	struct vq *q = &n->dev.vq[NET_TXQ];
	void *cookie;
	uint32_t ulen;
	uint16_t head;
	int r, count = 0;

	while ((r = vq_get(q, &cookie, &ulen, &head)) > 0) {
		n->tx_free[n->ntx_free++] = (uint16_t)((uintptr_t)cookie - 1);
		count++;
	}
	if (r < 0) {
		snprintf(n->why, sizeof(n->why), "tx: the device returned id %u, which is not in flight", head);
		return -1;
	}
	return count;
}

int net_send(struct nic *n, const void *f, uint32_t len, unsigned int nsegs, int nokick)
{
	struct vq *q = &n->dev.vq[NET_TXQ];
	struct vq_buf bufs[NET_TX_SEGS];
	unsigned int nb;
	uint8_t *b;
	uint16_t i;

	if (len > NET_ETH_FRAME || len < 14)
		return -2;
	if (!n->ntx_free && net_tx_reclaim(n) < 0)
		return -2;
	if (!n->ntx_free)
		return -1;
	i = n->tx_free[--n->ntx_free];
	b = n->txmem + (size_t)i * n->tx_stride;
	memset(b, 0, NET_HDR);
	if (nsegs <= 1) {
		copy_fast(b + NET_HDR, f, len);
		bufs[0] = (struct vq_buf){ (uintptr_t)b, NET_HDR + len, 0 };
		nb = 1;
	} else if (nsegs == 2) {
		copy_fast(b + 64, f, len);
		bufs[0] = (struct vq_buf){ (uintptr_t)b, NET_HDR, 0 };
		bufs[1] = (struct vq_buf){ (uintptr_t)b + 64, len, 0 };
		nb = 2;
	} else {
		copy_fast(b + 64, f, 14);
		copy_fast(b + 128, (const uint8_t *)f + 14, len - 14);
		bufs[0] = (struct vq_buf){ (uintptr_t)b, NET_HDR, 0 };
		bufs[1] = (struct vq_buf){ (uintptr_t)b + 64, 14, 0 };
		bufs[2] = (struct vq_buf){ (uintptr_t)b + 128, len - 14, 0 };
		nb = 3;
	}
	if (vq_add(q, bufs, nb, (void *)(uintptr_t)(i + 1)) < 0) {
		/* Not enough descriptors (chains without indirect tables): take used ones back. */
		int r = net_tx_reclaim(n);

		if (r <= 0 || vq_add(q, bufs, nb, (void *)(uintptr_t)(i + 1)) < 0) {
			n->tx_free[n->ntx_free++] = i;
			return r < 0 ? -2 : -1;
		}
	}
	n->tx_frames++;
	n->tx_bytes += len;
	if (!nokick)
		net_kick(n, NET_TXQ);
	return 0;
}

static uint64_t timeout_tsc(const struct nic *n)
{
	return us_to_tsc((uint64_t)n->opts.timeout_ms * 1000);
}

int net_send_wait(struct nic *n, const void *f, uint32_t len, unsigned int nsegs)
{
	uint64_t end = rdtsc() + timeout_tsc(n);

	int r;

	while ((r = net_send(n, f, len, nsegs, 0))) {
		if (r < -1 || net_tx_reclaim(n) < 0) {
			if (!n->why[0])
				snprintf(n->why, sizeof(n->why), "tx: a frame of %u bytes cannot be sent", len);
			return -1;
		}
		if (rdtsc() > end) {
			snprintf(n->why, sizeof(n->why), "tx: no free buffer for %u ms (%u in flight, Status 0x%x)",
				 n->opts.timeout_ms, n->dev.vq[NET_TXQ].inflight, vdev_status(&n->dev));
			return -1;
		}
		net_wait(&n, 1);
	}
	return 0;
}

int net_tx_drain(struct nic *n)
{
	uint64_t end = rdtsc() + timeout_tsc(n);

	for (;;) {
		if (net_tx_reclaim(n) < 0)
			return -1;
		if (!n->dev.vq[NET_TXQ].inflight)
			return 0;
		if (rdtsc() > end) {
			snprintf(n->why, sizeof(n->why), "tx: %u frames not used within %u ms (Status 0x%x)",
				 n->dev.vq[NET_TXQ].inflight, n->opts.timeout_ms, vdev_status(&n->dev));
			return -1;
		}
		net_wait(&n, 1);
	}
}

void net_wait(struct nic *const *list, unsigned int count)
{
	uint64_t seen;
	unsigned int i;

	if (!list[0]->dev.irq_mode) {
		cpu_relax();
		return;
	}
	for (i = 0; i < count; i++)
		vdev_irq_ack(&list[i]->dev);
	seen = irq_seq;
	for (i = 0; i < count; i++)
		if (vq_want_irq(&list[i]->dev.vq[NET_RXQ]) || vq_want_irq(&list[i]->dev.vq[NET_TXQ]))
			return;
	irq_wait(seen);
	for (i = 0; i < count; i++)
		vdev_irq_ack(&list[i]->dev);
}

/* ---- the host peer ---- */

const uint8_t *net_dst(const struct nic *n)
{
	return n->peer_known ? n->peer : net_broadcast;
}

static void ctrl_frame(const struct nic *n, uint8_t *f, const uint8_t *dst, unsigned int op, uint32_t seq,
		       const uint32_t *a, unsigned int na)
{
	unsigned int i;

	memset(f, 0, NETP_CTRL_LEN);
	put_head(f, dst, n->mac, op, seq, 0, NETP_CTRL_LEN);
	for (i = 0; i < na && i < NETP_NARGS; i++)
		put_le32(f + NETP_OFF_DATA + 4 * i, a[i]);
}

static const char *op_name(unsigned int op)
{
	switch (op) {
	case NETP_HELLO_ACK:
		return "HELLO_ACK";
	case NETP_SENT:
		return "SENT";
	case NETP_STOPPED:
		return "STOPPED";
	case NETP_REPORT_ACK:
		return "REPORT_ACK";
	default:
		return "reply";
	}
}

/* wait_reply: the frame of op and seq, within end; 0 (n->ctrl_reply) or -1. */
static int wait_reply(struct nic *n, unsigned int op, uint32_t seq, uint64_t end)
{
	for (;;) {
		uint8_t *f;
		uint32_t len;
		int r = net_recv(n, &f, &len);

		if (r < 0)
			return -1;
		if (r > 0) {
			if (netp_is(f, len, op) && netp_seq(f) == seq) {
				memset(n->ctrl_reply, 0, sizeof(n->ctrl_reply));
				copy_fast(n->ctrl_reply, f, len < NETP_CTRL_LEN ? len : NETP_CTRL_LEN);
				return 0;
			}
			if (netp_is(f, len, 0))
				n->rx_stale++;
			else
				n->rx_stray++;
			continue;
		}
		if (net_tx_reclaim(n) < 0)
			return -1;
		if (rdtsc() > end)
			return 1;
		net_wait(&n, 1);
	}
}

int net_hello(struct nic *n)
{
	uint64_t end = rdtsc() + timeout_tsc(n), step = us_to_tsc(HELLO_RESEND_US);
	uint32_t seq = ++n->ctrl_seq, flags = 0;
	uint8_t f[NETP_CTRL_LEN];

	ctrl_frame(n, f, net_broadcast, NETP_HELLO, seq, &flags, 1);
	for (;;) {
		uint64_t now = rdtsc();
		int r;

		if (net_send_wait(n, f, sizeof(f), 1))
			return -1;
		r = wait_reply(n, NETP_HELLO_ACK, seq, now + step < end ? now + step : end);
		if (r < 0)
			return -1;
		if (r == 0) {
			memcpy(n->peer, n->ctrl_reply + 6, 6);
			n->peer_known = 1;
			return 0;
		}
		if (rdtsc() > end) {
			snprintf(n->why, sizeof(n->why), "%s: no host peer answered HELLO within %u ms", net_name(n),
				 n->opts.timeout_ms);
			return -1;
		}
	}
}

int net_ctrl(struct nic *n, unsigned int op, const uint32_t *a, unsigned int na, unsigned int reply,
	     unsigned int timeout_ms)
{
	uint64_t end = rdtsc() + us_to_tsc((uint64_t)timeout_ms * 1000), step = us_to_tsc(CTRL_RESEND_US);
	uint32_t seq = ++n->ctrl_seq;
	uint8_t f[NETP_CTRL_LEN];
	int r;

	ctrl_frame(n, f, net_dst(n), op, seq, a, na);
	do {
		uint64_t now = rdtsc();

		if (net_send_wait(n, f, sizeof(f), 1))
			return -1;
		if (!reply)
			return 0;
		/* A request with a reply is idempotent: sent again until the reply comes. */
		r = wait_reply(n, reply, seq, now + step < end ? now + step : end);
	} while (r > 0 && rdtsc() < end);
	if (r > 0)
		snprintf(n->why, sizeof(n->why), "%s: no %s from the host peer within %u ms", net_name(n),
			 op_name(reply), timeout_ms);
	return r ? -1 : 0;
}
