/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-vsock's epoll loop, emulated for the model (devices/vsock) where
 * there is no device process: test_vsock.c and tests/fuzz/fuzz_vsock.c. The
 * model's watch() calls land in a table; vloop_run flushes the model, polls
 * the table's fds with poll(2) and delivers their events, level-triggered as
 * epoll is, until nothing is ready. An fd the model closed left the real
 * epoll set with its close; here its entry is dropped when the model no
 * longer holds it under that tag. Header-only: each includes it once.
 */
#ifndef BULKHEAD_TESTS_UNIT_VSOCK_LOOP_H
#define BULKHEAD_TESTS_UNIT_VSOCK_LOOP_H

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>

#include "devices/vsock/vsock.h"

#define VLOOP_MAX (2 * VSOCK_MAX_CONNS)

struct vloop {
	struct vsock *v;
	struct vloop_watch {
		int fd;
		uint32_t tag, events;
	} w[VLOOP_MAX];
	unsigned int n;
};

/* The model's watch(): v->owner is the loop. */
static inline int vloop_watch(struct vsock *v, int op, int fd, uint32_t events, uint32_t tag)
{
	struct vloop *l = v->owner;

	for (unsigned int i = 0; i < l->n; i++) {
		if (l->w[i].fd != fd)
			continue;
		if (op == EPOLL_CTL_ADD)
			return -EEXIST;
		if (op == EPOLL_CTL_DEL) {
			l->w[i] = l->w[--l->n];
		} else {
			l->w[i].events = events;
			l->w[i].tag = tag;
		}
		return 0;
	}
	if (op != EPOLL_CTL_ADD)
		return -ENOENT;
	if (l->n == VLOOP_MAX)
		return -ENOSPC;
	l->w[l->n++] = (struct vloop_watch){ fd, tag, events };
	return 0;
}

/* An fd the model closed, or whose slot it gave to another connection. */
static inline int vloop_stale(const struct vloop *l, const struct vloop_watch *w)
{
	const struct vconn *c;

	if (w->tag == VSOCK_LISTEN_TAG)
		return 0;
	c = &l->v->conns[w->tag & 0x7f];
	return c->state == VC_FREE || c->fd != w->fd || (c->gen << 7 | (w->tag & 0x7f)) != w->tag;
}

/* Start the loop for v: its watch() and owner. */
static inline void vloop_init(struct vloop *l, struct vsock *v)
{
	l->v = v;
	l->n = 0;
	v->owner = l;
	v->watch = vloop_watch;
}

/* Run until nothing is ready: 0, -ELOOP if it never settles (a spin), or -errno of poll. */
static inline int vloop_run(struct vloop *l, int max_rounds)
{
	for (int round = 0; round < max_rounds; round++) {
		struct pollfd p[VLOOP_MAX];
		struct vloop_watch copy[VLOOP_MAX];
		unsigned int n = 0;
		int ready = 0;

		vsock_flush(l->v); /* as after every batch: what each fd is watched for is current */
		for (unsigned int i = 0; i < l->n;) {
			if (vloop_stale(l, &l->w[i])) {
				l->w[i] = l->w[--l->n];
				continue;
			}
			copy[n] = l->w[i];
			p[n++] = (struct pollfd){ .fd = l->w[i].fd, .events = (short)l->w[i].events };
			i++;
		}
		while (poll(p, n, 0) < 0) {
			if (errno != EINTR)
				return -errno;
		}
		for (unsigned int i = 0; i < n; i++) {
			if (p[i].revents) {
				ready = 1;
				vsock_event(l->v, copy[i].tag, (uint32_t)p[i].revents);
			}
		}
		if (!ready)
			return 0;
	}
	return -ELOOP;
}

#endif
