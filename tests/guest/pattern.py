# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The test guest's disk data pattern (tests/guest/blk.h), for the host side.

The 8-byte little-endian word at disk byte offset o (o a multiple of 8) is
splitmix64(seed ^ (o // 8)). The guest's checksum is a 64-bit FNV-1a over the
bytes it wrote, in disk order.

    import pattern
    pattern.fill("/tmp/d0.img", 0, 2048 * 512, seed=7)      # for blk-verify
    assert pattern.verify("/tmp/d0.img", 0, 2048 * 512, 7) is None
    pattern.checksum(pattern.generate(0, 2048 * 512, 7))    # blk-rw's checksum

Command line: python3 pattern.py fill|verify|checksum IMAGE OFFSET LENGTH SEED, or
python3 pattern.py zero IMAGE OFFSET LENGTH (numbers decimal or 0x hex; verify and
zero exit 1 on a mismatch; checksum prints the checksum of the pattern itself).
"""
import struct
import sys

MASK = (1 << 64) - 1
FNV1A_INIT = 0xCBF29CE484222325
FNV1A_PRIME = 0x100000001B3
SECTOR = 512


def splitmix64(x):
    """The standard splitmix64 mixer of a 64-bit value."""
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def word(offset, seed):
    """The pattern word at disk byte offset (a multiple of 8)."""
    return splitmix64((seed ^ (offset >> 3)) & MASK)


def _check(offset, length):
    if offset % 8 or length % 8 or offset < 0 or length < 0:
        raise ValueError("offset and length must be non-negative multiples of 8")


def generate(offset, length, seed):
    """The pattern bytes for disk bytes [offset, offset + length)."""
    _check(offset, length)
    first = offset >> 3
    n = length >> 3
    out = []
    append = out.append
    m = MASK
    for i in range(first, first + n):
        # splitmix64(seed ^ i), inlined: this loop is the cost of every check
        z = ((seed ^ i) + 0x9E3779B97F4A7C15) & m
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        append(z ^ (z >> 31))
    return struct.pack("<%dQ" % n, *out)


def checksum(data, h=FNV1A_INIT):
    """64-bit FNV-1a over data (continuing from h), as the guest prints it."""
    for b in data:
        h = ((h ^ b) * FNV1A_PRIME) & MASK
    return h


def checksum_of(offset, length, seed):
    """The checksum the guest prints after writing the pattern over these bytes."""
    return checksum(generate(offset, length, seed))


def fill(path, offset, length, seed, chunk=1 << 20):
    """Write the pattern into the image at path over [offset, offset + length)."""
    _check(offset, length)
    with open(path, "r+b") as f:
        done = 0
        while done < length:
            n = min(chunk, length - done)
            f.seek(offset + done)
            f.write(generate(offset + done, n, seed))
            done += n


def verify(path, offset, length, seed, chunk=1 << 20):
    """None if the image holds the pattern over [offset, offset + length), else
    (byte offset, word found, word wanted) of the first bad word."""
    _check(offset, length)
    with open(path, "rb") as f:
        done = 0
        while done < length:
            n = min(chunk, length - done)
            f.seek(offset + done)
            got = f.read(n)
            want = generate(offset + done, n, seed)
            if got != want:
                got = got + b"\0" * (n - len(got))
                for i in range(0, n, 8):
                    if got[i:i + 8] != want[i:i + 8]:
                        return (offset + done + i, struct.unpack("<Q", got[i:i + 8])[0],
                                struct.unpack("<Q", want[i:i + 8])[0])
            done += n
    return None


def zeros(path, offset, length):
    """None if [offset, offset + length) of the image reads as zeros, else the first
    nonzero byte offset."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    data = data + b"\0" * (length - len(data))
    if data.count(0) == length:
        return None
    return offset + next(i for i, b in enumerate(data) if b)


def main(argv):
    if argv[1:2] == ["zero"] and len(argv) == 5:
        argv = argv + ["0"]
    if len(argv) != 6 or argv[1] not in ("fill", "verify", "checksum", "zero"):
        sys.stderr.write("usage: %s fill|verify|checksum IMAGE OFFSET LENGTH SEED\n"
                         "       %s zero IMAGE OFFSET LENGTH\n" % (argv[0], argv[0]))
        return 2
    cmd, path = argv[1], argv[2]
    offset, length, seed = (int(a, 0) for a in argv[3:6])
    if cmd == "fill":
        fill(path, offset, length, seed)
        return 0
    if cmd == "checksum":
        print("0x%016x" % checksum_of(offset, length, seed))
        return 0
    if cmd == "zero":
        bad = zeros(path, offset, length)
        if bad is None:
            print("%s: %d bytes at %d are zero" % (path, length, offset))
            return 0
        print("%s: nonzero byte at %d" % (path, bad))
        return 1
    bad = verify(path, offset, length, seed)
    if bad is None:
        print("%s: %d bytes at %d match seed %d" % (path, length, offset, seed))
        return 0
    print("%s: mismatch at byte %d: 0x%016x, want 0x%016x" % (path, bad[0], bad[1], bad[2]))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
