# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""A typo in a seccomp policy fails the build, naming the file and the line.

Each test copies seccomp-policies/x86_64 to a temporary directory, spoils one
line, and runs the build's checker on the copy: directly, and through make
with POLICY_DIR= pointing at the copy and O= a temporary build directory. The
pristine copy passes both ways, and the objects make embeds hold the policy
text."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

POLICIES = os.path.join(ROOT, "seccomp-policies", "x86_64")
POLICIES_MK = os.path.join("seccomp-policies", "policies.mk")
PROCESSES = ("supervisor", "vcpu", "serial", "blk", "net", "9p", "rng", "vsock")


@pytest.fixture(scope="module")
def checker_build(tmp_path_factory):
    """A build directory holding the checker, built once from this tree."""
    out = tmp_path_factory.mktemp("policy-build")
    p = subprocess.run(["make", "-s", "-C", ROOT, "-f", POLICIES_MK, "O=%s" % out,
                        "%s/policy/policy-check" % out], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return out


@pytest.fixture
def build(checker_build, tmp_path):
    """A fresh build directory with the checker already in it (make keeps it: same mtimes)."""
    out = tmp_path / "build"
    shutil.copytree(checker_build, out, symlinks=True)
    return out


@pytest.fixture
def policies(tmp_path):
    dst = tmp_path / "x86_64"
    shutil.copytree(POLICIES, dst)
    return dst


def run_checker(build, policies):
    files = sorted(str(policies / f) for f in os.listdir(policies) if f.endswith(".policy"))
    return subprocess.run([str(build / "policy" / "policy-check")] + files,
                          capture_output=True, text=True, timeout=60)


def run_make(build, policies):
    return subprocess.run(["make", "-C", ROOT, "-f", POLICIES_MK, "O=%s" % build,
                           "POLICY_DIR=%s" % policies, "policies"],
                          capture_output=True, text=True, timeout=300)


def spoil(policies, name, pattern, replacement):
    """Replace the first match of pattern in name; the 1-based line it was on."""
    path = policies / name
    lines = path.read_text().split("\n")
    for i, line in enumerate(lines):
        if re.search(pattern, line):
            lines[i] = re.sub(pattern, replacement, line, count=1)
            path.write_text("\n".join(lines))
            return i + 1
    raise AssertionError("%s: no line matches %r" % (name, pattern))


def append(policies, name, text):
    path = policies / name
    old = path.read_text()
    path.write_text(old + text)
    return old.count("\n") + 1


def test_pristine_policies_pass(build, policies):
    p = run_checker(build, policies)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    p = run_make(build, policies)
    assert p.returncode == 0, p.stdout + p.stderr
    for proc in PROCESSES:
        obj = build / "policy" / ("%s.o" % proc)
        data = obj.read_bytes()
        # Both files, byte for byte, and their names, as policy_embedded() returns them.
        assert (policies / ("%s.policy" % proc)).read_bytes() in data, proc
        assert (policies / "common.policy").read_bytes() in data, proc
        assert ("%s.policy\0" % proc).encode() in data and b"common.policy\0" in data


# (file, spoiling, expected message after "FILE:LINE: ")
TYPOS = [
    ("blk.policy", (r"^pwritev:", "pwritevv:"), "unknown syscall 'pwritevv'"),
    ("vcpu.policy", (r"KVM_RUN\b", "KVM_RUNN"), "unknown constant 'KVM_RUNN'"),
    ("serial.policy", (r"arg0 == @IN_FD", "arg0 = @IN_FD"), "unexpected '=' (comparisons use '==')"),
    ("net.policy", (r"arg1 == TUNSETOFFLOAD", "arg1 == TUNSETOFFLOAD &&"),
     "expected an argument arg0 to arg5, found end of line"),
    ("supervisor.policy", (r"^waitid: arg0 == P_PIDFD", "waitid: arg0 == P_PIDFD && arg0 == 1"),
     "arg0 is compared twice in one conjunction"),
    ("common.policy", (r"STDERR_FILENO", "STDERR_FILEN0"), "unknown constant 'STDERR_FILEN0'"),
    ("common.policy", (r"^epoll_wait$", "@include blk.policy"),
     "@include in an included file: policies include one level only"),
    ("blk.policy", (r"arg2 & PROT_EXEC == 0 && ", ""),
     "a memory protection rule must refuse PROT_EXEC (arg2 & PROT_EXEC == 0)"),
]


@pytest.mark.parametrize("name,spoiling,message", TYPOS,
                         ids=["syscall", "constant", "syntax", "dangling-and", "one-cmp-per-arg",
                              "common", "nested-include", "exec-mmap"])
def test_typo_fails_with_file_and_line(build, policies, name, spoiling, message):
    line = spoil(policies, name, *spoiling)
    where = "%s:%d: " % (policies / name, line)
    p = run_checker(build, policies)
    assert p.returncode == 1, p.stderr
    assert where + message in p.stderr, p.stderr
    # An error in common.policy is said once, not once per policy that includes it.
    assert p.stderr.count(where + message) == 1, p.stderr
    p = run_make(build, policies)
    assert p.returncode != 0, p.stdout + p.stderr
    assert where + message in p.stderr, p.stderr
    # Nothing was embedded from the spoiled files.
    assert not list((build / "policy").glob("*.o")), os.listdir(build / "policy")


@pytest.mark.parametrize("text,message", [
    ("execve\n", "'execve' is never allowed in a bulkhead policy"),
    ("socket: arg0 == AF_UNIX\n", "'socket' is allowed only in supervisor.policy with arg0 == @PLACEHOLDER"),
    ("socket: arg0 == @BROKER_FAMILY\n",
     "'socket' is allowed only in supervisor.policy with arg0 == @PLACEHOLDER"),
    ("connect: arg2 == @BROKER_ADDRLEN\n",
     "'connect' is allowed only in supervisor.policy with arg2 == @PLACEHOLDER"),
    ("accept4: arg3 == SOCK_NONBLOCK\n", "'accept4' is allowed only in a policy with arg0 == @PLACEHOLDER"),
    ("bind: arg0 == @TAP_FD\n", "'bind' is never allowed in a bulkhead policy"),
    ("openat\n", "'openat' is never allowed in a bulkhead policy"),
    ("openat2\n", "'openat2' is never allowed in a bulkhead policy"),
    ("unlinkat\n", "'unlinkat' is never allowed in a bulkhead policy"),
    ("ptrace\n", "'ptrace' is never allowed in a bulkhead policy"),
    ("mprotect\n", "a memory protection rule must refuse PROT_EXEC"),
    ("read: arg0 == @UNBOUND_LATER extra\n", "expected '&&', '||' or end of line, found 'extra'"),
])
def test_forbidden_rules_fail(build, policies, text, message):
    line = append(policies, "net.policy", text)
    p = run_checker(build, policies)
    assert p.returncode == 1, p.stderr
    assert "%s:%d: %s" % (policies / "net.policy", line, message) in p.stderr, p.stderr


@pytest.mark.parametrize("text,ok", [
    ("openat\n", False), ("open\n", False), ("open_by_handle_at\n", False), ("execve\n", False),
    ("socket: arg0 == AF_UNIX\n", False), ("renameat2\n", False), ("openat2\n", True),
    ("mkdirat\n", True),
])
def test_file_server_exception(build, policies, text, ok):
    """9p.policy alone may name openat2 and the *at calls the server needs
    (seccomp/policy-check.c); open, openat and the rest stay forbidden there."""
    line = append(policies, "9p.policy", text)
    p = run_checker(build, policies)
    if ok:
        assert p.returncode == 0, p.stderr
    else:
        assert p.returncode == 1, p.stderr
        assert "%s:%d: " % (policies / "9p.policy", line) in p.stderr, p.stderr


def test_broker_rules_narrowed_in_supervisor_policy(build, policies):
    """Even in supervisor.policy, socket and connect only with their placeholder filters
    (the broker, bound to nothing usable unless a brokered kind runs)."""
    line = spoil(policies, "supervisor.policy", r"^connect: arg2 == @BROKER_ADDRLEN", "connect")
    p = run_checker(build, policies)
    assert p.returncode == 1, p.stderr
    assert "%s:%d: 'connect' is allowed only in supervisor.policy with arg2 == @PLACEHOLDER" % (
        policies / "supervisor.policy", line) in p.stderr, p.stderr


def test_empty_or_missing_policy_fails(build, policies):
    (policies / "serial.policy").write_text("# nothing\n")
    p = run_checker(build, policies)
    assert p.returncode == 1
    assert "%s: no rules: a policy may not be empty" % (policies / "serial.policy") in p.stderr
    os.unlink(policies / "serial.policy")
    p = run_make(build, policies)
    assert p.returncode != 0
    assert "serial.policy" in p.stderr, p.stderr


BINARIES = ("bulkhead", "bulkhead-vcpu", "bulkhead-serial", "bulkhead-blk", "bulkhead-net",
            "bulkhead-9p")


def test_top_level_make_checks_policies(tmp_path, policies):
    """The top-level Makefile checks the policies: a typo fails a plain make target with
    FILE:LINE, and no process binary links before the checker has passed the policies it
    embeds. A Makefile that stops checking fails here, it is not skipped."""
    makefile = open(os.path.join(ROOT, "Makefile")).read()
    assert "seccomp-policies/policies.mk" in makefile, \
        "the top-level Makefile does not include seccomp-policies/policies.mk: nothing checks the policies"
    out = tmp_path / "build"
    line = spoil(policies, "blk.policy", r"^fdatasync:", "fdatasyncc:")
    p = subprocess.run(["make", "-C", ROOT, "O=%s" % out, "POLICY_DIR=%s" % policies,
                        "%s/policy/checked.stamp" % out], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode != 0, p.stdout + p.stderr
    assert "%s:%d: unknown syscall 'fdatasyncc'" % (policies / "blk.policy", line) in p.stderr
    # Each binary's build runs the checker on these policies before it links (make -n
    # prints what a build from nothing would run, in order).
    for binary in BINARIES:
        p = subprocess.run(["make", "-n", "-C", ROOT, "O=%s" % out, "POLICY_DIR=%s" % policies,
                            "%s/%s" % (out, binary)], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        cmds = p.stdout.splitlines()
        check = [i for i, c in enumerate(cmds) if "policy/policy-check " in c and
                 str(policies / "blk.policy") in c]
        link = [i for i, c in enumerate(cmds) if " -o %s/%s " % (out, binary) in c + " "]
        assert check and link and check[0] < link[-1], \
            "%s: the build does not run the policy checker on %s before linking\n%s" % (
                binary, policies, p.stdout[-3000:])
