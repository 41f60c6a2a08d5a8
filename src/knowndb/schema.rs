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
/// statistics scan the index alone.
pub const GRADE_INDEXES: [(&str, &str); 2] = [
    (
        "grade_media",
        "CREATE INDEX IF NOT EXISTS grade_media ON grade(media_id, set_id, category)",
    ),
    (
        "grade_set",
        "CREATE INDEX IF NOT EXISTS grade_set ON grade(set_id)",
    ),
];

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

/// Every migration, in order; migration `i` brings the database to `user_version` `i + 1`.
fn migrations() -> Vec<String> {
    let mut v1 = V1.to_owned();
    for (name, column) in HASH_INDEXES {
        v1.push_str(&create_index_sql(name, column));
        v1.push_str(";\n");
    }
    for (_, sql) in GRADE_INDEXES {
        v1.push_str(sql);
        v1.push_str(";\n");
    }
    vec![v1]
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
