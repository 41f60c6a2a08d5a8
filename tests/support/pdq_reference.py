#!/usr/bin/env python3
"""The reference PDQ of binary PPM images, for hashsift's tests: for each path on the command
line, one line `path<TAB>hash<TAB>quality<TAB>eight dihedral hashes (comma-separated)<TAB>their
quality` (`compute` and `compute_dihedral` differ for a 64x64 image: only the first skips the
box filter).

It uses the PyPI package `pdqhash` (Meta's C++ core behind a Python binding) on the pixels
exactly as stored: `pdqhash.compute` and `pdqhash.compute_dihedral` on the RGB array, full
size. numpy reads the PPM; nothing decodes or resizes.
"""

import sys

import numpy as np
import pdqhash


def read_ppm(path):
    data = open(path, "rb").read()
    fields, i = [], 0
    while len(fields) < 4:
        while data[i : i + 1].isspace():
            i += 1
        start = i
        while not data[i : i + 1].isspace():
            i += 1
        fields.append(data[start:i])
    assert fields[0] == b"P6" and fields[3] == b"255", path
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[i + 1 :], dtype=np.uint8).reshape(h, w, 3)


def hex_of(vector):
    bits = "".join("1" if b else "0" for b in vector)
    return "".join(f"{int(bits[k:k + 4], 2):x}" for k in range(0, 256, 4))


for path in sys.argv[1:]:
    rgb = read_ppm(path)
    vector, quality = pdqhash.compute(rgb)
    vectors, dquality = pdqhash.compute_dihedral(rgb)
    dihedral = ",".join(hex_of(v) for v in vectors)
    print(f"{path}\t{hex_of(vector)}\t{quality}\t{dihedral}\t{dquality}")
