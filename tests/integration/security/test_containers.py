# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""bulkhead in a default Docker container, modelled by tests/container/dockerlike:
Docker's default capabilities, clone3 answered with ENOSYS, and clone with
namespace flags, unshare, mount and pivot_root with EPERM. --jail on refuses at
once with one line naming --jail no-namespaces and the container settings that
allow the full jail; --jail no-namespaces boots the guest with every child
jailed as far as the container allows: its own uid (the jail's, or the invoking
user's without CAP_SETUID), no capabilities, no_new_privs, seccomp."""
import os
import pwd
import subprocess
import time

import pytest

from conftest import (BUILD, ENV_LIMITS, EXIT_USAGE, GUEST_PASS, TEST_USER, guest_args,
                      jailed_children, proc_status, vm_processes)

DOCKERLIKE = os.path.join(BUILD, "tests", "dockerlike")
if not os.path.exists(DOCKERLIKE):  # the unprivileged pass runs from a copy of the build
    DOCKERLIKE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))), "build", "tests", "dockerlike")
KVM_GID = os.stat("/dev/kvm").st_gid


def in_container(argv):
    assert os.path.exists(DOCKERLIKE), "tests/container/dockerlike not built: make integration"
    return [DOCKERLIKE] + argv


def as_kvm_user(argv):
    """A user who may open /dev/kvm through its group and has no other privilege (in the
    unprivileged pass, Vm made bulkhead's argv run as that pass's user already)."""
    if TEST_USER:
        return argv
    return ["setpriv", "--reuid", "65534", "--regid", str(KVM_GID), "--clear-groups",
            "--inh-caps=-all", "--"] + argv


def kvm_user_ids():
    if TEST_USER:
        pw = pwd.getpwnam(TEST_USER)
        return pw.pw_uid, pw.pw_gid
    return 65534, KVM_GID


def test_dockerlike_models_the_profile():
    """The model itself: clone3 is ENOSYS, a namespace is EPERM, CAP_SYS_ADMIN is gone."""
    code = ("import ctypes, os\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "print(libc.syscall(435, 0, 0), ctypes.get_errno())\n"   # clone3
            "print(libc.unshare(0x10000000), ctypes.get_errno())\n"  # CLONE_NEWUSER
            "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n")
    p = subprocess.run(in_container(["/usr/bin/python3", "-c", code]), capture_output=True,
                       text=True, timeout=30)
    lines = p.stdout.split("\n")
    assert lines[0] == "-1 38" and lines[1] == "-1 1", p.stdout + p.stderr
    assert not int(lines[2], 16) & (1 << 21), lines[2]  # CAP_SYS_ADMIN


def test_jail_on_refuses_at_once_in_one_line(vm_factory):
    t0 = time.monotonic()
    vm = vm_factory(guest_args("hello") + ["--jail", "on"], wrap=in_container)
    assert vm.wait() == EXIT_USAGE, vm.explain()
    took = time.monotonic() - t0
    lines = vm.stderr.splitlines()
    assert len(lines) == 1, vm.explain()
    line = lines[0]
    assert line.startswith("bulkhead: --jail on: "), line
    assert "--jail no-namespaces" in line and "seccomp=unconfined" in line, line
    assert "clone with new user and PID namespaces" in line, line  # the step that failed
    assert "PASS" not in vm.stdout and not vm_processes(vm.name)
    assert took < 5, "refused only after %.1f s" % took


def test_no_namespaces_boots_the_guest(vm_factory):
    """clone3's ENOSYS falls back to clone; the jail without namespaces is announced."""
    vm = vm_factory(guest_args("hello") + ["--jail", "no-namespaces", "-v"], wrap=in_container)
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "PASS hello" in vm.stdout, vm.explain()
    assert "warning: --jail no-namespaces" in vm.stderr, vm.explain()
    assert "clone3: Function not implemented: using clone" in vm.stderr, vm.explain()


def run_echo(vm_factory, wrap):
    vm = vm_factory(guest_args("echo") + ["--jail", "no-namespaces"], stdin=subprocess.PIPE,
                    wrap=wrap)
    vm.read_until(b"bulkhead-test-guest: ready")
    pids = vm.wait_children(["vcpu", "serial"])
    return vm, pids


def finish(vm):
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()


def check_jailed(pids, uid, gid):
    sup, children = jailed_children(pids)
    for name, pid, st in children:
        assert st["Uid"] == [str(uid)] * 4, (name, st["Uid"])
        assert st["Gid"] == [str(gid)] * 4, (name, st["Gid"])
        # No namespaces here: the children share the supervisor's (NSpid: one pid per level).
        assert len(st["NSpid"]) == len(proc_status(sup)["NSpid"]), (name, st["NSpid"])
        if ENV_LIMITS["needs_ptrace"]:
            continue  # a non-dumpable child's /proc/PID/ns needs CAP_SYS_PTRACE to read
        for ns in ("pid", "mnt", "net"):
            assert os.readlink("/proc/%d/ns/%s" % (pid, ns)) == \
                os.readlink("/proc/%d/ns/%s" % (sup, ns)), (name, ns)


@pytest.mark.skipif(bool(TEST_USER), reason="the container's root: not the unprivileged pass")
def test_no_namespaces_children_take_the_jails_id(vm_factory):
    vm, pids = run_echo(vm_factory, in_container)
    try:
        check_jailed(pids, 62222, 62222)
    finally:
        finish(vm)


def test_no_namespaces_without_setuid_runs_as_the_invoking_user(vm_factory):
    uid, gid = kvm_user_ids()
    vm, pids = run_echo(vm_factory, lambda argv: in_container(as_kvm_user(argv)))
    try:
        check_jailed(pids, uid, gid)
    finally:
        finish(vm)
    assert "as the invoking user (uid %d gid %d" % (uid, gid) in vm.stderr, vm.explain()


def test_no_namespaces_as_root_without_setuid_is_refused(vm_factory):
    """Root that may not change ids would leave its children at uid 0: refused, one line."""
    def wrap(argv):
        return in_container(["setpriv", "--bounding-set", "-setuid,-setgid", "--inh-caps",
                             "-setuid,-setgid", "--"] + argv)
    if TEST_USER:
        pytest.skip("the container's root: not the unprivileged pass")
    vm = vm_factory(guest_args("hello") + ["--jail", "no-namespaces"], wrap=wrap)
    assert vm.wait() == EXIT_USAGE, vm.explain()
    assert vm.stderr.count("\n") == 1 and "CAP_SETUID" in vm.stderr, vm.explain()
