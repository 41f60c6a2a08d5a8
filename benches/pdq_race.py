#!/usr/bin/env python3
"""PDQ on a corpus of JPEGs: hashsift against the reference pipeline, same machine, same run.

Pipelines, each over every file of the corpus with 2 workers (processes for Python, threads for
hashsift), warm (the corpus is read before every timed run), alternated round by round:

  reference  Pillow full decode to RGB + PyPI `pdqhash` (Meta's C++ core), full size: the
             pipeline the PDQ reference vectors were made with.
  draft      the same, with Pillow's reduced-scale JPEG decoding: `Image.draft("RGB", size)` to
             the smallest DCT scale that keeps both sides >= 1024 px, then `pdqhash`.
  hashsift   `hashsift hash -q -j 2 --pdq --pdq-decode fast --format jsonl -c blake3 -o FILE
             CORPUS` (it also computes BLAKE3 of every file, which the others do not), and the
             same with `--pdq-decode full`, the default.

Prints images per second (median and range over the rounds) and the ratios hashsift / reference
and hashsift / draft, then the agreement: the Hamming distance of each pipeline's hash from the
reference's, per image with reference quality >= 80 (max, mean, and a histogram).

Usage:
  benches/pdq_race.py --corpus /work/bench/photos-12mp [--runs 3] [--hashsift target/release/hashsift]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool

import numpy as np
import pdqhash
from PIL import Image


def files_of(corpus):
    return sorted(os.path.join(corpus, f) for f in os.listdir(corpus)
                  if os.path.isfile(os.path.join(corpus, f)))


def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


def hex_of(vector):
    bits = "".join("1" if b else "0" for b in vector)
    return "".join(f"{int(bits[k:k + 4], 2):x}" for k in range(0, 256, 4))


def reference_one(path):
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    v, q = pdqhash.compute(rgb)
    return path, hex_of(v), q


def draft_one(path):
    with Image.open(path) as im:
        w, h = im.size
        scale = 1
        for s in (8, 4, 2):
            if min(w, h) // s >= 1024:
                scale = s
                break
        if scale > 1:
            im.draft("RGB", (w // scale, h // scale))
        rgb = np.asarray(im.convert("RGB"))
    v, q = pdqhash.compute(rgb)
    return path, hex_of(v), q


def run_python(fn, paths):
    start = time.perf_counter()
    with Pool(2) as pool:
        out = pool.map(fn, paths, chunksize=1)
    return time.perf_counter() - start, {p: (h, q) for p, h, q in out}


def run_hashsift(binary, corpus, mode):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "l.jsonl")
        start = time.perf_counter()
        subprocess.run([binary, "hash", "-q", "-j", "2", "--pdq", "--pdq-decode", mode,
                        "--format", "jsonl", "-c", "blake3", "-o", out, corpus], check=True)
        elapsed = time.perf_counter() - start
        hashes = {}
        for line in open(out):
            r = json.loads(line)
            if r.get("type") == "item" and "pdq" in r:
                hashes[r["path"]] = (r["pdq"], r["pdq_quality"])
    return elapsed, hashes


def distance(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--hashsift", default="target/release/hashsift")
    args = ap.parse_args()
    corpus = os.path.abspath(args.corpus)
    paths = files_of(corpus)
    n = len(paths)
    mp = []
    for p in paths[:50]:
        with Image.open(p) as im:
            mp.append(im.size[0] * im.size[1] / 1e6)
    print(f"corpus {corpus}: {n} files, {sum(os.path.getsize(p) for p in paths) / 1e6:.1f} MB, "
          f"{statistics.mean(mp):.1f} MP on average")
    times = {k: [] for k in ("reference", "draft", "hashsift", "hashsift-full")}
    results = {}
    for r in range(args.runs):
        for name in times:
            warm(paths)
            if name == "reference":
                t, h = run_python(reference_one, paths)
            elif name == "draft":
                t, h = run_python(draft_one, paths)
            else:
                t, h = run_hashsift(args.hashsift, corpus, "fast" if name == "hashsift" else "full")
            times[name].append(t)
            results[name] = h
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    rate = {k: n / statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:14s} {rate[k]:7.1f} images/s (median of {len(v)}; {n / max(v):.1f}-{n / min(v):.1f})")
    for k in ("hashsift", "hashsift-full"):
        print(f"{k} / reference: {rate[k] / rate['reference']:.2f}x; {k} / draft: {rate[k] / rate['draft']:.2f}x")
    ref = results["reference"]
    for k in ("draft", "hashsift", "hashsift-full"):
        ds = []
        for p, (h, q) in ref.items():
            if q >= 80 and p in results[k]:
                ds.append(distance(h, results[k][p][0]))
        missing = [p for p in ref if p not in results[k]]
        if not ds:
            print(f"{k}: no image of quality >= 80")
            continue
        hist = {}
        for d in ds:
            hist[d] = hist.get(d, 0) + 1
        print(f"agreement {k} vs reference ({len(ds)} images of quality >= 80): max {max(ds)}, "
              f"mean {statistics.mean(ds):.2f} bits; distances {dict(sorted(hist.items()))}"
              + (f"; {len(missing)} not hashed" if missing else ""))


if __name__ == "__main__":
    sys.exit(main())
