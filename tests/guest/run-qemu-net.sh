#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# run-qemu-net.sh SCENARIO [ARG...]: run-qemu.sh in a network namespace of its
# own with NICS (1) TAPs tap0, tap1... (IPv6 off, so the host stack sends the
# guest nothing), each a virtio-net-device on QEMU's virtio-mmio transport,
# and the host peer (netpeer.py) serving them. Exits with QEMU's status; the
# peer's summary goes to stderr at the end. Needs root (ip netns, TAPs).
#
# Environment: NICS (1), PEER (1; 0: no peer), PYTHON (python3), and
# run-qemu.sh's (QEMU_EXTRA is kept and the NICs appended).
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 SCENARIO [ARG...]" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
nics=${NICS:-1}
ns=bhq-$$
log=$(mktemp)
peer=
# shellcheck disable=SC2317 # called from the trap
cleanup() {
	if [ -n "$peer" ]; then
		kill "$peer" 2>/dev/null || true
		wait "$peer" 2>/dev/null || true
		sed 's/^/run-qemu-net: /' "$log" >&2
	fi
	ip netns del "$ns" 2>/dev/null || true
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
extra=
taps=
i=0
while [ "$i" -lt "$nics" ]; do
	ip netns exec "$ns" ip tuntap add dev "tap$i" mode tap vnet_hdr
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.tap$i.disable_ipv6=1"
	ip netns exec "$ns" ip link set "tap$i" up
	extra="$extra -netdev tap,id=n$i,ifname=tap$i,script=no,downscript=no,vhost=off -device virtio-net-device,netdev=n$i"
	taps="$taps tap$i"
	i=$((i + 1))
done
if [ "${PEER:-1}" = 1 ]; then
	# shellcheck disable=SC2086
	"$python" "$here/netpeer.py" --netns "$ns" $taps 2>"$log" &
	peer=$!
	n=0
	while ! grep -q "netpeer: serving" "$log"; do
		n=$((n + 1))
		if [ "$n" -gt 100 ] || ! kill -0 "$peer" 2>/dev/null; then
			echo "$0: the host peer did not start" >&2
			exit 2
		fi
		sleep 0.05
	done
fi
status=0
ip netns exec "$ns" env QEMU_EXTRA="${QEMU_EXTRA:-}$extra" "$here/run-qemu.sh" "$@" || status=$?
exit $status
