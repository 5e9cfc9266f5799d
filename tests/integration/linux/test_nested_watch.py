# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""tests/nested/run.sh's watch on L1's CPU threads (tests/nested/README.md,
"When L1 itself fails"): a thread named as QEMU names a vCPU thread that
neither runs nor wakes for L1_STALL_S seconds ends the run, naming it; threads
that keep waking never do. Played against a stand-in process whose threads
carry QEMU's names, so no L1 is booted."""
import os
import re
import subprocess
import time

RUN_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nested", "run.sh")

# Threads named "CPU N/TCG"; True: it wakes every 10 ms, False: it sleeps for good.
STAND_IN = r"""
import ctypes, sys, threading, time
libc = ctypes.CDLL(None)
def cpu(name, wakes):
    libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
    while True:
        time.sleep(0.01 if wakes else 1000)
for n, w in enumerate(sys.argv[1:]):
    threading.Thread(target=cpu, args=("CPU %d/TCG" % n, w == "1"), daemon=True).start()
time.sleep(1000)
"""


def watch(tmp_path, wakes, seconds):
    """Run watch_cpus against the stand-in (under timeout, as run.sh runs QEMU) for at most
    seconds; (what it wrote to $tmp/stalled, how long it took, the stand-in's CPU threads)."""
    with open(RUN_SH) as f:
        src = f.read()
    funcs = "".join(re.findall(r"^(?:cpu_figures|watch_cpus)\(\) \{.*?^\}\n", src, re.M | re.S))
    assert "cpu_figures()" in funcs and "watch_cpus()" in funcs
    script = funcs + """
tmp=$1
timeout %d python3 -c "$2" %s &
t=$!
sleep 1
for c in $(pgrep -P $t); do for th in /proc/$c/task/*; do cat $th/comm; done; done > "$tmp/threads"
L1_STALL_S=3 watch_cpus $t
wait $t
""" % (seconds, " ".join("1" if w else "0" for w in wakes))
    t0 = time.monotonic()
    p = subprocess.run(["bash", "-c", script, "bash", str(tmp_path), STAND_IN],
                       capture_output=True, text=True, timeout=seconds + 30)
    took = time.monotonic() - t0
    assert not p.stderr.strip() or "Killed" in p.stderr, p.stderr
    stalled = tmp_path / "stalled"
    threads = (tmp_path / "threads").read_text().split("\n")
    return (stalled.read_text() if stalled.exists() else ""), took, threads


def test_a_cpu_thread_that_never_wakes_ends_the_run(tmp_path):
    said, took, threads = watch(tmp_path, (True, False), 60)
    assert "CPU 0/TCG" in threads and "CPU 1/TCG" in threads, threads
    assert re.match(r"L1's CPU thread \d+ \(QEMU pid \d+\) neither ran nor woke for 3 s: "
                    r"halted for good", said), said
    assert took < 30, "the watch took %.1f s to see it" % took


def test_cpu_threads_that_keep_waking_are_left_alone(tmp_path):
    said, took, threads = watch(tmp_path, (True, True), 15)
    assert "CPU 0/TCG" in threads and "CPU 1/TCG" in threads, threads
    assert said == "", said
    assert took >= 14, "the stand-in ended early (%.1f s)" % took
