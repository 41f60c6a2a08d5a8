//! PDQ matching end to end: a database knows six large generated images by their PDQ hashes
//! only (as the reference binding from PyPI, `pdqhash`, computes them: the oracle), each set
//! with its category, among 2,000 unrelated known hashes. The evidence holds altered copies
//! of those images (JPEG re-encodes at quality 50-90, a 50% resize, greyscale, a mirror image
//! and a 90-degree rotation) and 1,000 unrelated generated images. `scan` must suggest every
//! copy with its original's category (through the transform that undoes the change), grade
//! none by exact hash, and suggest nothing for the unrelated images.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{assert_exit, hashsift, parse_jsonl};
use image::{RgbImage, imageops};

/// A small deterministic generator (xorshift64*), so every run builds the same pictures.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

/// A scene of its own per seed: a gradient in some direction, rectangles and discs of random
/// colours at random places, and a little noise (what makes pictures differ in PDQ's eyes is
/// the layout of light and dark, which is random here).
fn scene(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut r = Rng::new(seed);
    let angle = f64::from(r.below(360)).to_radians();
    let (ca, sa) = (angle.cos(), angle.sin());
    let from = [r.below(256), r.below(256), r.below(256)].map(f64::from);
    let to = [r.below(256), r.below(256), r.below(256)].map(f64::from);
    let mut img = RgbImage::from_fn(width, height, |x, y| {
        let t = ((f64::from(x) / f64::from(width) - 0.5) * ca
            + (f64::from(y) / f64::from(height) - 0.5) * sa
            + 0.5)
            .clamp(0.0, 1.0);
        image::Rgb([0, 1, 2].map(|c| (from[c] + (to[c] - from[c]) * t) as u8))
    });
    for shape in 0..30 {
        let colour = image::Rgb([r.below(256) as u8, r.below(256) as u8, r.below(256) as u8]);
        let (cx, cy) = (r.below(width), r.below(height));
        let (rw, rh) = (
            width / 20 + r.below(width / 6),
            height / 20 + r.below(height / 6),
        );
        for y in cy.saturating_sub(rh)..(cy + rh).min(height) {
            for x in cx.saturating_sub(rw)..(cx + rw).min(width) {
                let inside = if shape % 2 == 0 {
                    true
                } else {
                    let dx = (f64::from(x) - f64::from(cx)) / f64::from(rw);
                    let dy = (f64::from(y) - f64::from(cy)) / f64::from(rh);
                    dx * dx + dy * dy <= 1.0
                };
                if inside {
                    img.put_pixel(x, y, colour);
                }
            }
        }
    }
    for p in img.pixels_mut() {
        let n = r.below(9) as i32 - 4;
        for c in &mut p.0 {
            *c = (i32::from(*c) + n).clamp(0, 255) as u8;
        }
    }
    img
}

fn save_jpeg(img: &RgbImage, path: &Path, quality: u8) {
    let mut out = std::fs::File::create(path).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
}

/// The reference's hash and quality of each image, from its pixels written as a PPM.
fn reference_pdq(python: &str, dir: &Path, images: &[RgbImage]) -> Vec<(String, u8)> {
    let mut paths = Vec::new();
    for (i, img) in images.iter().enumerate() {
        let path = dir.join(format!("{i}.ppm"));
        let mut data = format!("P6\n{} {}\n255\n", img.width(), img.height()).into_bytes();
        data.extend_from_slice(img.as_raw());
        std::fs::write(&path, data).unwrap();
        paths.push(path);
    }
    let out = Command::new(python)
        .arg(common::pdq_reference_script())
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[1].to_owned(), f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn altered_copies_are_suggested_with_their_category_and_unrelated_images_are_not() {
    let Some(python) = common::pdq_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let evidence = dir.path().join("evidence");
    for d in [&work, &evidence.join("copies"), &evidence.join("unrelated")] {
        std::fs::create_dir_all(d).unwrap();
    }

    // The known images and their categories, one set per category.
    let categories = ["csam", "csam", "csem", "cgi", "non_pertinent", "csem"];
    let originals: Vec<RgbImage> = (0..6).map(|i| scene(1024, 768, 1 + i)).collect();
    let known = reference_pdq(&python, &work, &originals);
    for (_, quality) in &known {
        assert!(
            *quality >= 80,
            "the generated originals are good pictures: {known:?}"
        );
    }
    let db = dir.path().join("k.db");
    let mut filler = Rng::new(99);
    for category in ["csam", "csem", "cgi", "non_pertinent"] {
        let mut lines = String::new();
        for ((hash, quality), _) in known.iter().zip(categories).filter(|(_, c)| *c == category) {
            lines.push_str(&format!("{hash},{quality}\n"));
        }
        // Unrelated known hashes (random bits: about 128 from anything) fill the index.
        for _ in 0..500 {
            let words: Vec<String> = (0..4).map(|_| format!("{:016x}", filler.next())).collect();
            lines.push_str(&format!("{},90\n", words.concat()));
        }
        let set = work.join(format!("{category}.pdq"));
        std::fs::write(&set, lines).unwrap();
        let out = hashsift()
            .args(["db", "--db"])
            .arg(&db)
            .arg("import")
            .arg(&set)
            .args([
                "--name",
                &format!("unit-{category}"),
                "--category",
                category,
            ])
            .output()
            .unwrap();
        assert_exit(&out, 0);
    }

    // `db lookup --pdq`: a known hash with 5 bits flipped is 5 bits from its medium.
    let mut near = known[0].0.clone().into_bytes();
    for k in [0, 13, 27, 40, 63] {
        let v = u8::from_str_radix(std::str::from_utf8(&near[k..=k]).unwrap(), 16).unwrap();
        near[k] = format!("{:x}", v ^ 1).as_bytes()[0];
    }
    let near = String::from_utf8(near).unwrap();
    let out = hashsift()
        .args(["db", "--db"])
        .arg(&db)
        .args(["lookup", "--json", "--pdq", &near, "--pdq-distance", "10"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let neighbours = found[0]["neighbours"].as_array().unwrap();
    assert_eq!(neighbours.len(), 1, "{found}");
    assert_eq!(neighbours[0]["distance"], 5);
    assert_eq!(neighbours[0]["medium"]["pdq"], known[0].0.as_str());
    assert_eq!(neighbours[0]["medium"]["triage"], categories[0]);
    let out = hashsift()
        .args(["db", "--db"])
        .arg(&db)
        .args(["lookup", "--pdq", &near, "--pdq-distance", "4"])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no known PDQ hash within 4 bits"),
        "{out:?}"
    );

    // The altered copies, each with the category it must be suggested and the transform of
    // the copy that brings it back to the original.
    let mut expected: BTreeMap<String, (&str, &str)> = BTreeMap::new();
    for (i, (img, category)) in originals.iter().zip(categories).enumerate() {
        let copy = |name: &str| evidence.join("copies").join(format!("{i}-{name}"));
        let quality = [50u8, 60, 70, 80, 90][i % 5];
        save_jpeg(img, &copy("reencoded.jpg"), quality);
        save_jpeg(img, &copy("reencoded-q90.jpg"), 90);
        let half = imageops::resize(img, 512, 384, imageops::FilterType::Triangle);
        half.save(copy("half.png")).unwrap();
        imageops::grayscale(img).save(copy("grey.png")).unwrap();
        imageops::flip_horizontal(img)
            .save(copy("mirror.png"))
            .unwrap();
        // Turned 90 degrees clockwise; turning it back is a quarter turn counter-clockwise.
        save_jpeg(&imageops::rotate90(img), &copy("rotated.jpg"), 85);
        for (name, transform) in [
            ("reencoded.jpg", "original"),
            ("reencoded-q90.jpg", "original"),
            ("half.png", "original"),
            ("grey.png", "original"),
            ("mirror.png", "flipy"),
            ("rotated.jpg", "rot90"),
        ] {
            let path = copy(name).to_string_lossy().into_owned();
            expected.insert(path, (category, transform));
        }
    }
    for k in 0..1000u64 {
        let img = scene(160 + (k % 5) as u32 * 16, 120, 10_000 + k);
        img.save(evidence.join("unrelated").join(format!("{k}.png")))
            .unwrap();
    }

    let out_dir = dir.path().join("report");
    let out = hashsift()
        .args(["scan", "-q", "--db"])
        .arg(&db)
        .arg("-o")
        .arg(&out_dir)
        .arg(&evidence)
        .output()
        .unwrap();
    // Suggestions are not grades: nothing known by exact hash, so the scan exits 0.
    assert_exit(&out, 0);
    let text = std::fs::read_to_string(out_dir.join("items.jsonl")).unwrap();
    let (_, items, _) = parse_jsonl(&text);
    let mut copies = 0;
    let mut unrelated = 0;
    let mut farthest = 0;
    for item in items.values() {
        if item["kind"] != "file" {
            continue;
        }
        let path = item["path"].as_str().unwrap();
        assert_eq!(item["category"], "unknown", "{path}: no exact match");
        assert!(item["pdq"].is_string(), "{path}: hashed: {item}");
        if let Some((category, transform)) = expected.get(path) {
            copies += 1;
            assert_eq!(item["suggested_category"], *category, "{path}: {item}");
            let nearest = &item["pdq_matches"][0];
            let distance = nearest["distance"].as_u64().unwrap();
            assert!(distance <= 31, "{path}: {item}");
            farthest = farthest.max(distance);
            assert_eq!(nearest["transform"], *transform, "{path}: {item}");
            assert_eq!(nearest["sets"][0]["category"], *category, "{path}: {item}");
        } else {
            unrelated += 1;
            assert!(
                item.get("pdq_matches").is_none() && item.get("suggested_category").is_none(),
                "{path}: an unrelated image is suggested: {item}"
            );
        }
    }
    eprintln!("{copies} copies suggested, the farthest at {farthest} bits");
    assert_eq!(copies, expected.len());
    assert_eq!(unrelated, 1000);

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    let triage = &summary["triage"];
    assert_eq!(triage["graded_by_exact_hash"]["items"], 0);
    assert_eq!(triage["suggested_by_pdq"]["items"], expected.len());
    assert_eq!(triage["unknown"]["items"], 1000);
    assert_eq!(summary["pdq"]["known_hashes"], 2000 + originals.len());
    assert_eq!(summary["pdq"]["images_searched"], expected.len() + 1000);
}
