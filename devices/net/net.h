/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net device model (virtio 1.2 section 5.1) over a TAP fd opened
 * with IFF_VNET_HDR and a 12-byte vnet header, so frames move between the
 * TAP and guest buffers with the virtio-net header in front, unchanged.
 * Separate from its process so tests and fuzzers can drive it over a
 * socketpair standing in for the TAP.
 */
#ifndef BULKHEAD_DEVICES_NET_NET_H
#define BULKHEAD_DEVICES_NET_NET_H

#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/virtio.h"

#define VIRTIO_ID_NET IPC_NET_VIRTIO_ID
#define NET_RXQ 0
#define NET_TXQ 1

#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80
#define VIRTIO_NET_S_LINK_UP 1

/* The header in front of every frame, both ways (12 bytes with VERSION_1). */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio_net_hdr size");

#define NET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr))
#define NET_MAX_FRAME 65550u /* largest frame behind the header: 64 KiB GSO + Ethernet */
#define NET_RX_BATCH 64 /* frames per TAP wake-up before the loop looks elsewhere */

struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
} __attribute__((packed));
_Static_assert(sizeof(struct net_config) == 10, "virtio_net_config size");

struct net_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped;
	uint64_t rx_frames, rx_bytes, rx_dropped;
};

struct net {
	struct virtio_dev vd; /* first: the device process's priv points here */
	int tap_fd; /* non-blocking */
	struct net_config config;
	/* set_offload: TUNSETOFFLOAD on the TAP (NULL where the fd is not a TAP: tests) */
	int (*set_offload)(int fd, unsigned int flags);
	/* watch_tap: start/stop waiting for the TAP to be readable (flow control) */
	int (*watch_tap)(struct net *n, int on);
	void *owner;
	int tap_watched;
	/* A frame read from the TAP that the guest has no room for yet. */
	uint8_t frame[NET_HDR_LEN + NET_MAX_FRAME];
	size_t frame_len;
	int frame_pending;
	struct virtq_chain chain;
	uint16_t rx_heads[VIRTQ_MAX_SIZE];
	uint32_t rx_lens[VIRTQ_MAX_SIZE];
	struct iovec iov[VIRTQ_MAX_SEGS + 1]; /* tx: the checked header, then the frame's segments */
	struct net_stats stats;
};

extern const struct virtio_dev_ops net_virtio_ops;

/* net_setup: serve tap_fd (non-blocking) with mac to a guest with memory mem. */
void net_setup(struct net *n, int tap_fd, const uint8_t mac[6], const struct guest_mem *mem);
/* net_tap_readable: the TAP has frames; move as many as the guest has room for. 0 or -errno. */
int net_tap_readable(struct net *n) __attribute__((warn_unused_result));
/* net_update_watch: wait for the TAP only while the guest has rx buffers and nothing is pending. */
int net_update_watch(struct net *n) __attribute__((warn_unused_result));

#endif
