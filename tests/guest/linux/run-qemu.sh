#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# run-qemu.sh SCENARIO [ARG...]: boot the Linux guest kit (build-kit.sh)
# under QEMU microvm with ACPI, bulkhead.linux=SCENARIO, bulkhead.cpus=$SMP
# and ARGs appended to the kernel command line, the console on stdio, and
# exit with QEMU's status: 1 for PASS, 3 for FAIL, 0 for a poweroff or a
# reset (-no-reboot), 124 on timeout.
#
# Environment: KIT (default $O/linux-kit, O defaults to build/ in this tree),
# KERNEL (bzImage or vmlinux, the file in KIT to boot; default bzImage),
# ACCEL (tcg or kvm; default tcg: the project's KVM cannot run Linux, see
# shared/KVM-HERE.md), SMP (2), MEM (512, MiB), TIMEOUT (300, seconds),
# QEMU (qemu-system-x86_64), QEMU_EXTRA (more QEMU options, e.g.
# "-device virtio-blk-device,drive=d0 -drive id=d0,file=x.img,format=raw,if=none"),
# QEMU_CMD=1 (print the command line first).
#
# Under TCG the kernel's TSC calibration against the PIT fails when the host
# is busy, and the kernel then hangs in its delay-loop calibration; so under
# TCG the command line gets tsc_early_khz= set to the host's TSC frequency
# (TCG's guest TSC is the host's), which skips both calibrations.
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 SCENARIO [ARG...]" >&2
	exit 2
fi
scenario=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
O=${O:-$here/../../../build}
kit=${KIT:-$O/linux-kit}
kernel=$kit/${KERNEL:-bzImage}
for f in "$kernel" "$kit/initramfs.cpio.gz"; do
	if [ ! -r "$f" ]; then
		echo "$0: no $f (run tests/guest/linux/build-kit.sh)" >&2
		exit 2
	fi
done
smp=${SMP:-2}
append="console=ttyS0 reboot=k panic=-1 bulkhead.linux=$scenario bulkhead.cpus=$smp"
case ${ACCEL:-tcg} in
tcg)
	accel="-accel tcg -cpu max"
	khz=$(cat /sys/devices/system/cpu/cpu0/tsc_freq_khz 2>/dev/null ||
		awk '/^cpu MHz/ { printf "%d\n", $4 * 1000; exit }' /proc/cpuinfo)
	[ -n "$khz" ] && append="$append tsc_early_khz=$khz"
	;;
kvm)
	accel="-enable-kvm -cpu host"
	;;
*)
	echo "$0: ACCEL must be tcg or kvm" >&2
	exit 2
	;;
esac
append="$append${*:+ $*}"
# shellcheck disable=SC2086
set -- "${QEMU:-qemu-system-x86_64}" $accel -M microvm,acpi=on \
	-m "${MEM:-512}" -smp "$smp" -nodefaults -no-user-config -display none \
	-no-reboot -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=1 \
	-kernel "$kernel" -initrd "$kit/initramfs.cpio.gz" -append "$append" \
	${QEMU_EXTRA:-}
if [ "${QEMU_CMD:-0}" = 1 ]; then
	echo "$*" >&2
fi
status=0
if [ -t 0 ]; then
	timeout --foreground -k 5 "${TIMEOUT:-300}" "$@" || status=$?
else
	timeout -k 5 "${TIMEOUT:-300}" "$@" || status=$?
fi
exit $status
