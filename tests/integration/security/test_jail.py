# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The jail and seccomp, observed from outside: every child of a VM with a
disk and a NIC runs with seccomp, no_new_privs, no capabilities, a non-root
id, its own namespaces and only the fds it was given; a system call outside
a policy kills only that process, and bulkhead names it; log mode lets it
go on; weakened jails are announced; an unprivileged user gets the same
jail in a user namespace."""
import os
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import (BUILD, BULKHEAD, EXIT_VM_FAILED, GUEST, GUEST_PASS, ROOT, TEST_USER, Vm,
                      guest_args, jailed_children, proc_status, vm_processes)

POLICIES = os.path.join(ROOT, "seccomp-policies", "x86_64")


def root_mount_options(pid):
    """The mount options of the process's / (field 6 of its mountinfo line)."""
    with open("/proc/%d/mountinfo" % pid) as f:
        roots = [l.split() for l in f if l.split()[4] == "/"]
    assert len(roots) == 1, roots
    return set(roots[0][5].split(","))


def given_fds(pid):
    d = "/proc/%d/fd" % pid
    return sorted(int(f) for f in os.listdir(d)
                  if os.readlink(os.path.join(d, f)) != "anon_inode:[eventpoll]")


@pytest.fixture
def running_vm(netns, tmp_path):
    img = tmp_path / "d.img"
    img.write_bytes(bytes(1 << 20))
    netns.add_tap("tap0")
    vm = Vm(guest_args("echo") + ["--disk", "path=%s" % img, "--net", "tap=tap0"],
            stdin=subprocess.PIPE, wrap=netns.exec_argv)
    vm.read_until(b"bulkhead-test-guest: ready")
    pids = vm.wait_children(["vcpu", "serial", "blk0", "net0"])
    yield vm, pids
    if vm.proc.poll() is None:
        vm.proc.stdin.write(b"quit\n")
        vm.proc.stdin.close()
        assert vm.wait() == GUEST_PASS, vm.explain()


def proc_limits(pid):
    """/proc/PID/limits as {name: (soft, hard)}."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        for line in f.readlines()[1:]:
            m = re.match(r"(\S.*?)\s{2,}(\S+)\s+(\S+)", line)
            out[m.group(1)] = (m.group(2), m.group(3))
    return out


def assert_narrowed(name, pid, st):
    """What the jail gives a child whatever --seccomp says: no_new_privs of its own,
    not dumpable (its /proc files belong to root, so a peer of the same uid cannot
    ptrace it or read its memory), no more processes (the vcpu process makes its
    threads), and only a few files."""
    assert st["NoNewPrivs"] == ["1"], name
    # In a user namespace of its own (an unprivileged bulkhead's children) the owner is
    # that namespace's root, the child's own uid: only the host's namespace shows it.
    if os.readlink("/proc/%d/ns/user" % pid) == os.readlink("/proc/self/ns/user"):
        assert int(st["Uid"][0]) != 0 and os.stat("/proc/%d/status" % pid).st_uid == 0, \
            (name, "dumpable")
    limits = proc_limits(pid)
    if name != "vcpu":
        assert limits["Max processes"] == ("0", "0"), (name, limits["Max processes"])
    soft, hard = limits["Max open files"]
    assert soft == hard and int(soft) <= 256, (name, limits["Max open files"])


def test_children_are_jailed(running_vm):
    _, pids = running_vm
    # ip netns exec runs bulkhead itself; the supervisor is the children's parent.
    sup, children = jailed_children(pids)
    # The supervisor keeps CAP_KILL alone (to end its children), or nothing when
    # it was started without capabilities.
    caps = proc_status(sup)
    assert caps["CapEff"] == caps["CapPrm"] and caps["CapEff"][0] in (
        "0000000000000020", "0000000000000000"), ("supervisor", caps["CapEff"])
    for name, pid, st in children:
        assert_narrowed(name, pid, st)
        assert st["CapBnd"] == ["0000000000000000"], name
        assert all(int(u) != 0 for u in st["Uid"]), (name, st["Uid"])
        assert all(int(g) != 0 for g in st["Gid"]), (name, st["Gid"])
        for ns in ("pid", "mnt", "net", "ipc", "uts"):
            assert os.readlink("/proc/%d/ns/%s" % (pid, ns)) != \
                os.readlink("/proc/%d/ns/%s" % (sup, ns)), (name, ns)
        # No file system: its root is the empty tmpfs, read-only and inert.
        assert os.listdir("/proc/%d/root" % pid) == [], name
        opts = root_mount_options(pid)
        assert {"ro", "nosuid", "nodev", "noexec"} <= opts, (name, opts)


def test_children_hold_only_their_fds(running_vm):
    _, pids = running_vm
    # stderr, control, then the numbers its configuration names (supervisor/vm.c):
    assert given_fds(pids["serial"]) == [2, 3, 4, 5, 6, 7, 8]  # chan, irq, shadow, console in, out
    # ram, chan, irq, image, queue, register shadow
    assert given_fds(pids["blk0"]) == [2, 3, 4, 5, 6, 7, 8, 9]
    # ram, chan, irq, tap, 2 queues, register shadow
    assert given_fds(pids["net0"]) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    # vcpu: kvm, ram, 3 devices x (chan, irq, register shadow) + 3 ioeventfds (2..17), then
    # the supervisor's CPUID table (18), read and closed before the guest runs; beyond 2..17
    # only what it made itself: the VM, its vCPU and its exit eventfd (one of them in 18).
    pid = pids["vcpu"]
    vcpu = given_fds(pid)
    assert set(range(2, 18)) <= set(vcpu), vcpu
    own = sorted(os.readlink("/proc/%d/fd/%d" % (pid, fd)) for fd in vcpu if fd not in range(2, 18))
    assert own == ["anon_inode:[eventfd]", "anon_inode:kvm-vcpu:0", "anon_inode:kvm-vm"], own


def copy_policies(tmp_path):
    d = tmp_path / "policies"
    shutil.copytree(POLICIES, d)
    return d


def test_policy_dir_violation_kills_that_process_only_and_is_named(tmp_path):
    d = copy_policies(tmp_path)
    p = d / "blk.policy"
    text = p.read_text()
    assert re.search(r"^pwritev: ", text, re.M)
    p.write_text(re.sub(r"^pwritev: .*$", "# pwritev removed by the test", text, flags=re.M))
    img = tmp_path / "v.img"
    img.write_bytes(bytes(8 << 20))
    vm = Vm(guest_args("blk-rw") + ["--disk", "path=%s" % img, "--seccomp-policy-dir", str(d)])
    assert vm.wait() == EXIT_VM_FAILED, vm.explain()
    m = re.search(r"blk0 \(pid (\d+)\) was killed by seccomp", vm.stderr)
    assert m, vm.explain()
    # bulkhead names the call from the kernel's audit record; the kernel
    # rate-limits those records, so hold bulkhead to it only where one exists.
    logged = [l for l in audit_records() if " pid=%s " % m.group(1) in l]
    if logged and not TEST_USER:
        assert "killed by seccomp for system call pwritev" in vm.stderr, vm.explain()
    # Only blk0 died: the others were stopped cleanly (no other death reported).
    assert vm.stderr.count("was killed") == 1, vm.explain()
    assert not vm_processes(vm.name)


HOOKED = os.path.join(BUILD, "testhooks", "bulkhead")
RELEASE_BINS = ["bulkhead", "bulkhead-vcpu", "bulkhead-serial", "bulkhead-blk", "bulkhead-net",
                "bulkhead-9p"]


def hooked_env(process, call):
    return dict(os.environ, BULKHEAD_TEST_FAULT="%s:%s" % (process, call))


@pytest.mark.parametrize("process,call,scenario", [
    ("blk0", "socket", "blk-rw"),
    ("serial", "ptrace", "hello"),
    ("net0", "mount", "net-tx"),
    ("vcpu", "mount", "hello"),
])
def test_forced_violation_kills_that_process_only(tmp_path, netns, process, call, scenario):
    """A device process that makes a call outside its policy (the test build's
    fault-injection hook, testhooks/) dies alone; bulkhead stops the rest,
    names the process and the call, and exits with the VM-failed status."""
    img = tmp_path / "v.img"
    img.write_bytes(bytes(8 << 20))
    netns.add_tap("tap0")
    vm = Vm(guest_args(scenario) + ["--disk", "path=%s" % img, "--net", "tap=tap0"],
            exe=HOOKED, env=hooked_env(process, call), wrap=netns.exec_argv)
    assert vm.wait() == EXIT_VM_FAILED, vm.explain()
    assert "test hook: calling %s" % call in vm.stderr, vm.explain()
    m = re.search(r"%s \(pid (\d+)\) was killed by seccomp" % process, vm.stderr)
    assert m, vm.explain()
    # The name comes from the kernel's audit record, which it rate-limits;
    # hold bulkhead to it where the record exists and bulkhead may read it.
    if not TEST_USER and [l for l in audit_records() if " pid=%s " % m.group(1) in l]:
        assert "killed by seccomp for system call %s" % call in vm.stderr, vm.explain()
    assert vm.stderr.count("was killed") == 1, vm.explain()
    assert not vm_processes(vm.name)


@pytest.mark.parametrize("process,call", [("blk0", "socket"), ("vcpu", "mount"),
                                          ("supervisor", "socket")])
def test_forced_violation_under_log_mode_goes_on(tmp_path, process, call):
    img = tmp_path / "v.img"
    img.write_bytes(bytes(8 << 20))
    vm = Vm(guest_args("blk-rw") + ["--disk", "path=%s" % img, "--seccomp", "log"],
            exe=HOOKED, env=hooked_env(process, call))
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "test hook: calling %s" % call in vm.stderr, vm.explain()


def test_forced_violation_kills_the_supervisor():
    """The supervisor's own filter kills it (SIGSYS); its children die with it."""
    vm = Vm(guest_args("echo"), exe=HOOKED, env=hooked_env("supervisor", "socket"),
            stdin=subprocess.PIPE)
    status = vm.wait()
    assert status == -signal.SIGSYS, vm.explain()
    assert "test hook: calling socket" in vm.stderr, vm.explain()
    for _ in range(100):
        if not vm_processes(vm.name):
            break
        time.sleep(0.02)
    assert not vm_processes(vm.name), vm_processes(vm.name)


def test_release_binaries_have_no_hook():
    for b in RELEASE_BINS:
        with open(os.path.join(BUILD, b), "rb") as f:
            assert b"BULKHEAD_TEST_FAULT" not in f.read(), b
    vm = Vm(guest_args("hello"), env=hooked_env("serial", "ptrace"))
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "test hook" not in vm.stderr


def test_log_mode_lets_the_call_go_on(tmp_path):
    d = copy_policies(tmp_path)
    p = d / "blk.policy"
    p.write_text(re.sub(r"^pwritev: .*$", "# removed", p.read_text(), flags=re.M))
    img = tmp_path / "v.img"
    img.write_bytes(bytes(8 << 20))
    vm = Vm(guest_args("blk-rw") + ["--disk", "path=%s" % img, "--seccomp-policy-dir", str(d),
                                    "--seccomp", "log"])
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "--seccomp log" in vm.stderr, vm.explain()


def test_pristine_policy_dir_runs_clean(tmp_path):
    d = copy_policies(tmp_path)
    vm = Vm(guest_args("hello") + ["--seccomp-policy-dir", str(d)])
    assert vm.wait() == GUEST_PASS, vm.explain()


@pytest.mark.parametrize("opts,warning", [
    (["--jail", "off"], "--jail off"),
    (["--jail", "no-namespaces"], "--jail no-namespaces"),
    (["--seccomp", "off"], "--seccomp off"),
])
def test_weakened_jail_is_announced(opts, warning):
    vm = Vm(guest_args("hello") + opts)
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "warning: " + warning in vm.stderr, vm.explain()
    if TEST_USER and opts == ["--jail", "no-namespaces"]:
        # Without a user namespace an unprivileged user cannot change ids: said so.
        assert "as the invoking user" in vm.stderr, vm.explain()


def test_jail_refuses_uid_0():
    p = subprocess.run([BULKHEAD, "--kernel", "path=%s" % GUEST, "--jail", "uid=0"],
                       capture_output=True, timeout=30)
    assert p.returncode == 2 and b"--jail" in p.stderr


@pytest.mark.parametrize("seccomp,want", [("kill", "2"), ("off", "0")])
def test_jail_off_keeps_the_filters(seccomp, want):
    """--jail off narrows no process, but every one, the supervisor too, keeps its seccomp
    filter unless --seccomp off; the warning says which."""
    vm = Vm(guest_args("echo") + ["--jail", "off", "--seccomp", seccomp], stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    pids = vm.wait_children(["vcpu", "serial"])
    sup = int(proc_status(pids["vcpu"])["PPid"][0])
    for name, pid in list(pids.items()) + [("supervisor", sup)]:
        assert proc_status(pid)["Seccomp"] == [want], (name, seccomp)
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()
    keeps = "every process keeps its seccomp filter"
    removes = "--seccomp off removes every seccomp filter too"
    assert (keeps if seccomp == "kill" else removes) in vm.stderr, vm.explain()


@pytest.mark.needs_namespaces
def test_jail_without_filters_still_narrows():
    """--seccomp off takes the filters away, not the rest of the jail: no_new_privs
    (which loading a filter would otherwise have set on its own), dumpability,
    limits, capabilities."""
    vm = Vm(guest_args("echo") + ["--seccomp", "off"], stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    pids = vm.wait_children(["vcpu", "serial"])
    for name, pid in pids.items():
        st = proc_status(pid)
        assert st["Seccomp"] == ["0"], name
        assert st["CapEff"] == ["0000000000000000"] and st["CapBnd"] == ["0000000000000000"], name
        assert_narrowed(name, pid, st)
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()


@pytest.mark.needs_namespaces
def test_unprivileged_user_gets_the_same_jail(tmp_path):
    """A user who may open /dev/kvm runs bulkhead; the children sit in a user
    namespace of their own with no capabilities."""
    import tempfile
    user = "nobody"
    top = tempfile.mkdtemp(dir="/var/tmp", prefix="bh-unpriv-")
    os.chmod(top, 0o755)
    build = __import__("pathlib").Path(top) / "build"
    shutil.copytree(BUILD, build, ignore=shutil.ignore_patterns("obj", "san", "tests", "nested",
                                                               "linux-kit", "linux-direct"))
    for dirpath, dirnames, filenames in os.walk(top):
        os.chmod(dirpath, 0o755)
    mode = os.stat("/dev/kvm").st_mode
    os.chmod("/dev/kvm", 0o666)
    try:
        p = subprocess.run(["su", user, "-s", "/bin/sh", "-c",
                            "%s/bulkhead --name unpriv --kernel path=%s/guest/bulkhead-test-guest,"
                            "cmdline=bulkhead.test=hello --memory size_mib=32" % (build, build)],
                           capture_output=True, timeout=60)
    finally:
        os.chmod("/dev/kvm", stat.S_IMODE(mode))
        shutil.rmtree(top, ignore_errors=True)
    assert p.returncode == GUEST_PASS, p.stderr
    assert b"PASS hello" in p.stdout


def audit_records():
    p = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30)
    return [l for l in p.stdout.splitlines()
            if "type=1326" in l and re.search(r'comm="bulkhead', l)]


@pytest.mark.parametrize("scenario,args", [
    ("hello", "none"),
    ("serial-flood", "none"),
    ("blk-rw", "disk"),
    ("blk-discard", "disk"),
    ("blk-id", "disk"),
    ("blk-hostile", "disk"),
    ("smp", "vcpus"),
    ("echo", "stdin"),
    ("net-info", "net"),
    ("net-tx", "net"),
])
def test_log_mode_logs_nothing_for_real_workloads(request, tmp_path, scenario, args):
    """The built-in policies cover the real workloads: under --seccomp log the
    kernel logs no call from any bulkhead process."""
    before = len(audit_records())
    extra = ["--seccomp", "log"]
    wrap = None
    cmdline = ""
    if args == "disk":
        img = tmp_path / "d.img"
        img.write_bytes(bytes(8 << 20))
        extra += ["--disk", "path=%s" % img]
    if args == "net":
        netns = request.getfixturevalue("netns")
        netns.add_tap("tap0")
        extra += ["--net", "tap=tap0"]
        wrap = netns.exec_argv
        cmdline = "bulkhead.peer=0"
    vm = Vm(["-v"] + guest_args(scenario, cmdline, vcpus=2 if args == "vcpus" else 1) + extra,
            stdin=subprocess.PIPE if args == "stdin" else subprocess.DEVNULL, wrap=wrap)
    if args == "stdin":
        vm.read_until(b"bulkhead-test-guest: ready")
        vm.proc.stdin.write(b"hello\nquit\n")
        vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()
    # This VM's processes only: other runs on the machine may log calls of their own.
    pids = set(re.findall(r"started \S+, pid (\d+)$", vm.stderr, re.M)) | {str(vm.proc.pid)}
    assert len(pids) >= 3, vm.explain()
    ours = [l for l in audit_records()[before:] if re.search(r" pid=(\d+) ", l) and
            re.search(r" pid=(\d+) ", l).group(1) in pids]
    assert not ours, "logged: %s" % ours
