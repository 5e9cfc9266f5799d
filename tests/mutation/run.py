#!/usr/bin/python3
# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
"""Mutation runner: does the suite notice a weakened product?

For each row of tests/mutation/table.py (a file, a text that occurs exactly
once in it, its replacement, and a test selection), on a scratch copy of a
commit (git archive, never this worktree):

  1. copy the built base tree (cp -a, timestamps kept: make rebuilds only
     what the mutated file touches);
  2. apply the mutation and build (make -j2 all testhooks and the test
     tools); a build that fails is "not built", never "killed";
  3. run the row's selection (unit:NAME runs build/tests/test_NAME and its
     ASan+UBSan twin; anything else is a pytest node, run with -x);
  4. a selection that passes is followed by the whole functional and
     security suites and every unit test before the row is "survived".

A manual tool, not part of `make check`: one mutation at a time, minutes of
CPU each. Results go to SCRATCH/results.json (a later run with --resume
skips the rows already there) and a table to stdout; each row's output is in
SCRATCH/logs/ID.log.

    /usr/bin/python3 tests/mutation/run.py [--only ID,ID] [--resume] [--baseline] [--check]
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from table import MUTATIONS  # noqa: E402

PYTEST = ["/usr/bin/python3", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
BUILD = ["make", "-j2", "all", "testhooks", "build/tests/dockerlike", "build/bench/kvm-floor", "build/bench/floor-guest"]
FULL = ["unit:*", "tests/integration/functional", "tests/integration/security"]
TARGETED_TIMEOUT = 1200
FULL_TIMEOUT = 7200


def unit_names(tree):
    return sorted(f[len("test_"):-len(".c")] for f in os.listdir(os.path.join(tree, "tests", "unit"))
                  if f.startswith("test_") and f.endswith(".c"))


def unit_bins(tree, names):
    return [b for n in names for b in ("build/tests/test_%s" % n, "build/tests/san/test_%s" % n)]


def run(cmd, cwd, log, timeout):
    """Run cmd in its own process group, output appended to log: its status, or None
    when it ran out of time (its whole group is then killed)."""
    with open(log, "a") as out:
        out.write("\n$ %s\n" % " ".join(cmd))
        out.flush()
        # COLUMNS: pytest's summary line keeps the reason a test failed.
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, env=dict(os.environ, COLUMNS="400"))
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            out.write("\n(timed out after %d s)\n" % timeout)
            return None


def tail_of(log, start):
    with open(log) as f:
        f.seek(start)
        return f.read()


def make_base(scratch, rev, log):
    """SCRATCH/base: rev exported and built, unit tests included. Kept between runs
    of the same commit."""
    sha = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    base = os.path.join(scratch, "base")
    stamp = os.path.join(scratch, "base.rev")
    if os.path.exists(stamp) and open(stamp).read().strip() == sha:
        return base, sha
    # Built where every mutation is then built and run (SCRATCH/work): the build
    # bakes its own path into binaries (the probe's policy directory), and those
    # must name the mutated copy, not the pristine one.
    work = os.path.join(scratch, "work")
    subprocess.run(["rm", "-rf", base, stamp, work], check=True)
    os.makedirs(work)
    archive = subprocess.Popen(["git", "archive", sha], cwd=ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", work], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        sys.exit("git archive %s failed" % sha)
    for cmd in (BUILD, ["make", "-j2"] + unit_bins(work, unit_names(work))):
        if run(cmd, work, log, FULL_TIMEOUT) != 0:
            sys.exit("the unmutated tree does not build; see %s" % log)
    subprocess.run(["cp", "-a", work, base], check=True)
    with open(stamp, "w") as f:
        f.write(sha + "\n")
    return base, sha


def fresh_copy(base, work):
    subprocess.run(["rm", "-rf", work], check=True)
    subprocess.run(["cp", "-a", base, work], check=True)


def apply(work, m):
    path = os.path.join(work, m["file"])
    with open(path) as f:
        text = f.read()
    n = text.count(m["old"])
    if n != 1:
        return "the original text occurs %d times in %s (the table is stale)" % (n, m["file"])
    with open(path, "w") as f:
        f.write(text.replace(m["old"], m["new"]))
    return None


def apply_check(m):
    with open(os.path.join(ROOT, m["file"])) as f:
        n = f.read().count(m["old"])
    return None if n == 1 else "%s: the original text occurs %d times in %s" % (m["id"], n, m["file"])


def run_unit(work, names, log, timeout):
    """(result, name): 'pass', or 'killed' and the failing binary and test."""
    if names == ["*"]:
        names = unit_names(work)
    bins = unit_bins(work, names)
    if run(["make", "-j2"] + bins, work, log, timeout) != 0:
        return "error", "unit tests did not build"
    for b in bins:
        start = os.path.getsize(log)
        rc = run([os.path.join(work, b)], work, log, timeout)
        if rc == 0:
            continue
        out = tail_of(log, start)
        failed = re.findall(r"^\[  FAILED  \] (\S+)$", out, re.M)
        what = "%s: %s" % (os.path.basename(b), failed[0] if failed else
                           "timed out" if rc is None else "exit status %d" % rc)
        if "/san/" in b:
            what += " (ASan+UBSan)"
        return "killed", what
    return "pass", ""


def run_pytest(work, nodes, log, timeout):
    start = os.path.getsize(log)
    rc = run(PYTEST + nodes, work, log, timeout)
    out = tail_of(log, start)
    if rc == 0:
        return "pass", ""
    if rc is None:
        running = re.findall(r"^(tests/\S+\.py) ", out, re.M)
        return "timeout", "timed out%s" % (" in " + running[-1] if running else "")
    # a node id may hold spaces (parameters): up to " - " or the end of the line
    failed = re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - (.*))?$", out, re.M)
    if rc == 1 and failed:
        node, why = failed[0]
        return "killed", node + (" (%s)" % why[:160] if why else "")
    return "error", "pytest exit status %d" % rc


def run_selection(work, selection, log, timeout):
    units = [s[len("unit:"):] for s in selection if s.startswith("unit:")]
    nodes = [s for s in selection if not s.startswith("unit:")]
    if units:
        res = run_unit(work, units, log, timeout)
        if res[0] != "pass":
            return res
    if nodes:
        return run_pytest(work, nodes, log, timeout)
    return "pass", ""


def try_mutation(scratch, base, m, full):
    work = os.path.join(scratch, "work")
    log = os.path.join(scratch, "logs", m["id"] + ".log")
    open(log, "w").close()
    fresh_copy(base, work)
    r = {"id": m["id"], "where": m["where"], "what": m["what"]}
    t0 = time.time()
    stale = apply(work, m)
    if stale:
        r.update(result="error", by=stale)
        return r
    if run(BUILD, work, log, FULL_TIMEOUT) != 0:
        r.update(result="not built", by="")
        return r
    result, by = run_selection(work, m["tests"], log, TARGETED_TIMEOUT)
    r["stage"] = "targeted"
    if result == "pass" and full:
        r["stage"] = "full"
        result, by = run_selection(work, FULL, log, FULL_TIMEOUT)
    r.update(result="survived" if result == "pass" else result, by=by,
             seconds=int(time.time() - t0))
    return r


def baseline(scratch, base, rows, full):
    """Each distinct selection on the unmutated tree: they must pass for a kill to mean anything."""
    work = os.path.join(scratch, "work")
    log = os.path.join(scratch, "logs", "baseline.log")
    open(log, "w").close()
    fresh_copy(base, work)
    seen = []
    for m in rows:
        if m["tests"] not in seen:
            seen.append(m["tests"])
    if full:
        seen.append(FULL)
    ok = True
    for sel in seen:
        result, by = run_selection(work, sel, log, FULL_TIMEOUT)
        print("baseline %-8s %s %s" % (result, " ".join(sel), by), flush=True)
        ok = ok and result == "pass"
    return ok


def table(results):
    lines = ["| id | where | mutation | result |", "| --- | --- | --- | --- |"]
    for r in results:
        res = r["result"] + (" (whole suite)" if r.get("stage") == "full" and r["result"] != "survived"
                             else "") + (": " + r["by"] if r.get("by") else "")
        lines.append("| %s | %s | %s | %s |" % (r["id"], r["where"], r["what"], res.replace("|", "\\|")))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scratch", default="/tmp/bulkhead-mutation")
    ap.add_argument("--rev", default="HEAD", help="the commit to mutate (default HEAD)")
    ap.add_argument("--only", help="comma-separated ids")
    ap.add_argument("--resume", action="store_true", help="skip ids already in results.json")
    ap.add_argument("--no-full", action="store_true",
                    help="stop at the targeted selection (a pass is then 'survived (targeted)')")
    ap.add_argument("--baseline", action="store_true",
                    help="only run every selection (and, without --no-full, the whole suites) "
                    "on the unmutated tree: they must pass for a kill to mean anything")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--check", action="store_true",
                    help="only check that every row's text occurs once in this worktree")
    args = ap.parse_args()

    ids = [m["id"] for m in MUTATIONS]
    assert len(ids) == len(set(ids)), "duplicate ids in the table"
    rows = MUTATIONS
    if args.only:
        want = args.only.split(",")
        unknown = set(want) - set(ids)
        if unknown:
            sys.exit("unknown ids: %s" % ", ".join(sorted(unknown)))
        rows = [m for m in MUTATIONS if m["id"] in want]
    if args.list:
        for m in rows:
            print("%-14s %-28s %s" % (m["id"], m["where"], m["what"]))
        return 0

    if args.check:
        stale = [e for e in (apply_check(m) for m in rows) if e]
        print("\n".join(stale) or "%d rows apply" % len(rows))
        return 1 if stale else 0

    os.makedirs(os.path.join(args.scratch, "logs"), exist_ok=True)
    base, sha = make_base(args.scratch, args.rev, os.path.join(args.scratch, "logs", "base.log"))
    print("mutating %s in %s" % (sha[:12], base), flush=True)
    if args.baseline:
        return 0 if baseline(args.scratch, base, rows, not args.no_full) else 1

    path = os.path.join(args.scratch, "results.json")
    results = json.load(open(path)) if args.resume and os.path.exists(path) else []
    done = {r["id"] for r in results if r.get("rev") == sha}
    results = [r for r in results if r.get("rev") == sha]
    for m in rows:
        if m["id"] in done:
            continue
        r = try_mutation(args.scratch, base, m, not args.no_full)
        r["rev"] = sha
        results.append(r)
        print("%-14s %-10s %s" % (r["id"], r["result"], r.get("by", "")), flush=True)
        with open(path, "w") as f:
            json.dump(results, f, indent=1)
    print(table([r for r in results if r["id"] in {m["id"] for m in rows}]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
