# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""Debian's kernel on bulkhead's virtio-9p (9pnet_virtio, 9p, mount -t 9p
-o trans=virtio): a shared directory read and written with the data checked
on both sides, and a busybox root directory shared over 9p that the guest
switches root to and runs its init from."""
import os
import re
import subprocess

from conftest import ROOT

PATTERN_PY = os.path.join(ROOT, "tests", "guest", "linux", "linux_pattern.py")
JAIL_ID = "62222:62222"


def pattern_sha256(seed, nbytes):
    p = subprocess.run(["/usr/bin/python3", PATTERN_PY, "sha256", str(seed), str(nbytes)],
                       capture_output=True, text=True, check=True, timeout=120)
    return p.stdout.split()[0]


def test_mount_read_and_write_back(linux_run):
    case = "9p-mount"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    h = linux_run.host(case)
    # The guest read what the host put there...
    m = re.search(r"9p-mount data sha256 ([0-9a-f]{64}) bytes (\d+)", out)
    assert m and m.group(1) == h["data-sha256"] == pattern_sha256(3, 8 << 20), linux_run.explain(case)
    assert int(m.group(2)) == 8 << 20, linux_run.explain(case)
    # ...and the host found what the guest wrote, with the mode it set, owned by the jail's id.
    m = re.search(r"9p-mount back sha256 ([0-9a-f]{64})", out)
    assert m and m.group(1) == h["back-sha256"] == pattern_sha256(4, 8 << 20), linux_run.explain(case)
    assert int(h["back-bytes"]) == 8 << 20
    assert h["back-owner"] == JAIL_ID and h["dir-owner"] == JAIL_ID, h
    assert h["back-mode"] == "640", h
    assert h["moved"] == "inner" and h["link"] == "hello.txt" and h["hard-links"] == "2", h
    assert h["gone"] == "absent", h


def test_boot_into_a_9p_root(linux_run):
    case = "9p-root"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    assert re.search(r"9p-root: / is: rootfs / 9p ", out), linux_run.explain(case)
    assert "9p-root: bulkhead 9p root on " in out, linux_run.explain(case)
    assert "PASS 9p-root" in out, linux_run.explain(case)
    assert linux_run.host(case)["written"] == "written_from_the_9p_root", linux_run.explain(case)
