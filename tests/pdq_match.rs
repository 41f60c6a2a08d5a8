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

use common::{assert_exit, hashsift, import_graded, parse_jsonl};
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
    common::pdq_reference_rows(python, dir, images)
        .into_iter()
        .map(|f| (f[1].clone(), f[2].parse().unwrap()))
        .collect()
}

/// `hex` with one bit flipped in each of the hex digits at `digits`.
fn flip_bits(hex: &str, digits: &[usize]) -> String {
    let mut out = hex.as_bytes().to_vec();
    for &k in digits {
        let v = u8::from_str_radix(&hex[k..=k], 16).unwrap();
        out[k] = format!("{:x}", v ^ 1).as_bytes()[0];
    }
    String::from_utf8(out).unwrap()
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
    // A flat picture (quality under 50): known, but too poor a hash to be searched with.
    let flat = RgbImage::from_fn(400, 300, |x, y| {
        let n = ((x * 7 + y * 13) % 3) as u8;
        image::Rgb([127 + n, 127 + n, 127 + n])
    });
    std::fs::create_dir(work.join("flat")).unwrap();
    let flat_known = reference_pdq(&python, &work.join("flat"), std::slice::from_ref(&flat));
    assert!(
        flat_known[0].1 < 50,
        "the flat picture is poor: {flat_known:?}"
    );
    flat.save(evidence.join("flat.png")).unwrap();
    // Original 4 (non_pertinent) has a neighbour 12 bits away that a set grades csem: its
    // copies are suggested csem, whichever of the two is nearer.
    let severe_neighbour = flip_bits(&known[4].0, &[1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56]);
    let suggested = ["csam", "csam", "csem", "cgi", "csem", "csem"];

    let db = dir.path().join("k.db");
    let mut filler = Rng::new(99);
    for category in ["csam", "csem", "cgi", "non_pertinent"] {
        let mut lines = String::new();
        for ((hash, quality), _) in known.iter().zip(categories).filter(|(_, c)| *c == category) {
            lines.push_str(&format!("{hash},{quality}\n"));
        }
        match category {
            "csam" => lines.push_str(&format!("{},{}\n", flat_known[0].0, flat_known[0].1)),
            "csem" => lines.push_str(&format!("{severe_neighbour},90\n")),
            _ => {}
        }
        // Unrelated known hashes (random bits: about 128 from anything) fill the index.
        for _ in 0..500 {
            let words: Vec<String> = (0..4).map(|_| format!("{:016x}", filler.next())).collect();
            lines.push_str(&format!("{},90\n", words.concat()));
        }
        let set = work.join(format!("{category}.pdq"));
        std::fs::write(&set, lines).unwrap();
        import_graded(&db, &set, &format!("unit-{category}"), category);
    }

    // An exact copy of original 0, known by its MD5 (coreutils) to a set grading it csem: graded
    // by that, and not searched by PDQ though its PDQ hash is known too.
    let exact = evidence.join("copies").join("0-exact.png");
    originals[0].save(&exact).unwrap();
    let md5_set = work.join("exact.md5");
    std::fs::write(
        &md5_set,
        format!("{}  exact\n", common::oracle_digest("md5sum", &exact)),
    )
    .unwrap();
    import_graded(&db, &md5_set, "unit-md5", "csem");

    // `db lookup --pdq`: a known hash with 5 bits flipped is 5 bits from its medium.
    let near = flip_bits(&known[0].0, &[0, 13, 27, 40, 63]);
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
    let mut expected: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for (i, img) in originals.iter().enumerate() {
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
            expected.insert(path, (i, transform));
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
    // Suggestions are not grades: the exact copy graded csem is what makes the exit code 1.
    assert_exit(&out, 1);
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
        assert!(item["pdq"].is_string(), "{path}: hashed: {item}");
        let not_searched =
            item.get("pdq_matches").is_none() && item.get("suggested_category").is_none();
        if path.ends_with("0-exact.png") {
            assert_eq!(
                item["category"], "csem",
                "{path}: graded by its MD5: {item}"
            );
            assert!(not_searched, "{path}: graded, so not searched: {item}");
            continue;
        }
        assert_eq!(item["category"], "unknown", "{path}: no exact match");
        if path.ends_with("flat.png") {
            assert!(
                not_searched,
                "{path}: quality under 50, not searched: {item}"
            );
            continue;
        }
        if let Some(&(i, transform)) = expected.get(path) {
            copies += 1;
            assert_eq!(item["suggested_category"], suggested[i], "{path}: {item}");
            // The original's own entry is among the matches, through the transform that undoes
            // the change, with its set's category.
            let original = item["pdq_matches"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["pdq"] == known[i].0.as_str())
                .unwrap_or_else(|| panic!("{path}: the original is not among the matches: {item}"));
            let distance = original["distance"].as_u64().unwrap();
            assert!(distance <= 31, "{path}: {item}");
            farthest = farthest.max(distance);
            assert_eq!(original["transform"], transform, "{path}: {item}");
            assert_eq!(
                original["sets"][0]["category"], categories[i],
                "{path}: {item}"
            );
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
    assert_eq!(triage["graded_by_exact_hash"]["items"], 1);
    assert_eq!(triage["suggested_by_pdq"]["items"], expected.len());
    assert_eq!(triage["unknown"]["items"], 1000 + 1);
    // The originals, the flat picture, the severe neighbour and the 2,000 fillers.
    assert_eq!(summary["pdq"]["known_hashes"], 2000 + originals.len() + 2);
    assert_eq!(summary["pdq"]["images_searched"], expected.len() + 1000);
    assert_eq!(summary["pdq"]["search_complete"], true);
}

/// Each image's nearest suggestion in a scan of `evidence`, by file name: (distance,
/// transform), or `None`.
fn nearest_by_name(
    db: &Path,
    evidence: &Path,
    report: &Path,
) -> BTreeMap<String, Option<(u64, String)>> {
    let out = hashsift()
        .args(["scan", "-q", "--db"])
        .arg(db)
        .arg("-o")
        .arg(report)
        .arg(evidence)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let (_, items, _) = parse_jsonl(&std::fs::read_to_string(report.join("items.jsonl")).unwrap());
    items
        .values()
        .filter(|v| v["kind"] == "file")
        .map(|v| {
            let name = Path::new(v["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let near = v.get("pdq_matches").map(|m| {
                (
                    m[0]["distance"].as_u64().unwrap(),
                    m[0]["transform"].as_str().unwrap().to_owned(),
                )
            });
            (name, near)
        })
        .collect()
}

/// Slightly different copies of one picture can share their first PDQ hash and differ in the
/// others (each transform's bits are cut at its own median). What a scan suggests for an image
/// must not depend on which other images the evidence holds.
#[test]
fn an_images_suggestions_do_not_depend_on_the_other_images() {
    let Some(python) = common::pdq_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let together = dir.path().join("together");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&together).unwrap();
    let base = scene(128, 128, 77);
    let variants: Vec<RgbImage> = (0..60u64)
        .map(|k| {
            let mut r = Rng::new(1000 + k);
            let mut img = base.clone();
            for p in img.pixels_mut() {
                let n = r.below(5) as i32 - 2;
                for c in &mut p.0 {
                    *c = (i32::from(*c) + n).clamp(0, 255) as u8;
                }
            }
            img
        })
        .collect();
    // The test can only fail if some variants share their first hash and not all eight.
    let rows = common::pdq_reference_rows(&python, &work, &variants);
    let mut by_first: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for f in &rows {
        by_first
            .entry(f[1].as_str())
            .or_default()
            .insert(f[3].as_str());
    }
    let mixed = by_first.values().filter(|d| d.len() > 1).count();
    assert!(
        mixed > 0,
        "no two variants share a first hash with other dihedral hashes"
    );

    // The database knows the picture by its quarter-turned hash only.
    std::fs::create_dir(work.join("base")).unwrap();
    let base_row =
        &common::pdq_reference_rows(&python, &work.join("base"), std::slice::from_ref(&base))[0];
    let rot90 = base_row[3].split(',').nth(1).unwrap();
    let set = work.join("rot.pdq");
    std::fs::write(&set, format!("{rot90},{}\n", base_row[4])).unwrap();
    let db = dir.path().join("k.db");
    import_graded(&db, &set, "unit-rot", "csam");

    for (k, img) in variants.iter().enumerate() {
        img.save(together.join(format!("v{k:02}.png"))).unwrap();
    }
    let all = nearest_by_name(&db, &together, &dir.path().join("report-all"));
    assert_eq!(all.len(), variants.len());
    for (k, img) in variants.iter().enumerate() {
        let alone = dir.path().join(format!("alone-{k}"));
        std::fs::create_dir(&alone).unwrap();
        let name = format!("v{k:02}.png");
        img.save(alone.join(&name)).unwrap();
        let one = nearest_by_name(&db, &alone, &dir.path().join(format!("report-{k}")));
        assert_eq!(one[&name], all[&name], "{name}: alone and among the others");
    }
    eprintln!(
        "{mixed} first hashes shared by variants with other dihedral hashes; {} of {} suggested",
        all.values().filter(|n| n.is_some()).count(),
        all.len()
    );
}
