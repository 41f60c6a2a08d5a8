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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::Duration;

use super::ItemError;
use crate::read::evidence::{self, FileId};

/// How far ahead of the hashers the prefetcher reads, in bytes and in files.
const WINDOW_BYTES: u64 = 64 << 20;
const WINDOW_FILES: usize = 256;
/// Only the start of a large file is prefetched; the kernel's own readahead follows the reader.
const PER_FILE_BYTES: u64 = 8 << 20;
/// A full window waits until the hashers have taken this share of it (in quarters), so the
/// prefetcher wakes a few times per window rather than once per file.
const REFILL_QUARTERS: u64 = 1;
/// Longest sleep of a prefetcher waiting for room, in case a wake-up is missed.
const MAX_PARK: Duration = Duration::from_millis(100);

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
        // SeqCst: the prefetcher stores its wake-up index and then reads this counter, a hasher
        // bumps this counter and then reads that index; one of the two must see the other.
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        (i < self.len).then_some(i)
    }

    /// How many indices have been taken.
    pub fn taken(&self) -> usize {
        self.next.load(Ordering::SeqCst).min(self.len)
    }
}

/// Files opened ahead of the hashers, by queue index.
///
/// [`OpenAhead::run`] opens the next files in queue order (with the same checks as a hasher's
/// own open) and asks the kernel to start reading them; a hasher that takes index `i` finds its
/// file already open, waits for an open in progress, or opens the file itself when the
/// prefetcher has not got there yet (the prefetcher then skips it). Each file is opened once.
pub struct OpenAhead {
    slots: Vec<Mutex<Slot>>,
    ready: Condvar,
    /// Hashers waiting on `ready`: notifying costs a system call, so only when someone waits.
    waiting: AtomicUsize,
    /// The prefetcher, parked while its window is full, and the queue index whose taking
    /// makes room enough to wake it, taken by the hasher that takes it (`usize::MAX` when the
    /// prefetcher is not waiting).
    prefetcher: OnceLock<Thread>,
    wake_at: AtomicUsize,
}

enum Slot {
    Empty,
    Opening,
    Ready(Result<File, ItemError>),
    Taken,
}

impl OpenAhead {
    pub fn new(len: usize) -> Self {
        OpenAhead {
            slots: (0..len).map(|_| Mutex::new(Slot::Empty)).collect(),
            ready: Condvar::new(),
            waiting: AtomicUsize::new(0),
            prefetcher: OnceLock::new(),
            wake_at: AtomicUsize::new(usize::MAX),
        }
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Slot> {
        self.slots[i].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims index `i` for a hasher: the file opened ahead, or `None` when the hasher must
    /// open it itself.
    pub fn take(&self, i: usize) -> Option<Result<File, ItemError>> {
        if i >= self.wake_at.load(Ordering::SeqCst) {
            // Unparking a thread that is not parked is one atomic operation, no system call.
            if let Some(t) = self.prefetcher.get() {
                t.unpark();
            }
        }
        let mut slot = self.lock(i);
        loop {
            match std::mem::replace(&mut *slot, Slot::Taken) {
                Slot::Ready(opened) => return Some(opened),
                Slot::Empty | Slot::Taken => return None,
                Slot::Opening => {
                    *slot = Slot::Opening;
                    // Counted while holding the slot's lock, so the prefetcher, which sets the
                    // slot Ready under that lock before it looks at the count, sees it.
                    self.waiting.fetch_add(1, Ordering::SeqCst);
                    slot = self
                        .ready
                        .wait(slot)
                        .unwrap_or_else(PoisonError::into_inner);
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
    }

    /// Opens files ahead of `queue` until every file was opened or taken. `file(i)` gives the
    /// path, identity and listed size of the `i`-th file.
    pub fn run<'a>(&self, queue: &WorkQueue, file: impl Fn(usize) -> (&'a Path, FileId, u64)) {
        let _ = self.prefetcher.set(std::thread::current());
        let ahead_of = |i: usize| file(i).2.min(PER_FILE_BYTES);
        let mut ahead = 0usize;
        while ahead < queue.len {
            let taken = queue.taken();
            ahead = ahead.max(taken);
            if ahead >= queue.len {
                break; // the hashers took the rest themselves
            }
            let in_flight: u64 = (taken..ahead).map(ahead_of).sum();
            if ahead - taken < WINDOW_FILES && in_flight < WINDOW_BYTES {
                self.open_ahead(ahead, &file);
                ahead += 1;
                continue;
            }
            // The window is full: sleep until the hashers have taken enough of it.
            let mut wake = taken;
            let mut left = in_flight;
            while wake < ahead
                && (ahead - wake > WINDOW_FILES * (4 - REFILL_QUARTERS as usize) / 4
                    || left > WINDOW_BYTES * (4 - REFILL_QUARTERS) / 4)
            {
                left -= ahead_of(wake);
                wake += 1;
            }
            // Room is made once the hasher that takes index `wake - 1` has it.
            let last = wake.max(taken + 1) - 1;
            self.wake_at.store(last, Ordering::SeqCst);
            // Already taken, perhaps before `wake_at` was set: no one will wake us.
            if queue.taken() <= last {
                std::thread::park_timeout(MAX_PARK);
            }
            self.wake_at.store(usize::MAX, Ordering::SeqCst);
        }
    }

    fn open_ahead<'a>(&self, i: usize, file: &impl Fn(usize) -> (&'a Path, FileId, u64)) {
        {
            let mut slot = self.lock(i);
            if !matches!(*slot, Slot::Empty) {
                return; // a hasher took it first
            }
            *slot = Slot::Opening;
        }
        let (path, id, size) = file(i);
        let opened = evidence::open_regular(path, id, size);
        if let Ok(f) = &opened
            && !starts_cached(f)
        {
            advise_will_need(f, size.min(PER_FILE_BYTES));
        }
        self.finish(i, opened);
    }

    /// Hands the file opened for `i` to the hasher that takes it, waking it if it waits.
    fn finish(&self, i: usize, opened: Result<File, ItemError>) {
        *self.lock(i) = Slot::Ready(opened);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.ready.notify_all();
        }
    }
}

/// Whether the first byte of `file` is in the page cache: a one-byte read that may not wait for
/// the disk (`RWF_NOWAIT`). A warm file then skips the advice, which would only walk its cached
/// pages. (The file was opened with `O_NOATIME`, or on a filesystem that cannot record access
/// times, so this read changes nothing.)
fn starts_cached(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    let iov = libc::iovec {
        iov_base: (&raw mut byte).cast(),
        iov_len: 1,
    };
    // SAFETY: one iovec over a live one-byte buffer.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, 0, libc::RWF_NOWAIT) };
    n == 1
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
    fn a_file_is_opened_once_whoever_gets_there_first() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<std::path::PathBuf> = (0..3)
            .map(|i| {
                let p = dir.path().join(i.to_string());
                std::fs::write(&p, vec![0u8; 10 + i]).unwrap();
                p
            })
            .collect();
        let ids: Vec<(FileId, u64)> = paths
            .iter()
            .map(|p| {
                let m = std::fs::metadata(p).unwrap();
                (FileId::of(&m), m.len())
            })
            .collect();
        let ahead = OpenAhead::new(3);
        let file = |i: usize| (paths[i].as_path(), ids[i].0, ids[i].1);
        // A hasher claims 1 before the prefetcher reaches it: the prefetcher must skip it.
        assert!(ahead.take(1).is_none());
        ahead.open_ahead(0, &file);
        ahead.open_ahead(1, &file);
        assert!(matches!(ahead.take(0), Some(Ok(_))));
        assert!(
            matches!(*ahead.lock(1), Slot::Taken),
            "no file left open in a taken slot"
        );
        assert!(ahead.take(2).is_none());
    }

    #[test]
    fn regression_a_hasher_waiting_on_an_open_in_progress_is_woken() {
        let ahead = std::sync::Arc::new(OpenAhead::new(1));
        *ahead.lock(0) = Slot::Opening; // the prefetcher is opening file 0
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::sync::Arc::clone(&ahead);
        std::thread::spawn(move || {
            let got = waiter.take(0);
            tx.send(matches!(got, Some(Ok(_)))).unwrap();
        });
        std::thread::sleep(Duration::from_millis(50)); // let the hasher start waiting
        ahead.finish(0, Ok(tempfile::tempfile().unwrap()));
        let woken = rx.recv_timeout(Duration::from_secs(5));
        assert_eq!(
            woken,
            Ok(true),
            "the waiting hasher must get the opened file"
        );
    }

    /// `n` small files in a temporary directory, with their identities and sizes.
    fn files(n: usize) -> (tempfile::TempDir, Vec<(std::path::PathBuf, FileId, u64)>) {
        let dir = tempfile::tempdir().unwrap();
        let list = (0..n)
            .map(|i| {
                let p = dir.path().join(i.to_string());
                std::fs::write(&p, b"x").unwrap();
                let m = std::fs::metadata(&p).unwrap();
                (p, FileId::of(&m), m.len())
            })
            .collect();
        (dir, list)
    }

    #[test]
    fn the_prefetcher_ends_when_the_hashers_took_every_file_first() {
        let (_dir, list) = files(5);
        let queue = WorkQueue::new(list.len());
        let ahead = OpenAhead::new(list.len());
        while let Some(i) = queue.take() {
            assert!(ahead.take(i).is_none());
        }
        ahead.run(&queue, |i| (list[i].0.as_path(), list[i].1, list[i].2));
    }

    #[test]
    fn a_full_window_is_refilled_as_the_hashers_take_files() {
        // Four windows of files, taken by one slow hasher: the prefetcher parks each time its
        // window fills and must be woken by the hasher's takes, long before its fallback
        // timeout, so the hasher almost never finds a file not opened for it.
        let n = 4 * WINDOW_FILES;
        let (_dir, list) = files(n);
        let queue = WorkQueue::new(n);
        let ahead = OpenAhead::new(n);
        let opened_by_hasher = std::thread::scope(|s| {
            s.spawn(|| ahead.run(&queue, |i| (list[i].0.as_path(), list[i].1, list[i].2)));
            let mut own = 0;
            while let Some(i) = queue.take() {
                if ahead.take(i).is_none() {
                    own += 1;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            own
        });
        assert!(
            opened_by_hasher < n / 20,
            "{opened_by_hasher} of {n} files were not opened ahead"
        );
    }

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
