#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# l1-fault-loop.sh N VMM LOAD, in L1 (tests/nested/README.md, "A guest triple
# fault"): boot the kit's Debian kernel without quiet N times, 2 vCPUs, with
# VMM bulkhead, qemu (QEMU microvm; WITH_QEMU=1) or both (in turn), while L1
# is under LOAD: ipi (a writer on CPU 1 wakes a reader on CPU 0 for every
# line), compact (L1 compacts its memory every 0.2 s) or none. Prints a LOOP
# line per boot, and for a boot that failed its console's end, its stderr,
# the shutdown RIP looked up in L1's /proc/kallsyms and the end of L1's KVM
# trace; then LOOP-SUMMARY. With SCENARIO=9p each boot instead runs the
# guest's 9p-bench (a 64 MiB read and write and 2000 stats over virtio-9p,
# msize 512000; P9_MIB and P9_MSIZE change them; QEMU with
# virtio-9p-device) on a share bench/p9_share.sh makes (give it to L1 beside
# this script: --file bench/p9_share.sh:/nested/p9_share.sh).
N=$1
VMM=$2
LOAD=$3
APPEND="console=ttyS0 reboot=k panic=-1 bulkhead.linux=smp bulkhead.cpus=2"
PASS="bulkhead-linux: PASS smp"
S=/tmp/p9share
BH_FS=
QEMU_FS=
if [ "${SCENARIO:-smp}" = 9p ]; then
	APPEND="console=ttyS0 reboot=k panic=-1 quiet bulkhead.linux=9p-bench bulkhead.mib=${P9_MIB:-64} bulkhead.p9-msize=${P9_MSIZE:-512000}"
	PASS="9p-bench read-mbs"
	sh "$(dirname "$0")/p9_share.sh" $S ${P9_MIB:-64} 2000 || exit 125
	BH_FS="--fs path=$S,tag=share"
	QEMU_FS="-fsdev local,id=fs0,path=$S,security_model=none -device virtio-9p-device,fsdev=fs0,mount_tag=share"
fi
T=/sys/kernel/tracing

[ -d $T/events/kvm ] || mount -t tracefs nodev $T
echo 2048 > $T/buffer_size_kb
for e in kvm_exit kvm_inj_exception kvm_inj_virq kvm_page_fault kvm_pio kvm_msr; do
	echo 1 > $T/events/kvm/$e/enable
done
touch /tmp/load
case $LOAD in
ipi)
	( taskset -c 1 sh -c 'while [ -e /tmp/load ]; do echo x; done' | taskset -c 0 cat > /dev/null ) &
	;;
compact)
	( while [ -e /tmp/load ]; do echo 1 > /proc/sys/vm/compact_memory; sleep 0.2; done ) &
	;;
esac
grep -E " (__svm_vcpu_run|svm_vcpu_enter_exit)" /proc/kallsyms

boot() { # vmm i
	if [ "$1" = qemu ]; then
		timeout -s TERM 300 qemu-system-x86_64 -M microvm,acpi=on,rtc=on -enable-kvm -cpu host \
			-m 256 -smp 2 -nodefaults -no-user-config -display none -no-reboot -serial stdio \
			-device isa-debug-exit,iobase=0xf4,iosize=1 -kernel /kit/bzImage \
			-initrd /kit/initramfs.cpio.gz -append "$APPEND" $QEMU_FS
	else
		timeout -s TERM 300 /bulkhead/bulkhead --name "l$2" --kernel "path=/kit/bzImage,cmdline=$APPEND" \
			--initrd path=/kit/initramfs.cpio.gz --memory size_mib=256 --vcpus num=2 $BH_FS
	fi
}

pass=0
fail=0
i=1
while [ $i -le "$N" ]; do
	v=$VMM
	[ "$VMM" != both ] || { [ $((i % 2)) = 1 ] && v=bulkhead || v=qemu; }
	echo > $T/trace
	start=$(cut -d' ' -f1 /proc/uptime)
	boot $v $i > /tmp/l$i.out 2> /tmp/l$i.err < /dev/null
	st=$?
	end=$(cut -d' ' -f1 /proc/uptime)
	ok=0
	rm -f $S/write.bin
	[ $st = 1 ] && grep -q "$PASS" /tmp/l$i.out && ok=1
	echo "LOOP $i vmm=$v load=$LOAD status=$st ok=$ok $start $end lines=$(wc -l < /tmp/l$i.out)"
	if [ $ok = 1 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "---- LOOP $i console end, stderr"
		tail -n 15 /tmp/l$i.out
		cat /tmp/l$i.err
		rip=$(grep "reason shutdown" $T/trace | tail -n 1 | sed -n 's/.* rip 0x\([0-9a-f]\{16\}\) .*/\1/p')
		if [ -n "$rip" ]; then
			echo "---- LOOP $i shutdown rip $rip, after L1's symbol:"
			(grep -E '^[0-9a-f]{16} [tT] ' /proc/kallsyms; echo "$rip t =====") | sort |
				grep -B1 ' =====$' | head -n 1
		fi
		echo "---- LOOP $i L1's KVM trace"
		tail -n 300 $T/trace
		echo "---- LOOP $i end"
	fi
	i=$((i + 1))
done
rm -f /tmp/load
echo "LOOP-SUMMARY vmm=$VMM load=$LOAD pass=$pass fail=$fail of $N"
