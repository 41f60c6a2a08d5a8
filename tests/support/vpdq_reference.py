#!/usr/bin/env python3
"""The reference vPDQ (ThreatExchange's `vpdq` binding from PyPI) for the tests.

  vpdq_reference.py hash VIDEO SECONDS_PER_HASH
      the reference's features of VIDEO, one line each: FRAME,QUALITY,HASH,SECONDS
  vpdq_reference.py match QUERY.txt TARGET.txt [DISTANCE [QUALITY]]
      the reference matcher's two percentages, "QUERY_PCT TARGET_PCT"

The matcher is ThreatExchange's `matchTwoHashBrute` (vpdq/cpp/vpdq/cpp/hashing/matchTwoHash.cpp)
written again here: frames of quality under QUALITY (default 50) are left out, nothing is
deduplicated, and a frame of one video matches when some frame of the other is at a Hamming
distance under DISTANCE (default 31), the distance computed by the binding. Files are read as
the reference's tests read them (vpdq/python/tests/test_util.py).
"""

import sys

import vpdq


def features(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            c = line.split(",")
            out.append(vpdq.VpdqFeature(int(c[1]), int(c[0]), vpdq.str_to_hash(c[2]), float(c[3])))
    return out


def match(query, target, distance, quality):
    q = [f for f in query if f.quality >= quality]
    t = [f for f in target if f.quality >= quality]
    if not q or not t:
        return 0.0, 0.0

    def found(a, b):
        return sum(any(vpdq.hamming_distance(x.hash, y.hash) < distance for y in b) for x in a)

    return found(q, t) * 100.0 / len(q), found(t, q) * 100.0 / len(t)


def main():
    if sys.argv[1] == "hash":
        for f in vpdq.computeHash(sys.argv[2], seconds_per_hash=float(sys.argv[3])):
            print(f"{f.frame_number},{f.quality},{f.hex},{f.timestamp:.3f}")
    elif sys.argv[1] == "match":
        distance = int(sys.argv[4]) if len(sys.argv) > 4 else 31
        quality = int(sys.argv[5]) if len(sys.argv) > 5 else 50
        q, t = match(features(sys.argv[2]), features(sys.argv[3]), distance, quality)
        print(f"{q:.4f} {t:.4f}")
    else:
        sys.exit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    main()
