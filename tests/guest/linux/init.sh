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
# case table in run_scenario. Keep it fast: no sleeps, busybox only.
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
for w in $(cat /proc/cmdline); do
	case $w in
	bulkhead.linux=*) NAME=${w#*=} ;;
	bulkhead.cpus=*) CPUS=${w#*=} ;;
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
	if [ "$1" = 0 ]; then
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

sc_poweroff() {
	say "poweroff: poweroff -f (the VMM should exit with status 0)"
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

sc_shell() {
	say "shell: exit the shell to power off"
	setsid cttyhack sh || sh
	say "shell: exited; poweroff -f"
	end_vm
}

run_scenario() {
	REASON=""
	case $NAME in
	info | smp | acpi | poweroff | reboot | shell)
		"sc_$NAME"
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
