//! Hash sets as real tools and real publishers write them, and hostile ones: SQLite sets with
//! rows only in their write-ahead log, paths that are FIFOs, terminal escapes in set values,
//! a VICS file with two `value` arrays, SQLite views that build huge values, NIST's VICS 1.2
//! shape (numbers as strings, codes outside the profile), md5deep's size-prefixed listings,
//! formats that cannot be told, and sets with a few malformed records (`--skip-invalid`).
//! Every set is synthetic; expected digests come from Python's hashlib or md5deep, counts from
//! the test's own construction, never from hashsift.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_exit, hashsift, have_tool, mkfifo, run_with_timeout};

fn db(dbp: &Path) -> Command {
    let mut c = hashsift();
    c.arg("db").arg("--db").arg(dbp).env_remove("HASHSIFT_DB");
    c
}

fn import(dbp: &Path, file: &Path, extra: &[&str]) -> Output {
    let mut c = db(dbp);
    c.arg("import").arg(file).args(extra).arg("-q");
    c.output().expect("run hashsift")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(dbp: &Path, args: &[&str]) -> serde_json::Value {
    let out = db(dbp).args(args).output().expect("run hashsift");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?} output is not JSON ({e}): {}", stderr(&out)))
}

/// Lower-case hex digest of `data` by Python's hashlib (`md5`, `sha1`, `sha256`).
fn py_digest(algorithm: &str, data: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import hashlib,sys; print(hashlib.{algorithm}(sys.stdin.buffer.read()).hexdigest())"
            ),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Distinct synthetic contents and their MD5s.
fn md5s(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| py_digest("md5", format!("synthetic content {i}").as_bytes()))
        .collect()
}

/// Runs `cmd` to its end (killed after `limit`): its output and its peak resident memory in
/// KiB, from `wait4` on that child alone (which reaps it: clippy cannot see that).
#[allow(clippy::zombie_processes)]
fn run_measured(mut cmd: Command, limit: Duration) -> (Output, u64) {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hashsift");
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waiting on our own child, with pointers to locals that outlive the call.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("hashsift did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = Vec::new();
    let mut err = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    use std::os::unix::process::ExitStatusExt;
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out,
        stderr: err,
    };
    (output, usage.ru_maxrss as u64)
}

/// A minimal NSRL RDSv3 file (tables `FILE` and `PKG`) with one row per MD5.
fn rds_rows(conn: &rusqlite::Connection, md5s: &[String]) {
    for (i, m) in md5s.iter().enumerate() {
        conn.execute(
            "INSERT INTO FILE (sha256, sha1, md5, crc32, file_name, file_size, package_id)
             VALUES (NULL, NULL, ?1, '00', ?2, ?3, 1)",
            rusqlite::params![m.to_uppercase(), format!("f{i}"), 100 + i as i64],
        )
        .unwrap();
    }
}

#[test]
fn an_sqlite_set_with_rows_only_in_its_write_ahead_log_is_refused_not_imported_short() {
    let dir = tempfile::tempdir().unwrap();
    let rds = dir.path().join("rds.db");
    let md5 = md5s(5);
    {
        let c = rusqlite::Connection::open(&rds).unwrap();
        c.execute_batch(
            "CREATE TABLE FILE(sha256, sha1, md5, crc32, file_name, file_size, package_id);
             CREATE TABLE PKG(package_id);",
        )
        .unwrap();
        rds_rows(&c, &md5[..2]);
    }
    // Three more rows committed to the log only: the writer is still open and never
    // checkpoints, as when a set is copied from a machine where it was being written.
    let writer = rusqlite::Connection::open(&rds).unwrap();
    let mode: String = writer
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    writer
        .execute_batch("PRAGMA wal_autocheckpoint = 0;")
        .unwrap();
    rds_rows(&writer, &md5[2..]);
    let wal = dir.path().join("rds.db-wal");
    assert!(
        fs::metadata(&wal).unwrap().len() > 0,
        "the rows are in the log"
    );

    let p = dir.path().join("k.db");
    // Through a link too: SQLite keeps the log beside the file, not beside the link.
    let link = dir.path().join("elsewhere").join("link.db");
    fs::create_dir(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&rds, &link).unwrap();
    for (set, args) in [
        (&rds, &[][..]),
        (&rds, &["--format", "rdsv3"][..]),
        (&link, &[][..]),
    ] {
        let out = import(&p, set, args);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: imported short: {err}"
        );
        for says in [
            "rds.db-wal",
            "write-ahead log",
            "wal_checkpoint(TRUNCATE)",
            "copy",
        ] {
            assert!(err.contains(says), "expected '{says}' in: {err}");
        }
        assert!(!p.exists(), "a refused import leaves no database behind");
    }
    // What the message says to do works: both files copied, the log folded in there.
    let copy_dir = dir.path().join("copy");
    fs::create_dir(&copy_dir).unwrap();
    fs::copy(&rds, copy_dir.join("rds.db")).unwrap();
    fs::copy(&wal, copy_dir.join("rds.db-wal")).unwrap();
    drop(writer);
    let status = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()",
        ])
        .arg(copy_dir.join("rds.db"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_exit(&import(&p, &copy_dir.join("rds.db"), &[]), 0);
    let sets = json(&p, &["list", "--json"]);
    assert_eq!(sets[0]["rows_read"], 5, "every row, the log's too");
}

#[test]
fn a_hash_set_path_that_is_a_fifo_or_a_directory_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("set.md5");
    mkfifo(&fifo);
    let p = dir.path().join("k.db");
    let cases: [(&Path, &[&str], &str); 3] = [
        (&fifo, &[], "FIFO"),
        (&fifo, &["--format", "digest-list"], "FIFO"),
        // A folder stands for its files: here the FIFO.
        (dir.path(), &["--format", "digest-list"], "FIFO"),
    ];
    for (path, args, kind) in cases {
        let mut c = db(&p);
        c.arg("import").arg(path).args(args).arg("-q");
        let started = Instant::now();
        // Before the fix, the open waited for a writer that never comes.
        let out = run_with_timeout(c, Duration::from_secs(20));
        assert!(started.elapsed() < Duration::from_secs(10));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains(kind) && err.contains("not a regular file"),
            "{err}"
        );
        assert!(!p.exists());
    }
}

/// Whether `bytes` hold a raw terminal control: ESC, BEL, CR, or the one-byte CSI (U+009B).
fn has_raw_control(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .any(|&b| matches!(b, 0x1b | 0x07 | b'\r' | 0x00))
        || String::from_utf8_lossy(bytes).contains('\u{9b}')
}

#[test]
fn terminal_escapes_in_set_values_are_printed_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let m = &md5s(1)[0];
    let set = dir.path().join("labels.csv");
    // A label that retitles the terminal, a series that clears the screen, a tag with a
    // one-byte CSI and a carriage return.
    fs::write(
        &set,
        format!(
            "md5,category,label,series,tags\n{m},csam,\"\x1b]0;owned\x07\",\x1b[2J,\"a\u{9b}31m|b\rc\"\n"
        ),
    )
    .unwrap();
    let name = "unit\x1b[2J";
    let out = import(
        &p,
        &set,
        &["--format", "csv", "--name", name, "--source", "src\x07"],
    );
    assert_exit(&out, 0);
    for args in [&["lookup", m.as_str()][..], &["list"][..], &["stats"][..]] {
        let out = db(&p).args(args).output().unwrap();
        assert!(
            !has_raw_control(&out.stdout) && !has_raw_control(&out.stderr),
            "{args:?} printed a raw control: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("unit\\x1b[2J"), "{args:?}: {text}");
        if args[0] == "lookup" {
            for shown in ["\\x1b]0;owned\\x07", "\\x1b[2J", "a\\u{9b}31m", "b\\rc"] {
                assert!(text.contains(shown), "expected {shown} in: {text}");
            }
        }
    }
    // The JSON keeps the exact values (JSON escapes them itself).
    let v = json(&p, &["lookup", "--json", m]);
    assert_eq!(v[0]["media"][0]["grades"][0]["label"], "\x1b]0;owned\x07");
    // An error quoting a set's value: a hash field holding escapes.
    let bad = dir.path().join("bad.md5");
    fs::write(&bad, format!("{m}  a\n\x1b]0;x\x07{}  b\n", &m[..20])).unwrap();
    let out = import(&p, &bad, &["--format", "digest-list"]);
    assert_exit(&out, 3);
    assert!(!has_raw_control(&out.stderr), "{:?}", stderr(&out));
    assert!(stderr(&out).contains("\\x1b]0;x\\x07"), "{}", stderr(&out));
}

const VICS_12: &str = "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Media";

#[test]
fn a_vics_file_with_two_value_arrays_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let m = md5s(2);
    let set = dir.path().join("two.json");
    fs::write(
        &set,
        format!(
            "{{\"odata.metadata\": \"{VICS_12}\",\n\"value\": [{{\"MD5\": \"{}\", \"Category\": 1}}],\n\"value\": [{{\"MD5\": \"{}\", \"Category\": 0}}]}}\n",
            m[0], m[1]
        ),
    )
    .unwrap();
    for extra in [&[][..], &["--skip-invalid"][..]] {
        let out = import(&p, &set, extra);
        assert_eq!(out.status.code(), Some(3), "{extra:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("line 3") && err.contains("second \"value\" array"),
            "{err}"
        );
        assert!(!p.exists());
    }
}

#[test]
fn an_rdsv3_view_that_builds_huge_values_is_refused_in_bounded_memory_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let views = [
        (
            "concat.db",
            "SELECT group_concat(printf('%064x', x)) AS sha256, NULL AS sha1, NULL AS md5,
               1 AS file_size
             FROM (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 20000000)
                   SELECT x FROM n)",
        ),
        (
            "printf.db",
            "SELECT printf('%.*c', 900000000, 'a') AS sha256, NULL AS sha1, NULL AS md5,
               1 AS file_size",
        ),
        (
            "cross.db",
            "SELECT printf('%064x', a.x + b.x) AS sha256, NULL AS sha1, NULL AS md5,
               1 AS file_size
             FROM (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 3000)
                   SELECT x FROM n) a,
                  (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 3000)
                   SELECT x FROM n) b
             ORDER BY 1 DESC",
        ),
    ];
    for (name, view) in views {
        let file = dir.path().join(name);
        let c = rusqlite::Connection::open(&file).unwrap();
        c.execute_batch(&format!(
            "CREATE TABLE PKG(package_id); CREATE VIEW FILE AS {view};"
        ))
        .unwrap();
        drop(c);
        assert!(
            fs::metadata(&file).unwrap().len() <= 16 << 10,
            "a small file"
        );
        let p = dir.path().join(format!("{name}.k.db"));
        let mut c = db(&p);
        c.arg("import").arg(&file).arg("-q");
        let started = Instant::now();
        // Before the bounds: 985 MB and 24 s (concat), 2.6 GB (printf).
        let (out, peak_kib) = run_measured(c, Duration::from_secs(120));
        let secs = started.elapsed().as_secs_f64();
        let err = stderr(&out);
        assert!(
            peak_kib < 100 << 10,
            "{name}: peak RSS {peak_kib} KiB: {err}"
        );
        assert!(secs < 20.0, "{name}: {secs:.1} s");
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert!(err.contains("is refused"), "{name}: {err}");
        eprintln!("{name}: refused in {secs:.2} s, peak RSS {peak_kib} KiB");
        assert!(!p.exists());
    }
}

/// NIST's VICS 1.2 `#Media` shape: `MediaSize` as a string on every record, a `Category`
/// code (8) that no built-in profile lists, and a `MediaID` (read past).
fn nist_vics(records: &[(String, &str, &str)]) -> String {
    let recs: Vec<String> = records
        .iter()
        .enumerate()
        .map(|(i, (md5, size, category))| {
            format!(
                "{{\"MediaID\":\"{}\",\"Category\":{category},\"MD5\":\"{}\",\"MediaSize\":{size},\"IsPrecategorized\":\"false\",\"odata.type\":\"ProjectVic.Media\"}}",
                i + 1,
                md5.to_uppercase()
            )
        })
        .collect();
    format!(
        "{{\"odata.metadata\":\"{VICS_12}\",\"value\":[{}]}}",
        recs.join(",")
    )
}

#[test]
fn nist_vics_files_with_numbers_as_strings_and_codes_outside_the_profile_import() {
    let dir = tempfile::tempdir().unwrap();
    let m = md5s(5);
    let set = dir.path().join("nist.json");
    fs::write(
        &set,
        nist_vics(&[
            (m[0].clone(), "\"488\"", "8"),
            (m[1].clone(), "\"1024\"", "8"),
            (m[2].clone(), "\" 77 \"", "\"8\""),
            (m[3].clone(), "\"5\"", "\"1\""),
            (m[4].clone(), "\"\"", "9"),
        ]),
    )
    .unwrap();
    let p = dir.path().join("k.db");

    let out = import(&p, &set, &["--name", "nist"]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("3 records with code 8, not in profile vics-us: imported as uncategorised; to map them: --map-value 8=<category>"),
        "{err}"
    );
    assert!(err.contains("1 record with code 9"), "{err}");
    // --strict-codes keeps the refusal, at the first record, naming the code.
    let strict = dir.path().join("strict.db");
    let out = import(&strict, &set, &["--strict-codes"]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("record 1") && err.contains("'8'") && err.contains("--map-value '8="),
        "{err}"
    );
    assert!(!strict.exists());
    // Sizes read from strings; the unmapped records keep their code.
    for (md5, size, code, category) in [
        (&m[0], Some(488), "8", "uncategorised"),
        (&m[2], Some(77), "8", "uncategorised"),
        (&m[3], Some(5), "1", "csam"),
        (&m[4], None, "9", "uncategorised"),
    ] {
        let v = json(&p, &["lookup", "--json", md5]);
        let medium = &v[0]["media"][0];
        assert_eq!(medium["size"], serde_json::json!(size), "{md5}");
        assert_eq!(medium["grades"][0]["code"], code, "{md5}");
        assert_eq!(medium["grades"][0]["category"], category, "{md5}");
    }
    let stats = json(&p, &["stats", "--json"]);
    assert_eq!(
        stats["unmapped"]["nist"],
        serde_json::json!([{"code": "8", "label": null, "records": 3},
                           {"code": "9", "label": null, "records": 1}])
    );
    let text = String::from_utf8(db(&p).arg("stats").output().unwrap().stdout).unwrap();
    assert!(
        text.contains("code 8: 3 records (map with --map-value 8=<category>"),
        "{text}"
    );
    let sets = json(&p, &["list", "--json"]);
    assert_eq!(sets[0]["unmapped"][0]["code"], "8");

    // Mapped on the command line, the same file grades them.
    let out = import(
        &p,
        &set,
        &[
            "--name",
            "nist",
            "--replace",
            "--map-value",
            "8=csem",
            "--map-value",
            "9=cgi",
        ],
    );
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("not in profile"), "{}", stderr(&out));
    let v = json(&p, &["lookup", "--json", &m[1]]);
    assert_eq!(v[0]["media"][0]["grades"][0]["category"], "csem");
    assert_eq!(
        json(&p, &["stats", "--json"])["unmapped"],
        serde_json::json!({})
    );
}

#[test]
fn every_vics_type_error_names_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let m = &md5s(1)[0];
    for (record, field) in [
        (
            format!("{{\"MD5\":\"{m}\",\"MediaSize\":\"big\"}}"),
            "MediaSize",
        ),
        (
            format!("{{\"MD5\":\"{m}\",\"MediaSize\":\"4.5\"}}"),
            "MediaSize",
        ),
        (
            format!("{{\"MD5\":\"{m}\",\"Category\":\"one\"}}"),
            "Category",
        ),
        ("{\"MD5\":5}".to_owned(), "MD5"),
        (format!("{{\"MD5\":\"{m}\",\"SHA1\":[1]}}"), "SHA1"),
        (
            format!("{{\"MD5\":\"{m}\",\"IsDistributed\":\"maybe\"}}"),
            "IsDistributed",
        ),
        (format!("{{\"MD5\":\"{m}\",\"Tags\":5}}"), "Tags"),
        (format!("{{\"MD5\":\"{m}\",\"Series\":[]}}"), "Series"),
        (format!("{{\"MD5\":\"{m}\",\"PhotoDNA\":7}}"), "PhotoDNA"),
        (
            format!(
                "{{\"MD5\":\"{m}\",\"AlternativeHashes\":[{{\"HashName\":\"SHA256\",\"HashValue\":7}}]}}"
            ),
            "AlternativeHashes: HashValue",
        ),
        (
            format!("{{\"MD5\":\"{m}\",\"AlternativeHashes\":\"x\"}}"),
            "AlternativeHashes",
        ),
    ] {
        let set = dir.path().join("t.json");
        fs::write(
            &set,
            format!("{{\"odata.metadata\":\"{VICS_12}\",\"value\":[\n{record}\n]}}"),
        )
        .unwrap();
        let out = import(&p, &set, &[]);
        assert_exit(&out, 3);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("record 1 (line 2): {field}: ")),
            "{record}: {err}"
        );
    }
}

#[test]
fn md5deep_size_prefixed_listings_are_read_with_their_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    // Written by the test in md5deep -z's shape (the size right-aligned in ten columns): a
    // size of 9999999999 is md5deep's cap ("this or more"), not kept.
    let m = md5s(4);
    let listing = dir.path().join("own.txt");
    fs::write(
        &listing,
        format!(
            "{:>10}  {}  /evidence/a b.jpg\n{:>10}  {}  /evidence/c\n{:>10}  {}  /evidence/huge.e01\n{:>10}  {}  /evidence/bigger\n",
            3, m[0], 1_234_567, m[1], 9_999_999_999u64, m[2], 123_456_789_012u64, m[3]
        ),
    )
    .unwrap();
    assert_exit(&import(&p, &listing, &["--category", "csam"]), 0);
    for (md5, size) in [
        (&m[0], Some(3u64)),
        (&m[1], Some(1_234_567)),
        (&m[2], None),
        (&m[3], Some(123_456_789_012)),
    ] {
        let v = json(&p, &["lookup", "--json", md5]);
        assert_eq!(v[0]["media"][0]["size"], serde_json::json!(size), "{md5}");
    }
    assert_eq!(json(&p, &["list", "--json"])[0]["format"], "digest-list");

    if !have_tool("md5deep", "hashdeep") {
        return;
    }
    // md5deep's own output over a synthetic tree; the digests by Python's hashlib.
    let tree = dir.path().join("tree");
    fs::create_dir_all(tree.join("sub dir")).unwrap();
    let files: Vec<(String, Vec<u8>)> = vec![
        ("one".into(), b"a".to_vec()),
        ("sub dir/two words".into(), common::pseudo_random(20_000, 7)),
        ("sub dir/three".into(), common::pseudo_random(1_048_577, 8)),
    ];
    for (name, data) in &files {
        fs::write(tree.join(name), data).unwrap();
    }
    for (tool, algorithm) in [
        ("md5deep", "md5"),
        ("sha1deep", "sha1"),
        ("sha256deep", "sha256"),
    ] {
        let out = Command::new(tool).arg("-zr").arg(&tree).output().unwrap();
        assert!(out.status.success(), "{tool}");
        let listing = dir.path().join(format!("{tool}.txt"));
        fs::write(&listing, &out.stdout).unwrap();
        let db_path = dir.path().join(format!("{tool}.db"));
        assert_exit(&import(&db_path, &listing, &["--category", "csam"]), 0);
        for (name, data) in &files {
            let digest = py_digest(algorithm, data);
            let v = json(&db_path, &["lookup", "--json", &digest]);
            assert_eq!(
                v[0]["media"][0]["size"],
                serde_json::json!(data.len()),
                "{tool}: {name}"
            );
        }
        assert_eq!(json(&db_path, &["list", "--json"])[0]["rows_read"], 3);
    }
}

#[test]
fn every_cannot_tell_the_format_hint_names_a_format_that_works_or_says_none_does() {
    let dir = tempfile::tempdir().unwrap();
    let m = md5s(6);
    // A table whose hash column has a name of its own: the hint's options read it.
    let table = dir.path().join("export.txt");
    fs::write(&table, format!("Hash Value,Name\n{},a\n{},b\n", m[0], m[1])).unwrap();
    // A digest list opening with a stray title line (as one of md5deep's test lists does).
    let stray = dir.path().join("stray.txt");
    fs::write(
        &stray,
        format!("Known files list\n{}  a\n{}  b\n{}  c\n", m[2], m[3], m[4]),
    )
    .unwrap();
    let cases: [(&Path, &[&str], usize); 2] = [
        (
            &table,
            &["--format", "csv", "--map-column", "md5=Hash Value"],
            2,
        ),
        (&stray, &["--format", "digest-list", "--skip-invalid"], 3),
    ];
    for (file, works, records) in cases {
        let p = dir.path().join("k.db");
        let out = import(&p, file, &[]);
        assert_exit(&out, 3);
        let err = stderr(&out);
        assert!(err.contains("cannot tell the format"), "{err}");
        assert!(!err.contains("name it with --format"), "{err}");
        let shown = works
            .join(" ")
            .replace("md5=Hash Value", "md5=\"Hash Value\"");
        assert!(err.contains(&shown), "expected '{shown}' in: {err}");
        // The hint works.
        assert_exit(&import(&p, file, works), 0);
        assert_eq!(
            json(&p, &["list", "--json"])[0]["rows_read"],
            records as u64 + u64::from(file == stray.as_path())
        );
        fs::remove_file(&p).unwrap();
        for f in fs::read_dir(dir.path()).unwrap() {
            let f = f.unwrap().path();
            if f.to_string_lossy().contains("-rejects-") {
                fs::remove_file(f).unwrap();
            }
        }
    }
    // Files no format reads: the hint says so rather than sending to --format.
    let prose = dir.path().join("notes.txt");
    fs::write(&prose, "These are my notes.\nNothing here is a hash.\n").unwrap();
    let empty = dir.path().join("empty.md5");
    fs::write(&empty, "").unwrap();
    let other_db = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other_db)
        .unwrap()
        .execute_batch("CREATE TABLE notes(x);")
        .unwrap();
    let zip = dir.path().join("photos.zip");
    {
        let mut w = zip_writer(&zip);
        w.add("readme.txt", b"hello");
        w.finish();
    }
    for file in [&prose, &empty, &other_db, &zip] {
        let out = import(&dir.path().join("k.db"), file, &[]);
        assert_exit(&out, 3);
        let err = stderr(&out);
        assert!(
            err.contains("no format hashsift reads")
                || err.contains("no format holds")
                || err.contains("the only set read zipped"),
            "{}: {err}",
            file.display()
        );
        assert!(!err.contains("name it with --format"), "{err}");
    }
}

/// A stored (uncompressed) zip file, written by hand (no zip tool needed).
struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    count: u16,
    path: std::path::PathBuf,
}

fn zip_writer(path: &Path) -> ZipWriter {
    ZipWriter {
        out: Vec::new(),
        central: Vec::new(),
        count: 0,
        path: path.to_owned(),
    }
}

impl ZipWriter {
    fn add(&mut self, name: &str, data: &[u8]) {
        let crc = crc32(data);
        let offset = self.out.len() as u32;
        let mut local = Vec::new();
        local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        local.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        local.extend_from_slice(&crc.to_le_bytes());
        local.extend_from_slice(&(data.len() as u32).to_le_bytes());
        local.extend_from_slice(&(data.len() as u32).to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(&local);
        self.out.extend_from_slice(data);
        self.central
            .extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        self.central
            .extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        self.central.extend_from_slice(&crc.to_le_bytes());
        self.central
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.central
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.central
            .extend_from_slice(&(name.len() as u16).to_le_bytes());
        self.central.extend_from_slice(&[0; 12]);
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.count += 1;
    }

    fn finish(mut self) {
        let start = self.out.len() as u32;
        self.out.extend_from_slice(&self.central);
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        self.out.extend_from_slice(&self.count.to_le_bytes());
        self.out.extend_from_slice(&self.count.to_le_bytes());
        self.out
            .extend_from_slice(&(self.central.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&start.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes());
        fs::write(&self.path, &self.out).unwrap();
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The files in `dir` whose names hold `part`.
fn files_named(dir: &Path, part: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(part))
        .collect();
    v.sort();
    v
}

#[test]
fn skip_invalid_leaves_out_malformed_records_counts_and_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let m = md5s(6);
    // A digest list with a stray text line in the middle (line 3).
    let list = dir.path().join("list.md5");
    fs::write(
        &list,
        format!(
            "{}  a\n{}  b\nsee the case notes\n{}  c\n",
            m[0], m[1], m[2]
        ),
    )
    .unwrap();
    let p = dir.path().join("db").join("k.db");
    fs::create_dir(dir.path().join("db")).unwrap();
    // Without --skip-invalid: refused as ever, with the line, nothing created.
    let out = import(&p, &list, &["--category", "csam"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
    assert!(!p.exists());
    assert!(files_named(&dir.path().join("db"), "rejects").is_empty());

    let out = import(&p, &list, &["--category", "csam", "--skip-invalid"]);
    assert_exit(&out, 0);
    let rejects = files_named(&dir.path().join("db"), "rejects");
    assert_eq!(rejects.len(), 1, "one rejects file beside the database");
    let name = rejects[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("list-rejects-") && name.ends_with(".txt"),
        "{name}"
    );
    let text = fs::read_to_string(&rejects[0]).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rows.len(), 1, "{text}");
    let fields: Vec<&str> = rows[0].split('\t').collect();
    assert_eq!(fields[0], list.to_string_lossy());
    assert_eq!(fields[1], "line 3");
    assert!(
        fields[2].contains("'see the case notes' is not a digest line"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("1 malformed record left out"),
        "{}",
        stderr(&out)
    );
    let sets = json(&p, &["list", "--json"]);
    assert_eq!(sets[0]["rows_rejected"], 1);
    assert_eq!(sets[0]["rows_read"], 4);
    assert_eq!(sets[0]["rows_imported"], 3);
    assert_eq!(
        sets[0]["rejects_file"],
        rejects[0].to_string_lossy().as_ref()
    );
    let listed = String::from_utf8(db(&p).arg("list").output().unwrap().stdout).unwrap();
    assert!(listed.contains("1 rejected"), "{listed}");
    for md5 in &m[..3] {
        assert_eq!(json(&p, &["lookup", "--json", md5])[0]["known"], true);
    }

    // A CSV export with a ragged last row (as an iLook export ends), and a bad value; the
    // rejects file named by the user.
    let csv = dir.path().join("ilook.csv");
    fs::write(
        &csv,
        format!(
            "MD5,File Name,Size\n{},a.jpg,10\n{},b.jpg,eleven\n{},c.jpg,12\n{},d.jpg\n",
            m[3], m[4], m[5], m[0]
        ),
    )
    .unwrap();
    let named = dir.path().join("ilook-rejects.tsv");
    let out = import(
        &p,
        &csv,
        &[
            "--name",
            "ilook",
            "--category",
            "csem",
            "--skip-invalid",
            "--rejects",
        ],
    );
    assert_eq!(out.status.code(), Some(64), "--rejects needs a value");
    let args = [
        "--name",
        "ilook",
        "--category",
        "csem",
        "--skip-invalid",
        "--rejects",
        named.to_str().unwrap(),
    ];
    let before = fs::read(&p).unwrap();
    let out = import(&p, &csv, &args);
    assert_exit(&out, 0);
    let text = fs::read_to_string(&named).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0][1], "line 3");
    assert!(rows[0][2].contains("size 'eleven'"), "{text}");
    assert_eq!(rows[1][1], "line 5");
    assert!(
        rows[1][2].contains("2 fields where the header has 3"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# 2 records rejected"), "{text}");
    let ilook = json(&p, &["list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "ilook")
        .cloned()
        .unwrap();
    assert_eq!(ilook["rows_rejected"], 2);
    assert_eq!(ilook["rows_imported"], 2);
    // A rejects file is never written over: the same name again is refused before reading,
    // and the database is left as it was.
    let after = fs::read(&p).unwrap();
    assert_ne!(before, after);
    let mut again = args.to_vec();
    again.push("--replace");
    let out = import(&p, &csv, &again);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("ilook-rejects.tsv"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read(&p).unwrap(), after);
    assert_eq!(fs::read_to_string(&named).unwrap(), text);

    // A VICS record that is malformed is skipped by its record number.
    let vics = dir.path().join("v.json");
    fs::write(
        &vics,
        format!(
            "{{\"odata.metadata\":\"{VICS_12}\",\"value\":[\n{{\"MD5\":\"{}\",\"Category\":1}},\n{{\"MD5\":\"xyz\",\"Category\":1}},\n{{\"MD5\":\"{}\",\"Category\":2}}\n]}}",
            m[0], m[1]
        ),
    )
    .unwrap();
    let out = import(&p, &vics, &["--name", "v", "--skip-invalid"]);
    assert_exit(&out, 0);
    let rejects = files_named(&dir.path().join("db"), "v-rejects-");
    assert_eq!(rejects.len(), 1);
    let text = fs::read_to_string(&rejects[0]).unwrap();
    assert!(text.contains("\trecord 2 (line 3)\t"), "{text}");
}

#[test]
fn a_failed_import_with_skip_invalid_leaves_no_rejects_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = md5s(2);
    // One bad line, then a line past the length limit: the import fails at the second.
    let mut content = format!("{}  a\nnot a digest\n", m[0]).into_bytes();
    content.extend(std::iter::repeat_n(b'a', 2 << 20));
    content.extend(format!("\n{}  b\n", m[1]).as_bytes());
    let list = dir.path().join("list.md5");
    fs::write(&list, content).unwrap();
    let p = dir.path().join("k.db");
    let out = import(&p, &list, &["--skip-invalid"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
    assert!(files_named(dir.path(), "rejects").is_empty());
    assert!(!p.exists());
}

#[test]
fn without_a_profile_a_category_value_is_a_canonical_name_in_any_case_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let md5 = md5s(2);
    // A canonical name in capitals is that category, not uncategorised.
    let set = dir.path().join("unit.csv");
    fs::write(&set, format!("md5,category\n{},CSAM\n", md5[0])).unwrap();
    let args = ["--format", "csv", "--map-column", "category=category"];
    assert_exit(
        &import(&p, &set, &[&args[..], &["--name", "unit"]].concat()),
        0,
    );
    let found = json(&p, &["lookup", "--json", &md5[0]]);
    assert_eq!(found[0]["media"][0]["triage"], "csam", "{found}");

    // Any other value is refused with its line, --strict-codes or not: with no profile it
    // cannot be told how severe the set meant it (imported as uncategorised it would exit 0).
    let bad = dir.path().join("bad.csv");
    fs::write(&bad, format!("md5,category\n{},Cat A\n", md5[1])).unwrap();
    let before = fs::read(&p).unwrap();
    let out = import(
        &p,
        &bad,
        &[&args[..], &["--name", "bad", "--category", "csam"]].concat(),
    );
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("line 2") && err.contains("--map-value"),
        "{err}"
    );
    assert_eq!(fs::read(&p).unwrap(), before, "the database changed");
}

#[test]
fn db_list_names_the_rejects_file_by_an_absolute_path() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let set = dir.path().join("list.md5");
    fs::write(&set, format!("{}\nnot a hash\n", md5s(1)[0])).unwrap();
    // Imported from `work` with a relative database path.
    let out = hashsift()
        .current_dir(&work)
        .args(["db", "--db", "../k.db", "import", "-q", "--skip-invalid"])
        .arg(&set)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let sets = json(&dir.path().join("k.db"), &["list", "--json"]);
    let file = sets[0]["rejects_file"].as_str().unwrap();
    assert!(Path::new(file).is_absolute(), "{file}");
    assert!(Path::new(file).is_file(), "{file}");
}
