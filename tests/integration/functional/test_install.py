# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""make install honours PREFIX and DESTDIR, and the installed bulkhead finds
its helpers in $(PREFIX)/libexec/bulkhead."""
import os
import subprocess

from conftest import GUEST, GUEST_PASS, ROOT, with_jail


def test_install_layout_and_run(tmp_path):
    dest = tmp_path / "dest"
    subprocess.run(["make", "-s", "-C", ROOT, "install", "PREFIX=/opt/bh", "DESTDIR=%s" % dest],
                   check=True, capture_output=True, timeout=300)
    prefix = dest / "opt" / "bh"
    assert (prefix / "bin" / "bulkhead").is_file()
    for helper in ("bulkhead-vcpu", "bulkhead-serial"):
        path = prefix / "libexec" / "bulkhead" / helper
        assert path.is_file() and os.access(path, os.X_OK), path
        assert not (prefix / "bin" / helper).exists()
    assert (prefix / "share" / "man" / "man1" / "bulkhead.1").is_file()
    p = subprocess.run([str(prefix / "bin" / "bulkhead")] +
                       with_jail(["--kernel", "path=%s,cmdline=bulkhead.test=hello" % GUEST,
                                  "--memory", "size_mib=32"]),
                       capture_output=True, timeout=60)
    assert p.returncode == GUEST_PASS, p.stderr
    assert b"PASS hello" in p.stdout
