#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# p9_share.sh DIR MIB FILES: the shared directory figure 8 reads, made anew:
# DIR/read.bin (MIB MiB of random bytes) and DIR/files/f0 .. f(FILES - 1),
# empty; both directories open to the 9p server's jail id, which writes
# write.bin. Used by bench/run.py (9p-guest), bench/linux_9p.sh and
# tests/nested/l1-fault-loop.sh (SCENARIO=9p).
set -e
[ $# = 3 ] || { echo "usage: $0 DIR MIB FILES" >&2; exit 2; }
rm -rf "$1"
mkdir -p "$1/files"
chmod 777 "$1" "$1/files"
dd if=/dev/urandom of="$1/read.bin" bs=1048576 count="$2" 2>/dev/null
i=0
while [ $i -lt "$3" ]; do
	: >"$1/files/f$i"
	i=$((i + 1))
done
