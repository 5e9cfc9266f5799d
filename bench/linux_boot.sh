#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# linux_boot.sh RUNS [VARIANT...]: Debian's kernel (the L2 kit, bzImage,
# 256 MiB, 2 vCPUs, the poweroff scenario) booted by bulkhead and by QEMU
# microvm (acpi=on, rtc=on: without a CMOS RTC the kernel probes for one for
# seconds), alternating, RUNS times each, for each VARIANT: quiet (the
# kernel command line has `quiet`), verbose (it has not: every boot
# message goes through the UART) and pvh (quiet, the uncompressed vmlinux
# through its PVH entry instead of the bzImage, as Firecracker boots Linux). Runs where the VMM can run Linux: inside
# the nested tier's L1 (bench/run.py's linux figure starts it there), as
# root, with boot-clock (bench/boot_clock.c) beside this script or as $CLOCK.
# One line per boot:
#   LINUXBOOT VMM VARIANT RUN line_ms L exit_ms E status S bytes B first_ms F
# L is launch to the line "bulkhead-linux: init started" on the console pipe
# (the kit's /init prints it first thing), E launch to exit (after the
# guest's poweroff), B bytes of console, F launch to its first byte. With KEEP=DIR, the console of every
# boot is kept there as VMM-VARIANT-RUN.log.
# A boot that fails or never reaches /init is followed by LINUXBOOT-FAILED lines
# and the ends of its console and of the VMM's stderr, and in L1 by an
# "=== L1-FAULT" line where L1's trace shows that L1 broke it.
#
# VMMS (bulkhead qemu) are the VMMs a round boots, each round starting one
# further along the list, so that none is always the first after another
# VM's memory was freed; before each boot L1's memory is compacted (huge
# pages for whoever comes next). Any name N other than bulkhead and qemu is
# one more bulkhead, $B_N (its helpers beside it): a tree before a change,
# for a before/after comparison in the same L1.
#
# Guest RAM: QEMU's is anonymous memory, which gets transparent huge pages
# where transparent_hugepage/enabled is always (as in L1); bulkhead's is a
# memfd, which gets them where shmem_enabled allows: this script sets it to
# SHMEM (advise; "never" measures 4 KiB pages) and puts it back at the end.
RUNS=${1:-3}
shift
VARIANTS=${*:-quiet verbose pvh}
B=${B:-/bulkhead/bulkhead}
QEMU=${QEMU:-qemu-system-x86_64}
KIT=${KIT:-/kit}
CLOCK=${CLOCK:-$(dirname "$0")/boot-clock}
SHMEM_SET=${SHMEM:-advise}
BASE="console=ttyS0 reboot=k panic=-1 bulkhead.linux=poweroff"
TEXT="bulkhead-linux: init started"
SHMEM_FILE=/sys/kernel/mm/transparent_hugepage/shmem_enabled

# In L1, L1's KVM traces each boot, and a failed boot is checked for L1's own
# faults (L1_SIGNATURES, tests/integration/linux/l1_signatures.sh, put beside
# this script by bench/run.py): "=== L1-FAULT VMM-VARIANT-RUN why".
L1_SIGNATURES=${L1_SIGNATURES:-$(dirname "$0")/l1_signatures.sh}
KVM_TRACING=
if [ -f "$L1_SIGNATURES" ]; then
	# shellcheck source=tests/integration/linux/l1_signatures.sh
	. "$L1_SIGNATURES"
	kvm_trace_init
	[ -z "$KVM_TRACING" ] || echo "linux_boot.sh: L1's KVM traces each boot (l1_signatures.sh)"
fi

shmem_was=$(sed 's/.*\[\(.*\)\].*/\1/' "$SHMEM_FILE")
trap 'echo "$shmem_was" > "$SHMEM_FILE"' EXIT
echo "$SHMEM_SET" > "$SHMEM_FILE" || exit 1

cmdline() { # variant
	case $1 in
	quiet | pvh) echo "$BASE quiet" ;;
	verbose) echo "$BASE" ;;
	*) echo "linux_boot.sh: unknown variant $1" >&2; exit 2 ;;
	esac
}

# pvh: the uncompressed ELF vmlinux through its PVH entry, as Firecracker boots
# Linux: neither VMM's guest decompresses itself.
kernel() { # variant
	case $1 in
	pvh) echo "$KIT/vmlinux" ;;
	*) echo "$KIT/bzImage" ;;
	esac
}

boot() { # vmm variant run
	cl=$(cmdline "$2") || exit 2
	k=$(kernel "$2")
	echo 1 > /proc/sys/vm/compact_memory
	# the console is kept (in KEEP, or for this boot only) to show the end of a failed boot
	log=/tmp/linux_boot.console
	[ -n "${KEEP:-}" ] && log=$KEEP/$1-$2-$3.log
	keep="-o $log"
	: > "$log" # a boot-clock that never opened it must not show the boot before
	[ -z "$KVM_TRACING" ] || echo > "$KVM_TRACE/trace"
	case $1 in
	qemu)
		# shellcheck disable=SC2086
		r=$(timeout 300 "$CLOCK" $keep "$TEXT" "$QEMU" -M microvm,acpi=on,rtc=on -enable-kvm \
			-cpu host -m 256 -smp 2 -nodefaults -no-user-config -display none -no-reboot \
			-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=1 \
			-kernel "$k" -initrd "$KIT/initramfs.cpio.gz" -append "$cl" \
			< /dev/null 2> /tmp/linux_boot.err)
		;;
	*)
		exe=$B
		[ "$1" = bulkhead ] || eval "exe=\$B_$1"
		# shellcheck disable=SC2086
		r=$(timeout 300 "$CLOCK" $keep "$TEXT" "$exe" --kernel "path=$k,cmdline=$cl" \
			--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2 \
			--serial stdio < /dev/null 2> /tmp/linux_boot.err)
		;;
	esac
	echo "LINUXBOOT $1 $2 $3 ${r#BOOTCLOCK }"
	case $r in
	*"line_ms -"*) ;;
	*"status 0 "*) return 0 ;;
	esac
	# a boot that failed or never reached /init: how its console and the VMM's stderr ended
	echo "LINUXBOOT-FAILED $1 $2 $3: the console's last lines:"
	tail -n 25 "$log"
	echo "LINUXBOOT-FAILED $1 $2 $3: the VMM's stderr:"
	tail -n 5 /tmp/linux_boot.err
	[ -n "$KVM_TRACING" ] || return 0
	# QEMU says nothing of a triple fault (-no-reboot); the trace's shutdown exit does
	tail -n 300 "$KVM_TRACE/trace" > /tmp/linux_boot.trace
	l1_fault "$1-$2-$3" /tmp/linux_boot.trace
	l1_early_df "$1-$2-$3" "$log"
}

# the list of VMMs rotated left by $1 places
rotated() {
	# shellcheck disable=SC2086 # the list is words
	set -- "$1" ${VMMS:-bulkhead qemu}
	k=$(($1 % ($# - 1)))
	shift
	while [ "$k" -gt 0 ]; do
		first=$1
		shift
		set -- "$@" "$first"
		k=$((k - 1))
	done
	echo "$@"
}

i=1
while [ "$i" -le "$RUNS" ]; do
	for v in $VARIANTS; do
		for vmm in $(rotated $((i - 1))); do
			boot "$vmm" "$v" "$i"
		done
	done
	i=$((i + 1))
done
