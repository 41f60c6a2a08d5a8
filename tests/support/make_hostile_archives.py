#!/usr/bin/env python3
"""Writes the hostile containers a scan must survive, and what each is.

Usage: make_hostile_archives.py OUTDIR [--big-gib N] [--tiny N]

  bomb.zip        42.zip-style: zips of 16 zips, four levels, over a leaf of 256 MiB of zeros
                  (16^4 x 256 MiB = 16 TiB if it were all read), a few kilobytes on disk
  big-member.zip  one member of N GiB of zeros (default 10), ZIP64, deflated to about N MiB
  big.gz          the same zeros as a gzip stream
  many.zip        N tiny members (default 100,000), each a few bytes
  encrypted.zip   one member encrypted (ZipCrypto) beside a plain one, when 7zz or 7z is on
                  the PATH (Python cannot write encrypted ZIPs)
  slip.zip, slip.tar
                  names climbing out of the container (../../etc/passwd), absolute names
  cut.zip, cut.tar.gz
                  archives of several members cut short in the middle

The zeros are deflated once per 16 MiB with a full flush (the compressor starts afresh, so every
chunk compresses to the same bytes) and the chunk repeated; the CRC-32 is computed over the
zeros. OUTDIR/hostile.json lists each file with what a scan must say of it.
"""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

import make_archives

CHUNK = 16 << 20


def deflated_zeros(n):
    """Raw deflate data of n zeros (n a multiple of CHUNK), and their CRC-32."""
    assert n % CHUNK == 0
    zeros = bytes(CHUNK)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(n // CHUNK):
        crc = zlib.crc32(zeros, crc)
    # An empty final block ends the stream.
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return piece, n // CHUNK, end, crc


def zip_of_zeros(name, n):
    """A ZIP64 archive of one deflated member of n zeros, written by hand (zipfile cannot take
    data already compressed)."""
    piece, times, end, crc = deflated_zeros(n)
    csize = len(piece) * times + len(end)
    name = name.encode()
    out = io.BytesIO()
    zip64_local = struct.pack("<HHQQ", 1, 16, n, csize)
    out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, crc, 0xFFFFFFFF,
                          0xFFFFFFFF, len(name), len(zip64_local)))
    out.write(name)
    out.write(zip64_local)
    for _ in range(times):
        out.write(piece)
    out.write(end)
    cd_at = out.tell()
    zip64_central = struct.pack("<HHQQQ", 1, 24, n, csize, 0)
    out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, crc,
                          0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64_central), 0, 0, 0, 0,
                          0xFFFFFFFF))
    out.write(name)
    out.write(zip64_central)
    cd_size = out.tell() - cd_at
    eocd64_at = out.tell()
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, cd_size, cd_at))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, eocd64_at, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                          0xFFFFFFFF, 0))
    return out.getvalue()


def gzip_of_zeros(n):
    piece, times, end, crc = deflated_zeros(n)
    out = io.BytesIO()
    out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
    for _ in range(times):
        out.write(piece)
    out.write(end)
    out.write(struct.pack("<II", crc, n & 0xFFFFFFFF))
    return out.getvalue()


def zip_bytes(entries):
    """A deflated ZIP of the (name, bytes) pairs `entries`, no directory entries."""
    return make_archives.zip_bytes(dict(entries), dirs=())


def main():
    args = sys.argv[1:]
    outdir = args[0]
    big = 10
    tiny = 100_000
    if "--big-gib" in args:
        big = int(args[args.index("--big-gib") + 1])
    if "--tiny" in args:
        tiny = int(args[args.index("--tiny") + 1])
    os.makedirs(outdir, exist_ok=True)
    what = {}

    def put(name, data, expect):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        what[name] = expect

    level = zip_of_zeros("0.bin", 256 << 20)
    for _ in range(4):
        level = zip_bytes([(f"{i}.zip", level) for i in range(16)])
    put("bomb.zip", level, "stopped: expansion limit")
    put("big-member.zip", zip_of_zeros("zeros.bin", big << 30), "stopped: expansion limit")
    put("big.gz", gzip_of_zeros(big << 30), "stopped: expansion limit")
    put("many.zip", zip_bytes([(f"d{i // 1000}/f{i}.txt", b"%d" % i) for i in range(tiny)]),
        f"{tiny} members")
    put("slip.zip", zip_bytes([("../../etc/passwd", b"root:x:0:0"), ("/abs/path.txt", b"a")]),
        "members flagged: climbs out, absolute")
    t = io.BytesIO()
    with tarfile.open(fileobj=t, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ["../../../tmp/evil.sh", "/etc/cron.d/evil"]:
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    put("slip.tar", t.getvalue(), "members flagged: climbs out, absolute")
    rand = os.urandom
    full = zip_bytes([(f"m{i}.bin", rand(40_000)) for i in range(6)])
    put("cut.zip", full[: len(full) // 2], "members before the cut, then stopped: damaged")
    t = io.BytesIO()
    with tarfile.open(fileobj=t, mode="w:gz") as tar:
        for i in range(6):
            data = rand(40_000)
            info = tarfile.TarInfo(f"m{i}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    gz = t.getvalue()
    put("cut.tar.gz", gz[: len(gz) // 2], "members before the cut, then stopped: damaged")
    seven = shutil.which("7zz") or shutil.which("7z")
    if seven:
        with tempfile.TemporaryDirectory() as src:
            for name, data in [("secret.txt", b"hidden" * 100), ("open.txt", b"plain")]:
                with open(os.path.join(src, name), "wb") as f:
                    f.write(data)
            path = os.path.abspath(os.path.join(outdir, "encrypted.zip"))
            subprocess.run([seven, "a", "-bd", "-y", "-tzip", "-pSECRET", path, "secret.txt"],
                           cwd=src, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([seven, "a", "-bd", "-y", "-tzip", path, "open.txt"],
                           cwd=src, check=True, stdout=subprocess.DEVNULL)
        what["encrypted.zip"] = "secret.txt: encrypted: not read; open.txt read"
    with open(os.path.join(outdir, "hostile.json"), "w") as f:
        json.dump(what, f, indent=1)


if __name__ == "__main__":
    main()
