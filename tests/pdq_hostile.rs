//! Hostile images in a scan: truncated JPEG, PNG, GIF, WebP and TIFF files, images declaring
//! enormous dimensions (a JPEG's SOF and a PNG's IHDR, with a correct CRC), a JPEG signature
//! followed by noise, a GIF with a broken header, an empty `.jpg`, and random bytes named `.jpg`.
//! The scan finishes in bounded time, every file keeps its digests, each damaged image has a
//! `pdq_error` with a reason, and the one sound image beside them is hashed.

mod common;

use std::path::Path;

use common::hostile::{encoded, half, jpeg_bomb, png_bomb};
use common::{assert_exit, import_graded, parse_jsonl, pseudo_random, scan_quietly};

#[test]
fn damaged_and_hostile_images_get_a_reason_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("evidence");
    std::fs::create_dir(&ev).unwrap();
    let put = |name: &str, bytes: &[u8]| std::fs::write(ev.join(name), bytes).unwrap();

    let jpeg = encoded(image::ImageFormat::Jpeg);
    let png = encoded(image::ImageFormat::Png);
    put("sound.png", &png);
    put("truncated.jpg", &half(&jpeg));
    put("truncated.png", &half(&png));
    put("truncated.gif", &half(&encoded(image::ImageFormat::Gif)));
    put("truncated.webp", &half(&encoded(image::ImageFormat::WebP)));
    put("truncated.tiff", &half(&encoded(image::ImageFormat::Tiff)));
    put("bomb.jpg", &jpeg_bomb(&jpeg));
    put("bomb.png", &png_bomb(&png));
    let mut noise = vec![0xFF, 0xD8, 0xFF, 0xE0];
    noise.extend(pseudo_random(20_000, 5));
    put("noise-after-signature.jpg", &noise);
    // A GIF saying 10 x 10, then noise where the colour table and the frames go.
    let mut gif = b"GIF89a\x0a\x00\x0a\x00".to_vec();
    gif.extend(pseudo_random(64, 6));
    put("broken-header.gif", &gif);
    put("empty.jpg", b"");
    put("random.jpg", &pseudo_random(10_000, 7));

    let db = dir.path().join("k.db");
    let set = dir.path().join("set.md5");
    std::fs::write(&set, format!("{:032x}  nothing\n", 1)).unwrap();
    import_graded(&db, &set, "unit", "csam");

    let report = dir.path().join("report");
    let out = scan_quietly(&db, &report, &ev);
    // Undecodable images are not unreadable files: every file was read, nothing is known.
    assert_exit(&out, 0);
    let (_, items, _) = parse_jsonl(&std::fs::read_to_string(report.join("items.jsonl")).unwrap());
    let item = |name: &str| {
        let path = ev.join(name);
        items
            .get(Path::new(&path).as_os_str().as_encoded_bytes())
            .unwrap_or_else(|| panic!("{name} listed"))
            .clone()
    };
    let sound = item("sound.png");
    assert!(
        sound["pdq"].is_string() && sound.get("pdq_error").is_none(),
        "{sound}"
    );
    for (name, reason) in [
        ("truncated.jpg", "cannot be decoded: "),
        ("truncated.png", "cannot be decoded: "),
        ("truncated.gif", "cannot be decoded: "),
        ("truncated.webp", "cannot be decoded: "),
        ("truncated.tiff", "cannot be decoded: "),
        ("bomb.jpg", "declares 65000x65000 pixels"),
        ("bomb.png", "declares 100000x100000 pixels"),
        ("noise-after-signature.jpg", "cannot be decoded: "),
        ("broken-header.gif", "cannot be decoded: "),
    ] {
        let v = item(name);
        assert!(v["sha256"].is_string(), "{name}: digests kept: {v}");
        assert_eq!(v["class"], "image", "{name}: {v}");
        assert!(v.get("pdq").is_none(), "{name}: no hash: {v}");
        let error = v["pdq_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {v}"));
        assert!(error.starts_with(reason), "{name}: {error}");
        assert!(error.len() > reason.len() + 3, "{name}: a reason: {error}");
        assert!(v.get("error").is_none(), "{name}: read fine: {v}");
    }
    // Not images by their content: no PDQ at all, and the digests.
    for name in ["empty.jpg", "random.jpg"] {
        let v = item(name);
        assert!(v["sha256"].is_string(), "{name}: {v}");
        assert!(
            v.get("pdq").is_none() && v.get("pdq_error").is_none(),
            "{name}: {v}"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["pdq"]["images_hashed"], 1, "{summary}");
    assert_eq!(summary["pdq"]["images_not_decoded"], 9, "{summary}");
}
