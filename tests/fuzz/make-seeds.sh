#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# make-seeds.sh MAKE_SEEDS OUTDIR BUILDDIR: (re)generate the seed corpus of
# every fuzz target in OUTDIR/<target>/:
#   - MAKE_SEEDS (tests/fuzz/make_seeds.c) writes the synthetic seeds;
#   - the test guest (BUILDDIR/guest/bulkhead-test-guest, a real PVH ELF,
#     stripped here if strip(1) exists) and the first 256 KiB of the Linux
#     kit's bzImage (BUILDDIR/linux-kit/bzImage) become fuzz_loader seeds
#     when they have been built;
#   - the checked-in inputs in tests/fuzz/corpus/<target>/ (regressions:
#     every crash the fuzzers found, once fixed) are copied in.
set -eu

gen=$1
out=$2
build=$3
here=$(dirname "$0")

rm -rf "$out"
mkdir -p "$out"
kernels=
tmp=
guest=$build/guest/bulkhead-test-guest
if [ -f "$guest" ]; then
	tmp=$(mktemp)
	if command -v strip >/dev/null 2>&1 && strip -o "$tmp" "$guest" 2>/dev/null; then
		kernels=$tmp
	else
		kernels=$guest
	fi
fi
if [ -f "$build/linux-kit/bzImage" ]; then
	kernels="$kernels $build/linux-kit/bzImage"
fi
# shellcheck disable=SC2086 # word splitting is the point
"$gen" "$out" $kernels
[ -n "$tmp" ] && rm -f "$tmp"
for d in "$here"/corpus/*/; do
	[ -d "$d" ] || continue
	t=$(basename "$d")
	mkdir -p "$out/$t"
	cp "$d"* "$out/$t/" 2>/dev/null || true
done
n=$(find "$out" -type f | wc -l)
size=$(du -sk "$out" | cut -f1)
echo "  SEEDS   $out: $n inputs, ${size} KiB"
