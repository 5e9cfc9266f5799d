# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""Shared fixtures: the built binaries, the test guest, and a VM runner whose
teardown asserts that no bulkhead process of the test was left running."""
import itertools
import re
import os
import signal
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BULKHEAD_BUILD", os.path.join(ROOT, "build"))
BULKHEAD = os.path.join(BUILD, "bulkhead")
GUEST = os.path.join(BUILD, "guest", "bulkhead-test-guest")
# Set by tests/integration/run-unprivileged.sh: bulkhead runs as this user
# (member of the kvm group), while the tests themselves stay root to build
# namespaces and TAPs and to inspect the processes.
TEST_USER = os.environ.get("BULKHEAD_TEST_USER")

# Exit statuses (docs/architecture.md).
GUEST_PASS = 1  # debug-exit value 0
GUEST_FAIL = 3  # debug-exit value 1
EXIT_USAGE = 2
EXIT_VM_FAILED = 4

_names = itertools.count()


def vm_processes(name):
    """PIDs of processes whose title is bulkhead/<name>/..."""
    prefix = ("bulkhead/%s/" % name).encode()
    pids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except OSError:
            continue
        if argv0.startswith(prefix):
            pids[argv0[len(prefix):].decode()] = int(entry)
    return pids


def proc_status(pid):
    """/proc/PID/status as {field: [words]} (readable without ptrace access)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def jailed_children(pids):
    """(supervisor pid, [(name, pid, status)]) of a VM's children, each checked for what
    every jail gives: seccomp filter mode, no_new_privs, no effective or permitted capability."""
    sup = int(proc_status(pids["vcpu"])["PPid"][0])
    out = []
    for name, pid in pids.items():
        st = proc_status(pid)
        assert st["Seccomp"] == ["2"], (name, st["Seccomp"])
        assert st["NoNewPrivs"] == ["1"], name
        assert st["CapEff"] == ["0000000000000000"], name
        assert st["CapPrm"] == ["0000000000000000"], name
        out.append((name, pid, st))
    return sup, out


def as_test_user(argv):
    if not TEST_USER:
        return argv
    return ["setpriv", "--reuid", TEST_USER, "--regid", TEST_USER, "--init-groups",
            "--inh-caps=-all", "--"] + argv


def _jail_refusal():
    """The one line bulkhead refuses --jail on with where no namespace can be made (a
    default Docker container: tests/container/dockerlike.c, README "CI and containers"),
    or None. bulkhead decides before it opens the kernel, so a missing kernel tells."""
    try:
        p = subprocess.run(as_test_user([BULKHEAD, "--kernel", "path=/nonexistent/bulkhead-probe"]),
                           capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    line = p.stderr.strip()
    return line if p.returncode == EXIT_USAGE and "--jail on: " in line else None


# Where namespaces are forbidden, every VM runs with --jail no-namespaces (the
# jail the environment allows) unless its test chose a jail; tests of what
# only namespaces give are skipped, each saying so in one line.
JAIL_REFUSED = _jail_refusal()
NO_NAMESPACES = "needs namespaces, which this environment forbids (bulkhead: %s)" % (
    JAIL_REFUSED.split("--jail on: ", 1)[-1].split(" (", 1)[0] if JAIL_REFUSED else "")


def _have_cap(bit):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def _host_pid_namespace():
    """Kernel threads (KVM's kvm-pit/N) are seen only from the host's PID namespace."""
    try:
        with open("/proc/2/comm") as f:
            return f.read().strip() == "kthreadd"
    except OSError:
        return False


CAP_SYS_ADMIN = 21
CAP_SYS_PTRACE = 19
# What a default container forbids, per marker: the skip reason, or None where it is allowed.
ENV_LIMITS = {
    "needs_namespaces": NO_NAMESPACES if JAIL_REFUSED else None,
    "needs_ptrace": None if _have_cap(CAP_SYS_PTRACE) else
    "needs CAP_SYS_PTRACE to read a jailed child's /proc/PID/fd, which this environment forbids",
    "needs_host_pids": None if _host_pid_namespace() else
    "needs the host's PID namespace to see KVM's kernel threads, which this environment hides",
    "needs_sys_admin": None if _have_cap(CAP_SYS_ADMIN) else
    "needs CAP_SYS_ADMIN (mount), which this environment forbids",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "root_only: needs bulkhead itself to run as root "
                            "(not run by the unprivileged pass)")
    config.addinivalue_line("markers", "needs_namespaces: needs the full jail's namespaces")
    config.addinivalue_line("markers", "needs_ptrace: reads the fds of jailed (non-dumpable) "
                            "children")
    config.addinivalue_line("markers", "needs_host_pids: looks for kernel threads in /proc")
    config.addinivalue_line("markers", "needs_sys_admin: mounts something")


def pytest_collection_modifyitems(config, items):
    """A test that needs what this environment forbids is skipped, saying what in one line."""
    for item in items:
        for marker, reason in ENV_LIMITS.items():
            if reason and marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))
                break


def error_lines(stderr):
    """stderr's lines but the warning --jail no-namespaces gives where it is the jail allowed."""
    return [line for line in stderr.strip().splitlines()
            if not (JAIL_REFUSED and line.startswith("bulkhead: warning: --jail no-namespaces"))]


def with_jail(args):
    """bulkhead's args with the jail the environment allows (for a test that runs it without Vm)."""
    return jail_args(BULKHEAD, args, None)[0]


def bulkhead_cmd(args):
    return [BULKHEAD] + with_jail(args)


def jail_args(exe, args, env):
    """--jail no-namespaces where --jail on is refused, unless the test chose a jail."""
    if not JAIL_REFUSED or any(a == "--jail" or a.startswith("--jail=") for a in args):
        return list(args), env
    if os.path.basename(exe) == "bulkhead-qemu":
        env = dict(os.environ if env is None else env)
        env["BULKHEAD_QEMU_OPTIONS"] = (env.get("BULKHEAD_QEMU_OPTIONS", "") +
                                        " --jail no-namespaces").strip()
        return list(args), env
    return ["--jail", "no-namespaces"] + list(args), env


@pytest.fixture(autouse=True)
def _tmp_for_test_user(request):
    """In the unprivileged pass, the files a test makes are the user's too."""
    if not TEST_USER:
        yield
        return
    tmp = request.getfixturevalue("tmp_path")
    old = os.umask(0)
    d = str(tmp)
    while d not in ("/", ""):
        os.chmod(d, os.stat(d).st_mode | 0o711)
        d = os.path.dirname(d)
    os.chmod(str(tmp), 0o777)
    yield
    os.umask(old)


class Vm:
    """One bulkhead run. args are bulkhead options after --name."""

    def __init__(self, args, stdin=subprocess.DEVNULL, wrap=None, exe=BULKHEAD, env=None):
        self.name = "t%d-%d" % (os.getpid() % 100000, next(_names))
        args, env = jail_args(exe, args, env)
        self.argv = as_test_user([exe, "--name", self.name] + list(args))
        if wrap:
            self.argv = wrap(self.argv)
        self.proc = subprocess.Popen(self.argv, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.out = b""
        self.err = b""

    def wait(self, timeout=30):
        if self.proc.stdin is not None and self.proc.stdin.closed:
            self.proc.stdin = None
        try:
            self.out, self.err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                self.out, self.err = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                # a process that outlived bulkhead holds its pipes
                self.out, self.err = b"", b"(its output: held open by %s)" % str(
                    vm_processes(self.name)).encode()
            pytest.fail("bulkhead did not exit within %d s\nstdout:\n%s\nstderr:\n%s"
                        % (timeout, self.out.decode(errors="replace"),
                           self.err.decode(errors="replace")))
        return self.proc.returncode

    def wait_children(self, names, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            pids = vm_processes(self.name)
            if all(n in pids for n in names):
                return pids
            time.sleep(0.02)
        pytest.fail("children %s never appeared" % (names,))

    def read_until(self, marker, timeout=20):
        """Read stdout until marker appears (for interactive tests)."""
        deadline = time.time() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        os.set_blocking(fd, False)
        while time.time() < deadline:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                chunk = None
            if chunk:
                buf += chunk
                if marker in buf:
                    os.set_blocking(fd, True)
                    self.out_prefix = buf
                    return buf
            elif chunk == b"":
                break
            else:
                time.sleep(0.01)
        os.set_blocking(fd, True)
        pytest.fail("marker %r not seen; got %r" % (marker, buf))

    @property
    def stdout(self):
        return (getattr(self, "out_prefix", b"") + self.out).decode(errors="replace")

    @property
    def stderr(self):
        return self.err.decode(errors="replace")

    def explain(self):
        return "argv: %s\nstatus: %s\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(self.argv), self.proc.returncode, self.stdout, self.stderr)


@pytest.fixture
def vm_factory():
    vms = []

    def make(args, **kw):
        vm = Vm(args, **kw)
        vms.append(vm)
        return vm

    yield make
    for vm in vms:
        if vm.proc.poll() is None:
            vm.proc.send_signal(signal.SIGKILL)
            vm.proc.wait()
            pytest.fail("bulkhead was still running at teardown:\n" + vm.explain())
        left = {}
        for _ in range(50):
            left = vm_processes(vm.name)
            if not left:
                break
            time.sleep(0.02)
        for pid in left.values():
            os.kill(pid, signal.SIGKILL)
        assert not left, "processes left behind: %s" % left


def assert_usage_error(args, message):
    """bulkhead with the test guest and args: exit status 2, message on stderr."""
    p = subprocess.run([BULKHEAD] + guest_args("hello") + args, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == EXIT_USAGE, p.stderr
    assert message in p.stderr, p.stderr
    return p


def assert_holds_no_path(pid):
    """Every fd of a device process is a socket, an anonymous inode (eventfd, epoll,
    timerfd), a memfd, or the test's stderr pipe: it holds no file of the host."""
    d = "/proc/%d/fd" % pid
    links = [os.readlink(os.path.join(d, f)) for f in os.listdir(d)]
    for link in links:
        assert re.match(r"(socket:|anon_inode:|/memfd:|pipe:)", link), (link, links)
    return links


@pytest.fixture(scope="session")
def guest():
    assert os.path.exists(GUEST), "test guest not built: run make"
    return GUEST


def guest_args(scenario, extra_cmdline="", vcpus=1, mem=64, serial="stdio"):
    cmdline = "bulkhead.test=%s %s" % (scenario, extra_cmdline)
    return ["--kernel", "path=%s,cmdline=%s" % (GUEST, cmdline.strip()),
            "--memory", "size_mib=%d" % mem, "--vcpus", "num=%d" % vcpus,
            "--serial", serial]


@pytest.fixture
def netns():
    from netns import NetNs, NetNsUnavailable
    try:
        ns = NetNs()
    except NetNsUnavailable as e:
        pytest.skip("needs network namespaces, which this environment forbids (%s)" % e)
    yield ns
    ns.close()


def pytest_report_header(config):
    """Say which way the Linux tier boots Linux on this host, and why."""
    p = subprocess.run([os.path.join(ROOT, "tests", "nested", "probe.sh")], capture_output=True,
                       text=True, timeout=60)
    who = "user %s (tests as root)" % TEST_USER if TEST_USER else "root"
    return ["bulkhead runs as: %s" % who, "Linux tier: %s" % p.stdout.strip()]


# The Linux tier: boot Debian's kernel with bulkhead, directly where the
# host's KVM runs Linux, else inside the nested harness (tests/nested). Which
# way, and why, is printed in the report header and in every failure, never
# skipped silently. Every Linux case runs in one harness boot (linux/cases.sh).
KIT = os.path.join(BUILD, "linux-kit")
LINUX_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linux")


def linux_probe():
    p = subprocess.run([os.path.join(ROOT, "tests", "nested", "probe.sh")], capture_output=True,
                       text=True, timeout=60)
    return ("direct" if p.returncode == 0 else "nested"), p.stdout.strip()


class LinuxRun:
    """Parsed output of cases.sh: per case its status, stdout, stderr, console file."""

    def __init__(self, text, tier, why, seconds, l1_failed=None):
        self.text = text
        self.l1_failed = l1_failed or {}
        self.tier = tier
        self.why = why
        self.seconds = seconds
        self.cases = {}
        for m in re.finditer(r"^=== STATUS (\S+) (\d+)", text, re.M):
            self.cases[m.group(1)] = int(m.group(2))
        self.times = {}
        for m in re.finditer(r"^=== TIME (\S+) ([\d.]+) ([\d.]+)", text, re.M):
            self.times[m.group(1)] = float(m.group(3)) - float(m.group(2))

    def lines(self, case, stream):
        prefix = "%s|%s| " % (case, stream)
        return "\n".join(line[len(prefix):] for line in self.text.splitlines()
                         if line.startswith(prefix))

    def host(self, case):
        """The key=value words of the '=== HOST case ...' line cases.sh printed."""
        m = re.search(r"^=== HOST %s (.*)$" % re.escape(case), self.text, re.M)
        assert m, "no host check for %s\n%s" % (case, self.explain(case))
        words = m.group(1).split()
        return dict(zip(words[::2], words[1::2]))

    def status(self, case):
        if case in self.l1_failed:
            # A kernel that died before /init (l1_early_df) is told from its console alone,
            # with no trace to show L1's hand: L1's once, but bulkhead's if it does so in
            # every L1 (a fault of bulkhead's making would recur).
            assert self.l1_failed[case].count("before /init") < NESTED_ATTEMPTS, (
                "case %s: the kernel died before /init in each of %d L1 boots: %s\n%s" % (
                    case, NESTED_ATTEMPTS, self.l1_failed[case], self.explain(case)))
            # Not bulkhead's to pass or fail: the emulated machine broke under it
            # every time (the reasons are L1's signatures, tests/nested/README.md).
            pytest.skip("L1 (QEMU TCG's emulated SVM) failed case %s in each of its %d L1 "
                        "boots: %s" % (case, NESTED_ATTEMPTS, self.l1_failed[case]))
        assert case in self.cases, "case %s did not run (%s tier: %s)\n%s" % (
            case, self.tier, self.why, self.text[-4000:])
        return self.cases[case]

    def explain(self, case):
        trace = self.lines(case, "trace")
        hang = self.lines(case, "hang")
        return "%s tier (%s), case %s took %.1f s\nstdout:\n%s\nstderr:\n%s%s%s" % (
            self.tier, self.why, case, self.times.get(case, -1), self.lines(case, "out"),
            self.lines(case, "err"),
            "\nL1's KVM trace before the triple fault:\n" + trace if trace else "",
            "\nthreads just before the case's limit:\n" + hang if hang else "")


@pytest.fixture(scope="session")
def linux_kit():
    subprocess.run([os.path.join(ROOT, "tests", "guest", "linux", "build-kit.sh"), KIT],
                   check=True, capture_output=True, timeout=600)
    for f in ("bzImage", "vmlinux", "initramfs.cpio.gz"):
        assert os.path.exists(os.path.join(KIT, f)), f
    return KIT


def nested_cases(cases, only):
    env = dict(os.environ, KIT_ALL="1", NESTED_LOG=os.path.join(BUILD, "nested", "linux-tests.log"))
    try:
        return subprocess.run([os.path.join(ROOT, "tests", "nested", "run.sh"), "--timeout", "600",
                               "--file", "%s:/nested/cases.sh" % cases,
                               "--file", "%s:/nested/l1_signatures.sh" % os.path.join(
                                   os.path.dirname(cases), "l1_signatures.sh"),
                               "--file", "%s:/nested/pattern.sh" % os.path.join(
                                   ROOT, "tests", "guest", "linux", "pattern.sh"), "--",
                               "sh", "/nested/cases.sh", "/bulkhead/bulkhead", "/kit",
                               "/tmp/out"] + only,
                              capture_output=True, text=True, timeout=700, env=env)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return subprocess.CompletedProcess(e.cmd, 125, out, "timed out")


def default_cases(cases):
    """The case functions cases.sh runs when given none (its `set --` list)."""
    with open(cases) as f:
        m = re.search(r"\|\| set -- ((?:.*\\\n)*.*)$", f.read(), re.M)
    return m.group(1).replace("\\\n", " ").split()


def case_name(func):
    """cases.sh's case_FUNC runs the case it names FUNC with '-' for '_' (p9_x: 9p-x)."""
    name = func.replace("_", "-")
    return "9p-" + name[3:] if name.startswith("p9-") else name


def case_chunks(text):
    """{case: its lines}, for each case that ran to its === STATUS line."""
    out = {}
    for chunk in re.split(r"^(?==== CASE )", text, flags=re.M):
        m = re.match(r"=== CASE (\S+)", chunk)
        if m and re.search(r"^=== STATUS %s \d+" % re.escape(m.group(1)), chunk, re.M):
            out[m.group(1)] = chunk.split("=== DONE")[0]
    return out


# The L1 machine is QEMU TCG emulating AMD SVM, and it is not always sound
# (tests/nested/README.md: "When L1 itself fails", "A guest triple fault"):
# its kernel dies or locks up, or it resumes the guest with paging that is not
# the guest's. Where L1 itself failed, the cases it failed are run again in a
# new L1, at most twice, and the output says which and why: a case with
# "=== L1-FAULT" (its trace shows one of L1's signatures), and the cases an
# L1 that died or stopped answering never finished. A case that finished in a
# sound L1 is never run again, whatever its result. A case L1 failed in every
# boot is skipped, saying so and why: whether bulkhead passes it is unknown.
NESTED_ATTEMPTS = 3


def l1_fault_reasons(out):
    """Each case's "=== L1-FAULT NAME why" line (l1_signatures.sh) as its reason."""
    return {name: "L1-FAULT: " + why for name, why in
            re.findall(r"^=== L1-FAULT (\S+) (.*)$", out, re.M)}


def nested_tier(cases, funcs):
    done = {}
    why = {}
    pending = list(funcs)
    for attempt in range(1, NESTED_ATTEMPTS + 1):
        p = nested_cases(cases, pending)
        got = case_chunks(p.stdout)
        faults = l1_fault_reasons(p.stdout)
        for f in pending:
            name = case_name(f)
            if name in got and name not in faults:
                done[name] = got[name]
        again = [f for f in funcs if case_name(f) not in done]
        # The cases L1 never reached go first next time, and the one it died or
        # faulted under last: a case that breaks L1 every time takes no other with it.
        started = re.findall(r"^=== CASE (\S+)", p.stdout, re.M)
        culprits = set(faults) | ({started[-1]} if started and started[-1] not in got else set())
        pending = [f for f in again if case_name(f) not in culprits] + \
            [f for f in again if case_name(f) in culprits]
        for f in again:
            name = case_name(f)
            why.setdefault(name, []).append(
                faults[name] if name in faults else
                "L1 ended (harness status %d) before the case did" % p.returncode)
        if not again:
            break
        if attempt < NESTED_ATTEMPTS:
            print("\nLinux tier: L1 failed (harness status %d); running %s again in a new L1. "
                  "L1's faults: %s; unfinished: %s; its end:\n%s\n%s" % (
                      p.returncode, " ".join(again),
                      "; ".join("%s: %s" % kv for kv in faults.items()) or "none",
                      " ".join(case_name(f) for f in again if case_name(f) not in faults) or "none",
                      p.stderr[-1000:], p.stdout[-3000:]))
    text = "".join(done.get(case_name(f), "") for f in funcs)
    if len(done) == len(funcs):
        text += "=== DONE\n"
    assert p.returncode != 125 or done, "the nested harness failed: %s\n%s" % (
        p.stderr, p.stdout[-3000:])
    failed = {n: "; ".join(w) for n, w in why.items() if n not in done}
    return text, p, failed



@pytest.fixture(scope="session")
def linux_run(linux_kit):
    tier, why = linux_probe()
    t0 = time.monotonic()
    cases = os.path.join(LINUX_DIR, "cases.sh")
    # BULKHEAD_LINUX_CASES="net_ping net_tcp" runs a subset (for working on one).
    only = os.environ.get("BULKHEAD_LINUX_CASES", "").split()
    if tier == "direct":
        out = os.path.join(BUILD, "linux-direct")
        env = dict(os.environ, PATTERN=os.path.join(ROOT, "tests", "guest", "linux", "pattern.sh"))
        p = subprocess.run(["sh", cases, os.path.join(BUILD, "bulkhead"), linux_kit, out] + only,
                           capture_output=True, text=True, timeout=1800, env=env)
        text = p.stdout
        l1_failed = {}
    else:
        text, p, l1_failed = nested_tier(cases, only or default_cases(cases))
    run = LinuxRun(text, tier, why, time.monotonic() - t0, l1_failed)
    # In the nested tier a case L1 never let finish fails its own test ("did not run").
    assert tier != "direct" or "=== DONE" in text, "cases.sh did not finish (%s tier, %s):\n%s\n%s" % (
        tier, why, p.stderr[-2000:], text[-4000:])
    print("\nLinux tier: %s (%s); all cases took %.1f s: %s" % (
        tier, why, run.seconds, ", ".join("%s %.1f s" % kv for kv in sorted(run.times.items()))))
    for name, reasons in sorted(l1_failed.items()):
        print("Linux tier: L1 failed case %s in every boot, so its test is skipped: %s" % (
            name, reasons))
    return run
