/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ipc/ipc.c through a real socketpair(AF_UNIX, SOCK_SEQPACKET): round trips of
 * every message struct, a hostile-header table against ipc_check and
 * ipc_dispatch, ipc_recv's oversize / fd-carrying / EOF cases, and the field
 * validators (strings, fds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../ipc/ipc.h"

#define FD_SCAN 1024

struct pair {
	int a, b;
};

static int setup_pair(void **state)
{
	static struct pair p;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	p.a = sv[0];
	p.b = sv[1];
	*state = &p;
	return 0;
}

static int teardown_pair(void **state)
{
	struct pair *p = *state;

	if (p->a >= 0)
		close(p->a);
	if (p->b >= 0)
		close(p->b);
	return 0;
}

/* A bitmap of the open fds below FD_SCAN. */
static void open_fds(uint8_t map[FD_SCAN])
{
	for (int fd = 0; fd < FD_SCAN; fd++)
		map[fd] = fcntl(fd, F_GETFD) >= 0;
}

static int count_new_fds(const uint8_t before[FD_SCAN])
{
	uint8_t after[FD_SCAN];
	int n = 0;

	open_fds(after);
	for (int fd = 0; fd < FD_SCAN; fd++)
		n += after[fd] && !before[fd];
	return n;
}

/* Send len raw bytes as one datagram, with nfds copies of fd attached if nfds > 0. */
static void send_raw(int sock, const void *buf, size_t len, int fd, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	assert_true(nfds >= 0 && nfds <= 16);
	if (nfds > 0) {
		struct cmsghdr *c;
		int fds[16];

		for (int i = 0; i < nfds; i++)
			fds[i] = fd;
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* Round trips. */

static void round_trip(struct pair *p, const void *msg, size_t size)
{
	union {
		uint8_t b[IPC_MAX_MSG + 16];
		struct ipc_hdr h;
	} buf;
	ssize_t n;

	memset(&buf, 0xee, sizeof(buf));
	assert_int_equal(ipc_send(p->a, msg), 0);
	n = ipc_recv(p->b, &buf);
	assert_int_equal(n, (ssize_t)size);
	assert_memory_equal(&buf, msg, size);
	assert_int_equal(buf.h.ih_version, IPC_VERSION);
	assert_int_equal(buf.h.ih_size, size);
	/* nothing beyond the message was written */
	assert_int_equal(buf.b[size], 0xee);
	/* and the other direction */
	assert_int_equal(ipc_send(p->b, msg), 0);
	assert_int_equal(ipc_recv(p->a, &buf), (ssize_t)size);
	assert_memory_equal(&buf, msg, size);
}

static void test_init(void **state)
{
	struct ipc_error e;

	(void)state;
	memset(&e, 0xff, sizeof(e));
	ipc_init(&e, IPC_ERROR, sizeof(e));
	assert_int_equal(e.h.ih_version, IPC_VERSION);
	assert_int_equal(e.h.ih_type, IPC_ERROR);
	assert_int_equal(e.h.ih_size, sizeof(e));
	assert_int_equal(e.ie_errno, 0);
	assert_int_equal(e.ie_pad, 0);
	for (size_t i = 0; i < sizeof(e.ie_text); i++)
		assert_int_equal(e.ie_text[i], 0);
}

static void test_round_trip(void **state)
{
	struct pair *p = *state;
	struct ipc_cfg_mem cm;
	struct ipc_cfg_vcpu cv;
	struct ipc_cfg_vcpu_dev cd;
	struct ipc_cfg_device dev;
	struct ipc_empty empty;
	struct ipc_error err;
	struct ipc_vm_exit ve;
	struct ipc_io io;
	struct ipc_io_reply ir;
	struct ipc_cfg_serial cs;
	struct ipc_cfg_blk cb;
	struct ipc_cfg_net cn;
	static const enum ipc_type empties[] = { IPC_CFG_DONE, IPC_START, IPC_STOP, IPC_READY };

	ipc_init(&cm, IPC_CFG_MEM, sizeof(cm));
	cm.cm_gpa = 0x100000000ULL;
	cm.cm_size = 0x40000000ULL;
	cm.cm_fd = 5;
	cm.cm_index = 1;
	round_trip(p, &cm, sizeof(cm));

	ipc_init(&cv, IPC_CFG_VCPU, sizeof(cv));
	cv.cv_nvcpus = 4;
	cv.cv_entry_mode = IPC_ENTRY_PVH32;
	cv.cv_entry = 0x1000000;
	cv.cv_boot_info = 0x6000;
	cv.cv_cr3 = 0x9000;
	cv.cv_stack = 0x8ff0;
	cv.cv_gdt_base = 0x1000;
	cv.cv_launch_ns = UINT64_MAX;
	cv.cv_kvm_fd = 7;
	cv.cv_cpuid_fd = 8;
	cv.cv_flags = IPC_VCPU_F_VERBOSE;
	cv.cv_deadline_ms = IPC_DEADLINE_MS;
	strcpy(cv.cv_name, "vm");
	round_trip(p, &cv, sizeof(cv));

	ipc_init(&cd, IPC_CFG_VCPU_DEV, sizeof(cd));
	strcpy(cd.cd_name, "blk0");
	cd.cd_space = IPC_SPACE_MMIO;
	cd.cd_gsi = 5;
	cd.cd_base = 0xd0000000;
	cd.cd_len = 0x1000;
	cd.cd_chan_fd = 8;
	cd.cd_irq_fd = 9;
	cd.cd_nqueues = IPC_MAX_QUEUES;
	cd.cd_notify_off = 0x50;
	for (int i = 0; i < IPC_MAX_QUEUES; i++)
		cd.cd_queue_fd[i] = 10 + i;
	round_trip(p, &cd, sizeof(cd));

	ipc_init(&dev, IPC_CFG_DEVICE, sizeof(dev));
	strcpy(dev.cd_name, "serial");
	dev.cd_kind = IPC_DEV_SERIAL;
	dev.cd_flags = IPC_DEV_F_VERBOSE;
	dev.cd_chan_fd = 4;
	dev.cd_irq_fd = 5;
	dev.cd_base = 0x3f8;
	dev.cd_nqueues = 0;
	for (int i = 0; i < IPC_MAX_QUEUES; i++)
		dev.cd_queue_fd[i] = IPC_FD_NONE;
	round_trip(p, &dev, sizeof(dev));

	ipc_init(&cs, IPC_CFG_SERIAL, sizeof(cs));
	cs.cs_in_fd = IPC_FD_NONE;
	cs.cs_out_fd = 6;
	round_trip(p, &cs, sizeof(cs));
	ipc_init(&cb, IPC_CFG_BLK, sizeof(cb));
	cb.cb_disk_fd = 7;
	cb.cb_flags = IPC_BLK_F_READONLY;
	cb.cb_size = 1ull << 40;
	strcpy(cb.cb_serial, "01234567890123456789");
	round_trip(p, &cb, sizeof(cb));
	ipc_init(&cn, IPC_CFG_NET, sizeof(cn));
	cn.cn_tap_fd = 8;
	memcpy(cn.cn_mac, "\x52\x54\x00\x12\x34\x56", 6);
	round_trip(p, &cn, sizeof(cn));

	for (size_t i = 0; i < nitems(empties); i++) {
		ipc_init(&empty, empties[i], sizeof(empty));
		round_trip(p, &empty, sizeof(empty));
	}

	ipc_init(&err, IPC_ERROR, sizeof(err));
	err.ie_errno = ENOENT;
	memset(err.ie_text, 'e', sizeof(err.ie_text) - 1);
	round_trip(p, &err, sizeof(err));

	ipc_init(&ve, IPC_VM_EXIT, sizeof(ve));
	ve.ve_reason = IPC_EXIT_DEBUG;
	ve.ve_value = 0x31;
	strcpy(ve.ve_text, "guest wrote 0x31 to port 0xf4");
	round_trip(p, &ve, sizeof(ve));

	ipc_init(&io, IPC_IO_READ, sizeof(io));
	io.io_seq = 0xffffffff;
	io.io_space = IPC_SPACE_PIO;
	io.io_size = 1;
	io.io_offset = 5;
	round_trip(p, &io, sizeof(io));
	ipc_init(&io, IPC_IO_WRITE, sizeof(io));
	io.io_space = IPC_SPACE_MMIO;
	io.io_size = 8;
	io.io_offset = 0xff8;
	io.io_data = 0x0123456789abcdefULL;
	round_trip(p, &io, sizeof(io));

	ipc_init(&ir, IPC_IO_REPLY, sizeof(ir));
	ir.ir_seq = 17;
	ir.ir_data = 0xa5;
	round_trip(p, &ir, sizeof(ir));

	ipc_init(&io, IPC_IO_WRITE_SYNC, sizeof(io));
	io.io_seq = 3;
	io.io_space = IPC_SPACE_MMIO;
	io.io_size = 4;
	io.io_offset = 0x64;
	io.io_data = 1;
	round_trip(p, &io, sizeof(io));

	/* the biggest message the ABI allows */
	union {
		uint8_t b[IPC_MAX_MSG];
		struct ipc_hdr h;
	} big;
	ipc_init(&big, IPC_ERROR, sizeof(big));
	for (size_t i = sizeof(big.h); i < sizeof(big); i++)
		big.b[i] = (uint8_t)i;
	round_trip(p, &big, sizeof(big));
}

static void test_send_errors(void **state)
{
	struct pair *p = *state;
	union {
		uint8_t b[IPC_MAX_MSG + 16];
		struct ipc_hdr h;
	} m;

	/* the header's size is checked before anything is sent */
	ipc_init(&m, IPC_STOP, sizeof(struct ipc_empty));
	m.h.ih_size = 0;
	assert_int_equal(ipc_send(p->a, &m), -EINVAL);
	m.h.ih_size = sizeof(struct ipc_hdr) - 1;
	assert_int_equal(ipc_send(p->a, &m), -EINVAL);
	m.h.ih_size = IPC_MAX_MSG + 1;
	assert_int_equal(ipc_send(p->a, &m), -EINVAL);
	m.h.ih_size = UINT32_MAX;
	assert_int_equal(ipc_send(p->a, &m), -EINVAL);
	/* nothing reached the peer */
	assert_int_equal(recv(p->b, m.b, sizeof(m.b), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	/* a bad fd */
	ipc_init(&m, IPC_STOP, sizeof(struct ipc_empty));
	assert_int_equal(ipc_send(-1, &m), -EBADF);
	/* the peer is gone: -EPIPE, and no SIGPIPE kills us */
	close(p->b);
	p->b = -1;
	assert_int_equal(ipc_send(p->a, &m), -EPIPE);
}

/* Dispatch. */

enum { ST_BOOT = 0x1, ST_RUN = 0x2, ST_STOPPING = 0x4 };

struct calls {
	unsigned int n;
	uint16_t last_type;
	const void *last_msg;
};

static int h_record(void *ctx, const void *msg)
{
	struct calls *c = ctx;
	const struct ipc_hdr *h = msg;

	c->n++;
	c->last_type = h->ih_type;
	c->last_msg = msg;
	return 100 + h->ih_type;
}

static int h_fail(void *ctx, const void *msg)
{
	(void)ctx;
	(void)msg;
	return -EINVAL;
}

static const struct ipc_handler child_table[] = {
	{ IPC_CFG_MEM, sizeof(struct ipc_cfg_mem), ST_BOOT, h_record },
	{ IPC_CFG_DEVICE, sizeof(struct ipc_cfg_device), ST_BOOT, h_record },
	{ IPC_CFG_DONE, sizeof(struct ipc_empty), ST_BOOT, h_record },
	{ IPC_STOP, sizeof(struct ipc_empty), ST_BOOT | ST_RUN, h_record },
	{ IPC_IO_READ, sizeof(struct ipc_io), ST_RUN, h_record },
	{ IPC_IO_WRITE, sizeof(struct ipc_io), ST_RUN, h_fail },
	{ IPC_IO_WRITE_SYNC, sizeof(struct ipc_io), ST_RUN, h_record },
};

struct raw_case {
	const char *what;
	size_t len; /* bytes actually sent (and received) */
	uint16_t version, type;
	uint32_t size; /* ih_size field */
	uint32_t state;
	int want; /* handler result, or -EPROTO */
};

#define SZ(t) ((uint32_t)sizeof(struct t))

static const struct raw_case raw_cases[] = {
	{ "good cfg_mem", sizeof(struct ipc_cfg_mem), IPC_VERSION, IPC_CFG_MEM, SZ(ipc_cfg_mem),
	  ST_BOOT, 100 + IPC_CFG_MEM },
	{ "good stop in run", 8, IPC_VERSION, IPC_STOP, 8, ST_RUN, 100 + IPC_STOP },
	{ "good stop in boot", 8, IPC_VERSION, IPC_STOP, 8, ST_BOOT, 100 + IPC_STOP },
	{ "good io_read", SZ(ipc_io), IPC_VERSION, IPC_IO_READ, SZ(ipc_io), ST_RUN,
	  100 + IPC_IO_READ },
	{ "good io_write_sync", SZ(ipc_io), IPC_VERSION, IPC_IO_WRITE_SYNC, SZ(ipc_io), ST_RUN,
	  100 + IPC_IO_WRITE_SYNC },
	{ "handler error passes through", SZ(ipc_io), IPC_VERSION, IPC_IO_WRITE, SZ(ipc_io),
	  ST_RUN, -EINVAL },
	{ "several state bits", 8, IPC_VERSION, IPC_CFG_DONE, 8, ST_BOOT | ST_STOPPING,
	  100 + IPC_CFG_DONE },
	/* version */
	{ "version 0", 8, 0, IPC_STOP, 8, ST_RUN, -EPROTO },
	{ "version 2", 8, IPC_VERSION + 1, IPC_STOP, 8, ST_RUN, -EPROTO },
	{ "version 0xffff", 8, 0xffff, IPC_STOP, 8, ST_RUN, -EPROTO },
	{ "version 0x100 (byte-swapped 1)", 8, 0x100, IPC_STOP, 8, ST_RUN, -EPROTO },
	/* size field against the received length */
	{ "size field larger", 8, IPC_VERSION, IPC_STOP, 9, ST_RUN, -EPROTO },
	{ "size field smaller", SZ(ipc_io), IPC_VERSION, IPC_IO_READ, 8, ST_RUN, -EPROTO },
	{ "size field 0", 8, IPC_VERSION, IPC_STOP, 0, ST_RUN, -EPROTO },
	{ "size field huge", 8, IPC_VERSION, IPC_STOP, UINT32_MAX, ST_RUN, -EPROTO },
	{ "size field = max msg", 8, IPC_VERSION, IPC_STOP, IPC_MAX_MSG, ST_RUN, -EPROTO },
	/* type */
	{ "type 0", 8, IPC_VERSION, 0, 8, ST_RUN, -EPROTO },
	{ "type max", 8, IPC_VERSION, IPC_TYPE_MAX, 8, ST_RUN, -EPROTO },
	{ "type 0xffff", 8, IPC_VERSION, 0xffff, 8, ST_RUN | ST_BOOT, -EPROTO },
	{ "type not in this table", 8, IPC_VERSION, IPC_START, 8, ST_RUN | ST_BOOT, -EPROTO },
	{ "io_reply not in this table", SZ(ipc_io_reply), IPC_VERSION, IPC_IO_REPLY,
	  SZ(ipc_io_reply), ST_RUN, -EPROTO },
	/* right type, wrong size (header and length agree) */
	{ "stop with a body", SZ(ipc_io), IPC_VERSION, IPC_STOP, SZ(ipc_io), ST_RUN, -EPROTO },
	{ "io_read one byte short", SZ(ipc_io) - 1, IPC_VERSION, IPC_IO_READ, SZ(ipc_io) - 1,
	  ST_RUN, -EPROTO },
	{ "io_read one byte long", SZ(ipc_io) + 1, IPC_VERSION, IPC_IO_READ, SZ(ipc_io) + 1,
	  ST_RUN, -EPROTO },
	{ "io_write_sync one byte short", SZ(ipc_io) - 1, IPC_VERSION, IPC_IO_WRITE_SYNC,
	  SZ(ipc_io) - 1, ST_RUN, -EPROTO },
	{ "io_write_sync at max size", IPC_MAX_MSG, IPC_VERSION, IPC_IO_WRITE_SYNC, IPC_MAX_MSG,
	  ST_RUN, -EPROTO },
	{ "cfg_mem as header only", 8, IPC_VERSION, IPC_CFG_MEM, 8, ST_BOOT, -EPROTO },
	{ "cfg_device at max size", IPC_MAX_MSG, IPC_VERSION, IPC_CFG_DEVICE, IPC_MAX_MSG,
	  ST_BOOT, -EPROTO },
	/* state */
	{ "cfg_mem while running", SZ(ipc_cfg_mem), IPC_VERSION, IPC_CFG_MEM, SZ(ipc_cfg_mem),
	  ST_RUN, -EPROTO },
	{ "io_read during boot", SZ(ipc_io), IPC_VERSION, IPC_IO_READ, SZ(ipc_io), ST_BOOT,
	  -EPROTO },
	{ "io_write_sync during boot", SZ(ipc_io), IPC_VERSION, IPC_IO_WRITE_SYNC, SZ(ipc_io),
	  ST_BOOT, -EPROTO },
	{ "stop while stopping", 8, IPC_VERSION, IPC_STOP, 8, ST_STOPPING, -EPROTO },
	{ "no state", 8, IPC_VERSION, IPC_STOP, 8, 0, -EPROTO },
	/* shorter than the header */
	{ "1 byte", 1, IPC_VERSION, IPC_STOP, 1, ST_RUN, -EPROTO },
	{ "4 bytes", 4, IPC_VERSION, IPC_STOP, 4, ST_RUN, -EPROTO },
	{ "7 bytes", 7, IPC_VERSION, IPC_STOP, 7, ST_RUN, -EPROTO },
};

/* ipc_send_many: in order, one message each, as many as fit; bad sizes send nothing. */
static void test_send_many(void **state)
{
	struct pair *p = *state;
	struct ipc_io io[IPC_SEND_MANY_MAX + 1];
	_Alignas(8) char buf[IPC_MAX_MSG];
	int fl, sent = 0, n;

	for (unsigned int i = 0; i < nitems(io); i++) {
		ipc_init(&io[i], IPC_IO_WRITE, sizeof(io[i]));
		io[i].io_space = IPC_SPACE_PIO;
		io[i].io_size = 1;
		io[i].io_data = i;
	}
	assert_int_equal(ipc_send_many(p->a, io, sizeof(io[0]), 0), -EINVAL);
	assert_int_equal(ipc_send_many(p->a, io, sizeof(io[0]), IPC_SEND_MANY_MAX + 1), -EINVAL);
	assert_int_equal(ipc_send_many(p->a, io, sizeof(io[0]) - 1, 2), -EINVAL);
	io[1].h.ih_size--;
	assert_int_equal(ipc_send_many(p->a, io, sizeof(io[0]), 2), -EINVAL);
	io[1].h.ih_size++;
	assert_int_equal(recv(p->b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);

	assert_int_equal(ipc_send_many(p->a, io, sizeof(io[0]), 3), 3);
	for (unsigned int i = 0; i < 3; i++) {
		const struct ipc_io *got = (const void *)buf;

		assert_int_equal(ipc_recv(p->b, buf), sizeof(io[0]));
		assert_int_equal(got->io_data, i);
	}
	/* a full channel: some go, then none (-EAGAIN) */
	fl = fcntl(p->a, F_GETFL);
	assert_int_equal(fcntl(p->a, F_SETFL, fl | O_NONBLOCK), 0);
	while ((n = ipc_send_many(p->a, io, sizeof(io[0]), IPC_SEND_MANY_MAX)) > 0)
		sent += n;
	assert_int_equal(n, -EAGAIN);
	assert_true(sent > 0);
	for (int i = 0; i < sent; i++) {
		const struct ipc_io *got = (const void *)buf;

		assert_int_equal(ipc_recv(p->b, buf), sizeof(io[0]));
		assert_int_equal(got->io_data, (uint64_t)(i % IPC_SEND_MANY_MAX));
	}
	/* the peer gone */
	close(p->b);
	p->b = -1;
	assert_int_equal(ipc_send_many(p->a, io, sizeof(io[0]), 2), -EPIPE);
}

static void test_dispatch_table(void **state)
{
	struct pair *p = *state;

	for (size_t i = 0; i < nitems(raw_cases); i++) {
		const struct raw_case *t = &raw_cases[i];
		union {
			uint8_t b[IPC_MAX_MSG];
			struct ipc_hdr h;
		} out, in;
		struct ipc_hdr h = { .ih_version = t->version, .ih_type = t->type,
				     .ih_size = t->size };
		struct calls calls = { 0 };
		const struct ipc_handler *row;
		ssize_t n;
		int r;

		memset(&out, 0, sizeof(out));
		memcpy(&out, &h, sizeof(h)); /* a short message carries a prefix of it */
		send_raw(p->a, &out, t->len, -1, 0);
		n = ipc_recv(p->b, &in);
		assert_int_equal(n, (ssize_t)t->len);

		errno = 0;
		row = ipc_check(child_table, nitems(child_table), &in, (size_t)n, t->state);
		if (t->want == -EPROTO) {
			if (row)
				fail_msg("%s: ipc_check accepted it", t->what);
			assert_int_equal(errno, EPROTO);
		} else {
			if (!row)
				fail_msg("%s: ipc_check refused it", t->what);
			assert_int_equal(row->type, t->type);
		}
		r = ipc_dispatch(child_table, nitems(child_table), &in, (size_t)n, t->state, &calls);
		if (r != t->want)
			fail_msg("%s: ipc_dispatch %d, want %d", t->what, r, t->want);
		if (t->want == -EPROTO) {
			assert_int_equal(calls.n, 0);
		} else if (t->want > 0) {
			assert_int_equal(calls.n, 1);
			assert_int_equal(calls.last_type, t->type);
			assert_ptr_equal(calls.last_msg, &in);
		}
	}
}

static void test_check_short_buffers(void **state)
{
	struct ipc_empty e;

	(void)state;
	ipc_init(&e, IPC_STOP, sizeof(e));
	/* lengths below the header never reach the table, whatever the bytes say */
	for (size_t len = 0; len < sizeof(struct ipc_hdr); len++) {
		errno = 0;
		assert_null(ipc_check(child_table, nitems(child_table), &e, len, ST_RUN));
		assert_int_equal(errno, EPROTO);
	}
	assert_non_null(ipc_check(child_table, nitems(child_table), &e, sizeof(e), ST_RUN));
	/* an empty table refuses everything */
	assert_null(ipc_check(child_table, 0, &e, sizeof(e), ST_RUN));
	assert_int_equal(ipc_dispatch(child_table, 0, &e, sizeof(e), ST_RUN, NULL), -EPROTO);
	/* a header read from an unaligned buffer */
	uint8_t raw[sizeof(e) + 1];

	memcpy(raw + 1, &e, sizeof(e));
	assert_non_null(ipc_check(child_table, nitems(child_table), raw + 1, sizeof(e), ST_RUN));
}

/* ipc_recv. */

static void test_recv_sizes(void **state)
{
	struct pair *p = *state;
	static uint8_t big[IPC_MAX_MSG * 4];
	union {
		uint8_t b[IPC_MAX_MSG + 64];
		struct ipc_hdr h;
	} in;
	struct ipc_empty e;

	/* exactly IPC_MAX_MSG fits */
	memset(big, 0x5a, sizeof(big));
	send_raw(p->a, big, IPC_MAX_MSG, -1, 0);
	memset(&in, 0, sizeof(in));
	assert_int_equal(ipc_recv(p->b, &in), IPC_MAX_MSG);
	/* one more is refused, and ipc_recv writes no more than IPC_MAX_MSG bytes */
	send_raw(p->a, big, IPC_MAX_MSG + 1, -1, 0);
	memset(&in, 0, sizeof(in));
	assert_int_equal(ipc_recv(p->b, &in), -EMSGSIZE);
	for (size_t i = IPC_MAX_MSG; i < sizeof(in.b); i++)
		assert_int_equal(in.b[i], 0);
	send_raw(p->a, big, sizeof(big), -1, 0);
	assert_int_equal(ipc_recv(p->b, &in), -EMSGSIZE);
	/* the oversized datagram was consumed whole: the next message is intact */
	ipc_init(&e, IPC_READY, sizeof(e));
	assert_int_equal(ipc_send(p->a, &e), 0);
	assert_int_equal(ipc_recv(p->b, &in), sizeof(e));
	assert_memory_equal(&in, &e, sizeof(e));
	/* nothing waiting: a non-blocking read says so */
	assert_int_equal(fcntl(p->b, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(ipc_recv(p->b, &in), -EAGAIN);
	assert_int_equal(ipc_recv(-1, &in), -EBADF);
}

static void test_recv_eof(void **state)
{
	struct pair *p = *state;
	union {
		uint8_t b[IPC_MAX_MSG];
		struct ipc_hdr h;
	} in;
	struct ipc_empty e;

	/* queued messages are still delivered, then EOF */
	ipc_init(&e, IPC_READY, sizeof(e));
	assert_int_equal(ipc_send(p->a, &e), 0);
	close(p->a);
	p->a = -1;
	assert_int_equal(ipc_recv(p->b, &in), sizeof(e));
	assert_int_equal(ipc_recv(p->b, &in), 0);
	assert_int_equal(ipc_recv(p->b, &in), 0);
}

static void test_recv_zero_length(void **state)
{
	struct pair *p = *state;
	union {
		uint8_t b[IPC_MAX_MSG];
		struct ipc_hdr h;
	} in;
	struct ipc_empty e;

	/*
	 * An empty datagram reads as 0, the same as EOF. Receivers end the channel
	 * on 0, which is what a protocol error would do, so this is harmless; it is
	 * pinned here so that a change is noticed.
	 */
	send_raw(p->a, "", 0, -1, 0);
	assert_int_equal(ipc_recv(p->b, &in), 0);
	ipc_init(&e, IPC_READY, sizeof(e));
	assert_int_equal(ipc_send(p->a, &e), 0);
	assert_int_equal(ipc_recv(p->b, &in), sizeof(e));
}

static void test_recv_fds(void **state)
{
	struct pair *p = *state;
	static const int counts[] = { 1, 3, 8, 9, 16 };
	union {
		uint8_t b[IPC_MAX_MSG];
		struct ipc_hdr h;
	} in;
	uint8_t before[FD_SCAN];
	struct ipc_empty e;
	int pipefd[2];

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	ipc_init(&e, IPC_STOP, sizeof(e));
	open_fds(before);
	for (size_t i = 0; i < nitems(counts); i++) {
		/* a well-formed message with fds attached: refused, and no fd is left open */
		send_raw(p->a, &e, sizeof(e), pipefd[0], counts[i]);
		assert_int_equal(ipc_recv(p->b, &in), -EPROTO);
		if (count_new_fds(before) != 0)
			fail_msg("%d fds sent: %d left open", counts[i], count_new_fds(before));
	}
	/* the pipe's read end is not held by anyone else: closing ours gives EPIPE on write */
	close(pipefd[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write(pipefd[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(pipefd[1]);
	/* the channel still works afterwards */
	assert_int_equal(ipc_send(p->a, &e), 0);
	assert_int_equal(ipc_recv(p->b, &in), sizeof(e));
}

/*
 * CONNECT_REPLY is the one message that may carry an fd, one, and only to a
 * receiver that asked for it (ipc_recv_fd with that type): it gets the fd;
 * every other combination is refused with no fd left open, ipc_recv included.
 */
static void test_recv_connect_reply_fd(void **state)
{
	struct pair *p = *state;
	union {
		uint8_t b[IPC_MAX_MSG];
		struct ipc_hdr h;
	} in;
	struct ipc_connect_reply r;
	uint8_t before[FD_SCAN];
	struct ipc_empty e;
	int pipefd[2], got = 123;
	struct stat st;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	ipc_init(&r, IPC_CONNECT_REPLY, sizeof(r));
	r.cr_seq = 77;
	ipc_init(&e, IPC_STOP, sizeof(e));
	open_fds(before);
	/* the reply with its fd, as the supervisor sends it */
	assert_int_equal(ipc_send_fd(p->a, &r, pipefd[0]), 0);
	assert_int_equal(ipc_recv_fd(p->b, &in, IPC_CONNECT_REPLY, &got), sizeof(r));
	assert_true(got >= 0 && got != pipefd[0]);
	assert_int_equal(fstat(got, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(in.h.ih_type, IPC_CONNECT_REPLY);
	close(got);
	/* the reply without an fd (a refusal) */
	assert_int_equal(ipc_send(p->a, &r), 0);
	assert_int_equal(ipc_recv_fd(p->b, &in, IPC_CONNECT_REPLY, &got), sizeof(r));
	assert_int_equal(got, -1);
	/* an fd with another type; two fds; an fd to a receiver that takes none */
	send_raw(p->a, &e, sizeof(e), pipefd[0], 1);
	assert_int_equal(ipc_recv_fd(p->b, &in, IPC_CONNECT_REPLY, &got), -EPROTO);
	assert_int_equal(got, -1);
	send_raw(p->a, &r, sizeof(r), pipefd[0], 2);
	assert_int_equal(ipc_recv_fd(p->b, &in, IPC_CONNECT_REPLY, &got), -EPROTO);
	send_raw(p->a, &r, sizeof(r), pipefd[0], 9);
	assert_int_equal(ipc_recv_fd(p->b, &in, IPC_CONNECT_REPLY, &got), -EPROTO);
	assert_int_equal(ipc_send_fd(p->a, &r, pipefd[0]), 0);
	assert_int_equal(ipc_recv(p->b, &in), -EPROTO);
	/* a header too short to name its type, with an fd */
	send_raw(p->a, &r, 4, pipefd[0], 1);
	assert_int_equal(ipc_recv_fd(p->b, &in, IPC_CONNECT_REPLY, &got), -EPROTO);
	assert_int_equal(count_new_fds(before), 0);
	assert_int_equal(ipc_send_fd(p->a, &r, -1), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
}

/*
 * An oversized datagram that also carries fds. ipc_recv returns -EMSGSIZE
 * before it looks at the control data, so the fds the kernel installed stay
 * open in the receiver (see the report: check MSG_TRUNC after closing them).
 * Skipped while that is so; the assertion below is the fixed behaviour.
 */
static void test_recv_oversize_with_fds(void **state)
{
	struct pair *p = *state;
	static uint8_t big[IPC_MAX_MSG + 1];
	union {
		uint8_t b[IPC_MAX_MSG];
		struct ipc_hdr h;
	} in;
	uint8_t before[FD_SCAN];
	int pipefd[2], leaked;
	ssize_t r;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	open_fds(before);
	send_raw(p->a, big, sizeof(big), pipefd[0], 2);
	r = ipc_recv(p->b, &in);
	assert_true(r == -EMSGSIZE || r == -EPROTO);
	leaked = count_new_fds(before);
	/* close what leaked so later tests start clean */
	for (int fd = 0; fd < FD_SCAN; fd++) {
		if (!before[fd] && fcntl(fd, F_GETFD) >= 0)
			close(fd);
	}
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(leaked, 0);
}

/* Validators. */

static void test_str_ok(void **state)
{
	static const struct {
		char bytes[24];
		size_t n; /* field size */
		int want;
	} cases[] = {
		{ "vm", 16, 1 },
		{ "blk0\0\x01\x02garbage", 16, 1 }, /* bytes after the NUL are not looked at */
		{ "a", 2, 1 },
		{ "~ !\"#$%&'()*+,-./", 18, 1 }, /* printable ASCII ends */
		{ "", 16, 1 }, /* empty: NUL-terminated and printable; callers that need
				   a non-empty name check that themselves */
		{ "", 1, 1 },
		{ "abcd", 4, 0 }, /* unterminated */
		{ "a", 1, 0 },
		{ "", 0, 0 }, /* no room for a NUL */
		{ "a\nb", 8, 0 },
		{ "a\tb", 8, 0 },
		{ "\x1b[2J", 8, 0 },
		{ "a\x7f", 8, 0 },
		{ "caf\xc3\xa9", 8, 0 },
		{ "\xff", 4, 0 },
		{ "\x01", 4, 0 },
		{ "\r", 4, 0 },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		if (ipc_str_ok(cases[i].bytes, cases[i].n) != cases[i].want)
			fail_msg("case %zu: want %d", i, cases[i].want);
	}
	/* a full field of printable bytes with no NUL: refused, and nothing past n is read */
	char *full = test_malloc(IPC_NAME_MAX);

	memset(full, 'x', IPC_NAME_MAX);
	assert_int_equal(ipc_str_ok(full, IPC_NAME_MAX), 0);
	full[IPC_NAME_MAX - 1] = '\0';
	assert_int_equal(ipc_str_ok(full, IPC_NAME_MAX), 1);
	test_free(full);
	/* a whole message text field */
	struct ipc_error e;

	ipc_init(&e, IPC_ERROR, sizeof(e));
	memset(e.ie_text, 'a', sizeof(e.ie_text) - 1);
	assert_int_equal(ipc_str_ok(e.ie_text, sizeof(e.ie_text)), 1);
	e.ie_text[sizeof(e.ie_text) - 1] = 'a';
	assert_int_equal(ipc_str_ok(e.ie_text, sizeof(e.ie_text)), 0);
}

static void test_fd_ok(void **state)
{
	static const struct {
		int32_t fd;
		int want;
	} cases[] = {
		{ INT32_MIN, 0 }, { -2, 0 },   { IPC_FD_NONE, 0 }, { 0, 0 },	{ 1, 0 },
		{ 2, 0 },	  { 3, 1 },    { 4, 1 },	   { 512, 1 },	{ 1022, 1 },
		{ 1023, 1 },	  { 1024, 0 }, { 65536, 0 },	   { INT32_MAX, 0 },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		if (ipc_fd_ok(cases[i].fd) != cases[i].want)
			fail_msg("fd %d: want %d", cases[i].fd, cases[i].want);
	}
	assert_int_equal(ipc_fd_ok(IPC_FD_MIN), 1);
	assert_int_equal(ipc_fd_ok(IPC_FD_MIN - 1), 0);
	assert_int_equal(ipc_fd_ok(IPC_FD_MAX), 1);
	assert_int_equal(ipc_fd_ok(IPC_FD_MAX + 1), 0);
	assert_int_equal(ipc_fd_ok(IPC_FD_CONTROL), 1);
}

static void test_type_name(void **state)
{
	(void)state;
	assert_string_equal(ipc_type_name(IPC_CFG_MEM), "CFG_MEM");
	assert_string_equal(ipc_type_name(IPC_IO_REPLY), "IO_REPLY");
	assert_string_equal(ipc_type_name(IPC_STOP), "STOP");
	assert_string_equal(ipc_type_name(IPC_IO_WRITE_SYNC), "IO_WRITE_SYNC");
	assert_string_equal(ipc_type_name(IPC_CFG_SERIAL), "CFG_SERIAL");
	assert_string_equal(ipc_type_name(IPC_CONNECT_REPLY), "CONNECT_REPLY");
	assert_string_equal(ipc_type_name(IPC_CFG_VSOCK), "CFG_VSOCK");
	for (unsigned int t = 1; t < IPC_TYPE_MAX; t++)
		assert_string_not_equal(ipc_type_name(t), "unknown");
	assert_string_equal(ipc_type_name(0), "unknown");
	assert_string_equal(ipc_type_name(IPC_TYPE_MAX), "unknown");
	assert_string_equal(ipc_type_name(0xffff), "unknown");
	assert_string_equal(ipc_type_name(UINT_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test_setup_teardown(test_round_trip, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_send_errors, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_send_many, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_dispatch_table, setup_pair, teardown_pair),
		cmocka_unit_test(test_check_short_buffers),
		cmocka_unit_test_setup_teardown(test_recv_sizes, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_eof, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_zero_length, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_fds, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_oversize_with_fds, setup_pair,
						teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_connect_reply_fd, setup_pair,
						teardown_pair),
		cmocka_unit_test(test_str_ok),
		cmocka_unit_test(test_fd_ok),
		cmocka_unit_test(test_type_name),
	};

	/* ipc_send must not raise SIGPIPE; make sure the test would notice if it did */
	signal(SIGPIPE, SIG_DFL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
