#!/usr/bin/python3
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""bulkhead against QEMU microvm on the same test guest, images, TAP and workload.

Every figure alternates runs (bulkhead, QEMU, bulkhead, ...), BENCH_RUNS (5) of
each, after one unmeasured warm-up run of each VMM, and reports the median, the
minimum, the maximum and the bulkhead/QEMU ratio of the medians:

  start      launch to the boot marker line on the console and to process exit,
             marker-exit with 1 and 2 vCPUs, and with 1 vCPU the floor: a bare KVM
             program (bench/kvm_floor.c) from launch to exit, without an irqchip,
             with KVM's in-kernel one and with a split one; CPU time (user+sys) of every host
             process and thread of the VM until the marker (its cgroup's cpu.stat,
             read when the line arrives) and until exit (wait4's rusage: the VMM
             and every descendant it reaped)
  memory     RSS and PSS summed over the VM's processes, guest RAM excluded, while
             the echo scenario idles with a disk and a NIC (peak of 5 samples);
             per bulkhead process as well
  disk       blk-bench on a 512 MiB raw image written once with random data
  net        net-bench against tests/guest/netpeer.py on a TAP in a namespace
  mmio       mmio-bench with a disk attached: one register read the VMM forwards to a
             device (virtio-mmio MagicValue from ring 3, COM1 scratch port), and the same
             kind of read that the VMM answers without a device (part of "cost of isolation")
  isolation  svc-bench's costs, serial-flood bytes/s (guest and host view)
  scale      N VMs (marker-exit, 64 MiB) launched at once, until all reached the
             marker and until all exited
  restart    bulkhead only (no other VMM restarts a device process): blk-gaps with
             --on-device-failure restart while bulkhead-blk is SIGKILLed again and
             again; the guest's longest gaps between completed reads, one per kill
  9p         Debian's kernel on a shared directory (bench/linux_9p.sh, in the nested
             tier's L1 where the host's KVM cannot run Linux): read a 64 MiB file,
             write one, ls -ln 2000 files, bulkhead --fs against QEMU microvm's
             virtio-9p-device (-fsdev local,security_model=none), same mount options
  linux      Debian's kernel (the Linux kit: tests/guest/linux/build-kit.sh), 2 vCPUs, 256 MiB, booted
             to its /init and powered off, with `quiet` and without (every boot
             message through the UART), where KVM runs Linux: on the host, or in
             the nested tier's L1 (tests/nested/run.sh); bench/linux_boot.sh there.
             Not in --smoke (minutes of the nested tier's emulation)
  rng        rng-read: bytes/s of random bytes to the guest in requests of 4 KiB and
             of 64 KiB (after an untimed pass over the same buffers), bulkhead --rng
             against QEMU's virtio-rng-device
  vsock      vsock-bench with tests/guest/vsockpeer.py's host programs: connection
             set-up time, throughput guest to host and host to guest. bulkhead alone
             where QEMU's vhost-vsock-device cannot run (it needs /dev/vhost-vsock)

Writes RESULTS/<date>-<time>.md (the table), .json (every sample) and .png
(gnuplot: the ratios), and, unless --smoke or --no-docs, the latest table into
docs/performance.md. Needs root (network namespace, TAP, cgroup), /dev/kvm,
qemu-system-x86_64 and gnuplot, and a built tree (make).

usage: bench/run.py [--smoke] [--runs N] [--only FIG[,FIG]] [--out DIR]
                    [--no-docs] [--quiet-wait SECONDS] [--quiet-load L]
"""
import argparse
import datetime
import json
import os
import platform
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("BULKHEAD_BUILD", os.path.join(ROOT, "build"))
BULKHEAD = os.path.join(BUILD, "bulkhead")
GUEST = os.environ.get("GUEST", os.path.join(BUILD, "guest", "bulkhead-test-guest"))
FLOOR = os.path.join(BUILD, "bench", "kvm-floor")  # bench/kvm_floor.c, the start figure's floor
FLOOR_GUEST = os.path.join(BUILD, "bench", "floor-guest")  # bench/floor_guest.S, the floor's guest
WRITE_FLOOR = os.path.join(BUILD, "bench", "write-floor")  # bench/write_floor.c, figure 8's
BOOT_CLOCK = os.path.join(BUILD, "bench", "boot-clock")  # bench/boot_clock.c, the linux figure's clock
KIT = os.environ.get("KIT", os.path.join(BUILD, "linux-kit"))
LINUX_BOOT = os.path.join(ROOT, "bench", "linux_boot.sh")
L1_SIGNATURES = os.path.join(ROOT, "tests", "integration", "linux", "l1_signatures.sh")
NESTED_RUN = os.path.join(ROOT, "tests", "nested", "run.sh")
NESTED_PROBE = os.path.join(ROOT, "tests", "nested", "probe.sh")
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
NETPEER = os.path.join(ROOT, "tests", "guest", "netpeer.py")
sys.path.insert(0, os.path.join(ROOT, "tests", "guest"))
import vsockpeer  # noqa: E402
PYTHON = "/usr/bin/python3"
DOC = os.path.join(ROOT, "docs", "performance.md")
RESULTS = os.path.join(ROOT, "bench", "results")

TAG = b"bulkhead-test-guest: "
MARKER = TAG + b"boot marker"
READY = TAG + b"ready"
GUEST_PASS = 1
VMMS = ("bulkhead", "qemu")
VMM_NAMES = {"bulkhead": "bulkhead", "qemu": "QEMU microvm"}
GUEST_MAC = "52:54:00:0b:4e:01"
MEM_MIB = 64
DOC_BEGIN = "<!-- bench:results:begin (bench/run.py rewrites this part) -->"
DOC_END = "<!-- bench:results:end -->"

# What a full run and a smoke run do (--smoke: one run of each figure, tiny sizes).
FULL = {"runs": 5, "warmup": True, "vcpus": (1, 2), "disk_mib": 512, "blk_args": "",
        "net_args": "bulkhead.seconds=2 bulkhead.frames=200", "svc_iterations": 2000,
        "flood_bytes": 65536, "mmio_iterations": 2000, "scale": (1, 4, 16), "mem_samples": 5,
        "restart_vms": 4, "restart_kills": 5,
        "p9_mib": 64, "p9_files": 2000, "rng_bytes": 4 << 20, "vsock_mib": 64, "vsock_connects": 100}
SMOKE = {"runs": 1, "warmup": False, "vcpus": (1, 2), "disk_mib": 16,
         "blk_args": "bulkhead.mib=8 bulkhead.ios=200",
         "net_args": "bulkhead.seconds=1 bulkhead.frames=8",
         "svc_iterations": 20, "flood_bytes": 8192, "mmio_iterations": 20, "scale": (1, 2),
         "mem_samples": 2, "restart_vms": 1, "restart_kills": 2, "p9_mib": 4,
         "p9_files": 200, "rng_bytes": 1 << 20, "vsock_mib": 4, "vsock_connects": 10}
FIGURES = ("start", "memory", "disk", "net", "mmio", "isolation", "scale", "restart", "9p-guest", "9p",
           "linux", "rng", "vsock")
# Not in the smoke run: the figures that boot Linux in the nested tier's L1 where
# the host's KVM cannot run it. The L1 machine (QEMU TCG emulating SVM) dies under
# the 9p figure's load often enough that one unretried L1 boot in every make check
# would fail it on the emulator's account (docs/performance.md, figure 8); the
# Linux tier's 9p cases, which rerun what L1 fails, cover the 9p server there.
SMOKE_FIGURES = tuple(f for f in FIGURES if f not in ("linux", "9p"))
FIG_OF_PREFIX = {"start": "start", "mem": "memory", "disk": "disk", "net": "net", "mmio": "mmio",
                 "iso": "isolation", "scale": "scale", "restart": "restart", "p9": "9p", "p9g": "9p-guest",
                 "linux": "linux", "rng": "rng", "vsock": "vsock"}


class BenchError(Exception):
    pass


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# ---- metrics -------------------------------------------------------------------------------

class Metric:
    """One row of the table: samples per VMM, lower or higher is better."""

    def __init__(self, key, figure, label, unit, better, vmms=VMMS, note="", short=None):
        self.key, self.figure, self.label, self.unit = key, figure, label, unit
        self.better, self.vmms, self.note = better, vmms, note
        self.short = short or key
        self.fig_id = FIG_OF_PREFIX[key.split(".")[0]]
        self.values = {v: [] for v in VMMS}

    def add(self, vmm, value):
        self.values[vmm].append(float(value))

    def med(self, vmm):
        v = self.values[vmm]
        return statistics.median(v) if v else None

    def ratio(self):
        b, q = self.med("bulkhead"), self.med("qemu")
        if b is None or q is None or q == 0:
            return None
        return b / q

    def bulkhead_better(self):
        r = self.ratio()
        if r is None or self.better not in ("lower", "higher"):
            return None
        return r < 1 if self.better == "lower" else r > 1

    def as_dict(self):
        return {"key": self.key, "fig_id": self.fig_id, "figure": self.figure, "label": self.label,
                "unit": self.unit,
                "better": self.better, "note": self.note, "vmms": list(self.vmms),
                "values": self.values, "median": {v: self.med(v) for v in VMMS},
                "ratio": self.ratio()}


class Results:
    def __init__(self):
        self.metrics = {}
        self.errors = []
        self.loads = {}
        self.busy = {}  # figure -> other processes using more than 5% of a CPU as it began

    def metric(self, key, *a, **kw):
        if key not in self.metrics:
            self.metrics[key] = Metric(key, *a, **kw)
        return self.metrics[key]


# ---- the host: cgroups, processes, memory ----------------------------------------------------

def cgroup2_root():
    """A writable cgroup v2 mount (the unified hierarchy), or None."""
    try:
        with open("/proc/self/mounts") as f:
            mounts = [ln.split() for ln in f]
    except OSError:
        return None
    for m in mounts:
        if len(m) > 2 and m[2] == "cgroup2" and os.access(m[1], os.W_OK):
            return m[1]
    return None


CG_ROOT = cgroup2_root()
_cg_count = [0]


class Cgroup:
    """A cgroup v2 group of its own for one VM: its CPU time (cpu.stat, which counts
    processes and threads that already ended), its processes, and a sure way to end them
    (cgroup.kill). Outside any controller: it changes no limit of the VM."""

    def __init__(self):
        _cg_count[0] += 1
        self.path = os.path.join(CG_ROOT, "bulkhead-bench-%d-%d" % (os.getpid(), _cg_count[0]))
        os.mkdir(self.path)
        self.procs_path = os.path.join(self.path, "cgroup.procs")

    def enter(self):
        """preexec_fn: the child moves itself into the group before exec."""
        fd = os.open(self.procs_path, os.O_WRONLY)
        os.write(fd, b"0")
        os.close(fd)

    def usage_us(self):
        with open(os.path.join(self.path, "cpu.stat")) as f:
            for ln in f:
                k, v = ln.split()
                if k == "usage_usec":
                    return int(v)
        return None

    def pids(self):
        with open(self.procs_path) as f:
            return [int(x) for x in f.read().split()]

    def kill(self):
        k = os.path.join(self.path, "cgroup.kill")
        if os.path.exists(k):
            with open(k, "w") as f:
                f.write("1")
        else:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def remove(self):
        for _ in range(250):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                if self.pids():
                    self.kill()
                time.sleep(0.02)
        log("could not remove %s" % self.path)


def proc_tree(root):
    """root and every descendant, by scanning /proc (without a cgroup)."""
    children = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(e))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def proc_cpu_us(pids):
    """user+sys of the processes (all their threads), from /proc/PID/stat (clock ticks)."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total * 1000000 // tck


def proc_title(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return "?"


def smaps_sum(pid, ram_kib):
    """(rss_kib, pss_kib, guest_ram_rss_kib) of process pid, guest RAM left out: bulkhead's
    memfd:<name>-ram* mappings, and anonymous mappings exactly the guest's size (QEMU's
    RAM block)."""
    rss = pss = ram = 0
    skip = False
    try:
        with open("/proc/%d/smaps" % pid) as f:
            lines = f.readlines()
    except OSError:
        return None
    for ln in lines:
        first = ln.split(None, 1)[0]
        if "-" in first and not first.endswith(":"):
            parts = ln.split(None, 5)
            path = parts[5].strip() if len(parts) > 5 else ""
            lo, hi = (int(x, 16) for x in first.split("-"))
            size_kib = (hi - lo) // 1024
            skip = (path.startswith("/memfd:") and re.search(r"-ram\d+", path) is not None) or \
                (path == "" and size_kib == ram_kib)
        elif first == "Rss:":
            v = int(ln.split()[1])
            if skip:
                ram += v
            else:
                rss += v
        elif first == "Pss:" and not skip:
            pss += int(ln.split()[1])
    return rss, pss, ram


def proc_threads(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("Threads:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def busy_others(seconds=1.0):
    """Processes that used more than 5% of a CPU over `seconds` (what else runs here)."""
    def snap():
        out = {}
        for e in os.listdir("/proc"):
            if e.isdigit():
                try:
                    with open("/proc/%s/stat" % e) as f:
                        st = f.read()
                except OSError:
                    continue
                fields = st[st.rindex(")") + 2:].split()
                out[int(e)] = (st[st.index("(") + 1:st.rindex(")")], int(fields[11]) + int(fields[12]))
        return out
    a = snap()
    time.sleep(seconds)
    b = snap()
    tck = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, (name, t) in b.items():
        if pid in a and pid != os.getpid():
            pct = (t - a[pid][1]) * 100.0 / tck / seconds
            if pct > 5:
                busy.append("%s (%d%%)" % (name, pct))
    return busy


# ---- one VM ----------------------------------------------------------------------------------

_vm_count = [0]


def vmm_argv(vmm, name, scenario, cmdline, vcpus, mem, disk, tap, extra=(), rng=False, vsock=None,
             fs=None):
    if vmm == "floor":
        return [FLOOR] + cmdline.split()
    append = ("bulkhead.test=%s %s" % (scenario, cmdline)).strip()
    # the floor's guest takes no command line: the same VM booting the floor's work
    kernel = "path=%s,cmdline=%s" % (GUEST, append)
    if scenario == "floor-guest":
        kernel = "path=%s" % FLOOR_GUEST
    if vmm == "bulkhead":
        argv = [BULKHEAD, "--name", name, "--kernel", kernel,
                "--memory", "size_mib=%d" % mem, "--vcpus", "num=%d" % vcpus, "--serial", "stdio",
                "--pit", "off"]  # as QEMU's pit=off: the test guest uses no PIT
        if disk:
            argv += ["--disk", "path=%s" % disk]
        if tap:
            argv += ["--net", "tap=%s,mac=%s" % (tap, GUEST_MAC)]
        if rng:
            argv += ["--rng"]
        if vsock:
            argv += ["--vsock", "cid=3,uds=%s" % vsock]
        if fs:
            argv += ["--fs", "path=%s,tag=share" % fs]
        return argv + list(extra)
    if vsock:
        raise BenchError("QEMU's vsock needs /dev/vhost-vsock: bulkhead alone")
    # As tests/guest/run-qemu.sh and run-qemu-net.sh run it.
    argv = [QEMU, "-M", "microvm,acpi=off,pit=off,pic=off,rtc=off", "-enable-kvm",
            "-cpu", "host,-arch-capabilities", "-m", str(mem), "-smp", str(vcpus),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=1",
            "-device", "i8042", "-global", "virtio-mmio.force-legacy=false",
            "-kernel", GUEST, "-append", append]
    if scenario == "floor-guest":
        argv[-4:] = ["-kernel", FLOOR_GUEST]
    if disk:
        argv += ["-drive", "id=d0,file=%s,format=raw,if=none" % disk,
                 "-device", "virtio-blk-device,drive=d0"]
    if tap:
        argv += ["-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=off" % tap,
                 "-device", "virtio-net-device,netdev=n0,mac=%s" % GUEST_MAC]
    if rng:
        argv += ["-device", "virtio-rng-device"]
    if fs:
        argv += ["-fsdev", "local,id=fs0,path=%s,security_model=none" % fs,
                 "-device", "virtio-9p-device,fsdev=fs0,mount_tag=share"]
    return argv


class Vm:
    """One VMM process tree running the test guest, its console read with timestamps."""

    def __init__(self, vmm, scenario, cmdline="", vcpus=1, mem=MEM_MIB, disk=None, tap=None,
                 netns=None, cgroup=True, stdin=False, extra=(), rng=False, vsock=None, fs=None):
        _vm_count[0] += 1
        self.vmm = vmm
        self.scenario = scenario
        self.name = "bb%d-%d" % (os.getpid() % 100000, _vm_count[0])
        self.mem = mem
        argv = vmm_argv(vmm, self.name, scenario, cmdline, vcpus, mem, disk, tap, extra, rng, vsock,
                        fs)
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv  # ip execs: the pid stays the VMM's
        self.argv = argv
        self.cg = Cgroup() if cgroup and CG_ROOT else None
        self.err = tempfile.TemporaryFile()
        self.out = bytearray()
        self.chunks = []  # (time, end offset in out)
        self.t_marker = None
        self.cpu_marker_us = None
        self.status = None
        self.rusage = None
        self.t_exit = None
        self.eof = False
        self.t0 = None
        self.pidfd = None
        # The VMM starts from a waiting shell (bash: dash takes no fd above 9 in a
        # redirection) that execs it when told to: the fork, the move into the cgroup
        # (which waits for an RCU grace period, milliseconds) and the pipes are set up
        # before the clock starts; "launch" is the exec.
        go_r, self.go = os.pipe()
        launcher = 'read -r x <&%d && exec %d<&- && exec "$@"' % (go_r, go_r)
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", launcher, "bash"] + argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.err, pass_fds=(go_r,), preexec_fn=self.cg.enter if self.cg else None)
        os.close(go_r)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.pidfd = os.pidfd_open(self.proc.pid)
        self.cpu_base_us = 0

    def _wait_shell(self):
        """Until the shell sleeps in read(2) on the go pipe (at most 2 s)."""
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/syscall" % self.proc.pid) as f:
                    if f.read().split(" ", 1)[0] == "0":  # read
                        return
            except OSError:
                return
            time.sleep(0.0005)

    def start(self, t0=None):
        """Let the VMM go; its clock starts at t0 (now)."""
        self._wait_shell()
        self.cpu_base_us = self.cpu_us() if self.cg else 0
        self.t0 = time.monotonic() if t0 is None else t0
        try:
            os.write(self.go, b"go\n")
        except BrokenPipeError:
            raise BenchError("%s: the launcher ended early\n%s" % (self.vmm, self.stderr()))
        finally:
            os.close(self.go)
            self.go = None
        return self

    def feed(self, now):
        """Read what is there; False at end of file."""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                self.eof = True
                return False
            start = max(0, len(self.out) - len(MARKER))
            self.out += chunk
            self.chunks.append((now, len(self.out)))
            if self.t_marker is None and MARKER in self.out[start:]:
                self.t_marker = now
                self.cpu_marker_us = self.cpu_us() - self.cpu_base_us

    def cpu_us(self):
        if self.cg:
            return self.cg.usage_us()
        return proc_cpu_us(proc_tree(self.proc.pid))

    def pids(self):
        if self.cg:
            return self.cg.pids()
        return proc_tree(self.proc.pid)

    def time_of(self, offset):
        """When byte `offset` of the console output reached us."""
        for t, end in self.chunks:
            if end > offset:
                return t
        return None

    def text(self):
        return self.out.decode(errors="replace")

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def explain(self):
        return "%s: %s\nstatus %s\nconsole (last 2000 bytes):\n%s\nstderr (last 2000 bytes):\n%s" % (
            self.vmm, " ".join(self.argv), self.status, self.text()[-2000:], self.stderr()[-2000:])

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def reap(self):
        """wait4 without blocking: True once the process has ended."""
        if self.status is not None:
            return True
        pid, st, ru = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.t_exit = time.monotonic()
        self.status = os.waitstatus_to_exitcode(st)
        self.proc.returncode = self.status
        self.rusage = ru
        # Every process of the VM has ended (the VMM reaps its children before it exits).
        self.cpu_exit_us = (self.cpu_us() - self.cpu_base_us if self.cg else
                            int((ru.ru_utime + ru.ru_stime) * 1e6))
        return True

    def kill(self):
        if self.cg:
            self.cg.kill()
        if self.status is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    def close(self):
        """End whatever is left of the VM and free its resources."""
        if self.go is not None:
            os.close(self.go)
            self.go = None
        if self.status is None:
            self.kill()
            try:
                os.wait4(self.proc.pid, 0)
            except ChildProcessError:
                pass
            self.proc.returncode = -9
        if self.cg:
            self.cg.remove()
            self.cg = None
        for f in (self.proc.stdout, self.proc.stdin):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        self.err.close()


def pump(vms, until, timeout, what):
    """Read the consoles of vms and reap them as they end (pidfds), until until() is true;
    BenchError after timeout s, or if every VM ended first."""
    sel = selectors.DefaultSelector()
    for vm in vms:
        if not vm.eof:
            sel.register(vm.fd, selectors.EVENT_READ, (vm, "out"))
        if vm.status is None:
            sel.register(vm.pidfd, selectors.EVENT_READ, (vm, "pid"))
    deadline = time.monotonic() + timeout
    try:
        while not until():
            if not sel.get_map():
                raise BenchError("%s: the VMs ended first\n%s" % (
                    what, "\n".join(vm.explain() for vm in vms)))
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError("%s: not within %d s\n%s" % (
                    what, timeout, "\n".join(vm.explain() for vm in vms)))
            events = sel.select(left)
            now = time.monotonic()
            for key, _ in events:
                vm, kind = key.data
                if kind == "out":
                    if not vm.feed(now):
                        sel.unregister(vm.fd)
                elif vm.reap():
                    sel.unregister(vm.pidfd)
    finally:
        sel.close()


def finish(vms, timeout=60, what="run"):
    """Read to the end and reap every VM; BenchError unless each passed."""
    def done():
        return all(vm.eof and vm.status is not None for vm in vms)
    pump(vms, done, timeout, what)
    for vm in vms:
        if vm.status != GUEST_PASS or b"PASS " + vm.scenario.encode() not in vm.out:
            raise BenchError("%s: %s did not PASS\n%s" % (what, vm.vmm, vm.explain()))


def run_one(vmm, scenario, timeout=60, **kw):
    vm = Vm(vmm, scenario, **kw).start()
    try:
        finish([vm], timeout, "%s %s" % (vmm, scenario))
    except BaseException:
        vm.close()
        raise
    vm.close()
    return vm


def run_floor(irqchip="", timeout=30):
    """One run of the bare KVM program (bench/kvm_floor.c), launched as the VMMs are;
    irqchip "", "--irqchip", "--split-irqchip" or "--jail" (split, in bulkhead's jail)."""
    vm = Vm("floor", "floor", cmdline=irqchip).start()
    try:
        pump([vm], lambda: vm.eof and vm.status is not None, timeout, "kvm-floor")
    finally:
        vm.close()
    if vm.status != 0:
        raise BenchError("kvm-floor failed\n%s" % vm.explain())
    return vm


def run_floor_guest(vmm, timeout=30):
    """One boot of the floor's guest (bench/floor_guest.S) by vmm, as marker-exit's VM:
    its one write to the debug-exit port ends either VMM with status 1."""
    vm = Vm(vmm, "floor-guest").start()
    try:
        pump([vm], lambda: vm.eof and vm.status is not None, timeout, "%s floor-guest" % vmm)
    finally:
        vm.close()
    if vm.status != GUEST_PASS:
        raise BenchError("%s floor-guest failed\n%s" % (vmm, vm.explain()))
    return vm


def grab(vm, pattern, what):
    m = re.search(pattern, vm.text())
    if not m:
        raise BenchError("%s: no %r in the output\n%s" % (what, pattern, vm.explain()))
    return m


# ---- network namespace -----------------------------------------------------------------------

def sh(*argv, check=True):
    p = subprocess.run(argv, capture_output=True, text=True)
    if check and p.returncode:
        raise BenchError("%s: %s" % (" ".join(argv), p.stderr.strip()))
    return p


class NetNs:
    """A network namespace with one TAP (IPv6 off, so the host stack sends the guest
    nothing), removed by close()."""

    def __init__(self, tap="tap0"):
        self.name = "bhb-%d" % os.getpid()
        self.tap = tap
        sh("ip", "netns", "add", self.name)
        try:
            self.ex("ip", "link", "set", "lo", "up")
            self.ex("ip", "tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr")
            self.ex("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % tap)
            self.ex("ip", "link", "set", tap, "up")
        except BaseException:
            self.close()
            raise

    def ex(self, *argv):
        return sh("ip", "netns", "exec", self.name, *argv)

    def close(self):
        sh("ip", "netns", "del", self.name, check=False)


class Peer:
    """tests/guest/netpeer.py as a process of its own (its own interpreter and GIL)."""

    def __init__(self, ns):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([PYTHON, NETPEER, "--netns", ns.name, ns.tap],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        deadline = time.monotonic() + 10
        while b"netpeer: serving" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise BenchError("the host peer did not start:\n%s" % self.text().decode())
            time.sleep(0.02)

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.text().decode(errors="replace")
        self.log.close()
        return out


# ---- the figures -----------------------------------------------------------------------------

def alternate(cfg, fn):
    """fn(vmm) for bulkhead, QEMU, bulkhead, ...: one warm-up each (not kept), then cfg runs each."""
    if cfg["warmup"]:
        for vmm in VMMS:
            fn(vmm, False)
    for _ in range(cfg["runs"]):
        for vmm in VMMS:
            fn(vmm, True)


def fig_start(res, cfg, work):
    for vcpus in cfg["vcpus"]:
        fig = "1 start, %d vCPU" % vcpus
        k = "start.%d." % vcpus
        sh_ = "start %d vCPU: " % vcpus
        m_marker = res.metric(k + "marker", fig, "launch to boot marker", "ms", "lower",
                              short=sh_ + "to marker")
        m_exit = res.metric(k + "exit", fig, "launch to exit", "ms", "lower", short=sh_ + "to exit")
        m_cpum = res.metric(k + "cpu_marker", fig, "CPU time (user+sys) to the marker", "ms", "lower",
                            short=sh_ + "CPU to marker")
        m_cpux = res.metric(k + "cpu_exit", fig, "CPU time (user+sys) to exit", "ms", "lower",
                            short=sh_ + "CPU to exit")

        if vcpus == 1:
            m_floor = res.metric("start.floor.exit", fig, "the floor: a bare KVM program "
                                 "(bench/kvm_floor.c: 64 MiB, one vCPU in real mode, one port "
                                 "write, hlt), launch to exit, in the bulkhead column", "ms", None,
                                 vmms=("bulkhead",), short="floor: to exit")
            m_floor_irq = res.metric("start.floor_irqchip.exit", fig, "the same after "
                                     "KVM_CREATE_IRQCHIP (kvm-floor --irqchip), launch to exit, in "
                                     "the bulkhead column", "ms", None, vmms=("bulkhead",),
                                     short="floor+irqchip: to exit")
            m_floor_split = res.metric("start.floor_split.exit", fig, "the same after "
                                       "KVM_CAP_SPLIT_IRQCHIP (kvm-floor --split-irqchip, the "
                                       "irqchip bulkhead uses), launch to exit, in the bulkhead "
                                       "column", "ms", None, vmms=("bulkhead",),
                                       short="floor+split irqchip: to exit")
            m_over = res.metric("start.floor.ratio", fig, "bulkhead's launch to exit over the floor's "
                                "(medians)", "x", None, vmms=("bulkhead",), short="over the floor")
            # The same VM booting the floor's own guest work: what the VMM costs by itself.
            m_fg = res.metric("start.floor_guest.exit", fig, "the floor's guest (bench/floor_guest.S: "
                              "its PVH entry writes the debug-exit port, the floor's work), launch "
                              "to exit", "ms", "lower", short="floor's guest: to exit")
            m_fg_over = res.metric("start.floor_guest.ratio", fig, "bulkhead's launch to exit on the "
                                   "floor's guest over the floor's (medians)", "x", None,
                                   vmms=("bulkhead",), short="floor's guest over the floor")
            # The floor in one process inside bulkhead's own jail: what the jail costs a VMM
            # that does not split into processes.
            m_floor_jail = res.metric("start.floor_jail.exit", fig, "the floor in one jailed "
                                      "process (kvm-floor --jail: a new PID namespace and exec, "
                                      "then the split irqchip and bulkhead's jail and a seccomp "
                                      "filter), launch to exit, in the bulkhead column", "ms", None,
                                      vmms=("bulkhead",), short="floor in the jail: to exit")
            m_fg_over_jail = res.metric("start.floor_guest.jail_ratio", fig, "bulkhead's launch to "
                                        "exit on the floor's guest over the jailed floor's "
                                        "(medians): what the split into processes costs", "x",
                                        None, vmms=("bulkhead",),
                                        short="floor's guest over the jailed floor")
            # The same VM with an idle API socket (nobody connects): bulkhead-api is one more
            # jailed process to start, and the supervisor makes the socket and the API page.
            m_api_marker = res.metric("start.api.marker", fig, "with an idle API socket "
                                      "(--api-socket), launch to boot marker, in the bulkhead "
                                      "column", "ms", None, vmms=("bulkhead",),
                                      short="idle API socket: to marker")
            m_api_exit = res.metric("start.api.exit", fig, "with an idle API socket, launch to "
                                    "exit, in the bulkhead column", "ms", None, vmms=("bulkhead",),
                                    short="idle API socket: to exit")
            m_api_over = res.metric("start.api.ratio", fig, "launch to exit with an idle API socket "
                                    "over without (medians)", "x", None, vmms=("bulkhead",),
                                    short="API socket over none")

        def one(vmm, keep, vcpus=vcpus):
            vm = run_one(vmm, "marker-exit", vcpus=vcpus)
            if keep:
                m_marker.add(vmm, (vm.t_marker - vm.t0) * 1000)
                m_exit.add(vmm, (vm.t_exit - vm.t0) * 1000)
                m_cpum.add(vmm, vm.cpu_marker_us / 1000)
                m_cpux.add(vmm, vm.cpu_exit_us / 1000)
            if vcpus == 1:
                fg = run_floor_guest(vmm)
                if keep:
                    m_fg.add(vmm, (fg.t_exit - fg.t0) * 1000)
            if vcpus == 1 and vmm == VMMS[-1]:  # the floor after each pair, alternating too
                floor = run_floor()
                floor_irq = run_floor(irqchip="--irqchip")
                floor_split = run_floor(irqchip="--split-irqchip")
                floor_jail = run_floor(irqchip="--jail")
                # the socket a run leaves is stale for the next, which replaces it
                api = run_one("bulkhead", "marker-exit",
                              extra=["--api-socket", os.path.join(work, "bench-api.sock")])
                if keep:
                    m_floor.add("bulkhead", (floor.t_exit - floor.t0) * 1000)
                    m_floor_irq.add("bulkhead", (floor_irq.t_exit - floor_irq.t0) * 1000)
                    m_floor_split.add("bulkhead", (floor_split.t_exit - floor_split.t0) * 1000)
                    m_floor_jail.add("bulkhead", (floor_jail.t_exit - floor_jail.t0) * 1000)
                    m_api_marker.add("bulkhead", (api.t_marker - api.t0) * 1000)
                    m_api_exit.add("bulkhead", (api.t_exit - api.t0) * 1000)
        alternate(cfg, one)
        if vcpus == 1 and m_floor.values["bulkhead"]:
            m_over.values["bulkhead"] = [m_exit.med("bulkhead") / m_floor.med("bulkhead")]
        if vcpus == 1 and m_floor.values["bulkhead"] and m_fg.values["bulkhead"]:
            m_fg_over.values["bulkhead"] = [m_fg.med("bulkhead") / m_floor.med("bulkhead")]
            m_fg_over_jail.values["bulkhead"] = [m_fg.med("bulkhead") / m_floor_jail.med("bulkhead")]
        if vcpus == 1 and m_api_exit.values["bulkhead"]:
            m_api_over.values["bulkhead"] = [m_api_exit.med("bulkhead") / m_exit.med("bulkhead")]


def fig_memory(res, cfg, work):
    fig = "2 memory (idle, disk+NIC)"
    img = os.path.join(work, "idle.img")
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    ns = NetNs()
    try:
        m_rss = res.metric("mem.rss", fig, "peak RSS, all processes, guest RAM excluded", "MiB",
                           "lower", short="memory: RSS")
        m_pss = res.metric("mem.pss", fig, "peak PSS, all processes, guest RAM excluded", "MiB",
                           "lower", short="memory: PSS")
        m_n = res.metric("mem.procs", fig, "host processes", "", None)
        m_t = res.metric("mem.threads", fig, "host threads", "", None)

        def one(vmm, keep):
            vm = Vm(vmm, "echo", disk=img, tap=ns.tap, netns=ns.name, stdin=True).start()
            try:
                pump([vm], lambda: READY in vm.out, 30, "%s echo: ready" % vmm)
                time.sleep(0.3)
                samples = []
                for i in range(cfg["mem_samples"]):
                    if i:
                        time.sleep(0.1)
                    per = {}
                    root = vm.proc.pid
                    for pid in vm.pids():
                        s = smaps_sum(pid, vm.mem * 1024)
                        if s is None:
                            continue
                        title = proc_title(pid)
                        if pid == root:
                            label = "supervisor" if vmm == "bulkhead" else "qemu"
                        elif title.startswith("bulkhead/"):
                            label = title.split("/", 2)[2]
                        else:
                            label = os.path.basename(title)
                        per[label] = s
                    samples.append(per)
                threads = sum(proc_threads(pid) for pid in vm.pids())
                vm.send(b"quit\n")
                finish([vm], 30, "%s echo" % vmm)
            finally:
                vm.close()
            if not keep:
                return
            m_rss.add(vmm, max(sum(s[0] for s in p.values()) for p in samples) / 1024)
            m_pss.add(vmm, max(sum(s[1] for s in p.values()) for p in samples) / 1024)
            m_n.add(vmm, len(samples[0]))
            m_t.add(vmm, threads)
            if vmm == "bulkhead":
                for label in sorted(samples[0]):
                    for i, what in ((0, "RSS"), (1, "PSS")):
                        res.metric("mem.%s.%s" % (label, what.lower()), fig,
                                   "peak %s of bulkhead's %s process" % (what, label), "MiB", "lower",
                                   vmms=("bulkhead",)).add(
                            vmm, max(p[label][i] for p in samples if label in p) / 1024)
        alternate(cfg, one)
    finally:
        ns.close()


def write_random(path, mib):
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
        f.flush()
        os.fsync(f.fileno())


def fig_disk(res, cfg, work):
    fig = "3 disk (blk-bench)"
    img = os.path.join(work, "disk.img")
    log("writing a %d MiB image with random data" % cfg["disk_mib"])
    write_random(img, cfg["disk_mib"])
    rows = [("disk.seq_write", r"blk-bench: seq-write MB/s ([\d.]+)",
             "sequential write, 128 KiB at depth 16", "MB/s", "higher", "disk: seq write"),
            ("disk.seq_read", r"blk-bench: seq-read MB/s ([\d.]+)",
             "sequential read, 128 KiB at depth 16", "MB/s", "higher", "disk: seq read"),
            ("disk.rand_qd1", r"blk-bench: randread-qd1 IOPS (\d+)", "4 KiB random read, depth 1",
             "IOPS", "higher", "disk: randread qd1"),
            ("disk.rand_qd1_lat", r"blk-bench: randread-qd1 IOPS \d+ lat-us ([\d.]+)",
             "4 KiB random read latency, depth 1", "us", "lower", "disk: randread qd1 latency"),
            ("disk.rand_qd32", r"blk-bench: randread-qd\d+ IOPS (\d+) \(",
             "4 KiB random read, depth 32", "IOPS", "higher", "disk: randread qd32")]
    ms = [(res.metric(k, fig, label, unit, better, short=short), pat)
          for k, pat, label, unit, better, short in rows]

    def one(vmm, keep):
        vm = run_one(vmm, "blk-bench", cmdline=cfg["blk_args"], disk=img, timeout=300)
        if keep:
            for m, pat in ms:
                m.add(vmm, float(grab(vm, pat, "blk-bench").group(1)))
    alternate(cfg, one)


def fig_net(res, cfg, work):
    fig = "4 network (net-bench)"
    rows = [("net.tx_fps", r"net-bench: tx frames/s (\d+)", "guest to host, 1514-byte frames",
             "frames/s", "net: tx frames/s"),
            ("net.tx_mbs", r"net-bench: tx frames/s \d+ MB/s ([\d.]+)", "guest to host", "MB/s",
             "net: tx MB/s"),
            ("net.rx_fps", r"net-bench: rx frames/s (\d+)", "host to guest, 1514-byte frames",
             "frames/s", "net: rx frames/s"),
            ("net.rx_mbs", r"net-bench: rx frames/s \d+ MB/s ([\d.]+)", "host to guest", "MB/s",
             "net: rx MB/s")]
    ms = [(res.metric(k, fig, label, unit, "higher", short=short), pat)
          for k, pat, label, unit, short in rows]
    rtt = res.metric("net.rtt", fig, "echo round trip (median of the guest's echoes)", "us", "lower",
                     short="net: echo rtt")
    ns = NetNs()
    try:
        def one(vmm, keep):
            peer = Peer(ns)
            try:
                vm = run_one(vmm, "net-bench", cmdline=cfg["net_args"], tap=ns.tap, netns=ns.name,
                             timeout=120)
            except BenchError as e:
                raise BenchError("%s\nhost peer:\n%s" % (e, peer.close()))
            finally:
                peer.close()
            if keep:
                for m, pat in ms:
                    m.add(vmm, float(grab(vm, pat, "net-bench").group(1)))
                m = grab(vm, r"net-bench: echo rtt-us ([\d.]+)", "net-bench")
                rtt.add(vmm, float(m.group(1)))
        alternate(cfg, one)
    finally:
        ns.close()


SVC_ROWS = [("null service", "a service call that does nothing (ud2 trap to ring 0 and back)"),
            ("outb (1 trap)", "one outb to port 0x80 through a service"),
            ("16 outb, 1 batch", "16 outb to port 0x80 in one service"),
            ("16-byte UART write", "16 bytes to COM1 (LSR read, then rep outsb)"),
            ("LAPIC read, ring 3", "LAPIC ID read from ring 3 (in-kernel LAPIC)")]


ISOLATION = "5 cost of isolation"
# mmio-bench's lines: (key, pattern, label, short).
MMIO_ROWS = [("mmio.read", r"mmio-bench: read ns (\d+) \(MagicValue 0x74726976 in all",
              "forwarded MMIO read round trip (mmio-bench: virtio-mmio MagicValue from ring 3)",
              "mmio-bench: MMIO read"),
             ("mmio.unclaimed", r"mmio-bench: unclaimed read ns (\d+)",
              "MMIO read of an address no device claims (mmio-bench: the VMM's vCPU thread answers)",
              "mmio-bench: unclaimed MMIO read"),
             ("mmio.pio", r"mmio-bench: pio read ns (\d+)",
              "forwarded port read (mmio-bench: COM1 scratch, one more read in a PIO_BATCH service)",
              "mmio-bench: port read"),
             ("mmio.pio_local", r"mmio-bench: port 0x80 read ns (\d+)",
              "port 0x80 read (mmio-bench: the VMM's vCPU thread answers; as the port read above)",
              "mmio-bench: port 0x80 read")]


def fig_mmio(res, cfg, work):
    img = os.path.join(work, "mmio.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    ms = [(res.metric(k, ISOLATION, label, "ns", "lower", short=short), pat)
          for k, pat, label, short in MMIO_ROWS]

    def one(vmm, keep):
        vm = run_one(vmm, "mmio-bench", cmdline="bulkhead.iterations=%d" % cfg["mmio_iterations"],
                     disk=img, timeout=120)
        values = [float(grab(vm, pat, "mmio-bench").group(1)) for _, pat in ms]
        if keep:
            for (m, _), v in zip(ms, values):
                m.add(vmm, v)
    alternate(cfg, one)


def fig_isolation(res, cfg, work):
    fig = ISOLATION
    ms = []
    for i, (name, label) in enumerate(SVC_ROWS):
        ms.append((res.metric("iso.svc%d" % i, fig, "svc-bench: " + label, "ns", "lower",
                              short="svc-bench: " + name),
                   r"  %s\s+(\d+) ns" % re.escape(name)))
    g = res.metric("iso.flood_guest", fig, "serial-flood, as the guest reports it", "bytes/s", "higher",
                   short="serial: guest bytes/s")
    h = res.metric("iso.flood_host", fig, "serial-flood, bytes on the VMM's stdout per second",
                   "bytes/s", "higher", short="serial: host bytes/s")
    nbytes = cfg["flood_bytes"]

    def one(vmm, keep):
        vm = run_one(vmm, "svc-bench", cmdline="bulkhead.iterations=%d" % cfg["svc_iterations"],
                     timeout=120)
        if keep:
            for m, pat in ms:
                m.add(vmm, float(grab(vm, pat, "svc-bench").group(1)))
        vm = run_one(vmm, "serial-flood", cmdline="bulkhead.bytes=%d" % nbytes, timeout=300)
        m = grab(vm, r"serial-flood: (\d+) bytes in \d+ TSC cycles \((\d+) us\)", "serial-flood")
        # The host's view: from the boot marker line (the flood starts right after it) to
        # the chunk holding the flood's last byte.
        start = vm.out.index(MARKER)
        start = vm.out.index(b"\n", start) + 1
        end = vm.out.index(b"\n" + TAG + b"serial-flood:", start)
        flood = end - start
        if flood != nbytes:
            raise BenchError("serial-flood: %d bytes on stdout, the guest wrote %d\n%s"
                             % (flood, nbytes, vm.explain()))
        t_last = vm.time_of(end - 1)
        if keep:
            g.add(vmm, int(m.group(1)) * 1e6 / max(int(m.group(2)), 1))
            h.add(vmm, flood / max(t_last - vm.t_marker, 1e-6))
    alternate(cfg, one)


def fig_scale(res, cfg, work):
    for n in cfg["scale"]:
        fig = "6 scale, %d VM%s at once" % (n, "s" if n > 1 else "")
        mm = res.metric("scale.%d.marker" % n, fig, "launch to the last boot marker", "ms", "lower",
                        short="%d VM%s: to last marker" % (n, "s" if n > 1 else ""))
        mx = res.metric("scale.%d.exit" % n, fig, "launch to the last exit", "ms", "lower",
                        short="%d VM%s: to last exit" % (n, "s" if n > 1 else ""))

        def one(vmm, keep, n=n):
            vms = []
            try:
                for _ in range(n):
                    vms.append(Vm(vmm, "marker-exit", cgroup=False))
                t0 = time.monotonic()
                for vm in vms:
                    vm.start(t0)
                pump(vms, lambda: all(vm.t_marker for vm in vms), 120, "%d x %s" % (n, vmm))
                t_marker = max(vm.t_marker for vm in vms)
                finish(vms, 120, "%d x %s" % (n, vmm))
                t_exit = max(vm.t_exit for vm in vms)
            finally:
                for vm in vms:
                    vm.close()
            if keep:
                mm.add(vmm, (t_marker - t0) * 1000)
                mx.add(vmm, (t_exit - t0) * 1000)
        alternate(cfg, one)


P9_SHARE = os.path.join(ROOT, "bench", "p9_share.sh")  # the share figure 8 reads
P9_MSIZE = 512000  # Linux 6.1's largest for trans=virtio: (128 - 3) pages
P9_CHUNK = (P9_MSIZE - 23) & ~7  # what the test guest's p9-bench puts in one Twrite (chunk_of)


def linux_9p_lines(cfg, work):
    """bench/linux_9p.sh's P9BENCH lines: on this host where its KVM runs Linux, else in the
    nested harness's L1 (with QEMU in it). Both run the build tree's binaries, as the Linux
    tier does, and the Linux kit (tests/guest/linux/build-kit.sh)."""
    kit = os.path.join(BUILD, "linux-kit")
    p = subprocess.run([os.path.join(ROOT, "tests", "guest", "linux", "build-kit.sh"), kit],
                       capture_output=True, text=True, timeout=600)
    if p.returncode:
        raise BenchError("build-kit.sh: %s" % p.stderr[-2000:])
    script = os.path.join(ROOT, "bench", "linux_9p.sh")
    args = [str(cfg["runs"]), str(cfg["p9_mib"]), str(cfg["p9_files"]), str(P9_MSIZE),
            "1" if cfg["warmup"] else "0"]
    limit = 300 + 240 * (cfg["runs"] + 1) * max(1, cfg["p9_mib"] // 16)
    probe = subprocess.run([os.path.join(ROOT, "tests", "nested", "probe.sh")], capture_output=True,
                           text=True, timeout=60)
    if probe.returncode == 0:
        env = dict(os.environ, B=os.path.join(BUILD, "bulkhead"), KIT=kit, QEMU=QEMU,
                   SHARE=os.path.join(work, "p9share"))
        argv = ["sh", script] + args
    else:
        env = dict(os.environ, WITH_QEMU="1", O=BUILD, NESTED_LOG=os.path.join(work, "nested-9p.log"))
        argv = [os.path.join(ROOT, "tests", "nested", "run.sh"), "--timeout", str(limit), "--file",
                "%s:/tmp/linux_9p.sh" % script, "--file", "%s:/tmp/p9_share.sh" % P9_SHARE,
                "--", "sh", "/tmp/linux_9p.sh"] + args
    p = subprocess.run(argv, capture_output=True, text=True, timeout=limit + 120, env=env)
    lines = [line.split() for line in p.stdout.splitlines() if line.startswith("P9BENCH ")]
    if p.returncode or not lines:
        raise BenchError("linux_9p.sh: status %d (%s)\n%s\n%s" % (
            p.returncode, probe.stdout.strip(), p.stdout[-3000:], p.stderr[-1000:]))
    return lines, p.stdout


def fig_9p(res, cfg, work):
    fig = "8 shared directory (Linux guest, 9p)"
    note = "msize %d, cache=none, nested tier" % P9_MSIZE
    m_read = res.metric("p9.read", fig, "read a %d MiB file (dd bs=1M)" % cfg["p9_mib"], "MB/s",
                        "higher", note=note, short="9p: read")
    m_write = res.metric("p9.write", fig, "write a %d MiB file (dd bs=1M conv=fsync)" % cfg["p9_mib"],
                         "MB/s", "higher", note=note, short="9p: write")
    m_stat = res.metric("p9.stat", fig, "ls -ln of %d files (a walk and a getattr each)" %
                        cfg["p9_files"], "ms", "lower", note=note, short="9p: stat")
    lines, text = linux_9p_lines(cfg, work)
    for w in lines:
        # P9BENCH VMM RUN status S read_mbs R write_mbs W stat_ms T files N
        f = dict(zip(w[3::2], w[4::2]))
        if f.get("status") != "1" or "none" in f.values() or int(f["files"]) != cfg["p9_files"]:
            raise BenchError("9p: %s run %s failed: %s\n%s" % (w[1], w[2], " ".join(w), text[-3000:]))
        if w[2] == "0":
            continue  # the warm-up
        m_read.add(w[1], float(f["read_mbs"]))
        m_write.add(w[1], float(f["write_mbs"]))
        m_stat.add(w[1], float(f["stat_ms"]))


def fig_9p_guest(res, cfg, work):
    """Figure 8's work on the test guest (scenario p9-bench), on this host's KVM: the same
    guest and 9p client for both VMMs, where the nested tier's L1 cannot carry the Linux one."""
    fig = "8 shared directory (test guest, 9p)"
    note = "msize %d, the test guest's own 9p client, QEMU virtio-9p-device with -fsdev local" % P9_MSIZE
    m_read = res.metric("p9g.read", fig, "read a %d MiB file (Tread of a whole msize each)" %
                        cfg["p9_mib"], "MB/s", "higher", note=note, short="9p guest: read")
    m_write = res.metric("p9g.write", fig, "write a %d MiB file and Tfsync it" % cfg["p9_mib"],
                         "MB/s", "higher", note=note, short="9p guest: write")
    m_twrite = res.metric("p9g.twrites", fig, "the same write's Twrites alone, before its Tfsync "
                          "(the host's page cache; the Tfsync is the host's disk)", "MB/s", "higher",
                          note=note, short="9p guest: Twrites")
    m_stat = res.metric("p9g.stat", fig, "walk to and Tgetattr %d files (and Tclunk)" %
                        cfg["p9_files"], "ms", "lower", note=note, short="9p guest: stat")
    m_floor = res.metric("p9g.write_floor", fig, "the host's own floor for that write: a program's "
                         "pwrites of the same chunks to the same file system, then fsync "
                         "(bench/write_floor.c), in the bulkhead column", "MB/s", None,
                         vmms=("bulkhead",), short="9p guest: write floor")
    m_floor_w = res.metric("p9g.pwrite_floor", fig, "the same program's pwrites alone, before its "
                           "fsync, in the bulkhead column", "MB/s", None, vmms=("bulkhead",),
                           short="9p guest: pwrite floor")
    share = os.path.join(work, "p9g")
    p = subprocess.run(["sh", P9_SHARE, share, str(cfg["p9_mib"]), str(cfg["p9_files"])],
                       capture_output=True, text=True, timeout=300)
    if p.returncode:
        raise BenchError("p9_share.sh: %s" % p.stderr.strip())
    cmdline = "bulkhead.p9-bytes=%d bulkhead.p9-files=%d bulkhead.p9-msize=%d" % (
        cfg["p9_mib"] << 20, cfg["p9_files"], P9_MSIZE)

    def one(vmm, keep):
        try:
            os.unlink(os.path.join(share, "write.bin"))
        except FileNotFoundError:
            pass
        vm = run_one(vmm, "p9-bench", cmdline=cmdline, fs=share, timeout=300)
        m = grab(vm, r"p9-bench read-bytes (\d+) read-us (\d+) write-bytes (\d+) write-us (\d+) "
                 r"files (\d+) stat-us (\d+)", "p9-bench")
        got, read_us, wrote, write_us, files, stat_us = (int(x) for x in m.groups())
        fsync_us = int(grab(vm, r"p9-bench .* fsync-us (\d+)", "p9-bench").group(1))
        if got != cfg["p9_mib"] << 20 or files != cfg["p9_files"]:
            raise BenchError("p9-bench under %s: %s" % (vmm, m.group(0)))
        if keep:
            m_read.add(vmm, got / max(read_us, 1))  # bytes per us: MB/s
            m_write.add(vmm, wrote / max(write_us, 1))
            m_twrite.add(vmm, wrote / max(write_us - fsync_us, 1))
            m_stat.add(vmm, stat_us / 1000)
        if keep and vmm == VMMS[-1]:  # the floor after each pair, alternating too
            writes_us, floor_fsync_us = write_floor(share, wrote, P9_CHUNK)
            m_floor.add("bulkhead", wrote / max(writes_us + floor_fsync_us, 1))
            m_floor_w.add("bulkhead", wrote / max(writes_us, 1))
    alternate(cfg, one)


def write_floor(share, nbytes, chunk):
    """bench/write_floor.c once in share: its pwrites' and its fsync's microseconds."""
    p = subprocess.run([WRITE_FLOOR, os.path.join(share, "floor.bin"), str(nbytes), str(chunk)],
                       capture_output=True, text=True, timeout=300)
    m = re.match(r"WRITEFLOOR bytes \d+ writes_us (\d+) fsync_us (\d+)$", p.stdout.strip())
    if p.returncode or not m:
        raise BenchError("write-floor: status %d: %s%s" % (p.returncode, p.stdout, p.stderr))
    return int(m.group(1)), int(m.group(2))


def kill_role(vm, role, killed, timeout=5):
    """SIGKILL vm's process titled bulkhead/NAME/role once it is one not yet killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in vm.pids():
            if pid not in killed and proc_title(pid) == "bulkhead/%s/%s" % (vm.name, role):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.005)
    raise BenchError("%s: no new %s process within %d s\n%s" % (vm.name, role, timeout,
                                                              vm.stderr()))


def fig_restart(res, cfg, work):
    fig = "7 restart (blk-gaps)"
    m = res.metric("restart.gap", fig, "SIGKILL of bulkhead-blk to the next completed read", "ms",
                   "lower", vmms=("bulkhead",), note="the guest's longest gaps between reads, one "
                   "per kill; no other VMM restarts a device", short="restart: kill to next read")
    img = os.path.join(work, "gaps.img")
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    kills = cfg["restart_kills"]
    for _ in range(cfg["restart_vms"]):  # at most 5 restarts per VM: the cap is 5 in 60 s
        vm = Vm("bulkhead", "blk-gaps", disk=img, extra=("--on-device-failure", "restart"),
                cmdline="bulkhead.gaps=%d bulkhead.seconds=%d" % (kills, 1 + kills // 2 + 1)).start()
        killed = []
        try:
            pump([vm], lambda: vm.t_marker is not None, 30, "blk-gaps")
            for _ in range(kills):
                time.sleep(0.4)  # the guest prints nothing until the end
                kill_role(vm, "blk0", killed)
            finish([vm], 60, "blk-gaps")
            gaps = grab(vm, r"blk-gaps: \d+ reads of 4 KiB; longest gaps \(us\):([\d ]+)",
                        "blk-gaps")
            restarts = re.findall(r"blk0 \(pid \d+\) was killed by signal 9", vm.stderr())
            if len(restarts) != kills:
                raise BenchError("blk-gaps: %d restarts for %d kills\n%s" % (
                    len(restarts), kills, vm.stderr()))
        finally:
            vm.close()
        for us in gaps.group(1).split():
            m.add("bulkhead", int(us) / 1000)


LINUX = "9 Linux boot"
LINUX_VARIANTS = (("quiet", "Debian's kernel, `quiet`"),
                  ("verbose", "Debian's kernel, every boot message on the UART console"),
                  ("pvh", "Debian's vmlinux through its PVH entry, `quiet`: no decompression"))


def linux_tier():
    """'direct' where the host's KVM runs Linux, else 'nested' (tests/nested/probe.sh)."""
    return "direct" if subprocess.run([NESTED_PROBE], capture_output=True).returncode == 0 else "nested"


LINUX_L1_TRIES = 3  # fresh L1s a variant gets when L1 itself fails (run.sh 124 or 125, or L1-FAULT)


def linux_session(work, rounds, variants, tier):
    """One run of bench/linux_boot.sh (on the host, or in a fresh nested L1): its status,
    its output (and L1's console), and the LINUXBOOT lines in it."""
    args = [str(rounds)] + list(variants)
    timeout = 300 + rounds * len(variants) * len(VMMS) * 120
    bindir = os.path.dirname(BULKHEAD)
    if tier == "direct":
        env = dict(os.environ, B=BULKHEAD, KIT=KIT, CLOCK=BOOT_CLOCK, QEMU=QEMU)
        argv = ["sh", LINUX_BOOT] + args
    else:
        # KIT_ALL: linux_boot.sh names /kit/bzImage and /kit/vmlinux itself
        env = dict(os.environ, WITH_QEMU="1", NESTED_LOG=os.path.join(work, "nested.log"),
                   KIT=KIT, KIT_ALL="1")
        argv = [NESTED_RUN, "--timeout", str(timeout), "--quiet",
                "--file", "%s:/bench/boot-clock" % BOOT_CLOCK,
                "--file", "%s:/bench/linux_boot.sh" % LINUX_BOOT,
                "--file", "%s:/bench/l1_signatures.sh" % L1_SIGNATURES]
        for name in ("bulkhead",) + HELPERS:
            argv += ["--file", "%s:/bench/bin/%s" % (os.path.join(bindir, name), name)]
        argv += ["--", "env", "B=/bench/bin/bulkhead", "CLOCK=/bench/boot-clock", "sh",
                 "/bench/linux_boot.sh"] + args
    try:
        p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout + 60)
    except subprocess.TimeoutExpired:
        raise BenchError("linux: no answer within %d s" % (timeout + 60))
    log_text = ""
    if tier == "nested":
        try:
            with open(env["NESTED_LOG"], errors="replace") as f:
                log_text = f.read()
        except OSError:
            pass
    out = p.stdout + "\n" + log_text + "\n" + p.stderr
    boots = re.findall(r"LINUXBOOT (\w+) (\w+) (\d+) line_ms ([-\d.]+) exit_ms ([\d.]+) "
                       r"status (\d+) bytes (\d+)", out)
    return p.returncode, out, boots


def linux_boots(cfg, work, rounds, tier):
    """bench/linux_boot.sh's LINUXBOOT lines: on the host, or inside a nested L1, one fresh
    L1 per variant. L1's own kernel has died after 11 to 14 of a figure's 24-36 boots in one
    L1 (tests/nested/README.md, "When L1 itself fails"); a variant whose L1 fails that way
    (run.sh's 124 or 125), or whose failed boots L1's trace all shows L1 broke ("=== L1-FAULT",
    tests/integration/linux/l1_signatures.sh), runs again in a fresh one, and the output says
    so. Any other failed boot is an error of the figure. Returns the boots of every variant
    that completed, and the errors of those that did not."""
    boots, errors = [], []
    for variant, _ in LINUX_VARIANTS:
        want = rounds * len(VMMS)
        for attempt in range(1, LINUX_L1_TRIES + 1):
            status, out, got = linux_session(work, rounds, [variant], tier)
            bad = [b for b in got if b[5] != "0" or float(b[3]) < 0]
            if status == 0 and len(got) == want and not bad:
                boots += got
                break
            # a boot L1's trace shows L1 broke (l1_signatures.sh) counts as L1's failure
            l1_faults = re.findall(r"^=== L1-FAULT (\S+) (.*)$", out, re.M)
            faulted = {name for name, _ in l1_faults}
            unexplained = [b for b in bad if "%s-%s-%s" % b[:3] not in faulted]
            if unexplained:
                vmm, _, run, line_ms, _, st, nbytes = unexplained[0]
                errors.append("linux: %s %s run %s: status %s, /init %s ms, %s bytes of console\n%s"
                              % (vmm, variant, run, st, line_ms, nbytes, out[-3000:]))
                break
            l1_died = status in (124, 125)
            # every boot reported, and each that failed is one L1 broke
            l1_broke = status == 0 and len(got) == want and bool(bad)
            if tier != "nested" or not (l1_died or l1_broke) or attempt == LINUX_L1_TRIES:
                errors.append("linux: %s: status %d, %d boots of %d%s\n%s" % (
                    variant, status, len(got), want,
                    "; L1 broke %s" % ", ".join(sorted(faulted)) if faulted else "", out[-3000:]))
                break
            why = ("run.sh status %d after %d boots of %d" % (status, len(got), want) if l1_died
                   else "its trace shows it broke %s" % "; ".join("%s: %s" % f for f in l1_faults))
            print("bench: linux %s: L1 itself failed (%s); running the variant again in a fresh L1"
                  % (variant, why), flush=True)
    return boots, errors


def fig_linux(res, cfg, work):
    for path, what in ((KIT, "the Linux kit (tests/guest/linux/build-kit.sh)"),
                       (BOOT_CLOCK, "boot-clock (make bench)")):
        if not os.path.exists(path):
            raise BenchError("linux: no %s at %s" % (what, path))
    tier = linux_tier()
    where = "nested in QEMU TCG" if tier == "nested" else "on the host"
    ms = {}
    for v, what in LINUX_VARIANTS:
        ms[v, "init"] = res.metric("linux.%s.init" % v, "%s, %s" % (LINUX, v),
                                   "launch to /init (%s; 2 vCPUs, 256 MiB; %s)" % (what, where),
                                   "ms", "lower", short="Linux %s: to /init" % v)
        ms[v, "exit"] = res.metric("linux.%s.exit" % v, "%s, %s" % (LINUX, v),
                                   "launch to exit (the same boot, then poweroff)", "ms", "lower",
                                   short="Linux %s: to exit" % v)
    warm = 1 if cfg["warmup"] else 0
    boots, errors = linux_boots(cfg, work, cfg["runs"] + warm, tier)
    for vmm, variant, run, line_ms, exit_ms, status, nbytes in boots:
        if vmm not in VMMS or (variant, "init") not in ms:
            raise BenchError("linux: a boot of %s %s?" % (vmm, variant))
        if int(run) <= warm:
            continue
        ms[variant, "init"].add(vmm, float(line_ms))
        ms[variant, "exit"].add(vmm, float(exit_ms))
    if errors:
        raise BenchError("\n".join(errors))


def fig_rng(res, cfg, work):
    fig = "10 entropy (rng-read)"
    ms = [(res.metric("rng.req%d" % kib, fig, "random bytes to the guest, %d KiB requests "
                      "(virtio-rng-device for QEMU)" % kib, "MB/s", "higher",
                      short="rng: %d KiB requests" % kib), kib)
          for kib in (4, 64)]

    def one(vmm, keep):
        for m, kib in ms:
            vm = run_one(vmm, "rng-read", cmdline="bulkhead.bytes=%d bulkhead.chunk=%d bulkhead.warm=1"
                         % (cfg["rng_bytes"], kib << 10), rng=True, timeout=120)
            if keep:
                m.add(vmm, int(grab(vm, r"rng-read: \d+ bytes in \d+ requests, \d+ us, bytes/s (\d+)",
                                    "rng-read").group(1)) / 1e6)
    alternate(cfg, one)


def fig_vsock(res, cfg, work):
    """bulkhead alone: QEMU's vhost-vsock-device needs the host's /dev/vhost-vsock."""
    fig = "11 host sockets (vsock-bench)"
    note = "bulkhead alone: QEMU's vhost-vsock needs /dev/vhost-vsock%s" % (
        "" if os.path.exists("/dev/vhost-vsock") else ", which this host lacks")
    only = ("bulkhead",)
    m_conn = res.metric("vsock.connect", fig, "guest connect to a host listener, REQUEST to RESPONSE "
                        "(median of %d)" % cfg["vsock_connects"], "us", None, vmms=only, note=note,
                        short="vsock: connect")
    m_tx = res.metric("vsock.tx", fig, "guest to host, %d MiB" % cfg["vsock_mib"], "MB/s", None,
                      vmms=only, note=note, short="vsock: tx")
    m_rx = res.metric("vsock.rx", fig, "host to guest, %d MiB" % cfg["vsock_mib"], "MB/s", None,
                      vmms=only, note=note, short="vsock: rx")
    uds = os.path.join(work, "v.sock")
    data = os.urandom(cfg["vsock_mib"] << 20)

    def one(keep):
        ls = [vsockpeer.Listener("%s_5000" % uds, "close"), vsockpeer.Listener("%s_5001" % uds, "sink")]
        vm = Vm("bulkhead", "vsock-bench", cmdline="bulkhead.mib=%d bulkhead.iterations=%d"
                % (cfg["vsock_mib"], cfg["vsock_connects"]), vsock=uds).start()
        try:
            # a host connection made before the guest's driver is up ends at its reset
            pump([vm], lambda: READY in vm.out, 60, "bulkhead vsock-bench ready")
            line, _ = vsockpeer.send_to_guest(uds, 5002, data, timeout=300)
            finish([vm], 300, "bulkhead vsock-bench")
        finally:
            vm.close()
            for listener in ls:
                listener.stop()
        if line != b"%d 0x%08x" % (len(data), zlib.crc32(data)):
            raise BenchError("vsock-bench: the guest answered %r" % line)
        if keep:
            m_conn.add("bulkhead", int(grab(vm, r"connect-ns median (\d+)", "vsock-bench").group(1)) / 1000)
            m_tx.add("bulkhead", float(grab(vm, r"bench: tx MB/s (\d+)", "vsock-bench").group(1)))
            m_rx.add("bulkhead", float(grab(vm, r"bench: rx MB/s (\d+)", "vsock-bench").group(1)))
    if cfg["warmup"]:
        one(False)
    for _ in range(cfg["runs"]):
        one(True)


FIG_FN = {"start": fig_start, "memory": fig_memory, "disk": fig_disk, "net": fig_net,
          "mmio": fig_mmio, "isolation": fig_isolation, "scale": fig_scale, "restart": fig_restart,
          "9p-guest": fig_9p_guest, "9p": fig_9p, "linux": fig_linux, "rng": fig_rng,
          "vsock": fig_vsock}


# ---- the machine -----------------------------------------------------------------------------

def machine():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            cpuinfo = f.read()
        m = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
        info["cpu"] = m.group(1).strip() if m else platform.processor()
    except OSError:
        info["cpu"] = "?"
    info["cores"] = os.cpu_count()
    info["kernel"] = platform.release()
    mods = sorted(m for m in os.listdir("/sys/module") if m == "kvm" or m.startswith("kvm_"))
    info["kvm"] = ", ".join(mods) or "none"
    try:
        info["qemu"] = subprocess.run([QEMU, "--version"], capture_output=True,
                                      text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        info["qemu"] = "?"
    git = ["git", "--no-optional-locks", "-C", ROOT]
    rev = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    # Changes to the bench and the docs do not change what is measured.
    dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no", "--", ".",
                                  ":!bench", ":!docs"], capture_output=True, text=True)
    info["bulkhead"] = (rev.stdout.strip() or "?") + (
        " + uncommitted changes" if dirty.stdout.strip() else "")
    info["cgroup"] = CG_ROOT or "none (CPU time to the marker from /proc/PID/stat, 10 ms ticks)"
    return info


def cleanup_stale():
    """Remove what a bench run that was killed left behind: its cgroups and namespaces."""
    def alive(pid):
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    if CG_ROOT:
        for d in os.listdir(CG_ROOT):
            m = re.match(r"bulkhead-bench-(\d+)-\d+$", d)
            if m and not alive(int(m.group(1))):
                path = os.path.join(CG_ROOT, d)
                kill = os.path.join(path, "cgroup.kill")
                if os.path.exists(kill):
                    with open(kill, "w") as f:
                        f.write("1")
                for _ in range(100):
                    try:
                        os.rmdir(path)
                        break
                    except OSError:
                        time.sleep(0.02)
    p = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    for ln in p.stdout.splitlines():
        m = re.match(r"bhb-(\d+)\b", ln)
        if m and not alive(int(m.group(1))):
            sh("ip", "netns", "del", "bhb-" + m.group(1), check=False)


HELPERS = ("bulkhead-vcpu", "bulkhead-serial", "bulkhead-blk", "bulkhead-net", "bulkhead-9p",
           "bulkhead-rng", "bulkhead-vsock", "bulkhead-api")


def freeze_binaries(work, info):
    """Run copies of bulkhead, its helpers (it finds them beside itself) and the test guest,
    so that a rebuild of the tree during the run (other engineers' make check) cannot mix
    two versions into one table."""
    global BULKHEAD, GUEST, FLOOR, WRITE_FLOOR, BOOT_CLOCK
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    src = os.path.dirname(BULKHEAD)
    for name in ("bulkhead",) + HELPERS:
        shutil.copy2(os.path.join(src, name), bindir)
    shutil.copy2(GUEST, bindir)
    shutil.copy2(FLOOR, bindir)
    FLOOR = os.path.join(bindir, os.path.basename(FLOOR))
    shutil.copy2(WRITE_FLOOR, bindir)
    WRITE_FLOOR = os.path.join(bindir, os.path.basename(WRITE_FLOOR))
    if os.path.exists(BOOT_CLOCK):
        shutil.copy2(BOOT_CLOCK, bindir)
        BOOT_CLOCK = os.path.join(bindir, os.path.basename(BOOT_CLOCK))
    info["binaries"] = "built %s" % datetime.datetime.fromtimestamp(
        os.path.getmtime(BULKHEAD)).strftime("%Y-%m-%d %H:%M")
    BULKHEAD = os.path.join(bindir, "bulkhead")
    GUEST = os.path.join(bindir, os.path.basename(GUEST))


def wait_quiet(max_wait, limit):
    """Wait up to max_wait s for the 1-minute load average to fall below limit."""
    deadline = time.monotonic() + max_wait
    while True:
        la = float(loadavg().split()[0])
        if la < limit or time.monotonic() >= deadline:
            return la
        log("load average %.2f >= %.2f; waiting (%d s left)" % (la, limit, deadline - time.monotonic()))
        time.sleep(min(30, max(1, deadline - time.monotonic())))


# ---- output ----------------------------------------------------------------------------------

def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 10:
        return "%.2f" % v
    return "%.3f" % v


def cell(m, vmm):
    v = m.values[vmm]
    if not m.vmms:
        return "not measured"
    if vmm not in m.vmms:
        return "n/a"
    if not v:
        return "-"
    return "%s (%s-%s)" % (fmt(statistics.median(v)), fmt(min(v)), fmt(max(v)))


BETTER = {"lower": "lower", "higher": "higher", None: "-"}


def table(res):
    lines = ["| figure | what | bulkhead median (min-max) | QEMU median (min-max) | bulkhead/QEMU "
             "| unit | better |", "|---|---|---|---|---|---|---|"]
    for m in res.metrics.values():
        r = m.ratio()
        what = m.label + (" (%s)" % m.note if m.note else "")
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            m.figure, what, cell(m, "bulkhead"), cell(m, "qemu"),
            "%.2f" % r if r is not None and m.better else "-", m.unit or "count", BETTER[m.better]))
    return "\n".join(lines)


def machine_lines(info, cfg, loads, busy):
    return ["- CPU: %s, %d logical CPUs" % (info["cpu"], info["cores"]),
            "- kernel %s, KVM modules: %s" % (info["kernel"], info["kvm"]),
            "- %s; bulkhead %s (binaries %s)" % (info["qemu"], info["bulkhead"],
                                                  info.get("binaries", "?")),
            "- load average (1, 5, 15 min) at the start of each figure (the bench's own VMs "
            "count once it runs): %s" % "; ".join("%s %s" % (k, v) for k, v in loads.items()),
            "- other processes above 5%% of a CPU as each figure began: %s" % (
                "; ".join("%s: %s" % (k, v) for k, v in busy.items()) or "none"),
            "- %d runs of each VMM per figure, alternating, %s" % (
                cfg["runs"], "after one warm-up run each" if cfg["warmup"] else "no warm-up (smoke)"),
            "- CPU time to the marker: cgroup v2 at %s" % info["cgroup"]]


def write_markdown(path, res, info, cfg, stamp, png):
    out = ["# bulkhead against QEMU microvm, %s" % stamp, ""]
    out += machine_lines(info, cfg, res.loads, res.busy)
    out += ["", table(res), "",
            "\"better\": which way bulkhead/QEMU should go for bulkhead to be ahead (lower: "
            "a ratio below 1 is bulkhead ahead; higher: above 1). MB = 10^6 bytes; MiB = 2^20. "
            "What each figure measures: docs/performance.md.", ""]
    if png:
        out += ["![ratios](%s)" % os.path.basename(png), ""]
    if res.errors:
        out += ["## Errors", ""] + ["```\n%s\n```" % e for e in res.errors] + [""]
    with open(path, "w") as f:
        f.write("\n".join(out))


def advantage(m):
    """How far bulkhead is ahead on m, whatever its direction: QEMU/bulkhead where lower is
    better, bulkhead/QEMU where higher is; above 1 is bulkhead ahead. None without a ratio."""
    r = m.ratio()
    if r is None or r <= 0 or m.better not in ("lower", "higher"):
        return None
    return 1 / r if m.better == "lower" else r


def write_png(path, res, stamp):
    rows = [(m, advantage(m)) for m in res.metrics.values() if advantage(m) is not None]
    if not rows or not shutil.which("gnuplot"):
        return None
    data = []
    for i, (m, a) in enumerate(rows):
        color = 0x2CA02C if a > 1 else (0xD62728 if a < 1 else 0x999999)
        label = m.short.replace('"', "'")
        data.append('%d "%s" %g %d' % (i, label, a, color))
    lo = min(a for _, a in rows)
    hi = max(a for _, a in rows)
    script = """
set terminal pngcairo size 1500,900 font "sans,9"
set output "%s"
set title "bulkhead ahead of QEMU microvm by: QEMU/bulkhead for times and sizes, bulkhead/QEMU for rates (medians), %s\\nup: bulkhead ahead (green), down: QEMU ahead (red)"
set logscale y 2
set yrange [%g:%g]
set ylabel "bulkhead ahead by (x, log scale)"
set xtics rotate by -60 left nomirror noenhanced
set grid ytics
set bmargin 14
set rmargin 6
set xrange [-1:%d]
set key off
set arrow from -1, 1 to %d, 1 nohead lw 1.5 lc rgb "black"
$d << EOD
%s
EOD
plot $d using 1:(1):($1-0.4):($1+0.4):(($3 < 1) ? $3 : 1):(($3 < 1) ? 1 : $3):4:xtic(2) with boxxyerror fill solid 0.8 lc rgb variable, \\
     $d using 1:(($3 < 1) ? NaN : $3):(sprintf("%%.2f", $3)) with labels offset 0,0.7 font "sans,8", \\
     $d using 1:(($3 < 1) ? $3 : NaN):(sprintf("%%.2f", $3)) with labels offset 0,-0.7 font "sans,8"
""" % (path, stamp, min(lo, 1) / 1.5, max(hi, 1) * 1.5, len(rows), len(rows), "\n".join(data))
    p = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    if p.returncode or not os.path.exists(path):
        raise BenchError("gnuplot failed: %s" % p.stderr)
    return path


def update_doc(res, info, cfg, stamp, md_name):
    block = [DOC_BEGIN, "", "Measured %s (`bench/results/%s`):" % (stamp, md_name), ""]
    block += machine_lines(info, cfg, res.loads, res.busy)
    block += ["", table(res), "", "![ratios](../bench/results/%s)" % md_name.replace(".md", ".png"),
              "", DOC_END]
    text = open(DOC).read() if os.path.exists(DOC) else ""
    if DOC_BEGIN in text and DOC_END in text:
        a = text.index(DOC_BEGIN)
        b = text.index(DOC_END) + len(DOC_END)
        text = text[:a] + "\n".join(block) + text[b:]
    else:
        text += "\n## Latest results\n\n" + "\n".join(block) + "\n"
    with open(DOC, "w") as f:
        f.write(text)


# ---- main ------------------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description="bulkhead against QEMU microvm")
    ap.add_argument("--smoke", action="store_true", help="one run of each figure, tiny sizes")
    ap.add_argument("--runs", type=int, help="runs of each VMM per figure (BENCH_RUNS, 5)")
    ap.add_argument("--only", help="comma-separated figures: " + ",".join(FIGURES) +
                    " (default: all; with --smoke all but linux)")
    ap.add_argument("--out", default=RESULTS, help="where the results go (bench/results)")
    ap.add_argument("--no-docs", action="store_true", help="leave docs/performance.md alone")
    ap.add_argument("--quiet-wait", type=float, default=float(os.environ.get("BENCH_QUIET_WAIT", 0)),
                    help="wait up to this many seconds for the load average to drop (0)")
    ap.add_argument("--quiet-load", type=float, default=float(os.environ.get("BENCH_QUIET_LOAD", 0.5)),
                    help="the 1-minute load average that counts as quiet (0.5)")
    a = ap.parse_args(argv[1:])
    cfg = dict(SMOKE if a.smoke else FULL)
    runs = a.runs or (None if a.smoke else int(os.environ.get("BENCH_RUNS", 0)) or None)
    if runs:
        cfg["runs"] = runs
    figures = a.only.split(",") if a.only else list(SMOKE_FIGURES if a.smoke else FIGURES)
    for f in figures:
        if f not in FIG_FN:
            ap.error("unknown figure %r (%s)" % (f, ",".join(FIGURES)))
    need = [(os.path.join(os.path.dirname(BULKHEAD), n), "bulkhead (make)")
            for n in ("bulkhead",) + HELPERS] + [(GUEST, "the test guest (make guest)"),
                                                 (FLOOR, "the bare KVM program (make bench)"),
                                                 (WRITE_FLOOR, "the write floor (make bench)")]
    if "linux" in figures:
        need += [(BOOT_CLOCK, "boot-clock (make bench)"), (KIT, "the Linux kit (tests/guest/linux/build-kit.sh)")]
    for path, what in need:
        if not os.path.exists(path):
            sys.exit("bench: %s is missing (%s)" % (path, what))
    if not shutil.which(QEMU):
        sys.exit("bench: no %s" % QEMU)
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespace, TAP, cgroup)")

    # SIGTERM ends the run like Ctrl-C: every VM, cgroup, namespace and file is cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cleanup_stale()
    res = Results()
    if a.quiet_wait:
        wait_quiet(a.quiet_wait, a.quiet_load)
    info = machine()
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    work = tempfile.mkdtemp(prefix="bulkhead-bench-", dir="/var/tmp")
    try:
        freeze_binaries(work, info)
        for f in figures:
            res.loads[f] = loadavg()
            others = busy_others(0.5)
            if others:
                res.busy[f] = ", ".join(others)
            log("%s (load %s%s)" % (f, res.loads[f], "; busy: " + res.busy[f] if others else ""))
            t = time.monotonic()
            try:
                FIG_FN[f](res, cfg, work)
            except BenchError as e:
                log("%s FAILED: %s" % (f, e))
                res.errors.append("%s: %s" % (f, e))
            log("%s: %.1f s" % (f, time.monotonic() - t))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res.loads["end"] = loadavg()
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, stamp)
    png = None
    try:
        png = write_png(base + ".png", res, stamp)
    except BenchError as e:
        res.errors.append(str(e))
    write_markdown(base + ".md", res, info, cfg, stamp, png)
    with open(base + ".json", "w") as f:
        json.dump({"stamp": stamp, "smoke": a.smoke, "config": cfg, "machine": info,
                   "load": res.loads, "busy": res.busy, "figures": figures, "errors": res.errors,
                   "metrics": [m.as_dict() for m in res.metrics.values()]}, f, indent=1)
    if not a.smoke and not a.no_docs:
        update_doc(res, info, cfg, stamp, os.path.basename(base + ".md"))
    print(open(base + ".md").read())
    log("results: %s.md, %s.json%s" % (base, base, ", %s" % png if png else ""))
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
