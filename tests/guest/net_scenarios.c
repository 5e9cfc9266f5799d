/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The network scenarios (README.md): net-info, net-tx, net-echo, net-rx,
 * net-bench and net-two. All but net-info (and net-tx with bulkhead.peer=0)
 * need the host peer on the TAP (netpeer.py). Parameters: bulkhead.nic=N
 * (0 = eth0), bulkhead.frames=N (64), bulkhead.seed=S (1),
 * bulkhead.host-seed=S (0x5eed), bulkhead.size=N (0: 60..1514 by seq),
 * bulkhead.seconds=N (net-bench: 2; net-echo: 0, one round of bulkhead.frames),
 * bulkhead.window=N (128; 0 = a blind flood), and the driver options of
 * net_opts_from_cmdline().
 */
#include "net.h"

#define TAG GUEST_TAG
#define MAX_RTTS 4096
#define MAX_RX_FRAMES 65536
#define BENCH_ACK_EVERY 64 /* RXACK every this many flood frames (at most half the window) */
#define BENCH_WINDOW 128 /* flood frames the host keeps beyond the last RXACK */

static uint8_t *frame_buf(void)
{
	static uint8_t *b;

	if (!b && !(b = phys_alloc(NET_ETH_FRAME + 64, 64)))
		fail("out of guest memory");
	return b;
}

static struct nic *open_nic_n(unsigned int idx)
{
	struct net_opts o;
	struct nic *n;

	net_opts_from_cmdline(&o);
	n = net_open(idx, &o);
	net_describe(n, scenario_name);
	return n;
}

static struct nic *open_nic(void)
{
	return open_nic_n((unsigned int)param_u64("bulkhead.nic", 0));
}

static void hello(struct nic *n)
{
	if (net_hello(n))
		fail("%s", n->why);
	cprintf(TAG "%s: %s: host peer %02x:%02x:%02x:%02x:%02x:%02x\n", scenario_name, net_name(n), n->peer[0],
		n->peer[1], n->peer[2], n->peer[3], n->peer[4], n->peer[5]);
}

static uint32_t frames_param(void)
{
	uint64_t v = param_u64("bulkhead.frames", 64);

	if (!v || v > MAX_RX_FRAMES)
		fail("bulkhead.frames=%lu is not in 1..%u", v, MAX_RX_FRAMES);
	return (uint32_t)v;
}

static uint32_t size_param(void)
{
	uint64_t v = param_u64("bulkhead.size", 0);

	if (v && (v < NET_MIN_FRAME || v > NET_ETH_FRAME))
		fail("bulkhead.size=%lu is not in %u..%u", v, NET_MIN_FRAME, NET_ETH_FRAME);
	return (uint32_t)v;
}

void fmt_us_ns(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%lu.%lu", ns / 1000, ns / 100 % 10);
}

/* fmt_rate: "X.Y" MB/s (10^6 bytes) and frames/s for frames and bytes in us. */
static void fmt_rate(char *mb, char *fps, size_t len, uint64_t frames, uint64_t bytes, uint64_t us)
{
	if (!us)
		us = 1;
	snprintf(mb, len, "%lu.%lu", bytes / us, bytes * 10 / us % 10);
	snprintf(fps, len, "%lu", frames * 1000000 / us);
}

static void sort_u32(uint32_t *a, unsigned int n)
{
	unsigned int gap, i, j;

	for (gap = n / 2; gap; gap /= 2)
		for (i = gap; i < n; i++) {
			uint32_t v = a[i];

			for (j = i; j >= gap && a[j - gap] > v; j -= gap)
				a[j] = a[j - gap];
			a[j] = v;
		}
}

/* ---- the echo engine ---- */

struct echo_state {
	struct nic *n;
	uint8_t *want; /* the frame expected back */
	uint32_t seq, len, done;
	int waiting;
	uint64_t t0, deadline;
	uint32_t *rtt; /* ns */
	unsigned int nrtt;
};

int net_echo_run(struct nic *const *list, unsigned int count, uint32_t frames, uint32_t size, uint32_t seed,
		 uint32_t seq0, struct net_echo_result *res, char *why, size_t whylen)
{
	static uint8_t *want[NET_MAX_NICS];
	static uint32_t *rtts[NET_MAX_NICS];
	struct echo_state st[NET_MAX_NICS];
	uint8_t *f = frame_buf();
	uint64_t start = rdtsc();
	unsigned int i, left = count;

	if (!count || count > NET_MAX_NICS) {
		snprintf(why, whylen, "echo on %u NICs", count);
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (!want[i])
			want[i] = phys_alloc(NET_ETH_FRAME + 64, 64);
		if (!rtts[i])
			rtts[i] = phys_alloc(sizeof(uint32_t) * MAX_RTTS, 64);
		if (!want[i] || !rtts[i]) {
			snprintf(why, whylen, "out of guest memory");
			return -1;
		}
		memset(&st[i], 0, sizeof(st[i]));
		st[i].n = list[i];
		st[i].want = want[i];
		st[i].rtt = rtts[i];
		memset(&res[i], 0, sizeof(res[i]));
	}
	while (left) {
		int progress = 0;

		for (i = 0; i < count; i++) {
			struct echo_state *e = &st[i];
			struct nic *n = e->n;

			if (e->waiting || e->done == frames)
				continue;
			e->seq = seq0 + e->done;
			e->len = size ? size : netp_frame_size(e->seq);
			netp_data(f, net_dst(n), n->mac, NETP_ECHO, e->seq, seed, e->len);
			/* What comes back: the same frame, the MACs swapped. */
			memcpy(e->want, f + 6, 6);
			memcpy(e->want + 6, f, 6);
			copy_fast(e->want + 12, f + 12, e->len - 12);
			e->t0 = rdtsc();
			e->deadline = e->t0 + us_to_tsc((uint64_t)n->opts.timeout_ms * 1000);
			if (net_send_wait(n, f, e->len, 1 + e->seq % 3)) {
				snprintf(why, whylen, "%s", n->why);
				return -1;
			}
			e->waiting = 1;
		}
		for (i = 0; i < count; i++) {
			struct echo_state *e = &st[i];
			struct nic *n = e->n;
			uint8_t *g;
			uint32_t len;
			int r;

			if (!e->waiting)
				continue;
			while (e->waiting && (r = net_recv(n, &g, &len)) != 0) {
				uint64_t now = rdtsc();
				uint32_t k;

				if (r < 0) {
					snprintf(why, whylen, "%s: %s", net_name(n), n->why);
					return -1;
				}
				progress = 1;
				if (!netp_is(g, len, NETP_ECHO) || netp_seq(g) != e->seq) {
					if (netp_is(g, len, 0))
						n->rx_stale++;
					else
						n->rx_stray++;
					continue;
				}
				if (len != e->len) {
					snprintf(why, whylen, "%s: echo %u came back with %u bytes, sent %u", net_name(n),
						 e->seq, len, e->len);
					return -1;
				}
				for (k = 0; k < len && g[k] == e->want[k]; k++)
					;
				if (k < len) {
					snprintf(why, whylen,
						 "%s: echo %u (%u bytes) came back changed at byte %u: 0x%02x, want 0x%02x",
						 net_name(n), e->seq, len, k, g[k], e->want[k]);
					return -1;
				}
				if (e->nrtt < MAX_RTTS)
					e->rtt[e->nrtt++] = (uint32_t)tsc_to_us((now - e->t0) * 1000);
				res[i].bytes += len;
				e->waiting = 0;
				if (++e->done == frames)
					left--;
			}
			if (e->waiting && rdtsc() > e->deadline && n->opts.lossy) {
				res[i].lost++;
				e->waiting = 0;
				if (++e->done == frames)
					left--;
			} else if (e->waiting && rdtsc() > e->deadline) {
				snprintf(why, whylen, "%s: echo %u (%u bytes) not back within %u ms (Status 0x%x)",
					 net_name(n), e->seq, e->len, n->opts.timeout_ms, vdev_status(&n->dev));
				return -1;
			}
		}
		if (!progress) {
			for (i = 0; i < count; i++)
				if (net_tx_reclaim(st[i].n) < 0) {
					snprintf(why, whylen, "%s: %s", net_name(st[i].n), st[i].n->why);
					return -1;
				}
			net_wait(list, count);
		}
	}
	for (i = 0; i < count; i++) {
		struct echo_state *e = &st[i];

		res[i].frames = e->done;
		res[i].us = tsc_to_us(rdtsc() - start);
		if (e->nrtt) {
			sort_u32(e->rtt, e->nrtt);
			res[i].rtt_min_ns = e->rtt[0];
			res[i].rtt_med_ns = e->rtt[e->nrtt / 2];
			res[i].rtt_max_ns = e->rtt[e->nrtt - 1];
		}
	}
	return 0;
}

static void echo_or_fail(struct nic *const *list, unsigned int count, uint32_t frames, uint32_t size,
			 uint32_t seed, struct net_echo_result *res)
{
	static char why[256];

	if (net_echo_run(list, count, frames, size, seed, 0, res, why, sizeof(why)))
		fail("%s", why);
}

static void print_echo(const struct nic *n, const struct net_echo_result *r, uint32_t size, const char *name)
{
	char med[24], lo[24], hi[24];

	fmt_us_ns(med, sizeof(med), r->rtt_med_ns);
	fmt_us_ns(lo, sizeof(lo), r->rtt_min_ns);
	fmt_us_ns(hi, sizeof(hi), r->rtt_max_ns);
	if (size)
		cprintf(TAG "%s: %s: %u frames of %u bytes echoed intact, %lu bytes each way, %lu us\n", name,
			net_name(n), r->frames, size, r->bytes, r->us);
	else
		cprintf(TAG "%s: %s: %u frames of %u..%u bytes echoed intact, %lu bytes each way, %lu us\n", name,
			net_name(n), r->frames, NET_MIN_FRAME, NET_ETH_FRAME, r->bytes, r->us);
	cprintf(TAG "%s: %s: rx %lu buffers, up to %u per frame, %u frames in more than one; "
		    "%lu stray and %lu stale frames ignored; tx %lu kicks, %lu notifies\n",
		name, net_name(n), n->rx_bufs, n->max_bufs_per_frame, n->multi_buf_frames, n->rx_stray, n->rx_stale,
		n->kicks, n->notifies);
	cprintf(TAG "%s: rtt-us %s (min %s, max %s, median of %u on %s)\n", name, med, lo, hi, r->frames,
		net_name(n));
	if (n->opts.lossy)
		cprintf(TAG "%s: %s: %u of %u echoes lost\n", name, net_name(n), r->lost, r->frames);
}

/* ---- net-info ---- */

void net_info(void)
{
	unsigned int count = net_count(), i;
	struct net_opts o;

	cprintf(TAG "net-info: %u virtio-net devices among %u virtio-mmio devices\n", count, boot.ndev);
	net_opts_from_cmdline(&o);
	for (i = 0; i < count && i < NET_MAX_NICS; i++) {
		struct nic *n = net_open(i, &o);
		char f[512] = "";
		uint32_t qmax[2];
		unsigned int q;

		net_describe(n, "net-info");
		vdev_feature_names(n->dev.offered, VIRTIO_ID_NET, f, sizeof(f));
		cprintf(TAG "net-info: %s: version %u vendor 0x%x, features offered 0x%lx: %s\n", net_name(n),
			n->dev.version, n->dev.vendor_id, n->dev.offered, f);
		f[0] = '\0';
		vdev_feature_names(n->dev.features, VIRTIO_ID_NET, f, sizeof(f));
		cprintf(TAG "net-info: %s: features accepted 0x%lx: %s\n", net_name(n), n->dev.features, f);
		cprintf(TAG "net-info: %s: mac %02x:%02x:%02x:%02x:%02x:%02x (%s), status 0x%x: link %s (%s), "
			    "max_virtqueue_pairs %u\n",
			net_name(n), n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
			net_has(n, VIRTIO_NET_F_MAC) ? "config space" : "made up", n->status,
			n->status & VIRTIO_NET_S_LINK_UP ? "up" : "down",
			net_has(n, VIRTIO_NET_F_STATUS) ? "config space" : "assumed", n->max_pairs);
		for (q = 0; q < 2; q++) {
			vdev_write32(&n->dev, VIRTIO_MMIO_QUEUE_SEL, q);
			qmax[q] = vdev_read32(&n->dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
		}
		cprintf(TAG "net-info: %s: QueueNumMax rx %u tx %u, in use %u/%u\n", net_name(n), qmax[0], qmax[1],
			n->dev.vq[NET_RXQ].size, n->dev.vq[NET_TXQ].size);
	}
	pass();
}

/* ---- net-tx ---- */

void net_tx(void)
{
	struct nic *n = open_nic();
	uint32_t frames = frames_param(), size = size_param(), seq, seed = (uint32_t)param_u64("bulkhead.seed", 1);
	int peer = param_u64("bulkhead.peer", 1) != 0;
	uint8_t *f = frame_buf();
	const uint8_t *d;
	uint64_t t0, us, bytes = 0;

	if (peer)
		hello(n);
	d = net_dst(n);
	t0 = rdtsc();
	for (seq = 0; seq < frames; seq++) {
		uint32_t len = size ? size : netp_frame_size(seq);

		netp_data(f, d, n->mac, NETP_TX, seq, seed, len);
		if (net_send_wait(n, f, len, 1 + seq % 3))
			fail("frame %u: %s", seq, n->why);
		bytes += len;
	}
	if (net_tx_drain(n))
		fail("%s", n->why);
	us = tsc_to_us(rdtsc() - t0);
	cprintf(TAG "net-tx: %s: sent %u frames, %lu bytes, seed %u, to %02x:%02x:%02x:%02x:%02x:%02x in %lu us "
		    "(%lu kicks, %lu notifies)\n",
		net_name(n), frames, bytes, seed, d[0], d[1], d[2], d[3], d[4], d[5], us, n->kicks, n->notifies);
	if (peer) {
		uint32_t ok, bad, badop;

		if (net_ctrl(n, NETP_REPORT, NULL, 0, NETP_REPORT_ACK, n->opts.timeout_ms))
			fail("%s", n->why);
		ok = netp_a(n->ctrl_reply, 0);
		bad = netp_a(n->ctrl_reply, 1);
		badop = netp_a(n->ctrl_reply, 2);
		cprintf(TAG "net-tx: host peer: %u frames intact, %u bad, %u unexpected\n", ok, bad, badop);
		if (ok != frames || bad || badop)
			fail("the host peer got %u of %u frames intact, %u bad", ok, frames, bad + badop);
	}
	pass();
}

/* ---- net-echo ---- */

void net_echo(void)
{
	struct nic *n = open_nic();
	uint32_t frames = frames_param(), size = size_param(), seed = (uint32_t)param_u64("bulkhead.seed", 1);
	struct net_echo_result r;

	uint64_t until = rdtsc() + us_to_tsc(param_u64("bulkhead.seconds", 0) * 1000000);
	struct net_echo_result round;
	uint32_t seq0 = 0;
	static char why[256];

	hello(n);
	echo_or_fail(&n, 1, frames, size, seed, &r);
	/* bulkhead.seconds=N: more rounds of frames until N seconds have gone by; the
	 * figures printed add up every round but the round trips, which are the last's */
	while (rdtsc() < until) {
		seq0 += frames;
		if (net_echo_run(&n, 1, frames, size, seed, seq0, &round, why, sizeof(why)))
			fail("%s", why);
		round.frames += r.frames;
		round.bytes += r.bytes;
		round.us += r.us;
		round.lost += r.lost;
		r = round;
	}
	print_echo(n, &r, size, "net-echo");
	if (param_u64("bulkhead.expect-multi", 0) && !n->multi_buf_frames)
		fail("no frame spanned more than one rx buffer");
	pass();
}

/* ---- net-rx ---- */

/* rx_count: receive frames from the host until all of [0, frames) arrived intact; FAILs. */
static void rx_count(struct nic *n, uint32_t frames, uint32_t size, uint32_t hseed, uint32_t send_seq,
		     uint64_t *bytes)
{
	static uint8_t *seen;
	uint64_t end = rdtsc() + us_to_tsc((uint64_t)n->opts.timeout_ms * 1000);
	uint32_t got = 0;

	if (!seen && !(seen = phys_alloc(MAX_RX_FRAMES / 8, 64)))
		fail("out of guest memory");
	memset(seen, 0, MAX_RX_FRAMES / 8);
	while (got < frames) {
		uint8_t *f;
		uint32_t len, seq, want;
		int64_t bad;
		int r = net_recv(n, &f, &len);

		if (r < 0)
			fail("%s", n->why);
		if (!r) {
			if (rdtsc() > end)
				fail("%u of %u frames arrived within %u ms (Status 0x%x)", got, frames,
				     n->opts.timeout_ms, vdev_status(&n->dev));
			net_wait(&n, 1);
			continue;
		}
		end = rdtsc() + us_to_tsc((uint64_t)n->opts.timeout_ms * 1000);
		if (netp_is(f, len, NETP_SENT) && netp_seq(f) == send_seq)
			fail("the host sent %u frames; %u of %u arrived", netp_a(f, 0), got, frames);
		if (!netp_is(f, len, NETP_RX)) {
			if (netp_is(f, len, 0))
				n->rx_stale++;
			else
				n->rx_stray++;
			continue;
		}
		seq = netp_seq(f);
		if (seq >= frames)
			fail("frame seq %u is beyond the %u asked for", seq, frames);
		if (seen[seq / 8] & (1u << (seq % 8)))
			fail("frame %u arrived twice", seq);
		want = size ? size : netp_frame_size(seq);
		if (len != want)
			fail("frame %u has %u bytes, want %u", seq, len, want);
		if (netp_arg(f) != hseed)
			fail("frame %u has seed 0x%x, want 0x%x", seq, netp_arg(f), hseed);
		bad = netp_check(f, len, NETP_RX);
		if (bad >= 0)
			fail("frame %u (%u bytes) is corrupt at byte %ld", seq, len, bad);
		seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
		got++;
		*bytes += len;
	}
}

void net_rx(void)
{
	struct nic *n = open_nic();
	uint32_t frames = frames_param(), size = size_param();
	uint32_t hseed = (uint32_t)param_u64("bulkhead.host-seed", 0x5eed);
	uint32_t a[5] = { frames, 0, hseed, size, 0 };
	uint64_t t0, us, bytes = 0;

	hello(n);
	t0 = rdtsc();
	if (net_ctrl(n, NETP_SEND, a, 5, 0, 0))
		fail("%s", n->why);
	rx_count(n, frames, size, hseed, n->ctrl_seq, &bytes);
	us = tsc_to_us(rdtsc() - t0);
	cprintf(TAG "net-rx: %s: %u frames, %lu bytes, from the host with seed 0x%x, all intact, in %lu us\n",
		net_name(n), frames, bytes, hseed, us);
	cprintf(TAG "net-rx: %s: rx %lu buffers, up to %u per frame; %lu stray and %lu stale frames ignored; "
		    "%lu kicks, %lu notifies\n",
		net_name(n), n->rx_bufs, n->max_bufs_per_frame, n->rx_stray, n->rx_stale, n->kicks, n->notifies);
	pass();
}

/* ---- net-bench ---- */

static void bench_tx(struct nic *n, uint64_t seconds, uint32_t size, uint32_t seed)
{
	uint8_t *f = frame_buf();
	uint64_t t0, t_end, count = 0, us, host;
	char mb[24], fps[24];

	netp_data(f, net_dst(n), n->mac, NETP_BENCH, 0, seed, size);
	t0 = rdtsc();
	t_end = t0 + us_to_tsc(seconds * 1000000);
	while (rdtsc() < t_end) {
		unsigned int sent = 0;
		int r;

		if (net_tx_reclaim(n) < 0)
			fail("%s", n->why);
		for (;;) {
			put_le32(f + NETP_OFF_SEQ, (uint32_t)count);
			r = net_send(n, f, size, 1, 1);
			if (r)
				break;
			count++;
			sent++;
		}
		if (r < -1)
			fail("%s", n->why);
		if (sent)
			net_kick(n, NET_TXQ);
		else
			net_wait(&n, 1);
	}
	if (net_tx_drain(n))
		fail("%s", n->why);
	us = tsc_to_us(rdtsc() - t0);
	fmt_rate(mb, fps, sizeof(mb), count, count * size, us);
	cprintf(TAG "net-bench: tx frames/s %s MB/s %s (%lu frames of %u bytes in %lu us, %lu kicks, "
		    "%lu notifies)\n",
		fps, mb, count, size, us, n->kicks, n->notifies);
	if (net_ctrl(n, NETP_REPORT, NULL, 0, NETP_REPORT_ACK, n->opts.timeout_ms))
		fail("%s", n->why);
	host = netp_a(n->ctrl_reply, 4);
	cprintf(TAG "net-bench: tx: the host peer counted %lu of %lu frames\n", host, count);
}

static void bench_rx(struct nic *n, uint64_t seconds, uint32_t size, uint32_t hseed, uint32_t window)
{
	uint32_t a[3] = { size, hseed, window };
	uint64_t t0 = 0, t_end = 0, end, count = 0, bytes = 0, bad = 0, us, sent, acked = 0;
	uint32_t ack_every = window / 2 < BENCH_ACK_EVERY ? window / 2 : BENCH_ACK_EVERY;
	char mb[24], fps[24];

	if (!ack_every)
		ack_every = 1;
	if (net_ctrl(n, NETP_FLOOD, a, 3, 0, 0))
		fail("%s", n->why);
	end = rdtsc() + us_to_tsc((uint64_t)n->opts.timeout_ms * 1000);
	for (;;) {
		uint8_t *f;
		uint32_t len;
		int r = net_recv(n, &f, &len);
		uint64_t now = rdtsc();

		if (r < 0)
			fail("%s", n->why);
		if (t0 && now >= t_end)
			break;
		if (!r) {
			if (!t0 && now > end)
				fail("no flood frame within %u ms", n->opts.timeout_ms);
			if (net_tx_reclaim(n) < 0)
				fail("%s", n->why);
			net_wait(&n, 1);
			continue;
		}
		if (!netp_is(f, len, NETP_RX)) {
			n->rx_stray++;
			continue;
		}
		if (!t0) {
			/* The clock starts at the first frame. */
			t0 = now;
			t_end = t0 + us_to_tsc(seconds * 1000000);
		}
		if (netp_check(f, len, NETP_RX) >= 0 || len != size)
			bad++;
		count++;
		bytes += len;
		if (window && count - acked >= ack_every) {
			uint32_t c = (uint32_t)count;

			/* Flow control: the host keeps at most window frames beyond this. */
			if (net_ctrl(n, NETP_RXACK, &c, 1, 0, 0))
				fail("%s", n->why);
			acked = count;
		}
	}
	us = tsc_to_us(rdtsc() - t0);
	if (net_ctrl(n, NETP_STOP, NULL, 0, NETP_STOPPED, n->opts.timeout_ms))
		fail("%s", n->why);
	sent = netp_a(n->ctrl_reply, 0) | (uint64_t)netp_a(n->ctrl_reply, 1) << 32;
	fmt_rate(mb, fps, sizeof(mb), count, bytes, us);
	cprintf(TAG "net-bench: rx frames/s %s MB/s %s (%lu frames of %u bytes in %lu us, %lu corrupt; "
		    "the host sent %lu, window %u, the TAP queue dropped %u)\n",
		fps, mb, count, size, us, bad, sent, window, netp_a(n->ctrl_reply, 2));
	if (bad)
		fail("%lu of %lu flood frames were corrupt", bad, count);
}

void net_bench(void)
{
	struct nic *n = open_nic();
	uint64_t seconds = param_u64("bulkhead.seconds", 2);
	uint32_t size = size_param(), seed = (uint32_t)param_u64("bulkhead.seed", 1);
	uint32_t hseed = (uint32_t)param_u64("bulkhead.host-seed", 0x5eed);
	struct net_echo_result r;
	char med[24];

	if (!size)
		size = NET_ETH_FRAME;
	if (!seconds)
		seconds = 1;
	hello(n);
	cprintf(TAG "net-bench: %lu s each way, frames of %u bytes\n", seconds, size);
	bench_tx(n, seconds, size, seed);
	bench_rx(n, seconds, size, hseed, (uint32_t)param_u64("bulkhead.window", BENCH_WINDOW));
	echo_or_fail(&n, 1, frames_param(), 0, seed, &r);
	fmt_us_ns(med, sizeof(med), r.rtt_med_ns);
	cprintf(TAG "net-bench: echo rtt-us %s (median of %u frames of %u..%u bytes)\n", med, r.frames,
		NET_MIN_FRAME, NET_ETH_FRAME);
	pass();
}

/* ---- net-two ---- */

void net_two(void)
{
	struct nic *n[2];
	struct net_echo_result r[2];
	uint32_t frames = frames_param(), size = size_param(), seed = (uint32_t)param_u64("bulkhead.seed", 1);
	unsigned int i;

	if (net_count() < 2)
		fail("net-two needs two virtio-net devices; %u found", net_count());
	n[0] = open_nic_n(0);
	n[1] = open_nic_n(1);
	if (!memcmp(n[0]->mac, n[1]->mac, 6))
		fail("both NICs have the same MAC");
	hello(n[0]);
	hello(n[1]);
	echo_or_fail(n, 2, frames, size, seed, r);
	for (i = 0; i < 2; i++)
		print_echo(n[i], &r[i], size, "net-two");
	pass();
}
