# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""bench/run.py's Linux figure keeps a variant's boots only from an L1 where every
boot worked, runs a variant again in a fresh L1 where L1 itself failed (run.sh's 124
or 125, or failed boots that L1's trace shows L1 broke: "=== L1-FAULT"), and makes any
other failed boot an error of the figure. linux_session (one nested L1) is scripted."""
import importlib.util
import os

from conftest import ROOT

spec = importlib.util.spec_from_file_location("bench_run", os.path.join(ROOT, "bench", "run.py"))
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)


def boot(vmm, variant, n, line="5000.0", status="0"):
    return (vmm, variant, str(n), line, "6000.0", status, "569")


def good(variant, rounds):
    return [boot(v, variant, n) for n in range(1, rounds + 1) for v in run.VMMS]


def scripted(monkeypatch, sessions):
    """Each call of linux_session answers the next of sessions: (status, output, boots)."""
    calls = []

    def fake(work, rounds, variants, tier):
        calls.append(variants[0])
        return sessions.pop(0)
    monkeypatch.setattr(run, "linux_session", fake)
    monkeypatch.setattr(run, "LINUX_VARIANTS", (("verbose", "every boot message"),))
    return calls


def test_a_sound_l1_is_kept(monkeypatch):
    calls = scripted(monkeypatch, [(0, "", good("verbose", 2))])
    boots, errors = run.linux_boots({}, "/tmp", 2, "nested")
    assert boots == good("verbose", 2) and not errors and calls == ["verbose"]


def test_a_boot_l1_broke_runs_the_variant_again(monkeypatch):
    broken = good("verbose", 2)
    broken[3] = boot("qemu", "verbose", 2, line="-1.0")
    out = "=== L1-FAULT qemu-verbose-2 the guest could not fetch ffffffff8107e916, where KVM ...\n"
    calls = scripted(monkeypatch, [(0, out, broken), (0, "", good("verbose", 2))])
    boots, errors = run.linux_boots({}, "/tmp", 2, "nested")
    assert boots == good("verbose", 2) and not errors and calls == ["verbose", "verbose"]


def test_a_failed_boot_l1_did_not_break_is_an_error(monkeypatch):
    broken = good("verbose", 2)
    broken[2] = boot("bulkhead", "verbose", 2, line="-1.0")
    calls = scripted(monkeypatch, [(0, "", broken), (0, "", good("verbose", 2))])
    boots, errors = run.linux_boots({}, "/tmp", 2, "nested")
    assert not boots and len(errors) == 1 and "bulkhead verbose run 2" in errors[0]
    assert calls == ["verbose"]


def test_one_fault_does_not_excuse_another_boot(monkeypatch):
    broken = good("verbose", 2)
    broken[1] = boot("qemu", "verbose", 1, line="-1.0")
    broken[2] = boot("bulkhead", "verbose", 2, status="1")
    out = "=== L1-FAULT qemu-verbose-1 the guest ran at ..., L1's __svm_vcpu_run+0x9c\n"
    scripted(monkeypatch, [(0, out, broken), (0, "", good("verbose", 2))])
    boots, errors = run.linux_boots({}, "/tmp", 2, "nested")
    assert not boots and len(errors) == 1 and "bulkhead verbose run 2" in errors[0]


def test_an_l1_that_keeps_failing_ends_the_variant(monkeypatch):
    broken = good("verbose", 1)
    broken[0] = boot("bulkhead", "verbose", 1, line="-1.0")
    out = "=== L1-FAULT bulkhead-verbose-1 the guest ran at ..., L1's __svm_vcpu_run+0x9c\n"
    calls = scripted(monkeypatch, [(0, out, broken)] * run.LINUX_L1_TRIES)
    boots, errors = run.linux_boots({}, "/tmp", 1, "nested")
    assert not boots and len(errors) == 1 and calls == ["verbose"] * run.LINUX_L1_TRIES


def test_a_boot_that_never_reported_is_not_excused_by_another_l1_fault(monkeypatch):
    broken = good("verbose", 2)
    broken[1] = boot("qemu", "verbose", 1, line="-1.0")
    del broken[3]  # qemu's second boot: no LINUXBOOT line at all, and L1 did not die
    out = "=== L1-FAULT qemu-verbose-1 the guest ran at ..., L1's __svm_vcpu_run+0x9c\n"
    calls = scripted(monkeypatch, [(0, out, broken), (0, "", good("verbose", 2))])
    boots, errors = run.linux_boots({}, "/tmp", 2, "nested")
    assert not boots and len(errors) == 1 and "3 boots of 4" in errors[0] and calls == ["verbose"]


def test_an_l1_that_died_runs_the_variant_again(monkeypatch):
    calls = scripted(monkeypatch, [(125, "", good("verbose", 2)[:3]), (0, "", good("verbose", 2))])
    boots, errors = run.linux_boots({}, "/tmp", 2, "nested")
    assert boots == good("verbose", 2) and not errors and calls == ["verbose", "verbose"]
