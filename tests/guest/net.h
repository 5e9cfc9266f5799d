/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test guest's virtio-net driver (virtio 1.2 section 5.1) over virtio.h,
 * and the frame protocol the network scenarios speak with a host peer on the
 * TAP (tests/guest/netpeer.py implements the host side).
 *
 * Queues: 0 receive, 1 transmit. Every frame, both ways, has the 12-byte
 * virtio_net_hdr in front (VERSION_1). Receive buffers are posted in bulk and
 * refilled as the device uses them; with MRG_RXBUF a frame may span several
 * of them (num_buffers in the first one's header). Everything polls the used
 * rings from ring 3 unless bulkhead.irq=1.
 */
#ifndef BULKHEAD_TESTS_GUEST_NET_H
#define BULKHEAD_TESTS_GUEST_NET_H

#include "virtio.h"

#define VIRTIO_ID_NET 1
#define NET_RXQ 0
#define NET_TXQ 1

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_MQ 22

/* Config space (struct virtio_net_config). */
#define NET_CFG_MAC 0
#define NET_CFG_STATUS 6
#define NET_CFG_MAX_PAIRS 8
#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr (5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4

struct net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct net_hdr) == 12, "virtio_net_hdr with VERSION_1");

#define NET_HDR 12u
#define NET_MAX_FRAME 65550u /* largest frame behind a header: 64 KiB GSO + Ethernet */
#define NET_MIN_FRAME 60u /* Ethernet minimum without the FCS */
#define NET_ETH_FRAME 1514u /* 1500-byte MTU frame without the FCS */
#define NET_RXBUF_DEFAULT (NET_HDR + NET_ETH_FRAME) /* 1526 (5.1.6.3.1) */
#define NET_RXBUF_BIG (NET_HDR + NET_MAX_FRAME) /* 65562: non-mergeable with guest TSO */
#define NET_MAX_NICS 4
#define NET_TX_SEGS 3 /* descriptors per transmitted frame, at most */
#define NET_SEG_GAP 64 /* bytes between the descriptors of one buffer */

/* ---- the frame protocol (netpeer.py) ---- */
/*
 * Every protocol frame is Ethernet with ethertype 0x88b5 (IEEE local
 * experimental) and this layout (multi-byte fields little-endian):
 *
 *   0  dst MAC        6  src MAC        12 ethertype 0x88b5 (big-endian)
 *   14 le32 magic "bhnt"   18 le16 op   20 le16 length (the whole frame,
 *   0 if above 65535)      22 le32 seq  26 le32 arg
 *   30 data: for data frames (TX, ECHO, RX, BENCH, BAD) the pattern of
 *      seed = arg and seq: byte i is byte (seq << 16) + i of the pattern
 *      stream of pattern.py (words splitmix64(seed ^ (seq << 13 | i / 8)));
 *      for control frames, le32 a[0..7].
 *
 * Data frames are 60..1514 bytes (frame_size(seq) by default); control frames 64.
 */
#define NETP_ETHERTYPE 0x88b5
#define NETP_MAGIC 0x746e6862u /* "bhnt" */
#define NETP_OFF_MAGIC 14
#define NETP_OFF_OP 18
#define NETP_OFF_LEN 20
#define NETP_OFF_SEQ 22
#define NETP_OFF_ARG 26
#define NETP_OFF_DATA 30
#define NETP_CTRL_LEN 64
#define NETP_NARGS 8

enum netp_op {
	NETP_TX = 1, /* guest -> host: checked and counted (net-tx) */
	NETP_ECHO = 2, /* guest -> host: sent back with the MACs swapped */
	NETP_RX = 3, /* host -> guest: data (net-rx, floods) */
	NETP_BENCH = 4, /* guest -> host: counted, not checked */
	NETP_BAD = 5, /* a frame the device must not send: the host counts any it sees */
	NETP_HELLO = 16, /* guest -> host (broadcast): a[0] = flags; answered by HELLO_ACK */
	NETP_HELLO_ACK = 17, /* host -> guest, from the host's MAC; resets the host's tallies */
	NETP_SEND = 18, /* a[0] count, a[1] first seq, a[2] seed, a[3] size (0: frame_size),
			   a[4] flags (1: quiet, no SENT) */
	NETP_SENT = 19, /* after the frames: a[0] = count */
	NETP_FLOOD = 20, /* a[0] size, a[1] seed, a[2] window (0: none): RX frames until STOP */
	NETP_STOP = 21,
	NETP_STOPPED = 22, /* a[0], a[1]: frames sent (low, high), a[2]: dropped by the TAP queue */
	NETP_REPORT = 23,
	NETP_REPORT_ACK = 24, /* a[0] TX ok, a[1] TX bad, a[2] BAD seen, a[3] ECHO, a[4] BENCH, a[5] read */
	NETP_RXACK = 25, /* guest -> host during a flood: a[0] frames received */
};
#define NETP_SEND_QUIET 1

/* frame_size: the default size of data frame seq: 60, 1514, then 60..1514 from splitmix64. */
uint32_t netp_frame_size(uint32_t seq);
/* netp_data: build data frame op/seq/seed of len bytes into f (dst, src given). */
void netp_data(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], unsigned int op, uint32_t seq,
	       uint32_t seed, uint32_t len);
/* netp_check: -1 if f[0..len) is a good data frame of op (its seed in arg, pattern, length
 * field), else the offset of the first bad byte. */
int64_t netp_check(const uint8_t *f, uint32_t len, unsigned int op);
/* netp_is: the frame is a protocol frame (ethertype and magic) of op (any op if 0). */
int netp_is(const uint8_t *f, uint32_t len, unsigned int op);
static inline uint16_t netp_op(const uint8_t *f) { return (uint16_t)(f[NETP_OFF_OP] | f[NETP_OFF_OP + 1] << 8); }
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t netp_seq(const uint8_t *f) { return get_le32(f + NETP_OFF_SEQ); }
static inline uint32_t netp_arg(const uint8_t *f) { return get_le32(f + NETP_OFF_ARG); }
static inline uint32_t netp_a(const uint8_t *f, unsigned int i) { return get_le32(f + NETP_OFF_DATA + 4 * i); }

/* ---- driver ---- */

struct net_opts {
	uint64_t want; /* feature bits negotiated when offered (from bulkhead.mrg=0 and friends) */
	int irq; /* completions by interrupt (bulkhead.irq, 0) */
	unsigned int qsize; /* queue size asked for (bulkhead.qsize, 256) */
	uint32_t rxbuf; /* bytes per rx buffer, header included (bulkhead.rxbuf) */
	unsigned int rxsegs; /* descriptors per rx buffer: 1, or 2 = header apart (bulkhead.rxsegs, 1) */
	unsigned int timeout_ms; /* waits longer than this fail (bulkhead.timeout-ms, 5000) */
	int lossy; /* an echo not back within timeout_ms is counted lost, not a failure (bulkhead.lossy) */
};

struct nic {
	struct vdev dev;
	unsigned int index; /* among the virtio-net devices: eth0 = 0 */
	struct net_opts opts;
	/* config space */
	uint8_t mac[6]; /* from config space with MAC, else made up */
	uint16_t status; /* with STATUS; else LINK_UP assumed */
	uint16_t max_pairs;
	int mrg; /* MRG_RXBUF negotiated */
	/* receive: nrx buffers of rx_stride bytes; rxbuf bytes of each are posted */
	uint8_t *rxmem;
	uint32_t rx_stride, rxbuf;
	unsigned int nrx, rxsegs;
	uint16_t *rx_free; /* buffers not posted */
	unsigned int nrx_free;
	int no_refill; /* net_recv does not post used buffers again (net-hostile) */
	/* the frame being received (a mergeable frame is gathered here) */
	uint8_t *frame; /* NET_HDR + NET_MAX_FRAME */
	uint32_t frame_len; /* bytes behind the header so far */
	unsigned int frag_have, frag_want;
	struct net_hdr rx_hdr; /* the first buffer's header */
	/* transmit: ntx slots of tx_stride bytes */
	uint8_t *txmem;
	uint32_t tx_stride;
	unsigned int ntx;
	uint16_t *tx_free;
	unsigned int ntx_free;
	/* the host peer */
	uint8_t peer[6];
	int peer_known;
	uint32_t ctrl_seq;
	uint8_t ctrl_reply[NETP_CTRL_LEN];
	/* counters */
	uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes, rx_bufs, rx_stray, rx_stale;
	uint64_t kicks, notifies, irqs_at_open;
	unsigned int max_bufs_per_frame, multi_buf_frames;
	uint64_t nb_not_one; /* non-mergeable frames whose num_buffers was not 1 */
	char why[192]; /* the last error */
};

/* net_opts_from_cmdline: bulkhead.mrg, .csum, .guest-csum, .host-tso4, .host-tso6,
 * .guest-tso4, .guest-tso6, .mac, .status, .indirect, .event-idx (all 1), .irq, .qsize,
 * .rxbuf, .rxsegs, .timeout-ms. */
void net_opts_from_cmdline(struct net_opts *o);
/* net_count: how many virtio-net devices the command line lists. */
unsigned int net_count(void);
/* net_open: set up NIC idx (posting every rx buffer); FAILs the scenario if it cannot. */
struct nic *net_open(unsigned int idx, const struct net_opts *o);
/* net_setup: (re)initialize n from scratch with n->opts: reset, features, config, queues,
 * DRIVER_OK, then post nrx rx buffers of rxbuf bytes (all if nrx < 0). 0 or -1 (n->why). */
int net_setup(struct nic *n, int nrx, uint32_t rxbuf);
static inline int net_has(const struct nic *n, unsigned int bit) { return (n->dev.features >> bit) & 1; }
static inline int net_offers(const struct nic *n, unsigned int bit) { return (n->dev.offered >> bit) & 1; }
/* net_name: "eth0"... */
const char *net_name(const struct nic *n);
/* net_describe: one line on the NIC, its features and buffers. */
void net_describe(const struct nic *n, const char *tag);

/* net_rx_post: post up to count free rx buffers of n->rxbuf bytes and kick; the number posted. */
unsigned int net_rx_post(struct nic *n, unsigned int count);
/* net_recv: take one received frame (pointer and length, header not included; valid until
 * the next call); 1, 0 if none is complete yet, -1 if the device broke the rules (n->why).
 * Used buffers are posted again at once. */
int net_recv(struct nic *n, uint8_t **frame, uint32_t *len);
/* net_tx_reclaim: take the device's used tx buffers back; the number, or -1 (n->why). */
int net_tx_reclaim(struct nic *n);
/* net_send: queue frame f[0..len) (14 <= len <= NET_ETH_FRAME) with a zero header in nsegs
 * descriptors (1..3) and kick unless nokick; 0, -1 when there is no room now, -2 on an
 * error (a bad length, or the device broke the ring: n->why). */
int net_send(struct nic *n, const void *f, uint32_t len, unsigned int nsegs, int nokick);
/* net_send_wait: net_send, reclaiming and waiting up to the timeout for a free slot; 0 or -1. */
int net_send_wait(struct nic *n, const void *f, uint32_t len, unsigned int nsegs);
/* net_tx_drain: wait until the device has used every queued tx buffer; 0 or -1 (n->why). */
int net_tx_drain(struct nic *n);
/* net_wait: nothing happened; spin once, or sleep until an interrupt of any of nics. */
void net_wait(struct nic *const *nics, unsigned int count);
/* net_kick: notify queue q if the device asked; counts kicks and notifies. */
void net_kick(struct nic *n, unsigned int q);

/* ---- the host peer ---- */

/* net_hello: find the host peer (HELLO to broadcast, resent every 100 ms, up to the
 * timeout); 0, or -1 (n->why). Sets n->peer. */
int net_hello(struct nic *n);
/* net_ctrl: send control frame op with args a[0..na); if reply is nonzero, wait (up to
 * timeout_ms, sending the request again every 250 ms) for that op with the same seq,
 * copied into n->ctrl_reply. Frames that arrive meanwhile are counted as stale or stray.
 * 0 or -1 (n->why). */
int net_ctrl(struct nic *n, unsigned int op, const uint32_t *a, unsigned int na, unsigned int reply,
	     unsigned int timeout_ms);
/* net_dst: where data frames go: the peer's MAC when known, else broadcast. */
const uint8_t *net_dst(const struct nic *n);
extern const uint8_t net_broadcast[6];

/* ---- the echo engine (net_scenarios.c) ---- */

struct net_echo_result {
	uint32_t frames; /* echoed */
	uint64_t bytes; /* each way */
	uint32_t rtt_min_ns, rtt_med_ns, rtt_max_ns; /* round trips, from the TSC */
	uint64_t us; /* the whole run */
	uint32_t lost; /* with opts.lossy: echoes that did not come back */
};

/* net_echo_run: frames seq0 .. seq0 + frames - 1 through the host peer on each of
 * nics[0..count) at once, one in flight per NIC, of size bytes (0: netp_frame_size(seq)) in
 * 1-3 descriptors; every echo must come back byte for byte (the MACs swapped), or with
 * opts.lossy, not at all (counted). 0, or -1 with why. */
int net_echo_run(struct nic *const *list, unsigned int count, uint32_t frames, uint32_t size, uint32_t seed,
		 uint32_t seq0, struct net_echo_result *res, char *why, size_t whylen);
/* fmt_us_ns: "X.Y" microseconds for ns nanoseconds. */
void fmt_us_ns(char *buf, size_t len, uint64_t ns);

/* ---- scenarios (net_scenarios.c, net_hostile.c) ---- */

void net_info(void);
void net_tx(void);
void net_echo(void);
void net_rx(void);
void net_bench(void);
void net_two(void);
void net_hostile(void);

#endif
