#!/usr/bin/env python3
"""Archives: hashsift's scan, reading members in memory, against extracting them first.

  gen DIR [--gib G] [--small N]
      writes DIR/archives: ZIPs (deflate), tar.gz, tar.zst and a 7z (when zstd and 7zz are on
      the PATH) holding G GiB (default 2) of members: 70% incompressible (photo-like,
      10 KiB-2 MiB) and 30% text-like; and DIR/small.zip with N (default 100,000) members of
      200-2,000 bytes, with the same files loose in DIR/small-loose. Deterministic by seed.
  race DIR [--runs K] [--hashsift PATH]
      warm, alternated round by round, each figure the median of K runs (default 3):
      (a) `hashsift scan` of DIR/archives (every member read in memory, graded);
      (b) extract every archive into a fresh folder (`7zz x` for ZIP and 7z, `bsdtar -xf` for
          tar.gz and tar.zst), then `hashsift hash` of that folder and of the archives (the
          same four digests of the same items, the tar inside a tar.gz aside): both times;
      (c) members per second: `hashsift scan` of DIR/small.zip against `hashsift scan` of
          DIR/small-loose (the same files).
      Prints a Markdown table with the ratios.
"""

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORDS = [b"evidence", b"report", b"invoice", b"meeting", b"holiday", b"photo", b"message",
         b"account", b"transfer", b"address", b"telephone", b"schedule", b"the", b"and", b"of"]


def members(rng, total):
    """(name, bytes) pairs adding up to about `total` bytes."""
    made = 0
    i = 0
    while made < total:
        if rng.random() < 0.7:
            n = rng.randint(10 << 10, 2 << 20)
            data = rng.randbytes(n)
            name = f"DCIM/{i // 500:03d}/IMG_{i:06d}.JPG"
        else:
            n = rng.randint(2 << 10, 512 << 10)
            words = []
            size = 0
            while size < n:
                w = WORDS[rng.randrange(len(WORDS))] + b"%d" % rng.randrange(1000)
                words.append(w)
                size += len(w) + 1
            data = b" ".join(words)[:n]
            name = f"Documents/{i // 500:03d}/note_{i:06d}.txt"
        yield name, data
        made += len(data)
        i += 1


def gen(args):
    rng = random.Random(20261207)
    out = os.path.join(args.dir, "archives")
    os.makedirs(out, exist_ok=True)
    per = (args.gib << 30) // 8
    for k in range(4):
        with zipfile.ZipFile(os.path.join(out, f"phone-{k}.zip"), "w", zipfile.ZIP_DEFLATED,
                             compresslevel=1) as z:
            for name, data in members(rng, per):
                z.writestr(name, data)
    for k in range(2):
        with tarfile.open(os.path.join(out, f"backup-{k}.tar.gz"), "w:gz", compresslevel=1) as t:
            for name, data in members(rng, per):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    with tempfile.TemporaryDirectory(dir=args.dir) as src:
        for name, data in members(rng, per):
            p = os.path.join(src, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        if shutil.which("zstd"):
            subprocess.run(f"tar -C '{src}' -cf - . | zstd -q -1 -T2 -o '{out}/dump.tar.zst'",
                           shell=True, check=True)
        seven = shutil.which("7zz") or shutil.which("7z")
        if seven:
            subprocess.run([seven, "a", "-bd", "-y", "-mx=1", os.path.join(out, "collection.7z"),
                            "."], cwd=src, check=True, stdout=subprocess.DEVNULL)
    loose = os.path.join(args.dir, "small-loose")
    with zipfile.ZipFile(os.path.join(args.dir, "small.zip"), "w", zipfile.ZIP_DEFLATED,
                         compresslevel=1) as z:
        for i in range(args.small):
            data = rng.randbytes(rng.randint(200, 2000))
            name = f"chat/{i // 1000:03d}/msg_{i:06d}.bin"
            z.writestr(name, data)
            p = os.path.join(loose, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)


def warm(*paths):
    for p in paths:
        subprocess.run(f"find '{p}' -type f -print0 | xargs -0 -P2 -n256 cat > /dev/null",
                       shell=True, check=True)


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, shell=True, check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def extract_all(archives, into):
    """The shell command extracting every archive into its own folder under `into`."""
    steps = [f"mkdir -p '{into}'"]
    for name in sorted(os.listdir(archives)):
        src = os.path.join(archives, name)
        dst = os.path.join(into, name + ".d")
        if name.endswith((".tar.gz", ".tar.zst")):
            steps.append(f"mkdir -p '{dst}' && bsdtar -xf '{src}' -C '{dst}'")
        else:
            steps.append(f"7zz x -bd -y -o'{dst}' '{src}' > /dev/null")
    return " && ".join(steps)


def members_in(items_jsonl):
    n = 0
    with open(items_jsonl) as f:
        for line in f:
            if '"kind":"member"' in line:
                n += 1
    return n


def race(args):
    hs = args.hashsift
    archives = os.path.join(args.dir, "archives")
    work = os.path.join(args.dir, "work")
    os.makedirs(work, exist_ok=True)
    db = os.path.join(work, "known.db")
    if not os.path.exists(db):
        with open(os.path.join(work, "one.md5"), "w") as f:
            f.write("%032x  nothing\n" % 1)
        subprocess.run([hs, "db", "--db", db, "import", os.path.join(work, "one.md5"),
                        "--name", "none", "--category", "csam", "-q"], check=True)
    out = os.path.join(work, "out")
    extracted = os.path.join(work, "extracted")
    cmds = {
        "hashsift scan (in memory)":
            f"'{hs}' scan -q --db '{db}' -o '{out}' '{archives}'",
        # The same digests of the same items: the archives' own and every member's.
        "extract (7zz x, bsdtar -x) + hashsift hash":
            extract_all(archives, extracted)
            + f" && '{hs}' hash -q -c md5,sha1,sha256,blake3 --format jsonl -o /dev/null "
            f"'{extracted}' '{archives}'",
        "hashsift scan small.zip":
            f"'{hs}' scan -q --db '{db}' -o '{out}-z' "
            f"'{os.path.join(args.dir, 'small.zip')}'",
        "hashsift scan small-loose":
            f"'{hs}' scan -q --db '{db}' -o '{out}-l' "
            f"'{os.path.join(args.dir, 'small-loose')}'",
    }
    leaves = dict(zip(cmds, [out, extracted, out + "-z", out + "-l"]))
    times = {k: [] for k in cmds}
    for _ in range(args.runs):
        for label, cmd in cmds.items():
            # What the previous round left is removed outside the timing.
            shutil.rmtree(leaves[label], ignore_errors=True)
            subprocess.run(["sync"], check=True)
            warm(archives, os.path.join(args.dir, "small.zip"),
                 os.path.join(args.dir, "small-loose"))
            times[label].append(timed(cmd))
    n_members = members_in(os.path.join(out, "items.jsonl"))
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    member_bytes = summary["containers"]["member_bytes"]
    small = members_in(os.path.join(out + "-z", "items.jsonl"))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"archives: {len(os.listdir(archives))} files, {n_members:,} members, "
          f"{member_bytes / 1e9:.2f} GB of members; small.zip: {small:,} members")
    print()
    print("| command | runs | median s | range s | rate | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    base = med["hashsift scan (in memory)"]
    for label in list(cmds)[:2]:
        v = times[label]
        print(f"| {label} | {len(v)} | {med[label]:.2f} | {min(v):.2f}-{max(v):.2f} | "
              f"{member_bytes / med[label] / 1e6:,.0f} MB/s of members | "
              f"{med[label] / base:.2f}x the scan's time |")
    base = med["hashsift scan small-loose"]
    for label in list(cmds)[2:]:
        v = times[label]
        print(f"| {label} | {len(v)} | {med[label]:.2f} | {min(v):.2f}-{max(v):.2f} | "
              f"{small / med[label]:,.0f} items/s | {med[label] / base:.2f}x loose |")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    g = sub.add_parser("gen")
    g.add_argument("dir")
    g.add_argument("--gib", type=int, default=2)
    g.add_argument("--small", type=int, default=100_000)
    r = sub.add_parser("race")
    r.add_argument("dir")
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--hashsift", default=os.path.join(ROOT, "target", "release", "hashsift"))
    args = ap.parse_args()
    gen(args) if args.what == "gen" else race(args)


if __name__ == "__main__":
    sys.exit(main())
