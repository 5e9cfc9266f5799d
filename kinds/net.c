/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --net: virtio-net, served by bulkhead-net. The supervisor opens every TAP
 * (the net process never opens a path): attach to the named TAP, which the
 * kernel creates when we hold CAP_NET_ADMIN, or take a TAP fd the caller
 * opened, so that bulkhead itself needs no privilege for networking. Either
 * way the TAP carries the 12-byte virtio-net header in front of every frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "kinds.h"

#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
#define VNET_HDR_LEN 12
#define IFNAME_MAX 16 /* IFNAMSIZ */
#define SHOW_MAX 48 /* bytes of a value quoted in a message */

struct net_opts {
	char tap[IFNAME_MAX]; /* tap=NAME, or "" */
	char fd[12]; /* fd=N as given, or "" */
	char mac[32]; /* mac=xx:xx:xx:xx:xx:xx as given, or "" (derived from the TAP's name) */
	int tap_fd; /* net_check: fd=N as a number, else -1 */
	uint8_t mac_bytes[6]; /* net_check: the parsed mac= */
	int has_mac;
};
_Static_assert(sizeof(struct net_opts) <= CONFIG_DEV_OPTS_MAX, "net options fit");

#define NET_KEY(n, field) CONFIG_KEY(n, KEY_STRING, struct net_opts, field, KEY_NONEMPTY)

static const struct key_def net_keys[] = {
	NET_KEY("tap", tap),
	NET_KEY("fd", fd),
	NET_KEY("mac", mac),
};

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "xx:xx:xx:xx:xx:xx". */
static int parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int check_mac(struct net_opts *o, char *err, size_t errlen)
{
	static const uint8_t zero[6];

	o->has_mac = o->mac[0] != '\0';
	if (!o->has_mac)
		return 0;
	if (parse_mac(o->mac, o->mac_bytes) < 0)
		snprintf(err, errlen, "--net: mac=%.*s: not a MAC address (xx:xx:xx:xx:xx:xx)",
			 SHOW_MAX, o->mac);
	else if (o->mac_bytes[0] & 1)
		snprintf(err, errlen, "--net: mac=%s: a multicast address", o->mac);
	else if (memcmp(o->mac_bytes, zero, 6) == 0)
		snprintf(err, errlen, "--net: mac=%s: the all-zero address", o->mac);
	else
		return 0;
	return -1;
}

static int net_check(void *opts, char *err, size_t errlen)
{
	struct net_opts *o = opts;
	uint64_t fd;

	if (!o->tap[0] == !o->fd[0]) {
		snprintf(err, errlen, "--net: give exactly one of tap=NAME and fd=N");
		return -1;
	}
	if (o->tap[0] && (strchr(o->tap, '/') || strcmp(o->tap, ".") == 0 ||
			  strcmp(o->tap, "..") == 0)) {
		snprintf(err, errlen, "--net: tap=%.*s: not an interface name", SHOW_MAX, o->tap);
		return -1;
	}
	o->tap_fd = -1;
	if (o->fd[0]) {
		if (config_parse_u64(o->fd, strlen(o->fd), 1023, &fd) < 0 || fd < 3) {
			snprintf(err, errlen, "--net: fd=%.*s: must be an open fd number from 3 to 1023",
				 SHOW_MAX, o->fd);
			return -1;
		}
		o->tap_fd = (int)fd;
	}
	return check_mac(o, err, errlen);
}

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
	snprintf(ifname, IFNAME_MAX, "%s", ifr.ifr_name);
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
	snprintf(ifname, IFNAME_MAX, "%s", ifr.ifr_name);
	return fd;
}

static int net_open(struct dev_inst *d, char *err, size_t errlen)
{
	const struct net_opts *o = d->opts;
	struct ipc_cfg_net *m = (struct ipc_cfg_net *)d->msg.bytes;
	char ifname[IFNAME_MAX], what[32];
	int fd;

	if (o->tap[0]) {
		fd = tap_open_named(o->tap, ifname, err, errlen);
		snprintf(what, sizeof(what), "tap=%s", o->tap);
	} else {
		fd = tap_adopt_fd(o->tap_fd, ifname, err, errlen);
		snprintf(what, sizeof(what), "fd=%d", o->tap_fd);
	}
	if (fd < 0)
		return -1;
	if (tap_prepare(fd, what, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	ipc_init(m, IPC_CFG_NET, sizeof(*m));
	m->cn_tap_fd = fd;
	if (o->has_mac)
		memcpy(m->cn_mac, o->mac_bytes, 6);
	else
		mac_from_name(ifname, m->cn_mac);
	return 0;
}

static const struct ipc_fd_field net_fds[] = IPC_CFG_NET_FDS;

const struct dev_kind kind_net = {
	.option = "net",
	.synopsis = "tap=NAME|fd=N[,mac=xx:xx:xx:xx:xx:xx]",
	.help = "A virtio-net NIC on a TAP, repeatable (eth0, eth1, ...). tap=NAME attaches to "
		"the TAP NAME, creating it when bulkhead has CAP_NET_ADMIN; fd=N uses a TAP the "
		"caller opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, so bulkhead needs no "
		"privilege. Without mac=, a locally administered MAC derived from the TAP's name "
		"is used. To let a user run bulkhead with a TAP, root runs \"ip tuntap add dev "
		"tap0 mode tap user USER vnet_hdr\" once.",
	.keys = net_keys,
	.nkeys = nitems(net_keys),
	.check = net_check,
	.max = LAYOUT_MAX_DEVICES,
	.helper = "net",
	.ipc_kind = IPC_DEV_NET,
	.virtio_id = IPC_NET_VIRTIO_ID,
	.nqueues = IPC_NET_QUEUES,
	.uses_guest_memory = 1,
	.transport = &kinds_virtio_mmio,
	.open = net_open,
	.msg_type = IPC_CFG_NET,
	.msg_size = sizeof(struct ipc_cfg_net),
	.fds = net_fds,
	.nfds = nitems(net_fds),
	.restartable = 1,
};
