# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""--irqchip split|kernel: which one a VM gets, and a hostile guest's IOAPIC under both.

With split, bulkhead-vcpu emulates the IOAPIC (vcpu/ioapic.c) and every device interrupt is an
MSI route; with kernel, KVM emulates it. The test guest's ioapic-hostile scenario writes
garbage into every IOAPIC register and churns its disk's pin through entries that deliver
nothing; the disk must then still complete its requests by interrupt."""
import re
import subprocess

import pytest

from conftest import BULKHEAD, GUEST, guest_args
from test_blk import MiB, assert_pass, disk_args, make_image


def said_irqchip(vm):
    m = re.search(r"bulkhead/[^/]+/vcpu: \w+: irqchip: (\w+)", vm.stderr)
    return m.group(1) if m else None


@pytest.mark.parametrize("irqchip", ["split", "kernel"])
def test_ioapic_hostile(vm_factory, guest, tmp_path, irqchip):
    img = make_image(tmp_path / "d.img", 8 * MiB)
    vm = vm_factory(["-v", "--irqchip", irqchip] + guest_args("ioapic-hostile", vcpus=2)
                    + disk_args("path=%s" % img))
    vm.wait(timeout=60)
    assert_pass(vm, "ioapic-hostile")
    assert said_irqchip(vm) == irqchip, vm.explain()
    m = re.search(r"ioapic-hostile: (\d+) interrupts on GSI 5 after", vm.stdout)
    assert m and int(m.group(1)) > 0, vm.explain()
    assert not re.search(r"\(pid \d+\) (was killed|exited|died)", vm.stderr), vm.explain()


@pytest.mark.parametrize("args,want,pit", [
    ([], "split", False),
    (["--pit", "off"], "split", False),
    (["--pit", "on"], "kernel", True),
    (["--irqchip", "kernel"], "kernel", True),
    (["--irqchip", "kernel", "--pit", "off"], "kernel", False),
])
def test_which_irqchip(vm_factory, guest, args, want, pit):
    """split unless the PIT (which needs KVM's PIC) is asked for; the serial interrupt works."""
    vm = vm_factory(["-v"] + args + guest_args("echo"), stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    vm.proc.stdin.write(b"through the irqchip\nquit\n")
    vm.proc.stdin.flush()
    vm.wait(timeout=60)
    assert_pass(vm, "echo")
    assert "through the irqchip" in vm.stdout, vm.explain()
    assert said_irqchip(vm) == want, vm.explain()
    assert ("and KVM's PIT" in vm.stderr) == pit, vm.explain()


def test_pit_with_split_irqchip_is_refused():
    p = subprocess.run([BULKHEAD, "--kernel", "path=%s" % GUEST, "--irqchip", "split", "--pit", "on"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, p
    assert p.stderr.strip().endswith(
        "--pit on: KVM's i8254 needs its in-kernel PIC, not --irqchip split"), p.stderr
    assert p.stderr.count("\n") == 1, p.stderr
