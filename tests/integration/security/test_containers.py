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
import shutil
import subprocess
import time

import pytest

from conftest import (BUILD, ENV_LIMITS, EXIT_USAGE, EXIT_VM_FAILED, GUEST, GUEST_PASS, ROOT,
                      TEST_USER, guest_args, jailed_children, proc_status, vm_processes)

DOCKERLIKE = os.path.join(BUILD, "tests", "dockerlike")
if not os.path.exists(DOCKERLIKE):  # the unprivileged pass runs from a copy of the build
    DOCKERLIKE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))), "build", "tests", "dockerlike")
KVM_GID = os.stat("/dev/kvm").st_gid
POLICIES = os.path.join(ROOT, "seccomp-policies", "x86_64")


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


# Root with CAP_SYS_ADMIN spawns its children into the full jail without the namespace
# probe (supervisor/jailplan.c); these models refuse one part of that jail, and the probe
# then judges the failed start as it would have judged the start before it.
def in_model(model):
    def wrap(argv):
        return [DOCKERLIKE, "--model", model] + argv
    return wrap


def privileged_only():
    if TEST_USER:
        pytest.skip("CAP_SYS_ADMIN models: the unprivileged pass has no CAP_SYS_ADMIN to keep")


def test_unprobed_jail_refused_at_clone_gives_the_probes_line(vm_factory):
    """The first child's clone fails: nothing was started, and the probe's one line says why."""
    privileged_only()
    vm = vm_factory(guest_args("hello") + ["--jail", "on"], wrap=in_model("sys-admin-seccomp"))
    assert vm.wait() == EXIT_USAGE, vm.explain()
    lines = vm.stderr.splitlines()
    assert len(lines) == 1, vm.explain()
    assert lines[0].startswith("bulkhead: --jail on: jail step 'clone with new user and PID "
                               "namespaces' failed"), vm.explain()
    assert "--jail no-namespaces" in lines[0] and "seccomp=unconfined" in lines[0], vm.explain()
    assert "PASS" not in vm.stdout and not vm_processes(vm.name)


def test_unprobed_jail_refused_in_the_children_gives_the_probes_line(vm_factory):
    """The children fail inside their own jails (mount refused): each says so, then the
    supervisor's last line is the probe's, with status 2."""
    privileged_only()
    vm = vm_factory(guest_args("hello"), wrap=in_model("sys-admin-apparmor"))
    assert vm.wait() == EXIT_USAGE, vm.explain()
    last = vm.stderr.splitlines()[-1]
    assert last.startswith("bulkhead: --jail on: jail step 'make every mount private' failed: "
                           "Operation not permitted"), vm.explain()
    assert "apparmor=unconfined" in last, vm.explain()
    assert "lockdown_failed: jail step 'make every mount private'" in vm.stderr, vm.explain()
    assert "PASS" not in vm.stdout and not vm_processes(vm.name)


def test_unprobed_jail_falls_back_to_a_user_namespace(vm_factory):
    """Only a user namespace's jail can be built: bulkhead starts again, probing first, and
    boots the guest in that jail with its warning, once."""
    privileged_only()
    vm = vm_factory(guest_args("hello") + ["-v"], wrap=in_model("userns-only"))
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert vm.stdout.count("PASS hello") == 1, vm.explain()
    assert "starting again, probing first" in vm.stderr, vm.explain()
    assert vm.stderr.count("warning: --jail on: the jail is built in a user namespace (the "
                           "full jail's namespaces cannot be made here)") == 1, vm.explain()


def test_unprobed_jail_skips_the_probe(vm_factory):
    """Where the full jail works, no namespace probe runs: the supervisor's only clones are
    its children's (one per process: serial and vcpu here)."""
    privileged_only()
    vm = vm_factory(guest_args("hello") + ["-v"], wrap=lambda argv: [
        "strace", "-f", "-qq", "-e", "trace=clone,clone3", "-e", "signal=none", "-o",
        "/dev/stderr"] + argv)
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "probed only if the start fails" in vm.stderr, vm.explain()
    clones = [l for l in vm.stderr.splitlines() if "clone" in l and "CLONE_NEWPID" in l]
    assert len(clones) == 2, vm.explain()


def test_unprobed_jail_leaves_another_failure_as_it_was(vm_factory, tmp_path):
    """A child that dies before READY for a reason of its own (here its policy does not
    parse): the probe finds the full jail working, and the failure is reported as ever."""
    privileged_only()
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    with open(policies / "serial.policy", "a") as f:
        f.write("no_such_syscall\n")
    vm = vm_factory(guest_args("hello") + ["-v", "--seccomp-policy-dir", str(policies)])
    assert vm.wait() == EXIT_VM_FAILED, vm.explain()
    assert "the probe built the full jail" in vm.stderr, vm.explain()
    assert "--jail on:" not in vm.stderr and "starting again" not in vm.stderr, vm.explain()
    last = vm.stderr.splitlines()[-1]
    assert "serial failed: serial.policy" in last and "no_such_syscall" in last, vm.explain()


def test_a_configuration_from_a_pipe_is_probed_first(vm_factory):
    """A --config read from a pipe could not be read by a second start: the probe comes
    first, as without CAP_SYS_ADMIN, and the guest boots."""
    privileged_only()
    cfg = "kernel path=%s,cmdline=\"bulkhead.test=hello\"\nmemory size_mib=64\n" % GUEST
    vm = vm_factory(["-v", "--config", "/dev/stdin", "--serial", "stdio"], stdin=subprocess.PIPE)
    vm.proc.stdin.write(cfg.encode())
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "jail: full (namespaces made with CAP_SYS_ADMIN), children" in vm.stderr, vm.explain()
    assert "probed only if the start fails" not in vm.stderr, vm.explain()
