# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The Linux tier through bulkhead-qemu: the kernel's KUnit runner's
qemu-system-x86_64 command line boots Debian's bzImage, and the guest's
reset ends the run with status 0, as QEMU's -no-reboot does."""


def test_kunit_command_line_boots_and_ends_on_reset(linux_run):
    case = "qemu-kunit"
    assert linux_run.status(case) == 0, linux_run.explain(case)
    out = linux_run.lines(case, "out")
    assert "bulkhead-linux: init started" in out, linux_run.explain(case)
    err = linux_run.lines(case, "err")
    assert "guest reset" in err and "exit status 0" in err, linux_run.explain(case)
    assert "reboot: reboot -f" in out, linux_run.explain(case)
