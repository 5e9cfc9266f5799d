/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vsock scenarios (vsock.h), against host programs on the VMM's side:
 * tests/guest/vsockpeer.py serves them (pytest imports it; the bench too).
 * Parameters: bulkhead.port (5000), bulkhead.conns (1), bulkhead.bytes
 * (65536), bulkhead.seed (1), bulkhead.timeout-ms (30000).
 *
 *  vsock-serve    host to guest: the guest listens on port; each host program
 *                 that connects (CONNECT port) sends its data and shuts its
 *                 sending side; the guest answers "<bytes> 0x<crc32>\n" (zlib's
 *                 CRC-32, 8 hex digits) and closes. PASS after conns of them.
 *  vsock-dial     guest to host: conns connections to the host's port at once
 *                 (with bulkhead.over-cap=1, one more, which must get RST),
 *                 each sending bytes of the pattern (seed + its index), then
 *                 SHUTDOWN SEND; the host program at PATH_port answers with the
 *                 same line, which must match.
 *  vsock-rst      a connection to a port no host program listens on gets RST.
 *  vsock-stall    the host program at port never reads: the guest fills that
 *                 connection until the device gives no more credit, then runs
 *                 vsock-dial's transfer on port + 1, which must complete.
 *  vsock-hostile  the suite below (a sink at port, a stalled reader at port+1).
 *  vsock-bench    connection set-up time (bulkhead.iterations=100 connections
 *                 to port, each closed at once), throughput guest to host
 *                 (bulkhead.mib=64 MiB to port + 1) and host to guest (a host
 *                 program connects to port + 2 and sends; the clock runs from
 *                 the first byte to its end).
 */
#include "vsock.h"

#define TAG GUEST_TAG "vsock-"
#define OUTCOME_US 1000000
#define CAP 64 /* the device's connection cap */

static uint64_t timeout_us(void)
{
	return param_u64("bulkhead.timeout-ms", 30000) * 1000;
}

static uint32_t port_param(void)
{
	return (uint32_t)param_u64("bulkhead.port", 5000);
}

static void check_bad(void)
{
	if (vs.bad)
		fail("the device sent %u bad packet(s); the first: %s", vs.bad, vs.why);
}

/* CRC-32 (IEEE, as zlib.crc32 computes it) of buf[0..len) continuing crc. */
static uint32_t crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
	static uint32_t table[256];

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* The pattern bytes [off, off + n) of seed into p (pattern.py's generate). */
static void pattern(uint8_t *p, uint64_t off, uint32_t n, uint64_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(pattern_word(seed, (off + i) & ~7ull) >> (8 * ((off + i) & 7)));
}

/* ---- a transfer: send bytes of a pattern, shut sending, read the host's line ---- */

struct xfer {
	struct vs_conn *c;
	uint64_t seed, total, sent;
	uint32_t crc;
	char line[48];
	uint32_t line_len;
	int done;
	uint64_t t_first, t_done;
};

static void xfer_start(struct xfer *x, struct vs_conn *c, uint64_t seed, uint64_t total)
{
	memset(x, 0, sizeof(*x));
	x->c = c;
	x->seed = seed;
	x->total = total;
}

/* Send what credit allows; read the answer; 1 once the answer matched (fails the run if not). */
static int xfer_step(struct xfer *x, uint8_t *buf)
{
	struct vs_conn *c = x->c;
	char want[48];

	if (x->done)
		return 1;
	/* What came before an RST is still ours to read: the answer, then the end. */
	if (c->state != VS_OPEN && !c->r_len)
		fail("vsock: connection to port %u ended (%s) after %lu of %lu bytes%s", c->rport,
		     c->reset ? "RST" : "closed", x->sent, x->total,
		     x->sent == x->total ? ", with no answer" : "");
	if (x->sent < x->total && c->state == VS_OPEN) {
		uint32_t n = x->total - x->sent < 16 * VS_PKT ? (uint32_t)(x->total - x->sent) : 16 * VS_PKT;

		pattern(buf, x->sent, n, x->seed);
		n = vs_write(c, buf, n);
		if (n && !x->t_first)
			x->t_first = rdtsc();
		x->crc = crc32(x->crc, buf, n);
		x->sent += n;
		if (x->sent == x->total)
			vs_shutdown(c, VS_SHUT_SEND);
	}
	x->line_len += vs_read(c, x->line + x->line_len, sizeof(x->line) - 1 - x->line_len);
	x->line[x->line_len] = '\0';
	if (!x->line_len || x->line[x->line_len - 1] != '\n')
		return 0;
	snprintf(want, sizeof(want), "%lu 0x%08x\n", x->total, x->crc);
	if (strcmp(x->line, want) != 0)
		fail("vsock: the host program on port %u answered '%s', want '%s'", c->rport, x->line, want);
	x->done = 1;
	x->t_done = rdtsc();
	vs_close(c);
	return 1;
}

/* Run transfers xs[0..n) to completion, interleaved. */
static void xfer_all(struct xfer *xs, unsigned int n)
{
	static uint8_t buf[16 * VS_PKT];
	uint64_t end = rdtsc() + us_to_tsc(timeout_us());
	unsigned int done = 0;

	while (done < n) {
		done = 0;
		vs_poll();
		for (unsigned int i = 0; i < n; i++)
			done += xfer_step(&xs[i], buf);
		check_bad();
		if (rdtsc() > end)
			fail("vsock: %u of %u transfers done within %lu ms", done, n, timeout_us() / 1000);
	}
}

static struct vs_conn *open_or_fail(uint32_t port)
{
	struct vs_conn *c = vs_connect(port);
	int r;

	if (!c)
		fail("vsock: no connection slot free");
	r = vs_wait_open(c, timeout_us());
	if (r <= 0)
		fail("vsock: connecting to the host's port %u: %s", port, r < 0 ? "no answer" : "RST");
	return c;
}

/* ---- vsock-dial ---- */

void vsock_dial(void)
{
	static struct xfer xs[CAP];
	unsigned int n = (unsigned int)param_u64("bulkhead.conns", 1);
	uint64_t bytes = param_u64("bulkhead.bytes", 65536), seed = param_u64("bulkhead.seed", 1);
	uint64_t t0, us, setup = 0;
	struct vs_conn *cs[CAP];
	uint32_t port = port_param();

	if (n < 1 || n > CAP)
		fail("bulkhead.conns=%u: 1 to %u", n, CAP);
	vs_open();
	t0 = rdtsc();
	for (unsigned int i = 0; i < n; i++)
		if (!(cs[i] = vs_connect(port)))
			fail("vsock: no connection slot free for %u", i);
	for (unsigned int i = 0; i < n; i++) {
		int r = vs_wait_open(cs[i], timeout_us());

		if (r <= 0)
			fail("vsock: connection %u to the host's port %u: %s", i, port, r < 0 ? "no answer" : "RST");
		setup += cs[i]->t_established - cs[i]->t_open;
	}
	cprintf(TAG "dial: %u connections to port %u open, set-up us %lu on average\n", n, port,
		tsc_to_us(setup / n));
	if (param_u64("bulkhead.over-cap", 0)) {
		struct vs_conn *extra = vs_connect(port);

		if (!extra || vs_wait_open(extra, OUTCOME_US) != 0)
			fail("vsock: a connection beyond %u was not refused with RST", n);
		cprintf(TAG "dial: connection %u refused with RST\n", n + 1);
		extra->state = VS_FREE;
	}
	for (unsigned int i = 0; i < n; i++)
		xfer_start(&xs[i], cs[i], seed + i, bytes);
	xfer_all(xs, n);
	us = tsc_to_us(rdtsc() - t0);
	for (unsigned int i = 0; i < n; i++)
		cprintf(TAG "dial: conn %u sent %lu bytes seed %lu crc32 0x%08x\n", i, bytes, seed + i,
			xs[i].crc);
	cprintf(TAG "dial: %u x %lu bytes in %lu us\n", n, bytes, us);
	check_bad();
	pass();
}

/* ---- vsock-serve ---- */

struct serve {
	uint64_t got;
	uint32_t crc;
	char line[48];
	uint32_t line_len, line_sent;
	int answering;
};

/* One served connection: 1 once it is answered and closed. */
static int serve_step(struct vs_conn *c, struct serve *s, uint8_t *buf)
{
	uint32_t n;

	if (c->state == VS_CLOSED)
		return s->answering && s->line_sent == s->line_len;
	while ((n = vs_read(c, buf, 16 * VS_PKT)) > 0) {
		s->crc = crc32(s->crc, buf, n);
		s->got += n;
	}
	if (!s->answering && (c->peer_shut & VS_SHUT_SEND)) {
		s->answering = 1;
		s->line_len = (uint32_t)snprintf(s->line, sizeof(s->line), "%lu 0x%08x\n", s->got, s->crc);
		cprintf(TAG "serve: from port %u: %lu bytes crc32 0x%08x\n", c->rport, s->got, s->crc);
	}
	if (!s->answering || c->state != VS_OPEN)
		return 0;
	if (s->line_sent < s->line_len)
		s->line_sent += vs_write(c, s->line + s->line_sent, s->line_len - s->line_sent);
	if (s->line_sent == s->line_len && !(c->shut_sent & VS_SHUT_SEND))
		vs_shutdown(c, VS_SHUT_RCV | VS_SHUT_SEND);
	return 0; /* done once the device's RST closes it */
}

void vsock_serve(void)
{
	static struct serve ss[VS_MAX_CONNS];
	static uint8_t buf[16 * VS_PKT];
	unsigned int want = (unsigned int)param_u64("bulkhead.conns", 1), served = 0;
	uint64_t end;

	vs_open();
	vs.listen_port = port_param();
	cprintf(GUEST_TAG "ready\n");
	end = rdtsc() + us_to_tsc(timeout_us());
	while (served < want) {
		vs_poll();
		for (unsigned int i = 0; i < VS_MAX_CONNS; i++) {
			struct vs_conn *c = &vs.conns[i];

			if (c->state == VS_FREE)
				continue;
			if (!c->user) {
				memset(&ss[i], 0, sizeof(ss[i]));
				c->user = &ss[i];
			}
			if (serve_step(c, c->user, buf)) {
				served++;
				c->state = VS_FREE;
			} else if (c->state == VS_CLOSED) {
				fail("vsock: the connection from port %u ended (%s) before it was answered", c->rport,
				     c->reset ? "RST" : "closed");
			}
		}
		check_bad();
		if (rdtsc() > end)
			fail("vsock: %u of %u connections served within %lu ms", served, want, timeout_us() / 1000);
	}
	cprintf(TAG "serve: %u connections served\n", served);
	pass();
}

/* ---- vsock-rst ---- */

void vsock_rst(void)
{
	struct vs_conn *c;
	int r;

	vs_open();
	c = vs_connect(port_param());
	r = vs_wait_open(c, OUTCOME_US);
	if (r != 0)
		fail("vsock: a connection to port %u (no host listener): %s", port_param(),
		     r > 0 ? "it opened" : "no answer");
	cprintf(TAG "rst: a connection to port %u was refused with RST\n", port_param());
	check_bad();
	pass();
}

/* ---- vsock-stall ---- */

/* Fill c until the device gives no credit for quiet_us; the bytes written. */
static uint64_t fill_until_stuck(struct vs_conn *c, uint64_t quiet_us)
{
	static uint8_t buf[16 * VS_PKT];
	uint64_t total = 0, quiet_end = rdtsc() + us_to_tsc(quiet_us), end = rdtsc() + us_to_tsc(timeout_us());

	memset(buf, 0x5a, sizeof(buf));
	while (rdtsc() < quiet_end) {
		uint32_t n;

		vs_poll();
		n = vs_write(c, buf, sizeof(buf));
		if (n) {
			total += n;
			quiet_end = rdtsc() + us_to_tsc(quiet_us);
		}
		if (rdtsc() > end)
			fail("vsock: the device took data for %lu ms from a host that never reads (%lu bytes)",
			     timeout_us() / 1000, total);
	}
	return total;
}

void vsock_stall(void)
{
	uint64_t bytes = param_u64("bulkhead.bytes", 1048576), stuck;
	struct xfer x;
	struct vs_conn *a, *b;

	vs_open();
	a = open_or_fail(port_param());
	stuck = fill_until_stuck(a, 200000);
	cprintf(TAG "stall: port %u took %lu bytes and then no more\n", port_param(), stuck);
	b = open_or_fail(port_param() + 1);
	xfer_start(&x, b, param_u64("bulkhead.seed", 1), bytes);
	xfer_all(&x, 1);
	cprintf(TAG "stall: port %u: %lu bytes crc32 0x%08x, while port %u stays stuck\n", port_param() + 1,
		bytes, x.crc, port_param());
	if (a->state != VS_OPEN || vs_credit(a) >= VS_PKT)
		fail("vsock: the stalled connection is %s with credit %u", a->state == VS_OPEN ? "open" : "gone",
		     vs_credit(a));
	vs_close(a);
	check_bad();
	pass();
}

/* ---- vsock-bench ---- */

static uint64_t median(uint64_t *v, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? v[n / 2] : 0;
}

static void bench_connect(uint32_t port, unsigned int n)
{
	static uint64_t t[1024];

	if (n > nitems(t))
		n = nitems(t);
	for (unsigned int i = 0; i < n; i++) {
		struct vs_conn *c = open_or_fail(port);

		t[i] = tsc_to_us((c->t_established - c->t_open) * 1000);
		vs_close(c);
		vs_poll();
	}
	cprintf(TAG "bench: connect-ns median %lu (%u connections)\n", median(t, n), n);
}

static void bench_rx(uint32_t port, uint64_t bytes)
{
	static uint8_t buf[16 * VS_PKT];
	uint64_t got = 0, t0 = 0, end = rdtsc() + us_to_tsc(timeout_us()), us;
	struct vs_conn *c = NULL;
	uint32_t crc = 0, len, sent = 0;
	char line[48];

	while (!c || c->state == VS_OPEN) {
		vs_poll();
		for (unsigned int i = 0; i < VS_MAX_CONNS && !c; i++)
			if (vs.conns[i].state == VS_OPEN && vs.conns[i].lport == port)
				c = &vs.conns[i];
		if (c) {
			uint32_t n = vs_read(c, buf, sizeof(buf));

			if (n && !t0)
				t0 = rdtsc();
			crc = crc32(crc, buf, n);
			got += n;
			if (c->peer_shut & VS_SHUT_SEND && !c->r_len)
				break;
		}
		if (rdtsc() > end)
			fail("vsock: bench rx: %lu of %lu bytes within %lu ms", got, bytes, timeout_us() / 1000);
	}
	us = tsc_to_us(rdtsc() - t0);
	if (got != bytes)
		fail("vsock: bench rx: %lu bytes, %lu expected", got, bytes);
	cprintf(TAG "bench: rx MB/s %lu (%lu bytes in %lu us)\n", us ? got / us : 0, got, us);
	/* the sender's check: the count and CRC-32 of what arrived */
	len = (uint32_t)snprintf(line, sizeof(line), "%lu 0x%08x\n", got, crc);
	while (sent < len && c->state == VS_OPEN && rdtsc() < end) {
		sent += vs_write(c, line + sent, len - sent);
		vs_poll();
	}
	vs_shutdown(c, VS_SHUT_RCV | VS_SHUT_SEND);
}

void vsock_bench(void)
{
	uint64_t bytes = param_u64("bulkhead.mib", 64) << 20, us;
	uint32_t port = port_param();
	struct xfer x;

	vs_open();
	vs.listen_port = port + 2; /* the host's sender may come at any time from now */
	cprintf(GUEST_TAG "ready\n");
	bench_connect(port, (unsigned int)param_u64("bulkhead.iterations", 100));
	xfer_start(&x, open_or_fail(port + 1), 1, bytes);
	xfer_all(&x, 1);
	us = tsc_to_us(x.t_done - x.t_first);
	cprintf(TAG "bench: tx MB/s %lu (%lu bytes in %lu us)\n", us ? bytes / us : 0, bytes, us);
	bench_rx(port + 2, bytes);
	check_bad();
	pass();
}
