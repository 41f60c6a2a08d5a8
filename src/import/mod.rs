//! Hash-set importers: one module per format, the format detected from the content, every
//! reader streaming with bounded memory.
//!
//! A reader turns its source into [`KnownRecord`]s carrying the source's own category code;
//! [`grade`] maps the code to a canonical category through the profile; [`run`] drives
//! reading on one thread and the database on another, so the set goes in within one
//! transaction or not at all.

pub mod csvsets;
pub mod detect;
pub mod encase;
pub mod fields;
pub mod hashdeep;
pub mod lines;
pub mod lists;
pub mod sqlite_sets;
pub mod vics;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::cancel::Cancel;
use crate::knowndb::category::Category;
use crate::knowndb::profile::{Profile, ProfileError};
use crate::knowndb::record::KnownRecord;
use crate::knowndb::write::{ImportSummary, SetMeta, SourceFile, SourceSummary, WriteError};
use crate::knowndb::{DbError, KnownDb};
use crate::progress::ImportCounters;

pub use detect::Format;

/// Where in its source a record or an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// A line of a text file (1-based).
    Line(u64),
    /// A record of a JSON, SQLite or binary source (1-based).
    Record(u64),
    /// A record of a JSON source, with the line it ends on.
    RecordAtLine(u64, u64),
    /// The source as a whole (header, structure).
    File,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Record(n) => write!(f, "record {n}"),
            Location::RecordAtLine(n, l) => write!(f, "record {n} (line {l})"),
            Location::File => f.write_str("file"),
        }
    }
}

/// Why an import failed. Every variant names the file; malformed input names the line or
/// record too.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {at}: {reason}")]
    Malformed {
        file: PathBuf,
        at: Location,
        reason: String,
    },
    #[error("{file}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: cannot tell the format: {reason} (name it with --format)")]
    Undetected { file: PathBuf, reason: String },
    #[error("{file}")]
    Sqlite {
        file: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Db(DbError),
    #[error("interrupted; the database is unchanged")]
    Interrupted,
    #[error("{0}")]
    Usage(String),
}

/// A reader's error before the file name is attached.
#[derive(Debug)]
pub enum ReadError {
    Malformed {
        at: Location,
        reason: String,
    },
    Io(std::io::Error),
    Sqlite(rusqlite::Error),
    /// The consumer stopped (a database error, or Ctrl-C): not the source's fault.
    Stopped,
}

impl ReadError {
    pub fn malformed(at: Location, reason: impl Into<String>) -> ReadError {
        ReadError::Malformed {
            at,
            reason: reason.into(),
        }
    }

    fn with_file(self, file: &Path) -> ImportError {
        match self {
            ReadError::Malformed { at, reason } => ImportError::Malformed {
                file: file.to_owned(),
                at,
                reason,
            },
            ReadError::Io(source) => ImportError::Io {
                file: file.to_owned(),
                source,
            },
            ReadError::Sqlite(source) => ImportError::Sqlite {
                file: file.to_owned(),
                source,
            },
            ReadError::Stopped => ImportError::Interrupted,
        }
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl From<rusqlite::Error> for ReadError {
    fn from(e: rusqlite::Error) -> Self {
        ReadError::Sqlite(e)
    }
}

/// Where a reader delivers its records.
pub type Sink<'a> = dyn FnMut(KnownRecord) -> Result<(), ReadError> + 'a;

/// How the records of one import are graded.
#[derive(Clone, Debug)]
pub struct Grading {
    pub profile: Option<Profile>,
    /// `--category`: the category of records that carry no code.
    pub default_category: Option<Category>,
    /// `--map-value CODE=CATEGORY`: codes mapped on the command line, before the profile.
    pub map_values: Vec<(String, Category)>,
}

impl Grading {
    /// Fills in the canonical category and label of a record from its code.
    ///
    /// # Errors
    /// A code the profile does not list, or a code where no profile is selected.
    pub fn grade(&self, rec: &mut KnownRecord) -> Result<(), String> {
        let g = &mut rec.grade;
        if let Some(code) = &g.code {
            if let Some((_, c)) = self
                .map_values
                .iter()
                .find(|(v, _)| v.trim() == code.trim())
            {
                g.category = *c;
                return Ok(());
            }
        }
        match (&g.code, &self.profile) {
            (Some(code), Some(profile)) => {
                let m = profile.meaning(code).map_err(|e| e.to_string())?;
                g.category = m.category;
                if g.label.is_none() && !m.label.is_empty() {
                    g.label = Some(m.label.clone());
                }
            }
            (Some(code), None) => {
                // Without a profile a code must be a canonical category name.
                g.category = code.trim().parse().map_err(|_| {
                    format!("category code '{code}' is not a canonical category; map it with --map-value '{code}=<category>' or choose a profile with --profile")
                })?;
            }
            (None, profile) => {
                g.category = self
                    .default_category
                    .or(profile.as_ref().map(|p| p.missing))
                    .unwrap_or(Category::Uncategorised);
            }
        }
        Ok(())
    }
}

/// Whether a record carries a hash of the empty file (such records are skipped and counted).
pub fn is_empty_file(rec: &KnownRecord) -> bool {
    use crate::digest::{AlgorithmSet, hash_bytes};
    use std::sync::OnceLock;
    static EMPTY: OnceLock<crate::digest::Digests> = OnceLock::new();
    let e = EMPTY.get_or_init(|| hash_bytes(AlgorithmSet::all(), b""));
    let d = &rec.digests;
    (d.md5.is_some() && d.md5 == e.md5)
        || (d.sha1.is_some() && d.sha1 == e.sha1)
        || (d.sha256.is_some() && d.sha256 == e.sha256)
        || (d.blake3.is_some() && d.blake3 == e.blake3)
}

/// What to import and how.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    /// Each file with its format (from `--format`, or [`detect::detect`]).
    pub files: Vec<(PathBuf, Format)>,
    pub meta: SetMeta,
    pub grading: Grading,
    pub replace: bool,
    /// Options of the generic CSV reader.
    pub csv: csvsets::CsvOptions,
}

/// Records travel to the database thread in batches of this many.
const BATCH: usize = 4096;

/// Reads every file of `req` and imports them as one set, atomically.
///
/// # Errors
/// The first malformed record (with file and line or record), I/O and database errors, an
/// interruption; in every case the database is left as it was.
pub fn run(
    db: &mut KnownDb,
    req: &ImportRequest,
    counters: &ImportCounters,
    cancel: &Cancel,
) -> Result<ImportSummary, ImportError> {
    let mut formats = Vec::new();
    for (file, format) in &req.files {
        let size = std::fs::metadata(file)
            .map_err(|source| ImportError::Io {
                file: file.clone(),
                source,
            })?
            .len();
        counters.add_total_bytes(size);
        formats.push((file.clone(), *format, size));
    }
    let mut meta = req.meta.clone();
    if meta.format.is_empty() {
        meta.format = formats
            .first()
            .map(|f| f.1.name().to_owned())
            .unwrap_or_default();
    }
    meta.profile = req
        .grading
        .profile
        .as_ref()
        .map(|p| (p.name.clone(), p.sha256));
    meta.default_category = req.grading.default_category;

    counters.set_stage("reading");
    let (tx, rx) = mpsc::sync_channel::<Result<Vec<KnownRecord>, ImportError>>(8);
    let formats = &formats;
    // Set once the database side is done (or failed): the digest thread stops early.
    let abandon = std::sync::atomic::AtomicBool::new(false);
    let stop = || cancel.is_cancelled() || abandon.load(std::sync::atomic::Ordering::Relaxed);
    let stop = &stop;
    std::thread::scope(|scope| {
        let digests = scope.spawn(move || {
            formats
                .iter()
                .map(|(file, _, _)| {
                    fields::file_sha256(file, stop).map_err(|source| ImportError::Io {
                        file: file.clone(),
                        source,
                    })
                })
                .collect::<Result<Vec<[u8; 32]>, ImportError>>()
        });
        let reader = scope.spawn(move || read_all(formats, req, counters, cancel, tx));
        let result = db.import_set(&meta, req.replace, rx, counters, cancel, || {
            let mut summary = reader
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            let sums = digests
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            for (f, sum) in summary.files.iter_mut().zip(sums) {
                f.sha256 = sum;
            }
            Ok(summary)
        });
        counters.set_done();
        abandon.store(true, std::sync::atomic::Ordering::Relaxed);
        result.map_err(|e| match e {
            WriteError::Source(e) => e,
            WriteError::Db(DbError::Interrupted) => ImportError::Interrupted,
            WriteError::Db(e) => ImportError::Db(e),
        })
    })
}

/// The reading thread: every file in turn, records graded and batched into `tx`. A send that
/// fails means the database side stopped; its error is the one reported.
fn read_all(
    files: &[(PathBuf, Format, u64)],
    req: &ImportRequest,
    counters: &ImportCounters,
    cancel: &Cancel,
    tx: mpsc::SyncSender<Result<Vec<KnownRecord>, ImportError>>,
) -> Result<SourceSummary, ImportError> {
    let mut summary = SourceSummary::default();
    for (position, (file, format, size)) in files.iter().enumerate() {
        let mut batch = Vec::with_capacity(BATCH);
        let mut read: u64 = 0;
        let mut empty: u64 = 0;
        let result = {
            let mut sink = |mut rec: KnownRecord| -> Result<(), ReadError> {
                read += 1;
                rec.grade.record = rec.number;
                rec.grade.file = position as u32;
                if is_empty_file(&rec) {
                    empty += 1;
                    return Ok(());
                }
                if let Err(reason) = req.grading.grade(&mut rec) {
                    let at = if format.is_line_based() {
                        Location::Line(rec.number)
                    } else {
                        Location::Record(rec.number)
                    };
                    return Err(ReadError::Malformed { at, reason });
                }
                batch.push(rec);
                if batch.len() == BATCH {
                    if cancel.is_cancelled() {
                        return Err(ReadError::Stopped);
                    }
                    counters.add_read(BATCH as u64);
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.send(Ok(full)).map_err(|_| ReadError::Stopped)?;
                }
                Ok(())
            };
            format.read(file, &req.csv, counters, cancel, &mut sink)
        };
        if let Err(e) = result {
            let e = e.with_file(file);
            // If the database side hung up, it reports its own error.
            let _ = tx.send(Err(e));
            return Err(ImportError::Interrupted);
        }
        if cancel.is_cancelled() {
            let _ = tx.send(Err(ImportError::Interrupted));
            return Err(ImportError::Interrupted);
        }
        counters.add_read(batch.len() as u64);
        if !batch.is_empty() && tx.send(Ok(batch)).is_err() {
            return Err(ImportError::Interrupted);
        }
        summary.rows_read += read;
        summary.rows_empty += empty;
        summary.files.push(SourceFile {
            path: file.clone(),
            size: *size,
            sha256: [0; 32],
            format: format.name().to_owned(),
            rows_read: read,
        });
    }
    Ok(summary)
}

impl From<DbError> for ImportError {
    fn from(e: DbError) -> Self {
        ImportError::Db(e)
    }
}
