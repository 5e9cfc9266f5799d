#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# run-qemu.sh SCENARIO [ARG...]: boot the test guest under QEMU microvm with
# bulkhead.test=SCENARIO and ARGs appended to its command line, the console on
# stdin/stdout, and exit with QEMU's status: 1 for PASS, 3 for FAIL, 2N+1 for
# bulkhead.exit=N, 0 for a reset or a triple fault, 124 on timeout.
#
# Environment: GUEST (image; default build/guest/bulkhead-test-guest beside
# this tree), QEMU (qemu-system-x86_64), SMP (2), MEM (64, MiB), ACPI (on|off,
# default off: qboot still provides an MP table), I8042 (on|off, default on),
# TIMEOUT (60, seconds),
# QEMU_EXTRA (more QEMU options), QEMU_CMD=1 (print the command line first).
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 SCENARIO [ARG...]" >&2
	exit 2
fi
scenario=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
guest=${GUEST:-$here/../../build/guest/bulkhead-test-guest}
qemu=${QEMU:-qemu-system-x86_64}
if [ ! -r "$guest" ]; then
	echo "$0: no guest image at $guest (make guest)" >&2
	exit 2
fi
append="bulkhead.test=$scenario${*:+ $*}"
i8042=
if [ "${I8042:-on}" = on ]; then
	i8042="-device i8042"
fi
# microvm without the legacy PIT, PIC and RTC (the guest uses the IOAPIC and the
# TSC) but with an i8042 for the reset line (microvm has none by default);
# -no-reboot turns a reset or a triple fault into QEMU exiting with 0;
# KVM here needs the arch-capabilities MSR hidden (KVM-HERE.md); virtio-mmio
# devices (QEMU_EXTRA) are version 2 (virtio 1.x), not QEMU's legacy default.
set -- "$qemu" -M "microvm,acpi=${ACPI:-off},pit=off,pic=off,rtc=off" \
	-enable-kvm -cpu host,-arch-capabilities -m "${MEM:-64}" -smp "${SMP:-2}" \
	-nodefaults -no-user-config -display none -no-reboot \
	-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=1 $i8042 \
	-global virtio-mmio.force-legacy=false \
	-kernel "$guest" -append "$append" ${QEMU_EXTRA:-}
if [ "${QEMU_CMD:-0}" = 1 ]; then
	echo "$*" >&2
fi
status=0
if [ -t 0 ]; then
	timeout --foreground -k 5 "${TIMEOUT:-60}" "$@" || status=$?
	exit $status
fi
# Piped input goes to the guest only once it prints "bulkhead-test-guest: ready"
# (bytes sent while it is still switching the UART's FIFO on can be lost, as on
# real hardware), and through a FIFO kept open until QEMU exits, because QEMU
# stops reading a piped console at end of file even when the guest has not
# taken every byte yet.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/in" "$dir/out"
exec 3<&0
timeout -k 5 "${TIMEOUT:-60}" "$@" <"$dir/in" >"$dir/out" &
qpid=$!
tee "$dir/log" <"$dir/out" &
tpid=$!
{
	while kill -0 "$qpid" 2>/dev/null && ! grep -q "^bulkhead-test-guest: ready" "$dir/log"; do
		sleep 0.05
	done
	cat <&3
	while kill -0 "$qpid" 2>/dev/null; do sleep 0.1; done
} >"$dir/in" 2>/dev/null &
fpid=$!
wait "$qpid" || status=$?
wait "$tpid" || true
kill "$fpid" 2>/dev/null || true
wait "$fpid" 2>/dev/null || true
exit $status
