# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""bulkhead-qemu: qemu-system-x86_64's command line in, bulkhead's out.
Every option's translation (BULKHEAD_QEMU_DRY_RUN=1 prints bulkhead's argv
instead of running it), every refusal (status 1, one line naming the option),
and the test guest booted through it: port 0xf4 ends the VM with QEMU's
status (v << 1) | 1 only with -device isa-debug-exit, a reset ends it with 0,
-snapshot keeps the image, virtio-rng (with its rate limit) and 9p shares
(-fsdev and -virtfs) serve the guest's rng and p9 scenarios, and an
installed qemu-system-x86_64 symlink works."""
import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import BUILD, BULKHEAD, GUEST, GUEST_PASS, ROOT, jail_args
from test_9p import HELLO, creator_ids, make_share, snapshot

sys.path.insert(0, os.path.join(ROOT, "tests", "guest"))
import pattern  # noqa: E402

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


@pytest.mark.parametrize("machine,irqchip", [
    ("microvm,kernel_irqchip=split", ["split"]),
    ("q35,kernel-irqchip=on,pit=on", ["kernel"]),
    ("pc,kernel_irqchip=true", ["kernel"]),
    ("microvm", []),
])
def test_machine_irqchip(machine, irqchip):
    assert after(translated(KERNEL + ["-M", machine]), "--irqchip") == irqchip


def test_machine_irqchip_off_is_refused():
    status, argv, err = dry(KERNEL + ["-M", "microvm,kernel_irqchip=off"])
    assert status == 1 and "kernel_irqchip=off" in err and "local APICs" in err, (status, err)


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


def test_name_that_looks_like_an_option():
    """bulkhead would read "--name --disk" as --name without a value."""
    assert translated(KERNEL + ["-name", "--disk"]) == [BULKHEAD, "--name=--disk"] + BASE[1:]


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


def test_debug_exit():
    argv = translated(KERNEL + ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
    assert after(argv, "--debug-exit") == ["on"]
    argv = translated(KERNEL + ["-device", "isa-debug-exit,iobase=244,iosize=1"])
    assert after(argv, "--debug-exit") == ["on"]


@pytest.mark.parametrize("args,rng", [
    (["-device", "virtio-rng-pci"], ["--rng"]),
    (["-device", "virtio-rng-device,id=rng"], ["--rng"]),
    (["-object", "rng-random,id=r0,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=r0"],
     ["--rng"]),
    (["-object", "rng-random,id=r0,filename=/dev/random", "-device", "virtio-rng-pci,rng=r0"],
     ["--rng"]),
    (["-object", "rng-random,id=r0", "-object", "rng-builtin,id=r1",
      "-device", "virtio-rng-device,rng=r1"], ["--rng"]),
    # QEMU's max-bytes every period ms as bulkhead's bytes per second
    (["-device", "virtio-rng-pci,max-bytes=1024,period=1000"], ["--rng", "rate=1024"]),
    (["-device", "virtio-rng-pci,max-bytes=0x100000"], ["--rng", "rate=16000"]),  # 65536 ms
    (["-device", "virtio-rng-pci,max-bytes=1000,period=3"], ["--rng", "rate=333333"]),
    (["-device", "virtio-rng-pci,period=1"], ["--rng"]),  # QEMU's default max-bytes: no limit
    (["-device", "virtio-rng-pci,max-bytes=1099511627777,period=1000"], ["--rng"]),
])
def test_rng(args, rng):
    argv = translated(KERNEL + args)
    assert argv == BASE + rng, argv


def test_rng_rate_rounding_is_said_with_verbose():
    status, argv, err = dry(KERNEL + ["-device", "virtio-rng-pci,max-bytes=1000,period=3"],
                            BULKHEAD_QEMU_VERBOSE="1")
    assert status == 0 and argv[-2:] == ["--rng", "rate=333333"], err
    assert "rate=333333 bytes per second, rounded down" in err, err


@pytest.mark.parametrize("args,fs", [
    (["-fsdev", "local,id=f0,path=/srv/a,,b,security_model=none",
      "-device", "virtio-9p-pci,fsdev=f0,mount_tag=share"], ['path="/srv/a,b",tag="share"']),
    (["-fsdev", "local,security_model=none,id=f0,path=/srv,readonly=on",
      "-device", "virtio-9p-device,id=p9,mount_tag=root,fsdev=f0"],
     ['path="/srv",tag="root",readonly=on']),
    (["-fsdev", "local,id=f0,path=/srv,security_model=none,readonly",  # older QEMU's bare flag
      "-device", "virtio-9p-device,fsdev=f0,mount_tag=t"], ['path="/srv",tag="t",readonly=on']),
    (["-virtfs", "local,path=/a,mount_tag=a,security_model=none,readonly=off",
      "-virtfs", "local,path=/b,mount_tag=b,security_model=none,readonly=on,id=fb"],
     ['path="/a",tag="a"', 'path="/b",tag="b",readonly=on']),
    # shares in the order their devices come, as QEMU's devices
    (["-fsdev", "local,id=f0,path=/a,security_model=none",
      "-fsdev", "local,id=f1,path=/b,security_model=none",
      "-device", "virtio-9p-pci,fsdev=f1,mount_tag=b", "-device", "virtio-9p-pci,fsdev=f0,mount_tag=a"],
     ['path="/b",tag="b"', 'path="/a",tag="a"']),
])
def test_9p(args, fs):
    argv = translated(KERNEL + args)
    assert after(argv, "--fs") == fs, argv
    assert argv[:len(BASE)] == BASE


def test_vsock_goes_through_bulkhead_options():
    """The route the refusal of vhost-vsock names: bulkhead's own --vsock."""
    argv = translated(KERNEL, BULKHEAD_QEMU_OPTIONS="--vsock cid=3,uds=/run/v.sock")
    assert argv == BASE + ["--vsock", "cid=3,uds=/run/v.sock"]


@pytest.mark.parametrize("args,named", [
    (["-foo"], "-foo: unsupported option"),
    (["-no-shutdown"], "-no-shutdown: unsupported option"),
    (["-S"], "-S: unsupported option"),
    (["disk.img"], "disk.img: not an option"),
    (["-daemonize"], "-daemonize: bulkhead stays in the foreground"),
    (["-pidfile", "/run/q.pid"], "-pidfile: not supported"),
    (["--daemonize"], "--daemonize: bulkhead stays in the foreground"),
    # rng
    (["-object", "rng-egd,id=r0,chardev=c0"], "-object: rng-egd: bulkhead-qemu takes rng-random and "
                                              "rng-builtin objects only"),
    (["-object", "memory-backend-ram,id=m0,size=1G"], "-object: memory-backend-ram: bulkhead-qemu "
                                                      "takes rng-random"),
    (["-object", "rng-random,id=r0,filename=/dev/hwrng"], "-object: filename=/dev/hwrng: bulkhead-rng "
                                                          "reads the kernel's generator"),
    (["-object", "rng-builtin"], "-object: id= is required"),
    (["-object", "rng-builtin,id=r0", "-object", "rng-random,id=r0"], "-object: id=r0: given twice"),
    (["-object", "rng-builtin,id=r0,filename=/dev/urandom"], "-object: filename=/dev/urandom: not "
                                                             "supported"),
    (["-device", "virtio-rng-pci,rng=r9"], "-device: rng=r9: no -object rng-random or rng-builtin"),
    (["-device", "virtio-rng-pci", "-device", "virtio-rng-device"], "bulkhead has one virtio-rng"),
    (["-device", "virtio-rng-pci,max-bytes=10"], "max-bytes=10 every 65536 ms: less than bulkhead's "
                                                 "lowest rate"),
    (["-device", "virtio-rng-pci,max-bytes=0,period=1000"], "max-bytes=0 every 1000 ms: less than"),
    (["-device", "virtio-rng-pci,max-bytes=-1"], "-device: max-bytes=-1: a number of bytes"),
    (["-device", "virtio-rng-pci,max-bytes=9223372036854775808"], "max-bytes=9223372036854775808: "),
    (["-device", "virtio-rng-pci,period=0"], "-device: period=0: a number of milliseconds"),
    (["-device", "virtio-rng-pci,period=4294967296"], "-device: period=4294967296: a number of"),
    # 9p
    (["-fsdev", "local,id=f0,path=/s"], "-fsdev: security_model= is required"),
    (["-fsdev", "local,id=f0,path=/s,security_model=passthrough"],
     "-fsdev: security_model=passthrough: bulkhead's 9p server is unprivileged"),
    (["-virtfs", "local,path=/s,mount_tag=t,security_model=mapped"],
     "-virtfs: security_model=mapped: bulkhead's 9p stores no guest owners"),
    (["-fsdev", "local,id=f0,path=/s,security_model=mapped-xattr"], "security_model=mapped-xattr: "),
    (["-fsdev", "local,id=f0,path=/s,security_model=mapped-file"], "security_model=mapped-file: "),
    (["-fsdev", "local,id=f0,path=/s,security_model=open"], "security_model=open: bulkhead's 9p is "
                                                            "security_model=none"),
    (["-fsdev", "proxy,id=f0,socket=/run/p,security_model=none"], "-fsdev: proxy: bulkhead-qemu takes "
                                                                  "local fsdevs only"),
    (["-fsdev", "id=f0,path=/s,security_model=none"], "-fsdev: (no driver): bulkhead-qemu takes local"),
    (["-fsdev", "local,id=f0,security_model=none"], "-fsdev: path= is required"),
    (["-fsdev", "local,path=/s,security_model=none"], "-fsdev: id= is required"),
    (["-fsdev", "local,id=f0,path=/s,security_model=none,readonly=perhaps"],
     "-fsdev: readonly=perhaps: expected on or off"),
    (["-fsdev", "local,id=f0,path=/s,security_model=none,writeout=immediate"],
     "-fsdev: writeout=immediate: not supported"),
    (["-fsdev", "local,id=f0,path=/s,security_model=none,multidevs=remap"],
     "-fsdev: multidevs=remap: not supported"),
    (["-fsdev", "local,id=f0,path=/s,security_model=none,mount_tag=t"], "-fsdev: mount_tag=t: not "
                                                                        "supported"),
    (["-fsdev", "local,id=f0,path=/s,security_model=none"], "-fsdev id=f0: no -device virtio-9p-*"),
    (["-fsdev", "local,id=f0,path=/s,security_model=none",
      "-fsdev", "local,id=f0,path=/t,security_model=none"], "-fsdev: id=f0: given twice"),
    (["-virtfs", "local,path=/s,mount_tag=t,security_model=none",
      "-fsdev", "local,id=t,path=/u,security_model=none"], "-fsdev: id=t: given twice"),
    (["-virtfs", "local,path=/s,security_model=none"], "-virtfs: mount_tag= is required"),
    (["-device", "virtio-9p-pci,mount_tag=t"], "-device: fsdev= is required"),
    (["-device", "virtio-9p-pci,fsdev=f9,mount_tag=t"], "-device: fsdev=f9: no -fsdev with that id"),
    (["-fsdev", "local,id=f0,path=/s,security_model=none", "-device", "virtio-9p-pci,fsdev=f0"],
     "-device: mount_tag= is required"),
    (["-fsdev", "local,id=f0,path=/s,security_model=none", "-device",
      "virtio-9p-pci,fsdev=f0,mount_tag=a", "-device", "virtio-9p-device,fsdev=f0,mount_tag=b"],
     "-device: fsdev f0 is attached twice"),
    (["-fsdev", "local,id=f0,path=/s,security_model=none", "-device",
      "virtio-9p-pci,fsdev=f0,mount_tag=a,vectors=2"], "-device: vectors=2: not supported"),
    # vsock: no faithful translation; the line names bulkhead's own option
    (["-device", "vhost-vsock-pci,guest-cid=3"], "-device: vhost-vsock-pci: bulkhead's vsock is "
                                                 "Firecracker's hybrid (host programs use UNIX sockets, "
                                                 "not AF_VSOCK): give bulkhead's --vsock cid=3,uds=PATH "
                                                 "in BULKHEAD_QEMU_OPTIONS"),
    (["-device", "vhost-vsock-device,guest-cid=7"], "--vsock cid=7,uds=PATH"),
    (["-device", "vhost-user-vsock-pci,chardev=c0"], "--vsock cid=N,uds=PATH"),
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


def test_rng_serves_the_guest(vm_factory):
    """-object rng-random and -device virtio-rng-device: the guest's rng-read passes."""
    vm = vm_factory(GUEST_QEMU + DEBUG_EXIT + [
        "-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", "virtio-rng-device,rng=rng0",
        "-append", "bulkhead.test=rng-read bulkhead.bytes=65536"], exe=QEMU)
    assert vm.wait(60) == GUEST_PASS, vm.explain()
    assert "PASS rng-read" in vm.stdout, vm.explain()


def test_rng_max_bytes_and_period_limit_the_guest(vm_factory):
    """max-bytes=20000 every 1000 ms is rate=20000: a bucket of 20000 bytes, so 40000 take
    1 s more; the guest checks it got no more than the rate allows."""
    vm = vm_factory(GUEST_QEMU + DEBUG_EXIT + [
        "-device", "virtio-rng-pci,max-bytes=20000,period=1000",
        "-append", "bulkhead.test=rng-read bulkhead.bytes=40000 bulkhead.max-rate=20000"], exe=QEMU)
    assert vm.wait(60) == GUEST_PASS, vm.explain()
    us = int(re.search(r"rng-read: 40000 bytes in \d+ requests, (\d+) us", vm.stdout).group(1))
    assert 900000 <= us <= 3000000, vm.explain()


def test_9p_share_serves_the_guest(vm_factory, tmp_path):
    """-fsdev local,security_model=none and -device virtio-9p-device: the guest reads the
    host's files and writes its own, which belong to bulkhead's 9p server (security_model=none
    as an ordinary user's QEMU gives it)."""
    share = make_share(tmp_path, seed=5, nbytes=65536)
    vm = vm_factory(GUEST_QEMU + DEBUG_EXIT + [
        "-fsdev", "local,id=fs0,path=%s,security_model=none" % share,
        "-device", "virtio-9p-device,fsdev=fs0,mount_tag=share",
        "-append", "bulkhead.test=p9-rw bulkhead.seed=5 bulkhead.p9-bytes=65536"], exe=QEMU)
    assert vm.wait(60) == GUEST_PASS, vm.explain()
    fnv = pattern.checksum(pattern.generate(0, 65536, 5))
    assert "p9-rw: read data.bin: 65536 bytes, fnv 0x%016x" % fnv in vm.stdout, vm.explain()
    got = share / "from-guest.bin"
    assert got.read_bytes() == pattern.generate(0, 65536, 6)
    st = os.lstat(got)
    assert st.st_mode == 0o100640 and (st.st_uid, st.st_gid) == creator_ids(), st
    assert (tmp_path / "outside.txt").read_bytes() == b"outside the share\n"


def test_virtfs_readonly_share(vm_factory, tmp_path):
    """-virtfs ...,readonly=on: reads work, every change is EROFS, nothing on the host moves."""
    share = make_share(tmp_path)
    before = snapshot(tmp_path)
    vm = vm_factory(GUEST_QEMU + DEBUG_EXIT + [
        "-virtfs", "local,path=%s,mount_tag=share,security_model=none,readonly=on" % share,
        "-append", "bulkhead.test=p9-ro"], exe=QEMU)
    assert vm.wait(60) == GUEST_PASS, vm.explain()
    assert "10 kinds of change are EROFS" in vm.stdout, vm.explain()
    assert snapshot(tmp_path) == before
    assert (share / "hello.txt").read_bytes() == HELLO


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
