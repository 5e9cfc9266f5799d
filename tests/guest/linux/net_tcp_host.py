#!/usr/bin/env python3
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The host's side of the Linux kit's net-tcp scenario.

    net_tcp_host.py [--connect HOST:PORT] [--listen ADDR:PORT] [--seed S]
                    [--rx-seed R] [--mib N] [--timeout T] -- COMMAND [ARG...]

Listens on --listen (default 10.0.2.2:5002: the guest's PEER) before it
starts COMMAND, which boots the kit with bulkhead.linux=net-tcp (bulkhead or
run-qemu.sh). It copies COMMAND's output (the guest console) to stdout, and:

1. when the console says "bulkhead-linux: net-tcp listening", connects to
   --connect (default 10.0.2.15:5001: the guest's nc -l -p 5001; retried for
   10 s), sends N MiB of the pattern of R (linux_pattern.py; default R is
   S+1, as the guest expects without bulkhead.rx-sha256), half-closes,
   waits for the guest to close, closes;
2. accepts one connection on --listen, reads to EOF and closes: that must be
   the pattern of S, N MiB, with the sha256 the guest printed on its
   "bulkhead-linux: net-tcp tx sha256 H bytes N" line.

Exits 0 when COMMAND exited 1 (the guest's PASS through the debug-exit port)
and both transfers were right, else 1; every check is printed on a line
starting with "net-tcp-host:". Under QEMU's user network (slirp) use
--connect 127.0.0.1:HOSTFWD-PORT --listen 127.0.0.1:5002 (see README.md).
"""
import argparse
import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linux_pattern  # noqa: E402

LISTENING = "bulkhead-linux: net-tcp listening"
TX_LINE = re.compile(r"bulkhead-linux: net-tcp tx sha256 ([0-9a-f]{64}) bytes (\d+)")


def addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def say(msg):
    print("net-tcp-host: %s" % msg, flush=True)


class Receiver(threading.Thread):
    """Accepts one connection on SOCK and reads it to EOF."""

    def __init__(self, sock, timeout):
        super().__init__(daemon=True)
        self.sock = sock
        self.timeout = timeout
        self.data = None
        self.peer = None
        self.error = None
        self.seconds = None

    def run(self):
        try:
            self.sock.settimeout(self.timeout)
            conn, self.peer = self.sock.accept()
            t = time.monotonic()
            conn.settimeout(self.timeout)
            parts = []
            while True:
                b = conn.recv(1 << 16)
                if not b:
                    break
                parts.append(b)
            conn.close()
            self.seconds = time.monotonic() - t
            self.data = b"".join(parts)
        except OSError as e:
            self.error = e


class Sender(threading.Thread):
    """Connects to TARGET (retrying for 10 s), sends DATA, half-closes and
    waits for the other side to close."""

    def __init__(self, target, data, timeout):
        super().__init__(daemon=True)
        self.target = target
        self.data = data
        self.timeout = timeout
        self.error = None
        self.attempts = 0
        self.seconds = None

    def run(self):
        deadline = time.monotonic() + 10
        while True:
            self.attempts += 1
            try:
                s = socket.create_connection(self.target, timeout=3)
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    self.error = e
                    return
                time.sleep(0.2)
        try:
            t = time.monotonic()
            s.settimeout(self.timeout)
            s.sendall(self.data)
            s.shutdown(socket.SHUT_WR)
            while s.recv(1 << 16):
                pass
            s.close()
            self.seconds = time.monotonic() - t
        except OSError as e:
            self.error = e


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connect", default="10.0.2.15:5001", type=addr)
    ap.add_argument("--listen", default="10.0.2.2:5002", type=addr)
    ap.add_argument("--seed", type=int, default=1, help="the guest's bulkhead.seed")
    ap.add_argument("--rx-seed", type=int, default=None,
                    help="seed of what the host sends (the guest's bulkhead.rx-seed; default seed+1)")
    ap.add_argument("--mib", type=int, default=8, help="the guest's bulkhead.mib")
    ap.add_argument("--timeout", type=float, default=300, help="seconds for each transfer")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no COMMAND")
    rx_seed = a.seed + 1 if a.rx_seed is None else a.rx_seed
    n = a.mib << 20
    send = linux_pattern.generate(rx_seed, n)
    want = linux_pattern.sha256(a.seed, n)
    say("send %d bytes, pattern seed %d, sha256 %s, to %s:%d"
        % (n, rx_seed, hashlib.sha256(send).hexdigest(), *a.connect))
    say("expect %d bytes, pattern seed %d, sha256 %s, on %s:%d" % (n, a.seed, want, *a.listen))

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(a.listen)
    ls.listen(1)
    rx = Receiver(ls, a.timeout)
    rx.start()

    tx = None
    guest_tx = None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    for raw in proc.stdout:
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        line = raw.decode("utf-8", "replace")
        if LISTENING in line and tx is None:
            tx = Sender(a.connect, send, a.timeout)
            tx.start()
        m = TX_LINE.search(line)
        if m:
            guest_tx = (m.group(1), int(m.group(2)))
    status = proc.wait()
    if tx is not None:
        tx.join(5)
    rx.join(5)
    ls.close()

    ok = True
    say("command exited with status %d (1 = the guest's PASS)" % status)
    if status != 1:
        ok = False
    if tx is None:
        say("FAIL: the guest never printed %r" % LISTENING)
        ok = False
    elif tx.is_alive() or tx.error or tx.seconds is None:
        say("FAIL: sending to %s:%d: %s" % (*a.connect, tx.error or "did not finish"))
        ok = False
    else:
        say("sent %d bytes in %.2f s (attempt %d)" % (n, tx.seconds, tx.attempts))
    if rx.data is None:
        say("FAIL: nothing received on %s:%d: %s"
            % (*a.listen, rx.error or "no connection (still waiting)"))
        ok = False
    else:
        got = hashlib.sha256(rx.data).hexdigest()
        say("received %d bytes from %s:%d in %.2f s, sha256 %s"
            % (len(rx.data), *rx.peer, rx.seconds, got))
        if got != want or len(rx.data) != n:
            bad = linux_pattern.verify(rx.data, a.seed)
            say("FAIL: not the pattern of seed %d, %d bytes (first bad byte %s)" % (a.seed, n, bad))
            ok = False
        if guest_tx is None:
            say("FAIL: the guest printed no 'net-tcp tx sha256' line")
            ok = False
        elif guest_tx != (got, len(rx.data)):
            say("FAIL: the guest says it sent sha256 %s bytes %d" % guest_tx)
            ok = False
    say("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
