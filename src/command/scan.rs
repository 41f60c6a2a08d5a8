//! `scan` as a whole: the journal created (or an interrupted scan's resumed), the evidence
//! scanned, the report written, the journal removed once the report is complete, and the
//! exit status. The command line only gathers the settings and says what happened.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use crate::cancel::Cancel;
use crate::config::{ConfigError, ScanSettings};
use crate::exit::ExitStatus;
use crate::knowndb::{Access, DbError, KnownDb};
use crate::progress::{Counters, Phase};
use crate::read::Stage;
use crate::report;
use crate::scan::journal::{Journal, JournalError, Session, Start};
use crate::scan::{self, Provenance, ScanError, ScanRun};

/// Why a scan could not begin or end (per-file failures are records, not errors).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot resume the scan")]
    Resume(#[from] JournalError),
    #[error("cannot clear {} of unfinished files", dir.display())]
    Clear { dir: PathBuf, source: io::Error },
    #[error("cannot start the scan's journal in {}", dir.display())]
    Journal { dir: PathBuf, source: io::Error },
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("cannot write the report into {}", dir.display())]
    Report { dir: PathBuf, source: io::Error },
}

/// Who asks for a new scan: recorded in its journal and every report file.
#[derive(Clone, Debug, Default)]
pub struct Examination {
    pub case: Option<String>,
    pub evidence_id: Option<String>,
    pub examiner: Option<String>,
}

/// A scan ready to run: its settings and its journal, open for writing.
#[derive(Debug)]
pub struct ScanJob {
    pub settings: ScanSettings,
    journal: Journal,
}

/// What a scan did: the run, the report's manifest digest, and what befell the journal.
#[derive(Debug)]
pub struct ScanOutcome {
    pub run: ScanRun,
    /// The SHA-256 of `manifest.json`, to note for verifying the report later.
    pub manifest_sha256: String,
    /// The journal could not be written to its end, or (the scan complete) removed: where it
    /// is, and why. The report is whole either way.
    pub journal_problem: Option<JournalProblem>,
}

/// What went wrong with the journal after the scan.
#[derive(Debug)]
pub enum JournalProblem {
    /// Not every record reached the disk: a resumed scan reads those files again.
    Unwritten { path: PathBuf, error: io::Error },
    /// The scan is complete and its journal stays (harmless; removable by hand).
    NotRemoved { path: PathBuf, error: io::Error },
}

impl ScanJob {
    /// A new scan: the database opened once (a database that cannot be opened stops the scan
    /// before it has a journal, so that it can be run again into the same directory), then
    /// the journal made in the report directory.
    ///
    /// # Errors
    /// The database cannot be opened, or the journal cannot be written.
    pub fn create(settings: ScanSettings, who: Examination) -> Result<ScanJob, JobError> {
        KnownDb::open(&settings.scan.db, Access::ReadOnly)?;
        let start = Start {
            provenance: Provenance {
                case: who.case,
                evidence_id: who.evidence_id,
                examiner: who.examiner,
                ..Provenance::of_this_process(settings.scan.roots.clone(), settings.scan.db.clone())
            },
            lookup: settings.scan.lookup,
            pdq: settings.scan.pdq,
            archives: settings.scan.archives.is_some(),
            video: settings.scan.video,
            images: settings.scan.images,
        };
        let journal =
            Journal::create(&settings.out, start).map_err(|source| JobError::Journal {
                dir: settings.out.clone(),
                source,
            })?;
        Ok(ScanJob { settings, journal })
    }

    /// The interrupted scan whose report directory is `dir`, with its evidence, database (or
    /// `db`, when it moved) and settings; `command` is this session's, for the journal.
    ///
    /// # Errors
    /// No journal to resume there, one in use or from another version, the directory holds a
    /// complete report, or its unfinished files cannot be removed.
    pub fn resume(
        dir: &Path,
        command: Vec<OsString>,
        db: Option<PathBuf>,
        threads: Option<usize>,
        quiet: bool,
    ) -> Result<ScanJob, JobError> {
        let out = ScanSettings::resumable(dir)?;
        let journal = Journal::resume(&out, command)?;
        // Again under the journal's lock: a session finishing meanwhile wrote the report.
        ScanSettings::resumable(&out)?;
        let settings = ScanSettings::resumed(out, journal.start(), db, threads, quiet)?;
        // A session killed while writing the report leaves its temporary files.
        report::remove_partial_files(&settings.out).map_err(|source| JobError::Clear {
            dir: settings.out.clone(),
            source,
        })?;
        Ok(ScanJob { settings, journal })
    }

    /// The journal, as opened (what a resumed session found in it).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Scans, writes the report, and removes the journal when the report is complete (an
    /// incomplete one keeps it, to resume from).
    ///
    /// # Errors
    /// The scan could not run, or the report could not be written.
    pub fn run(self, cancel: &Cancel, counters: &Counters) -> Result<ScanOutcome, JobError> {
        let ScanJob { settings, journal } = self;
        let run = scan::run(&settings.scan, cancel, counters, Some(&journal))?;
        // The journal's records are all on disk before the report is: a kill while writing
        // the report loses no hashing.
        let journaled = journal.finish();
        let provenance = Provenance {
            // The version that writes the report (the journal's is the one that began it).
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            roots: settings.scan.roots.clone(),
            // The database as this session read it (a resume may name it anew).
            db: settings.scan.db.clone(),
            ..journal.start().provenance.clone()
        };
        let manifest_sha256 = report::scan::write(&settings.out, &provenance, &run, counters)
            .map_err(|source| JobError::Report {
                dir: settings.out.clone(),
                source,
            })?;
        counters.set_phase(Phase::Done);
        let path = journal.path().to_owned();
        let journal_problem = match journaled {
            Err(error) => Some(JournalProblem::Unwritten { path, error }),
            Ok(()) if run.complete => journal
                .remove()
                .err()
                .map(|error| JournalProblem::NotRemoved { path, error }),
            Ok(()) => None,
        };
        Ok(ScanOutcome {
            run,
            manifest_sha256,
            journal_problem,
        })
    }
}

impl ScanOutcome {
    /// Items that could not be read (interruptions aside).
    pub fn errors(&self) -> usize {
        self.run
            .items()
            .filter(|i| matches!(&i.item.error, Some(e) if e.stage != Stage::Interrupted))
            .count()
    }

    /// This session, when it resumed the scan.
    pub fn this_session(&self) -> Option<&Session> {
        self.run.resumed.last()
    }

    /// Interrupted, then known illegal material found, then items not read, else clean.
    pub fn exit_status(&self) -> ExitStatus {
        let illegal = self
            .run
            .items()
            .any(|i| i.category.is_some_and(|c| c.is_illegal_material()));
        if !self.run.complete {
            ExitStatus::Interrupted
        } else if illegal {
            ExitStatus::KnownIllegal
        } else if self.errors() > 0 {
            ExitStatus::ItemErrors
        } else {
            ExitStatus::Clean
        }
    }
}
