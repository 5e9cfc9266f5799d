# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""virtio-rng (--rng) under the test guest: random bytes that are not
constant and do not compress, the hostile chains refused or completed empty
with the device working again after a reset, the token bucket of rate=, and
a bulkhead-rng process that holds nothing but its memory, channels and
eventfds (it reads getrandom(2), not a file)."""
import os
import re
import signal
import time

import pytest

from conftest import (BUILD, GUEST_PASS, assert_holds_no_path, assert_usage_error, guest_args,
                      vm_processes)


def assert_pass(vm, status, scenario):
    assert status == GUEST_PASS, vm.explain()
    assert "bulkhead-test-guest: PASS %s" % scenario in vm.stdout, vm.explain()
    assert not re.search(r"\(pid \d+\) (was killed|exited|died)", vm.stderr), vm.explain()


def test_rng_read(vm_factory, guest):
    """256 KiB: every byte value, a chi-square near 255, nothing a compressor could use."""
    vm = vm_factory(guest_args("rng-read", "bulkhead.bytes=262144") + ["--rng"])
    assert_pass(vm, vm.wait(60), "rng-read")
    m = re.search(r"rng-read: (\d+) distinct byte values, chi-square (\d+)\.\d+ .*cover (\d+) bytes",
                  vm.stdout)
    assert m, vm.explain()
    assert int(m.group(1)) == 256 and int(m.group(2)) < 400 and int(m.group(3)) < 2621, vm.explain()


def test_rng_read_small_requests(vm_factory, guest):
    """Requests of 1 and 7 bytes each get exactly what they asked for."""
    for chunk in (1, 7):
        vm = vm_factory(guest_args("rng-read", "bulkhead.bytes=4096 bulkhead.chunk=%d" % chunk)
                        + ["--rng"])
        assert_pass(vm, vm.wait(60), "rng-read")
        assert "in %d requests" % -(-4096 // chunk) in vm.stdout, vm.explain()


def test_rng_hostile(vm_factory, guest):
    """Read-only and zero-length chains, chains beyond or across the end of RAM, a huge
    buffer, a loop and an avail index jump: each refused (NEEDS_RESET) or completed with
    nothing written where the device may not write, and 64 bytes read after a reset."""
    vm = vm_factory(guest_args("rng-hostile") + ["--rng"])
    assert_pass(vm, vm.wait(60), "rng-hostile")
    assert "rng-hostile: 8 passed, 0 failed" in vm.stdout, vm.explain()
    assert "rng-hostile: read-only: one device-readable buffer ... ok (empty)" in vm.stdout
    assert "rng-hostile: huge: one 8 MiB buffer ... ok (filled) 65536 of 8388608 bytes" in vm.stdout


def test_rng_rate(vm_factory, guest):
    """rate=20000: the bucket holds 20000 bytes, so 60000 take 2 s more."""
    vm = vm_factory(guest_args("rng-read", "bulkhead.bytes=60000 bulkhead.max-rate=20000")
                    + ["--rng", "rate=20000"])
    assert_pass(vm, vm.wait(60), "rng-read")
    us = int(re.search(r"rng-read: 60000 bytes in \d+ requests, (\d+) us", vm.stdout).group(1))
    assert 1900000 <= us <= 4000000, vm.explain()


def test_rng_holds_no_path(vm_factory, guest):
    """While it serves a slow guest, bulkhead-rng's fds are sockets, eventfds, its epoll,
    the timerfd and memfds (and stderr, the test's pipe): no file of the host."""
    vm = vm_factory(guest_args("rng-read", "bulkhead.bytes=3000 bulkhead.chunk=1000")
                    + ["--rng", "rate=1000"])
    pid = vm.wait_children(["rng"])["rng"]
    time.sleep(0.5)
    assert "anon_inode:[timerfd]" in assert_holds_no_path(pid)
    assert_pass(vm, vm.wait(60), "rng-read")


@pytest.mark.parametrize("args,message", [
    (["--rng", "rate=0"], "--rng: rate=0: must be at least 1"),
    (["--rng", "speed=1"], "--rng: unknown key 'speed' (known: rate)"),
    (["--rng", "rate=1099511627777"], "--rng: rate=1099511627777: at most 1099511627776"),
])
def test_rng_config_errors(guest, args, message):
    assert_usage_error(args, message)


def test_rng_repeated_and_in_config(vm_factory, guest, tmp_path):
    """--rng may come alone, last or in a --config line; a second one replaces the first."""
    cfg = tmp_path / "vm.cfg"
    cfg.write_text("rng rate=5\nrng\n")
    vm = vm_factory(guest_args("rng-read", "bulkhead.bytes=65536") + ["--config", str(cfg)])
    assert_pass(vm, vm.wait(60), "rng-read")
    assert not vm_processes(vm.name)


def test_rng_restarts(vm_factory, guest):
    """--on-device-failure restart: bulkhead-rng is killed 5 times while the guest reads
    (its queue in flight each time); each replacement goes on from the used index the
    dead one left and the guest gets every byte it asked for."""
    env = dict(os.environ, BULKHEAD_TEST_RESTART_WINDOW_MS="1000")
    vm = vm_factory(guest_args("rng-read", "bulkhead.bytes=6291456 bulkhead.chunk=4096")
                    + ["--pit", "off", "--rng", "rate=524288", "--on-device-failure", "restart"],
                    exe=os.path.join(BUILD, "testhooks", "bulkhead"), env=env)
    killed = []
    time.sleep(0.3)
    while len(killed) < 5 and vm.proc.poll() is None:
        pid = vm_processes(vm.name).get("rng")
        if pid and pid not in killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            time.sleep(0.5)
        else:
            time.sleep(0.01)
    status = vm.wait(120)
    assert status == GUEST_PASS, vm.explain()
    assert "bulkhead-test-guest: PASS rng-read" in vm.stdout, vm.explain()
    assert len(killed) == 5, vm.explain()
    assert len(re.findall(r"^bulkhead: rng \(pid \d+\) .*; restarting it", vm.stderr, re.M)) == 5, \
        vm.explain()
