# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""--disk configuration: images are opened, checked and locked by the
supervisor; every bad one is a one-line error naming --disk, status 2."""
import os
import re
import signal
import subprocess

import pytest

from conftest import BULKHEAD, EXIT_USAGE, EXIT_VM_FAILED, GUEST, bulkhead_cmd, guest_args


def run_rejected(args):
    p = subprocess.run([BULKHEAD, "--kernel", "path=%s" % GUEST] + args, capture_output=True,
                       timeout=30)
    err = p.stderr.decode()
    assert p.returncode == EXIT_USAGE, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulkhead: --disk"), err
    return lines[0]


def test_missing_image(tmp_path):
    assert "No such file" in run_rejected(["--disk", "path=%s" % (tmp_path / "nope.img")])


def test_size_not_multiple_of_512(tmp_path):
    img = tmp_path / "odd.img"
    img.write_bytes(b"x" * 1000)
    assert "multiple of 512" in run_rejected(["--disk", "path=%s" % img])


def test_empty_image(tmp_path):
    img = tmp_path / "empty.img"
    img.write_bytes(b"")
    assert "multiple of 512" in run_rejected(["--disk", "path=%s" % img])


def test_directory_is_not_an_image(tmp_path):
    msg = run_rejected(["--disk", "path=%s" % tmp_path])
    assert "regular file or block device" in msg or "directory" in msg.lower()


@pytest.mark.parametrize("opt", ["path=%(img)s,readonly=yes", "path=%(img)s,direct=1",
                                 "path=%(img)s,bogus=1", "readonly=on",
                                 "path=%(img)s,serial=123456789012345678901"])
def test_bad_disk_options(tmp_path, opt):
    img = tmp_path / "d.img"
    img.write_bytes(bytes(4096))
    run_rejected(["--disk", opt % {"img": img}])


@pytest.mark.needs_sys_admin
def test_readonly_file_needs_readonly_on(tmp_path):
    """A file the supervisor cannot open for writing (here: on a read-only
    mount, which refuses even root) needs readonly=on."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "ro.img").write_bytes(bytes(65536))
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", "-o", "ro", str(src), str(ro)], check=True)
    else:
        os.chmod(src / "ro.img", 0o444)
        ro = src
    try:
        msg = run_rejected(["--disk", "path=%s" % (ro / "ro.img")])
        assert "readonly=on" in msg, msg
        p = subprocess.run(bulkhead_cmd(guest_args("hello") +
                                        ["--disk", "path=%s,readonly=on" % (ro / "ro.img")]),
                           capture_output=True, timeout=30)
        assert p.returncode == 1, p.stderr
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)], check=True)


def test_image_locked_by_another_vm(vm_factory, tmp_path):
    img = tmp_path / "shared.img"
    img.write_bytes(bytes(1 << 20))
    first = vm_factory(guest_args("echo") + ["--disk", "path=%s" % img], stdin=subprocess.PIPE)
    first.read_until(b"bulkhead-test-guest: ready")
    msg = run_rejected(["--disk", "path=%s" % img])
    assert "in use" in msg, msg
    # A read-only user is refused too while a writer holds it.
    assert "in use" in run_rejected(["--disk", "path=%s,readonly=on" % img])
    first.proc.stdin.write(b"quit\n")
    first.proc.stdin.close()
    assert first.wait() == 1, first.explain()


def test_same_image_twice_in_one_vm(tmp_path):
    img = tmp_path / "twice.img"
    img.write_bytes(bytes(4096))
    assert "in use" in run_rejected(["--disk", "path=%s" % img, "--disk", "path=%s" % img])


def test_two_readonly_users_may_share(vm_factory, tmp_path):
    img = tmp_path / "ro-shared.img"
    img.write_bytes(bytes(1 << 20))
    a = vm_factory(guest_args("hello") + ["--disk", "path=%s,readonly=on" % img])
    b = vm_factory(guest_args("hello") + ["--disk", "path=%s,readonly=on" % img])
    assert a.wait() == 1, a.explain()
    assert b.wait() == 1, b.explain()


def test_kill_blk_stops_vm(vm_factory, tmp_path):
    img = tmp_path / "k.img"
    img.write_bytes(bytes(1 << 20))
    vm = vm_factory(guest_args("echo") + ["--disk", "path=%s" % img], stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    pids = vm.wait_children(["vcpu", "serial", "blk0"])
    os.kill(pids["blk0"], signal.SIGKILL)
    assert vm.wait() == EXIT_VM_FAILED, vm.explain()
    assert re.search(r"blk0 \(pid \d+\) was killed by signal 9", vm.stderr), vm.explain()


def test_disks_announced_on_the_command_line(vm_factory, tmp_path):
    imgs = []
    for i in range(3):
        img = tmp_path / ("d%d.img" % i)
        img.write_bytes(bytes(1 << 20))
        imgs += ["--disk", "path=%s" % img]
    vm = vm_factory(guest_args("hello") + imgs)
    assert vm.wait() == 1, vm.explain()
    for i in range(3):
        assert "virtio_mmio.device=4K@0x%x:%d" % (0xd0000000 + i * 0x1000, 5 + i) in vm.stdout, \
            vm.explain()
