//! `hashsift hash` behaviour: evidence left untouched, errors as records with exit code 2,
//! lossless names in every format, refusals, and a clean stop on Ctrl-C.

mod common;

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::time::Duration;

use common::*;

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut cmd = hashsift();
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(120))
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

#[test]
fn evidence_is_untouched_by_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    for (i, size) in [0usize, 1, 5000, 70_000, (1 << 20) + 3, 3 << 20]
        .iter()
        .enumerate()
    {
        write_file(&tree.join(format!("d{}/f{i}", i % 2)), *size, i as u64);
    }
    symlink("d0/f0", tree.join("link")).unwrap();
    mkfifo(&tree.join("fifo"));
    let paths = all_paths(&tree);
    let contents = content_digests(&paths);

    if !records_access_times(dir.path()) {
        return;
    }

    age_access_times(&paths);
    let before = stat_snapshot(&paths);
    for format in ["hashdeep", "jsonl", "csv"] {
        let out = dir.path().join(format!("out.{format}"));
        let o = hash_quiet(format, &out, &[&tree]);
        assert_exit(&o, 0);
        assert!(out.is_file());
    }
    assert_untouched(&tree, &paths, &before, &contents);
}

#[test]
fn output_inside_evidence_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    write_file(&tree.join("sub/a"), 10, 1);
    let before = all_paths(&tree);
    let inside = tree.join("sub/listing.txt");
    let o = run(&[os("hash"), os("-o"), inside.as_os_str(), tree.as_os_str()]);
    assert_exit(&o, 64);
    assert!(String::from_utf8_lossy(&o.stderr).contains("inside the evidence"));
    assert_eq!(all_paths(&tree), before);
}

#[test]
fn blake3_in_hashdeep_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        os("hash"),
        os("-c"),
        os("md5,blake3"),
        dir.path().as_os_str(),
    ]);
    assert_exit(&o, 64);
    assert!(String::from_utf8_lossy(&o.stderr).contains("blake3"));
}

#[test]
fn missing_and_unreadable_items_are_records_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    write_file(&tree.join("ok"), 100, 1);
    let missing = dir.path().join("no-such-path");
    let mut roots = vec![tree.clone(), missing.clone()];
    // An I/O error that even root gets: reading this process's own memory at address 0.
    let proc_mem = PathBuf::from("/proc/self/mem");
    if proc_mem.exists() {
        roots.push(proc_mem.clone());
    }
    let out = dir.path().join("out.jsonl");
    let mut args = vec![
        os("hash"),
        os("-q"),
        os("--format"),
        os("jsonl"),
        os("-o"),
        out.as_os_str(),
    ];
    args.extend(roots.iter().map(|r| r.as_os_str()));
    let o = run(&args);
    assert_exit(&o, 2);
    let (_, items, end) = parse_jsonl(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(end["complete"], true);
    let m = &items[&bytes_of(&missing)];
    assert_eq!(m["error"]["stage"], "stat");
    assert_eq!(m["error"]["os_code"], 2); // ENOENT
    assert!(items[&bytes_of(&tree.join("ok"))].get("md5").is_some());
    if proc_mem.exists() {
        let p = &items[&bytes_of(&proc_mem)];
        assert_eq!(p["error"]["stage"], "read", "{p}");
        assert!(p.get("md5").is_none());
    }
    assert_eq!(end["errors"], if proc_mem.exists() { 2 } else { 1 });
}

#[test]
fn unreadable_directory_and_file_are_records() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!(
            "SKIPPED: running as root, which file permissions cannot deny (the /proc/self/mem case covers read errors)"
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    write_file(&tree.join("locked-dir/inner"), 10, 1);
    write_file(&tree.join("locked-file"), 10, 2);
    std::fs::set_permissions(
        tree.join("locked-dir"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    std::fs::set_permissions(
        tree.join("locked-file"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let o = hash_quiet("jsonl", &out, &[&tree]);
    std::fs::set_permissions(
        tree.join("locked-dir"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    assert_exit(&o, 2);
    let (_, items, _) = parse_jsonl(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(
        items[&bytes_of(&tree.join("locked-dir"))]["error"]["stage"],
        "list_dir"
    );
    assert_eq!(
        items[&bytes_of(&tree.join("locked-file"))]["error"]["stage"],
        "open"
    );
    assert_eq!(
        items[&bytes_of(&tree.join("locked-file"))]["error"]["os_code"],
        13
    );
}

/// Names that break naive formats: a line break, a carriage return, a non-UTF-8 byte, quotes,
/// commas and a leading `=`.
fn awkward_names() -> Vec<Vec<u8>> {
    vec![
        b"line\nbreak.jpg".to_vec(),
        b"carriage\rreturn".to_vec(),
        b"back\\slash\nand break".to_vec(),
        b"bad-\xff-utf8".to_vec(),
        b"q\"uote,comma.txt".to_vec(),
        b"=cmd|' /C calc'!A0".to_vec(),
    ]
}

#[test]
fn awkward_names_are_exact_in_jsonl_and_csv_and_escaped_in_hashdeep() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    std::fs::create_dir(&tree).unwrap();
    for (i, name) in awkward_names().iter().enumerate() {
        write_file(&tree.join(path_of(name)), 10 + i, i as u64);
    }
    symlink(path_of(b"=target\n\xfe"), tree.join("weird-link")).unwrap();

    // On a read-only mount, where link targets are read; else on the tree itself.
    let mount = dir.path().join("ro");
    let mut base = tree.clone();
    let mut outputs = Vec::new();
    for format in ["jsonl", "csv", "hashdeep"] {
        let args = [os("hash"), os("-q"), os("--format"), os(format)];
        let out = match hashsift_on_read_only_mount(&tree, &mount, &args) {
            Some(o) => {
                base = mount.clone();
                o
            }
            None => {
                let mut all = args.to_vec();
                all.push(tree.as_os_str());
                run(&all)
            }
        };
        assert_exit(&out, 0);
        let file = dir.path().join(format!("out.{format}"));
        std::fs::write(&file, &out.stdout).unwrap();
        outputs.push(file);
    }
    let (jsonl, csv_out, hd) = (&outputs[0], &outputs[1], &outputs[2]);
    let tree = base;

    let (_, items, _) = parse_jsonl(&std::fs::read_to_string(jsonl).unwrap());
    for name in awkward_names() {
        let item = &items[&bytes_of(&tree.join(path_of(&name)))];
        assert_eq!(item["kind"], "file");
    }
    let link = &items[&bytes_of(&tree.join("weird-link"))];
    let target_read = link.get("target").is_some();
    if target_read {
        assert_eq!(exact_bytes(link, "target"), b"=target\n\xfe");
    }

    // CSV, read back with a CSV parser: the same paths, digests and targets as the JSON.
    let mut reader = csv::Reader::from_path(csv_out).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let end = records.pop().expect("an end row");
    assert_eq!(&end[col("kind")], "end");
    assert!(end[col("note")].starts_with(&format!("{} items", items.len())));
    let mut rows = 0;
    for row in records {
        rows += 1;
        let hex_or = |text_col: &str, hex_col: &str| -> Vec<u8> {
            let hex = &row[col(hex_col)];
            if hex.is_empty() {
                row[col(text_col)].as_bytes().to_vec()
            } else {
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect()
            }
        };
        let path = hex_or("path", "path_hex");
        let item = &items[&path];
        assert_eq!(&row[col("kind")], item["kind"].as_str().unwrap());
        assert_eq!(
            &row[col("md5")],
            item.get("md5").and_then(|v| v.as_str()).unwrap_or("")
        );
        if item["kind"] == "symlink" && target_read {
            assert_eq!(hex_or("target", "target_hex"), exact_bytes(item, "target"));
            assert!(row[col("target")].starts_with("'="), "formula neutralised");
        }
        for cell in row.iter() {
            assert!(!cell.starts_with('='), "formula cell {cell:?}");
        }
    }
    assert_eq!(rows, items.len());

    // hashdeep: one line per row; the broken-line names are escaped after a comment.
    let text = std::fs::read(hd).unwrap();
    let rows: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"%") && !l.starts_with(b"#"))
        .collect();
    assert_eq!(rows.len(), awkward_names().len());
    let escaped = tree.join("line\\nbreak.jpg");
    assert!(
        rows.iter()
            .any(|r| r.ends_with(escaped.as_os_str().as_encoded_bytes()))
    );
    let escaped = tree.join("back\\\\slash\\nand break");
    assert!(
        rows.iter()
            .any(|r| r.ends_with(escaped.as_os_str().as_encoded_bytes()))
    );
    assert!(rows.iter().any(|r| r.ends_with(b"bad-\xff-utf8")));
}

#[test]
fn items_are_sorted_by_path_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    for (i, name) in ["b/z", "a.txt", "a/x", "a/b/c", "c", "a-b", "B"]
        .iter()
        .enumerate()
    {
        write_file(&tree.join(name), 5, i as u64);
    }
    // The documented order: component by component, bytes compared ('B' < 'a', '-' < '.'), so a
    // directory's entries follow it directly.
    let expected: Vec<PathBuf> = [
        "", "B", "a", "a/b", "a/b/c", "a/x", "a-b", "a.txt", "b", "b/z", "c",
    ]
    .iter()
    .map(|r| {
        if r.is_empty() {
            tree.clone()
        } else {
            tree.join(r)
        }
    })
    .collect();

    let out = dir.path().join("out.jsonl");
    let o = hash_quiet("jsonl", &out, &[&tree]);
    assert_exit(&o, 0);
    let listed: Vec<PathBuf> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "item")
        .map(|v| PathBuf::from(v["path"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, expected);

    let hd = dir.path().join("out.txt");
    let o = run(&[
        os("hash"),
        os("-q"),
        os("-c"),
        os("md5,sha1,sha256"),
        os("-o"),
        hd.as_os_str(),
        tree.as_os_str(),
    ]);
    assert_exit(&o, 0);
    let files: Vec<PathBuf> = std::fs::read_to_string(&hd)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('%') && !l.starts_with('#'))
        .map(|l| PathBuf::from(l.splitn(5, ',').nth(4).unwrap()))
        .collect();
    let expected_files: Vec<PathBuf> = expected.into_iter().filter(|p| p.is_file()).collect();
    assert_eq!(files, expected_files);
}

#[test]
fn ctrl_c_stops_cleanly_with_output_marked_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    std::fs::create_dir(&tree).unwrap();
    // A large sparse file: quick to make, long enough to read that the interrupt lands mid-read.
    let big = std::fs::File::create(tree.join("sparse.img")).unwrap();
    big.set_len(64 << 30).unwrap();
    write_file(&tree.join("small"), 10, 1);
    let out = dir.path().join("out.jsonl");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hashsift"));
    cmd.args(["hash", "-q", "-j", "1", "--format", "jsonl", "-o"])
        .arg(&out)
        .arg(&tree);
    let (o, stopping) = common::interrupt_after(cmd, Duration::from_millis(1500));
    assert!(
        stopping < Duration::from_secs(20),
        "stopping took {stopping:?}"
    );
    assert_exit(&o, 130);
    let (_, items, end) = parse_jsonl(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(end["complete"], false);
    let sparse = &items[&bytes_of(&tree.join("sparse.img"))];
    assert_eq!(sparse["error"]["stage"], "interrupted");
    assert!(sparse.get("md5").is_none());
}

#[test]
fn no_progress_drawing_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("evidence/a"), 1000, 1);
    let o = run(&[os("hash"), dir.path().join("evidence").as_os_str()]);
    assert_exit(&o, 0);
    let stderr = String::from_utf8(o.stderr).unwrap();
    // Only the one-line summary: no bar, no escape sequences, no carriage returns.
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.starts_with("hashsift: 2 items, 1 files hashed"),
        "{stderr:?}"
    );
    assert!(!stderr.contains('\x1b') && !stderr.contains('\r'));
    let q = run(&[
        os("hash"),
        os("-q"),
        dir.path().join("evidence").as_os_str(),
    ]);
    assert!(q.stderr.is_empty());
}

#[test]
fn unwritable_output_is_fatal_with_exit_code_3() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        eprintln!("SKIPPED: no /dev/full");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("evidence/a"), 1000, 1);
    let o = run(&[
        os("hash"),
        os("-q"),
        os("-o"),
        full.as_os_str(),
        dir.path().join("evidence").as_os_str(),
    ]);
    assert_exit(&o, 3);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot write /dev/full"));
}

#[test]
fn a_root_given_as_a_symlink_is_walked_at_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    write_file(&tree.join("sub/a"), 100, 1);
    let link = dir.path().join("case-link");
    symlink(&tree, &link).unwrap();
    let out = dir.path().join("out.jsonl");
    let o = hash_quiet("jsonl", &out, &[&link]);
    assert_exit(&o, 0);
    let (_, items, _) = parse_jsonl(&std::fs::read_to_string(&out).unwrap());
    let real = std::fs::canonicalize(&tree).unwrap();
    let root = &items[&bytes_of(&real)];
    assert_eq!(root["kind"], "dir");
    assert!(root["note"].as_str().unwrap().contains("case-link"));
    let a = &items[&bytes_of(&real.join("sub/a"))];
    assert_eq!(
        a["sha256"].as_str().unwrap(),
        oracle_digest("sha256sum", &tree.join("sub/a"))
    );
}

#[test]
fn nested_and_repeated_roots_are_listed_once() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    write_file(&tree.join("sub/a"), 100, 1);
    write_file(&tree.join("b"), 10, 2);
    let out = dir.path().join("out.jsonl");
    let o = run(&[
        os("hash"),
        os("--format"),
        os("jsonl"),
        os("-o"),
        out.as_os_str(),
        tree.join("sub").as_os_str(),
        tree.as_os_str(),
        tree.join("b").as_os_str(),
        tree.as_os_str(),
    ]);
    assert_exit(&o, 0);
    // parse_jsonl fails on any path listed twice.
    let (_, items, _) = parse_jsonl(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(items.len(), all_paths(&tree).len());
    assert!(String::from_utf8_lossy(&o.stderr).contains("listed once"));
}

#[test]
fn output_reaching_into_the_evidence_through_a_symlink_or_as_a_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("evidence");
    write_file(&tree.join("sub/a"), 10, 1);
    let side_door = dir.path().join("reports");
    symlink(tree.join("sub"), &side_door).unwrap();
    let before = all_paths(&tree);
    let through_link = side_door.join("listing.txt");
    let o = run(&[
        os("hash"),
        os("-o"),
        through_link.as_os_str(),
        tree.as_os_str(),
    ]);
    assert_exit(&o, 64);
    let file_root = tree.join("sub/a");
    let o = run(&[
        os("hash"),
        os("-o"),
        file_root.as_os_str(),
        file_root.as_os_str(),
    ]);
    assert_exit(&o, 64);
    assert_eq!(all_paths(&tree), before);
    assert_eq!(std::fs::read(&file_root).unwrap(), pseudo_random(10, 1));
}

#[test]
fn a_non_owner_never_updates_access_times_on_a_writable_mount() {
    // As a user who does not own the evidence, the kernel refuses O_NOATIME; on a filesystem
    // that records access times hashsift must then refuse to read rather than touch them.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !have_tool("setpriv", "util-linux") {
        eprintln!("SKIPPED: needs root (to run hashsift as another user) and setpriv");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tree = dir.path().join("evidence");
    write_file(&tree.join("sub/a"), 100, 1);
    let lone = dir.path().join("lone-file");
    write_file(&lone, 100, 2);
    for p in [&tree, &tree.join("sub")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let paths: Vec<PathBuf> = all_paths(&tree).into_iter().chain([lone.clone()]).collect();
    age_access_times(&paths);
    let before = stat_snapshot(&paths);
    let mut cmd = std::process::Command::new(AS_NOBODY[0]);
    cmd.args(&AS_NOBODY[1..]).arg(&tree).arg(&lone);
    let o = run_with_timeout(cmd, Duration::from_secs(60));
    assert_exit(&o, 2);
    let (_, items, _) = parse_jsonl(&String::from_utf8(o.stdout).unwrap());
    if evidence_mount_is_writable(dir.path()) {
        let root = &items[&bytes_of(&tree)];
        assert_eq!(root["error"]["stage"], "list_dir");
        assert!(
            root["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not the owner")
        );
        let f = &items[&bytes_of(&lone)];
        assert_eq!(f["error"]["stage"], "open");
        assert!(f.get("md5").is_none());
    }
    assert_eq!(stat_snapshot(&paths), before, "access times changed");
}

#[test]
fn a_non_owner_reads_a_path_past_path_max_on_a_read_only_mount() {
    // As a non-owner the kernel refuses O_NOATIME; on a read-only mount the file is then opened
    // without it, which must hold for a path longer than the kernel takes in one call too.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0
        || !have_tool("setpriv", "util-linux")
        || !have_tool("unshare", "util-linux")
    {
        eprintln!(
            "SKIPPED: needs root (to mount, and to run hashsift as another user), setpriv and unshare"
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tree = dir.path().join("evidence");
    std::fs::create_dir(&tree).unwrap();
    // 22 directories of 200-byte names: the leaf's path is over 4,400 bytes.
    let made = hostile::nest(&tree, &"n".repeat(200), 22, "leaf.txt");
    let leaf = made.last().unwrap().strip_prefix(&tree).unwrap().to_owned();
    assert!(leaf.as_os_str().len() > 4096);
    let mount = dir.path().join("mount");
    std::fs::create_dir(&mount).unwrap();
    let script =
        r#"mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" || exit 99; shift 2; exec "$@""#;
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["-m", "sh", "-c", script, "sh"])
        .arg(&tree)
        .arg(&mount)
        .args(AS_NOBODY)
        .arg(&mount);
    let o = run_with_timeout(cmd, Duration::from_secs(60));
    if o.status.code() == Some(99) {
        eprintln!(
            "SKIPPED: cannot make a read-only bind mount here: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        return;
    }
    assert_exit(&o, 0);
    let (_, items, _) = parse_jsonl(&String::from_utf8(o.stdout).unwrap());
    let item = &items[&bytes_of(&mount.join(&leaf))];
    assert!(item.get("error").is_none(), "{item}");
    // The leaf holds "deep" (written by the tree's maker); the oracle is coreutils.
    let expected = std::process::Command::new("sh")
        .args(["-c", "printf deep | sha256sum"])
        .output()
        .unwrap();
    let expected = String::from_utf8(expected.stdout).unwrap();
    assert_eq!(item["sha256"], expected.split_whitespace().next().unwrap());
}

/// `hashsift hash -q --format jsonl` run as the user nobody, who owns none of the evidence.
const AS_NOBODY: [&str; 9] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    env!("CARGO_BIN_EXE_hashsift"),
    "hash",
    "-q",
    "--format",
    "jsonl",
];

fn evidence_mount_is_writable(p: &std::path::Path) -> bool {
    !hashsift::read::evidence::atime_frozen_at(p)
}
