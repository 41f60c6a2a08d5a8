//! Support for the integration tests: build evidence trees, run the built binary with a timeout,
//! and ask independent tools (coreutils, b3sum, hashdeep) for the expected values.

#![allow(dead_code)]

pub mod hostile;
pub mod summary_page;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The hashsift binary under test.
pub fn hashsift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hashsift"))
}

/// Runs `cmd` and kills it after `limit`: a hang (on a FIFO, say) fails the test instead of
/// stalling the suite.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hashsift");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "hashsift did not finish within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `cmd`, sends it SIGINT (Ctrl-C) after `wait`, and waits for it: its output, and how
/// long it took to stop after the signal.
pub fn interrupt_after(mut cmd: Command, wait: Duration) -> (Output, Duration) {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hashsift");
    std::thread::sleep(wait);
    // SAFETY: sending SIGINT to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let signalled = Instant::now();
    let out = child.wait_with_output().expect("wait");
    (out, signalled.elapsed())
}

/// Whether an external oracle tool is on PATH. In CI (`CI=true`) a missing tool fails the test;
/// elsewhere the test is skipped with a message saying what to install.
pub fn have_tool(tool: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide `{tool}` (Debian package {package}); see .ci/run"
        );
        eprintln!("SKIPPED: `{tool}` is not installed (Debian package {package})");
    }
    found
}

/// Deterministic pseudo-random bytes (xorshift64*), different for each seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn write_file(path: &Path, len: usize, seed: u64) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    File::create(path)
        .unwrap()
        .write_all(&pseudo_random(len, seed))
        .unwrap();
}

pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// Hex digest of `path` from an independent tool reading it on stdin (so names need no
/// escaping): `md5sum`, `sha1sum`, `sha256sum` (coreutils) or `b3sum`.
pub fn oracle_digest(tool: &str, path: &Path) -> String {
    let out = Command::new(tool)
        .stdin(File::open(path).unwrap())
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(out.status.success(), "{tool} failed");
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().next().unwrap().to_owned()
}

/// One item of a jsonl listing, keyed by exact path bytes.
pub fn parse_jsonl(
    text: &str,
) -> (
    serde_json::Value,
    BTreeMap<Vec<u8>, serde_json::Value>,
    serde_json::Value,
) {
    let mut header = serde_json::Value::Null;
    let mut end = serde_json::Value::Null;
    let mut items = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        match v["type"].as_str().unwrap() {
            "header" => header = v,
            "end" => end = v,
            "item" => {
                let path = exact_bytes(&v, "path");
                assert!(!items.contains_key(&path), "item listed twice: {v}");
                items.insert(path, v);
            }
            other => panic!("unknown record type {other}"),
        }
    }
    assert_eq!(
        end["items"],
        items.len(),
        "the end record counts every item"
    );
    (header, items, end)
}

/// The exact bytes of a text field that may have a `<key>_hex` companion.
pub fn exact_bytes(v: &serde_json::Value, key: &str) -> Vec<u8> {
    match v.get(format!("{key}_hex")).and_then(|h| h.as_str()) {
        Some(hex) => (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect(),
        None => v[key].as_str().unwrap().as_bytes().to_vec(),
    }
}

pub fn bytes_of(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

pub fn path_of(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}

/// Every path under `root` (root included), by an independent recursive walk that follows no
/// symlinks.
pub fn all_paths(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_owned()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        i += 1;
    }
    out.sort();
    out
}

/// Runs `hashsift <args...> <mount>` where `<mount>` is a read-only bind mount of `tree`, made in
/// a private mount namespace (`unshare -m`) so nothing outlives the command. `None`, with a
/// printed reason, when this environment cannot mount (not root, no `unshare`).
pub fn hashsift_on_read_only_mount(tree: &Path, mount: &Path, args: &[&OsStr]) -> Option<Output> {
    std::fs::create_dir_all(mount).unwrap();
    let script = r#"mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" || exit 99; bin="$3"; shift 3; exec "$bin" "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", script, "sh"])
        .arg(tree)
        .arg(mount)
        .arg(env!("CARGO_BIN_EXE_hashsift"))
        .args(args)
        .arg(mount);
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("SKIPPED: cannot run unshare: {e}");
            return None;
        }
    };
    if out.status.code() == Some(99)
        || out.status.code() == Some(1)
            && out.stdout.is_empty()
            && String::from_utf8_lossy(&out.stderr).contains("unshare")
    {
        eprintln!(
            "SKIPPED: cannot make a read-only bind mount here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(out)
}

/// Sets the access time of a symlink itself (not its target).
pub fn set_link_atime(path: &Path, secs_ago: i64) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let times = [
        libc::timespec {
            tv_sec: now - secs_ago,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    ];
    // SAFETY: valid path and two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(rc, 0, "utimensat on a symlink");
}

/// `hashsift hash -q --format FORMAT -o OUT ROOT...`, with a timeout.
pub fn hash_quiet(format: &str, out: &Path, roots: &[&Path]) -> Output {
    let mut cmd = hashsift();
    cmd.args(["hash", "-q", "--format", format, "-o"])
        .arg(out)
        .args(roots);
    run_with_timeout(cmd, Duration::from_secs(120))
}

/// Asserts the exit code, showing hashsift's stderr when it differs.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `hashsift scan -q --db DB -o OUT ROOT`.
pub fn scan_cmd(db: &Path, out: &Path, root: &Path) -> Command {
    let mut cmd = hashsift();
    cmd.args(["scan", "-q", "--db"])
        .arg(db)
        .arg("-o")
        .arg(out)
        .arg(root);
    cmd
}

/// [`scan_cmd`], killed after two minutes.
pub fn scan_quietly(db: &Path, out: &Path, root: &Path) -> Output {
    run_with_timeout(scan_cmd(db, out, root), Duration::from_secs(120))
}

/// Asserts that the tree whose `paths` had the times `before` and contents `contents` is as
/// it was: the same entries, sizes, times and contents.
pub fn assert_untouched(
    tree: &Path,
    paths: &[PathBuf],
    before: &BTreeMap<PathBuf, Times>,
    contents: &BTreeMap<PathBuf, String>,
) {
    let after = stat_snapshot(paths);
    for (path, t) in before {
        assert_eq!(
            t,
            &after[path],
            "size or times of {} changed (size, mtime, atime, ctime)",
            path.display()
        );
    }
    assert_eq!(all_paths(tree), paths, "entries were added or removed");
    assert_eq!(&content_digests(paths), contents, "content changed");
}

/// Imports `set` into the database `db` as set `name`, version 7, grading what it lists
/// `category`; the import must succeed.
pub fn import_graded(db: &Path, set: &Path, name: &str, category: &str) {
    let out = hashsift()
        .args(["db", "--db"])
        .arg(db)
        .arg("import")
        .arg(set)
        .args(["--name", name, "--set-version", "7", "--category", category])
        .output()
        .unwrap();
    assert_exit(&out, 0);
}

/// The standard output of a helper program that must have succeeded (its stderr shown if not).
#[track_caller]
pub fn success_stdout(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The Python with PyPI's `pdqhash` (Meta's C++ PDQ core) and numpy: `HASHSIFT_PYTHON`, else
/// `python3`. In CI a missing one fails the test; elsewhere `None`, with a message.
pub fn pdq_python() -> Option<String> {
    python_with("numpy, pdqhash", "pdqhash numpy")
}

/// The Python (`HASHSIFT_PYTHON`, else `python3`) that imports `modules`; in CI a missing one
/// fails the test, elsewhere `None` with a message naming what to `pip install`.
pub fn python_with(modules: &str, pip: &str) -> Option<String> {
    let python = std::env::var("HASHSIFT_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide Python with {modules} (PyPI); see .ci/run"
        );
        eprintln!("SKIPPED: {python} cannot import {modules} (pip install {pip})");
        return None;
    }
    Some(python)
}

/// `tests/support/pdq_reference.py`: the reference PDQ of PPM files, one line each.
pub fn pdq_reference_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pdq_reference.py")
}

/// Size, mtime, atime and ctime of each path, by `lstat` only (which changes nothing).
pub type Times = (u64, i64, i64, i64, i64, i64, i64);
pub fn stat_snapshot(paths: &[PathBuf]) -> BTreeMap<PathBuf, Times> {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(p).unwrap();
            let t = (
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.atime(),
                m.atime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            );
            (p.clone(), t)
        })
        .collect()
}

/// SHA-256 (coreutils) of every regular file.
pub fn content_digests(paths: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    paths
        .iter()
        .filter(|p| std::fs::symlink_metadata(p).unwrap().is_file())
        .map(|p| (p.clone(), oracle_digest("sha256sum", p)))
        .collect()
}

/// Sets the access time of `paths` (files, directories and symlinks) two days back, so that a `relatime`
/// mount records the next read.
pub fn age_access_times(paths: &[PathBuf]) {
    let past = SystemTime::now() - Duration::from_secs(2 * 86_400);
    for p in paths {
        let m = std::fs::symlink_metadata(p).unwrap();
        if m.is_file() || m.is_dir() {
            let f = std::fs::File::open(p).unwrap();
            f.set_times(std::fs::FileTimes::new().set_accessed(past))
                .unwrap();
        } else if m.file_type().is_symlink() {
            set_link_atime(p, 2 * 86_400);
        }
    }
}

/// Whether a plain read on the filesystem of `dir` updates an access time set in the past (a
/// `relatime` or `strictatime` mount): if not, a test that access times stay unchanged proves
/// nothing, and says so.
pub fn records_access_times(dir: &Path) -> bool {
    let control = dir.join("atime-control");
    write_file(&control, 10, 1);
    age_access_times(std::slice::from_ref(&control));
    let aged = std::fs::metadata(&control).unwrap().atime();
    std::fs::read(&control).unwrap();
    let records = std::fs::metadata(&control).unwrap().atime() != aged;
    std::fs::remove_file(&control).unwrap();
    if !records {
        eprintln!(
            "SKIPPED: this filesystem does not record access times (noatime), so the test would prove nothing"
        );
    }
    records
}

/// Runs `tests/support/make_archives.py` into `dir` (archives of every format, each IMAGE in
/// `pictures.zip`) and returns its `expected.json`: each archive's member chains with Python's
/// digests.
pub fn make_archives(dir: &Path, images: &[&Path]) -> serde_json::Value {
    let status = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/make_archives.py"))
        .arg(dir)
        .args(images)
        .status()
        .expect("python3");
    assert!(status.success());
    serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap()
}

/// The reference script's fields for each image: path, hash, quality, the eight dihedral
/// hashes (comma-separated), their quality.
pub fn pdq_reference_rows(
    python: &str,
    dir: &Path,
    images: &[image::RgbImage],
) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (i, img) in images.iter().enumerate() {
        let path = dir.join(format!("{i}.ppm"));
        let mut data = format!("P6\n{} {}\n255\n", img.width(), img.height()).into_bytes();
        data.extend_from_slice(img.as_raw());
        std::fs::write(&path, data).unwrap();
        paths.push(path);
    }
    let out = Command::new(python)
        .arg(pdq_reference_script())
        .args(&paths)
        .output()
        .unwrap();
    success_stdout(out)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}
