//! Whether a report's `summary.html` shows each figure of its `summary.json` as the JSON says:
//! the JSON read with serde_json by the keys `docs/report.md` documents (a key missing fails
//! the test, it is never taken for a null), the page read as text. A figure the page took from
//! a renamed or missing field (a dash, a 0) differs from the JSON's and fails.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The value at `path` (keys, outermost first) of `json`; panics when a key is missing.
fn at<'a>(json: &'a Value, path: &[&str]) -> &'a Value {
    let mut v = json;
    for (i, key) in path.iter().enumerate() {
        v = v
            .as_object()
            .unwrap_or_else(|| panic!("summary.json: {:?} is not an object", &path[..i]))
            .get(*key)
            .unwrap_or_else(|| panic!("summary.json has no {:?}", &path[..=i]));
    }
    v
}

fn number(json: &Value, path: &[&str]) -> u64 {
    at(json, path)
        .as_u64()
        .unwrap_or_else(|| panic!("summary.json: {path:?} is not a count"))
}

fn float(json: &Value, path: &[&str]) -> f64 {
    at(json, path)
        .as_f64()
        .unwrap_or_else(|| panic!("summary.json: {path:?} is not a number"))
}

fn object<'a>(json: &'a Value, path: &[&str]) -> &'a serde_json::Map<String, Value> {
    at(json, path)
        .as_object()
        .unwrap_or_else(|| panic!("summary.json: {path:?} is not an object"))
}

/// `s` as HTML text: `&`, `<`, `>`, `"` and `'` as character references (the test's own).
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The data rows (those without a `<th>`) of the first table after `marker` in `html`, each
/// as its cells' contents.
fn table_after(html: &str, marker: &str) -> Vec<Vec<String>> {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("summary.html has no {marker:?}"));
    let rest = &html[start..];
    let open = rest.find("<table>").expect("a table after the marker");
    let close = rest[open..].find("</table>").expect("the table's end") + open;
    rest[open..close]
        .split("<tr>")
        .skip(1)
        .filter(|row| !row.contains("<th>"))
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let content = &cell[cell.find('>').expect("a cell's tag") + 1..];
                    content[..content.find("</td>").expect("a cell's end")].to_owned()
                })
                .collect()
        })
        .collect()
}

/// The numbers written in the text of `html` from `start` to the end of its paragraph, in
/// order (`44.4%` is `44.4`; tags are not text).
fn numbers_in_paragraph(html: &str, start: &str) -> Vec<String> {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("summary.html has no {start:?}"));
    let paragraph = &html[from..from + html[from..].find("</p>").expect("the paragraph's end")];
    let mut text = String::new();
    let mut in_tag = false;
    for c in paragraph.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Each tally of an object of tallies (`{"name": {"items": n, "bytes": b}}`) as the page's
/// row cells: the escaped name, the count, the bytes.
fn tally_rows(json: &Value, key: &str) -> BTreeMap<String, (String, String)> {
    object(json, &[key])
        .keys()
        .map(|name| {
            (
                escaped(name),
                (
                    number(json, &[key, name, "items"]).to_string(),
                    number(json, &[key, name, "bytes"]).to_string(),
                ),
            )
        })
        .collect()
}

/// Table rows `name | count | bytes` by name.
fn rows_by_name(rows: &[Vec<String>]) -> BTreeMap<String, (String, String)> {
    rows.iter()
        .map(|r| {
            assert_eq!(r.len(), 3, "{r:?}");
            (r[0].clone(), (r[1].clone(), r[2].clone()))
        })
        .collect()
}

/// The percentage the page shows for a share: one decimal.
fn percent(share: f64) -> String {
    format!("{:.1}", share * 100.0)
}

/// Asserts that `summary.html` in the report directory `report` shows every figure of its
/// `summary.json` as the JSON says. Returns the figures compared, by name, for the caller to
/// assert that those its scan must have are not zero (a zero on the page is also what a
/// missing field would show).
pub fn assert_page_shows_summary(report: &Path) -> BTreeMap<&'static str, u64> {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    let html = std::fs::read_to_string(report.join("summary.html")).unwrap();

    // The case details: each as the JSON has it, a dash where it has null, and no dash else.
    let mut dashes = 0;
    for (label, key) in [
        ("Case number", "case"),
        ("Evidence item", "evidence_id"),
        ("Examiner", "examiner"),
        ("Started (UTC)", "started"),
        ("Finished (UTC)", "finished"),
    ] {
        let cell = match at(&json, &[key]) {
            Value::Null => {
                dashes += 1;
                "&ndash;".to_owned()
            }
            Value::String(s) => escaped(s),
            other => panic!("summary.json: {key} is {other}"),
        };
        let row = format!("<tr><th>{label}</th><td>{cell}</td></tr>");
        assert!(html.contains(&row), "summary.html has no {row}");
    }
    assert_eq!(
        html.matches("&ndash;").count(),
        dashes,
        "dashes on the page"
    );
    let resumed = at(&json, &["resumed"]).as_array().expect("resumed: a list");
    assert_eq!(
        html.matches("<th>Resumed (UTC)</th>").count(),
        resumed.len()
    );
    for session in resumed {
        let row = format!(
            "<tr><th>Resumed (UTC)</th><td>{} (after an interruption)</td></tr>",
            session.as_str().expect("a time")
        );
        assert!(html.contains(&row), "summary.html has no {row}");
    }
    let complete = at(&json, &["complete"])
        .as_bool()
        .expect("complete: a bool");
    assert_eq!(html.contains("INCOMPLETE"), !complete);

    // Files by category: the table and the chart's bars, each category with its count.
    let by_category = tally_rows(&json, "by_category");
    assert_eq!(
        rows_by_name(&table_after(&html, "<h2>Files by category</h2>")),
        by_category
    );
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    let labels: Vec<&str> = svg
        .split("</text>")
        .filter_map(|t| t.rfind('>').map(|i| &t[i + 1..]))
        .filter(|t| !t.is_empty())
        .collect();
    let bars: BTreeMap<String, String> = labels
        .chunks(2)
        .map(|bar| (bar[0].to_owned(), bar[1].to_owned()))
        .collect();
    assert_eq!(bars.len() * 2, labels.len(), "{labels:?}");
    let counts: BTreeMap<String, String> = by_category
        .iter()
        .map(|(name, (n, _))| (name.clone(), n.clone()))
        .collect();
    assert_eq!(bars, counts, "the chart");

    // The review spared, and the triage (adding up to the files).
    let files = number(&json, &["files"]);
    let g = |key: &str| number(&json, &["graded_automatically", key]);
    let share = |key: &str| float(&json, &["graded_automatically", key]);
    // serde_json parses a float to within a unit of its last place, not always exactly.
    let want = if files == 0 {
        0.0
    } else {
        g("files") as f64 / files as f64
    };
    assert!(
        (share("share_of_files") - want).abs() < 1e-12,
        "share_of_files {} of {want}",
        share("share_of_files")
    );
    assert_eq!(
        numbers_in_paragraph(&html, "Graded automatically:"),
        [
            g("files").to_string(),
            files.to_string(),
            percent(share("share_of_files")),
            g("media_graded").to_string(),
            g("media_files").to_string(),
            percent(share("share_of_media")),
        ]
    );
    let triage: Vec<u64> = ["graded_by_exact_hash", "suggested_by_pdq", "unknown"]
        .iter()
        .map(|way| number(&json, &["triage", way, "items"]))
        .collect();
    assert_eq!(triage.iter().sum::<u64>(), files, "the triage adds up");
    assert_eq!(
        numbers_in_paragraph(&html, "<p>Files graded by exact hash:"),
        triage.iter().map(u64::to_string).collect::<Vec<_>>()
    );
    assert_eq!(
        rows_by_name(&table_after(&html, "<p>Left to review")),
        tally_rows(&json, "to_review_by_class")
    );

    // The counts of the lists of files.
    let illegal: u64 = ["csam", "csem", "cgi"]
        .iter()
        .filter(|c| object(&json, &["by_category"]).contains_key(**c))
        .map(|c| number(&json, &["by_category", c, "items"]))
        .sum();
    let errors: u64 = object(&json, &["errors_by_stage"])
        .keys()
        .map(|stage| number(&json, &["errors_by_stage", stage]))
        .sum();
    for heading in [
        format!("<h2>Files graded csam, csem or cgi: {illegal}</h2>"),
        format!(
            "<h2>Images and videos suggested by PDQ, to confirm: {}</h2>",
            triage[1]
        ),
        format!(
            "<h2>Conflicts between sets: {}</h2>",
            number(&json, &["conflicts"])
        ),
        format!("<h2>Errors: {errors}</h2>"),
    ] {
        assert!(html.contains(&heading), "summary.html has no {heading}");
    }

    // The containers: their figures, each format's count, the two lists' counts.
    let mut containers = BTreeMap::new();
    if !at(&json, &["containers"]).is_null() {
        let c = |key: &str| number(&json, &["containers", key]);
        let formats: BTreeMap<String, String> = object(&json, &["containers", "by_format"])
            .keys()
            .map(|f| {
                (
                    escaped(f),
                    number(&json, &["containers", "by_format", f]).to_string(),
                )
            })
            .collect();
        let opened: u64 = formats.values().map(|n| n.parse::<u64>().unwrap()).sum();
        assert_eq!(
            numbers_in_paragraph(&html, "<p>Containers opened:"),
            [
                opened,
                c("members"),
                c("members_read"),
                c("member_bytes"),
                c("members_graded"),
                c("stopped"),
            ]
            .map(|n| n.to_string())
        );
        let rows: BTreeMap<String, String> =
            table_after(&html, "<h2>Archives and compressed files</h2>")
                .into_iter()
                .map(|r| {
                    assert_eq!(r.len(), 2, "{r:?}");
                    (r[0].clone(), r[1].clone())
                })
                .collect();
        assert_eq!(rows, formats, "containers by format");
        for heading in [
            format!(
                "<h3>Containers on the evidence holding csam, csem or cgi: {}</h3>",
                c("holding_illegal_material")
            ),
            format!(
                "<h3>Containers not read to their end: {}</h3>",
                c("stopped")
            ),
        ] {
            assert!(html.contains(&heading), "summary.html has no {heading}");
        }
        containers = BTreeMap::from([
            ("containers", opened),
            ("members", c("members")),
            ("members read", c("members_read")),
            ("members graded", c("members_graded")),
            (
                "containers holding illegal material",
                c("holding_illegal_material"),
            ),
            ("containers stopped", c("stopped")),
        ]);
    } else {
        assert!(!html.contains("<h2>Archives and compressed files</h2>"));
    }

    // Videos: the paragraph's figures are summary.json's.
    if !at(&json, &["videos"]).is_null() {
        let v = |key: &str| number(&json, &["videos", key]);
        let keys = [
            "videos",
            "hashed",
            "frames",
            "not_to_their_end",
            "not_decoded",
            "not_hashed",
            "suggested",
        ];
        assert_eq!(
            numbers_in_paragraph(&html, "<p>Videos:"),
            keys.map(|k| v(k).to_string())
        );
    } else {
        assert!(!html.contains("<h2>Videos</h2>"));
    }

    // The files each set grades: every set with hits has its row, and a set without none.
    let hits: BTreeMap<String, String> = object(&json, &["hits_per_set"])
        .keys()
        .map(|set| {
            (
                escaped(set),
                number(&json, &["hits_per_set", set]).to_string(),
            )
        })
        .collect();
    let sets = table_after(&html, "<h2>Hash sets used</h2>");
    for row in &sets {
        let want = hits.get(&row[0]).map_or("0", String::as_str);
        assert_eq!(row.last().unwrap(), want, "files the set {} grades", row[0]);
    }
    for set in hits.keys() {
        assert!(
            sets.iter().any(|r| &r[0] == set),
            "no row for the set {set}"
        );
    }

    // The provenance's figures.
    for (label, value) in [
        (
            "Duration",
            format!("{:.1} s", float(&json, &["duration_seconds"])),
        ),
        ("Bytes hashed", number(&json, &["bytes_hashed"]).to_string()),
    ] {
        let row = format!("<tr><th>{label}</th><td><code>{value}</code></td></tr>");
        assert!(html.contains(&row), "summary.html has no {row}");
    }

    let mut figures = BTreeMap::from([
        ("files", files),
        ("graded files", g("files")),
        ("media graded", g("media_graded")),
        ("media files", g("media_files")),
        ("graded by exact hash", triage[0]),
        ("suggested by PDQ", triage[1]),
        ("unknown", triage[2]),
        ("categories", by_category.len() as u64),
        (
            "classes to review",
            object(&json, &["to_review_by_class"]).len() as u64,
        ),
        ("illegal", illegal),
        ("conflicts", number(&json, &["conflicts"])),
        ("errors", errors),
        ("sets with hits", hits.len() as u64),
        (
            "hits",
            hits.values().map(|n| n.parse::<u64>().unwrap()).sum(),
        ),
        ("resumed", resumed.len() as u64),
        ("bytes hashed", number(&json, &["bytes_hashed"])),
    ]);
    figures.extend(containers);
    figures
}
