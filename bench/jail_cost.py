#!/usr/bin/python3
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""What the jail and seccomp cost at start: bulkhead with the full jail
against --jail off --seccomp off, alternating runs, on the test guest's
marker-exit scenario (bench/start.py measures the same two times).

usage: bench/jail_cost.py [RUNS] [VCPUS]
"""
import statistics
import sys

from start import bulkhead_argv, one_run

UNJAILED = ["--jail", "off", "--seccomp", "off"]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    vcpus = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    res = {"jail": [], "none": []}
    for _ in range(runs):
        res["jail"].append(one_run(bulkhead_argv(vcpus)))
        res["none"].append(one_run(bulkhead_argv(vcpus) + UNJAILED))
    print("| %d vCPU, %d runs each | full jail, median (min-max) | --jail off --seccomp off | "
          "ratio |" % (vcpus, runs))
    print("|---|---|---|---|")
    for i, what in enumerate(["launch to boot marker, ms", "launch to exit, ms"]):
        j = [r[i] for r in res["jail"]]
        n = [r[i] for r in res["none"]]
        print("| %s | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2f |" % (
            what, statistics.median(j), min(j), max(j), statistics.median(n), min(n), max(n),
            statistics.median(j) / statistics.median(n)))


if __name__ == "__main__":
    main()
