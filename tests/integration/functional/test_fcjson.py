# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""bulkhead --config with Firecracker's JSON configuration file: the test
guest boots from one, its drives (the root device first, with root= on the
command line as Firecracker adds it) and machine-config reach the guest, and
a bad file is refused with status 2 and one line naming the key, or the line
and column of malformed JSON."""
import json
import os
import re

from conftest import EXIT_USAGE, GUEST, GUEST_PASS


def write_config(tmp_path, cfg, name="vm.json"):
    path = tmp_path / name
    path.write_text(json.dumps(cfg, indent=2))
    return str(path)


def boot_source(test):
    return {"kernel_image_path": GUEST, "boot_args": "bulkhead.test=%s" % test, "initrd_path": None}


def test_guest_boots_from_firecracker_json(vm_factory, tmp_path):
    cfg = {"boot-source": boot_source("hello"),
           "machine-config": {"vcpu_count": 2, "mem_size_mib": 64, "smt": False},
           "drives": [], "network-interfaces": [], "balloon": None, "vsock": None,
           "logger": {"level": "Info", "log_path": "/dev/null"}, "metrics": None}
    vm = vm_factory(["-v", "--config", write_config(tmp_path, cfg)])
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "PASS hello" in vm.stdout, vm.explain()
    assert "cpus: 2 " in vm.stdout, vm.explain()
    assert re.search(r"memory: 63 MiB", vm.stdout), vm.explain()
    assert "logger: accepted and not used" in vm.stderr, vm.explain()


def test_drives_root_device_first(vm_factory, tmp_path):
    data = tmp_path / "data.img"
    data.write_bytes(bytes(8 << 20))
    root = tmp_path / "root,fs.img"  # a comma in the path goes through
    root.write_bytes(bytes(1 << 20))
    cfg = {"boot-source": boot_source("blk-info"),
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
           "drives": [
               {"drive_id": "data", "path_on_host": str(data), "is_root_device": False,
                "is_read_only": False, "cache_type": "Writeback", "io_engine": "Sync"},
               {"drive_id": "rootfs", "path_on_host": str(root), "is_root_device": True,
                "is_read_only": True, "partuuid": None, "rate_limiter": None}]}
    vm = vm_factory(["--config", write_config(tmp_path, cfg)])
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "blk-info: vda: capacity 2048 sectors" in vm.stdout, vm.explain()
    assert "blk-info: vdb: capacity 16384 sectors" in vm.stdout, vm.explain()
    accepted = re.search(r"blk-info: vda: features accepted \S+: (.*)", vm.stdout)
    assert accepted and "RO" in accepted.group(1).split(), vm.explain()
    cfg["boot-source"] = boot_source("hello")
    vm = vm_factory(["--config", write_config(tmp_path, cfg)])
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "cmdline: bulkhead.test=hello root=/dev/vda ro virtio_mmio.device=" in vm.stdout, \
        vm.explain()


def refused(vm_factory, tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    vm = vm_factory(["--config", str(path)])
    assert vm.wait() == EXIT_USAGE, vm.explain()
    assert vm.stderr.count("\n") == 1, vm.explain()
    return vm.stderr.strip(), str(path)


def test_unknown_key_is_named(vm_factory, tmp_path):
    cfg = {"boot-source": boot_source("hello"), "drives": [
        {"drive_id": "a", "path_on_host": "/a", "is_root_device": False, "io_uring": True}]}
    line, path = refused(vm_factory, tmp_path, json.dumps(cfg))
    assert line == "bulkhead: --config: %s: drives[0].io_uring: unknown key" % path


def test_wrong_type_is_named(vm_factory, tmp_path):
    cfg = {"boot-source": boot_source("hello"), "machine-config": {"vcpu_count": "2", "mem_size_mib": 64}}
    line, path = refused(vm_factory, tmp_path, json.dumps(cfg))
    assert line == ("bulkhead: --config: %s: machine-config.vcpu_count: must be a non-negative integer"
                    % path)


def test_malformed_json_gives_line_and_column(vm_factory, tmp_path):
    line, path = refused(vm_factory, tmp_path,
                         '{\n  "boot-source": {\n    "kernel_image_path": "k",\n  }\n}\n')
    assert line.startswith("bulkhead: --config: %s:4:3: " % path), line


def test_options_after_the_file_still_apply(vm_factory, tmp_path):
    cfg = {"boot-source": boot_source("hello"), "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
    vm = vm_factory(["--config", write_config(tmp_path, cfg), "--vcpus", "num=2"])
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert "cpus: 2 " in vm.stdout, vm.explain()
    assert os.path.exists(GUEST)
