//! Progress: the core counts into atomics, the command line draws them.
//!
//! Stages only ever touch [`Counters`]; [`Display`] polls them from its own thread and draws an
//! indicatif bar on stderr, which the CLI starts only when stderr is a terminal and `--quiet` is
//! off. Nothing here slows the work down when no one is watching.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
    step_name: std::sync::Mutex<&'static str>,
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

    /// Starts a step of `total` things, `name` saying what they are ("items", "items of
    /// items.jsonl"), shown after the count.
    pub fn start_step(&self, name: &'static str, total: u64) {
        *self.step_name.lock().unwrap_or_else(|e| e.into_inner()) = name;
        self.step_done.store(0, Ordering::Relaxed);
        self.step_total.store(total, Ordering::Relaxed);
    }

    pub fn add_step(&self, n: u64) {
        self.step_done.fetch_add(n, Ordering::Relaxed);
    }

    /// The current step's name, items done and total.
    pub fn step(&self) -> (&'static str, u64, u64) {
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

/// A thread that draws progress on stderr until stopped.
struct DrawThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DrawThread {
    fn spawn(draw: impl FnOnce(&AtomicBool) + Send + 'static) -> DrawThread {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || draw(&flag));
        DrawThread {
            stop,
            thread: Some(thread),
        }
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for DrawThread {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// A progress bar on stderr that follows a [`Counters`] until stopped.
pub struct Display(DrawThread);

impl Display {
    /// Starts drawing `counters` on stderr, refreshed a few times a second.
    pub fn start(counters: Arc<Counters>) -> Display {
        Display(DrawThread::spawn(move |stop| draw(&counters, stop)))
    }

    pub fn finish(mut self) {
        self.0.stop_thread();
    }
}

fn draw(counters: &Counters, stop: &AtomicBool) {
    let walking = ProgressStyle::with_template("{spinner} walking: {msg}").expect("valid template");
    let hashing = ProgressStyle::with_template(
        "{spinner} hashing: [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
    )
    .expect("valid template")
    .progress_chars("=> ");
    let loading = ProgressStyle::with_template("{spinner} {msg}").expect("valid template");
    let steps = ProgressStyle::with_template(
        "{spinner} {prefix}: [{bar:30}] {human_pos}/{human_len} {msg} ETA {eta}",
    )
    .expect("valid template")
    .progress_chars("=> ");
    // Each phase and step gets a bar of its own, configured before it first draws: its rate
    // and ETA start afresh, and no frame mixes two phases' figures.
    let fresh = |style: &ProgressStyle, len: Option<u64>| {
        ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr()).with_style(style.clone())
    };
    let mut bar = fresh(&walking, None);
    let mut shown = (Phase::Walking, "");
    while !stop.load(Ordering::Relaxed) {
        let phase = counters.phase();
        let (step, done, total) = counters.step();
        let now = (phase, step);
        let changed = now != shown;
        if changed && phase != Phase::Done {
            bar.finish_and_clear();
            bar = match phase {
                Phase::Walking => fresh(&walking, None),
                Phase::Hashing => fresh(&hashing, Some(counters.bytes().1)),
                Phase::Loading => fresh(&loading, None).with_message("loading the known hashes"),
                Phase::Matching | Phase::Writing => fresh(&steps, Some(total))
                    .with_prefix(if phase == Phase::Matching {
                        "matching"
                    } else {
                        "writing"
                    })
                    .with_message(step),
                Phase::Done => unreachable!("not drawn"),
            };
            // The counts so far arrive at the next frame, a known interval later: the rate
            // and the ETA are measured from there, not from an instant's jump.
            shown = now;
            bar.tick();
            std::thread::sleep(Duration::from_millis(120));
            continue;
        }
        match phase {
            Phase::Walking => bar.set_message(format!("{} items", counters.found())),
            Phase::Hashing => {
                let (files, total) = counters.files();
                bar.set_position(counters.bytes().0);
                bar.set_message(format!("{files}/{total} files"));
            }
            Phase::Loading => {}
            Phase::Matching | Phase::Writing => {
                bar.set_length(total);
                bar.set_position(done);
            }
            Phase::Done => break,
        }
        shown = now;
        bar.tick();
        std::thread::sleep(Duration::from_millis(120));
    }
    bar.finish_and_clear();
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
    stages: std::sync::Mutex<Vec<(&'static str, std::time::Instant)>>,
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

    pub fn set_stage(&self, stage: &'static str) {
        self.stages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((stage, std::time::Instant::now()));
    }

    /// How long each stage took, the last one until now.
    pub fn stage_times(&self) -> Vec<(&'static str, Duration)> {
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

    fn stage(&self) -> &'static str {
        self.stages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .map_or("", |s| s.0)
    }
}

/// A progress bar on stderr that follows an [`ImportCounters`] until stopped.
pub struct ImportDisplay(DrawThread);

impl ImportDisplay {
    pub fn start(counters: Arc<ImportCounters>) -> ImportDisplay {
        ImportDisplay(DrawThread::spawn(move |stop| draw_import(&counters, stop)))
    }

    pub fn finish(mut self) {
        self.0.stop_thread();
    }
}

fn draw_import(counters: &ImportCounters, stop: &AtomicBool) {
    let style = ProgressStyle::with_template(
        "{spinner} importing: [{bar:30}] {bytes}/{total_bytes} ETA {eta} {msg}",
    )
    .expect("valid template")
    .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(style);
    let started = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) && !counters.done.load(Ordering::Relaxed) {
        bar.set_length(counters.bytes_total.load(Ordering::Relaxed));
        bar.set_position(counters.bytes_read.load(Ordering::Relaxed));
        let (read, _) = counters.records();
        let rate = read as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let stage = counters.stage();
        bar.set_message(if stage == "reading" {
            format!("{read} records, {rate:.0}/s")
        } else {
            format!("{read} records; {stage}")
        });
        bar.tick();
        std::thread::sleep(Duration::from_millis(120));
    }
    bar.finish_and_clear();
}
