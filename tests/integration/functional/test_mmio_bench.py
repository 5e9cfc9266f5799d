# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The test guest's mmio-bench under bulkhead: register reads forwarded to a
device process (virtio-mmio MagicValue, COM1 scratch) and reads the vcpu
process answers itself. Only that the lines parse and the values read were
right; never a timing (bench/run.py compares timings with QEMU)."""
import re

from conftest import GUEST_FAIL, GUEST_PASS, guest_args

TAG = "bulkhead-test-guest: "
MAGIC = 0x74726976


def run(vm_factory, tmp_path, params="bulkhead.iterations=50", disk=True):
    args = guest_args("mmio-bench", params)
    if disk:
        img = tmp_path / "d.img"
        with open(img, "wb") as f:
            f.truncate(1 << 20)
        args += ["--disk", "path=%s" % img]
    vm = vm_factory(args)
    vm.wait(timeout=60)
    return vm


def ns(vm, what):
    m = re.search(r"^%smmio-bench: %s ns (\d+)" % (re.escape(TAG), re.escape(what)), vm.stdout, re.M)
    assert m, "no %r line\n%s" % (what, vm.explain())
    return int(m.group(1))


def test_mmio_bench(vm_factory, tmp_path):
    vm = run(vm_factory, tmp_path)
    assert vm.proc.returncode == GUEST_PASS, vm.explain()
    assert TAG + "PASS mmio-bench" in vm.stdout, vm.explain()
    assert re.search(r"mmio-bench: device at 0xd0000000 \(virtio id 2\), 50 iterations", vm.stdout), \
        vm.explain()
    # The guest FAILs if any of the 50 + 16 warm-up reads was not the magic value.
    assert "(MagicValue 0x%x in all 66 reads)" % MAGIC in vm.stdout, vm.explain()
    # bulkhead answers an address no device claims with all ones.
    assert "(0xd8000000 reads 0xffffffff)" in vm.stdout, vm.explain()
    assert ns(vm, "read") > 0
    for what in ("unclaimed read", "lapic read", "pio read", "port 0x80 read"):
        ns(vm, what)


def test_mmio_bench_without_a_device(vm_factory, tmp_path):
    vm = run(vm_factory, tmp_path, disk=False)
    assert vm.proc.returncode == GUEST_FAIL, vm.explain()
    assert TAG + "FAIL mmio-bench: no virtio-mmio device" in vm.stdout, vm.explain()
