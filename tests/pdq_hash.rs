//! `hashsift hash --pdq`: every image (by content, whatever its name) gets its PDQ hash and
//! quality in the listing, equal to the reference binding's on the same pixels; damaged and
//! hostile images get a reason instead, and the run goes on; files that are not images get
//! neither.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_exit, hashsift, parse_jsonl, run_with_timeout};

/// The reference `pdqhash` (PyPI) on a PPM: (hash, quality), or `None` when it is not
/// installed (skipped, except in CI).
fn reference(ppm: &Path) -> Option<(String, u8)> {
    let python = common::pdq_python()?;
    let out = Command::new(&python)
        .arg(common::pdq_reference_script())
        .arg(ppm)
        .output()
        .expect("run the reference");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let f: Vec<&str> = line.trim_end().split('\t').collect();
    Some((f[1].to_owned(), f[2].parse().unwrap()))
}

fn picture(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        let v = ((x as f64 / 9.0).sin() * 60.0 + (y as f64 / 13.0).cos() * 50.0 + 128.0) as u8;
        image::Rgb([
            v,
            v.wrapping_add((x / 7) as u8),
            v.wrapping_sub((y / 5) as u8),
        ])
    })
}

#[test]
fn images_get_their_pdq_hash_and_damaged_ones_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    std::fs::create_dir(&evidence).unwrap();
    let img = picture(320, 240);
    // The same pixels as PNG (lossless: the reference sees exactly them) under a misleading name.
    img.save_with_format(evidence.join("holiday.dat"), image::ImageFormat::Png)
        .unwrap();
    let ppm = dir.path().join("holiday.ppm");
    let mut data = b"P6\n320 240\n255\n".to_vec();
    data.extend_from_slice(img.as_raw());
    std::fs::write(&ppm, data).unwrap();
    // A JPEG, the same JPEG cut in half, a JPEG signature followed by noise, noise named .jpg.
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let jpeg = jpeg.into_inner();
    std::fs::write(evidence.join("photo.jpg"), &jpeg).unwrap();
    std::fs::write(evidence.join("cut.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    let mut fake = vec![0xFF, 0xD8, 0xFF, 0xE0];
    fake.extend(common::pseudo_random(4000, 3));
    std::fs::write(evidence.join("fake.jpg"), &fake).unwrap();
    std::fs::write(evidence.join("noise.jpg"), common::pseudo_random(4000, 4)).unwrap();
    std::fs::write(evidence.join("notes.txt"), b"not an image\n").unwrap();

    let listing = dir.path().join("listing.jsonl");
    let mut cmd = hashsift();
    cmd.args(["hash", "-q", "--pdq", "--format", "jsonl", "-o"])
        .arg(&listing)
        .arg(&evidence);
    let out = run_with_timeout(cmd, std::time::Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, items, _) = parse_jsonl(&std::fs::read_to_string(&listing).unwrap());
    let item = |name: &str| {
        items
            .values()
            .find(|i| i["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} listed"))
    };

    if let Some((hash, quality)) = reference(&ppm) {
        assert_eq!(item("holiday.dat")["pdq"], hash.as_str());
        assert_eq!(item("holiday.dat")["pdq_quality"], u64::from(quality));
    }
    assert_eq!(item("holiday.dat")["pdq_decoder"], "image-rs");
    let photo = item("photo.jpg");
    assert_eq!(photo["pdq"].as_str().map(str::len), Some(64));
    assert_eq!(photo["pdq_decoder"], "libjpeg-turbo");
    for damaged in ["cut.jpg", "fake.jpg"] {
        let i = item(damaged);
        assert!(i.get("pdq").is_none(), "{damaged}: {i}");
        assert!(
            i["pdq_error"]
                .as_str()
                .is_some_and(|e| e.contains("decoded")),
            "{damaged}: {i}"
        );
        // Still hashed exactly.
        assert_eq!(i["sha256"].as_str().map(str::len), Some(64));
    }
    for other in ["noise.jpg", "notes.txt"] {
        let i = item(other);
        assert!(
            i.get("pdq").is_none() && i.get("pdq_error").is_none(),
            "{other}: {i}"
        );
    }

    // CSV carries the same columns; hashdeep refuses --pdq.
    let csv = dir.path().join("listing.csv");
    let mut cmd = hashsift();
    cmd.args(["hash", "-q", "--pdq", "--format", "csv", "-o"])
        .arg(&csv)
        .arg(&evidence);
    let out = run_with_timeout(cmd, std::time::Duration::from_secs(60));
    assert!(out.status.success());
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let row = rows
        .iter()
        .find(|r| r[0].ends_with("photo.jpg"))
        .expect("photo.jpg row");
    assert_eq!(&row[col("pdq")], photo["pdq"].as_str().unwrap());
    assert_eq!(&row[col("pdq_quality")], photo["pdq_quality"].to_string());
    // The hashes as a ThreatExchange-style PDQ list (`hash,quality,name`) import into the
    // database and export back; a bad line is refused with its number.
    let list = dir.path().join("pdq-list.txt");
    let lines: Vec<String> = ["photo.jpg", "holiday.dat"]
        .iter()
        .map(|n| {
            let i = item(n);
            format!("{},{},{n}", i["pdq"].as_str().unwrap(), i["pdq_quality"])
        })
        .collect();
    std::fs::write(&list, lines.join("\n") + "\n").unwrap();
    let db = dir.path().join("known.db");
    // `hashsift db SUBCOMMAND --db DB ARGS...`
    let db_cmd = |args: &[&dyn AsRef<std::ffi::OsStr>]| {
        let mut cmd = hashsift();
        cmd.arg("db").arg(args[0]).arg("--db").arg(&db);
        cmd.args(args[1..].iter().map(|a| a.as_ref()));
        run_with_timeout(cmd, std::time::Duration::from_secs(60))
    };
    assert_exit(&db_cmd(&[&"init"]), 0);
    assert_exit(
        &db_cmd(&[&"import", &"-q", &"--category", &"csam", &list]),
        0,
    );
    let exported = dir.path().join("export.csv");
    assert_exit(
        &db_cmd(&[
            &"export",
            &"--format",
            &"csv",
            &"-o",
            &exported,
            &"pdq-list",
        ]),
        0,
    );
    let mut reader = csv::Reader::from_path(&exported).unwrap();
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut got: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[at("pdq")].to_owned(), r[at("pdq_quality")].to_owned())
        })
        .collect();
    got.sort();
    let mut expected: Vec<(String, String)> = ["photo.jpg", "holiday.dat"]
        .iter()
        .map(|n| {
            (
                item(n)["pdq"].as_str().unwrap().to_owned(),
                item(n)["pdq_quality"].to_string(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(got, expected);
    std::fs::write(&list, format!("{}\nnot a pdq line\n", lines[0])).unwrap();
    let out = db_cmd(&[&"import", &"-q", &"--name", &"bad", &list]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));

    let mut cmd = hashsift();
    cmd.args(["hash", "-q", "--pdq"]).arg(&evidence);
    let out = run_with_timeout(cmd, std::time::Duration::from_secs(60));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pdq needs --format"));
}
