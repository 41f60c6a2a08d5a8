//! Every sample hash set in `hashsets/samples/` imports to exactly what `expected.json` says
//! (written by the samples' generator from the published category mapping, with Python's
//! hashlib), and VICS exports import back to the same grades.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_exit, hashsift, oracle_digest};
use serde_json::Value;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hashsets/samples")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(samples().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn db(db: &Path) -> Command {
    let mut c = hashsift();
    c.arg("db").arg("--db").arg(db).env_remove("HASHSIFT_DB");
    c
}

fn run(mut c: Command) -> Output {
    c.output().expect("run hashsift")
}

fn import(dbp: &Path, file: &Path, args: &[String]) -> Output {
    let mut c = db(dbp);
    c.arg("import").arg(file).args(args).arg("-q");
    run(c)
}

fn lookup(dbp: &Path, hash: &str) -> Value {
    let mut c = db(dbp);
    c.args(["lookup", "--json", hash]);
    let out = run(c);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn sample_images_match_the_coreutils_digests() {
    let exp = expected();
    for (name, h) in exp["images"].as_object().unwrap() {
        let path = samples().join("images").join(name);
        assert_eq!(oracle_digest("md5sum", &path), h["md5"], "{name}");
        assert_eq!(oracle_digest("sha1sum", &path), h["sha1"], "{name}");
        assert_eq!(oracle_digest("sha256sum", &path), h["sha256"], "{name}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            h["size"].as_u64().unwrap()
        );
    }
}

/// Checks one medium as `lookup --json` shows it against an expected record of `set`.
fn check(m: &Value, want: &Value, image: &Value, set: &str, context: &str) {
    for alg in strings(&want["hashes"]) {
        assert_eq!(m[&alg], image[&alg], "{context}: {alg}");
    }
    if !want["size"].is_null() {
        assert_eq!(m["size"], want["size"], "{context}: size");
    }
    for key in ["pdq", "photodna"] {
        if !want[key].is_null() {
            assert_eq!(m[key], want[key], "{context}: {key}");
        }
    }
    let grades = m["grades"].as_array().unwrap();
    let g = grades
        .iter()
        .find(|g| g["set"] == set)
        .unwrap_or_else(|| panic!("{context}: no grade from {set}: {m}"));
    for key in [
        "category",
        "baseline",
        "victim_identified",
        "offender_identified",
        "distributed",
        "series",
        "tags",
    ] {
        assert_eq!(g[key], want[key], "{context}: {key}");
    }
}

#[test]
fn every_sample_imports_to_the_expected_records() {
    let exp = expected();
    let dir = tempfile::tempdir().unwrap();
    for (i, sample) in exp["samples"].as_array().unwrap().iter().enumerate() {
        let file = sample["file"].as_str().unwrap();
        let dbp = dir.path().join(format!("k{i}.db"));
        let args = strings(&sample["args"]);
        let out = import(&dbp, &samples().join(file), &args);
        assert_exit(&out, 0);

        let mut c = db(&dbp);
        c.args(["list", "--json"]);
        let sets: Value = serde_json::from_slice(&run(c).stdout).unwrap();
        let set = &sets[0];
        assert_eq!(set["format"], sample["format"], "{file}: detected format");
        for key in ["rows_read", "rows_empty", "rows_imported"] {
            assert_eq!(set[key], sample[key], "{file}: {key}");
        }
        assert_eq!(
            set["files"][0]["sha256"],
            oracle_digest("sha256sum", &samples().join(file))
        );
        let name = set["name"].as_str().unwrap().to_owned();

        for want in sample["records"].as_array().unwrap() {
            let image = &exp["images"][want["image"].as_str().unwrap()];
            let first = strings(&want["hashes"]).remove(0);
            let found = lookup(&dbp, image[&first].as_str().unwrap());
            let media = found[0]["media"].as_array().unwrap();
            assert_eq!(media.len(), 1, "{file}: {} found {found}", want["image"]);
            let context = format!("{file}: {}", want["image"]);
            check(&media[0], want, image, &name, &context);
            let g = &media[0]["grades"][0];
            assert_eq!(g["code"], want["code"], "{context}: code");
        }
    }
}

#[test]
fn a_vics_export_imports_back_to_the_same_grades() {
    let exp = expected();
    let dir = tempfile::tempdir().unwrap();
    for sample in exp["samples"].as_array().unwrap() {
        let format = sample["format"].as_str().unwrap();
        if !matches!(format, "vics" | "icse" | "csv") {
            continue;
        }
        let file = sample["file"].as_str().unwrap();
        let first = dir.path().join(format!("{file}.db"));
        assert_exit(
            &import(&first, &samples().join(file), &strings(&sample["args"])),
            0,
        );
        let exported = dir.path().join(format!("{file}.export.json"));
        let mut c = db(&first);
        c.args(["export", "--all", "--format", "vics", "-o"])
            .arg(&exported);
        assert_exit(&run(c), 0);

        let second = dir.path().join(format!("{file}.again.db"));
        let args = ["--name".to_string(), "again".to_string()];
        assert_exit(&import(&second, &exported, &args), 0);
        for want in sample["records"].as_array().unwrap() {
            let image = &exp["images"][want["image"].as_str().unwrap()];
            let first_alg = strings(&want["hashes"]).remove(0);
            let found = lookup(&second, image[&first_alg].as_str().unwrap());
            let context = format!("{file} exported and imported: {}", want["image"]);
            check(&found[0]["media"][0], want, image, "again", &context);
        }
    }
}
