/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --net: the supervisor opens every TAP (the net process never opens a path):
 * attach to the named TAP, which the kernel creates when we hold
 * CAP_NET_ADMIN, or take a TAP fd the caller opened, so that bulkhead itself
 * needs no privilege for networking. Either way the TAP carries the 12-byte
 * virtio-net header in front of every frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "supervisor.h"

#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
#define VNET_HDR_LEN 12

/* A locally administered unicast MAC that stays the same for a TAP name. */
static void mac_from_name(const char *name, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

static int tap_prepare(int fd, const char *what, char *err, size_t errlen)
{
	int sz = VNET_HDR_LEN;

	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 || ioctl(fd, TUNSETOFFLOAD, 0ul) < 0) {
		snprintf(err, errlen, "--net: %s: cannot set the vnet header: %s", what,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int tap_open_named(const char *name, char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, e;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "--net: tap=%s: /dev/net/tun: %s", name, strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = TAP_FLAGS;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		if (e == EBUSY)
			snprintf(err, errlen, "--net: tap=%s: busy (attached to another process)",
				 name);
		else if (e == EPERM && if_nametoindex(name) == 0)
			snprintf(err, errlen,
				 "--net: tap=%s: no such TAP (creating one needs CAP_NET_ADMIN)", name);
		else if (e == EINVAL)
			snprintf(err, errlen, "--net: tap=%s: not a TAP device", name);
		else
			snprintf(err, errlen, "--net: tap=%s: %s", name, strerror(e));
		close(fd);
		return -1;
	}
	snprintf(ifname, CONFIG_IFNAME_MAX, "%s", ifr.ifr_name);
	return fd;
}

static int tap_adopt_fd(int given, char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd;

	memset(&ifr, 0, sizeof(ifr));
	if (fcntl(given, F_GETFD) < 0 || ioctl(given, TUNGETIFF, &ifr) < 0) {
		snprintf(err, errlen, "--net: fd=%d: not an open TAP fd", given);
		return -1;
	}
	if ((ifr.ifr_flags & TAP_FLAGS) != TAP_FLAGS) {
		snprintf(err, errlen,
			 "--net: fd=%d: the TAP must be opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR",
			 given);
		return -1;
	}
	/* Our own close-on-exec copy; the number the caller used is closed. */
	fd = fcntl(given, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		snprintf(err, errlen, "--net: fd=%d: %s", given, strerror(errno));
		return -1;
	}
	close(given);
	snprintf(ifname, CONFIG_IFNAME_MAX, "%s", ifr.ifr_name);
	return fd;
}

static int net_open_one(struct sup *s, unsigned int i, char *err, size_t errlen)
{
	const struct net_config *n = &s->cfg.nets[i];
	struct vdev *v = &s->vdevs[s->nvdevs];
	char ifname[CONFIG_IFNAME_MAX], what[32];
	int fd;

	if (n->tap[0]) {
		fd = tap_open_named(n->tap, ifname, err, errlen);
		snprintf(what, sizeof(what), "tap=%s", n->tap);
	} else {
		fd = tap_adopt_fd(n->tap_fd, ifname, err, errlen);
		snprintf(what, sizeof(what), "fd=%d", n->tap_fd);
	}
	if (fd < 0)
		return -1;
	if (tap_prepare(fd, what, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "net%u", i);
	v->helper = "net";
	v->kind = IPC_DEV_NET;
	v->nqueues = 2;
	v->backend_fd = fd;
	ipc_init(&v->net, IPC_CFG_NET, sizeof(v->net));
	if (n->has_mac)
		memcpy(v->net.cn_mac, n->mac_bytes, 6);
	else
		mac_from_name(ifname, v->net.cn_mac);
	s->nvdevs++;
	return 0;
}

int nets_open(struct sup *s, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < s->cfg.nnets; i++) {
		if (s->nvdevs >= LAYOUT_MAX_VIRTIO_DEVICES) {
			snprintf(err, errlen, "--net: at most %d virtio devices in all",
				 LAYOUT_MAX_VIRTIO_DEVICES);
			return -1;
		}
		if (net_open_one(s, i, err, errlen) < 0)
			return -1;
	}
	return 0;
}
