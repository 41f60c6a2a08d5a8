//! PDQ against the reference vectors in `../shared/pdq-vectors/` (Meta's test images with the
//! hashes the reference C++ core gave for them, see its README): on the decoded pixels stored
//! as PPM, exactly the expected hash, quality and seven dihedral hashes. Skipped, with a
//! message, when the folder is absent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hashsift::media::pdq::{self, Luma, PdqHash};

fn vectors() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pdq-vectors");
    if dir.join("expected.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: no PDQ reference vectors at {} (see the project's README)",
            dir.display()
        );
        None
    }
}

/// One row of `expected.tsv`.
struct Expected {
    width: usize,
    height: usize,
    pdq: PdqHash,
    quality: u8,
    /// All eight, the original first.
    dihedral: Vec<PdqHash>,
}

fn expected(dir: &Path) -> HashMap<String, Expected> {
    let text = std::fs::read_to_string(dir.join("expected.tsv")).expect("read expected.tsv");
    let mut rows = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 13, "a row of 13 fields: {line}");
        let hash = |s: &str| PdqHash::from_hex(s).unwrap_or_else(|| panic!("hex {s}"));
        let mut dihedral = vec![hash(f[4])];
        dihedral.extend(f[6..13].iter().map(|s| hash(s)));
        rows.insert(
            f[0].to_owned(),
            Expected {
                width: f[1].parse().expect("width"),
                height: f[2].parse().expect("height"),
                pdq: hash(f[4]),
                quality: f[5].parse().expect("quality"),
                dihedral,
            },
        );
    }
    rows
}

/// A binary PPM (P6, maxval 255): width, height, RGB bytes.
fn read_ppm(path: &Path) -> (usize, usize, Vec<u8>) {
    let data = std::fs::read(path).expect("read ppm");
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while data[i].is_ascii_whitespace() {
            i += 1;
        }
        if data[i] == b'#' {
            while data[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while !data[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&data[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P6", "{}", path.display());
    assert_eq!(fields[3], "255", "{}", path.display());
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = data[i + 1..].to_vec();
    assert_eq!(pixels.len(), w * h * 3, "{}", path.display());
    (w, h, pixels)
}

/// The image `a/b/c.*` a PPM named `a__b__c.ppm` was decoded from.
fn image_of(ppm: &Path, rows: &HashMap<String, Expected>) -> String {
    let stem = ppm
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .replace("__", "/");
    let mut found: Vec<&String> = rows
        .keys()
        .filter(|k| k.rsplit_once('.').is_some_and(|(s, _)| s == stem))
        .collect();
    assert_eq!(found.len(), 1, "one image for {}", ppm.display());
    found.pop().unwrap().clone()
}

#[test]
fn pixels_give_exactly_the_reference_hash_quality_and_dihedral_hashes() {
    let Some(dir) = vectors() else { return };
    let rows = expected(&dir);
    let mut ppms: Vec<PathBuf> = std::fs::read_dir(dir.join("pixels"))
        .expect("list pixels/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ppm"))
        .collect();
    ppms.sort();
    assert!(ppms.len() >= 6, "the six PPM files");
    let mut failures = Vec::new();
    for ppm in &ppms {
        let name = image_of(ppm, &rows);
        let e = &rows[&name];
        let (w, h, rgb) = read_ppm(ppm);
        assert_eq!((w, h), (e.width, e.height), "{name}");
        let got = pdq::hash(Luma::from_rgb8(&rgb, w, h));
        let dih = pdq::dihedral(Luma::from_rgb8(&rgb, w, h));
        if got.hash != e.pdq || got.quality != e.quality {
            failures.push(format!(
                "{name}: hash {} quality {} (distance {}), expected {} quality {}",
                got.hash,
                got.quality,
                got.hash.distance(&e.pdq),
                e.pdq,
                e.quality
            ));
        }
        if dih.quality != e.quality {
            failures.push(format!("{name}: dihedral quality {}", dih.quality));
        }
        for (k, (g, x)) in dih.hashes.iter().zip(&e.dihedral).enumerate() {
            if g != x {
                failures.push(format!(
                    "{name}: {} is {g}, expected {x} (distance {})",
                    pdq::Transform::ALL[k].name(),
                    g.distance(x)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every image file decoded by hashsift's own decoders, at full scale and in the default fast
/// mode: within 10 bits of the reference hash wherever its quality is 80 or more, and a mean
/// distance of at most 1 bit over the set.
#[test]
fn image_files_decode_to_hashes_near_the_reference() {
    use hashsift::media::decode::{self, JpegScale};
    let Some(dir) = vectors() else { return };
    let rows = expected(&dir);
    let mut names: Vec<&String> = rows.keys().collect();
    names.sort();
    let mut failures = Vec::new();
    let mut total = [0u32; 2];
    let mut undecoded = Vec::new();
    for name in &names {
        let e = &rows[*name];
        let bytes = std::fs::read(dir.join("images").join(name)).expect("read image");
        for (k, scale) in [JpegScale::Full, JpegScale::Fast].into_iter().enumerate() {
            let decoded = match decode::decode(&bytes, scale) {
                Ok(d) => d,
                Err(err) => {
                    undecoded.push(format!("{name}: {err}"));
                    continue;
                }
            };
            assert_eq!(
                (decoded.width, decoded.height),
                (e.width, e.height),
                "{name}"
            );
            let got = pdq::hash(decoded.luma);
            let distance = got.hash.distance(&e.pdq);
            total[k] += distance;
            if e.quality >= 80 && distance > 10 {
                failures.push(format!(
                    "{name}: {scale:?} distance {distance} (quality {})",
                    e.quality
                ));
            }
            eprintln!(
                "{name}: {:?} {} distance {distance}, quality {} (expected {})",
                scale, decoded.decoder, got.quality, e.quality
            );
        }
    }
    assert!(undecoded.is_empty(), "{}", undecoded.join("\n"));
    let mean = total.map(|t| f64::from(t) / names.len() as f64);
    eprintln!(
        "mean distance: full {:.2}, fast {:.2} over {} images",
        mean[0],
        mean[1],
        names.len()
    );
    assert!(mean[0] <= 1.0 && mean[1] <= 1.0, "mean distances {mean:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
