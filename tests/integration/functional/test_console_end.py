# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""However the VM ends, every console byte the guest wrote comes out first
(docs/architecture.md, "Register shadow"): the UART's THR writes the vcpu
process holds are sent to bulkhead-serial before the supervisor stops it.

The test build's BULKHEAD_TEST_HOLD_MS=60000 keeps held writes for up to a
minute instead of 4 ms, so the guest's last bytes (console-end's last line has
no newline, and fewer bytes than a full batch of held writes follow the last
batch sent) are certainly still held when the VM ends: only the flush at the
end can deliver them."""
import os
import signal
import time

import pytest

from conftest import BUILD, GUEST_PASS, guest_args

HOOKED = os.path.join(BUILD, "testhooks", "bulkhead")
TAG = "bulkhead-test-guest: "
LINES = 40


def start(vm_factory, end, extra=(), **env_extra):
    env = dict(os.environ, BULKHEAD_TEST_HOLD_MS="60000", **env_extra)
    args = guest_args("console-end", "bulkhead.lines=%d bulkhead.end=%s" % (LINES, end))
    return vm_factory(args + list(extra), exe=HOOKED, env=env)


def assert_whole(vm, end):
    for i in range(1, LINES + 1):
        assert "%sconsole-end: line %d of %d, then the end\n" % (TAG, i, LINES) in vm.stdout, \
            vm.explain()
    assert vm.stdout.endswith("%sconsole-end: the last bytes before the end (%s)" % (TAG, end)), \
        vm.explain()


@pytest.mark.parametrize("end,status,says", [
    ("triple", 0, "guest triple fault (vcpu0); exit status 0"),
    ("reset", 0, "guest reset through the i8042 (vcpu0); exit status 0"),
    ("exit", GUEST_PASS, "guest wrote 0 to the debug-exit port (vcpu0); exit status 1"),
])
def test_guest_end_delivers_last_bytes(vm_factory, end, status, says):
    """The guest ends the VM itself right after writing."""
    vm = start(vm_factory, end)
    assert vm.wait() == status, vm.explain()
    assert says in vm.stderr, vm.explain()
    assert_whole(vm, end)


def test_device_death_delivers_last_bytes(vm_factory, tmp_path):
    """The guest's register write kills bulkhead-blk (the test hook): the supervisor ends
    the VM (status 4) while the vcpu process still holds the last bytes."""
    img = tmp_path / "d.img"
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    vm = start(vm_factory, "device", ["--disk", "path=%s" % img], BULKHEAD_TEST_FAULT="blk0:socket")
    assert vm.wait() == 4, vm.explain()
    assert "blk0" in vm.stderr and "killed by seccomp" in vm.stderr, vm.explain()
    assert_whole(vm, "device")


def test_signal_delivers_last_bytes(vm_factory):
    """The guest halts after writing; SIGTERM ends the VM (status 143)."""
    vm = start(vm_factory, "halt")
    vm.read_until(("console-end: line %d of %d, then the end\n" % (LINES, LINES)).encode())
    time.sleep(0.3)  # the guest has written its last bytes and halted
    vm.proc.send_signal(signal.SIGTERM)
    assert vm.wait() == 128 + signal.SIGTERM, vm.explain()
    assert "stopped by SIGTERM" in vm.stderr, vm.explain()
    assert_whole(vm, "halt")
