# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""A device process that stops serving its channel (SIGSTOP: a stuck or
compromised device) ends the VM within its deadline, named, with status 4:
bulkhead-vcpu waits for no device without a deadline, and the supervisor kills
the stuck process instead of waiting for it to stop. BULKHEAD_FROZEN_RUNS=N
repeats each case N times (the figure in docs/security.md is 10)."""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import EXIT_VM_FAILED, guest_args, vm_processes

RUNS = int(os.environ.get("BULKHEAD_FROZEN_RUNS", "1"))
DEADLINE = 5.0  # IPC_DEADLINE_MS
SLACK = 1.0  # the bound is 6 s from the freeze to bulkhead's exit


def image(path, size=1 << 20):
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


@pytest.mark.parametrize("op,what", [
    ("write", r"blk0 did not drain its channel within the deadline .*register write at offset 0x30"),
    ("read", r"blk0 did not answer within the deadline .*register read at offset 0x34"),
])
@pytest.mark.parametrize("run", range(RUNS))
def test_stopped_device_ends_the_vm_named(vm_factory, tmp_path, op, what, run):
    args = guest_args("mmio-loop", "bulkhead.mmio-op=" + op) + \
        ["--pit", "off", "--disk", "path=" + image(tmp_path / "d.img")]
    vm = vm_factory(args)
    vm.read_until(b"mmio-loop: ")
    time.sleep(0.2)  # well into the loop: for writes, the channel fills after the stop
    blk = vm.wait_children(["blk0"])["blk0"]
    os.kill(blk, signal.SIGSTOP)
    frozen = time.monotonic()
    status = vm.wait(timeout=30)
    took = time.monotonic() - frozen
    assert status == EXIT_VM_FAILED, vm.explain()
    assert re.search(what, vm.stderr), vm.explain()
    assert DEADLINE - 0.5 <= took <= DEADLINE + SLACK, "%.2f s\n%s" % (took, vm.explain())
    assert not vm_processes(vm.name), "left running: %s" % vm_processes(vm.name)


@pytest.mark.parametrize("child", ["blk0", "serial", "vcpu"])
def test_stopped_child_dies_with_a_killed_supervisor(vm_factory, tmp_path, child):
    """A child that cannot see its control socket close (stopped) still dies when the
    supervisor is killed outright: its parent-death signal survives the jail's change
    of ids (the kernel clears it on any change of credentials)."""
    vm = vm_factory(guest_args("echo") + ["--disk", "path=" + image(tmp_path / "d.img")],
                    stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    pid = vm.wait_children(["vcpu", "serial", "blk0"])[child]
    os.kill(pid, signal.SIGSTOP)
    vm.proc.kill()
    vm.proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while vm_processes(vm.name) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = vm_processes(vm.name)
    for p in left.values():
        os.kill(p, signal.SIGKILL)
    assert not left, "outlived the supervisor: %s" % left


@pytest.mark.parametrize("child", ["blk0", "serial"])
def test_stopped_child_does_not_hold_up_the_end(vm_factory, tmp_path, child):
    """bulkhead stopped by SIGTERM asks every child to stop and waits at most 3 s for
    one that does not (here: stopped), then kills it: the VM ends, and nothing is left."""
    vm = vm_factory(guest_args("echo") + ["--disk", "path=" + image(tmp_path / "d.img")],
                    stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    pid = vm.wait_children(["vcpu", "serial", "blk0"])[child]
    os.kill(pid, signal.SIGSTOP)
    asked = time.monotonic()
    vm.proc.send_signal(signal.SIGTERM)
    status = vm.wait(timeout=20)
    took = time.monotonic() - asked
    assert status == 128 + signal.SIGTERM, vm.explain()
    assert took <= 3.0 + SLACK, "%.2f s\n%s" % (took, vm.explain())
    assert not vm_processes(vm.name), "left running: %s" % vm_processes(vm.name)
