#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# make demo: boot Debian's Linux with bulkhead and show its console. Where the
# host's KVM runs Linux, bulkhead runs here; where it cannot (a kvm_pvm host,
# see tests/nested), bulkhead runs inside a QEMU TCG machine with an emulated
# SVM CPU. Either way the guest prints its kernel version, CPUs, memory and
# devices and powers off.
set -u
cd "$(dirname "$0")/.."
O=${O:-build}

echo "== building the Linux guest kit from Debian's linux-image-amd64 and busybox-static"
tests/guest/linux/build-kit.sh "$O/linux-kit" >/dev/null || exit 1

tier=$(tests/nested/probe.sh)
direct=$?
echo "== Linux tier: $tier"

CMDLINE="console=ttyS0 reboot=k panic=-1 quiet bulkhead.linux=info"
run_demo() { # BULKHEAD KIT DISK
	echo "== $1 --kernel path=$2/bzImage,cmdline=\"$CMDLINE\" --initrd path=$2/initramfs.cpio.gz" \
		"--memory size_mib=256 --vcpus num=2 --disk path=$3 --serial stdio"
}

if [ "$direct" -eq 0 ]; then
	disk=$O/demo-disk.img
	truncate -s 64M "$disk"
	run_demo "$O/bulkhead" "$O/linux-kit" "$disk"
	"$O/bulkhead" --kernel "path=$O/linux-kit/bzImage,cmdline=$CMDLINE" \
		--initrd "path=$O/linux-kit/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2 \
		--disk "path=$disk" --serial stdio
	status=$?
else
	run_demo /bulkhead/bulkhead /kit /tmp/demo.img
	echo "== (inside the nested harness; its first lines are L1's own boot, ~5-10 s)"
	tests/nested/run.sh --timeout 600 -- sh -c "truncate -s 64M /tmp/demo.img &&
		/bulkhead/bulkhead --kernel 'path=/kit/bzImage,cmdline=$CMDLINE' \
		--initrd path=/kit/initramfs.cpio.gz --memory size_mib=256 --vcpus num=2 \
		--disk path=/tmp/demo.img --serial stdio"
	status=$?
fi
echo "== bulkhead exited with status $status (1: the guest reported PASS through port 0xf4)"
[ "$status" -eq 1 ]
