#!/usr/bin/env python3
"""How fast SQLite builds an index over a hash column, by how the hash is stored.

hashsift's import builds one index per hash column after a bulk insert (`CREATE INDEX`, with
`PRAGMA threads` and an 8 MiB page cache, as `Import::build_indexes` in
`src/knowndb/write/mod.rs` does). This measures that build over N random rows for three keys: a
16-byte blob (MD5), a 32-byte blob (SHA-256), and the first 8 bytes of the MD5 as a 64-bit
integer (which SQLite's sorter compares on a fast path).
Python's sqlite3 module uses the system SQLite, not the one bundled into hashsift: compare the
variants with each other, not with hashsift's own figures.

Usage: benches/sqlite_index.py [--rows 3000000] [--db /tmp/sqlite_index.db] [--runs 2]
"""

import argparse
import os
import random
import sqlite3
import time


def build(path, rows):
    if os.path.exists(path):
        os.remove(path)
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode = OFF")
    c.execute("PRAGMA synchronous = OFF")
    c.execute("CREATE TABLE media (id INTEGER PRIMARY KEY, md5 BLOB, md5_key INTEGER, sha256 BLOB)")
    rnd = random.Random(1)

    def gen():
        for _ in range(rows):
            md5 = rnd.randbytes(16)
            yield md5, int.from_bytes(md5[:8], "big", signed=True), rnd.randbytes(32)

    c.executemany("INSERT INTO media (md5, md5_key, sha256) VALUES (?, ?, ?)", gen())
    c.commit()
    c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--db", default="/tmp/sqlite_index.db")
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    build(args.db, args.rows)
    c = sqlite3.connect(args.db)
    c.execute("PRAGMA threads = 2")
    c.execute("PRAGMA cache_size = -8192")
    print(f"SQLite {sqlite3.sqlite_version}, {args.rows:,} rows")
    times = {col: [] for col in ["md5", "md5_key", "sha256"]}
    for _ in range(args.runs):
        for col in times:
            c.execute(f"DROP INDEX IF EXISTS ix_{col}")
            start = time.perf_counter()
            c.execute(f"CREATE INDEX ix_{col} ON media({col}) WHERE {col} IS NOT NULL")
            times[col].append(time.perf_counter() - start)
    for col, t in times.items():
        print(f"{col:8} " + ", ".join(f"{x:.2f} s" for x in t))
    c.close()
    os.remove(args.db)


if __name__ == "__main__":
    main()
