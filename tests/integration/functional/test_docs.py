# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The documentation of the device options comes from the device-kind table
(kinds/): the man page between its markers is what `make man` writes, and
--help and README name every kind's option."""
import os
import subprocess

from conftest import BUILD, BULKHEAD, ROOT

MAN = os.path.join(ROOT, "docs", "bulkhead.1")
TOOL = os.path.join(BUILD, "tools", "man-devices")


def generated():
    return subprocess.run([TOOL], capture_output=True, text=True, check=True).stdout


def kind_options():
    return [line.split()[1].replace("\\-", "-")[2:] for line in generated().splitlines()
            if line.startswith(".BI")]


def test_man_page_device_options_are_the_tables():
    text = open(MAN).read()
    begin = text.index('.\\" BEGIN DEVICE OPTIONS')
    start = text.index("\n", begin) + 1
    end = text.index('.\\" END DEVICE OPTIONS')
    assert text[start:end] == generated(), "docs/bulkhead.1 is stale: run make man"


def test_every_kind_in_help_and_readme():
    options = kind_options()
    assert {"serial", "disk", "net"} <= set(options), options
    usage = subprocess.run([BULKHEAD, "--help"], capture_output=True, text=True).stdout
    readme = open(os.path.join(ROOT, "README.md")).read()
    for opt in options:
        assert "  --%s " % opt in usage, opt
        assert "`--%s`" % opt in readme, opt
