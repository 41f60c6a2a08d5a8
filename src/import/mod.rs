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
pub(crate) mod fields;
pub mod hashdeep;
pub(crate) mod lines;
pub mod lists;
pub mod rejects;
pub(crate) mod sqlite_sets;
pub mod vics;
pub mod vpdq;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::cancel::Cancel;
use crate::knowndb::category::Category;
use crate::knowndb::profile::{Profile, ProfileError};
use crate::knowndb::record::{KnownRecord, UnmappedCode};
use crate::knowndb::write::{ImportSummary, SetMeta, SourceFile, SourceSummary, WriteError};
use crate::knowndb::{DbError, KnownDb};
use crate::progress::{ImportCounters, ImportStage};

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
    #[error("{file}: cannot tell the format: {reason}")]
    Undetected { file: PathBuf, reason: String },
    #[error(
        "{file}: a {kind}, not a regular file: a hash set is read from a file (copy it into one first)"
    )]
    NotAFile { file: PathBuf, kind: &'static str },
    #[error("{file}")]
    Sqlite {
        file: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Db(DbError),
    #[error("cannot write the list of rejected records")]
    RejectsFile(#[source] std::io::Error),
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
    /// The rejects file (`--skip-invalid`) could not be written: not the source's fault.
    Rejects(std::io::Error),
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
            ReadError::Rejects(e) => ImportError::RejectsFile(e),
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

/// What kind of file `meta` describes, when it is not a regular file.
fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_fifo() {
        Some("FIFO (named pipe)")
    } else if t.is_dir() {
        Some("directory")
    } else if t.is_socket() {
        Some("socket")
    } else if t.is_block_device() {
        Some("block device")
    } else if t.is_char_device() {
        Some("character device")
    } else {
        Some("special file")
    }
}

/// Checks, without opening it, that a hash-set path is a regular file (following symlinks),
/// and gives its size. Opening a FIFO would block until a writer comes, deaf to Ctrl-C; a
/// device or a directory is no hash set either.
///
/// # Errors
/// The path cannot be examined, or is not a regular file.
pub fn check_source(file: &Path) -> Result<u64, ImportError> {
    let meta = std::fs::metadata(file).map_err(|source| ImportError::Io {
        file: file.to_owned(),
        source,
    })?;
    match not_regular(&meta) {
        Some(kind) => Err(ImportError::NotAFile {
            file: file.to_owned(),
            kind,
        }),
        None => Ok(meta.len()),
    }
}

/// Opens a hash-set file for reading, refusing anything but a regular file even if the path
/// was swapped since [`check_source`]: the open does not wait for a FIFO's writer
/// (`O_NONBLOCK`, which has no effect on reading a regular file), and the opened file is
/// examined (`fstat`) before it is read.
///
/// # Errors
/// I/O errors; a path that is not a regular file (`InvalidInput`).
pub fn open_source(file: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)?;
    if let Some(kind) = not_regular(&f.metadata()?) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("a {kind}, not a regular file"),
        ));
    }
    Ok(f)
}

/// A record a reader could not read: where it is and why. The reader goes on after it; the
/// sink decides whether the import fails there (the default) or leaves it out
/// (`--skip-invalid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub at: Location,
    pub reason: String,
}

/// Where a reader delivers its records, and the records it could not read. An error it
/// returns ends the reading.
pub type Sink<'a> = dyn FnMut(Result<KnownRecord, Rejected>) -> Result<(), ReadError> + 'a;

/// Hands one record to `sink`: a record read, or (a malformed one) its rejection. Other
/// errors (I/O, a stopped consumer) end the reading.
///
/// # Errors
/// The sink's error, or `parsed`'s when it is not about the record's content.
pub fn deliver(sink: &mut Sink, parsed: Result<KnownRecord, ReadError>) -> Result<(), ReadError> {
    match parsed {
        Ok(rec) => sink(Ok(rec)),
        Err(ReadError::Malformed { at, reason }) => sink(Err(Rejected { at, reason })),
        Err(e) => Err(e),
    }
}

/// How the records of one import are graded.
#[derive(Clone, Debug)]
pub struct Grading {
    pub profile: Option<Profile>,
    /// `--category`: the category of records that carry no code.
    pub default_category: Option<Category>,
    /// `--map-value CODE=CATEGORY`: codes mapped on the command line, before the profile.
    pub map_values: Vec<(String, Category)>,
    /// `--strict-codes`: a code neither mapped nor in the profile makes the record malformed,
    /// instead of importing it as `uncategorised`.
    pub strict_codes: bool,
}

/// How a record's code was graded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Graded {
    /// By `--map-value`, the profile, or the category of records without a code.
    Mapped,
    /// A code neither mapped nor in the profile: imported as `uncategorised`, its code and
    /// label kept.
    Unmapped,
}

impl Grading {
    /// Fills in the canonical category and label of a record from its code. A code the
    /// profile does not list (or, without a profile, that is no canonical category name) is
    /// `uncategorised`: never a grade below it, as `non_pertinent` or `known_file` are; its
    /// code and label stay on the record.
    ///
    /// # Errors
    /// With `strict_codes`, a code neither mapped nor in the profile.
    pub fn grade(&self, rec: &mut KnownRecord) -> Result<Graded, String> {
        let g = &mut rec.grade;
        if let Some(code) = &g.code
            && let Some((_, c)) = self
                .map_values
                .iter()
                .find(|(v, _)| v.trim() == code.trim())
        {
            g.category = *c;
            return Ok(Graded::Mapped);
        }
        let unmapped = |g: &mut crate::knowndb::record::Grade, reason: String| {
            if self.strict_codes {
                return Err(reason);
            }
            g.category = Category::Uncategorised;
            Ok(Graded::Unmapped)
        };
        match (&g.code, &self.profile) {
            (Some(code), Some(profile)) => match profile.meaning(code) {
                Ok(m) => {
                    g.category = m.category;
                    if g.label.is_none() && !m.label.is_empty() {
                        g.label = Some(m.label.clone());
                    }
                }
                Err(e) => {
                    let reason = format!(
                        "{e}; map it with --map-value '{}=<category>', or leave out --strict-codes to import it as uncategorised",
                        code.trim()
                    );
                    return unmapped(g, reason);
                }
            },
            (Some(code), None) => {
                // Without a profile a code must be a canonical category name (in any case). Any
                // other value is refused, --strict-codes or not: with no profile there is no list
                // of codes the set was written against, and a value such as "CSAM " or "Cat A"
                // taken as uncategorised would grade illegal material below what the set says.
                match code.trim().to_ascii_lowercase().parse() {
                    Ok(c) => g.category = c,
                    Err(_) => {
                        return Err(format!(
                            "category code '{}' is not a canonical category; map it with --map-value '{}=<category>' or choose a profile with --profile",
                            code,
                            code.trim()
                        ));
                    }
                }
            }
            (None, profile) => {
                g.category = self
                    .default_category
                    .or(profile.as_ref().map(|p| p.missing))
                    .unwrap_or(Category::Uncategorised);
            }
        }
        Ok(Graded::Mapped)
    }
}

/// The most distinct unmapped codes one import counts: more means the category column is
/// not one (the set is refused at the record that brings one more).
const MAX_UNMAPPED_CODES: usize = 1000;

/// The unmapped codes of one import with their records, in the order met.
#[derive(Default)]
struct UnmappedCodes {
    codes: Vec<UnmappedCode>,
    index: std::collections::HashMap<String, usize>,
}

impl UnmappedCodes {
    fn add(&mut self, code: &str, label: Option<&str>) -> Result<(), String> {
        let code = code.trim();
        if let Some(&i) = self.index.get(code) {
            let u = &mut self.codes[i];
            u.records += 1;
            if u.label.is_none() {
                u.label = label.map(str::to_owned);
            }
            return Ok(());
        }
        if self.codes.len() == MAX_UNMAPPED_CODES {
            return Err(format!(
                "more than {MAX_UNMAPPED_CODES} different category codes not in the profile: is the category column the right one?"
            ));
        }
        self.index.insert(code.to_owned(), self.codes.len());
        self.codes.push(UnmappedCode {
            code: code.to_owned(),
            label: label.map(str::to_owned),
            records: 1,
        });
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
    /// `--skip-invalid`: where the malformed records go (without it, the first one rejects
    /// the set).
    pub skip_invalid: Option<rejects::RejectsTarget>,
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
        let size = check_source(file)?;
        counters.add_total_bytes(size);
        formats.push((file.clone(), *format, size));
    }
    let mut meta = req.meta.clone();
    if meta.format.is_empty() {
        meta.format = formats.first().map_or("", |f| f.1.name());
    }
    meta.profile = req
        .grading
        .profile
        .as_ref()
        .map(|p| (p.name.clone(), p.sha256));
    meta.default_category = req.grading.default_category;

    // A rejects file named by the user is created now: a name already taken is refused
    // before anything is read.
    let mut rejects = match &req.skip_invalid {
        Some(target) => Some(
            rejects::Rejects::new(target.clone(), &req.meta.name)
                .map_err(ImportError::RejectsFile)?,
        ),
        None => None,
    };
    let rejects_ref = rejects.as_mut();

    counters.set_stage(ImportStage::Reading);
    let (tx, rx) = mpsc::sync_channel::<Result<Vec<KnownRecord>, ImportError>>(8);
    let formats = &formats;
    // Set once the database side is done (or failed): the digest thread stops early.
    let abandon = std::sync::atomic::AtomicBool::new(false);
    let stop = || cancel.is_cancelled() || abandon.load(std::sync::atomic::Ordering::Relaxed);
    let stop = &stop;
    let result = std::thread::scope(|scope| {
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
        let reader = scope.spawn(move || read_all(formats, req, counters, cancel, tx, rejects_ref));
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
    });
    if result.is_err() {
        // Nothing of the set was kept: neither is the list of what it left out.
        if let Some(r) = rejects.as_mut() {
            r.discard();
        }
    }
    result
}

/// The reading thread: every file in turn, records graded and batched into `tx`. A send that
/// fails means the database side stopped; its error is the one reported. With `rejects`
/// (`--skip-invalid`), malformed records are written there and left out.
fn read_all(
    files: &[(PathBuf, Format, u64)],
    req: &ImportRequest,
    counters: &ImportCounters,
    cancel: &Cancel,
    tx: mpsc::SyncSender<Result<Vec<KnownRecord>, ImportError>>,
    mut rejects: Option<&mut rejects::Rejects>,
) -> Result<SourceSummary, ImportError> {
    let mut summary = SourceSummary::default();
    let mut unmapped = UnmappedCodes::default();
    for (position, (file, format, size)) in files.iter().enumerate() {
        let mut batch = Vec::with_capacity(BATCH);
        let mut read: u64 = 0;
        let mut empty: u64 = 0;
        let mut rejected: u64 = 0;
        let result = {
            let mut reject = |r: Rejected| -> Result<(), ReadError> {
                match rejects.as_deref_mut() {
                    None => Err(ReadError::Malformed {
                        at: r.at,
                        reason: r.reason,
                    }),
                    Some(out) => {
                        rejected += 1;
                        out.add(file, r.at, &r.reason).map_err(ReadError::Rejects)
                    }
                }
            };
            let mut sink = |item: Result<KnownRecord, Rejected>| -> Result<(), ReadError> {
                read += 1;
                let mut rec = match item {
                    Ok(rec) => rec,
                    Err(r) => return reject(r),
                };
                rec.grade.record = rec.number;
                rec.grade.file = position as u32;
                if is_empty_file(&rec) {
                    empty += 1;
                    return Ok(());
                }
                let at = if format.is_line_based() {
                    Location::Line(rec.number)
                } else {
                    Location::Record(rec.number)
                };
                match req.grading.grade(&mut rec) {
                    Ok(Graded::Mapped) => {}
                    Ok(Graded::Unmapped) => {
                        let code = rec.grade.code.as_deref().unwrap_or_default();
                        if let Err(reason) = unmapped.add(code, rec.grade.label.as_deref()) {
                            return Err(ReadError::Malformed { at, reason });
                        }
                    }
                    Err(reason) => return reject(Rejected { at, reason }),
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
        summary.rows_rejected += rejected;
        summary.files.push(SourceFile {
            path: file.clone(),
            size: *size,
            sha256: [0; 32],
            format: format.name(),
            rows_read: read,
        });
    }
    if let Some(out) = rejects {
        match out.finish() {
            Ok(path) => summary.rejects_file = path,
            Err(e) => {
                let e = ImportError::RejectsFile(e);
                let _ = tx.send(Err(e));
                return Err(ImportError::Interrupted);
            }
        }
    }
    summary.unmapped = unmapped.codes;
    Ok(summary)
}

impl From<DbError> for ImportError {
    fn from(e: DbError) -> Self {
        ImportError::Db(e)
    }
}
