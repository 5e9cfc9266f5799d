# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The benchmark suite's smoke mode (`make bench-smoke`, bench/run.py --smoke):
every figure once under bulkhead and once under QEMU microvm, at tiny sizes.
Timings are never checked here (the machine may be busy): only that every
figure produced numbers for both VMMs, that nothing failed, and that the
table, the data and the chart were written."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT

RUN = os.path.join(ROOT, "bench", "run.py")
# Every figure but linux and 9p (nested L1 boots: bench/run.py SMOKE_FIGURES says why);
# 9p-guest is figure 8's work on the test guest, on this host's KVM.
FIGURES = ("start", "memory", "disk", "net", "mmio", "isolation", "scale", "restart", "9p-guest",
           "rng", "vsock")
# Figures no other VMM has an answer for: bulkhead's rows only (no other VMM restarts a
# device; QEMU's vhost-vsock-device needs /dev/vhost-vsock, which this host lacks).
BULKHEAD_ONLY = ("restart", "vsock")
# mmio-bench's rows: forwarded and unforwarded register reads (figure 5).
MMIO_KEYS = ("mmio.read", "mmio.unclaimed", "mmio.pio", "mmio.pio_local")
VMMS = ("bulkhead", "qemu")


@pytest.mark.needs_namespaces
@pytest.mark.needs_sys_admin
def test_bench_smoke(tmp_path):
    assert os.geteuid() == 0, "bench/run.py needs root (network namespace, TAP, cgroup)"
    for tool in ("qemu-system-x86_64", "gnuplot"):
        assert shutil.which(tool), "%s is missing: scripts/deps.sh installs it" % tool
    env = dict(os.environ, BULKHEAD_BUILD=BUILD)
    p = subprocess.run(["/usr/bin/python3", RUN, "--smoke", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600, env=env)
    explain = "status %d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout, p.stderr)
    assert p.returncode == 0, explain

    stamps = sorted(f[:-5] for f in os.listdir(tmp_path) if f.endswith(".json"))
    assert len(stamps) == 1, "%s\n%s" % (os.listdir(tmp_path), explain)
    base = os.path.join(tmp_path, stamps[0])
    for ext in (".md", ".json", ".png"):
        assert os.path.getsize(base + ext) > 0, "%s%s is empty\n%s" % (base, ext, explain)
    with open(base + ".png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG"

    with open(base + ".json") as f:
        data = json.load(f)
    assert data["smoke"] is True
    assert data["errors"] == [], data["errors"]
    assert data["figures"] == list(FIGURES)
    metrics = data["metrics"]
    for fig in FIGURES:
        mine = [m for m in metrics if m["fig_id"] == fig]
        both = [m for m in mine if m["vmms"] == ["bulkhead", "qemu"]]
        assert mine, "figure %s has no metric" % fig
        assert both or fig in BULKHEAD_ONLY, "figure %s has no metric for both VMMs" % fig
        for m in mine:
            for vmm in m["vmms"]:
                assert m["values"][vmm], "figure %s: %s has no value for %s" % (fig, m["key"], vmm)
                assert all(v >= 0 for v in m["values"][vmm]), m
        for m in both:
            assert m["median"]["bulkhead"] is not None and m["median"]["qemu"] is not None, m
    # bulkhead's own processes are measured one by one.
    keys = {m["key"] for m in metrics}
    for proc in ("supervisor", "vcpu", "serial", "blk0", "net0"):
        assert "mem.%s.pss" % proc in keys, sorted(keys)
    by_key = {m["key"]: m for m in metrics}
    for key in MMIO_KEYS:
        assert key in by_key, sorted(keys)
        m = by_key[key]
        assert m["vmms"] == ["bulkhead", "qemu"] and m["unit"] == "ns", m
        assert all(m["values"][vmm] for vmm in m["vmms"]), m
        assert m["figure"].startswith("5 cost of isolation"), m
    # A forwarded read takes time; the port rows are differences and may round to 0.
    assert all(v > 0 for vmm in VMMS for v in by_key["mmio.read"]["values"][vmm])

    with open(base + ".md") as f:
        table = f.read()
    assert "| figure | what | bulkhead median (min-max) | QEMU median (min-max) |" in table
    for m in metrics:
        assert m["label"] in table, m["label"]
