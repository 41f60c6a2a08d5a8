//! hashsift's side of the image worker: starts `hashsift __image-worker IMAGE` contained (see
//! [`crate::child`]; 2 GiB of address space, ample for TSK and the EWF reader), reads its
//! frames as they come, and says how it ended: a crash in it on a crafted image is a reason for
//! the image's record, never the end of the scan.

use std::io::{BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::frames::{self, Frame};

/// The address space the worker may take.
const MEMORY: libc::rlim_t = 2 << 30;

/// How long a worker may say nothing before it is taken for stuck: The Sleuth Kit gives a
/// frame for every name and every MiB of content, so a minute of silence is a loop in a crafted
/// file system (or a read of the evidence stuck as long).
pub const SILENCE: Duration = Duration::from_secs(60);

/// The end of the worker's standard error kept for a reason (TSK's last words).
const STDERR_KEPT: usize = 4096;

/// A running image worker.
pub struct Worker {
    child: Child,
    out: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    watch: Option<Watch>,
}

/// What watches a worker: it is killed when it says nothing for too long (a loop in a crafted
/// file system) or the run is interrupted.
struct Watch {
    /// Milliseconds since `start` at the last frame read.
    last: Arc<AtomicU64>,
    /// Set when the worker is done with (the watch ends).
    done: Arc<AtomicBool>,
    /// Set when the watch killed the worker, for its silence.
    fired: Arc<AtomicBool>,
    start: Instant,
    silence: Duration,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts `exe` (hashsift itself) as the worker of `image`.
    ///
    /// # Errors
    /// The process cannot be started.
    pub fn start(exe: &Path, image: &Path) -> std::io::Result<Worker> {
        let mut child = crate::child::contained(exe, MEMORY)
            .arg("__image-worker")
            .arg(image)
            .spawn()?;
        let out = BufReader::with_capacity(1 << 20, child.stdout.take().expect("piped"));
        let mut err = child.stderr.take().expect("piped");
        // Drained as it comes (a full pipe would stop the worker), its end kept.
        let stderr = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * STDERR_KEPT {
                    kept.drain(..kept.len() - STDERR_KEPT);
                }
            }
            kept
        });
        Ok(Worker {
            child,
            out,
            stderr: Some(stderr),
            watch: None,
        })
    }

    /// [`Worker::start`], watched: killed when no frame comes for `silence`, or once `cancel`
    /// is set (a read of its output then ends at once).
    ///
    /// # Errors
    /// The process cannot be started.
    pub fn start_watched(
        exe: &Path,
        image: &Path,
        silence: Duration,
        cancel: &crate::cancel::Cancel,
    ) -> std::io::Result<Worker> {
        let mut worker = Worker::start(exe, image)?;
        let last = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let pid = worker.child.id() as libc::pid_t;
        let thread = {
            let (last, done, fired, cancel) =
                (last.clone(), done.clone(), fired.clone(), cancel.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(50));
                    let quiet = start.elapsed().as_millis() as u64 - last.load(Ordering::Acquire);
                    let silent = quiet > silence.as_millis() as u64;
                    if (silent || cancel.is_cancelled()) && !done.load(Ordering::Acquire) {
                        fired.store(silent, Ordering::Release);
                        // SAFETY: kill(2) on the worker, which is not reaped while the watch
                        // runs (`done` is set before it is waited for).
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        break;
                    }
                }
            })
        };
        worker.watch = Some(Watch {
            last,
            done,
            fired,
            start,
            silence,
            thread: Some(thread),
        });
        Ok(worker)
    }

    /// Ends the watch, if any: whether it killed the worker for its silence.
    fn unwatch(&mut self) -> Option<Duration> {
        let w = self.watch.as_mut()?;
        w.done.store(true, Ordering::Release);
        if let Some(t) = w.thread.take() {
            let _ = t.join();
        }
        w.fired.load(Ordering::Acquire).then_some(w.silence)
    }

    /// The worker's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next frame; `None` when the output ended (then [`Worker::end`] says how).
    ///
    /// # Errors
    /// The output holds something that is not a frame, or ends inside one.
    pub fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        let frame = frames::read(&mut self.out);
        if let Some(w) = &self.watch {
            w.last
                .store(w.start.elapsed().as_millis() as u64, Ordering::Release);
        }
        frame
    }

    /// [`Worker::end`], after waiting at most `wait` for the worker to exit by itself (then
    /// it is killed).
    ///
    /// # Errors
    /// The worker crashed, was killed, or failed.
    pub fn end_within(mut self, wait: Duration) -> Result<(), String> {
        let until = Instant::now() + wait;
        let silent = self.unwatch();
        while matches!(self.child.try_wait(), Ok(None)) {
            if Instant::now() >= until {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let ended = self.end();
        match silent {
            Some(_) if ended.is_ok() => ended,
            Some(silence) => Err(silent_reason(silence)),
            None => ended,
        }
    }

    /// Waits for the worker: `Ok` when it exited cleanly, else why not (the signal that ended
    /// it, or its exit code, with the end of what it wrote on stderr).
    ///
    /// # Errors
    /// The worker crashed, was killed, or failed.
    pub fn end(mut self) -> Result<(), String> {
        let silent = self.unwatch();
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if let Some(silence) = silent {
            return Err(silent_reason(silence));
        }
        let said = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .map(|b| {
                let text = String::from_utf8_lossy(&b[b.len().saturating_sub(STDERR_KEPT)..]);
                crate::textsafe::escape(text.trim()).into_owned()
            })
            .unwrap_or_default();
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        };
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(0), _) => Ok(()),
            (_, Some(signal)) => Err(format!(
                "the image reader crashed (signal {signal}{}){said}",
                match signal {
                    libc::SIGSEGV => ", a memory fault",
                    libc::SIGABRT => ", aborted",
                    libc::SIGKILL => ", killed",
                    libc::SIGBUS => ", a bus error",
                    _ => "",
                }
            )),
            (Some(code), _) => Err(format!(
                "the image reader ended with exit code {code}{said}"
            )),
            (None, None) => Err(format!("the image reader ended{said}")),
        }
    }
}

/// Why a worker killed for its silence ended.
fn silent_reason(silence: Duration) -> String {
    format!(
        "the image reader gave nothing for {:.1} s (a loop in a damaged or crafted file system?) and was stopped",
        silence.as_secs_f64()
    )
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.unwatch();
        // Still running (its reader gave up on it): not left behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in worker that says nothing for 30 s.
    fn silent_worker(dir: &Path) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let exe = dir.join("silent");
        std::fs::write(&exe, "#!/bin/sh\nexec /bin/sleep 30\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        exe
    }

    #[test]
    fn a_worker_silent_too_long_or_interrupted_is_stopped_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let exe = silent_worker(dir.path());
        let cancel = crate::cancel::Cancel::new();
        let started = Instant::now();
        let mut w =
            Worker::start_watched(&exe, dir.path(), Duration::from_millis(300), &cancel).unwrap();
        assert!(matches!(w.next_frame(), Ok(None)));
        assert!(started.elapsed() < Duration::from_secs(10));
        let why = w.end().unwrap_err();
        assert!(why.contains("gave nothing for 0.3 s"), "{why}");

        // Interrupted: stopped at once, whatever the silence allowed.
        let started = Instant::now();
        let mut w =
            Worker::start_watched(&exe, dir.path(), Duration::from_secs(600), &cancel).unwrap();
        cancel.cancel();
        assert!(matches!(w.next_frame(), Ok(None)));
        assert!(started.elapsed() < Duration::from_secs(10));
        let why = w.end().unwrap_err();
        assert!(why.contains("killed"), "{why}");
    }
}
