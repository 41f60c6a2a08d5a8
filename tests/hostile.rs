//! The hostile evidence tree (`common::hostile`) scanned whole: it finishes (a timeout fails
//! the test), nothing panics, every path is one record saying what the generator says it
//! must, the exit code is 2 (some items could not be read), and the CSV and HTML outputs
//! neutralise the names built to break them.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::hostile::{self, Expect};
use common::*;

#[test]
fn the_hostile_tree_scans_to_completion_with_a_record_and_a_reason_for_each_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("evidence");
    std::fs::create_dir(&root).unwrap();
    let entries = hostile::build(&root);

    let db = dir.path().join("k.db");
    let set = dir.path().join("set.md5");
    std::fs::write(&set, format!("{:032x}  nothing\n", 1)).unwrap();
    import_graded(&db, &set, "unit", "csam");

    let report = dir.path().join("report");
    let Some(mut cmd) = hostile::deny_root() else {
        hostile::restore(&root);
        return;
    };
    cmd.args(["scan", "--db"])
        .arg(&db)
        .arg("-o")
        .arg(&report)
        .arg(&root);
    let disturber = hostile::disturb(&root);
    let out = run_with_timeout(cmd, Duration::from_secs(300));
    disturber.join().unwrap();
    hostile::restore(&root);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
    assert_exit(&out, 2);

    let (_, items, end) =
        parse_jsonl(&std::fs::read_to_string(report.join("items.jsonl")).unwrap());
    assert_eq!(end["complete"], true);
    // Every path the generator made is listed once (parse_jsonl refuses a path twice), and
    // nothing else but the root.
    let listed: BTreeSet<Vec<u8>> = items.keys().cloned().collect();
    let mut made: BTreeSet<Vec<u8>> = entries.iter().map(|e| bytes_of(&e.path)).collect();
    made.insert(bytes_of(&root));
    let racy: Vec<Vec<u8>> = entries
        .iter()
        .filter(|e| e.expect == Expect::Racy)
        .map(|e| bytes_of(&e.path))
        .collect();
    let is_racy = |p: &Vec<u8>| racy.iter().any(|r| p.starts_with(r));
    let missing: Vec<_> = made
        .difference(&listed)
        .filter(|p| !is_racy(p))
        .map(|p| path_of(p))
        .collect();
    let extra: Vec<_> = listed
        .difference(&made)
        .filter(|p| !is_racy(p))
        .map(|p| path_of(p))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    let mut wrong = Vec::new();
    for e in &entries {
        let Some(v) = items.get(&bytes_of(&e.path)) else {
            continue; // a racy path gone before the walk reached it
        };
        let ok = match &e.expect {
            Expect::Read => v["sha256"].is_string() && v.get("error").is_none(),
            Expect::Hashed => v["sha256"].is_string() && v["pdq"].is_string(),
            Expect::Undecodable(reason) => {
                v["sha256"].is_string()
                    && v["pdq_error"]
                        .as_str()
                        .is_some_and(|r| r.starts_with(reason) && r.len() > reason.len() + 3)
            }
            Expect::Kind(kind) => v["kind"] == *kind && v.get("error").is_none(),
            Expect::Error(stage) => {
                v["error"]["stage"] == *stage
                    && v["error"]["message"].as_str().is_some_and(|m| m.len() > 5)
            }
            Expect::Racy => {
                v["sha256"].is_string()
                    || v["kind"] == "dir"
                    || v["error"]["message"].as_str().is_some_and(|m| m.len() > 5)
            }
        };
        if !ok {
            wrong.push(format!(
                "{:?} ({} bytes): expected {:?}, got {}",
                e.path.file_name().unwrap(),
                e.path.as_os_str().len(),
                e.expect,
                v
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    for r in &racy {
        let outcome = items.get(r).map_or("not listed".to_owned(), |v| {
            v["error"]["message"]
                .as_str()
                .map_or_else(|| "read".to_owned(), |m| format!("error: {m}"))
        });
        eprintln!("{}: {outcome}", path_of(r).display());
    }

    // CSV: no cell starts as a formula would; the two formula extensions are quoted with '.
    let csv = std::fs::read(report.join("items.csv")).unwrap();
    let mut reader = ::csv::ReaderBuilder::new().from_reader(csv.as_slice());
    let header = reader.byte_headers().unwrap().clone();
    let extension = header.iter().position(|h| h == b"extension").unwrap();
    let mut quoted = BTreeSet::new();
    for row in reader.byte_records() {
        let row = row.unwrap();
        for cell in &row {
            assert!(
                !matches!(cell.first(), Some(b'=' | b'+' | b'@')),
                "a formula cell: {:?}",
                String::from_utf8_lossy(cell)
            );
        }
        if row[extension].first() == Some(&b'\'') {
            quoted.insert(String::from_utf8_lossy(&row[extension]).into_owned());
        }
    }
    let want: BTreeSet<String> = ["'=HYPERLINK(\"x\")", "'+1-2"].map(String::from).into();
    assert_eq!(quoted, want);

    // HTML: the markup in a directory name is text, never a tag.
    let html = std::fs::read_to_string(report.join("summary.html")).unwrap();
    assert!(
        !html.contains("<b onmouseover") && !html.contains("<img src=x"),
        "markup from a name reached the page"
    );
    assert!(
        html.contains("&lt;b onmouseover=alert(2)&gt;unreadable"),
        "the error list shows the name escaped"
    );
}
