# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""Network namespaces and TAPs for tests: each test makes its own namespace
and removes it, so nothing touches the host's network."""
import ctypes
import fcntl
import os
import struct
import subprocess
import uuid

TUNSETIFF = 0x400454ca
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def sh(*argv, ns=None, check=True):
    if ns:
        argv = ("ip", "netns", "exec", ns) + argv
    return subprocess.run(argv, check=check, capture_output=True, text=True)


class NetNsUnavailable(Exception):
    """ip netns add failed: the environment forbids network namespaces (a container)."""


class NetNs:
    def __init__(self):
        self.name = "bh-" + uuid.uuid4().hex[:10]
        p = sh("ip", "netns", "add", self.name, check=False)
        if p.returncode != 0:
            sh("ip", "netns", "del", self.name, check=False)
            raise NetNsUnavailable("ip netns add: %s" % (p.stderr.strip().splitlines() or ["?"])[-1])
        sh("ip", "link", "set", "lo", "up", ns=self.name)

    def add_tap(self, tap, addr=None, user=None):
        argv = ["ip", "tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr"]
        if user is None:
            user = os.environ.get("BULKHEAD_TEST_USER")  # the unprivileged pass
        if user is not None:
            argv += ["user", str(user)]
        sh(*argv, ns=self.name)
        sh("ip", "link", "set", tap, "up", ns=self.name)
        if addr:
            sh("ip", "addr", "add", addr, "dev", tap, ns=self.name)

    def exec_argv(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def open_tap(self, tap):
        """Open TAP tap inside the namespace from this process (setns and back)."""
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open("/var/run/netns/%s" % self.name, os.O_RDONLY)
        try:
            _setns(target)
            fd = os.open("/dev/net/tun", os.O_RDWR)
            ifr = struct.pack("16sH22x", tap.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
            fcntl.ioctl(fd, TUNSETIFF, ifr)
        finally:
            _setns(own)
            os.close(own)
            os.close(target)
        return fd

    def links(self):
        return sh("ip", "-o", "link", ns=self.name).stdout

    def close(self):
        sh("ip", "netns", "del", self.name, check=False)
