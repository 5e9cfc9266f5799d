/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test guest's virtio-vsock driver (device id 19; rx, tx and event
 * queues), in ring 3 and polling, and the guest side of its scenarios
 * (vsock_scenarios.c; the host side is tests/integration/functional/
 * test_vsock.py). Stream sockets with credit-based flow control: each
 * connection advertises VS_BUF bytes and keeps what it receives in a ring of
 * that size until the scenario reads it; it sends within the device's
 * credit. Every packet from the device is checked (its CIDs, type, op, the
 * connection it names, the credit it must respect); what is wrong is counted
 * in vs.bad and the first one described.
 */
#ifndef BULKHEAD_TESTS_GUEST_VSOCK_H
#define BULKHEAD_TESTS_GUEST_VSOCK_H

#include "virtio.h"

#define VIRTIO_ID_VSOCK 19
#define VS_RXQ 0
#define VS_TXQ 1
#define VS_EVQ 2
#define VS_HOST_CID 2
#define VS_TYPE_STREAM 1
#define VS_OP_REQUEST 1
#define VS_OP_RESPONSE 2
#define VS_OP_RST 3
#define VS_OP_SHUTDOWN 4
#define VS_OP_RW 5
#define VS_OP_CREDIT_UPDATE 6
#define VS_OP_CREDIT_REQUEST 7
#define VS_SHUT_RCV 1
#define VS_SHUT_SEND 2
#define VS_HDR 44

#define VS_MAX_CONNS 72 /* more than the device's cap of 64, to try it */
#define VS_BUF (64u * 1024) /* what each connection advertises and buffers */
#define VS_PKT 4096 /* payload per packet, both ways */
#define VS_QSIZE 256
#define VS_NEVQ 4

struct vs_hdr {
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
_Static_assert(sizeof(struct vs_hdr) == VS_HDR, "virtio_vsock_hdr");

enum vs_state {
	VS_FREE = 0,
	VS_CONNECTING, /* REQUEST sent */
	VS_OPEN,
	VS_CLOSED, /* RST, or both sides shut */
};

struct vs_conn {
	enum vs_state state;
	uint32_t lport, rport; /* ours (the guest's) and the host's */
	int reset; /* it ended with RST */
	uint32_t peer_shut; /* SHUTDOWN flags from the host */
	int shut_sent; /* our SHUTDOWN flags so far */
	/* what we send, and the device's credit for it */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	/* what we receive: a ring of VS_BUF bytes the scenario reads from */
	uint8_t *ring;
	uint32_t r_head, r_len;
	uint32_t rx_cnt; /* bytes received */
	uint32_t fwd_cnt; /* bytes the scenario read */
	uint32_t fwd_told; /* fwd_cnt the device last heard */
	uint64_t t_open; /* TSC when it was opened (CONNECT sent or REQUEST taken) */
	uint64_t t_established;
	void *user;
};

struct vs {
	struct vdev dev;
	uint64_t cid;
	int open;
	uint8_t *rxmem, *txmem; /* VS_QSIZE slots of VS_HDR + VS_PKT each */
	uint16_t tx_free[VS_QSIZE];
	unsigned int ntx_free;
	uint32_t *evmem;
	struct vs_conn conns[VS_MAX_CONNS];
	uint32_t listen_port; /* accept REQUESTs to it (0: none) */
	uint32_t next_port;
	unsigned int resets_seen; /* TRANSPORT_RESET events */
	unsigned int bad; /* packets the device must not have sent */
	unsigned int stray_rst; /* RSTs for no connection of ours */
	char why[160]; /* the first bad one */
	struct vs_hdr last; /* the last packet taken */
	uint64_t rx_pkts, tx_pkts;
};

extern struct vs vs;

/* vs_open: find the device, negotiate, set up the three queues, post every rx and event
 * buffer, DRIVER_OK; fails the run if it cannot. Again after a reset. */
void vs_open(void);
/* vs_reset: Status 0 (the device drops every connection); conns forgotten. */
void vs_reset(void);
/* vs_poll: take what the device returned and sent, answer what needs an answer. */
void vs_poll(void);
/* vs_connect: REQUEST to the host's port (not waiting); the connection or NULL (none free). */
struct vs_conn *vs_connect(uint32_t port);
/* vs_wait_open: poll until c is open (1), reset (0), or timeout (-1). */
int vs_wait_open(struct vs_conn *c, uint64_t timeout_us);
/* vs_write: send up to len bytes within the credit and tx slots; bytes sent. */
uint32_t vs_write(struct vs_conn *c, const void *buf, uint32_t len);
/* vs_read: take up to max received bytes (credit goes back as they are taken); bytes. */
uint32_t vs_read(struct vs_conn *c, void *buf, uint32_t max);
/* vs_shutdown: SHUTDOWN with flags (VS_SHUT_*). */
void vs_shutdown(struct vs_conn *c, uint32_t flags);
/* vs_close: RST, forget it. */
void vs_close(struct vs_conn *c);
/* vs_send_raw: a packet as given (hostile ones too): header, hlen of it, payload. */
void vs_send_raw(const struct vs_hdr *h, uint32_t hlen, const void *payload, uint32_t len);
/* vs_hdr_for: a header of op from c (or the ports given when c is NULL) to the host. */
struct vs_hdr vs_hdr_for(const struct vs_conn *c, uint32_t lport, uint32_t rport, uint16_t op);
/* vs_credit: bytes the device lets c send now. */
uint32_t vs_credit(const struct vs_conn *c);
/* vs_count: connections in a state other than VS_FREE and VS_CLOSED. */
unsigned int vs_count(void);

/* The scenarios. */
void vsock_serve(void);
void vsock_dial(void);
void vsock_rst(void);
void vsock_stall(void);
void vsock_hostile(void);
void vsock_bench(void);

#endif
