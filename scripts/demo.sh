#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# make demo: boot bulkhead's own test guest with two vCPUs and show its
# console. (Booting Debian's Linux comes with the Linux guest kit.)
set -u
cd "$(dirname "$0")/.."
B=build/bulkhead
G=build/guest/bulkhead-test-guest

echo "== bulkhead $($B --version | cut -d' ' -f2): booting the test guest (PVH) with 2 vCPUs"
echo "== $B --kernel path=$G,cmdline=\"bulkhead.test=smp\" --memory size_mib=128 --vcpus num=2 --serial stdio"
$B --kernel "path=$G,cmdline=bulkhead.test=smp" --memory size_mib=128 --vcpus num=2 --serial stdio
status=$?
echo "== bulkhead exited with status $status (1 = the guest reported PASS through port 0xf4)"
[ "$status" -eq 1 ]
