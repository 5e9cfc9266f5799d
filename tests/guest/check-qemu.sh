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
python=${PYTHON:-python3}
out=$(mktemp)
img=$(mktemp -d)
trap 'rm -f "$out"; rm -rf "$img"' EXIT
passed=0
failed=0

# check NAME STATUS PATTERN ENV... -- ARGS...: run, expect STATUS (or one of
# STATUS|STATUS...) and a line matching PATTERN. INPUT is sent to the console
# and EXTRA is passed as QEMU_EXTRA.
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
	printf '%b' "$input" | env TIMEOUT=${TIMEOUT:-30} $env_args QEMU_EXTRA="${EXTRA:-}" "$run" "$@" >"$out" 2>&1
	got=$?
	case "|$want|" in
	*"|$got|"*) status_ok=1 ;;
	*) status_ok=0 ;;
	esac
	if [ "$status_ok" = 1 ] && grep -q -- "$pattern" "$out"; then
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
check reboot-acpi-only 0 "still running after the wrong value" ACPI=on I8042=off -- reboot-acpi
check triple-fault 0 "triple-fault" -- triple-fault
check smp-2 1 "cpus online: 2" SMP=2 -- smp
check smp-1 1 "cpus online: 1" SMP=1 -- smp
check smp-2-acpi 1 "cpus online: 2" SMP=2 ACPI=on -- smp bulkhead.cpus-from=acpi
check fault 3 "exception 14 (#PF)" -- fault
check bad-service 3 "unknown number" -- bad-service
check serial-flood 1 "serial-flood: 4096 bytes" -- serial-flood bulkhead.bytes=4096
check unknown 3 "FAIL nosuch: unknown scenario" -- nosuch
# QEMU's virtio-rng-device: the bytes are judged the same way; the hostile suite only has to
# end (QEMU never completes a read-only or zero-length chain and fills buffers beyond RAM
# with a bounce buffer: 4 of the 8 cases pass under QEMU 7.2)
EXTRA="-device virtio-rng-device" check rng-read 1 "PASS rng-read" -- rng-read
EXTRA="-device virtio-rng-device" check rng-hostile "1|3" "rng-hostile: [0-9]* passed" -- rng-hostile

# host NAME COMMAND...: a host-side check of what the guest left in an image.
host() {
	name=$1
	shift
	if "$@" >"$out" 2>&1; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name: $*"
		sed 's/^/    | /' "$out" | tail -5
	fi
}

# sum_of NAME: the checksum the last run printed on its "NAME: ... checksum C" line.
sum_of() {
	sed -n "s/.*$1: .*checksum \(0x[0-9a-f]*\).*/\1/p" "$out" | head -1
}

# Disks: virtio-blk-device on QEMU's virtio-mmio transports (version 2: run-qemu.sh).
pat="$python $here/pattern.py"
disk() { # disk FILE [DRIVE-OPTIONS [DEVICE-OPTIONS]]
	n=$(basename "$1" .img)
	echo "-drive id=$n,file=$1,format=raw,if=none${2:+,$2} -device virtio-blk-device,drive=$n${3:+,$3}"
}
for d in d0 d1 ro; do
	truncate -s 64M "$img/$d.img"
done
D0=$(disk "$img/d0.img" discard=unmap serial=bulkhead-d0)
EXTRA="$D0" check blk-info 1 "blk-info: vda: capacity 131072 sectors" -- blk-info
EXTRA="$D0" check blk-rw 1 "blk-rw: wrote 2048 sectors at 0 seed 7 checksum" -- blk-rw bulkhead.seed=7
sum=$(sum_of blk-rw)
host blk-rw-image $pat verify "$img/d0.img" 0 $((2048 * 512)) 7
host blk-rw-checksum test "$sum" = "$($pat checksum "$img/d0.img" 0 $((2048 * 512)) 7)"
EXTRA="$D0" check blk-rw-irq 1 "PASS blk-rw" -- blk-rw bulkhead.irq=1 bulkhead.start=4096 bulkhead.sectors=8192
EXTRA="$D0" check blk-rw-direct 1 "PASS blk-rw" -- blk-rw bulkhead.indirect=0 bulkhead.event-idx=0 bulkhead.seed=8
EXTRA="$D0" check blk-rw-irq-direct 1 "PASS blk-rw" -- blk-rw bulkhead.irq=1 bulkhead.indirect=0 bulkhead.event-idx=0
EXTRA="$D0" check blk-rw-qsize4 1 "queue 4," -- blk-rw bulkhead.qsize=4 bulkhead.seed=9
$pat fill "$img/d0.img" $((20000 * 512)) $((3000 * 512)) 99
EXTRA="$D0" check blk-verify 1 "PASS blk-verify" -- blk-verify bulkhead.start=20000 bulkhead.sectors=3000 bulkhead.seed=99
EXTRA="$D0" check blk-verify-wrong 3 "data mismatch at disk byte 0x9c4000" -- blk-verify bulkhead.start=20000 bulkhead.sectors=3000 bulkhead.seed=98
EXTRA="$D0" check blk-flush 124 "blk-flush: flushed" TIMEOUT=5 -- blk-flush bulkhead.start=30000 bulkhead.sectors=4096 bulkhead.seed=3
host blk-flush-image $pat verify "$img/d0.img" $((30000 * 512)) $((4096 * 512)) 3
EXTRA="$D0" check blk-id 1 "blk-id: matches bulkhead.serial" -- blk-id bulkhead.serial=bulkhead-d0
EXTRA="$D0" check blk-id-wrong 3 "FAIL blk-id" -- blk-id bulkhead.serial=other
EXTRA="$D0" check blk-discard 1 "PASS blk-discard" -- blk-discard bulkhead.start=40000 bulkhead.sectors=8192 bulkhead.seed=5
host blk-discard-zeroed $pat zero "$img/d0.img" $((42048 * 512)) $((2048 * 512))
host blk-discard-kept $pat verify "$img/d0.img" $((40000 * 512)) $((2048 * 512)) 5
EXTRA=$(disk "$img/d0.img" "" discard=off,write-zeroes=off) check blk-discard-none 3 "does not offer" -- blk-discard
EXTRA=$(disk "$img/d0.img" "" discard=off,write-zeroes=off) check blk-discard-none-ok 1 "PASS" -- blk-discard bulkhead.expect-no-discard=1
EXTRA=$(disk "$img/ro.img" readonly=on) check blk-ro 1 "status 1 (IOERR)" -- blk-ro
EXTRA="$D0" check blk-ro-writable 3 "does not offer VIRTIO_BLK_F_RO" -- blk-ro
EXTRA="$D0 $(disk "$img/d1.img")" check blk-two 1 "PASS blk-two" -- blk-two bulkhead.seed=11 bulkhead.sectors=4096
host blk-two-vda $pat verify "$img/d0.img" 0 $((4096 * 512)) 11
host blk-two-vdb $pat verify "$img/d1.img" 0 $((4096 * 512)) 12
EXTRA="$D0" check blk-two-one-disk 3 "needs two disks" -- blk-two
# QEMU does not refuse every hostile ring that bulkhead must (it accepts
# misaligned or oversized indirect tables, odd queue sizes, early notifies and
# DMA to unbacked addresses), so only check that the suites end (the pytest
# test_hostile_qemu.py holds QEMU to its recorded answers).
EXTRA="$D0" check blk-hostile "1|3" "blk-hostile: [0-9]* passed, [0-9]* failed" -- blk-hostile
EXTRA="$D0" check mmio-hostile "1|3" "mmio-hostile: [0-9]* passed, [0-9]* failed" -- mmio-hostile bulkhead.start=100
EXTRA="$D0" check vring-hostile "1|3" "vring-hostile: [0-9]* passed, [0-9]* failed" -- vring-hostile bulkhead.start=100
EXTRA="$D0" check blk-bench 1 "randread-qd32 IOPS" -- blk-bench bulkhead.mib=32 bulkhead.ios=2000
EXTRA="$D0" check blk-bench-small 3 "needs 512 MiB" -- blk-bench
check blk-none 3 "no virtio-blk disk 0" -- blk-rw
EXTRA="$D0" check mmio-bench 1 "MagicValue 0x74726976 in all 216 reads" -- mmio-bench bulkhead.iterations=200
check mmio-bench-none 3 "FAIL mmio-bench: no virtio-mmio device" -- mmio-bench

# Networks: virtio-net-device on a TAP in a network namespace of its own, with
# the host peer (netpeer.py) on it: run-qemu-net.sh, which needs root.
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1 && ip netns list >/dev/null 2>&1; then
	run=$here/run-qemu-net.sh
	check net-info 1 "mac 52:54:00:12:34:56 (config space), status 0x1: link up" -- net-info
	check net-tx 1 "host peer: 64 frames intact, 0 bad" -- net-tx
	check net-echo 1 "net-echo: rtt-us" -- net-echo
	check net-echo-mrg 1 "up to 6 per frame" -- net-echo bulkhead.rxbuf=256 bulkhead.expect-multi=1
	check net-echo-irq 1 "PASS net-echo" -- net-echo bulkhead.mrg=0 bulkhead.irq=1 bulkhead.rxsegs=2
	check net-rx 1 "net-rx: eth0: 200 frames" -- net-rx bulkhead.frames=200
	check net-two 1 "PASS net-two" NICS=2 -- net-two
	check net-bench 1 "net-bench: echo rtt-us" -- net-bench bulkhead.seconds=1
	# QEMU does not refuse every hostile frame or ring that bulkhead must (it sends
	# frames with bad headers to the TAP, bounces DMA to unbacked addresses), so only
	# check that the suite ends.
	check net-hostile "1|3" "net-hostile: [0-9]* passed, [0-9]* failed" -- net-hostile
	check net-no-peer 3 "no host peer answered HELLO" PEER=0 -- net-echo bulkhead.timeout-ms=500
else
	echo "skip net-*: run-qemu-net.sh needs root and ip netns"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
