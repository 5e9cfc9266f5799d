#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# check-qemu.sh: run every test-guest scenario under QEMU microvm (run-qemu.sh)
# and compare QEMU's exit status and console with what each must give. Ends
# with "N passed, N failed"; exits 0 only if none failed. Needs /dev/kvm.
set -u
here=$(cd "$(dirname "$0")" && pwd)
run=$here/run-qemu.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT
passed=0
failed=0

# check NAME STATUS PATTERN ENV... -- ARGS...: run, expect STATUS and a line matching PATTERN.
check() {
	name=$1 want=$2 pattern=$3
	shift 3
	env_args=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		env_args="$env_args $1"
		shift
	done
	[ $# -gt 0 ] && shift
	input=${INPUT:-}
	printf '%b' "$input" | env $env_args TIMEOUT=${TIMEOUT:-30} "$run" "$@" >"$out" 2>&1
	got=$?
	if [ "$got" = "$want" ] && grep -q -- "$pattern" "$out"; then
		passed=$((passed + 1))
		echo "ok   $name (status $got)"
	else
		failed=$((failed + 1))
		echo "FAIL $name: status $got (want $want), pattern '$pattern'"
		sed 's/^/    | /' "$out" | tail -15
	fi
}

check hello 1 "PASS hello" -- hello
check hello-acpi 1 "cpus: 2 (from mptable; mptable 2, acpi madt 2)" ACPI=on -- hello
check hello-madt 1 "cpus: 2 (from acpi" ACPI=on -- hello bulkhead.cpus-from=acpi
check exit-5 11 "exit 5" -- exit bulkhead.exit=5
check exit-0 1 "exit 0" -- exit bulkhead.exit=0
check marker-exit 1 "boot marker" -- marker-exit
INPUT='hello\nquit\n' check echo 1 "echo: hello" -- echo
check reboot 0 "i8042 reset" -- reboot
check reboot-acpi 0 "ACPI reset register" ACPI=on I8042=off -- reboot
check triple-fault 0 "triple-fault" -- triple-fault
check smp-2 1 "cpus online: 2" SMP=2 -- smp
check smp-1 1 "cpus online: 1" SMP=1 -- smp
check smp-2-acpi 1 "cpus online: 2" SMP=2 ACPI=on -- smp bulkhead.cpus-from=acpi
check fault 3 "exception 14 (#PF)" -- fault
check bad-service 3 "unknown number" -- bad-service
check serial-flood 1 "serial-flood: 4096 bytes" -- serial-flood bulkhead.bytes=4096
check unknown 3 "FAIL nosuch: unknown scenario" -- nosuch
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
