#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# linux_mem.sh [RUNS]: Debian's kernel (the L2 kit) booted to /init by bulkhead
# with guest RAM on 4 KiB pages (the default, where shmem_enabled is never), with
# transparent huge pages advised (shmem_enabled set to advise) and on hugetlbfs
# pages (--memory hugepages=on, vm.nr_hugepages raised for it), RUNS (3) of each,
# alternating. Runs inside the nested harness's L1 (or a host whose KVM runs
# Linux), as root; puts shmem_enabled and nr_hugepages back at the end:
#   tests/nested/run.sh --timeout 1200 --file bench/linux_mem.sh:/tmp/linux_mem.sh -- \
#       sh /tmp/linux_mem.sh 3
# One line per boot:
#   LINUXMEM MODE RUN status S marker_ms M exit_s E ram: <bulkhead's -v line about guest RAM>
# marker_ms is bulkhead's own "boot marker ... ms since launch" (init.sh writes the
# marker port first thing); exit_s is launch to exit (the poweroff scenario).
RUNS=${1:-3}
B=${B:-/bulkhead/bulkhead}
KIT=${KIT:-/kit}
MIB=256
CMDLINE="console=ttyS0 reboot=k panic=-1 quiet bulkhead.linux=poweroff"
SHMEM=/sys/kernel/mm/transparent_hugepage/shmem_enabled
NR=/proc/sys/vm/nr_hugepages

shmem_was=$(sed 's/.*\[\(.*\)\].*/\1/' "$SHMEM")
nr_was=$(cat "$NR")
restore() {
	echo "$shmem_was" > "$SHMEM"
	echo "$nr_was" > "$NR"
}
trap restore EXIT

boot() { # mode run memory-value
	t0=$(cut -d' ' -f1 /proc/uptime)
	timeout 120 "$B" -v --kernel "path=$KIT/bzImage,cmdline=$CMDLINE" --initrd "path=$KIT/initramfs.cpio.gz" \
		--memory "$3" --vcpus num=2 --serial none > /tmp/linux_mem.out 2> /tmp/linux_mem.err
	st=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	ms=$(sed -n 's/.*boot marker .* at \([0-9.]*\) ms since launch.*/\1/p' /tmp/linux_mem.err)
	ram=$(grep -o 'guest RAM: .*' /tmp/linux_mem.err)
	echo "LINUXMEM $1 $2 status $st marker_ms ${ms:-none} exit_s $(echo "$t1 $t0" | awk '{ printf "%.2f", $1 - $2 }') ram: $ram"
	[ "$st" = 0 ] || tail -n 5 /tmp/linux_mem.err
}

i=1
while [ $i -le "$RUNS" ]; do
	echo never > "$SHMEM"
	echo "$nr_was" > "$NR"
	boot 4k $i "size_mib=$MIB"
	echo advise > "$SHMEM"
	boot thp $i "size_mib=$MIB"
	echo never > "$SHMEM"
	echo $((nr_was + MIB / 2)) > "$NR"
	boot hugetlb $i "size_mib=$MIB,hugepages=on"
	i=$((i + 1))
done
