/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devices/vsock/vsock.c driven as a guest driver drives it (vdriver.h) on
 * one side and as host programs drive it on the other: a real listening UNIX
 * socket (abstract name) for Firecracker's "CONNECT <port>\n", socketpairs
 * standing in for the broker's connections to PATH_P, and the process's
 * epoll loop emulated with poll(2) over the fds the device asked to watch,
 * level-triggered as epoll is (a loop that never settles is a spin, and a
 * failure). Covered: identity and config; the host line parser and the
 * header checks (tables); connections both ways with their data checked;
 * every hostile header answered with RST; credit both ways (a guest beyond
 * its credit, a guest with a small buffer); a host that stops reading
 * holding up only its own connection; shutdown each way; the connection
 * cap; the RST queue stalling tx instead of growing; reset with its
 * TRANSPORT_RESET event; an rx buffer below the header.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/layout.h"
#include "../../common/log.h"
#include "vdriver.h"
#include "vsock_loop.h"

#define MEM_SIZE MiB(16)
#define CID 3
#define RXQ_BASE 0x10000ull
#define TXQ_BASE 0x20000ull
#define EVQ_BASE 0x30000ull
#define RX_AREA 0x100000ull /* QSIZE rx buffers of RXBUF bytes */
#define EV_AREA 0x0f0000ull
#define TX_AREA 0x800000ull /* tx packets, handed out in order, wrapping */
#define TX_AREA_END 0xf00000ull
#define QSIZE 256
#define RXBUF (VSOCK_HDR_LEN + 4096)
#define GUEST_BUF (256u * 1024) /* the guest's buf_alloc */

static struct guest_mem g_mem;
static struct vsock *V;
static struct vdrv D;
static uint64_t tx_bump;

static struct vloop L; /* the device process's epoll loop */

/* The broker's requests, and the connections it made (the host's ends). */
static struct req {
	uint32_t seq, port;
} Q[2 * VSOCK_MAX_CONNS];
static unsigned int nq;

static int listen_fd = -1;
static char listen_name[64];

static int rec_connect(struct vsock *v, uint32_t seq, uint32_t port)
{
	(void)v;
	assert_true(nq < nitems(Q));
	Q[nq++] = (struct req){ seq, port };
	return 0;
}

static void rec_irq(struct virtio_dev *vd)
{
	(void)vd;
}

/* The device process's loop, until nothing is ready; a loop that never settles is a spin. */
static void pump(void)
{
	int err = vloop_run(&L, 200);

	if (err == -ELOOP)
		fail_msg("the device loop never settles: an fd stays ready (a spin)");
	assert_int_equal(err, 0);
}

static int group_setup(void **state)
{
	(void)state;
	log_init("test_vsock");
	if (mem_layout(&g_mem, MEM_SIZE) < 0 || mem_create(&g_mem, "vsock") < 0 || mem_map(&g_mem) < 0)
		return -1;
	V = calloc(1, sizeof(*V));
	return V ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(V);
	mem_close(&g_mem);
	return 0;
}

/* A listening UNIX socket with an abstract name, as the supervisor would make at PATH. */
static int make_listener(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(listen_name, sizeof(listen_name), "bh-test-vsock-%d", (int)getpid());
	memcpy(sa.sun_path + 1, listen_name, strlen(listen_name));
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(listen_name))),
			 0);
	assert_int_equal(listen(fd, 128), 0);
	return fd;
}

/* A host program connects to PATH. */
static int host_dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path + 1, listen_name, strlen(listen_name));
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa,
				 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(listen_name))),
			 0);
	return fd;
}

static void rx_post(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint16_t head = D.q[VSOCK_RXQ].next_desc;
		struct vdrv_buf b = { RX_AREA + (uint64_t)head * RXBUF, RXBUF, 1 };

		(void)vdrv_post(&D, VSOCK_RXQ, &b, 1);
	}
	virtio_kick(&V->vd, VSOCK_RXQ);
}

/* The device, up to DRIVER_OK, rx buffers posted (nrx of them). */
static void start(unsigned int nrx)
{
	memset(V, 0, sizeof(*V));
	nq = 0;
	tx_bump = TX_AREA;
	if (listen_fd < 0)
		listen_fd = make_listener();
	vsock_setup(V, CID, listen_fd, &g_mem);
	vloop_init(&L, V);
	V->connect = rec_connect;
	V->vd.irq = rec_irq;
	assert_int_equal(vsock_start(V), 0);
	D = (struct vdrv){ .vd = &V->vd, .mem = &g_mem };
	assert_true(vdrv_negotiate(&D, VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)));
	vdrv_queue(&D, VSOCK_RXQ, QSIZE, RXQ_BASE);
	vdrv_queue(&D, VSOCK_TXQ, QSIZE, TXQ_BASE);
	vdrv_queue(&D, VSOCK_EVQ, 4, EVQ_BASE);
	vdrv_ok(&D);
	rx_post(nrx);
}

/* Close every connection the device still holds (so a test leaves no fd behind). */
static int fx_teardown(void **state)
{
	(void)state;
	vdrv_wr(&D, VDRV_STATUS, 0);
	return 0;
}

/* ---- the guest's packets ---- */

struct gconn {
	uint32_t gport, hport;
	uint32_t fwd_cnt; /* what the guest application took */
	uint32_t buf_alloc;
};

static struct vsock_hdr ghdr(const struct gconn *g, uint16_t op, uint32_t len)
{
	struct vsock_hdr h = {
		.src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = g->gport, .dst_port = g->hport,
		.len = len, .type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = g->buf_alloc,
		.fwd_cnt = g->fwd_cnt,
	};
	return h;
}

static uint64_t tx_alloc(uint64_t len)
{
	uint64_t a = (tx_bump + 63) & ~63ull;

	if (a + len > TX_AREA_END)
		a = TX_AREA;
	tx_bump = a + len;
	return a;
}

/* The guest sends header h (as given: hostile ones too) and len payload bytes, in two
 * readable descriptors (one, without payload). */
static void tx_raw(const void *h, uint32_t hlen, const void *payload, uint32_t len)
{
	struct vdrv_buf b[2] = { { tx_alloc(hlen), hlen, 0 }, { 0, len, 0 } };

	memcpy(vdrv_gp(&D, b[0].gpa, hlen), h, hlen);
	if (len) {
		b[1].gpa = tx_alloc(len);
		memcpy(vdrv_gp(&D, b[1].gpa, len), payload, len);
	}
	(void)vdrv_post(&D, VSOCK_TXQ, b, len ? 2 : 1);
	virtio_kick(&V->vd, VSOCK_TXQ);
}

static void tx(const struct gconn *g, uint16_t op, const void *payload, uint32_t len)
{
	struct vsock_hdr h = ghdr(g, op, len);

	tx_raw(&h, sizeof(h), payload, len);
}

/* Every tx chain the device took: how many. */
static unsigned int tx_used(void)
{
	uint32_t id, len;
	unsigned int n = 0;

	while (vdrv_used(&D, VSOCK_TXQ, &id, &len))
		n++;
	return n;
}

/* The next packet the device sent the guest: 1 with its header and payload (up to cap
 * bytes into payload), 0 if none. The buffer is posted again. */
static int rx_take(struct vsock_hdr *h, void *payload, size_t cap)
{
	uint32_t id, len;

	if (!vdrv_used(&D, VSOCK_RXQ, &id, &len))
		return 0;
	assert_true(id < QSIZE && len >= VSOCK_HDR_LEN && len <= RXBUF);
	memcpy(h, vdrv_gp(&D, RX_AREA + (uint64_t)id * RXBUF, sizeof(*h)), sizeof(*h));
	assert_int_equal(len, VSOCK_HDR_LEN + h->len);
	assert_true(h->len <= cap);
	if (h->len)
		memcpy(payload, vdrv_gp(&D, RX_AREA + (uint64_t)id * RXBUF + VSOCK_HDR_LEN, h->len),
		       h->len);
	rx_post(1);
	return 1;
}

static int is_credit(const struct vsock_hdr *h)
{
	return h->op == VSOCK_OP_CREDIT_UPDATE || h->op == VSOCK_OP_CREDIT_REQUEST;
}

/* The next packet must be op for g (ports the right way round), from the host to us;
 * credit packets before it, which may come at any time, are passed over. */
static void expect_pkt(const struct gconn *g, uint16_t op, struct vsock_hdr *out)
{
	struct vsock_hdr h;
	uint8_t junk[4096];

	do {
		if (!rx_take(&h, junk, sizeof(junk)))
			fail_msg("no packet; wanted op %u", op);
	} while (is_credit(&h) && op != h.op);
	if (h.op != op)
		fail_msg("op %u (ports %u -> %u), wanted %u", h.op, h.src_port, h.dst_port, op);
	assert_int_equal(h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(h.dst_cid, CID);
	assert_int_equal(h.type, VSOCK_TYPE_STREAM);
	assert_int_equal(h.dst_port, g->gport);
	assert_int_equal(h.src_port, g->hport);
	if (out)
		*out = h;
}

/* No packet but credit packets. */
static void expect_no_pkt(void)
{
	struct vsock_hdr h;
	uint8_t junk[4096];

	while (rx_take(&h, junk, sizeof(junk))) {
		if (!is_credit(&h))
			fail_msg("unexpected packet op %u, ports %u -> %u", h.op, h.src_port, h.dst_port);
	}
}

/* ---- data ---- */

static uint8_t pat(uint32_t seed, uint64_t i)
{
	return (uint8_t)((i * 131 + seed * 7 + (i >> 9)) ^ (i >> 3));
}

static void fill(uint8_t *p, size_t len, uint32_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(seed, off + i);
}

/* The guest sends total bytes of pattern seed on g in RW packets of at most chunk, within
 * the credit the device gave (its last header's buf_alloc and fwd_cnt); the host end
 * reads them all and checks them. */
static void guest_to_host(struct gconn *g, int host, uint32_t seed, size_t total, uint32_t chunk)
{
	static uint8_t buf[VSOCK_MAX_PAYLOAD];
	size_t sent = 0, got = 0;

	for (int rounds = 0; got < total; rounds++) {
		assert_true(rounds < 100000);
		if (sent < total && sent - got < VSOCK_BUF_ALLOC / 2) {
			uint32_t n = (uint32_t)(total - sent < chunk ? total - sent : chunk);

			fill(buf, n, seed, sent);
			tx(g, VSOCK_OP_RW, buf, n);
			sent += n;
		}
		pump();
		for (;;) {
			ssize_t r = recv(host, buf, sizeof(buf), MSG_DONTWAIT);

			if (r <= 0)
				break;
			for (ssize_t i = 0; i < r; i++)
				if (buf[i] != pat(seed, got + (size_t)i))
					fail_msg("host byte %zu is 0x%02x, want 0x%02x", got + (size_t)i, buf[i],
						 pat(seed, got + (size_t)i));
			got += (size_t)r;
		}
	}
	assert_int_equal(tx_used() >= 1, 1);
}

/* The host end writes total bytes of pattern seed; the guest takes them, checks them and
 * gives credit back (CREDIT_UPDATE) as an application reading them would. */
static void host_to_guest(struct gconn *g, int host, uint32_t seed, size_t total)
{
	static uint8_t buf[8192];
	size_t sent = 0, got = 0;
	struct vsock_hdr h;

	for (int rounds = 0; got < total; rounds++) {
		assert_true(rounds < 100000);
		if (sent < total) {
			size_t n = total - sent < sizeof(buf) ? total - sent : sizeof(buf);
			ssize_t w;

			fill(buf, n, seed, sent);
			w = send(host, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
		}
		pump();
		while (rx_take(&h, buf, sizeof(buf))) {
			if (h.op == VSOCK_OP_CREDIT_REQUEST || h.op == VSOCK_OP_CREDIT_UPDATE)
				continue;
			assert_int_equal(h.op, VSOCK_OP_RW);
			assert_int_equal(h.dst_port, g->gport);
			for (uint32_t i = 0; i < h.len; i++)
				if (buf[i] != pat(seed, got + i))
					fail_msg("guest byte %zu is 0x%02x, want 0x%02x", got + i, buf[i],
						 pat(seed, got + i));
			got += h.len;
			g->fwd_cnt += h.len;
		}
		tx(g, VSOCK_OP_CREDIT_UPDATE, NULL, 0);
	}
	assert_int_equal(got, total);
}

/* ---- connections ---- */

/* The guest connects to the host's port; the broker answers with one end of a socketpair,
 * whose other end (the host program at PATH_<port>) is returned. */
static int guest_connect(struct gconn *g, uint32_t gport, uint32_t hport)
{
	int sv[2];

	*g = (struct gconn){ .gport = gport, .hport = hport, .buf_alloc = GUEST_BUF };
	nq = 0;
	tx(g, VSOCK_OP_REQUEST, NULL, 0);
	pump();
	assert_int_equal(nq, 1);
	assert_int_equal(Q[0].port, hport);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	vsock_connected(V, Q[0].seq, 0, sv[0]);
	pump();
	expect_pkt(g, VSOCK_OP_RESPONSE, NULL);
	return sv[1];
}

/* A host program connects to PATH and asks for the guest's port; the guest accepts. */
static int host_connect(struct gconn *g, uint32_t gport)
{
	struct vsock_hdr h;
	char line[32], want[32];
	int fd = host_dial();

	snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	assert_int_equal(send(fd, line, strlen(line), 0), (ssize_t)strlen(line));
	pump();
	assert_true(rx_take(&h, line, sizeof(line)));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, gport);
	assert_true(h.src_port >= VSOCK_HOST_PORT_BASE);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	*g = (struct gconn){ .gport = gport, .hport = h.src_port, .buf_alloc = GUEST_BUF };
	tx(g, VSOCK_OP_RESPONSE, NULL, 0);
	pump();
	snprintf(want, sizeof(want), "OK %u\n", g->hport);
	memset(line, 0, sizeof(line));
	assert_int_equal(recv(fd, line, strlen(want), MSG_DONTWAIT), (ssize_t)strlen(want));
	assert_string_equal(line, want);
	return fd;
}

/* The host end has ended: end of file after whatever is left. */
static void expect_host_eof(int fd)
{
	uint8_t buf[4096];
	ssize_t r;

	while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	assert_int_equal(r, 0);
}

/* ---- tests ---- */

static void test_identity(void **state)
{
	(void)state;
	start(0);
	assert_int_equal(vdrv_rd(&D, VDRV_DEVICE_ID), 19);
	assert_true(vdrv_offered(&D) & VIRTIO_BIT(VSOCK_F_STREAM));
	assert_int_equal(vdrv_rd(&D, VDRV_CONFIG), CID);
	assert_int_equal(vdrv_rd(&D, VDRV_CONFIG + 4), 0);
	assert_int_equal(virtio_mmio_read(&V->vd, VDRV_CONFIG, 8), CID);
	assert_int_equal(V->vd.ops->nqueues, 3);
}

static void test_parse_connect(void **state)
{
	static const struct {
		const char *line;
		long port; /* -1: refused */
	} cases[] = {
		{ "CONNECT 1234\n", 1234 },	   { "CONNECT 0\n", 0 },
		{ "CONNECT 4294967295\n", 4294967295l }, { "CONNECT 0001\n", 1 },
		{ "CONNECT 4294967296\n", -1 },    { "CONNECT 99999999999\n", -1 },
		{ "CONNECT \n", -1 },		   { "CONNECT 12\r\n", -1 },
		{ "CONNECT 12", -1 },		   { "connect 12\n", -1 },
		{ "CONNECT -1\n", -1 },		   { "CONNECT +1\n", -1 },
		{ "CONNECT  1\n", -1 },		   { "CONNECT 1 \n", -1 },
		{ "CONNECT 0x10\n", -1 },	   { "CONNEC 1\n", -1 },
		{ "\n", -1 },			   { "", -1 },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		uint32_t port = 0xdead;
		int r = vsock_parse_connect(cases[i].line, strlen(cases[i].line), &port);

		if (cases[i].port < 0 ? r != -EINVAL : r != 0 || port != (uint32_t)cases[i].port)
			fail_msg("'%s': result %d port %u", cases[i].line, r, port);
	}
}

static void test_hdr_check(void **state)
{
	static const struct {
		struct vsock_hdr h;
		uint64_t room;
		int ok;
	} cases[] = {
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 1 }, 0, 1 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 5, .len = 10 }, 10, 1 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 5, .len = 11 }, 10, 0 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 5, .len = 65537 }, 1 << 20, 0 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 2, .op = 1 }, 0, 0 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 0, .op = 1 }, 0, 0 },
		{ { .src_cid = 4, .dst_cid = 2, .type = 1, .op = 1 }, 0, 0 },
		{ { .src_cid = CID | 1ull << 32, .dst_cid = 2, .type = 1, .op = 1 }, 0, 0 },
		{ { .src_cid = CID, .dst_cid = 3, .type = 1, .op = 1 }, 0, 0 },
		{ { .src_cid = CID, .dst_cid = 1, .type = 1, .op = 1 }, 0, 0 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 0 }, 0, 0 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 8 }, 0, 0 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 1, .len = 1 }, 1, 0 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 4, .flags = 3 }, 0, 1 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 4, .flags = 4 }, 0, 0 },
		{ { .src_cid = CID, .dst_cid = 2, .type = 1, .op = 5, .flags = 0xff }, 0, 1 },
	};

	(void)state;
	start(0);
	for (size_t i = 0; i < nitems(cases); i++) {
		const char *why = vsock_hdr_check(V, &cases[i].h, cases[i].room);

		if ((why == NULL) != cases[i].ok)
			fail_msg("case %zu: %s", i, why ? why : "accepted");
	}
}

static void test_host_initiated(void **state)
{
	struct gconn g;
	int fd;

	(void)state;
	start(QSIZE);
	fd = host_connect(&g, 1234);
	host_to_guest(&g, fd, 1, 300000);
	guest_to_host(&g, fd, 2, 300000, 4096);
	/* the guest closes: SHUTDOWN both ways, answered with RST; the host sees the end */
	g.fwd_cnt = 0;
	{
		struct vsock_hdr h = ghdr(&g, VSOCK_OP_SHUTDOWN, 0);

		h.flags = VSOCK_SHUTDOWN_BOTH;
		tx_raw(&h, sizeof(h), NULL, 0);
	}
	pump();
	expect_pkt(&g, VSOCK_OP_RST, NULL);
	expect_host_eof(fd);
	assert_int_equal(vsock_conns(V), 0);
	close(fd);
}

/* What follows the line is the stream: the device takes the line and nothing more. */
static void test_host_line_then_data(void **state)
{
	struct vsock_hdr h;
	char payload[64];
	int fd = -1;

	(void)state;
	start(QSIZE);
	fd = host_dial();
	/* the line in two writes, the data with its second half */
	assert_int_equal(send(fd, "CONN", 4, 0), 4);
	pump();
	expect_no_pkt();
	assert_int_equal(send(fd, "ECT 77\nhello", 12, 0), 12);
	pump();
	assert_true(rx_take(&h, payload, sizeof(payload)));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	{
		struct gconn g = { .gport = 77, .hport = h.src_port, .buf_alloc = GUEST_BUF };

		tx(&g, VSOCK_OP_RESPONSE, NULL, 0);
		pump();
		assert_true(rx_take(&h, payload, sizeof(payload)));
		assert_int_equal(h.op, VSOCK_OP_RW);
		assert_int_equal(h.len, 5);
		assert_memory_equal(payload, "hello", 5);
	}
	close(fd);
}

static void test_host_bad_lines(void **state)
{
	static const char *const lines[] = {
		"GET / HTTP/1.0\n", "CONNECT x\n", "CONNECT 1 2\n",
		"CONNECT 000000000000000000000000000000001\n", /* no newline within 32 bytes */
	};

	(void)state;
	start(QSIZE);
	for (size_t i = 0; i < nitems(lines); i++) {
		int fd = host_dial();

		assert_int_equal(send(fd, lines[i], strlen(lines[i]), 0), (ssize_t)strlen(lines[i]));
		pump();
		expect_no_pkt();
		/* closed: end of file, or a reset where the device left bytes unread */
		if (recv(fd, &(char){ 0 }, 1, MSG_DONTWAIT) != 0 && errno != ECONNRESET)
			fail_msg("'%s': the connection stays open", lines[i]);
		close(fd);
	}
	/* a program that connects and leaves */
	close(host_dial());
	pump();
	expect_no_pkt();
	assert_int_equal(vsock_conns(V), 0);
}

/* The guest never answers, and the host program gives up: nothing stays behind. */
static void test_host_gives_up(void **state)
{
	struct vsock_hdr h;
	char buf[8];
	int fd;

	(void)state;
	start(QSIZE);
	fd = host_dial();
	assert_int_equal(send(fd, "CONNECT 9\n", 10, 0), 10);
	pump();
	assert_true(rx_take(&h, buf, sizeof(buf)));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	close(fd);
	pump();
	expect_pkt(&(struct gconn){ .gport = 9, .hport = h.src_port }, VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_conns(V), 0);
}

static void test_guest_initiated(void **state)
{
	struct gconn g;
	int fd;

	(void)state;
	start(QSIZE);
	fd = guest_connect(&g, 40000, 5000);
	guest_to_host(&g, fd, 3, 500000, 65536);
	host_to_guest(&g, fd, 4, 500000);
	/* the host program ends: the guest hears SHUTDOWN of both ways */
	close(fd);
	pump();
	{
		struct vsock_hdr h;

		expect_pkt(&g, VSOCK_OP_SHUTDOWN, &h);
		assert_int_equal(h.flags, VSOCK_SHUTDOWN_BOTH);
	}
	tx(&g, VSOCK_OP_RST, NULL, 0);
	pump();
	expect_no_pkt();
	assert_int_equal(vsock_conns(V), 0);
}

static void test_broker_refuses(void **state)
{
	struct gconn g = { .gport = 1025, .hport = 6000, .buf_alloc = GUEST_BUF };

	(void)state;
	start(QSIZE);
	tx(&g, VSOCK_OP_REQUEST, NULL, 0);
	pump();
	assert_int_equal(nq, 1);
	vsock_connected(V, Q[0].seq, -ECONNREFUSED, -1);
	pump();
	expect_pkt(&g, VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_conns(V), 0);
	/* a late or forged answer for it is closed, not used */
	{
		int sv[2];
		char c;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		vsock_connected(V, Q[0].seq, 0, sv[0]);
		vsock_connected(V, 0x12345, 0, -1);
		assert_int_equal(recv(sv[1], &c, 1, MSG_DONTWAIT), 0);
		close(sv[1]);
	}
}

/* The guest gave up (RST) while the supervisor was connecting. */
static void test_guest_gives_up(void **state)
{
	struct gconn g = { .gport = 1026, .hport = 6001, .buf_alloc = GUEST_BUF };
	int sv[2];
	char c;

	(void)state;
	start(QSIZE);
	tx(&g, VSOCK_OP_REQUEST, NULL, 0);
	tx(&g, VSOCK_OP_RST, NULL, 0);
	pump();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vsock_connected(V, Q[0].seq, 0, sv[0]);
	pump();
	expect_no_pkt();
	assert_int_equal(recv(sv[1], &c, 1, MSG_DONTWAIT), 0);
	close(sv[1]);
}

/* Every hostile header gets RST, with the ports swapped and the guest's own CID. */
static void test_hostile_headers(void **state)
{
	const struct gconn g = { .gport = 2000, .hport = 7000, .buf_alloc = GUEST_BUF };
	struct vsock_hdr base = ghdr(&g, VSOCK_OP_REQUEST, 0), h;
	uint8_t payload[16] = { 0 };
	unsigned int sent = 0;

	(void)state;
	start(QSIZE);
	h = base, h.type = 2, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.type = 0xffff, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.src_cid = 4, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.dst_cid = CID, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.dst_cid = 0xffffffffull, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.op = 0, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.op = 99, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.len = 16, tx_raw(&h, sizeof(h), payload, 16), sent++; /* payload on REQUEST */
	h = base, h.op = VSOCK_OP_RW, h.len = 100, tx_raw(&h, sizeof(h), payload, 16), sent++;
	h = base, h.op = VSOCK_OP_RW, h.len = 0xffffffff, tx_raw(&h, sizeof(h), payload, 16), sent++;
	h = base, h.op = VSOCK_OP_SHUTDOWN, h.flags = 8, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	/* ops that need a connection, on none */
	h = base, h.op = VSOCK_OP_RW, h.len = 16, tx_raw(&h, sizeof(h), payload, 16), sent++;
	h = base, h.op = VSOCK_OP_RESPONSE, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.op = VSOCK_OP_SHUTDOWN, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.op = VSOCK_OP_CREDIT_UPDATE, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	h = base, h.op = VSOCK_OP_CREDIT_REQUEST, tx_raw(&h, sizeof(h), NULL, 0), sent++;
	pump();
	for (unsigned int i = 0; i < sent; i++)
		expect_pkt(&g, VSOCK_OP_RST, NULL);
	expect_no_pkt();
	/* an RST is never answered, a header shorter than 44 bytes cannot be */
	h = base, h.op = VSOCK_OP_RST, tx_raw(&h, sizeof(h), NULL, 0);
	h = base, h.op = VSOCK_OP_RST, h.type = 7, tx_raw(&h, sizeof(h), NULL, 0);
	tx_raw(&base, 20, NULL, 0);
	pump();
	expect_no_pkt();
	assert_int_equal(tx_used(), sent + 3);
	assert_false(vdrv_needs_reset(&D));
	assert_int_equal(nq, 0);
	assert_int_equal(vsock_conns(V), 0);
}

/* A hostile header on a live connection ends it: RST, and the host program sees the end. */
static void test_hostile_on_connection(void **state)
{
	struct vsock_hdr h;
	struct gconn g;
	int fd;

	(void)state;
	start(QSIZE);
	fd = guest_connect(&g, 3000, 8000);
	h = ghdr(&g, VSOCK_OP_RW, 0);
	h.type = 9;
	tx_raw(&h, sizeof(h), NULL, 0);
	pump();
	expect_pkt(&g, VSOCK_OP_RST, NULL);
	expect_host_eof(fd);
	close(fd);
	/* a second REQUEST for a live pair is refused, the connection stays */
	fd = guest_connect(&g, 3001, 8001);
	tx(&g, VSOCK_OP_REQUEST, NULL, 0);
	pump();
	expect_pkt(&g, VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_conns(V), 1);
	guest_to_host(&g, fd, 9, 1000, 1000);
	close(fd);
}

/* The device's end of the connection to host port hport: its socket. */
static int dev_fd(uint32_t hport)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		if (V->conns[i].state != VC_FREE && V->conns[i].host_port == hport)
			return V->conns[i].fd;
	}
	fail_msg("no connection to host port %u", hport);
	return -1;
}

static void small_buffers(int fd)
{
	int sz = 4096;

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
}

/* A guest that sends beyond the credit the device gave gets RST. */
static void test_guest_beyond_credit(void **state)
{
	static uint8_t buf[VSOCK_MAX_PAYLOAD];
	struct gconn g;
	int fd;

	(void)state;
	start(QSIZE);
	fd = guest_connect(&g, 3100, 8100);
	small_buffers(fd); /* the host program does not read: only the sockets' buffers take some */
	small_buffers(dev_fd(8100));
	memset(buf, 0x5a, sizeof(buf));
	tx(&g, VSOCK_OP_RW, buf, VSOCK_BUF_ALLOC); /* the whole credit: fine */
	pump();
	expect_no_pkt();
	assert_true(V->conns[0].tx_len > 0 && V->conns[0].host_port == 8100);
	tx(&g, VSOCK_OP_RW, buf, VSOCK_BUF_ALLOC); /* far beyond what is free now */
	pump();
	expect_pkt(&g, VSOCK_OP_RST, NULL);
	expect_host_eof(fd);
	close(fd);
}

/* The device never sends more than the guest's buffer takes; CREDIT_UPDATE lets more in. */
static void test_guest_small_buffer(void **state)
{
	static uint8_t buf[65536];
	struct vsock_hdr h;
	uint32_t got = 0;
	struct gconn g;
	int fd;

	(void)state;
	start(QSIZE);
	fd = guest_connect(&g, 3200, 8200);
	g.buf_alloc = 8192;
	tx(&g, VSOCK_OP_CREDIT_UPDATE, NULL, 0);
	fill(buf, 32768, 5, 0);
	assert_int_equal(send(fd, buf, 32768, 0), 32768);
	pump();
	while (rx_take(&h, buf, sizeof(buf))) {
		if (h.op == VSOCK_OP_RW)
			got += h.len;
		else
			assert_int_equal(h.op, VSOCK_OP_CREDIT_REQUEST);
	}
	assert_int_equal(got, 8192);
	/* the application read it all: the rest comes in, checked */
	g.fwd_cnt = 8192;
	tx(&g, VSOCK_OP_CREDIT_UPDATE, NULL, 0);
	pump();
	while (rx_take(&h, buf, sizeof(buf))) {
		if (h.op != VSOCK_OP_RW)
			continue;
		for (uint32_t i = 0; i < h.len; i++)
			assert_int_equal(buf[i], pat(5, got + i));
		got += h.len;
		g.fwd_cnt += h.len;
		tx(&g, VSOCK_OP_CREDIT_UPDATE, NULL, 0);
		pump();
	}
	assert_int_equal(got, 32768);
	close(fd);
}

static void test_credit_request(void **state)
{
	struct vsock_hdr h;
	struct gconn g;
	int fd;

	(void)state;
	start(QSIZE);
	fd = guest_connect(&g, 3300, 8300);
	guest_to_host(&g, fd, 6, 20000, 5000);
	while (rx_take(&h, &h, 0))
		; /* any credit update already sent */
	tx(&g, VSOCK_OP_CREDIT_REQUEST, NULL, 0);
	pump();
	expect_pkt(&g, VSOCK_OP_CREDIT_UPDATE, &h);
	assert_int_equal(h.fwd_cnt, 20000);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	close(fd);
}

/* A host program that stops reading holds up its own connection, never another. */
static void test_stopped_reader(void **state)
{
	static uint8_t buf[VSOCK_MAX_PAYLOAD];
	struct gconn a, b;
	int fa, fb;

	(void)state;
	start(QSIZE);
	fa = guest_connect(&a, 4000, 9000);
	fb = guest_connect(&b, 4001, 9001);
	small_buffers(fa);
	small_buffers(dev_fd(9000));
	memset(buf, 0xa5, sizeof(buf));
	tx(&a, VSOCK_OP_RW, buf, VSOCK_BUF_ALLOC); /* all of a's credit, which nobody reads */
	pump();
	guest_to_host(&b, fb, 7, 400000, 32768);
	host_to_guest(&b, fb, 8, 400000);
	/* a is still there, holding what it could not write */
	assert_int_equal(vsock_conns(V), 2);
	assert_true(V->conns[0].host_port == 9000 && V->conns[0].tx_len > 0);
	close(fa);
	close(fb);
}

/* Half closes: the guest's SHUTDOWN SEND is the host's end of file, the host's is the
 * guest's SHUTDOWN SEND; data goes on the other way. */
static void test_half_close(void **state)
{
	struct vsock_hdr h;
	struct gconn g;
	int fd;

	(void)state;
	start(QSIZE);
	fd = guest_connect(&g, 4100, 9100);
	guest_to_host(&g, fd, 10, 10000, 4000);
	h = ghdr(&g, VSOCK_OP_SHUTDOWN, 0);
	h.flags = VSOCK_SHUTDOWN_SEND;
	tx_raw(&h, sizeof(h), NULL, 0);
	pump();
	expect_host_eof(fd);
	host_to_guest(&g, fd, 11, 50000);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	pump();
	/* the host's end of file and the guest's: both ways over, the device ends it */
	expect_pkt(&g, VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_conns(V), 0);
	close(fd);

	fd = guest_connect(&g, 4101, 9101);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	pump();
	expect_pkt(&g, VSOCK_OP_SHUTDOWN, &h);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	guest_to_host(&g, fd, 12, 30000, 7000);
	close(fd);
}

/* At most VSOCK_MAX_CONNS connections: the one beyond gets RST, a host program is closed. */
static void test_connection_cap(void **state)
{
	struct gconn g = { .hport = 5555, .buf_alloc = GUEST_BUF };
	int fd;

	(void)state;
	start(QSIZE);
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		g.gport = 10000 + i;
		tx(&g, VSOCK_OP_REQUEST, NULL, 0);
	}
	pump();
	assert_int_equal(nq, VSOCK_MAX_CONNS);
	expect_no_pkt();
	g.gport = 20000;
	tx(&g, VSOCK_OP_REQUEST, NULL, 0);
	pump();
	assert_int_equal(nq, VSOCK_MAX_CONNS);
	expect_pkt(&g, VSOCK_OP_RST, NULL);
	fd = host_dial();
	pump();
	expect_host_eof(fd);
	close(fd);
	assert_int_equal(V->stats.refused, 2);
	assert_int_equal(vsock_conns(V), VSOCK_MAX_CONNS);
}

/* Answers to stray packets wait in a bounded queue: when it is full, tx waits for rx
 * buffers instead. Nothing is lost either way. */
static void test_rst_queue_stalls_tx(void **state)
{
	struct gconn g = { .hport = 1, .buf_alloc = GUEST_BUF };
	unsigned int rsts = 0;
	struct vsock_hdr h;
	uint8_t junk[8];

	(void)state;
	start(0);
	for (unsigned int i = 0; i < 100; i++) {
		g.gport = 30000 + i;
		tx(&g, VSOCK_OP_RW, "x", 1);
	}
	pump();
	assert_int_equal(tx_used(), VSOCK_RST_QUEUE);
	assert_true(V->tx_stalled);
	rx_post(QSIZE);
	pump();
	while (rx_take(&h, junk, sizeof(junk))) {
		assert_int_equal(h.op, VSOCK_OP_RST);
		assert_int_equal(h.dst_port, 30000 + rsts);
		rsts++;
	}
	assert_int_equal(rsts, 100);
	assert_int_equal(tx_used(), 100 - VSOCK_RST_QUEUE);
}

/* A reset ends every connection; the driver that comes back hears TRANSPORT_RESET. */
static void test_reset_event(void **state)
{
	struct gconn g;
	uint32_t id, len;
	int fa, fb;

	(void)state;
	start(QSIZE);
	fa = guest_connect(&g, 5000, 9500);
	fb = host_connect(&g, 5001);
	vdrv_wr(&D, VDRV_STATUS, 0);
	expect_host_eof(fa);
	expect_host_eof(fb);
	assert_int_equal(vsock_conns(V), 0);
	assert_true(vdrv_negotiate(&D, 0));
	vdrv_queue(&D, VSOCK_RXQ, QSIZE, RXQ_BASE);
	vdrv_queue(&D, VSOCK_TXQ, QSIZE, TXQ_BASE);
	vdrv_queue(&D, VSOCK_EVQ, 4, EVQ_BASE);
	vdrv_ok(&D);
	memset(vdrv_gp(&D, EV_AREA, 8), 0xee, 8);
	(void)vdrv_post(&D, VSOCK_EVQ, &(struct vdrv_buf){ EV_AREA, 8, 1 }, 1);
	virtio_kick(&V->vd, VSOCK_EVQ);
	assert_true(vdrv_used(&D, VSOCK_EVQ, &id, &len));
	assert_int_equal(len, 4);
	assert_int_equal(*(uint32_t *)vdrv_gp(&D, EV_AREA, 4), VSOCK_EVENT_TRANSPORT_RESET);
	/* once only */
	(void)vdrv_post(&D, VSOCK_EVQ, &(struct vdrv_buf){ EV_AREA, 8, 1 }, 1);
	virtio_kick(&V->vd, VSOCK_EVQ);
	assert_false(vdrv_used(&D, VSOCK_EVQ, &id, &len));
	close(fa);
	close(fb);
}

static void test_rx_buffer_below_header(void **state)
{
	struct gconn g = { .gport = 1, .hport = 2, .buf_alloc = GUEST_BUF };

	(void)state;
	start(0);
	(void)vdrv_post(&D, VSOCK_RXQ, &(struct vdrv_buf){ RX_AREA, 20, 1 }, 1);
	virtio_kick(&V->vd, VSOCK_RXQ);
	tx(&g, VSOCK_OP_RW, "x", 1);
	pump();
	assert_true(vdrv_needs_reset(&D));
}

/*
 * Found by fuzz_vsock (tests/fuzz/corpus/fuzz_vsock/regress-spin-on-needs-reset): with the
 * rx queue broken (NEEDS_RESET), a host socket with data stayed polled for EPOLLIN that
 * nothing could act on, and the level-triggered loop spun. The rx queue must be live.
 */
static void test_no_spin_in_needs_reset(void **state)
{
	struct gconn g;
	int fd;

	(void)state;
	start(QSIZE);
	fd = guest_connect(&g, 6000, 9600);
	(void)vdrv_post(&D, VSOCK_RXQ, &(struct vdrv_buf){ 1ull << 40, 4096, 1 }, 1);
	virtio_kick(&V->vd, VSOCK_RXQ);
	assert_int_equal(send(fd, "data for a broken ring", 22, 0), 22);
	pump(); /* fails as a spin if the socket stays polled */
	assert_true(vdrv_needs_reset(&D));
	close(fd);
}

/*
 * accept failing for want of fds (EMFILE) leaves the listening socket readable: the
 * device stops polling it rather than spin, and tries again when the guest kicks.
 */
static void test_accept_out_of_fds(void **state)
{
	struct rlimit old, low;
	struct vsock_hdr h;
	char buf[32];
	int fd, probe;

	(void)state;
	start(QSIZE);
	fd = host_dial();
	assert_int_equal(send(fd, "CONNECT 88\n", 11, 0), 11);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	probe = dup(0); /* the lowest free fd: allow no more than what is open now */
	assert_true(probe >= 0);
	close(probe);
	low = old;
	low.rlim_cur = (rlim_t)probe;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	pump(); /* fails as a spin if the listening socket stays polled */
	assert_true(V->listen_paused);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	virtio_kick(&V->vd, VSOCK_RXQ);
	pump();
	assert_false(V->listen_paused);
	assert_true(rx_take(&h, buf, sizeof(buf)));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, 88);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_identity, fx_teardown),
		cmocka_unit_test(test_parse_connect),
		cmocka_unit_test_teardown(test_hdr_check, fx_teardown),
		cmocka_unit_test_teardown(test_host_initiated, fx_teardown),
		cmocka_unit_test_teardown(test_host_line_then_data, fx_teardown),
		cmocka_unit_test_teardown(test_host_bad_lines, fx_teardown),
		cmocka_unit_test_teardown(test_host_gives_up, fx_teardown),
		cmocka_unit_test_teardown(test_guest_initiated, fx_teardown),
		cmocka_unit_test_teardown(test_broker_refuses, fx_teardown),
		cmocka_unit_test_teardown(test_guest_gives_up, fx_teardown),
		cmocka_unit_test_teardown(test_hostile_headers, fx_teardown),
		cmocka_unit_test_teardown(test_hostile_on_connection, fx_teardown),
		cmocka_unit_test_teardown(test_guest_beyond_credit, fx_teardown),
		cmocka_unit_test_teardown(test_guest_small_buffer, fx_teardown),
		cmocka_unit_test_teardown(test_credit_request, fx_teardown),
		cmocka_unit_test_teardown(test_stopped_reader, fx_teardown),
		cmocka_unit_test_teardown(test_half_close, fx_teardown),
		cmocka_unit_test_teardown(test_connection_cap, fx_teardown),
		cmocka_unit_test_teardown(test_rst_queue_stalls_tx, fx_teardown),
		cmocka_unit_test_teardown(test_reset_event, fx_teardown),
		cmocka_unit_test_teardown(test_rx_buffer_below_header, fx_teardown),
		cmocka_unit_test_teardown(test_no_spin_in_needs_reset, fx_teardown),
		cmocka_unit_test_teardown(test_accept_out_of_fds, fx_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
