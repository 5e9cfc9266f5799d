# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""--disk ...,snapshot=on: the guest reads the image and writes a private,
nameless overlay that is gone when bulkhead exits; the image is never
written (it may even be a read-only file), a sparse image stays sparse in
the overlay, and an image another VM writes is refused."""
import hashlib
import os
import re
import subprocess

import pytest

from conftest import EXIT_USAGE, GUEST_PASS, guest_args

MiB = 1 << 20


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def rw(seed, start=0, sectors=2048):
    return "bulkhead.seed=%d bulkhead.start=%d bulkhead.sectors=%d" % (seed, start, sectors)


def test_writes_go_to_the_overlay_and_vanish(vm_factory, tmp_path):
    img = tmp_path / "ro.img"
    img.write_bytes(bytes(8 * MiB))
    os.chmod(img, 0o444)  # snapshot=on needs only read access
    before = sha256(img)
    vm = vm_factory(guest_args("blk-rw", rw(7)) + ["--disk", "path=%s,snapshot=on" % img, "-v"])
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "blk-rw: read back 2048 sectors: match" in vm.stdout, vm.explain()
    assert re.search(r"snapshot=on: writes go to a private overlay in \S+ \((copy|reflink)\)",
                     vm.stderr), vm.explain()
    assert sha256(img) == before
    assert os.listdir(tmp_path) == ["ro.img"]


def test_the_guest_reads_the_image_through_the_overlay(vm_factory, tmp_path):
    img = tmp_path / "d.img"
    img.write_bytes(bytes(16 * MiB))
    vm = vm_factory(guest_args("blk-rw", rw(11, 4096)) + ["--disk", "path=%s" % img])
    assert vm.wait() == GUEST_PASS, vm.explain()
    written = sha256(img)
    # Another pattern over it, in a snapshot: the guest sees its own writes...
    vm = vm_factory(guest_args("blk-rw", rw(12, 4096)) + ["--disk", "path=%s,snapshot=on" % img])
    assert vm.wait() == GUEST_PASS, vm.explain()
    # ...and the next snapshot starts from the image again, with the first pattern.
    vm = vm_factory(guest_args("blk-verify", rw(11, 4096)) + ["--disk", "path=%s,snapshot=on" % img])
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert sha256(img) == written


@pytest.mark.needs_ptrace
def test_overlay_is_nameless_private_and_sparse(vm_factory, tmp_path):
    img = tmp_path / "sparse.img"
    with open(img, "wb") as f:
        f.truncate(256 * MiB)
        f.seek(100 * MiB)
        f.write(b"\x5a" * MiB)
    ovl = tmp_path / "ovl"
    ovl.mkdir()
    env = dict(os.environ, TMPDIR=str(ovl))
    vm = vm_factory(guest_args("echo") + ["--disk", "path=%s,snapshot=on" % img], stdin=subprocess.PIPE,
            env=env)
    vm.read_until(b"bulkhead-test-guest: ready")
    pid = vm.wait_children(["blk0"])["blk0"]
    backing = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        if target.startswith(str(ovl)) or target.startswith(str(img)):
            backing.append((target, os.stat("/proc/%d/fd/%s" % (pid, fd))))
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()
    # The blk process holds the overlay, not the image; the overlay has no name.
    assert len(backing) == 1, backing
    target, st = backing[0]
    assert target.startswith(str(ovl) + "/#") and target.endswith("(deleted)"), target
    assert st.st_size == 256 * MiB and st.st_mode & 0o777 == 0o600
    # Only the 1 MiB of data was copied (allocation rounds up a little).
    assert st.st_blocks * 512 <= 2 * MiB, st.st_blocks
    assert os.listdir(ovl) == []


def test_an_image_in_use_is_refused(vm_factory, tmp_path):
    img = tmp_path / "busy.img"
    img.write_bytes(bytes(MiB))
    writer = vm_factory(guest_args("echo") + ["--disk", "path=%s" % img], stdin=subprocess.PIPE)
    writer.read_until(b"bulkhead-test-guest: ready")
    try:
        vm = vm_factory(guest_args("hello") + ["--disk", "path=%s,snapshot=on" % img])
        assert vm.wait() == EXIT_USAGE, vm.explain()
        assert vm.stderr.strip() == "bulkhead: --disk: path=%s: in use by another VM (locked)" % img, \
            vm.explain()
    finally:
        writer.proc.stdin.write(b"quit\n")
        writer.proc.stdin.close()
        assert writer.wait() == GUEST_PASS, writer.explain()
