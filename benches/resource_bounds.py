#!/usr/bin/env python3
"""Peak memory of hashsift on the inputs docs/reliability.md bounds: a 10 GiB file, a
100-megapixel image, a hash set of one 1 GB line. Each input is generated in --work (about
1.1 GB of disk beside the sparse file), each command run once under `/usr/bin/time -f %M`.

  10 GiB file   `hashsift hash -q --format jsonl` of a 10 GiB file (sparse: its pages are the
                kernel's zero page, so this measures hashsift's own memory, not the disk)
  100 MP image  `hashsift hash -q --pdq --format jsonl` of a 10000x10000 JPEG (Pillow, q90) and
                of the same as PNG
  1 GB line     `hashsift db import` of a file whose first line is 1 GB long, its format
                detected and as a digest list, CSV and VICS: refused, the database unchanged

Usage: benches/resource_bounds.py [--work DIR] [--hashsift target/release/hashsift]
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image


def peak(cmd):
    """Runs cmd; returns (exit code, peak RSS in MiB, last line of stderr)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
    lines = out.stderr.strip().splitlines()
    kib = int(lines[-1])
    said = next((l for l in lines if l.startswith("hashsift")), "")
    return out.returncode, kib / 1024, said


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", help="where the inputs go [a temp dir]")
    ap.add_argument("--hashsift", default="target/release/hashsift")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="hashsift-bounds-")
    os.makedirs(work, exist_ok=True)
    hs = os.path.abspath(args.hashsift)

    big = os.path.join(work, "big")
    os.makedirs(big, exist_ok=True)
    with open(os.path.join(big, "ten-gib.img"), "wb") as f:
        f.truncate(10 << 30)
    code, mib, _ = peak([hs, "hash", "-q", "--format", "jsonl", "-o", os.path.join(work, "big.jsonl"), big])
    print(f"10 GiB file: exit {code}, peak {mib:.0f} MiB")

    img_dir = os.path.join(work, "image")
    os.makedirs(img_dir, exist_ok=True)
    y, x = np.mgrid[0:10000, 0:10000]
    rgb = np.stack([(x // 37) % 256, (y // 41) % 256, ((x + y) // 53) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(os.path.join(img_dir, "100mp.jpg"), quality=90)
    Image.fromarray(rgb).save(os.path.join(img_dir, "100mp.png"), compress_level=1)
    del rgb, x, y
    for mode in ["full", "fast"]:
        out = os.path.join(work, f"image-{mode}.jsonl")
        code, mib, _ = peak([hs, "hash", "-q", "--pdq", "--pdq-decode", mode, "--format", "jsonl",
                             "-j", "1", "-o", out, img_dir])
        hashed = sum('"pdq"' in line for line in open(out))
        print(f"100 MP JPEG + PNG, --pdq-decode {mode}, one thread: exit {code}, "
              f"peak {mib:.0f} MiB, {hashed} of 2 hashed")

    line = os.path.join(work, "one-line.md5")
    with open(line, "wb") as f:
        chunk = b"a" * (1 << 20)
        for _ in range(1000):
            f.write(chunk)
        f.write(b"  name\n")
    db = os.path.join(work, "bounds.db")
    if os.path.exists(db):
        os.remove(db)
    subprocess.run([hs, "db", "--db", db, "init"], check=True, capture_output=True)
    digest = lambda: hashlib.sha256(open(db, "rb").read()).hexdigest()
    before = digest()
    for fmt in [[], ["--format", "digest-list"], ["--format", "csv"], ["--format", "vics"]]:
        code, mib, said = peak([hs, "db", "--db", db, "import", line, "--name", "x",
                                "--category", "csam", "-q"] + fmt)
        same = "unchanged" if digest() == before else "CHANGED"
        print(f"1 GB line {' '.join(fmt) or '(format detected)'}: exit {code}, "
              f"peak {mib:.0f} MiB, database {same}: {said[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
