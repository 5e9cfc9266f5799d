# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-vsock (--vsock cid=N,uds=PATH) with Firecracker's hybrid host side,
under the test guest (tests/guest/README.md, "Host sockets") with host programs
from tests/guest/vsockpeer.py: host to guest through PATH and "CONNECT
<port>", guest to host to the program at PATH_<port>, each stream checked
with its CRC-32 at both ends; many connections at once and the cap of 64; RST
where nobody listens; a host program that stops reading while another
connection goes on; the hostile-packet suite; the checks on PATH; and a
bulkhead-vsock process that holds no path."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import zlib

import pytest

from conftest import (BULKHEAD, EXIT_USAGE, EXIT_VM_FAILED, GUEST_PASS, ROOT,
                      assert_holds_no_path, assert_usage_error, guest_args, vm_processes)

sys.path.insert(0, os.path.join(ROOT, "tests", "guest"))
import vsockpeer  # noqa: E402

PORT = 5000


@pytest.fixture
def uds(tmp_path):
    return str(tmp_path / "v.sock")


class Listeners:
    def __init__(self, uds, specs):
        self.by_port = {port: vsockpeer.Listener("%s_%d" % (uds, port), mode)
                        for port, mode in specs}

    def __getitem__(self, port):
        return self.by_port[port]

    def stop(self):
        for listener in self.by_port.values():
            listener.stop()


def start(vm_factory, uds, scenario, extra="", mem=64):
    return vm_factory(guest_args(scenario, extra, mem=mem) + ["--vsock", "cid=3,uds=%s" % uds])


def assert_pass(vm, status, scenario):
    assert status == GUEST_PASS, vm.explain()
    assert "bulkhead-test-guest: PASS %s" % scenario in vm.stdout, vm.explain()
    assert not re.search(r"\(pid \d+\) (was killed|exited|died)", vm.stderr), vm.explain()


def guest_crcs(vm):
    return {(int(b), int(c, 16)) for b, c in
            re.findall(r"vsock-dial: conn \d+ sent (\d+) bytes seed \d+ crc32 0x([0-9a-f]+)",
                       vm.stdout)}


def test_host_to_guest(vm_factory, guest, uds):
    """A host program writes CONNECT 5000, reads OK <port>, sends 1 MiB and shuts its
    side; the guest's answer is the byte count and CRC-32 of what it read."""
    vm = start(vm_factory, uds, "vsock-serve")
    vm.read_until(b"ready")
    data = os.urandom(1 << 20)
    line, host_port = vsockpeer.send_to_guest(uds, PORT, data)
    assert line == b"%d 0x%08x" % (len(data), zlib.crc32(data)), vm.explain()
    assert host_port >= 1 << 30
    assert_pass(vm, vm.wait(60), "vsock-serve")
    assert "from port %d: %d bytes" % (host_port, len(data)) in vm.stdout, vm.explain()


def test_guest_to_host(vm_factory, guest, uds):
    """The guest connects to CID 2 port 5000, which reaches the program at PATH_5000, and
    sends 1 MiB of its pattern: the program's count and CRC-32 are the guest's."""
    ls = Listeners(uds, [(PORT, "sink")])
    try:
        vm = start(vm_factory, uds, "vsock-dial", "bulkhead.bytes=1048576")
        assert_pass(vm, vm.wait(60), "vsock-dial")
        results = ls[PORT].wait_results(1)
    finally:
        ls.stop()
    assert results and set(results) == guest_crcs(vm), vm.explain()
    assert results[0][0] == 1 << 20


def test_many_connections(vm_factory, guest, uds):
    """64 connections at once, each with 64 KiB, all checked; a 65th gets RST."""
    ls = Listeners(uds, [(PORT, "sink")])
    try:
        vm = start(vm_factory, uds, "vsock-dial",
                   "bulkhead.conns=64 bulkhead.bytes=65536 bulkhead.over-cap=1")
        assert_pass(vm, vm.wait(90), "vsock-dial")
        results = ls[PORT].wait_results(64)
    finally:
        ls.stop()
    assert "vsock-dial: connection 65 refused with RST" in vm.stdout, vm.explain()
    assert len(results) == 64 and set(results) == guest_crcs(vm), vm.explain()


def test_many_host_connections(vm_factory, guest, uds):
    """16 host programs at once, each with its own data, each answered with its own CRC."""
    vm = start(vm_factory, uds, "vsock-serve", "bulkhead.conns=16")
    vm.read_until(b"ready")
    answers, errors = {}, []

    def one(i):
        data = os.urandom(100000 + 977 * i)
        try:
            line, _ = vsockpeer.send_to_guest(uds, PORT, data)
            answers[i] = (line, b"%d 0x%08x" % (len(data), zlib.crc32(data)))
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert_pass(vm, vm.wait(60), "vsock-serve")
    assert not errors and len(answers) == 16, (errors, vm.explain())
    for got, want in answers.values():
        assert got == want, vm.explain()


def test_rst_unknown_port(vm_factory, guest, uds):
    """Nobody listens at PATH_7777: the guest's connection gets RST."""
    vm = start(vm_factory, uds, "vsock-rst", "bulkhead.port=7777")
    assert_pass(vm, vm.wait(60), "vsock-rst")


def test_host_line_refused(vm_factory, guest, uds):
    """A host program that does not write CONNECT <port> is closed without an OK; one to a
    port the guest does not serve sees the end too; then a good one is served."""
    vm = start(vm_factory, uds, "vsock-serve")
    vm.read_until(b"ready")
    for line in (b"GET / HTTP/1.0\r\n\r\n", b"CONNECT 5001\n", b"x" * 64):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(uds)
        s.sendall(line)
        try:
            got = s.recv(64)
        except ConnectionResetError:
            got = b""
        assert not got.startswith(b"OK"), (line, got)
        s.close()
    data = b"after the bad ones"
    line, _ = vsockpeer.send_to_guest(uds, PORT, data)
    assert line == b"%d 0x%08x" % (len(data), zlib.crc32(data))
    assert_pass(vm, vm.wait(60), "vsock-serve")


def test_stalled_reader(vm_factory, guest, uds):
    """The program at PATH_5000 never reads: that connection fills and stops; 1 MiB still
    goes through PATH_5001 at the same time."""
    ls = Listeners(uds, [(PORT, "stall"), (PORT + 1, "sink")])
    try:
        vm = start(vm_factory, uds, "vsock-stall", "bulkhead.bytes=1048576")
        assert_pass(vm, vm.wait(60), "vsock-stall")
        results = ls[PORT + 1].wait_results(1)
    finally:
        ls.stop()
    m = re.search(r"vsock-stall: port 5000 took (\d+) bytes and then no more", vm.stdout)
    assert m and int(m.group(1)) < 8 << 20, vm.explain()
    assert results and results[0][0] == 1 << 20, vm.explain()


def test_hostile(vm_factory, guest, uds):
    """Bad types, CIDs, ops, lengths, payloads, flags, packets of no connection, data
    beyond the credit: RST each, with the ports swapped; a short header: taken, no answer;
    rx buffers below the header: NEEDS_RESET; a reset: TRANSPORT_RESET; after each, a
    reset device answers again."""
    ls = Listeners(uds, [(PORT, "sink"), (PORT + 1, "stall")])
    try:
        vm = start(vm_factory, uds, "vsock-hostile")
        status = vm.wait(120)
    finally:
        ls.stop()
    assert_pass(vm, status, "vsock-hostile")
    assert "vsock-hostile: 15 passed, 0 failed" in vm.stdout, vm.explain()


def test_holds_no_path(vm_factory, guest, uds):
    """While it serves, bulkhead-vsock's fds are sockets, anonymous inodes and memfds (and
    stderr, the test's pipe)."""
    vm = start(vm_factory, uds, "vsock-serve")
    vm.read_until(b"ready")
    pid = vm.wait_children(["vsock"])["vsock"]
    s, _ = vsockpeer.dial(uds, PORT)
    assert_holds_no_path(pid)
    s.shutdown(socket.SHUT_WR)
    assert s.recv(64) == b"0 0x00000000\n"
    s.close()
    assert_pass(vm, vm.wait(60), "vsock-serve")


def test_uds_checks(vm_factory, guest, tmp_path):
    """PATH must be absent, or a socket nobody listens on (it is removed): a regular file
    and a live socket are refused, naming the option."""
    path = str(tmp_path / "v.sock")
    with open(path, "w") as f:
        f.write("not a socket")
    p = subprocess.run([BULKHEAD] + guest_args("hello") + ["--vsock", "cid=3,uds=%s" % path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == EXIT_USAGE and "--vsock: uds=%s: exists and is not a socket" % path \
        in p.stderr, p.stderr
    os.unlink(path)
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(path)
    live.listen(1)
    p = subprocess.run([BULKHEAD] + guest_args("hello") + ["--vsock", "cid=3,uds=%s" % path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == EXIT_USAGE and "something listens there already" in p.stderr, p.stderr
    live.close()
    # now stale: taken over
    vm = vm_factory(guest_args("vsock-rst", "bulkhead.port=9") + ["--vsock", "cid=3,uds=%s" % path])
    assert_pass(vm, vm.wait(60), "vsock-rst")


@pytest.mark.parametrize("args,message", [
    (["--vsock", "cid=2,uds=/tmp/x"], "--vsock: cid=2: must be from 3 to 4294967294"),
    (["--vsock", "uds=/tmp/x"], "--vsock: cid= is required"),
    (["--vsock", "cid=3,uds=/tmp/" + "x" * 100], "--vsock: uds="),
])
def test_config_errors(guest, args, message):
    assert_usage_error(args, message)


def test_config_cid(vm_factory, guest, uds):
    """The guest reads its CID from config space; connections carry it."""
    ls = Listeners(uds, [(PORT, "sink")])
    try:
        vm = vm_factory(guest_args("vsock-dial", "bulkhead.bytes=100")
                        + ["--vsock", "cid=4294967294,uds=%s" % uds])
        assert_pass(vm, vm.wait(60), "vsock-dial")
    finally:
        ls.stop()


def test_no_restart(vm_factory, guest, uds):
    """Its connections die with it: even with --on-device-failure restart, a bulkhead-vsock
    that dies ends the VM (status 4), naming it."""
    vm = vm_factory(guest_args("vsock-serve") + ["--vsock", "cid=3,uds=%s" % uds,
                                                 "--on-device-failure", "restart"])
    vm.read_until(b"ready")
    os.kill(vm_processes(vm.name)["vsock"], signal.SIGKILL)
    assert vm.wait(30) == EXIT_VM_FAILED, vm.explain()
    assert "vsock" in vm.stderr.strip().splitlines()[-1], vm.explain()
    assert "restarting it" not in vm.stderr, vm.explain()
