//! A scan grades from one state of the database while imports commit beside it, and its
//! manifest names exactly that state; what a killed or disk-full import leaves behind never
//! locks readers out.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_exit, bytes_of, hashsift, parse_jsonl, write_file};

/// How many evidence files; thirds of them are listed by version 1 of set T only, by both
/// versions, and by version 2 only.
const FILES: usize = 3000;

fn db_cmd(db: &Path) -> Command {
    let mut c = hashsift();
    c.args(["db", "--db"]).arg(db);
    c
}

fn import_list(db: &Path, list: &Path, name: &str, version: &str, category: &str, replace: bool) {
    let mut c = db_cmd(db);
    c.arg("import")
        .arg(list)
        .args(["-q", "--format", "digest-list", "--name", name])
        .args(["--set-version", version, "--category", category]);
    if replace {
        c.arg("--replace");
    }
    let out = common::run_with_timeout(c, Duration::from_secs(120));
    assert_exit(&out, 0);
}

/// `import_list` that may be refused because the database is in use: `false` then. A scan
/// stopped in the microseconds SQLite holds an exclusive lock (opening the log's shared index
/// when it is first made, or folding the log in as the last connection closes) holds up a
/// writer; a stop anywhere else must not (see the caller).
fn import_unless_in_use(
    db: &Path,
    list: &Path,
    name: &str,
    version: &str,
    category: &str,
    replace: bool,
) -> bool {
    let mut c = db_cmd(db);
    c.arg("import")
        .arg(list)
        .args(["-q", "--format", "digest-list", "--name", name])
        .args(["--set-version", version, "--category", category]);
    if replace {
        c.arg("--replace");
    }
    let out = common::run_with_timeout(c, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3)
        && err.contains("is in use")
        && err.contains("nothing was changed")
    {
        return false;
    }
    assert_exit(&out, 0);
    true
}

fn write_list(path: &Path, md5s: &[String]) {
    let text: String = md5s.iter().map(|m| format!("{m}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// The evidence, and the MD5 (from coreutils) of each file by its path.
fn evidence(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut md5 = BTreeMap::new();
    for i in 0..FILES {
        let p = root.join(format!("d{}/f{i:05}.bin", i % 16));
        write_file(&p, 2048 + i % 997, 10_000 + i as u64);
        md5.insert(p, String::new());
    }
    // One run of md5sum over all of them: an independent oracle, and quicker than 3000 runs.
    let out = Command::new("md5sum")
        .args(md5.keys())
        .output()
        .expect("md5sum");
    assert!(out.status.success());
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (hex, name) = line.split_once("  ").unwrap();
        *md5.get_mut(Path::new(name)).unwrap() = hex.to_owned();
    }
    assert!(md5.values().all(|h| h.len() == 32));
    md5
}

/// Which set grades the file at index `i`, in each state: T version 1 grades the first two
/// thirds csam; version 2 the last two thirds csem; U (imported after version 2) grades
/// every fifth file cgi.
fn expected(i: usize, t_version: &str, with_u: bool) -> Vec<(&'static str, &'static str)> {
    let mut grades = Vec::new();
    match t_version {
        "1" if i < 2 * FILES / 3 => grades.push(("T", "csam")),
        "2" if i >= FILES / 3 => grades.push(("T", "csem")),
        _ => {}
    }
    if with_u && i.is_multiple_of(5) {
        grades.push(("U", "cgi"));
    }
    grades
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: signals a child process this test started and has not yet reaped.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

#[test]
fn a_scan_grades_from_one_database_state_while_a_set_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ev");
    let md5 = evidence(&root);
    let files: Vec<&PathBuf> = md5.keys().collect();
    let hexes: Vec<String> = md5.values().cloned().collect();
    let v1 = dir.path().join("t1.md5");
    let v2 = dir.path().join("t2.md5");
    let u = dir.path().join("u.md5");
    write_list(&v1, &hexes[..2 * FILES / 3]);
    write_list(&v2, &hexes[FILES / 3..]);
    write_list(&u, &hexes.iter().step_by(5).cloned().collect::<Vec<_>>());

    let mut seen_states = BTreeMap::new();
    let mut refused = 0;
    // Stop points from the scan's start (a stop before it opens the database, in its walk,
    // its hashing, its loading and its matching) to after its end.
    let delays = [0u64, 5, 25, 60, 120, 250, 500, 900, 1500, 2500];
    for lookup in ["index", "direct"] {
        for &delay in &delays {
            let db = dir.path().join(format!("k-{lookup}-{delay}.db"));
            import_list(&db, &v1, "T", "1", "csam", false);
            let out_dir = dir.path().join(format!("scan-{lookup}-{delay}"));
            let mut c = hashsift();
            c.args(["scan", "-q", "--no-pdq", "--lookup", lookup, "--db"])
                .arg(&db)
                .arg("-o")
                .arg(&out_dir)
                .arg(&root)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let scan = c.spawn().unwrap();
            std::thread::sleep(Duration::from_millis(delay));
            signal(scan.id(), libc::SIGSTOP);
            // The scan is stopped wherever it was: the imports commit at once, without
            // waiting for it (each would wait 30 s and fail on a lock the scan held).
            let committing = Instant::now();
            let committed = import_unless_in_use(&db, &v2, "T", "2", "csem", true)
                && import_unless_in_use(&db, &u, "U", "1", "cgi", false);
            refused += usize::from(!committed);
            let took = committing.elapsed();
            signal(scan.id(), libc::SIGCONT);
            let out = scan.wait_with_output().unwrap();
            assert!(
                !committed || took < Duration::from_secs(20),
                "{lookup} {delay} ms: the imports waited {took:?} for the scan"
            );
            let code = out.status.code();
            assert!(
                matches!(code, Some(0 | 1)),
                "{lookup} {delay} ms: scan exited {code:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );

            // The state the manifest names.
            let manifest: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).unwrap())
                    .unwrap();
            let named: BTreeMap<String, String> = manifest["database"]["sets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["name"].as_str().unwrap().to_owned(),
                        s["version"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let t_version = named.get("T").expect("T is in every state").clone();
            let with_u = named.contains_key("U");
            assert!(
                !with_u || t_version == "2",
                "{lookup} {delay} ms: U was imported after T 2: {named:?}"
            );
            *seen_states
                .entry(format!("T {t_version}{}", if with_u { " + U" } else { "" }))
                .or_insert(0) += 1;

            // Every item graded by exactly that state, by every set it cites.
            let (_, items, _) =
                parse_jsonl(&std::fs::read_to_string(out_dir.join("items.jsonl")).unwrap());
            let files_listed = items.values().filter(|i| i["kind"] == "file").count();
            assert_eq!(files_listed, FILES, "{lookup} {delay} ms");
            let mut illegal = false;
            for (i, path) in files.iter().enumerate() {
                let item = &items[&bytes_of(path)];
                let mut got: Vec<(String, String)> = item["matches"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|m| m["sets"].as_array().unwrap().iter())
                    .map(|g| {
                        let set = g["set"].as_str().unwrap().to_owned();
                        assert_eq!(
                            g["set_version"].as_str(),
                            named.get(&set).map(String::as_str),
                            "{lookup} {delay} ms: {} cites a set version the manifest does not name",
                            path.display()
                        );
                        (set, g["category"].as_str().unwrap().to_owned())
                    })
                    .collect();
                got.sort();
                let want: Vec<(String, String)> = expected(i, &t_version, with_u)
                    .into_iter()
                    .map(|(s, c)| (s.to_owned(), c.to_owned()))
                    .collect();
                assert_eq!(
                    got,
                    want,
                    "{lookup} {delay} ms: {} graded by a state other than the manifest's ({named:?})",
                    path.display()
                );
                // Its category: the most severe grade (csam before csem before cgi).
                let category = want
                    .iter()
                    .map(|(_, c)| c.as_str())
                    .min_by_key(|c| ["csam", "csem", "cgi"].iter().position(|x| x == c).unwrap());
                assert_eq!(
                    item["category"].as_str().unwrap_or("unknown"),
                    category.unwrap_or("unknown"),
                    "{lookup} {delay} ms: {}",
                    path.display()
                );
                // csam, csem and cgi are all illegal material.
                illegal |= category.is_some();
            }
            // The exit code follows the same state: 1 when illegal material was graded.
            assert_eq!(
                code,
                Some(if illegal { 1 } else { 0 }),
                "{lookup} {delay} ms"
            );
            let _ = std::fs::remove_dir_all(&out_dir);
        }
    }
    eprintln!("states the scans read: {seen_states:?}; imports refused as in use: {refused}");
    // A stop that freezes the scan inside SQLite's exclusive instant is rare; a database that
    // made imports wait for scans (a rollback journal, a read lock held) would refuse them at
    // nearly every stop.
    assert!(
        refused <= 4,
        "{refused} of {} stops held the imports up",
        2 * delays.len()
    );
    // The stops fell both before the scan read the database and after: both states were seen.
    assert!(seen_states.len() >= 2, "{seen_states:?}");
}

/// A database left by a killed writer in rollback-journal mode (as databases of earlier
/// hashsift versions are, and as any SQLite client may leave one): Python's sqlite3 writes
/// more than its cache holds inside one transaction, so that pages of the database file are
/// overwritten and the journal is hot, then kills itself.
fn leave_hot_journal(db: &Path) {
    let script = r#"
import os, signal, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
assert c.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
c.execute("PRAGMA cache_size = 8")
c.execute("BEGIN IMMEDIATE")
c.execute("UPDATE hash_set SET name = name || '-half-written'")
c.execute("CREATE TABLE half_written(x)")
c.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) INSERT INTO half_written SELECT randomblob(900) FROM n")
os.kill(os.getpid(), signal.SIGKILL)
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(db)
        .status()
        .expect("python3");
    assert!(
        !status.success(),
        "python3 was to kill itself mid-transaction"
    );
}

/// `db list --json` of `db`, by hashsift.
fn set_names(db: &Path) -> Output {
    let mut c = db_cmd(db);
    c.args(["list", "--json"]);
    common::run_with_timeout(c, Duration::from_secs(60))
}

/// `hashsift db --db DB SUBCOMMAND` run as the user nobody.
fn db_as_nobody(db: &Path, subcommand: &str) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_hashsift"))
        .args(["db", "--db"])
        .arg(db)
        .arg(subcommand)
        .output()
        .unwrap()
}

#[test]
fn readers_roll_back_what_a_killed_writer_left_in_a_rollback_journal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let list = dir.path().join("t.md5");
    write_list(&list, &["0cc175b9c0f1b6a831c399e269772661".to_owned()]);
    import_list(&db, &list, "T", "1", "csam", false);
    let evidence = dir.path().join("ev");
    std::fs::create_dir(&evidence).unwrap();
    std::fs::write(evidence.join("a"), b"a").unwrap();

    // Each reading command, first after the kill, opens the database as it was.
    type Reader = fn(&Path, &Path) -> Output;
    let readers: [(&str, Reader); 5] = [
        ("list", |db, _| set_names(db)),
        ("stats", |db, _| {
            let mut c = db_cmd(db);
            c.arg("stats");
            common::run_with_timeout(c, Duration::from_secs(60))
        }),
        ("lookup", |db, _| {
            let mut c = db_cmd(db);
            c.args(["lookup", "0cc175b9c0f1b6a831c399e269772661"]);
            common::run_with_timeout(c, Duration::from_secs(60))
        }),
        ("export", |db, dir| {
            let mut c = db_cmd(db);
            c.args(["export", "--all", "--format", "csv", "-o"])
                .arg(dir.join("export.csv"));
            common::run_with_timeout(c, Duration::from_secs(60))
        }),
        ("scan", |db, dir| {
            common::scan_quietly(db, &dir.join("scan"), &dir.join("ev"))
        }),
    ];
    let journal = dir.path().join("k.db-journal");
    for (name, read) in readers {
        leave_hot_journal(&db);
        assert!(journal.exists(), "{name}: no hot journal was left");
        let out = read(&db, dir.path());
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{name} after a killed writer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed = set_names(&db);
        assert_exit(&listed, 0);
        let sets: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert_eq!(
            sets[0]["name"], "T",
            "{name}: the half-written rename rolled back"
        );
        assert!(!journal.exists(), "{name}");
        let _ = std::fs::remove_dir_all(dir.path().join("scan"));
    }
    // A scan grading the file proves it read the rolled-back database.
    leave_hot_journal(&db);
    let out = common::scan_quietly(&db, &dir.path().join("scan"), &evidence);
    assert_exit(&out, 1);

    // A user who may not write the database cannot roll it back: told exactly what to do.
    if unsafe { libc::geteuid() } != 0 || !common::have_tool("setpriv", "util-linux") {
        eprintln!("SKIPPED: the part run as another user needs root and setpriv");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // Readable by all, writable by its owner only (the journal takes the file's mode).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    leave_hot_journal(&db);
    let out = db_as_nobody(&db, "stats");
    assert_exit(&out, 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("must be rolled back") && err.contains("who may write there"),
        "{err}"
    );
    assert!(
        journal.exists(),
        "the journal is kept for a writer to roll back"
    );
    assert_exit(&set_names(&db), 0);
    assert!(!journal.exists());
}

#[test]
fn a_disk_full_import_leaves_the_database_as_it_was_and_says_so_truly() {
    if unsafe { libc::geteuid() } != 0 || !common::have_tool("unshare", "util-linux") {
        eprintln!("SKIPPED: a small filesystem of its own needs root and unshare");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let list = dir.path().join("t.md5");
    write_list(&list, &["0cc175b9c0f1b6a831c399e269772661".to_owned()]);
    import_list(&db, &list, "T", "1", "csam", false);
    // A set far larger than the room left: 200,000 MD5s (about 30 MB of database).
    let big = dir.path().join("big.md5");
    let hexes: Vec<String> = (0..200_000u64)
        .map(|i| format!("{:032x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    write_list(&big, &hexes);
    let before = std::fs::read(&db).unwrap();

    // In a mount namespace: a 2 MiB tmpfs holding only the database; the import into it, then
    // the reader, then the folder's files copied out for the checks below.
    let small = dir.path().join("small");
    let out_copy = dir.path().join("after");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::create_dir_all(&out_copy).unwrap();
    let script = r#"
set -u
mount -t tmpfs -o size=2m tmpfs "$1" || exit 99
cp "$2" "$1/k.db"
"$4" db --db "$1/k.db" import -q "$3" --format digest-list --name big --category csam 2>"$5/import.err"
echo $? >"$5/import.rc"
"$4" db --db "$1/k.db" list --json >"$5/list.json" 2>"$5/list.err"
echo $? >"$5/list.rc"
ls -a "$1" >"$5/files"
cp "$1/k.db" "$5/k.db"
"#;
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(&small)
        .arg(&db)
        .arg(&big)
        .arg(env!("CARGO_BIN_EXE_hashsift"))
        .arg(&out_copy)
        .output()
        .unwrap();
    if out.status.code() == Some(99) {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(out_copy.join(f)).unwrap();
    assert_eq!(read("import.rc").trim(), "3", "{}", read("import.err"));
    let err = read("import.err");
    assert!(
        err.contains("full"),
        "the error says the disk is full: {err}"
    );
    assert!(err.contains("database is unchanged"), "{err}");
    // What it says is true: no side file left, the database byte for byte as before, and it
    // opens.
    assert_eq!(
        read("files").split_whitespace().collect::<Vec<_>>(),
        [".", "..", "k.db"]
    );
    assert!(
        std::fs::read(out_copy.join("k.db")).unwrap() == before,
        "the database changed"
    );
    assert_eq!(read("list.rc").trim(), "0", "{}", read("list.err"));
}

#[test]
fn a_database_inside_the_evidence_is_refused_and_nothing_is_made_there() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ev");
    let db = root.join("tools").join("k.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let list = dir.path().join("t.md5");
    write_list(&list, &["0cc175b9c0f1b6a831c399e269772661".to_owned()]);
    import_list(&db, &list, "T", "1", "csam", false);
    std::fs::write(root.join("a"), b"a").unwrap();
    let paths = common::all_paths(&root);
    let contents = common::content_digests(&paths);
    common::age_access_times(&paths);
    let before = common::stat_snapshot(&paths);
    // Also through a link to the database's folder.
    let link = dir.path().join("dblink");
    std::os::unix::fs::symlink(db.parent().unwrap(), &link).unwrap();
    for db in [db.clone(), link.join("k.db")] {
        let out = common::scan_quietly(&db, &dir.path().join("out"), &root);
        assert_exit(&out, 64);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("inside the evidence root"), "{err}");
    }
    common::assert_untouched(&root, &paths, &before, &contents);
}

/// Runs `script` (sh, `$1` the folder holding the database, `$2` hashsift, `$3` the evidence,
/// `$4` a folder for results) in a mount namespace where the database's folder is bind-mounted
/// read-only on itself. `None` where that cannot be done here.
fn on_read_only_mount(db_dir: &Path, evidence: &Path, results: &Path, script: &str) -> Option<()> {
    if unsafe { libc::geteuid() } != 0 || !common::have_tool("unshare", "util-linux") {
        eprintln!("SKIPPED: a read-only bind mount needs root and unshare");
        return None;
    }
    let script = format!(
        "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" || exit 99\n{script}"
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script, "sh"])
        .arg(db_dir)
        .arg(env!("CARGO_BIN_EXE_hashsift"))
        .arg(evidence)
        .arg(results)
        .output()
        .unwrap();
    if out.status.code() == Some(99) {
        eprintln!(
            "SKIPPED: cannot make a read-only bind mount here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

#[test]
fn a_database_on_a_read_only_mount_is_read_and_one_that_cannot_be_shared_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("dbdir");
    std::fs::create_dir(&db_dir).unwrap();
    let db = db_dir.join("k.db");
    let list = dir.path().join("t.md5");
    write_list(&list, &["0cc175b9c0f1b6a831c399e269772661".to_owned()]);
    import_list(&db, &list, "T", "1", "csam", false);
    let evidence = dir.path().join("ev");
    std::fs::create_dir(&evidence).unwrap();
    std::fs::write(evidence.join("a"), b"a").unwrap();
    let results = dir.path().join("results");
    std::fs::create_dir(&results).unwrap();

    // On a read-only filesystem, every reader reads it (as immutable: no one can write it).
    let script = r#"
"$2" db --db "$1/k.db" list --json >"$4/list.json" 2>"$4/list.err"; echo $? >"$4/list.rc"
"$2" scan -q --db "$1/k.db" -o "$4/scan" "$3" 2>"$4/scan.err"; echo $? >"$4/scan.rc"
ls -a "$1" >"$4/files"
"#;
    if on_read_only_mount(&db_dir, &evidence, &results, script).is_some() {
        let read = |f: &str| std::fs::read_to_string(results.join(f)).unwrap();
        assert_eq!(read("list.rc").trim(), "0", "{}", read("list.err"));
        let sets: serde_json::Value = serde_json::from_str(&read("list.json")).unwrap();
        assert_eq!(sets[0]["name"], "T");
        // The scan graded the file from it: csam, exit 1.
        assert_eq!(read("scan.rc").trim(), "1", "{}", read("scan.err"));
        let (_, items, _) =
            parse_jsonl(&std::fs::read_to_string(results.join("scan/items.jsonl")).unwrap());
        assert_eq!(items[&bytes_of(&evidence.join("a"))]["category"], "csam");
        assert_eq!(
            read("files").split_whitespace().collect::<Vec<_>>(),
            [".", "..", "k.db"]
        );
    }

    // A user who may read the database but not write its folder: a clear refusal, no raw
    // SQLite error (an import could run meanwhile, so it cannot be read as immutable).
    if unsafe { libc::geteuid() } != 0 || !common::have_tool("setpriv", "util-linux") {
        eprintln!("SKIPPED: the part run as another user needs root and setpriv");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = db_as_nobody(&db, "list");
    assert_exit(&out, 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot be read safely") && err.contains("read-only"),
        "{err}"
    );
}

#[test]
fn a_second_import_while_one_runs_is_refused_as_in_use_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let small = dir.path().join("t.md5");
    write_list(&small, &["0cc175b9c0f1b6a831c399e269772661".to_owned()]);
    import_list(&db, &small, "T", "1", "csam", false);
    let big = dir.path().join("big.md5");
    let hexes: Vec<String> = (0..600_000u64)
        .map(|i| format!("{:032x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    write_list(&big, &hexes);

    // The first import holds the write lock from its start; stopped, it holds it as long as
    // anything could.
    let mut c = db_cmd(&db);
    c.args([
        "import",
        "-q",
        "--format",
        "digest-list",
        "--name",
        "A",
        "--category",
        "csam",
    ])
    .arg(&big)
    .stderr(Stdio::piped());
    let mut first = c.spawn().unwrap();
    let wal = dir.path().join("k.db-wal");
    let started = Instant::now();
    while !wal.exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first import ended before it could be stopped"
    );
    signal(first.id(), libc::SIGSTOP);

    // A reader does not wait for it, and sees the database as it was.
    let listed = set_names(&db);
    assert_exit(&listed, 0);
    let sets: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(sets.as_array().unwrap().len(), 1, "{sets}");
    // A second writer waits its 30 s, then is refused, saying why, with nothing changed.
    let mut c = db_cmd(&db);
    c.args([
        "import",
        "-q",
        "--format",
        "digest-list",
        "--name",
        "B",
        "--category",
        "csam",
    ])
    .arg(&small);
    let second = common::run_with_timeout(c, Duration::from_secs(90));
    signal(first.id(), libc::SIGCONT);
    let err = String::from_utf8_lossy(&second.stderr);
    assert_exit(&second, 3);
    assert!(
        err.contains("is in use") && err.contains("nothing was changed"),
        "{err}"
    );
    let first = first.wait_with_output().unwrap();
    assert_exit(&first, 0);

    let listed = set_names(&db);
    let sets: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = sets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A", "T"]);
}
