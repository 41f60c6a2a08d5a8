#!/usr/bin/env python3
"""Regenerate samples/evidence/: a tiny synthetic evidence tree for the quick start.

Deterministic (fixed seeds): generated gradient PNGs with a little noise, an empty file, a CSV,
random bytes, a name with a space and a comma, and a relative symlink. No real data.

Usage: samples/make_evidence.py   (from anywhere; rewrites samples/evidence/)
"""

import os
import random
import shutil
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "evidence")


def png(w, h, seed):
    r = random.Random(seed)
    raw = b"".join(
        b"\x00" + bytes((x * 3 + y * 5 + r.randrange(8)) % 256 for x in range(w * 3)) for y in range(h)
    )

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    cam = os.path.join(OUT, "DCIM", "100CAMERA")
    notes = os.path.join(OUT, "Documents", "Case notes")
    os.makedirs(cam)
    os.makedirs(notes)
    with open(os.path.join(OUT, "README.txt"), "w") as f:
        f.write("Synthetic sample evidence for hashsift. Nothing here is real case data.\n")
    open(os.path.join(cam, "empty.jpg"), "wb").close()
    for i in range(3):
        with open(os.path.join(cam, f"IMG_000{i + 1}.PNG"), "wb") as f:
            f.write(png(64 + 16 * i, 48, i))
    with open(os.path.join(notes, "gradient, copy.png"), "wb") as f:
        f.write(png(32, 32, 42))
    with open(os.path.join(notes, "inventory.csv"), "w") as f:
        f.write("item,description\n1,synthetic gradient images\n")
    with open(os.path.join(OUT, "Documents", "random.bin"), "wb") as f:
        f.write(random.Random(7).randbytes(200_000))
    os.symlink("../DCIM/100CAMERA/IMG_0001.PNG", os.path.join(OUT, "Documents", "shortcut-to-IMG_0001.PNG"))


if __name__ == "__main__":
    main()
