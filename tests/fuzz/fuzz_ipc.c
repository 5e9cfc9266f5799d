/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_ipc: the IPC message decoder (ipc/ipc.c) behind every receiver's
 * dispatch table: a device process's control socket (devproc's table and
 * the blk/net configuration tables, real handlers) and its vcpu channel
 * (IO_READ/IO_WRITE/IO_WRITE_SYNC into the real device models), the vcpu process's
 * control socket (real handlers), the supervisor's table for messages from
 * children (a copy: it is a static inside run.c's on_child_msg), ipc_recv
 * on a real SOCK_SEQPACKET pair (oversized datagrams, attached fds), and
 * ipc_str_ok on fuzzed fields.
 *
 * Input: u8 device kind (% 3: blk, net, serial), then messages: u8 receiver
 * (% 6), u16 length (% 600), bytes. Receivers keep their state across the
 * messages of one input (so CFG_MEM, CFG_DEVICE, ..., CFG_DONE, then
 * IO_READ works); a protocol error resets that receiver, as the real
 * process would exit. Inputs can name the harness's fds by number
 * (fuzz_ipc.h: FZIPC_FD_*).
 *
 * Checked: whatever a table accepts is well-formed for it (version, exact
 * size, permitted state); accepted configuration is within range; every
 * IO_READ and IO_WRITE_SYNC the device accepts gets exactly one IO_REPLY
 * with its sequence number; io_read/io_write only see accesses inside the window; ipc_recv
 * never leaks an fd and reports oversize and fd-carrying datagrams;
 * ipc_str_ok agrees with its definition.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "fuzz_ipc.h"
#include "fz.h"
#include "supervisor/supervisor.h"

enum { R_DEV_CONTROL, R_DEV_CHANNEL, R_VCPU_CONTROL, R_SUPERVISOR, R_STR_OK, R_RECV, R_COUNT };

static int pair[2] = { -1, -1 }; /* ipc_recv's socket pair */

static void place(int fd, int at)
{
	if (fd < 0 || dup2(fd, at) < 0)
		fz_fail("placing fd %d: %s", at, strerror(errno));
	if (fd != at)
		close(fd);
}

static void setup_fds(void)
{
	int sv[2], mfd;

	mfd = memfd_create("fuzz-ipc-mem", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0 || ftruncate(mfd, FZIPC_MEM_SIZE) < 0 ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		fz_fail("sealed memfd");
	place(mfd, FZIPC_FD_MEM);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		fz_fail("socketpair");
	place(sv[0], FZIPC_FD_CHAN);
	close(sv[1]);
	place(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), FZIPC_FD_IRQ);
	mfd = memfd_create("fuzz-ipc-image", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, FZIPC_IMAGE_SIZE) < 0)
		fz_fail("image memfd");
	place(mfd, FZIPC_FD_IMAGE);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		fz_fail("socketpair");
	place(sv[0], FZIPC_FD_TAP);
	close(sv[1]);
	for (int q = 0; q < IPC_MAX_QUEUES; q++)
		place(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), FZIPC_FD_QUEUE + q);
	place(open("/dev/null", O_RDWR | O_CLOEXEC), FZIPC_FD_KVM);
	place(memfd_create("fuzz-cpuid", MFD_CLOEXEC), FZIPC_FD_CPUID);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
		fz_fail("socketpair");
}

/* What ipc_check may accept: the oracle for every table. */
static void check_row(const struct ipc_handler *t, size_t n, const void *buf, size_t len, uint32_t state,
		      const struct ipc_handler *row)
{
	struct ipc_hdr h;

	if (!row)
		return;
	FZ_CHECK(row >= t && row < t + n, "ipc_check returned a row outside the table");
	FZ_CHECK(len >= sizeof(h), "ipc_check accepted %zu bytes", len);
	memcpy(&h, buf, sizeof(h));
	FZ_CHECK(h.ih_version == IPC_VERSION && h.ih_size == len && h.ih_type == row->type && row->size == len &&
			 (row->states & state),
		 "ipc_check accepted type %u size %u (len %zu) version %u in state 0x%x", h.ih_type, h.ih_size, len,
		 h.ih_version, state);
}

/* run.c's on_child_msg table, copied: it is a static local there. */
static void supervisor_receive(const void *buf, size_t len, uint32_t phase, int is_vcpu)
{
	static const struct ipc_handler table[] = {
		{ IPC_READY, sizeof(struct ipc_empty), (1u << PHASE_STARTING) | (1u << PHASE_STOPPING), NULL },
		{ IPC_ERROR, sizeof(struct ipc_error), ~0u, NULL },
		{ IPC_VM_EXIT, sizeof(struct ipc_vm_exit), (1u << PHASE_RUNNING) | (1u << PHASE_STOPPING), NULL },
	};
	const struct ipc_handler *row = ipc_check(table, nitems(table), buf, len, 1u << phase);
	char line[512];

	check_row(table, nitems(table), buf, len, 1u << phase, row);
	if (!row || (row->type == IPC_VM_EXIT && !is_vcpu))
		return;
	if (row->type == IPC_ERROR) {
		const struct ipc_error *e = buf;

		snprintf(line, sizeof(line), "failed: %.*s", (int)sizeof(e->ie_text),
			 ipc_str_ok(e->ie_text, sizeof(e->ie_text)) ? e->ie_text : "(garbled)");
	} else if (row->type == IPC_VM_EXIT) {
		const struct ipc_vm_exit *e = buf;

		snprintf(line, sizeof(line), "%.*s", (int)sizeof(e->ve_text),
			 ipc_str_ok(e->ve_text, sizeof(e->ve_text)) ? e->ve_text : "(garbled)");
	}
}

static void check_str_ok(const uint8_t *s, size_t n)
{
	size_t len = 0;
	int want = 0;

	while (len < n && s[len])
		len++;
	if (len < n) {
		want = 1;
		for (size_t i = 0; i < len; i++)
			if (s[i] < 0x20 || s[i] > 0x7e)
				want = 0;
	}
	FZ_CHECK(ipc_str_ok((const char *)s, n) == want, "ipc_str_ok of %zu bytes: %d, want %d", n,
		 ipc_str_ok((const char *)s, n), want);
}

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void recv_one(uint8_t *buf, size_t len, uint8_t flags)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 2)];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	_Alignas(8) uint8_t in[IPC_MAX_MSG];
	int before = 0, fds[2] = { -1, -1 };
	ssize_t n;

	if (flags & 1) {
		struct cmsghdr *c;

		fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (1 + ((flags >> 1) & 1)));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (1 + ((flags >> 1) & 1)));
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (1 + ((flags >> 1) & 1)));
	}
	if (sendmsg(pair[0], &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		return;
	}
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (flags & 1)
		before = open_fds();
	n = ipc_recv(pair[1], in);
	if (flags & 1) {
		FZ_CHECK(n == -EPROTO || n == -EMSGSIZE, "a datagram with fds: ipc_recv returned %zd", n);
		FZ_CHECK(open_fds() == before, "ipc_recv kept a received fd (%d open fds, %d before)", open_fds(),
			 before);
		return;
	}
	if (len > IPC_MAX_MSG) {
		FZ_CHECK(n == -EMSGSIZE, "a %zu-byte datagram: ipc_recv returned %zd", len, n);
		return;
	}
	FZ_CHECK(n == (ssize_t)len && memcmp(in, buf, len) == 0, "ipc_recv of %zu bytes returned %zd", len, n);
	(void)fzipc_dev_control(in, (size_t)n);
}

static void drain_replies(uint32_t seq, int want)
{
	uint8_t buf[IPC_MAX_MSG];
	int got = 0;

	for (;;) {
		ssize_t n = recv(fzipc_reply_fd(), buf, sizeof(buf), MSG_DONTWAIT);
		struct ipc_io_reply r;

		if (n < 0)
			break;
		FZ_CHECK(n == sizeof(r), "reply of %zd bytes", n);
		memcpy(&r, buf, sizeof(r));
		FZ_CHECK(r.h.ih_version == IPC_VERSION && r.h.ih_type == IPC_IO_REPLY && r.h.ih_size == sizeof(r) &&
				 r.ir_seq == seq,
			 "reply type %u size %u seq %u for seq %u", r.h.ih_type, r.h.ih_size, r.ir_seq, seq);
		got++;
	}
	FZ_CHECK(got == want, "%d replies to an accepted IO_READ or IO_WRITE_SYNC (%d wanted)", got, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in;
	unsigned int msgs = 0;
	uint32_t kind;

	if (pair[0] < 0)
		setup_fds();
	fz_init(&in, data, size);
	kind = fz_u8(&in);
	fzipc_dev_reset(kind);
	fzipc_vcpu_reset();
	while (!fz_empty(&in) && msgs++ < 256) {
		_Alignas(8) uint8_t buf[600];
		uint8_t r = fz_u8(&in) % R_COUNT;
		size_t len = fz_u16(&in) % sizeof(buf);

		fz_take(&in, buf, len);
		switch (r) {
		case R_DEV_CONTROL:
			(void)fzipc_dev_control(buf, len);
			break;
		case R_DEV_CHANNEL: {
			struct ipc_io io;
			int err;

			err = fzipc_dev_channel(buf, len);
			if (len == sizeof(io)) {
				memcpy(&io, buf, sizeof(io));
				drain_replies(io.io_seq, err == 0 && (io.h.ih_type == IPC_IO_READ ||
								      io.h.ih_type == IPC_IO_WRITE_SYNC));
			} else {
				drain_replies(0, 0);
			}
			break;
		}
		case R_VCPU_CONTROL:
			(void)fzipc_vcpu_control(buf, len);
			break;
		case R_SUPERVISOR:
			/* the first byte: the phase (% 5) and, bit 7, whether the sender is the vcpu process */
			if (len) {
				static _Alignas(8) uint8_t m[sizeof(buf)];

				memcpy(m, buf + 1, len - 1);
				supervisor_receive(m, len - 1, buf[0] % 5, buf[0] >> 7);
			}
			break;
		case R_STR_OK:
			check_str_ok(buf, len);
			break;
		case R_RECV:
			/* the first byte: bit 0 attach an fd, bit 1 attach two; the message follows */
			if (len) {
				static _Alignas(8) uint8_t m[sizeof(buf)];

				memcpy(m, buf + 1, len - 1);
				recv_one(m, len - 1, buf[0]);
			}
			break;
		default:
			break;
		}
	}
	return 0;
}
