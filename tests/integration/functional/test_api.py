# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""The API socket (--api-socket): every endpoint driven with curl against a
running test guest; pause really stops the guest (its counter stops), resume
lets it go on; shutdown and the power button end it with status 0; bad and
oversized requests get 4xx and the VM goes on; the socket file is 0600 and
a stale one is replaced; without restarts a dead bulkhead-api leaves the VM
running without its socket, with restarts it comes back; bulkhead ctl."""
import json
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import (BUILD, BULKHEAD, EXIT_USAGE, GUEST_PASS, TEST_USER, as_test_user, guest_args,
                      vm_processes)

HOOKED = os.path.join(BUILD, "testhooks", "bulkhead")
METRIC_LINE = re.compile(r'^bulkhead_[a-z_]+\{([a-z_]+="[^"\\\n]*",?)+\} [0-9][0-9.e+]*$')


def curl(sock, path, method="GET", data=None, timeout=15):
    """(status, body) of one request through curl."""
    argv = ["curl", "-s", "-S", "--max-time", str(timeout), "--unix-socket", sock, "-X", method,
            "-o", "-", "-w", "\n%{http_code}", "http://localhost" + path]
    if data is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary", data]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 5)
    body, _, code = p.stdout.rpartition("\n")
    assert code.isdigit(), "curl: %s %s" % (p.stdout, p.stderr)
    return int(code), body


def get_json(sock, path):
    code, body = curl(sock, path)
    assert code == 200, (code, body)
    return json.loads(body)


def raw(sock, data, timeout=15, shut=False):
    """Send data as it is; the status code of the answer and the whole answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            # More was sent than the server reads after an early answer (64 KiB): the answer
            # arrives first, then the reset.
            assert out, "reset before any answer"
            break
        if not chunk:
            break
        out += chunk
    s.close()
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", out)
    assert m, out
    return int(m.group(1)), out


def user_uid():
    return pwd.getpwnam(TEST_USER).pw_uid if TEST_USER else os.getuid()


def start(vm_factory, tmp_path, scenario="count", extra="", args=(), exe=BULKHEAD, env=None,
          console=True, vcpus=1):
    """A VM with an API socket; its console goes to a file (the count scenario's progress)."""
    sock = str(tmp_path / "api.sock")
    con = str(tmp_path / "console.out")
    a = guest_args(scenario, extra, vcpus=vcpus, serial="file=" + con if console else "stdio")
    vm = vm_factory(a + ["--api-socket", sock] + list(args), exe=exe, env=env)
    vm.sock, vm.console = sock, con
    return vm


def counts(vm):
    try:
        with open(vm.console) as f:
            return [int(n) for n in re.findall(r"^count: (\d+)$", f.read(), re.M)]
    except FileNotFoundError:
        return []


def wait_count(vm, above, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = counts(vm)
        if c and c[-1] > above:
            return c[-1]
        time.sleep(0.05)
    pytest.fail("the guest's counter did not pass %d\n%s" % (above, vm.explain()))


def shutdown(vm):
    code, body = curl(vm.sock, "/api/v1/vm.shutdown", "PUT")
    assert code == 204, (code, body)
    assert vm.wait() == 0, vm.explain()
    assert "shut down through the API socket; exit status 0" in vm.stderr, vm.explain()


def spawner_pid(vm):
    """The spawner: a fork of the supervisor (its title is the supervisor's), named bh-spawner;
    unreaped counts."""
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/comm" % entry) as f:
                comm = f.read().strip()
        except (OSError, IndexError):
            continue
        if comm == "bh-spawner" and int(fields[1]) == vm.proc.pid:
            return int(entry)
    return None


def first_client(vm):
    """Connect once (bulkhead-api starts at its socket's first client); its pid."""
    assert get_json(vm.sock, "/api/v1/vmm.ping")["pid"] == vm.proc.pid
    return vm.wait_children(["api"])["api"]


def info_when(vm, ok, timeout=5):
    """vm.info once ok(info) holds."""
    deadline = time.time() + timeout
    while True:
        info = get_json(vm.sock, "/api/v1/vm.info")
        if ok(info) or time.time() > deadline:
            return info
        time.sleep(0.05)


def test_every_endpoint(vm_factory, tmp_path):
    vm = start(vm_factory, tmp_path)
    wait_count(vm, 2)
    pids = vm.wait_children(["vcpu", "serial"])
    pids["api"] = first_client(vm)

    ping = get_json(vm.sock, "/api/v1/vmm.ping")
    assert ping["version"] and ping["build_version"].startswith("bulkhead ")
    assert ping["pid"] == vm.proc.pid

    # The spawner that started bulkhead-api is gone (no --on-device-failure restart).
    info = info_when(vm, lambda i: any(p["name"] == "spawner" and p["state"] == "exited"
                                       for p in i["processes"]))
    assert info["state"] == "running"
    assert 0 < info["uptime"] < 60
    cfg = info["config"]
    assert cfg["name"] == vm.name and cfg["vcpus"] == {"num": 1}
    assert cfg["memory"]["size_mib"] == 64 and cfg["acpi"] is True
    assert "bulkhead.test=count" in cfg["kernel"]["cmdline"]
    devs = {d["name"]: d for d in cfg["devices"]}
    assert devs["api"]["path"] == vm.sock and devs["api"]["option"] == "api-socket"
    assert devs["serial"]["file"] == vm.console
    procs = {p["name"]: p for p in info["processes"]}
    assert set(procs) == {"supervisor", "vcpu", "serial", "api", "spawner"}, procs
    spawner = procs.pop("spawner")
    assert spawner["state"] == "exited" and spawner["last_failure"] is None, spawner
    assert spawner_pid(vm) is None  # and reaped
    assert procs["supervisor"]["pid"] == vm.proc.pid
    for name, pid in pids.items():
        p = procs[name]
        assert p["pid"] == pid and p["state"] == "running" and p["restarts"] == 0, p
        assert p["last_failure"] is None, p
        assert p["rss_bytes"] > 0 and 0 < p["pss_bytes"] <= p["rss_bytes"], p
        assert p["cpu_seconds"] >= 0, p
    assert procs["vcpu"]["kind"] == "vcpu" and procs["serial"]["kind"] == "serial"

    ctrs = get_json(vm.sock, "/api/v1/vm.counters")
    assert set(ctrs) == {"serial"}, ctrs
    ser = ctrs["serial"]
    assert ser["bytes"] > 0 and ser["register_writes"] > 0 and ser["restarts"] == 0, ser
    assert set(ser) == {"requests", "bytes", "errors", "notifications", "interrupts",
                        "register_reads", "register_writes", "restarts"}

    code, text = curl(vm.sock, "/metrics")
    assert code == 200
    lines = text.splitlines()
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or METRIC_LINE.match(line), line
    assert 'bulkhead_vm_state{vm="%s",state="running"} 1' % vm.name in lines
    assert 'bulkhead_vm_state{vm="%s",state="paused"} 0' % vm.name in lines
    assert any(line.startswith('bulkhead_device_bytes_total{vm="%s",device="serial",kind="serial"} '
                               % vm.name) for line in lines), text
    assert any(line.startswith('bulkhead_process_pss_bytes{vm="%s",process="vcpu",kind="vcpu"} '
                               % vm.name) for line in lines), text
    shutdown(vm)


def test_counters_of_a_disk(vm_factory, tmp_path):
    """blk0's requests, bytes, kicks, interrupts and register accesses grow while the guest
    writes and reads it; the guest's own check passes."""
    img = tmp_path / "d.img"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    vm = start(vm_factory, tmp_path, "blk-rw", "bulkhead.sectors=4096 bulkhead.seconds=4 bulkhead.irq=1",
               args=["--disk", "path=%s" % img], console=False)
    vm.read_until(b"blk-rw", timeout=20)
    time.sleep(1)
    a = get_json(vm.sock, "/api/v1/vm.counters")["blk0"]
    time.sleep(0.5)
    b = get_json(vm.sock, "/api/v1/vm.counters")["blk0"]
    for k in ("requests", "bytes", "notifications", "interrupts"):
        assert b[k] > a[k] > 0, (k, a, b)
    assert a["register_writes"] > 0 and a["register_reads"] > 0 and a["errors"] == 0, a
    assert a["bytes"] >= 512 * a["requests"] // 2, a
    assert vm.wait(60) == GUEST_PASS, vm.explain()


def test_counters_of_an_rng(vm_factory, tmp_path):
    """bulkhead-rng counts the requests it served and the bytes it gave, as the guest reads
    at the rate limit's pace."""
    vm = start(vm_factory, tmp_path, "rng-read", "bulkhead.bytes=98304 bulkhead.chunk=1024",
               args=["--rng", "rate=32768"], console=False)
    vm.read_until(b"boot marker", timeout=20)
    time.sleep(0.5)  # the guest reads for 2 s, and polls the used ring (no interrupts)
    a = get_json(vm.sock, "/api/v1/vm.counters")["rng"]
    time.sleep(0.5)
    b = get_json(vm.sock, "/api/v1/vm.counters")["rng"]
    for k in ("requests", "bytes", "notifications"):
        assert b[k] > a[k] > 0, (k, a, b)
    assert a["bytes"] <= 1024 * a["requests"] and a["errors"] == 0, a
    assert vm.wait(60) == GUEST_PASS, vm.explain()


def test_pause_stops_the_guest_and_resume_goes_on(vm_factory, tmp_path):
    vm = start(vm_factory, tmp_path, extra="bulkhead.interval-ms=50")
    wait_count(vm, 3)
    code, body = curl(vm.sock, "/api/v1/vm.pause", "PUT")
    assert code == 204, body
    time.sleep(0.3)  # what the serial process had taken in before the pause reaches the file
    frozen = counts(vm)[-1]
    time.sleep(1.5)
    assert counts(vm)[-1] == frozen, "the guest went on while paused"
    assert get_json(vm.sock, "/api/v1/vm.info")["state"] == "paused"
    code, text = curl(vm.sock, "/metrics")
    assert 'bulkhead_vm_state{vm="%s",state="paused"} 1' % vm.name in text.splitlines()
    code, body = curl(vm.sock, "/api/v1/vm.pause", "PUT")
    assert code == 409 and "already" in json.loads(body)["error"], body
    code, body = curl(vm.sock, "/api/v1/vm.resume", "PUT")
    assert code == 204, body
    wait_count(vm, frozen + 5, timeout=5)
    assert get_json(vm.sock, "/api/v1/vm.info")["state"] == "running"
    code, body = curl(vm.sock, "/api/v1/vm.resume", "PUT")
    assert code == 409, body
    # A paused VM still shuts down.
    assert curl(vm.sock, "/api/v1/vm.pause", "PUT")[0] == 204
    shutdown(vm)


def test_pause_stops_every_vcpu(vm_factory, tmp_path):
    """Two vCPUs: neither runs guest code while paused (their CPU time stays put)."""
    vm = start(vm_factory, tmp_path, "mmio-loop", "bulkhead.mmio-op=read",
               args=["--disk", "path=%s" % make_image(tmp_path)], console=False, vcpus=2)
    vm.read_until(b"mmio-loop:")
    assert curl(vm.sock, "/api/v1/vm.pause", "PUT")[0] == 204
    a = vcpu_seconds(vm.sock)
    time.sleep(1)
    b = vcpu_seconds(vm.sock)
    assert b - a < 0.05, (a, b)
    assert curl(vm.sock, "/api/v1/vm.resume", "PUT")[0] == 204
    time.sleep(1)
    c = vcpu_seconds(vm.sock)
    assert c - b > 0.2, (b, c)
    shutdown(vm)


def make_image(tmp_path):
    img = tmp_path / "loop.img"
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    return str(img)


def vcpu_seconds(sock):
    procs = {p["name"]: p for p in get_json(sock, "/api/v1/vm.info")["processes"]}
    return procs["vcpu"]["cpu_seconds"]


def test_power_button_powers_off(vm_factory, tmp_path):
    vm = start(vm_factory, tmp_path, "power-button", console=False)
    vm.read_until(b"power-button: waiting")
    code, body = curl(vm.sock, "/api/v1/vm.power-button", "PUT")
    assert code == 204, body
    assert vm.wait() == 0, vm.explain()
    assert "power-button: pressed; powering off" in vm.stdout, vm.explain()
    assert "guest powered off through ACPI" in vm.stderr, vm.explain()


def test_no_power_button_without_acpi(vm_factory, tmp_path):
    vm = start(vm_factory, tmp_path, args=["--acpi", "off"])
    wait_count(vm, 1)
    code, body = curl(vm.sock, "/api/v1/vm.power-button", "PUT")
    assert code == 409 and "power button" in json.loads(body)["error"], body
    assert get_json(vm.sock, "/api/v1/vm.info")["config"]["acpi"] is False
    shutdown(vm)


BAD = [
    # (method, path, body, status)
    ("GET", "/api/v1/vm.nothing", None, 404),
    ("GET", "/", None, 404),
    ("GET", "/api/v1/vm.info/", None, 404),
    ("GET", "/api/v1/vm.pause", None, 405),
    ("PUT", "/api/v1/vm.info", None, 405),
    ("POST", "/api/v1/vm.pause", None, 405),
    ("DELETE", "/metrics", None, 405),
    ("PUT", "/api/v1/vm.pause", '{"now": true}', 400),
    ("PUT", "/api/v1/vm.pause", "[]", 400),
    ("PUT", "/api/v1/vm.pause", "{", 400),
    ("PUT", "/api/v1/vm.pause", '{"a":1,"a":2}', 400),
    ("GET", "/api/v1/vm.info", "{}", 400),
]


def test_bad_requests_get_4xx_and_the_vm_goes_on(vm_factory, tmp_path):
    vm = start(vm_factory, tmp_path)
    wait_count(vm, 1)
    api = first_client(vm)
    for method, path, body, want in BAD:
        code, text = curl(vm.sock, path, method, body)
        assert code == want, (method, path, body, code, text)
        assert json.loads(text)["error"], text
    code, out = raw(vm.sock, b"GET /api/v1/vm.pause HTTP/1.1\r\nHost: x\r\n\r\n")
    assert code == 405 and b"\r\nAllow: PUT\r\n" in out, out
    raws = [
        (b"garbage\r\n\r\n", 400),
        (b"GET /metrics HTTP/9.9\r\n\r\n", 505),
        (b"BREW /api/v1/vm.info HTTP/1.1\r\n\r\n", 400),
        (b"GET /api/v1/vm.info HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"GET /api/v1/vm.info HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", 400),
        (b"CONNECT localhost:80 HTTP/1.1\r\n\r\n", 400),
        (b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /api/v1/vm.info HTTP/1.1\r\n" + b"X-Long: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (b"GET /api/v1/vm.info HTTP/1.1\r\n" + b"X: y\r\n" * 2000 + b"\r\n", 431),
        (b"PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"{" * 100000, 413),
        (b"PUT /api/v1/vm.pause HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         + b"1000\r\n" + b" " * 4096 + b"\r\n" + b"10\r\n" + b" " * 16 + b"\r\n0\r\n\r\n", 413),
        (b"\x00\xff\x01 / HTTP/1.1\r\n\r\n", 400),
    ]
    for data, want in raws:
        code, out = raw(vm.sock, data)
        assert code == want, (data[:80], out)
    # A request cut short by its client: no answer, no harm.
    code, out = raw(vm.sock, b"GET /api/v1/vm.info HTTP/1.1\r\nHost:", shut=True)
    assert code == 400, out
    # Pipelined requests: the first is answered, the rest of the connection is not read.
    code, out = raw(vm.sock, b"GET /api/v1/vmm.ping HTTP/1.1\r\n\r\nPUT /api/v1/vm.shutdown HTTP/1.1\r\n\r\n")
    assert code == 200 and out.count(b"HTTP/1.1") == 1, out
    assert vm.proc.poll() is None, vm.explain()
    assert vm.wait_children(["api"])["api"] == api, "bulkhead-api was replaced"
    before = counts(vm)[-1]
    wait_count(vm, before + 2)
    assert get_json(vm.sock, "/api/v1/vm.info")["state"] == "running"
    shutdown(vm)


def test_slow_clients_stall_no_one(vm_factory, tmp_path):
    """16 silent connections hold every slot: a 17th gets 503 at once; as soon as they
    go, requests are served again; a client that says nothing is cut off at 10 s."""
    vm = start(vm_factory, tmp_path)
    wait_count(vm, 1)
    idle = []
    for _ in range(16):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(vm.sock)
        s.sendall(b"GET /api/v1/vm.info HTTP/1.1\r\n")  # and never the rest
        idle.append(s)
    time.sleep(0.3)
    t0 = time.monotonic()
    code, out = raw(vm.sock, b"GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n")
    assert code == 503 and time.monotonic() - t0 < 2, out
    for s in idle[:8]:
        s.close()
    time.sleep(0.3)
    t0 = time.monotonic()
    assert get_json(vm.sock, "/api/v1/vmm.ping")["pid"] == vm.proc.pid
    assert time.monotonic() - t0 < 2
    # The rest are dropped at their deadline, 10 s after they connected.
    idle[8].settimeout(15)
    t0 = time.monotonic()
    assert idle[8].recv(100) == b""
    assert time.monotonic() - t0 < 12
    for s in idle[8:]:
        s.close()
    assert vm.proc.poll() is None
    shutdown(vm)


def test_concurrent_clients(vm_factory, tmp_path):
    """Eight clients asking at once all get whole, well-formed answers."""
    vm = start(vm_factory, tmp_path)
    wait_count(vm, 1)
    results = []

    def client():
        for _ in range(10):
            results.append(curl(vm.sock, "/api/v1/vm.info")[0])
            results.append(curl(vm.sock, "/metrics")[0])

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [200] * 160, results
    shutdown(vm)


def test_socket_mode_owner_and_stale(vm_factory, tmp_path):
    vm = start(vm_factory, tmp_path)
    wait_count(vm, 1)
    st = os.stat(vm.sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == user_uid()
    # In use: a second VM on the same path is refused (configuration error, status 2).
    p = subprocess.run(as_test_user([BULKHEAD] + guest_args("hello") + ["--api-socket", vm.sock]),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == EXIT_USAGE and "--api-socket: path=%s: something listens there already" % vm.sock in p.stderr, \
        p.stderr
    shutdown(vm)
    # The socket stays (the supervisor cannot remove files once locked down): stale now.
    assert stat.S_ISSOCK(os.stat(vm.sock).st_mode)
    vm2 = vm_factory(guest_args("count", serial="none") + ["--api-socket", vm.sock])
    time.sleep(0.5)
    assert get_json(vm.sock, "/api/v1/vm.info")["state"] == "running"
    vm2.sock = vm.sock
    shutdown(vm2)


def test_path_that_is_no_socket(tmp_path):
    path = tmp_path / "file"
    path.write_text("keep me")
    for bad, why in ((str(path), "exists and is not a socket"),
                     (str(tmp_path / ("x" * 120)), "too long"),
                     (str(tmp_path / "no" / "dir" / "s"), "No such file or directory")):
        p = subprocess.run(as_test_user([BULKHEAD] + guest_args("hello") + ["--api-socket", bad]),
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == EXIT_USAGE and "--api-socket" in p.stderr and why in p.stderr, \
            p.stderr
    assert path.read_text() == "keep me"


def test_killed_api_leaves_the_vm_running(vm_factory, tmp_path):
    vm = start(vm_factory, tmp_path, extra="bulkhead.interval-ms=50 bulkhead.seconds=4")
    wait_count(vm, 1)
    os.kill(first_client(vm), signal.SIGKILL)
    time.sleep(0.3)
    p = subprocess.run(["curl", "-s", "--max-time", "3", "--unix-socket", vm.sock,
                        "http://localhost/api/v1/vmm.ping"], capture_output=True, timeout=10)
    assert p.returncode == 7, p  # refused: nobody holds the socket any more
    before = counts(vm)[-1]
    wait_count(vm, before + 3)
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert re.search(r"^bulkhead: api \(pid \d+\) was killed by signal 9 \(SIGKILL\); the VM goes "
                     r"on without it", vm.stderr, re.M), vm.explain()


def test_killed_api_comes_back_with_restart(vm_factory, tmp_path):
    vm = start(vm_factory, tmp_path, args=["--on-device-failure", "restart"])
    wait_count(vm, 1)
    first = first_client(vm)
    os.kill(first, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and vm_processes(vm.name).get("api") in (None, first):
        time.sleep(0.05)
    info = get_json(vm.sock, "/api/v1/vm.info")
    api = [p for p in info["processes"] if p["name"] == "api"][0]
    assert api["restarts"] == 1 and api["pid"] != first and api["state"] == "running", api
    assert "signal 9" in api["last_failure"]["what"], api
    assert api["rss_bytes"] > 0, api  # the spawner opened the new one's /proc files
    # With restarts the spawner stays for the next one.
    assert [p["state"] for p in info["processes"] if p["name"] == "spawner"] == ["running"], info
    assert spawner_pid(vm) is not None
    shutdown(vm)


def test_api_starts_at_its_first_client(vm_factory, tmp_path):
    """An idle socket has no process behind it: bulkhead-api starts at the first connection
    (the client waits in the backlog meanwhile), from the spawner, which then goes; a VM
    whose socket nobody used ends as any other."""
    vm = start(vm_factory, tmp_path)
    wait_count(vm, 2)
    assert "api" not in vm.wait_children(["vcpu", "serial"])
    assert spawner_pid(vm) is not None
    assert stat.S_ISSOCK(os.stat(vm.sock).st_mode)
    # Clients that come together are all answered, by one process.
    results = []
    threads = [threading.Thread(target=lambda: results.append(curl(vm.sock, "/api/v1/vmm.ping")[0]))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4, results
    api = vm.wait_children(["api"])["api"]
    deadline = time.time() + 5
    while spawner_pid(vm) is not None and time.time() < deadline:
        time.sleep(0.02)
    assert spawner_pid(vm) is None, "the spawner stayed after starting bulkhead-api"
    assert vm_processes(vm.name)["api"] == api
    shutdown(vm)

    idle = start(vm_factory, tmp_path / "idle" if (tmp_path / "idle").mkdir() is None else None,
                 extra="bulkhead.seconds=1")
    assert idle.wait() == GUEST_PASS, idle.explain()
    assert "api" not in idle.stderr, idle.explain()


def test_api_killed_by_its_policy(vm_factory, tmp_path):
    """A compromised bulkhead-api (the test hook: a socket() call at its first request) is
    killed by seccomp, named, and the VM goes on."""
    vm = start(vm_factory, tmp_path, extra="bulkhead.seconds=3", exe=HOOKED,
               env=dict(os.environ, BULKHEAD_TEST_FAULT="api:socket"))
    wait_count(vm, 1)
    p = subprocess.run(["curl", "-s", "--max-time", "5", "--unix-socket", vm.sock,
                        "http://localhost/api/v1/vmm.ping"], capture_output=True, timeout=10)
    assert p.returncode != 0
    assert vm.wait() == GUEST_PASS, vm.explain()
    assert re.search(r"^bulkhead: api \(pid \d+\) was killed by seccomp( for system call socket)?",
                     vm.stderr, re.M), vm.explain()


def ctl(sock, cmd):
    return subprocess.run([BULKHEAD, "ctl", sock, cmd], capture_output=True, text=True, timeout=30)


def test_ctl(vm_factory, tmp_path):
    vm = start(vm_factory, tmp_path)
    wait_count(vm, 1)
    p = ctl(vm.sock, "info")
    assert p.returncode == 0 and json.loads(p.stdout)["state"] == "running", p
    assert json.loads(ctl(vm.sock, "ping").stdout)["pid"] == vm.proc.pid
    assert "serial" in json.loads(ctl(vm.sock, "counters").stdout)
    assert "bulkhead_vm_state" in ctl(vm.sock, "metrics").stdout
    assert ctl(vm.sock, "pause").returncode == 0
    p = ctl(vm.sock, "pause")
    assert p.returncode == 1 and "409 Conflict" in p.stderr, p
    assert ctl(vm.sock, "resume").returncode == 0
    p = ctl(vm.sock, "reboot")
    assert p.returncode == 2 and "usage: bulkhead ctl" in p.stderr, p
    p = ctl(str(tmp_path / "none.sock"), "info")
    assert p.returncode == 1 and "cannot connect" in p.stderr, p
    assert ctl(vm.sock, "shutdown").returncode == 0
    assert vm.wait() == 0, vm.explain()
