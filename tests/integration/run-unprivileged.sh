#!/bin/bash
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# The functional and security suites again, with bulkhead run by an
# unprivileged user who may open /dev/kvm (as Debian sets it up: group kvm,
# mode 0660). The tests stay root to make namespaces and TAPs (created for
# the user, as an administrator would) and to inspect processes; bulkhead
# gets no privilege and builds its jail in a user namespace.
# Run as root from the top of the tree after make all testhooks.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin # useradd, usermod, groupadd

user=bulkhead-test
build=${BULKHEAD_BUILD:-build}
[ "$(id -u)" = 0 ] || { echo "run-unprivileged.sh: needs root" >&2; exit 1; }

if ! id "$user" >/dev/null 2>&1; then
	useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$user"
fi
getent group kvm >/dev/null || groupadd --system kvm
usermod -a -G kvm "$user"

# The user must reach the binaries; a clone under /root would not do.
top=$(mktemp -d /var/tmp/bulkhead-unpriv.XXXXXX)
kvm_owner=$(stat -c %u:%g /dev/kvm)
kvm_mode=$(stat -c %a /dev/kvm)
cleanup() {
	chown "$kvm_owner" /dev/kvm
	chmod "$kvm_mode" /dev/kvm
	rm -rf "$top"
}
trap cleanup EXIT
mkdir -p "$top/build/guest" "$top/build/testhooks"
cp "$build"/bulkhead "$build"/bulkhead-* "$top/build/"
cp "$build"/guest/bulkhead-test-guest "$top/build/guest/"
cp "$build"/testhooks/bulkhead "$build"/testhooks/bulkhead-* "$top/build/testhooks/"
chmod -R a+rX "$top"
chgrp kvm /dev/kvm
chmod g+rw /dev/kvm

BULKHEAD_BUILD=$top/build BULKHEAD_TEST_USER=$user \
	/usr/bin/python3 -m pytest -q -m "not root_only" "$@" \
	tests/integration/functional/test_core.py \
	tests/integration/functional/test_blk.py \
	tests/integration/functional/test_blk_config.py \
	tests/integration/functional/test_net_guest.py \
	tests/integration/functional/test_net_config.py \
	tests/integration/functional/test_9p.py \
	tests/integration/functional/test_api.py \
	tests/integration/security/test_jail.py \
	tests/integration/security/test_probe.py
