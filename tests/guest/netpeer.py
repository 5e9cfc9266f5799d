# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The host peer of the test guest's network scenarios (tests/guest/net.h).

It sits on the host end of a TAP through an AF_PACKET socket bound to the TAP
interface (the VMM holds the TAP fd itself): frames the guest transmits arrive
on the socket, frames sent on the socket go to the guest. Only ethertype
0x88b5 is taken. Frame layout (multi-byte fields little-endian):

    0 dst MAC | 6 src MAC | 12 ethertype 0x88b5 (big-endian)
    14 le32 magic "bhnt" | 18 le16 op | 20 le16 frame length (0 above 65535)
    22 le32 seq | 26 le32 arg | 30 data

Data frames (TX, ECHO, RX, BENCH, BAD) carry the pattern of seed = arg and seq:
data byte i is byte (seq << 16) + i of pattern.generate(..., seed), that is the
little-endian words splitmix64(seed ^ (seq << 13 | i // 8)). Control frames
are 64 bytes with le32 arguments a[0..7] at offset 30.

What the peer does with each op it receives:
    TX      check it (pattern, length, MACs), count it by seq
    ECHO    send it back with the MACs swapped
    BENCH   count it: a socket filter drops BENCH frames in the kernel, and the count
            is the TAP interface's rx packets less the frames the peer read
    BAD     count it: the device must never have sent it
    HELLO   answer HELLO_ACK (same seq) from the TAP's MAC; a HELLO with a new seq
            resets the tallies
    SEND    a[0] frames RX from seq a[1], seed a[2], size a[3] (0: frame_size(seq)),
            then SENT (a[0] = count) unless a[4] & 1 (quiet)
    FLOOD   RX frames of a[0] bytes, seed a[1], seq 0..63 over and over, until STOP;
            with a window a[2], at most that many beyond the count the guest last
            acknowledged (RXACK a[0] = frames received), else as fast as the socket
            takes them (the TAP queue drops the excess)
    STOP    end the flood; STOPPED: a[0], a[1] frames sent (low, high), a[2] frames the
            TAP queue dropped
    REPORT  REPORT_ACK: a[0] TX intact, a[1] TX bad, a[2] BAD seen, a[3] ECHO,
            a[4] BENCH, a[5] frames read
Requests with a reply are idempotent: the guest sends them again until it comes.

    python3 netpeer.py [--netns NAME] [--seconds N] IFNAME...   (serve until a signal)
"""
import ctypes
import errno
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pattern  # noqa: E402

ETH_P = 0x88B5
MAGIC = 0x746E6862
OFF_DATA = 30
CTRL_LEN = 64
MIN_FRAME = 60
ETH_FRAME = 1514
BROADCAST = b"\xff" * 6
PACKET_OUTGOING = 4
SIOCGIFHWADDR = 0x8927
SIOCGIFINDEX = 0x8933
SO_ATTACH_FILTER = 26
CLONE_NEWNET = 0x40000000
RTM_GETLINK = 18
IFLA_STATS64 = 23
FLOOD_WINDOW = 512

TX, ECHO, RX, BENCH, BAD = 1, 2, 3, 4, 5
HELLO, HELLO_ACK, SEND, SENT, FLOOD, STOP, STOPPED, REPORT, REPORT_ACK, RXACK = range(16, 26)
SEND_QUIET = 1
OP_NAMES = {TX: "TX", ECHO: "ECHO", RX: "RX", BENCH: "BENCH", BAD: "BAD", HELLO: "HELLO",
            HELLO_ACK: "HELLO_ACK", SEND: "SEND", SENT: "SENT", FLOOD: "FLOOD", STOP: "STOP",
            STOPPED: "STOPPED", REPORT: "REPORT", REPORT_ACK: "REPORT_ACK", RXACK: "RXACK"}

_HEAD = struct.Struct("<6s6sHIHHII")  # dst src ethertype(swapped below) magic op len seq arg


def frame_size(seq):
    """The default size of data frame seq (net.h netp_frame_size)."""
    if seq % 16 == 0:
        return MIN_FRAME
    if seq % 16 == 1:
        return ETH_FRAME
    return MIN_FRAME + pattern.splitmix64(seq) % (ETH_FRAME - MIN_FRAME + 1)


def data_bytes(seed, seq, n):
    """The n data bytes of data frame seq with seed."""
    return pattern.generate(seq << 16, (n + 7) & ~7, seed & 0xFFFFFFFF)[:n]


def head(dst, src, op, seq, arg, length):
    return (dst + src + struct.pack(">H", ETH_P) +
            struct.pack("<IHHII", MAGIC, op, length if length <= 0xFFFF else 0,
                        seq & 0xFFFFFFFF, arg & 0xFFFFFFFF))


def data_frame(dst, src, op, seq, seed, length):
    return head(dst, src, op, seq, seed, length) + data_bytes(seed, seq, length - OFF_DATA)


def ctrl_frame(dst, src, op, seq, args=()):
    body = struct.pack("<%dI" % len(args), *[a & 0xFFFFFFFF for a in args])
    f = head(dst, src, op, seq, 0, CTRL_LEN) + body
    return f + bytes(CTRL_LEN - len(f))


def parse(f):
    """(op, seq, arg, length field) of a protocol frame, or None."""
    if len(f) < OFF_DATA or f[12:14] != struct.pack(">H", ETH_P):
        return None
    magic, op, length, seq, arg = struct.unpack_from("<IHHII", f, 14)
    if magic != MAGIC:
        return None
    return op, seq, arg, length


def args(f, n=8):
    return struct.unpack_from("<%dI" % n, f + bytes(OFF_DATA + 4 * n), OFF_DATA)


def check_data(f, op):
    """None if f is a good data frame of op, else why not."""
    p = parse(f)
    if p is None:
        return "not a protocol frame"
    fop, seq, seed, length = p
    if fop != op:
        return "op %d, want %d" % (fop, op)
    if length != (len(f) if len(f) <= 0xFFFF else 0):
        return "length field %d, frame %d bytes" % (length, len(f))
    if len(f) < MIN_FRAME:
        return "%d bytes" % len(f)
    want = data_bytes(seed, seq, len(f) - OFF_DATA)
    if f[OFF_DATA:] != want:
        i = next(i for i in range(len(want)) if f[OFF_DATA + i] != want[i])
        return "data differs at byte %d: 0x%02x, want 0x%02x" % (OFF_DATA + i, f[OFF_DATA + i],
                                                                  want[i])
    return None


def mac_str(m):
    return ":".join("%02x" % b for b in m)


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class _InNetns:
    """with _InNetns(name): this thread is in network namespace name (if not None)."""

    def __init__(self, netns):
        self.netns = netns

    def __enter__(self):
        if self.netns:
            self.own = os.open("/proc/self/ns/net", os.O_RDONLY)
            target = os.open("/var/run/netns/%s" % self.netns, os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)

    def __exit__(self, *exc):
        if self.netns:
            _setns(self.own)
            os.close(self.own)


def _bench_filter():
    """Classic BPF: drop BENCH frames in the kernel (op at byte 18, little-endian), take the
    rest. The peer counts BENCH frames from the interface's statistics instead, so that a
    tx benchmark does not compete with Python reading every frame."""
    insns = [(0x28, 0, 0, 18),  # ldh [18]
             (0x15, 0, 1, BENCH << 8),  # jeq #(BENCH as big-endian), drop, accept
             (0x06, 0, 0, 0),  # ret #0
             (0x06, 0, 0, 0x40000)]  # ret #256K
    prog = b"".join(struct.pack("HBBI", *i) for i in insns)
    buf = ctypes.create_string_buffer(prog)
    return buf, struct.pack("HL", len(insns), ctypes.addressof(buf))


def open_socket(ifname, netns=None):
    """An AF_PACKET socket for ethertype 0x88b5 bound to ifname (inside network namespace
    netns, by name, if given: this thread enters it and comes back), without BENCH frames."""
    with _InNetns(netns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P))
    buf, fprog = _bench_filter()
    s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    del buf
    s.bind((ifname, ETH_P))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.setblocking(False)
    return s


def open_netlink(netns=None):
    """A NETLINK_ROUTE socket in netns (for link_stats)."""
    with _InNetns(netns):
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)


def if_mac(sock, ifname):
    r = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", ifname.encode()))
    return r[18:24]


def if_index(sock, ifname):
    r = fcntl.ioctl(sock.fileno(), SIOCGIFINDEX, struct.pack("16sI20x", ifname.encode(), 0))
    return struct.unpack_from("I", r, 16)[0]


def link_stats(nl, index):
    """rx_packets, tx_packets, rx_dropped, tx_dropped of interface index (rtnl_link_stats64).
    On the host end of a TAP, rx is what the guest sent and tx what went to the guest."""
    req = struct.pack("=IHHII", 32, RTM_GETLINK, 1, 1, 0) + struct.pack("=BxHiII", 0, 0, index, 0, 0)
    nl.send(req)
    data = nl.recv(65536)
    off = 16 + 16  # nlmsghdr, ifinfomsg
    mlen = struct.unpack_from("=I", data, 0)[0]
    while off + 4 <= mlen:
        alen, atype = struct.unpack_from("=HH", data, off)
        if alen < 4:
            break
        if atype == IFLA_STATS64:
            v = struct.unpack_from("=8Q", data, off + 4)
            return v[0], v[1], v[6], v[7]
        off += (alen + 3) & ~3
    raise OSError("no IFLA_STATS64 for interface %d" % index)


class Peer(threading.Thread):
    """Serve one TAP interface until stop(); read the tallies after join(). sock comes from
    open_socket, nl (optional) from open_netlink in the same namespace."""

    def __init__(self, sock, ifname, nl=None, verbose=False):
        super().__init__(daemon=True)
        self.sock = sock
        self.ifname = ifname
        self.mac = if_mac(sock, ifname)
        self.nl = nl
        self.index = if_index(sock, ifname)
        self.verbose = verbose
        self._halt = threading.Event()
        self.error = None
        self.log = []
        self.hello_seq = None
        self.guest_mac = None
        self.flood = None  # while flooding: {"frames", "window"}
        self.reset()

    def reset(self):
        self.tx_ok = {}  # seq -> length
        self.tx_bad = []  # (seq, why)
        self.tx_dst = set()
        self.bad = []  # (seq, length) of BAD frames seen
        self.echoes = []  # seqs
        self.bench = 0
        self.frames = 0  # protocol frames read (BENCH frames never are)
        self.sends = []  # (count, seq0, seed, size)
        self.flood_sent = 0
        self.flood_acked = 0
        self.flood_dropped = 0
        self.floods = 0
        self.stats0 = self.stats()

    def stats(self):
        """(rx_packets, tx_packets, rx_dropped, tx_dropped) of the interface, or None."""
        if self.nl is None:
            return None
        return link_stats(self.nl, self.index)

    def note(self, msg):
        self.log.append("%.3f %s" % (time.monotonic(), msg))
        if self.verbose:
            sys.stderr.write("netpeer %s: %s\n" % (self.ifname, msg))

    def stop(self):
        self._halt.set()

    def send(self, f, retry=True):
        """Send f; True, or False if the socket had no room and retry is off (floods)."""
        while True:
            try:
                self.sock.send(f)
                return True
            except (BlockingIOError, InterruptedError):
                if not retry:
                    return False
                select.select([], [self.sock], [], 0.01)
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                if not retry:
                    return False
                time.sleep(0.001)

    def run(self):
        try:
            self._serve()
        except Exception as e:  # reported by the test
            self.error = "%s: %r" % (type(e).__name__, e)
            self.note("error: " + self.error)

    def _recv_all(self):
        """Frames waiting on the socket (not the ones we sent)."""
        out = []
        while len(out) < 256:
            try:
                f, addr = self.sock.recvfrom(70000)
            except (BlockingIOError, InterruptedError):
                break
            if addr[2] == PACKET_OUTGOING:
                continue
            out.append(f)
        return out

    def _serve(self):
        while not self._halt.is_set():
            fl = self.flood
            if fl is None:
                select.select([self.sock], [], [], 0.05)
            for f in self._recv_all():
                self._handle(f)
            fl = self.flood
            if fl is None:
                continue
            frames, window = fl["frames"], fl["window"]
            sent = 0
            while sent < 32 and (not window or self.flood_sent - self.flood_acked < window):
                if not self.send(frames[self.flood_sent % len(frames)], retry=False):
                    self.flood_dropped += 1
                    break
                self.flood_sent += 1
                sent += 1
            if not sent:
                # The window is full (wait for an RXACK) or the socket is.
                select.select([self.sock], [], [], 0.002)

    def close(self):
        """After join(): close the sockets (the tallies stay)."""
        self.bench_final = self._bench_frames()
        self.sock.close()
        if self.nl is not None:
            self.nl.close()
            self.nl = None

    def _bench_frames(self):
        """BENCH frames since HELLO: the interface's rx count less the frames we read."""
        if self.nl is None:
            return getattr(self, "bench_final", 0)
        now, then = self.stats(), self.stats0
        if now is None or then is None:
            return 0
        return max(0, now[0] - then[0] - self.frames)

    def _handle(self, f):
        self.frames += 1
        p = parse(f)
        if p is None:
            return
        op, seq, arg, _ = p
        src, dst = f[6:12], f[0:6]
        if op == ECHO:
            self.echoes.append(seq)
            self.send(src + dst + f[12:])
        elif op == TX:
            why = check_data(f, TX)
            if why is None and self.guest_mac is not None and src != self.guest_mac:
                why = "source MAC %s, the guest's is %s" % (mac_str(src), mac_str(self.guest_mac))
            if why is None and dst not in (BROADCAST, self.mac):
                why = "destination MAC %s" % mac_str(dst)
            if why is None and seq in self.tx_ok:
                why = "seq %d twice" % seq
            if why is None:
                self.tx_ok[seq] = len(f)
                self.tx_dst.add(dst)
            else:
                self.tx_bad.append((seq, why))
                self.note("TX %d bad: %s" % (seq, why))
        elif op == BENCH:  # only without the socket filter
            self.bench += 1
        elif op == BAD:
            self.bad.append((seq, len(f)))
            self.note("BAD frame seq 0x%x, %d bytes, reached the TAP" % (seq, len(f)))
        elif op == RXACK:
            self.flood_acked = max(self.flood_acked, args(f, 1)[0])
        elif op == HELLO:
            if seq != self.hello_seq:
                self.reset()
                self.hello_seq = seq
                self.guest_mac = src
                self.note("HELLO 0x%x from %s" % (seq, mac_str(src)))
            self.send(ctrl_frame(src, self.mac, HELLO_ACK, seq))
        elif op == SEND:
            count, seq0, seed, size, flags = args(f, 5)
            self.sends.append((count, seq0, seed, size))
            self.note("SEND %d from 0x%x seed 0x%x size %d flags %d" % (count, seq0, seed, size,
                                                                       flags))
            sent = 0
            for i in range(count):
                s = seq0 + i
                if self.send(data_frame(src, self.mac, RX, s, seed, size or frame_size(s))):
                    sent += 1
            if not flags & SEND_QUIET:
                self.send(ctrl_frame(src, self.mac, SENT, seq, (sent,)))
        elif op == FLOOD:
            if self.flood is None:
                size, seed, window = args(f, 3)
                size = min(max(size or ETH_FRAME, MIN_FRAME), ETH_FRAME)
                self.floods += 1
                self.flood_sent = self.flood_acked = self.flood_dropped = 0
                self.flood_stats0 = self.stats()
                self.flood = {"frames": [data_frame(src, self.mac, RX, s, seed, size)
                                         for s in range(64)], "window": window}
                self.note("FLOOD of %d-byte frames, window %d" % (size, window))
        elif op == STOP:
            if self.flood is not None:
                self.flood = None
                now, then = self.stats(), self.flood_stats0
                lost = now[3] - then[3] if now and then else 0
                self.tap_dropped = lost
                self.note("STOP after %d flood frames (%d dropped by the TAP queue)"
                          % (self.flood_sent, lost))
            n = self.flood_sent
            self.send(ctrl_frame(src, self.mac, STOPPED, seq,
                                 (n & 0xFFFFFFFF, n >> 32, getattr(self, "tap_dropped", 0))))
        elif op == REPORT:
            self.send(ctrl_frame(src, self.mac, REPORT_ACK, seq,
                                 (len(self.tx_ok), len(self.tx_bad), len(self.bad),
                                  len(self.echoes), self.bench + self._bench_frames(),
                                  self.frames)))

    def summary(self):
        return ("%s: %d frames read; TX %d ok %d bad; ECHO %d; BENCH %d; BAD %d; SEND %d; "
                "FLOOD %d (%d frames sent)" % (
                    self.ifname, self.frames, len(self.tx_ok), len(self.tx_bad), len(self.echoes),
                    self.bench + self._bench_frames(), len(self.bad), len(self.sends), self.floods,
                    self.flood_sent))


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="host peer for the test guest's net scenarios")
    ap.add_argument("--netns", help="network namespace (ip netns name) of the interfaces")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: at a signal)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("ifname", nargs="+")
    a = ap.parse_args(argv[1:])
    peers = [Peer(open_socket(i, a.netns), i, open_netlink(a.netns), a.verbose) for i in a.ifname]
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    for p in peers:
        p.start()
    sys.stderr.write("netpeer: serving %s\n" % ", ".join(
        "%s (%s)" % (p.ifname, mac_str(p.mac)) for p in peers))
    done.wait(a.seconds or None)
    for p in peers:
        p.stop()
        p.join()
        p.close()
        sys.stderr.write("netpeer: %s\n" % p.summary())
        if p.error:
            sys.stderr.write("netpeer: %s: %s\n" % (p.ifname, p.error))
    return 1 if any(p.error or p.tx_bad or p.bad for p in peers) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
