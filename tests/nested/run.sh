#!/bin/bash
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# run.sh [OPTIONS] -- COMMAND [ARG...]: run COMMAND inside L1, a QEMU TCG
# machine with an emulated AMD SVM CPU whose Debian kernel gets a real
# /dev/kvm from kvm-amd (README.md beside this file), and exit with COMMAND's
# status: the first NESTED-RESULT status=N line L1 prints.
#   124  timeout (--timeout on the host, or the command's limit inside L1)
#   125  harness failure: no NESTED-RESULT line (L1 failed to boot, had no
#        /dev/kvm, ...); the log path and any NESTED-FAIL line are printed
#   2    bad usage
# Paths in COMMAND are L1 paths: /bulkhead/bulkhead (and its helpers), /kit/
# (the L2 kit), /usr/bin/qemu-system-x86_64 (with WITH_QEMU=1).
#
# Options:
#   --timeout S        host limit for the whole L1 run (default 300); the
#                      command itself is killed inside L1 after S-20 s (at
#                      least S/2), so L1 still reports what happened
#   --file SRC:DEST    also put host file SRC at DEST inside L1 (repeatable)
#   --quiet            do not copy the L1 console to stdout (the log has it)
#
# Environment: O (build directory, default build/), NESTED_LOG (console log,
# default $O/nested/console.log), WITH_QEMU=1 (put QEMU into L1 for QEMU as
# the L2 VMM), KIT, KIT_FILES, KVER (see build-l1.sh), KIT_ALL=1 (boot every
# kit file, also big ones the command does not name), QEMU (host QEMU, and
# the one WITH_QEMU=1 puts into L1), L1_QEMU (the emulator that runs L1;
# default QEMU),
# L1_KERNEL (default build-l1.sh's l1-vmlinux, else /boot/vmlinuz-<kver>),
# L1_MEM (MiB, 1024), L1_SMP (2), L1_CPU (EPYC,+svm), L1_ACCEL (tcg; e.g.
# tcg,thread=single), L1_APPEND (more L1 kernel parameters).
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
export O

usage() {
	echo "usage: $0 [--timeout S] [--file SRC:DEST]... [--quiet] -- COMMAND [ARG...]" >&2
	exit 2
}

timeout_s=300
quiet=0
files=()
while [ $# -gt 0 ]; do
	case $1 in
	--timeout)
		[ $# -ge 2 ] || usage
		timeout_s=$2
		shift 2
		;;
	--timeout=*)
		timeout_s=${1#*=}
		shift
		;;
	--file)
		[ $# -ge 2 ] || usage
		files+=("$2")
		shift 2
		;;
	--quiet)
		quiet=1
		shift
		;;
	--)
		shift
		break
		;;
	*) usage ;;
	esac
done
[ $# -ge 1 ] || usage
case $timeout_s in
'' | *[!0-9]* | 0) echo "run.sh: --timeout wants a positive number of seconds, not '$timeout_s'" >&2; exit 2 ;;
esac

nested=$O/nested
mkdir -p "$nested"
log=${NESTED_LOG:-$nested/console.log}
qemu=${L1_QEMU:-${QEMU:-qemu-system-x86_64}}
command -v "$qemu" >/dev/null || { echo "run.sh: no $qemu on the host (apt-get install qemu-system-x86)" >&2; exit 125; }

t0=$EPOCHREALTIME
"$here/build-l1.sh" "$nested" || { echo "run.sh: build-l1.sh failed" >&2; exit 125; }
if [ -n "${L1_KERNEL:-}" ]; then
	kernel=$L1_KERNEL
elif [ -f "$nested/l1-vmlinux" ]; then
	kernel=$nested/l1-vmlinux
else
	kernel=/boot/vmlinuz-$(cat "$nested/l1.kver")
fi
[ -r "$kernel" ] || { echo "run.sh: cannot read the L1 kernel $kernel" >&2; exit 125; }

tmp=$(mktemp -d "$nested/run.XXXXXX")
qpid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -n "$qpid" ] && kill -TERM "$qpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT
trap 'echo "run.sh: terminated" >&2; exit 143' TERM

# The run's own small archive, appended to l1.cpio.gz: /nested/cmd (COMMAND,
# quoted for sh), /nested/timeout and the --file files.
r=$tmp/root
mkdir -p "$r/nested"
q=
for a in "$@"; do
	q="$q '${a//\'/\'\\\'\'}'"
done
printf '#!/bin/sh\nexec%s\n' "$q" >"$r/nested/cmd"
chmod 0755 "$r/nested/cmd"
inner=$((timeout_s - 20))
[ $inner -ge $((timeout_s / 2)) ] || inner=$((timeout_s / 2))
[ $inner -ge 1 ] || inner=1
echo "$inner" >"$r/nested/timeout"
for f in ${files[@]+"${files[@]}"}; do
	src=${f%%:*}
	dst=${f#*:}
	case $dst in
	/*) ;;
	*) echo "run.sh: --file $f: DEST must be an absolute L1 path" >&2; exit 2 ;;
	esac
	[ -r "$src" ] || { echo "run.sh: --file $f: cannot read $src" >&2; exit 2; }
	mkdir -p "$r$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$r$dst"
done
(cd "$r" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$tmp/run.cpio.gz"
# L1's initrd: the parts of l1.cpio.gz (build-l1.sh), without the big kit
# files (part kit-NAME) that no argument of COMMAND names as /kit/NAME (all
# of them with KIT_ALL=1), then the run's archive.
use=()
read -r -a all_parts <"$nested/l1.parts"
for p in "${all_parts[@]}"; do
	case $p in
	kit-*)
		want=0
		[ "${KIT_ALL:-0}" = 1 ] && want=1
		for a in "$@"; do
			case $a in *"/kit/${p#kit-}"*) want=1 ;; esac
		done
		[ $want = 1 ] || continue
		;;
	esac
	use+=("$nested/parts/$p.cpio.gz")
done
cat "${use[@]}" "$tmp/run.cpio.gz" >"$tmp/initrd"

# q35, not microvm: microvm gives a TCG guest no clock to calibrate the TSC
# against (no PIT speaker gate, HPET or ACPI PM timer; kvmclock needs KVM), so
# Debian's kernel hangs early unless told tsc_early_khz=, and it boots no
# faster. SeaBIOS takes ~0.5 s; the PVH vmlinux skips its real-mode loader.
set -- "$qemu" -accel "${L1_ACCEL:-tcg}" -cpu "${L1_CPU:-EPYC,+svm}" -m "${L1_MEM:-1024}" -smp "${L1_SMP:-2}" \
	-M q35 -nodefaults -no-user-config -display none -no-reboot -serial stdio \
	-name l1,debug-threads=on -kernel "$kernel" -initrd "$tmp/initrd" \
	-append "console=ttyS0 panic=-1 quiet nohz=off ${L1_APPEND:-}"
echo "run.sh: $*" >&2

mkfifo "$tmp/out"
t1=$EPOCHREALTIME
timeout -k 5 "$timeout_s" "$@" </dev/null >"$tmp/out" 2>&1 &
qpid=$!

# L1's emulated CPUs can halt for good, their timer lost (README, "When L1
# itself fails"): nothing inside L1 then ends its command, and the run would
# wait for --timeout. L1 ticks periodically (nohz=off), so each of its CPUs
# runs at least every few milliseconds; a CPU whose QEMU thread (named
# "CPU N/TCG" by debug-threads) neither ran nor woke for L1_STALL_S seconds
# is halted for good, and the run ends at once (status 124, saying which).
cpu_figures() { # qemu-pid: "tid:cpu-ticks:context-switches" of each vCPU thread
	local t
	for t in /proc/"$1"/task/*; do
		case $(cat "$t/comm" 2>/dev/null) in
		CPU\ */TCG) ;;
		*) continue ;;
		esac
		echo "${t##*/}:$(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null):$(awk \
			'/ctxt_switches/ { n += $2 } END { print n }' "$t/status" 2>/dev/null)"
	done
}
watch_cpus() { # timeout-pid
	local q='' last='' now='' since=$SECONDS f
	while kill -0 "$1" 2>/dev/null; do
		sleep 5
		[ -n "$q" ] || q=$(pgrep -P "$1" | head -n 1)
		[ -n "$q" ] || continue
		now=" $(cpu_figures "$q" | tr '\n' ' ')"
		for f in $now; do
			case "$last" in
			*" $f "*) ;;
			*) continue ;;
			esac
			if [ $((SECONDS - since)) -ge "${L1_STALL_S:-60}" ]; then
				echo "L1's CPU thread ${f%%:*} (QEMU pid $q) neither ran nor woke for ${L1_STALL_S:-60} s: halted for good" >"$tmp/stalled"
				kill -KILL "$q"
				return
			fi
			continue 2
		done
		last=$now
		since=$SECONDS
	done
}
watch_cpus "$qpid" &
wpid=$!

# Copy the console to the log (and stdout), noting when the markers appear.
: >"$log"
t_kvm='' up_kvm='' t_res='' status='' fail=''
while IFS= read -r line || [ -n "$line" ]; do
	printf '%s\n' "$line" >>"$log"
	if [ $quiet = 0 ]; then
		case $line in
		# QEMU lists the EPYC features TCG lacks at every start; the log keeps them.
		*"warning: TCG doesn't support requested feature"*) ;;
		*) printf '%s\n' "$line" ;;
		esac
	fi
	line=${line%$'\r'}
	case $line in
	NESTED-KVM-READY*)
		[ -n "$t_kvm" ] || t_kvm=$EPOCHREALTIME
		up_kvm=${line#*uptime=}
		up_kvm=${up_kvm%% *}
		;;
	NESTED-RESULT\ status=*)
		if [ -z "$status" ]; then
			t_res=$EPOCHREALTIME
			status=${line#NESTED-RESULT status=}
			status=${status%% *}
		fi
		;;
	NESTED-FAIL:*) [ -n "$fail" ] || fail=$line ;;
	esac
done <"$tmp/out"
wait "$qpid"
qstatus=$?
qpid=
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
t2=$EPOCHREALTIME

secs() { # FROM TO
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}
summary="L1 built in $(secs "$t0" "$t1") s"
[ -n "$t_kvm" ] && summary="$summary; /dev/kvm ready $(secs "$t1" "$t_kvm") s after launch (L1 uptime $up_kvm s)"
[ -n "$t_res" ] && summary="$summary; result $(secs "$t1" "$t_res") s after launch"
summary="$summary; QEMU ran $(secs "$t1" "$t2") s (status $qstatus)"
echo "run.sh: $summary" >&2

case $status in
'' | *[!0-9]*) ;;
*)
	echo "run.sh: NESTED-RESULT status=$status (console log: $log)" >&2
	exit "$status"
	;;
esac
if [ -s "$tmp/stalled" ]; then
	echo "run.sh: $(cat "$tmp/stalled") (console log: $log)" >&2
	exit 124
fi
if [ $qstatus = 124 ] || [ $qstatus = 137 ]; then
	echo "run.sh: timeout: L1 did not finish within $timeout_s s (console log: $log)" >&2
	exit 124
fi
[ -n "$fail" ] && echo "run.sh: ${fail%$'\r'}" >&2
echo "run.sh: harness failure: no NESTED-RESULT line; QEMU exited with status $qstatus (console log: $log)" >&2
exit 125
