# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""bulkhead-probe: every attack attempt, in every process kind's exact jail
and policy, is blocked; the control attempt proves each child reported."""
import os
import subprocess

import pytest

from conftest import BUILD, as_test_user


@pytest.mark.needs_namespaces
def test_probe_allows_nothing():
    """As root, and in the unprivileged pass as that user (each attempt's
    child then sits in a user namespace, as bulkhead's children do)."""
    p = subprocess.run(as_test_user([os.path.join(BUILD, "bulkhead-probe")]), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    first = p.stdout.split("the jail alone")[0]
    rows = [line for line in first.splitlines() if line.startswith("| ") and "---" not in line]
    header, control, attempts = rows[0], rows[1], rows[2:]
    kinds = ["vcpu", "serial", "blk", "net", "9p", "rng", "vsock", "api", "supervisor"]
    assert [c.strip() for c in header.split("|")[2:-1]] == kinds, header
    assert [c.strip() for c in control.split("|")[2:-1]] == ["ALLOWED"] * len(kinds), control
    assert len(attempts) >= 18, first
    # The policy, not the jail or an fd that happens not to fit, is what stops each
    # attempt: a widened rule would otherwise hide behind an ENOTTY or an EBADF. The
    # one exception is by design: the 9p server may call openat2, and its jail
    # (an empty view beneath the share) answers ENOENT.
    for row in attempts:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        for kind, cell in zip(kinds, cells[1:]):
            if kind == "9p" and cells[0].startswith("openat2"):
                assert cell == "ENOENT", (cells[0], kind, cell)
            else:
                assert cell == "seccomp kill", (cells[0], kind, cell)
    assert "0 attempt(s) allowed" in p.stdout
