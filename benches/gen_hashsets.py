#!/usr/bin/env python3
"""Generate large synthetic hash sets for hashsift's import benchmarks, deterministic by seed.

Usage:
  benches/gen_hashsets.py --records N --seed S [--vics OUT.json] [--rdsv3 OUT.db]

  e.g. benches/gen_hashsets.py --records 10000000 --seed 1 \\
           --vics /work/bench/vics-10m.json --rdsv3 /work/bench/rdsv3-10m.db

Outputs (either or both; each is written to OUT.tmp and renamed into place when complete):

  --vics OUT.json   A Project VIC VICS 2.0 #Media file. The root object's first key is
                    "@odata.context" (US data model, entity Media), then "value": [...] with
                    N media records, one per line (compact JSON within a record). Each record
                    has MediaID (1..N), Category (0: ~30%, 1: ~40%, 2: ~15%, 3: ~5%, 4: ~2%,
                    null: ~8%), MD5 and SHA1 (upper-case hex), MediaSize (10 KiB..5 MiB),
                    VictimIdentified / OffenderIdentified / IsDistributed (true, false or null;
                    in ~10% of records written as the strings "true" / "false"), Series (null,
                    or "Series <n>" in ~5%), Tags (absent, or a short string in ~3%) and, in
                    ~30% of records, AlternativeHashes with one SHA256 entry. About 1% of
                    records repeat the MD5, SHA1, MediaSize and SHA256 (if any) of an earlier
                    record (a set listing the same file twice; the other fields are drawn
                    afresh).

  --rdsv3 OUT.db    An NSRL RDSv3 "minimal"-style SQLite database: tables FILE, PKG, OS, MFG,
                    VERSION and the view DISTINCT_HASH. FILE has N rows (upper-case hex
                    sha256/sha1/md5, 8-hex-digit crc32, names like "lib12345.dll", sizes
                    1 KiB..10 MiB, package ids among 20,000 packages) and no index, like the
                    real release. About 25% of FILE rows repeat the hashes (and crc32, name,
                    size) of an earlier row under another package_id, as NSRL lists a file once
                    per package that ships it. PKG has 20,000 rows, OS 500, MFG 2,000.

Content: every hash is pseudo-random bytes from Python's Mersenne Twister (random.Random seeded
from --seed; the two outputs use separate streams), not the digest of any real content, and the
empty-file MD5 d41d8cd98f00b204e9800998ecf8427e never appears. Nothing real is involved: this is
a throughput benchmark. The same --seed and --records always give byte-identical files (the
database given the same SQLite library version).

Memory stays bounded whatever N is: records are generated and written in chunks, and the
duplicates are drawn from a ring of the last 100,000 original records. Progress goes to stderr
every million records, then the file size and the elapsed time.
"""

import argparse
import os
import random
import sqlite3
import sys
import time

VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
EMPTY_MD5 = "D41D8CD98F00B204E9800998ECF8427E"  # compared upper-case

RING = 100_000  # how many earlier original records duplicates are drawn from
PROGRESS = 1_000_000  # progress line every this many records
VICS_CHUNK = 10_000  # records generated and written at a time (divides PROGRESS)
DB_CHUNK = 100_000  # rows per executemany (divides PROGRESS)

N_PKG = 20_000
N_OS = 500
N_MFG = 2_000


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def hexes(rng, count, nbytes):
    """`count` random upper-case hex strings of `nbytes` bytes each, as one string to slice."""
    return rng.randbytes(count * nbytes).hex().upper()


def not_empty_md5(md5):
    # 2^-128 odds, but the rule is absolute: never the empty-file MD5.
    return md5 if md5 != EMPTY_MD5 else "0" + md5[1:]


def finish(tmp, out, what, n, t0):
    os.replace(tmp, out)
    size = os.path.getsize(out)
    log(f"{what}: wrote {out}: {n:,} records, {size:,} bytes ({size / 2**30:.2f} GiB) "
        f"in {time.monotonic() - t0:.1f} s")


def remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# --------------------------------------------------------------------------------------------
# VICS 2.0 JSON

# Category: cumulative thresholds over random() -> value
CATEGORY = ((0.30, "0"), (0.70, "1"), (0.85, "2"), (0.90, "3"), (0.92, "4"), (1.01, "null"))
TAG_WORDS = ("outdoor", "indoor", "screenshot", "scan", "edited", "cropped", "series-part",
             "low-res", "thumbnail", "duplicate-name")


def flag(r, as_string):
    """true ~20%, false ~40%, null ~40%; as JSON literals or (if as_string) strings."""
    if r < 0.4:
        return "null"
    if r < 0.6:
        return '"true"' if as_string else "true"
    return '"false"' if as_string else "false"


def write_vics(path, n, seed):
    t0 = time.monotonic()
    rng = random.Random(f"hashsift-gen-hashsets:vics:{seed}")
    rnd = rng.random
    tmp = path + ".tmp"
    remove(path)
    remove(tmp)
    ring = []  # (md5, sha1, size, sha256 or None) of the last RING original records
    ring_pos = 0
    dups = 0
    with open(tmp, "w", encoding="ascii", newline="\n", buffering=16 << 20) as f:
        f.write('{"@odata.context":"' + VICS_CONTEXT + '","value":[\n')
        done = 0
        while done < n:
            c = min(VICS_CHUNK, n - done)
            md5s = hexes(rng, c, 16)
            sha1s = hexes(rng, c, 20)
            sha256s = hexes(rng, c, 32)
            lines = []
            for j in range(c):
                media_id = done + j + 1
                r = rnd()
                for limit, category in CATEGORY:
                    if r < limit:
                        break
                if ring and rnd() < 0.01:
                    md5, sha1, size, sha256 = ring[int(rnd() * len(ring))]
                    dups += 1
                else:
                    md5 = not_empty_md5(md5s[32 * j:32 * j + 32])
                    sha1 = sha1s[40 * j:40 * j + 40]
                    size = 10_240 + int(rnd() * (5_242_880 - 10_240 + 1))
                    sha256 = sha256s[64 * j:64 * j + 64] if rnd() < 0.30 else None
                    entry = (md5, sha1, size, sha256)
                    if len(ring) < RING:
                        ring.append(entry)
                    else:
                        ring[ring_pos] = entry
                        ring_pos = (ring_pos + 1) % RING
                as_string = rnd() < 0.10
                victim = flag(rnd(), as_string)
                offender = flag(rnd(), as_string)
                distributed = flag(rnd(), as_string)
                series = f'"Series {1 + int(rnd() * 999)}"' if rnd() < 0.05 else "null"
                rec = (f'{{"MediaID":{media_id},"Category":{category},"MD5":"{md5}",'
                       f'"SHA1":"{sha1}","MediaSize":{size},"VictimIdentified":{victim},'
                       f'"OffenderIdentified":{offender},"IsDistributed":{distributed},'
                       f'"Series":{series}')
                if rnd() < 0.03:
                    tags = TAG_WORDS[int(rnd() * len(TAG_WORDS))]
                    if rnd() < 0.5:
                        tags += "," + TAG_WORDS[int(rnd() * len(TAG_WORDS))]
                    rec += f',"Tags":"{tags}"'
                if sha256 is not None:
                    rec += f',"AlternativeHashes":[{{"HashName":"SHA256","HashValue":"{sha256}"}}]'
                lines.append(rec + ("}\n" if media_id == n else "},\n"))
            f.write("".join(lines))
            done += c
            if done % PROGRESS == 0 or done == n:
                log(f"vics: {done:,}/{n:,} records ({dups:,} duplicates), "
                    f"{time.monotonic() - t0:.1f} s")
        f.write("]}\n")
    finish(tmp, path, "vics", n, t0)


# --------------------------------------------------------------------------------------------
# NSRL RDSv3 SQLite

SCHEMA = """
CREATE TABLE FILE(sha256 TEXT, sha1 TEXT, md5 TEXT, crc32 TEXT, file_name TEXT,
                  file_size INTEGER, package_id INTEGER);
CREATE TABLE PKG(package_id INTEGER PRIMARY KEY, name TEXT, version TEXT,
                 operating_system_id INTEGER, manufacturer_id INTEGER, language TEXT,
                 application_type TEXT);
CREATE TABLE OS(operating_system_id INTEGER PRIMARY KEY, name TEXT, version TEXT,
                manufacturer_id INTEGER);
CREATE TABLE MFG(manufacturer_id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE VERSION(version TEXT, build_set TEXT, build_date TEXT, release_date TEXT,
                     description TEXT);
CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5 FROM FILE;
"""

NAME_PREFIX = ("lib", "msvc", "api", "core", "res", "img", "data", "setup", "help", "font")
NAME_EXT = ("dll", "dll", "dll", "exe", "exe", "so", "sys", "dat", "png", "mui", "txt", "xml")
OS_NAMES = ("Windows", "Linux", "macOS", "Android", "iOS", "FreeBSD", "Solaris", "DOS")
LANGUAGES = ("English", "English", "English", "German", "French", "Spanish", "Japanese",
             "Multilanguage", "Unknown")
APP_TYPES = ("Operating System", "Utility", "Game", "Office", "Development", "Driver",
             "Multimedia", "Security")


def aux_rows(rng, seed, n):
    rnd = rng.random

    def pick(seq):
        return seq[int(rnd() * len(seq))]

    mfg = [(i, f"Synthetic Manufacturer {i}") for i in range(1, N_MFG + 1)]
    os_rows = [(i, f"{pick(OS_NAMES)} (synthetic)", f"{1 + int(rnd() * 12)}.{int(rnd() * 10)}",
                1 + int(rnd() * N_MFG)) for i in range(1, N_OS + 1)]
    pkg = [(i, f"Synthetic Package {i}",
            f"{int(rnd() * 20)}.{int(rnd() * 10)}.{int(rnd() * 100)}",
            1 + int(rnd() * N_OS), 1 + int(rnd() * N_MFG), pick(LANGUAGES), pick(APP_TYPES))
           for i in range(1, N_PKG + 1)]
    version = [("3.0.synthetic", "minimal", "2024-01-01 00:00:00", "2024-01-02",
                f"Synthetic hashsift benchmark data (gen_hashsets.py --records {n} --seed {seed}); "
                "random hashes, not NSRL data")]
    return mfg, os_rows, pkg, version


def file_rows(rng, n, stats):
    """Yields FILE rows in chunks: a generator per chunk of DB_CHUNK rows."""
    rnd = rng.random
    ring = []  # (sha256, sha1, md5, crc32, name, size, package_id) of recent original rows
    ring_pos = 0

    def chunk(c):
        nonlocal ring_pos
        sha256s = hexes(rng, c, 32)
        sha1s = hexes(rng, c, 20)
        md5s = hexes(rng, c, 16)
        crcs = hexes(rng, c, 4)
        for j in range(c):
            if ring and rnd() < 0.25:
                sha256, sha1, md5, crc, name, size, pkg0 = ring[int(rnd() * len(ring))]
                pkg = 1 + int(rnd() * (N_PKG - 1))
                if pkg >= pkg0:  # any package but the original's
                    pkg += 1
                stats["dups"] += 1
                yield (sha256, sha1, md5, crc, name, size, pkg)
            else:
                row = (sha256s[64 * j:64 * j + 64], sha1s[40 * j:40 * j + 40],
                       not_empty_md5(md5s[32 * j:32 * j + 32]), crcs[8 * j:8 * j + 8],
                       f"{NAME_PREFIX[int(rnd() * len(NAME_PREFIX))]}{int(rnd() * 100_000)}."
                       f"{NAME_EXT[int(rnd() * len(NAME_EXT))]}",
                       1_024 + int(rnd() * (10_485_760 - 1_024 + 1)),
                       1 + int(rnd() * N_PKG))
                if len(ring) < RING:
                    ring.append(row)
                else:
                    ring[ring_pos] = row
                    ring_pos = (ring_pos + 1) % RING
                yield row

    done = 0
    while done < n:
        c = min(DB_CHUNK, n - done)
        yield c, chunk(c)
        done += c


def write_rdsv3(path, n, seed):
    t0 = time.monotonic()
    rng = random.Random(f"hashsift-gen-hashsets:rdsv3:{seed}")
    tmp = path + ".tmp"
    remove(path)
    for p in (tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"):
        remove(p)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache
        conn.execute("BEGIN")
        for stmt in SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        mfg, os_rows, pkg, version = aux_rows(rng, seed, n)
        conn.executemany("INSERT INTO MFG VALUES (?,?)", mfg)
        conn.executemany("INSERT INTO OS VALUES (?,?,?,?)", os_rows)
        conn.executemany("INSERT INTO PKG VALUES (?,?,?,?,?,?,?)", pkg)
        conn.executemany("INSERT INTO VERSION VALUES (?,?,?,?,?)", version)
        stats = {"dups": 0}
        done = 0
        for c, rows in file_rows(rng, n, stats):
            conn.executemany("INSERT INTO FILE VALUES (?,?,?,?,?,?,?)", rows)
            done += c
            if done % PROGRESS == 0 or done == n:
                log(f"rdsv3: {done:,}/{n:,} rows ({stats['dups']:,} repeated under another "
                    f"package), {time.monotonic() - t0:.1f} s")
        conn.execute("COMMIT")
    finally:
        conn.close()
    finish(tmp, path, "rdsv3", n, t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, required=True, metavar="N",
                    help="media records (VICS) and FILE rows (RDSv3) to generate")
    ap.add_argument("--seed", type=int, required=True, metavar="S",
                    help="seed; the same seed and N give byte-identical output")
    ap.add_argument("--vics", metavar="OUT.json", help="write a VICS 2.0 #Media JSON file")
    ap.add_argument("--rdsv3", metavar="OUT.db", help="write an NSRL RDSv3 minimal SQLite database")
    args = ap.parse_args()
    if args.records < 1:
        ap.error("--records must be at least 1")
    if not args.vics and not args.rdsv3:
        ap.error("nothing to do: give --vics OUT.json and/or --rdsv3 OUT.db")
    if args.vics:
        write_vics(args.vics, args.records, args.seed)
    if args.rdsv3:
        write_rdsv3(args.rdsv3, args.records, args.seed)


if __name__ == "__main__":
    main()
