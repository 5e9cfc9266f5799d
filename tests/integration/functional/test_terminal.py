# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""--serial stdio on a terminal: raw while the guest runs, restored when
bulkhead exits, also when the supervisor itself crashes."""
import os
import pty
import select
import signal
import subprocess
import termios
import time

import pytest

from conftest import GUEST_PASS, bulkhead_cmd, guest_args, vm_processes


def read_until(fd, marker, timeout=20):
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline and marker not in buf:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    assert marker in buf, buf
    return buf


@pytest.fixture
def tty():
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    assert before[3] & termios.ICANON
    yield master, slave, before
    os.close(master)
    os.close(slave)


def start_on_tty(slave, name, scenario="echo"):
    return subprocess.Popen(bulkhead_cmd(["--name", name] + guest_args(scenario)), stdin=slave,
                            stdout=slave, stderr=subprocess.PIPE)


def test_terminal_raw_then_restored(tty):
    master, slave, before = tty
    p = start_on_tty(slave, "tr%d" % (os.getpid() % 100000))
    read_until(master, b"bulkhead-test-guest: ready")
    during = termios.tcgetattr(slave)
    assert not during[3] & termios.ICANON, "terminal not raw while the guest runs"
    assert not during[3] & termios.ECHO
    assert not during[3] & termios.ISIG, "Ctrl-C must reach the guest"
    os.write(master, b"typed on a terminal\rquit\r")
    out = read_until(master, b"PASS echo")
    assert b"echo: typed on a terminal" in out
    assert p.wait(timeout=20) == GUEST_PASS
    assert termios.tcgetattr(slave) == before, "terminal not restored"


@pytest.mark.parametrize("used", [False, True])
def test_terminal_restored_with_an_api_socket(tty, tmp_path, used):
    """bulkhead-api starts at its socket's first client, or never: either way the supervisor
    closes only what it opened, and the terminal it made raw is restored."""
    master, slave, before = tty
    sock = str(tmp_path / "api.sock")
    p = subprocess.Popen(bulkhead_cmd(["--name", "ta%d" % (os.getpid() % 100000)] +
                                      guest_args("echo") + ["--api-socket", sock]),
                         stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    read_until(master, b"bulkhead-test-guest: ready")
    if used:
        c = subprocess.run(["curl", "-s", "--max-time", "10", "--unix-socket", sock,
                            "http://localhost/api/v1/vmm.ping"], capture_output=True, timeout=20)
        assert c.returncode == 0 and b'"pid"' in c.stdout, c
    os.write(master, b"quit\r")
    read_until(master, b"PASS echo")
    assert p.wait(timeout=20) == GUEST_PASS
    assert termios.tcgetattr(slave) == before, "terminal not restored: %s" % p.stderr.read()


def test_terminal_restored_after_child_crash(tty):
    master, slave, before = tty
    p = start_on_tty(slave, "tc%d" % (os.getpid() % 100000))
    read_until(master, b"bulkhead-test-guest: ready")
    deadline = time.time() + 5
    while "serial" not in vm_processes("tc%d" % (os.getpid() % 100000)) and time.time() < deadline:
        time.sleep(0.02)
    os.kill(vm_processes("tc%d" % (os.getpid() % 100000))["serial"], signal.SIGKILL)
    assert p.wait(timeout=20) == 4
    assert termios.tcgetattr(slave) == before


def test_terminal_restored_after_supervisor_crash(tty):
    master, slave, before = tty
    p = start_on_tty(slave, "tx%d" % (os.getpid() % 100000))
    read_until(master, b"bulkhead-test-guest: ready")
    p.send_signal(signal.SIGSEGV)
    assert p.wait(timeout=20) == -signal.SIGSEGV
    assert termios.tcgetattr(slave) == before
    deadline = time.time() + 5
    while vm_processes("tx%d" % (os.getpid() % 100000)) and time.time() < deadline:
        time.sleep(0.05)
    assert not vm_processes("tx%d" % (os.getpid() % 100000)), "children outlived the supervisor"
