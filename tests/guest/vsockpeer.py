# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The host side of the test guest's vsock scenarios (tests/guest/README.md,
"Host sockets"), with Firecracker's hybrid vsock convention: a host program
reaches the guest's port P by connecting to the UNIX socket PATH and writing
"CONNECT P\\n" (the answer is "OK <host_port>\\n"), and a guest connection to
the host's port P reaches the program listening on PATH_P.

The line protocol of the scenarios: whoever receives a stream answers, at
its end, "<bytes> 0x<crc32>\\n" (zlib's CRC-32, 8 hex digits), which the
sender compares with its own count.

    import vsockpeer
    sink = vsockpeer.Listener(path + "_5000", "sink")    # guest -> host
    line = vsockpeer.send_to_guest(path, 5000, data)      # host -> guest
    sink.stop(); sink.results                             # [(bytes, crc32), ...]

As a command: python3 tests/guest/vsockpeer.py PATH PORT[:MODE]... serves
until a signal (MODE sink, stall or close; sink by default)."""
import os
import socket
import sys
import threading
import time
import zlib


def answer(data_len, crc):
    return b"%d 0x%08x\n" % (data_len, crc)


class Listener(threading.Thread):
    """A host program listening on a UNIX socket path, one thread per connection:

    sink   reads to the end, answers "<bytes> 0x<crc32>\\n", closes (results get it)
    stall  never reads, keeps the connection until stop()
    close  reads to the end and closes (counts connections in results)
    """

    def __init__(self, path, mode="sink", backlog=128):
        super().__init__(daemon=True)
        self.path = path
        self.mode = mode
        self.results = []
        self.errors = []
        self.conns = []
        self.lock = threading.Lock()
        self.stopping = False
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with self.lock:
                self.conns.append(conn)
            if self.mode != "stall":
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        n, crc = 0, 0
        try:
            conn.settimeout(120)
            while True:
                b = conn.recv(1 << 20)
                if not b:
                    break
                n += len(b)
                crc = zlib.crc32(b, crc)
            if self.mode == "sink":
                conn.sendall(answer(n, crc))
            with self.lock:
                self.results.append((n, crc))
        except OSError as e:
            with self.lock:
                self.errors.append("%s after %d bytes: %s" % (self.path, n, e))
        finally:
            conn.close()

    def wait_results(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.results) >= count:
                    return list(self.results)
            time.sleep(0.02)
        with self.lock:
            return list(self.results)

    def stop(self):
        self.stopping = True
        self.join(5)
        self.sock.close()
        with self.lock:
            for c in self.conns:
                c.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def dial(path, port, timeout=30):
    """Connect to the guest's port through PATH: the socket and our host port (from OK)."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    s.settimeout(timeout)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            s.close()
            raise ConnectionError("the guest's port %d refused (no OK line)" % port)
        line += b
        if len(line) > 32:
            raise ConnectionError("not an OK line: %r" % line)
    if not line.startswith(b"OK "):
        raise ConnectionError("not an OK line: %r" % line)
    return s, int(line[3:-1])


def send_to_guest(path, port, data, timeout=60):
    """Send data to the guest's port, shut our side, return the guest's answer line
    (without its newline) and our host port."""
    s, host_port = dial(path, port, timeout)
    try:
        view = memoryview(data)
        while view:
            sent = s.send(view[:1 << 20])
            view = view[sent:]
        s.shutdown(socket.SHUT_WR)
        line = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            line += b
        return line.rstrip(b"\n"), host_port
    finally:
        s.close()


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    path = argv[1]
    listeners = []
    for spec in argv[2:]:
        port, _, mode = spec.partition(":")
        listeners.append(Listener("%s_%s" % (path, port), mode or "sink"))
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    for listener in listeners:
        listener.stop()
        print("%s: %s %s" % (listener.path, listener.results, listener.errors))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
