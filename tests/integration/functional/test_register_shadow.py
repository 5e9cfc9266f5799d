# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The register shadow (docs/architecture.md, "Register shadow"): bulkhead-vcpu
answers side-effect-free virtio-mmio reads from the copy each device keeps,
and forwards them all when the test hook BULKHEAD_TEST_NO_SHADOW=1 says so
(test builds only). Both paths must give the guest the same values."""
import os
import re

from conftest import BUILD, GUEST_PASS, guest_args

HOOKED = os.path.join(BUILD, "testhooks", "bulkhead")
TAG = "bulkhead-test-guest: "
MiB = 1 << 20


def image(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def run(vm_factory, scenario, params, disks, shadow):
    env = dict(os.environ)
    env.pop("BULKHEAD_TEST_NO_SHADOW", None)
    if not shadow:
        env["BULKHEAD_TEST_NO_SHADOW"] = "1"
    args = ["-v"] + guest_args(scenario, params)
    for d in disks:
        args += ["--disk", d]
    vm = vm_factory(args, exe=HOOKED, env=env)
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
