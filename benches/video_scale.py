#!/usr/bin/env python3
"""vPDQ matching at a unit's scale: how long a scan takes to load, index and search known videos.

  run WORK VIDEO... [--known N ...] [--frames F] [--hashsift PATH]
      for each N (default 1000 and 10000): writes N known videos of F frames each (default 600,
      ten minutes at one frame a second) as vPDQ files of random PDQ hashes (seeded, so every run
      writes the same), imports the folder into a fresh database (timed), then scans a folder
      holding the VIDEOs against it under `/usr/bin/time` and prints the scan's own figures
      (`summary.json` `videos.search`: known videos and frames loaded, videos searched, seconds)
      with the scan's wall time and peak memory. Random hashes spread evenly over the index,
      as distinct frames of real videos do; runs of near-identical frames would add little.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write_known(folder, count, frames, seed):
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    for v in range(count):
        lines = []
        for f in range(frames):
            h = "%064x" % rng.getrandbits(256)
            lines.append("%d,100,%s,%.3f\n" % (f * 25, h, float(f)))
        with open(os.path.join(folder, "known-%06d.txt" % v), "w") as out:
            out.writelines(lines)


def peak_rss_kb(stderr):
    for line in stderr.splitlines():
        if line.startswith("peak_kb="):
            return int(line.split("=")[1])
    return None


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("work")
    r.add_argument("videos", nargs="+")
    r.add_argument("--known", type=int, nargs="+", default=[1000, 10000])
    r.add_argument("--frames", type=int, default=600)
    r.add_argument("--hashsift", default=os.path.join(ROOT, "target", "release", "hashsift"))
    a = ap.parse_args()

    os.makedirs(a.work, exist_ok=True)
    evidence = os.path.join(a.work, "evidence")
    shutil.rmtree(evidence, ignore_errors=True)
    os.makedirs(evidence)
    for v in a.videos:
        shutil.copy(v, evidence)
    print("| known videos | known frames | import (s) | scan wall (s) | load+index+search (s) "
          "| videos searched | scan peak RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in a.known:
        folder = os.path.join(a.work, "known-%d" % n)
        if not os.path.isdir(folder) or len(os.listdir(folder)) != n:
            shutil.rmtree(folder, ignore_errors=True)
            write_known(folder, n, a.frames, seed=n)
        db = os.path.join(a.work, "known-%d.db" % n)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        t = time.monotonic()
        subprocess.run([a.hashsift, "db", "--db", db, "import", folder, "--category", "csam",
                        "-q"], check=True)
        imported = time.monotonic() - t
        report = os.path.join(a.work, "report-%d" % n)
        shutil.rmtree(report, ignore_errors=True)
        t = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "peak_kb=%M", a.hashsift, "scan", "-q",
                            "--db", db, "-o", report, evidence],
                           capture_output=True, text=True)
        wall = time.monotonic() - t
        if p.returncode not in (0, 1, 2):
            sys.exit("scan failed: %s" % p.stderr)
        with open(os.path.join(report, "summary.json")) as f:
            s = json.load(f)["videos"]["search"]
        print("| %d | %d | %.1f | %.1f | %.2f | %d | %.0f |" % (
            s["known_videos"], s["known_frames"], imported, wall, s["seconds"],
            s["videos_searched"], peak_rss_kb(p.stderr) / 1024))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
