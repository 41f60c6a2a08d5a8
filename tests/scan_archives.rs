//! `scan` over archives Python wrote (`tests/support/make_archives.py`, every format, nested
//! three deep): every member listed once with Python's digests and graded by known sets made
//! from those digests; a picture in a ZIP suggested by PDQ near the reference's hash of its
//! pixels (PyPI's `pdqhash`); each container saying the most severe grade among its members at
//! any depth; a known archive graded as itself with its members still listed; nothing written
//! outside the report directory, the evidence unchanged; `--no-archives` opening nothing.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use md5::Digest as _;
use serde_json::Value;

/// A picture with large flat shapes and edges (PDQ's quality is high on it), drawn from `seed`.
fn picture(seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(400, 300, |x, y| {
        let band = (x / 50 + 3 * (y / 60) + seed) % 7;
        let ring = ((x as i32 - 200).pow(2) + (y as i32 - 150).pow(2)) / 2_000;
        image::Rgb([
            (band * 36) as u8,
            (ring as u32 * 23 % 256) as u8,
            ((band * 11 + ring as u32 * 7) % 256) as u8,
        ])
    })
}

/// The reference's PDQ hash and quality of `img`'s pixels.
fn reference_pdq(python: &str, dir: &Path, img: &image::RgbImage) -> (String, u32) {
    let row = &common::pdq_reference_rows(python, dir, std::slice::from_ref(img))[0];
    (row[1].clone(), row[2].parse().unwrap())
}

/// `hex` with the lowest bit of each of its first `n` hex digits flipped: `n` bits away.
fn flipped(hex: &str, n: usize) -> String {
    hex.char_indices()
        .map(|(i, c)| {
            let v = c.to_digit(16).unwrap();
            let v = if i < n { v ^ 1 } else { v };
            char::from_digit(v, 16).unwrap()
        })
        .collect()
}

fn path_key(root: &Path, rest: &str) -> Vec<u8> {
    [root.as_os_str().as_encoded_bytes(), b"/", rest.as_bytes()].concat()
}

#[test]
fn a_scan_grades_every_member_and_each_container_says_what_it_holds() {
    let work = tempfile::tempdir().unwrap();
    let ev = work.path().join("ev");
    let pics = work.path().join("pics");
    std::fs::create_dir_all(&pics).unwrap();
    let img = picture(3);
    img.save(pics.join("holiday.png")).unwrap();
    let expected = common::make_archives(&ev, &[&pics.join("holiday.png")]);
    std::fs::remove_file(ev.join("expected.json")).unwrap();
    let archives = expected["archives"].as_object().unwrap();
    let md5 = |archive: &str, chain: &str| {
        archives[archive][chain]["md5"]
            .as_str()
            .unwrap_or_else(|| panic!("{archive}!/{chain} made"))
            .to_owned()
    };

    // Known sets from Python's digests: the stream inside two-members.gz is csam, the tar
    // inside nested.zip's tar.gz csem; stored.zip itself (coreutils' MD5) a known file, and
    // it is also the deepest zip inside nested.zip.
    let db = work.path().join("known.db");
    let sets = work.path().join("sets");
    std::fs::create_dir_all(&sets).unwrap();
    let csam = md5("two-members.gz", "two-members");
    let csem = md5("nested.zip", "inner.tar.gz!/inner.tar");
    let known_zip = common::oracle_digest("md5sum", &ev.join("stored.zip"));
    assert_eq!(
        md5("nested.zip", "inner.tar.gz!/inner.tar!/deep.zip"),
        known_zip,
        "the deepest zip of nested.zip is stored.zip's bytes"
    );
    for (name, hash, category) in [
        ("unit-csam", &csam, "csam"),
        ("unit-csem", &csem, "csem"),
        ("reference", &known_zip, "known_file"),
    ] {
        let set = sets.join(format!("{name}.md5"));
        std::fs::write(&set, format!("{hash}  {name}\n")).unwrap();
        common::import_graded(&db, &set, name, category);
    }
    // The picture's PDQ hash as the reference computes it, six bits off, known as csam.
    let python = common::pdq_python();
    let reference = python
        .as_deref()
        .map(|py| reference_pdq(py, work.path(), &img));
    if let Some((hash, quality)) = &reference {
        assert!(*quality >= 50, "the test picture is hashable: {quality}");
        let set = sets.join("unit-pdq.txt");
        std::fs::write(&set, format!("{},{quality}\n", flipped(hash, 6))).unwrap();
        common::import_graded(&db, &set, "unit-pdq", "csam");
    }

    let paths = common::all_paths(&ev);
    let contents = common::content_digests(&paths);
    // Access times a day old: a read that updated them (relatime) would show.
    common::age_access_times(&paths);
    let times = common::stat_snapshot(&paths);
    // Anything written to a temporary file during the scan would land here.
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = work.path().join("report");
    let mut cmd = common::scan_cmd(&db, &out, &ev);
    cmd.env("TMPDIR", &tmp);
    let o = common::run_with_timeout(cmd, std::time::Duration::from_secs(300));
    common::assert_exit(&o, 1);
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "nothing written to the temporary folder"
    );
    common::assert_untouched(&ev, &paths, &times, &contents);
    let mut report: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    report.sort();
    assert_eq!(
        report,
        [
            "items.csv",
            "items.jsonl",
            "manifest.json",
            "summary.html",
            "summary.json",
            "vics.json"
        ],
        "the report directory holds the report only"
    );

    let (_, items, end) =
        common::parse_jsonl(&std::fs::read_to_string(out.join("items.jsonl")).unwrap());
    assert_eq!(end["complete"], true);
    // Every member Python wrote, with its digests and the grade its MD5 has in the sets.
    let mut python_members = 0;
    for (archive, members) in archives {
        for (chain, d) in members.as_object().unwrap() {
            let path = path_key(&ev, &format!("{archive}!/{chain}"));
            let item = items
                .get(&path)
                .unwrap_or_else(|| panic!("{archive}!/{chain} listed"));
            assert_eq!(item["kind"], "member", "{item}");
            for alg in ["md5", "sha1", "sha256"] {
                assert_eq!(item[alg], d[alg], "{archive}!/{chain} {alg}");
            }
            let want = match d["md5"].as_str().unwrap() {
                h if h == csam => "csam",
                h if h == csem => "csem",
                h if h == known_zip => "known_file",
                _ => "unknown",
            };
            assert_eq!(item["category"], want, "{archive}!/{chain}");
            python_members += 1;
        }
    }
    let member_items: Vec<&Value> = items.values().filter(|v| v["kind"] == "member").collect();
    // Beside Python's files, only the tar archives' symbolic links are members (no content).
    for v in &member_items {
        if v.get("md5").is_none() {
            assert!(
                v["note"]
                    .as_str()
                    .unwrap()
                    .starts_with("a symbolic link in its container"),
                "{v}"
            );
        }
    }
    assert_eq!(
        member_items
            .iter()
            .filter(|v| v.get("md5").is_some())
            .count(),
        python_members
    );

    // What each container says of its members.
    let item = |rest: &str| &items[&path_key(&ev, rest)];
    let holds = |rest: &str| item(rest).get("contains").and_then(Value::as_str);
    assert_eq!(holds("two-members.gz"), Some("csam"));
    assert_eq!(item("two-members.gz")["category"], "unknown");
    assert_eq!(item("two-members.gz")["archive"]["graded"], 1);
    // csem (the inner tar) outranks known_file (the deepest zip) at every level above both.
    assert_eq!(holds("nested.zip"), Some("csem"));
    assert_eq!(holds("nested.zip!/inner.tar.gz"), Some("csem"));
    assert_eq!(
        item("nested.zip!/inner.tar.gz!/inner.tar")["category"],
        "csem"
    );
    assert_eq!(
        holds("nested.zip!/inner.tar.gz!/inner.tar"),
        Some("known_file")
    );
    assert_eq!(holds("nested.zip!/inner.tar.gz!/inner.tar!/deep.zip"), None);
    let within = |rest: &str| {
        let prefix = path_key(&ev, &format!("{rest}!/"));
        member_items
            .iter()
            .filter(|v| common::exact_bytes(v, "path").starts_with(&prefix))
            .count()
    };
    let nested = &item("nested.zip")["archive"];
    assert_eq!(nested["members"], 1, "{nested}");
    assert_eq!(nested["within"], within("nested.zip"), "{nested}");
    assert_eq!(nested["graded"], 2, "{nested}");
    // A known archive is graded as itself, and its members are still listed.
    assert_eq!(item("stored.zip")["category"], "known_file");
    assert_eq!(item("stored.zip")["archive"]["members"], 4);
    assert_eq!(holds("stored.zip"), None);
    assert_eq!(within("stored.zip"), 4);
    for plain in ["deflate.zip", "ustar.tar", "x.tar.gz", "pax.tar"] {
        assert_eq!(holds(plain), None, "{plain}");
        assert_eq!(item(plain)["archive"]["graded"], 0, "{plain}");
    }
    let photo = item("pictures.zip!/pics/holiday.png");
    match &reference {
        Some((hash, _)) => {
            assert_eq!(photo["pdq"].as_str(), Some(hash.as_str()), "{photo}");
            assert_eq!(photo["category"], "unknown", "{photo}");
            assert_eq!(photo["suggested_category"], "csam", "{photo}");
            assert_eq!(photo["pdq_matches"][0]["distance"], 6, "{photo}");
            assert_eq!(
                item("pictures.zip")["contains_suggested"],
                "csam",
                "{photo}"
            );
            assert_eq!(item("pictures.zip")["archive"]["suggested"], 1);
        }
        None => eprintln!("SKIPPED: the PDQ suggestion of a member (no pdqhash)"),
    }
    assert_eq!(holds("pictures.zip"), None);

    // The summary counts members as items and files, and says how many came from containers.
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let c = &summary["containers"];
    assert_eq!(c["members"], member_items.len(), "{c}");
    assert_eq!(c["members_read"], python_members, "{c}");
    let graded = member_items
        .iter()
        .filter(|v| v.get("category").is_some_and(|c| c != "unknown"))
        .count();
    assert_eq!(graded, 3, "the csam stream, the csem tar and the known zip");
    assert_eq!(c["members_graded"], graded, "{c}");
    assert_eq!(c["holding_illegal_material"], 2, "{c}");
    let containers = items
        .values()
        .filter(|v| v.get("archive").is_some())
        .count();
    assert_eq!(
        c["by_format"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        containers as u64,
        "{c}"
    );
    let files = items.values().filter(|v| v.get("md5").is_some()).count();
    assert_eq!(summary["files"], files);
    assert_eq!(summary["items"], items.len());

    // The page shows the same figures.
    let figures = common::summary_page::assert_page_shows_summary(&out);
    assert_eq!(figures["containers holding illegal material"], 2);
    assert_eq!(figures["members"], member_items.len() as u64);

    // items.csv carries the same.
    let mut csv = ::csv::Reader::from_path(out.join("items.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: BTreeMap<String, ::csv::StringRecord> = csv
        .records()
        .map(Result::unwrap)
        .map(|r| (r[0].to_owned(), r))
        .collect();
    let nested_row = &rows[ev.join("nested.zip").to_str().unwrap()];
    assert_eq!(&nested_row[col("contains")], "csem");
    assert_eq!(&nested_row[col("archive")], "zip");
    assert_eq!(
        nested_row[col("members_within")].parse::<usize>().unwrap(),
        within("nested.zip")
    );
    assert_eq!(
        rows.values()
            .filter(|r| &r[col("kind")] == "member")
            .count(),
        member_items.len()
    );

    // vics.json lists the graded member with its container's chain as its folder.
    let vics: Value =
        serde_json::from_slice(&std::fs::read(out.join("vics.json")).unwrap()).unwrap();
    let media = vics["value"][0]["Media"].as_array().unwrap();
    let chain = format!("{}/two-members.gz!", ev.display());
    let csam_media = media
        .iter()
        .find(|m| m["MD5"].as_str().unwrap().eq_ignore_ascii_case(&csam))
        .expect("the csam member in vics.json");
    assert_eq!(csam_media["Category"], 1, "{csam_media}");
    assert_eq!(
        csam_media["MediaFiles"][0]["FilePath"], chain,
        "{csam_media}"
    );
    assert_eq!(csam_media["MediaFiles"][0]["FileName"], "two-members");

    // The report of a scan with members verifies like any other.
    common::assert_exit(
        &common::hashsift().arg("verify").arg(&out).output().unwrap(),
        0,
    );

    // --no-archives: each container one file, nothing inside it listed.
    let plain = work.path().join("plain");
    let mut cmd = common::scan_cmd(&db, &plain, &ev);
    cmd.arg("--no-archives");
    let o = common::run_with_timeout(cmd, std::time::Duration::from_secs(300));
    common::assert_exit(&o, 0);
    let (_, items, _) =
        common::parse_jsonl(&std::fs::read_to_string(plain.join("items.jsonl")).unwrap());
    assert!(items.values().all(|v| v["kind"] != "member"));
    assert!(items.values().all(|v| v.get("archive").is_none()));
    assert_eq!(
        items[&path_key(&ev, "stored.zip")]["category"],
        "known_file"
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(plain.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["containers"], Value::Null);
}

/// MD5 (RustCrypto) in lower-case hex.
fn md5_hex(data: &[u8]) -> String {
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The peak resident memory of the children this process waited for, in bytes.
fn children_peak_memory() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the struct it is given.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut usage) },
        0
    );
    usage.ru_maxrss as u64 * 1024
}

/// The hostile set (`tests/support/make_hostile_archives.py`): a 42.zip-style bomb, a member
/// of 10 GiB and a gzip of as much, 100,000 tiny members, names climbing out, archives cut
/// short, an encrypted member. The scan finishes within its time limit with each case recorded
/// and its reason, and its peak memory stays under 512 MiB.
#[test]
fn hostile_containers_are_each_recorded_with_a_reason_in_bounded_time_and_memory() {
    let work = tempfile::tempdir().unwrap();
    let ev = work.path().join("ev");
    let status = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/make_hostile_archives.py"))
        .arg(&ev)
        .status()
        .expect("python3");
    assert!(status.success());
    std::fs::rename(ev.join("hostile.json"), work.path().join("hostile.json")).unwrap();
    let db = work.path().join("known.db");
    let set = work.path().join("empty.md5");
    std::fs::write(&set, format!("{:032x}  nothing\n", 1)).unwrap();
    common::import_graded(&db, &set, "none", "csam");
    let out = work.path().join("report");
    let began = std::time::Instant::now();
    let o = common::run_with_timeout(
        common::scan_cmd(&db, &out, &ev),
        std::time::Duration::from_secs(600),
    );
    let took = began.elapsed();
    let peak = children_peak_memory();
    eprintln!(
        "hostile set: scan took {took:?}, peak memory of the test's children {} MiB",
        peak >> 20
    );
    // Items with errors (the encrypted member, the members cut short): exit 2.
    common::assert_exit(&o, 2);
    assert!(peak < 512 << 20, "peak memory {} MiB", peak >> 20);
    let (_, items, end) =
        common::parse_jsonl(&std::fs::read_to_string(out.join("items.jsonl")).unwrap());
    assert_eq!(end["complete"], true);
    let item = |rest: &str| &items[&path_key(&ev, rest)];
    let stopped = |rest: &str| {
        item(rest)["archive"]["stopped"]
            .as_str()
            .unwrap_or_else(|| panic!("{rest} stopped: {}", item(rest)))
            .to_owned()
    };
    for bomb in ["bomb.zip", "big-member.zip", "big.gz"] {
        assert!(
            stopped(bomb).starts_with("expansion stopped after"),
            "{bomb}: {}",
            stopped(bomb)
        );
        // The container keeps its own digests: it is a file on the evidence.
        assert_eq!(
            item(bomb)["sha256"].as_str().unwrap(),
            common::oracle_digest("sha256sum", &ev.join(bomb))
        );
    }
    let many = item("many.zip");
    assert_eq!(many["archive"]["members"], 100_000, "{many}");
    assert!(many["archive"].get("stopped").is_none(), "{many}");
    let tiny = item("many.zip!/d99/f99999.txt");
    assert_eq!(tiny["md5"], md5_hex(b"99999"));
    for (rest, note) in [
        ("slip.zip!/../../etc/passwd", "climbs out"),
        ("slip.zip!//abs/path.txt", "absolute"),
        ("slip.tar!/../../../tmp/evil.sh", "climbs out"),
        ("slip.tar!//etc/cron.d/evil", "absolute"),
    ] {
        let v = item(rest);
        assert!(v["note"].as_str().unwrap().contains(note), "{rest}: {v}");
        assert!(v.get("md5").is_some(), "{rest} is read: {v}");
    }
    // The tar inside the gzip is read as it is decompressed: it stops at the cut.
    for (cut, stops) in [
        ("cut.zip", "cut.zip"),
        ("cut.tar.gz", "cut.tar.gz!/cut.tar"),
    ] {
        let why = stopped(stops);
        assert!(!why.starts_with("expansion stopped"), "{cut}: {why}");
        let prefix = path_key(&ev, &format!("{cut}!/"));
        let read = items
            .iter()
            .filter(|(p, v)| p.starts_with(&prefix) && v.get("md5").is_some())
            .count();
        assert!(read >= 1, "{cut}: the members before the cut are read");
    }
    let hostile: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("hostile.json")).unwrap()).unwrap();
    if hostile.get("encrypted.zip").is_some() {
        let secret = item("encrypted.zip!/secret.txt");
        assert_eq!(
            secret["error"]["message"], "encrypted: not read",
            "{secret}"
        );
        assert_eq!(item("encrypted.zip!/open.txt")["md5"], md5_hex(b"plain"));
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs 7zip for the encrypted ZIP"
        );
        eprintln!("SKIPPED: the encrypted ZIP (no 7zz or 7z on the PATH)");
    }
}
