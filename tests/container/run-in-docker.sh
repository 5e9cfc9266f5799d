#!/bin/sh
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# run-in-docker.sh [PYTEST-ARG...]: the integration suites inside a default
# Docker container, as CI's docker executors run them: `docker run --device
# /dev/kvm` with Docker's default seccomp profile and capabilities, as the
# container's root. Tests that need what such a container forbids are skipped,
# each with a one-line reason (tests/integration/conftest.py, ENV_LIMITS), and
# VMs run with --jail no-namespaces, the jail the container allows.
#
# Needs a running Docker engine (DOCKER_HOST is honoured) and debootstrap
# (Debian: apt-get install docker.io debootstrap; scripts/deps.sh leaves them
# out, since make check does not use them);
# the image, Debian 12 with bulkhead's run-time and test packages, is made
# once (debootstrap + docker import) as $IMAGE. Run after `make all testhooks
# build/tests/dockerlike` from the top of the tree; the tree is mounted
# read-only at the same path. Not part of `make check`: the Docker-like
# model there is tests/container/dockerlike.c.
set -eu

IMAGE=${IMAGE:-bulkhead-test/deb12:latest}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PACKAGES=libelf1,libseccomp2,libcap-ng0,libjansson4,python3,python3-pytest,iproute2,util-linux,procps,make,gcc,libc6-dev,pkg-config,libseccomp-dev,libcap-ng-dev,libelf-dev,libjansson-dev
top=$(pwd)

[ -x build/bulkhead ] && [ -x build/tests/dockerlike ] ||
	{ echo "run-in-docker.sh: make all testhooks build/tests/dockerlike first" >&2; exit 2; }
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
	root=$(mktemp -d /var/tmp/bulkhead-deb12.XXXXXX)
	trap 'rm -rf "$root" "$root.log"' EXIT
	if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" \
		>"$root.log" 2>&1; then
		tail -n 5 "$root.log" >&2
		echo "run-in-docker.sh: debootstrap failed" >&2
		exit 1
	fi
	tar -C "$root" -c . | docker import - "$IMAGE" >/dev/null
	rm -rf "$root" "$root.log"
	trap - EXIT # exec below would skip it
fi
[ $# -gt 0 ] || set -- tests/integration/functional tests/integration/security
exec docker run --rm --device /dev/kvm -v "$top:$top:ro" -w "$top" "$IMAGE" \
	python3 -m pytest -q -p no:cacheprovider -rs "$@"
