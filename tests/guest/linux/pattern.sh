#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# pattern.sh SEED BYTES: write the Linux guest kit's data pattern (BYTES
# bytes of it, for SEED) to stdout. build-kit.sh installs this file in the
# initramfs as /bin/bulkhead-pattern, where busybox awk runs it (blk-dd,
# ext2, net-tcp); on the host any POSIX awk gives the same bytes (AWK=...
# picks one), and linux_pattern.py is an independent implementation.
#
# The pattern, exactly (SEED an integer 0..2147483647):
#   base: 4096 printable bytes. x = SEED; for k = 0..4095:
#         x = (69069 * x + 1) mod 2^32; base[k] = 33 + (floor(x / 65536) mod 94)
#   block j (j = 0, 1, 2, ...; 4096 bytes each): the header
#         "bulkhead-pattern SEED j\n" (decimal numbers, one space each), then
#         the 4096 - len(header) bytes of base+base starting at index j mod 4096
#   the stream: block 0, block 1, ... cut after BYTES bytes.
# So every byte is 0x21..0x7e or the header's blank and newline, every 4 KiB
# block differs from the others and names its own position.
#
# Cheap on purpose (4096 LCG steps, then one substr per 4 KiB block): 8 MiB
# takes well under a second natively and a few seconds under QEMU's TCG.
set -eu
if [ $# -ne 2 ]; then
	echo "usage: $0 SEED BYTES" >&2
	exit 2
fi
case $1$2 in
*[!0-9]*)
	echo "$0: SEED and BYTES must be decimal integers" >&2
	exit 2
	;;
esac
# Keep the numbers small enough for every awk's integer formatting.
if [ ${#1} -gt 10 ] || [ "$1" -gt 2147483647 ]; then
	echo "$0: SEED must be 0..2147483647" >&2
	exit 2
fi
exec ${AWK:-awk} -v seed="$1" -v bytes="$2" 'BEGIN {
	seed += 0; bytes += 0
	x = seed; base = ""
	for (k = 0; k < 4096; k++) {
		# 69069 * x + 1 < 2^49: exact in the double every awk computes with.
		x = (69069 * x + 1) % 4294967296
		base = base sprintf("%c", 33 + int(x / 65536) % 94)
	}
	base2 = base base
	left = bytes
	for (j = 0; left > 0; j++) {
		h = "bulkhead-pattern " seed " " j "\n"
		blk = h substr(base2, (j % 4096) + 1, 4096 - length(h))
		if (left < 4096)
			blk = substr(blk, 1, left)
		printf "%s", blk
		left -= 4096
	}
}'
