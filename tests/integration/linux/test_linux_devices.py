# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""Debian's kernel on bulkhead's virtio devices, found through the ACPI
DSDT: disks (dd, a restarted disk device, a read-only disk, ext2), the
network (ping, 8 MiB each way over TCP), entropy (64 KiB from /dev/hwrng
through virtio_rng) and host sockets (1 MiB each way over vsock), with the
data checked on both sides."""
import os
import re
import subprocess

from conftest import ROOT

PATTERN_PY = os.path.join(ROOT, "tests", "guest", "linux", "linux_pattern.py")


def pattern_sha256(seed, nbytes):
    p = subprocess.run(["/usr/bin/python3", PATTERN_PY, "sha256", str(seed), str(nbytes)],
                       capture_output=True, text=True, check=True, timeout=120)
    return p.stdout.split()[0]


def test_blk_dd_reaches_the_image(linux_run):
    case = "blk-dd"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    m = re.search(r"blk-dd sha256 ([0-9a-f]{64}) bytes (\d+)", linux_run.lines(case, "out"))
    assert m, linux_run.explain(case)
    want = pattern_sha256(1, 8 << 20)
    assert m.group(1) == want and int(m.group(2)) == 8 << 20, linux_run.explain(case)
    assert linux_run.host(case)["image-sha256"] == want, linux_run.explain(case)


def test_blk_restarts_under_linux(linux_run):
    """--on-device-failure restart: bulkhead-blk killed 3 times while the kernel
    writes, syncs and reads back its disk 12 times; every pass matches and the
    guest powers off (status 0)."""
    case = "blk-restart"
    assert linux_run.status(case) == 0, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    passes = re.findall(r"blk-loop: pass (\d+) of 12 ok", out)
    assert passes == [str(i) for i in range(1, 13)], linux_run.explain(case)
    assert "PASS blk-loop (powering off)" in out, linux_run.explain(case)
    kills = re.findall(r"^=== KILL %s blk0 (\d+) after" % case, linux_run.text, re.M)
    assert len(kills) == 3, linux_run.explain(case)
    err = linux_run.lines(case, "err")
    for n, pid in enumerate(kills, 1):
        assert re.search(r"blk0 \(pid %s\) was killed by signal 9 \(SIGKILL\); restarting it "
                         r"\(restart %d;" % (pid, n), err), linux_run.explain(case)


def test_blk_readonly_disk_refuses_writes(linux_run):
    case = "blk-ro"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    h = linux_run.host(case)
    assert h["before"] == h["after"], "the read-only image changed\n" + linux_run.explain(case)


def test_ext2_made_and_mounted(linux_run):
    case = "ext2"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    assert "PASS ext2" in linux_run.lines(case, "out"), linux_run.explain(case)


def test_ping_without_loss(linux_run):
    case = "net-ping"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    assert "20 packets transmitted, 20 packets received, 0% packet loss" in out or \
        re.search(r"\b0% packet loss", out), linux_run.explain(case)


def test_jail_holds_while_linux_runs(linux_run):
    """The security suite's checks, once on a Linux guest with a disk and a NIC
    (cases.sh jail_report, run while net-ping pings)."""
    case = "net-ping"
    linux_run.status(case)  # skips, saying why, where L1 failed the case every time
    text = linux_run.text
    roles = re.findall(r"^=== JAIL %s (\S+) pid \d+ sup \d+$" % case, text, re.M)
    assert sorted(roles) == ["blk0", "net0", "serial", "vcpu"], linux_run.explain(case)
    for role in roles:
        fields = {}
        for m in re.finditer(r"^=== JAILF %s %s (\w+): (.*)$" % (case, role), text, re.M):
            fields[m.group(1)] = m.group(2).split()
        assert fields["Seccomp"] == ["2"], (role, fields)
        assert fields["NoNewPrivs"] == ["1"], (role, fields)
        for cap in ("CapEff", "CapPrm", "CapBnd"):
            assert fields[cap] == ["0000000000000000"], (role, cap, fields)
        assert all(int(i) != 0 for i in fields["Uid"] + fields["Gid"]), (role, fields)
        ns = re.findall(r"^=== JAILNS %s %s (\w+) (\S+) (\S+)$" % (case, role), text, re.M)
        assert sorted(n for n, _, _ in ns) == ["ipc", "mnt", "net", "pid", "uts"], (role, ns)
        for name, child, sup in ns:
            assert child != sup, (role, name, child)
        fds = re.search(r"^=== JAILFD %s %s(.*)$" % (case, role), text, re.M).group(1).split()
        expect = {"serial": 7, "blk0": 8, "net0": 9}.get(role)  # with the register shadow
        if expect:  # stderr, control and the fds it was given, plus its epoll
            assert set(range(2, 2 + expect)) <= set(int(f) for f in fds), (role, fds)
            assert len(fds) <= expect + 1, (role, fds)


def test_tcp_8mib_both_ways(linux_run):
    case = "net-tcp"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    h = linux_run.host(case)
    # The guest got what we sent...
    m = re.search(r"net-tcp rx sha256 ([0-9a-f]{64})", out)
    assert m and m.group(1) == h["sent-sha256"] == pattern_sha256(2, 8 << 20), \
        linux_run.explain(case)
    # ...and we got what it sent.
    assert int(h["got-bytes"]) == 8 << 20, linux_run.explain(case)
    assert h["got-sha256"] == pattern_sha256(1, 8 << 20), linux_run.explain(case)


def test_rng_hwrng(linux_run):
    """Debian's hw_random core picks virtio_rng.0; 64 KiB from /dev/hwrng do not compress."""
    case = "rng"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    assert "rng: rng_current virtio_rng.0" in out, linux_run.explain(case)
    m = re.search(r"rng: read (\d+) bytes in [\d.]+s, gzip -9 gives (\d+) bytes", out)
    assert m and int(m.group(1)) == 65536 and int(m.group(2)) >= 65536, linux_run.explain(case)


def test_vsock_1mib_both_ways(linux_run):
    """1 MiB from a host program through PATH and CONNECT 5001 to the guest's listener,
    and 1 MiB from the guest to CID 2 port 5000, our program at PATH_5000: each end
    answers the other's byte count and CRC-32, and both must agree."""
    case = "vsock"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    out, host = linux_run.lines(case, "out"), linux_run.lines(case, "host")
    sent = re.search(r"host sent 1048576 bytes crc32 (0x[0-9a-f]{8}) .*answer ok", host)
    got = re.search(r"vsock: vsock-tool: received 1048576 bytes crc32 (0x[0-9a-f]{8})", out)
    assert sent and got and sent.group(1) == got.group(1), linux_run.explain(case) + host
    assert "status 0" in host, host
    gsent = re.search(r"vsock: vsock-tool: sent 1048576 bytes crc32 (0x[0-9a-f]{8}) .*answer ok", out)
    hgot = re.search(r"host received 1048576 bytes crc32 (0x[0-9a-f]{8})", host)
    assert gsent and hgot and gsent.group(1) == hgot.group(1), linux_run.explain(case) + host
