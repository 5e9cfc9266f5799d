/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-vsock, stream sockets, Firecracker's hybrid host convention
 * (vsock.h). Three queues: tx (packets from the guest) is taken whole at
 * each kick; rx (packets to the guest) is filled from the control packets
 * that wait (RSTs to stray packets first, then each connection's, in turn)
 * and from the host sockets that have data and guest credit, one packet per
 * connection per turn; event carries TRANSPORT_RESET after a reset.
 *
 * Flow control (5.10.6.3): each connection offers the guest VSOCK_BUF_ALLOC
 * bytes of credit, the size of its buffer; fwd_cnt counts what the host
 * took, so the guest may never have more in the buffer than fits. A guest
 * that sends beyond its credit gets RST. The other way, the device reads a
 * host socket only while the guest's credit and rx buffers allow, straight
 * into the guest's buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "vsock.h"

#define TAG_INDEX_BITS 7 /* tag = gen << 7 | slot: never VSOCK_LISTEN_TAG */
#define GEN_MASK 0x1ffffffu

static uint64_t vsock_features(struct virtio_dev *vd)
{
	(void)vd;
	return VIRTIO_BIT(VSOCK_F_STREAM) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
	       VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
}

static uint64_t vsock_config_read(struct virtio_dev *vd, uint32_t off, unsigned int size)
{
	const struct vsock *v = vd->priv;
	uint64_t val = 0;

	memcpy(&val, (const uint8_t *)&v->config + off, size);
	return val;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* ---- connections ---- */

static unsigned int conn_index(const struct vsock *v, const struct vconn *c)
{
	return (unsigned int)(c - v->conns);
}

static uint32_t conn_tag(const struct vsock *v, const struct vconn *c)
{
	return (c->gen << TAG_INDEX_BITS) | conn_index(v, c);
}

static struct vconn *conn_by_tag(struct vsock *v, uint32_t tag)
{
	uint32_t i = tag & ((1u << TAG_INDEX_BITS) - 1);

	if (i >= VSOCK_MAX_CONNS || v->conns[i].state == VC_FREE || conn_tag(v, &v->conns[i]) != tag)
		return NULL;
	return &v->conns[i];
}

unsigned int vsock_conns(const struct vsock *v)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		n += v->conns[i].state != VC_FREE;
	return n;
}

static struct vconn *conn_alloc(struct vsock *v, enum vconn_state state)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vconn *c = &v->conns[i];

		if (c->state != VC_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->state = state;
		c->fd = -1;
		c->gen = ++v->next_gen & GEN_MASK;
		c->tx_buf = v->bufs[i];
		return c;
	}
	return NULL;
}

/* The connection of a guest packet: its ports, the host's first. */
static struct vconn *conn_find(struct vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vconn *c = &v->conns[i];

		if (c->state != VC_FREE && c->state != VC_HOST_LINE && c->host_port == host_port &&
		    c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

static void conn_close_fd(struct vconn *c)
{
	if (c->fd >= 0)
		close(c->fd); /* which takes it out of the epoll set */
	c->fd = -1;
	c->registered = 0;
	c->watched = 0;
}

static void conn_free(struct vconn *c)
{
	conn_close_fd(c);
	c->state = VC_FREE;
}

/* The guest knows of the connection (it sent or was sent a REQUEST). */
static int guest_knows(const struct vconn *c)
{
	return c->state != VC_HOST_LINE &&
	       !(c->state == VC_HOST_REQUEST && (c->pend & VC_PEND_REQUEST));
}

/* End a connection from our side: the host socket goes now; an RST tells the guest. */
static void conn_abort(struct vconn *c)
{
	conn_close_fd(c);
	if (!guest_knows(c)) {
		c->state = VC_FREE;
		return;
	}
	c->state = VC_CLOSING;
	c->pend = VC_PEND_RST;
	c->tx_len = 0;
}

/* Bytes the guest can take now: its buffer, less what is in flight. A guest that
 * claims to have taken more than it was sent gets nothing. */
static uint32_t peer_credit(const struct vconn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static void conn_peer_credit(struct vconn *c, const struct vsock_hdr *h)
{
	if (c->peer_buf_alloc != h->buf_alloc || c->peer_fwd_cnt != h->fwd_cnt)
		c->credit_asked = 0;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
}

/* The host side may have data for the guest, which may take it now: its rx queue is
 * live (not before DRIVER_OK, not in NEEDS_RESET) and has buffers, and it gave credit. */
static int can_send(const struct vsock *v, const struct vconn *c)
{
	return c->state == VC_ESTABLISHED && !c->host_eof && !(c->guest_shut & VSOCK_SHUTDOWN_RCV) &&
	       peer_credit(c) > 0 && !v->rx_starved && virtio_queue_live(&v->vd, VSOCK_RXQ);
}

/* ---- the RST queue: answers to packets of no connection ---- */

static void rst_queue(struct vsock *v, const struct vsock_hdr *to)
{
	struct vsock_hdr *h;

	if (to->op == VSOCK_OP_RST || v->rst_len == VSOCK_RST_QUEUE)
		return; /* never answer an RST; a full queue stalls tx before it gets here */
	h = &v->rst[(v->rst_head + v->rst_len) % VSOCK_RST_QUEUE];
	v->rst_len++;
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->cid; /* the guest's, whatever the packet claimed */
	h->src_port = to->dst_port;
	h->dst_port = to->src_port;
	h->type = VSOCK_TYPE_STREAM;
	h->op = VSOCK_OP_RST;
}

/* A packet the connection c (if any) cannot take: end c, or answer RST. */
static void reply_rst(struct vsock *v, struct vconn *c, const struct vsock_hdr *h)
{
	if (c)
		conn_abort(c);
	else
		rst_queue(v, h);
}

/* ---- guest -> host ---- */

/* Both ways are over: the guest shut both (it waits for our RST), or it shut
 * sending and the host's data has ended. */
static void conn_maybe_done(struct vconn *c)
{
	if (c->state != VC_ESTABLISHED || c->tx_len)
		return;
	if (c->guest_shut == VSOCK_SHUTDOWN_BOTH ||
	    ((c->guest_shut & VSOCK_SHUTDOWN_SEND) && c->host_eof))
		conn_abort(c);
}

/* After the host took data: credit back to the guest, the host's end of input, the end. */
static void conn_after_tx(struct vconn *c)
{
	if (c->state != VC_ESTABLISHED)
		return;
	if (c->fwd_cnt - c->fwd_told >= VSOCK_BUF_ALLOC / 4)
		c->pend |= VC_PEND_CREDIT_UPDATE;
	if (c->tx_len)
		return;
	if ((c->guest_shut & VSOCK_SHUTDOWN_SEND) && !c->shut_wr && !c->host_hup) {
		if (shutdown(c->fd, SHUT_WR) < 0 && errno != ENOTCONN)
			log_warn("vsock: shutdown of host port %u", c->host_port);
		c->shut_wr = 1;
	}
	conn_maybe_done(c);
}

/* Write what the guest sent to the host socket, as far as it takes it now. */
static void conn_tx_flush(struct vsock *v, struct vconn *c)
{
	while (c->tx_len && c->fd >= 0) {
		uint32_t first = min_u32(c->tx_len, VSOCK_BUF_ALLOC - c->tx_head);
		struct iovec iov[2] = { { c->tx_buf + c->tx_head, first },
					{ c->tx_buf, c->tx_len - first } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = first < c->tx_len ? 2 : 1 };
		ssize_t w = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break; /* the host does not read: EPOLLOUT tells when it does */
		if (w <= 0) {
			conn_abort(c); /* EPIPE, ECONNRESET: the host end is gone */
			return;
		}
		c->tx_head = (c->tx_head + (uint32_t)w) % VSOCK_BUF_ALLOC;
		c->tx_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
		v->stats.tx_bytes += (uint64_t)w;
	}
	conn_after_tx(c);
}

/* RW: the payload goes into the connection's buffer, within the credit we gave. */
static int tx_rw(struct vsock *v, struct vconn *c, const struct vsock_hdr *h)
{
	uint32_t tail, first;

	if (c->state != VC_ESTABLISHED || (c->guest_shut & VSOCK_SHUTDOWN_SEND) ||
	    h->len > VSOCK_BUF_ALLOC - c->tx_len)
		return -1;
	tail = (c->tx_head + c->tx_len) % VSOCK_BUF_ALLOC;
	first = min_u32(h->len, VSOCK_BUF_ALLOC - tail);
	virtq_read_chain(&v->chain, VSOCK_HDR_LEN, c->tx_buf + tail, first);
	virtq_read_chain(&v->chain, VSOCK_HDR_LEN + first, c->tx_buf, h->len - first);
	c->tx_len += h->len;
	conn_tx_flush(v, c);
	return 0;
}

/* The guest's REQUEST to the host's port: ask the broker for PATH_<port>. */
static void guest_request(struct vsock *v, const struct vsock_hdr *h)
{
	struct vconn *c = conn_alloc(v, VC_GUEST_CONNECTING);

	if (!c) {
		v->stats.refused++;
		rst_queue(v, h);
		return;
	}
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	conn_peer_credit(c, h);
	if (!v->connect || v->connect(v, conn_tag(v, c), h->dst_port) < 0) {
		conn_free(c);
		rst_queue(v, h);
		return;
	}
	v->stats.guest_connects++;
}

/* The guest accepted a host program's connection: tell the program, as Firecracker does. */
static void host_established(struct vconn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
	ssize_t w;

	do
		w = send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w != n) {
		conn_abort(c);
		return;
	}
	c->state = VC_ESTABLISHED;
}

static void guest_shutdown(struct vsock *v, struct vconn *c, uint32_t flags)
{
	c->guest_shut |= flags;
	conn_tx_flush(v, c);
}

static const char *op_name(unsigned int op)
{
	static const char *const names[] = { "?", "REQUEST", "RESPONSE", "RST", "SHUTDOWN",
					     "RW", "CREDIT_UPDATE", "CREDIT_REQUEST" };

	return op < nitems(names) ? names[op] : "?";
}

const char *vsock_hdr_check(const struct vsock *v, const struct vsock_hdr *h, uint64_t room)
{
	if (h->len > room || h->len > VSOCK_MAX_PAYLOAD)
		return "length beyond its chain or the packet limit";
	if (h->type != VSOCK_TYPE_STREAM)
		return "not a stream packet";
	if (h->src_cid != v->cid)
		return "source CID is not the guest's";
	if (h->dst_cid != VSOCK_HOST_CID)
		return "destination CID is not the host's (2)";
	if (h->op < VSOCK_OP_REQUEST || h->op > VSOCK_OP_CREDIT_REQUEST)
		return "unknown op";
	if (h->op != VSOCK_OP_RW && h->len)
		return "payload on a control packet";
	if (h->op == VSOCK_OP_SHUTDOWN && (h->flags & ~(uint32_t)VSOCK_SHUTDOWN_BOTH))
		return "unknown shutdown flags";
	return NULL;
}

/* One packet from the guest (v->chain). */
static void tx_packet(struct vsock *v)
{
	struct vsock_hdr h;
	struct vconn *c;
	const char *why;

	v->stats.tx_pkts++;
	if (v->chain.read_len < VSOCK_HDR_LEN) {
		v->stats.bad_pkts++; /* not even a header: no one to answer */
		return;
	}
	virtq_read_chain(&v->chain, 0, &h, sizeof(h));
	c = conn_find(v, h.dst_port, h.src_port);
	why = vsock_hdr_check(v, &h, v->chain.read_len - VSOCK_HDR_LEN);
	if (why) {
		v->stats.bad_pkts++;
		log_debug("vsock: %s from port %u to %u: %s; RST", op_name(h.op), h.src_port,
			  h.dst_port, why);
		reply_rst(v, c, &h);
		return;
	}
	if (c)
		conn_peer_credit(c, &h);
	switch (h.op) {
	case VSOCK_OP_REQUEST:
		if (c)
			rst_queue(v, &h); /* a second REQUEST for a live pair */
		else
			guest_request(v, &h);
		return;
	case VSOCK_OP_RESPONSE:
		if (c && c->state == VC_HOST_REQUEST && !(c->pend & VC_PEND_REQUEST))
			host_established(c);
		else
			reply_rst(v, c, &h);
		return;
	case VSOCK_OP_RST:
		if (c)
			conn_free(c);
		return;
	case VSOCK_OP_SHUTDOWN:
		if (c && c->state == VC_ESTABLISHED)
			guest_shutdown(v, c, h.flags);
		else
			reply_rst(v, c, &h);
		return;
	case VSOCK_OP_RW:
		if (!c || tx_rw(v, c, &h) < 0)
			reply_rst(v, c, &h);
		return;
	case VSOCK_OP_CREDIT_UPDATE:
		if (!c || c->state != VC_ESTABLISHED)
			reply_rst(v, c, &h);
		return;
	default: /* VSOCK_OP_CREDIT_REQUEST */
		if (c && c->state == VC_ESTABLISHED)
			c->pend |= VC_PEND_CREDIT_UPDATE;
		else
			reply_rst(v, c, &h);
		return;
	}
}

/* Take every packet the guest made available, unless answers to them have no room. */
static void tx_pump(struct vsock *v)
{
	struct virtq *q = &v->vd.queues[VSOCK_TXQ];
	int pushed = 0;

	v->tx_stalled = 0;
	while (virtio_queue_live(&v->vd, VSOCK_TXQ)) {
		uint64_t bytes, bad;
		enum virtq_error e;

		if (v->rst_len == VSOCK_RST_QUEUE) {
			v->tx_stalled = 1; /* the rx queue must take RSTs first */
			break;
		}
		e = virtq_pop(q, v->vd.mem, &v->chain);
		if (e == VIRTQ_EMPTY) {
			if (!virtq_arm_notify(q))
				break;
			continue;
		}
		if (e != VIRTQ_OK) {
			virtio_needs_reset(&v->vd, VSOCK_TXQ, e);
			break;
		}
		bytes = v->stats.tx_bytes;
		bad = v->stats.bad_pkts;
		tx_packet(v);
		virtq_push(q, v->chain.head, 0);
		virtio_count(&v->vd, 1, v->stats.tx_bytes - bytes, v->stats.bad_pkts - bad);
		pushed = 1;
	}
	if (pushed)
		virtio_used(&v->vd, VSOCK_TXQ);
}

/* ---- host -> guest ---- */

static void conn_hdr(struct vsock *v, struct vconn *c, uint16_t op, uint32_t len,
		     struct vsock_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->cid;
	h->src_port = c->host_port;
	h->dst_port = c->guest_port;
	h->len = len;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->flags = op == VSOCK_OP_SHUTDOWN ? c->shut_flags : 0;
	h->buf_alloc = VSOCK_BUF_ALLOC;
	h->fwd_cnt = c->fwd_cnt;
	c->fwd_told = c->fwd_cnt;
}

/* The control packet c sends next, in the order the protocol needs. */
static uint16_t pend_op(const struct vconn *c, uint32_t *bit)
{
	static const struct {
		uint32_t bit;
		uint16_t op;
	} order[] = {
		{ VC_PEND_RST, VSOCK_OP_RST },
		{ VC_PEND_REQUEST, VSOCK_OP_REQUEST },
		{ VC_PEND_RESPONSE, VSOCK_OP_RESPONSE },
		{ VC_PEND_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE },
		{ VC_PEND_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST },
		{ VC_PEND_SHUTDOWN, VSOCK_OP_SHUTDOWN },
	};

	for (size_t i = 0; i < nitems(order); i++) {
		if (c->pend & order[i].bit) {
			*bit = order[i].bit;
			return order[i].op;
		}
	}
	return 0;
}

/* The host socket ended (read gave 0): the guest hears SHUTDOWN, of both ways if the
 * host end is gone altogether. */
static void conn_host_eof(struct vconn *c)
{
	c->host_eof = 1;
	c->readable = 0;
	c->shut_flags = c->host_hup ? VSOCK_SHUTDOWN_BOTH : VSOCK_SHUTDOWN_SEND;
	c->pend |= VC_PEND_SHUTDOWN;
	conn_maybe_done(c);
}

/* The next connection with something for the guest, from v->rr on; NULL if none. */
static struct vconn *rx_next(struct vsock *v, int *data)
{
	for (unsigned int k = 0; k < VSOCK_MAX_CONNS; k++) {
		struct vconn *c = &v->conns[(v->rr + k) % VSOCK_MAX_CONNS];

		if (c->state == VC_FREE)
			continue;
		*data = 0;
		if (c->pend)
			return c;
		if (c->readable && can_send(v, c)) {
			*data = 1;
			return c;
		}
		if (c->readable && c->state == VC_ESTABLISHED && !c->host_eof &&
		    !(c->guest_shut & VSOCK_SHUTDOWN_RCV) && !peer_credit(c) && !c->credit_asked) {
			/* data waits and the guest's buffer is full: ask, once, how it stands */
			c->pend |= VC_PEND_CREDIT_REQUEST;
			c->credit_asked = 1;
			return c;
		}
	}
	return NULL;
}

/* Data from the host socket straight into the rx chain. 1 pushed, 0 not (chain given back). */
static int rx_data(struct vsock *v, struct vconn *c, struct virtq *q)
{
	uint32_t room = min_u32(min_u32((uint32_t)(v->chain.write_len - VSOCK_HDR_LEN),
					VSOCK_MAX_PAYLOAD),
				peer_credit(c));
	struct msghdr mh = { .msg_iov = v->iov };
	struct vsock_hdr h;
	int niov = virtq_slice(&v->chain, 1, VSOCK_HDR_LEN, room, v->iov, VIRTQ_MAX_SEGS);
	ssize_t n;

	if (niov <= 0) {
		virtq_unpop(q, 1);
		c->readable = 0;
		return 0;
	}
	mh.msg_iovlen = (size_t)niov;
	do
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		virtq_unpop(q, 1);
		if (n == 0)
			conn_host_eof(c);
		else if (errno == EAGAIN)
			c->readable = 0;
		else
			conn_abort(c);
		return 0;
	}
	conn_hdr(v, c, VSOCK_OP_RW, (uint32_t)n, &h);
	virtq_write_chain(&v->chain, 0, &h, sizeof(h));
	virtq_push(q, v->chain.head, VSOCK_HDR_LEN + (uint32_t)n);
	c->rx_cnt += (uint32_t)n;
	v->stats.rx_bytes += (uint64_t)n;
	virtio_count(&v->vd, 1, (uint64_t)n, 0);
	return 1;
}

/* One packet to the guest. 1 pushed, 0 not (go on), -1 stop (no buffers, or a broken ring). */
static int rx_one(struct vsock *v)
{
	struct virtq *q = &v->vd.queues[VSOCK_RXQ];
	struct vconn *c = NULL;
	struct vsock_hdr h;
	enum virtq_error e;
	uint32_t bit = 0;
	int data = 0;

	if (!v->rst_len && !(c = rx_next(v, &data)))
		return -1;
	e = virtq_pop(q, v->vd.mem, &v->chain);
	if (e == VIRTQ_EMPTY) {
		if (virtq_arm_notify(q))
			return 0;
		v->rx_starved = 1; /* the guest's kick of the rx queue clears it */
		return -1;
	}
	if (e != VIRTQ_OK) {
		virtio_needs_reset(&v->vd, VSOCK_RXQ, e);
		return -1;
	}
	if (v->chain.write_len < VSOCK_HDR_LEN + (data ? 1 : 0)) {
		virtq_unpop(q, 1);
		if (v->chain.write_len < VSOCK_HDR_LEN)
			virtio_fail(&v->vd, VSOCK_RXQ, "rx buffer smaller than the packet header");
		else
			v->rx_starved = 1; /* no room for data: wait for other buffers */
		return -1;
	}
	v->stats.rx_pkts++;
	if (!c) {
		h = v->rst[v->rst_head];
		v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
		v->rst_len--;
		v->stats.rst_sent++;
	} else if (data) {
		v->rr = (conn_index(v, c) + 1) % VSOCK_MAX_CONNS;
		return rx_data(v, c, q);
	} else {
		conn_hdr(v, c, pend_op(c, &bit), 0, &h);
		c->pend &= ~bit;
		v->rr = (conn_index(v, c) + 1) % VSOCK_MAX_CONNS;
		if (h.op == VSOCK_OP_RST) {
			v->stats.rst_sent++;
			conn_free(c);
		}
	}
	virtq_write_chain(&v->chain, 0, &h, sizeof(h));
	virtq_push(q, v->chain.head, VSOCK_HDR_LEN);
	virtio_count(&v->vd, 1, 0, 0);
	return 1;
}

static void rx_pump(struct vsock *v)
{
	int pushed = 0, r = 0;

	for (unsigned int i = 0; i < 2 * VSOCK_RX_BUDGET && virtio_queue_live(&v->vd, VSOCK_RXQ) &&
				 pushed < VSOCK_RX_BUDGET && r >= 0;
	     i++) {
		r = rx_one(v);
		pushed += r > 0;
	}
	if (pushed)
		virtio_used(&v->vd, VSOCK_RXQ);
}

/* TRANSPORT_RESET, once the driver gives an event buffer after a reset. */
static void ev_pump(struct vsock *v)
{
	struct virtq *q = &v->vd.queues[VSOCK_EVQ];
	uint32_t id = VSOCK_EVENT_TRANSPORT_RESET;

	while (v->reset_event && virtio_queue_live(&v->vd, VSOCK_EVQ)) {
		enum virtq_error e = virtq_pop(q, v->vd.mem, &v->chain);

		if (e == VIRTQ_EMPTY) {
			if (!virtq_arm_notify(q))
				return;
			continue;
		}
		if (e != VIRTQ_OK) {
			virtio_needs_reset(&v->vd, VSOCK_EVQ, e);
			return;
		}
		if (v->chain.write_len < sizeof(id)) {
			virtq_unpop(q, 1);
			virtio_fail(&v->vd, VSOCK_EVQ, "event buffer smaller than an event");
			return;
		}
		virtq_write_chain(&v->chain, 0, &id, sizeof(id));
		virtq_push(q, v->chain.head, sizeof(id));
		v->reset_event = 0;
		virtio_used(&v->vd, VSOCK_EVQ);
	}
}

/* ---- host sockets ---- */

int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char cmd[] = "CONNECT ";
	size_t i = sizeof(cmd) - 1;
	uint64_t val = 0;

	if (len < i + 2 || len - i - 1 > 10 || memcmp(line, cmd, i) != 0 || line[len - 1] != '\n')
		return -EINVAL;
	for (; i < len - 1; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EINVAL;
		val = val * 10 + (uint64_t)(line[i] - '0');
	}
	if (val > UINT32_MAX)
		return -EINVAL;
	*port = (uint32_t)val;
	return 0;
}

/* A port of ours for a host-initiated connection to guest_port, unused with it. */
static uint32_t host_port_alloc(struct vsock *v, uint32_t guest_port)
{
	for (;;) {
		uint32_t p = v->next_host_port++;

		if (v->next_host_port < VSOCK_HOST_PORT_BASE)
			v->next_host_port = VSOCK_HOST_PORT_BASE;
		if (!conn_find(v, p, guest_port))
			return p;
	}
}

/*
 * A host program's "CONNECT <port>\n". Bytes are taken up to the newline and
 * no further (what follows is the stream to the guest), and every wake-up
 * takes some, so a slow writer never makes us spin.
 */
static void host_line(struct vsock *v, struct vconn *c)
{
	char peek[VSOCK_LINE_MAX];
	uint32_t port;
	const char *nl;
	ssize_t n, take;

	do
		n = recv(c->fd, peek, VSOCK_LINE_MAX - c->line_len, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_free(c);
		return;
	}
	nl = memchr(peek, '\n', (size_t)n);
	take = nl ? nl - peek + 1 : n;
	if (recv(c->fd, c->line + c->line_len, (size_t)take, MSG_DONTWAIT) != take) {
		conn_free(c);
		return;
	}
	c->line_len += (uint32_t)take;
	if (!nl) {
		if (c->line_len == VSOCK_LINE_MAX)
			conn_free(c); /* no line: not a hybrid vsock client */
		return;
	}
	if (vsock_parse_connect(c->line, c->line_len, &port) < 0) {
		log_debug("vsock: a host program sent no CONNECT <port> line; closed");
		conn_free(c);
		return;
	}
	c->guest_port = port;
	c->host_port = host_port_alloc(v, port);
	c->state = VC_HOST_REQUEST;
	c->pend |= VC_PEND_REQUEST;
	if (c->host_hup)
		conn_abort(c);
}

static void host_accept(struct vsock *v)
{
	for (unsigned int i = 0; i < VSOCK_ACCEPT_BUDGET; i++) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vconn *c;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/* EMFILE, ENFILE, ENOBUFS: the listening socket stays readable, so stop
			 * polling it (a level-triggered spin otherwise) until a connection ends. */
			log_warn("vsock: accept; host connections wait");
			if (v->watch(v, EPOLL_CTL_DEL, v->listen_fd, 0, VSOCK_LISTEN_TAG) == 0) {
				v->listen_paused = 1;
				v->listen_retry = 0;
				v->listen_paused_at = vsock_conns(v);
			}
			return;
		}
		c = conn_alloc(v, VC_HOST_LINE);
		if (!c) {
			close(fd); /* at the cap: the program sees the connection end */
			v->stats.refused++;
			continue;
		}
		c->fd = fd;
		v->stats.host_accepted++;
	}
}

void vsock_event(struct vsock *v, uint32_t tag, uint32_t events)
{
	struct vconn *c;

	if (tag == VSOCK_LISTEN_TAG) {
		host_accept(v);
		return;
	}
	c = conn_by_tag(v, tag);
	if (!c || c->fd < 0)
		return; /* closed earlier in this batch */
	if ((events & (EPOLLHUP | EPOLLERR)) && !c->host_hup) {
		/* Gone: reported whatever we ask for, so stop polling and read what is left. */
		c->host_hup = 1;
		if (c->registered && v->watch(v, EPOLL_CTL_DEL, c->fd, 0, tag) < 0)
			log_warn("vsock: epoll_ctl");
		c->registered = 0;
	}
	switch (c->state) {
	case VC_HOST_LINE:
		host_line(v, c);
		break;
	case VC_HOST_REQUEST:
		if (c->host_hup)
			conn_abort(c);
		break;
	case VC_ESTABLISHED:
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			c->readable = 1;
		if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			conn_tx_flush(v, c);
		break;
	default:
		break;
	}
}

void vsock_connected(struct vsock *v, uint32_t seq, int err, int fd)
{
	struct vconn *c = conn_by_tag(v, seq);

	if (!c || c->state != VC_GUEST_CONNECTING) {
		if (fd >= 0)
			close(fd); /* the guest gave up (RST) or the device was reset meanwhile */
		return;
	}
	if (err < 0) {
		log_debug("vsock: no host listener for port %u: %s", c->host_port, strerror(-err));
		conn_abort(c);
		return;
	}
	c->fd = fd;
	c->state = VC_ESTABLISHED;
	c->pend |= VC_PEND_RESPONSE;
}

/* What the host socket is polled for: the line, data the guest can take, room for data. */
static uint32_t conn_wants(const struct vsock *v, const struct vconn *c)
{
	uint32_t ev = 0;

	if (c->state == VC_HOST_LINE)
		return EPOLLIN;
	if (c->state != VC_ESTABLISHED)
		return 0;
	if (can_send(v, c))
		ev |= EPOLLIN;
	if (c->tx_len)
		ev |= EPOLLOUT;
	return ev;
}

static void conn_update_watch(struct vsock *v, struct vconn *c)
{
	uint32_t want;
	int err;

	if (c->state == VC_FREE || c->fd < 0 || c->host_hup || !v->watch)
		return;
	want = conn_wants(v, c);
	if (c->registered && want == c->watched)
		return;
	err = v->watch(v, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, want, conn_tag(v, c));
	if (err < 0) {
		errno = -err;
		log_warn("vsock: epoll_ctl for host port %u", c->host_port);
		conn_abort(c);
		return;
	}
	c->registered = 1;
	c->watched = want;
}

void vsock_flush(struct vsock *v)
{
	if (v->listen_paused && (v->listen_retry || vsock_conns(v) < v->listen_paused_at) &&
	    v->watch(v, EPOLL_CTL_ADD, v->listen_fd, EPOLLIN, VSOCK_LISTEN_TAG) == 0)
		v->listen_paused = 0;
	for (int round = 0; round < 2; round++) {
		if (v->tx_stalled && v->rst_len < VSOCK_RST_QUEUE)
			tx_pump(v);
		rx_pump(v);
	}
	ev_pump(v);
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		conn_update_watch(v, &v->conns[i]);
}

/* ---- the transport ---- */

static void vsock_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	struct vsock *v = vd->priv;

	v->listen_retry = 1;
	if (q == VSOCK_RXQ) {
		v->rx_starved = 0;
		rx_pump(v);
	} else if (q == VSOCK_TXQ) {
		tx_pump(v);
	} else {
		ev_pump(v);
	}
}

static void vsock_driver_ok(struct virtio_dev *vd)
{
	struct vsock *v = vd->priv;

	v->was_live = 1;
}

/* A reset drops every connection (their host programs see them end); a driver that
 * comes back is told with TRANSPORT_RESET on its event queue. */
static void vsock_reset(struct virtio_dev *vd)
{
	struct vsock *v = vd->priv;

	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		conn_free(&v->conns[i]);
	v->rst_len = 0;
	v->tx_stalled = 0;
	v->rx_starved = 0;
	if (v->was_live)
		v->reset_event = 1;
	v->was_live = 0;
}

const struct virtio_dev_ops vsock_virtio_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nqueues = IPC_VSOCK_QUEUES,
	.features = vsock_features,
	.queue_notify = vsock_queue_notify,
	.config_len = sizeof(struct vsock_config),
	.config_read = vsock_config_read,
	.driver_ok = vsock_driver_ok,
	.reset = vsock_reset,
};

void vsock_setup(struct vsock *v, uint64_t cid, int listen_fd, const struct guest_mem *mem)
{
	v->cid = cid;
	v->listen_fd = listen_fd;
	v->config.guest_cid = cid;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		v->conns[i].state = VC_FREE;
		v->conns[i].fd = -1;
	}
	v->next_host_port = VSOCK_HOST_PORT_BASE;
	v->rst_head = v->rst_len = 0;
	v->tx_stalled = v->rx_starved = v->reset_event = v->was_live = 0;
	v->listen_paused = v->listen_retry = 0;
	v->listen_paused_at = 0;
	v->rr = 0;
	memset(&v->stats, 0, sizeof(v->stats));
	virtio_init(&v->vd, &vsock_virtio_ops, mem, v);
}

int vsock_start(struct vsock *v)
{
	if (v->listen_fd < 0 || !v->watch)
		return 0;
	return v->watch(v, EPOLL_CTL_ADD, v->listen_fd, EPOLLIN, VSOCK_LISTEN_TAG);
}
