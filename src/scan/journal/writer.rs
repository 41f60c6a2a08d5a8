//! Writing: the hashing threads' batches of records, and the one thread that writes them,
//! hands them to the kernel and syncs them to the disk.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::hash::{Examined, Hashed, ThreadRecorder};
use crate::read::ItemError;
use crate::record::Item;

use super::content::content_record;
use super::format::{MAX_RECORD, frame_into};

/// How often the writer hands records to the kernel, and syncs them to the disk, while
/// records come in.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Batches waiting for the writer; past that, hashing waits for the disk.
const QUEUE: usize = 64;

/// A hashing thread's records are sent together once they reach this size.
const BATCH_BYTES: usize = 64 << 10;

/// A file this large (tens of milliseconds to read and hash at least) is not begun while the
/// thread holds records not yet handed to the writer.
const SEND_BEFORE: u64 = 4 << 20;

/// One hashing thread's records, handed to the writer together every [`BATCH_BYTES`] or
/// [`FLUSH_EVERY`] and when dropped: a record at a time would wake the writer for each (a
/// million small files, a million wake-ups).
pub struct Batch<'a> {
    writer: &'a Writer,
    frames: Vec<u8>,
    /// When the first record of the batch was made.
    since: Option<Instant>,
}

impl<'a> Batch<'a> {
    pub(super) fn new(writer: &'a Writer) -> Self {
        Batch {
            writer,
            frames: Vec::new(),
            since: None,
        }
    }
}

impl ThreadRecorder for Batch<'_> {
    /// The records held wait for no long read (a kill would lose them with it), and none
    /// older than [`FLUSH_EVERY`] waits for any read.
    fn before_read(&mut self, size: u64) {
        if size >= SEND_BEFORE {
            self.send();
        } else {
            self.send_if_due();
        }
    }

    fn record(&mut self, item: &Item, outcome: Result<&Hashed, &ItemError>, members: Examined<'_>) {
        Batch::record(self, item, outcome, members);
    }
}

impl Batch<'_> {
    /// Records what hashing found of the content `item` (the first path to it) points to.
    pub fn record(
        &mut self,
        item: &Item,
        outcome: Result<&Hashed, &ItemError>,
        members: Examined<'_>,
    ) {
        let mut payload = content_record(item, outcome, members);
        if payload.len() > MAX_RECORD as usize && members.is_some() {
            // So many members that a reader would take the record for damage: the content
            // is recorded without them, and a resumed scan reads the container again.
            payload = content_record(item, outcome, None);
        }
        // Longer than a reader takes (a path of megabytes): not recorded, read again.
        if payload.len() > MAX_RECORD as usize {
            return;
        }
        frame_into(&mut self.frames, &payload);
        let since = *self.since.get_or_insert_with(Instant::now);
        if self.frames.len() >= BATCH_BYTES || since.elapsed() >= FLUSH_EVERY {
            self.send();
        }
    }

    /// Hands the records held to the writer if the oldest is [`FLUSH_EVERY`] old: called
    /// before each file is begun, so that no read that stalls (a failing disk) holds records
    /// older than that.
    pub fn send_if_due(&mut self) {
        if self.since.is_some_and(|s| s.elapsed() >= FLUSH_EVERY) {
            self.send();
        }
    }

    /// Hands the records held to the writer now: before reading a file that takes a while,
    /// so that they do not wait for it.
    pub fn send(&mut self) {
        if !self.frames.is_empty() {
            self.writer.send(std::mem::take(&mut self.frames));
        }
        self.since = None;
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.send();
    }
}

/// The thread that writes the journal's records, and the channel to it.
pub(super) struct Writer {
    sender: Mutex<Option<SyncSender<Vec<u8>>>>,
    thread: Mutex<Option<JoinHandle<io::Result<()>>>>,
}

impl Writer {
    /// Starts writing to `file` at its position, first cutting it to `cut_to` when given.
    pub(super) fn start(file: File, cut_to: Option<u64>) -> Writer {
        let (sender, receiver) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("hashsift-journal".into())
            .spawn(move || write_records(file, cut_to, &receiver))
            .expect("a thread for the journal starts");
        Writer {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Hands framed records to the writer.
    pub(super) fn send(&self, frames: Vec<u8>) {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(s) = sender {
            // The writer only stops on its own after an error, which `finish` reports.
            let _ = s.send(frames);
        }
    }

    /// Writes out and syncs every record sent, and stops the thread.
    pub(super) fn finish(&self) -> io::Result<()> {
        drop(
            self.sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match thread {
            Some(t) => t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            None => Ok(()),
        }
    }
}

/// Takes the journal's exclusive lock (`flock`) for this process, without waiting: another
/// session of the same scan running now is refused. Returns a handle that holds it (the lock
/// goes with the process, however it ends).
pub(super) fn lock(file: &File) -> io::Result<File> {
    use std::os::fd::AsRawFd;
    let handle = file.try_clone()?;
    // SAFETY: flock on a descriptor this function owns (a duplicate of `file`'s).
    if unsafe { libc::flock(handle.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(handle)
}

/// Writes framed records as they come, handing them to the kernel every [`FLUSH_EVERY`] (a
/// killed process loses only the files it was hashing and the last moments' records) and
/// syncing them to the disk every [`SYNC_EVERY`] and at the end (a power cut loses at most
/// the last second).
fn write_records(
    file: File,
    mut cut_to: Option<u64>,
    receiver: &Receiver<Vec<u8>>,
) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 20, file);
    let (mut flushed, mut synced) = (Instant::now(), Instant::now());
    // Records in the buffer, and records handed to the kernel but not synced.
    let (mut buffered, mut unsynced) = (false, false);
    let mut failed: Option<io::Error> = None;
    loop {
        let wait = match (buffered, unsynced) {
            (true, _) => FLUSH_EVERY.saturating_sub(flushed.elapsed()),
            (false, true) => SYNC_EVERY.saturating_sub(synced.elapsed()),
            (false, false) => SYNC_EVERY,
        };
        match receiver.recv_timeout(wait) {
            Ok(record) => {
                // The torn tail goes before the first record is written after it.
                if let Some(len) = cut_to.take() {
                    failed = out.get_ref().set_len(len).err();
                }
                if failed.is_none() {
                    failed = out.write_all(&record).err();
                }
                buffered = true;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if buffered && flushed.elapsed() >= FLUSH_EVERY {
            if failed.is_none() {
                failed = out.flush().err();
            }
            (buffered, unsynced, flushed) = (false, true, Instant::now());
        }
        if unsynced && synced.elapsed() >= SYNC_EVERY {
            if failed.is_none() {
                failed = out.get_ref().sync_data().err();
            }
            (unsynced, synced) = (false, Instant::now());
        }
    }
    match failed {
        Some(e) => Err(e),
        None => sync(&mut out),
    }
}

fn sync(out: &mut io::BufWriter<File>) -> io::Result<()> {
    out.flush()?;
    out.get_ref().sync_data()
}
