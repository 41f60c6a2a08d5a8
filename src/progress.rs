//! Progress: the stages count into atomics ([`Counters`], [`ImportCounters`]); the command line
//! reads them from a thread of its own to draw a bar. Nothing here draws, and nothing slows the
//! work down when no one is watching.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

/// The named phases of a run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Walking = 0,
    Hashing = 1,
    Writing = 2,
    Done = 3,
    /// A scan loading the known hashes from the database.
    Loading = 4,
    /// A scan looking up the digests.
    Matching = 5,
}

/// A step of a phase counted by items (matching, writing the report): what the count shown
/// beside its bar is of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Step {
    /// No step started yet.
    #[default]
    NotStarted,
    /// Grading each item against the known hashes.
    Grading,
    /// Searching the known PDQ hashes for each unknown image.
    PdqSearch,
    /// Writing items.jsonl, items.csv and vics.json, side by side.
    ReportItems,
    /// Writing summary.json and summary.html.
    ReportSummary,
    /// Digesting the report files into manifest.json.
    Manifest,
}

impl Step {
    /// What the step counts, as shown after the count.
    pub fn label(self) -> &'static str {
        match self {
            Step::NotStarted => "",
            Step::Grading => "items",
            Step::PdqSearch => "images searched by PDQ",
            Step::ReportItems => "items x 3 (items.jsonl, items.csv, vics.json)",
            Step::ReportSummary => "files (summary.json, summary.html)",
            Step::Manifest => "report files digested (manifest.json)",
        }
    }
}

/// The stages of an import, timed one after the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportStage {
    /// Reading and parsing the set's files.
    Reading,
    /// Sorting the new records into the duplicate table.
    Indexing,
    /// Merging them with the database's records, prefix by prefix.
    Merging,
    /// Committing the transaction.
    Committing,
}

impl ImportStage {
    pub fn name(self) -> &'static str {
        match self {
            ImportStage::Reading => "reading",
            ImportStage::Indexing => "indexing",
            ImportStage::Merging => "merging",
            ImportStage::Committing => "committing",
        }
    }
}

/// Counters every stage updates; cheap enough to bump per read.
#[derive(Debug, Default)]
pub struct Counters {
    phase: AtomicU8,
    found: AtomicU64,
    /// Distinct contents the walk found (hard links once), hashed now or carried over from a
    /// journal.
    contents: AtomicU64,
    files_total: AtomicU64,
    bytes_total: AtomicU64,
    files_done: AtomicU64,
    bytes_done: AtomicU64,
    /// Items done in a phase counted by items (matching, writing each report file), and what
    /// that step is.
    step_done: AtomicU64,
    step_total: AtomicU64,
    step_name: std::sync::Mutex<Step>,
}

impl Counters {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Walking,
            1 => Phase::Hashing,
            2 => Phase::Writing,
            4 => Phase::Loading,
            5 => Phase::Matching,
            _ => Phase::Done,
        }
    }

    /// Items found by the walker so far.
    pub fn add_found(&self, n: u64) {
        self.found.fetch_add(n, Ordering::Relaxed);
    }

    /// The distinct contents the walk found: what the scan looks up.
    pub fn set_contents(&self, n: u64) {
        self.contents.store(n, Ordering::Relaxed);
    }

    pub fn contents(&self) -> u64 {
        self.contents.load(Ordering::Relaxed)
    }

    /// The work the hashing phase will do, known once the walk is over.
    pub fn set_totals(&self, files: u64, bytes: u64) {
        self.files_total.store(files, Ordering::Relaxed);
        self.bytes_total.store(bytes, Ordering::Relaxed);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes_done.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_file(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts `step`, of `total` things.
    pub fn start_step(&self, step: Step, total: u64) {
        *self.step_name.lock().unwrap_or_else(|e| e.into_inner()) = step;
        self.step_done.store(0, Ordering::Relaxed);
        self.step_total.store(total, Ordering::Relaxed);
    }

    pub fn add_step(&self, n: u64) {
        self.step_done.fetch_add(n, Ordering::Relaxed);
    }

    /// The current step, items done and total.
    pub fn step(&self) -> (Step, u64, u64) {
        (
            *self.step_name.lock().unwrap_or_else(|e| e.into_inner()),
            self.step_done.load(Ordering::Relaxed),
            self.step_total.load(Ordering::Relaxed),
        )
    }

    pub fn found(&self) -> u64 {
        self.found.load(Ordering::Relaxed)
    }

    pub fn files(&self) -> (u64, u64) {
        (
            self.files_done.load(Ordering::Relaxed),
            self.files_total.load(Ordering::Relaxed),
        )
    }

    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_done.load(Ordering::Relaxed),
            self.bytes_total.load(Ordering::Relaxed),
        )
    }
}

/// Counters an import updates: bytes of the source read, records read and written, and the
/// stage after reading (indexing, merging, committing).
#[derive(Debug, Default)]
pub struct ImportCounters {
    bytes_total: AtomicU64,
    bytes_read: AtomicU64,
    records_read: AtomicU64,
    records_written: AtomicU64,
    /// Each stage after reading, with the time it began.
    stages: std::sync::Mutex<Vec<(ImportStage, std::time::Instant)>>,
    done: AtomicBool,
}

impl ImportCounters {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn add_total_bytes(&self, n: u64) {
        self.bytes_total.fetch_add(n, Ordering::Relaxed);
    }

    /// The size of the files to import, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.bytes_total.load(Ordering::Relaxed)
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes_read.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_read(&self, n: u64) {
        self.records_read.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_written(&self, n: u64) {
        self.records_written.fetch_add(n, Ordering::Relaxed);
    }

    pub fn set_stage(&self, stage: ImportStage) {
        self.stages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((stage, std::time::Instant::now()));
    }

    /// How long each stage took, the last one until now.
    pub fn stage_times(&self) -> Vec<(ImportStage, Duration)> {
        let stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        stages
            .iter()
            .enumerate()
            .map(|(i, (name, start))| {
                let end = stages.get(i + 1).map_or(now, |n| n.1);
                (*name, end.duration_since(*start))
            })
            .collect()
    }

    pub fn set_done(&self) {
        self.done.store(true, Ordering::Relaxed);
    }

    pub fn records(&self) -> (u64, u64) {
        (
            self.records_read.load(Ordering::Relaxed),
            self.records_written.load(Ordering::Relaxed),
        )
    }

    /// Whether the import has ended.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    /// Bytes of the source read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// The stage the import is in, none before it starts reading.
    pub fn stage(&self) -> Option<ImportStage> {
        self.stages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .map(|s| s.0)
    }
}
