#!/usr/bin/env python3
"""vPDQ: hashsift against the reference binding and against FFmpeg's own decoding.

  gen DIR [--seconds S]
      writes DIR/*.mp4: H.264 (libx264, preset medium, yuv420p, AAC-free) videos of S seconds
      each (default 60): two 1920x1080 at 25 and 30 frames a second, two 1280x720 at 30 and
      29.97. Their pictures: scenes of 4-8 seconds cut from FFmpeg's synthetic sources (still
      pictures under sensor noise, slow pans over them, and moving test patterns), so the
      encoder places key frames at cuts as it does in edited footage. Deterministic.
  race DIR [--runs K] [--hashsift PATH] [--python PY]
      warm (each video read once first), alternated video by video and round by round, each
      figure the median of K runs (default 3), on every core:
      (a) floor: `ffmpeg -i V -vf fps=1 -f null -` (decodes every frame, keeps one a second);
      (b) the reference: PyPI's `vpdq`, `computeHash(V, seconds_per_hash=1)`;
      (c) `hashsift vpdq -q V` (the reference's sampling);
      (d) `hashsift vpdq -q --keyframes V`;
      then the agreement of (c) and (d) with (b) under the reference's matcher (distance < 31,
      quality >= 50, both ways). Prints a Markdown table with the ratios.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFERENCE = os.path.join(ROOT, "tests", "support", "vpdq_reference.py")

VIDEOS = [
    ("a-1080p25.mp4", 1920, 1080, "25"),
    ("b-1080p30.mp4", 1920, 1080, "30"),
    ("c-720p30.mp4", 1280, 720, "30"),
    ("d-720p2997.mp4", 1280, 720, "30000/1001"),
]
SOURCES = ["mandelbrot", "testsrc2", "cellauto=rule=30", "life=ratio=0.4", "smptehdbars",
           "rgbtestsrc", "yuvtestsrc", "mandelbrot=start_scale=1.5"]


def scene_graph(index, w, h, rate, seconds):
    """Inputs and filter graph for `seconds` of scenes: stills, pans, moving sources."""
    inputs, parts, t, k = [], [], 0, 0
    while t < seconds:
        length = 4 + (index * 3 + k) % 5
        src = SOURCES[(index + k) % len(SOURCES)]
        name, _, opts = src.partition("=")
        opts = (opts + ":" if opts else "") + f"size={w + 64}x{h + 36}:rate={rate}"
        inputs += ["-f", "lavfi", "-t", str(length), "-i", f"{name}={opts}"]
        kind = k % 3
        if kind == 0:    # a still under sensor noise
            f = f"[{k}:v]trim=end_frame=1,loop=loop=-1:size=1,trim=duration={length},setpts=N/FR/TB,"
        elif kind == 1:  # a slow pan over a still
            f = (f"[{k}:v]trim=end_frame=1,loop=loop=-1:size=1,trim=duration={length},"
                 f"setpts=N/FR/TB,crop={w}:{h}:x='t*4':y='t*2',")
        else:            # the source moving
            f = f"[{k}:v]"
        f += f"scale={w}:{h},noise=alls=5:allf=t,format=yuv420p[s{k}]"
        parts.append(f)
        t += length
        k += 1
    graph = ";".join(parts) + ";" + "".join(f"[s{i}]" for i in range(k)) + \
        f"concat=n={k}:v=1:a=0,trim=duration={seconds}[v]"
    return inputs, graph


def gen(args):
    os.makedirs(args.dir, exist_ok=True)
    for i, (name, w, h, rate) in enumerate(VIDEOS):
        inputs, graph = scene_graph(i, w, h, rate, args.seconds)
        out = os.path.join(args.dir, name)
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *inputs,
                        "-filter_complex", graph, "-map", "[v]", "-r", rate, "-c:v", "libx264",
                        "-preset", "medium", "-pix_fmt", "yuv420p", out], check=True)
        print(f"{out}: {os.path.getsize(out) / 1e6:.1f} MB", file=sys.stderr)


def timed(cmd, out=None):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=out or subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def race(args):
    videos = [os.path.join(args.dir, v[0]) for v in VIDEOS]
    for v in videos:
        with open(v, "rb") as f:
            while f.read(1 << 20):
                pass
    ways = {
        "floor": lambda v: ["ffmpeg", "-hide_banner", "-nostdin", "-i", v, "-vf", "fps=1",
                            "-f", "null", "-"],
        "reference": lambda v: [args.python, REFERENCE, "hash", v, "1"],
        "hashsift": lambda v: [args.hashsift, "vpdq", "-q", v],
        "keyframes": lambda v: [args.hashsift, "vpdq", "-q", "--keyframes", v],
    }
    times = {w: {v: [] for v in videos} for w in ways}
    for _ in range(args.runs):
        for v in videos:
            for w, cmd in ways.items():
                times[w][v].append(timed(cmd(v)))
    total = {w: sum(statistics.median(t[v]) for v in videos) for w, t in times.items()}
    # Agreement with the reference under its matcher.
    agree = {}
    with tempfile.TemporaryDirectory() as tmp:
        for v in videos:
            files = {}
            for w in ("reference", "hashsift", "keyframes"):
                files[w] = os.path.join(tmp, w + ".txt")
                with open(files[w], "wb") as f:
                    subprocess.run(ways[w](v), check=True, stdout=f, stderr=subprocess.DEVNULL)
            for w in ("hashsift", "keyframes"):
                out = subprocess.run([args.python, REFERENCE, "match", files[w],
                                      files["reference"]], check=True, capture_output=True,
                                     text=True).stdout.split()
                agree.setdefault(w, []).append((float(out[0]), float(out[1])))
    print(f"{len(videos)} videos ({', '.join(os.path.basename(v) for v in videos)}), "
          f"median of {args.runs} runs each, alternated\n")
    print("| way | seconds | / floor | reference / way | agreement with the reference "
          "(query % / reference %, lowest of the videos) |")
    print("|---|---:|---:|---:|---|")
    for w in ways:
        a = agree.get(w)
        shown = f"{min(q for q, _ in a):.1f} / {min(t for _, t in a):.1f}" if a else ""
        print(f"| {w} | {total[w]:.2f} | {total[w] / total['floor']:.2f} | "
              f"{total['reference'] / total[w]:.2f} | {shown} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gen")
    g.add_argument("dir")
    g.add_argument("--seconds", type=int, default=60)
    r = sub.add_parser("race")
    r.add_argument("dir")
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--hashsift", default=os.path.join(ROOT, "target", "release", "hashsift"))
    r.add_argument("--python", default=os.environ.get("HASHSIFT_PYTHON", "python3"))
    a = p.parse_args()
    gen(a) if a.command == "gen" else race(a)


if __name__ == "__main__":
    main()
