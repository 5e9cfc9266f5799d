# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""bulkhead-blk end to end, on this machine's KVM with the test guest's disk
scenarios (tests/guest/README.md, "Disks"): the guest drives virtio-blk and
reports a verdict; the host checks the image files with pattern.py. Device
configuration errors are in test_blk_config.py."""
import hashlib
import mmap
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest

import hostile_cases
from conftest import GUEST_FAIL, GUEST_PASS, ROOT, TEST_USER, guest_args, vm_processes

sys.path.insert(0, os.path.join(ROOT, "tests", "guest"))
import pattern  # noqa: E402  (tests/guest/pattern.py)

SECTOR = 512
MiB = 1 << 20
TAG = "bulkhead-test-guest: "


# ---- helpers ----

def make_image(path, size, fill=None):
    """A raw image of size bytes: sparse zeros, or the given bytes (fully written)."""
    with open(path, "wb") as f:
        if fill is None:
            f.truncate(size)
        else:
            assert len(fill) == size
            f.write(fill)
            f.flush()
            os.fsync(f.fileno())
    return str(path)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def disk_args(*specs):
    out = []
    for s in specs:
        out += ["--disk", s]
    return out


def run_guest(vm_factory, scenario, params="", disks=(), mem=64, timeout=60):
    """Run one scenario to its end; returns the Vm (status in vm.proc.returncode)."""
    vm = vm_factory(guest_args(scenario, params, mem=mem) + disk_args(*disks))
    vm.wait(timeout=timeout)
    return vm


def assert_pass(vm, scenario):
    assert vm.proc.returncode == GUEST_PASS, vm.explain()
    assert TAG + "PASS " + scenario in vm.stdout, vm.explain()


def assert_devices_quiet(vm):
    """A well-behaved guest gives the blk processes nothing to complain about."""
    rx = re.compile(r"bulkhead/%s/blk\d+:" % re.escape(vm.name))
    noisy = [line for line in vm.stderr.splitlines() if rx.match(line)]
    assert not noisy, "device process logged:\n%s\n%s" % ("\n".join(noisy), vm.explain())


def wrote_line(vm, scenario, prefix=""):
    """(sectors, start, seed, checksum) from the line
    `<scenario>: [prefix]wrote N sectors at S seed X checksum C`."""
    m = re.search(r"%s: %swrote (\d+) sectors at (\d+) seed (\d+) checksum (0x[0-9a-f]{16})"
                  % (re.escape(scenario), re.escape(prefix)), vm.stdout)
    assert m, "no `wrote ... checksum` line\n" + vm.explain()
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4), 16)


def check_pattern(path, start, sectors, seed, what=""):
    bad = pattern.verify(path, start * SECTOR, sectors * SECTOR, seed)
    assert bad is None, "%s%s: sectors [%d, %d) seed %d: mismatch at byte %d: 0x%016x, want 0x%016x" % (
        what, path, start, start + sectors, seed, bad[0], bad[1], bad[2])


def check_zeros(path, offset, length, what=""):
    bad = pattern.zeros(path, offset, length)
    assert bad is None, "%s%s: bytes [%d, %d) should read as zeros; nonzero byte at %d" % (
        what, path, offset, offset + length, bad)


def check_written(vm, scenario, path, start, sectors, seed, size, prefix=""):
    """The guest's `wrote` line is what it was asked to do, the image holds the pattern there,
    the checksum it printed is the pattern's, and the rest of the (sparse) image is still zeros."""
    n, s, x, csum = wrote_line(vm, scenario, prefix)
    assert (n, s, x) == (sectors, start, seed), vm.explain()
    check_pattern(path, start, sectors, seed)
    want = pattern.checksum_of(start * SECTOR, sectors * SECTOR, seed)
    assert csum == want, "guest checksum 0x%016x, pattern.py 0x%016x\n%s" % (csum, want, vm.explain())
    check_zeros(path, 0, start * SECTOR, "before the range: ")
    check_zeros(path, (start + sectors) * SECTOR, size - (start + sectors) * SECTOR, "after the range: ")


def describe_line(vm, disk="vda"):
    m = re.search(r"blk: %s at 0x[0-9a-f]+ gsi \d+: .*" % disk, vm.stdout)
    assert m, "no description of %s\n%s" % (disk, vm.explain())
    return m.group(0)


def pass_lines(vm, scenario):
    """{'write': (..., interrupts), 'read': ...} from the per-pass report lines."""
    out = {}
    rx = (r"%s: vd[a-z] (write|read): (\d+) requests, (\d+) bytes, .*?; "
          r"(\d+) kicks, (\d+) notifies, (\d+) interrupts" % re.escape(scenario))
    for m in re.finditer(rx, vm.stdout):
        out[m.group(1)] = dict(requests=int(m.group(2)), bytes=int(m.group(3)), kicks=int(m.group(4)),
                               notifies=int(m.group(5)), irqs=int(m.group(6)))
    return out


def fstype_of(path):
    """The file system type of the mount that holds path (from /proc/self/mountinfo)."""
    path = os.path.realpath(path)
    best, fstype = "", "?"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mnt = fields[4]
            sep = fields.index("-")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, fstype = mnt, fields[sep + 1]
    return "%s (mounted at %s)" % (fstype, best)


def o_direct_fdinfo_flags(pid, image):
    """The open flags of pid's descriptor for image (matched by device and inode)."""
    want = os.stat(image)
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            st = os.stat(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("flags:"):
                        return int(line.split()[1], 8)
    pytest.fail("pid %d holds no descriptor for %s" % (pid, image))


# ---- blk-rw ----

RW_VARIANTS = {
    "polling": ("", r"queue 256, indirect on, event-idx on, polling"),
    "irq": ("bulkhead.irq=1", r"event-idx on, interrupts"),
    "no-indirect": ("bulkhead.indirect=0", r"indirect off, event-idx on"),
    "no-event-idx": ("bulkhead.event-idx=0", r"indirect on, event-idx off"),
    "qsize-4": ("bulkhead.qsize=4", r"queue 4, "),
}


@pytest.mark.parametrize("variant", list(RW_VARIANTS))
def test_blk_rw(vm_factory, guest, tmp_path, variant):
    """The guest writes the pattern over an unaligned sector range in mixed requests and reads
    it back; the host finds the pattern there, the guest's checksum, and zeros elsewhere."""
    size, start, sectors, seed = 8 * MiB, 3, 6144, 0x5eed + len(variant)
    img = make_image(tmp_path / "rw.img", size)
    extra, want_desc = RW_VARIANTS[variant]
    vm = run_guest(vm_factory, "blk-rw", "bulkhead.seed=%d bulkhead.start=%d bulkhead.sectors=%d %s"
                   % (seed, start, sectors, extra), ["path=%s" % img])
    assert_pass(vm, "blk-rw")
    assert re.search(want_desc, describe_line(vm)), vm.explain()
    assert "blk-rw: read back %d sectors: match" % sectors in vm.stdout, vm.explain()
    passes = pass_lines(vm, "blk-rw")
    assert passes["write"]["bytes"] == passes["read"]["bytes"] == sectors * SECTOR, vm.explain()
    if variant == "irq":
        # Completions woke the sleeping driver through the irqfd at least once.
        assert passes["write"]["irqs"] + passes["read"]["irqs"] > 0, vm.explain()
    assert_devices_quiet(vm)
    check_written(vm, "blk-rw", img, start, sectors, seed, size)


@pytest.mark.needs_ptrace
def test_blk_rw_direct(vm_factory, guest):
    """direct=on: the device process holds the image with O_DIRECT, and mixed, unaligned guest
    buffers still reach the image intact (bounced where O_DIRECT refuses them)."""
    base = "/var/tmp"
    where = fstype_of(base)
    tmpdir = tempfile.mkdtemp(prefix="bulkhead-blk-direct-", dir=base)
    if TEST_USER:
        os.chmod(tmpdir, 0o777)
    try:
        size, start, sectors, seed = 8 * MiB, 3, 6144, 4242
        img = make_image(os.path.join(tmpdir, "direct.img"), size)
        # The file system itself must take O_DIRECT, or this test cannot test anything.
        try:
            fd = os.open(img, os.O_RDWR | os.O_DIRECT)
            try:
                buf = mmap.mmap(-1, 4096)
                os.preadv(fd, [buf], 0)
                os.pwritev(fd, [buf], 0)
            finally:
                os.close(fd)
        except OSError as e:
            pytest.fail("%s on %s refuses O_DIRECT (%s): direct=on cannot be tested here; "
                        "put /var/tmp on a file system that supports it" % (img, where, e))

        # 1. The device process's descriptor for the image is O_DIRECT.
        vm = vm_factory(guest_args("echo") + ["--disk", "path=%s,direct=on" % img],
                        stdin=subprocess.PIPE)
        vm.read_until(b"bulkhead-test-guest: ready")
        pids = vm.wait_children(["blk0"])
        flags = o_direct_fdinfo_flags(pids["blk0"], img)
        vm.proc.stdin.write(b"quit\n")
        vm.proc.stdin.close()
        assert vm.wait() == GUEST_PASS, vm.explain()
        assert flags & os.O_DIRECT, "blk0's image fd flags 0%o lack O_DIRECT (%s)" % (flags, where)
        assert (flags & os.O_ACCMODE) == os.O_RDWR, "blk0's image fd flags 0%o" % flags

        # 2. blk-rw through it.
        vm = run_guest(vm_factory, "blk-rw", "bulkhead.seed=%d bulkhead.start=%d bulkhead.sectors=%d"
                       % (seed, start, sectors), ["path=%s,direct=on" % img])
        assert_pass(vm, "blk-rw")
        assert_devices_quiet(vm)
        check_written(vm, "blk-rw", img, start, sectors, seed, size)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


# ---- blk-verify ----

def test_blk_verify(vm_factory, guest, tmp_path):
    """The host writes the pattern, the guest reads it; reads leave the image as it was."""
    size, start, sectors, seed = 8 * MiB, 1000, 6000, 777
    img = make_image(tmp_path / "verify.img", size)
    pattern.fill(img, start * SECTOR, sectors * SECTOR, seed)
    before = sha256(img)
    vm = run_guest(vm_factory, "blk-verify", "bulkhead.seed=%d bulkhead.start=%d bulkhead.sectors=%d"
                   % (seed, start, sectors), ["path=%s" % img])
    assert_pass(vm, "blk-verify")
    assert "blk-verify: %d sectors at %d hold the pattern of seed %d" % (sectors, start, seed) \
        in vm.stdout, vm.explain()
    assert_devices_quiet(vm)
    assert sha256(img) == before, "blk-verify changed the image"


def test_blk_verify_wrong_seed_fails(vm_factory, guest, tmp_path):
    """The guest really compares what it reads: the wrong seed is a FAIL (status 3) that names
    a disk offset whose word is the host's pattern, not the one the guest wanted."""
    size, start, sectors, seed, wrong = 8 * MiB, 64, 2048, 777, 778
    img = make_image(tmp_path / "verify.img", size)
    pattern.fill(img, start * SECTOR, sectors * SECTOR, seed)
    vm = run_guest(vm_factory, "blk-verify", "bulkhead.seed=%d bulkhead.start=%d bulkhead.sectors=%d"
                   % (wrong, start, sectors), ["path=%s" % img])
    assert vm.proc.returncode == GUEST_FAIL, vm.explain()
    assert TAG + "FAIL blk-verify" in vm.stdout, vm.explain()
    m = re.search(r"data mismatch at disk byte (0x[0-9a-f]+) \(sector \d+ \+ \d+\): "
                  r"read (0x[0-9a-f]{16}), want (0x[0-9a-f]{16})", vm.stdout)
    assert m, vm.explain()
    off, got, want = (int(g, 16) for g in m.groups())
    assert start * SECTOR <= off < (start + sectors) * SECTOR, vm.explain()
    assert got == pattern.word(off, seed), "the guest read 0x%016x at %d, the image holds 0x%016x" % (
        got, off, pattern.word(off, seed))
    assert want == pattern.word(off, wrong), vm.explain()


# ---- blk-flush ----

def test_blk_completed_writes_outlive_sigkill(vm_factory, guest, tmp_path):
    """Writes the device completed are in the image file once bulkhead is SIGKILLed after the
    guest's FLUSH, and no child outlives the supervisor. This is not durability: a SIGKILL
    leaves the host's page cache alone, so the data would be there with or without the
    fdatasync behind FLUSH, and only a power loss could tell them apart. That the FLUSH does
    call fdatasync on the image (and fails the request when it fails) is test_blk.c's
    test_flush and test_flush_fails."""
    size, start, sectors, seed = 16 * MiB, 8, 8192, 31337
    img = make_image(tmp_path / "flush.img", size)
    vm = vm_factory(guest_args("blk-flush", "bulkhead.seed=%d bulkhead.start=%d bulkhead.sectors=%d"
                               % (seed, start, sectors)) + ["--disk", "path=%s" % img])
    vm.read_until(b"blk-flush: flushed\n", timeout=30)
    vm.proc.kill()
    assert vm.wait() == -9, vm.explain()
    assert "FAIL" not in vm.stdout, vm.explain()
    deadline = time.time() + 5
    while vm_processes(vm.name) and time.time() < deadline:
        time.sleep(0.02)
    assert not vm_processes(vm.name), "children outlived the SIGKILLed supervisor"
    check_written(vm, "blk-flush", img, start, sectors, seed, size)


# ---- blk-id ----

@pytest.mark.parametrize("serial", ["data0", "abcdefghij0123456789", None],
                         ids=["short", "20-bytes", "none"])
def test_blk_id(vm_factory, guest, tmp_path, serial):
    img = make_image(tmp_path / "id.img", MiB)
    spec = "path=%s" % img + (",serial=%s" % serial if serial is not None else "")
    vm = run_guest(vm_factory, "blk-id", "bulkhead.serial=%s" % serial if serial is not None else "",
                   [spec])
    assert_pass(vm, "blk-id")
    want = serial or ""
    assert 'blk-id: vda: "%s" (%d bytes' % (want, len(want)) in vm.stdout, vm.explain()
    if serial is not None:
        assert "blk-id: matches bulkhead.serial" in vm.stdout, vm.explain()


def test_blk_id_second_disk(vm_factory, guest, tmp_path):
    """Each disk answers GET_ID with its own serial."""
    a = make_image(tmp_path / "a.img", MiB)
    b = make_image(tmp_path / "b.img", MiB)
    vm = run_guest(vm_factory, "blk-id", "bulkhead.disk=1 bulkhead.serial=second",
                   ["path=%s,serial=first" % a, "path=%s,serial=second" % b])
    assert_pass(vm, "blk-id")
    assert 'blk-id: vdb: "second" (6 bytes' in vm.stdout, vm.explain()


# ---- blk-discard ----

def test_blk_discard(vm_factory, guest, tmp_path):
    """DISCARD and WRITE_ZEROES read back as zeros in the guest and on the host, the pattern
    stays everywhere else, and the punched ranges are holes in the file."""
    size, start, sectors, seed = 8 * MiB, 2048, 4096, 99
    filler = bytes([0xa5]) * size  # fully allocated, and distinct from zeros and the pattern
    img = make_image(tmp_path / "discard.img", size, fill=filler)
    blocks_before = os.stat(img).st_blocks
    vm = run_guest(vm_factory, "blk-discard", "bulkhead.seed=%d bulkhead.start=%d bulkhead.sectors=%d"
                   % (seed, start, sectors), ["path=%s" % img])
    assert_pass(vm, "blk-discard")
    assert_devices_quiet(vm)
    n, s, x, csum = wrote_line(vm, "blk-discard")
    assert (n, s, x) == (sectors, start, seed), vm.explain()
    assert csum == pattern.checksum_of(start * SECTOR, sectors * SECTOR, seed), vm.explain()
    m = re.search(r"blk-discard: DISCARD sectors \[(\d+), (\d+)\)", vm.stdout)
    z = re.search(r"blk-discard: WRITE_ZEROES sectors \[(\d+), (\d+)\)", vm.stdout)
    assert m and z, vm.explain()
    d_lo, d_hi = int(m.group(1)), int(m.group(2))
    z_lo, z_hi = int(z.group(1)), int(z.group(2))
    # The ranges the guest README describes: [S+N/4, S+N/2) and [S+5N/8, S+7N/8), 4 KiB aligned.
    assert (d_lo, d_hi) == (start + sectors // 4, start + sectors // 2), vm.explain()
    assert (z_lo, z_hi) == (start + 5 * sectors // 8, start + 7 * sectors // 8), vm.explain()

    # Host: filler | pattern | zeros | pattern | zeros | pattern | filler.
    with open(img, "rb") as f:
        data = f.read()
    assert len(data) == size, "the image changed size: %d" % len(data)
    assert data[:start * SECTOR] == filler[:start * SECTOR], "bytes before the range changed"
    end = (start + sectors) * SECTOR
    assert data[end:] == filler[end:], "bytes after the range changed"
    check_pattern(img, start, d_lo - start, seed)
    check_zeros(img, d_lo * SECTOR, (d_hi - d_lo) * SECTOR, "DISCARD: ")
    check_pattern(img, d_hi, z_lo - d_hi, seed)
    check_zeros(img, z_lo * SECTOR, (z_hi - z_lo) * SECTOR, "WRITE_ZEROES: ")
    check_pattern(img, z_hi, start + sectors - z_hi, seed)

    # The file got sparser: DISCARD (both segments) and the second, UNMAP-flagged, half of
    # WRITE_ZEROES punch holes; the first half of WRITE_ZEROES may stay allocated.
    unmap_lo = z_lo + (z_hi - z_lo) // 2
    holes = [(d_lo, d_hi), (unmap_lo, z_hi)]
    fd = os.open(img, os.O_RDONLY)
    try:
        for lo, hi in holes:
            try:
                nxt = os.lseek(fd, lo * SECTOR, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after lo at all
                nxt = size
            assert nxt >= hi * SECTOR, \
                "sectors [%d, %d) should be a hole (%s), but SEEK_DATA finds data at byte %d" % (
                    lo, hi, fstype_of(img), nxt)
    finally:
        os.close(fd)
    # st_blocks also counts the file system's own metadata: punching holes splits the one
    # extent into several, and ext4 then needs an extent-tree block (4 KiB) of its own.
    blocks_after = os.stat(img).st_blocks
    freed = sum(hi - lo for lo, hi in holes)
    metadata_slack = 4 * 4096 // SECTOR
    assert blocks_after <= blocks_before - freed + metadata_slack, \
        "st_blocks %d -> %d: expected about %d sectors deallocated (%s)" % (
            blocks_before, blocks_after, freed, fstype_of(img))


# ---- blk-ro ----

def test_blk_ro(vm_factory, guest, tmp_path):
    """readonly=on: RO is offered, reads work, the OUT is refused with IOERR and the file is
    byte for byte what it was."""
    size, seed = 4 * MiB, 2024
    img = make_image(tmp_path / "ro.img", size)
    pattern.fill(img, 0, MiB, seed)
    before, mtime = sha256(img), os.stat(img).st_mtime_ns
    vm = run_guest(vm_factory, "blk-ro", "", ["path=%s,readonly=on" % img])
    assert_pass(vm, "blk-ro")
    assert "blk-ro: vda offers VIRTIO_BLK_F_RO" in vm.stdout, vm.explain()
    m = re.search(r"blk-ro: read 4096 bytes at sector 0: OK \(checksum (0x[0-9a-f]{16})\)", vm.stdout)
    assert m, vm.explain()
    assert int(m.group(1), 16) == pattern.checksum_of(0, 4096, seed), "the guest read something else"
    assert "blk-ro: OUT of 4096 bytes at sector 0: status 1 (IOERR)" in vm.stdout, vm.explain()
    assert "blk-ro: sector 0 unchanged" in vm.stdout, vm.explain()
    assert sha256(img) == before, "a read-only disk's image changed"
    assert os.stat(img).st_mtime_ns == mtime, "a read-only disk's image was written to"


# ---- blk-two ----

def test_blk_two(vm_factory, guest, tmp_path):
    """Two disks at once with different seeds: each image holds its own pattern."""
    size, start, sectors, seeds = 8 * MiB, 5, 4096, (1111, 2222)
    imgs = [make_image(tmp_path / ("two%d.img" % i), size) for i in range(2)]
    vm = run_guest(vm_factory, "blk-two", "bulkhead.seed=%d bulkhead.seed2=%d bulkhead.start=%d "
                   "bulkhead.sectors=%d" % (seeds[0], seeds[1], start, sectors),
                   ["path=%s" % imgs[0], "path=%s" % imgs[1]])
    assert_pass(vm, "blk-two")
    assert_devices_quiet(vm)
    for disk, img, seed in zip(("vda", "vdb"), imgs, seeds):
        assert "blk-two: %s read back %d sectors: match" % (disk, sectors) in vm.stdout, vm.explain()
        check_written(vm, "blk-two", img, start, sectors, seed, size, prefix=disk + " ")


# ---- the hostile-guest suites on a disk: blk-hostile, mmio-hostile, vring-hostile ----

def hostile_lines(vm, suite):
    """{case: (verdict, outcome, details)} from the suite's per-case lines."""
    rx = r"%s: ([a-z0-9-]+): .* \.\.\. (ok|FAIL|skipped) \(([^)]*)\)(?: \[(.*)\])?$" % re.escape(suite)
    return {m.group(1): (m.group(2), m.group(3), m.group(4))
            for m in re.finditer(rx, vm.stdout, re.M)}


def run_hostile(vm_factory, tmp_path, suite, cases):
    """Run suite on 2 vCPUs against a disk of random bytes: every case passes with the outcome
    hostile_cases.py gives for bulkhead; bulkhead and all its children run to the end (status
    1); the device said why for each NEEDS_RESET; and the image changed only where the good
    recovery writes went (the OUT, DISCARD and WRITE_ZEROES a case sends aim elsewhere)."""
    size, scratch, seed = 8 * MiB, 100, 7
    original = os.urandom(size)
    img = make_image(tmp_path / ("%s.img" % suite), size, fill=original)
    vm = vm_factory(guest_args(suite, "bulkhead.seed=%d bulkhead.start=%d" % (seed, scratch), vcpus=2)
                    + disk_args("path=%s" % img))
    vm.wait(timeout=120)
    assert_pass(vm, suite)
    lines = hostile_lines(vm, suite)
    assert sorted(lines) == sorted(cases), "cases run: %s\n%s" % (sorted(lines), vm.explain())
    for name, (verdict, outcome, details) in lines.items():
        want = cases[name][1]
        assert verdict == "ok" and outcome in want, "%s: %s (%s) [%s], want ok (%s)\n%s" % (
            name, verdict, outcome, details, " or ".join(want), vm.explain())
    assert "%s: %d passed, 0 failed, 0 skipped" % (suite, len(cases)) in vm.stdout, vm.explain()
    # Each NEEDS_RESET the guest saw was the device's own decision, and it said why.
    needs_reset = sum(1 for _, o, _ in lines.values() if o in ("NEEDS_RESET", "refused"))
    logged = len(re.findall(r"bulkhead/%s/blk0: .*device needs reset" % re.escape(vm.name), vm.stderr))
    assert logged >= needs_reset, vm.explain()
    assert not re.search(r"\(pid \d+\) (was killed|exited|died)", vm.stderr), vm.explain()
    assert "guest wrote 0 to the debug-exit port" in vm.stderr, vm.explain()
    # The image: as it was, except the 4 KiB the recovery writes (and status-read-only's
    # OUT, with the same data) put at the scratch sector.
    with open(img, "rb") as f:
        after = f.read()
    lo, hi = scratch * SECTOR, scratch * SECTOR + 4096
    expect = original[:lo] + pattern.generate(lo, hi - lo, seed) + original[hi:]
    if after != expect:
        first = next(i for i in range(size) if after[i:i + 1] != expect[i:i + 1])
        pytest.fail("image differs from the expected one at byte %d (scratch range [%d, %d))\n%s"
                    % (first, lo, hi, vm.explain()))
    return vm, lines


def test_blk_hostile(vm_factory, guest, tmp_path):
    """Broken rings and virtio-blk requests the spec does not allow: each refused as
    hostile_cases.BLK_HOSTILE says, then the device works after a reset."""
    run_hostile(vm_factory, tmp_path, "blk-hostile", hostile_cases.BLK_HOSTILE)


def test_mmio_hostile(vm_factory, guest, tmp_path):
    """The virtio-mmio register protocol broken: ignored, refused or kept quiet as
    hostile_cases.MMIO_HOSTILE says; ConfigGeneration guards every 64-bit read against the
    other vCPU's resets."""
    vm, lines = run_hostile(vm_factory, tmp_path, "mmio-hostile", hostile_cases.MMIO_HOSTILE)
    m = re.match(r"(\d+) consistent reads \(0 wrong\), (\d+) retried, generation moved (\d+) times; "
                 r"the other vCPU: (\d+) rounds, (\d+) NEEDS_RESET", lines["config-generation-race"][2])
    assert m and int(m.group(1)) > 0 and int(m.group(4)) > 0, vm.explain()
    # bulkhead bumps ConfigGeneration on NEEDS_RESET, and the race saw it move: between
    # two reads (moved) or inside a read's pair of generation reads (retried)
    assert int(m.group(5)) > 0 and int(m.group(2)) + int(m.group(3)) > 0, vm.explain()


def test_vring_hostile(vm_factory, guest, tmp_path):
    """The split virtqueue broken: as hostile_cases.VRING_HOSTILE says; the descriptor the
    other vCPU rewrote never made the device write outside its buffer."""
    vm, lines = run_hostile(vm_factory, tmp_path, "vring-hostile", hostile_cases.VRING_HOSTILE)
    m = re.match(r"(\d+) requests, (\d+) rewrites: (\d+) OK", lines["desc-rewrite-race"][2])
    assert m and int(m.group(1)) > 0 and int(m.group(2)) > 0, vm.explain()


# ---- blk-info ----

def test_blk_info_three_disks(vm_factory, guest, tmp_path):
    """Three disks, in command-line order, each with its own window, GSI and capacity; the
    read-only one offers RO and no DISCARD/WRITE_ZEROES."""
    sizes = [8 * MiB, 5 * MiB, 3 * MiB + SECTOR]  # the last is not a whole number of MiB
    imgs = [make_image(tmp_path / ("info%d.img" % i), s) for i, s in enumerate(sizes)]
    specs = ["path=%s" % imgs[0], "path=%s,serial=second" % imgs[1], "path=%s,readonly=on" % imgs[2]]
    vm = run_guest(vm_factory, "blk-info", "", specs)
    assert_pass(vm, "blk-info")
    assert "blk-info: 3 virtio-blk disks among 3 virtio-mmio devices" in vm.stdout, vm.explain()
    for i, (disk, size) in enumerate(zip(("vda", "vdb", "vdc"), sizes)):
        assert "blk: %s at 0x%x gsi %d: %d sectors" % (disk, 0xd0000000 + i * 0x1000, 5 + i,
                                                       size // SECTOR) in vm.stdout, vm.explain()
        assert "blk-info: %s: capacity %d sectors (%d bytes)" % (disk, size // SECTOR, size) \
            in vm.stdout, vm.explain()
        m = re.search(r"blk-info: %s: version 2 vendor 0x[0-9a-f]+, features offered 0x[0-9a-f]+: (.*)"
                      % disk, vm.stdout)
        assert m, vm.explain()
        offered = m.group(1).split()
        for f in ("FLUSH", "INDIRECT_DESC", "RING_EVENT_IDX", "VERSION_1"):
            assert f in offered, "%s does not offer %s\n%s" % (disk, f, vm.explain())
        if disk == "vdc":
            assert "RO" in offered and "DISCARD" not in offered and "WRITE_ZEROES" not in offered, \
                vm.explain()
        else:
            assert "RO" not in offered and "DISCARD" in offered and "WRITE_ZEROES" in offered, \
                vm.explain()
    assert_devices_quiet(vm)


# ---- blk-bench ----

def test_blk_bench_smoke(vm_factory, guest, tmp_path):
    """blk-bench runs and reports positive numbers (no timing assertion)."""
    img = make_image(tmp_path / "bench.img", 64 * MiB)
    vm = run_guest(vm_factory, "blk-bench", "bulkhead.mib=16 bulkhead.ios=500", ["path=%s" % img],
                   timeout=120)
    assert_pass(vm, "blk-bench")
    assert "blk-bench: 16 MiB in 128 KiB requests at queue depth 16; 500 random 4 KiB reads" \
        in vm.stdout, vm.explain()
    nums = {}
    for key, rx in [("seq-write", r"seq-write MB/s (\d+\.\d+)"),
                    ("seq-read", r"seq-read MB/s (\d+\.\d+)"),
                    ("qd1", r"randread-qd1 IOPS (\d+) lat-us (\d+\.\d+)"),
                    ("qd32", r"randread-qd\d+ IOPS (\d+) \(")]:
        m = re.search("blk-bench: " + rx, vm.stdout)
        assert m, "no %s line\n%s" % (key, vm.explain())
        nums[key] = [float(g) for g in m.groups()]
        assert all(v > 0 for v in nums[key]), "%s: %s\n%s" % (key, nums[key], vm.explain())
    assert_devices_quiet(vm)
