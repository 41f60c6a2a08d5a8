//! Integrity proofs for a whole scan: the evidence tree (contents by coreutils `sha256sum`,
//! sizes, modification, access and change times, after setting the access times two days
//! back, and its list of entries) and the database file (its digest, times, and the entries
//! of its directory: no journal left behind) are the same after a full scan, PDQ decoding of
//! every image included, as before it. (`verify` detecting a changed report file is tested
//! in `scan.rs`.)

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;

use common::*;

/// An evidence tree with something of every kind a scan reads: files of many sizes, a hard
/// link, a symlink, a FIFO, an empty directory, sound and damaged images.
fn build(tree: &Path) {
    for (i, size) in [0usize, 1, 4096, 70_000, (1 << 20) + 3, 3 << 20]
        .iter()
        .enumerate()
    {
        write_file(&tree.join(format!("d{}/f{i}", i % 2)), *size, i as u64);
    }
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 256) as u8])
    });
    std::fs::create_dir_all(tree.join("DCIM")).unwrap();
    img.save(tree.join("DCIM/a.png")).unwrap();
    img.save(tree.join("DCIM/b.jpg")).unwrap();
    let jpeg = std::fs::read(tree.join("DCIM/b.jpg")).unwrap();
    std::fs::write(tree.join("DCIM/cut.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    std::fs::hard_link(tree.join("DCIM/a.png"), tree.join("d0/a-link.png")).unwrap();
    symlink("d0/f0", tree.join("link")).unwrap();
    mkfifo(&tree.join("fifo"));
    std::fs::create_dir(tree.join("empty")).unwrap();
}

/// The database file's digest, size and times, and the names in its directory.
fn db_state(db: &Path) -> (String, Times, Vec<std::ffi::OsString>) {
    let mut names: Vec<_> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    let times = stat_snapshot(&[db.to_owned()]).remove(db).unwrap();
    (oracle_digest("sha256sum", db), times, names)
}

#[test]
fn a_scan_changes_nothing_in_the_evidence_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    if !records_access_times(dir.path()) {
        return;
    }
    let tree = dir.path().join("evidence");
    build(&tree);

    // A database that grades one file by MD5 and knows a PDQ hash, in a directory of its own.
    let db_dir = dir.path().join("db");
    std::fs::create_dir(&db_dir).unwrap();
    let db = db_dir.join("known.db");
    let sets = dir.path().join("sets");
    std::fs::create_dir(&sets).unwrap();
    let md5 = sets.join("unit.md5");
    let known = oracle_digest("md5sum", &tree.join("d1/f3"));
    std::fs::write(&md5, format!("{known}  f3\n")).unwrap();
    import_graded(&db, &md5, "unit", "csam");
    let pdq = sets.join("unit.pdq");
    std::fs::write(&pdq, format!("{},90\n", "5a".repeat(32))).unwrap();
    import_graded(&db, &pdq, "unit-pdq", "csem");

    let paths = all_paths(&tree);
    let contents = content_digests(&paths);
    age_access_times(&paths);
    // The database's directory gets its access time aged too: SQLite opens files in it.
    age_access_times(&[db.clone(), db_dir.clone()]);
    let before = stat_snapshot(&paths);
    let db_before = db_state(&db);

    let report = dir.path().join("report");
    let out = scan_quietly(&db, &report, &tree);
    // The MD5 set's csam file is found.
    assert_exit(&out, 1);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["pdq"]["images_hashed"], 3,
        "the images were decoded: {summary}"
    );

    assert_untouched(&tree, &paths, &before, &contents);
    let db_after = db_state(&db);
    assert_eq!(db_after.0, db_before.0, "the database's content changed");
    assert_eq!(
        db_after.2, db_before.2,
        "files appeared or vanished beside the database"
    );
    let (b, a) = (db_before.1, db_after.1);
    assert_eq!(
        (b.0, b.1, b.2, b.5, b.6),
        (a.0, a.1, a.2, a.5, a.6),
        "the database's size, mtime or ctime changed"
    );
}
