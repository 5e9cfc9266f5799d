#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# run-fuzz.sh run|check SECONDS FUZZDIR JOBS TARGET...
#
# Runs each libFuzzer target FUZZDIR/TARGET for SECONDS over a scratch copy
# of its corpus (FUZZDIR/work/TARGET/corpus, seeded from FUZZDIR/corpus/TARGET),
# JOBS targets at a time, then prints one line per target: executions,
# executions per second, coverage (libFuzzer's cov: edges and ft: features
# from its final status line), corpus size and the result. Crash, leak and
# timeout inputs land in FUZZDIR/work/TARGET/artifacts/. "check" exits 1
# if any target found anything; "run" too, after the table. FUZZ_KEEP=1 in
# the environment goes on from the corpus the last run left (plus the seeds).
#
# The fuzz_proc_* targets start jailed device processes: without root they
# are skipped (BH_PROCFUZZ_JAIL=off runs them without the jail).
set -u

mode=$1
secs=$2
dir=$3
jobs=$4
shift 4

case $mode in
run) timeout=10 ;;
check) timeout=5 ;;
*) echo "run-fuzz.sh: mode run or check" >&2; exit 2 ;;
esac

one() {
	t=$1
	w=$dir/work/$t
	if [ "${t#fuzz_proc_}" != "$t" ] && [ "$(id -u)" != 0 ] && [ "${BH_PROCFUZZ_JAIL:-on}" != off ]; then
		echo skipped >"$w.result"
		return 0
	fi
	# FUZZ_KEEP=1 (make fuzz FUZZ_KEEP=1): go on from the corpus the last run grew
	[ "${FUZZ_KEEP:-0}" = 1 ] || rm -rf "$w/corpus"
	rm -rf "$w/artifacts"
	mkdir -p "$w/corpus" "$w/artifacts"
	[ -d "$dir/corpus/$t" ] && cp "$dir/corpus/$t/"* "$w/corpus/" 2>/dev/null
	# -timeout: a device that spins on one input is a finding; -rss_limit_mb: room for ASan;
	# kernel images (the test guest seed) are larger than any other input
	maxlen=65536
	[ "$t" = fuzz_loader ] && maxlen=300000
	"$dir/$t" -max_total_time="$secs" -print_final_stats=1 -timeout="$timeout" -rss_limit_mb=4096 \
		-max_len="$maxlen" -artifact_prefix="$w/artifacts/" -close_fd_mask=1 \
		"$w/corpus" >"$w.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then echo ok >"$w.result"; else echo "FOUND (exit $rc)" >"$w.result"; fi
}

mkdir -p "$dir/work"
running=0
for t in "$@"; do
	echo "  FUZZ    $t (${secs}s)"
	one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

fail=0
printf '\n%-20s %10s %9s %7s %8s %7s  %s\n' target execs exec/s cov ft corpus result
for t in "$@"; do
	w=$dir/work/$t
	r=$(cat "$w.result" 2>/dev/null || echo missing)
	if [ "$r" = skipped ]; then
		printf '%-20s %10s %9s %7s %8s %7s  %s\n' "$t" - - - - - "skipped (needs root)"
		continue
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w.log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$w.log" | tail -1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$w.log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	printf '%-20s %10s %9s %7s %8s %7s  %s\n' "$t" "${execs:--}" "${eps:--}" "${cov:--}" "${ft:--}" \
		"${corp:--}" "$r"
	case $r in ok) ;; *)
		fail=1
		echo "    log: $w.log" >&2
		grep -E 'invariant broken|ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error|Test unit written' \
			"$w.log" | head -5 | sed 's/^/    /' >&2
		;;
	esac
done
exit $fail
