//! Disk images read directly (issue 19, in progress): the image worker (`hashsift
//! __image-worker`, the child process that walks an image with The Sleuth Kit) on images built
//! with Debian's tools from generated files; each file's bytes are compared with the file it was
//! made from.
//!
//! Needs mkfs.fat (dosfstools), mtools and ewfacquire (ewf-tools), and hashsift built with
//! libtsk-dev; skipped with a message without them (failed in CI).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use hashsift::image::entry::{Entry, flags};
use hashsift::image::frames::{self, Frame};

/// Whether this build reads images (hashsift built with libtsk-dev) and `tools` are there.
fn can_test(tools: &[(&str, &str)]) -> bool {
    if !hashsift::image::WITH_TSK {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must build hashsift with The Sleuth Kit (Debian package libtsk-dev); see .ci/run"
        );
        eprintln!("SKIPPED: hashsift was built without The Sleuth Kit (install libtsk-dev)");
        return false;
    }
    tools.iter().all(|(t, p)| have_tool(t, p))
}

fn tool(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Each entry the worker gave, with the content it sent.
type Entries = Vec<(Entry, Option<Vec<u8>>)>;

/// What the worker said of `image`: its entries, and the last frame.
fn worker(image: &Path) -> (Entries, Frame) {
    let out = hashsift()
        .arg("__image-worker")
        .arg(image)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let mut input = out.stdout.as_slice();
    let mut entries: Entries = Vec::new();
    loop {
        match frames::read(&mut input).unwrap().expect("a last frame") {
            Frame::Entry(e) => entries.push((e, None)),
            Frame::Data(d) => entries
                .last_mut()
                .unwrap()
                .1
                .get_or_insert_default()
                .extend_from_slice(&d),
            Frame::End { bytes, error } => {
                let (_, content) = entries.last_mut().unwrap();
                let content = content.get_or_insert_default();
                assert_eq!(bytes, content.len() as u64);
                assert_eq!(error, None);
            }
            Frame::Volume(_) => {}
            last @ (Frame::Done | Frame::Failed(_)) => {
                assert!(input.is_empty(), "frames after the last");
                return (entries, last);
            }
        }
    }
}

#[test]
fn the_worker_gives_every_file_of_a_fat_image_in_raw_and_e01_deleted_ones_too() {
    if !can_test(&[
        ("mkfs.fat", "dosfstools"),
        ("mcopy", "mtools"),
        ("ewfacquire", "ewf-tools"),
    ]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [
        ("photo.jpg", pseudo_random(150_000, 1)),
        ("notes.txt", b"minutes of the meeting\n".to_vec()),
        ("gone.bin", pseudo_random(20_000, 2)),
    ];
    for (name, bytes) in &files {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    let image = d.join("fat.img");
    let img = image.to_str().unwrap();
    tool("truncate", &["-s", "40M", img]);
    tool("mkfs.fat", &["-F", "32", img]);
    tool("mmd", &["-i", img, "::/dcim"]);
    for (name, _) in &files {
        let dest = if name.ends_with(".jpg") {
            "::/dcim/"
        } else {
            "::/"
        };
        tool("mcopy", &["-i", img, d.join(name).to_str().unwrap(), dest]);
    }
    tool("mdel", &["-i", img, "::/gone.bin"]);
    tool(
        "ewfacquire",
        &[
            "-u",
            "-q",
            "-c",
            "fast",
            "-S",
            "1MiB",
            "-t",
            d.join("fat").to_str().unwrap(),
            img,
        ],
    );
    let e01 = d.join("fat.E01");
    let checked = [image.clone(), e01.clone()];
    let paths: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "img" || e.to_string_lossy().starts_with('E'))
        })
        .collect();
    age_access_times(&paths);
    let before = stat_snapshot(&paths);

    for image in &checked {
        let (entries, last) = worker(image);
        assert_eq!(last, Frame::Done, "{}", image.display());
        let find = |parent: &[u8], name: &[u8]| {
            entries
                .iter()
                .find(|(e, _)| e.parent == parent && e.name == name)
                .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(name)))
        };
        let (e, content) = find(b"dcim/", b"photo.jpg");
        assert!(!e.is(flags::DELETED));
        assert!(content.as_deref() == Some(&files[0].1[..]));
        let (_, content) = find(b"", b"notes.txt");
        assert!(content.as_deref() == Some(&files[1].1[..]));
        // Deleted: FAT keeps all but the name's first character.
        let (e, content) = find(b"", b"_one.bin");
        assert!(e.is(flags::DELETED) && !e.is(flags::REALLOC));
        assert!(content.as_deref() == Some(&files[2].1[..]));
    }
    // The image files were read without their access times moving.
    if records_access_times(d) {
        assert_eq!(stat_snapshot(&paths), before);
    }
    // Not an image: said so, as the last frame.
    let noise = d.join("noise.bin");
    std::fs::write(&noise, pseudo_random(2_000_000, 3)).unwrap();
    let (entries, last) = worker(&noise);
    assert!(entries.is_empty());
    assert!(matches!(last, Frame::Failed(_)), "{last:?}");
}

#[test]
fn a_worker_that_crashes_is_a_reason_and_the_frames_before_it_stand() {
    if !can_test(&[("mkfs.fat", "dosfstools"), ("mcopy", "mtools")]) {
        return;
    }
    use hashsift::image::reader::Worker;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = d.join("fat.img");
    let img = image.to_str().unwrap();
    tool("truncate", &["-s", "60M", img]);
    tool("mkfs.fat", &["-F", "32", img]);
    // Enough content that the worker is still writing when it is killed.
    let big = d.join("big.bin");
    std::fs::write(&big, pseudo_random(40 << 20, 5)).unwrap();
    tool("mcopy", &["-i", img, big.to_str().unwrap(), "::/"]);
    let exe = Path::new(env!("CARGO_BIN_EXE_hashsift"));

    // Read to its end: clean.
    let mut w = Worker::start(exe, &image).unwrap();
    let mut last = None;
    while let Some(f) = w.next_frame().unwrap() {
        last = Some(f);
    }
    assert_eq!(last, Some(Frame::Done));
    assert_eq!(w.end(), Ok(()));

    // An abort in the middle of the content (as TSK's assertions end a process; a SIGSEGV sent
    // from outside is taken once by Rust's stack-overflow handler): the frames before it
    // read, then its end names the signal.
    let mut w = Worker::start(exe, &image).unwrap();
    let mut data = 0usize;
    loop {
        match w.next_frame() {
            Ok(Some(Frame::Data(d))) => {
                data += d.len();
                if data >= 1 << 20 && data - d.len() < 1 << 20 {
                    // SAFETY: kill(2) on the worker's own pid.
                    unsafe { libc::kill(w.id() as i32, libc::SIGABRT) };
                }
            }
            Ok(Some(Frame::Done)) => panic!("the worker finished before it was killed"),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let why = w.end().unwrap_err();
    assert!(why.contains("crashed (signal 6, aborted)"), "{why}");
}
