#!/usr/bin/env python3
"""What a scan costs beyond hashing: `hashsift scan` against `hashsift hash` with the same
algorithms (all four) on the same corpus, warm, alternated in one run.

The scan also loads the database's known hashes (on a thread of its own, while it walks and
hashes), detects every file's type, looks every digest up and writes its report; the ratio
scan / hash is that cost. The issue "hashsift scan" asks for at most 1.10 with a database of
10 million known hashes.

Before every timed run the whole corpus is read (this machine evicts pages about 60 s after
their last use), and so is the database file.

With --baseline PATH (another build of hashsift), its hash and scan run too, alternated in the
same rounds, and the ratios of this build's medians to the baseline's are printed.

Usage:
  benches/scan_overhead.py --corpus /work/bench/mixed --db /work/bench/vics.db [--runs 5]
      [--hashsift target/release/hashsift] [--lookup auto|index|direct] [--baseline PATH]

The corpus comes from benches/gen_corpus.py (e.g. --profile mixed --seed 1), the database from
benches/gen_hashsets.py and `hashsift db import`.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def warm(*paths):
    for p in paths:
        if os.path.isdir(p):
            subprocess.run(f"find '{p}' -type f -print0 | xargs -0 -P2 -n256 cat > /dev/null",
                           shell=True, check=True)
        else:
            subprocess.run(["cat", p], stdout=subprocess.DEVNULL, check=True)


def timed(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    # scan exits 1 when it finds csam/csem/cgi; anything else but 0 is a failure.
    if done.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--hashsift", default="target/release/hashsift")
    ap.add_argument("--lookup", default="auto", choices=["auto", "index", "direct"],
                    help="the scan's --lookup (default auto)")
    ap.add_argument("--baseline", help="another hashsift build, run alternately with this one")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="scan-overhead-")
    builds = [("", args.hashsift)] + ([("baseline ", args.baseline)] if args.baseline else [])
    times = {f"{b}{k}": [] for b, _ in builds for k in ("hash", "scan")}
    loads = []
    try:
        for i in range(args.runs):
            for b, binary in builds:
                warm(args.corpus, args.db)
                times[f"{b}hash"].append(timed([binary, "hash", "-q", "--format", "jsonl",
                                                "-c", "md5,sha1,sha256,blake3",
                                                "-o", os.path.join(work, "hash.jsonl"), args.corpus]))
                warm(args.corpus, args.db)
                out = os.path.join(work, f"scan{i}")
                times[f"{b}scan"].append(timed([binary, "scan", "-q", "--db", args.db, "--lookup",
                                                args.lookup, "-o", out, args.corpus]))
                with open(os.path.join(out, "summary.json")) as f:
                    s = json.load(f)
                if not b:
                    loads.append(s["index_load_seconds"])
                lookup = s["lookup"]
                known = s["known_hashes"]
                shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.corpus) for f in fs)
    print(f"corpus {args.corpus}: {size / 1e9:.2f} GB; database {args.db}: known hashes {known}")
    for label, t in times.items():
        m = statistics.median(t)
        print(f"{label:5} median {m:6.2f} s ({size / m / 1e6:6.0f} MB/s), range {min(t):.2f}-{max(t):.2f} s,"
              f" runs: {', '.join(f'{x:.2f}' for x in t)}")
    ratios = [s / h for s, h in zip(times["scan"], times["hash"])]
    print(f"scan / hash: median {statistics.median(ratios):.3f} (per pair {', '.join(f'{r:.3f}' for r in ratios)}),"
          f" ratio of medians {statistics.median(times['scan']) / statistics.median(times['hash']):.3f}")
    print(f"lookup: {lookup}; index load (while walking and hashing): median {statistics.median(loads):.2f} s")
    if args.baseline:
        for k in ("hash", "scan"):
            n, o = statistics.median(times[k]), statistics.median(times[f"baseline {k}"])
            print(f"{k}: this build / baseline, ratio of medians {n / o:.3f} ({n:.2f} s / {o:.2f} s)")
        b = [s / h for s, h in zip(times["baseline scan"], times["baseline hash"])]
        print(f"baseline scan / hash: median {statistics.median(b):.3f}")


if __name__ == "__main__":
    main()
