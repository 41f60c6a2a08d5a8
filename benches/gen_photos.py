#!/usr/bin/env python3
"""Camera-sized and web-sized JPEG corpora for the PDQ benchmarks, made from real photographs.

The sources are the photographs among the PDQ reference vectors (`../shared/pdq-vectors/images`:
the bridge photo, the LabelMe street photos and the four 12-megapixel camera photos), optionally
with more photos from a directory (--extra, e.g. scikit-image's sample data). Each output is a
crop of a source, resized with Lanczos to a camera size (4000x3000 = 12 MP or 3264x2448 = 8 MP,
landscape or portrait) or a web size (<= 1 MP), and encoded as JPEG at a quality from 70 to 95,
all chosen by a seeded random generator: the same seed gives the same corpus. Upscaled sources
are smoother than a sensor's output, so Gaussian noise (--noise, sigma in grey levels, default
3 for camera sizes) is added before encoding: the files then have a camera's size (3-5 MB at
12 MP) and its entropy-decoding cost.

Usage:
  benches/gen_photos.py --out /work/bench/photos-12mp --kind camera --count 60 --seed 1
  benches/gen_photos.py --out /work/bench/photos-web --kind web --count 200 --seed 1
"""

import argparse
import os
import random
import sys

import numpy as np
from PIL import Image

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "pdq-vectors", "images")
PHOTOS = [
    "bridge-mods/aaa-orig.jpg",
    "reg-test-input/exif-rotn/exif-rotn-1.jpg",
    "reg-test-input/exif-rotn/exif-rotn-3.jpg",
    "reg-test-input/exif-rotn/exif-rotn-6.jpg",
    "reg-test-input/exif-rotn/exif-rotn-8.jpg",
    "reg-test-input/labelme-subset/q0122.jpg",
    "reg-test-input/labelme-subset/q0291.jpg",
    "reg-test-input/labelme-subset/q0746.jpg",
    "reg-test-input/labelme-subset/q1050.jpg",
    "reg-test-input/labelme-subset/q2821.jpg",
]
CAMERA = [(4000, 3000), (3264, 2448)]
WEB = [(1024, 768), (800, 600), (640, 480), (1000, 1000)]


def sources(extra):
    paths = [os.path.join(VECTORS, p) for p in PHOTOS if os.path.exists(os.path.join(VECTORS, p))]
    if extra:
        paths += sorted(os.path.join(extra, f) for f in os.listdir(extra)
                        if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if not paths:
        sys.exit(f"no source photographs (looked in {VECTORS})")
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kind", choices=["camera", "web"], default="camera")
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--extra", help="a directory of more source photographs")
    ap.add_argument("--noise", type=float, help="sensor-like noise, sigma in grey levels [3 camera, 0 web]")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    srcs = [Image.open(p).convert("RGB") for p in sources(args.extra)]
    sizes = CAMERA if args.kind == "camera" else WEB
    noise = args.noise if args.noise is not None else (3.0 if args.kind == "camera" else 0.0)
    nrng = np.random.default_rng(args.seed)
    total = 0
    for n in range(args.count):
        src = srcs[n % len(srcs)]
        w, h = sizes[rng.randrange(len(sizes))]
        if rng.random() < 0.3:
            w, h = h, w
        # A crop of 70-100% of the source with the output's aspect ratio.
        frac = rng.uniform(0.7, 1.0)
        cw = min(src.width, int(src.height * w / h)) * frac
        ch = cw * h / w
        x = rng.uniform(0, src.width - cw)
        y = rng.uniform(0, src.height - ch)
        img = src.resize((w, h), Image.LANCZOS, box=(x, y, x + cw, y + ch))
        if noise > 0:
            a = np.asarray(img, dtype=np.float32) + nrng.normal(0, noise, (h, w, 3)).astype(np.float32)
            img = Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))
        path = os.path.join(args.out, f"IMG_{n:04d}.JPG")
        img.save(path, "JPEG", quality=rng.randint(70, 95))
        total += os.path.getsize(path)
    print(f"{args.count} {args.kind} JPEGs, {total / 1e6:.1f} MB, in {args.out}")


if __name__ == "__main__":
    main()
