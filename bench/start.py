#!/usr/bin/python3
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""Start-up time, bulkhead against QEMU microvm on the same test guest, and
the floor: a bare KVM program (bench/kvm_floor.c, `make bench` builds it).

Runs alternate (bulkhead, QEMU, floor, bulkhead, ...). Each run boots the test
guest's `marker-exit` scenario, which writes the boot marker and exits at
once; the time to the marker is when the line `bulkhead-test-guest: boot
marker` reaches our end of the console pipe (the same clock for both VMMs),
and the time to exit is when the process has ended. The floor has no console:
only its time to exit counts.

usage: bench/start.py [--shuffle] [RUNS] [VCPUS] [VMM...]
  VMMs: bulkhead bulkhead-api (with an idle --api-socket) qemu floor
  floor-irqchip (the floor after KVM_CREATE_IRQCHIP) floor-split (after
  KVM_CAP_SPLIT_IRQCHIP, bulkhead's default); default bulkhead qemu floor
  --shuffle: each round runs the VMMs in a new random order (a fixed order can
  favour a place in it: see docs/performance.md, "What an idle API socket
  costs at start")
"""
import os
import random
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
GUEST = os.path.join(ROOT, "build", "guest", "bulkhead-test-guest")
FLOOR = os.path.join(ROOT, "build", "bench", "kvm-floor")
MARKER = b"bulkhead-test-guest: boot marker"


def bulkhead_argv(vcpus):
    return [os.path.join(ROOT, "build", "bulkhead"), "--kernel",
            "path=%s,cmdline=bulkhead.test=marker-exit" % GUEST,
            "--memory", "size_mib=64", "--vcpus", "num=%d" % vcpus, "--pit", "off"]


def bulkhead_api_argv(vcpus):
    # a run leaves its socket behind, stale for the next, which replaces it
    return bulkhead_argv(vcpus) + ["--api-socket", "/tmp/bench-start-api.%d.sock" % os.getpid()]


def qemu_argv(vcpus):
    return ["qemu-system-x86_64", "-M", "microvm,acpi=off,pit=off,pic=off,rtc=off",
            "-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", "64", "-smp", str(vcpus),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=1",
            "-device", "i8042", "-kernel", GUEST, "-append", "bulkhead.test=marker-exit"]


def floor_argv(vcpus):
    return [FLOOR]


def floor_irqchip_argv(vcpus):
    return [FLOOR, "--irqchip"]


def floor_split_argv(vcpus):
    return [FLOOR, "--split-irqchip"]


def one_run(argv):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    buf = b""
    t_marker = None
    while True:
        chunk = p.stdout.read1(4096)
        if not chunk:
            break
        buf += chunk
        if t_marker is None and MARKER in buf:
            t_marker = time.monotonic()
    status = p.wait()
    t_exit = time.monotonic()
    if argv[0] == FLOOR:  # no console: only the exit counts
        if status != 0:
            raise SystemExit("run failed (status %d): %s" % (status, argv[0]))
        return None, (t_exit - t0) * 1000
    if t_marker is None or status != 1:
        raise SystemExit("run failed (status %d): %s\n%r" % (status, argv[0], buf))
    return (t_marker - t0) * 1000, (t_exit - t0) * 1000


def alternate(runs, *argvs, shuffle=False):
    """runs of each argv, alternating (in a random order each round with shuffle); one list of
    (marker ms, exit ms) per argv."""
    out = [[] for _ in argvs]
    for _ in range(runs):
        order = list(range(len(argvs)))
        if shuffle:
            random.shuffle(order)
        for i in order:
            out[i].append(one_run(argvs[i]))
    return out


def print_table(title, name_a, name_b, a, b):
    print("| %s | %s median (min-max) | %s median (min-max) | ratio |" % (title, name_a, name_b))
    print("|---|---|---|---|")
    for i, what in enumerate(["launch to boot marker, ms", "launch to exit, ms"]):
        x = [r[i] for r in a]
        y = [r[i] for r in b]
        print("| %s | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2f |" % (
            what, statistics.median(x), min(x), max(x), statistics.median(y), min(y), max(y),
            statistics.median(x) / statistics.median(y)))


def print_rows(title, names, results):
    print("| %s | median (min-max), ms |" % title)
    print("|---|---|")
    for name, rs in zip(names, results):
        for i, what in enumerate(["launch to boot marker", "launch to exit"]):
            x = [r[i] for r in rs if r[i] is not None]
            if x:
                print("| %s, %s | %.1f (%.1f-%.1f) |" % (name, what, statistics.median(x), min(x),
                                                        max(x)))


def main():
    args = sys.argv[1:]
    shuffle = "--shuffle" in args
    args = [a for a in args if a != "--shuffle"]
    runs = int(args[0]) if len(args) > 0 else 5
    vcpus = int(args[1]) if len(args) > 1 else 1
    vmms = args[2:] or ["bulkhead", "qemu", "floor"]
    argv_of = {"bulkhead": bulkhead_argv, "bulkhead-api": bulkhead_api_argv, "qemu": qemu_argv,
               "floor": floor_argv, "floor-irqchip": floor_irqchip_argv,
               "floor-split": floor_split_argv}
    names = {"bulkhead": "bulkhead", "bulkhead-api": "bulkhead, idle API socket",
             "qemu": "QEMU microvm", "floor": "bare KVM (floor)",
             "floor-irqchip": "bare KVM + in-kernel irqchip",
             "floor-split": "bare KVM + split irqchip"}
    results = alternate(runs, *[argv_of[v](vcpus) for v in vmms], shuffle=shuffle)
    print_rows("%d vCPU, %d runs each" % (vcpus, runs), [names[v] for v in vmms], results)


if __name__ == "__main__":
    main()
