//! Hash sets that are SQLite databases: NIST NSRL RDSv3 (minimal or full release; `FILE` is a
//! table in the first and a view over `METADATA` in the second) and Sleuth Kit / Autopsy
//! `.kdb` hash databases. Both are opened read-only and immutable: nothing is written beside
//! them, not even a lock or journal file.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::fields::{hex, size};
use super::{Location, ReadError, Sink};
use crate::digest::{Md5, Sha1, Sha256};
use crate::knowndb::record::KnownRecord;

/// Opens a source database read-only and immutable.
///
/// # Errors
/// SQLite errors (not a database, unreadable).
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let mut uri = String::from("file:");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                uri.push(*b as char)
            }
            _ => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A hash set is untrusted input: its views and triggers may not call functions with side
    // effects.
    conn.pragma_update(None, "trusted_schema", false)?;
    Ok(conn)
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
pub fn read_rdsv3(path: &Path, sink: &mut Sink) -> Result<(), ReadError> {
    let conn = open(path)?;
    let mut stmt = conn.prepare("SELECT sha256, sha1, md5, file_size FROM FILE")?;
    let mut rows = stmt.query([])?;
    let mut number = 0u64;
    while let Some(row) = rows.next()? {
        number += 1;
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
        sink(rec)?;
    }
    Ok(())
}

/// Reads a Sleuth Kit / Autopsy hash database: `hashes(md5, sha1, sha2_256)`, the digests
/// stored as raw bytes (or, in some builds, as hex text).
///
/// # Errors
/// A digest of the wrong length, SQLite errors.
pub fn read_kdb(path: &Path, sink: &mut Sink) -> Result<(), ReadError> {
    let conn = open(path)?;
    let mut stmt = conn.prepare("SELECT md5, sha1, sha2_256 FROM hashes ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut number = 0u64;
    while let Some(row) = rows.next()? {
        number += 1;
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
        sink(rec)?;
    }
    Ok(())
}
