/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_vsock: virtio-vsock (devices/vsock/vsock.c over the real transport
 * and virtqueue) in this process: the packet and header parser on tx, the
 * rx pump, credit and connection state, the host line parser, and the
 * host side: a real listening UNIX socket (an abstract name) for host
 * programs, socketpairs as the broker's connections, and the process's epoll
 * loop emulated with poll(2), level-triggered, after every op. Driven by the
 * hostile driver of fzv.c, whose chains carry any header bytes.
 *
 * Input: fzv ops. FZV_OP_BACKEND sub-ops (sub % 6):
 *   0  u8 n, n bytes: a host program connects to PATH and writes them (its line)
 *   1  u8 how: the broker answers the oldest request: a connection (how even) or refusal
 *   2  u8 which, u16 len: that host end writes len bytes
 *   3  u8 which: that host end shuts its sending side (bit 7: closes altogether)
 *   4  u8 which: that host end reads what waits
 *   5  the loop runs until nothing is ready
 *
 * Checked after every op: the transport against the driver's mirror; at most
 * 64 connections; no connection buffers more than its credit; the RST queue
 * bounded; a connection's fd open exactly in the states that have one; the
 * loop settles (an fd that stays ready forever is a spin). After the input:
 * no guest byte outside used rings and device-writable buffers changed, and
 * once the device is reset and the host ends closed, no socket is left open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/vsock/vsock.h"
#include "fz.h"
#include "fzv.h"
#include "fzv_dev.h"
#include "tests/unit/vsock_loop.h"

#define CID 3
#define MAX_HOST 96
#define MAX_REQ 128

static struct guest_mem gm;
static struct vsock *V;
static struct fzv drv;
static int listen_fd = -1;
static struct sockaddr_un listen_addr;
static socklen_t listen_len;
static int host[MAX_HOST]; /* our ends of host programs and brokered connections */
static unsigned int nhost;
static struct {
	uint32_t seq, port;
} req[MAX_REQ];
static unsigned int nreq;
static struct vloop L; /* the device process's epoll loop (tests/unit/vsock_loop.h) */
static int baseline_sockets;

static void on_irq(struct virtio_dev *vd)
{
	(void)vd;
}

static int rec_connect(struct vsock *v, uint32_t seq, uint32_t port)
{
	(void)v;
	if (nreq == MAX_REQ)
		return -ENOBUFS;
	req[nreq++] = (typeof(req[0])){ seq, port };
	return 0;
}

/* The device process's loop after every op: flush, then deliver what is ready. */
static void loop(void)
{
	int err = vloop_run(&L, 256);

	if (err == -ELOOP)
		fz_fail("the device loop never settles: an fd stays ready (a spin)");
	if (err < 0)
		fz_fail("poll: %s", strerror(-err));
}

static void keep_host(int fd)
{
	if (nhost == MAX_HOST) {
		close(fd);
		return;
	}
	host[nhost++] = fd;
}

static void host_connect(struct fz *in)
{
	uint8_t line[255];
	size_t n = fz_u8(in);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	fz_take(in, line, n);
	if (fd < 0)
		fz_fail("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&listen_addr, listen_len) < 0) {
		close(fd); /* the backlog is full: the device is not accepting; fine */
		return;
	}
	if (n && send(fd, line, n, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
		fz_fail("host send: %s", strerror(errno));
	keep_host(fd);
}

static void broker_answer(struct fz *in)
{
	uint8_t how = fz_u8(in);
	int sv[2];

	if (!nreq)
		return;
	if (how & 1) {
		vsock_connected(V, req[0].seq, -ECONNREFUSED, -1);
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			fz_fail("socketpair: %s", strerror(errno));
		keep_host(sv[1]);
		vsock_connected(V, req[0].seq, 0, sv[0]);
	}
	memmove(req, req + 1, sizeof(req[0]) * --nreq);
}

static int host_end(struct fz *in)
{
	uint8_t i = fz_u8(in);

	return nhost ? host[(i & 0x7f) % nhost] : -1;
}

static void be_backend(void *ctx, struct fz *in, uint8_t sub)
{
	static uint8_t buf[65536];
	int fd;

	(void)ctx;
	switch (sub % 6) {
	case 0:
		host_connect(in);
		break;
	case 1:
		broker_answer(in);
		break;
	case 2: {
		size_t len;

		fd = host_end(in);
		len = fz_u16(in);
		memset(buf, 0x42, len);
		if (fd >= 0)
			(void)!send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	}
	case 3: {
		uint8_t i = in->n ? in->p[0] : 0;

		fd = host_end(in);
		if (fd >= 0 && (i & 0x80)) {
			for (unsigned int k = 0; k < nhost; k++)
				if (host[k] == fd)
					host[k] = host[--nhost];
			close(fd);
		} else if (fd >= 0) {
			shutdown(fd, SHUT_WR);
		}
		break;
	}
	case 4:
		fd = host_end(in);
		while (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		break;
	default:
		break;
	}
	loop();
}

static uint64_t be_read(void *ctx, uint64_t off, unsigned int size)
{
	uint64_t v;

	(void)ctx;
	v = virtio_mmio_read(&V->vd, off, size);
	loop();
	return v;
}

static void be_write(void *ctx, uint64_t off, unsigned int size, uint64_t val)
{
	(void)ctx;
	virtio_mmio_write(&V->vd, off, size, val);
	loop();
}

static void be_kick(void *ctx, unsigned int q)
{
	(void)ctx;
	virtio_kick(&V->vd, q);
	loop();
}

static void be_after(void *ctx)
{
	(void)ctx;
	fzv_check_transport(&V->vd, &drv, &gm);
	FZ_CHECK(vsock_conns(V) <= VSOCK_MAX_CONNS, "%u connections", vsock_conns(V));
	FZ_CHECK(V->rst_len <= VSOCK_RST_QUEUE, "%u RSTs queued", V->rst_len);
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vconn *c = &V->conns[i];
		int has_fd = c->state == VC_HOST_LINE || c->state == VC_HOST_REQUEST || c->state == VC_ESTABLISHED;

		if (c->state == VC_FREE)
			continue;
		FZ_CHECK(c->tx_len <= VSOCK_BUF_ALLOC && c->tx_head < VSOCK_BUF_ALLOC,
			 "connection %u buffers %u bytes at %u", i, c->tx_len, c->tx_head);
		FZ_CHECK(c->line_len <= VSOCK_LINE_MAX, "a line of %u bytes", c->line_len);
		FZ_CHECK((c->fd >= 0) == has_fd, "connection %u in state %d with fd %d", i, c->state, c->fd);
	}
}

static const struct fzv_backend backend = {
	.nqueues = 3,
	.io_read = be_read,
	.io_write = be_write,
	.kick = be_kick,
	.backend = be_backend,
	.after_op = be_after,
};

/* Sockets open in this process (libFuzzer opens files, never sockets). */
static int count_sockets(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		fz_fail("/proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d))) {
		char path[64], link[64];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		n += len > 7 && memcmp(link, "socket:", 7) == 0;
	}
	closedir(d);
	return n;
}

static void setup_once(void)
{
	static const char name[] = "bulkhead-fuzz-vsock";

	fzv_guest(&gm, FZV_MEM_SIZE, "fuzz-vsock");
	fzv_init(&drv, &backend, gm.regions[0].hva, FZV_MEM_SIZE);
	V = calloc(1, sizeof(*V));
	if (!V)
		fz_fail("out of memory");
	memset(&listen_addr, 0, sizeof(listen_addr));
	listen_addr.sun_family = AF_UNIX;
	snprintf(listen_addr.sun_path + 1, sizeof(listen_addr.sun_path) - 1, "%s-%d", name, (int)getpid());
	listen_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(listen_addr.sun_path + 1));
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&listen_addr, listen_len) < 0 ||
	    listen(listen_fd, 128) < 0)
		fz_fail("listening socket: %s", strerror(errno));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	struct fz in;
	int fd;

	if (!V)
		setup_once();
	vsock_setup(V, CID, listen_fd, &gm);
	vloop_init(&L, V);
	V->connect = rec_connect;
	V->vd.irq = on_irq;
	nreq = nhost = 0;
	if (vsock_start(V) < 0)
		fz_fail("vsock_start");
	if (!baseline_sockets)
		baseline_sockets = count_sockets();
	fz_init(&in, data, size);
	fzv_begin(&drv);
	fzv_run(&drv, &in);
	be_after(NULL);
	if (fzv_check(&drv, why, sizeof(why)) < 0)
		fz_fail("%s", why);
	/* The end: a reset closes every connection; ours go too; nothing may stay open. */
	virtio_mmio_write(&V->vd, FZV_R_STATUS, 4, 0);
	for (unsigned int i = 0; i < nhost; i++)
		close(host[i]);
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	FZ_CHECK(vsock_conns(V) == 0, "%u connections after a reset", vsock_conns(V));
	FZ_CHECK(count_sockets() == baseline_sockets, "%d sockets open, %d before the input", count_sockets(),
		 baseline_sockets);
	if (getenv("BH_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_vsock: %llu tx, %llu rx packets, %llu RSTs, %llu bad, %llu host, %llu guest\n",
			(unsigned long long)V->stats.tx_pkts, (unsigned long long)V->stats.rx_pkts,
			(unsigned long long)V->stats.rst_sent, (unsigned long long)V->stats.bad_pkts,
			(unsigned long long)V->stats.host_accepted, (unsigned long long)V->stats.guest_connects);
	return 0;
}
