//! Drawing progress on stderr: an indicatif bar that follows the library's counters from a
//! thread of its own, started only when stderr is a terminal and `--quiet` is off. The library
//! only counts; nothing in it draws.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use hashsift::progress::{Counters, ImportCounters, ImportStage, Phase, Step};

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
    let mut shown = (Phase::Walking, Step::NotStarted);
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
                    .with_message(step.label()),
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
    while !stop.load(Ordering::Relaxed) && !counters.is_done() {
        bar.set_length(counters.total_bytes());
        bar.set_position(counters.bytes_read());
        let (read, _) = counters.records();
        let rate = read as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(match counters.stage() {
            None | Some(ImportStage::Reading) => format!("{read} records, {rate:.0}/s"),
            Some(stage) => format!("{read} records; {}", stage.name()),
        });
        bar.tick();
        std::thread::sleep(Duration::from_millis(120));
    }
    bar.finish_and_clear();
}
