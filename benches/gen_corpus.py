#!/usr/bin/env python3
"""Generate a synthetic evidence corpus for hashsift's benchmarks, deterministic by seed.

Profiles:
  mixed  20,005 files, about 4.4 GiB: 19,700 photo-sized files (10-200 KiB), 300 files of
         1-10 MiB and 5 files of 100-200 MiB, in camera-like folders of 100 files.
  small  50,000 files of 1-8 KiB, in folders of 500 files.
  million  1,000,000 files of 64-1024 bytes, in folders of 1,000 files (the scan's memory bound).

Content is pseudo-random bytes (Python's Mersenne Twister seeded with --seed), so every file is
distinct and the same seed always yields byte-identical trees. No real data is involved.
With --media-magic each file starts with the signature its name promises (JPEG's SOI and JFIF
marker for .JPG, an MP4 `ftyp` box for .MP4) and random bytes follow: content sniffing then
classes every file as an image or a video, which is the heavier case for a scan's report
(every unknown medium is listed in vics.json).

Usage: benches/gen_corpus.py --profile mixed --seed 1 --out /tmp/corpus-mixed
"""

import argparse
import os
import random
import sys

CHUNK = 1 << 20
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")
MP4 = bytes.fromhex("0000001866747970") + b"isom" + bytes(4) + b"isomiso2"


def sizes(profile, rng):
    if profile == "mixed":
        out = [rng.randint(10 << 10, 200 << 10) for _ in range(19_700)]
        out += [rng.randint(1 << 20, 10 << 20) for _ in range(300)]
        out += [rng.randint(100 << 20, 200 << 20) for _ in range(5)]
        per_dir = 100
    elif profile == "small":
        out = [rng.randint(1 << 10, 8 << 10) for _ in range(50_000)]
        per_dir = 500
    elif profile == "million":
        out = [rng.randint(64, 1024) for _ in range(1_000_000)]
        per_dir = 1000
    else:
        sys.exit(f"unknown profile {profile}")
    rng.shuffle(out)
    return out, per_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["mixed", "small", "million"], default="mixed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--media-magic", action="store_true", help="start each file with its type's signature")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    file_sizes, per_dir = sizes(args.profile, rng)
    if os.path.exists(args.out) and os.listdir(args.out):
        sys.exit(f"{args.out} exists and is not empty")
    total = 0
    for i, size in enumerate(file_sizes):
        folder = os.path.join(args.out, f"DCIM{i // (per_dir * 10):03d}", f"{100 + (i // per_dir) % 10}CAMERA")
        if i % per_dir == 0:
            os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"IMG_{i:06d}.JPG" if size < (1 << 20) else f"MOV_{i:06d}.MP4")
        with open(path, "wb") as f:
            left = size
            if args.media_magic:
                magic = JPEG if size < (1 << 20) else MP4
                f.write(magic[:size])
                left -= min(size, len(magic))
            while left:
                n = min(left, CHUNK)
                f.write(rng.randbytes(n))
                left -= n
        total += size
    print(f"{len(file_sizes)} files, {total} bytes ({total / 2**30:.2f} GiB) in {args.out}")


if __name__ == "__main__":
    main()
