//! hashsift's side of the image worker: starts `hashsift __image-worker IMAGE` contained (see
//! [`crate::child`]; 2 GiB of address space, ample for TSK and the EWF reader), reads its
//! frames as they come, and says how it ended: a crash in it on a crafted image is a reason for
//! the image's record, never the end of the scan.

use std::io::{BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout};
use std::thread::JoinHandle;

use super::frames::{self, Frame};

/// The address space the worker may take.
const MEMORY: libc::rlim_t = 2 << 30;

/// The end of the worker's standard error kept for a reason (TSK's last words).
const STDERR_KEPT: usize = 4096;

/// A running image worker.
pub struct Worker {
    child: Child,
    out: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<Vec<u8>>>,
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
        })
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
        frames::read(&mut self.out)
    }

    /// [`Worker::end`], after waiting at most `wait` for the worker to exit by itself (then
    /// it is killed).
    ///
    /// # Errors
    /// The worker crashed, was killed, or failed.
    pub fn end_within(mut self, wait: std::time::Duration) -> Result<(), String> {
        let until = std::time::Instant::now() + wait;
        while matches!(self.child.try_wait(), Ok(None)) {
            if std::time::Instant::now() >= until {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        self.end()
    }

    /// Waits for the worker: `Ok` when it exited cleanly, else why not (the signal that ended
    /// it, or its exit code, with the end of what it wrote on stderr).
    ///
    /// # Errors
    /// The worker crashed, was killed, or failed.
    pub fn end(mut self) -> Result<(), String> {
        let status = self.child.wait().map_err(|e| e.to_string())?;
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

impl Drop for Worker {
    fn drop(&mut self) {
        // Still running (its reader gave up on it): not left behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
