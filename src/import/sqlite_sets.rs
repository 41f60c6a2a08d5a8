//! Hash sets that are SQLite databases: NIST NSRL RDSv3 (minimal or full release; `FILE` is a
//! table in the first and a view over `METADATA` in the second) and Sleuth Kit / Autopsy
//! `.kdb` hash databases. Both are opened read-only and immutable: nothing is written beside
//! them, not even a lock or journal file.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::fields::{hex, size};
use super::{Location, ReadError, Sink, deliver};
use crate::cancel::Cancel;
use crate::digest::{Md5, Sha1, Sha256};
use crate::knowndb::record::KnownRecord;

/// Refuses a source database with a non-empty write-ahead log or rollback journal beside it.
/// Opened immutable, SQLite reads the main file alone: rows committed only to the log would
/// be left out without a word (the set imported short), and a journal left by a write cut
/// short means the file may hold half of that write. Folding either in would write beside the
/// user's file, which an import never does: the message says how to do it on a copy.
///
/// # Errors
/// The side file's name, size and what to do, as a malformed-file error.
pub fn check_side_files(path: &Path) -> Result<(), ReadError> {
    let side = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        let len = std::fs::metadata(&p).map_or(0, |m| m.len());
        (p, len)
    };
    let (wal, len) = side("-wal");
    if len > 0 {
        return Err(ReadError::malformed(
            Location::File,
            format!(
                "a write-ahead log lies beside it ({}, {len} bytes): rows committed to the log are not yet in the database file, and hashsift, which writes nothing beside a hash set, would import the set without them. Fold the log in on a copy: copy both files into one directory, run `sqlite3 COPY 'PRAGMA wal_checkpoint(TRUNCATE)'` there, and import the copy",
                wal.display()
            ),
        ));
    }
    let (journal, len) = side("-journal");
    if len > 0 {
        return Err(ReadError::malformed(
            Location::File,
            format!(
                "a rollback journal lies beside it ({}, {len} bytes): a write to the database was cut short and the file may hold half of it. Copy both files into one directory, open the copy once with `sqlite3 COPY 'PRAGMA integrity_check'` (which rolls the write back), and import the copy",
                journal.display()
            ),
        ));
    }
    Ok(())
}

/// The most bytes one value (a string or blob) a source may compute: a digest, a name or a
/// size never comes near it. A view that builds a huge value (`group_concat` over a recursive
/// query, `zeroblob`, `printf('%.*c', ...)`) fails at this size instead of taking memory up to
/// SQLite's default of 1 GB per value.
const MAX_VALUE: i32 = 1 << 20;

/// The page cache of a source database (negative: KiB). Sorting and temporary tables spill to
/// temporary files past it.
const SOURCE_CACHE_KIB: i64 = 8 << 10;

/// Opens a source database read-only and immutable, after [`check_side_files`], with limits
/// for hostile content.
///
/// # Errors
/// A log or journal beside it; SQLite errors (not a database, unreadable).
pub fn open(path: &Path) -> Result<Connection, ReadError> {
    // SQLite keeps a database's log beside the file, not beside a link to it: the file itself
    // is checked and opened.
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    check_side_files(&path)?;
    Ok(open_immutable(&path)?)
}

fn open_immutable(path: &Path) -> rusqlite::Result<Connection> {
    let uri = crate::knowndb::immutable_uri(path);
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A hash set is untrusted input: its views and triggers may not call functions with side
    // effects.
    conn.pragma_update(None, "trusted_schema", false)?;
    // Hostile views: bounded values, statements and recursion, a small cache, sorts and
    // temporary tables on disk (`temp_store` 1: files, past the cache), no memory map.
    use rusqlite::limits::Limit;
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE)?;
    conn.set_limit(Limit::SQLITE_LIMIT_SQL_LENGTH, 1 << 20)?;
    conn.set_limit(Limit::SQLITE_LIMIT_EXPR_DEPTH, 100)?;
    conn.set_limit(Limit::SQLITE_LIMIT_COMPOUND_SELECT, 50)?;
    conn.set_limit(Limit::SQLITE_LIMIT_VDBE_OP, 250_000)?;
    conn.set_limit(Limit::SQLITE_LIMIT_FUNCTION_ARG, 16)?;
    conn.set_limit(Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000)?;
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{SOURCE_CACHE_KIB}; PRAGMA temp_store = FILE; PRAGMA mmap_size = 0;"
    ))?;
    Ok(conn)
}

/// How many bytes of the source file a row needs at least: three hex digests take 136 bytes,
/// three binary ones 68. A source yielding more rows than its size allows has a view that
/// repeats or invents them (a recursive one never ends): it is refused.
const MIN_ROW_BYTES: u64 = 32;

/// How many virtual-machine steps SQLite may take per row the source file could hold. Reading
/// a row of a table takes a few dozen; the full RDSv3 release's `FILE` view, a join, a few
/// hundred.
const STEPS_PER_ROW: u64 = 20_000;

/// SQLite calls the progress handler after this many steps.
const PROGRESS_EVERY: u64 = 100_000;

/// Runs `query` over the source database at `path` and hands each row, numbered from 1, to
/// `each`, whose record (or rejection) goes to `sink`. Guarded: Ctrl-C interrupts SQLite even inside one long step (a hostile view can
/// compute for hours before its first row), and the number of rows is bounded by the file's
/// size.
fn each_row(
    path: &Path,
    cancel: &Cancel,
    query: &str,
    sink: &mut Sink,
    mut each: impl FnMut(u64, &rusqlite::Row) -> Result<KnownRecord, ReadError>,
) -> Result<(), ReadError> {
    let conn = open(path)?;
    let file_size = std::fs::metadata(path)?.len();
    let max_rows = file_size / MIN_ROW_BYTES + 1000;
    // The work SQLite may do, in virtual-machine steps: ample for reading every row the file
    // can hold, far short of what a view joining a table with itself again and again, or
    // sorting rows it invents, would take.
    let budget = max_rows.saturating_mul(STEPS_PER_ROW) / PROGRESS_EVERY;
    let stop = cancel.clone();
    let spent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = spent.clone();
    conn.progress_handler(
        PROGRESS_EVERY as i32,
        Some(move || {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            stop.is_cancelled() || n > budget
        }),
    )?;
    let step_error = |e: rusqlite::Error| {
        if cancel.is_cancelled() {
            ReadError::Stopped
        } else if spent.load(std::sync::atomic::Ordering::Relaxed) > budget {
            ReadError::malformed(
                Location::File,
                format!(
                    "the database computes more than {} steps for a file of {file_size} bytes: a view that multiplies or invents rows is refused",
                    budget.saturating_mul(PROGRESS_EVERY)
                ),
            )
        } else if e.sqlite_error_code() == Some(rusqlite::ErrorCode::TooBig) {
            ReadError::malformed(
                Location::File,
                format!(
                    "the database computes a value longer than {MAX_VALUE} bytes: a view that builds huge values is refused"
                ),
            )
        } else {
            e.into()
        }
    };
    let mut stmt = conn.prepare(query)?;
    let mut rows = stmt.query([]).map_err(step_error)?;
    let mut number = 0u64;
    while let Some(row) = rows.next().map_err(step_error)? {
        number += 1;
        if number > max_rows {
            return Err(ReadError::malformed(
                Location::Record(number),
                format!(
                    "the database yields more rows than a file of {file_size} bytes can hold: a view that repeats or invents rows is refused"
                ),
            ));
        }
        // A malformed row is rejected alone; an SQLite error ends the reading.
        deliver(sink, each(number, row))?;
    }
    Ok(())
}

/// The names of the tables and views of a database, lower-cased.
///
/// # Errors
/// SQLite errors.
pub fn objects(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT lower(name) FROM sqlite_schema WHERE type IN ('table', 'view')")?;
    let names = stmt.query_map([], |r| r.get(0))?;
    names.collect()
}

/// Reads NSRL RDSv3 `FILE` rows: SHA-256, SHA-1, MD5 and size (names, packages and CRC32
/// are not kept; NSRL has one row per file per package, and rows sharing a hash merge).
///
/// # Errors
/// A row with malformed hex or size, SQLite errors.
pub fn read_rdsv3(path: &Path, cancel: &Cancel, sink: &mut Sink) -> Result<(), ReadError> {
    let query = "SELECT sha256, sha1, md5, file_size FROM FILE";
    each_row(path, cancel, query, sink, |number, row| {
        let at = Location::Record(number);
        let bad = |reason: String| ReadError::malformed(at, reason);
        // Borrowed from SQLite's row, copied only when it is not UTF-8 (to say so in an error).
        let text = |i: usize| -> Result<Option<std::borrow::Cow<'_, str>>, ReadError> {
            match row.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Ok(None),
                rusqlite::types::ValueRef::Text(t) => Ok(Some(String::from_utf8_lossy(t))),
                rusqlite::types::ValueRef::Integer(n) => Ok(Some(n.to_string().into())),
                other => Err(ReadError::malformed(
                    at,
                    format!("column {} holds {:?}, not text", i + 1, other.data_type()),
                )),
            }
        };
        let mut rec = KnownRecord {
            number,
            ..KnownRecord::default()
        };
        if let Some(v) = text(0)?.filter(|v| !v.is_empty()) {
            rec.digests.sha256 = Some(Sha256(hex(&v, "sha256").map_err(bad)?));
        }
        if let Some(v) = text(1)?.filter(|v| !v.is_empty()) {
            rec.digests.sha1 = Some(Sha1(hex(&v, "sha1").map_err(bad)?));
        }
        if let Some(v) = text(2)?.filter(|v| !v.is_empty()) {
            rec.digests.md5 = Some(Md5(hex(&v, "md5").map_err(bad)?));
        }
        if let Some(v) = text(3)? {
            rec.size = Some(size(&v).map_err(bad)?);
        }
        if rec.digests == Default::default() {
            return Err(bad("no hash in this row".into()));
        }
        Ok(rec)
    })
}

/// Reads a Sleuth Kit / Autopsy hash database: `hashes(md5, sha1, sha2_256)`, the digests
/// stored as raw bytes (or, in some builds, as hex text).
///
/// # Errors
/// A digest of the wrong length, SQLite errors.
pub fn read_kdb(path: &Path, cancel: &Cancel, sink: &mut Sink) -> Result<(), ReadError> {
    let query = "SELECT md5, sha1, sha2_256 FROM hashes ORDER BY id";
    each_row(path, cancel, query, sink, |number, row| {
        let at = Location::Record(number);
        fn digest<const N: usize>(
            v: rusqlite::types::ValueRef,
            what: &str,
        ) -> Result<Option<[u8; N]>, String> {
            use rusqlite::types::ValueRef;
            match v {
                ValueRef::Null => Ok(None),
                ValueRef::Blob([]) => Ok(None),
                ValueRef::Blob(b) => <[u8; N]>::try_from(b)
                    .map(Some)
                    .map_err(|_| format!("{what} is {} bytes, expected {N}", b.len())),
                ValueRef::Text([]) => Ok(None),
                ValueRef::Text(t) => hex::<N>(&String::from_utf8_lossy(t), what).map(Some),
                other => Err(format!("{what} holds {:?}", other.data_type())),
            }
        }
        let bad = |reason: String| ReadError::malformed(at, reason);
        let mut rec = KnownRecord {
            number,
            ..KnownRecord::default()
        };
        rec.digests.md5 = digest::<16>(row.get_ref(0)?, "md5").map_err(bad)?.map(Md5);
        rec.digests.sha1 = digest::<20>(row.get_ref(1)?, "sha1")
            .map_err(bad)?
            .map(Sha1);
        rec.digests.sha256 = digest::<32>(row.get_ref(2)?, "sha2_256")
            .map_err(bad)?
            .map(Sha256);
        if rec.digests == Default::default() {
            return Err(bad("no hash in this row".into()));
        }
        Ok(rec)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_c_interrupts_a_view_that_computes_before_its_first_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slow.db");
        let c = Connection::open(&path).unwrap();
        // A billion steps before the first (and only) row: minutes, unless interrupted. The
        // file is padded to 32 MB so that its step budget (by its size) lasts far past the
        // interruption: it is the Ctrl-C that must stop it.
        c.execute_batch(
            "CREATE TABLE pad(x); INSERT INTO pad VALUES (zeroblob(32000000));
             CREATE TABLE PKG(package_id);
             CREATE VIEW FILE AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 1000000000)
               SELECT printf('%064x', x) AS sha256, NULL AS sha1, NULL AS md5, 1 AS file_size
               FROM n WHERE x = 1000000000;",
        )
        .unwrap();
        drop(c);
        let cancel = Cancel::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader_cancel = cancel.clone();
        std::thread::spawn(move || {
            let mut sink = |_rec: Result<KnownRecord, super::super::Rejected>| Ok(());
            let result = read_rdsv3(&path, &reader_cancel, &mut sink);
            let _ = tx.send(matches!(result, Err(ReadError::Stopped)));
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        cancel.cancel();
        let stopped = rx.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(stopped, Ok(true), "the read must stop soon after Ctrl-C");
    }
}
