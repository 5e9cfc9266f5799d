# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""Guest RAM on huge pages: --memory hugepages=on (hugetlbfs memfds, sealed as
ever, accepted by every child) and, without it, transparent huge pages advised
on every mapping of guest RAM; -v says which the guest got, and a host without
the huge pages asked for is a one-line configuration error."""
import os
import re
import subprocess

import pytest

from conftest import EXIT_USAGE, GUEST_PASS, guest_args

POOL = "/sys/kernel/mm/hugepages/hugepages-2048kB/"
NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"
SHMEM_ENABLED = "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
MIB = 64  # the guest's RAM: 32 huge pages


def read_int(path):
    with open(path) as f:
        return int(f.read())


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def free_hugepages():
    """2 MiB pages free and not promised to a mapping."""
    return read_int(POOL + "free_hugepages") - read_int(POOL + "resv_hugepages")


@pytest.fixture
def hugepages():
    """MIB/2 more 2 MiB pages in the host's pool for the test; the pool is put back after."""
    if not os.path.exists(POOL):
        pytest.skip("this kernel has no 2 MiB hugetlbfs pages (%s is missing)" % POOL)
    before = read_int(NR_HUGEPAGES)
    try:
        write_text(NR_HUGEPAGES, str(before + MIB // 2))
    except OSError as e:
        pytest.skip("cannot reserve huge pages: writing %s: %s (needs root)" % (NR_HUGEPAGES, e))
    try:
        if free_hugepages() < MIB // 2:
            pytest.skip("the host reserved only %d of %d more huge pages asked for "
                        "(vm.nr_hugepages=%d: memory too fragmented)" % (
                            read_int(NR_HUGEPAGES) - before, MIB // 2, read_int(NR_HUGEPAGES)))
        yield
    finally:
        write_text(NR_HUGEPAGES, str(before))


@pytest.fixture
def thp_advise():
    """shmem_enabled at advise (from never) for the test, put back after."""
    try:
        with open(SHMEM_ENABLED) as f:
            before = re.search(r"\[(\w+)\]", f.read()).group(1)
    except OSError as e:
        pytest.skip("this kernel has no transparent huge pages for shmem (%s: %s)" % (
            SHMEM_ENABLED, e))
    if before not in ("never", "advise"):
        pytest.skip("shmem_enabled is %s: the host gives shmem huge pages without advice" % before)
    try:
        write_text(SHMEM_ENABLED, "advise")
    except OSError as e:
        pytest.skip("cannot set shmem_enabled to advise: %s (needs root)" % e)
    try:
        yield
    finally:
        write_text(SHMEM_ENABLED, before)


def with_memory(scenario, memory):
    """guest_args(scenario) with --memory MEMORY."""
    args = guest_args(scenario)
    args[args.index("--memory") + 1] = memory
    return args


def ram_mapping(pid, vm_name):
    """The smaps fields of the guest RAM mapping (memfd <name>-ram0) of process pid."""
    fields, inside = {}, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = "/memfd:%s-ram0" % vm_name in line
                continue
            if inside:
                k, v = line.split(":", 1)
                fields[k] = v.strip()
    assert fields, "process %d has no mapping of %s-ram0" % (pid, vm_name)
    return fields


def boot_echo(vm_factory, memory, check):
    """Boot the echo scenario with -v, run check(vm, pids) while it waits, then end it."""
    vm = vm_factory(["-v"] + with_memory("echo", memory), stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    pids = vm.wait_children(["vcpu", "serial"])
    try:
        check(vm, pids)
    finally:
        vm.proc.stdin.write(b"quit\n")
        vm.proc.stdin.close()
        status = vm.wait()
    assert status == GUEST_PASS, vm.explain()
    return vm


def test_hugepages_on_backs_guest_ram_with_2mib_pages(vm_factory, guest, hugepages):
    seen = {}

    def check(vm, pids):
        seen.update(ram_mapping(pids["vcpu"], vm.name))

    vm = boot_echo(vm_factory, "size_mib=%d,hugepages=on" % MIB, check)
    # The vcpu process (and KVM through it) maps the sealed hugetlbfs memfd it was sent.
    assert seen["KernelPageSize"] == "2048 kB", seen
    assert "guest RAM: %d MiB on 2 MiB huge pages (hugetlbfs)" % MIB in vm.stderr, vm.explain()


def test_hugepages_on_without_reserved_pages_is_a_config_error(vm_factory, guest):
    if not os.path.exists(POOL):
        pytest.skip("this kernel has no 2 MiB hugetlbfs pages (%s is missing)" % POOL)
    mib = max(MIB, 2 * (free_hugepages() + 1))
    if mib > 4096:
        pytest.skip("the host has %d free huge pages: too many to ask for more than it has" %
                    free_hugepages())
    vm = vm_factory(with_memory("marker-exit", "size_mib=%d,hugepages=on" % mib))
    assert vm.wait() == EXIT_USAGE, vm.explain()
    lines = vm.stderr.strip().splitlines()
    assert len(lines) == 1, vm.explain()
    assert re.match(r"bulkhead: --memory: hugepages=on: %d MiB of guest RAM need %d free 2 MiB "
                    r"huge pages and the host has \d+ \(vm.nr_hugepages=\d+\); reserve more with "
                    r"'sysctl vm.nr_hugepages=\d+'$" % (mib, mib // 2), lines[0]), vm.explain()
    assert "boot marker" not in vm.stdout


def test_hugepages_on_needs_whole_huge_pages(vm_factory, guest):
    vm = vm_factory(with_memory("marker-exit", "size_mib=63,hugepages=on"))
    assert vm.wait() == EXIT_USAGE, vm.explain()
    assert vm.stderr.strip() == ("bulkhead: --memory: hugepages=on: size_mib must be a multiple "
                                 "of 2 (2 MiB pages)"), vm.explain()


def test_thp_advised_on_guest_ram(vm_factory, guest, thp_advise):
    seen = {}

    def check(vm, pids):
        seen.update(ram_mapping(pids["vcpu"], vm.name))

    vm = boot_echo(vm_factory, "size_mib=%d" % MIB, check)
    assert ("guest RAM: %d MiB, transparent huge pages advised (MADV_HUGEPAGE; shmem_enabled "
            "is advise)" % MIB) in vm.stderr, vm.explain()
    # MADV_HUGEPAGE ("hg") on the vcpu process's mapping, and the guest's first 2 MiB (the
    # kernel's load address is 1 MiB) on one huge page mapped by a PMD.
    assert "hg" in seen["VmFlags"].split(), seen
    assert int(seen["ShmemPmdMapped"].split()[0]) >= 2048, seen


def test_verbose_says_what_guest_ram_got(vm_factory, guest):
    with open(SHMEM_ENABLED) as f:
        setting = re.search(r"\[(\w+)\]", f.read()).group(1)
    vm = vm_factory(["-v"] + guest_args("marker-exit"))
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert re.search(r"guest RAM: 64 MiB.*\(.*shmem_enabled is %s" % setting, vm.stderr), \
        vm.explain()
