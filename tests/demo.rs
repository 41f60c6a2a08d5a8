//! `hashsift demo`: the README's first command. It must work on a fresh machine, and its
//! report must say what the sample sets say of the sample images (hashsets/samples/expected.json,
//! computed with Python's hashlib and the published VICS mapping).

mod common;

use std::collections::BTreeMap;

use common::{assert_exit, hashsift, parse_jsonl};

/// `hashsift demo --out OUT`, which must succeed.
fn run_demo(out: &std::path::Path) {
    let o = hashsift()
        .arg("demo")
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert_exit(&o, 0);
}

#[test]
fn the_demo_scans_its_synthetic_evidence_and_grades_it_as_the_sample_set_says() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    run_demo(&out);

    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/hashsets/samples/expected.json"
        ))
        .unwrap(),
    )
    .unwrap();
    // Image name by MD5, and the sample VICS set's category of each image it grades.
    let by_md5: BTreeMap<&str, &str> = expected["images"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, v)| (v["md5"].as_str().unwrap(), name.as_str()))
        .collect();
    let vics = expected["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["file"] == "vics-2.0-cases.json")
        .unwrap();
    let graded: BTreeMap<&str, &str> = vics["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["image"].as_str().unwrap(),
                r["category"].as_str().unwrap(),
            )
        })
        .collect();

    let (_, items, end) =
        parse_jsonl(&std::fs::read_to_string(out.join("report/items.jsonl")).unwrap());
    assert_eq!(end["complete"], true);
    let mut files = 0;
    for v in items.values().filter(|v| v["kind"] == "file") {
        files += 1;
        let path = v["path"].as_str().unwrap();
        let want = match by_md5.get(v["md5"].as_str().unwrap()) {
            Some(image) => graded.get(image).copied().unwrap_or("unknown"),
            // The demo's reference list knows the notes and the executable, nothing else.
            None if path.ends_with("notes.txt") || path.ends_with("viewer.exe") => "known_file",
            None => "unknown",
        };
        assert_eq!(v["category"], want, "{path}");
    }
    assert_eq!(files, 19);
    // The chat export's members are items of their own, graded the same way: the sample
    // image the VICS set grades csam among them, and the ZIP says it contains csam.
    let members: Vec<&serde_json::Value> =
        items.values().filter(|v| v["kind"] == "member").collect();
    assert_eq!(members.len(), 3, "{members:?}");
    let mut graded_members = 0;
    for v in &members {
        let path = v["path"].as_str().unwrap();
        assert!(
            path.contains("/Downloads/chat-export-2025-11.zip!/"),
            "{path}"
        );
        let want = match by_md5.get(v["md5"].as_str().unwrap()) {
            Some(image) => graded.get(image).copied().unwrap_or("unknown"),
            None => "unknown",
        };
        assert_eq!(v["category"], want, "{path}");
        graded_members += usize::from(want != "unknown");
    }
    assert_eq!(graded_members, 1);
    let zip = items
        .values()
        .find(|v| {
            v["path"]
                .as_str()
                .unwrap()
                .ends_with("chat-export-2025-11.zip")
        })
        .unwrap();
    assert_eq!(zip["kind"], "file", "{zip}");
    assert_eq!(zip["category"], "unknown", "{zip}");
    assert_eq!(zip["contains"], "csam", "{zip}");
    assert_eq!(zip["archive"]["format"], "zip", "{zip}");
    assert_eq!(zip["archive"]["members"], 3, "{zip}");
    assert_eq!(zip["archive"]["graded"], 1, "{zip}");
    // The mirrored, shrunk JPEG of the picture the unit's PDQ list knows is suggested, not
    // graded: its PDQ hash (flipped back) is near the known one.
    let forwarded = items
        .values()
        .find(|v| {
            v["path"]
                .as_str()
                .unwrap()
                .ends_with("IMG-20251103-WA0007.jpg")
        })
        .unwrap();
    assert_eq!(forwarded["category"], "unknown", "{forwarded}");
    assert_eq!(forwarded["suggested_category"], "csam", "{forwarded}");
    assert_eq!(
        forwarded["pdq_matches"][0]["transform"], "flipy",
        "{forwarded}"
    );
    assert_eq!(
        forwarded["pdq_matches"][0]["sets"][0]["set"], "demo-unit-pdq",
        "{forwarded}"
    );
    // The copy and the renamed image are graded like their originals.
    let category_of = |suffix: &str| {
        items
            .values()
            .find(|v| v["path"].as_str().unwrap().ends_with(suffix))
            .unwrap()["category"]
            .clone()
    };
    assert_eq!(category_of("beach-07 (copy).png"), "csam");
    assert_eq!(category_of("invoice-2025.pdf"), "csam");
    assert_eq!(
        items
            .values()
            .find(|v| v["path"].as_str().unwrap().ends_with("invoice-2025.pdf"))
            .unwrap()["detected_type"],
        "image/png"
    );
    // The report verifies, and a second demo into the same directory is refused.
    assert_exit(
        &hashsift()
            .arg("verify")
            .arg(out.join("report"))
            .output()
            .unwrap(),
        0,
    );
    let again = hashsift()
        .arg("demo")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[test]
fn the_demo_summary_has_the_documented_keys_and_its_page_shows_each_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    run_demo(&out);
    let report = out.join("report");
    // The demo's scan has case details, an index, PDQ on and a suggestion.
    let figures = common::summary_page::assert_page_shows_summary(&report);
    for (name, n) in &figures {
        if !["conflicts", "errors", "resumed", "containers stopped"].contains(name) {
            assert!(*n > 0, "the demo's scan has {name}");
        }
    }

    // Every object of summary.json whose keys are fixed has the keys of the example in
    // docs/report.md, in its order.
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.md")).unwrap();
    let example = doc
        .split("## `summary.json`")
        .nth(1)
        .and_then(|s| s.split("```json\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("docs/report.md: the example of summary.json");
    let documented: serde_json::Value = serde_json::from_str(example).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .unwrap_or_else(|| panic!("not an object: {v}"))
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(keys(&summary), keys(&documented));
    for key in [
        "triage",
        "graded_automatically",
        "known_hashes",
        "pdq",
        "videos",
    ] {
        assert_eq!(keys(&summary[key]), keys(&documented[key]), "{key}");
    }
    let tallies = ["by_category", "suggested_by_category", "to_review_by_class"]
        .iter()
        .flat_map(|key| summary[key].as_object().unwrap().values())
        .chain(summary["triage"].as_object().unwrap().values());
    for tally in tallies {
        assert_eq!(keys(tally), ["items", "bytes"]);
    }
}
