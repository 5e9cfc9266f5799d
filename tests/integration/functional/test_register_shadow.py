# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The register shadow (docs/architecture.md, "Register shadow"): bulkhead-vcpu
answers side-effect-free virtio-mmio and UART reads from the copy each device
keeps, and forwards them all when the test hook BULKHEAD_TEST_NO_SHADOW=1 says
so (test builds only). Both paths must give the guest the same values."""
import os
import re
import subprocess

from conftest import BUILD, GUEST_PASS, guest_args

HOOKED = os.path.join(BUILD, "testhooks", "bulkhead")
TAG = "bulkhead-test-guest: "
MiB = 1 << 20


def image(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def start(vm_factory, scenario, params, disks, shadow, **kw):
    env = dict(os.environ)
    env.pop("BULKHEAD_TEST_NO_SHADOW", None)
    if not shadow:
        env["BULKHEAD_TEST_NO_SHADOW"] = "1"
    args = ["-v"] + guest_args(scenario, params)
    for d in disks:
        args += ["--disk", d]
    return vm_factory(args, exe=HOOKED, env=env, **kw)


def run(vm_factory, scenario, params, disks, shadow):
    vm = start(vm_factory, scenario, params, disks, shadow)
    vm.wait(timeout=60)
    assert vm.proc.returncode == GUEST_PASS, vm.explain()
    assert TAG + "PASS " + scenario in vm.stdout, vm.explain()
    return vm


def guest_lines(vm, scenario):
    """What the guest printed about its devices, without timings."""
    return [l for l in vm.stdout.splitlines()
            if l.startswith(TAG + scenario + ": ") or l.startswith(TAG + "blk: ")]


def forwarded_reads(vm, dev):
    """The count bulkhead-<dev> logs at exit (-v)."""
    m = re.search(r"^bulkhead/[^/]+/%s: devproc_loop: (\d+) register reads forwarded$" % dev, vm.stderr,
                  re.M)
    assert m, vm.explain()
    return int(m.group(1))


def test_shadow_and_forwarded_reads_agree(vm_factory, tmp_path):
    """blk-info reads identity, status and the config space of three disks: the same lines
    either way, and with the shadow the devices see fewer reads."""
    specs = ["path=%s" % image(tmp_path / "a.img", 8 * MiB),
             "path=%s,serial=second" % image(tmp_path / "b.img", 5 * MiB),
             "path=%s,readonly=on" % image(tmp_path / "c.img", 3 * MiB + 512)]
    shadowed = run(vm_factory, "blk-info", "", specs, shadow=True)
    forwarded = run(vm_factory, "blk-info", "", specs, shadow=False)
    assert guest_lines(shadowed, "blk-info") == guest_lines(forwarded, "blk-info"), \
        shadowed.explain() + forwarded.explain()
    assert len(guest_lines(shadowed, "blk-info")) >= 6, shadowed.explain()
    assert forwarded_reads(shadowed, "blk0") < forwarded_reads(forwarded, "blk0"), \
        shadowed.explain() + forwarded.explain()


def test_interrupt_driven_disk_either_way(vm_factory, tmp_path):
    """The driver reads InterruptStatus on every interrupt: the disk works either way."""
    for shadow in (True, False):
        img = image(tmp_path / ("rw-%d.img" % shadow), 4 * MiB)
        vm = run(vm_factory, "blk-rw", "bulkhead.irq=1 bulkhead.sectors=2048", ["path=%s" % img],
                 shadow)
        assert "blk-rw: read back 2048 sectors: match" in vm.stdout, vm.explain()


def test_uart_console_either_way(vm_factory):
    """serial-flood writes through the UART as a console does (an LSR read, then THR writes):
    the same bytes either way, and with the shadow bulkhead-serial is asked no LSR read, as
    the THR writes on their way leave LSR as it is."""
    flood = "bulkhead.bytes=20000"
    shadowed = run(vm_factory, "serial-flood", flood, [], shadow=True)
    forwarded = run(vm_factory, "serial-flood", flood, [], shadow=False)

    def text(vm):
        return [l for l in vm.stdout.splitlines() if "TSC cycles" not in l]
    assert text(shadowed) == text(forwarded), shadowed.explain() + forwarded.explain()
    assert sum(len(l) + 1 for l in text(shadowed)) > 20000, shadowed.explain()
    # 20000 bytes in chunks of at most 16, each after an LSR read
    assert forwarded_reads(forwarded, "serial") > 1250, forwarded.explain()
    assert forwarded_reads(shadowed, "serial") < 20, shadowed.explain()


def test_uart_input_and_interrupts_either_way(vm_factory):
    """echo: a THRE interrupt (IIR read to clear it, forwarded), then more input than the
    FIFO holds, taken on receive interrupts (LSR, RBR with data: forwarded): the same lines
    either way."""
    line = "".join(chr(ord("a") + i % 26) for i in range(200))
    out = []
    for shadow in (True, False):
        vm = start(vm_factory, "echo", "", [], shadow, stdin=subprocess.PIPE)
        vm.read_until(b"bulkhead-test-guest: ready")
        vm.proc.stdin.write(line.encode() + b"\nsecond line\nquit\n")
        vm.proc.stdin.close()
        assert vm.wait() == GUEST_PASS, vm.explain()
        assert TAG + "THRE interrupt ok" in vm.stdout, vm.explain()
        out.append([l for l in vm.stdout.splitlines() if l.startswith("echo: ")])
        assert out[-1] == ["echo: " + line, "echo: second line", "echo: quit"], vm.explain()
    assert out[0] == out[1]
