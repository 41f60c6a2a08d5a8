//! `hashsift scan` end to end: an evidence tree with images and other files, nested, with
//! copies and renamed extensions; hash sets written by the test from coreutils' digests (one
//! grading some files, one disagreeing about a file, one with a contradicting and a wrong-size
//! entry); `db import`, `scan`; every item's category and matches, and the summary's totals,
//! checked against what the test itself expects.

/// The report files the manifest must vouch for (the test's own list, not the code's).
const REPORT_FILES: [&str; 5] = [
    "items.jsonl",
    "items.csv",
    "vics.json",
    "summary.json",
    "summary.html",
];

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::{
    assert_exit, bytes_of, hashsift, import_graded as import, oracle_digest, parse_jsonl,
    pseudo_random,
};

/// A file of the evidence: its content starts with `magic`, then pseudo-random bytes.
struct Fixture {
    path: &'static str,
    magic: &'static [u8],
    len: usize,
    seed: u64,
    /// The detected type the test expects.
    mime: &'static str,
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0";

const FILES: &[Fixture] = &[
    // Graded csam by set A; its copy elsewhere, and a copy renamed to .txt, are graded too.
    Fixture {
        path: "DCIM/100/a.png",
        magic: PNG,
        len: 5000,
        seed: 1,
        mime: "image/png",
    },
    Fixture {
        path: "Backup/old/copy-of-a.png",
        magic: PNG,
        len: 5000,
        seed: 1,
        mime: "image/png",
    },
    Fixture {
        path: "Documents/notes.txt",
        magic: PNG,
        len: 5000,
        seed: 1,
        mime: "image/png",
    },
    // Graded cgi by A and non_pertinent by B: a conflict, triaged as cgi.
    Fixture {
        path: "DCIM/100/b.jpg",
        magic: JPEG,
        len: 7000,
        seed: 2,
        mime: "image/jpeg",
    },
    // A's entry has its MD5 and a wrong SHA-1: contradicted, so not graded.
    Fixture {
        path: "DCIM/101/c.jpg",
        magic: JPEG,
        len: 3000,
        seed: 3,
        mime: "image/jpeg",
    },
    // A's entry has its hashes and a wrong size: graded, marked.
    Fixture {
        path: "DCIM/101/d.png",
        magic: PNG,
        len: 4000,
        seed: 4,
        mime: "image/png",
    },
    // Unknown media and other files.
    Fixture {
        path: "DCIM/101/e.png",
        magic: PNG,
        len: 6000,
        seed: 5,
        mime: "image/png",
    },
    Fixture {
        path: "Downloads/archive.zip",
        magic: b"PK\x03\x04",
        len: 900,
        seed: 6,
        mime: "application/zip",
    },
    Fixture {
        path: "Downloads/tool.exe",
        magic: b"MZ",
        len: 800,
        seed: 7,
        mime: "application/vnd.microsoft.portable-executable",
    },
    Fixture {
        path: "Downloads/report.pdf",
        magic: b"%PDF-1.4\n",
        len: 700,
        seed: 8,
        mime: "application/pdf",
    },
    // A name a spreadsheet would run as a formula.
    Fixture {
        path: "Downloads/list.=SUM(A1)",
        magic: b"",
        len: 300,
        seed: 10,
        mime: "application/octet-stream",
    },
    // Known to set B only, as a known file (NSRL-like).
    Fixture {
        path: "Windows/system.dll",
        magic: b"MZ",
        len: 1200,
        seed: 9,
        mime: "application/vnd.microsoft.portable-executable",
    },
];

fn build(root: &Path) -> BTreeMap<&'static str, PathBuf> {
    let mut paths = BTreeMap::new();
    for f in FILES {
        let path = root.join(f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut content = f.magic.to_vec();
        content.extend(pseudo_random(f.len - f.magic.len(), f.seed));
        std::fs::write(&path, content).unwrap();
        paths.insert(f.path, path);
    }
    paths
}

fn digests(path: &Path) -> (u64, String, String, String) {
    (
        std::fs::metadata(path).unwrap().len(),
        oracle_digest("md5sum", path),
        oracle_digest("sha1sum", path),
        oracle_digest("sha256sum", path),
    )
}

/// A new database in `dir` with one set, `name`, that knows `file` by its MD5 (from coreutils)
/// and grades it `category`.
fn db_knowing(dir: &Path, file: &Path, name: &str, category: &str) -> PathBuf {
    let set = dir.join("s.md5");
    std::fs::write(&set, format!("{}  known\n", oracle_digest("md5sum", file))).unwrap();
    let db = dir.join("k.db");
    import(&db, &set, name, category);
    db
}

/// Each file's category, whether its grading sets disagree, and the statuses of its matches,
/// as the test expects them from the sets it writes.
const EXPECTED: &[(&str, &str, bool, &[&str])] = &[
    // path, category, conflict, statuses of its matches
    ("DCIM/100/a.png", "csam", false, &["all_agree"]),
    ("Backup/old/copy-of-a.png", "csam", false, &["all_agree"]),
    ("Documents/notes.txt", "csam", false, &["all_agree"]),
    ("DCIM/100/b.jpg", "cgi", true, &["all_agree"]),
    ("DCIM/101/c.jpg", "unknown", false, &["contradicts"]),
    ("DCIM/101/d.png", "csam", false, &["size_mismatch"]),
    ("DCIM/101/e.png", "unknown", false, &[]),
    ("Downloads/archive.zip", "unknown", false, &[]),
    ("Downloads/tool.exe", "unknown", false, &[]),
    ("Downloads/report.pdf", "unknown", false, &[]),
    ("Downloads/list.=SUM(A1)", "unknown", false, &[]),
    ("Windows/system.dll", "known_file", false, &["all_agree"]),
];

/// The scan most tests here read: the evidence of [`FILES`], a database of four sets grading
/// some of it, and one `scan --case 2026-0042 --evidence-id EXH-1` into `out_dir`. Made once
/// per run of this test binary (by whichever test asks first); the tests only read it, and
/// what they write goes to directories of their own, so they run in any order.
struct Graded {
    evidence: PathBuf,
    paths: BTreeMap<&'static str, PathBuf>,
    db: PathBuf,
    out_dir: PathBuf,
    /// The scan's exit status and stderr.
    scan: std::process::Output,
    header: serde_json::Value,
    items: BTreeMap<Vec<u8>, serde_json::Value>,
    end: serde_json::Value,
}

impl Graded {
    /// Size, MD5, SHA-1 and SHA-256 of an evidence file, from coreutils.
    fn digests(&self, p: &str) -> (u64, String, String, String) {
        digests(&self.paths[p])
    }

    /// The file's record in items.jsonl.
    fn item(&self, p: &str) -> &serde_json::Value {
        &self.items[&bytes_of(&self.paths[p])]
    }

    /// A JSON file of the report.
    fn report_json(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.out_dir.join(name)).unwrap()).unwrap()
    }
}

fn graded() -> &'static Graded {
    static GRADED: OnceLock<Graded> = OnceLock::new();
    GRADED.get_or_init(|| {
        // Under Cargo's directory for test files, replaced at each run: a static is never
        // dropped, so a temporary directory would outlive the run.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scan-graded");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let evidence = dir.join("evidence");
        let paths = build(&evidence);
        let d = |p: &str| digests(&paths[p]);

        // Set A (hashdeep): a csam, b cgi, c with a wrong SHA-1, d with a wrong size.
        let (a, b, c, dd) = (
            d("DCIM/100/a.png"),
            d("DCIM/100/b.jpg"),
            d("DCIM/101/c.jpg"),
            d("DCIM/101/d.png"),
        );
        let wrong_sha1 = "0".repeat(40);
        let set_a = dir.join("a.txt");
        std::fs::write(
            &set_a,
            format!(
                "%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,sha256,filename\n\
                 {},{},{},{},/x/a.png\n\
                 {},{},{},{},/x/c.jpg\n\
                 {},{},{},{},/x/d.png\n",
                a.0,
                a.1,
                a.2,
                a.3,
                c.0,
                c.1,
                wrong_sha1,
                c.3,
                dd.0 + 1,
                dd.1,
                dd.2,
                dd.3
            ),
        )
        .unwrap();
        let set_a_cgi = dir.join("a-cgi.txt");
        std::fs::write(
            &set_a_cgi,
            format!(
                "%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,sha256,filename\n{},{},{},{},/x/b.jpg\n",
                b.0, b.1, b.2, b.3
            ),
        )
        .unwrap();
        // Set B (md5sum): b non_pertinent; system.dll known_file (as another set).
        let set_b = dir.join("b.md5");
        std::fs::write(&set_b, format!("{}  b.jpg\n", b.1)).unwrap();
        let set_nsrl = dir.join("nsrl.md5");
        std::fs::write(
            &set_nsrl,
            format!("{}  system.dll\n", d("Windows/system.dll").1),
        )
        .unwrap();

        let db = dir.join("known.db");
        import(&db, &set_a, "unit-a", "csam");
        import(&db, &set_a_cgi, "unit-a-cgi", "cgi");
        import(&db, &set_b, "unit-b", "non_pertinent");
        import(&db, &set_nsrl, "reference", "known_file");

        let out_dir = dir.join("report");
        let scan = common::run_with_timeout(
            {
                let mut cmd = hashsift();
                cmd.arg("scan")
                    .arg(&evidence)
                    .arg("-o")
                    .arg(&out_dir)
                    .arg("--db")
                    .arg(&db)
                    .args(["--case", "2026-0042", "--evidence-id", "EXH-1", "--quiet"]);
                cmd
            },
            Duration::from_secs(120),
        );
        let text = std::fs::read_to_string(out_dir.join("items.jsonl")).unwrap_or_else(|e| {
            panic!(
                "items.jsonl: {e}; the scan's stderr: {}",
                String::from_utf8_lossy(&scan.stderr)
            )
        });
        let (header, items, end) = parse_jsonl(&text);
        Graded {
            evidence,
            paths,
            db,
            out_dir,
            scan,
            header,
            items,
            end,
        }
    })
}

#[test]
fn a_scan_with_csam_among_its_matches_exits_1_and_lists_the_case_to_its_end() {
    let g = graded();
    // csam among the matches: exit 1.
    assert_exit(&g.scan, 1);
    assert_eq!(g.header["case"], "2026-0042");
    assert_eq!(g.end["complete"], true);
}

#[test]
fn every_file_has_the_digests_coreutils_computes_and_its_detected_type() {
    let g = graded();
    // Every file: digests as coreutils computes them, and the detected type.
    for f in FILES {
        let v = g.item(f.path);
        let (size, md5, sha1, sha256) = g.digests(f.path);
        assert_eq!(v["size"], size, "{}", f.path);
        assert_eq!(
            (v["md5"].as_str(), v["sha1"].as_str(), v["sha256"].as_str()),
            (
                Some(md5.as_str()),
                Some(sha1.as_str()),
                Some(sha256.as_str())
            ),
            "{}",
            f.path
        );
        assert_eq!(v["detected_type"], f.mime, "{}", f.path);
    }
    assert_eq!(g.item("Documents/notes.txt")["extension"], "txt");
}

/// Copies, and a copy renamed to .txt, are graded as the original; a file two sets grade
/// differently takes the more severe grade, marked as a conflict; a contradicted match grades
/// nothing, a size mismatch grades but says so; what no set knows is left unknown.
#[test]
fn known_files_are_graded_by_their_most_severe_match_and_the_rest_left_unknown() {
    let g = graded();
    for (path, category, conflict, statuses) in EXPECTED {
        let v = g.item(path);
        assert_eq!(v["category"], *category, "{path}: {v}");
        assert_eq!(v["conflict"], *conflict, "{path}: {v}");
        let got: Vec<&str> = v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["status"].as_str().unwrap())
            .collect();
        assert_eq!(got, *statuses, "{path}: {v}");
    }
}

#[test]
fn a_contradicted_match_names_the_algorithm_that_disagrees() {
    let g = graded();
    let c_match = &g.item("DCIM/101/c.jpg")["matches"][0];
    assert_eq!(c_match["contradicted"], serde_json::json!(["sha1"]));
}

#[test]
fn a_file_two_sets_grade_differently_keeps_each_sets_view() {
    let g = graded();
    // b is graded by two sets, each with its own view.
    let b_sets: Vec<(&str, &str)> = g.item("DCIM/100/b.jpg")["matches"][0]["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["set"].as_str().unwrap(), s["category"].as_str().unwrap()))
        .collect();
    assert_eq!(b_sets, [("unit-a-cgi", "cgi"), ("unit-b", "non_pertinent")]);
}

#[test]
fn the_summary_adds_up_per_category_and_in_its_totals() {
    let g = graded();
    // The summary adds up: per category, from the expectations above.
    let summary = g.report_json("summary.json");
    let mut per_category: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (path, category, _, _) in EXPECTED {
        let e = per_category.entry(category).or_default();
        e.0 += 1;
        e.1 += g.digests(path).0;
    }
    for (category, (n, bytes)) in &per_category {
        assert_eq!(summary["by_category"][category]["items"], *n, "{category}");
        assert_eq!(
            summary["by_category"][category]["bytes"], *bytes,
            "{category}"
        );
    }
    assert_eq!(
        summary["by_category"].as_object().unwrap().len(),
        per_category.len()
    );
    let files = FILES.len() as u64;
    let graded = EXPECTED.iter().filter(|e| e.1 != "unknown").count() as u64;
    assert_eq!(summary["files"], files);
    assert_eq!(summary["graded_automatically"]["files"], graded);
    let media = FILES
        .iter()
        .filter(|f| f.mime.starts_with("image/"))
        .count() as u64;
    let media_graded = EXPECTED
        .iter()
        .filter(|e| {
            e.1 != "unknown"
                && FILES
                    .iter()
                    .any(|f| f.path == e.0 && f.mime.starts_with("image/"))
        })
        .count() as u64;
    assert_eq!(summary["graded_automatically"]["media_files"], media);
    assert_eq!(
        summary["graded_automatically"]["media_graded"],
        media_graded
    );
    assert_eq!(summary["conflicts"], 1);
    assert_eq!(summary["contradicted_matches"], 1);
    assert_eq!(summary["size_mismatches"], 1);
    assert_eq!(summary["complete"], true);
    // a, c, d, b (set B merges into it) and the dll: this small database is loaded.
    assert_eq!(summary["lookup"], "index");
    assert_eq!(summary["known_hashes"]["md5"], 5);
}

#[test]
fn the_html_page_shows_each_figure_of_summary_json() {
    // Per category, the review spared, the triage, per set, the counts of each list: as the
    // JSON says, with a dash only for the examiner this scan was not given.
    let g = graded();
    let figures = common::summary_page::assert_page_shows_summary(&g.out_dir);
    // Each figure this scan has is compared as something other than a zero (no PDQ here; the
    // errors and resumed sessions are compared by the Ctrl-C and resume tests, containers by
    // tests/scan_archives.rs and the demo's).
    for (name, n) in &figures {
        let containers = name.starts_with("containers") || name.starts_with("members");
        if !containers && !["suggested by PDQ", "errors", "resumed"].contains(name) {
            assert!(*n > 0, "the graded scan has {name}");
        }
    }
}

/// items.csv of the graded scan: its header, and its rows (the end row last).
struct ItemsCsv {
    header: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl ItemsCsv {
    fn read(g: &Graded) -> ItemsCsv {
        let mut csv = csv::Reader::from_path(g.out_dir.join("items.csv")).unwrap();
        let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        ItemsCsv { header, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", self.header))
    }

    /// The row of the evidence file `p`.
    fn row_of(&self, g: &Graded, p: &str) -> &csv::StringRecord {
        let path = g.paths[p].to_str().unwrap();
        self.rows
            .iter()
            .find(|r| &r[self.col("path")] == path)
            .unwrap_or_else(|| panic!("{p} in items.csv"))
    }
}

#[test]
fn items_csv_grades_each_file_as_items_jsonl_does() {
    let g = graded();
    // items.csv: the same categories, one row per item and the end row.
    let csv = ItemsCsv::read(g);
    for (path, category, _, _) in EXPECTED {
        assert_eq!(
            &csv.row_of(g, path)[csv.col("category")],
            *category,
            "{path}"
        );
    }
    assert_eq!(&csv.rows.last().unwrap()[csv.col("kind")], "end");
    assert_eq!(csv.rows.len(), g.items.len() + 1);
}

#[test]
fn items_csv_has_a_column_per_grading_set_and_neutralises_formulas() {
    let g = graded();
    let csv = ItemsCsv::read(g);
    let col = |name: &str| csv.col(name);
    let row_of = |p: &str| csv.row_of(g, p);
    let b_row = row_of("DCIM/100/b.jpg");
    assert_eq!(&b_row[col("set: unit-a-cgi")], "cgi");
    assert_eq!(&b_row[col("set: unit-b")], "non_pertinent");
    assert_eq!(&b_row[col("set: unit-a")], "");
    assert_eq!(
        &row_of("Downloads/list.=SUM(A1)")[col("extension")],
        "'=SUM(A1)"
    );
    assert_eq!(
        &row_of("DCIM/101/c.jpg")[col("match_status")],
        "contradicts"
    );
    assert_eq!(
        &row_of("DCIM/101/c.jpg")[col("set: unit-a")],
        "",
        "a contradicted match grades nothing"
    );
}

#[test]
fn the_manifest_vouches_for_every_report_file_and_names_the_sets_and_the_evidence() {
    let g = graded();
    // The manifest vouches for every other file (checked with coreutils), names the sets.
    let manifest = g.report_json("manifest.json");
    for name in REPORT_FILES {
        assert_eq!(
            manifest["files"][name]["sha256"],
            oracle_digest("sha256sum", &g.out_dir.join(name)),
            "{name}"
        );
    }
    let set_names: Vec<&str> = manifest["database"]["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(set_names.len(), 4, "{set_names:?}");
    assert!(set_names.contains(&"unit-a") && set_names.contains(&"reference"));
    assert_eq!(manifest["evidence_roots"][0], g.evidence.to_str().unwrap());
}

/// `verify` passes, then fails after one byte of any report file changes, and passes again
/// when it is restored. On a copy of the report, which is this test's to change: the others
/// read the original meanwhile.
#[test]
fn verify_passes_and_fails_after_one_byte_of_any_report_file_changes() {
    let g = graded();
    let copy = tempfile::tempdir().unwrap();
    let out_dir = copy.path().join("report");
    std::fs::create_dir(&out_dir).unwrap();
    for entry in std::fs::read_dir(&g.out_dir).unwrap() {
        let entry = entry.unwrap();
        assert!(
            entry.file_type().unwrap().is_file(),
            "a report holds only files: {entry:?}"
        );
        std::fs::copy(entry.path(), out_dir.join(entry.file_name())).unwrap();
    }
    let verify = || hashsift().arg("verify").arg(&out_dir).output().unwrap();
    assert_exit(&verify(), 0);
    for name in REPORT_FILES {
        let path = out_dir.join(name);
        let original = std::fs::read(&path).unwrap();
        let mut changed = original.clone();
        let middle = changed.len() / 2;
        changed[middle] ^= 0x01;
        std::fs::write(&path, &changed).unwrap();
        let v = verify();
        assert_exit(&v, 1);
        assert!(
            String::from_utf8_lossy(&v.stdout).contains(&format!("CHANGED   {name}")),
            "{name}"
        );
        std::fs::write(&path, &original).unwrap();
        assert_exit(&verify(), 0);
    }
}

#[test]
fn vics_json_has_one_media_per_distinct_content_with_its_files() {
    let g = graded();
    // vics.json: one Media per distinct known content or unknown image (a and its two
    // copies are one), each with its files.
    let vics = g.report_json("vics.json");
    let case = &vics["value"][0];
    assert_eq!(case["CaseNumber"], "2026-0042");
    let media = case["Media"].as_array().unwrap();
    // a, b, c (contradicted: an unknown image), d, e (unknown image), the dll (known).
    assert_eq!(media.len(), 6, "{media:?}");
    let a_md5 = g.digests("DCIM/100/a.png").1.to_ascii_uppercase();
    let a = media.iter().find(|m| m["MD5"] == a_md5.as_str()).unwrap();
    assert_eq!(a["Category"], 1);
    assert_eq!(a["MediaFiles"].as_array().unwrap().len(), 3);
    assert_eq!(a["MediaFiles"][0]["SourceID"], "EXH-1");
    let e_md5 = g.digests("DCIM/101/e.png").1.to_ascii_uppercase();
    let e = media.iter().find(|m| m["MD5"] == e_md5.as_str()).unwrap();
    assert!(
        e.get("Category").is_none(),
        "unknown media carry no category: {e}"
    );
}

#[test]
fn hashsifts_vics_importer_reads_vics_json_back_with_its_grades() {
    let g = graded();
    let dir = tempfile::tempdir().unwrap();
    let back = dir.path().join("back.db");
    import(
        &back,
        &g.out_dir.join("vics.json"),
        "scan-export",
        "uncategorised",
    );
    let lookup = |md5: &str| -> serde_json::Value {
        let o = hashsift()
            .args(["db", "--db"])
            .arg(&back)
            .args(["lookup", "--json", md5])
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(
        lookup(&g.digests("DCIM/100/a.png").1)[0]["media"][0]["triage"],
        "csam"
    );
    assert_eq!(
        lookup(&g.digests("DCIM/100/b.jpg").1)[0]["media"][0]["triage"],
        "cgi"
    );
    assert_eq!(
        lookup(&g.digests("DCIM/101/e.png").1)[0]["media"][0]["triage"],
        "uncategorised"
    );
}

#[test]
fn asking_the_database_about_each_file_instead_gives_the_same_report() {
    let g = graded();
    let dir = tempfile::tempdir().unwrap();
    let direct_dir = dir.path().join("report-direct");
    let out = hashsift()
        .arg("scan")
        .arg(&g.evidence)
        .arg("-o")
        .arg(&direct_dir)
        .arg("--db")
        .arg(&g.db)
        .args([
            "--lookup",
            "direct",
            "--case",
            "2026-0042",
            "--evidence-id",
            "EXH-1",
            "-q",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let (_, direct_items, _) =
        parse_jsonl(&std::fs::read_to_string(direct_dir.join("items.jsonl")).unwrap());
    assert_eq!(direct_items, g.items);
    let direct_summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(direct_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(direct_summary["lookup"], "direct");
    assert_eq!(
        direct_summary["by_category"],
        g.report_json("summary.json")["by_category"]
    );
}

#[test]
fn a_scan_without_known_illegal_material_exits_0_and_refuses_an_existing_report() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    common::write_file(&evidence.join("x.bin"), 100, 1);
    let db = db_knowing(dir.path(), &evidence.join("x.bin"), "ref", "known_file");
    let out_dir = dir.path().join("r");
    let scan = |out_dir: &Path| {
        hashsift()
            .arg("scan")
            .arg(&evidence)
            .arg("-o")
            .arg(out_dir)
            .arg("--db")
            .arg(&db)
            .arg("-q")
            .output()
            .unwrap()
    };
    assert_exit(&scan(&out_dir), 0);
    let verify = || hashsift().arg("verify").arg(&out_dir).output().unwrap();
    assert_exit(&verify(), 0);
    // A missing report file fails verification; a manifest that is not one cannot be checked.
    let summary = std::fs::read(out_dir.join("summary.json")).unwrap();
    std::fs::remove_file(out_dir.join("summary.json")).unwrap();
    assert_exit(&verify(), 1);
    std::fs::write(out_dir.join("summary.json"), summary).unwrap();
    let manifest = std::fs::read(out_dir.join("manifest.json")).unwrap();
    std::fs::write(out_dir.join("manifest.json"), b"{\"tool\": \"other\"}").unwrap();
    assert_exit(&verify(), 3);
    std::fs::write(out_dir.join("manifest.json"), manifest).unwrap();
    assert_exit(&verify(), 0);
    // A second scan into the same directory would replace a report: refused (64 or 3).
    let again = scan(&out_dir);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a report"));
    // Never inside the evidence, also through a symlink or a path still to be created.
    let inside = scan(&evidence.join("report"));
    assert!(!inside.status.success());
    assert!(
        !evidence.join("report").exists(),
        "nothing created in the evidence"
    );
    std::os::unix::fs::symlink(&evidence, dir.path().join("link")).unwrap();
    let through_link = scan(&dir.path().join("link/new/report"));
    assert!(!through_link.status.success());
    assert!(
        !evidence.join("new").exists(),
        "nothing created in the evidence"
    );
    // Elsewhere, missing parents are created.
    assert_exit(&scan(&dir.path().join("cases/2026/r")), 0);
    assert!(dir.path().join("cases/2026/r/manifest.json").exists());
}

#[test]
fn ctrl_c_leaves_a_report_marked_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    std::fs::create_dir(&evidence).unwrap();
    // A large sparse file keeps the scan busy.
    std::fs::File::create(evidence.join("sparse.img"))
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    common::write_file(&evidence.join("small"), 10, 1);
    let db = db_knowing(dir.path(), &evidence.join("small"), "ref", "csam");
    let out_dir = dir.path().join("r");
    let mut cmd = hashsift();
    cmd.args(["scan", "-q", "-j", "1", "--db"])
        .arg(&db)
        .arg("-o")
        .arg(&out_dir)
        .arg(&evidence);
    let (o, _) = common::interrupt_after(cmd, Duration::from_millis(1500));
    assert_exit(&o, 130);
    let (_, items, end) =
        parse_jsonl(&std::fs::read_to_string(out_dir.join("items.jsonl")).unwrap());
    assert_eq!(end["complete"], false);
    let sparse = &items[&bytes_of(&evidence.join("sparse.img"))];
    assert_eq!(sparse["error"]["stage"], "interrupted");
    assert!(
        sparse.get("category").is_none(),
        "not read, so not graded: {sparse}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["complete"], false);
    // With one worker the big file is taken first: the small one was never read either.
    let small = &items[&bytes_of(&evidence.join("small"))];
    assert_eq!(small["error"]["stage"], "interrupted", "{small}");
    assert!(small.get("category").is_none(), "{small}");
    assert_eq!(summary["errors_by_stage"]["interrupted"], 2);
    assert_eq!(summary["files"], 0);
    // The page of an incomplete report shows its errors.
    let figures = common::summary_page::assert_page_shows_summary(&out_dir);
    assert_eq!(figures["errors"], 2);
}

/// Chromium, headless, as this machine's notes prescribe (no sandbox as root, no background
/// networking on a closed network), printing the page's DOM after it loaded.
fn chromium_dom(page: &Path, profile: &Path) -> String {
    let o = common::run_with_timeout(
        {
            let mut cmd = std::process::Command::new("chromium");
            cmd.args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--dump-dom")
            .arg(format!("file://{}", page.display()));
            cmd
        },
        Duration::from_secs(120),
    );
    assert!(
        o.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_html_page_renders_and_shows_a_hostile_file_name_as_text() {
    if !common::have_tool("chromium", "chromium") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    let hostile = evidence.join("<script>alert(1)</script>.jpg");
    common::write_file(&hostile, 2000, 3);
    common::write_file(
        &evidence.join("other \"quoted\" & <b>bold</b>.png"),
        1000,
        4,
    );
    let db = db_knowing(dir.path(), &hostile, "<img src=x onerror=alert(2)>", "csam");
    let out_dir = dir.path().join("r");
    let o = hashsift()
        .arg("scan")
        .arg(&evidence)
        .arg("-o")
        .arg(&out_dir)
        .arg("--db")
        .arg(&db)
        .args(["--case", "<i>42</i>", "-q"])
        .output()
        .unwrap();
    assert_exit(&o, 1);
    let page = out_dir.join("summary.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("<script"),
        "no script element, and no raw name"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.jpg"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no external asset"
    );

    // Rendered by a browser: the DOM has no element made from a name, and shows it as text.
    let dom = chromium_dom(&page, &dir.path().join("profile"));
    assert!(dom.contains("<body>"), "{dom}");
    assert!(
        !dom.contains("<script"),
        "a script element was built from a name: {dom}"
    );
    assert!(
        !dom.contains("<img"),
        "an img element was built from a set name"
    );
    assert!(!dom.contains("<i>42</i>") && !dom.contains("<b>bold</b>"));
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;.jpg"),
        "the name shows as text"
    );
    assert!(dom.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(dom.contains("<svg"), "the chart is inline SVG");
}
