#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# build-kit.sh [OUTDIR] -- build the Linux guest kit from installed Debian
# packages only (linux-image-amd64, busybox-static); never downloads anything.
#
#   OUTDIR/bzImage            copy of /boot/vmlinuz-<ver>
#   OUTDIR/vmlinux            the ELF vmlinux inside it (boots through PVH)
#   OUTDIR/initramfs.cpio.gz  busybox, virtio, ext4, 9p, virtio-rng and vsock modules,
#                             /init (init.sh), /bin/bulkhead-pattern (pattern.sh),
#                             /bin/bulkhead-vsock-tool (vsock-tool.c)
#   OUTDIR/vsock-tool         vsock-tool.c built static with the system gcc: the
#                             guest's end of the vsock case, and the VMM side's
#   OUTDIR/kver               the kernel version the kit was built from
#
# OUTDIR defaults to $O/linux-kit, O to build/ in the repository.
# KVER=<ver> picks a kernel; default: the newest /boot/vmlinuz-* that has
# /lib/modules/<ver>. Idempotent: an output is rebuilt only when it is missing
# or older than one of its inputs (or KVER changed).
#
# Word splitting of module lists is deliberate (names have no blanks):
# shellcheck disable=SC2086,SC2116,SC2013
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SELF=$HERE/build-kit.sh
INIT=$HERE/init.sh
PATTERN=$HERE/pattern.sh
VSOCK_TOOL=$HERE/vsock-tool.c
OUT=${1:-${O:-$ROOT/build}/linux-kit}
EXTRACT=$ROOT/scripts/extract-vmlinux.sh
BUSYBOX=${BUSYBOX:-/bin/busybox}

# Modules wanted in the initramfs, in a load order that also honours the
# soft dependencies modinfo does not resolve (ext4 and jbd2 have
# "softdep pre: crypto-crc32c": crc32c_generic comes first). Hard
# dependencies are added and ordered by `modinfo -F depends`.
MODULES="virtio_ring virtio virtio_mmio virtio_blk failover net_failover
virtio_net crc16 crc32c_generic mbcache jbd2 ext4 9pnet_virtio 9p virtio_rng vsock
vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport button evdev"

say() { printf 'build-kit: %s\n' "$*"; }
die() { printf 'build-kit: error: %s\n' "$*" >&2; exit 1; }

need() {
	for t; do
		command -v "$t" >/dev/null 2>&1 || die "missing tool: $t (run scripts/deps.sh)"
	done
}
need od tail head readelf modinfo cpio gzip find sort

# uptodate OUT IN...: OUT exists and no IN is newer than it.
uptodate() {
	_out=$1; shift
	[ -e "$_out" ] || return 1
	for _in; do
		[ -e "$_in" ] || continue
		[ -z "$(find "$_in" -prune -newer "$_out")" ] || return 1
	done
	return 0
}

# ---------------------------------------------------------------- kernel
if [ -z "${KVER:-}" ]; then
	KVER=$(for f in /boot/vmlinuz-*; do
		[ -f "$f" ] || continue
		v=${f#/boot/vmlinuz-}
		[ -d "/lib/modules/$v" ] && echo "$v"
	done | sort -V | tail -n 1)
	[ -n "$KVER" ] || die "no /boot/vmlinuz-<ver> with /lib/modules/<ver> (install linux-image-amd64)"
fi
VMLINUZ=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
[ -f "$VMLINUZ" ] || die "$VMLINUZ not found"
[ -d "$MODDIR" ] || die "$MODDIR not found"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (install busybox-static)"
[ -f "$INIT" ] || die "$INIT not found"
[ -f "$PATTERN" ] || die "$PATTERN not found"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# One build at a time per OUTDIR (test runners may call this concurrently).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$OUT/.lock"
	flock 9
fi
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# A different kernel version makes every output stale.
if [ "$(cat "$OUT/kver" 2>/dev/null || true)" != "$KVER" ]; then
	rm -f "$OUT/bzImage" "$OUT/vmlinux" "$OUT/initramfs.cpio.gz"
	echo "$KVER" >"$OUT/kver.tmp"
	mv "$OUT/kver.tmp" "$OUT/kver"
fi

# ---------------------------------------------------------------- 1. bzImage
if uptodate "$OUT/bzImage" "$VMLINUZ"; then
	say "bzImage up to date"
else
	say "bzImage <- $VMLINUZ"
	cp "$VMLINUZ" "$OUT/bzImage.tmp"
	mv "$OUT/bzImage.tmp" "$OUT/bzImage"
fi

# ---------------------------------------------------------------- 2. vmlinux
is_elf64_x86() {
	[ -s "$1" ] || return 1
	_h=$(readelf -h "$1" 2>/dev/null) || return 1
	printf '%s\n' "$_h" | grep -q 'Class:[[:space:]]*ELF64' || return 1
	printf '%s\n' "$_h" | grep -q 'Machine:[[:space:]]*Advanced Micro Devices X86-64' || return 1
}

# u8/u32 FILE OFFSET: little-endian unsigned integer at OFFSET (x86 host).
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n'; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' \n'; }

# Built-in extractor: the payload named by the setup header, decompressed by
# the tool its magic number names.
extract_builtin() {
	_bz=$1 _dst=$2
	[ "$(od -An -c -j 514 -N4 "$_bz" | tr -d ' \n')" = HdrS ] ||
		die "$_bz: no Linux boot protocol header (HdrS)"
	_ss=$(u8 "$_bz" 497)
	[ "$_ss" -ne 0 ] || _ss=4
	_poff=$(u32 "$_bz" 584)
	_plen=$(u32 "$_bz" 588)
	[ "$_plen" -gt 0 ] || die "$_bz: payload_length is 0 (boot protocol < 2.08?)"
	_start=$(( (_ss + 1) * 512 + _poff ))
	tail -c +"$((_start + 1))" "$_bz" | head -c "$_plen" >"$WORK/payload"
	_magic=$(od -An -tx1 -N6 "$WORK/payload" | tr -d ' \n')
	case $_magic in
	fd377a585a00*) _fmt=xz   _cmd="xz -dc --single-stream" ;;
	1f8b*)         _fmt=gzip _cmd="gzip -dc" ;;
	28b52ffd*)     _fmt=zstd _cmd="zstd -dcq" ;;
	02214c18*)     _fmt=lz4  _cmd="lz4 -dc" ;;
	5d0000*)       _fmt=lzma _cmd="xz --format=lzma -dc" ;;
	425a68*)       _fmt=bzip2 _cmd="bzip2 -dc" ;;
	*) die "$_bz: unknown payload compression (magic $_magic)" ;;
	esac
	need ${_cmd%% *}
	say "vmlinux: payload at $_start, $_plen bytes, $_fmt"
	# The payload may carry trailing bytes (the appended size); the tools
	# complain about them, so judge the result, not the exit status.
	$_cmd <"$WORK/payload" >"$_dst" 2>"$WORK/decomp.err" || true
	rm -f "$WORK/payload"
}

VMLINUX_DEPS="$OUT/bzImage $SELF"
[ -f "$EXTRACT" ] && VMLINUX_DEPS="$VMLINUX_DEPS $EXTRACT"
if uptodate "$OUT/vmlinux" $VMLINUX_DEPS && is_elf64_x86 "$OUT/vmlinux"; then
	say "vmlinux up to date"
else
	rm -f "$OUT/vmlinux.tmp"
	how=builtin
	if [ -f "$EXTRACT" ]; then
		# Accept either convention: `extract-vmlinux.sh IN > OUT` (as
		# Linux's scripts/extract-vmlinux) or `extract-vmlinux.sh IN OUT`.
		sh "$EXTRACT" "$OUT/bzImage" >"$OUT/vmlinux.tmp" 2>"$WORK/extract.err" || true
		if ! is_elf64_x86 "$OUT/vmlinux.tmp"; then
			rm -f "$OUT/vmlinux.tmp"
			sh "$EXTRACT" "$OUT/bzImage" "$OUT/vmlinux.tmp" >/dev/null 2>>"$WORK/extract.err" || true
		fi
		if is_elf64_x86 "$OUT/vmlinux.tmp"; then
			how=scripts/extract-vmlinux.sh
		else
			say "warning: scripts/extract-vmlinux.sh gave no ELF64 x86-64 file; using the built-in extractor"
			sed 's/^/  | /' "$WORK/extract.err" | head -n 5
			rm -f "$OUT/vmlinux.tmp"
		fi
	fi
	if [ "$how" = builtin ]; then
		extract_builtin "$OUT/bzImage" "$OUT/vmlinux.tmp"
	fi
	if ! is_elf64_x86 "$OUT/vmlinux.tmp"; then
		[ -s "$WORK/decomp.err" ] && sed 's/^/  | /' "$WORK/decomp.err" | head -n 5
		rm -f "$OUT/vmlinux.tmp"
		die "vmlinux: the extracted file is not an ELF64 x86-64 image"
	fi
	mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
	say "vmlinux <- bzImage ($how)"
fi

# PVH: an ELF note owned by "Xen" of type 0x12 (XEN_ELFNOTE_PHYS32_ENTRY).
# With -W the descriptor (the 32-bit entry, little-endian) is on the same line.
PVH_ENTRY=$(readelf -W -n "$OUT/vmlinux" 2>/dev/null | awk '
	$1 == "Xen" && ($0 ~ /\(0x0*12\)/ || $0 ~ /PHYS32_ENTRY/) {
		sub(/.*data: */, ""); printf "0x%s%s%s%s\n", $4, $3, $2, $1; exit
	}')
if [ -n "$PVH_ENTRY" ]; then
	PVH="yes (XEN_ELFNOTE_PHYS32_ENTRY $PVH_ENTRY)"
else
	PVH=no
fi

# ---------------------------------------------------------------- 3. modules
# Resolve every module's file and hard dependencies (recursively), then
# order them so each module follows its dependencies, keeping the order of
# MODULES where the dependencies allow.
queue=$(echo $MODULES)
all=""
while [ -n "$queue" ]; do
	set -- $queue
	m=$1; shift
	queue=$*
	case " $all " in *" $m "*) continue ;; esac
	f=$(modinfo -k "$KVER" -F filename "$m" 2>/dev/null | head -n 1) ||
		die "module $m not found for $KVER"
	[ -n "$f" ] || die "module $m not found for $KVER"
	case $f in
	"(builtin)"|*builtin*) say "module $m is built into $KVER"; continue ;;
	esac
	d=$(modinfo -k "$KVER" -F depends "$m" | tr ',' ' ')
	echo "$f" >"$WORK/$m.file"
	echo "$d" >"$WORK/$m.deps"
	all="$all $m"
	queue="$queue $d"
done

order=""
left=$all
while [ -n "$(echo $left)" ]; do
	progress=0 next=""
	for m in $left; do
		ok=1
		for d in $(cat "$WORK/$m.deps"); do
			[ -f "$WORK/$d.file" ] || continue	# built in
			case " $order " in *" $d "*) ;; *) ok=0 ;; esac
		done
		if [ $ok = 1 ] && [ $progress = 0 ]; then
			order="$order $m" progress=1
		else
			next="$next $m"
		fi
	done
	[ $progress = 1 ] || die "module dependency cycle among:$left"
	left=$next
done
order=$(echo $order)

modfiles=""
for m in $order; do
	modfiles="$modfiles $(cat "$WORK/$m.file")"
done

# ---------------------------------------------------------------- 3b. vsock-tool
# busybox has no socat: a small static program for both ends of the vsock case.
if uptodate "$OUT/vsock-tool" "$VSOCK_TOOL" "$SELF"; then
	say "vsock-tool up to date"
else
	need gcc
	gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/vsock-tool.tmp" "$VSOCK_TOOL" ||
		die "vsock-tool: gcc -static failed (libc6-dev has the static libc)"
	mv "$OUT/vsock-tool.tmp" "$OUT/vsock-tool"
	say "vsock-tool <- vsock-tool.c (gcc -static)"
fi

# ---------------------------------------------------------------- 4. initramfs
# One newc cpio entry made by hand, so /dev/console exists without mknod
# (the kernel opens it for /init before /init mounts devtmpfs).
cpio_entry() {	# NAME MODE RDEVMAJOR RDEVMINOR INO NLINK
	_n=$(( ${#1} + 1 ))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		"$5" "$2" 0 0 "$6" 0 0 0 0 "$3" "$4" "$_n" 0 "$1"
	_pad=$(( (4 - (110 + _n) % 4) % 4 ))
	while [ $_pad -gt 0 ]; do printf '\0'; _pad=$((_pad - 1)); done
}

INITRD=$OUT/initramfs.cpio.gz
if uptodate "$INITRD" "$SELF" "$INIT" "$PATTERN" "$OUT/vsock-tool" "$BUSYBOX" $modfiles; then
	say "initramfs.cpio.gz up to date"
else
	R=$WORK/root
	mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/proc" \
		"$R/sys" "$R/tmp" "$R/root" "$R/etc" "$R/lib/modules/$KVER"
	cp "$BUSYBOX" "$R/bin/busybox"
	"$BUSYBOX" --list-full | while read -r p; do
		case $p in
		bin/busybox | linuxrc) continue ;;
		*/*) mkdir -p "$R/${p%/*}" ;;
		esac
		ln -sf /bin/busybox "$R/$p"
	done
	for m in $order; do
		f=$(cat "$WORK/$m.file")
		dst=$R/lib/modules/$KVER/$m.ko
		case $f in
		*.ko.xz)  need xz;    xz -dc "$f" >"$dst" ;;
		*.ko.zst) need zstd;  zstd -dcq "$f" >"$dst" ;;
		*.ko.gz)  gzip -dc "$f" >"$dst" ;;
		*.ko)     cp "$f" "$dst" ;;
		*) die "module $m: unexpected file $f" ;;
		esac
		echo "$m" >>"$R/lib/modules/$KVER/load-order"
	done
	cp "$INIT" "$R/init"
	cp "$PATTERN" "$R/bin/bulkhead-pattern"
	cp "$OUT/vsock-tool" "$R/bin/bulkhead-vsock-tool"
	chmod 0755 "$R/init" "$R/bin/busybox" "$R/bin/bulkhead-pattern" "$R/bin/bulkhead-vsock-tool"
	chmod 1777 "$R/tmp"
	echo "$KVER" >"$R/etc/bulkhead-kver"
	# Same inputs, same archive: fixed times, inode and device numbers.
	find "$R" -exec touch -h -r "$VMLINUZ" {} +
	{
		cpio_entry dev 16877 0 0 1879048193 2		# 040755 dir
		cpio_entry dev/console 8576 5 1 1879048194 1	# 020600 char 5:1
		(cd "$R" && find . -mindepth 1 | sed 's,^\./,,' | LC_ALL=C sort |
			cpio -o -H newc -R 0:0 --reproducible --quiet)
	} | gzip -9 -n >"$INITRD.tmp"
	mv "$INITRD.tmp" "$INITRD"
	say "initramfs.cpio.gz <- busybox, $(echo $order | wc -w) modules, init.sh, pattern.sh, vsock-tool"
fi

# ---------------------------------------------------------------- 5. summary
size() { wc -c <"$1" | tr -d ' '; }
cat <<EOF
build-kit: kernel   $KVER
build-kit: bzImage  $OUT/bzImage ($(size "$OUT/bzImage") bytes)
build-kit: vmlinux  $OUT/vmlinux ($(size "$OUT/vmlinux") bytes, ELF64 x86-64, PVH note: $PVH)
build-kit: initrd   $INITRD ($(size "$INITRD") bytes)
build-kit: modules  $order
EOF
