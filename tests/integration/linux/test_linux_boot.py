# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""bulkhead boots Debian's kernel both ways it ships (bzImage through the
64-bit boot protocol, the ELF vmlinux through PVH), with 1 and 2 vCPUs, and
the guest's console, verdict, reboot and power-off reach the host; the API
socket's power button powers it off."""
import re


def test_bzimage_two_cpus_both_run(linux_run):
    case = "bz-smp2"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    assert "bulkhead-linux: PASS smp" in out, linux_run.explain(case)
    # The console (ttyS0 through bulkhead-serial) reached bulkhead's stdout.
    assert "bulkhead-linux: init started" in out, linux_run.explain(case)


def test_verbose_console_arrives_whole(linux_run):
    """Without quiet, the kernel's whole boot log goes through the UART, polled
    before every byte (answered from the register shadow) and written byte by
    byte (held and sent together): every line arrives whole, none cut into
    another, and init's own output (the tty, interrupt driven) follows."""
    case = "bz-verbose"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    # Until init runs only the kernel writes (after it, its lines and init's may mix).
    kernel = out.split("Run /init as init process")[0]
    stamped = re.findall(r"^\[ *\d+\.\d{6}\] ", kernel, re.M)
    assert len(stamped) > 200, linux_run.explain(case)
    assert not re.search(r".\[ *\d+\.\d{6}\] ", kernel), linux_run.explain(case)
    for line in ("printk: console [ttyS0] enabled", "smp: Brought up 1 node, 2 CPUs",
                 "Run /init as init process", "bulkhead-linux: init started",
                 "bulkhead-linux: PASS smp"):
        assert line in out, line + "\n" + linux_run.explain(case)


def test_pvh_vmlinux_console_to_file_and_acpi(linux_run):
    case = "pvh-info-file"
    assert linux_run.status(case) == 1, linux_run.explain(case)
    console = linux_run.lines(case, "file")
    assert "bulkhead-linux: PASS info" in console, linux_run.explain(case) + console
    # The console went to the file, not to stdout.
    assert "bulkhead-linux: PASS info" not in linux_run.lines(case, "out")
    # ACPI: the tables bulkhead built were found and parsed without errors
    # (the info scenario FAILs on any ACPI error in dmesg).
    for table in ("FACP", "APIC", "DSDT"):
        assert re.search(r"\b%s\b" % table, console), table + "\n" + console


def test_poweroff_ends_vm_with_status_0(linux_run):
    case = "bz-poweroff"
    assert linux_run.status(case) == 0, linux_run.explain(case)
    assert "powered off" in linux_run.lines(case, "err"), linux_run.explain(case)


def test_power_button_powers_debian_off(linux_run):
    """vm.power-button on the API socket (bulkhead ctl): Debian's kernel finds the button in
    the DSDT (PNP0C0C, notified by the GED, ACPI0013), reports it, and the guest powers off."""
    case = "power-button"
    assert linux_run.status(case) == 0, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    assert "bulkhead-linux: power-button: waiting on /dev/input/event" in out, linux_run.explain(case)
    assert "bulkhead-linux: power-button: pressed; powering off" in out, linux_run.explain(case)
    assert linux_run.host(case)["ctl-status"] == "0", linux_run.explain(case)
    err = linux_run.lines(case, "err")
    assert "the power button was pressed through the API socket" in err, linux_run.explain(case)
    assert "powered off" in err, linux_run.explain(case)


def test_reboot_ends_vm_with_status_0(linux_run):
    case = "pvh-reboot"
    assert linux_run.status(case) == 0, linux_run.explain(case)
    assert "reset" in linux_run.lines(case, "err"), linux_run.explain(case)


def test_cpuid_table_is_consistent(linux_run):
    """Debian's kernel finds the XSAVE sizes of leaf 0xD consistent with the
    components it enables (no fpu/xstate warning), a brand string and the
    TSC-deadline timer in the CPUID table bulkhead gives it."""
    case = "bz-cpu"
    out = linux_run.lines(case, "out")
    assert linux_run.status(case) == 1, linux_run.explain(case)
    assert "bulkhead-linux: PASS cpu" in out, linux_run.explain(case)
    assert not re.search(r"XSAVE consistency|fpu/xstate", out), linux_run.explain(case)
    m = re.search(r"bulkhead-linux: cpu: model name: (.*)", out)
    assert m and m.group(1).strip() not in ("", "none"), linux_run.explain(case)
    assert re.search(r"bulkhead-linux: cpu: flags:.* tsc_deadline_timer ", out), \
        linux_run.explain(case)
