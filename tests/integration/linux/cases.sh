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

# L1's failures told from bulkhead's, and the KVM trace they read (beside this file).
. "$(dirname "$0")/l1_signatures.sh"
kvm_trace_init

run_case() { # name bulkhead-args...
	name=$1
	shift
	run_command "$name" "$B" --name "$name" "$@"
}

# Where every thread of the VM's processes (titled bulkhead/VM/ROLE) is,
# written just before a hung case is stopped: a thread blocked in bulkhead
# (wchan, system call, kernel stack) tells apart from a vCPU the kernel does
# not run (ioctl KVM_RUN, running or in kvm_vcpu_block), and KVM's exits
# say where a running vCPU's guest code is. The kernel stack and the trace
# need root; without it the stack line says so and the trace is left out.
threads_report() { # vm
	for f in $(grep -l -F -z "bulkhead/$1/" /proc/[0-9]*/cmdline 2>/dev/null); do
		d=${f%/cmdline}
		[ -d "$d/task" ] || continue # the grep itself, gone
		echo "process ${d#/proc/} $(tr '\0' ' ' < "$f" 2>/dev/null)"
		for t in "$d"/task/*; do
			echo "  thread ${t##*/} $(cat "$t/comm" 2>/dev/null)" \
				"$(grep '^State:' "$t/status" 2>/dev/null | tr '\t' ' ')" \
				"wchan $(cat "$t/wchan" 2>/dev/null) syscall $(cat "$t/syscall" 2>/dev/null)"
			sed 's/^/    /' "$t/stack" 2>/dev/null || echo "    (no kernel stack: not root)"
		done
	done
	kvm_exits_report
}

# KVM's exits for a second (vCPU, reason, guest RIP), where tracefs can be
# had: a vCPU that still exits shows where its guest code is.
kvm_exits_report() {
	tr=/sys/kernel/tracing
	[ -e "$tr/trace" ] || mount -t tracefs nodev "$tr" 2>/dev/null
	[ -w "$tr/events/kvm/kvm_exit/enable" ] || return 0
	echo > "$tr/trace"
	# With the triple-fault ring on (kvm_trace_init), its events stay on.
	[ -n "$KVM_TRACING" ] || echo 1 > "$tr/events/kvm/kvm_exit/enable"
	sleep 1
	[ -n "$KVM_TRACING" ] || echo 0 > "$tr/events/kvm/kvm_exit/enable"
	echo "kvm_exit events in 1 s: $(grep -c kvm_exit "$tr/trace"); the last 30:"
	grep kvm_exit "$tr/trace" | tail -n 30
}

# Writes $OUT/NAME.hang with threads_report a few seconds before the
# case's limit, unless $OUT/NAME.ended appears first.
hang_watch() { # name seconds
	i=0
	while [ $i -lt $(($2 - 5)) ]; do
		[ -e "$OUT/$1.ended" ] && return 0
		sleep 1
		i=$((i + 1))
	done
	[ -e "$OUT/$1.ended" ] || threads_report "$1" > "$OUT/$1.hang"
}

run_command() { # name command args...
	name=$1
	shift
	echo "=== CASE $name"
	start=$(cut -d' ' -f1 /proc/uptime)
	[ -z "$KVM_TRACING" ] || echo > $KVM_TRACE/trace
	rm -f "$OUT/$name.ended" "$OUT/$name.hang"
	hang_watch "$name" "${CASE_SECONDS:-240}" &
	watch=$!
	# A hung case must not hold the rest (and CI) until the harness's own
	# limit: SIGTERM after CASE_SECONDS; bulkhead then exits with 143.
	timeout -s TERM "${CASE_SECONDS:-240}" "$@" > "$OUT/$name.out" \
		2> "$OUT/$name.err" < /dev/null
	status=$?
	touch "$OUT/$name.ended"
	wait $watch
	end=$(cut -d' ' -f1 /proc/uptime)
	emit "$name" out "$OUT/$name.out"
	emit "$name" err "$OUT/$name.err"
	emit "$name" file "$OUT/$name.console"
	if [ -n "$KVM_TRACING" ] && grep -q "guest triple fault" "$OUT/$name.err"; then
		tail -n 300 $KVM_TRACE/trace > "$OUT/$name.trace"
		emit "$name" trace "$OUT/$name.trace"
		l1_fault "$name" "$OUT/$name.trace"
	fi
	emit "$name" hang "$OUT/$name.hang"
	[ -e "$OUT/$name.hang" ] && l1_hang "$name" "$OUT/$name.hang"
	l1_early_df "$name" "$OUT/$name.out" "$OUT/$name.console"
	echo "=== TIME $name $start $end"
	echo "=== STATUS $name $status"
}

case_bz_smp2() {
	run_case bz-smp2 --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=smp bulkhead.cpus=2" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2
}

# Without quiet: every boot message through the UART (its register shadow and
# held writes), from both vCPUs, then init's own output through the tty.
case_bz_verbose() {
	run_case bz-verbose --kernel "path=$KIT/bzImage,cmdline=${BASE% quiet} bulkhead.linux=smp bulkhead.cpus=2" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2
}

case_pvh_info_file() {
	run_case pvh-info-file --kernel "path=$KIT/vmlinux,cmdline=$BASE bulkhead.linux=info" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=1 \
		--serial "file=$OUT/pvh-info-file.console"
}

case_bz_cpu() {
	run_case bz-cpu --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=cpu" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2
}

case_bz_poweroff() {
	run_case bz-poweroff --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=poweroff" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=1
}

# The host presses the power button through the API socket (bulkhead ctl) once the
# guest waits for it; the guest powers off (status 0).
case_power_button() {
	rm -f "$OUT/power-button.out" "$OUT/pb.sock"
	(
		i=0
		while ! grep -q "power-button: waiting" "$OUT/power-button.out" 2>/dev/null && [ $i -lt 1200 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		"$B" ctl "$OUT/pb.sock" power-button > "$OUT/pb.ctl" 2>&1
		echo "=== HOST power-button ctl-status $?" > "$OUT/pb.host"
	) &
	run_case power-button --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=power-button" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=1 \
		--api-socket "$OUT/pb.sock"
	wait
	emit power-button ctl "$OUT/pb.ctl"
	cat "$OUT/pb.host"
}

case_pvh_reboot() {
	run_case pvh-reboot --kernel "path=$KIT/vmlinux,cmdline=$BASE bulkhead.linux=reboot" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2
}

# The kernel's KUnit runner's x86_64 command line (tools/testing/kunit/
# kunit_kernel.py and qemu_configs/x86_64.py, with its trailing empty
# argument), run by bulkhead-qemu as qemu-system-x86_64. Debian's kernel has
# no built-in KUnit to act on kunit_shutdown=reboot, so the kit's initramfs
# makes the reset; -m 256 instead of 1024, which L1's 960 MB cannot give.
case_qemu_kunit() {
	run_command qemu-kunit "$(dirname "$B")/bulkhead-qemu" -nodefaults -m 256 -kernel "$KIT/bzImage" \
		-initrd "$KIT/initramfs.cpio.gz" \
		-append "kunit.enable=1 console=ttyS0 kunit_shutdown=reboot $BASE bulkhead.linux=reboot" \
		-no-reboot -nographic -accel kvm -accel hvf -accel tcg -serial stdio ''
}

img() { # path MiB
	rm -f "$1"
	dd if=/dev/zero of="$1" bs=1048576 count=0 seek="$2" 2>/dev/null
}

sha() { # file bytes: sha256 of the first bytes of file
	head -c "$2" "$1" | sha256sum | cut -d' ' -f1
}

case_blk_dd() {
	img "$OUT/dd.img" 16
	run_case blk-dd --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=blk-dd bulkhead.mib=8 bulkhead.seed=1" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=1 \
		--disk "path=$OUT/dd.img"
	echo "=== HOST blk-dd image-sha256 $(sha "$OUT/dd.img" 8388608)"
}

# The pid of the process titled bulkhead/VM/ROLE, or nothing.
# (One grep over every cmdline: a shell loop over /proc takes seconds in L1.)
role_pid() { # vm role
	f=$(grep -l -F -x -z "bulkhead/$1/$2" /proc/[0-9]*/cmdline 2>/dev/null | head -n 1)
	f=${f%/cmdline}
	[ -n "$f" ] && echo "${f#/proc/}"
}

# Kill bulkhead/VM/blk0 COUNT times, once after each EVERY more passes the
# guest reports (so that every kill meets a disk in use, however fast the
# guest runs):  === KILL vm blk0 PID after N passes
blk_killer() { # vm count every
	k=0
	want=$3
	i=0
	while [ $k -lt "$2" ] && [ $i -lt 3000 ] && [ ! -e "$OUT/$1.ended" ]; do
		done_=$(grep -c "blk-loop: pass .* ok" "$OUT/$1.out" 2>/dev/null)
		if [ "${done_:-0}" -ge $want ]; then
			pid=$(role_pid "$1" blk0)
			if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then
				echo "=== KILL $1 blk0 $pid after $done_ passes"
				k=$((k + 1))
				want=$((want + $3))
			fi
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

# blk-loop with --on-device-failure restart: bulkhead-blk is killed 3 times,
# after passes 2, 4 and 6 of 12, while Debian's kernel writes and checks the disk; the guest powers off.
case_blk_restart() {
	img "$OUT/restart.img" 8
	rm -f "$OUT/blk-restart.out" "$OUT/blk-restart.ended"
	blk_killer blk-restart 3 2 > "$OUT/blk-restart.kills" &
	run_case blk-restart --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=blk-loop bulkhead.mib=4 bulkhead.passes=12 bulkhead.seed=3" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2 \
		--disk "path=$OUT/restart.img" --on-device-failure restart
	touch "$OUT/blk-restart.ended"
	wait
	cat "$OUT/blk-restart.kills"
}

case_blk_ro() {
	img "$OUT/rw.img" 8
	img "$OUT/ro.img" 8
	printf 'read-only disk contents\n' | dd of="$OUT/ro.img" conv=notrunc 2>/dev/null
	before=$(sha "$OUT/ro.img" 8388608)
	run_case blk-ro --kernel "path=$KIT/vmlinux,cmdline=$BASE bulkhead.linux=blk-ro bulkhead.ro-disk=vdb" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2 \
		--disk "path=$OUT/rw.img" --disk "path=$OUT/ro.img,readonly=on,serial=ro0"
	echo "=== HOST blk-ro before $before after $(sha "$OUT/ro.img" 8388608)"
}

case_ext2() {
	img "$OUT/ext2.img" 32
	run_case ext2 --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=ext2 bulkhead.seed=5" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2 \
		--disk "path=$OUT/ext2.img"
}

# The host side of the TAP: bulkhead creates tap0 (we are root); give it the
# peer's address once it exists.
tap_peer() { # ifname
	i=0
	while [ ! -e "/sys/class/net/$1" ] && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	busybox ip addr add 10.0.2.2/24 dev "$1"
	busybox ip link set "$1" up
}

# The jail as /proc shows it while a VM (with a disk and a NIC) runs:
#   === JAIL vm role pid PID sup SUP
#   === JAILF vm role <Seccomp:, NoNewPrivs:, Cap*, Uid:, Gid: lines of status>
#   === JAILNS vm role ns child-link supervisor-link
#   === JAILFD vm role <fd numbers>
jail_report() { # vm-name roles...
	vm=$1
	shift
	i=0
	while [ $i -lt 600 ]; do
		found=""
		for d in /proc/[0-9]*; do
			t=$(tr '\0' '\n' < "$d/cmdline" 2>/dev/null | head -n 1)
			case "$t" in "bulkhead/$vm/"*) found="$found ${d#/proc/}:${t##*/}" ;; esac
		done
		[ "$(echo $found | wc -w)" -ge $# ] && break
		sleep 0.1
		i=$((i + 1))
	done
	for f in $found; do
		pid=${f%%:*}
		role=${f#*:}
		sup=$(grep '^PPid:' "/proc/$pid/status" | tr -s ' \t' ' ' | cut -d' ' -f2)
		echo "=== JAIL $vm $role pid $pid sup $sup"
		grep -E '^(Seccomp|NoNewPrivs|CapEff|CapPrm|CapBnd|Uid|Gid):' "/proc/$pid/status" |
			tr -s ' \t' ' ' | sed "s/^/=== JAILF $vm $role /"
		for ns in pid mnt net ipc uts; do
			echo "=== JAILNS $vm $role $ns $(readlink "/proc/$pid/ns/$ns") $(readlink "/proc/$sup/ns/$ns")"
		done
		echo "=== JAILFD $vm $role" $(ls "/proc/$pid/fd")
	done
}

case_net_ping() {
	img "$OUT/jail.img" 8
	tap_peer tap0 &
	jail_report net-ping vcpu serial blk0 net0 > "$OUT/net-ping.jail" &
	run_case net-ping --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=net-ping bulkhead.ip=10.0.2.15/24 bulkhead.peer=10.0.2.2" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=1 \
		--net tap=tap0,mac=52:54:00:12:34:56 --disk "path=$OUT/jail.img"
	wait
	cat "$OUT/net-ping.jail"
}

# net-tcp: the guest listens on 5001 and receives 8 MiB of pattern(2) from
# us, then sends 8 MiB of pattern(1) to our port 5002.
# busybox nc half-closes when its stdin ends and does not leave on the
# peer's half-close while its own stdin is open: the listener gets a stdin
# that stays open and is ended once the expected bytes are in.
net_tcp_peer() {
	sh "$PATTERN" 2 8388608 > "$OUT/tcp-to-guest.bin"
	: > "$OUT/tcp-from-guest.bin"
	rm -f "$OUT/hold"
	mkfifo "$OUT/hold"
	exec 7<>"$OUT/hold" # read-write: never data, never end of file
	busybox nc -l -p 5002 <&7 > "$OUT/tcp-from-guest.bin" &
	lpid=$!
	i=0
	while ! grep -q "net-tcp listening" "$OUT/net-tcp.out" 2>/dev/null && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	# bounded: if the guest goes away mid-transfer, nc would wait for TCP to give up
	timeout 120 busybox nc 10.0.2.15 5001 < "$OUT/tcp-to-guest.bin"
	i=0
	while [ "$(wc -c < "$OUT/tcp-from-guest.bin")" -lt 8388608 ] && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill $lpid 2>/dev/null
	wait
}

case_net_tcp() {
	rm -f "$OUT/net-tcp.out"
	(tap_peer tap0 && net_tcp_peer) &
	run_case net-tcp --kernel "path=$KIT/vmlinux,cmdline=$BASE bulkhead.linux=net-tcp bulkhead.ip=10.0.2.15/24 bulkhead.peer=10.0.2.2 bulkhead.mib=8 bulkhead.seed=1 bulkhead.rx-seed=2" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2 \
		--net tap=tap0
	wait
	echo "=== HOST net-tcp sent-sha256 $(sha "$OUT/tcp-to-guest.bin" 8388608) got-sha256 $(sha "$OUT/tcp-from-guest.bin" 8388608) got-bytes $(wc -c < "$OUT/tcp-from-guest.bin")"
}

# 9p-mount: a share holding the pattern of seed 3 (8 MiB) and a line of
# text; the guest checks them, writes the pattern of seed 4 back and makes a
# few things, which we then find here, owned by the jail's id.
case_p9_mount() {
	share=$OUT/p9share
	rm -rf "$share"
	mkdir -p "$share"
	chmod 777 "$share"
	sh "$PATTERN" 3 8388608 > "$share/data.bin"
	echo "hello from the host" > "$share/hello.txt"
	run_case 9p-mount --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=9p-mount bulkhead.mib=8 bulkhead.seed=3" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2 \
		--fs "path=$share,tag=share"
	back=$share/from-guest.bin
	echo "=== HOST 9p-mount data-sha256 $(sha "$share/data.bin" 8388608)" \
		"back-sha256 $(sha "$back" 8388608) back-bytes $(wc -c < "$back")" \
		"back-owner $(stat -c %u:%g "$back") back-mode $(stat -c %a "$back")" \
		"dir-owner $(stat -c %u:%g "$share/newdir") moved $(cat "$share/newdir/moved.txt")" \
		"link $(readlink "$share/link") hard-links $(stat -c %h "$share/hard")" \
		"gone $(test -e "$share/gone.txt" && echo present || echo absent)"
}

# 9p-root: a busybox root directory shared as tag rootfs; the kit's /init
# mounts it and switches root to it, and its own init (written here) says
# what / is, writes a file, and sets the verdict.
case_p9_root() {
	root=$OUT/p9root
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/sbin" "$root/dev" "$root/proc" "$root/sys" "$root/etc" "$root/var"
	cp "${BUSYBOX:-/bin/busybox}" "$root/bin/busybox"
	for a in sh cat dd echo grep printf sed stty tail uname poweroff; do
		ln -s busybox "$root/bin/$a"
	done
	chmod 777 "$root/var"
	echo "bulkhead 9p root" > "$root/etc/release"
	cat > "$root/sbin/init-9p" <<'INIT'
#!/bin/sh
export PATH=/bin
say() { echo "bulkhead-linux: $*"; }
root=$(grep ' / ' /proc/mounts | tail -n 1)
say "9p-root: / is: $root"
say "9p-root: $(cat /etc/release) on $(uname -r), init pid $$"
echo "written from the 9p root" > /var/written
case $root in
*" 9p "*) v='\000'; say "PASS 9p-root" ;;
*) v='\001'; say "FAIL 9p-root: / is not a 9p mount" ;;
esac
stty -F /dev/console "$(stty -F /dev/console -g)" 2>/dev/null
printf "$v" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
poweroff -f
INIT
	chmod 755 "$root/sbin/init-9p"
	run_case 9p-root --kernel "path=$KIT/vmlinux,cmdline=$BASE bulkhead.linux=9p-root bulkhead.p9-tag=rootfs" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=1 \
		--fs "path=$root,tag=rootfs"
	echo "=== HOST 9p-root written $(tr ' ' _ < "$root/var/written" 2>/dev/null || echo none)"
}

# rng: Debian's kernel picks virtio-rng (rng_current) and reads 64 KiB from /dev/hwrng.
case_rng() {
	run_case rng --kernel "path=$KIT/bzImage,cmdline=$BASE bulkhead.linux=rng" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=1 --rng
}

# vsock: 1 MiB host to guest through PATH and CONNECT 5001, then 1 MiB guest to host
# to our program at PATH_5000 (kit's vsock-tool at both ends: each answers the other's
# CRC-32). Our sender starts when the guest says it listens. Both are bounded by the
# case's own limit: a guest that never connects must not hold the harness.
vsock_peer() {
	timeout "${CASE_SECONDS:-240}" "$KIT/vsock-tool" host-sink "$OUT/v.sock_5000" \
		>"$OUT/vsock-sink.out" 2>&1 &
	i=0
	while ! grep -q "vsock: listening on 5001" "$OUT/vsock.out" 2>/dev/null && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	timeout 120 "$KIT/vsock-tool" host-send "$OUT/v.sock" 5001 1048576 11 >"$OUT/vsock-send.out" 2>&1
	echo "status $?" >>"$OUT/vsock-send.out"
	wait
}

case_vsock() {
	rm -f "$OUT/vsock.out" "$OUT/v.sock" "$OUT/v.sock_5000"
	vsock_peer &
	run_case vsock --kernel "path=$KIT/vmlinux,cmdline=$BASE bulkhead.linux=vsock" \
		--initrd "path=$KIT/initramfs.cpio.gz" --memory size_mib=256 --vcpus num=2 \
		--vsock "cid=3,uds=$OUT/v.sock"
	wait
	emit vsock host "$OUT/vsock-send.out"
	emit vsock host "$OUT/vsock-sink.out"
}

PATTERN=${PATTERN:-$(dirname "$0")/pattern.sh}
[ $# -gt 0 ] || set -- bz_smp2 bz_verbose pvh_info_file bz_cpu bz_poweroff power_button pvh_reboot blk_dd blk_restart blk_ro ext2 \
	net_ping net_tcp qemu_kunit \
	p9_mount p9_root rng vsock
for c in "$@"; do
	"case_$c"
done
echo "=== DONE"
