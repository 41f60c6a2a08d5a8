//! The known-material database: one SQLite file holding hash sets with their provenance, the
//! known media (hashes as fixed-width blobs, an index per algorithm) and every set's grade of
//! each medium.
//!
//! [`schema`] owns the tables and migrations, [`category`] and [`profile`] the grading model,
//! [`write`] the atomic set import, [`read`] lookups, listings and statistics, [`index`] the
//! in-memory lookup index a scan builds.

pub mod category;
pub mod export;
mod frames;
pub(crate) mod index;
pub mod pdq_index;
pub mod profile;
pub mod read;
pub(crate) mod record;
pub(crate) mod schema;
pub mod write;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use category::{Category, Flags};
pub use schema::SchemaError;

/// Environment variable naming the database when `--db` is not given.
pub const DB_ENV: &str = "HASHSIFT_DB";

/// Why a database cannot be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{path}: no database here (create it with `hashsift db init`)")]
    Missing { path: PathBuf },
    #[error("{path}: a database already exists here")]
    Exists { path: PathBuf },
    #[error("{path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}")]
    Schema { path: PathBuf, source: SchemaError },
    #[error("{}{}", path.display(), in_use(source))]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("interrupted; the database is unchanged")]
    Interrupted,
    #[error(
        "{path}: a write to it was cut short (an import killed, or out of disk space), and what it half wrote must be rolled back before the database can be read; that needs write access to the file and its folder: run `hashsift db --db {path} stats` once as a user who may write there (free disk space first if it is full)",
        path = path.display()
    )]
    NeedsRecovery { path: PathBuf },
    #[error(
        "{path}: cannot be read safely here: {reason}. Give this user write access to the folder, put a copy where it has it, or mount the database's filesystem read-only (it is then read as it is, with no side file)",
        path = path.display()
    )]
    CannotShare { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("no hash set named '{0}'")]
    NoSuchSet(String),
    #[error(
        "a hash set named '{0}' is already in the database (use --replace to swap in the new version)"
    )]
    SetExists(String),
}

/// The documented default location: `$XDG_DATA_HOME/hashsift/known.db`, else
/// `~/.local/share/hashsift/known.db`.
pub fn default_path() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })?;
    Some(data.join("hashsift").join("known.db"))
}

/// The database to use: `--db`, else `$HASHSIFT_DB`, else [`default_path`].
pub fn resolve_path(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os(DB_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(default_path)
}

/// An open known-material database.
pub struct KnownDb {
    pub(crate) conn: Connection,
    path: PathBuf,
}

/// How to open the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Create a new database; refuse if one exists.
    Create,
    /// Open an existing database for writing, or create it.
    CreateOrWrite,
    /// Open an existing database for writing.
    Write,
    /// Open an existing database for reading (lookups, scans): no write of the command's own,
    /// and every read from the one state the database was in when it was opened.
    ReadOnly,
}

impl KnownDb {
    /// Opens (or creates) the database at `path`. A new database file is created with
    /// owner-only permissions (its journal inherits them), in a directory created owner-only
    /// if missing.
    ///
    /// # Errors
    /// Missing or existing file against `access`, a foreign or newer database, I/O errors.
    pub fn open(path: &Path, access: Access) -> Result<KnownDb, DbError> {
        let exists = path.exists();
        let io = |source| DbError::Io {
            path: path.to_owned(),
            source,
        };
        // An empty file (as `touch` leaves) is a database not yet created.
        let empty = exists && std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
        match (access, exists && !empty) {
            (Access::Create, true) => {
                return Err(DbError::Exists {
                    path: path.to_owned(),
                });
            }
            (Access::Write | Access::ReadOnly, false) => {
                return Err(DbError::Missing {
                    path: path.to_owned(),
                });
            }
            (Access::Create | Access::CreateOrWrite, false) if !empty => {
                create_private(path).map_err(io)?
            }
            (Access::Create | Access::CreateOrWrite, false) => {
                // An empty file becomes the database: owner-only like a new one.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
            _ => {}
        }
        let sqlite = |source| DbError::Sqlite {
            path: path.to_owned(),
            source,
        };
        // Every command opens the file for writing when it may, readers too (they then refuse
        // any write of their own with `query_only`): only a connection that may write can roll
        // back what a killed or disk-full import left (a hot rollback journal, an unfinished
        // write-ahead log), and remove the WAL's side files when it is the last to close. A file
        // the user may not write is opened read-only by SQLite itself.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sqlite)?;
        let schema = |source| match source {
            SchemaError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) if needs_recovery(&e) => {
                DbError::NeedsRecovery {
                    path: path.to_owned(),
                }
            }
            // An SQLite failure reading the schema (a lock held elsewhere, say) is said as such.
            SchemaError::Sqlite(source) => DbError::Sqlite {
                path: path.to_owned(),
                source,
            },
            source => DbError::Schema {
                path: path.to_owned(),
                source,
            },
        };
        // Identity and version first, before any other statement (a PRAGMA on a database left
        // mid-import fails too): a file that is not a hashsift database is refused before
        // anything, the journal mode included, is written to it.
        if access == Access::ReadOnly {
            match schema::check_current(&conn) {
                Err(SchemaError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                    if cannot_share(&e) =>
                {
                    // SQLite cannot make the side files a reader shares with writers: a
                    // read-only filesystem, or a folder this user may not write.
                    drop(conn);
                    conn = open_unshared(path)?;
                    schema::check_current(&conn).map_err(schema)?;
                }
                other => other.map_err(schema)?,
            }
        } else {
            schema::migrate(&mut conn).map_err(schema)?;
            // Write-ahead logging: a scan reads one snapshot from start to end while an import
            // commits beside it, and neither waits for the other. FULL: an import, once it says
            // so, survives a power cut (one sync per import).
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(sqlite)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(DbError::Corrupt {
                    path: path.to_owned(),
                    reason: format!(
                        "cannot use write-ahead logging here (journal mode stays {mode}): the database must be on a local filesystem"
                    ),
                });
            }
            conn.execute_batch("PRAGMA synchronous = FULL;")
                .map_err(sqlite)?;
        }
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = OFF; PRAGMA cache_size = {}; PRAGMA temp_store = FILE;",
            write::CACHE_SIZE
        ))
        .map_err(sqlite)?;
        if access == Access::ReadOnly {
            // One read transaction for the connection's life: every read of this command comes
            // from one state of the database, whatever imports commit meanwhile (in WAL mode
            // they do not wait for it; a database not yet in WAL mode holds them off).
            conn.execute_batch("PRAGMA query_only = ON; BEGIN DEFERRED;")
                .map_err(sqlite)?;
            conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
                .map_err(sqlite)?;
        }
        Ok(KnownDb {
            conn,
            path: path.to_owned(),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn sqlite_error(&self, source: rusqlite::Error) -> DbError {
        DbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

/// What to tell the user when SQLite gave up waiting for another process's lock: the busy
/// timeout (30 s) ran out, or the log's shared index stayed locked while it retried.
fn in_use(e: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::FileLockingProtocolFailed,
        ) => {
            " is in use: another command holds its lock (an import or another write runs, or a command was stopped with Ctrl-Z or a debugger mid-open); nothing was changed, try again once it is done"
        }
        _ => "",
    }
}

/// Whether SQLite could not open or create the shared-memory file (`-shm`) that readers of a
/// database in WAL mode share with its writers.
fn cannot_share(e: &rusqlite::ffi::Error) -> bool {
    use rusqlite::ffi;
    e.code == ffi::ErrorCode::CannotOpen || e.extended_code == ffi::SQLITE_READONLY_DIRECTORY
}

/// Opens for reading a database whose folder cannot take SQLite's side files. Only on a
/// read-only filesystem, where no one can write it meanwhile, and with no log of commits beside
/// it still to fold in, may it be read as immutable (without the locks and the log); a folder
/// that only this user may not write could see an import meanwhile: refused, with the way out.
fn open_unshared(path: &Path) -> Result<Connection, DbError> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_len = std::fs::metadata(&wal).map_or(0, |m| m.len());
    let read_only_fs = {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok();
        c.is_some_and(|c| {
            // SAFETY: statvfs is plain data; all zeroes is a valid value.
            let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
            // SAFETY: `c` is a NUL-terminated path and `st` a statvfs buffer the call fills.
            let ok = unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0;
            ok && (st.f_flag & libc::ST_RDONLY) != 0
        })
    };
    if !read_only_fs || wal_len > 0 {
        return Err(DbError::CannotShare {
            path: path.to_owned(),
            reason: if read_only_fs {
                format!(
                    "it is on a read-only filesystem with commits still in its log ({}, {wal_len} bytes) that SQLite cannot fold in there",
                    std::path::Path::new(&wal).display()
                )
            } else {
                "SQLite must create its shared-memory file (-shm) beside the database to read it safely while an import may run, and this user may not write that folder".to_owned()
            },
        });
    }
    Connection::open_with_flags(
        immutable_uri(path),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| DbError::Sqlite {
        path: path.to_owned(),
        source,
    })
}

/// The `file:` URI that opens `path` read-only as immutable: SQLite takes no lock, reads no log
/// and writes nothing beside the file.
pub fn immutable_uri(path: &Path) -> String {
    use std::fmt::Write;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                uri.push(b as char)
            }
            _ => {
                let _ = write!(uri, "%{b:02X}");
            }
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Whether SQLite refused to read because what a killed writer left needs a writer to undo.
fn needs_recovery(e: &rusqlite::ffi::Error) -> bool {
    use rusqlite::ffi;
    matches!(
        e.extended_code,
        ffi::SQLITE_READONLY_ROLLBACK
            | ffi::SQLITE_READONLY_RECOVERY
            | ffi::SQLITE_READONLY_CANTINIT
    )
}

/// Creates an empty file readable and writable by its owner only (and its directory, owner
/// only, when missing).
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    Ok(())
}
