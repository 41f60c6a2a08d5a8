//! `hashsift demo`: the main job on built-in synthetic data. It lays out a small evidence tree
//! (the twelve generated sample images of `hashsets/samples/images`, nested, with a copy and a
//! renamed extension, a ZIP holding one of them, plus a few other files), writes two hash sets grading some of them (the
//! sample VICS 2.0 set, and a reference list of the non-image files), imports them into a new
//! database, scans, and says where the report is.
//!
//! Every step goes through the same command-line paths as the user's own commands would.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Parser;
use md5::Digest as _;

use super::{Cli, Command};
use hashsift::exit::ExitStatus;

/// The sample images (generated gradients and shapes: `hashsets/samples/make_samples.py`).
const IMAGES: [&[u8]; 12] = [
    include_bytes!("../../hashsets/samples/images/img01.png"),
    include_bytes!("../../hashsets/samples/images/img02.png"),
    include_bytes!("../../hashsets/samples/images/img03.png"),
    include_bytes!("../../hashsets/samples/images/img04.png"),
    include_bytes!("../../hashsets/samples/images/img05.png"),
    include_bytes!("../../hashsets/samples/images/img06.png"),
    include_bytes!("../../hashsets/samples/images/img07.png"),
    include_bytes!("../../hashsets/samples/images/img08.png"),
    include_bytes!("../../hashsets/samples/images/img09.png"),
    include_bytes!("../../hashsets/samples/images/img10.png"),
    include_bytes!("../../hashsets/samples/images/img11.png"),
    include_bytes!("../../hashsets/samples/images/img12.png"),
];

/// The sample VICS 2.0 `#Cases` set, grading some of the images.
const VICS_SET: &[u8] = include_bytes!("../../hashsets/samples/vics-2.0-cases.json");

/// Where each image goes in the evidence tree (by its index in [`IMAGES`]).
const LAYOUT: &[(&str, usize)] = &[
    ("DCIM/100CAMERA/IMG_0001.PNG", 0),
    ("DCIM/100CAMERA/IMG_0002.PNG", 1),
    ("DCIM/100CAMERA/IMG_0003.PNG", 2),
    ("DCIM/100CAMERA/IMG_0004.PNG", 3),
    ("DCIM/101CAMERA/IMG_0105.PNG", 4),
    ("DCIM/101CAMERA/IMG_0106.PNG", 5),
    ("Pictures/Holiday/beach-07.png", 6),
    ("Pictures/Holiday/beach-08.png", 7),
    ("Pictures/Saved/img09.png", 8),
    ("Pictures/Saved/img10.png", 9),
    ("Pictures/Saved/img11.png", 10),
    ("Pictures/Saved/img12.png", 11),
    // A copy of a graded image, and one hidden behind another extension.
    ("Backup/2025/beach-07 (copy).png", 6),
    ("Documents/invoice-2025.pdf", 8),
];

/// Other files: not images, some known to the reference list.
const OTHERS: &[(&str, &[u8], bool)] = &[
    (
        "Documents/notes.txt",
        b"Shopping: bread, milk, batteries.\nCall the garage on Monday.\n",
        true,
    ),
    (
        "Program Files/Viewer/viewer.exe",
        b"MZ\x90\x00\x03\x00\x00\x00 synthetic executable for the hashsift demo",
        true,
    ),
    (
        "Downloads/unknown.bin",
        b"\x00\x13\x37 synthetic bytes no set knows",
        false,
    ),
];

/// Runs the demo into `out` (default `./hashsift-demo`), which must not exist or be empty.
///
/// # Errors
/// The directory holds something already; any step failing.
/// Runs the demo into `out` (a new temporary folder when not given), each of its commands
/// through `dispatch`, as the user's own would be.
pub fn run(
    out: Option<PathBuf>,
    dispatch: &dyn Fn(Command) -> anyhow::Result<ExitStatus>,
) -> anyhow::Result<ExitStatus> {
    let dir = out.unwrap_or_else(|| PathBuf::from("hashsift-demo"));
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: give --out with a new directory, or remove it",
            dir.display()
        );
    }
    let dir = std::path::absolute(&dir).context("cannot resolve the demo directory")?;
    let evidence = dir.join("evidence");
    let sets = dir.join("sets");
    let db = dir.join("known.db");
    let report = dir.join("report");
    for (path, image) in LAYOUT {
        write(&evidence.join(path), IMAGES[*image])?;
    }
    let mut reference = String::new();
    for (path, bytes, known) in OTHERS {
        write(&evidence.join(path), bytes)?;
        if *known {
            let md5 = hashsift::digest::to_hex(&md5::Md5::digest(bytes));
            reference.push_str(&format!("{md5}  {path}\n"));
        }
    }
    write(&evidence.join(CHAT_EXPORT), &chat_export()?)?;
    write(&sets.join("vics-sample.json"), VICS_SET)?;
    write(&sets.join("reference.md5"), reference.as_bytes())?;
    // A picture the unit knows by its PDQ hash only; the evidence holds a copy of it that was
    // mirrored, shrunk and re-compressed on its way (no exact hash can know it).
    let known = scene(640, 480, 2026);
    let pdq = {
        let luma = hashsift::media::pdq::Luma::from_rgb8(known.as_raw(), 640, 480);
        hashsift::media::pdq::hash(luma)
    };
    write(
        &sets.join("unit-pdq.txt"),
        format!("{},{}\n", pdq.hash, pdq.quality).as_bytes(),
    )?;
    let copy = image::imageops::resize(
        &image::imageops::flip_horizontal(&known),
        320,
        240,
        image::imageops::FilterType::Triangle,
    );
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 75)
        .encode_image(&copy)
        .context("encode the demo's altered copy")?;
    write(&evidence.join(FORWARDED), &jpeg)?;
    eprintln!(
        "hashsift demo: synthetic evidence in {}, hash sets in {}",
        evidence.display(),
        sets.display()
    );

    let run = |args: Vec<std::ffi::OsString>| -> anyhow::Result<ExitStatus> {
        let cli = Cli::try_parse_from(args).context("the demo's own command line")?;
        dispatch(cli.command)
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    let path = |p: &Path| p.as_os_str().to_owned();
    for (file, name, extra) in [
        ("vics-sample.json", "demo-vics", vec![]),
        (
            "reference.md5",
            "demo-reference",
            vec![os("--category"), os("known_file")],
        ),
        (
            "unit-pdq.txt",
            "demo-unit-pdq",
            vec![os("--category"), os("csam")],
        ),
    ] {
        let mut args = vec![
            os("hashsift"),
            os("db"),
            os("--db"),
            path(&db),
            os("import"),
        ];
        args.push(path(&sets.join(file)));
        args.extend([os("--name"), os(name), os("--set-version"), os("1")]);
        args.extend([os("--source"), os("hashsift demo (synthetic)"), os("-q")]);
        args.extend(extra);
        let status = run(args)?;
        if status != ExitStatus::Clean {
            bail!("importing {file} failed (exit {})", status.code());
        }
    }
    let status = run(vec![
        os("hashsift"),
        os("scan"),
        path(&evidence),
        os("-o"),
        path(&report),
        os("--db"),
        path(&db),
        os("--case"),
        os("DEMO-0001"),
        os("--evidence-id"),
        os("DEMO-EXHIBIT-1"),
        os("--examiner"),
        os("hashsift demo"),
    ])?;
    eprintln!(
        "hashsift demo: the scan exited {} ({}); the report is in {}: summary.html (open it in a browser), items.jsonl, items.csv, vics.json, summary.json, manifest.json",
        status.code(),
        match status {
            ExitStatus::KnownIllegal =>
                "known csam/csem/cgi material found, as the sample set says",
            ExitStatus::Clean => "no known csam/csem/cgi material",
            _ => "see above",
        },
        report.display()
    );
    Ok(match status {
        ExitStatus::KnownIllegal | ExitStatus::Clean => ExitStatus::Clean,
        other => other,
    })
}

/// Where the demo's ZIP lies in the evidence: a chat export holding a graded image (the
/// scan opens it and grades the member) beside an unknown one and the chat's text.
pub const CHAT_EXPORT: &str = "Downloads/chat-export-2025-11.zip";

/// The members of the demo's ZIP: name and bytes.
fn chat_members() -> [(&'static str, &'static [u8]); 3] {
    [
        (
            "chat.txt",
            b"[03/11/2025, 21:14] A: sent the files\n[03/11/2025, 21:15] B: got them\n",
        ),
        ("Media/IMG-20251103-WA0012.png", IMAGES[6]),
        ("Media/IMG-20251103-WA0013.png", IMAGES[10]),
    ]
}

/// The demo's ZIP, deflated, written in memory.
fn chat_export() -> anyhow::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(
            zip::DateTime::from_date_and_time(2025, 11, 3, 21, 15, 0)
                .map_err(|e| anyhow::anyhow!("the demo ZIP's date: {e}"))?,
        );
    for (name, bytes) in chat_members() {
        zip.start_file(name, options)
            .context("write the demo's ZIP")?;
        zip.write_all(bytes).context("write the demo's ZIP")?;
    }
    Ok(zip.finish().context("write the demo's ZIP")?.into_inner())
}

/// Where the demo's altered copy of a picture known by PDQ lies in the evidence.
pub const FORWARDED: &str = "Downloads/forwarded/IMG-20251103-WA0007.jpg";

/// A synthetic picture for the PDQ part of the demo: a gradient and coloured rectangles laid
/// out by a small deterministic generator (xorshift), so every demo builds the same one.
fn scene(width: u32, height: u32, seed: u64) -> image::RgbImage {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut below = |n: u32| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % u64::from(n)) as u32
    };
    let (from, to) = (
        [below(256), below(256), below(256)],
        [below(256), below(256), below(256)],
    );
    let mut img = image::RgbImage::from_fn(width, height, |x, _| {
        let t = f64::from(x) / f64::from(width);
        image::Rgb(
            [0, 1, 2]
                .map(|c| (f64::from(from[c]) + (f64::from(to[c]) - f64::from(from[c])) * t) as u8),
        )
    });
    for _ in 0..30 {
        let colour = image::Rgb([below(256) as u8, below(256) as u8, below(256) as u8]);
        let (x0, y0) = (below(width), below(height));
        let (w, h) = (
            width / 20 + below(width / 6),
            height / 20 + below(height / 6),
        );
        for y in y0..(y0 + h).min(height) {
            for x in x0..(x0 + w).min(width) {
                img.put_pixel(x, y, colour);
            }
        }
    }
    img
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
