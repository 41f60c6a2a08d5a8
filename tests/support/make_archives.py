#!/usr/bin/env python3
"""Writes synthetic archives of every format hashsift opens, and what they hold.

Usage: make_archives.py OUTDIR [IMAGE...]

Python's zipfile, tarfile, gzip, bz2 and lzma write the archives; hashlib digests every
member's bytes. `zstd` and `7zz` or `7z` (Debian's zstd and 7zip packages) add a .tar.zst and a .7z
when they are on the PATH. OUTDIR/expected.json maps each archive to its members, nested ones
flattened as chains ("inner.tar.gz!/x.tar!/a.bin"), each with its MD5, SHA-1 and SHA-256, and
lists the archives made. Each IMAGE given goes into pictures.zip as pics/ and its file name.
"""

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile

rng = random.Random(20261207)


def blob(n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def digests(data):
    return {
        "md5": hashlib.md5(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


# The files every archive holds: random bytes (incompressible), text (compressible), empty.
FILES = {
    "photos/a.bin": blob(70_000),
    "notes/readme.txt": (b"synthetic text line\n" * 3000),
    "empty.dat": b"",
    "deep/er/still/b.bin": blob(1234),
}
LONG = "long/" + "n" * 150 + "/c.bin"
FILES_LONG = dict(FILES, **{LONG: blob(500), "caf\u00e9/\u00fcber.bin": blob(77)})


def members(files):
    return {name: digests(data) for name, data in files.items()}


def zip_bytes(files, compression=zipfile.ZIP_DEFLATED, zip64=False, dirs=("photos/",)):
    """A ZIP of `files` (name -> bytes) after the directory entries `dirs`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for d in dirs:
            z.writestr(zipfile.ZipInfo(d), b"")
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 5, 17, 13, 45, 30))
            info.compress_type = compression
            with z.open(info, "w", force_zip64=zip64) as f:
                f.write(data)
    return out.getvalue()


def tar_bytes(files, fmt, mode="w"):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode, format=fmt) as t:
        d = tarfile.TarInfo("photos")
        d.type = tarfile.DIRTYPE
        t.addfile(d)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_600_000_000
            t.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link-to-a")
        link.type = tarfile.SYMTYPE
        link.linkname = "photos/a.bin"
        t.addfile(link)
    return out.getvalue()


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    expected = {}

    def put(name, data, listed):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        expected[name] = listed

    put("deflate.zip", zip_bytes(FILES), members(FILES))
    put("stored.zip", zip_bytes(FILES, zipfile.ZIP_STORED), members(FILES))
    put("bzip2.zip", zip_bytes(FILES, zipfile.ZIP_BZIP2), members(FILES))
    put("lzma.zip", zip_bytes(FILES, zipfile.ZIP_LZMA), members(FILES))
    put("zip64.zip", zip_bytes(FILES, zip64=True), members(FILES))
    put("ustar.tar", tar_bytes(FILES, tarfile.USTAR_FORMAT), members(FILES))
    put("gnu.tar", tar_bytes(FILES_LONG, tarfile.GNU_FORMAT), members(FILES_LONG))
    put("pax.tar", tar_bytes(FILES_LONG, tarfile.PAX_FORMAT), members(FILES_LONG))

    tar = tar_bytes(FILES, tarfile.PAX_FORMAT)
    inner = {"x.tar!/" + k: v for k, v in members(FILES).items()}
    stream = {"x.tar": digests(tar)}
    gz = gzip.compress(tar, mtime=0)
    put("x.tar.gz", gz, dict(stream, **inner))
    put("x.tar.bz2", bz2.compress(tar), dict(stream, **inner))
    put("x.tar.xz", lzma.compress(tar), dict(stream, **inner))
    # Two gzip members one after the other read as one stream, as gunzip reads them.
    two = FILES["notes/readme.txt"] + FILES["photos/a.bin"]
    put(
        "two-members.gz",
        gzip.compress(FILES["notes/readme.txt"], mtime=0) + gzip.compress(FILES["photos/a.bin"], mtime=0),
        {"two-members": digests(two)},
    )

    # Three deep: a zip holding a tar.gz holding a zip holding the files.
    deepest = zip_bytes(FILES, zipfile.ZIP_STORED)
    mid_tar = tar_bytes({"deep.zip": deepest}, tarfile.USTAR_FORMAT)
    mid = gzip.compress(mid_tar, mtime=0)
    outer = zip_bytes({"inner.tar.gz": mid})
    listed = {"inner.tar.gz": digests(mid), "inner.tar.gz!/inner.tar": digests(mid_tar)}
    listed["inner.tar.gz!/inner.tar!/deep.zip"] = digests(deepest)
    for k, v in members(FILES).items():
        listed["inner.tar.gz!/inner.tar!/deep.zip!/" + k] = v
    put("nested.zip", outer, listed)

    images = {}
    for image in sys.argv[2:]:
        with open(image, "rb") as f:
            images["pics/" + os.path.basename(image)] = f.read()
    if images:
        put("pictures.zip", zip_bytes(images), members(images))

    made = sorted(expected)
    if shutil.which("zstd"):
        path = os.path.join(outdir, "x.tar.zst")
        subprocess.run(["zstd", "-q", "-f", "-o", path], input=tar, check=True)
        expected["x.tar.zst"] = dict(stream, **inner)
    seven = shutil.which("7zz") or shutil.which("7z")
    if seven:
        src = os.path.join(outdir, "7z-src")
        for name, data in FILES.items():
            p = os.path.join(src, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        path = os.path.abspath(os.path.join(outdir, "files.7z"))
        subprocess.run([seven, "a", "-bd", "-y", path, "."], cwd=src, check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(src)
        expected["files.7z"] = members(FILES)
    with open(os.path.join(outdir, "expected.json"), "w") as f:
        json.dump({"archives": expected, "made_by_python": made}, f, indent=1)


if __name__ == "__main__":
    main()
