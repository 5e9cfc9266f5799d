# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""bulkhead-qemu: qemu-system-x86_64's command line in, bulkhead's out.
Every option's translation (BULKHEAD_QEMU_DRY_RUN=1 prints bulkhead's argv
instead of running it), every refusal (status 1, one line naming the option),
and the test guest booted through it: port 0xf4 ends the VM with QEMU's
status (v << 1) | 1 only with -device isa-debug-exit, a reset ends it with 0,
-snapshot keeps the image, and an installed qemu-system-x86_64 symlink
works."""
import os
import shlex
import subprocess

import pytest

from conftest import BUILD, BULKHEAD, GUEST, ROOT, jail_args

QEMU = os.path.join(BUILD, "bulkhead-qemu")
KERNEL = ["-kernel", "k"]
# What every translation of KERNEL alone holds, in this order.
BASE = [BULKHEAD, "--kernel", 'path="k"', "--memory", "size_mib=128", "--vcpus", "num=1",
        "--debug-exit", "off", "--serial", "none"]


def dry(args, **env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("BULKHEAD_QEMU_")}
    e.update(BULKHEAD_QEMU_DRY_RUN="1", **env)
    p = subprocess.run([QEMU] + args, capture_output=True, text=True, timeout=30, env=e)
    return p.returncode, shlex.split(p.stdout) if p.returncode == 0 else p.stdout, p.stderr


def translated(args, **env):
    status, argv, err = dry(args, **env)
    assert status == 0, err
    return argv


def after(argv, opt):
    """The values of every `opt VALUE` in argv."""
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == opt]


def test_the_least_command_line():
    assert translated(KERNEL) == BASE


def test_kunit_x86_64_command_line():
    """tools/testing/kunit: qemu_configs/x86_64.py's parameters, its trailing empty argument too."""
    argv = translated(["-nodefaults", "-m", "1024", "-kernel", "/b/arch/x86/boot/bzImage", "-append",
                       "kunit.enable=1 console=ttyS0 kunit_shutdown=reboot", "-no-reboot",
                       "-nographic", "-accel", "kvm", "-accel", "hvf", "-accel", "tcg", "-serial",
                       "stdio", ""])
    assert argv == [BULKHEAD, "--kernel", 'path="/b/arch/x86/boot/bzImage",cmdline="kunit.enable=1 '
                    'console=ttyS0 kunit_shutdown=reboot"', "--memory", "size_mib=1024", "--vcpus",
                    "num=1", "--debug-exit", "off", "--serial", "stdio"]


@pytest.mark.parametrize("append,cmdline", [
    ("console=ttyS0,115200 quiet", 'cmdline="console=ttyS0,115200 quiet"'),
    ('init=/bin/sh x="a b"', 'cmdline=init=/bin/sh x="a b"'),  # a quote goes bare
    ('x="a,b"', 'cmdline=x="a,b"'),
])
def test_append(append, cmdline):
    argv = translated(KERNEL + ["-append", append])
    assert after(argv, "--kernel") == ['path="k",%s' % cmdline]


def test_kernel_initrd_and_double_dash():
    argv = translated(["--kernel", "/a,b/k", "-initrd", "/i"])
    assert after(argv, "--kernel") == ['path="/a,b/k"']
    assert after(argv, "--initrd") == ['path="/i"']


@pytest.mark.parametrize("m,mib", [("1024", 1024), ("512M", 512), ("2G", 2048), ("1T", 1 << 20),
                                   ("size=3G,slots=2,maxmem=8G", 3072), ("64MB", 64)])
def test_memory(m, mib):
    assert after(translated(KERNEL + ["-m", m]), "--memory") == ["size_mib=%d" % mib]


@pytest.mark.parametrize("smp,n", [("4", 4), ("cpus=2,sockets=1,cores=2,threads=1", 2),
                                   ("3,maxcpus=8", 3)])
def test_smp(smp, n):
    assert after(translated(KERNEL + ["-smp", smp]), "--vcpus") == ["num=%d" % n]


@pytest.mark.parametrize("args,serial", [
    ([], "none"),  # QEMU: a graphical console
    (["-nographic"], "stdio"),
    (["-nodefaults", "-nographic"], "none"),
    (["-serial", "stdio"], "stdio"),
    (["-serial", "mon:stdio"], "stdio"),
    (["-nodefaults", "-serial", "stdio", "-serial", "none"], "stdio"),
    (["-serial", "none"], "none"),
    (["-serial", "null", "-nographic"], "none"),
    (["-serial", "file:/tmp/a,b.log"], 'file="/tmp/a,b.log"'),
    (["-display", "none", "-serial", "stdio"], "stdio"),
])
def test_serial(args, serial):
    assert after(translated(KERNEL + args), "--serial") == [serial]


@pytest.mark.parametrize("machine,acpi,pit", [
    ("microvm", [], []),
    ("q35", [], []),
    ("pc", [], []),
    ("pc-q35-8.2", [], []),
    ("microvm,acpi=off,pit=off,rtc=on", ["off"], ["off"]),
    ("q35,accel=kvm,acpi=on", ["on"], []),
])
def test_machine(machine, acpi, pit):
    for opt in ("-M", "-machine"):
        argv = translated(KERNEL + [opt, machine])
        assert after(argv, "--acpi") == acpi and after(argv, "--pit") == pit, argv
        if not acpi and not pit:
            assert argv == BASE


def test_ignored_options_change_nothing_and_are_said_with_verbose():
    args = KERNEL + ["-enable-kvm", "-accel", "kvm", "-accel", "tcg", "-cpu", "host,-arch-capabilities",
                     "-bios", "qboot.rom", "-no-user-config", "-nodefaults", "-display", "none",
                     "-no-reboot"]
    assert translated(args) == BASE
    status, argv, err = dry(args, BULKHEAD_QEMU_VERBOSE="1")
    assert status == 0 and argv == BASE + ["-v"], (argv, err)
    for said in ("-bios: qboot.rom: ignored", "-cpu: host,-arch-capabilities: ignored",
                 "-accel: tcg: bulkhead always runs on KVM"):
        assert said in err, err


@pytest.mark.parametrize("name,want", [("kunit", "kunit"), ("guest=vm1,debug-threads=on", "vm1"),
                                       ("my vm!", "my-vm-"), ("a-very-long-guest-name", "a-very-long-gue")])
def test_name(name, want):
    assert after(translated(KERNEL + ["-name", name]), "--name") == [want]


def test_drives_and_block_devices_in_order():
    argv = translated(KERNEL + [
        "-drive", "file=/img/a,,b.img,format=raw,if=virtio",
        "-drive", "file=/img/b.img,format=raw,if=none,id=d1,readonly=on",
        "-drive", "file=/img/c.img,if=virtio,cache=none,snapshot=on,media=disk",
        "-device", "virtio-blk-pci,drive=d1,serial=data0,id=blk1",
        "-drive", "id=d3,file=/img/d.img,format=raw,if=none",
        "-device", "virtio-blk-device,drive=d3"])
    assert after(argv, "--disk") == ['path="/img/a,b.img"', 'path="/img/c.img",direct=on,snapshot=on',
                                     'path="/img/b.img",readonly=on,serial="data0"', 'path="/img/d.img"']


def test_snapshot_applies_to_every_writable_drive():
    argv = translated(KERNEL + ["-snapshot", "-drive", "file=/a,format=raw,if=virtio",
                                "-drive", "file=/b,format=raw,if=virtio,readonly=on"])
    assert after(argv, "--disk") == ['path="/a",snapshot=on', 'path="/b",readonly=on']


def test_netdev_and_nic():
    argv = translated(KERNEL + [
        "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
        "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56",
        "-netdev", "tap,id=n1,fd=3", "-device", "virtio-net-pci,netdev=n1"])
    assert after(argv, "--net") == ['tap="tap0",mac="52:54:00:12:34:56"', 'fd="3"']


def test_own_bulkhead_options_from_the_environment():
    argv = translated(KERNEL + ["-device", "virtio-rng-pci"],
                      BULKHEAD_QEMU_OPTIONS=" --jail  no-namespaces\t--seccomp log ")
    assert argv == BASE + ["--jail", "no-namespaces", "--seccomp", "log", "--rng"]


def test_debug_exit_and_rng():
    argv = translated(KERNEL + ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
    assert after(argv, "--debug-exit") == ["on"]
    argv = translated(KERNEL + ["-device", "isa-debug-exit,iobase=244,iosize=1"])
    assert after(argv, "--debug-exit") == ["on"]
    for dev in ("virtio-rng-pci", "virtio-rng-device"):
        assert translated(KERNEL + ["-device", dev])[-1] == "--rng"


@pytest.mark.parametrize("args,named", [
    (["-foo"], "-foo: unsupported option"),
    (["-no-shutdown"], "-no-shutdown: unsupported option"),
    (["-S"], "-S: unsupported option"),
    (["disk.img"], "disk.img: not an option"),
    (["-daemonize"], "-daemonize: bulkhead stays in the foreground"),
    (["-pidfile", "/run/q.pid"], "-pidfile: not supported"),
    (["-fsdev", "local,id=f,path=/s,security_model=none"], "-fsdev: not supported yet"),
    (["-virtfs", "local,path=/s,mount_tag=t,security_model=none"], "-virtfs: not supported yet"),
    (["-device", "virtio-9p-pci,fsdev=f,mount_tag=t"], "-device: virtio-9p-pci: not supported yet"),
    (["-device", "e1000,netdev=n0"], "-device: e1000: not a device bulkhead-qemu takes"),
    (["-device", "isa-debug-exit"], "-device: isa-debug-exit: give iobase=0xf4"),
    (["-device", "isa-debug-exit,iobase=0x501,iosize=2"], "give iobase=0xf4"),
    (["-device", "isa-debug-exit,iobase=0xf4,iosize=3"], "iosize=3: 1, 2 or 4"),
    (["-device", "virtio-blk-pci,drive=nope"], "-device: drive=nope: no -drive with that id"),
    (["-device", "virtio-blk-pci,drive=d0,bootindex=1"], "-device: "),
    (["-drive", "file=x,format=qcow2,if=virtio"], "-drive: format=qcow2: bulkhead takes raw images only"),
    (["-drive", "file=x,format=raw,if=ide"], "-drive: if=ide: bulkhead has virtio-blk disks only"),
    (["-drive", "file=x,format=raw"], "-drive: give if=virtio or if=none"),
    (["-drive", "file=x,format=raw,if=virtio,aio=native"], "-drive: aio=native: not supported"),
    (["-drive", "file=x,format=raw,if=none"], "-drive: if=none needs id="),
    (["-drive", "format=raw,if=virtio"], "-drive: file= is required"),
    (["-drive", "file=x,format=raw,if=none,id=d0"], "-drive id=d0: if=none and no -device"),
    (["-drive", "file=x,if=virtio,readonly=maybe"], "-drive: readonly=maybe: expected on or off"),
    (["-drive", "file=x,if=virtio,file=y"], "-drive: file= given twice"),
    (["-drive", "file=x,if=virtio,"], "-drive: trailing comma"),
    (["-netdev", "user,id=n0"], "-netdev: user: bulkhead-qemu takes tap netdevs only"),
    (["-netdev", "tap,id=n0,ifname=t0,script=/etc/qemu-ifup"], "-netdev: script=/etc/qemu-ifup: "
                                                               "bulkhead runs no scripts"),
    (["-netdev", "tap,id=n0"], "-netdev: give exactly one of ifname= and fd="),
    (["-netdev", "tap,id=n0,ifname=t0"], "-netdev id=n0: no -device virtio-net-*"),
    (["-device", "virtio-net-pci,netdev=n9"], "-device: netdev=n9: no -netdev with that id"),
    (["-serial", "pty"], "-serial: pty: bulkhead-qemu takes stdio"),
    (["-serial", "stdio", "-serial", "file:/x"], "bulkhead has one serial port"),
    # bulkhead would cut the value at its own key: refused here, naming QEMU's option
    (["-serial", 'file:/a",file=b'], '-serial: /a",file=b: cannot be passed to bulkhead'),
    (["-display", "gtk"], "-display: gtk: bulkhead has no display"),
    (["-M", "virt"], "-M: virt: bulkhead-qemu takes microvm, q35 or pc"),
    (["-m", "lots"], "-m: lots: not a size"),
    (["-m", "0"], "-m: 0: not a size"),
    (["-smp", "0"], "-smp: cpus=0: expected a number of vCPUs"),
    (["-machine", "q35,acpi=maybe"], "-machine: acpi=maybe: expected on or off"),
    (["-initrd"], "-initrd: requires an argument"),
])
def test_refused_with_status_1_and_one_line(args, named):
    status, out, err = dry(KERNEL + args)
    assert status == 1 and out == "", (status, out, err)
    assert err.startswith("bulkhead-qemu: ") and err.count("\n") == 1, err
    assert named in err, err


@pytest.mark.parametrize("args", [["\x7f\x01bad"], ["-\x1bx"], ["-drive", "file=\x01,if=ide"]])
def test_messages_are_one_printable_line(args):
    """A control byte from the command line never reaches the terminal (fuzz_qemu found it)."""
    status, _, err = dry(KERNEL + args)
    assert status == 1 and err.count("\n") == 1, err
    assert all(" " <= c < "\x7f" for c in err.rstrip("\n")), repr(err)


def test_kernel_is_required():
    status, _, err = dry(["-m", "64"])
    assert status == 1 and "-kernel is required" in err, err


def test_version_and_help():
    for opt in ("-version", "--version", "-help", "-h"):
        p = subprocess.run([QEMU, opt], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and p.stdout.startswith("bulkhead-qemu "), p


# ---- booting the test guest through it ----

GUEST_QEMU = ["-M", "microvm", "-enable-kvm", "-cpu", "host", "-m", "64", "-nodefaults",
              "-no-user-config", "-nographic", "-serial", "stdio", "-kernel", GUEST]
DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


@pytest.mark.parametrize("v", [0, 1, 5, 127])
def test_isa_debug_exit_gives_qemus_status(vm_factory, v):
    vm = vm_factory(GUEST_QEMU + DEBUG_EXIT + ["-append", "bulkhead.test=exit bulkhead.exit=%d" % v],
                    exe=QEMU)
    assert vm.wait() == (v << 1) | 1, vm.explain()
    assert "exit %d" % v in vm.stdout, vm.explain()


def test_without_isa_debug_exit_the_write_is_ignored(vm_factory):
    vm = vm_factory(GUEST_QEMU + ["-no-reboot", "-append", "bulkhead.test=debug-exit-ignored"], exe=QEMU)
    assert vm.wait() == 0, vm.explain()
    assert "debug-exit-ignored: still running; resetting" in vm.stdout, vm.explain()
    assert "guest reset" in vm.stderr, vm.explain()
    vm = vm_factory(GUEST_QEMU + DEBUG_EXIT + ["-append", "bulkhead.test=debug-exit-ignored"], exe=QEMU)
    assert vm.wait() == 3, vm.explain()
    assert "still running" not in vm.stdout, vm.explain()


@pytest.mark.parametrize("no_reboot", [True, False])
def test_reset_ends_with_0(vm_factory, no_reboot):
    """With -no-reboot as QEMU; without it QEMU would boot the guest again, bulkhead ends the same way."""
    vm = vm_factory(GUEST_QEMU + (["-no-reboot"] if no_reboot else []) +
                    ["-append", "bulkhead.test=reboot"], exe=QEMU)
    assert vm.wait() == 0, vm.explain()


def test_snapshot_keeps_the_image(vm_factory, tmp_path):
    img = tmp_path / "d.img"
    img.write_bytes(bytes(8 << 20))
    vm = vm_factory(GUEST_QEMU + DEBUG_EXIT + [
        "-snapshot", "-drive", "file=%s,format=raw,if=none,id=d0" % img,
        "-device", "virtio-blk-device,drive=d0",
        "-append", "bulkhead.test=blk-rw bulkhead.seed=3 bulkhead.start=0 bulkhead.sectors=2048"],
        exe=QEMU)
    assert vm.wait() == 1, vm.explain()
    assert "PASS blk-rw" in vm.stdout, vm.explain()
    assert img.read_bytes() == bytes(8 << 20)


def test_installed_as_qemu_system_x86_64(tmp_path):
    dest = tmp_path / "dest"
    subprocess.run(["make", "-s", "-C", ROOT, "install", "PREFIX=/opt/bh", "DESTDIR=%s" % dest],
                   check=True, capture_output=True, timeout=300)
    bindir = dest / "opt" / "bh" / "bin"
    assert os.access(bindir / "bulkhead-qemu", os.X_OK)
    assert (dest / "opt" / "bh" / "share" / "man" / "man1" / "bulkhead-qemu.1").is_file()
    shim = tmp_path / "path"
    shim.mkdir()
    os.symlink(bindir / "bulkhead-qemu", shim / "qemu-system-x86_64")
    env = jail_args(QEMU, [], dict(os.environ, PATH="%s:%s" % (shim, os.environ["PATH"])))[1]
    p = subprocess.run(["qemu-system-x86_64"] + GUEST_QEMU + DEBUG_EXIT +
                       ["-append", "bulkhead.test=hello"], capture_output=True, timeout=60, env=env)
    assert p.returncode == 1 and b"PASS hello" in p.stdout, p.stderr
    env["BULKHEAD_QEMU_DRY_RUN"] = "1"
    p = subprocess.run(["qemu-system-x86_64"] + GUEST_QEMU, capture_output=True, text=True,
                       timeout=60, env=env)
    assert shlex.split(p.stdout)[0] == str(bindir / "bulkhead"), p.stdout
