//! The database schema: an append-only list of migrations tracked in `PRAGMA user_version`
//! (the pattern of cargo's `util/sqlite.rs`). Never edit a migration that has shipped; add one.

use rusqlite::Connection;

use super::category::Flags;
use super::record::Grade;

/// `PRAGMA application_id` of a hashsift database ("hsft"), so that another SQLite file is
/// never mistaken for one.
pub const APPLICATION_ID: i32 = 0x6873_6674;

/// The hash columns of `media` that have an index, with the index's name. Bulk imports drop
/// these indexes while inserting and build them again from this list. The exact hashes
/// (`KEYED`) are indexed through an integer key column beside each, `{column}_key`
/// ([`hash_key`]); PDQ, looked up by distance rather than equality, by its blob.
pub const HASH_INDEXES: [(&str, &str); 5] = [
    ("media_md5", "md5"),
    ("media_sha1", "sha1"),
    ("media_sha256", "sha256"),
    ("media_blake3", "blake3"),
    ("media_pdq", "pdq"),
];

/// The hash columns with an integer key column (`{column}_key`), in [`HASH_INDEXES`] order.
pub const KEYED: [&str; 4] = ["md5", "sha1", "sha256", "blake3"];

/// The key of a hash value, stored in `{column}_key` and indexed instead of the blob: its
/// first 8 bytes as a big-endian number with the top bit flipped, so that keys order as the
/// blobs do (prefixes of the blob are ranges of keys). SQLite's sorter compares integer keys
/// on a fast path: building an index over them takes about 38% less time than over 16-byte
/// blobs at 10 M rows (`benches/sqlite_index.py`), and the index is smaller. Lookups match
/// the key through the index, then the whole value in the row.
pub fn hash_key(hash: &[u8]) -> i64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    (u64::from_be_bytes(first) ^ (1 << 63)) as i64
}

/// The condition that finds the rows of `media` (named `alias`) whose `column` is `value`
/// (the parameter holding the blob) with key `key` (the parameter holding [`hash_key`]),
/// through the column's index.
pub fn hash_equals(alias: &str, column: &str, value: &str, key: &str) -> String {
    if KEYED.contains(&column) {
        format!("{alias}.{column}_key = {key} AND {alias}.{column} = {value}")
    } else {
        format!("{alias}.{column} = {value} AND {key} = {key}")
    }
}

/// The indexes of `grade`, with the statements that create them. Bulk imports drop and build
/// them again like the hash indexes: appending grade rows to a table without indexes is about
/// twice as fast as inserting them into a keyed one. `grade_media` covers the category, so
/// statistics scan the index alone. A set's own grades need no index: an import appends them,
/// so they are the rows from `hash_set.grade_first` to `grade_last` (see [`SET_GRADES`]).
pub const GRADE_INDEXES: [(&str, &str); 1] = [(
    "grade_media",
    "CREATE INDEX IF NOT EXISTS grade_media ON grade(media_id, set_id, category)",
)];

/// The condition on `grade` (named `alias` in the statement) that selects the grades of set
/// `?1`: its range of ids (an import appends its rows, and a new id is always above every id
/// in the table, so no other set's row falls inside the range), and the set id to be sure.
pub fn set_grades(alias: &str) -> String {
    format!(
        "{alias}.id BETWEEN (SELECT grade_first FROM hash_set WHERE id = ?1)
           AND (SELECT grade_last FROM hash_set WHERE id = ?1) AND {alias}.set_id = ?1"
    )
}

/// The statement that creates the index on `column` (on its key column if it has one).
pub fn create_index_sql(name: &str, column: &str) -> String {
    let indexed = if KEYED.contains(&column) {
        format!("{column}_key")
    } else {
        column.to_owned()
    };
    format!("CREATE INDEX IF NOT EXISTS {name} ON media({indexed}) WHERE {indexed} IS NOT NULL")
}

const V1: &str = "
CREATE TABLE hash_set (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT,
    version TEXT,
    format TEXT NOT NULL,
    profile TEXT,
    profile_sha256 BLOB,
    default_category TEXT,
    imported_at TEXT NOT NULL,
    hashsift_version TEXT NOT NULL,
    rows_read INTEGER NOT NULL,
    rows_imported INTEGER NOT NULL,
    rows_merged INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    rows_empty INTEGER NOT NULL
);
CREATE TABLE hash_set_file (
    set_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    path BLOB NOT NULL,
    file_size INTEGER NOT NULL,
    file_sha256 BLOB NOT NULL CHECK (length(file_sha256) = 32),
    format TEXT NOT NULL,
    rows_read INTEGER NOT NULL,
    PRIMARY KEY (set_id, position)
) WITHOUT ROWID;
CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    md5 BLOB CHECK (length(md5) = 16),
    sha1 BLOB CHECK (length(sha1) = 20),
    sha256 BLOB CHECK (length(sha256) = 32),
    blake3 BLOB CHECK (length(blake3) = 32),
    pdq BLOB CHECK (length(pdq) = 32),
    pdq_quality INTEGER,
    photodna BLOB,
    size INTEGER
);
CREATE TABLE grade (
    media_id INTEGER NOT NULL,
    set_id INTEGER NOT NULL,
    file INTEGER NOT NULL,
    record INTEGER NOT NULL,
    provided INTEGER NOT NULL,
    code TEXT,
    label TEXT,
    category TEXT NOT NULL,
    baseline INTEGER,
    victim_identified INTEGER,
    offender_identified INTEGER,
    distributed INTEGER,
    series TEXT,
    tags TEXT
);
";

/// The indexes version 1 created, as it created them.
const V1_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS media_md5 ON media(md5) WHERE md5 IS NOT NULL;
CREATE INDEX IF NOT EXISTS media_sha1 ON media(sha1) WHERE sha1 IS NOT NULL;
CREATE INDEX IF NOT EXISTS media_sha256 ON media(sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX IF NOT EXISTS media_blake3 ON media(blake3) WHERE blake3 IS NOT NULL;
CREATE INDEX IF NOT EXISTS media_pdq ON media(pdq) WHERE pdq IS NOT NULL;
CREATE INDEX IF NOT EXISTS grade_media ON grade(media_id, set_id, category);
CREATE INDEX IF NOT EXISTS grade_set ON grade(set_id);
";

/// Version 2: each set's grades are found by their range of ids instead of an index on
/// `grade.set_id`, which cost a tenth of a large import to build. The ids become an explicit
/// `INTEGER PRIMARY KEY`, which `VACUUM` keeps (it may renumber implicit row ids).
const V2: &str = "
ALTER TABLE hash_set ADD COLUMN grade_first INTEGER;
ALTER TABLE hash_set ADD COLUMN grade_last INTEGER;
UPDATE hash_set SET
    grade_first = (SELECT min(rowid) FROM grade WHERE set_id = hash_set.id),
    grade_last = (SELECT max(rowid) FROM grade WHERE set_id = hash_set.id);
CREATE TABLE grade_v2 (
    id INTEGER PRIMARY KEY,
    media_id INTEGER NOT NULL,
    set_id INTEGER NOT NULL,
    file INTEGER NOT NULL,
    record INTEGER NOT NULL,
    provided INTEGER NOT NULL,
    code TEXT,
    label TEXT,
    category TEXT NOT NULL,
    baseline INTEGER,
    victim_identified INTEGER,
    offender_identified INTEGER,
    distributed INTEGER,
    series TEXT,
    tags TEXT
);
INSERT INTO grade_v2 (id, media_id, set_id, file, record, provided, code, label, category,
        baseline, victim_identified, offender_identified, distributed, series, tags)
    SELECT rowid, media_id, set_id, file, record, provided, code, label, category,
        baseline, victim_identified, offender_identified, distributed, series, tags
    FROM grade ORDER BY rowid;
DROP TABLE grade;
ALTER TABLE grade_v2 RENAME TO grade;
CREATE INDEX grade_media ON grade(media_id, set_id, category);
";

/// Version 3: the exact hashes are indexed by integer keys ([`hash_key`]) in columns of their
/// own; the keys of existing media are computed by [`fill_keys`] after this.
const V3: &str = "
ALTER TABLE media ADD COLUMN md5_key INTEGER;
ALTER TABLE media ADD COLUMN sha1_key INTEGER;
ALTER TABLE media ADD COLUMN sha256_key INTEGER;
ALTER TABLE media ADD COLUMN blake3_key INTEGER;
DROP INDEX IF EXISTS media_md5;
DROP INDEX IF EXISTS media_sha1;
DROP INDEX IF EXISTS media_sha256;
DROP INDEX IF EXISTS media_blake3;
";

/// Version 4: what an import left out or could not grade. `rejects_file` is where the
/// records skipped by `--skip-invalid` are listed (the path's bytes); `hash_set_unmapped`
/// counts, per set, the records whose category code the profile does not list (imported as
/// `uncategorised`, their code and label kept on each grade).
const V4: &str = "
ALTER TABLE hash_set ADD COLUMN rejects_file BLOB;
CREATE TABLE hash_set_unmapped (
    set_id INTEGER NOT NULL,
    code TEXT NOT NULL,
    label TEXT,
    records INTEGER NOT NULL,
    PRIMARY KEY (set_id, code)
) WITHOUT ROWID;
";

/// Version 5: the frames of known videos (vPDQ), each with its place in its source (`position`,
/// from 0), its frame number, PDQ quality and hash, and its time stamp in milliseconds. A known
/// video is a `media` row like any other (its exact hashes when its set gives them).
const V5: &str = "
CREATE TABLE video_frame (
    media_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    frame INTEGER NOT NULL,
    quality INTEGER NOT NULL,
    pdq BLOB NOT NULL CHECK (length(pdq) = 32),
    millis INTEGER NOT NULL,
    PRIMARY KEY (media_id, position)
) WITHOUT ROWID;
";

/// One step of the schema: SQL, then what Rust must compute for it.
struct Migration {
    sql: String,
    then: Option<fn(&rusqlite::Transaction) -> rusqlite::Result<()>>,
}

/// Every migration, in order; migration `i` brings the database to `user_version` `i + 1`.
fn migrations() -> Vec<Migration> {
    let sql = |sql: String| Migration { sql, then: None };
    vec![
        sql(format!("{V1}{V1_INDEXES}")),
        sql(V2.to_owned()),
        Migration {
            sql: V3.to_owned(),
            then: Some(fill_keys),
        },
        sql(V4.to_owned()),
        sql(V5.to_owned()),
    ]
}

/// Version 3's keys for the media a version 2 database holds, then the key indexes. Done in
/// runs of ids, so that no row is changed under a statement still reading the table.
fn fill_keys(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    let mut select = tx.prepare(
        "SELECT id, md5, sha1, sha256, blake3 FROM media WHERE id > ?1 ORDER BY id LIMIT 10000",
    )?;
    let mut update = tx.prepare(
        "UPDATE media SET md5_key = ?2, sha1_key = ?3, sha256_key = ?4, blake3_key = ?5
         WHERE id = ?1",
    )?;
    let mut after = 0i64;
    loop {
        let run: Vec<(i64, [Option<i64>; 4])> = select
            .query_map([after], |r| {
                let key = |i| -> rusqlite::Result<Option<i64>> {
                    Ok(r.get::<_, Option<Vec<u8>>>(i)?.map(|h| hash_key(&h)))
                };
                Ok((r.get(0)?, [key(1)?, key(2)?, key(3)?, key(4)?]))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some(&(last, _)) = run.last() else {
            break;
        };
        for (id, [a, b, c, d]) in run {
            update.execute(rusqlite::params![id, a, b, c, d])?;
        }
        after = last;
    }
    for (name, column) in HASH_INDEXES {
        if KEYED.contains(&column) {
            tx.execute_batch(&create_index_sql(name, column))?;
        }
    }
    Ok(())
}

/// The schema version this hashsift writes.
pub fn current_version() -> u32 {
    migrations().len() as u32
}

/// What stops a database from being used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database has schema version {found}, newer than this hashsift understands ({supported}); use a newer hashsift"
    )]
    Newer { found: u32, supported: u32 },
    #[error("the file is an SQLite database, but not a hashsift one")]
    Foreign,
    #[error(
        "the database has schema version {found} and needs upgrading to {supported}: any `hashsift db import` or `db remove` upgrades it"
    )]
    Older { found: u32, supported: u32 },
    #[error("the database is empty: create it with `hashsift db init`")]
    Empty,
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn check_identity(conn: &Connection) -> Result<u32, SchemaError> {
    let app: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version = user_version(conn)?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if app != APPLICATION_ID && (app != 0 || version != 0 || tables != 0) {
        return Err(SchemaError::Foreign);
    }
    let supported = current_version();
    if version > supported {
        return Err(SchemaError::Newer {
            found: version,
            supported,
        });
    }
    Ok(version)
}

/// Brings a writable database up to the current schema, each migration in its own
/// transaction.
///
/// # Errors
/// A foreign or newer database; SQLite errors.
pub fn migrate(conn: &mut Connection) -> Result<(), SchemaError> {
    let version = check_identity(conn)?;
    for (i, m) in migrations().iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(&m.sql)?;
        if let Some(then) = m.then {
            then(&tx)?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Checks that a database opened read-only has exactly the current schema.
///
/// # Errors
/// A foreign, older or newer database.
pub fn check_current(conn: &Connection) -> Result<(), SchemaError> {
    let found = check_identity(conn)?;
    let supported = current_version();
    if found == 0 {
        return Err(SchemaError::Empty);
    }
    if found < supported {
        return Err(SchemaError::Older { found, supported });
    }
    Ok(())
}

// How a grade is stored: the columns of `grade` from `offset` on (record, code, label,
// category, the four flags, series, tags as a JSON array, file), read back by the lookup and
// the export alike.

pub(crate) fn tags_to_sql(tags: &[String]) -> Option<String> {
    (!tags.is_empty()).then(|| serde_json::to_string(tags).expect("strings serialise"))
}

fn tags_from_sql(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The grade in the columns of `r` from `offset` on.
pub(crate) fn grade_from_row(r: &rusqlite::Row, offset: usize) -> rusqlite::Result<Grade> {
    let category: String = r.get(offset + 3)?;
    let category = category.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            offset + 3,
            rusqlite::types::Type::Text,
            Box::new(e),
        )
    })?;
    Ok(Grade {
        record: r.get::<_, i64>(offset)? as u64,
        code: r.get(offset + 1)?,
        label: r.get(offset + 2)?,
        category,
        flags: Flags {
            baseline: r.get(offset + 4)?,
            victim_identified: r.get(offset + 5)?,
            offender_identified: r.get(offset + 6)?,
            distributed: r.get(offset + 7)?,
        },
        series: r.get(offset + 8)?,
        tags: tags_from_sql(r.get(offset + 9)?),
        file: r.get::<_, i64>(offset + 10)? as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_reaches_the_current_version_and_reopens() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), current_version());
        migrate(&mut conn).unwrap();
        check_current(&conn).unwrap();
    }

    #[test]
    fn version_1_grades_keep_their_ids_and_each_set_its_range() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&migrations()[0].sql).unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO hash_set (id, name, format, imported_at, hashsift_version, rows_read,
                 rows_imported, rows_merged, rows_rejected, rows_empty)
             VALUES (1, 'a', 'vics', 't', 'v', 0, 0, 0, 0, 0),
                    (2, 'b', 'vics', 't', 'v', 0, 0, 0, 0, 0),
                    (3, 'empty', 'vics', 't', 'v', 0, 0, 0, 0, 0);
             INSERT INTO grade (rowid, media_id, set_id, file, record, provided, category)
             VALUES (5, 1, 1, 0, 1, 1, 'csam'), (6, 2, 1, 0, 2, 1, 'cgi'),
                    (9, 1, 2, 0, 1, 1, 'csem');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        check_current(&conn).unwrap();
        let ranges: Vec<(i64, Option<i64>, Option<i64>)> = conn
            .prepare("SELECT id, grade_first, grade_last FROM hash_set ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ranges,
            [
                (1, Some(5), Some(6)),
                (2, Some(9), Some(9)),
                (3, None, None)
            ]
        );
        let of_set = |set: i64| -> Vec<(i64, String)> {
            conn.prepare(&format!(
                "SELECT id, category FROM grade WHERE {} ORDER BY id",
                set_grades("grade")
            ))
            .unwrap()
            .query_map([set], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        assert_eq!(of_set(1), [(5, "csam".into()), (6, "cgi".into())]);
        assert_eq!(of_set(2), [(9, "csem".into())]);
        assert!(of_set(3).is_empty());
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'grade'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 1, "grade_media only");
    }

    /// The key by other arithmetic than [`hash_key`]'s: the first 8 bytes as a number,
    /// less 2^63.
    fn key_by_hand(h: &[u8]) -> i64 {
        let n = h[..8].iter().fold(0i128, |n, &b| n * 256 + i128::from(b));
        i64::try_from(n - (1i128 << 63)).unwrap()
    }

    #[test]
    fn keys_order_as_the_hashes_do() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut hashes: Vec<[u8; 16]> = (0..2000)
            .map(|_| {
                let mut h = [0u8; 16];
                for b in &mut h {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = (x >> 56) as u8;
                }
                h
            })
            .collect();
        hashes.extend([[0u8; 16], [0xFF; 16], [0x7F; 16], [0x80; 16]]);
        for h in &hashes {
            assert_eq!(hash_key(h), key_by_hand(h));
        }
        hashes.sort();
        let keys: Vec<i64> = hashes.iter().map(|h| hash_key(h)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "keys out of order");
    }

    #[test]
    fn version_2_media_get_their_keys_and_key_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        for m in &migrations()[..2] {
            conn.execute_batch(&m.sql).unwrap();
        }
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        let md5: Vec<u8> = (0..16).map(|i| 0xF0 - i).collect();
        let sha1: Vec<u8> = (0..20).collect();
        let sha256: Vec<u8> = (0..32).map(|i| 0x80 + i).collect();
        // More media than one run of the fill, the second with an MD5 only.
        for id in 1..=25_000i64 {
            let mut md5 = md5.clone();
            md5[15] = id as u8;
            md5[14] = (id >> 8) as u8;
            let full = id != 2;
            conn.execute(
                "INSERT INTO media (id, md5, sha1, sha256, blake3, size) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                rusqlite::params![
                    id,
                    md5,
                    full.then_some(&sha1),
                    full.then_some(&sha256),
                    full.then_some(&sha256)
                ],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        check_current(&conn).unwrap();
        let keys = |id: i64| -> [Option<i64>; 4] {
            conn.query_row(
                "SELECT md5_key, sha1_key, sha256_key, blake3_key FROM media WHERE id = ?1",
                [id],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
            )
            .unwrap()
        };
        let mut last_md5 = md5.clone();
        last_md5[15] = 25_000u32 as u8;
        last_md5[14] = (25_000u32 >> 8) as u8;
        let full = [
            Some(key_by_hand(&last_md5)),
            Some(key_by_hand(&sha1)),
            Some(key_by_hand(&sha256)),
            Some(key_by_hand(&sha256)),
        ];
        assert_eq!(keys(25_000), full);
        assert_eq!(keys(2)[1..], [None, None, None]);
        // Every exact hash is indexed by its key, and a lookup goes through that index.
        for column in KEYED {
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1",
                    [format!("media_{column}")],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(sql.contains(&format!("{column}_key")), "{sql}");
        }
        let plan: String = conn
            .query_row(
                &format!(
                    "EXPLAIN QUERY PLAN SELECT id FROM media m WHERE {}",
                    hash_equals("m", "md5", "?1", "?2")
                ),
                rusqlite::params![&last_md5, key_by_hand(&last_md5)],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("media_md5"), "{plan}");
        let found: i64 = conn
            .query_row(
                &format!(
                    "SELECT id FROM media m WHERE {}",
                    hash_equals("m", "md5", "?1", "?2")
                ),
                rusqlite::params![&last_md5, key_by_hand(&last_md5)],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 25_000);
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.pragma_update(None, "user_version", current_version() + 1)
            .unwrap();
        let e = migrate(&mut conn).unwrap_err();
        assert!(matches!(e, SchemaError::Newer { .. }), "{e}");
        assert!(e.to_string().contains("newer"));
    }

    #[test]
    fn a_foreign_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t(x)").unwrap();
        assert!(matches!(migrate(&mut conn), Err(SchemaError::Foreign)));
    }
}
