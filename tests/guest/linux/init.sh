#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# /init of the bulkhead Linux guest kit (busybox sh; build-kit.sh copies it
# into initramfs.cpio.gz). It mounts the pseudo file systems, writes the
# boot-marker port, loads the kit's modules, runs the scenario named by
# bulkhead.linux=NAME on the kernel command line and reports the verdict on
# the console and through the debug-exit port 0xf4 (0 = PASS, 1 = FAIL; the
# VMM exits with status (v<<1)|1).
#
# Adding a scenario: write a function sc_NAME that prints what it does and
# returns 0 (PASS) or sets REASON and returns 1 (FAIL), and add NAME to the
# case table in run_scenario ("-" in NAME becomes "_"). Keep it fast: busybox
# only, no fixed sleeps (short usleep polls for a device are fine).
#
# shellcheck disable=SC2013,SC2059,SC2012,SC2016

export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root
P=bulkhead-linux

say() { echo "$P: $*"; }

mount -t proc proc /proc || say "mount /proc failed"
mount -t sysfs sysfs /sys || say "mount /sys failed"
mount -t devtmpfs devtmpfs /dev || say "mount /dev (devtmpfs) failed"

# Boot marker: one byte to I/O port 0x3f0 (the VMM records launch -> /init).
printf '\173' | dd of=/dev/port bs=1 seek=1008 count=1 conv=notrunc 2>/dev/null
say "init started"

read -r UPTIME _ </proc/uptime

# ------------------------------------------------------------ command line
set -f
NAME=""
CPUS=1
MIB=8			# blk-dd, net-tcp: MiB to write / send / receive
SEED=1			# blk-dd, ext2, net-tcp: the pattern's seed (pattern.sh)
RX_SEED=""		# net-tcp: seed of what the host sends (default SEED+1)
RX_SHA256=""		# net-tcp: sha256 the received bytes must have
DISK=vda		# blk-dd, ext2: the disk they overwrite
RO_DISK=vdb		# blk-ro: the read-only disk
NETIF=eth0		# net-*: the interface
IP=10.0.2.15/24		# net-*: its address
PEER=10.0.2.2		# net-*: the host's end
NET_TIMEOUT=120		# net-tcp: seconds to wait for each transfer
PASSES=8		# blk-loop: write-and-check passes
P9_TAG=share		# 9p-*: the mount tag of the share
P9_MSIZE=131072		# 9p-mount: the msize asked for
for w in $(cat /proc/cmdline); do
	case $w in
	bulkhead.linux=*) NAME=${w#*=} ;;
	bulkhead.cpus=*) CPUS=${w#*=} ;;
	bulkhead.mib=*) MIB=${w#*=} ;;
	bulkhead.seed=*) SEED=${w#*=} ;;
	bulkhead.rx-seed=*) RX_SEED=${w#*=} ;;
	bulkhead.rx-sha256=*) RX_SHA256=${w#*=} ;;
	bulkhead.disk=*) DISK=${w#*=} ;;
	bulkhead.ro-disk=*) RO_DISK=${w#*=} ;;
	bulkhead.netif=*) NETIF=${w#*=} ;;
	bulkhead.ip=*) IP=${w#*=} ;;
	bulkhead.peer=*) PEER=${w#*=} ;;
	bulkhead.net-timeout=*) NET_TIMEOUT=${w#*=} ;;
	bulkhead.passes=*) PASSES=${w#*=} ;;
	bulkhead.p9-tag=*) P9_TAG=${w#*=} ;;
	bulkhead.p9-msize=*) P9_MSIZE=${w#*=} ;;
	esac
done
set +f
say "kernel $(uname -r), uptime ${UPTIME}s, scenario '${NAME}'"

# ------------------------------------------------------------ modules
# load-order lists module names, dependencies first (build-kit.sh).
KV=$(uname -r)
MD=/lib/modules/$KV
MODFAIL=""
if [ -f "$MD/load-order" ]; then
	loaded=""
	while read -r m; do
		if err=$(insmod "$MD/$m.ko" 2>&1); then
			loaded="$loaded $m"
		else
			MODFAIL="$MODFAIL $m"
			say "insmod $m failed: $err"
		fi
	done <"$MD/load-order"
	read -r up _ </proc/uptime
	say "modules loaded:$loaded (uptime ${up}s)"
else
	MODFAIL=" (no $MD/load-order: kit built for $(cat /etc/bulkhead-kver 2>/dev/null))"
	say "no modules for kernel $KV"
fi

# ------------------------------------------------------------ helpers
# Wait until the console has sent what we printed: the VM may end right after.
drain() { stty -F /dev/console "$(stty -F /dev/console -g 2>/dev/null)" 2>/dev/null || true; }

port_write() {	# OCTAL-ESCAPE PORT
	printf "$1" | dd of=/dev/port bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}

# Every way this init can end the VM; it never returns (PID 1 must not exit).
end_vm() {
	drain
	poweroff -f
	reboot -f
	say "could not end the VM"
	drain
	exec sh
}

verdict() {	# STATUS (0 PASS, else FAIL) [REASON]
	if [ "$1" = 0 ] && [ "$PASS_BY" = poweroff ]; then
		say "PASS $NAME (powering off)"
		end_vm
	elif [ "$1" = 0 ]; then
		say "PASS $NAME"
		b='\000'
	else
		say "FAIL ${NAME:-none}: $2"
		b='\001'
	fi
	drain
	port_write "$b" 244
	say "debug-exit port did not end the VM; poweroff -f"
	end_vm
}

# ACPI errors the kernel logged, one per line (empty when none).
acpi_errors() { dmesg | grep -E 'ACPI (BIOS )?Error|ACPI Exception'; }

# A number of the command line that must be a decimal integer.
is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

uptime_s() { read -r _u _ </proc/uptime; echo "$_u"; }
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }'; }
rate() {	# BYTES SECONDS -> MB/s
	awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", n / s / 1e6; else print "-" }'
}

# The first line of dd's stderr that is not a "records" count.
dd_err() { grep -v records "$1" | head -n 1; }

# sha256 of a file (hex only).
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Polls (no fixed sleep) until PATH exists, for up to about 3 s: a driver
# binds during insmod, but the node or the interface may trail it.
wait_path() {
	_i=0
	while [ ! -e "$1" ]; do
		[ $_i -lt 150 ] || return 1
		usleep 20000
		_i=$((_i + 1))
	done
}

# The block device NAME (vda, ...), ready; sets DEV and DEV_BYTES.
blk_dev() {
	DEV=/dev/$1
	if ! wait_path "/sys/block/$1" || ! wait_path "$DEV"; then
		REASON="no $DEV (virtio disks:$(for d in /sys/block/vd*; do [ -e "$d" ] && printf ' %s' "${d##*/}"; done))"
		return 1
	fi
	DEV_BYTES=$(( $(cat "/sys/block/$1/size") * 512 ))
	say "${NAME}: $DEV: $DEV_BYTES bytes, ro $(cat "/sys/block/$1/ro"), serial '$(cat "/sys/block/$1/serial" 2>/dev/null)'"
}

# Writes the pattern of SEED, BYTES long, to FILE (pattern.sh, installed as
# /bin/bulkhead-pattern); prints how long that took.
gen_pattern() {	# SEED BYTES FILE
	_t=$(uptime_s)
	if ! bulkhead-pattern "$1" "$2" >"$3"; then
		REASON="bulkhead-pattern $1 $2 failed"
		return 1
	fi
	say "${NAME}: pattern seed $1, $2 bytes generated in $(since "$_t")s"
}

# ------------------------------------------------------------ scenarios
sc_info() {
	say "info: uname -r: $(uname -r)"
	say "info: nproc $(nproc), /proc/cpuinfo processors: $(grep -c '^processor' /proc/cpuinfo)"
	grep '^processor' /proc/cpuinfo | tr '\t' ' ' | tr -s ' ' | sed "s/^/$P: info:   /"
	say "info: $(grep MemTotal /proc/meminfo | tr -s ' ')"
	n=0
	for d in /sys/bus/virtio/devices/*; do
		[ -e "$d" ] || continue
		n=$((n + 1))
		drv=none
		[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
		say "info: virtio ${d##*/}: vendor $(cat "$d/vendor") device $(cat "$d/device") driver $drv"
	done
	say "info: $n virtio device(s)"
	n=0
	for d in /sys/bus/platform/devices/*LNRO0005*; do
		[ -e "$d" ] || continue
		n=$((n + 1))
		drv=none
		[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
		say "info: platform ${d##*/} driver $drv"
	done
	say "info: $n LNRO0005 platform device(s)"
	if [ -d /sys/firmware/acpi/tables ]; then
		say "info: ACPI tables: $(ls /sys/firmware/acpi/tables | tr '\n' ' ')"
	else
		say "info: no /sys/firmware/acpi/tables"
	fi
	dmesg | grep ACPI | sed "s/^/$P: info: dmesg: /"
	e=$(acpi_errors | head -n 1)
	if [ -n "$e" ]; then
		REASON="ACPI error in dmesg: $e"
		return 1
	fi
	return 0
}

sc_smp() {
	n=$(nproc)
	c=$(grep -c '^processor' /proc/cpuinfo)
	say "smp: expect $CPUS CPU(s): nproc $n, /proc/cpuinfo $c"
	if [ "$n" != "$CPUS" ] || [ "$c" != "$CPUS" ]; then
		REASON="expected $CPUS CPUs, nproc says $n, /proc/cpuinfo $c"
		return 1
	fi
	# One busy loop pinned to each CPU; at its end it reads its own
	# /proc/self/stat, whose field 39 is the CPU it is running on.
	i=0
	while [ $i -lt "$n" ]; do
		taskset -c "$i" sh -c 'j=0; while [ $j -lt 2000 ]; do j=$((j + 1)); done; cat /proc/self/stat' \
			>/tmp/smp.$i 2>&1 &
		i=$((i + 1))
	done
	wait
	i=0 bad=""
	while [ $i -lt "$n" ]; do
		ran=$(awk '{ print $39 }' /tmp/smp.$i 2>/dev/null)
		say "smp: task pinned to cpu $i ran on cpu ${ran:-?}"
		[ "$ran" = "$i" ] || bad="$bad $i(${ran:-$(head -c 80 /tmp/smp.$i)})"
		i=$((i + 1))
	done
	if [ -n "$bad" ]; then
		REASON="pinned tasks did not run on their CPUs:$bad"
		return 1
	fi
	return 0
}

sc_acpi() {
	e=$(acpi_errors)
	if [ -n "$e" ]; then
		echo "$e" | sed "s/^/$P: acpi: /"
		REASON="ACPI error in dmesg: $(echo "$e" | head -n 1)"
		return 1
	fi
	say "acpi: no ACPI error in dmesg"
	[ -d /sys/firmware/acpi/tables ] || { REASON="no /sys/firmware/acpi/tables"; return 1; }
	say "acpi: tables: $(ls /sys/firmware/acpi/tables | tr '\n' ' ')"
	missing=""
	for t in FACP APIC DSDT; do
		[ -e "/sys/firmware/acpi/tables/$t" ] || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		REASON="missing ACPI table(s):$missing"
		return 1
	fi
	return 0
}

# The CPU as the VMM's CPUID table shows it: an XSAVE layout that agrees with
# itself (no fpu/xstate warning at boot), a brand string, the TSC-deadline timer.
sc_cpu() {
	dmesg | grep -i -e fpu -e xsave -e xstate | sed "s/^/$P: cpu: dmesg: /"
	model=$(grep -m 1 '^model name' /proc/cpuinfo | sed 's/^model name[^:]*: *//')
	flags=" $(grep -m 1 '^flags' /proc/cpuinfo | sed 's/^flags[^:]*://') "
	say "cpu: model name: ${model:-none}"
	say "cpu: flags:$flags"
	bad=""
	w=$(dmesg | grep -i -m 1 -e 'XSAVE consistency' -e 'fpu/xstate')
	[ -z "$w" ] || bad="$bad; xstate warning: $w"
	[ -n "$model" ] || bad="$bad; no model name"
	case $flags in *" tsc_deadline_timer "*) ;; *) bad="$bad; no tsc_deadline_timer" ;; esac
	if [ -n "$bad" ]; then
		REASON=${bad#; }
		return 1
	fi
	return 0
}

sc_poweroff() {
	say "poweroff: poweroff -f (the VMM should exit with status 0)"
	drain
	poweroff -f
	REASON="poweroff -f returned"
	return 1
}

# power-button: the VMM presses the ACPI power button (vm.power-button on its API
# socket); the kernel's button driver reports KEY_POWER on the "Power Button"
# input device, and this init, the userspace that acts on it here, powers off.
sc_power_button() {
	dev=""
	for d in /sys/class/input/event*; do
		[ "$(cat "$d/device/name" 2>/dev/null)" = "Power Button" ] && dev=/dev/input/${d##*/}
	done
	if [ -z "$dev" ] || ! wait_path "$dev"; then
		REASON="no Power Button input device (no PNP0C0C in the DSDT, or button.ko not loaded)"
		return 1
	fi
	say "power-button: waiting on $dev"
	drain
	# one struct input_event (24 bytes on x86-64): the press
	dd if="$dev" of=/dev/null bs=24 count=1 2>/dev/null
	say "power-button: pressed; powering off"
	drain
	poweroff -f
	REASON="poweroff -f returned"
	return 1
}

sc_reboot() {
	say "reboot: reboot -f (the VMM should exit with status 0)"
	drain
	reboot -f
	REASON="reboot -f returned"
	return 1
}

# ---- disks

# blk-dd: the pattern of SEED, MIB MiB, onto DISK; sync; read back.
sc_blk_dd() {
	if ! is_uint "$MIB" || ! is_uint "$SEED"; then
		REASON="bad bulkhead.mib=$MIB or bulkhead.seed=$SEED"
		return 1
	fi
	n=$((MIB * 1048576))
	blk_dev "$DISK" || return 1
	if [ "$DEV_BYTES" -lt "$n" ]; then
		REASON="$DEV has $DEV_BYTES bytes, bulkhead.mib=$MIB needs $n"
		return 1
	fi
	gen_pattern "$SEED" "$n" /tmp/blk.pat || return 1
	h=$(sha_of /tmp/blk.pat)
	say "blk-dd sha256 $h bytes $(wc -c </tmp/blk.pat)"
	t=$(uptime_s)
	if ! dd if=/tmp/blk.pat of="$DEV" bs=1M conv=fsync 2>/tmp/blk.err; then
		REASON="dd to $DEV failed: $(dd_err /tmp/blk.err)"
		return 1
	fi
	sync
	s=$(since "$t")
	say "blk-dd: wrote $n bytes to $DEV (dd conv=fsync, sync) in ${s}s, $(rate "$n" "$s") MB/s"
	echo 3 >/proc/sys/vm/drop_caches
	t=$(uptime_s)
	how="iflag=direct"
	if ! dd if="$DEV" of=/tmp/blk.rd bs=1M count="$MIB" iflag=direct 2>/tmp/blk.err; then
		say "blk-dd: dd iflag=direct failed ($(dd_err /tmp/blk.err)); reading through the page cache (dropped)"
		how="page cache, dropped first"
		if ! dd if="$DEV" of=/tmp/blk.rd bs=1M count="$MIB" 2>/tmp/blk.err; then
			REASON="dd from $DEV failed: $(dd_err /tmp/blk.err)"
			return 1
		fi
	fi
	s=$(since "$t")
	r=$(sha_of /tmp/blk.rd)
	rn=$(wc -c </tmp/blk.rd)
	say "blk-dd: read back ($how) in ${s}s, $(rate "$rn" "$s") MB/s: sha256 $r bytes $rn"
	if [ "$r" != "$h" ]; then
		REASON="read back differs: $(cmp /tmp/blk.pat /tmp/blk.rd 2>&1 | head -n 1)"
		return 1
	fi
	rm -f /tmp/blk.pat /tmp/blk.rd
	say "blk-dd: read back matches"
}

# blk-loop: PASSES passes, each writing the pattern of SEED or SEED+1 (in
# turn, MIB MiB) onto DISK, syncing, dropping the page cache and reading it
# back with O_DIRECT; every read must match what that pass wrote. The host
# kills bulkhead-blk between passes (cases.sh); a PASS powers the VM off.
sc_blk_loop() {
	if ! is_uint "$MIB" || ! is_uint "$SEED" || ! is_uint "$PASSES"; then
		REASON="bad bulkhead.mib=$MIB, bulkhead.seed=$SEED or bulkhead.passes=$PASSES"
		return 1
	fi
	n=$((MIB * 1048576))
	blk_dev "$DISK" || return 1
	gen_pattern "$SEED" "$n" /tmp/loop.0 || return 1
	gen_pattern $((SEED + 1)) "$n" /tmp/loop.1 || return 1
	h0=$(sha_of /tmp/loop.0)
	h1=$(sha_of /tmp/loop.1)
	i=1
	while [ $i -le "$PASSES" ]; do
		f=/tmp/loop.$((i % 2))
		h=$h0
		[ $((i % 2)) = 1 ] && h=$h1
		if ! dd if="$f" of="$DEV" bs=1M conv=fsync 2>/tmp/blk.err; then
			REASON="pass $i: dd to $DEV failed: $(dd_err /tmp/blk.err)"
			return 1
		fi
		echo 3 >/proc/sys/vm/drop_caches
		if ! dd if="$DEV" of=/tmp/loop.rd bs=1M count="$MIB" iflag=direct 2>/tmp/blk.err; then
			REASON="pass $i: dd from $DEV failed: $(dd_err /tmp/blk.err)"
			return 1
		fi
		r=$(sha_of /tmp/loop.rd)
		if [ "$r" != "$h" ]; then
			REASON="pass $i: read back sha256 $r, wrote $h"
			return 1
		fi
		say "blk-loop: pass $i of $PASSES ok: sha256 $r"
		i=$((i + 1))
	done
	PASS_BY=poweroff
}

# blk-ro: RO_DISK is read-only: the kernel says so and refuses a write.
sc_blk_ro() {
	blk_dev "$RO_DISK" || return 1
	ro=$(cat "/sys/block/$RO_DISK/ro")
	dd if="$DEV" of=/tmp/ro.a bs=1M count=1 2>/dev/null
	h=$(sha_of /tmp/ro.a)
	say "blk-ro sha256 $h bytes $(wc -c </tmp/ro.a) (first MiB of $DEV)"
	# A 4 KiB write of zeros at offset 0, O_DIRECT so that it cannot end in
	# the page cache; conv=fsync reports a late error too.
	if dd if=/dev/zero of="$DEV" bs=4096 count=1 oflag=direct conv=notrunc,fsync 2>/tmp/ro.err; then
		wrote=1
		say "blk-ro: dd wrote 4096 bytes to $DEV: it should have failed"
	else
		wrote=0
		say "blk-ro: dd write failed as it should: $(dd_err /tmp/ro.err)"
	fi
	echo 3 >/proc/sys/vm/drop_caches
	dd if="$DEV" of=/tmp/ro.b bs=1M count=1 iflag=direct 2>/dev/null ||
		dd if="$DEV" of=/tmp/ro.b bs=1M count=1 2>/dev/null
	h2=$(sha_of /tmp/ro.b)
	say "blk-ro: first MiB after the write: sha256 $h2"
	rm -f /tmp/ro.a /tmp/ro.b
	bad=""
	[ "$ro" = 1 ] || bad="$bad; /sys/block/$RO_DISK/ro is $ro, not 1"
	[ $wrote = 0 ] || bad="$bad; a write to $DEV succeeded"
	[ "$h2" = "$h" ] || bad="$bad; the first MiB of $DEV changed"
	if [ -n "$bad" ]; then
		REASON=${bad#; }
		return 1
	fi
}

# ext2: mke2fs on DISK, files in, umount, mount again, check them.
EXT2_FILES="hello.txt empty dir/pattern.bin dir/sub/zeros.bin"
ext2_mount() {
	if mount -t "$FSTYPE" "$DEV" /mnt 2>/tmp/ext2.err; then
		return 0
	fi
	REASON="mount -t $FSTYPE $DEV /mnt failed: $(tail -n 1 /tmp/ext2.err); dmesg: $(dmesg | tail -n 1)"
	return 1
}

sc_ext2() {
	is_uint "$SEED" || { REASON="bad bulkhead.seed=$SEED"; return 1; }
	blk_dev "$DISK" || return 1
	say "ext2: /proc/filesystems has:$(grep -E 'ext[234]' /proc/filesystems | tr -s '\t\n' '  ')"
	t=$(uptime_s)
	if ! mke2fs -F "$DEV" >/tmp/ext2.log 2>&1; then
		sed "s/^/$P: ext2: mke2fs: /" /tmp/ext2.log | tail -n 5
		REASON="mke2fs $DEV failed"
		return 1
	fi
	say "ext2: mke2fs $DEV in $(since "$t")s: $(grep -i -m 1 -E 'blocks' /tmp/ext2.log)"
	mkdir -p /mnt
	# Debian's kernel has no CONFIG_EXT2_FS: ext4 registers "ext2" itself
	# (CONFIG_EXT4_USE_FOR_EXT2). Take ext2 when it is registered, else
	# let ext4 mount the ext2 file system.
	if grep -qw ext2 /proc/filesystems; then FSTYPE=ext2; else FSTYPE=ext4; fi
	ext2_mount || return 1
	say "ext2: mounted: $(grep " /mnt " /proc/mounts)"
	# The files: a line of text, an empty file, 1 MiB of the pattern of
	# SEED, 64 KiB of zeros, in two levels of directories.
	mkdir -p /mnt/dir/sub /tmp/ext2
	echo "bulkhead ext2 seed $SEED" >/tmp/ext2/hello.txt
	: >/tmp/ext2/empty
	bulkhead-pattern "$SEED" 1048576 >/tmp/ext2/pattern.bin || { REASON="bulkhead-pattern failed"; return 1; }
	dd if=/dev/zero of=/tmp/ext2/zeros.bin bs=65536 count=1 2>/dev/null
	nf=0
	for f in $EXT2_FILES; do
		cp "/tmp/ext2/${f##*/}" "/mnt/$f" || { REASON="cp to /mnt/$f failed"; return 1; }
		nf=$((nf + 1))
	done
	sync
	if ! umount /mnt; then REASON="umount /mnt failed"; return 1; fi
	say "ext2: wrote $nf files, unmounted"
	ext2_mount || return 1
	say "ext2: mounted again"
	bad=""
	for f in $EXT2_FILES; do
		want=$(sha_of "/tmp/ext2/${f##*/}")
		if [ -f "/mnt/$f" ]; then
			got=$(sha_of "/mnt/$f")
		else
			got=missing
		fi
		say "ext2 sha256 $got bytes $(wc -c <"/mnt/$f" 2>/dev/null || echo 0) $f"
		[ "$got" = "$want" ] || bad="$bad $f"
	done
	if ! umount /mnt; then REASON="second umount /mnt failed"; return 1; fi
	rm -rf /tmp/ext2
	if [ -n "$bad" ]; then
		REASON="after the remount these differ:$bad"
		return 1
	fi
	e=$(dmesg | grep -E 'EXT[24]-fs (error|warning)' | head -n 1)
	[ -z "$e" ] || say "ext2: dmesg: $e"
	say "ext2: all files match after the remount"
}

# ---- network

# NETIF up with IP; PEER is the host's end.
net_up() {
	if ! wait_path "/sys/class/net/$NETIF"; then
		REASON="no $NETIF (interfaces: $(ls /sys/class/net | tr '\n' ' '))"
		return 1
	fi
	say "${NAME}: $NETIF mac $(cat "/sys/class/net/$NETIF/address"), driver $(basename "$(readlink "/sys/class/net/$NETIF/device/driver")"); ip $IP, peer $PEER"
	ip link set lo up
	if ! err=$(ip link set "$NETIF" up 2>&1) || ! err=$(ip addr add "$IP" dev "$NETIF" 2>&1); then
		REASON="configuring $NETIF: $err"
		return 1
	fi
	# Carrier: virtio-net reports the link at once; allow it a moment.
	i=0
	while [ "$(cat "/sys/class/net/$NETIF/carrier" 2>/dev/null)" != 1 ] && [ $i -lt 150 ]; do
		usleep 20000
		i=$((i + 1))
	done
	say "${NAME}: $NETIF operstate $(cat "/sys/class/net/$NETIF/operstate"), carrier $(cat "/sys/class/net/$NETIF/carrier" 2>/dev/null), mtu $(cat "/sys/class/net/$NETIF/mtu")"
}

# net-ping: 20 pings to PEER, none lost.
sc_net_ping() {
	net_up || return 1
	# -A: the next ping as soon as a reply arrives (a lost one still waits
	# the usual second), so 20 pings take well under 20 s.
	t=$(uptime_s)
	out=$(ping -c 20 -W 2 -A "$PEER" 2>&1)
	st=$?
	s=$(since "$t")
	echo "$out" | head -n 2 | sed "s/^/$P: net-ping: /"
	echo "$out" | grep -E 'transmitted|round-trip' | sed "s/^/$P: net-ping: /"
	loss=$(echo "$out" | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
	say "net-ping: ping status $st, loss ${loss:-?}%, ${s}s"
	if [ "$loss" != 0 ]; then
		REASON="ping $PEER: ${loss:-no summary, status $st}% loss"
		return 1
	fi
}

# Port 5001 in LISTEN state: local port hex 1389, state 0A, in /proc/net/tcp
# or /proc/net/tcp6 (busybox nc listens on :: when the kernel has IPv6).
listening_5001() {
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk '$2 ~ /:1389$/ && $4 == "0A" { f = 1 } END { exit !f }'
}

# net-tcp: receive MIB MiB from the host on port 5001, then send the pattern
# of SEED (MIB MiB) to PEER port 5002.
sc_net_tcp() {
	if ! is_uint "$MIB" || ! is_uint "$SEED"; then
		REASON="bad bulkhead.mib=$MIB or bulkhead.seed=$SEED"
		return 1
	fi
	n=$((MIB * 1048576))
	[ -n "$RX_SEED" ] || RX_SEED=$((SEED + 1))
	net_up || return 1
	if [ -n "$RX_SHA256" ]; then
		want=$(echo "$RX_SHA256" | tr A-F a-f)
		say "net-tcp: expect $n bytes with sha256 $want (bulkhead.rx-sha256)"
	else
		gen_pattern "$RX_SEED" "$n" /tmp/net.want || return 1
		want=$(sha_of /tmp/net.want)
		rm -f /tmp/net.want
		say "net-tcp: expect $n bytes, the pattern of seed $RX_SEED: sha256 $want"
	fi
	gen_pattern "$SEED" "$n" /tmp/net.tx || return 1
	txh=$(sha_of /tmp/net.tx)

	# 1. Receive. nc's stdin stays open (a FIFO no one writes): busybox
	# nc half-closes the connection when its stdin ends, and a busybox nc on
	# the other side stops sending when it sees that; it exits when the host
	# closes.
	rm -f /tmp/net.hold
	mkfifo /tmp/net.hold
	exec 7<>/tmp/net.hold # read-write: never data, never end of file
	timeout "$NET_TIMEOUT" nc -l -p 5001 <&7 >/tmp/net.rx 2>/tmp/net.rx.err &
	lpid=$!
	i=0
	while ! listening_5001; do
		if [ $i -ge 250 ] || ! kill -0 $lpid 2>/dev/null; then
			REASON="nc -l -p 5001 is not listening: $(cat /tmp/net.rx.err)"
			kill $lpid 2>/dev/null
			return 1
		fi
		usleep 20000
		i=$((i + 1))
	done
	say "net-tcp: nc -l -p 5001 (up to ${NET_TIMEOUT}s); the host connects to port 5001 of ${IP%/*}, sends $n bytes and closes"
	say "net-tcp listening"
	t=$(uptime_s)
	# busybox nc does not leave on the peer's half-close while its own stdin
	# is open: once every expected byte is in, end it ourselves.
	i=0
	while kill -0 $lpid 2>/dev/null; do
		if [ "$(wc -c </tmp/net.rx)" -ge "$n" ]; then
			kill $lpid 2>/dev/null
			break
		fi
		usleep 20000
	done
	wait $lpid
	st=$?
	[ "$(wc -c </tmp/net.rx)" -ge "$n" ] && st=0
	s=$(since "$t")
	got=$(sha_of /tmp/net.rx)
	gotn=$(wc -c </tmp/net.rx)
	say "net-tcp rx sha256 $got bytes $gotn"
	case $st in
	0) how="the host closed" ;;
	143) how="timed out: no connection or no close within bulkhead.net-timeout=$NET_TIMEOUT" ;;
	*) how="nc status $st: $(tail -n 1 /tmp/net.rx.err)" ;;
	esac
	say "net-tcp: $how, ${s}s after listening ($(rate "$gotn" "$s") MB/s)"
	rm -f /tmp/net.rx
	if [ "$got" = "$want" ]; then
		rxok=1
		say "net-tcp: received bytes match"
	else
		rxok=0
		say "net-tcp: received bytes differ (want sha256 $want, $n bytes)"
	fi

	# 2. Send, retrying while the host does not accept yet.
	say "net-tcp tx sha256 $txh bytes $n"
	say "net-tcp: sending to $PEER port 5002"
	t=$(uptime_s)
	a=0
	while :; do
		a=$((a + 1))
		if timeout "$NET_TIMEOUT" nc -w 3 "$PEER" 5002 </tmp/net.tx >/dev/null 2>/tmp/net.tx.err; then
			txok=1
			break
		fi
		txok=0
		# Only a connect that was refused or timed out (nc -w 3) is
		# retried, for about 10 s of refusals.
		if ! grep -q -e "can't connect" -e "timed out" /tmp/net.tx.err || [ $a -ge 50 ]; then
			break
		fi
		usleep 200000
	done
	s=$(since "$t")
	if [ "$txok" = 1 ]; then
		say "net-tcp: sent $n bytes in ${s}s ($(rate "$n" "$s") MB/s), attempt $a"
	else
		say "net-tcp: sending failed after $a attempt(s), ${s}s: $(tail -n 1 /tmp/net.tx.err)"
	fi
	rm -f /tmp/net.tx
	if [ $rxok = 0 ]; then
		REASON="received $gotn bytes, sha256 $got ($how); want $n bytes, sha256 $want"
		return 1
	fi
	if [ "$txok" = 0 ]; then
		REASON="could not send to $PEER port 5002: $(tail -n 1 /tmp/net.tx.err)"
		return 1
	fi
}

# ---- 9p

# Mount the share P9_TAG at $1 (trans=virtio, 9P2000.L, msize P9_MSIZE).
p9_mount() {
	mkdir -p "$1"
	if ! err=$(mount -t 9p -o "trans=virtio,version=9p2000.L,msize=$P9_MSIZE" "$P9_TAG" "$1" 2>&1); then
		REASON="mount -t 9p $P9_TAG $1: $err; dmesg: $(dmesg | tail -n 2 | tr '\n' ' ')"
		return 1
	fi
	say "${NAME}: mounted: $(grep " $1 " /proc/mounts)"
}

# 9p-mount: the share's data.bin must be the pattern of SEED (MIB MiB) and
# hello.txt the host's line; the pattern of SEED+1 goes back as
# from-guest.bin (mode 0640), then a directory, a file in it, a rename, a
# symlink, a hard link and a removal; after a remount the file reads back the
# same. The host checks what it finds after the VM ends.
sc_9p_mount() {
	if ! is_uint "$MIB" || ! is_uint "$SEED" || ! is_uint "$P9_MSIZE"; then
		REASON="bad bulkhead.mib=$MIB, bulkhead.seed=$SEED or bulkhead.p9-msize=$P9_MSIZE"
		return 1
	fi
	n=$((MIB * 1048576))
	S=/mnt/share
	p9_mount $S || return 1
	gen_pattern "$SEED" "$n" /tmp/p9.want || return 1
	want=$(sha_of /tmp/p9.want)
	rm -f /tmp/p9.want
	t=$(uptime_s)
	got=$(sha_of $S/data.bin)
	s=$(since "$t")
	say "9p-mount data sha256 $got bytes $(wc -c <$S/data.bin)"
	say "9p-mount: read data.bin in ${s}s ($(rate "$n" "$s") MB/s)"
	hello=$(cat $S/hello.txt)
	gen_pattern $((SEED + 1)) "$n" /tmp/p9.back || return 1
	back=$(sha_of /tmp/p9.back)
	t=$(uptime_s)
	if ! cp /tmp/p9.back $S/from-guest.bin || ! sync; then
		REASON="writing from-guest.bin failed"
		return 1
	fi
	s=$(since "$t")
	rm -f /tmp/p9.back
	say "9p-mount back sha256 $back bytes $n"
	say "9p-mount: wrote from-guest.bin in ${s}s ($(rate "$n" "$s") MB/s)"
	bad=""
	chmod 0640 $S/from-guest.bin || bad="$bad; chmod"
	mkdir $S/newdir && echo inner >$S/newdir/inner.txt || bad="$bad; mkdir and a file in it"
	mv $S/newdir/inner.txt $S/newdir/moved.txt || bad="$bad; rename"
	ln -s hello.txt $S/link || bad="$bad; symlink"
	ln $S/newdir/moved.txt $S/hard || bad="$bad; hard link"
	echo gone >$S/gone.txt && rm $S/gone.txt || bad="$bad; unlink"
	[ "$(readlink $S/link)" = hello.txt ] || bad="$bad; readlink says '$(readlink $S/link)'"
	ls -ln $S | sed "s/^/$P: 9p-mount: ls: /"
	umount $S || bad="$bad; umount"
	p9_mount $S || return 1
	again=$(sha_of $S/from-guest.bin)
	[ "$(cat $S/hard)" = inner ] || bad="$bad; the hard link reads '$(cat $S/hard)'"
	umount $S
	[ "$got" = "$want" ] || bad="$bad; data.bin is not the pattern of seed $SEED (sha256 $want)"
	[ "$hello" = "hello from the host" ] || bad="$bad; hello.txt says '$hello'"
	[ "$again" = "$back" ] || bad="$bad; from-guest.bin read back after a remount as $again"
	if [ -n "$bad" ]; then
		REASON=${bad#; }
		return 1
	fi
	say "9p-mount: the share reads and writes as it should"
}

# 9p-bench (bench/linux_9p.sh): read the share's read.bin (MIB MiB), write
# write.bin (MIB MiB of zeros, fsync'd), and ls -ln files/ (a walk and a
# getattr per file, the 9p client holds no attributes); one line with the
# rates and the listing's time. The timer is /proc/uptime (10 ms).
sc_9p_bench() {
	S=/mnt/share
	is_uint "$MIB" || { REASON="bad bulkhead.mib=$MIB"; return 1; }
	p9_mount $S || return 1
	n=$((MIB * 1048576))
	t=$(uptime_s)
	got=$(dd if=$S/read.bin of=/dev/null bs=1M 2>&1 | grep -c records)
	rs=$(since "$t")
	t=$(uptime_s)
	dd if=/dev/zero of=$S/write.bin bs=1M count="$MIB" conv=fsync 2>/dev/null || { REASON="writing write.bin failed"; return 1; }
	ws=$(since "$t")
	t=$(uptime_s)
	files=$(ls -ln $S/files | grep -c '^-')
	ls_s=$(since "$t")
	wn=$(wc -c <$S/write.bin)
	umount $S
	if [ "$got" != 2 ] || [ "$wn" != "$n" ]; then
		REASON="dd read gave no record counts ($got) or write.bin has $wn bytes, not $n"
		return 1
	fi
	say "9p-bench read-mbs $(rate "$n" "$rs") write-mbs $(rate "$n" "$ws") stat-ms $(awk -v s="$ls_s" 'BEGIN { printf "%d", s * 1000 }') files $files"
}

# 9p-root: the share P9_TAG holds a busybox root directory: mount it and
# switch_root into it; its /sbin/init-9p (written by the host, cases.sh)
# reports the verdict from there. Debian's kernel has 9p as modules, so the
# root is mounted here, after they load (a kernel with 9P built in mounts it
# itself with root=TAG rootfstype=9p rootflags=trans=virtio,version=9p2000.L).
sc_9p_root() {
	R=/newroot
	p9_mount $R || return 1
	if [ ! -x $R/sbin/init-9p ]; then
		REASON="the share $P9_TAG has no /sbin/init-9p"
		return 1
	fi
	for m in dev proc sys; do
		mount --move /$m $R/$m || say "9p-root: mount --move /$m failed"
	done
	say "9p-root: switch_root to the 9p root"
	drain
	exec switch_root $R /sbin/init-9p
}

sc_shell() {
	say "shell: exit the shell to power off"
	setsid cttyhack sh || sh
	say "shell: exited; poweroff -f"
	end_vm
}

# rng: Debian's hw_random core picks the virtio-rng device; 64 KiB from /dev/hwrng
# are read, counted, and must not compress (gzip makes them no smaller).
sc_rng() {
	cur=$(cat /sys/devices/virtual/misc/hw_random/rng_current 2>/dev/null)
	avail=$(cat /sys/devices/virtual/misc/hw_random/rng_available 2>/dev/null)
	say "rng: rng_current $cur, rng_available $avail"
	if [ "$cur" != virtio_rng.0 ]; then
		REASON="rng_current is '$cur', not virtio_rng.0"
		return 1
	fi
	wait_path /dev/hwrng || { REASON="no /dev/hwrng"; return 1; }
	t=$(uptime_s)
	head -c 65536 /dev/hwrng >/tmp/rng.bin
	s=$(since "$t")
	n=$(wc -c </tmp/rng.bin)
	z=$(gzip -9 -c /tmp/rng.bin | wc -c)
	say "rng: read $n bytes in ${s}s, gzip -9 gives $z bytes, sha256 $(sha_of /tmp/rng.bin)"
	if [ "$n" != 65536 ]; then
		REASON="read $n bytes from /dev/hwrng, want 65536"
		return 1
	fi
	if [ "$z" -lt 65536 ]; then
		REASON="the bytes compress ($z of 65536): not random"
		return 1
	fi
}

# vsock: the guest's vsock to bulkhead's host side. Listens on 5001 (the host sends
# 1 MiB through PATH with CONNECT 5001), then sends 1 MiB of pattern 7 to the host's
# port 5000 (its program at PATH_5000); each end answers the other's CRC-32.
sc_vsock() {
	bulkhead-vsock-tool listen 5001 >/tmp/vsock.listen 2>&1 &
	lpid=$!
	i=0
	while ! grep -q listening /tmp/vsock.listen && [ $i -lt 100 ]; do
		usleep 50000
		i=$((i + 1))
	done
	say "vsock: listening on 5001"
	wait $lpid
	lst=$?
	say "vsock: $(tail -n 1 /tmp/vsock.listen)"
	bulkhead-vsock-tool send 5000 1048576 7 >/tmp/vsock.send 2>&1
	snd=$?
	say "vsock: $(tail -n 1 /tmp/vsock.send)"
	if [ $lst != 0 ] || ! grep -q "received 1048576 bytes" /tmp/vsock.listen; then
		REASON="receiving on 5001: $(tail -n 1 /tmp/vsock.listen)"
		return 1
	fi
	if [ $snd != 0 ]; then
		REASON="sending to the host's 5000: $(tail -n 1 /tmp/vsock.send)"
		return 1
	fi
}

run_scenario() {
	REASON=""
	case $NAME in
	info | smp | acpi | cpu | poweroff | power-button | reboot | shell | blk-dd | blk-loop | blk-ro | ext2 | \
		net-ping | net-tcp | 9p-mount | 9p-root | 9p-bench | rng | vsock)
		"sc_$(echo "$NAME" | tr - _)"
		;;
	"")
		REASON="no bulkhead.linux=NAME on the kernel command line"
		return 1
		;;
	*)
		REASON="unknown scenario"
		return 1
		;;
	esac
}

if run_scenario; then
	if [ -n "$MODFAIL" ]; then
		verdict 1 "insmod failed:$MODFAIL"
	fi
	verdict 0
else
	[ -n "$MODFAIL" ] && REASON="$REASON (insmod failed:$MODFAIL)"
	verdict 1 "$REASON"
fi
