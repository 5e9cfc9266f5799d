# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""make install honours PREFIX and DESTDIR, puts bulkhead and bulkhead-qemu in
$(PREFIX)/bin and every helper bulkhead runs in $(PREFIX)/libexec/bulkhead, and
the installed bulkhead runs them from there."""
import filecmp
import os
import stat
import subprocess

from conftest import BUILD, GUEST_PASS, ROOT, guest_args

# Built but never installed: the probe evaluates the jail from the source tree (README).
NOT_INSTALLED = {"bulkhead-probe"}
# Installed beside bulkhead, in bin: the front ends a user runs.
FRONT_ENDS = ["bulkhead-qemu"]
# The child each helper runs as, in a VM with one disk, one NIC, one share, --rng, --vsock
# and --api-socket.
CHILD = {"bulkhead-vcpu": "vcpu", "bulkhead-serial": "serial", "bulkhead-blk": "blk0",
         "bulkhead-net": "net0", "bulkhead-9p": "9p0", "bulkhead-rng": "rng",
         "bulkhead-vsock": "vsock", "bulkhead-api": "api"}
# Helpers that run as no child of a VM: bulkhead ctl execs this one.
NOT_A_CHILD = {"bulkhead-ctl"}


def built_helpers():
    """Every helper executable the build made beside bulkhead."""
    out = []
    for name in os.listdir(BUILD):
        path = os.path.join(BUILD, name)
        if (name.startswith("bulkhead-") and name not in NOT_INSTALLED and name not in FRONT_ENDS
                and os.path.isfile(path) and os.access(path, os.X_OK)):
            out.append(name)
    return sorted(out)


def test_install_layout_and_run(tmp_path, vm_factory, netns):
    helpers = built_helpers()
    # A helper without a child to check is one this test does not know yet: teach it.
    assert sorted(set(CHILD) | NOT_A_CHILD) == helpers, \
        "built helpers %s, this test knows %s" % (helpers, sorted(set(CHILD) | NOT_A_CHILD))
    dest = tmp_path / "dest"
    subprocess.run(["make", "-s", "-C", ROOT, "install", "PREFIX=/opt/bh", "DESTDIR=%s" % dest],
                   check=True, capture_output=True, timeout=300)
    prefix = dest / "opt" / "bh"
    libexec = prefix / "libexec" / "bulkhead"
    assert (prefix / "bin" / "bulkhead").is_file()
    assert sorted(os.listdir(prefix / "bin")) == ["bulkhead"] + FRONT_ENDS
    assert sorted(os.listdir(libexec)) == helpers, "libexec holds %s" % os.listdir(libexec)
    for helper in helpers:
        path = libexec / helper
        assert path.is_file() and os.access(path, os.X_OK), path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o755, path
        assert filecmp.cmp(path, os.path.join(BUILD, helper), shallow=False), path
    for page in ["bulkhead"] + FRONT_ENDS:
        assert (prefix / "share" / "man" / "man1" / (page + ".1")).is_file(), page

    # The installed bulkhead runs the installed helpers, every one of them.
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    netns.add_tap("tap0")
    share = tmp_path / "share"
    share.mkdir()
    sock = str(tmp_path / "api.sock")
    vm = vm_factory(guest_args("echo", mem=32) + ["--disk", "path=%s" % img, "--net", "tap=tap0",
                                                  "--fs", "path=%s,tag=share" % share, "--rng",
                                                  "--vsock", "cid=3,uds=%s" % (tmp_path / "v.sock"),
                                                  "--api-socket", sock],
                    exe=str(prefix / "bin" / "bulkhead"), wrap=netns.exec_argv,
                    stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    # The installed bulkhead ctl finds its helper beside the installed tree (../libexec/bulkhead);
    # its request starts bulkhead-api (at the socket's first client).
    p = subprocess.run([str(prefix / "bin" / "bulkhead"), "ctl", sock, "ping"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and '"pid"' in p.stdout, p
    pids = vm.wait_children(list(CHILD.values()))
    for helper, child in CHILD.items():
        ran, want = os.stat("/proc/%d/exe" % pids[child]), os.stat(libexec / helper)
        assert (ran.st_dev, ran.st_ino) == (want.st_dev, want.st_ino), \
            "%s runs %s, not the installed %s" % (child, os.readlink("/proc/%d/exe" % pids[child]),
                                                  libexec / helper)
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "PASS echo" in vm.stdout, vm.explain()
