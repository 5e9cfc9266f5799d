/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evil-device: a compromised bulkhead-blk, for fuzz_proc_vcpu. The harness
 * puts it beside copies of the real bulkhead, bulkhead-vcpu and
 * bulkhead-serial under the name bulkhead-blk, so the real supervisor starts
 * it as blk0. It answers the bootstrap as a device does (and skips the jail:
 * it is the attacker), then plays the script in fuzz-input beside its own
 * executable against the real bulkhead-vcpu, over its channel and its
 * register shadow. When the script ends, it exits.
 *
 * Script: u8 op, then the op's arguments (see play()).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipc/ipc.h"

#define SCRIPT_MAX 65536

enum op {
	OP_SERVE, /* u8 n: answer the next n requests correctly (data: their offset) */
	OP_BAD_SEQ, /* u8 delta: answer the next request with its sequence number + delta */
	OP_BAD_TYPE, /* u16 type: answer the next request with a reply of that type */
	OP_RAW, /* u16 len, bytes: a datagram on the channel */
	OP_UNASKED, /* u32 seq: a reply nobody asked for */
	OP_SHADOW, /* u8 field, u32 value: one store into the shadow */
	OP_TEAR, /* u8 ms: store noise into every shadow field for that long */
	OP_STALL, /* u8 ten-ms: read nothing for that long */
	OP_FD, /* a reply that carries an fd */
	OP_SHUT, /* shut the channel down and sleep until killed */
	OP_COUNT,
};

struct script {
	const uint8_t *p;
	size_t n;
};

static int chan = -1;
static struct ipc_shadow *shadow;

static uint64_t take(struct script *s, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++) {
		v |= (uint64_t)(s->n ? *s->p : 0) << (8 * i);
		if (s->n) {
			s->p++;
			s->n--;
		}
	}
	return v;
}

/* The next request from the vcpu process, or 0 if none came within 200 ms. */
static int next_request(struct ipc_io *io)
{
	struct pollfd p = { .fd = chan, .events = POLLIN };
	uint8_t buf[IPC_MAX_MSG];
	ssize_t n;

	for (;;) {
		if (poll(&p, 1, 200) <= 0)
			return 0;
		n = recv(chan, buf, sizeof(buf), 0);
		if (n <= 0)
			return 0;
		if ((size_t)n != sizeof(*io))
			continue;
		memcpy(io, buf, sizeof(*io));
		if (io->h.ih_type == IPC_IO_READ || io->h.ih_type == IPC_IO_WRITE_SYNC)
			return 1;
		if (shadow) /* a posted write: count it, as a device does */
			__atomic_add_fetch(&shadow->sh_applied, 1, __ATOMIC_RELEASE);
	}
}

static void reply(uint16_t type, uint32_t seq, uint64_t data)
{
	struct ipc_io_reply r;

	ipc_init(&r, IPC_IO_REPLY, sizeof(r));
	r.h.ih_type = type;
	r.ir_seq = seq;
	r.ir_data = data;
	(void)!send(chan, &r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void reply_with_fd(void)
{
	struct ipc_io io;
	struct ipc_io_reply r;
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int fd = STDERR_FILENO;

	if (!next_request(&io))
		return;
	ipc_init(&r, IPC_IO_REPLY, sizeof(r));
	r.ir_seq = io.io_seq;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	(void)!sendmsg(chan, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void poke(unsigned int field, uint32_t v)
{
	uint8_t *page = (uint8_t *)shadow;

	if (!shadow)
		return;
	/* Anywhere in the page, naturally aligned: the reader must bound what it reads. */
	__atomic_store_n((uint32_t *)(void *)(page + (field * 4u) % IPC_SHADOW_SIZE), v,
			 __ATOMIC_RELEASE);
}

static void tear(unsigned int ms)
{
	struct timespec t0, t;
	uint32_t x = 0x9e3779b9;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (unsigned int i = 0; i < 64; i++) {
			x = x * 1664525 + 1013904223;
			poke(x >> 22, x);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static void play(struct script *s)
{
	struct ipc_io io;

	while (s->n) {
		switch (take(s, 1) % OP_COUNT) {
		case OP_SERVE:
			for (unsigned int i = (unsigned int)take(s, 1); i > 0 && next_request(&io); i--)
				reply(IPC_IO_REPLY, io.io_seq, io.io_offset);
			break;
		case OP_BAD_SEQ:
			if (next_request(&io))
				reply(IPC_IO_REPLY, io.io_seq + (uint32_t)take(s, 1), 0);
			break;
		case OP_BAD_TYPE:
			if (next_request(&io))
				reply((uint16_t)take(s, 2), io.io_seq, 0);
			break;
		case OP_RAW: {
			uint8_t buf[600];
			size_t len = take(s, 2) % sizeof(buf);

			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)take(s, 1);
			(void)!send(chan, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
			break;
		}
		case OP_UNASKED:
			reply(IPC_IO_REPLY, (uint32_t)take(s, 4), 0);
			break;
		case OP_SHADOW: {
			unsigned int field = (unsigned int)take(s, 1);

			poke(field, (uint32_t)take(s, 4));
			break;
		}
		case OP_TEAR:
			tear((unsigned int)take(s, 1) % 50);
			break;
		case OP_STALL:
			usleep(10000 * (unsigned int)(take(s, 1) % 50));
			break;
		case OP_FD:
			reply_with_fd();
			break;
		case OP_SHUT:
			shutdown(chan, SHUT_RDWR);
			pause();
			break;
		}
	}
}

/* The bootstrap, as a device answers it; the jail is the attacker's to skip. */
static int bootstrap(void)
{
	uint8_t buf[IPC_MAX_MSG];
	struct ipc_empty ready;

	for (;;) {
		ssize_t n = recv(IPC_FD_CONTROL, buf, sizeof(buf), 0);
		struct ipc_hdr h;

		if (n < (ssize_t)sizeof(h))
			return -1;
		memcpy(&h, buf, sizeof(h));
		if (h.ih_type == IPC_CFG_DEVICE && (size_t)n == sizeof(struct ipc_cfg_device)) {
			struct ipc_cfg_device d;

			memcpy(&d, buf, sizeof(d));
			chan = d.cd_chan_fd;
			if (d.cd_flags & IPC_DEV_F_SHADOW) {
				void *p = mmap(NULL, IPC_SHADOW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
					       d.cd_shadow_fd, 0);

				shadow = p == MAP_FAILED ? NULL : p;
			}
		}
		if (h.ih_type == IPC_CFG_DONE)
			break;
	}
	ipc_init(&ready, IPC_READY, sizeof(ready));
	return send(IPC_FD_CONTROL, &ready, sizeof(ready), MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static size_t load_script(uint8_t *buf, size_t max)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	char *slash;
	int fd;

	if (n <= 0)
		return 0;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash)
		return 0;
	strcpy(slash + 1, "fuzz-input");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, max);
	close(fd);
	return n > 0 ? (size_t)n : 0;
}

int main(void)
{
	static uint8_t buf[SCRIPT_MAX];
	struct script s = { .p = buf };

	s.n = load_script(buf, sizeof(buf));
	if (bootstrap() < 0 || chan < 0)
		return 1;
	play(&s);
	return 0;
}
