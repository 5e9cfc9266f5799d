# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""l1_signatures.sh's l1_fault (sourced by cases.sh and bench/linux_boot.sh)
tells L1's faults (tests/nested/README.md, "A guest triple fault") from a
guest triple fault bulkhead must answer for: each
recorded form is recognised, and a fault the guest could have made itself,
or one at another RIP than where KVM resumed the vCPU, is not. These traces
are the lines L1's KVM wrote in the failures the README quotes, cut to the
fields l1_fault reads."""
import os
import re
import subprocess

import pytest

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "l1_signatures.sh")


def exit_line(vcpu, reason, rip, info2=0, intr=0, err=0):
    return ("bulkhead-vcpu-1 [000] ..... 1.0: kvm_exit: vcpu %d reason %s rip 0x%016x "
            "info1 0x0000000000000000 info2 0x%016x intr_info 0x%08x error_code 0x%08x" % (
                vcpu, reason, rip, info2, intr, err))


def verdict(lines, tmp_path):
    """What l1_fault prints for a trace of these lines (empty: bulkhead's)."""
    with open(CASES) as f:
        src = f.read()
    funcs = "".join(re.findall(r"^(?:l1_fault|rip_plus|svm_run_offset)\(\) \{.*?^\}\n", src,
                               re.M | re.S))
    assert "l1_fault()" in funcs and "rip_plus()" in funcs and "svm_run_offset()" in funcs
    trace = tmp_path / "case.trace"
    trace.write_text("\n".join(lines) + "\n")
    p = subprocess.run(["dash", "-c", funcs + 'l1_fault case "$1"', "sh", str(trace)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and not p.stderr, p.stderr
    return p.stdout.strip()


FETCH = dict(intr=0x80000b0e, err=0x10)
TIMER = dict(intr=0x800000ec)
UD = dict(intr=0x80000306)
K = 0xffffffff8ec7e914

L1_FAULTS = {
    "fetch with a reserved bit in its walk, after WRMSR (TSC deadline; CI, 9p-mount)": [
        exit_line(0, "msr", 0xffffffffb827e914),
        exit_line(1, "hlt", 0xffffffffb8c592ea),
        exit_line(0, "shutdown", 0xffffffffb827e916, intr=0x80000b0e, err=0x18)],
    "fetch after a port access": [
        exit_line(0, "io", 0xffffffffb94aa496, info2=0xffffffffb94aa497),
        exit_line(0, "shutdown", 0xffffffffb94aa497, **FETCH)],
    "fetch after WRMSR (x2APIC ICR, the start-up IPI)": [
        exit_line(0, "msr", K),
        exit_line(1, "wbinvd", 0x1),
        exit_line(0, "shutdown", K + 2, **FETCH)],
    "interrupt after HLT": [
        exit_line(0, "hlt", 0xffffffffb1a592ea),
        exit_line(0, "shutdown", 0xffffffffb1a592eb, **TIMER)],
    "fetch after an MMIO access KVM emulated (QEMU microvm's virtio-mmio)": [
        exit_line(0, "npf", 0xffffffffc04650d3, info2=0xfeb02e50),
        exit_line(1, "hlt", 0xffffffff9d4592ea),
        exit_line(0, "shutdown", 0xffffffffc04650d6, **FETCH)],
    "fetch where an NPT fault stopped it": [
        exit_line(0, "npf", 0xffffffffc04650d3, info2=0x3e8e0fe0),
        exit_line(0, "shutdown", 0xffffffffc04650d3, **FETCH)],
    "interrupt where a host interrupt stopped it": [
        exit_line(0, "hlt", 0xffffffffa58592ea),
        exit_line(0, "interrupt", 0xffffffffa4e41216, intr=0xfb),
        exit_line(1, "msr", K),
        exit_line(0, "shutdown", 0xffffffffa4e41216, **TIMER)],
}

BULKHEADS = {
    # the test guest's bulkhead.end=triple: its own #UD through an empty IDT
    "an exception the instruction raised": [
        exit_line(0, "io", 0x127469, info2=0x12746b),
        exit_line(0, "shutdown", 0x12746b, **UD)],
    "a fetch fault elsewhere than the resume point": [
        exit_line(0, "msr", K),
        exit_line(0, "shutdown", K + 3, **FETCH)],
    "an interrupt after HLT, the guest having run on": [
        exit_line(0, "hlt", 0xffffffffb1a592ea),
        exit_line(0, "shutdown", 0xffffffffb1a59400, **TIMER)],
    "the other vCPU's exit is not this one's resume point": [
        exit_line(1, "io", 0xffffffffb94aa496, info2=0xffffffffb94aa497),
        exit_line(0, "npf", 0xffffffff81000000),
        exit_line(0, "shutdown", 0xffffffffb94aa497, **FETCH)],
    "a fault after an exit whose resume point is not known": [
        exit_line(0, "cpuid", 0xffffffffb94aa495),
        exit_line(0, "shutdown", 0xffffffffb94aa497, **FETCH)],
    "a fetch fault more than an instruction after an MMIO access": [
        exit_line(0, "npf", 0xffffffffc04650d3, info2=0xfeb02e50),
        exit_line(0, "shutdown", 0xffffffffc04650e3, **FETCH)],
    "a fetch fault on another page than the MMIO access": [
        exit_line(0, "npf", 0xffffffffc0464ffd, info2=0xfeb02e50),
        exit_line(0, "shutdown", 0xffffffffc0465002, **FETCH)],
    "no shutdown at all": [
        exit_line(0, "io", 0xffffffffb94aa496, info2=0xffffffffb94aa497)],
}


@pytest.mark.parametrize("form", sorted(L1_FAULTS))
def test_l1_fault_is_recognised(form, tmp_path):
    out = verdict(L1_FAULTS[form], tmp_path)
    assert out.startswith("=== L1-FAULT case "), (form, out)


@pytest.mark.parametrize("form", sorted(BULKHEADS))
def test_other_triple_fault_stays_bulkheads(form, tmp_path):
    assert verdict(BULKHEADS[form], tmp_path) == "", form


# l1_hang: a case at its limit whose vCPU kept faulting on nested paging at L1's own RIP after
# VMRUN (CI, 9p-mount: 9014 exits in a second, every one "npf rip 0xffffffffc035120c", which
# L1's /proc/kallsyms puts at __svm_vcpu_run+0x9c). A stand-in kallsyms gives L1's symbols.
SVM_RUN = 0xffffffffc0351170
KALLSYMS = "%016x t __svm_vcpu_run\t[kvm_amd]\n%016x t svm_vcpu_run\t[kvm_amd]\n" % (
    SVM_RUN, SVM_RUN + 0x400)
NPF = dict(info2=0x3e668fe0, intr=0x80000b0e, err=0x10)


def hang_verdict(lines, tmp_path):
    with open(CASES) as f:
        src = f.read()
    funcs = "".join(re.findall(r"^(?:l1_hang|svm_run_offset)\(\) \{.*?^\}\n", src, re.M | re.S))
    assert "l1_hang()" in funcs and "svm_run_offset()" in funcs
    (tmp_path / "kallsyms").write_text(KALLSYMS)
    report = tmp_path / "case.hang"
    report.write_text("threads just before the case's limit:\nkvm_exit events in 1 s: 9014; the last 30:\n"
                      + "\n".join(lines) + "\n")
    p = subprocess.run(["dash", "-c", funcs + 'l1_hang case "$1"', "sh", str(report)],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, KALLSYMS=str(tmp_path / "kallsyms")))
    assert p.returncode == 0 and not p.stderr, p.stderr
    return p.stdout.strip()


def test_npt_loop_at_l1s_vmrun_is_l1s(tmp_path):
    out = hang_verdict([exit_line(0, "npf", SVM_RUN + 0x9c, **NPF)] * 30, tmp_path)
    assert out.startswith("=== L1-FAULT case ") and "__svm_vcpu_run+0x9c" in out, out


@pytest.mark.parametrize("form", ["another RIP", "two RIPs", "an exit that is not npf", "few exits"])
def test_other_hangs_stay_bulkheads(form, tmp_path):
    at_l1 = exit_line(0, "npf", SVM_RUN + 0x9c, **NPF)
    lines = {
        "another RIP": [exit_line(0, "npf", 0xffffffff8107e916, **NPF)] * 30,
        "two RIPs": [at_l1] * 20 + [exit_line(0, "npf", SVM_RUN + 0x500, **NPF)] * 10,
        "an exit that is not npf": [at_l1] * 29 + [exit_line(0, "io", SVM_RUN + 0x9c)],
        "few exits": [at_l1] * 5,
    }[form]
    assert hang_verdict(lines, tmp_path) == "", form


# l1_early_df: Debian's kernel, before /init, its page-fault handler faulting on its own per-CPU
# read until the #DF stack's guard page (the vsock case of a fresh-clone make check,
# 2026-12-07), cut to the lines l1_early_df reads and a few around them.
EARLY_DF = """[    0.746593] PCI: Fatal: No config space access function found
[    2.318909] BUG: #DF stack guard page was hit at 00000000f60c37d1 (stack is 00000000c3020b61..00000000595173c8)
[    2.318909] stack guard page: 0000 [#1] PREEMPT SMP NOPTI
[    2.318909] RIP: 0010:error_entry+0x17/0x130
[    2.318909] CR2: fffffe0000008ff8 CR3: 0000000002a10000 CR4: 00000000003506f0
[    2.318909] Call Trace:
[    2.318909]  <#DF>
[    2.318909] RIP: 0010:exc_page_fault+0x15/0x170
[    2.318909]  asm_exc_page_fault+0x22/0x30
[    2.318909] Kernel panic - not syncing: Fatal exception in interrupt
"""
INIT = "bulkhead-linux: init started\n"


def early_df_verdict(console, tmp_path, where="out"):
    with open(CASES) as f:
        src = f.read()
    funcs = "".join(re.findall(r"^l1_early_df\(\) \{.*?^\}\n", src, re.M | re.S))
    assert "l1_early_df()" in funcs
    (tmp_path / ("case." + where)).write_text(console)
    (tmp_path / "cmd").write_text("")  # as if in L1 (/nested/cmd)
    p = subprocess.run(["dash", "-c", funcs + 'l1_early_df case "$1" "$2"', "sh",
                        str(tmp_path / "case.out"), str(tmp_path / "case.console")],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, NESTED_CMD=str(tmp_path / "cmd")))
    assert p.returncode == 0 and not p.stderr, p.stderr
    return p.stdout.strip()


@pytest.mark.parametrize("where", ["out", "console"])
def test_early_df_before_init_is_l1s(where, tmp_path):
    out = early_df_verdict(EARLY_DF, tmp_path, where)
    assert out.startswith("=== L1-FAULT case ") and "before /init" in out, out


def test_early_df_is_not_looked_for_outside_l1(tmp_path):
    """On a host whose KVM runs Linux (the direct tier) there is no L1 to blame."""
    with open(CASES) as f:
        src = f.read()
    funcs = "".join(re.findall(r"^l1_early_df\(\) \{.*?^\}\n", src, re.M | re.S))
    (tmp_path / "case.out").write_text(EARLY_DF)
    p = subprocess.run(["dash", "-c", funcs + 'l1_early_df case "$1"', "sh", str(tmp_path / "case.out")],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, NESTED_CMD=str(tmp_path / "no-such-file")))
    assert p.returncode == 0 and p.stdout == "", p.stdout


@pytest.mark.parametrize("form", ["after /init started", "another stack overflow",
                                  "a page fault that ends", "a clean boot"])
def test_other_kernel_deaths_stay_bulkheads(form, tmp_path):
    console = {
        "after /init started": INIT + EARLY_DF,
        "another stack overflow": EARLY_DF.replace("exc_page_fault", "virtio_dev_probe"),
        "a page fault that ends": EARLY_DF.replace("#DF stack guard page", "unable to handle page"),
        "a clean boot": INIT + "bulkhead-linux: PASS\n",
    }[form]
    assert early_df_verdict(console, tmp_path) == "", form


# conftest's verdict on a case L1 failed in every L1 boot: skipped (not bulkhead's to pass
# or fail), unless every boot's reason is the console-only early #DF, which would recur if
# bulkhead made it. The reason is what nested_tier makes of l1_early_df's own line.
def early_df_reason(tmp_path):
    from conftest import l1_fault_reasons
    return l1_fault_reasons(early_df_verdict(EARLY_DF, tmp_path))["case"]


def test_a_kernel_dying_before_init_in_every_l1_fails(tmp_path):
    from conftest import NESTED_ATTEMPTS, LinuxRun
    reason = early_df_reason(tmp_path)
    run = LinuxRun("", "nested", "", 0, {"vsock": "; ".join([reason] * NESTED_ATTEMPTS)})
    # a skip must fail this test, not skip it
    try:
        run.status("vsock")
    except AssertionError as e:
        assert "before /init in each of" in str(e), e
    except pytest.skip.Exception as e:
        pytest.fail("skipped, not failed: %s" % e)
    else:
        pytest.fail("the case's status was read as if it had run")


def test_a_case_l1_failed_otherwise_is_skipped(tmp_path):
    from conftest import NESTED_ATTEMPTS, LinuxRun
    reasons = ["L1 ended (harness status 125) before the case did"] + \
        [early_df_reason(tmp_path)] * (NESTED_ATTEMPTS - 1)
    run = LinuxRun("", "nested", "", 0, {"vsock": "; ".join(reasons)})
    with pytest.raises(pytest.skip.Exception):
        run.status("vsock")
