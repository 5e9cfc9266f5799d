#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# cases.sh BULKHEAD KIT OUT [CASE...]: boot the Linux guest kit with bulkhead
# once per case and print, for the test that parses this output:
#   === CASE name
#   name|out| <each line bulkhead wrote to stdout>
#   name|err| <each line of stderr>
#   name|file| <each line of a console file, where the case uses one>
#   === STATUS name N
# It runs inside the nested harness's L1 (busybox sh) or, where the host's
# KVM runs Linux, on the host itself: the same cases either way.
B=$1
KIT=$2
OUT=$3
shift 3
mkdir -p "$OUT"
BASE="console=ttyS0 reboot=k panic=-1 quiet"

emit() { # name prefix file
	[ -f "$3" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s|%s| %s\n' "$1" "$2" "$line"
	done < "$3"
}

run_case() { # name bulkhead-args...
	name=$1
	shift
	echo "=== CASE $name"
	start=$(cut -d' ' -f1 /proc/uptime)
	"$B" --name "$name" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" < /dev/null
	status=$?
	end=$(cut -d' ' -f1 /proc/uptime)
	emit "$name" out "$OUT/$name.out"
	emit "$name" err "$OUT/$name.err"
	emit "$name" file "$OUT/$name.console"
	echo "=== TIME $name $start $end"
	echo "=== STATUS $name $status"
}

case_bz_smp2() {
	run_case bz-smp2 --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=smp bulkhead.cpus=2" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2
}

case_pvh_info_file() {
	run_case pvh-info-file --kernel "path=$KIT/vmlinux,cmdline=$BASE bulkhead.linux=info" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=1 \
		--serial "file=$OUT/pvh-info-file.console"
}

case_bz_poweroff() {
	run_case bz-poweroff --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=poweroff" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=1
}

case_pvh_reboot() {
	run_case pvh-reboot --kernel "path=$KIT/vmlinux,cmdline=$BASE bulkhead.linux=reboot" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2
}

[ $# -gt 0 ] || set -- bz_smp2 pvh_info_file bz_poweroff pvh_reboot
for c in "$@"; do
	"case_$c"
done
echo "=== DONE"
