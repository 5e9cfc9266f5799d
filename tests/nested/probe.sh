#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# probe.sh: decide how the Linux test tier runs on this host and print one
# line that says which and why:
#   exit 0  "direct: ..."  the host's KVM runs a stock Linux kernel
#                          (kvm_intel or kvm_amd loaded, /dev/kvm usable,
#                          no kvm_pvm): run bulkhead on the host
#   exit 1  "nested: ..."  anything else: run bulkhead inside L1, a QEMU TCG
#                          machine with an emulated SVM CPU (tests/nested/run.sh)
# BULKHEAD_LINUX_TIER=direct|nested forces the answer (the line says so).
# A missing QEMU (which the nested tier needs) is reported on stderr.
set -u

mod() {
	[ -d "/sys/module/$1" ]
}

nested() {
	echo "nested: $*; booting Linux inside QEMU TCG with an emulated SVM CPU (tests/nested/run.sh)"
	if ! command -v "${QEMU:-qemu-system-x86_64}" >/dev/null 2>&1; then
		echo "probe.sh: warning: the nested tier needs ${QEMU:-qemu-system-x86_64}, which is not installed (apt-get install qemu-system-x86)" >&2
	fi
	exit 1
}

direct() {
	echo "direct: $*; booting Linux with bulkhead on this host's KVM"
	exit 0
}

case ${BULKHEAD_LINUX_TIER:-} in
direct) direct "forced by BULKHEAD_LINUX_TIER=direct" ;;
nested) nested "forced by BULKHEAD_LINUX_TIER=nested" ;;
'') ;;
*)
	echo "probe.sh: BULKHEAD_LINUX_TIER must be direct or nested, not '$BULKHEAD_LINUX_TIER'" >&2
	;;
esac

if [ "$(uname -m)" != x86_64 ]; then
	nested "the host is $(uname -m), not x86_64"
fi
if mod kvm_pvm; then
	nested "/dev/kvm is kvm_pvm, which cannot run a stock Linux kernel (KVM-HERE.md)"
fi
if [ ! -e /dev/kvm ]; then
	nested "there is no /dev/kvm"
fi
hw=
mod kvm_intel && hw=kvm_intel
mod kvm_amd && hw=${hw:+$hw and }kvm_amd
if [ -z "$hw" ]; then
	loaded=
	for m in /sys/module/kvm*; do
		[ -d "$m" ] && loaded="$loaded ${m##*/}"
	done
	nested "/dev/kvm exists but neither kvm_intel nor kvm_amd is loaded (kvm modules:${loaded:- none})"
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	nested "$hw is loaded but /dev/kvm is not readable and writable by $(id -un) (join the kvm group)"
fi
direct "$hw is loaded and /dev/kvm is usable"
