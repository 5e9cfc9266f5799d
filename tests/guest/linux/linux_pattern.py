# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The Linux guest kit's data pattern (pattern.sh), for the host side.

blk-dd writes it to the disk, ext2 puts it in a file, net-tcp sends it to
the host and expects it from the host. For SEED (0..2147483647):

  base:    4096 printable bytes. x = SEED; for k in 0..4095:
           x = (69069 * x + 1) mod 2**32; base[k] = 33 + (x >> 16) % 94
  block j: b"bulkhead-pattern SEED j\\n", then the 4096 - len(header) bytes
           of base + base from index j % 4096 (each block is 4096 bytes)
  stream:  block 0, block 1, ... cut after the number of bytes wanted.

    import linux_pattern
    data = linux_pattern.generate(seed=1, length=8 << 20)   # blk-dd's 8 MiB
    linux_pattern.sha256(1, 8 << 20)                         # its hex digest

Command line:
    python3 linux_pattern.py gen SEED BYTES > file     # the bytes
    python3 linux_pattern.py sha256 SEED BYTES         # their sha256 (hex)
    python3 linux_pattern.py verify FILE SEED BYTES    # exit 1 on a mismatch
(BYTES also takes a K or M suffix: 8M = 8 MiB.)
"""
import hashlib
import sys

BLOCK = 4096
MAX_SEED = 2147483647


def base(seed):
    """The 4096 printable bytes every block of SEED is cut from."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError("seed must be 0..%d" % MAX_SEED)
    x = seed
    out = bytearray(BLOCK)
    for k in range(BLOCK):
        x = (69069 * x + 1) & 0xFFFFFFFF
        out[k] = 33 + (x >> 16) % 94
    return bytes(out)


def block(seed, j, _base=None):
    """Block j (4096 bytes) of SEED's stream."""
    b = _base if _base is not None else base(seed)
    h = b"bulkhead-pattern %d %d\n" % (seed, j)
    r = j % BLOCK
    return h + (b + b)[r:r + BLOCK - len(h)]


def chunks(seed, length):
    """The first LENGTH bytes of SEED's stream, as a sequence of blocks."""
    b = base(seed)
    bb = b + b
    j = 0
    left = length
    while left > 0:
        h = b"bulkhead-pattern %d %d\n" % (seed, j)
        r = j % BLOCK
        blk = h + bb[r:r + BLOCK - len(h)]
        yield blk[:left] if left < BLOCK else blk
        left -= BLOCK
        j += 1


def generate(seed, length):
    """The first LENGTH bytes of SEED's stream."""
    return b"".join(chunks(seed, length))


def sha256(seed, length):
    """The sha256 (hex) of the first LENGTH bytes of SEED's stream."""
    h = hashlib.sha256()
    for c in chunks(seed, length):
        h.update(c)
    return h.hexdigest()


def verify(data, seed):
    """None when DATA is the start of SEED's stream, else the first bad offset."""
    want = generate(seed, len(data))
    if data == want:
        return None
    for i, (a, b) in enumerate(zip(data, want)):
        if a != b:
            return i
    return min(len(data), len(want))


def parse_size(s):
    s = s.strip()
    mult = 1
    if s[-1:] in ("K", "k"):
        mult, s = 1024, s[:-1]
    elif s[-1:] in ("M", "m"):
        mult, s = 1 << 20, s[:-1]
    return int(s, 0) * mult


def main(argv):
    usage = ("usage: linux_pattern.py gen SEED BYTES | sha256 SEED BYTES | "
             "verify FILE SEED BYTES")
    if len(argv) == 3 and argv[0] == "gen":
        out = sys.stdout.buffer
        for c in chunks(int(argv[1]), parse_size(argv[2])):
            out.write(c)
        out.flush()
        return 0
    if len(argv) == 3 and argv[0] == "sha256":
        print(sha256(int(argv[1]), parse_size(argv[2])))
        return 0
    if len(argv) == 4 and argv[0] == "verify":
        n = parse_size(argv[3])
        with open(argv[1], "rb") as f:
            data = f.read(n)
        if len(data) < n:
            print("%s: %d bytes, want %d" % (argv[1], len(data), n))
            return 1
        bad = verify(data, int(argv[2]))
        if bad is not None:
            print("%s: differs from the pattern of seed %s at byte %d" % (argv[1], argv[2], bad))
            return 1
        print("%s: %d bytes match seed %s (sha256 %s)"
              % (argv[1], n, argv[2], hashlib.sha256(data).hexdigest()))
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
