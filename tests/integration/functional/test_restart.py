# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""--on-device-failure restart: a device process that dies (SIGKILL, a seccomp
kill, a stuck process the deadline catches) is replaced while the guest runs,
and the guest's I/O goes on: the disk keeps every byte, the NIC keeps echoing,
the console keeps printing. Test builds shorten the restart window
(BULKHEAD_TEST_RESTART_WINDOW_MS) so that a device can be killed many times
without meeting the cap of 5 failures in 60 s; test_cap_stops_a_crash_loop
meets it with the real window."""
import os
import re
import signal
import struct
import sys
import threading
import time

import pytest

from conftest import BUILD, EXIT_VM_FAILED, GUEST_PASS, ROOT, guest_args, vm_processes

sys.path.insert(0, os.path.join(ROOT, "tests", "guest"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "functional"))
import netpeer  # noqa: E402

HOOKED = os.path.join(BUILD, "testhooks", "bulkhead")
RESTART_LINE = r"^bulkhead: %s \(pid \d+\) (.*); restarting it \(restart (\d+);"


def env(window_ms=1000, **extra):
    e = dict(os.environ, BULKHEAD_TEST_RESTART_WINDOW_MS=str(window_ms))
    e.update(extra)
    return e


def image(path, mib):
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    return str(path)


class Killer(threading.Thread):
    """Kill the VM's process named role every interval seconds, count times, while it runs."""

    def __init__(self, vm, role, count, interval, sig=signal.SIGKILL, first=0.3):
        super().__init__(daemon=True)
        self.vm, self.role, self.count, self.interval, self.sig, self.first = \
            vm, role, count, interval, sig, first
        self.pids = []

    def run(self):
        time.sleep(self.first)
        while len(self.pids) < self.count and self.vm.proc.poll() is None:
            pid = vm_processes(self.vm.name).get(self.role)
            if pid and pid not in self.pids:
                try:
                    os.kill(pid, self.sig)
                    self.pids.append(pid)
                except ProcessLookupError:
                    pass
                time.sleep(self.interval)
            else:
                time.sleep(0.01)


def restarts(vm, role):
    return re.findall(RESTART_LINE % role, vm.stderr, re.M)


def test_blk_keeps_every_byte(vm_factory, tmp_path):
    """Continuous checksummed writes and reads back while bulkhead-blk is killed 10 times and
    makes one forbidden call: every read matches, the guest finishes and says so."""
    args = guest_args("blk-rw", "bulkhead.sectors=32768 bulkhead.seconds=8") + \
        ["--pit", "off", "--on-device-failure", "restart", "--disk",
         "path=" + image(tmp_path / "d.img", 32)]
    # at most 3 kills and the seccomp death in a window: under the cap of 5
    vm = vm_factory(args, exe=HOOKED, env=env(window_ms=600, BULKHEAD_TEST_FAULT="blk0:socket"))
    vm.read_until(b"boot marker")  # restarts begin once the guest runs
    killer = Killer(vm, "blk0", 10, 0.25)
    killer.start()
    status = vm.wait(timeout=180)
    killer.join()
    assert status == GUEST_PASS, vm.explain()
    wrote = vm.stdout.count("blk-rw: wrote 32768 sectors")
    assert wrote >= 3 and vm.stdout.count("blk-rw: read back 32768 sectors: match") == wrote, \
        vm.explain()
    got = restarts(vm, "blk0")
    assert len(killer.pids) == 10, "the guest finished after %d kills" % len(killer.pids)
    assert len(got) == 11, vm.explain()
    assert any("killed by seccomp" in how for how, _ in got), vm.explain()
    assert sum("signal 9" in how for how, _ in got) == 10, vm.explain()
    assert [int(n) for _, n in got] == list(range(1, 12)), vm.explain()


def test_replacement_killed_while_it_starts(vm_factory, tmp_path):
    """A replacement killed before it restored (here: as soon as it exists, three times
    running) leaves the state page as it found it: the next one restores the device, and
    every read still matches."""
    args = guest_args("blk-rw", "bulkhead.sectors=8192 bulkhead.seconds=3") + \
        ["--pit", "off", "--on-device-failure", "restart", "--disk",
         "path=" + image(tmp_path / "d.img", 8)]
    vm = vm_factory(args, exe=HOOKED, env=env())
    vm.read_until(b"boot marker")
    killer = Killer(vm, "blk0", 4, 0, first=0.5)
    killer.start()
    status = vm.wait(timeout=60)
    killer.join()
    assert status == GUEST_PASS, vm.explain()
    assert len(killer.pids) == 4, vm.explain()
    assert len(restarts(vm, "blk0")) == 4, vm.explain()
    assert vm.stdout.count("blk-rw: read back 8192 sectors: match") >= 1, vm.explain()


def test_serial_keeps_printing(vm_factory):
    """The console goes on through 5 restarts of bulkhead-serial; the guest finishes."""
    args = guest_args("serial-flood", "bulkhead.bytes=600000") + \
        ["--pit", "off", "--on-device-failure", "restart"]
    vm = vm_factory(args, exe=HOOKED, env=env())
    vm.read_until(b"boot marker")  # restarts begin once the guest runs
    killer = Killer(vm, "serial", 5, 0.25, first=0.2)
    killer.start()
    status = vm.wait(timeout=180)
    killer.join()
    assert status == GUEST_PASS, vm.explain()
    assert "PASS serial-flood" in vm.stdout, vm.explain()
    assert len(killer.pids) == 5 and len(restarts(vm, "serial")) == 5, vm.explain()


def test_net_keeps_echoing(vm_factory, netns):
    """An echo loop through the host peer for 4 s while bulkhead-net is killed 5 times: the
    guest finishes; lost echoes are counted and reported (a frame in flight may be lost or sent
    twice), and no echo comes back changed."""
    from test_net_guest import disable_ipv6
    netns.add_tap("tap0")
    disable_ipv6(netns, "tap0")
    peer = netpeer.Peer(netpeer.open_socket("tap0", netns.name), "tap0",
                        netpeer.open_netlink(netns.name))
    peer.start()
    try:
        args = guest_args("net-echo", "bulkhead.frames=10000 bulkhead.seconds=4 "
                          "bulkhead.lossy=1 bulkhead.timeout-ms=300") + \
            ["--pit", "off", "--on-device-failure", "restart", "--net", "tap=tap0"]
        vm = vm_factory(args, exe=HOOKED, env=env(), wrap=netns.exec_argv)
        vm.read_until(b"boot marker")  # restarts begin once the guest runs
        killer = Killer(vm, "net0", 5, 0.3)
        killer.start()
        status = vm.wait(timeout=180)
        killer.join()
    finally:
        peer.stop()
        peer.join(10)
        peer.close()
    assert status == GUEST_PASS, vm.explain()
    m = re.search(r"net-echo: eth0: (\d+) of (\d+) echoes lost", vm.stdout)
    assert m and int(m.group(2)) >= 10000, vm.explain()
    print("net restart: %s of %s echoes lost over %d restarts" % (m.group(1), m.group(2),
                                                                  len(killer.pids)))
    assert len(killer.pids) == 5 and len(restarts(vm, "net0")) == 5, vm.explain()
    assert int(m.group(1)) < int(m.group(2)) // 10, vm.explain()


def test_stuck_device_is_replaced(vm_factory, tmp_path):
    """A device that stops serving (SIGSTOP) while the guest reads its registers misses the
    deadline, is killed and replaced, and the guest's reads go on."""
    args = guest_args("mmio-loop", "bulkhead.mmio-op=mixed bulkhead.seconds=3") + \
        ["--pit", "off", "--on-device-failure", "restart", "--disk",
         "path=" + image(tmp_path / "d.img", 1)]
    vm = vm_factory(args, exe=HOOKED, env=env(BULKHEAD_TEST_DEADLINE_MS="1500"))
    vm.read_until(b"boot marker")  # restarts begin once the guest runs
    killer = Killer(vm, "blk0", 1, 0.1, sig=signal.SIGSTOP, first=0.5)
    killer.start()
    status = vm.wait(timeout=60)
    killer.join()
    assert status == GUEST_PASS, vm.explain()
    assert re.search(r"blk0 did not (answer|drain its channel) within the deadline .*; killing it",
                     vm.stderr), vm.explain()
    assert len(restarts(vm, "blk0")) == 1, vm.explain()


def test_cap_stops_a_crash_loop(vm_factory, tmp_path):
    """6 failures of one device within 60 s stop the VM with status 4, naming it."""
    args = guest_args("blk-rw", "bulkhead.sectors=32768 bulkhead.passes=200") + \
        ["--pit", "off", "--on-device-failure", "restart", "--disk",
         "path=" + image(tmp_path / "d.img", 32)]
    vm = vm_factory(args)
    vm.read_until(b"boot marker")  # restarts begin once the guest runs
    killer = Killer(vm, "blk0", 6, 0.2)
    killer.start()
    status = vm.wait(timeout=120)
    killer.join()
    assert status == EXIT_VM_FAILED, vm.explain()
    assert len(restarts(vm, "blk0")) == 5, vm.explain()
    assert re.search(r"blk0 \(pid \d+\) was killed by signal 9 \(SIGKILL\): 6 failures within "
                     r"60000 ms, more than 5; not restarting it; exit status 4", vm.stderr), vm.explain()


def test_stop_is_still_the_default(vm_factory, tmp_path):
    """Without the option a device's death ends the VM, as before."""
    args = guest_args("blk-rw", "bulkhead.sectors=32768 bulkhead.passes=200") + \
        ["--pit", "off", "--disk", "path=" + image(tmp_path / "d.img", 32)]
    vm = vm_factory(args)
    vm.read_until(b"boot marker")  # restarts begin once the guest runs
    killer = Killer(vm, "blk0", 1, 0.1)
    killer.start()
    status = vm.wait(timeout=60)
    killer.join()
    assert status == EXIT_VM_FAILED, vm.explain()
    assert re.search(r"blk0 \(pid \d+\) was killed by signal 9", vm.stderr), vm.explain()
    assert not restarts(vm, "blk0"), vm.explain()


IPC_STATE_SNAP = 2000  # ipc/ipc.h


def state_page(pid):
    """The path to a device's state page among its fds (a memfd whose name says so)."""
    d = "/proc/%d/fd" % pid
    for f in os.listdir(d):
        if "state" in os.readlink(os.path.join(d, f)):
            return os.path.join(d, f)
    raise AssertionError("no state page among %s" % os.listdir(d))


@pytest.mark.needs_ptrace
@pytest.mark.parametrize("lie", ["slot-beyond-two", "snapshot-over-slot"])
def test_lying_state_page_is_not_restored(vm_factory, tmp_path, lie):
    """The page a dead device leaves is hostile input: with its slot index out of range
    (2, whose length would be read from the padding) or its snapshot's length beyond the
    slot, the replacement says the device will need a reset instead of restoring, and lives."""
    args = guest_args("blk-rw", "bulkhead.sectors=8192 bulkhead.seconds=30") + \
        ["--pit", "off", "--on-device-failure", "restart", "--disk",
         "path=" + image(tmp_path / "d.img", 8)]
    vm = vm_factory(args, env=env())
    vm.read_until(b"blk-rw: ")
    pid = vm.wait_children(["blk0"])["blk0"]
    os.kill(pid, signal.SIGSTOP)
    with open(state_page(pid), "r+b") as f:
        magic, cur, kind, len0, len1, pad = struct.unpack("<6I", f.read(24))
        assert cur in (0, 1) and pad == 0, (cur, pad)
        f.seek(4 if lie.startswith("slot") else 12 + 4 * cur)
        f.write(struct.pack("<I", 2 if lie.startswith("slot") else IPC_STATE_SNAP + 1))
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and vm_processes(vm.name).get("blk0") in (None, pid):
        time.sleep(0.05)
    time.sleep(1)  # time to restore, or to die trying
    alive = vm_processes(vm.name).get("blk0")
    vm.proc.kill()
    vm.wait(timeout=10)
    assert "restoring from the state of the process it replaces (not a whole snapshot: " \
        "the device will need a reset)" in vm.stderr, vm.explain()
    assert alive and alive != pid and len(restarts(vm, "blk0")) == 1, vm.explain()
