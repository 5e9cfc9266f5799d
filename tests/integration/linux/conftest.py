# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The Linux tier: boot Debian's kernel with bulkhead, directly where the
host's KVM runs Linux, else inside the nested harness (tests/nested). Which
way, and why, is printed in the test report header and asserted on, never
skipped silently. Every case runs in one harness boot (cases.sh)."""
import os
import re
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.environ.get("BULKHEAD_BUILD", os.path.join(ROOT, "build"))
KIT = os.path.join(BUILD, "linux-kit")
HERE = os.path.dirname(os.path.abspath(__file__))


def probe():
    p = subprocess.run([os.path.join(ROOT, "tests", "nested", "probe.sh")], capture_output=True,
                       text=True, timeout=60)
    return ("direct" if p.returncode == 0 else "nested"), p.stdout.strip()


class LinuxRun:
    """Parsed output of cases.sh: per case its status, stdout, stderr, console file."""

    def __init__(self, text, tier, why, seconds):
        self.text = text
        self.tier = tier
        self.why = why
        self.seconds = seconds
        self.cases = {}
        for m in re.finditer(r"^=== STATUS (\S+) (\d+)", text, re.M):
            self.cases[m.group(1)] = int(m.group(2))
        self.times = {}
        for m in re.finditer(r"^=== TIME (\S+) ([\d.]+) ([\d.]+)", text, re.M):
            self.times[m.group(1)] = float(m.group(3)) - float(m.group(2))

    def lines(self, case, stream):
        prefix = "%s|%s| " % (case, stream)
        return "\n".join(line[len(prefix):] for line in self.text.splitlines()
                         if line.startswith(prefix))

    def status(self, case):
        assert case in self.cases, "case %s did not run (%s tier: %s)\n%s" % (
            case, self.tier, self.why, self.text[-4000:])
        return self.cases[case]

    def explain(self, case):
        return "%s tier (%s), case %s took %.1f s\nstdout:\n%s\nstderr:\n%s" % (
            self.tier, self.why, case, self.times.get(case, -1), self.lines(case, "out"),
            self.lines(case, "err"))


@pytest.fixture(scope="session")
def linux_kit():
    subprocess.run([os.path.join(ROOT, "tests", "guest", "linux", "build-kit.sh"), KIT],
                   check=True, capture_output=True, timeout=600)
    for f in ("bzImage", "vmlinux", "initramfs.cpio.gz"):
        assert os.path.exists(os.path.join(KIT, f)), f
    return KIT


@pytest.fixture(scope="session")
def linux_run(linux_kit):
    tier, why = probe()
    t0 = time.monotonic()
    cases = os.path.join(HERE, "cases.sh")
    if tier == "direct":
        out = os.path.join(BUILD, "linux-direct")
        p = subprocess.run(["sh", cases, os.path.join(BUILD, "bulkhead"), linux_kit, out],
                           capture_output=True, text=True, timeout=1800)
        text = p.stdout
    else:
        env = dict(os.environ, KIT_ALL="1", NESTED_LOG=os.path.join(BUILD, "nested",
                                                                    "linux-tests.log"))
        p = subprocess.run([os.path.join(ROOT, "tests", "nested", "run.sh"), "--timeout", "1500",
                            "--file", "%s:/nested/cases.sh" % cases, "--",
                            "sh", "/nested/cases.sh", "/bulkhead/bulkhead", "/kit", "/tmp/out"],
                           capture_output=True, text=True, timeout=1800, env=env)
        text = p.stdout
        assert p.returncode != 125, "the nested harness failed: %s\n%s" % (p.stderr, text[-3000:])
    run = LinuxRun(text, tier, why, time.monotonic() - t0)
    assert "=== DONE" in text, "cases.sh did not finish (%s tier, %s):\n%s\n%s" % (
        tier, why, p.stderr[-2000:], text[-4000:])
    print("\nLinux tier: %s (%s); all cases took %.1f s: %s" % (
        tier, why, run.seconds, ", ".join("%s %.1f s" % kv for kv in sorted(run.times.items()))))
    return run
