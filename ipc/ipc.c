/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "ipc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

void ipc_init(void *msg, enum ipc_type type, size_t size)
{
	struct ipc_hdr *h = msg;

	memset(msg, 0, size);
	h->ih_version = IPC_VERSION;
	h->ih_type = type;
	h->ih_size = (uint32_t)size;
}

int ipc_send(int fd, const void *msg)
{
	const struct ipc_hdr *h = msg;
	ssize_t n;

	if (h->ih_size < sizeof(*h) || h->ih_size > IPC_MAX_MSG)
		return -EINVAL;
	do
		n = send(fd, msg, h->ih_size, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != h->ih_size)
		return -EIO;
	return 0;
}

int ipc_send_many(int fd, const void *msgs, size_t size, unsigned int n)
{
	struct mmsghdr mm[IPC_SEND_MANY_MAX];
	struct iovec iov[IPC_SEND_MANY_MAX];
	const char *p = msgs;
	int sent;

	if (n == 0 || n > IPC_SEND_MANY_MAX || size < sizeof(struct ipc_hdr) || size > IPC_MAX_MSG)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		const struct ipc_hdr *h = (const void *)(p + i * size);

		if (h->ih_size != size)
			return -EINVAL;
		iov[i] = (struct iovec){ .iov_base = (void *)(uintptr_t)h, .iov_len = size };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	do
		sent = sendmmsg(fd, mm, n, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;
	for (int i = 0; i < sent; i++) {
		if (mm[i].msg_len != size)
			return -EIO;
	}
	return sent;
}

int ipc_send_fds(int fd, const void *msg, const int *pass, size_t n)
{
	const struct ipc_hdr *h = msg;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)msg, .iov_len = h->ih_size };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	struct cmsghdr *c;
	ssize_t sent;

	if (h->ih_size < sizeof(*h) || h->ih_size > IPC_MAX_MSG || n == 0 || n > IPC_MAX_FDS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (pass[i] < 0)
			return -EINVAL;
	}
	memset(&cbuf, 0, sizeof(cbuf));
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), pass, sizeof(int) * n);
	do
		sent = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;
	return (size_t)sent == h->ih_size ? 0 : -EIO;
}

int ipc_send_fd(int fd, const void *msg, int pass)
{
	return ipc_send_fds(fd, msg, &pass, 1);
}

/* Close every fd a message brought. */
static void close_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[8];

			if (nfd > sizeof(fds) / sizeof(fds[0]))
				nfd = sizeof(fds) / sizeof(fds[0]);
			memcpy(fds, CMSG_DATA(c), nfd * sizeof(int));
			for (size_t i = 0; i < nfd; i++)
				close(fds[i]);
		}
	}
}

/* The fds of a message whose control data is one SCM_RIGHTS of 1 to max fds: how many, or 0. */
static size_t take_fds(struct msghdr *mh, int *got, size_t max)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);
	size_t n;

	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len < CMSG_LEN(sizeof(int)) || CMSG_NXTHDR(mh, c))
		return 0;
	n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	if (n > max || c->cmsg_len != CMSG_LEN(sizeof(int) * n))
		return 0;
	memcpy(got, CMSG_DATA(c), sizeof(int) * n);
	return n;
}

/* Receive one message; fds are refused unless fd_type (non-zero) names the message's type. */
static ssize_t recv_one(int fd, void *buf, uint16_t fd_type, int *got, size_t max, size_t *ngot)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = IPC_MAX_MSG };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	struct ipc_hdr h;
	ssize_t n;

	*ngot = 0;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
		close_fds(&mh);
		return (mh.msg_flags & MSG_TRUNC) ? -EMSGSIZE : -EPROTO;
	}
	if (mh.msg_controllen == 0)
		return n;
	/* Fds arrived: at most max, only with the one type that may carry them. */
	if (max && (size_t)n >= sizeof(h)) {
		memcpy(&h, buf, sizeof(h));
		if (h.ih_type == fd_type && (*ngot = take_fds(&mh, got, max)) > 0)
			return n;
	}
	close_fds(&mh);
	return -EPROTO;
}

ssize_t ipc_recv(int fd, void *buf)
{
	size_t n;

	return recv_one(fd, buf, 0, NULL, 0, &n);
}

ssize_t ipc_recv_fd(int fd, void *buf, uint16_t fd_type, int *got)
{
	size_t n;
	ssize_t len = recv_one(fd, buf, fd_type, got, 1, &n);

	if (n == 0)
		*got = -1;
	return len;
}

ssize_t ipc_recv_fds(int fd, void *buf, uint16_t fd_type, int *got, size_t max, size_t *n)
{
	return recv_one(fd, buf, fd_type, got, max, n);
}

const struct ipc_handler *ipc_check(const struct ipc_handler *table, size_t n, const void *buf,
				    size_t len, uint32_t state)
{
	struct ipc_hdr h;

	if (len < sizeof(h)) {
		errno = EPROTO;
		return NULL;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.ih_version != IPC_VERSION || h.ih_size != len) {
		errno = EPROTO;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (table[i].type != h.ih_type)
			continue;
		if (table[i].size != len || !(table[i].states & state)) {
			errno = EPROTO;
			return NULL;
		}
		return &table[i];
	}
	errno = EPROTO;
	return NULL;
}

int ipc_dispatch(const struct ipc_handler *table, size_t n, const void *buf, size_t len,
		 uint32_t state, void *ctx)
{
	const struct ipc_handler *row = ipc_check(table, n, buf, len, state);

	if (!row)
		return -EPROTO;
	return row->fn(ctx, buf);
}

void ipc_send_error(int fd, int err, const char *fmt, ...)
{
	struct ipc_error m;
	va_list ap;

	ipc_init(&m, IPC_ERROR, sizeof(m));
	m.ie_errno = err;
	va_start(ap, fmt);
	vsnprintf(m.ie_text, sizeof(m.ie_text), fmt, ap);
	va_end(ap);
	(void)!ipc_send(fd, &m);
}

int ipc_str_ok(const char *s, size_t n)
{
	size_t len = strnlen(s, n);

	if (len == n)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	}
	return 1;
}

int ipc_fd_ok(int32_t fd)
{
	return fd >= IPC_FD_MIN && fd <= IPC_FD_MAX;
}

const char *ipc_type_name(unsigned int type)
{
	static const char *const names[IPC_TYPE_MAX] = {
		[IPC_CFG_MEM] = "CFG_MEM", [IPC_CFG_VCPU] = "CFG_VCPU",
		[IPC_CFG_VCPU_DEV] = "CFG_VCPU_DEV", [IPC_CFG_DEVICE] = "CFG_DEVICE",
		[IPC_CFG_DONE] = "CFG_DONE", [IPC_START] = "START",
		[IPC_STOP] = "STOP", [IPC_READY] = "READY",
		[IPC_ERROR] = "ERROR", [IPC_VM_EXIT] = "VM_EXIT",
		[IPC_IO_READ] = "IO_READ", [IPC_IO_WRITE] = "IO_WRITE",
		[IPC_IO_REPLY] = "IO_REPLY", [IPC_CFG_JAIL] = "CFG_JAIL",
		[IPC_IO_WRITE_SYNC] = "IO_WRITE_SYNC", [IPC_DEV_FAILED] = "DEV_FAILED",
		[IPC_CONNECT] = "CONNECT", [IPC_CONNECT_REPLY] = "CONNECT_REPLY",
		[IPC_VCPU_DEV_SWAP] = "VCPU_DEV_SWAP", [IPC_SPAWN] = "SPAWN", [IPC_SPAWNED] = "SPAWNED",
		[IPC_API_REQUEST] = "API_REQUEST", [IPC_API_REPLY] = "API_REPLY",
		[IPC_VCPU_PAUSE] = "VCPU_PAUSE", [IPC_VCPU_PAUSED] = "VCPU_PAUSED",
		[IPC_CFG_VCPU_IRQ] = "CFG_VCPU_IRQ",
		IPC_KIND_TYPE_NAMES
	};

	if (type >= IPC_TYPE_MAX || !names[type])
		return "unknown";
	return names[type];
}
