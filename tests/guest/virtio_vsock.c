/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-vsock driver (vsock.h), in ring 3, polling. Rx buffers are one
 * device-writable descriptor of VS_HDR + VS_PKT bytes each, posted again as
 * soon as their packet was handled; tx packets are one readable descriptor
 * (header and payload) from a slot of the same size, or two (a header slot
 * and a buffer of the caller's) for vs_send_raw.
 */
#include "vsock.h"

#define SLOT ((VS_HDR + VS_PKT + 63) & ~63u)
#define TX_WAIT_US 2000000
#define FIRST_PORT 1024

struct vs vs;

static struct vq *q(unsigned int i)
{
	return &vs.dev.vq[i];
}

static void note_bad(const char *fmt, ...) PRINTF(1, 2);
static void note_bad(const char *fmt, ...)
{
	va_list ap;

	if (!vs.bad++) {
		va_start(ap, fmt);
		vsnprintf(vs.why, sizeof(vs.why), fmt, ap);
		va_end(ap);
	}
}

unsigned int vs_count(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < VS_MAX_CONNS; i++)
		n += vs.conns[i].state == VS_CONNECTING || vs.conns[i].state == VS_OPEN;
	return n;
}

static struct vs_conn *find(uint32_t lport, uint32_t rport)
{
	for (unsigned int i = 0; i < VS_MAX_CONNS; i++) {
		struct vs_conn *c = &vs.conns[i];

		if (c->state != VS_FREE && c->lport == lport && c->rport == rport)
			return c;
	}
	return NULL;
}

static struct vs_conn *alloc_conn(uint32_t lport, uint32_t rport, enum vs_state st)
{
	for (unsigned int i = 0; i < VS_MAX_CONNS; i++) {
		struct vs_conn *c = &vs.conns[i];
		uint8_t *ring = c->ring;

		if (c->state != VS_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->ring = ring;
		c->state = st;
		c->lport = lport;
		c->rport = rport;
		c->t_open = rdtsc();
		return c;
	}
	return NULL;
}

/* ---- tx ---- */

static void take_tx(void)
{
	void *cookie;
	uint32_t len;
	uint16_t head;
	int r;

	while ((r = vq_get(q(VS_TXQ), &cookie, &len, &head)) > 0)
		vs.tx_free[vs.ntx_free++] = (uint16_t)(((uint8_t *)cookie - vs.txmem) / SLOT);
	if (r < 0)
		note_bad("tx used id %u not in flight", head);
}

/* A free tx slot, waiting for the device to return one. */
static uint8_t *tx_slot(void)
{
	uint64_t end = rdtsc() + us_to_tsc(TX_WAIT_US);

	while (!vs.ntx_free) {
		take_tx();
		if (!vs.ntx_free && rdtsc() > end)
			fail("vsock: no tx buffer came back within %u ms (Status 0x%x)", TX_WAIT_US / 1000,
			     vdev_status(&vs.dev));
		cpu_relax();
	}
	return vs.txmem + (uint64_t)vs.tx_free[--vs.ntx_free] * SLOT;
}

struct vs_hdr vs_hdr_for(const struct vs_conn *c, uint32_t lport, uint32_t rport, uint16_t op)
{
	struct vs_hdr h;

	memset(&h, 0, sizeof(h));
	h.src_cid = vs.cid;
	h.dst_cid = VS_HOST_CID;
	h.src_port = c ? c->lport : lport;
	h.dst_port = c ? c->rport : rport;
	h.type = VS_TYPE_STREAM;
	h.op = op;
	h.buf_alloc = VS_BUF;
	h.fwd_cnt = c ? c->fwd_cnt : 0;
	return h;
}

/* Queue one packet (header and payload in one slot); the caller kicks. */
static void queue_pkt(struct vs_conn *c, const struct vs_hdr *h, const void *payload, uint32_t len)
{
	uint8_t *s = tx_slot();
	struct vq_buf b = { (uint64_t)(uintptr_t)s, VS_HDR + len, 0 };

	memcpy(s, h, VS_HDR);
	if (len)
		copy_fast(s + VS_HDR, payload, len);
	if (c)
		c->fwd_told = c->fwd_cnt;
	if (vq_add(q(VS_TXQ), &b, 1, s) < 0)
		fail("vsock: the tx ring is full with a slot free");
	vs.tx_pkts++;
}

static void send_ctrl(struct vs_conn *c, uint16_t op, uint32_t flags)
{
	struct vs_hdr h = vs_hdr_for(c, 0, 0, op);

	h.flags = flags;
	queue_pkt(c, &h, NULL, 0);
	vq_kick(&vs.dev, q(VS_TXQ));
}

void vs_send_raw(const struct vs_hdr *h, uint32_t hlen, const void *payload, uint32_t len)
{
	uint8_t *s = tx_slot();
	struct vq_buf b[2] = { { (uint64_t)(uintptr_t)s, hlen, 0 },
			       { (uint64_t)(uintptr_t)payload, len, 0 } };

	memcpy(s, h, hlen < VS_HDR ? hlen : VS_HDR);
	if (vq_add(q(VS_TXQ), b, len ? 2 : 1, s) < 0)
		fail("vsock: the tx ring is full with a slot free");
	vq_kick(&vs.dev, q(VS_TXQ));
}

/* An RST to a packet of no connection of ours (the host asked for a port we do not serve). */
static void refuse(const struct vs_hdr *to)
{
	struct vs_hdr h = vs_hdr_for(NULL, to->dst_port, to->src_port, VS_OP_RST);

	queue_pkt(NULL, &h, NULL, 0);
	vq_kick(&vs.dev, q(VS_TXQ));
}

uint32_t vs_credit(const struct vs_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

uint32_t vs_write(struct vs_conn *c, const void *buf, uint32_t len)
{
	uint32_t sent = 0;

	take_tx();
	while (sent < len && c->state == VS_OPEN && vs.ntx_free) {
		uint32_t n = vs_credit(c);
		struct vs_hdr h;

		if (n > len - sent)
			n = len - sent;
		if (n > VS_PKT)
			n = VS_PKT;
		if (!n)
			break;
		h = vs_hdr_for(c, 0, 0, VS_OP_RW);
		h.len = n;
		queue_pkt(c, &h, (const uint8_t *)buf + sent, n);
		c->tx_cnt += n;
		sent += n;
	}
	if (sent)
		vq_kick(&vs.dev, q(VS_TXQ));
	return sent;
}

uint32_t vs_read(struct vs_conn *c, void *buf, uint32_t max)
{
	uint32_t n = c->r_len < max ? c->r_len : max, first = VS_BUF - c->r_head;

	if (first > n)
		first = n;
	copy_fast(buf, c->ring + c->r_head, first);
	copy_fast((uint8_t *)buf + first, c->ring, n - first);
	c->r_head = (c->r_head + n) % VS_BUF;
	c->r_len -= n;
	c->fwd_cnt += n;
	/* Credit back once half the buffer was read: the device never sees less than half free. */
	if (n && c->state == VS_OPEN && c->fwd_cnt - c->fwd_told >= VS_BUF / 2)
		send_ctrl(c, VS_OP_CREDIT_UPDATE, 0);
	return n;
}

void vs_shutdown(struct vs_conn *c, uint32_t flags)
{
	c->shut_sent |= (int)flags;
	send_ctrl(c, VS_OP_SHUTDOWN, flags);
}

void vs_close(struct vs_conn *c)
{
	if (c->state == VS_CONNECTING || c->state == VS_OPEN)
		send_ctrl(c, VS_OP_RST, 0);
	c->state = VS_FREE;
}

struct vs_conn *vs_connect(uint32_t port)
{
	struct vs_conn *c;
	uint32_t lport;

	do
		lport = vs.next_port++;
	while (find(lport, port));
	c = alloc_conn(lport, port, VS_CONNECTING);
	if (c)
		send_ctrl(c, VS_OP_REQUEST, 0);
	return c;
}

int vs_wait_open(struct vs_conn *c, uint64_t timeout_us)
{
	uint64_t end = rdtsc() + us_to_tsc(timeout_us);

	while (c->state == VS_CONNECTING) {
		vs_poll();
		if (rdtsc() > end)
			return -1;
	}
	return c->state == VS_OPEN;
}

/* ---- rx ---- */

static void got_rw(struct vs_conn *c, const struct vs_hdr *h, const uint8_t *data)
{
	uint32_t tail, first;

	if (c->state != VS_OPEN) {
		note_bad("RW for a connection that is not open (port %u)", c->lport);
		return;
	}
	if (h->len > VS_BUF - c->r_len) {
		note_bad("RW of %u bytes beyond our credit (%u free)", h->len, VS_BUF - c->r_len);
		return;
	}
	tail = (c->r_head + c->r_len) % VS_BUF;
	first = VS_BUF - tail < h->len ? VS_BUF - tail : h->len;
	copy_fast(c->ring + tail, data, first);
	copy_fast(c->ring, data + first, h->len - first);
	c->r_len += h->len;
	c->rx_cnt += h->len;
}

static void got_request(const struct vs_hdr *h)
{
	struct vs_conn *c;

	if (!vs.listen_port || h->dst_port != vs.listen_port ||
	    !(c = alloc_conn(h->dst_port, h->src_port, VS_OPEN))) {
		refuse(h);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->t_established = rdtsc();
	send_ctrl(c, VS_OP_RESPONSE, 0);
}

static void handle(const uint8_t *pkt, uint32_t len)
{
	struct vs_hdr h;
	struct vs_conn *c;

	if (len < VS_HDR) {
		note_bad("a %u-byte packet", len);
		return;
	}
	memcpy(&h, pkt, VS_HDR);
	vs.last = h;
	vs.rx_pkts++;
	if (h.src_cid != VS_HOST_CID || h.dst_cid != vs.cid || h.type != VS_TYPE_STREAM ||
	    len != VS_HDR + h.len || h.len > VS_PKT || (h.op != VS_OP_RW && h.len)) {
		note_bad("packet op %u src_cid %lu dst_cid %lu type %u len %u in %u bytes", h.op, h.src_cid,
			 h.dst_cid, h.type, h.len, len);
		return;
	}
	c = find(h.dst_port, h.src_port);
	if (c && c->state != VS_CLOSED) {
		c->peer_buf_alloc = h.buf_alloc;
		c->peer_fwd_cnt = h.fwd_cnt;
	}
	switch (h.op) {
	case VS_OP_REQUEST:
		if (c)
			note_bad("REQUEST for a connection we have (port %u)", h.dst_port);
		else
			got_request(&h);
		break;
	case VS_OP_RESPONSE:
		if (c && c->state == VS_CONNECTING) {
			c->state = VS_OPEN;
			c->t_established = rdtsc();
		} else {
			note_bad("RESPONSE for no connection we asked for (port %u)", h.dst_port);
		}
		break;
	case VS_OP_RST:
		if (c && c->state != VS_CLOSED) {
			c->state = VS_CLOSED;
			c->reset = 1;
		} else {
			vs.stray_rst++;
		}
		break;
	case VS_OP_SHUTDOWN:
		if (c && h.flags & ~3u)
			note_bad("SHUTDOWN flags 0x%x", h.flags);
		else if (c)
			c->peer_shut |= h.flags;
		else
			note_bad("SHUTDOWN for no connection (port %u)", h.dst_port);
		break;
	case VS_OP_RW:
		if (c)
			got_rw(c, &h, pkt + VS_HDR);
		else
			note_bad("RW for no connection (port %u)", h.dst_port);
		break;
	case VS_OP_CREDIT_UPDATE:
		if (!c)
			note_bad("CREDIT_UPDATE for no connection (port %u)", h.dst_port);
		break;
	case VS_OP_CREDIT_REQUEST:
		if (c && c->state == VS_OPEN)
			send_ctrl(c, VS_OP_CREDIT_UPDATE, 0);
		else if (!c)
			note_bad("CREDIT_REQUEST for no connection (port %u)", h.dst_port);
		break;
	default:
		note_bad("op %u", h.op);
		break;
	}
}

static void post_rx(uint8_t *slot)
{
	struct vq_buf b = { (uint64_t)(uintptr_t)slot, VS_HDR + VS_PKT, 1 };

	if (vq_add(q(VS_RXQ), &b, 1, slot) < 0)
		fail("vsock: the rx ring is full");
}

static void post_ev(uint32_t *ev)
{
	struct vq_buf b = { (uint64_t)(uintptr_t)ev, 4, 1 };

	*ev = 0xeeeeeeee;
	if (vq_add(q(VS_EVQ), &b, 1, ev) < 0)
		fail("vsock: the event ring is full");
}

void vs_poll(void)
{
	void *cookie;
	uint32_t len;
	uint16_t head;
	int r, rx = 0, ev = 0;

	take_tx();
	while ((r = vq_get(q(VS_RXQ), &cookie, &len, &head)) > 0) {
		handle(cookie, len);
		post_rx(cookie);
		rx = 1;
	}
	if (r < 0)
		note_bad("rx used id %u not in flight", head);
	if (rx)
		vq_kick(&vs.dev, q(VS_RXQ));
	while ((r = vq_get(q(VS_EVQ), &cookie, &len, &head)) > 0) {
		if (len != 4 || *(uint32_t *)cookie != 0)
			note_bad("event of %u bytes, id 0x%x", len, *(uint32_t *)cookie);
		else
			vs.resets_seen++;
		post_ev(cookie);
		ev = 1;
	}
	if (ev)
		vq_kick(&vs.dev, q(VS_EVQ));
}

/* ---- setup ---- */

static void find_device(void)
{
	for (unsigned int i = 0; i < boot.ndev; i++) {
		if (phys_mapped(boot.dev[i].base, 0x100) &&
		    vdev_probe(&vs.dev, boot.dev[i].base, boot.dev[i].gsi) == 0 &&
		    vs.dev.device_id == VIRTIO_ID_VSOCK)
			return;
	}
	fail("no virtio-vsock device among %u virtio-mmio devices", boot.ndev);
}

static void alloc_memory(void)
{
	vs.rxmem = phys_alloc((uint64_t)VS_QSIZE * SLOT, 4096);
	vs.txmem = phys_alloc((uint64_t)VS_QSIZE * SLOT, 4096);
	vs.evmem = phys_alloc(sizeof(uint32_t) * VS_NEVQ, 64);
	if (!vs.rxmem || !vs.txmem || !vs.evmem)
		fail("vsock: out of guest memory for the rings' buffers");
	for (unsigned int i = 0; i < VS_MAX_CONNS; i++) {
		vs.conns[i].ring = phys_alloc(VS_BUF, 4096);
		if (!vs.conns[i].ring)
			fail("vsock: out of guest memory for %u connections", VS_MAX_CONNS);
	}
}

void vs_reset(void)
{
	if (vdev_reset(&vs.dev))
		fail("vsock: Status did not read 0 after a reset");
	for (unsigned int i = 0; i < VS_MAX_CONNS; i++)
		vs.conns[i].state = VS_FREE;
}

void vs_open(void)
{
	const char *why = "";
	uint64_t want = param_u64("bulkhead.event-idx", 1) ? VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) : 0;

	if (!vs.open) {
		find_device();
		alloc_memory();
		vs.next_port = FIRST_PORT;
		vs.open = 1;
	}
	for (unsigned int i = 0; i < VS_MAX_CONNS; i++)
		vs.conns[i].state = VS_FREE;
	if (vdev_negotiate(&vs.dev, want, &why) || vq_setup(&vs.dev, VS_RXQ, VS_QSIZE, 0, &why) ||
	    vq_setup(&vs.dev, VS_TXQ, VS_QSIZE, 0, &why) || vq_setup(&vs.dev, VS_EVQ, VS_NEVQ, 0, &why))
		fail("vsock setup: %s", why);
	vs.cid = vdev_config64(&vs.dev, 0);
	vdev_driver_ok(&vs.dev);
	vs.ntx_free = VS_QSIZE;
	for (unsigned int i = 0; i < VS_QSIZE; i++)
		vs.tx_free[i] = (uint16_t)(VS_QSIZE - 1 - i);
	for (unsigned int i = 0; i < q(VS_RXQ)->size; i++)
		post_rx(vs.rxmem + (uint64_t)i * SLOT);
	vq_kick(&vs.dev, q(VS_RXQ));
	for (unsigned int i = 0; i < q(VS_EVQ)->size; i++)
		post_ev(&vs.evmem[i]);
	vq_kick(&vs.dev, q(VS_EVQ));
}
