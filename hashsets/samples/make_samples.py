#!/usr/bin/env python3
"""Regenerate hashsets/samples/: one small synthetic hash set per supported import format.

Everything is derived from twelve generated abstract PNGs (gradients, checkerboards, stripes)
written to images/. Nothing here is real: no real known-material hash ever enters the
repository. Some values are only data (PDQ, PhotoDNA): digests of fixed strings.

Deterministic: fixed seed, no timestamps, fixed zip dates, SQLite files rebuilt from scratch and
vacuumed. The PNG pixel data is stored in uncompressed deflate blocks so the image bytes (and with
them every hash below) do not depend on the zlib build. Two runs give byte-identical files.

expected.json says what a correct importer must find in each sample. It is derived only from
what this script writes and from the published category mappings, never from hashsift itself.

Usage: python3 hashsets/samples/make_samples.py   (from anywhere; rewrites hashsets/samples/)
"""

import csv
import hashlib
import json
import os
import pathlib
import random
import sqlite3
import struct
import zipfile
import zlib

OUT = pathlib.Path(__file__).resolve().parent
IMAGES = OUT / "images"

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------

# name -> (width, height, pattern). Sizes between 16x16 and 64x64, all different.
IMAGE_SPECS = [
    ("img01.png", 16, 16, "hgrad"),
    ("img02.png", 24, 20, "checker"),
    ("img03.png", 32, 32, "vstripes"),
    ("img04.png", 40, 24, "dgrad"),
    ("img05.png", 48, 48, "checker"),
    ("img06.png", 20, 36, "hstripes"),
    ("img07.png", 64, 64, "dgrad"),
    ("img08.png", 56, 40, "vstripes"),
    ("img09.png", 16, 48, "vgrad"),
    ("img10.png", 64, 16, "checker"),
    ("img11.png", 36, 36, "hgrad"),
    ("img12.png", 28, 60, "hstripes"),
]


def zlib_stored(data):
    """A zlib stream of uncompressed (stored) deflate blocks: identical under every zlib build."""
    out = bytearray(b"\x78\x01")
    blocks = [data[i : i + 65535] for i in range(0, len(data), 65535)] or [b""]
    for i, block in enumerate(blocks):
        out.append(1 if i == len(blocks) - 1 else 0)
        out += struct.pack("<HH", len(block), len(block) ^ 0xFFFF)
        out += block
    out += struct.pack(">I", zlib.adler32(data) & 0xFFFFFFFF)
    return bytes(out)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pixel(pattern, x, y, w, h, c1, c2):
    def mix(t):
        return tuple((a * (255 - t) + b * t) // 255 for a, b in zip(c1, c2))

    if pattern == "hgrad":
        return mix(x * 255 // max(w - 1, 1))
    if pattern == "vgrad":
        return mix(y * 255 // max(h - 1, 1))
    if pattern == "dgrad":
        return mix((x + y) * 255 // max(w + h - 2, 1))
    if pattern == "checker":
        return c1 if ((x // 4) + (y // 4)) % 2 == 0 else c2
    if pattern == "vstripes":
        return c1 if (x // 3) % 2 == 0 else c2
    if pattern == "hstripes":
        return c1 if (y // 5) % 2 == 0 else c2
    raise ValueError(pattern)


def make_png(w, h, pattern, c1, c2):
    rows = []
    for y in range(h):
        row = bytearray(b"\x00")  # filter type 0 (none)
        for x in range(w):
            row += bytes(pixel(pattern, x, y, w, h, c1, c2))
        rows.append(bytes(row))
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + png_chunk(b"IDAT", zlib_stored(b"".join(rows)))
        + png_chunk(b"IEND", b"")
    )


def make_images():
    """Writes images/ and returns {name: {"md5", "sha1", "sha256", "size", "crc32"}}."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    for old in IMAGES.glob("*.png"):
        os.remove(old)
    rng = random.Random(20240101)
    info = {}
    for name, w, h, pattern in IMAGE_SPECS:
        c1 = tuple(rng.getrandbits(8) for _ in range(3))
        c2 = tuple(rng.getrandbits(8) for _ in range(3))
        data = make_png(w, h, pattern, c1, c2)
        (IMAGES / name).write_bytes(data)
        info[name] = {
            "md5": hashlib.md5(data).hexdigest(),
            "sha1": hashlib.sha1(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "crc32": "%08X" % (zlib.crc32(data) & 0xFFFFFFFF),
        }
    return info


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def write_text(name, text, newline="\n"):
    """Writes text with the given line ending (the text itself uses \\n)."""
    (OUT / name).write_bytes(text.replace("\n", newline).encode("utf-8"))


def write_json(name, obj):
    write_text(name, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _flat(value):
    """True for a scalar, or a list or object holding only scalars and lists of scalars."""
    if isinstance(value, dict):
        return all(not isinstance(v, dict) and _flat(v) for v in value.values())
    if isinstance(value, list):
        return all(not isinstance(v, dict) and _flat(v) for v in value)
    return True


def pretty(value, indent=0):
    """JSON with sorted keys, indented one space per level, each flat object or list compact on
    one line: one line per image and per expected record keeps expected.json under 20 KB."""
    if _flat(value):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    pad = " " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {pretty(value[k], indent + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + pretty(v, indent + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def fresh_sqlite(name):
    path = OUT / name
    for suffix in ("", "-journal", "-wal", "-shm"):
        p = pathlib.Path(str(path) + suffix)
        if p.exists():
            p.unlink()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA page_size=512")  # the smallest page: keeps each sample a few KB
    conn.execute("PRAGMA encoding='UTF-8'")
    return conn


def finish_sqlite(conn):
    conn.execute("VACUUM")
    conn.close()


def record(image, hashes, category, code=None, size=None, baseline=None, victim=None,
           offender=None, distributed=None, series=None, tags=(), pdq=None, photodna=None):
    """One expected record. `hashes` lists which of md5/sha1/sha256 the set carries."""
    order = ["md5", "sha1", "sha256"]
    return {
        "image": image,
        "hashes": sorted(hashes, key=order.index),
        "category": category,
        "code": code,
        "baseline": baseline,
        "victim_identified": victim,
        "offender_identified": offender,
        "distributed": distributed,
        "series": series,
        "tags": list(tags),
        "pdq": pdq,
        "photodna": photodna,
        "size": size,
    }


def sample(file, fmt, records, rows_read, rows_empty=0, args=()):
    return {
        "file": file,
        "format": fmt,
        "args": list(args),
        "rows_read": rows_read,
        "rows_empty": rows_empty,
        "rows_imported": len(records),
        "records": sorted(records, key=lambda r: r["image"]),
    }


# Published Project VIC US numbering (hashsets/profiles/vics-us.toml).
VICS_US = {0: "non_pertinent", 1: "csam", 2: "csem", 3: "cgi", 4: "comparison", None: "uncategorised"}


def vics_category(code):
    return VICS_US[code], (None if code is None else str(code))


# ---------------------------------------------------------------------------------------------
# a. VICS 1.3 (OData v3)
# ---------------------------------------------------------------------------------------------


def vics13(img):
    categories = {"img01.png": 1, "img02.png": 2, "img03.png": 3, "img04.png": 4, "img05.png": 0, "img06.png": None}
    media = []
    expected = []
    for n, name in enumerate(categories, start=1):
        h = img[name]
        m = {"odata.id": f"Media({n})", "MediaID": n}
        if categories[name] is not None:
            m["Category"] = categories[name]
        m["MD5"] = h["md5"].upper()
        m["SHA1"] = h["sha1"]
        m["MediaSize"] = h["size"]
        flags = {}
        series = None
        tags = ()
        hashes = ["md5", "sha1"]
        if name == "img01.png":
            m["VictimIdentified"] = True
            m["OffenderIdentified"] = "false"
            m["IsDistributed"] = None
            flags = {"victim": True, "offender": False, "distributed": None}
            m["Series"] = series = "Series A"
            m["Tags"] = "tag1,tag2"
            tags = ("tag1", "tag2")
            m["MediaFiles"] = [
                {
                    "MD5": h["md5"].upper(),
                    "FileName": "img01.png",
                    "FilePath": "C:\\Evidence\\Pictures\\img01.png",
                    "Created": "2003-01-02T03:04:05Z",
                    "Unallocated": False,
                    "Deleted": False,
                }
            ]
        if name == "img02.png":
            m["IsDistributed"] = "True"
            flags = {"distributed": True}
            m["Series"] = series = "Series A"
            m["Comments"] = "synthetic sample"
        if name in ("img01.png", "img03.png"):
            m["AlternativeHashes"] = [{"HashName": "SHA256", "HashValue": h["sha256"].upper()}]
            hashes.append("sha256")
        media.append(m)
        category, code = vics_category(categories[name])
        expected.append(record(name, hashes, category, code, size=h["size"], series=series, tags=tags, **flags))
    # A record for the empty file: a reader skips it and counts it as empty.
    media.append(
        {"odata.id": "Media(7)", "MediaID": 7, "Category": 1, "MD5": EMPTY_MD5.upper(), "SHA1": EMPTY_SHA1, "MediaSize": 0}
    )
    doc = {"odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media", "value": media}
    write_json("vics-1.3-media.json", doc)
    return sample("vics-1.3-media.json", "vics", expected, rows_read=7, rows_empty=1)


# ---------------------------------------------------------------------------------------------
# b. VICS 2.0 (OData v4, cases holding media)
# ---------------------------------------------------------------------------------------------


def vics20(img):
    pdq = hashlib.sha256(b"pdq-sample-img07").hexdigest()
    expected = []

    def media(n, name, category, victim=None, distributed=None, offender=None):
        h = img[name]
        m = {"MediaID": n, "Category": category, "MD5": h["md5"].upper()}
        hashes = ["md5"]
        if name != "img10.png":  # img10 carries its MD5 only
            m["SHA1"] = h["sha1"].upper()
            hashes.append("sha1")
        m["MediaSize"] = h["size"]
        if victim is not None:
            m["VictimIdentified"] = "True" if victim else "False"
        if offender is not None:
            m["OffenderIdentified"] = "True" if offender else "False"
        if distributed is not None:
            m["IsDistributed"] = distributed
        series = None
        tags = ()
        p = None
        if name == "img07.png":
            m["Series"] = series = "Series B"
            m["AlternativeHashes"] = [
                {"HashName": "SHA256", "HashValue": h["sha256"].upper()},
                {"HashName": "PDQ", "HashValue": pdq},
                {"HashName": "eDonkey", "HashValue": "00ff"},
            ]
            hashes.append("sha256")
            p = pdq
        if name == "img08.png":
            m["Tags"] = ["alpha", "beta"]
            tags = ("alpha", "beta")
        cat, code = vics_category(category)
        expected.append(
            record(name, hashes, cat, code, size=h["size"], victim=victim, offender=offender,
                   distributed=distributed, series=series, tags=tags, pdq=p)
        )
        return m

    def case(n, media_list):
        return {
            "CaseID": n,
            "CaseNumber": f"SAMPLE-{n:04d}",
            "ContactName": "Sample Examiner",
            "ContactEmail": "examiner@example.org",
            "SourceApplicationName": "hashsift-samples",
            "SourceApplicationVersion": "1",
            "Media": media_list,
        }

    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases",
        "odata.count": 2,
        "value": [
            case(1, [
                media(1, "img07.png", 1, victim=True, distributed=True, offender=False),
                media(2, "img08.png", 2, victim=False, distributed=False),
            ]),
            case(2, [
                media(3, "img09.png", 1, victim=False, distributed=True),
                media(4, "img10.png", 0),
            ]),
        ],
    }
    write_json("vics-2.0-cases.json", doc)
    return sample("vics-2.0-cases.json", "vics", expected, rows_read=4)


# ---------------------------------------------------------------------------------------------
# c. NSRL RDSv3 (SQLite)
# ---------------------------------------------------------------------------------------------


def rdsv3(img):
    conn = fresh_sqlite("nsrl-rdsv3-minimal.db")
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE FILE(sha256 TEXT, sha1 TEXT, md5 TEXT, crc32 TEXT, file_name TEXT, file_size INTEGER, package_id INTEGER)")
    conn.execute("CREATE TABLE PKG(package_id INTEGER, name TEXT, version TEXT, operating_system_id INTEGER, manufacturer_id INTEGER, language TEXT, application_type TEXT)")
    conn.execute("CREATE TABLE OS(operating_system_id INTEGER, name TEXT, version TEXT, manufacturer_id INTEGER)")
    conn.execute("CREATE TABLE MFG(manufacturer_id INTEGER, name TEXT)")
    conn.execute("CREATE TABLE VERSION(version TEXT, build_set TEXT, build_date TEXT, release_date TEXT, description TEXT)")
    conn.execute("CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5 FROM FILE")
    rows = [
        ("img01.png", "img01.png", 1001),
        ("img02.png", "img02.png", 1001),
        ("img03.png", "img03.png", 1001),
        ("img04.png", "img04.png", 1002),
        ("img02.png", "splash.png", 1002),  # the same file shipped in a second package
    ]
    for name, file_name, pkg in rows:
        h = img[name]
        conn.execute(
            "INSERT INTO FILE VALUES (?, ?, ?, ?, ?, ?, ?)",
            (h["sha256"].upper(), h["sha1"].upper(), h["md5"].upper(), h["crc32"], file_name, h["size"], pkg),
        )
    conn.executemany(
        "INSERT INTO PKG VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (1001, "Sample Suite", "1.0", 189, 801, "English", "Operating System"),
            (1002, "Sample Viewer", "2.1", 189, 802, "English", "Graphics"),
        ],
    )
    conn.execute("INSERT INTO OS VALUES (189, 'Synthetic OS', '1', 801)")
    conn.executemany("INSERT INTO MFG VALUES (?, ?)", [(801, "Example Corp"), (802, "Sample Works")])
    conn.execute(
        "INSERT INTO VERSION VALUES ('2024.12.1', 'Minimal', '2024-12-01', '2024-12-02', "
        "'hashsift synthetic sample, not NSRL data')"
    )
    conn.execute("COMMIT")
    finish_sqlite(conn)
    expected = [
        record(n, ["md5", "sha1", "sha256"], "known_file", size=img[n]["size"])
        for n in ("img01.png", "img02.png", "img03.png", "img04.png")
    ]
    return sample("nsrl-rdsv3-minimal.db", "rdsv3", expected, rows_read=5)


# ---------------------------------------------------------------------------------------------
# d. NSRL RDS 2.x (NSRLFile.txt, plain and zipped)
# ---------------------------------------------------------------------------------------------


def rds2(img):
    lines = ['"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"']
    names = ["img03.png", "img04.png", "img05.png", "img06.png"]
    for i, name in enumerate(names):
        h = img[name]
        lines.append(
            f'"{h["sha1"].upper()}","{h["md5"].upper()}","{h["crc32"]}","{name}",{h["size"]},{1234 + i},"358",""'
        )
    data = ("\r\n".join(lines) + "\r\n").encode("ascii")
    (OUT / "NSRLFile.txt").write_bytes(data)

    zpath = OUT / "nsrl-rds2.zip"
    if zpath.exists():
        zpath.unlink()
    with zipfile.ZipFile(zpath, "w") as zf:
        zi = zipfile.ZipInfo("RDS_sample/NSRLFile.txt", date_time=ZIP_DATE)
        zi.compress_type = zipfile.ZIP_DEFLATED
        zi.create_system = 3  # Unix; the default depends on the platform
        zi.external_attr = 0o100644 << 16
        zf.writestr(zi, data, compresslevel=9)

    expected = [record(n, ["md5", "sha1"], "known_file", size=img[n]["size"]) for n in names]
    return [
        sample("NSRLFile.txt", "nsrl-rds2", expected, rows_read=4),
        sample("nsrl-rds2.zip", "nsrl-rds2", expected, rows_read=4),
    ]


# ---------------------------------------------------------------------------------------------
# e. INTERPOL ICSE export
# ---------------------------------------------------------------------------------------------

FLAG = {"y": True, "yes": True, "t": True, "true": True, "n": False, "no": False, "f": False, "false": False, "": None}


def photodna_value():
    digest = hashlib.sha256(b"photodna-sample").digest()
    return (digest * 5)[:144].hex()


def icse(img):
    header = ("MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
              "Series name;Number of submissions;File Available;Media Type;Baseline")
    pdna = photodna_value()
    # name: (photodna, image id, distributed, victim, offender, series, submissions, available, baseline)
    rows = [
        ("img05.png", pdna, 1001, "y", "t", "n", "Series C", 3, "y", "yes"),
        ("img06.png", "", 1002, "yes", "true", "no", "", 1, "yes", "yes"),
        ("img07.png", "", 1003, "f", "false", "", "", 2, "n", "no"),
        ("img08.png", "", 1004, "", "n", "y", "", 1, "", ""),
    ]
    lines = [header]
    expected = []
    for name, p, image_id, dist, victim, offender, series, subs, avail, baseline in rows:
        h = img[name]
        lines.append(";".join([h["md5"], h["sha1"], p, str(image_id), dist, victim, offender, series,
                               str(subs), avail, "Image", baseline]))
        expected.append(
            record(name, ["md5", "sha1"], "csam", baseline=FLAG[baseline], victim=FLAG[victim],
                   offender=FLAG[offender], distributed=FLAG[dist], series=series or None,
                   photodna=p or None)
        )
    write_text("icse-export.csv", "\n".join(lines) + "\n", newline="\r\n")
    return sample("icse-export.csv", "icse", expected, rows_read=4)


# ---------------------------------------------------------------------------------------------
# f-j. Text formats
# ---------------------------------------------------------------------------------------------

HASHDEEP_PATHS = {
    "img01.png": "/evidence/a, b/img01.png",
    "img02.png": "/evidence/My Pictures/img02.png",
    "img03.png": "/evidence/img03.png",
    "img04.png": "/evidence/x,y,z/img04, copy.png",
    "img05.png": "/evidence/img05.png",
    "img06.png": "/evidence/Holiday 2003/img06.png",
    "img07.png": "/evidence/img07.png",
    "img08.png": "/evidence/one, two, three/img08.png",
    "img09.png": "/evidence/img09.png",
    "img10.png": "/evidence/img10.png",
    "img11.png": "/evidence/a b,c/img11 (1).png",
    "img12.png": "/evidence/img12.png",
}


def hashdeep(img):
    lines = [
        "%%%% HASHDEEP-1.0",
        "%%%% size,md5,sha256,filename",
        "## Invoked from: /evidence",
        "## $ hashdeep -c md5,sha256 -r /evidence",
        "##",
    ]
    for name, path in HASHDEEP_PATHS.items():
        h = img[name]
        lines.append(f"{h['size']},{h['md5']},{h['sha256']},{path}")
    write_text("hashdeep.txt", "\n".join(lines) + "\n")
    expected = [record(n, ["md5", "sha256"], "csam", size=img[n]["size"]) for n in HASHDEEP_PATHS]
    return sample("hashdeep.txt", "hashdeep", expected, rows_read=12, args=["--category", "csam"])


def md5sum(img):
    lines = [
        f"{img['img09.png']['md5']}  img09.png",
        f"{img['img10.png']['md5']} *img10.png",
        "\\" + img["img11.png"]["md5"] + "  dir\\\\img11.png",
        f"{img['img12.png']['md5']}  name with spaces.png",
    ]
    write_text("md5sum.txt", "\n".join(lines) + "\n")
    expected = [record(n, ["md5"], "uncategorised") for n in ("img09.png", "img10.png", "img11.png", "img12.png")]
    return sample("md5sum.txt", "digest-list", expected, rows_read=4)


def sha256_bsd(img):
    names = ["img01.png", "img02.png", "img03.png"]
    write_text("sha256-bsd.txt", "".join(f"SHA256 ({n}) = {img[n]['sha256']}\n" for n in names))
    expected = [record(n, ["sha256"], "non_pertinent") for n in names]
    return sample("sha256-bsd.txt", "digest-list", expected, rows_read=3, args=["--category", "non_pertinent"])


def bare_sha1(img):
    text = "# comment\n" + img["img04.png"]["sha1"] + "\n" + img["img05.png"]["sha1"] + "\n\n" + img["img06.png"]["sha1"] + "\n"
    write_text("bare-sha1.txt", text)
    expected = [record(n, ["sha1"], "uncategorised") for n in ("img04.png", "img05.png", "img06.png")]
    return sample("bare-sha1.txt", "digest-list", expected, rows_read=3)


def hashkeeper(img):
    f = open(OUT / "hashkeeper.hsh", "w", encoding="ascii", newline="")
    w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writerow(["file_id", "hashset_id", "file_name", "directory", "hash", "file_size", "date_modified",
                "time_modified", "time_zone", "comments", "date_accessed", "time_accessed"])
    rows = [
        ("img07.png", "C:\\Pictures\\", "01/02/2003", "10:11:12"),
        ("img08.png", "C:\\Pictures\\Set 2\\", "02/03/2003", "13:14:15"),
        ("img09.png", "C:\\Pictures\\", "12/31/2002", "23:59:58"),
    ]
    for i, (name, directory, date, time) in enumerate(rows, start=1):
        h = img[name]
        w.writerow([i, 1, name, directory, h["md5"].upper(), h["size"], date, time, "PST", "", date, time])
    f.close()
    expected = [record(n, ["md5"], "uncategorised", size=img[n]["size"]) for n, _, _, _ in rows]
    return sample("hashkeeper.hsh", "hashkeeper", expected, rows_read=3)


# ---------------------------------------------------------------------------------------------
# k. EnCase legacy .hash
# ---------------------------------------------------------------------------------------------


def encase(img):
    names = ["img10.png", "img11.png", "img12.png"]
    data = bytearray(bytes.fromhex("48415348 0D0AFF00 02000000 01000000"))
    data += struct.pack("<I", len(names))
    data += b"hashsift sample".ljust(0x50, b"\x00")
    data += b"\x00" * (0x480 - len(data))
    for n in names:
        data += bytes.fromhex(img[n]["md5"]) + b"\x00\x00"
    assert len(data) == 0x480 + 18 * len(names)
    (OUT / "encase.hash").write_bytes(bytes(data))
    expected = [record(n, ["md5"], "uncategorised") for n in names]
    return sample("encase.hash", "encase", expected, rows_read=3)


# ---------------------------------------------------------------------------------------------
# l. Autopsy / TSK SQLite hash database (.kdb)
# ---------------------------------------------------------------------------------------------


def kdb(img):
    conn = fresh_sqlite("autopsy.kdb")
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE hashes(id INTEGER PRIMARY KEY AUTOINCREMENT, md5 BINARY(16) UNIQUE, sha1 BINARY(20), sha2_256 BINARY(32))")
    conn.execute("CREATE TABLE file_names(id INTEGER, name TEXT NOT NULL, PRIMARY KEY(id, name))")
    conn.execute("CREATE TABLE comments(id INTEGER, comment TEXT NOT NULL, PRIMARY KEY(id, comment))")
    conn.execute("CREATE TABLE properties(name TEXT, value TEXT)")
    conn.execute("INSERT INTO properties VALUES ('Schema Version', '1')")
    names = ["img01.png", "img02.png", "img03.png"]
    for i, n in enumerate(names, start=1):
        h = img[n]
        sha1 = bytes.fromhex(h["sha1"]) if n == "img01.png" else None
        conn.execute("INSERT INTO hashes(id, md5, sha1, sha2_256) VALUES (?, ?, ?, NULL)", (i, bytes.fromhex(h["md5"]), sha1))
        conn.execute("INSERT INTO file_names VALUES (?, ?)", (i, n))
    conn.execute("INSERT INTO comments VALUES (1, 'synthetic sample')")
    conn.execute("COMMIT")
    finish_sqlite(conn)
    expected = [record("img01.png", ["md5", "sha1"], "uncategorised")]
    expected += [record(n, ["md5"], "uncategorised") for n in names[1:]]
    return sample("autopsy.kdb", "kdb", expected, rows_read=3)


# ---------------------------------------------------------------------------------------------
# m. Generic CSV needing column and value maps
# ---------------------------------------------------------------------------------------------


def generic_csv(img):
    grades = {"Cat A": "csam", "Cat B": "csem", "Cat X": "cgi"}
    rows = [
        ("img01.png", "Cat A", "", "x|y"),
        ("img02.png", "Cat B", "Series D", ""),
        ("img03.png", "Cat A", "", ""),
        ("img04.png", "Cat X", "", ""),
    ]
    f = open(OUT / "generic.csv", "w", encoding="ascii", newline="")
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["Hash Value", "SHA-256", "Grade", "Series", "Tags", "Size"])
    expected = []
    for name, grade, series, tags in rows:
        h = img[name]
        w.writerow([h["md5"], h["sha256"], grade, series, tags, h["size"]])
        expected.append(
            record(name, ["md5", "sha256"], grades[grade], grade, size=h["size"], series=series or None,
                   tags=tags.split("|") if tags else ())
        )
    f.close()
    args = ["--map-column", "md5=Hash Value"]
    for grade, category in grades.items():
        args += ["--map-value", f"{grade}={category}"]
    return sample("generic.csv", "csv", expected, rows_read=4, args=args)


# ---------------------------------------------------------------------------------------------


def main():
    img = make_images()
    samples = [vics13(img), vics20(img), rdsv3(img)]
    samples += rds2(img)
    samples += [icse(img), hashdeep(img), md5sum(img), sha256_bsd(img), bare_sha1(img), hashkeeper(img),
                encase(img), kdb(img), generic_csv(img)]
    images = {n: {k: v for k, v in h.items() if k in ("md5", "sha1", "sha256", "size")} for n, h in img.items()}
    expected = {"images": images, "samples": samples}
    text = pretty(expected) + "\n"
    assert json.loads(text) == expected
    write_text("expected.json", text)
    for p in sorted(OUT.rglob("*")):
        if p.is_file() and p.name not in ("make_samples.py", "README.md"):
            assert p.stat().st_size < 20_000, f"{p} is too large"


if __name__ == "__main__":
    main()
