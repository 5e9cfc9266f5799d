/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_9p: the 9P2000.L server (devices/9p) in this process, over the
 * scratch share of p9share.h rebuilt before every input, fed raw
 * T-messages in scattered buffers with replies into buffers of fuzzed
 * sizes.
 *
 * Input: u8 flags (bit 0 read-only share; bit 1 no automatic session,
 * else a Tversion with the msize of bits 2-3 and a Tattach of fid 0 come
 * first), then at most 64 messages, each: u8 ctl (bit 0: keep the size
 * field as given, else it is set to the message's length; bits 1-3: the
 * message and the reply are split into that many + 1 buffers; bits 4-7: the
 * reply's room, from a table, 15: a u16 follows), u16 length, the bytes.
 *
 * Checked after every message: the reply fits its room and no byte beyond
 * it changed; it is empty only when not even an Rlerror fits; its size
 * field is its length, its tag the request's (NOTAG when there was none),
 * its type the request's + 1 or Rlerror with an errno in 1..4095 and
 * nothing else; no reply beyond the negotiated msize; the fds the server
 * holds stay within its budget. After the input: the file beside the share
 * is untouched and nothing else appeared beside it; a reset leaves no fid,
 * no fd and no path bytes held, and the process holds no fd it did not hold
 * before the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/9p/p9.h"
#include "fz.h"
#include "p9share.h"

#define MAX_MSGS 64
#define MAX_PIECES 8
#define FD_BUDGET 48
#define ROOM_MAX (P9_MSIZE_MAX + 64)

static int rootfd = -1, baseline_fd = -1;
static struct p9_server rw, ro;
static uint8_t req[70000], rsp[ROOM_MAX + 16];

static const uint32_t rooms[15] = { ROOM_MAX, 0, 6, 10, 11, 12, 16, 20, 24, 40, 160, 300, 4096, 8192, 65536 };
static const uint32_t msizes[4] = { 65536, 4096, 8192, P9_MSIZE_MAX };

static void must(int ok, const char *what)
{
	if (!ok)
		fz_fail("fuzz_9p setup: %s: %s", what, strerror(errno));
}

static void init_once(void)
{
	rootfd = open(p9share_init(), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(rootfd >= 0, "open share");
	must(p9_server_init(&rw, rootfd, 0, FD_BUDGET) == 0, "p9_server_init");
	must(p9_server_init(&ro, rootfd, P9_F_READONLY, FD_BUDGET) == 0, "p9_server_init read-only");
	umask(0);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Split [0, len) of buf into n buffers. */
static void split(uint8_t *buf, size_t len, unsigned int n, struct iovec *iov)
{
	for (unsigned int i = 0; i < n; i++) {
		size_t a = len * i / n, b = len * (i + 1) / n;

		iov[i].iov_base = buf + a;
		iov[i].iov_len = b - a;
	}
}

static void check_reply(const struct p9_server *s, size_t len, size_t room, size_t reqlen)
{
	uint16_t tag = reqlen >= P9_HDR ? (uint16_t)(req[5] | req[6] << 8) : P9_NOTAG;
	uint8_t type;

	for (size_t i = room; i < room + 16; i++)
		FZ_CHECK(rsp[i] == 0xa5, "byte %zu written beyond a reply room of %zu", i, room);
	FZ_CHECK(len <= room, "a reply of %zu bytes in a room of %zu", len, room);
	if (len == 0) {
		FZ_CHECK(room < P9_HDR + 4, "no reply although an Rlerror fits in %zu bytes", room);
		return;
	}
	FZ_CHECK(len >= P9_HDR, "a reply of %zu bytes", len);
	FZ_CHECK(le32(rsp) == len, "size field %u for a reply of %zu bytes", le32(rsp), len);
	FZ_CHECK((uint16_t)(rsp[5] | rsp[6] << 8) == tag, "tag %u answered as %u", tag,
		 rsp[5] | rsp[6] << 8);
	type = rsp[4];
	if (type == P9_RLERROR) {
		uint32_t e = le32(rsp + P9_HDR);

		FZ_CHECK(len == P9_HDR + 4, "an Rlerror of %zu bytes", len);
		FZ_CHECK(e > 0 && e < 4096, "Rlerror with errno %u", e);
		return;
	}
	FZ_CHECK(reqlen >= P9_HDR && type == (uint8_t)(req[4] + 1), "reply type %u to request type %u", type,
		 reqlen >= P9_HDR ? req[4] : 0);
	FZ_CHECK(!s->msize || len <= s->msize || req[4] == P9_TVERSION, "a reply of %zu bytes with msize %u", len,
		 s->msize);
	FZ_CHECK(s->held_fds <= s->fd_budget && s->path_fds <= s->held_fds, "%u fds held (%u O_PATH), budget %u",
		 s->held_fds, s->path_fds, s->fd_budget);
}

static void send_one(struct p9_server *s, size_t len, unsigned int pieces, size_t room)
{
	struct iovec in[MAX_PIECES], out[MAX_PIECES];
	size_t got;

	split(req, len, pieces, in);
	split(rsp, room, pieces, out);
	memset(rsp + room, 0xa5, 16);
	got = p9_handle(s, in, pieces, out, pieces);
	check_reply(s, got, room, len);
}

/* A well-formed message built here (the automatic session). */
static void send_built(struct p9_server *s, const uint8_t *msg, size_t len)
{
	memcpy(req, msg, len);
	send_one(s, len, 1, ROOM_MAX);
}

static void auto_session(struct p9_server *s, uint32_t msize)
{
	uint8_t v[] = { 0, 0, 0, 0, P9_TVERSION, 0xff, 0xff, 0, 0, 0, 0, 8, 0, '9', 'P', '2', '0', '0', '0', '.', 'L' };
	uint8_t a[] = { 0, 0, 0, 0, P9_TATTACH, 1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 };

	v[0] = sizeof(v);
	memcpy(v + 7, &msize, 4);
	a[0] = sizeof(a);
	send_built(s, v, sizeof(v));
	send_built(s, a, sizeof(a));
}

static void check_reset(struct p9_server *s)
{
	int fd;

	p9_server_reset(s);
	FZ_CHECK(s->nfids == 0 && s->held_fds == 0 && s->path_fds == 0 && s->path_bytes == 0,
		 "after a reset: %u fids, %u fds, %u O_PATH, %zu path bytes", s->nfids, s->held_fds, s->path_fds,
		 s->path_bytes);
	fd = dup(rootfd);
	if (fd != baseline_fd) {
		char p[64], what[256] = "?";
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", baseline_fd);
		n = readlink(p, what, sizeof(what) - 1);
		what[n > 0 ? n : 0] = '\0';
		fz_fail("an fd leaked: the next free one is %d, was %d; fd %d is %s", fd, baseline_fd, baseline_fd,
			what);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p9_server *s;
	struct fz in;
	uint8_t flags;

	if (rootfd < 0)
		init_once();
	fz_init(&in, data, size);
	flags = fz_u8(&in);
	s = (flags & 1) ? &ro : &rw;
	p9share_wipe();
	/* The lowest free fd now, measured for each input: the sanitizers' runtime may keep an fd
	 * of its own (a pipe) between inputs. */
	baseline_fd = dup(rootfd);
	must(baseline_fd >= 0, "dup");
	close(baseline_fd);
	if (!(flags & 2))
		auto_session(s, msizes[(flags >> 2) & 3]);
	for (unsigned int m = 0; m < MAX_MSGS && !fz_empty(&in); m++) {
		uint8_t ctl = fz_u8(&in);
		unsigned int pieces = 1 + ((ctl >> 1) & 7);
		size_t room = (ctl >> 4) == 15 ? fz_u16(&in) : rooms[ctl >> 4];
		size_t len = fz_u16(&in);

		len = fz_take(&in, req, len);
		if (!(ctl & 1) && len >= 4) {
			uint32_t v = (uint32_t)len;

			memcpy(req, &v, 4);
		}
		send_one(s, len, pieces, room);
	}
	check_reset(s);
	p9share_check_outside();
	return 0;
}
