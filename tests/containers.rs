//! The container readers against archives written by Python's zipfile, tarfile, gzip, bz2 and
//! lzma (and `zstd`, `7z` when installed): every member listed once, nested ones three deep,
//! with the bytes Python digested (`tests/support/make_archives.py` computes MD5, SHA-1 and
//! SHA-256 with hashlib; the test digests what the readers yield with the RustCrypto crates).
//! And hostile containers: cut short, a bomb against the budget, too many members, an
//! encrypted member, names that climb out.

mod common;

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;

use hashsift::container::{
    self, Budget, Entry, Format, Limits, Member, Source, Stop, Visit, stream_name,
};
use md5::Digest as _;

/// What a walk over a container found: each file member's chain and digests, the other
/// members, and the stops met (with the chain of the container each ended).
#[derive(Default)]
struct Found {
    files: BTreeMap<String, [String; 3]>,
    others: Vec<(String, Member)>,
    stops: Vec<(String, Stop)>,
}

/// A visitor that reads each file member whole, digests it, and opens it when it is a
/// container (in memory), as the scan will.
struct Walker<'a> {
    found: &'a mut Found,
    budget: &'a Budget,
    /// The chain of the container being walked, ending in `!/` (empty at the top).
    prefix: String,
    /// The name of the container being walked (for a compressed file's stream).
    container: Vec<u8>,
    depth: u32,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Visit for Walker<'_> {
    fn member(&mut self, member: Member, content: Option<&mut dyn Read>) -> Result<(), Stop> {
        let name = if member.name.is_empty() {
            stream_name(&self.container)
        } else {
            member.name.clone()
        };
        let chain = format!("{}{}", self.prefix, String::from_utf8_lossy(&name));
        let Some(content) = content else {
            self.found.others.push((chain, member));
            return Ok(());
        };
        let mut bytes = Vec::new();
        if let Err(e) = content.read_to_end(&mut bytes) {
            if self.budget.exhausted() {
                return Err(self.budget.bytes_stop());
            }
            self.found
                .others
                .push((format!("{chain} (error: {e})"), member));
            return Ok(());
        }
        let d = [
            hex(&md5::Md5::digest(&bytes)),
            hex(&sha1::Sha1::digest(&bytes)),
            hex(&sha2::Sha256::digest(&bytes)),
        ];
        assert!(
            self.found.files.insert(chain.clone(), d).is_none(),
            "{chain} listed twice"
        );
        if let Some(format) = Format::detect(&bytes[..bytes.len().min(container::HEAD)])
            && self.depth < self.budget.limits().depth
        {
            let mut inner = Walker {
                found: &mut *self.found,
                budget: self.budget,
                prefix: format!("{chain}!/"),
                container: name,
                depth: self.depth + 1,
            };
            let mut cursor = Cursor::new(bytes);
            if let Err(stop) = container::expand(
                format,
                Source::Seekable(&mut cursor),
                self.budget,
                &mut inner,
            ) {
                if matches!(stop, Stop::Limit(_)) && self.budget.exhausted() {
                    return Err(stop);
                }
                self.found.stops.push((chain, stop));
            }
        }
        Ok(())
    }
}

/// Walks the container file at `path` with `limits`, as a stream when `streamed`.
fn walk(path: &Path, limits: Limits, streamed: bool) -> Found {
    let bytes = std::fs::read(path).unwrap();
    let format = Format::detect(&bytes[..bytes.len().min(container::HEAD)])
        .unwrap_or_else(|| panic!("{} is a container", path.display()));
    let budget = Budget::new(limits, bytes.len() as u64);
    let mut found = Found::default();
    let mut walker = Walker {
        found: &mut found,
        budget: &budget,
        prefix: String::new(),
        container: path.file_name().unwrap().as_encoded_bytes().to_vec(),
        depth: 1,
    };
    let mut cursor = Cursor::new(bytes);
    let source = if streamed {
        Source::Stream(&mut cursor)
    } else {
        Source::Seekable(&mut cursor)
    };
    if let Err(stop) = container::expand(format, source, &budget, &mut walker) {
        found.stops.push((String::new(), stop));
    }
    found
}

#[test]
fn every_member_of_every_format_is_read_with_the_bytes_python_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let expected = common::make_archives(dir.path(), &[]);
    let archives = expected["archives"].as_object().unwrap();
    for (archive, tool) in [("x.tar.zst", "zstd"), ("files.7z", "7zz or 7z")] {
        if !archives.contains_key(archive) {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI installs {tool} (Debian's zstd and 7zip)"
            );
            eprintln!("SKIPPED: {archive} (no {tool} on the PATH)");
        }
    }
    let mut formats = BTreeMap::new();
    for (name, members) in archives {
        let path = dir.path().join(name);
        let head = std::fs::read(&path).unwrap();
        let format = Format::detect(&head[..head.len().min(container::HEAD)]).unwrap();
        *formats.entry(format.name()).or_insert(0) += 1;
        let want: BTreeMap<String, [String; 3]> = members
            .as_object()
            .unwrap()
            .iter()
            .map(|(chain, d)| {
                let s = |k: &str| d[k].as_str().unwrap().to_owned();
                (chain.clone(), [s("md5"), s("sha1"), s("sha256")])
            })
            .collect();
        // Seekable, and (for all but 7z, which is then read into memory) as a stream.
        for streamed in [false, true] {
            let found = walk(&path, Limits::default(), streamed);
            assert_eq!(found.files, want, "{name} (streamed: {streamed})");
            assert!(
                found.stops.is_empty(),
                "{name} (streamed: {streamed}): {:?}",
                found.stops
            );
        }
    }
    for format in ["zip", "tar", "gzip", "bzip2", "xz"] {
        assert!(
            formats.contains_key(format),
            "an archive of {format}: {formats:?}"
        );
    }
}

#[test]
fn directories_links_times_and_long_names_are_described() {
    let dir = tempfile::tempdir().unwrap();
    common::make_archives(dir.path(), &[]);
    let found = walk(&dir.path().join("pax.tar"), Limits::default(), true);
    let link = found
        .others
        .iter()
        .find(|(chain, _)| chain == "link-to-a")
        .expect("the symlink is listed");
    assert_eq!(link.1.entry, Entry::Symlink(b"photos/a.bin".to_vec()));
    assert!(
        found
            .others
            .iter()
            .any(|(chain, m)| chain == "photos/" && m.entry == Entry::Dir)
    );
    // A name longer than the limit is cut, and says how long it was.
    let limits = Limits {
        name_bytes: 40,
        ..Limits::default()
    };
    let found = walk(&dir.path().join("gnu.tar"), limits, false);
    let cut: Vec<&String> = found.files.keys().filter(|c| c.len() == 40).collect();
    assert_eq!(cut.len(), 1, "{:?}", found.files.keys());
    // Times as stored: the zip's DOS time, the tar's seconds.
    let zip = walk(&dir.path().join("deflate.zip"), Limits::default(), false);
    assert!(zip.others.iter().any(|(_, m)| m.entry == Entry::Dir));
    let mut tar_times = Vec::new();
    let bytes = std::fs::read(dir.path().join("ustar.tar")).unwrap();
    let budget = Budget::new(Limits::default(), bytes.len() as u64);
    struct Times<'a>(&'a mut Vec<Option<i64>>);
    impl Visit for Times<'_> {
        fn member(&mut self, m: Member, _: Option<&mut dyn Read>) -> Result<(), Stop> {
            self.0.push(m.mtime.map(|t| t.secs));
            Ok(())
        }
    }
    container::expand(
        Format::Tar,
        Source::Stream(&mut Cursor::new(&bytes)),
        &budget,
        &mut Times(&mut tar_times),
    )
    .unwrap();
    assert!(
        tar_times
            .iter()
            .skip(1)
            .take(4)
            .all(|t| *t == Some(1_600_000_000))
    );
    let mut zip_times = Vec::new();
    let bytes = std::fs::read(dir.path().join("stored.zip")).unwrap();
    container::expand(
        Format::Zip,
        Source::Seekable(&mut Cursor::new(&bytes)),
        &budget,
        &mut Times(&mut zip_times),
    )
    .unwrap();
    // 2020-05-17 13:45:30, read as UTC (`date -u -d '2020-05-17 13:45:30' +%s`).
    assert_eq!(zip_times[1], Some(1_589_723_130));
}

#[test]
fn a_container_cut_short_yields_what_it_holds_before_the_cut_and_one_stop() {
    let dir = tempfile::tempdir().unwrap();
    let expected = common::make_archives(dir.path(), &[]);
    for (name, keep) in [("stored.zip", 0.7), ("ustar.tar", 0.5), ("x.tar.gz", 0.6)] {
        let whole = std::fs::read(dir.path().join(name)).unwrap();
        let cut = dir.path().join(format!("cut-{name}"));
        std::fs::write(&cut, &whole[..(whole.len() as f64 * keep) as usize]).unwrap();
        let found = walk(&cut, Limits::default(), false);
        // What it listed is right, byte for byte; a member the cut went through is not
        // among the files (its read failed).
        let want = expected["archives"][name].as_object().unwrap();
        for (chain, d) in &found.files {
            assert_eq!(
                d[2],
                want[chain]["sha256"].as_str().unwrap(),
                "{name}: {chain}"
            );
        }
        if name == "x.tar.gz" {
            // One stream, cut: the stream's own read fails, and says so.
            assert!(found.stops.is_empty(), "{:?}", found.stops);
            assert!(
                found
                    .others
                    .iter()
                    .any(|(c, _)| c.starts_with("cut-x.tar (error:")),
                "{:?}",
                found.others
            );
        } else {
            assert!(!found.files.is_empty(), "{name}: members before the cut");
            assert_eq!(found.stops.len(), 1, "{name}: {:?}", found.stops);
            assert!(
                matches!(found.stops[0].1, Stop::Damaged(_)),
                "{name}: {:?}",
                found.stops
            );
        }
    }
}

#[test]
fn a_bomb_stops_at_the_budget_and_nested_ones_share_it() {
    // 64 MiB of zeros deflates to about 64 KiB; the budget of a 64 KiB file at 100x with a
    // floor of 1 MiB is 6.4 MiB.
    let zeros = vec![0u8; 64 << 20];
    let mut inner = Vec::new();
    {
        let mut w = zip::ZipWriter::new(Cursor::new(&mut inner));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("zeros.bin", o).unwrap();
        std::io::Write::write_all(&mut w, &zeros).unwrap();
        w.finish().unwrap();
    }
    // Sixteen copies of it in an outer zip (stored): 42.zip in small.
    let mut outer = Vec::new();
    {
        let mut w = zip::ZipWriter::new(Cursor::new(&mut outer));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for i in 0..16 {
            w.start_file(format!("layer{i}.zip"), o).unwrap();
            std::io::Write::write_all(&mut w, &inner).unwrap();
        }
        w.finish().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.zip");
    std::fs::write(&path, &outer).unwrap();
    let limits = Limits {
        ratio: 100,
        ratio_floor: 1 << 20,
        ..Limits::default()
    };
    let allowed = Budget::new(limits, outer.len() as u64).allowed();
    let found = walk(&path, limits, false);
    assert_eq!(found.stops.len(), 1, "{:?}", found.stops);
    let (_, stop) = &found.stops[0];
    assert!(
        matches!(stop, Stop::Limit(s) if s.contains("expansion stopped")),
        "{stop:?}"
    );
    // The budget (about 100 MB) holds one zeros.bin of 64 MiB, not two.
    let whole = found
        .files
        .keys()
        .filter(|c| c.ends_with("zeros.bin"))
        .count();
    assert_eq!(whole, 1, "{:?}", found.files.keys());
    assert!(allowed > 64 << 20 && allowed < 128 << 20, "{allowed}");
}

#[test]
fn too_many_members_stop_at_the_limit() {
    let mut tar = tar::Builder::new(Vec::new());
    for i in 0..50 {
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_cksum();
        tar.append_data(&mut h, format!("m{i}"), &b"x"[..]).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.tar");
    std::fs::write(&path, tar.into_inner().unwrap()).unwrap();
    let limits = Limits {
        members: 10,
        ..Limits::default()
    };
    let found = walk(&path, limits, true);
    assert_eq!(found.files.len(), 10);
    assert!(
        matches!(&found.stops[..], [(_, Stop::Limit(s))] if s.contains("more than 10 members"))
    );
}

#[test]
fn an_encrypted_member_is_listed_unread_and_hostile_names_as_written() {
    // Python writes the zip; the encryption flag (bit 0 of the general-purpose flags) is set
    // here in both headers, as an encrypting tool leaves it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.zip");
    let script = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("../../etc/evil", b"climbs out")
    z.writestr("/abs/path", b"absolute")
    z.writestr("secret.bin", b"would be encrypted")
"#;
    let status = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let mut bytes = std::fs::read(&path).unwrap();
    let name = b"secret.bin";
    let mut flagged = 0;
    for at in 0..bytes.len() - 4 {
        let local = &bytes[at..at + 4] == b"PK\x03\x04" && bytes[at + 30..].starts_with(name);
        let central = &bytes[at..at + 4] == b"PK\x01\x02" && bytes[at + 46..].starts_with(name);
        if local || central {
            bytes[at + if local { 6 } else { 8 }] |= 1;
            flagged += 1;
        }
    }
    assert_eq!(flagged, 2);
    std::fs::write(&path, &bytes).unwrap();
    for streamed in [false, true] {
        let found = walk(&path, Limits::default(), streamed);
        let names: Vec<&String> = found.files.keys().collect();
        assert_eq!(
            names,
            ["../../etc/evil", "/abs/path"],
            "as written, never resolved"
        );
        if streamed {
            // Front to back, an encrypted member hides where the next one starts: the ZIP
            // stops there, saying why.
            assert!(
                matches!(&found.stops[..], [(_, Stop::Unreadable(s))] if s.contains("member 3 is encrypted")),
                "{:?}",
                found.stops
            );
        } else {
            assert!(found.stops.is_empty(), "{:?}", found.stops);
            let secret = found
                .others
                .iter()
                .find(|(c, _)| c == "secret.bin")
                .expect("the encrypted member is listed");
            assert!(secret.1.encrypted);
        }
    }
    // Nothing was written beside the archive.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn compressed_files_are_named_by_what_they_store_or_by_their_name() {
    assert_eq!(stream_name(b"x.tar.gz"), b"x.tar");
    assert_eq!(stream_name(b"X.TGZ"), b"X.tar");
    assert_eq!(stream_name(b"log.xz"), b"log");
    assert_eq!(stream_name(b"data"), b"data");
    assert_eq!(stream_name(b".gz"), b".gz");
    // gzip may store the original name (as `gzip` does by default): it is the member's.
    let mut out = Vec::new();
    {
        let mut w = flate2::GzBuilder::new()
            .filename("stored-name.txt")
            .write(&mut out, flate2::Compression::default());
        std::io::Write::write_all(&mut w, b"hello").unwrap();
        w.finish().unwrap();
    }
    let budget = Budget::new(Limits::default(), out.len() as u64);
    struct Names(Vec<Vec<u8>>);
    impl Visit for Names {
        fn member(&mut self, m: Member, _: Option<&mut dyn Read>) -> Result<(), Stop> {
            self.0.push(m.name);
            Ok(())
        }
    }
    let mut names = Names(Vec::new());
    container::expand(
        Format::Gzip,
        Source::Stream(&mut Cursor::new(out)),
        &budget,
        &mut names,
    )
    .unwrap();
    assert_eq!(names.0, [b"stored-name.txt".to_vec()]);
}

/// `hash --archives`: every member of every archive in a folder is listed as
/// `ARCHIVE!/NAME` with Python's digests and the container it came from; each archive keeps its
/// own digests (coreutils) and says how many members it held; nothing is written beside the
/// evidence and the evidence is unchanged. Without `--archives` no member is listed.
#[test]
fn hash_with_archives_lists_every_member_with_the_digests_python_computed() {
    let work = tempfile::tempdir().unwrap();
    let ev = work.path().join("ev");
    let expected = common::make_archives(&ev, &[]);
    std::fs::remove_file(ev.join("expected.json")).unwrap();
    let before = common::content_digests(&common::all_paths(&ev));
    let out = work.path().join("listing.jsonl");
    let mut cmd = common::hashsift();
    cmd.args(["hash", "-q", "--archives", "--format", "jsonl", "-o"])
        .arg(&out)
        .arg(&ev);
    let o = common::run_with_timeout(cmd, std::time::Duration::from_secs(120));
    common::assert_exit(&o, 0);
    let (_, items, end) = common::parse_jsonl(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(end["complete"], true);
    let root = ev.as_os_str().as_encoded_bytes();
    let mut listed = 0;
    for (archive, members) in expected["archives"].as_object().unwrap() {
        let archive_path = [root, b"/", archive.as_bytes()].concat();
        let own = &items[&archive_path];
        assert_eq!(
            own["sha256"].as_str().unwrap(),
            common::oracle_digest("sha256sum", &ev.join(archive)),
            "{archive} keeps its own digest"
        );
        assert!(own["archive"]["members"].as_u64().unwrap() >= 1, "{own}");
        assert!(own["archive"].get("stopped").is_none(), "{own}");
        for (chain, d) in members.as_object().unwrap() {
            let path = [&archive_path[..], b"!/", chain.as_bytes()].concat();
            let item = items
                .get(&path)
                .unwrap_or_else(|| panic!("{} listed", String::from_utf8_lossy(&path)));
            assert_eq!(item["kind"], "member");
            for alg in ["md5", "sha1", "sha256"] {
                assert_eq!(item[alg], d[alg], "{chain} {alg}");
            }
            let container = common::exact_bytes(item, "container");
            assert!(
                path.starts_with(&container) && items.contains_key(&container),
                "{chain}: its container is listed"
            );
            listed += 1;
        }
    }
    // Every member listed is one Python wrote (directories and links aside).
    let members = items
        .values()
        .filter(|v| v["kind"] == "member" && v.get("sha256").is_some())
        .count();
    assert_eq!(members, listed);
    assert_eq!(
        common::content_digests(&common::all_paths(&ev)),
        before,
        "the evidence is as it was, and nothing was added to it"
    );

    let plain = work.path().join("plain.jsonl");
    common::assert_exit(&common::hash_quiet("jsonl", &plain, &[&ev]), 0);
    let (_, items, _) = common::parse_jsonl(&std::fs::read_to_string(&plain).unwrap());
    assert!(items.values().all(|v| v["kind"] != "member"));
}
