#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# Install, from Debian's archive, what building and testing bulkhead needs.
# Idempotent: when every package is present it does nothing (no apt-get run).
set -eu

PKGS="
build-essential
pkg-config
libelf-dev
libseccomp-dev
libcap-ng-dev
libcmocka-dev
libjansson-dev
python3-pytest
qemu-system-x86
busybox-static
linux-image-amd64
acpica-tools
cpio
xz-utils
zstd
gzip
iproute2
passwd
util-linux
strace
clang
libclang-rt-14-dev
gnuplot-nox
libhttp-parser-dev
libjansson-dev
curl
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: not root; install these packages first:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# One update per run, and only when something is missing.
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
