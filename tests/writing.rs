//! Where and how hashsift writes, and what it reads back: never into the evidence (through a
//! symlink or a bind mount of one of its folders), never through a name planted in a report
//! directory, `verify` bounded on a hostile one and saying when a report is incomplete, a bare
//! output file name, and a bounded thread count.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(60);

fn run(cmd: Command) -> Output {
    run_with_timeout(cmd, LIMIT)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An evidence tree with files in two folders and an empty one: `ev/d2/a`, `ev/d3/b`, `ev/d4`.
fn evidence(dir: &Path) -> PathBuf {
    let ev = dir.join("ev");
    write_file(&ev.join("d2/a"), 100, 1);
    write_file(&ev.join("d3/b"), 200, 2);
    std::fs::create_dir(ev.join("d4")).unwrap();
    ev
}

/// A database knowing `file` by its MD5 (from coreutils), graded `known_file`.
fn db_knowing(dir: &Path, file: &Path) -> PathBuf {
    let set = dir.join("set.md5");
    std::fs::write(&set, format!("{}  x\n", oracle_digest("md5sum", file))).unwrap();
    let db = dir.join("known.db");
    import_graded(&db, &set, "ref", "known_file");
    db
}

fn verify_cmd(dir: &Path) -> Command {
    let mut cmd = hashsift();
    cmd.arg("verify").arg(dir);
    cmd
}

// ---- 4. Nothing is written into the evidence, whichever way the output path reaches it.

#[test]
fn a_report_through_a_symlink_to_an_evidence_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ev = evidence(dir.path());
    let db = db_knowing(dir.path(), &ev.join("d2/a"));
    let link = dir.path().join("link");
    symlink(ev.join("d2"), &link).unwrap();
    let before = all_paths(&ev);
    // The report directory still to be created, below a link to a folder of the evidence.
    let o = run(scan_cmd(&db, &link.join("new"), &ev));
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("inside the evidence"), "{}", stderr(&o));
    let o = run(scan_cmd(&db, &link.join("new/deeper"), &ev));
    assert_exit(&o, 64);
    // The link itself as the report directory.
    let o = run(scan_cmd(&db, &link, &ev));
    assert_exit(&o, 64);
    let mut hash = hashsift();
    hash.args(["hash", "-q", "-o"])
        .arg(link.join("listing.txt"))
        .arg(&ev);
    assert_exit(&run(hash), 64);
    assert_eq!(all_paths(&ev), before, "nothing created in the evidence");
    // A path through `..` below folders still to be created is refused outright.
    let o = run(scan_cmd(&db, &dir.path().join("x/../link/new"), &ev));
    assert_exit(&o, 64);
    assert_eq!(all_paths(&ev), before, "nothing created in the evidence");
    // Elsewhere the scan runs.
    assert_exit(&run(scan_cmd(&db, &dir.path().join("r"), &ev)), 0);
}

#[test]
fn a_report_through_a_bind_mount_of_an_evidence_folder_is_refused() {
    if !have_tool("unshare", "util-linux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ev = evidence(dir.path());
    let db = db_knowing(dir.path(), &ev.join("d2/a"));
    let before = all_paths(&ev);
    // In a private mount namespace: `sub` is a bind mount of `ev/d3`, `empty` of `ev/d4`
    // (no symlink anywhere); each writing command is run and its exit code printed.
    let sub = dir.path().join("sub");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&sub).unwrap();
    std::fs::create_dir(&empty).unwrap();
    let script = r#"
        mount --bind "$ev/d3" "$sub" && mount --bind "$ev/d4" "$empty" || exit 99
        "$bin" hash -q -o "$sub/listing.txt" "$ev"; echo "hash $?"
        "$bin" hash -q -o "$empty/listing.txt" "$ev"; echo "hash-empty $?"
        "$bin" scan -q --db "$db" -o "$sub/new" "$ev"; echo "scan $?"
        "$bin" scan -q --db "$db" -o "$empty" "$ev"; echo "scan-existing $?"
    "#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", script])
        .env("bin", env!("CARGO_BIN_EXE_hashsift"))
        .env("ev", &ev)
        .env("sub", &sub)
        .env("empty", &empty)
        .env("db", &db);
    let o = run(cmd);
    if o.status.code() == Some(99) || !o.status.success() && o.stdout.is_empty() {
        eprintln!("SKIPPED: cannot bind-mount here: {}", stderr(&o));
        return;
    }
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    for line in ["hash 64", "hash-empty 64", "scan 64", "scan-existing 64"] {
        assert!(
            out.lines().any(|l| l == line),
            "expected `{line}` in:\n{out}\nstderr: {}",
            stderr(&o)
        );
    }
    assert_eq!(all_paths(&ev), before, "nothing created in the evidence");
}

// ---- 5. A report directory holds only what hashsift wrote, and nothing planted is followed.

/// A directory made for a report, owner-only, holding `plant` (called with its path).
fn planted(dir: &Path, name: &str, plant: impl FnOnce(&Path)) -> PathBuf {
    let r = dir.join(name);
    std::fs::create_dir(&r).unwrap();
    std::fs::set_permissions(&r, std::fs::Permissions::from_mode(0o700)).unwrap();
    plant(&r);
    r
}

#[test]
fn links_planted_in_a_report_directory_are_neither_followed_nor_opened() {
    let dir = tempfile::tempdir().unwrap();
    let ev = evidence(dir.path());
    let db = db_knowing(dir.path(), &ev.join("d2/a"));
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    let cases: [(&str, &Path); 4] = [
        ("items.csv", &fifo),
        ("summary.html", Path::new("/dev/null")),
        ("vics.json", &victim),
        ("manifest.json", Path::new("/dev/zero")),
    ];
    for (i, (name, target)) in cases.into_iter().enumerate() {
        let r = planted(dir.path(), &format!("r{i}"), |r| {
            symlink(target, r.join(name)).unwrap()
        });
        let started = Instant::now();
        let o = run(scan_cmd(&db, &r, &ev));
        assert_exit(&o, 64);
        assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
        assert!(started.elapsed() < Duration::from_secs(20));
        // The link is still there, as it was, and nothing else was made.
        assert_eq!(std::fs::read_link(r.join(name)).unwrap(), target);
        assert_eq!(std::fs::read_dir(&r).unwrap().count(), 1, "{name}");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    // A FIFO itself under a report file's name.
    let r = planted(dir.path(), "r-fifo", |r| mkfifo(&r.join("items.csv")));
    let o = run(scan_cmd(&db, &r, &ev));
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("FIFO"), "{}", stderr(&o));
}

#[test]
fn a_report_directory_others_can_write_to_or_holding_foreign_entries_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ev = evidence(dir.path());
    let db = db_knowing(dir.path(), &ev.join("d2/a"));
    for mode in [0o777, 0o770, 0o1777, 0o702] {
        let r = planted(dir.path(), &format!("w{mode:o}"), |_| {});
        std::fs::set_permissions(&r, std::fs::Permissions::from_mode(mode)).unwrap();
        let o = run(scan_cmd(&db, &r, &ev));
        assert_exit(&o, 64);
        assert!(stderr(&o).contains("writable by"), "{}", stderr(&o));
        assert_eq!(std::fs::read_dir(&r).unwrap().count(), 0, "nothing written");
    }
    let r = planted(dir.path(), "foreign", |r| {
        std::fs::write(r.join("notes.txt"), b"mine").unwrap()
    });
    let o = run(scan_cmd(&db, &r, &ev));
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&r).unwrap().count(), 1, "nothing written");
    let r = planted(dir.path(), "subdir", |r| {
        std::fs::create_dir(r.join("items.csv")).unwrap()
    });
    assert_exit(&run(scan_cmd(&db, &r, &ev)), 64);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let r = planted(dir.path(), "not-mine", |_| {});
        std::os::unix::fs::chown(&r, Some(65534), Some(65534)).unwrap();
        let o = run(scan_cmd(&db, &r, &ev));
        assert_exit(&o, 64);
        assert!(
            stderr(&o).contains("belongs to user 65534"),
            "{}",
            stderr(&o)
        );
    }
    // An empty directory of one's own, mode 0755, is used.
    let r = planted(dir.path(), "ok", |_| {});
    std::fs::set_permissions(&r, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_exit(&run(scan_cmd(&db, &r, &ev)), 0);
    assert_exit(&run(verify_cmd(&r)), 0);
}

// ---- 7. An output file given as a bare name, in the current directory.

#[test]
fn db_export_to_a_bare_file_name_writes_it_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    write_file(&a, 300, 1);
    write_file(&b, 400, 2);
    let md5 = [oracle_digest("md5sum", &a), oracle_digest("md5sum", &b)];
    let set = dir.path().join("set.md5");
    std::fs::write(&set, format!("{}  a\n{}  b\n", md5[0], md5[1])).unwrap();
    let db = dir.path().join("known.db");
    import_graded(&db, &set, "ref", "csam");
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let mut cmd = hashsift();
    cmd.current_dir(&cwd)
        .args(["db", "--db"])
        .arg(&db)
        .args(["export", "ref", "--format", "csv", "-o", "x.csv"]);
    let o = run(cmd);
    assert_exit(&o, 0);
    let text = std::fs::read_to_string(cwd.join("x.csv")).unwrap();
    let mut rows: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_owned(), cells[8].to_owned())
        })
        .collect();
    rows.sort();
    let mut expected: Vec<(String, String)> =
        md5.iter().map(|m| (m.clone(), "csam".to_owned())).collect();
    expected.sort();
    assert_eq!(rows, expected, "{text}");
    // Only the file: no temporary name left beside it.
    assert_eq!(std::fs::read_dir(&cwd).unwrap().count(), 1);
}

#[test]
fn hash_to_a_fifo_nobody_reads_fails_at_once() {
    // A FIFO named as the output is written in place, but opened without blocking: with no
    // reader that is an error, not a hang.
    let dir = tempfile::tempdir().unwrap();
    let ev = evidence(dir.path());
    let fifo = dir.path().join("out.fifo");
    mkfifo(&fifo);
    let mut cmd = hashsift();
    cmd.args(["hash", "-q", "-o"]).arg(&fifo).arg(&ev);
    let o = run_with_timeout(cmd, Duration::from_secs(20));
    assert_exit(&o, 3);
}

#[test]
fn an_output_link_to_a_fifo_in_the_evidence_is_refused_and_the_fifo_untouched() {
    // The link is outside the evidence, the FIFO it leads to inside: a FIFO is written
    // through, so where it leads counts.
    let dir = tempfile::tempdir().unwrap();
    let ev = evidence(dir.path());
    let fifo = ev.join("d4/pipe");
    mkfifo(&fifo);
    let link = dir.path().join("out.txt");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let before = std::fs::symlink_metadata(&fifo).unwrap();
    let mut cmd = hashsift();
    cmd.args(["hash", "-q", "-o"]).arg(&link).arg(&ev);
    let o = run_with_timeout(cmd, Duration::from_secs(20));
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("inside the evidence"), "{}", stderr(&o));
    let after = std::fs::symlink_metadata(&fifo).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (
            before.mtime(),
            before.mtime_nsec(),
            before.ctime(),
            before.ctime_nsec()
        ),
        (
            after.mtime(),
            after.mtime_nsec(),
            after.ctime(),
            after.ctime_nsec()
        )
    );
}

// ---- 6. `verify` reads only regular files, a bounded manifest, and says when incomplete.

/// `cmd` under an address-space limit of 512 MiB (`prlimit`), when the tool is there.
fn bounded(cmd: Command) -> Command {
    if !have_tool("prlimit", "util-linux") {
        return cmd;
    }
    let mut limited = Command::new("prlimit");
    limited
        .arg(format!("--as={}", 512 << 20))
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    limited
}

#[test]
fn verify_reads_no_link_fifo_or_oversized_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let ev = evidence(dir.path());
    let db = db_knowing(dir.path(), &ev.join("d2/a"));
    let r = dir.path().join("r");
    assert_exit(&run(scan_cmd(&db, &r, &ev)), 0);
    let manifest = r.join("manifest.json");
    let kept = dir.path().join("manifest.kept");
    std::fs::rename(&manifest, &kept).unwrap();

    // A link to /dev/zero: refused at once, within 512 MiB.
    symlink("/dev/zero", &manifest).unwrap();
    let started = Instant::now();
    let o = run(bounded(verify_cmd(&r)));
    assert_exit(&o, 3);
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(20));
    std::fs::remove_file(&manifest).unwrap();
    // A FIFO: not opened, so no hang.
    mkfifo(&manifest);
    let o = run(verify_cmd(&r));
    assert_exit(&o, 3);
    assert!(stderr(&o).contains("FIFO"), "{}", stderr(&o));
    std::fs::remove_file(&manifest).unwrap();
    // A regular file past 64 MiB (sparse): refused without being read.
    let big = std::fs::File::create(&manifest).unwrap();
    big.set_len((64 << 20) + 1).unwrap();
    let o = run(bounded(verify_cmd(&r)));
    assert_exit(&o, 3);
    assert!(
        stderr(&o).contains("larger than 67108864 bytes"),
        "{}",
        stderr(&o)
    );
    std::fs::rename(&kept, &manifest).unwrap();
    assert_exit(&run(verify_cmd(&r)), 0);

    // A report file replaced by a FIFO, or by a link to its own copy: a problem, not a hang
    // and not followed.
    let csv = r.join("items.csv");
    let csv_copy = dir.path().join("items.csv.copy");
    std::fs::rename(&csv, &csv_copy).unwrap();
    mkfifo(&csv);
    let o = run(verify_cmd(&r));
    assert_exit(&o, 1);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("CHANGED   items.csv: a FIFO"), "{out}");
    std::fs::remove_file(&csv).unwrap();
    symlink(&csv_copy, &csv).unwrap();
    let o = run(verify_cmd(&r));
    assert_exit(&o, 1);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("items.csv: a symbolic link"), "{out}");
}

/// A scan of a busy tree (a 64 GiB sparse file, one worker) stopped with Ctrl-C: its report
/// directory, which keeps the journal.
fn interrupted_report(dir: &Path) -> PathBuf {
    let ev = dir.join("busy");
    std::fs::create_dir(&ev).unwrap();
    std::fs::File::create(ev.join("sparse.img"))
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    write_file(&ev.join("small"), 10, 1);
    let db = db_knowing(dir, &ev.join("small"));
    let r = dir.join("interrupted");
    let mut cmd = scan_cmd(&db, &r, &ev);
    cmd.args(["-j", "1"]);
    let (o, _) = interrupt_after(cmd, Duration::from_millis(1500));
    assert_exit(&o, 130);
    assert!(r.join("journal.hsj").is_file());
    r
}

#[test]
fn verify_says_an_interrupted_report_is_incomplete_and_a_resume_reads_no_planted_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let r = interrupted_report(dir.path());
    let o = run(verify_cmd(&r));
    assert_exit(&o, 0);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("INCOMPLETE"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(stderr(&o).contains("INCOMPLETE"), "{}", stderr(&o));
    // A complete report says nothing of the kind (checked in
    // a_report_directory_others_can_write_to_or_holding_foreign_entries_is_refused's last scan).

    // `scan --resume` reads the manifest too (is the scan complete?): a link to /dev/zero in
    // its place is refused before anything is read.
    let manifest = r.join("manifest.json");
    std::fs::remove_file(&manifest).unwrap();
    symlink("/dev/zero", &manifest).unwrap();
    let mut resume = hashsift();
    resume.args(["scan", "-q", "--resume"]).arg(&r);
    let started = Instant::now();
    let o = run(bounded(resume));
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(r.join("journal.hsj").is_file(), "the journal is kept");
}

#[test]
fn verify_of_a_complete_report_does_not_say_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let ev = evidence(dir.path());
    let db = db_knowing(dir.path(), &ev.join("d2/a"));
    let r = dir.path().join("r");
    assert_exit(&run(scan_cmd(&db, &r, &ev)), 0);
    let o = run(verify_cmd(&r));
    assert_exit(&o, 0);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("INCOMPLETE"));
    assert!(!stderr(&o).contains("INCOMPLETE"));
}

// ---- 8. A bounded thread count.

#[test]
fn a_thread_count_out_of_bounds_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ev = evidence(dir.path());
    let out = dir.path().join("out.txt");
    for (n, code) in [("100000", 64), ("257", 64), ("0", 64), ("256", 0), ("1", 0)] {
        for command in ["hash", "scan"] {
            let mut cmd = hashsift();
            cmd.args([command, "-q", "-j", n]);
            if command == "hash" {
                cmd.arg("-o").arg(&out);
            } else {
                if code == 0 {
                    continue;
                }
                cmd.args(["--db", "none.db", "-o"])
                    .arg(dir.path().join(format!("r{n}")));
            }
            cmd.arg(&ev);
            let started = Instant::now();
            let o = run_with_timeout(cmd, Duration::from_secs(30));
            assert_exit(&o, code);
            if code == 64 {
                assert!(stderr(&o).contains("1 to 256"), "{}", stderr(&o));
                assert!(started.elapsed() < Duration::from_secs(5));
            }
        }
    }
    let mut resume = hashsift();
    resume
        .args(["scan", "--resume"])
        .arg(dir.path())
        .args(["-j", "100000"]);
    let o = run_with_timeout(resume, Duration::from_secs(30));
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("1 to 256"), "{}", stderr(&o));
}
