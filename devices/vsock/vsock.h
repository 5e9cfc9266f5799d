/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-vsock device model (virtio 1.2 section 5.10), stream sockets
 * only, with Firecracker's "hybrid vsock" on the host side:
 *
 * - host to guest: a host program connects to the UNIX socket PATH (the
 *   supervisor made it and passed its listening fd), writes "CONNECT
 *   <port>\n" and, once the guest's listener on that port accepted, reads
 *   "OK <host_port>\n" and then has a byte stream to it;
 * - guest to host: a guest connection to CID 2, port P reaches the host
 *   program listening on the UNIX socket PATH_P, which the supervisor
 *   connects to on the device's request (brokered: the device opens no path).
 *
 * Every header field from the guest is hostile: lengths are bounded by the
 * chain and by the credit the device advertised, ops and types are checked,
 * the source must be the guest's CID and the destination the host's (2);
 * anything else gets RST. Each connection buffers at most what its credit
 * allows (VSOCK_BUF_ALLOC bytes) and every host socket is non-blocking, so a
 * host program that stops reading holds up its own connection only.
 *
 * Separate from its process so that unit tests and fuzzers drive it with
 * socketpairs for host connections and their own broker.
 */
#ifndef BULKHEAD_DEVICES_VSOCK_VSOCK_H
#define BULKHEAD_DEVICES_VSOCK_VSOCK_H

#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/virtio.h"
#include "ipc/ipc.h"

#define VIRTIO_ID_VSOCK IPC_VSOCK_VIRTIO_ID
#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2

#define VSOCK_F_STREAM 0 /* feature bit */
#define VSOCK_HOST_CID 2
#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV 1
#define VSOCK_SHUTDOWN_SEND 2
#define VSOCK_SHUTDOWN_BOTH (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)
#define VSOCK_EVENT_TRANSPORT_RESET 0

/* Every packet's header, little-endian like the host (5.10.6). */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr size");
#define VSOCK_HDR_LEN ((uint32_t)sizeof(struct vsock_hdr))

struct vsock_config {
	uint64_t guest_cid;
} __attribute__((packed));

#define VSOCK_MAX_CONNS 64 /* per VM; a REQUEST beyond gets RST, a host connection is closed */
#define VSOCK_BUF_ALLOC (64u * 1024) /* the credit of each connection: what it may buffer */
#define VSOCK_MAX_PAYLOAD (64u * 1024) /* bytes of one packet, either way */
#define VSOCK_RST_QUEUE 64 /* RSTs to packets of no connection, waiting for rx buffers */
#define VSOCK_LINE_MAX 32 /* "CONNECT <port>\n" from a host program, at most */
#define VSOCK_HOST_PORT_BASE (1u << 30) /* the ports host-initiated connections get */
#define VSOCK_RX_BUDGET 256 /* packets to the guest per flush, before other work */
#define VSOCK_ACCEPT_BUDGET 16 /* host connections accepted per wake-up */
#define VSOCK_LISTEN_TAG 0xffffffffu /* the listening socket's tag (vsock_event) */

enum vconn_state {
	VC_FREE = 0,
	VC_HOST_LINE, /* accepted on PATH; reading "CONNECT <port>\n" */
	VC_HOST_REQUEST, /* REQUEST sent (or to send) to the guest; waiting for RESPONSE */
	VC_GUEST_CONNECTING, /* the guest's REQUEST: the supervisor is connecting to PATH_P */
	VC_ESTABLISHED,
	VC_CLOSING, /* host socket closed; an RST to the guest is still to go */
};

/* Control packets a connection has to send the guest (vconn.pend). */
#define VC_PEND_REQUEST 0x01
#define VC_PEND_RESPONSE 0x02
#define VC_PEND_CREDIT_UPDATE 0x04
#define VC_PEND_CREDIT_REQUEST 0x08
#define VC_PEND_SHUTDOWN 0x10 /* with shut_flags */
#define VC_PEND_RST 0x20

struct vconn {
	enum vconn_state state;
	int fd; /* the host socket, or -1 */
	uint32_t gen; /* tells this use of the slot from earlier ones (tags, broker seqs) */
	uint32_t host_port, guest_port;
	uint32_t pend; /* VC_PEND_* */
	uint32_t shut_flags; /* of the SHUTDOWN to send */
	uint32_t guest_shut; /* VSOCK_SHUTDOWN_* the guest sent */
	int host_eof; /* the host socket gave end of file (or hung up and is drained) */
	int host_hup; /* the host end is gone altogether (EPOLLHUP/ERR) */
	int shut_wr; /* shutdown(SHUT_WR) done on the host socket */
	int readable; /* the host socket may have data (an event said so; EAGAIN clears it) */
	int credit_asked; /* CREDIT_REQUEST went out and the guest's credit has not changed since */
	uint32_t watched; /* events the epoll set has for it; registered */
	int registered;
	/* guest -> host: what the guest sent that the host has not taken yet */
	uint8_t *tx_buf; /* VSOCK_BUF_ALLOC bytes */
	uint32_t tx_head, tx_len;
	uint32_t fwd_cnt; /* bytes written to the host: the guest's credit comes back with it */
	uint32_t fwd_told; /* fwd_cnt the guest last heard from us */
	/* host -> guest: the guest's credit */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t rx_cnt; /* bytes sent to the guest */
	/* host-initiated: the line read so far */
	char line[VSOCK_LINE_MAX];
	uint32_t line_len;
};

struct vsock_stats {
	uint64_t tx_pkts, rx_pkts, tx_bytes, rx_bytes;
	uint64_t rst_sent, bad_pkts, refused, host_accepted, guest_connects;
};

struct vsock {
	struct virtio_dev vd; /* first: the device process's priv points here */
	uint64_t cid;
	int listen_fd; /* non-blocking, listening; -1 in tests that have none */
	struct vsock_config config;
	/* The process's glue (main.c), or a test's. */
	void *owner;
	/* watch: op (EPOLL_CTL_*) on fd with events, reported to vsock_event with tag; 0 or -errno */
	int (*watch)(struct vsock *v, int op, int fd, uint32_t events, uint32_t tag);
	/* connect: ask the broker to connect port; vsock_connected(seq) answers; 0 or -errno */
	int (*connect)(struct vsock *v, uint32_t seq, uint32_t port);
	struct vconn conns[VSOCK_MAX_CONNS];
	uint8_t bufs[VSOCK_MAX_CONNS][VSOCK_BUF_ALLOC];
	uint32_t next_host_port;
	uint32_t next_gen;
	struct vsock_hdr rst[VSOCK_RST_QUEUE]; /* RSTs to packets of no connection */
	unsigned int rst_head, rst_len;
	int tx_stalled; /* the tx queue waits until the RST queue has room */
	int rx_starved; /* the rx queue had no buffer: wait for its kick */
	int reset_event; /* a TRANSPORT_RESET event waits for an event buffer */
	int was_live; /* DRIVER_OK was set since the last reset */
	/* accept failed for want of fds: the listening socket is not polled until a connection
	 * ends (fewer than listen_paused_at) or the guest kicks (listen_retry) */
	int listen_paused, listen_retry;
	unsigned int listen_paused_at;
	unsigned int rr; /* the connection the rx pump looks at first */
	struct virtq_chain chain;
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct vsock_stats stats;
};

extern const struct virtio_dev_ops vsock_virtio_ops;

/* vsock_setup: serve a guest with memory mem as CID cid, host connections from listen_fd
 * (-1: none); the caller sets watch, connect and vd.irq, then vsock_start. */
void vsock_setup(struct vsock *v, uint64_t cid, int listen_fd, const struct guest_mem *mem);
/* vsock_start: watch the listening socket. 0 or -errno. */
int vsock_start(struct vsock *v) __attribute__((warn_unused_result));
/* vsock_event: events on the fd watched with tag. */
void vsock_event(struct vsock *v, uint32_t tag, uint32_t events);
/* vsock_connected: the broker's answer to connect(seq): err 0 and fd (now ours), or -errno. */
void vsock_connected(struct vsock *v, uint32_t seq, int err, int fd);
/* vsock_flush: after each batch of events: send what waits to the guest, take what the
 * tx queue held back, and update what each host socket is watched for. */
void vsock_flush(struct vsock *v);
/* vsock_conns: connections in use (not VC_FREE). */
unsigned int vsock_conns(const struct vsock *v);
/* vsock_hdr_check: why the guest's header h, with payload room bytes after it in its chain,
 * gets RST (a static string), or NULL if its fields are acceptable. */
const char *vsock_hdr_check(const struct vsock *v, const struct vsock_hdr *h, uint64_t room);
/* vsock_parse_connect: the port of a host program's "CONNECT <port>\n" line (len bytes,
 * the newline included); 0, or -EINVAL. */
int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
	__attribute__((warn_unused_result));

#endif
