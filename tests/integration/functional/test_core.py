# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The core on this machine's KVM with the freestanding test guest: console,
exit statuses, reboot and triple fault, SMP, configuration errors, and what
happens when a child dies or bulkhead is told to stop."""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import (BULKHEAD, EXIT_USAGE, EXIT_VM_FAILED, GUEST, GUEST_FAIL, GUEST_PASS,
                      bulkhead_cmd, error_lines, guest_args, vm_processes)


def test_hello_console_and_verdict(vm_factory, guest):
    vm = vm_factory(guest_args("hello"))
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "bulkhead-test-guest: PASS hello" in vm.stdout, vm.explain()
    assert "boot marker" in vm.stdout, vm.explain()
    # The vcpu process logs the time of the boot-marker port write.
    assert re.search(r"boot marker .* ms since launch", vm.stderr), vm.explain()


@pytest.mark.parametrize("value", [0, 1, 5, 100])
def test_debug_exit_status(vm_factory, guest, value):
    vm = vm_factory(guest_args("exit", "bulkhead.exit=%d" % value))
    assert vm.wait() == ((value << 1) | 1) & 0xff, vm.explain()


def test_guest_failure_is_status_3(vm_factory, guest):
    vm = vm_factory(guest_args("fault"))
    assert vm.wait() == GUEST_FAIL, vm.explain()
    assert "FAIL fault" in vm.stdout, vm.explain()


def test_unknown_scenario_fails(vm_factory, guest):
    vm = vm_factory(guest_args("no-such-scenario"))
    assert vm.wait() == GUEST_FAIL, vm.explain()


def test_console_input_echo(vm_factory, guest):
    vm = vm_factory(guest_args("echo"), stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    vm.proc.stdin.write(b"hello bulkhead\n")
    vm.proc.stdin.flush()
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "echo: hello bulkhead" in vm.stdout, vm.explain()


def test_console_input_longer_than_fifo(vm_factory, guest):
    """More input than the 16-byte FIFO holds must arrive whole (no drops)."""
    line = "".join(chr(ord("a") + i % 26) for i in range(200))
    vm = vm_factory(guest_args("echo"), stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    vm.proc.stdin.write(line.encode() + b"\nquit\n")
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "echo: " + line in vm.stdout, vm.explain()


def test_reboot_ends_vm_with_status_0(vm_factory, guest):
    vm = vm_factory(guest_args("reboot"))
    assert vm.wait() == 0, vm.explain()
    assert "i8042" in vm.stderr, vm.explain()


def test_acpi_reset_register_ends_vm_with_status_0(vm_factory, guest):
    """The reset register the FADT names, with the value it names, resets the VM (status 0);
    the same register with another value does not."""
    vm = vm_factory(guest_args("reboot-acpi"))
    assert vm.wait() == 0, vm.explain()
    assert re.search(r"reboot-acpi: writing 0x[0-9a-f]+ \(not the FADT's 0x1\) to the ACPI reset "
                     r"register \(port 0x[0-9a-f]+\)", vm.stdout), vm.explain()
    assert "reboot-acpi: still running after the wrong value; writing 0x1" in vm.stdout, vm.explain()
    assert re.search(r"^bulkhead: guest reset through the ACPI reset register \(vcpu0\); exit status 0$",
                     vm.stderr, re.M), vm.explain()
    assert "i8042" not in vm.stderr + vm.stdout, vm.explain()


def test_acpi_reset_register_absent_without_acpi(vm_factory, guest):
    vm = vm_factory(guest_args("reboot-acpi") + ["--acpi", "off"])
    assert vm.wait() == GUEST_FAIL, vm.explain()
    assert "FAIL reboot-acpi: no ACPI reset register" in vm.stdout, vm.explain()


def test_triple_fault_ends_vm_with_status_0(vm_factory, guest):
    vm = vm_factory(guest_args("triple-fault"))
    assert vm.wait() == 0, vm.explain()
    assert "triple fault" in vm.stderr, vm.explain()


@pytest.mark.parametrize("vcpus", [1, 2])
def test_smp(vm_factory, guest, vcpus):
    vm = vm_factory(guest_args("smp", vcpus=vcpus))
    assert vm.wait(timeout=60) == GUEST_PASS, vm.explain()
    assert "cpus online: %d" % vcpus in vm.stdout, vm.explain()


def test_console_to_file(vm_factory, guest, tmp_path):
    out = tmp_path / "console.log"
    vm = vm_factory(guest_args("hello", serial="file=%s" % out))
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "PASS hello" in out.read_text(), vm.explain()
    assert "PASS hello" not in vm.stdout


def test_serial_none(vm_factory, guest):
    vm = vm_factory(guest_args("hello", serial="none"))
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "PASS hello" not in vm.stdout


def test_config_file(vm_factory, guest, tmp_path):
    cfg = tmp_path / "vm.cfg"
    cfg.write_text("# a test VM\nkernel path=%s,cmdline=\"bulkhead.test=hello\"\n"
                   "memory size_mib=64\nvcpus num=1\n" % GUEST)
    vm = vm_factory(["--config", str(cfg)])
    assert vm.wait() == GUEST_PASS, vm.explain()


def test_large_guest_two_regions(vm_factory, guest):
    """4 GiB of RAM: 3 GiB below the 32-bit MMIO hole and the last GiB above 4 GiB (sparse
    memfds), as the guest finds them in its PVH memory map."""
    vm = vm_factory(guest_args("hello", mem=4096))
    assert vm.wait() == GUEST_PASS, vm.explain()
    ram = [(int(a, 16), int(b, 16)) for a, b in
           re.findall(r"^bulkhead-test-guest:   \[(0x[0-9a-f]+)-(0x[0-9a-f]+)\) type 1$", vm.stdout, re.M)]
    assert ram, vm.explain()
    below = [(a, b) for a, b in ram if b <= 0xc0000000]
    above = [(a, b) for a, b in ram if a >= 1 << 32]
    assert above == [(1 << 32, (1 << 32) + (1 << 30))], "RAM above 4 GiB: %s\n%s" % (above, vm.explain())
    assert below and below[-1][1] == 0xc0000000, vm.explain()
    assert below + above == ram, "RAM in the MMIO hole: %s\n%s" % (ram, vm.explain())
    # and the sizes add up: 4 GiB less the legacy hole below 1 MiB
    assert sum(b - a for a, b in ram) == (4 << 30) - (0x100000 - 0x9fc00), vm.explain()


def _processes_of_vm_children(vm):
    return vm.wait_children(["vcpu", "serial"])


def test_kill_serial_stops_vm(vm_factory, guest):
    vm = vm_factory(guest_args("echo"), stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    pids = _processes_of_vm_children(vm)
    os.kill(pids["serial"], signal.SIGKILL)
    status = vm.wait()
    assert status == EXIT_VM_FAILED, vm.explain()
    assert re.search(r"serial \(pid \d+\) was killed by signal 9 \(SIGKILL\)", vm.stderr), \
        vm.explain()


def test_kill_vcpu_stops_vm(vm_factory, guest):
    vm = vm_factory(guest_args("echo"), stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    pids = _processes_of_vm_children(vm)
    os.kill(pids["vcpu"], signal.SIGKILL)
    assert vm.wait() == EXIT_VM_FAILED, vm.explain()
    assert "vcpu (pid" in vm.stderr, vm.explain()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_vm_cleanly(vm_factory, guest, sig):
    vm = vm_factory(guest_args("echo"), stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    vm.proc.send_signal(sig)
    assert vm.wait() == 128 + sig, vm.explain()
    assert "stopped by SIG" in vm.stderr, vm.explain()


def test_supervisor_killed_leaves_nothing(vm_factory, guest):
    vm = vm_factory(guest_args("echo"), stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    _processes_of_vm_children(vm)
    vm.proc.kill()
    vm.wait()
    deadline = time.time() + 5
    while vm_processes(vm.name) and time.time() < deadline:
        time.sleep(0.05)
    assert not vm_processes(vm.name)


@pytest.mark.needs_ptrace
def test_children_hold_only_their_fds(vm_factory, guest):
    vm = vm_factory(guest_args("echo"), stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    pids = _processes_of_vm_children(vm)
    fd_dir = "/proc/%d/fd" % pids["serial"]
    given = sorted(int(f) for f in os.listdir(fd_dir)
                   if os.readlink(os.path.join(fd_dir, f)) != "anon_inode:[eventpoll]")
    # stderr, control, vcpu channel, irqfd, register shadow, console in, console out (and its
    # own epoll fd)
    assert given == [2, 3, 4, 5, 6, 7, 8], given
    maps = open("/proc/%d/maps" % pids["serial"]).read()
    assert "memfd:%s-ram" % vm.name not in maps, "the serial process must not map guest memory"
    vcpu_maps = open("/proc/%d/maps" % pids["vcpu"]).read()
    assert "memfd:%s-ram0" % vm.name in vcpu_maps
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()


BAD_CONFIGS = [
    (["--memory", "size_mib=64"], "--kernel"),
    (["--kernel", "path=/nonexistent/kernel"], "--kernel"),
    (["--kernel", "path=%s,bogus=1" % GUEST], "--kernel"),
    (["--kernel", "path=/etc/hostname"], "--kernel"),
    (["--kernel", "path=%s" % GUEST, "--memory", "size_mib=0"], "--memory"),
    (["--kernel", "path=%s" % GUEST, "--memory", "size_mib=99999999"], "--memory"),
    (["--kernel", "path=%s" % GUEST, "--memory", "size_mib=abc"], "--memory"),
    (["--kernel", "path=%s" % GUEST, "--vcpus", "num=0"], "--vcpus"),
    (["--kernel", "path=%s" % GUEST, "--vcpus", "num=100000"], "--vcpus"),
    (["--kernel", "path=%s" % GUEST, "--initrd", "path=/nonexistent"], "--initrd"),
    (["--kernel", "path=%s" % GUEST, "--serial", "bogus"], "--serial"),
    (["--kernel", "path=%s" % GUEST, "--serial", "file=/nonexistent/dir/x"], "--serial"),
    (["--kernel", "path=%s" % GUEST, "--frobnicate"], "--frobnicate"),
    (["--kernel", "path=%s" % GUEST, "--pit", "maybe"], "--pit"),
    (["--config", "/nonexistent.cfg"], "--config"),
]


@pytest.mark.parametrize("args,option", BAD_CONFIGS)
def test_bad_config_rejected(args, option):
    p = subprocess.run(bulkhead_cmd(args), capture_output=True, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == EXIT_USAGE, err
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert option in lines[0], err


def test_unreadable_kernel_rejected(tmp_path):
    k = tmp_path / "kernel"
    k.write_bytes(open(GUEST, "rb").read())
    k.chmod(0)
    if os.geteuid() == 0:
        # root reads anything: use a directory instead, which cannot be read as a file
        k = tmp_path
    p = subprocess.run(bulkhead_cmd(["--kernel", "path=%s" % k]), capture_output=True, timeout=30)
    assert p.returncode == EXIT_USAGE, p.stderr
    assert "--kernel" in p.stderr.decode()


def test_help_and_version():
    p = subprocess.run([BULKHEAD, "--help"], capture_output=True, timeout=10)
    assert p.returncode == 0 and b"--kernel" in p.stdout
    p = subprocess.run([BULKHEAD, "--version"], capture_output=True, timeout=10)
    assert p.returncode == 0 and p.stdout.startswith(b"bulkhead ")


def test_kvm_internal_error_stops_vm_with_registers(vm_factory, guest):
    """Executing unbacked MMIO cannot be emulated on any KVM: the VM stops with
    status 4, the exit reason, the rip and a register dump."""
    vm = vm_factory(guest_args("exec-mmio"))
    assert vm.wait() == EXIT_VM_FAILED, vm.explain()
    assert re.search(r"KVM internal error, suberror \d+ .*at rip 0xfeb00000", vm.stderr), \
        vm.explain()
    assert re.search(r"vcpu0: rip 00000000feb00000 rsp [0-9a-f]{16}", vm.stderr), vm.explain()
    assert "cr3" in vm.stderr and "efer" in vm.stderr, vm.explain()


@pytest.mark.parametrize("scenario,vcpus", [("hello", 1), ("smp", 2)])
def test_pit_off(vm_factory, guest, scenario, vcpus):
    """--pit off: no in-kernel i8254; the test guest (LAPIC timer, TSC) needs none."""
    vm = vm_factory(guest_args(scenario, vcpus=vcpus) + ["--pit", "off"])
    assert vm.wait() == GUEST_PASS, vm.explain()


def pit_threads():
    """KVM's PIT runs a kernel thread kvm-pit/<pid of its creator>."""
    out = set()
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/comm" % entry) as f:
                if f.read().startswith("kvm-pit/"):
                    out.add(int(entry))
        except (OSError, ValueError):
            continue
    return out


@pytest.mark.needs_host_pids
@pytest.mark.parametrize("pit", ["on", "off"])
def test_pit_thread_exists_only_with_pit_on(vm_factory, guest, pit):
    before = pit_threads()
    vm = vm_factory(guest_args("echo") + ["--pit", pit], stdin=subprocess.PIPE)
    vm.read_until(b"bulkhead-test-guest: ready")
    new = pit_threads() - before
    vm.proc.stdin.write(b"quit\n")
    vm.proc.stdin.close()
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert bool(new) == (pit == "on"), (pit, new)


@pytest.mark.parametrize("acpi", ["on", "off"])
def test_acpi_tables_on_and_off(vm_factory, guest, acpi):
    vm = vm_factory(guest_args("hello", "bulkhead.cpus-from=%s" % ("acpi" if acpi == "on" else
                                                                    "mptable"), vcpus=2) +
                    ["--acpi", acpi])
    assert vm.wait() == GUEST_PASS, vm.explain()
    if acpi == "on":
        assert "rsdp 0xe0000" in vm.stdout and "acpi madt 2" in vm.stdout, vm.explain()
    else:
        assert "rsdp 0x0 " in vm.stdout and "acpi madt 0" in vm.stdout, vm.explain()
    assert "mptable 2" in vm.stdout, vm.explain()
