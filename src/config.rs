//! Validated settings: the command line is turned into these once, and every stage reads them.

use std::path::{Path, PathBuf};

use crate::digest::{Algorithm, AlgorithmSet};
use crate::hash::HashConfig;
use crate::output;
use crate::read::evidence::FileId;
use crate::report::Format;

/// Everything `hashsift hash` needs to run.
#[derive(Clone, Debug)]
pub struct HashSettings {
    pub hash: HashConfig,
    pub format: Format,
    /// Where to write the listing; `None` for stdout.
    pub output: Option<PathBuf>,
    pub quiet: bool,
}

/// A setting that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "the {format} format cannot carry {algorithm} (hashdeep rejects listings with it); use --format jsonl or csv, or leave {algorithm} out of -c"
    )]
    UnsupportedAlgorithm {
        format: &'static str,
        algorithm: Algorithm,
    },
    #[error("no algorithm selected")]
    NoAlgorithm,
    #[error("--pdq needs --format jsonl or csv (a hashdeep listing has no place for PDQ)")]
    PdqFormat,
    #[error("cannot resolve {path}: {source}")]
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "refusing to write {output} inside the evidence root {root}: nothing may be created in the evidence"
    )]
    OutputInsideEvidence { output: PathBuf, root: PathBuf },
    #[error(
        "refusing to write {output}: it is the evidence file {evidence} (the same file), which nothing may change"
    )]
    OutputIsEvidence { output: PathBuf, evidence: PathBuf },
    #[error(
        "refusing to use the database {db} inside the evidence root {root}: SQLite keeps side files beside a database it reads (-wal, -shm), and nothing may be created in the evidence; copy the database out of the evidence"
    )]
    DatabaseInsideEvidence { db: PathBuf, root: PathBuf },
    #[error("the directory of the output file {0} does not exist")]
    OutputDirMissing(PathBuf),
    #[error("refusing to write to the block device {0}: it could hold evidence")]
    OutputIsDevice(PathBuf),
    #[error(
        "{0} worker threads: give 1 to {MAX_THREADS} (hashing is bound by the cores and the disk; the default is one per core)"
    )]
    Threads(usize),
    #[error(transparent)]
    ReportDir(#[from] output::ReportDirError),
    #[error("{0}")]
    Invalid(String),
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Hashdeep => "hashdeep",
        Format::Jsonl => "jsonl",
        Format::Csv => "csv",
    }
}

/// Makes `path` absolute against the current directory without resolving symlinks.
///
/// # Errors
/// When the current directory cannot be read.
pub fn absolute(path: &Path) -> Result<PathBuf, ConfigError> {
    std::path::absolute(path).map_err(|source| ConfigError::Path {
        path: path.to_owned(),
        source,
    })
}

/// What `hash` looks at beyond the digests of each file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Looking {
    /// Decode every image and give its PDQ hash, decoding JPEGs at this scale.
    pub pdq: Option<crate::media::decode::JpegScale>,
    /// List the members of every container.
    pub archives: bool,
    /// Hash every video with vPDQ, sampled so.
    pub video: Option<crate::media::video::VideoConfig>,
    /// Open disk images so.
    pub images: Option<crate::expand::ImageOptions>,
}

impl HashSettings {
    /// Validates raw settings.
    ///
    /// `algorithms` is `None` when the user chose none: every algorithm `format` can carry.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting that cannot be used.
    pub fn new(
        roots: &[PathBuf],
        algorithms: Option<AlgorithmSet>,
        threads: Option<usize>,
        format: Format,
        output: Option<&Path>,
        quiet: bool,
        looking: Looking,
    ) -> Result<Self, ConfigError> {
        let Looking {
            pdq,
            archives,
            video,
            images,
        } = looking;
        if pdq.is_some() && format == Format::Hashdeep {
            return Err(ConfigError::PdqFormat);
        }
        let supported = format.supported();
        let algorithms = match algorithms {
            None => supported,
            Some(set) => {
                if let Some(algorithm) = set.iter().find(|a| !supported.contains(*a)) {
                    return Err(ConfigError::UnsupportedAlgorithm {
                        format: format_name(format),
                        algorithm,
                    });
                }
                set
            }
        };
        if algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm);
        }
        let roots = roots
            .iter()
            .map(|r| absolute(r))
            .collect::<Result<Vec<_>, _>>()?;
        let output = match output {
            None => None,
            Some(o) => Some(check_output(&absolute(o)?, &roots)?),
        };
        let threads = threads_or_default(threads)?;
        Ok(HashSettings {
            hash: HashConfig {
                roots,
                algorithms,
                threads,
                sniff: false,
                pdq: pdq.map(|scale| crate::media::PdqConfig {
                    scale,
                    dihedral: false,
                }),
                archives: archives.then(crate::container::Limits::default),
                video,
                images,
            },
            format,
            output,
            quiet,
        })
    }
}

/// Checks that `output` can be written without touching the evidence: its directory (by device
/// and inode, and by its place in its filesystem, so that a symlink or a bind mount counts) is
/// not inside a root; it is not itself a root; and it is not a block device. Returns the path
/// with its directory resolved.
fn check_output(output: &Path, roots: &[PathBuf]) -> Result<PathBuf, ConfigError> {
    use std::os::unix::fs::FileTypeExt;
    let missing = || ConfigError::OutputDirMissing(output.to_owned());
    let name = output.file_name().ok_or_else(missing)?;
    let dir =
        std::fs::canonicalize(output.parent().unwrap_or(Path::new("/"))).map_err(|_| missing())?;
    let resolved = dir.join(name);
    let existing = std::fs::metadata(&resolved).ok();
    let same_as_root = |r: &PathBuf| {
        existing
            .as_ref()
            .is_some_and(|m| std::fs::metadata(r).is_ok_and(|rm| FileId::of(&rm) == FileId::of(m)))
    };
    let holding = output::evidence_holding(&dir, roots).map_err(|source| ConfigError::Path {
        path: dir.clone(),
        source,
    })?;
    // A link under the name is replaced, but a FIFO or device it leads to is written through
    // (`-o /dev/stdout`): where it leads may not be in the evidence either.
    let through_link =
        match std::fs::symlink_metadata(&resolved) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(&resolved) {
                Ok(target) => output::evidence_holding(output::parent_dir(&target), roots)
                    .map_err(|source| ConfigError::Path {
                        path: target.clone(),
                        source,
                    })?,
                Err(_) => None,
            },
            _ => None,
        };
    if let Some(root) = holding.or(through_link) {
        return Err(ConfigError::OutputInsideEvidence {
            output: output.to_owned(),
            root,
        });
    }
    if let Some(evidence) = roots.iter().find(|r| same_as_root(r)).cloned() {
        return Err(ConfigError::OutputIsEvidence {
            output: output.to_owned(),
            evidence,
        });
    }
    if existing.is_some_and(|m| m.file_type().is_block_device()) {
        return Err(ConfigError::OutputIsDevice(output.to_owned()));
    }
    Ok(resolved)
}

/// Refuses a database whose folder an evidence root holds (or is): reading it, SQLite creates
/// its `-wal` and `-shm` files beside it. A database not yet there is the open's to report.
fn refuse_database_inside_evidence(db: &Path, roots: &[PathBuf]) -> Result<(), ConfigError> {
    let dir = output::parent_dir(db);
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return Ok(());
    };
    match output::evidence_holding(&dir, roots) {
        Ok(Some(root)) => Err(ConfigError::DatabaseInsideEvidence {
            db: db.to_owned(),
            root,
        }),
        Ok(None) => Ok(()),
        Err(source) => Err(ConfigError::Path { path: dir, source }),
    }
}

/// Refuses a report directory `out` (absolute; it or its nearest existing ancestor, when it is
/// still to be created) that an evidence root holds or is.
fn refuse_inside_evidence(out: &Path, roots: &[PathBuf]) -> Result<(), ConfigError> {
    let path_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ConfigError::Path { path, source }
    };
    let (base, _) = output::nearest_existing(out).map_err(path_err(out))?;
    match output::evidence_holding(&base, roots).map_err(path_err(&base))? {
        Some(root) => Err(ConfigError::OutputInsideEvidence {
            output: out.to_owned(),
            root,
        }),
        None => Ok(()),
    }
}

/// Whether `name` is one of the files hashsift keeps in a report directory: the report's,
/// the journal, and the temporary names they are written under.
fn is_report_name(name: &std::ffi::OsStr) -> bool {
    use crate::report::model::{COVERED, MANIFEST};
    COVERED
        .iter()
        .chain([&MANIFEST, &crate::scan::journal::JOURNAL])
        .any(|n| name == *n)
        || output::is_partial_name(name)
}

/// Everything `hashsift scan` needs to run.
#[derive(Clone, Debug)]
pub struct ScanSettings {
    pub scan: crate::scan::ScanConfig,
    /// The report directory, resolved; it exists once the settings are made.
    pub out: PathBuf,
    pub quiet: bool,
}

impl ScanSettings {
    /// Validates raw settings and creates the report directory (owner-only) if missing.
    ///
    /// # Errors
    /// A [`ConfigError`]: the directory is inside (or is) an evidence root, or holds a report
    /// already, or cannot be created.
    pub fn new(
        roots: &[PathBuf],
        out: &Path,
        db: PathBuf,
        threads: Option<usize>,
        lookup: crate::scan::LookupChoice,
        pdq: Option<crate::scan::PdqMatching>,
        quiet: bool,
    ) -> Result<Self, ConfigError> {
        let threads = threads_or_default(threads)?;
        let roots = roots
            .iter()
            .map(|r| absolute(r))
            .collect::<Result<Vec<_>, _>>()?;
        // The directory and the parents to create may not exist yet: the nearest existing
        // one is compared with the roots.
        let out = absolute(out)?;
        refuse_inside_evidence(&out, &roots)?;
        refuse_database_inside_evidence(&db, &roots)?;
        let existed = match std::fs::metadata(&out) {
            Ok(m) if !m.is_dir() => {
                return Err(ConfigError::Invalid(format!(
                    "{} exists and is not a directory",
                    out.display()
                )));
            }
            Ok(_) => true,
            Err(_) => false,
        };
        if std::fs::symlink_metadata(out.join(crate::scan::journal::JOURNAL)).is_ok() {
            return Err(ConfigError::Invalid(format!(
                "{} holds the journal of an interrupted scan: resume it with `hashsift scan --resume {}`, or give a new directory",
                out.display(),
                out.display()
            )));
        }
        let report = crate::report::model::ITEMS;
        if std::fs::symlink_metadata(out.join(report)).is_ok() {
            return Err(ConfigError::Invalid(format!(
                "{} already holds a report ({report}); give a new directory",
                out.display()
            )));
        }
        if existed {
            output::check_report_dir(&out, is_report_name)?;
        }
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&out)
                .map_err(|source| ConfigError::Path {
                    path: out.clone(),
                    source,
                })?;
        }
        Ok(ScanSettings {
            scan: crate::scan::ScanConfig {
                roots,
                db,
                threads,
                lookup,
                pdq,
                archives: Some(crate::container::Limits::default()),
                video: Some(crate::media::video::VideoConfig::default()),
                images: Some(crate::expand::ImageOptions {
                    verify: true,
                    open_all: false,
                }),
            },
            out,
            quiet,
        })
    }
}

impl ScanSettings {
    /// Checks that the report directory `dir` holds a scan to resume: its journal, and no
    /// complete report. Returns the directory, absolute.
    ///
    /// # Errors
    /// A [`ConfigError`] saying why there is nothing to resume.
    pub fn resumable(dir: &Path) -> Result<PathBuf, ConfigError> {
        let dir = absolute(dir)?;
        if std::fs::metadata(&dir).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            return Err(ConfigError::Invalid(format!(
                "there is no directory {}, so no scan journal to resume from",
                dir.display()
            )));
        }
        // Before anything in it is read: nobody else can have planted a name in it.
        output::check_report_dir(&dir, is_report_name)?;
        let manifest = dir.join(crate::report::model::MANIFEST);
        let complete = crate::report::manifest::read(&manifest)
            .ok()
            .and_then(|v| v.get("complete").and_then(serde_json::Value::as_bool));
        if complete == Some(true) {
            return Err(ConfigError::Invalid(format!(
                "the scan in {} is complete (its {} says so): there is nothing to resume",
                dir.display(),
                crate::report::model::MANIFEST
            )));
        }
        if !dir.join(crate::scan::journal::JOURNAL).exists() {
            return Err(ConfigError::Invalid(format!(
                "{} holds no scan journal ({}) to resume from",
                dir.display(),
                crate::scan::journal::JOURNAL
            )));
        }
        Ok(dir)
    }

    /// The settings of the scan a journal records, to resume it into `out` (from
    /// [`ScanSettings::resumable`]) with `threads` workers, against the database `db` when
    /// given (it moved since), else the journal's.
    ///
    /// # Errors
    /// The report directory is now inside an evidence root; an evidence root is not there.
    pub fn resumed(
        out: PathBuf,
        start: &crate::scan::journal::Start,
        db: Option<PathBuf>,
        threads: Option<usize>,
        quiet: bool,
    ) -> Result<Self, ConfigError> {
        refuse_inside_evidence(&out, &start.provenance.roots)?;
        // A root gone (the image not mounted): the walk would make it one error and the
        // report would replace the journal's work.
        for root in &start.provenance.roots {
            if let Err(e) = std::fs::symlink_metadata(root) {
                return Err(ConfigError::Invalid(format!(
                    "the evidence root {} is not there ({e}): mount the evidence where it was when the scan began, then resume (the journal is kept)",
                    root.display()
                )));
            }
        }
        let db = match db {
            Some(db) => absolute(&db)?,
            None => start.provenance.db.clone(),
        };
        refuse_database_inside_evidence(&db, &start.provenance.roots)?;
        Ok(ScanSettings {
            scan: crate::scan::ScanConfig {
                roots: start.provenance.roots.clone(),
                db,
                threads: threads_or_default(threads)?,
                lookup: start.lookup,
                pdq: start.pdq,
                archives: start.archives.then(crate::container::Limits::default),
                video: start.video,
                images: start.images,
            },
            out,
            quiet,
        })
    }
}

/// The most worker threads hashsift starts (`-j`). Hashing is bound by the cores and the disk
/// long before, and idle workers spin looking for work: `hash -q -j N` of 18 small files on
/// the 2-core development machine (debug build, other builds running) took 0.05-0.2 s with
/// 256 threads, 0.5-0.6 s with 384-512, 1.3-2.8 s with 640-1024 (11.7 s once); the issue
/// measured 49 s for 5,000.
pub const MAX_THREADS: usize = 256;

/// Checks a number of worker threads: 1 to [`MAX_THREADS`].
///
/// # Errors
/// [`ConfigError::Threads`] for 0 or more than [`MAX_THREADS`].
pub fn check_threads(n: usize) -> Result<std::num::NonZeroUsize, ConfigError> {
    std::num::NonZeroUsize::new(n)
        .filter(|n| n.get() <= MAX_THREADS)
        .ok_or(ConfigError::Threads(n))
}

/// `threads` as given (checked), else one per core (at most [`MAX_THREADS`]).
fn threads_or_default(threads: Option<usize>) -> Result<usize, ConfigError> {
    match threads {
        Some(n) => Ok(check_threads(n)?.get()),
        None => Ok(default_threads().min(MAX_THREADS)),
    }
}

/// One worker per available core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Where `hashsift vpdq` writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VpdqOutput {
    Stdout,
    /// One video's lines into this file.
    File(PathBuf),
    /// Each video's lines into `NAME.txt` here (NAME the video's file name).
    Dir(PathBuf),
}

/// Validated settings of `hashsift vpdq`.
#[derive(Clone, Debug)]
pub struct VpdqSettings {
    pub videos: Vec<PathBuf>,
    pub output: VpdqOutput,
    pub video: crate::media::video::VideoConfig,
}

impl VpdqSettings {
    /// Validates raw settings: one video may go to stdout or a file, several need a
    /// directory, and no output may be inside the evidence (the videos).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting that cannot be used.
    pub fn new(
        videos: &[PathBuf],
        output: Option<&Path>,
        video: crate::media::video::VideoConfig,
    ) -> Result<Self, ConfigError> {
        let videos = videos
            .iter()
            .map(|v| absolute(v))
            .collect::<Result<Vec<_>, _>>()?;
        let output = match output {
            None if videos.len() > 1 => {
                return Err(ConfigError::Invalid(
                    "several videos: give -o DIR, where each video's hashes are written as NAME.txt"
                        .to_owned(),
                ));
            }
            None => VpdqOutput::Stdout,
            Some(o) if videos.len() > 1 || std::fs::metadata(o).is_ok_and(|m| m.is_dir()) => {
                let dir = absolute(o)?;
                if std::fs::metadata(&dir).is_ok_and(|m| !m.is_dir()) {
                    return Err(ConfigError::Invalid(format!(
                        "-o {}: not a directory; several videos are written into one, each as \
                         NAME.txt",
                        dir.display()
                    )));
                }
                refuse_inside_evidence(&dir, &videos)?;
                // NAME.txt is a video given (detected by content, whatever its name), or a hard
                // link to one: writing it would replace evidence.
                let given = |p: &Path| std::fs::symlink_metadata(p).ok().map(|m| FileId::of(&m));
                let ids: Vec<FileId> = videos.iter().filter_map(|v| given(v)).collect();
                for v in &videos {
                    let mut name = v.file_name().unwrap_or_default().to_owned();
                    name.push(".txt");
                    let target = dir.join(name);
                    if let Some(i) = given(&target).and_then(|t| ids.iter().position(|&id| id == t))
                    {
                        return Err(ConfigError::OutputIsEvidence {
                            output: target,
                            evidence: videos[i].clone(),
                        });
                    }
                }
                VpdqOutput::Dir(dir)
            }
            Some(o) => VpdqOutput::File(check_output(&absolute(o)?, &videos)?),
        };
        Ok(VpdqSettings {
            videos,
            output,
            video,
        })
    }
}
