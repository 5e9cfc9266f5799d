# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The hostile-guest suites under QEMU microvm (tests/guest/run-qemu.sh and
run-qemu-net.sh), the second column of docs/security.md's table: every case
runs to its end, and QEMU answers each as hostile_cases.py records it (QEMU
7.2, as Debian 12 ships it). QEMU does not refuse everything bulkhead must,
so its FAILs are the comparison, not errors here; a QEMU that hangs, dies or
answers differently from the record is. The same suites under bulkhead are
test_blk.py's and test_net_guest.py's."""
import os
import re
import subprocess

import pytest

import hostile_cases
from conftest import ROOT

GUEST_DIR = os.path.join(ROOT, "tests", "guest")
QEMU_PASS, QEMU_FAIL = 1, 3  # debug-exit 0 and 1, as QEMU's isa-debug-exit reports them
SUITES = {
    "blk-hostile": hostile_cases.BLK_HOSTILE,
    "mmio-hostile": hostile_cases.MMIO_HOSTILE,
    "vring-hostile": hostile_cases.VRING_HOSTILE,
}


def qemu_version():
    p = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True)
    m = re.search(r"version (\d+\.\d+)", p.stdout)
    return m.group(1) if m else p.stdout


def check_suite(suite, cases, p):
    out = p.stdout + p.stderr
    explain = "QEMU %s, status %d\n%s" % (qemu_version(), p.returncode, out[-8000:])
    assert p.returncode in (QEMU_PASS, QEMU_FAIL), explain
    rx = r"%s: ([a-z0-9-]+): .* \.\.\. (ok|FAIL|skipped) \(([^)]*)\)" % re.escape(suite)
    lines = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(rx, out)}
    assert sorted(lines) == sorted(cases), explain
    assert re.search(r"%s: \d+ passed, \d+ failed, \d+ skipped" % re.escape(suite), out), explain
    differ = ["%s: %s (%s), recorded %s (%s)" % (name, lines[name][0], lines[name][1], *want[2])
              for name, want in cases.items() if want[2] is not None and lines[name] != want[2]]
    assert not differ, "QEMU %s answers differently from hostile_cases.py (QEMU 7.2):\n%s\n%s" % (
        qemu_version(), "\n".join(differ), explain)


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_disk_suite_under_qemu(tmp_path, suite):
    img = tmp_path / "hostile.img"
    with open(img, "wb") as f:
        f.write(os.urandom(8 << 20))
    env = dict(os.environ, TIMEOUT="120", QEMU_EXTRA="-drive id=d0,file=%s,format=raw,if=none,discard=unmap "
               "-device virtio-blk-device,drive=d0" % img)
    p = subprocess.run([os.path.join(GUEST_DIR, "run-qemu.sh"), suite, "bulkhead.start=100",
                        "bulkhead.seed=7"], capture_output=True, text=True, timeout=180, env=env)
    check_suite(suite, SUITES[suite], p)


def test_net_suite_under_qemu():
    assert os.geteuid() == 0, "run-qemu-net.sh needs root (a network namespace and a TAP)"
    env = dict(os.environ, TIMEOUT="120")
    p = subprocess.run([os.path.join(GUEST_DIR, "run-qemu-net.sh"), "net-hostile"], capture_output=True,
                       text=True, timeout=180, env=env)
    check_suite("net-hostile", hostile_cases.NET_HOSTILE, p)
