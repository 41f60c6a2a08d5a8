//! PDQ against the reference binding from PyPI (`pdqhash`, Meta's C++ core) on generated
//! images: the same RGB pixels given to both, hash, quality and the eight dihedral hashes
//! equal bit for bit. The sizes cover the edges of the algorithm: the 5-pixel minimum, the 64x64
//! bypass, odd and even box windows, sides just over a multiple of 128, and wide and tall
//! shapes. In CI a missing `pdqhash` fails the test; elsewhere it is skipped with a message.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use hashsift::media::pdq::{self, Luma, PdqHash};

/// A synthetic picture: smooth gradients, a few rectangles and noise, different per seed.
fn picture(width: usize, height: usize, seed: u64) -> Vec<u8> {
    let noise = common::pseudo_random(width * height * 3, seed);
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let fx = x as f64 / width as f64;
            let fy = y as f64 / height as f64;
            let block = ((x * 5 / width.max(1)) + (y * 3 / height.max(1)) + seed as usize) % 4;
            for c in 0..3 {
                let wave = ((fx * (3.0 + c as f64) + fy * (2.0 + seed as f64 % 5.0)) * 3.1).sin();
                let base = 128.0 + 70.0 * wave + 25.0 * block as f64;
                let n = f64::from(noise[(y * width + x) * 3 + c]) / 255.0 - 0.5;
                rgb.push((base + 30.0 * n).clamp(0.0, 255.0) as u8);
            }
        }
    }
    rgb
}

fn write_ppm(path: &Path, width: usize, height: usize, rgb: &[u8]) {
    let mut data = format!("P6\n{width} {height}\n255\n").into_bytes();
    data.extend_from_slice(rgb);
    std::fs::write(path, data).expect("write ppm");
}

#[test]
fn hashes_equal_the_reference_binding_on_the_same_pixels() {
    let Some(python) = common::pdq_python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let sizes: [(usize, usize); 19] = [
        // Under the 5-pixel minimum: the reference gives the zero hash and quality 0.
        (1, 1),
        (4, 9),
        (9, 4),
        (5, 5),
        (5, 9),
        (17, 6),
        (63, 64),
        (64, 64),
        (65, 64),
        (128, 128),
        (129, 130),
        (200, 150),
        (255, 257),
        (256, 256),
        (383, 97),
        (97, 640),
        (640, 480),
        (1023, 769),
        (1601, 1000),
    ];
    let mut images: Vec<(PathBuf, usize, usize, Vec<u8>)> = Vec::new();
    for (n, &(w, h)) in sizes.iter().enumerate() {
        let rgb = picture(w, h, n as u64 + 1);
        let path = dir.path().join(format!("{w}x{h}.ppm"));
        write_ppm(&path, w, h, &rgb);
        images.push((path, w, h, rgb));
    }
    // A flat image (quality 0) and a greyscale one (equal channels).
    let flat = vec![77u8; 90 * 70 * 3];
    let path = dir.path().join("flat.ppm");
    write_ppm(&path, 90, 70, &flat);
    images.push((path, 90, 70, flat));
    let grey: Vec<u8> = picture(300, 200, 99)
        .chunks(3)
        .flat_map(|p| [p[0]; 3])
        .collect();
    let path = dir.path().join("grey.ppm");
    write_ppm(&path, 300, 200, &grey);
    images.push((path, 300, 200, grey));

    let out = Command::new(&python)
        .arg(common::pdq_reference_script())
        .args(images.iter().map(|i| &i.0))
        .output()
        .expect("run the reference");
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), images.len());
    let mut failures = Vec::new();
    for ((path, w, h, rgb), line) in images.iter().zip(lines) {
        let f: Vec<&str> = line.split('\t').collect();
        let name = path.file_name().unwrap().to_string_lossy();
        let hash = PdqHash::from_hex(f[1]).expect("hex");
        let quality: u8 = f[2].parse().expect("quality");
        let dihedral: Vec<PdqHash> = f[3]
            .split(',')
            .map(|s| PdqHash::from_hex(s).unwrap())
            .collect();
        let dihedral_quality: u8 = f[4].parse().expect("quality");

        let got = pdq::hash(Luma::from_rgb8(rgb, *w, *h));
        if (got.hash, got.quality) != (hash, quality) {
            failures.push(format!(
                "{name}: {} q{} against {hash} q{quality} (distance {})",
                got.hash,
                got.quality,
                got.hash.distance(&hash)
            ));
        }
        let d = pdq::dihedral(Luma::from_rgb8(rgb, *w, *h));
        if d.quality != dihedral_quality || d.hashes.as_slice() != dihedral.as_slice() {
            failures.push(format!(
                "{name}: dihedral q{} against q{dihedral_quality}, distances {:?}",
                d.quality,
                d.hashes
                    .iter()
                    .zip(&dihedral)
                    .map(|(a, b)| a.distance(b))
                    .collect::<Vec<_>>()
            ));
        }
        if name == "grey.ppm" {
            let g: Vec<u8> = rgb.chunks(3).map(|p| p[0]).collect();
            let from_grey = pdq::hash(Luma::from_grey8(&g, *w, *h));
            if from_grey.hash != hash {
                failures.push("grey.ppm: the grey-level luma differs from RGB's".into());
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
