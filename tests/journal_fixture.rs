//! A journal written by an earlier release still resumes (`tests/fixtures/journal-0.1.0`, made
//! as its README says). Its records are moved onto copies of the evidence they describe (new
//! paths, inodes and times, written here with the journal's framing and BLAKE3 checks), and
//! `scan --resume` must carry over every content recorded as read and report what a fresh scan
//! of the copies reports.
//!
//! A journal resumes only with the release that began it (a report names one version; the
//! refusal is tested in `scan/journal/tests.rs`), so the start record's `tool_version` is set to
//! this build's: what is tested is that the bytes an earlier release wrote are still read the
//! same. A change of those bytes must change the journal's format number, and this test then
//! fails until the fixture is remade or the old format is read.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The evidence folder the journal was written against.
const OLD_ROOT: &[u8] = b"/tmp/fx/ev";
/// The contents it records as read without error (`locked.bin` could not be opened).
const CARRIED: [&str; 5] = [
    "broken.jpg",
    "data.bin",
    "empty.dat",
    "notes.txt",
    "photo.png",
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-0.1.0")
}

/// The journal's preamble and record payloads, each record's check verified.
fn split(bytes: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let (preamble, mut rest) = bytes.split_at(20);
    assert_eq!(&preamble[..16], b"hashsift-journal");
    let mut payloads = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        let (payload, check) = (&rest[4..4 + len], &rest[4 + len..4 + len + 16]);
        assert_eq!(
            check,
            &blake3::hash(payload).as_bytes()[..16],
            "fixture damaged"
        );
        payloads.push(payload);
        rest = &rest[4 + len + 16..];
    }
    (preamble, payloads)
}

fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend((payload.len() as u32).to_le_bytes());
    out.extend(payload);
    out.extend(&blake3::hash(payload).as_bytes()[..16]);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The start record (`S` and JSON) with its evidence root and working folder replaced, and
/// the version that wrote it set to this build's.
fn moved_start(payload: &[u8], root: &Path, cwd: &Path) -> Vec<u8> {
    assert_eq!(payload[0], b'S');
    let mut v: Value = serde_json::from_slice(&payload[1..]).unwrap();
    assert_eq!(v["tool_version"], "0.1.0");
    v["tool_version"] = Value::String(env!("CARGO_PKG_VERSION").to_owned());
    assert_eq!(v["roots"], serde_json::json!([hex(OLD_ROOT)]));
    v["roots"] = serde_json::json!([hex(root.as_os_str().as_bytes())]);
    v["cwd"] = Value::String(hex(cwd.as_os_str().as_bytes()));
    let mut out = vec![b'S'];
    out.extend(serde_json::to_vec(&v).unwrap());
    out
}

/// A content record (`C`, the path, inode, size, modification and change times, then what
/// hashing found) with its path moved under `root` and the identity of the file there.
fn moved_content(payload: &[u8], root: &Path) -> Vec<u8> {
    assert_eq!(payload[0], b'C');
    let len = u32::from_le_bytes(payload[1..5].try_into().unwrap()) as usize;
    let old = &payload[5..5 + len];
    let name = old.strip_prefix(OLD_ROOT).unwrap();
    let mut path = root.as_os_str().as_bytes().to_vec();
    path.extend(name);
    let meta = std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(&path)).unwrap();
    let mut at = 5 + len;
    let size = &payload[at + 8..at + 16];
    assert_eq!(u64::from_le_bytes(size.try_into().unwrap()), meta.len());
    at += 16;
    for _ in 0..2 {
        // A time: a presence flag, then seconds (8 bytes) and nanoseconds (4).
        at += if payload[at] == 1 { 13 } else { 1 };
    }
    let mut out = vec![b'C'];
    out.extend((path.len() as u32).to_le_bytes());
    out.extend(&path);
    out.extend(meta.ino().to_le_bytes());
    out.extend(size);
    for (secs, nanos) in [
        (meta.mtime(), meta.mtime_nsec()),
        (meta.ctime(), meta.ctime_nsec()),
    ] {
        out.push(1);
        out.extend((secs as u64).to_le_bytes());
        out.extend((nanos as u32).to_le_bytes());
    }
    out.extend(&payload[at..]);
    out
}

fn items(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("items.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "item")
        .collect()
}

#[test]
fn a_journal_of_hashsift_0_1_0_resumes_and_carries_over_what_it_recorded() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("ev");
    std::fs::create_dir(&root).unwrap();
    for entry in std::fs::read_dir(fixture().join("evidence")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), root.join(entry.file_name())).unwrap();
    }
    let db = work.path().join("known.db");
    let out = common::hashsift()
        .args(["db", "init", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    common::assert_exit(&out, 0);

    let old = std::fs::read(fixture().join("journal.hsj")).unwrap();
    let (preamble, payloads) = split(&old);
    let kinds: String = payloads.iter().map(|p| p[0] as char).collect();
    assert_eq!(kinds, "SCCCCCCRC", "the fixture's records");
    let mut journal = preamble.to_vec();
    for p in payloads {
        let moved = match p[0] {
            b'S' => moved_start(p, &root, work.path()),
            b'C' => moved_content(p, &root),
            _ => p.to_vec(),
        };
        frame(&mut journal, &moved);
    }
    let resumed = work.path().join("resumed");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&resumed)
        .unwrap();
    std::fs::write(resumed.join("journal.hsj"), &journal).unwrap();

    let mut cmd = common::hashsift();
    cmd.args(["scan", "-q", "--resume"])
        .arg(&resumed)
        .arg("--db")
        .arg(&db);
    common::assert_exit(&common::run_with_timeout(cmd, Duration::from_secs(120)), 0);

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(resumed.join("manifest.json")).unwrap()).unwrap();
    let sessions = manifest["resumed"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "the fixture's session and this one");
    for s in sessions {
        assert_eq!(s["contents_carried_over"], CARRIED.len(), "{s}");
        assert_eq!(s["contents_changed_since"], 0, "{s}");
    }
    assert!(!resumed.join("journal.hsj").exists());

    // What was carried over is what the files hold (coreutils), and the report is a fresh
    // scan's, which reads every file.
    let got = items(&resumed);
    for name in CARRIED {
        let item = got
            .iter()
            .find(|v| v["path"].as_str().unwrap().ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("{name} reported"));
        for (key, tool) in [
            ("md5", "md5sum"),
            ("sha1", "sha1sum"),
            ("sha256", "sha256sum"),
        ] {
            assert_eq!(
                item[key].as_str().unwrap(),
                common::oracle_digest(tool, &root.join(name)),
                "{name} {key}"
            );
        }
    }
    let fresh = work.path().join("fresh");
    common::assert_exit(&common::scan_quietly(&db, &fresh, &root), 0);
    assert_eq!(
        got,
        items(&fresh),
        "the resumed report against a fresh scan's"
    );
    let photo = got
        .iter()
        .find(|v| v["path"].as_str().unwrap().ends_with("/photo.png"));
    assert!(
        photo.unwrap()["pdq"].is_string(),
        "the PNG's PDQ hash carried over"
    );
    let broken = got
        .iter()
        .find(|v| v["path"].as_str().unwrap().ends_with("/broken.jpg"));
    assert!(
        broken.unwrap().get("pdq_error").is_some(),
        "the JPEG's decode error carried over"
    );
}
