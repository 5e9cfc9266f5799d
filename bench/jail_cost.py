#!/usr/bin/python3
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""What the jail and seccomp cost at start: bulkhead with the full jail
against --jail off --seccomp off, alternating runs, on the test guest's
marker-exit scenario (bench/start.py measures the same two times).

usage: bench/jail_cost.py [RUNS] [VCPUS]
"""
import sys

from start import alternate, bulkhead_argv, print_table

UNJAILED = ["--jail", "off", "--seccomp", "off"]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    vcpus = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    jail, none = alternate(runs, bulkhead_argv(vcpus), bulkhead_argv(vcpus) + UNJAILED)
    print_table("%d vCPU, %d runs each" % (vcpus, runs), "full jail", "--jail off --seccomp off",
                jail, none)


if __name__ == "__main__":
    main()
