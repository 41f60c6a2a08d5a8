//! Keeps the disk busy ahead of the hashers.
//!
//! Hashing threads are as many as cores, but a cold disk wants more reads in flight than that:
//! a small file is one request, and two threads alone leave the disk idle while they compute.
//! The hashers take files in order from a [`WorkQueue`]; one prefetch thread runs ahead of them
//! in the same order, opens the next files and asks the kernel to start reading them
//! (`POSIX_FADV_WILLNEED`, which queues the reads and returns), up to a window of bytes and
//! files. The hashers then use the files it opened, so on a warm cache the prefetcher costs one
//! extra system call per file.

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::evidence::{self, FileId};
use crate::record::ItemError;

/// How far ahead of the hashers the prefetcher reads, in bytes and in files.
const WINDOW_BYTES: u64 = 64 << 20;
const WINDOW_FILES: usize = 256;
/// Only the start of a large file is prefetched; the kernel's own readahead follows the reader.
const PER_FILE_BYTES: u64 = 8 << 20;

/// Indices `0..len` handed out in order to any number of threads.
#[derive(Debug)]
pub struct WorkQueue {
    next: AtomicUsize,
    len: usize,
}

impl WorkQueue {
    pub fn new(len: usize) -> Self {
        WorkQueue {
            next: AtomicUsize::new(0),
            len,
        }
    }

    /// The next index to work on, or `None` when all are taken.
    pub fn take(&self) -> Option<usize> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.len).then_some(i)
    }

    /// How many indices have been taken.
    pub fn taken(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(self.len)
    }
}

/// Files opened ahead of the hashers, by queue index.
///
/// [`OpenAhead::run`] opens the next files in queue order (with the same checks as a hasher's
/// own open) and asks the kernel to start reading them; a hasher that takes index `i` finds its
/// file already open, or opens it itself when the prefetcher has not got there yet. Either way
/// each file is opened once for reading.
pub struct OpenAhead {
    slots: Vec<Mutex<Option<Result<File, ItemError>>>>,
}

impl OpenAhead {
    pub fn new(len: usize) -> Self {
        OpenAhead {
            slots: (0..len).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// The file opened ahead for index `i`, if there is one.
    pub fn take(&self, i: usize) -> Option<Result<File, ItemError>> {
        self.slots[i].lock().map_or(None, |mut s| s.take())
    }

    /// Opens files ahead of `queue` until every file was opened or taken, or `stop` is set.
    /// `file(i)` gives the path, identity and listed size of the `i`-th file.
    pub fn run<'a>(
        &self,
        queue: &WorkQueue,
        file: impl Fn(usize) -> (&'a Path, FileId, u64),
        stop: &AtomicBool,
    ) {
        let mut ahead = 0usize;
        while ahead < queue.len && !stop.load(Ordering::Relaxed) {
            let taken = queue.taken();
            ahead = ahead.max(taken);
            let in_flight: u64 = (taken..ahead).map(|i| file(i).2.min(PER_FILE_BYTES)).sum();
            if ahead < queue.len && ahead - taken < WINDOW_FILES && in_flight < WINDOW_BYTES {
                let (path, id, size) = file(ahead);
                let opened = evidence::open_regular(path, id, size);
                if let Ok(f) = &opened {
                    advise_will_need(f, size.min(PER_FILE_BYTES));
                }
                if let Ok(mut slot) = self.slots[ahead].lock() {
                    *slot = Some(opened);
                }
                ahead += 1;
            } else {
                std::thread::sleep(Duration::from_micros(500));
            }
        }
    }
}

fn advise_will_need(file: &File, len: u64) {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(len).unwrap_or(libc::off_t::MAX);
    // SAFETY: plain advice on an open descriptor.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, len, libc::POSIX_FADV_WILLNEED) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_hands_out_each_index_once_in_order() {
        let q = WorkQueue::new(3);
        assert_eq!(
            (q.take(), q.take(), q.take(), q.take()),
            (Some(0), Some(1), Some(2), None)
        );
        assert_eq!(q.taken(), 3);
    }
}
