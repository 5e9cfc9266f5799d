# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The man pages keep up with the code: every option bulkhead --help lists is
documented in docs/bulkhead.1, and every option bulkhead-qemu takes (its
table in frontends/qemu/parse.c) in docs/bulkhead-qemu.1."""
import os
import re
import subprocess

from conftest import BULKHEAD, ROOT


def man_text(name):
    with open(os.path.join(ROOT, "docs", name)) as f:
        return f.read().replace("\\-", "-")


def test_every_bulkhead_option_is_in_its_man_page():
    usage = subprocess.run([BULKHEAD, "--help"], capture_output=True, text=True, timeout=30).stdout
    options = set(re.findall(r"^  (?:-\w, )?--([a-z][a-z-]*)", usage, re.M))
    assert {"kernel", "jail", "seccomp", "debug-exit", "config"} <= options, usage
    man = man_text("bulkhead.1")
    missing = sorted(o for o in options if not re.search(r"^\..*--%s\b" % re.escape(o), man, re.M))
    assert not missing, "not in docs/bulkhead.1: %s" % missing


def test_every_bulkhead_qemu_option_is_in_its_man_page():
    with open(os.path.join(ROOT, "frontends", "qemu", "parse.c")) as f:
        src = f.read()
    table = src[src.index("} options[] = {"):]
    options = re.findall(r'^\t\{ "([a-zA-Z-]+)", [01], ', table, re.M)
    assert "kernel" in options and "daemonize" in options, options
    man = man_text("bulkhead-qemu.1")
    missing = sorted(o for o in options if not re.search(r"^\..*[ ,\"]-%s\b" % re.escape(o), man, re.M))
    assert not missing, "not in docs/bulkhead-qemu.1: %s" % missing
