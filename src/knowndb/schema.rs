//! The database schema: an append-only list of migrations tracked in `PRAGMA user_version`
//! (the pattern of cargo's `util/sqlite.rs`). Never edit a migration that has shipped; add one.

use rusqlite::Connection;

/// `PRAGMA application_id` of a hashsift database ("hsft"), so that another SQLite file is
/// never mistaken for one.
pub const APPLICATION_ID: i32 = 0x6873_6674;

/// The hash columns of `media` that have an index, with the index's name. Bulk imports drop
/// these indexes while inserting and build them again from this list.
pub const HASH_INDEXES: [(&str, &str); 5] = [
    ("media_md5", "md5"),
    ("media_sha1", "sha1"),
    ("media_sha256", "sha256"),
    ("media_blake3", "blake3"),
    ("media_pdq", "pdq"),
];

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

/// The statement that creates the index on `column`.
pub fn create_index_sql(name: &str, column: &str) -> String {
    format!("CREATE INDEX IF NOT EXISTS {name} ON media({column}) WHERE {column} IS NOT NULL")
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

/// Every migration, in order; migration `i` brings the database to `user_version` `i + 1`.
fn migrations() -> Vec<String> {
    vec![format!("{V1}{V1_INDEXES}"), V2.to_owned()]
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
    for (i, sql) in migrations().iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
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
        conn.execute_batch(&migrations()[0]).unwrap();
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
