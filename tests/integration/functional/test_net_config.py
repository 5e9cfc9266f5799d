# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""--net configuration, each test in a network namespace it creates and
removes: TAPs by name (attached, or created with CAP_NET_ADMIN) and by fd,
bad MACs, missing and busy TAPs, two NICs, and a net process that dies."""
import os
import re
import signal
import subprocess

from conftest import BULKHEAD, EXIT_USAGE, EXIT_VM_FAILED, GUEST, Vm, guest_args


def rejected(argv, pass_fds=()):
    p = subprocess.run(argv, capture_output=True, timeout=30, pass_fds=pass_fds)
    err = p.stderr.decode()
    assert p.returncode == EXIT_USAGE, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulkhead: --net"), err
    return lines[0]


def base_argv():
    return [BULKHEAD, "--kernel", "path=%s" % GUEST]


def test_bad_mac_rejected(netns):
    netns.add_tap("tap0")
    for mac, why in [("01:00:5e:00:00:01", "multicast"), ("00:00:00:00:00:00", "all-zero"),
                     ("52:54:00:12:34", "not a MAC"), ("52:54:00:12:34:zz", "not a MAC")]:
        msg = rejected(netns.exec_argv(base_argv() + ["--net", "tap=tap0,mac=%s" % mac]))
        assert why in msg, msg


def test_missing_tap_without_net_admin_rejected(netns):
    argv = ["setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin"] + \
        base_argv() + ["--net", "tap=nosuchtap"]
    msg = rejected(netns.exec_argv(argv))
    assert "no such TAP" in msg and "CAP_NET_ADMIN" in msg, msg


def test_busy_tap_rejected(netns, vm_factory):
    netns.add_tap("tap0")
    fd = netns.open_tap("tap0")
    try:
        msg = rejected(netns.exec_argv(base_argv() + ["--net", "tap=tap0"]))
        assert "busy" in msg, msg
    finally:
        os.close(fd)


def test_not_a_tap_fd_rejected():
    r, w = os.pipe()
    try:
        msg = rejected(base_argv() + ["--net", "fd=%d" % r], pass_fds=(r,))
        assert "not an open TAP fd" in msg, msg
    finally:
        os.close(r)
        os.close(w)


def test_tap_created_with_net_admin_and_gone_after(netns):
    p = subprocess.run(netns.exec_argv([BULKHEAD] + guest_args("hello") +
                                       ["--net", "tap=bhnew0"]), capture_output=True, timeout=30)
    assert p.returncode == 1, p.stderr
    assert "bhnew0" not in netns.links()


def test_tap_by_fd_and_two_nics(netns):
    netns.add_tap("tap0")
    netns.add_tap("tap1")
    fd = netns.open_tap("tap1")
    try:
        argv = netns.exec_argv([BULKHEAD] + guest_args("hello") +
                               ["--net", "tap=tap0", "--net", "fd=%d,mac=52:54:00:12:34:57" % fd])
        p = subprocess.run(argv, capture_output=True, timeout=30, pass_fds=(fd,))
    finally:
        os.close(fd)
    out = p.stdout.decode()
    assert p.returncode == 1, p.stderr
    assert "virtio-mmio devices: 2" in out, out


def test_kill_net_stops_vm(netns, vm_factory):
    netns.add_tap("tap0")
    vm = Vm(guest_args("echo") + ["--net", "tap=tap0"], stdin=subprocess.PIPE,
            wrap=netns.exec_argv)
    try:
        vm.read_until(b"bulkhead-test-guest: ready")
        pids = vm.wait_children(["vcpu", "serial", "net0"])
        os.kill(pids["net0"], signal.SIGKILL)
        assert vm.wait() == EXIT_VM_FAILED, vm.explain()
        assert re.search(r"net0 \(pid \d+\) was killed by signal 9", vm.stderr), vm.explain()
    finally:
        if vm.proc.poll() is None:
            vm.proc.kill()
            vm.proc.wait()
