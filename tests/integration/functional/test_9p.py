# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""--fs: a host directory shared over virtio-9p, served by bulkhead-9p jailed
into a bind mount of it. The test guest's 9P2000.L client (p9-* scenarios)
reads what the host put there, writes back what the host then checks, and
attacks the server; the host checks nothing outside the share changed."""
import grp
import hashlib
import os
import pwd
import signal
import stat
import subprocess
import sys

import pytest

from conftest import (BULKHEAD, EXIT_USAGE, EXIT_VM_FAILED, GUEST, GUEST_PASS, TEST_USER, ROOT,
                      guest_args)

sys.path.insert(0, os.path.join(ROOT, "tests", "guest"))
import pattern  # noqa: E402

HELLO = b"hello from the host\n"
JAIL_ID = 62222


def creator_ids():
    """Who owns what the guest creates: the jail's id, or the unprivileged user
    (bulkhead runs as TEST_USER's uid and group)."""
    if TEST_USER:
        return pwd.getpwnam(TEST_USER).pw_uid, grp.getgrnam(TEST_USER).gr_gid
    return JAIL_ID, JAIL_ID


def make_share(tmp_path, seed=1, nbytes=1 << 20):
    """The share, with a file beside it that must never change."""
    share = tmp_path / "share"
    share.mkdir()
    os.chmod(share, 0o777)
    (share / "hello.txt").write_bytes(HELLO)
    (share / "data.bin").write_bytes(pattern.generate(0, nbytes, seed))
    (share / "big.bin").write_bytes(b"\x5a" * (256 << 10))
    os.symlink("/", share / "escape-root")
    os.symlink("/etc/passwd", share / "escape-abs")
    os.symlink("../outside.txt", share / "escape-up")
    os.symlink("/proc/self/root", share / "magic")
    os.makedirs(share / "deep" / os.path.join(*["d"] * 15))
    (tmp_path / "outside.txt").write_bytes(b"outside the share\n")
    return share


def snapshot(top):
    """Every path below top with its type, mode, owner and content digest."""
    out = {}
    for d, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            digest = ""
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            elif os.path.islink(p):
                digest = os.readlink(p)
            out[os.path.relpath(p, top)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, digest)
    return out


def run_guest(vm_factory, scenario, share, extra="", fs_opts=""):
    vm = vm_factory(guest_args(scenario, extra) +
                    ["--fs", "path=%s,tag=share%s" % (share, fs_opts)])
    status = vm.wait(60)
    return vm, status


def test_info(vm_factory, tmp_path):
    vm, status = run_guest(vm_factory, "p9-info", make_share(tmp_path))
    assert status == GUEST_PASS, vm.explain()
    assert "p9-info: tag 'share' msize 131072" in vm.stdout, vm.explain()
    assert "qid type 0x80" in vm.stdout, vm.explain()


def test_read_and_write_back(vm_factory, tmp_path):
    """The guest reads the host's pattern file and writes one the host checks,
    with the modes it asked for and owned by the jail's id."""
    share = make_share(tmp_path, seed=7)
    outside = (tmp_path / "outside.txt").read_bytes()
    vm, status = run_guest(vm_factory, "p9-rw", share, "bulkhead.seed=7 bulkhead.p9-bytes=1048576")
    assert status == GUEST_PASS, vm.explain()
    want_read = "fnv 0x%016x" % pattern.checksum(pattern.generate(0, 1 << 20, 7))
    assert "read data.bin: 1048576 bytes, " + want_read in vm.stdout, vm.explain()
    st = os.lstat(share / "renamed.txt")  # before the host reads it and moves its atime
    assert int(st.st_mtime) == 1234567890 and int(st.st_atime) == 1000000000, st
    got = share / "from-guest.bin"
    assert got.read_bytes() == pattern.generate(0, 1 << 20, 8)
    ids = creator_ids()
    expect = {
        "from-guest.bin": 0o100640,
        "newdir": 0o040750,
        "newdir/inner.txt": 0o100604,
        "renamed.txt": 0o100600,
    }
    for name, mode in expect.items():
        st = os.lstat(share / name)
        assert st.st_mode == mode, (name, oct(st.st_mode))
        assert (st.st_uid, st.st_gid) == ids, (name, st)
    assert (share / "newdir" / "inner.txt").read_bytes() == b"inner\n"
    assert (share / "renamed.txt").read_bytes() == b"ren"
    assert os.readlink(share / "link-to-hello") == "hello.txt"
    assert not (share / "tmp.txt").exists() and not (share / "gone.txt").exists()
    assert not (share / "removed.txt").exists()
    st = os.lstat(share / "renamed.txt")
    assert st.st_nlink == 2 and os.lstat(share / "hard-link").st_ino == st.st_ino
    assert stat.S_ISFIFO(os.lstat(share / "fifo").st_mode)
    assert (tmp_path / "outside.txt").read_bytes() == outside


def test_readonly_share_refuses_every_change(vm_factory, tmp_path):
    share = make_share(tmp_path)
    before = snapshot(tmp_path)
    vm, status = run_guest(vm_factory, "p9-ro", share, fs_opts=",readonly=on")
    assert status == GUEST_PASS, vm.explain()
    assert "10 kinds of change are EROFS" in vm.stdout
    assert snapshot(tmp_path) == before


def test_hostile_guest(vm_factory, tmp_path):
    """Traversal, bad names and fids, walks of 16 and 17, msize and framing
    abuse, a chain without room for a reply: each refused as 9P2000.L says,
    the server keeps serving, and nothing outside the share changes."""
    share = make_share(tmp_path)
    before = snapshot(tmp_path)
    root_before = set(os.listdir("/"))
    vm, status = run_guest(vm_factory, "p9-hostile", share)
    assert status == GUEST_PASS, vm.explain()
    assert "p9-hostile: 12 cases, 0 failed" in vm.stdout, vm.explain()
    assert snapshot(tmp_path) == before
    assert set(os.listdir("/")) == root_before


def test_jail_root_is_the_share(vm_factory, tmp_path):
    """While the VM runs, bulkhead-9p's only mount is the share, read-only,
    nosuid, nodev, noexec, and its root lists exactly the share."""
    share = make_share(tmp_path)
    vm = vm_factory(guest_args("echo") + ["--fs", "path=%s,tag=share,readonly=on" % share],
                    stdin=subprocess.PIPE)
    vm.read_until(b"ready")
    pid = vm.wait_children(["9p0"])["9p0"]
    with open("/proc/%d/mountinfo" % pid) as f:
        mounts = f.read().splitlines()
    assert len(mounts) == 1, mounts
    fields = mounts[0].split()
    assert fields[4] == "/", mounts  # the mount point: its root
    assert fields[3].endswith(str(share)), mounts  # the root of the mount: the share itself
    assert set(fields[5].split(",")) >= {"ro", "nosuid", "nodev", "noexec"}, mounts
    assert sorted(os.listdir("/proc/%d/root" % pid)) == sorted(os.listdir(share))
    with open("/proc/%d/status" % pid) as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    assert status["Seccomp"].strip() == "2"
    assert int(status["Uid"].split()[0]) != 0 or TEST_USER
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait(30) == GUEST_PASS, vm.explain()


def test_not_restarted(vm_factory, tmp_path):
    """--on-device-failure restart does not bring a 9p process back: the VM
    ends, naming it and why."""
    share = make_share(tmp_path)
    vm = vm_factory(guest_args("echo") + ["--on-device-failure", "restart",
                                          "--fs", "path=%s,tag=share" % share],
                    stdin=subprocess.PIPE)
    vm.read_until(b"ready")
    os.kill(vm.wait_children(["9p0"])["9p0"], signal.SIGKILL)
    assert vm.wait(30) == EXIT_VM_FAILED, vm.explain()
    assert "9p0" in vm.stderr and "not restartable: the guest's fids" in vm.stderr, vm.explain()


def rejected(args):
    p = subprocess.run([BULKHEAD, "--kernel", "path=%s" % GUEST] + args, capture_output=True,
                       timeout=30)
    err = p.stderr.decode()
    assert p.returncode == EXIT_USAGE, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulkhead: --fs"), err
    return lines[0]


def test_bad_options(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    assert "No such file" in rejected(["--fs", "path=%s,tag=t" % (tmp_path / "nope")])
    assert "Not a directory" in rejected(["--fs", "path=%s,tag=t" % (tmp_path / "f")])
    assert "tag" in rejected(["--fs", "path=%s" % tmp_path])
    assert "path" in rejected(["--fs", "tag=t"])
    assert "printable" in rejected(["--fs", "path=%s,tag=a\tb" % tmp_path])
    rejected(["--fs", "path=%s,tag=%s" % (tmp_path, "x" * 32)])
    rejected(["--fs", "path=%s,tag=" % tmp_path])
    rejected(["--fs", "path=%s,tag=t,readonly=yes" % tmp_path])
    rejected(["--fs", "path=%s,tag=t,cache=none" % tmp_path])


@pytest.mark.root_only
def test_readonly_filesystem_needs_readonly_on(vm_factory, tmp_path):
    src = make_share(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "--bind", "-o", "ro", str(src), str(ro)], check=True)
    try:
        assert "readonly=on" in rejected(["--fs", "path=%s,tag=t" % ro])
        vm, status = run_guest(vm_factory, "p9-info", ro, fs_opts=",readonly=on")
        assert status == GUEST_PASS, vm.explain()
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def test_host_root_read_only(vm_factory):
    """--fs path=/,readonly=on: as root, the share is the root file system
    alone (the mounts below it, /proc among them, stay out: an empty
    directory in the jail). Unprivileged, the user namespace locks those
    mounts in, so the jail refuses and says why rather than expose them."""
    vm = vm_factory(guest_args("echo") + ["--fs", "path=/,tag=root,readonly=on"],
                    stdin=subprocess.PIPE)
    if TEST_USER:
        assert vm.wait(30) == EXIT_VM_FAILED, vm.explain()
        assert "mounts below it cannot be hidden without privilege" in vm.stderr, vm.explain()
        return
    vm.read_until(b"ready")
    pid = vm.wait_children(["9p0"])["9p0"]
    assert os.listdir("/proc/%d/root/proc" % pid) == []
    assert os.path.exists("/proc/%d/root/etc/passwd" % pid)
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait(30) == GUEST_PASS, vm.explain()
