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
# (TCG's guest TSC is the host's), which skips both calibrations. TSC_KHZ
# overrides the value found; a tsc_early_khz= among the ARGs replaces it.
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

# The host's TSC frequency in kHz: sysfs when the kernel exports it, else
# what the kernel logged at boot (the refined calibration, else the first
# one), else "cpu MHz" of /proc/cpuinfo. That last one is the current clock
# on a host that scales its frequency, not the TSC's, so it comes last.
host_tsc_khz() {
	cat /sys/devices/system/cpu/cpu0/tsc_freq_khz 2>/dev/null && return
	dmesg 2>/dev/null | awk '
		/tsc: Refined TSC clocksource calibration: [0-9.]+ MHz/ {
			sub(/.*calibration: /, ""); r = int($1 * 1000 + 0.5) }
		/tsc: Detected [0-9.]+ MHz processor/ && d == "" {
			sub(/.*Detected /, ""); d = int($1 * 1000 + 0.5) }
		END { if (r != "") print r; else if (d != "") print d; else exit 1 }' && return
	awk '/^cpu MHz/ { printf "%d\n", $4 * 1000 + 0.5; exit }' /proc/cpuinfo
}
append="console=ttyS0 reboot=k panic=-1 bulkhead.linux=$scenario bulkhead.cpus=$smp"
case ${ACCEL:-tcg} in
tcg)
	accel="-accel tcg -cpu max"
	case " $* " in
	*" tsc_early_khz="*) ;;		# the caller's own value
	*)
		khz=${TSC_KHZ:-$(host_tsc_khz)}
		[ -n "$khz" ] && append="$append tsc_early_khz=$khz"
		;;
	esac
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
