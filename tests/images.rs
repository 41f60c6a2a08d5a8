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

/// `ewfacquire` of the raw image `raw` into the segments `target.E01`... with `options`
/// (no questions asked).
fn ewfacquire(raw: &Path, target: &Path, options: &[&str]) {
    let mut args = vec!["-u", "-q"];
    args.extend_from_slice(options);
    args.extend(["-t", target.to_str().unwrap(), raw.to_str().unwrap()]);
    tool("ewfacquire", &args);
}

/// Each entry the worker gave, with the content it sent.
type Entries = Vec<(Entry, Option<Vec<u8>>)>;

/// What the worker said of `image`: its entries, with their content (given as data, or as
/// runs read here from `media`, the raw bytes of the disk), and the last frame.
fn worker(image: &Path, media: &[u8]) -> (Entries, Frame) {
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
            Frame::Runs {
                size,
                initsize,
                runs,
            } => {
                let mut content = Vec::new();
                for r in runs {
                    let len = r.len.min(size - r.offset) as usize;
                    assert_eq!(r.offset as usize, content.len(), "runs in order, no gap");
                    if r.zeros() {
                        content.extend(std::iter::repeat_n(0u8, len));
                    } else {
                        content.extend_from_slice(&media[r.addr as usize..][..len]);
                    }
                    if content.len() as u64 >= size {
                        break;
                    }
                }
                assert_eq!(content.len() as u64, size);
                assert_eq!(initsize, size);
                entries.last_mut().unwrap().1 = Some(content);
            }
            Frame::Volume(_) => {}
            Frame::Broken(why) => panic!("the walk broke off: {why}"),
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
    ewfacquire(&image, &d.join("fat"), &["-c", "fast", "-S", "1MiB"]);
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
    // The disk's bytes, to read what the runs point at (before the access times are watched).
    let media = std::fs::read(&image).unwrap();
    age_access_times(&paths);
    let before = stat_snapshot(&paths);

    for image in &checked {
        let (entries, last) = worker(image, &media);
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
    let (entries, last) = worker(&noise, &[]);
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
    // Enough names that the worker still writes (the pipe full) when it is killed.
    let many = d.join("many");
    for i in 0..2500 {
        write_file(&many.join(format!("f{i:04}.txt")), 10, i);
    }
    tool("mcopy", &["-i", img, "-s", many.to_str().unwrap(), "::/"]);
    let exe = Path::new(env!("CARGO_BIN_EXE_hashsift"));

    // Read to its end: clean.
    let mut w = Worker::start(exe, &image).unwrap();
    let mut last = None;
    while let Some(f) = w.next_frame().unwrap() {
        last = Some(f);
    }
    assert_eq!(last, Some(Frame::Done));
    assert_eq!(w.end(), Ok(()));

    // An abort in the middle of the walk (as TSK's assertions end a process; a SIGSEGV sent
    // from outside is taken once by Rust's stack-overflow handler): the frames before it
    // read, then its end names the signal.
    let mut w = Worker::start(exe, &image).unwrap();
    let mut entries = 0usize;
    loop {
        match w.next_frame() {
            Ok(Some(Frame::Entry(_))) => {
                entries += 1;
                if entries == 100 {
                    // SAFETY: kill(2) on the worker's own pid.
                    unsafe { libc::kill(w.id() as i32, libc::SIGABRT) };
                }
            }
            Ok(Some(Frame::Done)) => panic!("the worker finished before it was killed"),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert!(entries >= 100);
    let why = w.end().unwrap_err();
    assert!(why.contains("crashed (signal 6, aborted)"), "{why}");
}

/// The files put on the test file systems: name (with its directory), content.
fn evidence_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("photo.jpg", pseudo_random(150_000, 11)),
        ("notes.txt", b"minutes of the meeting\n".to_vec()),
        ("sub/deep.bin", pseudo_random(70_000, 12)),
        ("gone.bin", pseudo_random(20_000, 13)),
    ]
}

/// Writes `files` under `dir/src`, each also as `dir/src/<name>` for the tools to copy.
fn write_sources(dir: &Path, files: &[(&str, Vec<u8>)]) -> std::path::PathBuf {
    let src = dir.join("src");
    for (name, bytes) in files {
        let p = src.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    src
}

/// A FAT32 file system of 40 MiB with the files of `src` (mtools), `gone.bin` deleted with
/// `mdel` (last: mtools would give its directory slot to a file copied after).
fn fat_fs(dir: &Path, src: &Path) -> std::path::PathBuf {
    let image = dir.join("fat.fs");
    let img = image.to_str().unwrap();
    tool("truncate", &["-s", "40M", img]);
    tool("mkfs.fat", &["-F", "32", img]);
    tool("mmd", &["-i", img, "::/sub"]);
    let mut top: Vec<_> = std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    top.sort();
    for path in top {
        tool("mcopy", &["-i", img, path.to_str().unwrap(), "::/"]);
    }
    tool(
        "mcopy",
        &[
            "-i",
            img,
            src.join("sub/deep.bin").to_str().unwrap(),
            "::/sub/",
        ],
    );
    tool("mdel", &["-i", img, "::/gone.bin"]);
    image
}

/// An ext4 file system of 16 MiB made from `src` (`mke2fs -d`), `gone.bin` deleted with
/// `debugfs rm` (which leaves its extents: its content stays described).
fn ext4_fs(dir: &Path, src: &Path, name: &str) -> std::path::PathBuf {
    let image = dir.join(name);
    let img = image.to_str().unwrap();
    tool(
        "mke2fs",
        &[
            "-q",
            "-F",
            "-t",
            "ext4",
            "-d",
            src.to_str().unwrap(),
            img,
            "16M",
        ],
    );
    tool("debugfs", &["-w", "-R", "rm /gone.bin", img]);
    image
}

/// An NTFS file system of 32 MiB (`mkntfs`) with photo.jpg and notes.txt (`ntfscp`, which needs
/// no mount), and an alternate data stream `secret` on photo.jpg.
fn ntfs_fs(dir: &Path, src: &Path, ads: &[u8]) -> std::path::PathBuf {
    let image = dir.join("ntfs.fs");
    let img = image.to_str().unwrap();
    tool("truncate", &["-s", "32M", img]);
    tool("mkntfs", &["-F", "-Q", "-q", "-L", "HSNTFS", img]);
    for name in ["photo.jpg", "notes.txt"] {
        tool(
            "ntfscp",
            &[
                "-f",
                img,
                src.join(name).to_str().unwrap(),
                &format!("/{name}"),
            ],
        );
    }
    let ads_file = dir.join("src-ads.bin");
    std::fs::write(&ads_file, ads).unwrap();
    tool(
        "ntfscp",
        &[
            "-f",
            "-N",
            "secret",
            img,
            ads_file.to_str().unwrap(),
            "/photo.jpg",
        ],
    );
    image
}

/// Copies `fs` into `disk` at sector `start` (512-byte sectors).
fn place(disk: &Path, fs: &Path, start: u64) {
    tool(
        "dd",
        &[
            &format!("if={}", fs.display()),
            &format!("of={}", disk.display()),
            "bs=512",
            &format!("seek={start}"),
            "conv=notrunc",
            "status=none",
        ],
    );
}

/// `hashsift hash --format jsonl ARGS...`: its items by path, and its exit.
fn hash_jsonl(
    args: &[&std::ffi::OsStr],
) -> (
    std::collections::BTreeMap<Vec<u8>, serde_json::Value>,
    std::process::Output,
) {
    let listing = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = hashsift();
    cmd.args(["hash", "-q", "--format", "jsonl", "-o"])
        .arg(listing.path())
        .args(args);
    let out = run_with_timeout(cmd, std::time::Duration::from_secs(300));
    let text = std::fs::read_to_string(listing.path()).unwrap_or_default();
    let (_, items, _) = parse_jsonl(&text);
    (items, out)
}

/// The item at `image!/name`.
fn member<'a>(
    items: &'a std::collections::BTreeMap<Vec<u8>, serde_json::Value>,
    image: &Path,
    name: &str,
) -> &'a serde_json::Value {
    let mut path = bytes_of(image);
    path.extend_from_slice(b"!/");
    path.extend_from_slice(name.as_bytes());
    items.get(&path).unwrap_or_else(|| {
        panic!(
            "{name} not listed; listed: {:?}",
            items
                .keys()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect::<Vec<_>>()
        )
    })
}

/// Asserts that `item` holds the MD5 and SHA-256 md5sum and sha256sum give of `file`.
#[track_caller]
fn assert_digests_of(item: &serde_json::Value, file: &Path) {
    assert_eq!(item["md5"], oracle_digest("md5sum", file), "{item}");
    assert_eq!(item["sha256"], oracle_digest("sha256sum", file), "{item}");
}

#[test]
fn partitioned_images_raw_split_and_e01_list_every_file_deleted_ones_and_streams_with_their_digests()
 {
    if !can_test(&[
        ("mkfs.fat", "dosfstools"),
        ("mcopy", "mtools"),
        ("mke2fs", "e2fsprogs"),
        ("debugfs", "e2fsprogs"),
        ("mkntfs", "ntfs-3g"),
        ("ntfscp", "ntfs-3g"),
        ("sfdisk", "fdisk"),
        ("sgdisk", "gdisk"),
        ("ewfacquire", "ewf-tools"),
        ("md5sum", "coreutils"),
        ("sha256sum", "coreutils"),
    ]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = evidence_files();
    let src = write_sources(d, &files);
    let ads = b"an alternate data stream\n".repeat(40);
    let fat = fat_fs(d, &src);
    let ext4 = ext4_fs(d, &src, "ext4.fs");
    let ntfs = ntfs_fs(d, &src, &ads);

    // MBR: FAT32 at sector 2048, ext4 after it.
    let mbr = d.join("mbr.img");
    tool("truncate", &["-s", "64M", mbr.to_str().unwrap()]);
    let table = "label: dos\nstart=2048, size=81920, type=c\nstart=83968, size=32768, type=83\n";
    let mut sfdisk = Command::new("sfdisk")
        .args(["-q", mbr.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    sfdisk
        .stdin
        .take()
        .unwrap()
        .write_all(table.as_bytes())
        .unwrap();
    assert!(sfdisk.wait().unwrap().success());
    place(&mbr, &fat, 2048);
    place(&mbr, &ext4, 83968);

    // GPT: NTFS then ext4.
    let gpt = d.join("gpt.img");
    tool("truncate", &["-s", "56M", gpt.to_str().unwrap()]);
    tool(
        "sgdisk",
        &[
            "-o",
            "-n",
            "1:2048:+32M",
            "-t",
            "1:0700",
            "-n",
            "2:67584:+16M",
            "-t",
            "2:8300",
            gpt.to_str().unwrap(),
        ],
    );
    place(&gpt, &ntfs, 2048);
    place(&gpt, &ext4, 67584);

    // The MBR image split raw; the GPT image as split E01 (uncompressed, so a flipped byte
    // is a flipped byte of the media).
    let split = d.join("split");
    std::fs::create_dir(&split).unwrap();
    tool(
        "split",
        &[
            "-b",
            "20M",
            "-d",
            "-a",
            "3",
            "--numeric-suffixes=1",
            mbr.to_str().unwrap(),
            split.join("mbr.img.").to_str().unwrap(),
        ],
    );
    let ewf = d.join("ewf");
    std::fs::create_dir(&ewf).unwrap();
    ewfacquire(
        &gpt,
        &ewf.join("gpt"),
        &["-c", "none", "-d", "sha1", "-S", "20MiB"],
    );
    let e01 = ewf.join("gpt.E01");
    assert!(ewf.join("gpt.E03").exists(), "split into segments");
    let split001 = split.join("mbr.img.001");

    // What the oracles say of the whole disks, before the access times are watched.
    let mbr_md5 = oracle_digest("md5sum", &mbr);
    let gpt_md5 = oracle_digest("md5sum", &gpt);
    let gpt_sha1 = oracle_digest("sha1sum", &gpt);
    let ads_file = d.join("src-ads.bin");
    let images: Vec<std::path::PathBuf> = all_paths(d)
        .into_iter()
        .filter(|p| p.is_file() && !p.starts_with(&src) && *p != ads_file)
        .collect();
    age_access_times(&images);
    let before = stat_snapshot(&images);

    let (items, out) = hash_jsonl(&[mbr.as_os_str(), split001.as_os_str(), e01.as_os_str()]);
    let errors: Vec<_> = items
        .values()
        .filter(|i| i.get("error").is_some())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_exit(&out, 0);
    let source = |name: &str| src.join(name);
    for image in [&mbr, &split001] {
        // p1 FAT32: every file; the deleted one (its first character gone) with its content.
        for name in ["photo.jpg", "notes.txt", "sub/deep.bin"] {
            let item = member(&items, image, &format!("p1/{name}"));
            assert_digests_of(item, &source(name));
            assert_eq!(item["fs"]["deleted"], false);
            assert_eq!(item["fs"]["partition"], "p1");
        }
        let gone = member(&items, image, "p1/_one.bin");
        assert_eq!(gone["fs"]["deleted"], true, "{gone}");
        assert_digests_of(gone, &source("gone.bin"));
        // p2 ext4: every file; the one `debugfs rm` deleted, with its content and deletion time.
        for name in ["photo.jpg", "notes.txt", "sub/deep.bin"] {
            let item = member(&items, image, &format!("p2/{name}"));
            assert_digests_of(item, &source(name));
            assert!(item["fs"]["inode"].as_u64().unwrap() > 10, "{item}");
        }
        let gone = member(&items, image, "p2/gone.bin");
        assert_eq!(gone["fs"]["deleted"], true, "{gone}");
        assert!(gone["fs"]["dtime"].is_string(), "{gone}");
        assert_digests_of(gone, &source("gone.bin"));
    }
    // Both partitions of the MBR found; the image's own digests computed (split: over every
    // segment), as md5sum gives them of the whole disk.
    for image in [&mbr, &split001] {
        let info = &items[&bytes_of(image)]["archive"]["image"];
        let volumes = info["volumes"].as_array().unwrap();
        assert_eq!(volumes.len(), 2, "{info}");
        assert_eq!(volumes[0]["file_system"], "fat32", "{info}");
        assert_eq!(volumes[1]["file_system"], "ext4", "{info}");
        assert_eq!(info["integrity"]["status"], "computed", "{info}");
        assert_eq!(info["integrity"]["md5"], mbr_md5, "{info}");
    }
    assert_eq!(
        items[&bytes_of(&split001)]["archive"]["image"]["segments"],
        4
    );

    // The GPT image as E01: NTFS with its stream, ext4; the stored hashes verified.
    for name in ["photo.jpg", "notes.txt"] {
        assert_digests_of(member(&items, &e01, &format!("p1/{name}")), &source(name));
    }
    let stream = member(&items, &e01, "p1/photo.jpg:secret");
    assert_digests_of(stream, &ads_file);
    assert!(
        stream["fs"]["stream"].as_str().unwrap().starts_with("128-"),
        "{stream}"
    );
    assert_digests_of(
        member(&items, &e01, "p2/sub/deep.bin"),
        &source("sub/deep.bin"),
    );
    let info = &items[&bytes_of(&e01)]["archive"]["image"];
    assert_eq!(info["volumes"].as_array().unwrap().len(), 2, "{info}");
    assert_eq!(info["integrity"]["status"], "verified", "{info}");
    assert_eq!(info["integrity"]["md5"], gpt_md5, "{info}");
    assert_eq!(info["integrity"]["sha1"], gpt_sha1, "{info}");
    assert!(
        info["integrity"]["text"]
            .as_str()
            .unwrap()
            .starts_with("image hash verified"),
        "{info}"
    );
    // Nothing of the evidence moved: contents, times, access times.
    if records_access_times(d) {
        assert_eq!(stat_snapshot(&images), before);
    }

    // A byte flipped in the middle of the second segment: a mismatch, like ewfverify's.
    let bad = d.join("bad");
    std::fs::create_dir(&bad).unwrap();
    for e in std::fs::read_dir(&ewf).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, bad.join(p.file_name().unwrap())).unwrap();
    }
    let e02 = bad.join("gpt.E02");
    let mut bytes = std::fs::read(&e02).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xAA;
    std::fs::write(&e02, &bytes).unwrap();
    let bad01 = bad.join("gpt.E01");
    let (items, out) = hash_jsonl(&[bad01.as_os_str()]);
    assert_exit(&out, 0);
    let integrity = &items[&bytes_of(&bad01)]["archive"]["image"]["integrity"];
    assert_eq!(integrity["status"], "mismatch", "{integrity}");
    assert!(
        integrity["text"].as_str().unwrap().contains("MISMATCH"),
        "{integrity}"
    );
    assert_ne!(integrity["md5"], integrity["stored_md5"]);

    // Without verification: no image digests and no integrity, the files all the same.
    let (items, out) = hash_jsonl(&["--no-image-verify".as_ref(), e01.as_os_str()]);
    assert_exit(&out, 0);
    let root = &items[&bytes_of(&e01)];
    assert!(root.get("md5").is_none(), "{root}");
    assert_eq!(root["archive"]["image"]["integrity"]["status"], "off");
    assert_digests_of(member(&items, &e01, "p1/photo.jpg:secret"), &ads_file);

    // An image in a folder is a file, unless --open-images.
    let (items, _) = hash_jsonl(&[ewf.as_os_str()]);
    assert!(items[&bytes_of(&e01)].get("archive").is_none());
    assert!(items.keys().all(|k| !k.windows(2).any(|w| w == b"!/")));
    let (items, _) = hash_jsonl(&["--open-images".as_ref(), ewf.as_os_str()]);
    assert_digests_of(member(&items, &e01, "p1/notes.txt"), &source("notes.txt"));
    // Only the first segment opens the image; the others are files.
    assert!(
        items[&bytes_of(&ewf.join("gpt.E02"))]
            .get("archive")
            .is_none()
    );
}

/// The first offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("the bytes are there")
}

#[test]
fn hostile_images_end_in_error_records_never_a_crash_or_a_hang() {
    if !can_test(&[
        ("mkfs.fat", "dosfstools"),
        ("mcopy", "mtools"),
        ("mke2fs", "e2fsprogs"),
        ("debugfs", "e2fsprogs"),
        ("ewfacquire", "ewf-tools"),
    ]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = evidence_files();
    let src = write_sources(d, &files);

    // A FAT directory whose entry points back at the root: a loop.
    let fat = fat_fs(d, &src);
    let mut bytes = std::fs::read(&fat).unwrap();
    let entry = find(&bytes, b"SUB        \x10");
    bytes[entry + 20..entry + 22].copy_from_slice(&[0, 0]);
    bytes[entry + 26..entry + 28].copy_from_slice(&2u16.to_le_bytes());
    let looped = d.join("looped.img");
    std::fs::write(&looped, &bytes).unwrap();

    // An ext4 file system whose file claims a petabyte.
    let huge = ext4_fs(d, &src, "huge.fs");
    tool(
        "debugfs",
        &[
            "-w",
            "-R",
            "sif /photo.jpg size 1125899906842624",
            huge.to_str().unwrap(),
        ],
    );

    // An ext4 file system whose superblock is garbage but for its magic.
    let broken = d.join("broken-super.img");
    let mut bytes = std::fs::read(ext4_fs(d, &src, "ext4.fs")).unwrap();
    for b in &mut bytes[1024..1080] {
        *b = 0xEE;
    }
    std::fs::write(&broken, &bytes).unwrap();

    // An E01 cut in the middle.
    let e01_fat = fat_fs(d, &src);
    ewfacquire(&e01_fat, &d.join("cut"), &["-c", "fast"]);
    let cut = d.join("cut.E01");
    let len = std::fs::metadata(&cut).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let started = std::time::Instant::now();
    let (items, out) = hash_jsonl(&[
        looped.as_os_str(),
        huge.as_os_str(),
        broken.as_os_str(),
        cut.as_os_str(),
    ]);
    // Every image is a record, with its error where it could not be read; the run ended.
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(240));

    // The loop: the files before and in it listed, the walk not endless.
    let listed = items
        .keys()
        .filter(|k| k.starts_with(&bytes_of(&looped)))
        .count();
    assert!(listed < 1000, "{listed} items from a looped directory");
    assert_digests_of(member(&items, &looped, "notes.txt"), &src.join("notes.txt"));

    // The petabyte: cut, with the reason; the other files read.
    let claimed = member(&items, &huge, "photo.jpg");
    let why = claimed["error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("not read past"), "{claimed}");
    assert_digests_of(member(&items, &huge, "notes.txt"), &src.join("notes.txt"));

    // The garbage superblock and the cut E01: error records saying why.
    for image in [&broken, &cut] {
        let item = &items[&bytes_of(image)];
        let why = item["error"]["message"].as_str().unwrap_or_default();
        assert!(
            why.starts_with("the disk image was not read to its end"),
            "{item}"
        );
    }
    assert_eq!(out.status.code(), Some(2));
}

/// The item records of a scan's `items.jsonl`, in order.
fn scan_items(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("items.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "item")
        .collect()
}

#[test]
fn a_scan_of_an_e01_grades_its_files_deleted_ones_too_and_resumes_after_a_kill() {
    if !can_test(&[
        ("mkfs.fat", "dosfstools"),
        ("mcopy", "mtools"),
        ("ewfacquire", "ewf-tools"),
        ("md5sum", "coreutils"),
    ]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ev = d.join("evidence");
    std::fs::create_dir(&ev).unwrap();
    let files = evidence_files();
    let src = write_sources(d, &files);
    // A larger file, so that the image is the largest content and read first.
    std::fs::write(src.join("video.bin"), pseudo_random(3 << 20, 21)).unwrap();
    let fat = fat_fs(d, &src);
    ewfacquire(&fat, &ev.join("disk"), &["-c", "fast"]);
    let e01 = ev.join("disk.E01");
    // Files beside the image, so that a scan can be killed after the image is recorded.
    let bulk = d.join("bulk");
    for i in 0..800 {
        write_file(&bulk.join(format!("f{i:03}.bin")), 256 << 10, 100 + i);
    }
    let set = d.join("set.txt");
    std::fs::write(
        &set,
        format!(
            "{}\n{}\n",
            oracle_digest("md5sum", &src.join("gone.bin")),
            oracle_digest("md5sum", &src.join("photo.jpg"))
        ),
    )
    .unwrap();
    let db = d.join("known.db");
    import_graded(&db, &set, "unit", "csam");

    // Uninterrupted.
    let reference = d.join("reference");
    let mut cmd = hashsift();
    cmd.args(["scan", "-q", "-j", "1", "--db"])
        .arg(&db)
        .arg("-o")
        .arg(&reference)
        .arg(&e01)
        .arg(&bulk);
    let out = run_with_timeout(cmd, std::time::Duration::from_secs(300));
    assert_exit(&out, 1);
    let items = scan_items(&reference);
    let find = |name: &str| {
        let path = format!("{}!/{name}", e01.display());
        items
            .iter()
            .find(|v| v["path"] == path.as_str())
            .unwrap_or_else(|| panic!("{path}"))
    };
    let gone = find("_one.bin");
    assert_eq!(gone["category"], "csam", "{gone}");
    assert_eq!(gone["fs"]["deleted"], true, "{gone}");
    assert_eq!(find("photo.jpg")["category"], "csam");
    assert_eq!(find("notes.txt")["category"], "unknown");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reference.join("summary.json")).unwrap()).unwrap();
    let image = &summary["images"][0];
    assert_eq!(image["integrity"], "verified", "{image}");
    assert_eq!(image["deleted"], 1, "{image}");
    assert_eq!(image["deleted_read"], 1, "{image}");
    let html = std::fs::read_to_string(reference.join("summary.html")).unwrap();
    assert!(html.contains("image hash verified"));

    // Killed once the image is recorded, then resumed: the same report.
    let out = d.join("killed");
    let mut cmd = hashsift();
    cmd.args(["scan", "-q", "-j", "1", "--db"])
        .arg(&db)
        .arg("-o")
        .arg(&out)
        .arg(&e01)
        .arg(&bulk)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let journal = out.join("journal.hsj");
    let killed = loop {
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        let records = std::fs::read(&journal)
            .ok()
            .and_then(|b| hashsift::scan::journal::check(&b).ok())
            .unwrap_or(0);
        if records >= 3 {
            child.kill().unwrap();
            child.wait().unwrap();
            break true;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    assert!(killed, "the scan finished before it could be killed");
    let mut cmd = hashsift();
    cmd.args(["scan", "-q", "-j", "1", "--resume"]).arg(&out);
    let o = run_with_timeout(cmd, std::time::Duration::from_secs(300));
    assert_exit(&o, 1);
    let resumed = scan_items(&out);
    assert_eq!(resumed.len(), items.len());
    for (r, want) in resumed.iter().zip(&items) {
        assert_eq!(r, want);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    // The image was taken over from the journal, not read again.
    let session = &manifest["resumed"][0];
    assert!(
        session["contents_carried_over"].as_u64().unwrap() >= 1,
        "{manifest}"
    );
}
