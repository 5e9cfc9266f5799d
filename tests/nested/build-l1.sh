#!/bin/bash
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# build-l1.sh [OUTDIR]: build the initramfs of the nested harness's L1 machine
# (README.md beside this file), OUTDIR/l1.cpio.gz (OUTDIR defaults to
# $O/nested, O to build/ in this tree), OUTDIR/l1.kver, the version of the
# Debian kernel whose modules it holds and which run.sh boots as L1, and
# OUTDIR/l1-vmlinux, that kernel as an ELF that QEMU boots through PVH.
#
# l1.cpio.gz is a concatenation of gzip'ed cpio archives ("parts"), each built
# in OUTDIR/parts/ and rebuilt only when one of its inputs changed (path,
# size or mtime), so calling this again is cheap and gives the same result:
#   base      busybox and its applet links, /init (l1-init), the kvm-amd
#             modules and their dependencies
#   bulkhead  every $O/bulkhead* executable in /bulkhead/, with its libraries
#   qemu      qemu-system-x86_64 in /usr/bin/, its libraries and the firmware
#             microvm needs in /usr/share/qemu/ (only with WITH_QEMU=1)
#   kit       the L2 kit, every regular file of $KIT in /kit/ (when present),
#             except files over 16 MiB (vmlinux), which get a part of their
#             own, kit-NAME, that run.sh boots only when the command names it
#
# Environment: O (build directory), KVER (kernel version; default the newest
# /lib/modules/<ver> that has kvm-amd and a /boot/vmlinuz-<ver>), WITH_QEMU=1,
# KIT (default $O/linux-kit), KIT_FILES (names in $KIT to take; default all),
# BUSYBOX (a static busybox; default busybox on PATH), QEMU (default
# qemu-system-x86_64 on PATH), GZIP_LEVEL (1-9, default 6).
set -euo pipefail
export LC_ALL=C

me=$(readlink -f "$0")
here=$(dirname "$me")
top=$(cd "$here/../.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
out=${1:-$O/nested}
mkdir -p "$out/parts"
out=$(cd "$out" && pwd)
KIT=${KIT:-$O/linux-kit}
# One build at a time per OUTDIR (run.sh calls this on every run).
if command -v flock >/dev/null; then
	exec 9>"$out/.lock"
	flock 9
fi
WITH_QEMU=${WITH_QEMU:-0}
GZIP_LEVEL=${GZIP_LEVEL:-6}

die() {
	echo "build-l1.sh: $*" >&2
	exit 1
}
log() {
	echo "build-l1.sh: $*" >&2
}

for t in cpio gzip ldd modinfo; do
	command -v "$t" >/dev/null || die "$t is missing (apt-get install cpio gzip libc-bin kmod)"
done

# The kernel: its modules go into L1, run.sh boots its /boot/vmlinuz-<ver>.
if [ -z "${KVER:-}" ]; then
	for d in /lib/modules/*; do
		v=${d##*/}
		if ls "$d"/kernel/arch/x86/kvm/kvm-amd.ko* >/dev/null 2>&1 && [ -r "/boot/vmlinuz-$v" ]; then
			echo "$v"
		fi
	done | sort -V | tail -n 1 >"$out/kver.tmp"
	KVER=$(cat "$out/kver.tmp")
	rm -f "$out/kver.tmp"
	[ -n "$KVER" ] || die "no installed kernel with kvm-amd.ko and a readable /boot/vmlinuz-<ver> (apt-get install linux-image-amd64)"
fi
[ -d "/lib/modules/$KVER" ] || die "no /lib/modules/$KVER"
[ -r "/boot/vmlinuz-$KVER" ] || die "/boot/vmlinuz-$KVER is not readable"

# Modules: kvm-amd and, depth first, what it depends on (modinfo -F depends).
declare -a mod_files=()
declare -A mod_seen=()
add_module() {
	local name=$1 dep file
	[ -n "${mod_seen[$name]:-}" ] && return 0
	mod_seen[$name]=1
	file=$(modinfo -k "$KVER" -n "$name" 2>/dev/null) || die "module $name not found for kernel $KVER"
	case $file in
	/*) ;;
	*) return 0 ;; # "(builtin)"
	esac
	for dep in $(modinfo -k "$KVER" -F depends "$name" | tr ',' ' '); do
		add_module "$dep"
	done
	mod_files+=("$file")
}
# irqbypass and ccp are dependencies of kvm and kvm-amd; they are named too so
# that a kernel whose kvm-amd does not depend on them still gets them. tun
# gives L1 /dev/net/tun, for bulkhead's TAPs in the Linux network tests.
for m in irqbypass kvm ccp kvm-amd tun; do
	add_module "$m"
done

# Shared libraries (and the dynamic loader) of the executables given.
libs_of() {
	local f
	for f in "$@"; do
		ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
	done | sort -u
}

# manifest FILE...: one line per input file, what decides whether to rebuild.
manifest() {
	local f
	for f in "$@"; do
		stat -L -c '%n %s %Y' "$f"
	done
}

# put SRC DEST_IN_STAGE: copy a file (dereferenced), creating its directory.
put() {
	mkdir -p "$(dirname "$2")"
	cp -L --preserve=mode "$1" "$2"
}

# put_lib STAGE FILE: a library at the path ldd named it by (e.g.
# /lib/x86_64-linux-gnu/libc.so.6); L1 has no ld.so.cache, and the loader's
# default search path covers /lib/x86_64-linux-gnu and /usr/lib/x86_64-linux-gnu.
put_lib() {
	put "$2" "$1$2"
}

stage_base() {
	local s=$1 a ko
	put "$busybox" "$s/bin/busybox"
	for a in $("$busybox" --list-full); do
		[ -e "$s/$a" ] && continue
		mkdir -p "$s/$(dirname "$a")"
		ln -s /bin/busybox "$s/$a"
	done
	put "$here/l1-init" "$s/init"
	chmod 0755 "$s/init"
	mkdir -p "$s/lib/modules/$KVER" "$s/proc" "$s/sys" "$s/dev" "$s/tmp" "$s/root" "$s/etc" "$s/nested"
	: >"$s/lib/modules/nested.order"
	for ko in "${mod_files[@]}"; do
		case $ko in
		*.ko) put "$ko" "$s/lib/modules/$KVER/${ko##*/}" ;;
		*.ko.xz) xz -dc "$ko" >"$s/lib/modules/$KVER/$(basename "$ko" .xz)" ;;
		*.ko.zst) zstd -qdc "$ko" >"$s/lib/modules/$KVER/$(basename "$ko" .zst)" ;;
		*.ko.gz) gzip -dc "$ko" >"$s/lib/modules/$KVER/$(basename "$ko" .gz)" ;;
		*) die "unexpected module file $ko" ;;
		esac
		ko=${ko##*/}
		echo "/lib/modules/$KVER/${ko%.ko*}.ko" >>"$s/lib/modules/nested.order"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$s/etc/passwd"
	echo "root:x:0:" >"$s/etc/group"
	echo "$KVER" >"$s/etc/nested-kver"
}

stage_bulkhead() {
	local s=$1 f
	mkdir -p "$s/bulkhead"
	for f in "${bulkhead_bins[@]}"; do
		put "$f" "$s/bulkhead/${f##*/}"
	done
	for f in "${bulkhead_libs[@]}"; do
		put_lib "$s" "$f"
	done
}

stage_qemu() {
	local s=$1 f
	put "$qemu" "$s/usr/bin/qemu-system-x86_64"
	for f in "${qemu_libs[@]}"; do
		put_lib "$s" "$f"
	done
	for f in "${qemu_fw[@]}"; do
		put "$f" "$s/usr/share/qemu/${f##*/}"
	done
}

stage_kit() {
	local s=$1 f
	mkdir -p "$s/kit"
	for f in "${stage_files[@]}"; do
		put "$f" "$s/kit/${f##*/}"
	done
}

# build_part NAME INPUT...: (re)build parts/NAME.cpio.gz with stage_NAME when
# the inputs' manifest differs from the one recorded at its last build.
changed=0
build_part() {
	local name=$1 want have stage
	shift
	want=$( (echo "kver $KVER gzip $GZIP_LEVEL"; manifest "$me" "$@") )
	have=$(cat "$out/parts/$name.manifest" 2>/dev/null || true)
	if [ -f "$out/parts/$name.cpio.gz" ] && [ "$want" = "$have" ]; then
		return 0
	fi
	log "building part $name"
	stage=$out/stage/$name
	rm -rf "$stage"
	mkdir -p "$stage"
	case $name in
	kit-*) stage_kit "$stage" ;;
	*) "stage_$name" "$stage" ;;
	esac
	(cd "$stage" && find . -mindepth 1 | sort |
		cpio -o -H newc --reproducible -R 0:0 --quiet) |
		gzip -n "-$GZIP_LEVEL" >"$out/parts/$name.cpio.gz.tmp"
	mv "$out/parts/$name.cpio.gz.tmp" "$out/parts/$name.cpio.gz"
	printf '%s\n' "$want" >"$out/parts/$name.manifest"
	rm -rf "$stage"
	rmdir "$out/stage" 2>/dev/null || true
	changed=1
}

parts=()

busybox=$(command -v "${BUSYBOX:-busybox}") || die "no busybox (apt-get install busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked; L1 needs a static one (apt-get install busybox-static)"
fi
build_part base "$busybox" "$here/l1-init" "${mod_files[@]}"
parts+=(base)

mapfile -t bulkhead_bins < <(find "$O" -maxdepth 1 -type f -name 'bulkhead*' -perm -u+x | sort)
if [ ${#bulkhead_bins[@]} -eq 0 ]; then
	log "warning: no $O/bulkhead* executables (run make); L1 will have no /bulkhead"
else
	mapfile -t bulkhead_libs < <(libs_of "${bulkhead_bins[@]}")
	build_part bulkhead "${bulkhead_bins[@]}" "${bulkhead_libs[@]}"
	parts+=(bulkhead)
fi

if [ "$WITH_QEMU" = 1 ]; then
	qemu=$(command -v "${QEMU:-qemu-system-x86_64}") || die "WITH_QEMU=1 but no qemu-system-x86_64 (apt-get install qemu-system-x86)"
	mapfile -t qemu_libs < <(libs_of "$qemu")
	# microvm's firmware (qboot), the option ROMs that load -kernel (fw_cfg
	# DMA), PVH and multiboot loaders, and SeaBIOS for -M pc/q35.
	qemu_fw=()
	for f in qboot.rom bios-microvm.bin linuxboot_dma.bin linuxboot.bin pvh.bin \
	    multiboot_dma.bin multiboot.bin kvmvapic.bin bios-256k.bin bios.bin; do
		for d in /usr/share/qemu /usr/share/seabios; do
			if [ -r "$d/$f" ]; then
				qemu_fw+=("$d/$f")
				break
			fi
		done
	done
	build_part qemu "$qemu" "${qemu_libs[@]}" "${qemu_fw[@]}"
	parts+=(qemu)
fi

kit_files=()
if [ -d "$KIT" ]; then
	if [ -n "${KIT_FILES:-}" ]; then
		for f in $KIT_FILES; do
			[ -f "$KIT/$f" ] || die "KIT_FILES names $f, which is not in $KIT"
			kit_files+=("$KIT/$f")
		done
	else
		mapfile -t kit_files < <(find "$KIT" -maxdepth 1 -type f | sort)
	fi
fi
# Kit files over 16 MiB (the ELF vmlinux) get a part of their own, kit-NAME,
# which run.sh adds only to runs that name /kit/NAME: unpacking and copying
# 66 MB under TCG costs L1 more than a second.
small=()
for f in ${kit_files[@]+"${kit_files[@]}"}; do
	if [ "$(stat -L -c %s "$f")" -gt $((16 << 20)) ]; then
		stage_files=("$f")
		build_part "kit-${f##*/}" "$f"
		parts+=("kit-${f##*/}")
	else
		small+=("$f")
	fi
done
if [ ${#small[@]} -gt 0 ]; then
	stage_files=("${small[@]}")
	build_part kit "${small[@]}"
	parts+=(kit)
fi

# l1-vmlinux: the ELF kernel inside /boot/vmlinuz-<ver>, which QEMU boots
# through PVH (XEN_ELFNOTE_PHYS32_ENTRY): that skips SeaBIOS's real-mode
# loader and the bzImage's own decompression, ~5 s of TCG time. run.sh boots
# the bzImage when this file is missing.
extract_vmlinux() ( # BZIMAGE OUT
	# head ends tail with SIGPIPE: the ELF check below is what counts.
	set +o pipefail
	setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$1" | tr -d ' ')
	off=$(od -An -tu4 -j $((0x248)) -N4 "$1" | tr -d ' ')
	len=$(od -An -tu4 -j $((0x24c)) -N4 "$1" | tr -d ' ')
	[ -n "$setup" ] && [ -n "$off" ] && [ -n "$len" ] && [ "$len" -gt 0 ] || return 1
	[ "$setup" -eq 0 ] && setup=4
	start=$(((setup + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$start" -N4 "$1" | tr -d ' ')
	case $magic in
	1f8b*) tail -c +$((start + 1)) "$1" | head -c "$len" | { gzip -dc 2>/dev/null || [ $? = 2 ]; } ;;
	fd377a58) tail -c +$((start + 1)) "$1" | head -c "$len" | xz -dc --single-stream ;;
	28b52ffd) tail -c +$((start + 1)) "$1" | head -c "$len" | zstd -qdc ;;
	02214c18) tail -c +$((start + 1)) "$1" | head -c "$len" | lz4 -dc ;;
	*) return 1 ;;
	esac >"$2.tmp" || return 1
	[ "$(head -c 4 "$2.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || return 1
	if command -v readelf >/dev/null; then
		# XEN_ELFNOTE_PHYS32_ENTRY is note type 18 (0x12).
		case $(readelf -n "$2.tmp" 2>/dev/null) in
		*'type: (0x00000012)'* | *PHYS32_ENTRY*) ;;
		*) return 1 ;;
		esac
	fi
	mv "$2.tmp" "$2"
)
want=$(manifest "$me" "/boot/vmlinuz-$KVER")
if [ ! -f "$out/l1-vmlinux" ] || [ "$want" != "$(cat "$out/l1-vmlinux.manifest" 2>/dev/null || true)" ]; then
	rm -f "$out/l1-vmlinux" "$out/l1-vmlinux.manifest"
	if extract_vmlinux "/boot/vmlinuz-$KVER" "$out/l1-vmlinux"; then
		printf '%s\n' "$want" >"$out/l1-vmlinux.manifest"
		log "$out/l1-vmlinux: the PVH ELF kernel of /boot/vmlinuz-$KVER"
	else
		rm -f "$out/l1-vmlinux.tmp"
		log "warning: no PVH ELF kernel could be taken out of /boot/vmlinuz-$KVER; run.sh boots the bzImage (slower)"
	fi
fi

# l1.cpio.gz: the parts in order (the kernel unpacks concatenated archives).
want="${parts[*]}"
have=$(cat "$out/l1.parts" 2>/dev/null || true)
if [ "$changed" = 1 ] || [ "$want" != "$have" ] || [ ! -f "$out/l1.cpio.gz" ] ||
    [ "$(cat "$out/l1.kver" 2>/dev/null || true)" != "$KVER" ]; then
	for p in "${parts[@]}"; do
		cat "$out/parts/$p.cpio.gz"
	done >"$out/l1.cpio.gz.tmp"
	mv "$out/l1.cpio.gz.tmp" "$out/l1.cpio.gz"
	echo "$want" >"$out/l1.parts"
	echo "$KVER" >"$out/l1.kver"
	log "$out/l1.cpio.gz: parts ${want}, $(du -h "$out/l1.cpio.gz" | cut -f1), kernel $KVER"
fi
