#!/usr/bin/env python3
"""Disk images: hashsift reading an image directly, against the same files on a folder and
against The Sleuth Kit's tsk_recover followed by hashdeep.

  gen DIR [--gib G]
      writes DIR/files: G GiB (default 4) of mixed files, deterministic by seed: 60% of the
      bytes photo-like (incompressible, 20 KiB-4 MiB), 25% video-like (incompressible,
      40-300 MB), 15% text-like (2 KiB-512 KiB); then DIR/disk.img, an ext4 file system made
      from that folder by `mke2fs -d` (e2fsprogs; no mount), sized for it.
  race DIR [--runs K] [--hashsift PATH]
      warm (every input read just before each run), alternated round by round, each figure
      the median of K runs (default 3), the listing written to /dev/null:
      (a) `hashsift hash --no-image-verify DIR/disk.img`: the image's files only;
      (b) `hashsift hash DIR/files`: the same files, on a folder;
      (c) `hashsift hash DIR/disk.img`: the files and the image's own digests;
      (d) `tsk_recover -e DIR/disk.img OUT` then `hashdeep -c md5,sha1,sha256 -r OUT` (what is
          recovered is removed, and `sync` run, outside the timing).
      Every hashsift run uses the hashdeep format (MD5, SHA-1, SHA-256), as hashdeep does.
      Prints a Markdown table with the ratios (a)/(b), (d)/(a), (d)/(c).
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORDS = [b"evidence", b"report", b"invoice", b"meeting", b"holiday", b"photo", b"message",
         b"account", b"transfer", b"address", b"telephone", b"schedule", b"the", b"and", b"of"]


def text(rng, n):
    words = []
    size = 0
    while size < n:
        w = WORDS[rng.randrange(len(WORDS))] + b"%d" % rng.randrange(1000)
        words.append(w)
        size += len(w) + 1
    return b" ".join(words)[:n]


def write_kind(rng, files, total, kind):
    """Writes files of `kind` adding up to about `total` bytes; the bytes written."""
    made = 0
    i = 0
    while made < total:
        if kind == "photo":
            n = rng.randint(20 << 10, 4 << 20)
            path = os.path.join(files, "DCIM", f"{i // 400:03d}", f"IMG_{i:06d}.JPG")
            data = rng.randbytes(n)
        elif kind == "video":
            n = rng.randint(40 << 20, 300 << 20)
            path = os.path.join(files, "Movies", f"clip_{i:04d}.mp4")
            data = None
        else:
            n = rng.randint(2 << 10, 512 << 10)
            path = os.path.join(files, "Documents", f"{i // 400:03d}", f"note_{i:06d}.txt")
            data = text(rng, n)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            if data is None:
                left = n
                while left:
                    piece = min(left, 8 << 20)
                    f.write(rng.randbytes(piece))
                    left -= piece
            else:
                f.write(data)
        made += n
        i += 1
    return made


def gen(args):
    rng = random.Random(20261208)
    files = os.path.join(args.dir, "files")
    if os.path.exists(files):
        shutil.rmtree(files)
    os.makedirs(files)
    total = args.gib << 30
    made = 0
    for kind, share in (("photo", 0.60), ("video", 0.25), ("text", 0.15)):
        made += write_kind(rng, files, int(total * share), kind)
    image = os.path.join(args.dir, "disk.img")
    if os.path.exists(image):
        os.remove(image)
    # Room for the files, their metadata and the journal.
    size_mib = int(made * 1.08) // (1 << 20) + 256
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", files, image, f"{size_mib}M"],
                   check=True)
    count = sum(len(f) for _, _, f in os.walk(files))
    print(f"{files}: {count} files, {made} bytes; {image}: {os.path.getsize(image)} bytes")


def warm(paths):
    """Reads every file under `paths` once, so that each run starts with them cached."""
    for p in paths:
        if os.path.isdir(p):
            for d, _, names in os.walk(p):
                for n in names:
                    with open(os.path.join(d, n), "rb") as f:
                        while f.read(8 << 20):
                            pass
        else:
            with open(p, "rb") as f:
                while f.read(8 << 20):
                    pass


def timed(cmd, **kw):
    t = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    took = time.monotonic() - t
    if r.returncode not in (0,):
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.decode(errors='replace')}")
    return took


def race(args):
    hs = args.hashsift or os.path.join(ROOT, "target", "release", "hashsift")
    image = os.path.join(args.dir, "disk.img")
    files = os.path.join(args.dir, "files")
    for tool in ("tsk_recover", "hashdeep"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (Debian: sleuthkit, hashdeep)")
    runs = {"a": [], "b": [], "c": [], "d": []}
    for r in range(args.runs):
        for key in "abcd":
            if key == "a":
                warm([image])
                t = timed([hs, "hash", "-q", "--no-image-verify", "-o", "/dev/null", image])
            elif key == "b":
                warm([files])
                t = timed([hs, "hash", "-q", "-o", "/dev/null", files])
            elif key == "c":
                warm([image])
                t = timed([hs, "hash", "-q", "-o", "/dev/null", image])
            else:
                warm([image])
                out = tempfile.mkdtemp(prefix="recovered-", dir=args.dir)
                t0 = time.monotonic()
                rec = subprocess.run(["tsk_recover", "-e", image, out],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                if rec.returncode != 0:
                    sys.exit(f"tsk_recover: {rec.stderr.decode(errors='replace')}")
                hd = subprocess.run(["hashdeep", "-c", "md5,sha1,sha256", "-r", out],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                t = time.monotonic() - t0
                if hd.returncode != 0:
                    sys.exit(f"hashdeep: {hd.stderr.decode(errors='replace')}")
                shutil.rmtree(out)
                subprocess.run(["sync"], check=True)
            runs[key].append(t)
            print(f"round {r + 1} ({key}): {t:.2f} s", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in runs.items()}
    rng_ = {k: f"{min(v):.2f}-{max(v):.2f}" for k, v in runs.items()}
    names = {
        "a": "`hashsift hash --no-image-verify disk.img`",
        "b": "`hashsift hash files/` (the same files on a folder)",
        "c": "`hashsift hash disk.img` (with the image's own digests)",
        "d": "`tsk_recover -e` + `hashdeep -c md5,sha1,sha256 -r`",
    }
    print("| command | runs | median s | range s |")
    print("|---|---:|---:|---:|")
    for k in "abcd":
        print(f"| {names[k]} | {args.runs} | {med[k]:.2f} | {rng_[k]} |")
    print()
    print(f"(a)/(b): {med['a'] / med['b']:.2f}x (the image's files against the same files)")
    print(f"(d)/(a): {med['d'] / med['a']:.2f}x (tsk_recover + hashdeep against hashsift, no image digests)")
    print(f"(d)/(c): {med['d'] / med['c']:.2f}x (tsk_recover + hashdeep against hashsift with them)")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("dir")
    g.add_argument("--gib", type=int, default=4)
    r = sub.add_parser("race")
    r.add_argument("dir")
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--hashsift")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    gen(args) if args.cmd == "gen" else race(args)


if __name__ == "__main__":
    main()
