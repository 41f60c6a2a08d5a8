//! `hashsift hash` against independent oracles: coreutils and b3sum for every digest, hashdeep's
//! audit mode for the hashdeep listing, and an independent walk for the inventory.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::*;

const MMAP_THRESHOLD: usize = hashsift::read::file::MMAP_THRESHOLD as usize;

/// Regular files of the test tree: name and size (content differs per file).
fn regular_files() -> Vec<(String, usize)> {
    let mut files = vec![
        ("empty".to_owned(), 0),
        ("one-byte".to_owned(), 1),
        ("big-50MiB.bin".to_owned(), 50 << 20),
        ("nested/a/b/c/deep.dat".to_owned(), 777),
        ("with space and, comma.txt".to_owned(), 1234),
        ("quote\"and'apos.txt".to_owned(), 99),
        ("=formula.csv".to_owned(), 12),
    ];
    for (label, size) in [("4k", 4096usize), ("64k", 65536), ("mmap", MMAP_THRESHOLD)] {
        for (suffix, delta) in [("minus1", -1i64), ("exact", 0), ("plus1", 1)] {
            let len = (size as i64 + delta) as usize;
            files.push((format!("sizes/{label}-{suffix}"), len));
        }
    }
    files
}

/// Builds the tree: regular files, a non-UTF-8 name, a hard link, symlinks (to a file, to `/`,
/// to its own parent, a loop) and a FIFO.
fn build_tree(root: &Path, with_specials: bool) {
    for (seed, (name, size)) in regular_files().into_iter().enumerate() {
        write_file(&root.join(name), size, seed as u64 + 1);
    }
    write_file(&root.join(path_of(b"latin1-\xe9t\xe9.bin")), 300, 99);
    std::fs::hard_link(
        root.join("one-byte"),
        root.join("nested/hardlink-to-one-byte"),
    )
    .unwrap();
    std::fs::create_dir(root.join("empty-dir")).unwrap();
    if with_specials {
        symlink("one-byte", root.join("link-to-file")).unwrap();
        symlink("/", root.join("link-to-root")).unwrap();
        symlink("..", root.join("nested/link-to-parent")).unwrap();
        symlink("loop-b", root.join("loop-a")).unwrap();
        symlink("loop-a", root.join("loop-b")).unwrap();
        mkfifo(&root.join("fifo"));
    }
}

#[test]
fn every_digest_matches_coreutils_and_b3sum() {
    if !have_tool("b3sum", "b3sum") || !have_tool("sha256sum", "coreutils") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    build_tree(&tree, true);
    let out_file = dir.path().join("listing.jsonl");
    let out = hash_quiet("jsonl", &out_file, &[&tree]);
    assert_exit(&out, 0);

    let (header, items, end) = parse_jsonl(&std::fs::read_to_string(&out_file).unwrap());
    assert_eq!(
        header["algorithms"],
        serde_json::json!(["md5", "sha1", "sha256", "blake3"])
    );
    assert_eq!(end["complete"], true);

    // One record per path, found by an independent walk; nothing outside the tree.
    let expected_paths: Vec<Vec<u8>> = all_paths(&tree).iter().map(|p| bytes_of(p)).collect();
    let listed: Vec<Vec<u8>> = items.keys().cloned().collect();
    assert_eq!(listed, expected_paths);

    let mut files = 0;
    for path in all_paths(&tree) {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let item = &items[&bytes_of(&path)];
        if meta.file_type().is_file() {
            files += 1;
            assert_eq!(item["kind"], "file");
            assert_eq!(item["size"], meta.len());
            for (key, tool) in [
                ("md5", "md5sum"),
                ("sha1", "sha1sum"),
                ("sha256", "sha256sum"),
                ("blake3", "b3sum"),
            ] {
                assert_eq!(
                    item[key].as_str().unwrap(),
                    oracle_digest(tool, &path),
                    "{key} of {}",
                    path.display()
                );
            }
        } else if meta.file_type().is_symlink() {
            assert_eq!(item["kind"], "symlink");
            // Targets are read only on read-only or noatime mounts (see the test below).
            if item.get("target").is_some() {
                let target = std::fs::read_link(&path).unwrap();
                assert_eq!(exact_bytes(item, "target"), target.as_os_str().as_bytes());
            } else {
                assert!(item["note"].as_str().unwrap().contains("target not read"));
            }
            assert!(item.get("md5").is_none());
        } else if meta.file_type().is_dir() {
            assert_eq!(item["kind"], "dir");
        } else {
            assert_eq!(item["kind"], "fifo");
            assert!(item.get("md5").is_none());
        }
        assert!(item.get("error").is_none(), "{item}");
    }
    assert_eq!(files, regular_files().len() + 2);
    // Hard links: one content, hashed once, reported at both paths.
    let a = &items[&bytes_of(&tree.join("one-byte"))];
    let b = &items[&bytes_of(&tree.join("nested/hardlink-to-one-byte"))];
    assert_eq!(a["sha256"], b["sha256"]);
    assert_eq!(a["nlink"], 2);
    assert_eq!(end["files_hashed"], files - 1);
}

fn audit(listing: &Path, tree: &Path, regular_only: bool) -> (bool, String) {
    let mut cmd = std::process::Command::new("hashdeep");
    cmd.args(["-c", "md5,sha1,sha256"]);
    if regular_only {
        // Regular files only: hashdeep itself follows symlinks (even to `/`) and blocks on FIFOs.
        cmd.args(["-o", "f"]);
    }
    cmd.args(["-r", "-a", "-vv", "-k"]).arg(listing).arg(tree);
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("Audit passed"), text)
}

fn hashdeep_listing(tree: &Path, listing: &Path) {
    let out = hash_quiet("hashdeep", listing, &[tree]);
    assert_exit(&out, 0);
}

#[test]
fn hashdeep_audit_passes_on_plain_tree() {
    if !have_tool("hashdeep", "hashdeep") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    build_tree(&tree, false);
    let listing = dir.path().join("listing.txt");
    hashdeep_listing(&tree, &listing);
    let text = std::fs::read(&listing).unwrap();
    assert!(text.starts_with(b"%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,sha256,filename\n"));
    let (passed, report) = audit(&listing, &tree, false);
    assert!(passed, "hashdeep audit failed:\n{report}");
}

#[test]
fn hashdeep_audit_passes_on_tree_with_links_and_fifo() {
    if !have_tool("hashdeep", "hashdeep") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    build_tree(&tree, true);
    let listing = dir.path().join("listing.txt");
    hashdeep_listing(&tree, &listing);
    let (passed, report) = audit(&listing, &tree, true);
    assert!(passed, "hashdeep audit failed:\n{report}");
}

#[test]
fn hashdeep_audit_notices_a_changed_file() {
    // The audit above could pass vacuously; this shows it fails when a listed file changes.
    if !have_tool("hashdeep", "hashdeep") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    build_tree(&tree, false);
    let listing = dir.path().join("listing.txt");
    hashdeep_listing(&tree, &listing);
    write_file(&tree.join("one-byte"), 2, 12345);
    let (passed, _) = audit(&listing, &tree, false);
    assert!(!passed);
}

#[test]
fn link_targets_are_recorded_on_a_read_only_mount() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    build_tree(&tree, true);
    symlink(path_of(b"=odd\n\xfe target"), tree.join("odd-link")).unwrap();
    let mount = dir.path().join("ro");
    let args = [
        std::ffi::OsStr::new("hash"),
        std::ffi::OsStr::new("-q"),
        std::ffi::OsStr::new("--format"),
        std::ffi::OsStr::new("jsonl"),
    ];
    let Some(out) = hashsift_on_read_only_mount(&tree, &mount, &args) else {
        return;
    };
    assert_exit(&out, 0);
    let (_, items, _) = parse_jsonl(&String::from_utf8(out.stdout).unwrap());
    let mut links = 0;
    for path in all_paths(&tree) {
        if std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink()
        {
            links += 1;
            let rel = path.strip_prefix(&tree).unwrap();
            let item = &items[&bytes_of(&mount.join(rel))];
            let target = std::fs::read_link(&path).unwrap();
            assert_eq!(exact_bytes(item, "target"), target.as_os_str().as_bytes());
            assert!(item.get("note").is_none());
        }
    }
    assert_eq!(links, 6);
}

#[test]
fn thousands_of_small_files_are_all_hashed_correctly() {
    // Many tiny files keep the prefetch thread and the hashers racing for the same files.
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    for i in 0..3000u64 {
        let size = (i * 7919 % 3001) as usize;
        write_file(&tree.join(format!("d{:02}/f{i:05}", i % 37)), size, i + 1);
    }
    let out_file = dir.path().join("listing.jsonl");
    let out = hash_quiet("jsonl", &out_file, &[&tree]);
    assert_exit(&out, 0);
    let (_, items, end) = parse_jsonl(&std::fs::read_to_string(&out_file).unwrap());
    assert_eq!(end["files_hashed"], 3000);
    // Oracle: Python's hashlib over every file, in one process.
    let script = "import hashlib,os,sys\nfor d,_,fs in os.walk(sys.argv[1]):\n    for f in fs:\n        p=os.path.join(d,f)\n        print(p+'\\t'+hashlib.sha256(open(p,'rb').read()).hexdigest())";
    let py = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&tree)
        .output();
    let Ok(py) = py else {
        assert!(std::env::var_os("CI").is_none(), "CI must provide python3");
        eprintln!("SKIPPED: no python3");
        return;
    };
    let expected = String::from_utf8(py.stdout).unwrap();
    let mut checked = 0;
    for line in expected.lines() {
        let (path, sha) = line.split_once('\t').unwrap();
        assert_eq!(items[path.as_bytes()]["sha256"], sha, "{path}");
        checked += 1;
    }
    assert_eq!(checked, 3000);
}
