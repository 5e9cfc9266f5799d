/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net over a TAP. Transmit: every available tx chain is written to
 * the TAP as one frame (header included), in one batch per kick. Receive:
 * only while the guest has rx buffers; a frame the guest has no room for
 * stays pending and the TAP is not read until buffers come back, so nothing
 * the guest could have taken is dropped and nothing spins.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "net.h"

static uint64_t net_features(struct virtio_dev *vd)
{
	(void)vd;
	return VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
	       VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
	       VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
	       VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
	       VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
	       VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
}

/* 5.1.3.1: offloads depend on checksumming in the same direction. */
static int net_features_ok(struct virtio_dev *vd, uint64_t f)
{
	uint64_t guest_tso = VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6);
	uint64_t host_tso = VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6);

	(void)vd;
	if ((f & guest_tso) && !(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return -EINVAL;
	if ((f & host_tso) && !(f & VIRTIO_BIT(VIRTIO_NET_F_CSUM)))
		return -EINVAL;
	return 0;
}

/* Tell the TAP which offloads the guest accepts on receive. */
static void net_apply_offloads(struct net *n)
{
	unsigned int fl = 0;

	if (!n->set_offload)
		return;
	if (virtio_has_feature(&n->vd, VIRTIO_NET_F_GUEST_CSUM))
		fl |= TUN_F_CSUM;
	if (virtio_has_feature(&n->vd, VIRTIO_NET_F_GUEST_TSO4))
		fl |= TUN_F_TSO4;
	if (virtio_has_feature(&n->vd, VIRTIO_NET_F_GUEST_TSO6))
		fl |= TUN_F_TSO6;
	if (n->set_offload(n->tap_fd, fl) < 0)
		log_warn("TUNSETOFFLOAD 0x%x", fl);
}

static void net_driver_ok(struct virtio_dev *vd)
{
	net_apply_offloads(vd->priv);
}

static void net_reset(struct virtio_dev *vd)
{
	struct net *n = vd->priv;

	n->frame_pending = 0;
	if (n->set_offload && n->set_offload(n->tap_fd, 0) < 0)
		log_warn("TUNSETOFFLOAD 0");
}

static uint64_t net_config_read(struct virtio_dev *vd, uint32_t off, unsigned int size)
{
	struct net *n = vd->priv;
	uint64_t v = 0;

	memcpy(&v, (const uint8_t *)&n->config + off, size);
	return v;
}

/* Checks the TAP would make anyway, made here first so that a hostile header
 * never reaches the host kernel's parser. */
static int tx_header_ok(const struct net *n, const struct virtio_net_hdr *h, uint64_t frame_len)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return 0;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!virtio_has_feature(&n->vd, VIRTIO_NET_F_CSUM) ||
		    (uint64_t)h->csum_start + h->csum_offset + 2 > frame_len)
			return 0;
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return h->gso_type == VIRTIO_NET_HDR_GSO_NONE;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && !virtio_has_feature(&n->vd, VIRTIO_NET_F_HOST_TSO4))
		return 0;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !virtio_has_feature(&n->vd, VIRTIO_NET_F_HOST_TSO6))
		return 0;
	if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6)
		return 0;
	return h->gso_size > 0 && h->hdr_len <= frame_len && (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
}

static void net_tx_one(struct net *n)
{
	const struct virtq_chain *c = &n->chain;
	struct virtio_net_hdr h;
	int iovcnt;
	ssize_t w;

	if (c->read_len < NET_HDR_LEN || c->read_len > NET_HDR_LEN + NET_MAX_FRAME)
		goto drop;
	virtq_read_chain(c, 0, &h, sizeof(h));
	if (!tx_header_ok(n, &h, c->read_len - NET_HDR_LEN))
		goto drop;
	/* Send the header that was checked: the guest's copy may have changed since. */
	n->iov[0].iov_base = &h;
	n->iov[0].iov_len = sizeof(h);
	iovcnt = virtq_slice(c, 0, NET_HDR_LEN, c->read_len - NET_HDR_LEN, n->iov + 1,
			     nitems(n->iov) - 1);
	if (iovcnt < 0)
		goto drop;
	do
		w = writev(n->tap_fd, n->iov, iovcnt + 1);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINVAL && errno != ENOBUFS)
			log_warn("TAP write");
		goto drop;
	}
	n->stats.tx_frames++;
	n->stats.tx_bytes += c->read_len - NET_HDR_LEN;
	virtio_count(&n->vd, 1, c->read_len - NET_HDR_LEN, 0);
	return;
drop:
	n->stats.tx_dropped++;
	virtio_count(&n->vd, 0, 0, 1);
}

static void net_tx(struct net *n)
{
	struct virtq *q = &n->vd.queues[NET_TXQ];
	int pushed = 0;

	for (;;) {
		enum virtq_error e = virtq_pop(q, n->vd.mem, &n->chain);

		if (e == VIRTQ_EMPTY) {
			if (!virtq_arm_notify(q))
				break;
			continue;
		}
		if (e != VIRTQ_OK) {
			virtio_needs_reset(&n->vd, NET_TXQ, e);
			break;
		}
		net_tx_one(n);
		virtq_push(q, n->chain.head, 0);
		pushed = 1;
	}
	if (pushed)
		virtio_used(&n->vd, NET_TXQ);
}

static void set_num_buffers(struct net *n, uint16_t k)
{
	memcpy(n->frame + offsetof(struct virtio_net_hdr, num_buffers), &k, sizeof(k));
}

/*
 * Place the pending frame into rx buffers. 1: delivered (or dropped because
 * no single buffer of a non-mergeable guest can hold it), 0: not enough
 * buffers yet (nothing consumed), -1: the guest broke the ring.
 */
static int net_rx_place(struct net *n)
{
	struct virtq *q = &n->vd.queues[NET_RXQ];
	int mrg = virtio_has_feature(&n->vd, VIRTIO_NET_F_MRG_RXBUF);
	size_t off = 0, len = n->frame_len;
	uint16_t k = 0;

	while (off < len) {
		enum virtq_error e;
		size_t take;

		if (k == q->size) {
			/* A whole ring of these buffers cannot hold it (and rx_heads has no more room). */
			virtq_unpop(q, k);
			n->stats.rx_dropped++;
		virtio_count(&n->vd, 0, 0, 1);
			return 1;
		}
		e = virtq_pop(q, n->vd.mem, &n->chain);
		if (e == VIRTQ_EMPTY) {
			/* Ask for a kick on the next buffer (EVENT_IDX); take any that came meanwhile. */
			if (virtq_arm_notify(q))
				continue;
			virtq_unpop(q, k);
			return 0;
		}
		if (e != VIRTQ_OK || n->chain.write_len < NET_HDR_LEN) {
			virtq_unpop(q, (uint16_t)(k + (e == VIRTQ_OK)));
			if (e == VIRTQ_OK)
				virtio_fail(&n->vd, NET_RXQ, "rx buffer smaller than the header");
			else
				virtio_needs_reset(&n->vd, NET_RXQ, e);
			return -1;
		}
		if (!mrg && n->chain.write_len < len) {
			/* The guest posted a buffer too small for this frame: drop the
			 * frame, not the buffer, and never split a frame. */
			virtq_unpop(q, 1);
			n->stats.rx_dropped++;
		virtio_count(&n->vd, 0, 0, 1);
			return 1;
		}
		if (off == 0)
			set_num_buffers(n, 1);
		take = n->chain.write_len < len - off ? (size_t)n->chain.write_len : len - off;
		n->rx_heads[k] = n->chain.head;
		n->rx_lens[k] = (uint32_t)take;
		k++;
		off += take;
	}
	/* Enough room: now copy, with the final buffer count in the header. */
	if (mrg)
		set_num_buffers(n, k);
	virtq_unpop(q, k);
	off = 0;
	for (uint16_t i = 0; i < k; i++) {
		enum virtq_error e = virtq_pop(q, n->vd.mem, &n->chain);

		if (e != VIRTQ_OK) {
			/* The guest rewrote the ring between the two passes. */
			virtio_needs_reset(&n->vd, NET_RXQ, e == VIRTQ_EMPTY ? VIRTQ_E_AVAIL_IDX : e);
			return -1;
		}
		/* The used length is what this pass wrote: a buffer the guest shrank since
		 * the first pass cannot hold its share of a frame already counted in
		 * num_buffers, and reporting the first pass's length would hand the
		 * guest bytes the device never wrote. */
		if (virtq_write_chain(&n->chain, 0, n->frame + off, n->rx_lens[i]) != n->rx_lens[i]) {
			virtio_fail(&n->vd, NET_RXQ, "rx buffer shrank while a frame was placed");
			return -1;
		}
		virtq_push(q, n->chain.head, n->rx_lens[i]);
		off += n->rx_lens[i];
	}
	n->stats.rx_frames++;
	n->stats.rx_bytes += len - NET_HDR_LEN;
	virtio_count(&n->vd, 1, len - NET_HDR_LEN, 0);
	return 1;
}

static int net_rx_read(struct net *n)
{
	ssize_t r;

	do
		r = read(n->tap_fd, n->frame, sizeof(n->frame));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	if ((size_t)r < NET_HDR_LEN) {
		n->stats.rx_dropped++;
		virtio_count(&n->vd, 0, 0, 1);
		return 1; /* nothing a guest could use; read on */
	}
	n->frame_len = (size_t)r;
	n->frame_pending = 1;
	return 1;
}

static int rx_live(const struct net *n)
{
	return virtio_queue_live(&n->vd, NET_RXQ);
}

int net_tap_readable(struct net *n)
{
	int delivered = 0, err = 0;

	for (int i = 0; i < NET_RX_BATCH && rx_live(n); i++) {
		if (!n->frame_pending) {
			int r = net_rx_read(n);

			if (r < 0)
				err = r; /* the TAP failed: that is the host's problem, not the guest's */
			if (r <= 0)
				break;
			if (!n->frame_pending)
				continue;
		}
		/* 0: no room yet, the frame waits; -1: the guest broke the ring (NEEDS_RESET). */
		if (net_rx_place(n) <= 0)
			break;
		n->frame_pending = 0;
		delivered = 1;
	}
	if (delivered)
		virtio_used(&n->vd, NET_RXQ);
	if (err)
		return err;
	return net_update_watch(n);
}

int net_update_watch(struct net *n)
{
	struct virtq *q = &n->vd.queues[NET_RXQ];
	int want = 0;

	if (rx_live(n) && !n->frame_pending) {
		/* Ask for a kick when buffers come back; if they already did, read on.
		 * A pending frame waits for a kick net_rx_place asked for, not for the TAP. */
		want = virtq_has_avail(q) || virtq_arm_notify(q);
	}
	if (want == n->tap_watched || !n->watch_tap)
		return 0;
	n->tap_watched = want;
	return n->watch_tap(n, want);
}

static void net_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	struct net *n = vd->priv;

	if (q == NET_TXQ) {
		net_tx(n);
		return;
	}
	/* New rx buffers: a pending frame may fit now. */
	if (n->frame_pending && net_tap_readable(n) < 0)
		log_warn("rx");
	if (net_update_watch(n) < 0)
		log_warn("TAP watch");
}

const struct virtio_dev_ops net_virtio_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nqueues = IPC_NET_QUEUES,
	.features = net_features,
	.features_ok = net_features_ok,
	.queue_notify = net_queue_notify,
	.config_len = sizeof(struct net_config),
	.config_read = net_config_read,
	.driver_ok = net_driver_ok,
	.reset = net_reset,
};

void net_setup(struct net *n, int tap_fd, const uint8_t mac[6], const struct guest_mem *mem)
{
	n->tap_fd = tap_fd;
	memset(&n->config, 0, sizeof(n->config));
	memcpy(n->config.mac, mac, 6);
	n->config.status = VIRTIO_NET_S_LINK_UP;
	n->config.max_virtqueue_pairs = 1;
	n->frame_pending = 0;
	n->tap_watched = 0;
	memset(&n->stats, 0, sizeof(n->stats));
	virtio_init(&n->vd, &net_virtio_ops, mem, n);
}
