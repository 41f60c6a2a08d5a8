//! The known-material database through the command line: conflicts, replacing and removing
//! sets, refusals, and malformed or interrupted imports that must leave the database exactly
//! as it was. Database contents are read back with Python's sqlite3 module (an independent
//! reader); expected grades come from the published category mapping, not from hashsift.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{assert_exit, hashsift};

fn db(db: &Path) -> Command {
    let mut c = hashsift();
    c.arg("db").arg("--db").arg(db).env_remove("HASHSIFT_DB");
    c
}

fn run(mut c: Command) -> Output {
    c.output().expect("run hashsift")
}

fn import(dbp: &Path, file: &Path, extra: &[&str]) -> Output {
    let mut c = db(dbp);
    c.arg("import").arg(file).args(extra).arg("-q");
    run(c)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs one SQL statement on `dbp` with Python's sqlite3 (not hashsift's SQLite).
fn python_sql(dbp: &Path, sql: &str) {
    let status = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
        ])
        .arg(dbp)
        .arg(sql)
        .status()
        .expect("python3");
    assert!(status.success(), "python3 sqlite3: {sql}");
}

/// Every row of the database, as Python's sqlite3 dumps it.
fn dump(dbp: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('\\n'.join(c.iterdump())); print(c.execute('PRAGMA integrity_check').fetchone()[0])",
        ])
        .arg(dbp)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.trim_end().ends_with("ok"),
        "integrity check failed:\n{text}"
    );
    text
}

/// `db list --json`: every set with its provenance and counts.
fn sets(dbp: &Path) -> serde_json::Value {
    let mut c = db(dbp);
    c.args(["list", "--json"]);
    let out = run(c);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("list output is not JSON ({e}): {}", stderr(&out)))
}

fn lookup(dbp: &Path, hash: &str) -> serde_json::Value {
    let mut c = db(dbp);
    c.args(["lookup", "--json", hash]);
    let out = run(c);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("lookup output is not JSON ({e}): {}", stderr(&out)))
}

fn md5_hex(data: &[u8]) -> String {
    // Python's hashlib is the oracle for digests written into test sets.
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.md5(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(data)?;
            child.wait_with_output()
        })
        .expect("python3");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

const VICS_20: &str =
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media";

fn vics(records: &[String]) -> String {
    format!(
        "{{\"@odata.context\": \"{VICS_20}\", \"value\": [\n{}\n]}}\n",
        records.join(",\n")
    )
}

#[test]
fn new_database_is_private_and_init_refuses_an_existing_one() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sub/known.db");
    let mut c = db(&p);
    c.arg("init");
    assert_exit(&run(c), 0);
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(p.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let mut c = db(&p);
    c.arg("init");
    let out = run(c);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
}

#[test]
fn a_newer_or_foreign_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let mut c = db(&p);
    c.arg("init");
    assert_exit(&run(c), 0);
    python_sql(&p, "PRAGMA user_version=999");
    let mut c = db(&p);
    c.arg("list");
    let out = run(c);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("newer"), "{}", stderr(&out));

    let foreign = dir.path().join("other.db");
    python_sql(&foreign, "CREATE TABLE t(x)");
    let mut c = db(&foreign);
    c.arg("list");
    let out = run(c);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("not a hashsift"), "{}", stderr(&out));
}

/// A known hash of the wrong length or stored as text (a database written around the schema's
/// checks, or damaged) is never compared cut, padded or as text: a scan that meets it, in
/// either lookup mode, stops with exit 3 naming the medium, and writes no report that would
/// grade the file.
#[test]
fn a_known_hash_of_the_wrong_length_or_type_stops_the_scan_naming_its_medium() {
    let content = b"synthetic graded file";
    for (damage, says) in [
        // One more byte: its key (first eight bytes) still finds it.
        (
            "CAST(md5 || x'00' AS BLOB)",
            "medium 1 in table media has an MD5 of 17 bytes, expected 16",
        ),
        (
            "hex(md5)",
            "medium 1 in table media has an MD5 stored as text, not as bytes",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        let ev = dir.path().join("ev");
        fs::create_dir(&ev).unwrap();
        fs::write(ev.join("a.bin"), content).unwrap();
        let list = dir.path().join("unit.md5");
        fs::write(&list, format!("{}  a.bin\n", md5_hex(content))).unwrap();
        assert_exit(&import(&p, &list, &["--category", "csam"]), 0);
        let status = Command::new("python3")
            .args([
                "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript('PRAGMA ignore_check_constraints=ON; UPDATE media SET md5 = ' + sys.argv[2])",
            ])
            .arg(&p)
            .arg(damage)
            .status()
            .unwrap();
        assert!(status.success(), "{damage}");
        for mode in ["index", "direct"] {
            let out_dir = dir.path().join(mode);
            let mut cmd = common::scan_cmd(&p, &out_dir, &ev);
            cmd.args(["--lookup", mode]).env_remove("HASHSIFT_DB");
            let out = common::run_with_timeout(cmd, Duration::from_secs(120));
            assert_exit(&out, 3);
            let said = stderr(&out);
            assert!(said.contains(says), "{damage}, {mode}: {said}");
            assert!(!out_dir.join("items.jsonl").exists(), "{mode}: no report");
        }
    }
}

#[test]
fn two_sets_that_disagree_are_a_conflict_triaged_as_the_most_severe() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let content = b"synthetic image one";
    let md5 = md5_hex(content);
    let other = md5_hex(b"synthetic image two");
    let v = dir.path().join("graded.json");
    fs::write(
        &v,
        vics(&[
            format!(
                "{{\"MediaID\": 1, \"Category\": 1, \"MD5\": \"{}\"}}",
                md5.to_uppercase()
            ),
            format!("{{\"MediaID\": 2, \"Category\": 0, \"MD5\": \"{other}\"}}"),
        ]),
    )
    .unwrap();
    let list = dir.path().join("unit.md5");
    fs::write(&list, format!("{md5}  one.png\n")).unwrap();
    assert_exit(&import(&p, &v, &[]), 0);
    assert_exit(&import(&p, &list, &["--category", "non_pertinent"]), 0);

    let found = lookup(&p, &md5);
    let media = &found[0]["media"];
    assert_eq!(media.as_array().unwrap().len(), 1, "{found}");
    let m = &media[0];
    assert_eq!(m["triage"], "csam");
    assert_eq!(m["conflict"], true);
    let mut cats: Vec<String> = m["grades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{}:{}",
                g["set"].as_str().unwrap(),
                g["category"].as_str().unwrap()
            )
        })
        .collect();
    cats.sort();
    assert_eq!(cats, ["graded:csam", "unit:non_pertinent"]);

    // The other medium is graded by one set only: no conflict.
    let m2 = &lookup(&p, &other)[0]["media"][0];
    assert_eq!(m2["conflict"], false);
    assert_eq!(m2["triage"], "non_pertinent");

    let mut c = db(&p);
    c.args(["stats", "--json"]);
    let out = run(c);
    assert_exit(&out, 0);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["conflicts"], 1);
    assert_eq!(stats["conflict_examples"][0], md5.as_str());
    assert_eq!(stats["media"], 2);
    assert_eq!(stats["by_triage"]["csam"], 1);
    assert_eq!(stats["by_triage"]["non_pertinent"], 1);

    // Unknown hashes: exit 1, said as unknown.
    let mut c = db(&p);
    c.args(["lookup", &md5_hex(b"never seen")]);
    let out = run(c);
    assert_exit(&out, 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("unknown"));
}

#[test]
fn replace_swaps_a_set_and_a_duplicate_name_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let a = md5_hex(b"a");
    let b = md5_hex(b"b");
    let c_ = md5_hex(b"c");
    let v1 = dir.path().join("v1.json");
    fs::write(
        &v1,
        vics(&[
            format!("{{\"Category\": 1, \"MD5\": \"{a}\"}}"),
            format!("{{\"Category\": 2, \"MD5\": \"{b}\"}}"),
        ]),
    )
    .unwrap();
    let v2 = dir.path().join("v2.json");
    fs::write(
        &v2,
        vics(&[
            format!("{{\"Category\": 2, \"MD5\": \"{a}\"}}"),
            format!("{{\"Category\": 3, \"MD5\": \"{c_}\"}}"),
        ]),
    )
    .unwrap();
    let name = ["--name", "national", "--set-version", "1"];
    assert_exit(&import(&p, &v1, &name), 0);
    let before = dump(&p);
    let bytes_before = fs::read(&p).unwrap();
    let out = import(&p, &v2, &["--name", "national", "--set-version", "2"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("--replace"), "{}", stderr(&out));
    assert_eq!(dump(&p), before);
    assert_eq!(fs::read(&p).unwrap(), bytes_before);

    assert_exit(
        &import(
            &p,
            &v2,
            &["--name", "national", "--set-version", "2", "--replace"],
        ),
        0,
    );
    assert_eq!(lookup(&p, &a)[0]["media"][0]["triage"], "csem");
    assert_eq!(
        lookup(&p, &a)[0]["media"][0]["grades"][0]["set_version"],
        "2"
    );
    assert_eq!(lookup(&p, &b)[0]["known"], false, "b was only in version 1");
    assert_eq!(lookup(&p, &c_)[0]["media"][0]["triage"], "cgi");
    let sets = sets(&p);
    assert_eq!(sets.as_array().unwrap().len(), 1);
    assert_eq!(sets[0]["version"], "2");

    let mut c = db(&p);
    c.args(["remove", "national"]);
    assert_exit(&run(c), 0);
    assert_eq!(lookup(&p, &a)[0]["known"], false);
    let media: String = dump(&p)
        .lines()
        .filter(|l| {
            l.starts_with("INSERT INTO \"media\"") || l.starts_with("INSERT INTO \"grade\"")
        })
        .collect();
    assert_eq!(media, "", "removing the only set leaves no media or grades");
}

/// Waits until `child` (an import) has a journal beside the database: it is inside its
/// transaction.
fn wait_for_journal(child: &mut std::process::Child, journal: &Path) {
    let start = Instant::now();
    while !journal.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import finished before it could be stopped"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no journal appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
}

/// A malformed variant of a set: file name, content, and what the error must say.
struct Bad {
    file: &'static str,
    content: Vec<u8>,
    args: Vec<&'static str>,
    says: Vec<&'static str>,
}

fn bad(file: &'static str, content: impl Into<Vec<u8>>, says: &[&'static str]) -> Bad {
    Bad {
        file,
        content: content.into(),
        args: Vec::new(),
        says: says.to_vec(),
    }
}

fn huge_line(prefix: &str, suffix: &str) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.resize(v.len() + 200_000_000, b'a');
    v.extend_from_slice(suffix.as_bytes());
    v
}

const MD5_A: &str = "0cc175b9c0f1b6a831c399e269772661";
const SHA1_A: &str = "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8";
const SHA256_A: &str = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";

fn text_variants() -> Vec<Bad> {
    let hd = |row: &str| format!("%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n## x\n{row}\n");
    let icse_head = "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;Series name;Number of submissions;File Available;Media Type;Baseline\n";
    let icse = |row: &str| format!("{icse_head}{MD5_A};{SHA1_A};;1;y;n;;S;1;y;image;y\n{row}\n");
    let v = |rec: &str| {
        vics(&[
            format!("{{\"Category\": 1, \"MD5\": \"{MD5_A}\"}}"),
            rec.to_owned(),
        ])
    };
    let mut out = vec![
        // hashdeep
        bad("t.hashdeep", "%%%% HASHDEEP-1.0\n", &["truncated"]),
        bad(
            "b.hashdeep",
            hd(&format!("1,{},{SHA256_A},/x", "zz".repeat(16))),
            &["line 4", "not hexadecimal"],
        ),
        bad(
            "l.hashdeep",
            hd(&format!("1,{},{SHA256_A},/x", &MD5_A[..31])),
            &["line 4", "32 hex digits"],
        ),
        bad(
            "n.hashdeep",
            hd(&format!("one,{MD5_A},{SHA256_A},/x")),
            &["line 4", "size 'one'"],
        ),
        bad(
            "h.hashdeep",
            huge_line(
                &format!(
                    "%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n1,{MD5_A},{SHA256_A},/"
                ),
                "\n",
            ),
            &["line 3", "longer than"],
        ),
        bad(
            "u.hashdeep",
            [
                b"%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n## x\n1,\xff\xfe".as_slice(),
                &MD5_A.as_bytes()[2..],
                format!(",{SHA256_A},/x\n").as_bytes(),
            ]
            .concat(),
            &["line 4", "UTF-8"],
        ),
        // digest lists
        bad(
            "b.md5",
            format!("{MD5_A}  ok\n{}  bad\n", "zz".repeat(16)),
            &["line 2", "not a digest line"],
        ),
        bad(
            "l.md5",
            format!("{MD5_A}  ok\n{}  short\n", &MD5_A[..31]),
            &["line 2"],
        ),
        bad(
            "t.md5",
            format!("{MD5_A}  ok\n{}", &MD5_A[..16]),
            &["line 2"],
        ),
        bad(
            "u.md5",
            [format!("{MD5_A}  ok\n").as_bytes(), b"\xff\xfe  x\n"].concat(),
            &["line 2", "UTF-8"],
        ),
        bad(
            "h.md5",
            huge_line(&format!("{MD5_A}  ok\n{MD5_A}  "), "\n"),
            &["line 2", "longer than"],
        ),
        // VICS
        bad(
            "t.json",
            v(&format!("{{\"Category\": 2, \"MD5\": \"{MD5_A}\""))
                .trim_end()
                .trim_end_matches("]}")
                .to_owned(),
            &["record 2", "truncated"],
        ),
        bad(
            "b.json",
            v(&format!(
                "{{\"Category\": 2, \"MD5\": \"{}\"}}",
                "zz".repeat(16)
            )),
            &["record 2", "not hexadecimal"],
        ),
        bad(
            "l.json",
            v(&format!(
                "{{\"Category\": 2, \"MD5\": \"{}\"}}",
                &MD5_A[..30]
            )),
            &["record 2", "32 hex digits"],
        ),
        bad(
            "n.json",
            v(&format!(
                "{{\"Category\": 2, \"MD5\": \"{MD5_A}\", \"MediaSize\": \"big\"}}"
            )),
            &["record 2", "MediaSize: 'big' is not a whole number"],
        ),
        Bad {
            args: vec!["--strict-codes"],
            ..bad(
                "c.json",
                v(&format!("{{\"Category\": 7, \"MD5\": \"{MD5_A}\"}}")),
                &["record 2", "'7'", "vics-us"],
            )
        },
        bad(
            "r.csv",
            icse(&format!(
                "{};{SHA1_A};;2;y;n;;S;1;y;image;y",
                "zz".repeat(16)
            ))
            .replace('\n', "\r\n"),
            &["line 3", "not hexadecimal"],
        ),
        bad(
            "q.csv",
            format!("md5,series\n{MD5_A},\"{}\"\n", "x\n".repeat(3_000_000)),
            &["line 2", "spanning lines"],
        ),
        bad(
            "a.json",
            v(&format!(
                "{{\"Category\": 2, \"MD5\": \"{MD5_A}\", \"AlternativeHashes\": [{{\"HashName\": \"MD5\", \"HashValue\": \"{}\"}}]}}",
                "ab".repeat(16)
            )),
            &["record 2", "another MD5"],
        ),
        bad(
            "h.json",
            huge_line(
                &format!(
                    "{{\"@odata.context\": \"{VICS_20}\", \"value\": [{{\"MD5\": \"{MD5_A}\"}}, {{\"MD5\": \"{MD5_A}\", \"Series\": \""
                ),
                "\"}]}",
            ),
            &["record 2", "bytes in one record"],
        ),
        bad(
            "u.json",
            [
                v("").split("},\n").next().unwrap().as_bytes(),
                b"}, {\"MD5\": \"\xff\xfe\"}]}",
            ]
            .concat(),
            &["record 2", "line 2", "invalid unicode"],
        ),
        bad(
            "x.json",
            "{\"name\": \"not vics\", \"value\": []}",
            &["not odata.metadata"],
        ),
        // ICSE
        bad(
            "b.csv",
            icse(&format!(
                "{};{SHA1_A};;2;y;n;;S;1;y;image;y",
                "zz".repeat(16)
            )),
            &["line 3", "not hexadecimal"],
        ),
        bad(
            "l.csv",
            icse(&format!("{MD5_A};{};;2;y;n;;S;1;y;image;y", &SHA1_A[..39])),
            &["line 3", "40 hex digits"],
        ),
        bad(
            "n.csv",
            icse(&format!("{MD5_A};{SHA1_A};;2;maybe;n;;S;1;y;image;y")),
            &["line 3", "'maybe' is not a yes/no value"],
        ),
        bad(
            "t.csv",
            icse(&format!("{MD5_A};{SHA1_A};;2;y")),
            &["line 3", "fields where the header has 12"],
        ),
        bad(
            "u.csv",
            [
                icse("").trim_end().as_bytes(),
                format!("\n{MD5_A};{SHA1_A};;2;y;n;;").as_bytes(),
                b"\xff\xfe",
                b";1;y;image;y\n",
            ]
            .concat(),
            &["line 3", "UTF-8"],
        ),
        bad(
            "h.csv",
            huge_line(
                &format!("{icse_head}{MD5_A};{SHA1_A};;"),
                ";y;n;;S;1;y;image;y\n",
            ),
            &["line 2", "longer than"],
        ),
    ];
    // NSRL RDS 2.x and HashKeeper: their own headers, bad hex and a string for a size.
    let nsrl_head = "\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",\"FileSize\",\"ProductCode\",\"OpSystemCode\",\"SpecialCode\"\r\n";
    let nsrl = |sha1: &str, md5: &str, size: &str| {
        format!(
            "{nsrl_head}\"{SHA1_A}\",\"{MD5_A}\",\"00\",\"a\",1,1,\"358\",\"\"\r\n\"{sha1}\",\"{md5}\",\"00\",\"b\",{size},1,\"358\",\"\"\r\n"
        )
    };
    out.push(bad(
        "b.nsrl",
        nsrl(SHA1_A, &"zz".repeat(16), "1"),
        &["line 3", "not hexadecimal"],
    ));
    out.push(bad(
        "n.nsrl",
        nsrl(SHA1_A, MD5_A, "\"big\""),
        &["line 3", "size 'big'"],
    ));
    let hk_head = "\"file_id\",\"hashset_id\",\"file_name\",\"directory\",\"hash\",\"file_size\",\"date_modified\",\"time_modified\",\"time_zone\",\"comments\",\"date_accessed\",\"time_accessed\"\n";
    let hk = |md5: &str, size: &str| {
        format!(
            "{hk_head}\"1\",\"1\",\"a\",\"d\",\"{MD5_A}\",\"1\",\"\",\"\",\"\",\"\",\"\",\"\"\n\"2\",\"1\",\"b\",\"d\",\"{md5}\",\"{size}\",\"\",\"\",\"\",\"\",\"\",\"\"\n"
        )
    };
    out.push(bad(
        "b.hsh",
        hk(&MD5_A[..31], "1"),
        &["line 3", "32 hex digits"],
    ));
    out.push(bad("n.hsh", hk(MD5_A, "one"), &["line 3", "size 'one'"]));
    out.push(bad(
        "t.hsh",
        format!("{hk_head}\"1\",\"1\",\"a\""),
        &["line 2", "fields where the header has 12"],
    ));
    // Generic CSV: an unknown category code, a string where a size belongs.
    let mut code = bad(
        "c.gen.csv",
        format!("md5,category\n{MD5_A},Cat A\n{MD5_A},Cat Z\n"),
        &["line 3", "'Cat Z'"],
    );
    code.args = vec![
        "--format",
        "csv",
        "--map-value",
        "Cat A=csam",
        "--strict-codes",
    ];
    out.push(code);
    let mut size = bad(
        "n.gen.csv",
        format!("md5,size\n{MD5_A},12\n{MD5_A},twelve\n"),
        &["line 3", "size 'twelve'"],
    );
    size.args = vec!["--format", "csv"];
    out.push(size);
    // EnCase: shorter than its record count, and longer.
    let mut encase = vec![
        0x48, 0x41, 0x53, 0x48, 0x0D, 0x0A, 0xFF, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00,
    ];
    encase.extend_from_slice(&3u32.to_le_bytes());
    encase.resize(0x480, 0);
    encase.extend_from_slice(&[7u8; 18 * 2]);
    out.push(bad("t.hash", encase.clone(), &["record 3", "truncated"]));
    encase.extend_from_slice(&[7u8; 18 * 2]);
    out.push(bad("x.hash", encase, &["record 4", "goes on"]));
    out
}

/// Writes a minimal RDSv3 or kdb database with one bad row, through rusqlite.
fn sqlite_variants(dir: &Path) -> Vec<(PathBuf, Vec<&'static str>)> {
    let rds = dir.join("bad-rds.db");
    let c = rusqlite::Connection::open(&rds).unwrap();
    c.execute_batch(&format!(
        "CREATE TABLE FILE(sha256, sha1, md5, crc32, file_name, file_size, package_id);
         CREATE TABLE PKG(package_id);
         INSERT INTO FILE VALUES ('{}', '{}', '{}', '00', 'a', 1, 1);
         INSERT INTO FILE VALUES ('{}', '{}', 'XYZ', '00', 'b', 1, 1);",
        SHA256_A.to_uppercase(),
        SHA1_A.to_uppercase(),
        MD5_A.to_uppercase(),
        SHA256_A.to_uppercase(),
        SHA1_A.to_uppercase()
    ))
    .unwrap();
    drop(c);
    let size = dir.join("bad-size-rds.db");
    let c = rusqlite::Connection::open(&size).unwrap();
    c.execute_batch(&format!(
        "CREATE TABLE FILE(sha256, sha1, md5, crc32, file_name, file_size, package_id);
         CREATE TABLE PKG(package_id);
         INSERT INTO FILE VALUES ('{SHA256_A}', '{SHA1_A}', '{MD5_A}', '00', 'b', 'large', 1);"
    ))
    .unwrap();
    drop(c);
    let kdb = dir.join("bad.kdb");
    let c = rusqlite::Connection::open(&kdb).unwrap();
    c.execute_batch(
        "CREATE TABLE hashes(id INTEGER PRIMARY KEY AUTOINCREMENT, md5 BINARY(16) UNIQUE, sha1 BINARY(20), sha2_256 BINARY(32));",
    )
    .unwrap();
    c.execute("INSERT INTO hashes(md5) VALUES (?1)", [vec![1u8; 16]])
        .unwrap();
    c.execute("INSERT INTO hashes(md5) VALUES (?1)", [vec![2u8; 15]])
        .unwrap();
    drop(c);
    // A FILE view that invents rows without end (bounded here, so that an import without the
    // guard still ends): refused long before, by the rows a file this small can hold.
    let view = dir.join("endless-rds.db");
    let c = rusqlite::Connection::open(&view).unwrap();
    c.execute_batch(
        "CREATE TABLE PKG(package_id);
         CREATE VIEW FILE AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 3000000)
           SELECT printf('%064x', x) AS sha256, printf('%040x', x) AS sha1,
                  printf('%032x', x) AS md5, '00' AS crc32, 'f' AS file_name, 1 AS file_size,
                  1 AS package_id FROM n;",
    )
    .unwrap();
    drop(c);
    vec![
        (view, vec!["more rows than a file of", "view"]),
        (rds, vec!["record 2", "md5 must be 32 hex digits"]),
        (size, vec!["record 1", "size 'large'"]),
        (kdb, vec!["record 2", "15 bytes"]),
    ]
}

#[test]
fn malformed_sets_are_rejected_with_their_location_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let good = dir.path().join("good.md5");
    fs::write(&good, format!("{MD5_A}  a\n")).unwrap();
    assert_exit(&import(&p, &good, &["--category", "csam"]), 0);
    let before = dump(&p);
    let bytes_before = fs::read(&p).unwrap();

    let mut cases: Vec<(PathBuf, Vec<&'static str>, Vec<&'static str>)> = Vec::new();
    for b in text_variants() {
        let path = dir.path().join(b.file);
        fs::write(&path, &b.content).unwrap();
        cases.push((path, b.args, b.says));
    }
    for (path, says) in sqlite_variants(dir.path()) {
        cases.push((path, Vec::new(), says));
    }
    for (path, args, says) in &cases {
        let out = import(&p, path, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{}: {err}", path.display());
        assert!(
            err.contains(&path.display().to_string()),
            "{}: names no file: {err}",
            path.display()
        );
        for s in says {
            assert!(
                err.contains(s),
                "{}: expected '{s}' in: {err}",
                path.display()
            );
        }
        assert!(err.contains("database is unchanged"), "{err}");
        assert!(!dir.path().join("k.db-journal").exists());
        assert_eq!(
            fs::read(&p).unwrap(),
            bytes_before,
            "{}: database bytes changed",
            path.display()
        );
        let _ = fs::remove_file(path);
    }
    assert_eq!(dump(&p), before);
}

#[test]
fn an_import_interrupted_or_killed_midway_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let good = dir.path().join("good.md5");
    fs::write(&good, format!("{MD5_A}  a\n")).unwrap();
    assert_exit(&import(&p, &good, &["--category", "csam"]), 0);
    let before = dump(&p);

    // A large set, so that the kill lands inside the transaction.
    let big = dir.path().join("big.json");
    let mut f = std::io::BufWriter::new(fs::File::create(&big).unwrap());
    write!(f, "{{\"@odata.context\": \"{VICS_20}\", \"value\": [").unwrap();
    for i in 0..600_000u64 {
        let sep = if i == 0 { "" } else { "," };
        write!(f, "{sep}\n{{\"MediaID\": {i}, \"Category\": 1, \"MD5\": \"{:032x}\", \"SHA1\": \"{:040x}\"}}", i * 7919 + 1, i * 104_729 + 3).unwrap();
    }
    writeln!(f, "]}}").unwrap();
    drop(f);

    // How long the whole import takes, into a copy: the kills below land early and late in it.
    let saved = dir.path().join("before.db");
    fs::copy(&p, &saved).unwrap();
    let probe = dir.path().join("probe.db");
    fs::copy(&p, &probe).unwrap();
    let timing = Instant::now();
    assert_exit(&import(&probe, &big, &[]), 0);
    let full = timing.elapsed();
    let full_rows = sets(&probe)
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "big")
        .unwrap()["rows_imported"]
        .clone();

    // Ctrl-C first: the import stops, says so, exits 130 and rolls back.
    let wal = dir.path().join("k.db-wal");
    let mut c = db(&p);
    c.arg("import").arg(&big).arg("-q");
    c.stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    wait_for_journal(&mut child, &wal);
    // SAFETY: sends SIGINT to a child process this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    assert!(
        stderr(&out).contains("database is unchanged"),
        "{}",
        stderr(&out)
    );
    assert!(!wal.exists(), "the interrupted import closed the database");
    assert_eq!(dump(&p), before);

    // Then killed (KILL, TERM, HUP: none is caught) early, midway, late, and while it writes
    // the log at its commit. Each time every reader opens the database as it was before the
    // import, or (a kill after the commit) as the whole import left it: never in between.
    // (signal, time after the start; `None`: once the log beside the database grows past
    // 1 MiB, which it does only when the transaction commits, the whole set being in cache.)
    let points = [
        (libc::SIGKILL, Some(full / 10)),
        (libc::SIGTERM, Some(full * 3 / 10)),
        (libc::SIGHUP, Some(full * 6 / 10)),
        (libc::SIGKILL, None),
        (libc::SIGTERM, None),
    ];
    let mut landed_kills = 0;
    let evidence = dir.path().join("ev");
    fs::create_dir_all(&evidence).unwrap();
    fs::write(evidence.join("a"), b"a").unwrap();
    for (n, &(sig, at)) in points.iter().enumerate() {
        let mut c = db(&p);
        c.arg("import").arg(&big).arg("-q");
        let mut child = c.spawn().unwrap();
        let started = Instant::now();
        let due = || match at {
            Some(at) => started.elapsed() >= at,
            None => fs::metadata(&wal).is_ok_and(|m| m.len() > 1 << 20),
        };
        while !due() && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let landed = child.try_wait().unwrap().is_none();
        landed_kills += usize::from(landed);
        // SAFETY: signals a child process this test started and has not yet reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, sig) };
        child.wait().unwrap();
        eprintln!("kill {n}: signal {sig} at {at:?} of {full:?}, landed: {landed}");

        // Every reading command opens it, a scan too, without any write command first.
        let mut c = db(&p);
        c.args(["list", "--json"]);
        let out = run(c);
        assert_exit(&out, 0);
        let mut c = db(&p);
        c.args(["stats"]);
        assert_exit(&run(c), 0);
        let mut c = db(&p);
        c.args(["lookup", MD5_A]);
        assert_exit(&run(c), 0);
        let mut c = db(&p);
        c.args(["export", "--all", "--format", "csv", "-o"])
            .arg(dir.path().join(format!("export-{n}.csv")));
        assert_exit(&run(c), 0);
        let out = common::scan_quietly(&p, &dir.path().join(format!("scan-{n}")), &evidence);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "kill {n}: scan: {}",
            stderr(&out)
        );
        let now = dump(&p);
        if now != before {
            // Killed after its commit: then the import is whole (its rows counted as the
            // uninterrupted one's). Start again from before it.
            let sets = sets(&p);
            let sets = sets.as_array().unwrap();
            assert_eq!(
                sets.len(),
                2,
                "kill {n}: neither before nor after: {sets:?}"
            );
            let big = sets.iter().find(|s| s["name"] == "big").unwrap();
            assert_eq!(big["rows_read"], 600_000, "kill {n}: {sets:?}");
            assert_eq!(big["rows_imported"], full_rows, "kill {n}: {sets:?}");
            fs::copy(&saved, &p).unwrap();
        }
    }
    assert!(
        landed_kills >= 3,
        "only {landed_kills} kills landed mid-import"
    );
    // And a later import succeeds.
    assert_exit(&import(&p, &big, &[]), 0);
    assert_eq!(
        lookup(&p, &format!("{:032x}", 7919 * 5 + 1))[0]["media"][0]["triage"],
        "csam"
    );
}

#[test]
fn records_of_one_set_sharing_a_hash_merge_and_a_clash_is_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let x = md5_hex(b"x");
    let y = "11".repeat(20);
    let z = "22".repeat(20);
    let set = dir.path().join("set.json");
    fs::write(
        &set,
        vics(&[
            // The same file listed three times: graded non-pertinent, then CAM with its SHA-1.
            format!("{{\"Category\": 0, \"MD5\": \"{x}\", \"Series\": \"first\"}}"),
            format!("{{\"Category\": 1, \"MD5\": \"{x}\", \"SHA1\": \"{y}\", \"Tags\": [\"t\"]}}"),
            format!("{{\"Category\": 0, \"MD5\": \"{x}\", \"SHA1\": \"{y}\"}}"),
            // Same MD5, another SHA-1: not the same file.
            format!("{{\"Category\": 3, \"MD5\": \"{x}\", \"SHA1\": \"{z}\"}}"),
        ]),
    )
    .unwrap();
    let out = import(&p, &set, &[]);
    assert_exit(&out, 0);
    let sets = sets(&p);
    assert_eq!(sets[0]["rows_read"], 4);
    assert_eq!(sets[0]["rows_imported"], 2, "{sets}");

    // By the SHA-1 only the second and third records carry: the merged medium.
    let by_y = lookup(&p, &y);
    let m = &by_y[0]["media"][0];
    assert_eq!(by_y[0]["media"].as_array().unwrap().len(), 1);
    assert_eq!(m["md5"], x.as_str());
    assert_eq!(
        m["grades"].as_array().unwrap().len(),
        1,
        "one grade per set: {m}"
    );
    let g = &m["grades"][0];
    assert_eq!(g["category"], "csam");
    assert_eq!(g["code"], "1");
    assert_eq!(g["record"], 1);
    assert_eq!(g["series"], "first");
    assert_eq!(g["tags"], serde_json::json!(["t"]));
    assert_eq!(
        m["conflict"], false,
        "one set's records do not conflict with each other"
    );

    // By the MD5: both media, the clash kept apart with its own grade.
    let by_x = lookup(&p, &x);
    let media = by_x[0]["media"].as_array().unwrap();
    assert_eq!(media.len(), 2, "{by_x}");
    let clash = media.iter().find(|m| m["sha1"] == z.as_str()).unwrap();
    assert_eq!(clash["grades"][0]["category"], "cgi");
}

#[test]
fn records_sharing_only_a_second_hash_merge_and_values_alike_in_their_first_bytes_do_not() {
    // Into an empty database the merge looks only at values whose first four bytes several
    // new media share; these values share those bytes without being equal, and sit at both
    // ends of the range of four-byte prefixes.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let (m1, m2) = (md5_hex(b"one"), md5_hex(b"two"));
    let s1 = format!("aabbccdd{}", "00".repeat(16));
    let s2 = format!("aabbccdd{}", "11".repeat(16));
    let s3 = format!("ffffffff{}", "22".repeat(16));
    let s4 = format!("ffffffff{}", "33".repeat(16));
    let s5 = format!("00000000{}", "44".repeat(16));
    let set = dir.path().join("set.json");
    fs::write(
        &set,
        vics(&[
            format!("{{\"Category\": 2, \"MD5\": \"{m1}\", \"SHA1\": \"{s1}\"}}"),
            format!("{{\"Category\": 1, \"SHA1\": \"{s1}\"}}"),
            format!("{{\"Category\": 0, \"SHA1\": \"{s2}\"}}"),
            format!("{{\"Category\": 1, \"MD5\": \"{m2}\", \"SHA1\": \"{s3}\"}}"),
            format!("{{\"Category\": 1, \"SHA1\": \"{s3}\"}}"),
            format!("{{\"Category\": 0, \"SHA1\": \"{s4}\"}}"),
            format!("{{\"Category\": 0, \"SHA1\": \"{s5}\"}}"),
        ]),
    )
    .unwrap();
    assert_exit(&import(&p, &set, &[]), 0);
    let sets = sets(&p);
    assert_eq!(sets[0]["rows_read"], 7);
    assert_eq!(sets[0]["rows_imported"], 5, "{sets}");
    for (sha1, md5) in [(&s1, Some(&m1)), (&s3, Some(&m2)), (&s2, None), (&s4, None)] {
        let found = lookup(&p, sha1);
        let media = found[0]["media"].as_array().unwrap();
        assert_eq!(media.len(), 1, "{found}");
        match md5 {
            Some(m) => assert_eq!(media[0]["md5"], m.as_str(), "{found}"),
            None => assert!(media[0]["md5"].is_null(), "{found}"),
        }
    }
    assert_eq!(
        lookup(&p, &s1)[0]["media"][0]["grades"][0]["category"],
        "csam",
        "the merged medium has the MD5 of one record and the grade of the other"
    );
}

#[test]
fn repeats_that_carry_no_grade_keep_one_record_and_graded_ones_keep_all() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let (a, b) = (md5_hex(b"a"), md5_hex(b"b"));
    // A digest list names a file three times (as NSRL lists one file per package): the
    // repeats say nothing of their own.
    let list = dir.path().join("list.md5");
    fs::write(&list, format!("{a}  x\n{b}  y\n{a}  z\n{a}  w\n")).unwrap();
    assert_exit(&import(&p, &list, &["--name", "list"]), 0);
    // A VICS set names a file three times: without a grade, graded, without again.
    let set = dir.path().join("set.json");
    fs::write(
        &set,
        vics(&[
            format!("{{\"MD5\": \"{b}\"}}"),
            format!("{{\"Category\": 1, \"MD5\": \"{b}\"}}"),
            format!("{{\"MD5\": \"{b}\"}}"),
        ]),
    )
    .unwrap();
    assert_exit(&import(&p, &set, &["--name", "vics"]), 0);
    let rows = dump(&p);
    let grades: Vec<&str> = rows
        .lines()
        .filter(|l| l.starts_with("INSERT INTO \"grade\""))
        .collect();
    // list: a (record 1), b (record 2); vics: records 1 and 2 (the third repeats the first).
    assert_eq!(grades.len(), 4, "{grades:#?}");
    let sets = sets(&p);
    let list_set = sets
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "list")
        .unwrap();
    assert_eq!(list_set["rows_read"], 4);
    assert_eq!(list_set["rows_imported"], 2);
    assert_eq!(list_set["rows_merged"], 2);
    let found = lookup(&p, &a);
    assert_eq!(found[0]["media"][0]["grades"][0]["record"], 1, "{found}");
    let found = lookup(&p, &b);
    let g = &found[0]["media"][0]["grades"];
    let of_vics = g
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["set"] == "vics")
        .unwrap();
    assert_eq!(of_vics["category"], "csam", "{found}");
}

#[test]
fn a_set_from_two_files_may_list_a_hash_in_both() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let x = md5_hex(b"x");
    let a = dir.path().join("a.md5");
    let b = dir.path().join("b.md5");
    fs::write(&a, format!("{x}  one\n")).unwrap();
    fs::write(&b, format!("{x}  again\n")).unwrap();
    let mut c = db(&p);
    c.args(["import", "--name", "split", "--category", "csam", "-q"])
        .arg(&a)
        .arg(&b);
    assert_exit(&run(c), 0);
    let m = &lookup(&p, &x)[0]["media"][0];
    assert_eq!(m["grades"].as_array().unwrap().len(), 1);
    assert_eq!(m["grades"][0]["file"], 0);
    assert_eq!(m["grades"][0]["record"], 1);
}

#[test]
fn media_chained_through_several_sets_merge_and_removal_takes_back_what_a_set_brought() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.db");
    let x = md5_hex(b"chain");
    let y = "ab".repeat(20);
    let write = |name: &str, body: String| {
        let f = dir.path().join(name);
        fs::write(&f, body).unwrap();
        f
    };
    // A knows the MD5, B the SHA-1, C both: all three are one file.
    let a = write(
        "a.json",
        vics(&[format!("{{\"Category\": 1, \"MD5\": \"{x}\"}}")]),
    );
    let b = write(
        "b.json",
        vics(&[format!("{{\"Category\": 0, \"SHA1\": \"{y}\"}}")]),
    );
    let c_ = write(
        "c.json",
        vics(&[format!(
            "{{\"Category\": 1, \"MD5\": \"{x}\", \"SHA1\": \"{y}\", \"MediaSize\": 5}}"
        )]),
    );
    for f in [&a, &b, &c_] {
        assert_exit(&import(&p, f, &[]), 0);
    }
    let found = lookup(&p, &y);
    let media = found[0]["media"].as_array().unwrap();
    assert_eq!(media.len(), 1, "{found}");
    assert_eq!(media[0]["grades"].as_array().unwrap().len(), 3);
    assert_eq!(
        media[0]["conflict"], true,
        "A and C say csam, B non_pertinent"
    );

    // Removing C keeps the medium (A and B still grade it) with what A and B gave; what C
    // alone brought (the size) goes.
    let mut cmd = db(&p);
    cmd.args(["remove", "c"]);
    assert_exit(&run(cmd), 0);
    let m = &lookup(&p, &x)[0]["media"][0];
    assert_eq!(m["size"], serde_json::Value::Null, "{m}");
    assert_eq!(m["md5"], x.as_str());
    assert_eq!(
        m["sha1"],
        y.as_str(),
        "B gave the SHA-1 and is still there: {m}"
    );
}

#[test]
fn a_b3sum_list_is_read_as_blake3_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.bin");
    fs::write(&file, b"synthetic content for a b3sum list").unwrap();
    // What is tested is how the list is read, not the digest: without `b3sum` (its test
    // elsewhere says SKIPPED) any BLAKE3 value serves, here the crate's.
    let blake3 = if common::have_tool("b3sum", "b3sum") {
        common::oracle_digest("b3sum", &file)
    } else {
        blake3::hash(&fs::read(&file).unwrap()).to_hex().to_string()
    };
    let list = dir.path().join("list.b3");
    fs::write(&list, format!("{blake3}  image.bin\n")).unwrap();

    let p = dir.path().join("k.db");
    assert_exit(&import(&p, &list, &["--blake3", "--category", "csam"]), 0);
    let m = &lookup(&p, &blake3)[0]["media"][0];
    assert_eq!(m["blake3"], blake3.as_str());
    assert_eq!(m["sha256"], serde_json::Value::Null);

    // Untold, the same line is a SHA-256 (the two look alike).
    let q = dir.path().join("q.db");
    assert_exit(&import(&q, &list, &[]), 0);
    assert_eq!(
        lookup(&q, &blake3)[0]["media"][0]["sha256"],
        blake3.as_str()
    );
}
