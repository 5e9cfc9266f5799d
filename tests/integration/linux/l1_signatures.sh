#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# L1's own failures told from bulkhead's (tests/nested/README.md, "A guest
# triple fault" and "When L1 itself fails"): sourced by cases.sh (the Linux
# tier) and by bench/linux_boot.sh (the bench's Linux figure), which run
# inside the nested tier's L1. Functions only, and KVM_TRACE; kvm_trace_init
# turns the trace on.

# In the nested tier's L1 only (a direct tier's host tracing is not ours to
# change): L1's KVM traces its exits and injections into a small ring, cleared
# before each case. A case that ends in a guest triple fault prints the ring's
# end as NAME|trace| lines: the shutdown exit's RIP and what each vCPU did
# just before (tests/nested/README.md, "A guest triple fault").
KVM_TRACE=/sys/kernel/tracing
kvm_trace_init() {
	[ -e /nested/cmd ] || return 0
	[ -d $KVM_TRACE/events/kvm ] || mount -t tracefs nodev $KVM_TRACE 2>/dev/null
	[ -d $KVM_TRACE/events/kvm ] || return 0
	echo 2048 > $KVM_TRACE/buffer_size_kb || return 0
	for e in kvm_exit kvm_inj_exception kvm_inj_virq kvm_page_fault kvm_pio kvm_msr; do
		echo 1 > $KVM_TRACE/events/kvm/$e/enable 2>/dev/null
	done
	KVM_TRACING=1
}

# Where L1's emulated SVM itself broke the guest (tests/nested/README.md, "A
# guest triple fault"), prints "=== L1-FAULT name ..."; the test then runs the
# case again in a new L1. The signatures are faults where the guest ran no
# instruction of its own since its last exit: the guest's RIP at the shutdown
# is in L1's own __svm_vcpu_run, the code after VMRUN; or the shutdown is at
# the very RIP where KVM resumed the vCPU after its previous exit, and what
# failed there is the first thing the CPU did: fetching that instruction (a
# fetch #PF, error code 0x10, or 0x18 with a reserved bit in the walk, that
# could not be delivered; the guest ran the
# instruction before it, on the same page, a moment earlier), or taking an
# external interrupt (through the IDT, stack and paging it had just used).
# svm_run_offset RIP: RIP's offset (0x...) in L1's own __svm_vcpu_run, or
# nothing when RIP is elsewhere (L1's symbols: $KALLSYMS, /proc/kallsyms).
svm_run_offset() { # rip
	sym=$( (grep -E '^[0-9a-f]{16} [tT] ' "${KALLSYMS:-/proc/kallsyms}"; echo "$1 t =====") |
		sort | grep -B1 ' =====$' | head -n 1)
	case $sym in
	*" __svm_vcpu_run"*) printf '0x%x' $((0x${1#????????} - 0x$(echo "${sym%% *}" | cut -c9-16))) ;;
	esac
}

l1_fault() { # name trace
	last=$(grep "reason shutdown" "$2" | tail -n 1)
	rip=$(echo "$last" | sed -n 's/.* rip 0x\([0-9a-f]\{16\}\) .*/\1/p')
	[ -n "$rip" ] || return 0
	off=$(svm_run_offset "$rip")
	if [ -n "$off" ]; then
		echo "=== L1-FAULT $1 the guest ran at $rip, L1's __svm_vcpu_run+$off (after VMRUN)"
		return 0
	fi
	vcpu=$(echo "$last" | sed -n 's/.*kvm_exit: vcpu \([0-9]*\) reason shutdown.*/\1/p')
	prev=$(grep "kvm_exit: vcpu $vcpu reason " "$2" | grep -B1 "reason shutdown" | head -n 1)
	why=$(echo "$prev" | sed -n 's/.* reason \([a-z_0-9]*\) rip .*/\1/p')
	prip=$(echo "$prev" | sed -n 's/.* rip 0x\([0-9a-f]\{16\}\) .*/\1/p')
	[ -n "$prip" ] || return 0
	# Where KVM resumed the vCPU: after the port access (the exit's next RIP),
	# after RDMSR/WRMSR (2 bytes; an x2APIC register, which L1's KVM handles
	# alone) or HLT (1 byte), after an emulated MMIO access, or where a host
	# interrupt stopped it.
	case $why in
	io) resumed=$(echo "$prev" | sed -n 's/.* info2 0x\([0-9a-f]\{16\}\) .*/\1/p') ;;
	msr) resumed=$(rip_plus "$prip" 2) ;;
	hlt) resumed=$(rip_plus "$prip" 1) ;;
	interrupt | vintr) resumed=$prip ;;
	npf)
		# an MMIO access KVM emulated: resumed after it, at most 15 bytes on
		# (an x86 instruction's limit), on the same page
		resumed=$prip
		if [ "${prip%???}" = "${rip%???}" ] &&
			[ $((0x${rip#?????????????} - 0x${prip#?????????????})) -ge 1 ] &&
			[ $((0x${rip#?????????????} - 0x${prip#?????????????})) -le 15 ]; then
			resumed=$rip
		fi
		;;
	*) return 0 ;;
	esac
	[ "$resumed" = "$rip" ] || return 0
	case $last in
	*"intr_info 0x80000b0e error_code 0x00000010"* | *"intr_info 0x80000b0e error_code 0x00000018"*)
		echo "=== L1-FAULT $1 the guest could not fetch $rip, where KVM resumed it after its $why exit"
		;;
	*"intr_info 0x800000"??" "*)
		echo "=== L1-FAULT $1 the guest could not take an interrupt at $rip, where KVM resumed it after its $why exit"
		;;
	esac
}

# L1's paging failing the guest's kernel where no device of bulkhead's can have
# touched its memory: before /init, which loads every virtio driver (all are
# modules in Debian's kernel), the kernel's page-fault handler faulted on its
# own read of its per-CPU area (%gs), over and over, until the #DF stack's
# guard page (the vsock case of a fresh-clone make check, 2026-12-07: at 2.3 s
# of the kernel's time, the per-CPU area inside guest RAM that the kernel had
# used since it started). bulkhead had written guest memory only before the
# guest's first instruction (kernel, initrd, boot tables), which every other
# boot of the same kit finds sound.
l1_early_df() { # name console...
	[ -e "${NESTED_CMD:-/nested/cmd}" ] || return 0 # only in L1: a direct tier's host has none
	n=$1
	shift
	for f in "$@"; do
		[ -e "$f" ] || continue
		grep -q "BUG: #DF stack guard page was hit" "$f" || continue
		grep -q "RIP: 0010:exc_page_fault+" "$f" || continue
		grep -q "bulkhead-linux: init started" "$f" && continue
		echo "=== L1-FAULT $n the guest's page-fault handler faulted on itself to its #DF stack's guard page before /init, before any device ran"
		return 0
	done
}

# RIP (16 hex digits) + N, where that stays within its low 32 bits; else nothing.
rip_plus() { # rip n
	low=$((0x${1#????????} + $2))
	[ $low -le $((0xffffffff)) ] || return 0
	printf '%s%08x\n' "${1%????????}" $low
}

# The same fault without an end: a case that reached its limit while every
# exit of the last second (at least 10) was an NPT fault at one RIP in L1's
# own __svm_vcpu_run, the guest never running an instruction of its own.
l1_hang() { # name hang-report
	exits=$(grep "kvm_exit: " "$2" | tail -n 30)
	[ "$(echo "$exits" | grep -c ' reason npf rip ')" -ge 10 ] || return 0
	[ "$(echo "$exits" | grep -vc ' reason npf rip ')" -eq 0 ] || return 0
	rips=$(echo "$exits" | sed -n 's/.* reason npf rip 0x\([0-9a-f]\{16\}\) .*/\1/p' | sort -u)
	[ "$(echo "$rips" | wc -l)" -eq 1 ] || return 0
	off=$(svm_run_offset "$rips")
	[ -n "$off" ] || return 0
	echo "=== L1-FAULT $1 the guest faulted on nested paging at $rips, L1's __svm_vcpu_run+$off (after VMRUN), until the case's limit"
}
