#!/usr/bin/env python3
"""Race hashsift against its peers on generated corpora, in one run, and print ratios.

Corpora come from benches/gen_corpus.py (deterministic by seed). Commands are alternated round
by round, so a noisy neighbour slows every tool alike; each figure is the median of --runs runs,
with the range. Every warm run follows a read of the whole corpus immediately (this machine
evicts pages about 60 s after their last use, and a criterion run between rounds takes longer
than that); cold runs evict the corpus first (benches/evict.py).

Sections:
  warm-mixed  hashsift -c md5,sha1,sha256 vs hashdeep -r -j2 (same algorithms), and hashsift
              with all four algorithms vs the compute bound predicted by the criterion kernels
              (cargo bench --bench digest: one pass of all four, 2 cores)
  warm-small  files per second: hashsift vs hashdeep vs fclones group
  cold-mixed  hashsift vs hashdeep vs the I/O bound (find | xargs -P4 cat)

With --baseline PATH (another build of hashsift, e.g. the commit before a restructuring),
every hashsift command also runs with it, alternated in the same rounds, and each section ends
with the ratio of this build's median to the baseline's.

Usage:
  cargo build --release
  benches/race.py --mixed /path/mixed --small /path/small [--runs 3] [--sections warm-mixed,...]
      [--baseline /path/to/older/hashsift]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def corpus_size(root):
    files = size = 0
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            st = os.lstat(os.path.join(dirpath, n))
            files += 1
            size += st.st_size
    return files, size


def evict(root):
    subprocess.run([sys.executable, os.path.join(HERE, "evict.py"), root], check=True,
                   stderr=subprocess.DEVNULL)


def warm(root):
    """Reads every file of the corpus, so the timed run that follows finds all of it cached."""
    subprocess.run(f"find '{root}' -type f -print0 | xargs -0 -P2 -n256 cat > /dev/null",
                   shell=True, check=True)


def timed(cmd, shell=False):
    start = time.perf_counter()
    subprocess.run(cmd, shell=shell, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def race(commands, runs, before=None):
    """commands: list of (label, argv-or-shell-string). Returns {label: [seconds...]}."""
    times = {label: [] for label, _ in commands}
    for _ in range(runs):
        for label, cmd in commands:
            if before:
                before()
            times[label].append(timed(cmd, shell=isinstance(cmd, str)))
    return times


def summary(times):
    return statistics.median(times), min(times), max(times)


def criterion_estimate(crit_dir, group, name):
    """Median time per iteration, ns, of a criterion benchmark's latest run."""
    with open(os.path.join(crit_dir, group, name, "new", "estimates.json")) as f:
        return json.load(f)["median"]["point_estimate"]


def criterion_ns_per_byte(crit_dir, name, length=8 << 20):
    return criterion_estimate(crit_dir, "digest", name) / length


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text else "?"
    except OSError:
        return "not installed"


def table(rows, unit):
    print(f"| command | runs | median s | range s | {unit} | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, t, rate, ratio in rows:
        med, lo, hi = summary(t)
        label = label.replace("|", "\\|")
        print(f"| `{label}` | {len(t)} | {med:.2f} | {lo:.2f}-{hi:.2f} | {rate(med):,.0f} | {ratio} |")
    print()


BASELINE = "hashsift (baseline) "


def with_baseline(cmds, hs, baseline):
    """`cmds` and, when a baseline build is given, each hashsift command again run by it."""
    if not baseline:
        return cmds
    extra = [(BASELINE + label[len("hashsift "):], [baseline if a == hs else a for a in cmd])
             for label, cmd in cmds if label.startswith("hashsift ") and isinstance(cmd, list)]
    return cmds + extra


def against_baseline(t):
    """This build's median against the baseline's, for every command both ran."""
    rows = [(label, BASELINE + label[len("hashsift "):]) for label in t
            if label.startswith("hashsift ") and BASELINE + label[len("hashsift "):] in t]
    if not rows:
        return
    print("| command | this build, median s | baseline, median s | this / baseline |")
    print("|---|---:|---:|---:|")
    for new, old in rows:
        n, o = summary(t[new])[0], summary(t[old])[0]
        print(f"| `{new}` | {n:.2f} | {o:.2f} | {n / o:.3f} |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hashsift", default=os.path.join(ROOT, "target", "release", "hashsift"))
    ap.add_argument("--baseline", help="another hashsift build to race this one against")
    ap.add_argument("--mixed", required=True)
    ap.add_argument("--small", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--criterion", default=os.path.join(ROOT, "target", "criterion"))
    ap.add_argument("--sections", default="warm-mixed,warm-small,cold-mixed")
    ap.add_argument("--no-criterion", action="store_true",
                    help="use the criterion results already in --criterion instead of running "
                         "`cargo bench --bench digest` after every warm round (so the compute "
                         "bound sees the same machine load as the race)")
    args = ap.parse_args()
    hs = args.hashsift
    sections = args.sections.split(",")
    fclones = shutil.which("fclones") or os.path.expanduser("~/.cargo/bin/fclones")

    print(f"- machine: {os.cpu_count()} CPUs, {os.uname().release}")
    print(f"- hashsift: {version([hs, '--version'])}; hashdeep: {version(['hashdeep', '-V'])}; "
          f"fclones: {version([fclones, '--version'])}")
    print(f"- started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {args.runs} runs per command\n")

    three = "md5,sha1,sha256"
    if "warm-mixed" in sections:
        files, size = corpus_size(args.mixed)
        print(f"### Warm, mixed corpus: {files} files, {size / 1e9:.2f} GB\n")
        cmds = [
            (f"hashsift hash -c {three}", [hs, "hash", "-q", "-c", three, args.mixed]),
            (f"hashdeep -r -j2 -c {three}", ["hashdeep", "-r", "-j2", "-c", three, args.mixed]),
            ("hashsift hash --format jsonl (all four)", [hs, "hash", "-q", "--format", "jsonl", args.mixed]),
        ]
        cmds = with_baseline(cmds, hs, args.baseline)
        labels = [c[0] for c in cmds]
        mbps = lambda s: size / s / 1e6
        t = {label: [] for label in labels}
        bounds, two_core, paired = [], [], []
        for _ in range(args.runs):
            for label, cmd in cmds:
                warm(args.mixed)
                t[label].append(timed(cmd))
            if not args.no_criterion:
                # The kernels right after the race round, under the same machine load.
                subprocess.run(["cargo", "bench", "--bench", "digest", "--", "--warm-up-time", "1",
                                "--measurement-time", "3", "--noplot"], cwd=ROOT, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                per_alg = {a: criterion_ns_per_byte(args.criterion, a) for a in ["md5", "sha1", "sha256", "blake3"]}
                bounds.append((2 / sum(per_alg.values()) * 1e3, per_alg))
                two_core.append(2 * (8 << 20) / criterion_estimate(args.criterion, "digest-2-threads", "all4") * 1e3)
                paired.append(mbps(t[labels[2]][-1]) / bounds[-1][0])
            except OSError as e:
                print(f"(no criterion results: {e})\n")
        hs3, hd3, hs4 = (summary(t[l])[0] for l in labels[:3])
        table([(labels[0], t[labels[0]], mbps, f"{hd3 / hs3:.2f}x faster than hashdeep"),
               (labels[1], t[labels[1]], mbps, "1.00"),
               (labels[2], t[labels[2]], mbps, "")], "MB/s")
        against_baseline(t)
        if bounds:
            med_bound = statistics.median(b for b, _ in bounds)
            per_alg = min(bounds, key=lambda b: abs(b[0] - med_bound))[1]
            got = mbps(hs4)
            two = statistics.median(two_core)
            print("Compute bound from the criterion kernels (one core, in memory), measured after every "
                  "round: median round " +
                  ", ".join(f"{a} {1e3 / v:,.0f} MB/s" for a, v in per_alg.items()) +
                  f", one pass of all four = {sum(per_alg.values()):.3f} ns/byte; prediction for 2 cores "
                  f"**{med_bound:,.0f} MB/s** (range {min(b for b, _ in bounds):,.0f}-{max(b for b, _ in bounds):,.0f}). "
                  f"hashsift with all four: **{got:,.0f} MB/s = {got / med_bound * 100:.1f}% of the bound** "
                  f"(each round against its own bound: median {statistics.median(paired) * 100:.1f}%, "
                  f"range {min(paired) * 100:.1f}-{max(paired) * 100:.1f}%). "
                  f"Measured rather than predicted, the one pass on both cores at once in memory "
                  f"(`digest-2-threads/all4`) runs at {two:,.0f} MB/s; hashsift reaches {got / two * 100:.1f}% of that.\n")

    if "warm-small" in sections:
        files, size = corpus_size(args.small)
        print(f"### Warm, small-file corpus: {files} files, {size / 1e6:.0f} MB\n")
        cmds = [
            (f"hashsift hash -c {three}", [hs, "hash", "-q", "-c", three, args.small]),
            ("hashsift hash --format jsonl (all four)", [hs, "hash", "-q", "--format", "jsonl", args.small]),
            (f"hashdeep -r -j2 -c {three}", ["hashdeep", "-r", "-j2", "-c", three, args.small]),
        ] + ([("fclones group", [fclones, "group", args.small])] if os.path.exists(fclones) else [])
        cmds = with_baseline(cmds, hs, args.baseline)
        t = race(cmds, args.runs, before=lambda: warm(args.small))
        labels = [c[0] for c in cmds]
        base = summary(t[labels[0]])[0]
        fps = lambda s: files / s
        def ratio(i, l):
            if i == 0:
                return "1.00"
            if l.startswith("hashsift"):
                return ""
            return f"hashsift {summary(t[l])[0] / base:.2f}x faster"
        table([(l, t[l], fps, ratio(i, l)) for i, l in enumerate(labels)], "files/s")
        against_baseline(t)

    if "cold-mixed" in sections:
        files, size = corpus_size(args.mixed)
        print(f"### Cold, mixed corpus (evicted before every run): {files} files, {size / 1e9:.2f} GB\n")
        cmds = [
            (f"hashsift hash -c {three}", [hs, "hash", "-q", "-c", three, args.mixed]),
            ("hashsift hash --format jsonl (all four)", [hs, "hash", "-q", "--format", "jsonl", args.mixed]),
            (f"hashdeep -r -j2 -c {three}", ["hashdeep", "-r", "-j2", "-c", three, args.mixed]),
            ("find | xargs -0 -P4 -n256 cat (I/O bound)",
             f"find '{args.mixed}' -type f -print0 | xargs -0 -P4 -n256 cat > /dev/null"),
        ]
        cmds = with_baseline(cmds, hs, args.baseline)
        t = race(cmds, args.runs, before=lambda: evict(args.mixed))
        labels = [c[0] for c in cmds]
        hs3 = summary(t[labels[0]])[0]
        io = summary(t[labels[3]])[0]
        mbps = lambda s: size / s / 1e6
        table([(labels[0], t[labels[0]], mbps, f"{summary(t[labels[2]])[0] / hs3:.2f}x faster than hashdeep; "
                                               f"{io / hs3 * 100:.0f}% of the I/O-bound rate"),
               (labels[1], t[labels[1]], mbps, f"{io / summary(t[labels[1]])[0] * 100:.0f}% of the I/O-bound rate"),
               (labels[2], t[labels[2]], mbps, "1.00"),
               (labels[3], t[labels[3]], mbps, "")], "MB/s")
        against_baseline(t)


if __name__ == "__main__":
    main()
