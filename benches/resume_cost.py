#!/usr/bin/env python3
"""What the scan journal costs, and what `scan --resume` saves.

1. Overhead (only with --baseline): a hashsift built without the journal (an earlier commit)
   against this one, the same scan alternated --runs times, warm; wall time, CPU time and
   peak memory of each, and the median ratio.
2. Resume: a scan killed with SIGKILL after --kill-at of its uninterrupted time, then
   `scan --resume`: the journal's size and records, the resume's wall time and peak memory,
   and whether its items.jsonl equals the uninterrupted scan's (times aside).

Before every timed run the corpus and the database are read (this machine evicts pages about
60 s after their last use).

Usage:
  benches/resume_cost.py --corpus /work/bench/million --db /work/bench/vics.db
      [--hashsift target/release/hashsift] [--baseline /tmp/old/hashsift] [--runs 3]
      [--kill-at 0.6]
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

from scan_overhead import warm  # the same directory: corpus and database read before a run


def run(cmd, kill_after=None):
    """Runs cmd, killed with SIGKILL after kill_after seconds if given; returns (wall seconds,
    CPU seconds, peak KiB, exit code, negative for a signal)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if kill_after is not None and time.monotonic() - start >= kill_after:
            os.kill(p.pid, signal.SIGKILL)
            _, status, usage = os.wait4(p.pid, 0)
            break
        time.sleep(0.01)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, p.returncode


def items(path):
    with open(path) as f:
        return [line for line in f if '"type":"item"' in line]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--hashsift", default="target/release/hashsift")
    ap.add_argument("--baseline")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kill-at", type=float, default=0.6)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hashsift-resume-")
    try:
        def scan(binary, out):
            return [binary, "scan", "-q", "--db", a.db, "-o", out, a.corpus]

        times = {"journal": []}
        if a.baseline:
            times["baseline"] = []
        for r in range(a.runs):
            for name in times:
                binary = a.baseline if name == "baseline" else a.hashsift
                out = os.path.join(work, f"{name}-{r}")
                warm(a.corpus, a.db)
                wall, cpu, rss, code = run(scan(binary, out))
                times[name].append(wall)
                print(f"{name:8} run {r + 1}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, "
                      f"{rss / 1024:6.0f} MiB peak, exit {code}", flush=True)
                if r < a.runs - 1:
                    shutil.rmtree(out)
        if a.baseline:
            ratio = statistics.median(times["journal"]) / statistics.median(times["baseline"])
            print(f"median wall: journal {statistics.median(times['journal']):.2f} s, "
                  f"baseline {statistics.median(times['baseline']):.2f} s, ratio {ratio:.3f}")

        reference = os.path.join(work, f"journal-{a.runs - 1}")
        full = statistics.median(times["journal"])
        killed = os.path.join(work, "killed")
        warm(a.corpus, a.db)
        wall, _, _, code = run(scan(a.hashsift, killed), kill_after=full * a.kill_at)
        journal = os.path.join(killed, "journal.hsj")
        size = os.path.getsize(journal)
        print(f"killed after {wall:.2f} s (exit {code}): journal {size / 1e6:.1f} MB")
        warm(a.corpus, a.db)
        wall, cpu, rss, code = run([a.hashsift, "scan", "-q", "--resume", killed])
        with open(os.path.join(killed, "manifest.json")) as f:
            session = json.load(f)["resumed"][-1]
        carried = session["contents_carried_over"]
        print(f"resume: {wall:.2f} s wall, {cpu:.2f} s CPU, {rss / 1024:.0f} MiB peak, exit {code}; "
              f"{carried} contents carried over ({size / max(carried, 1):.0f} journal bytes each)")
        same = items(os.path.join(killed, "items.jsonl")) == items(
            os.path.join(reference, "items.jsonl"))
        print(f"items.jsonl equal to the uninterrupted scan's: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
