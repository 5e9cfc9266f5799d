#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# linux_9p.sh RUNS MIB FILES MSIZE WARMUP: Debian's kernel (the L2 kit) mounts
# one directory over virtio-9p, served by bulkhead --fs and by QEMU microvm's
# virtio-9p-device (-fsdev local,security_model=none), RUNS of each,
# alternating, after WARMUP (0 or 1) unmeasured run of each. The guest
# (init.sh, 9p-bench) reads a MIB MiB file of random bytes, writes one of MIB
# MiB, and lists FILES empty files with ls -ln (a walk and a getattr each),
# with the same mount options (trans=virtio, 9P2000.L, msize MSIZE) under
# both. Runs inside the nested harness's L1 with WITH_QEMU=1 (bench/run.py's
# 9p figure starts it), or on a host whose KVM runs Linux, as root:
#   WITH_QEMU=1 tests/nested/run.sh --timeout 1500 --file bench/linux_9p.sh:/tmp/linux_9p.sh \
#       --file bench/p9_share.sh:/tmp/p9_share.sh -- sh /tmp/linux_9p.sh 5 64 2000 512000 1
# (p9_share.sh, which makes the share, beside it).
# One line per boot:
#   P9BENCH VMM RUN status S read_mbs R write_mbs W stat_ms T files N
# (RUN 0 is a warm-up; a value the guest did not print is "none").
RUNS=${1:-3}
MIB=${2:-64}
FILES=${3:-2000}
MSIZE=${4:-512000}
WARMUP=${5:-1}
B=${B:-/bulkhead/bulkhead}
KIT=${KIT:-/kit}
QEMU=${QEMU:-qemu-system-x86_64}
S=${SHARE:-/tmp/p9bench}
CMDLINE="console=ttyS0 reboot=k panic=-1 quiet bulkhead.linux=9p-bench bulkhead.mib=$MIB bulkhead.p9-msize=$MSIZE"

sh "$(dirname "$0")/p9_share.sh" "$S" "$MIB" "$FILES" || exit 125

boot() { # vmm run
	rm -f "$S/write.bin"
	if [ "$1" = bulkhead ]; then
		timeout 900 "$B" --kernel "path=$KIT/bzImage,cmdline=$CMDLINE" --initrd "path=$KIT/initramfs.cpio.gz" \
			--memory size_mib=256 --vcpus num=2 --fs "path=$S,tag=share" > /tmp/p9bench.out 2> /tmp/p9bench.err
	else
		timeout 900 "$QEMU" -M microvm,acpi=on,rtc=on -enable-kvm -cpu host -m 256 -smp 2 -nodefaults \
			-no-user-config -display none -no-reboot -serial stdio \
			-device isa-debug-exit,iobase=0xf4,iosize=1 -kernel "$KIT/bzImage" \
			-initrd "$KIT/initramfs.cpio.gz" -append "$CMDLINE" \
			-fsdev "local,id=fs0,path=$S,security_model=none" \
			-device virtio-9p-device,fsdev=fs0,mount_tag=share > /tmp/p9bench.out 2> /tmp/p9bench.err
	fi
	st=$?
	line=$(grep -o '9p-bench read-mbs .*' /tmp/p9bench.out)
	r=$(echo "$line" | sed -n 's/.*read-mbs \([0-9.]*\).*/\1/p')
	w=$(echo "$line" | sed -n 's/.*write-mbs \([0-9.]*\).*/\1/p')
	t=$(echo "$line" | sed -n 's/.*stat-ms \([0-9]*\).*/\1/p')
	n=$(echo "$line" | sed -n 's/.*files \([0-9]*\).*/\1/p')
	echo "P9BENCH $1 $2 status $st read_mbs ${r:-none} write_mbs ${w:-none} stat_ms ${t:-none} files ${n:-none}"
	if [ "$st" != 1 ]; then
		grep -E 'bulkhead-linux: (FAIL|9p)' /tmp/p9bench.out | tail -n 3
		tail -n 3 /tmp/p9bench.err
	fi
}

if [ "$WARMUP" = 1 ]; then
	boot bulkhead 0
	boot qemu 0
fi
i=1
while [ $i -le "$RUNS" ]; do
	boot bulkhead $i
	boot qemu $i
	i=$((i + 1))
done
rm -rf "$S"
