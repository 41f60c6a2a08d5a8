#!/usr/bin/env python3
"""PDQ agreement on real photographs: hashsift's hashes against the reference pipeline's.

The corpus: the sample photographs scikit-image and scikit-learn ship (taken from their PyPI
wheels, pinned below; `--photos DIR` uses a directory of photographs instead), each as shipped
and as altered copies made with Pillow:

  original        the file as shipped (PNG or JPEG)
  q50, q70, q90   JPEG re-encodes at those qualities
  half.png        a 50% Lanczos resize, lossless
  half-q85.jpg    the same, JPEG quality 85
  x4-q90.jpg      a 4x Lanczos enlargement, JPEG quality 90 (large enough, 2000 px and more, for
                  the fast decoding's reduced scale to apply)

The reference: Pillow decodes each file to RGB at full size and PyPI's `pdqhash` (Meta's C++
core) hashes it. hashsift: `hashsift hash --pdq --format jsonl` over the corpus, once per
decoding mode (`full`, the default, and `fast`). For each mode it prints the distance of every
image's hash from the reference's: the maximum over images of reference quality >= 80 (the
issue's bound: 10 bits), the mean over all images (bound: 2 bits), a histogram, per variant,
and the farthest images.

Usage:
  benches/pdq_agreement.py [--photos DIR] [--work DIR] [--hashsift target/release/hashsift]
"""

import argparse
import collections
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pdqhash
from PIL import Image

from pdq_race import hex_of  # the same directory: the hex order of the reference's bits

WHEELS = ["scikit-image==0.26.0", "scikit-learn==1.9.1"]

# The photographs among the wheels' sample images (drawings, charts, synthetic patterns and
# tiny images left out).
PHOTOS = [
    "skimage/data/astronaut.png", "skimage/data/brick.png", "skimage/data/camera.png",
    "skimage/data/chelsea.png", "skimage/data/coffee.png", "skimage/data/coins.png",
    "skimage/data/grass.png", "skimage/data/gravel.png", "skimage/data/hubble_deep_field.jpg",
    "skimage/data/ihc.png", "skimage/data/moon.png", "skimage/data/motorcycle_left.png",
    "skimage/data/motorcycle_right.png", "skimage/data/page.png", "skimage/data/retina.jpg",
    "skimage/data/rocket.jpg", "sklearn/datasets/images/china.jpg",
    "sklearn/datasets/images/flower.jpg",
]


def fetch_photos(cache):
    """The sample photographs, extracted from the pinned wheels (downloaded once into cache)."""
    out = os.path.join(cache, "photos")
    os.makedirs(out, exist_ok=True)
    wheels = [f for f in os.listdir(cache) if f.endswith(".whl")]
    if len(wheels) < len(WHEELS):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary", ":all:", "-d", cache, *WHEELS], check=True)
        wheels = [f for f in os.listdir(cache) if f.endswith(".whl")]
    for w in wheels:
        with zipfile.ZipFile(os.path.join(cache, w)) as z:
            for name in z.namelist():
                if name in PHOTOS:
                    with open(os.path.join(out, os.path.basename(name)), "wb") as f:
                        f.write(z.read(name))
    return out


def build_corpus(photos, corpus):
    os.makedirs(corpus, exist_ok=True)
    made = []
    for name in sorted(os.listdir(photos)):
        src = os.path.join(photos, name)
        stem, ext = os.path.splitext(name)
        with open(src, "rb") as f:
            data = f.read()
        path = os.path.join(corpus, f"{stem}.original{ext}")
        with open(path, "wb") as f:
            f.write(data)
        made.append(path)
        with Image.open(io.BytesIO(data)) as im:
            rgb = im.convert("RGB")
        w, h = rgb.size
        half = rgb.resize((max(1, w // 2), max(1, h // 2)), Image.LANCZOS)
        big = rgb.resize((w * 4, h * 4), Image.LANCZOS)
        for variant, image, fmt, opts in [
            ("q50.jpg", rgb, "JPEG", {"quality": 50}),
            ("q70.jpg", rgb, "JPEG", {"quality": 70}),
            ("q90.jpg", rgb, "JPEG", {"quality": 90}),
            ("half.png", half, "PNG", {}),
            ("half-q85.jpg", half, "JPEG", {"quality": 85}),
            ("x4-q90.jpg", big, "JPEG", {"quality": 90}),
        ]:
            path = os.path.join(corpus, f"{stem}.{variant}")
            image.save(path, fmt, **opts)
            made.append(path)
    return made


def reference(path):
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    v, q = pdqhash.compute(rgb)
    return hex_of(v), int(q)


def hashsift(binary, corpus, mode, work):
    out = os.path.join(work, f"hashsift-{mode}.jsonl")
    subprocess.run([binary, "hash", "-q", "--pdq", "--pdq-decode", mode, "--format", "jsonl",
                    "-c", "blake3", "-o", out, corpus], check=True)
    hashes = {}
    with open(out) as f:
        for line in f:
            v = json.loads(line)
            if v.get("type") == "item" and v.get("kind") == "file":
                hashes[v["path"]] = v.get("pdq")
    return hashes


def distance(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def report(mode, made, ref, got):
    rows = []
    for p in made:
        h, q = ref[p]
        mine = got.get(os.path.abspath(p))
        if mine is None:
            print(f"  {mode}: {p}: no hash from hashsift", file=sys.stderr)
            rows.append((p, q, 256))
            continue
        rows.append((p, q, distance(h, mine)))
    good = [d for _, q, d in rows if q >= 80]
    all_d = [d for _, _, d in rows]
    bins = collections.Counter()
    for d in all_d:
        bins["0" if d == 0 else "1" if d == 1 else "2" if d == 2 else "3-5" if d <= 5
             else "6-10" if d <= 10 else ">10"] += 1
    holds = (max(good, default=0) <= 10) and statistics.mean(all_d) <= 2
    print(f"{mode}: {len(rows)} images ({len(good)} of reference quality >= 80): "
          f"max {max(good, default=0)} bits at quality >= 80, mean {statistics.mean(all_d):.2f} "
          f"bits over all; bounds (<= 10, mean <= 2) {'hold' if holds else 'DO NOT HOLD'}")
    print("  histogram: " + ", ".join(f"{k}: {bins[k]}" for k in
                                      ["0", "1", "2", "3-5", "6-10", ">10"]))
    by_variant = collections.defaultdict(list)
    for p, _, d in rows:
        by_variant[os.path.basename(p).split(".", 1)[1].rsplit(".", 1)[0]].append(d)
    print("  per variant (mean / max): " + ", ".join(
        f"{v} {statistics.mean(ds):.2f}/{max(ds)}" for v, ds in sorted(by_variant.items())))
    worst = sorted(rows, key=lambda r: -r[2])[:3]
    print("  farthest: " + ", ".join(f"{os.path.basename(p)} {d} (q {q})" for p, q, d in worst))
    return holds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", help="a directory of photographs instead of the sample photos")
    ap.add_argument("--work", help="where the wheels, photos and corpus go [a temp dir]")
    ap.add_argument("--hashsift", default="target/release/hashsift")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="hashsift-pdq-agreement-")
    os.makedirs(work, exist_ok=True)
    photos = args.photos or fetch_photos(work)
    corpus = os.path.join(work, "corpus")
    made = build_corpus(photos, corpus)
    print(f"corpus: {len(os.listdir(photos))} photographs, {len(made)} images in {corpus}")
    ref = {p: reference(p) for p in made}
    ok = True
    for mode in ["full", "fast"]:
        holds = report(mode, made, ref, hashsift(args.hashsift, corpus, mode, work))
        ok = ok and (holds or mode == "fast")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
