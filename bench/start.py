#!/usr/bin/python3
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""Start-up time, bulkhead against QEMU microvm on the same test guest.

Runs alternate (bulkhead, QEMU, bulkhead, ...). Each run boots the test
guest's `marker-exit` scenario, which writes the boot marker and exits at
once; the time to the marker is when the line `bulkhead-test-guest: boot
marker` reaches our end of the console pipe (the same clock for both VMMs),
and the time to exit is when the process has ended.

usage: bench/start.py [RUNS] [VCPUS]
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
GUEST = os.path.join(ROOT, "build", "guest", "bulkhead-test-guest")
MARKER = b"bulkhead-test-guest: boot marker"


def bulkhead_argv(vcpus):
    return [os.path.join(ROOT, "build", "bulkhead"), "--kernel",
            "path=%s,cmdline=bulkhead.test=marker-exit" % GUEST,
            "--memory", "size_mib=64", "--vcpus", "num=%d" % vcpus, "--pit", "off"]


def qemu_argv(vcpus):
    return ["qemu-system-x86_64", "-M", "microvm,acpi=off,pit=off,pic=off,rtc=off",
            "-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", "64", "-smp", str(vcpus),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=1",
            "-device", "i8042", "-kernel", GUEST, "-append", "bulkhead.test=marker-exit"]


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
    if t_marker is None or status != 1:
        raise SystemExit("run failed (status %d): %s\n%r" % (status, argv[0], buf))
    return (t_marker - t0) * 1000, (t_exit - t0) * 1000


def alternate(runs, argv_a, argv_b):
    """runs of each argv, alternating; two lists of (marker ms, exit ms)."""
    a, b = [], []
    for _ in range(runs):
        a.append(one_run(argv_a))
        b.append(one_run(argv_b))
    return a, b


def print_table(title, name_a, name_b, a, b):
    print("| %s | %s median (min-max) | %s median (min-max) | ratio |" % (title, name_a, name_b))
    print("|---|---|---|---|")
    for i, what in enumerate(["launch to boot marker, ms", "launch to exit, ms"]):
        x = [r[i] for r in a]
        y = [r[i] for r in b]
        print("| %s | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2f |" % (
            what, statistics.median(x), min(x), max(x), statistics.median(y), min(y), max(y),
            statistics.median(x) / statistics.median(y)))


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    vcpus = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    b, q = alternate(runs, bulkhead_argv(vcpus), qemu_argv(vcpus))
    print_table("%d vCPU, %d runs each" % (vcpus, runs), "bulkhead", "QEMU microvm", b, q)


if __name__ == "__main__":
    main()
