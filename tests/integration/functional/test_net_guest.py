# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The test guest's network scenarios (tests/guest/README.md, "Networks") under
bulkhead. Each test makes a network namespace with TAPs (IPv6 off, so the host
stack sends the guest nothing), starts bulkhead in it with --net tap=tapN, and
plays the host peer (tests/guest/netpeer.py) on the host end of each TAP
through an AF_PACKET socket bound to the interface: it checks what the guest
transmits, echoes, and sends on request. Both sides check: the guest's verdict
(exit status 1) and the peer's tallies."""
import os
import re
import sys

import pytest

from conftest import GUEST_FAIL, GUEST_PASS, ROOT, guest_args

sys.path.insert(0, os.path.join(ROOT, "tests", "guest"))
import hostile_cases  # noqa: E402
import netpeer  # noqa: E402

GUEST_MAC = "52:54:00:0b:4e:01"


class Peers:
    """The host peer on each TAP of the namespace, one thread each."""

    def __init__(self, ns, taps):
        self.peers = []
        for tap in taps:
            sock = netpeer.open_socket(tap, ns.name)
            nl = netpeer.open_netlink(ns.name)
            self.peers.append(netpeer.Peer(sock, tap, nl))
        for p in self.peers:
            p.start()

    def __getitem__(self, i):
        return self.peers[i]

    def stop(self):
        for p in self.peers:
            p.stop()
        for p in self.peers:
            p.join(10)
            p.close()

    def explain(self):
        return "\n".join("peer %s\n  %s" % (p.summary(), "\n  ".join(p.log[-20:]))
                         for p in self.peers)

    def check(self):
        for p in self.peers:
            assert p.error is None, "peer %s: %s" % (p.ifname, p.error)
            assert not p.tx_bad, "peer %s: bad TX frames %s" % (p.ifname, p.tx_bad[:5])
            assert not p.bad, "peer %s: frames the device must not send: %s" % (p.ifname, p.bad[:5])


def run(vm_factory, netns, scenario, extra="", nics=1, timeout=60, peer=True, mac=True, vcpus=1):
    """Run scenario with nics TAPs (and the peer on each); returns (vm, peers, status)."""
    taps = ["tap%d" % i for i in range(nics)]
    for tap in taps:
        netns.add_tap(tap)
        disable_ipv6(netns, tap)
    peers = Peers(netns, taps) if peer else None
    args = guest_args(scenario, extra, vcpus=vcpus)
    for i, tap in enumerate(taps):
        args += ["--net", "tap=%s" % tap + (",mac=%s%d" % (GUEST_MAC[:-1], i + 1) if mac else "")]
    try:
        vm = vm_factory(args, wrap=netns.exec_argv)
        status = vm.wait(timeout)
    finally:
        if peers:
            peers.stop()
    return vm, peers, status


def disable_ipv6(netns, tap):
    from netns import sh
    sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % tap, ns=netns.name)


def explain(vm, peers):
    return vm.explain() + ("\n" + peers.explain() if peers else "")


def assert_pass(vm, peers, status, scenario):
    assert status == GUEST_PASS, explain(vm, peers)
    assert "bulkhead-test-guest: PASS %s" % scenario in vm.stdout, explain(vm, peers)
    assert not re.search(r"\(pid \d+\) (was killed|exited|died)", vm.stderr), explain(vm, peers)
    if peers:
        peers.check()


# ---- net-info ----

def test_net_info(vm_factory, guest, netns):
    """MAC and link status from config space, every feature bulkhead-net offers."""
    vm, peers, status = run(vm_factory, netns, "net-info", peer=False)
    assert_pass(vm, peers, status, "net-info")
    out = vm.stdout
    assert "net-info: 1 virtio-net devices among 1 virtio-mmio devices" in out, vm.explain()
    assert "net-info: eth0: mac %s (config space), status 0x1: link up (config space)" % GUEST_MAC \
        in out, vm.explain()
    m = re.search(r"net-info: eth0: version 2 vendor 0x484b4c42, features offered 0x[0-9a-f]+: (.*)",
                  out)
    assert m, vm.explain()
    offered = m.group(1).split()
    for f in ("CSUM", "GUEST_CSUM", "MAC", "GUEST_TSO4", "GUEST_TSO6", "HOST_TSO4", "HOST_TSO6",
              "MRG_RXBUF", "STATUS", "INDIRECT_DESC", "RING_EVENT_IDX", "VERSION_1"):
        assert f in offered, vm.explain()
    assert "QueueNumMax rx 256 tx 256" in out, vm.explain()


# ---- net-tx ----

@pytest.mark.parametrize("extra", ["", "bulkhead.indirect=0 bulkhead.event-idx=0",
                                   "bulkhead.irq=1 bulkhead.qsize=16"])
def test_net_tx(vm_factory, guest, netns, extra):
    """100 frames of 60..1514 bytes in 1-3 descriptors: the host gets every one, byte for byte,
    from the guest's MAC to its own."""
    frames, seed = 100, 7
    vm, peers, status = run(vm_factory, netns, "net-tx",
                            "bulkhead.frames=%d bulkhead.seed=%d %s" % (frames, seed, extra))
    assert_pass(vm, peers, status, "net-tx")
    p = peers[0]
    assert sorted(p.tx_ok) == list(range(frames)), explain(vm, peers)
    for seq, length in p.tx_ok.items():
        assert length == netpeer.frame_size(seq), (seq, length)
    assert p.tx_dst == {p.mac}, explain(vm, peers)
    assert netpeer.mac_str(p.guest_mac) == GUEST_MAC, explain(vm, peers)
    assert "net-tx: host peer: %d frames intact, 0 bad" % frames in vm.stdout, explain(vm, peers)


def test_net_tx_broadcast_without_peer_handshake(vm_factory, guest, netns):
    """bulkhead.peer=0: no HELLO, frames to ff:ff:ff:ff:ff:ff; the host still checks them."""
    vm, peers, status = run(vm_factory, netns, "net-tx", "bulkhead.peer=0 bulkhead.frames=40")
    assert_pass(vm, peers, status, "net-tx")
    p = peers[0]
    assert sorted(p.tx_ok) == list(range(40)), explain(vm, peers)
    assert p.tx_dst == {netpeer.BROADCAST}, explain(vm, peers)


# ---- net-echo ----

@pytest.mark.parametrize("extra,multi", [
    ("", False),
    ("bulkhead.mrg=0", False),  # guest TSO without mergeable buffers: 64 KiB rx buffers
    ("bulkhead.mrg=0 bulkhead.guest-tso4=0 bulkhead.guest-tso6=0", False),  # 1526-byte buffers
    ("bulkhead.rxbuf=256", True),  # mergeable: a 1514-byte frame spans 6 buffers
    ("bulkhead.rxbuf=256 bulkhead.rxsegs=2 bulkhead.irq=1", True),
    ("bulkhead.indirect=0 bulkhead.event-idx=0 bulkhead.qsize=8 bulkhead.rxbuf=512", True),
    ("bulkhead.csum=0 bulkhead.guest-csum=0 bulkhead.mac=0 bulkhead.status=0", False),
])
def test_net_echo(vm_factory, guest, netns, extra, multi):
    """Frames of 60..1514 bytes echoed by the host come back byte for byte; with small
    mergeable buffers, frames span several."""
    frames = 80
    vm, peers, status = run(vm_factory, netns, "net-echo", "bulkhead.frames=%d %s%s"
                            % (frames, extra, " bulkhead.expect-multi=1" if multi else ""))
    assert_pass(vm, peers, status, "net-echo")
    assert peers[0].echoes == list(range(frames)), explain(vm, peers)
    m = re.search(r"net-echo: rtt-us (\d+)\.\d", vm.stdout)
    assert m and int(m.group(1)) > 0, vm.explain()
    m = re.search(r"rx \d+ buffers, up to (\d+) per frame, (\d+) frames in more than one", vm.stdout)
    assert m, vm.explain()
    if multi:
        assert int(m.group(1)) > 1 and int(m.group(2)) > 0, vm.explain()
        if "rxbuf=256" in extra:
            assert int(m.group(1)) == 6, vm.explain()  # 12 + 1514 bytes in 256-byte buffers
    else:
        assert m.group(1) == "1", vm.explain()
    if "mac=0" in extra:
        assert "mac 02:00:00:62:68:01" in vm.stdout, vm.explain()  # its own, not the config's


def test_net_echo_without_peer_fails(vm_factory, guest, netns):
    """No host peer: HELLO goes unanswered and the guest says so."""
    vm, peers, status = run(vm_factory, netns, "net-echo", "bulkhead.timeout-ms=500", peer=False)
    assert status == GUEST_FAIL, vm.explain()
    assert "no host peer answered HELLO within 500 ms" in vm.stdout, vm.explain()


# ---- net-rx ----

@pytest.mark.parametrize("extra", ["", "bulkhead.rxbuf=128", "bulkhead.mrg=0 bulkhead.irq=1"])
def test_net_rx(vm_factory, guest, netns, extra):
    """The host sends 300 frames with its own seed: all arrive intact, once each."""
    frames, hseed = 300, 0x1234
    vm, peers, status = run(vm_factory, netns, "net-rx", "bulkhead.frames=%d bulkhead.host-seed=%d %s"
                            % (frames, hseed, extra))
    assert_pass(vm, peers, status, "net-rx")
    assert peers[0].sends == [(frames, 0, hseed, 0)], explain(vm, peers)
    assert "net-rx: eth0: %d frames" % frames in vm.stdout, vm.explain()


# ---- net-hostile ----

def test_net_hostile(vm_factory, guest, netns):
    """Every hostile case gives the outcome hostile_cases.NET_HOSTILE says for bulkhead; the
    host saw none of the frames the device had to refuse, and the good echo after each case."""
    vm, peers, status = run(vm_factory, netns, "net-hostile", timeout=90, vcpus=2)
    rx = r"net-hostile: ([a-z0-9-]+): .* \.\.\. (ok|FAIL|skipped) \(([^)]*)\)"
    lines = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(rx, vm.stdout)}
    cases = hostile_cases.NET_HOSTILE
    assert status == GUEST_PASS, explain(vm, peers)
    assert sorted(lines) == sorted(cases), explain(vm, peers)
    for name, (verdict, outcome) in lines.items():
        assert verdict == "ok" and outcome in cases[name][1], "%s: %s (%s)\n%s" % (
            name, verdict, outcome, explain(vm, peers))
    assert "net-hostile: %d passed, 0 failed, 0 skipped" % len(cases) in vm.stdout, explain(vm, peers)
    # The device refused every ring violation with NEEDS_RESET and said why in the log.
    resets = re.findall(r"bulkhead/%s/net0: .*device needs reset" % re.escape(vm.name), vm.stderr)
    needs_reset = sum(1 for _, o in lines.values() if o in ("NEEDS_RESET", "refused"))
    assert len(resets) >= needs_reset, explain(vm, peers)
    assert not re.search(r"\(pid \d+\) (was killed|exited|died)", vm.stderr), explain(vm, peers)
    p = peers[0]
    peers.check()  # no BAD frame reached the TAP
    # The good frame after each case did, and the two frames sent as they were (num_buffers
    # nonzero on transmit, the aliased chain) came back too.
    assert len(p.echoes) == len(cases) + 2, explain(vm, peers)
    # One SEND per rx case that waits for a frame (17), and the race's (one or more).
    assert len(p.sends) >= 18, explain(vm, peers)


def test_net_hostile_one_case(vm_factory, guest, netns):
    """bulkhead.case=NAME runs one case."""
    vm, peers, status = run(vm_factory, netns, "net-hostile", "bulkhead.case=rx-no-buffers")
    assert_pass(vm, peers, status, "net-hostile")
    assert "net-hostile: 1 passed, 0 failed, 0 skipped" in vm.stdout, vm.explain()
    assert "8 of 8 frames intact and in order" in vm.stdout, vm.explain()


# ---- net-two ----

def test_net_two(vm_factory, guest, netns):
    """Two NICs on two TAPs, echoing at once, each with its own MAC, window and GSI."""
    vm, peers, status = run(vm_factory, netns, "net-two", "bulkhead.frames=50", nics=2)
    assert_pass(vm, peers, status, "net-two")
    for i in range(2):
        assert peers[i].echoes == list(range(50)), explain(vm, peers)
        assert netpeer.mac_str(peers[i].guest_mac) == "%s%d" % (GUEST_MAC[:-1], i + 1)
        assert "net-two: eth%d at 0x%x gsi %d" % (i, 0xd0000000 + 0x1000 * i, 5 + i) in vm.stdout, \
            vm.explain()


# ---- net-bench ----

def test_net_bench_smoke(vm_factory, guest, netns):
    """net-bench runs both ways and reports positive numbers (no timing assertion)."""
    vm, peers, status = run(vm_factory, netns, "net-bench", "bulkhead.seconds=1")
    assert_pass(vm, peers, status, "net-bench")
    for what in ("tx", "rx"):
        m = re.search(r"net-bench: %s frames/s (\d+) MB/s (\d+)\.\d" % what, vm.stdout)
        assert m and int(m.group(1)) > 0, vm.explain()
    assert re.search(r"net-bench: echo rtt-us \d+\.\d", vm.stdout), vm.explain()
    assert peers[0].floods == 1, explain(vm, peers)
    m = re.search(r"net-bench: tx frames/s \d+ MB/s \S+ \((\d+) frames", vm.stdout)
    assert m and re.search(r"the host peer counted %s of %s frames" % (m.group(1), m.group(1)),
                           vm.stdout), vm.explain()
