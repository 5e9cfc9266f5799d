#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# check-insns.sh IMAGE: fail if the test guest's code contains an instruction
# that the project's KVM cannot run in ring 0 (KVM-HERE.md) or that the guest
# must never use: breakpoints and software interrupts, fast system calls,
# x87/SSE/AVX, xsave, hypercalls, and the BMI/ADX/CRC32/POPCNT family. The
# code is .text plus the interrupt stubs (the first page of .boot.fixed; the
# rest of that section is tables).
set -eu
img=$1
bad='^(int3|int|into|sysenter|syscall|popcnt|lzcnt|tzcnt|rdtscp|cmpxchg16b|crc32[bwlq]?|xsave[a-z0-9]*|xrstor[a-z0-9]*|xgetbv|vmcall|vmmcall|vmfunc|monitor|mwait|andn|bextr|blsi|blsmsk|blsr|bzhi|pdep|pext|mulx|rorx|sarx|shlx|shrx|adcx|adox|invpcid|clwb|stac|clac|aes[a-z]*|pclmul[a-z]*|f[a-z0-9]*|p[a-z0-9]*|v[a-z0-9]*|[a-z0-9]*(ps|pd|ss|sd))$'
{
	objdump -d --no-show-raw-insn -j .text "$img"
	objdump -d --no-show-raw-insn -j .boot.fixed --start-address=0x100000 --stop-address=0x101000 "$img"
} | awk -F'\t' -v bad="$bad" '
	NF >= 2 && $1 ~ /^ *[0-9a-f]+:$/ {
		ins = $2; sub(/#.*/, "", ins)
		n = split(ins, w, /[ ,]+/)
		m = w[1]
		if (m ~ /^(rep|repz|repnz|repe|repne|lock|data16|addr32|notrack|bnd|cs|ds|es|ss)$/ && n > 1) m = w[2]
		if ((m ~ bad && m !~ /^(pause|push[qwl]?|pushf[qwl]?|pop[qwl]?|popf[qwl]?|fxsave|fxrstor)$/) || ins ~ /%([xyz]mm[0-9]|st)/) {
			print $1 "\t" ins; found = 1
		}
	}
	END { exit found }' >"$img.bad" || {
	echo "check-insns: $img has instructions the test guest must not use:" >&2
	head -20 "$img.bad" >&2
	rm -f "$img.bad"
	exit 1
}
rm -f "$img.bad"
