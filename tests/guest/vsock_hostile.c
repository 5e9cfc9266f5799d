/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vsock-hostile: a guest that breaks the virtio-vsock rules on purpose. Each
 * case starts from a reset device, commits one violation and waits up to
 * 1 s for the device's answer: an RST to the offending packet's ports (for
 * a bad header, an op the connection cannot take, a port no host program
 * listens on, data beyond the credit the device gave), nothing but the tx
 * buffer back (a header too short to answer), DEVICE_NEEDS_RESET (an rx
 * buffer smaller than a header), or TRANSPORT_RESET on the event queue
 * after a reset that dropped a connection. Then it resets the device, sets
 * it up again and checks that a connection to a port without a listener
 * still gets its RST, and that the device sent nothing it must not have.
 * One line per case: "vsock-hostile: NAME: what ... ok (outcome)". The host
 * side: a sink at bulkhead.port (reads, answers at its end), a program that
 * never reads at port + 1, nothing at port + 100.
 */
#include "vsock.h"

#define TAG GUEST_TAG "vsock-hostile: "
#define OUTCOME_US 1000000
#define NO_REPLY_US 300000
#define BIG (64u * 1024)

enum {
	O_NONE = 0,
	O_RST = 1 << 0, /* RST to the case's ports */
	O_USED = 1 << 1, /* the packet taken, nothing sent back */
	O_NEEDS_RESET = 1 << 2,
	O_EVENT = 1 << 3, /* TRANSPORT_RESET */
	O_WRONG = 1 << 4,
};

struct hcase {
	const char *name, *what;
	unsigned int (*run)(void);
	unsigned int accept;
};

static char note[160];
static uint8_t *big; /* BIG bytes of payload */

static uint32_t port(void)
{
	return (uint32_t)param_u64("bulkhead.port", 5000);
}

static uint32_t nobody(void)
{
	return port() + 100;
}

/*
 * Wait for an RST to (lport, rport), NEEDS_RESET, or (event set) TRANSPORT_RESET.
 * A reset in the suite's own steps also brings that event: only the case that
 * waits for it looks at it.
 */
static unsigned int wait_for(uint32_t lport, uint32_t rport, uint64_t us, int event)
{
	uint64_t end = rdtsc() + us_to_tsc(us);
	unsigned int rst0 = vs.stray_rst;

	for (;;) {
		uint32_t st = vdev_status(&vs.dev);

		vs_poll();
		if (st & VIRTIO_NEEDS_RESET) {
			snprintf(note, sizeof(note), "Status 0x%x, InterruptStatus 0x%x", st,
				 vdev_read32(&vs.dev, VIRTIO_MMIO_INTERRUPT_STATUS));
			return O_NEEDS_RESET;
		}
		if (vs.stray_rst != rst0) {
			if (vs.last.op != VS_OP_RST || vs.last.dst_port != lport || vs.last.src_port != rport) {
				snprintf(note, sizeof(note), "RST to ports %u <- %u, not %u <- %u", vs.last.dst_port,
					 vs.last.src_port, lport, rport);
				return O_WRONG;
			}
			snprintf(note, sizeof(note), "RST to %u from %u", lport, rport);
			return O_RST;
		}
		if (event && vs.resets_seen)
			return O_EVENT;
		if (vs.bad) {
			snprintf(note, sizeof(note), "%s", vs.why);
			return O_WRONG;
		}
		if (rdtsc() > end) {
			snprintf(note, sizeof(note), "nothing within %lu ms", us / 1000);
			return O_NONE;
		}
		cpu_relax();
	}
}

static unsigned int wait_answer(uint32_t lport, uint32_t rport, uint64_t us)
{
	return wait_for(lport, rport, us, 0);
}

/* A hostile header h (whole) with payload: the answer must be an RST to h's ports. */
static unsigned int bad_pkt(struct vs_hdr h, const void *payload, uint32_t len)
{
	vs_send_raw(&h, sizeof(h), payload, len);
	return wait_answer(h.src_port, h.dst_port, OUTCOME_US);
}

static struct vs_hdr base(uint16_t op)
{
	return vs_hdr_for(NULL, 40000, port(), op);
}

static unsigned int c_type(void)
{
	struct vs_hdr h = base(VS_OP_REQUEST);

	h.type = 2; /* seqpacket, never negotiated */
	return bad_pkt(h, NULL, 0);
}

static unsigned int c_src_cid(void)
{
	struct vs_hdr h = base(VS_OP_REQUEST);

	h.src_cid = vs.cid + 1;
	return bad_pkt(h, NULL, 0);
}

static unsigned int c_dst_guest(void)
{
	struct vs_hdr h = base(VS_OP_REQUEST);

	h.dst_cid = vs.cid;
	return bad_pkt(h, NULL, 0);
}

static unsigned int c_dst_any(void)
{
	struct vs_hdr h = base(VS_OP_REQUEST);

	h.dst_cid = 0xffffffffull;
	return bad_pkt(h, NULL, 0);
}

static unsigned int c_op(void)
{
	return bad_pkt(base(9), NULL, 0);
}

static unsigned int c_len_beyond_chain(void)
{
	struct vs_hdr h = base(VS_OP_RW);

	h.len = 100;
	return bad_pkt(h, big, 16);
}

static unsigned int c_len_huge(void)
{
	struct vs_hdr h = base(VS_OP_RW);

	h.len = 0xffffffffu;
	return bad_pkt(h, big, BIG);
}

static unsigned int c_payload_on_request(void)
{
	struct vs_hdr h = base(VS_OP_REQUEST);

	h.len = 8;
	return bad_pkt(h, big, 8);
}

static unsigned int c_rw_nothing(void)
{
	struct vs_hdr h = base(VS_OP_RW);

	h.len = 16;
	return bad_pkt(h, big, 16);
}

static unsigned int c_shutdown_flags(void)
{
	struct vs_hdr h = base(VS_OP_SHUTDOWN);

	h.flags = 4;
	return bad_pkt(h, NULL, 0);
}

static unsigned int c_no_listener(void)
{
	return bad_pkt(vs_hdr_for(NULL, 40001, nobody(), VS_OP_REQUEST), NULL, 0);
}

/* 20 bytes: not a header, so nobody to answer; the buffer must come back all the same. */
static unsigned int c_short_header(void)
{
	struct vs_hdr h = base(VS_OP_REQUEST);
	uint64_t end = rdtsc() + us_to_tsc(OUTCOME_US);
	uint16_t used0 = vq_used_idx(&vs.dev.vq[VS_TXQ]);
	unsigned int o;

	vs_send_raw(&h, 20, NULL, 0);
	while (vq_used_idx(&vs.dev.vq[VS_TXQ]) == used0) {
		if (rdtsc() > end) {
			snprintf(note, sizeof(note), "the tx buffer never came back");
			return O_NONE;
		}
		cpu_relax();
	}
	o = wait_answer(h.src_port, h.dst_port, NO_REPLY_US);
	return o == O_NONE ? O_USED : o | O_WRONG;
}

/* Data beyond the credit: a host that never reads, 64 KiB at a time, credit or not. */
static unsigned int c_beyond_credit(void)
{
	struct vs_conn *c = vs_connect(port() + 1);
	uint32_t credit = 0;

	if (vs_wait_open(c, OUTCOME_US) <= 0) {
		snprintf(note, sizeof(note), "the connection to port %u did not open", port() + 1);
		return O_NONE;
	}
	for (unsigned int i = 0; i < 256 && c->state == VS_OPEN; i++) {
		struct vs_hdr h = vs_hdr_for(c, 0, 0, VS_OP_RW);
		uint64_t end = rdtsc() + us_to_tsc(20000);

		credit = vs_credit(c);
		h.len = BIG;
		vs_send_raw(&h, sizeof(h), big, BIG);
		c->tx_cnt += BIG;
		while (c->state == VS_OPEN && rdtsc() < end)
			vs_poll();
	}
	if (c->state != VS_CLOSED || !c->reset) {
		snprintf(note, sizeof(note), "no RST after 16 MiB beyond credit");
		return O_NONE;
	}
	if (credit >= BIG) {
		snprintf(note, sizeof(note), "RST with %u bytes of credit left for %u", credit, BIG);
		return O_WRONG;
	}
	snprintf(note, sizeof(note), "RST when %u bytes were sent on %u of credit", BIG, credit);
	return O_RST;
}

/* rx buffers of 20 bytes: the first packet the device sends cannot fit its header. */
static unsigned int c_rx_below_header(void)
{
	struct vq *rq = &vs.dev.vq[VS_RXQ];

	vs_reset();
	vs_open();
	/* take every posted rx buffer back by a reset, and post small ones instead */
	vs_reset();
	{
		const char *why = "";

		if (vdev_negotiate(&vs.dev, 0, &why) || vq_setup(&vs.dev, VS_RXQ, 16, 0, &why) ||
		    vq_setup(&vs.dev, VS_TXQ, VS_QSIZE, 0, &why) || vq_setup(&vs.dev, VS_EVQ, VS_NEVQ, 0, &why))
			fail("vsock setup: %s", why);
		vdev_driver_ok(&vs.dev);
	}
	for (unsigned int i = 0; i < 4; i++) {
		struct vq_buf b = { (uint64_t)(uintptr_t)(big + 64 * i), 20, 1 };

		(void)vq_add(rq, &b, 1, big);
	}
	vq_kick(&vs.dev, rq);
	{
		struct vs_hdr h = vs_hdr_for(NULL, 40002, nobody(), VS_OP_REQUEST);
		uint8_t *s = big + BIG / 2;
		struct vq_buf b = { (uint64_t)(uintptr_t)s, sizeof(h), 0 };

		memcpy(s, &h, sizeof(h));
		(void)vq_add(&vs.dev.vq[VS_TXQ], &b, 1, s);
		vq_kick(&vs.dev, &vs.dev.vq[VS_TXQ]);
	}
	{
		uint64_t end = rdtsc() + us_to_tsc(OUTCOME_US);

		while (!(vdev_status(&vs.dev) & VIRTIO_NEEDS_RESET)) {
			if (vq_used_idx(rq) != 0) {
				snprintf(note, sizeof(note), "the device used a 20-byte rx buffer (len %u)",
					 vq_used_elem(rq, 0)->len);
				return O_WRONG;
			}
			if (rdtsc() > end) {
				snprintf(note, sizeof(note), "no NEEDS_RESET within %u ms", OUTCOME_US / 1000);
				return O_NONE;
			}
			cpu_relax();
		}
	}
	snprintf(note, sizeof(note), "Status 0x%x", vdev_status(&vs.dev));
	return O_NEEDS_RESET;
}

/* A reset with a connection open: its host end closes, and the driver hears TRANSPORT_RESET. */
static unsigned int c_reset_event(void)
{
	struct vs_conn *c = vs_connect(port());

	if (vs_wait_open(c, OUTCOME_US) <= 0) {
		snprintf(note, sizeof(note), "the connection to port %u did not open", port());
		return O_NONE;
	}
	vs_reset();
	vs.resets_seen = 0;
	vs_open();
	return wait_for(0, 0, OUTCOME_US, 1);
}

static const struct hcase hcases[] = {
	{ "bad-type", "a REQUEST of type 2 (seqpacket)", c_type, O_RST },
	{ "src-cid", "a source CID that is not the guest's", c_src_cid, O_RST },
	{ "dst-guest", "a destination CID that is the guest's own", c_dst_guest, O_RST },
	{ "dst-any", "destination CID 0xffffffff", c_dst_any, O_RST },
	{ "unknown-op", "op 9", c_op, O_RST },
	{ "len-beyond-chain", "RW with len 100 and 16 bytes", c_len_beyond_chain, O_RST },
	{ "len-huge", "RW with len 0xffffffff", c_len_huge, O_RST },
	{ "payload-on-request", "a REQUEST with 8 bytes of payload", c_payload_on_request, O_RST },
	{ "rw-no-connection", "RW on no connection", c_rw_nothing, O_RST },
	{ "shutdown-flags", "SHUTDOWN with flag 4", c_shutdown_flags, O_RST },
	{ "no-listener", "a REQUEST to a port nobody listens on", c_no_listener, O_RST },
	{ "short-header", "a 20-byte packet", c_short_header, O_USED },
	{ "beyond-credit", "64 KiB packets to a host that never reads", c_beyond_credit, O_RST },
	{ "rx-below-header", "rx buffers of 20 bytes", c_rx_below_header, O_NEEDS_RESET },
	{ "reset-event", "a reset with a connection open", c_reset_event, O_EVENT },
};

static const char *outcome_name(unsigned int o)
{
	return o == O_RST ? "RST" : o == O_USED ? "used, no answer" : o == O_NEEDS_RESET ? "NEEDS_RESET"
	       : o == O_EVENT ? "TRANSPORT_RESET" : o & O_WRONG ? "WRONG" : "nothing";
}

void vsock_hostile(void)
{
	unsigned int passed = 0, failed = 0;
	char case_note[sizeof(note)];
	size_t only_len = 0;
	const char *only = param_get("bulkhead.case", &only_len);

	big = phys_alloc(BIG, 4096);
	if (!big)
		fail("vsock-hostile: out of guest memory");
	memset(big, 0xbd, BIG);
	vs_open();
	for (size_t i = 0; i < nitems(hcases); i++) {
		const struct hcase *c = &hcases[i];
		unsigned int o, alive;
		int ok;

		if (only && (strlen(c->name) != only_len || strncmp(c->name, only, only_len)))
			continue;
		vs_reset();
		vs_open();
		vs.bad = 0;
		vs.stray_rst = 0;
		vs.resets_seen = 0;
		note[0] = '\0';
		o = c->run();
		memcpy(case_note, note, sizeof(note));
		/* from reset again: the device must still answer (an RST where nobody listens) */
		vs_reset();
		vs_open();
		alive = c_no_listener();
		ok = o == c->accept && alive == O_RST && !vs.bad;
		cprintf(TAG "%s: %s ... %s (%s) %s%s%s%s\n", c->name, c->what, ok ? "ok" : "FAIL",
			outcome_name(o), case_note, alive == O_RST ? "" : "; after a reset: ",
			alive == O_RST ? "" : note, vs.bad ? "; bad packets" : "");
		if (ok)
			passed++;
		else
			failed++;
	}
	cprintf(TAG "%u passed, %u failed\n", passed, failed);
	if (failed || !passed)
		fail("vsock-hostile: %u of %u cases failed", failed, passed + failed);
	pass();
}
