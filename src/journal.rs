//! The scan journal: what a scan has hashed so far, kept in its report directory as it goes
//! (`journal.hsj`), so that an interrupted scan (Ctrl-C, a kill, a power cut) is resumed with
//! `scan --resume OUTDIR`, reading again only the contents whose records were not committed.
//!
//! The file is a 20-byte preamble (`hashsift-journal` and the format version) and then records,
//! each its length (4 bytes), its payload and the first 16 bytes of the payload's BLAKE3: a
//! record cut short by a kill, or damaged, ends the journal there, and the resumed scan reads
//! those contents again. The first record says what the scan is (evidence roots, database,
//! settings, who started it and when); each resumed session adds one; then one record per
//! content hashed: its path, inode, size, modification and change times, and what hashing found
//! (digests, content type, PDQ hashes or why there are none, or the error reading it).
//! Records are written by one thread, handed to the kernel every 50 ms and synced to disk
//! once a second: a killed process loses only the files being hashed and the last moments'
//! records, a power cut at most the last second. The format is in `docs/report.md`.
//!
//! A content is carried over when its path, inode, size, modification and change times are
//! those recorded, and it was read without error; otherwise (the evidence changed between
//! sessions, or its reading failed) it is read again, and the session record counts the
//! changed ones.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::digest::{Blake3, Digests, Md5, Sha1, Sha256};
use crate::media::ImageHash;
use crate::media::decode::{DecodeError, JpegScale};
use crate::media::pdq::{Pdq, PdqHash};
use crate::media::sniff::{Class, ContentType};
use crate::record::{Item, ItemError, Stage};
use crate::scan::{LookupChoice, PdqMatching};
use crate::utc::Timestamp;

/// The journal's name in the report directory.
pub const JOURNAL: &str = "journal.hsj";

const MAGIC: &[u8; 16] = b"hashsift-journal";
const VERSION: u32 = 1;
const PREAMBLE: u64 = 20;
/// A longer record is taken for damage (the longest real one is a few KiB: a path).
const MAX_RECORD: u32 = 1 << 24;
const CHECK: usize = 16;

/// How often the writer hands records to the kernel, and syncs them to the disk, while
/// records come in.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Batches waiting for the writer; past that, hashing waits for the disk.
const QUEUE: usize = 64;
/// A hashing thread's records are sent together once they reach this size.
const BATCH_BYTES: usize = 64 << 10;

const START: u8 = b'S';
const SESSION: u8 = b'R';
const CONTENT: u8 = b'C';

/// What the scan is: everything a resumed session needs to go on as the first would have.
#[derive(Clone, Debug, PartialEq)]
pub struct Start {
    pub tool_version: String,
    pub started: Timestamp,
    pub command: Vec<OsString>,
    pub cwd: PathBuf,
    pub roots: Vec<PathBuf>,
    pub db: PathBuf,
    pub case: Option<String>,
    pub evidence_id: Option<String>,
    pub examiner: Option<String>,
    pub lookup: LookupChoice,
    pub pdq: Option<PdqMatching>,
}

/// A resumed session: when, by which command, and how many contents it carried over from the
/// journal or found changed since they were recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub at: Timestamp,
    pub command: Vec<OsString>,
    pub carried: u64,
    pub changed: u64,
}

/// A content's digests, and its content type and image hash when asked for.
pub type Hashed = (Digests, Option<ContentType>, Option<Arc<ImageHash>>);

/// What hashing found of one content: what [`Hashed`] holds, or the error reading it.
pub type Outcome = Result<Hashed, ItemError>;

/// What the journal says of a content the walk found.
#[derive(Debug)]
pub enum Carried {
    /// Recorded, with the same inode, size, and modification and change times.
    Same(Outcome),
    /// Recorded, and changed since.
    Changed,
    /// Not recorded.
    New,
}

/// Why a journal cannot be resumed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path}: not a hashsift scan journal{detail}; the scan cannot be resumed (run it again into a new directory)"
    )]
    NotJournal { path: PathBuf, detail: String },
    #[error("{path} is in use by another hashsift (a scan or a resume of it is running)")]
    InUse { path: PathBuf },
    #[error("{path}: written by hashsift {theirs}; resume it with that version (this is {ours})")]
    Version {
        path: PathBuf,
        theirs: String,
        ours: String,
    },
}

/// A journal open for writing, and what it held when a resumed session opened it.
pub struct Journal {
    path: PathBuf,
    start: Start,
    sessions: Vec<Session>,
    /// Where the records read from the journal are, until [`Journal::carry_over`] takes them.
    committed: Mutex<Offsets>,
    /// The session being resumed: its command until [`Journal::begin`] records it.
    resuming: Mutex<Option<Vec<OsString>>>,
    /// Records read, and bytes ignored after the last whole one.
    pub records_read: u64,
    pub torn_bytes: u64,
    sender: Mutex<Option<SyncSender<Vec<u8>>>>,
    writer: Mutex<Option<std::thread::JoinHandle<io::Result<()>>>>,
    /// The journal's lock, held until the session ends, so that no other session writes to it;
    /// a handle to read earlier records by, too.
    lock: File,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("records_read", &self.records_read)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Committed {
    ino: u64,
    size: u64,
    mtime: Option<Timestamp>,
    ctime: Option<Timestamp>,
    outcome: Outcome,
}

/// Where an earlier session's record of each path is in the journal (the last, when a path
/// has several): the offset of its payload and its length, by the path's BLAKE3 (16 bytes).
/// Records are read back from the file as they are carried over, not held: a million of them
/// would take 200 MB.
type Offsets = HashMap<[u8; 16], (u64, u32)>;

/// The records earlier sessions committed, to be carried over.
#[derive(Debug, Default)]
pub struct CarryOver {
    offsets: Offsets,
    /// The journal, read by offset (`pread`: the writer's position is not moved).
    file: Option<File>,
}

impl CarryOver {
    /// How many paths the journal has records of.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether the journal has no record of any path.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// What the journal says of each of `n` contents, content `i` being the one `item(i)`
    /// (its first path) points to: `each(i, what)` is called once for every `i`, in no order.
    /// The records are read in the journal's order, in one pass over the file; then those of
    /// paths the walk did not find, to count the contents read whole that are gone.
    pub fn sort_out<'a>(
        self,
        n: usize,
        item: impl Fn(usize) -> &'a Item,
        mut each: impl FnMut(usize, Carried),
    ) -> Sorted {
        let mut offsets = self.offsets;
        let mut found = Vec::new();
        for i in 0..n {
            match offsets.remove(&path_key(&item(i).path)) {
                Some((offset, len)) => found.push((offset, len, i)),
                None => each(i, Carried::New),
            }
        }
        let mut rest: Vec<(u64, u32)> = offsets.into_values().collect();
        let mut sorted = Sorted {
            in_journal: found.len(),
            ..Sorted::default()
        };
        found.sort_unstable_by_key(|&(offset, ..)| offset);
        let mut window = Window {
            file: self.file.as_ref(),
            start: 0,
            bytes: Vec::new(),
        };
        for (offset, len, i) in found {
            let carried = match window.payload(offset, len) {
                Some(payload) => judge(payload, item(i)),
                // The record could not be read again, or changed: the content is read instead.
                None => Carried::New,
            };
            each(i, carried);
        }
        rest.sort_unstable();
        for (offset, len) in rest {
            let Some(payload) = window.payload(offset, len) else {
                continue;
            };
            // A path whose reading failed may be gone for the same reason (removed meanwhile).
            if let Some((path, (_, c))) = record_path(payload).zip(parse_content(payload))
                && c.read_whole()
            {
                sorted.gone += 1;
                sorted.one_gone.get_or_insert_with(|| path.to_owned());
            }
        }
        sorted
    }

    /// What the journal says of the content `item` (its first path) points to, one at a time
    /// (for the tests: [`CarryOver::sort_out`] reads the file once for all).
    #[cfg(test)]
    fn carried(&self, item: &Item) -> Carried {
        let Some(&(offset, len)) = self.offsets.get(&path_key(&item.path)) else {
            return Carried::New;
        };
        let mut window = Window {
            file: self.file.as_ref(),
            start: 0,
            bytes: Vec::new(),
        };
        window
            .payload(offset, len)
            .map_or(Carried::New, |payload| judge(payload, item))
    }
}

/// What [`CarryOver::sort_out`] found of the journal's records.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sorted {
    /// The walk's paths the journal has records of (changed or not).
    pub in_journal: usize,
    /// Contents the journal records as read whose path the walk did not find, and one of them.
    pub gone: usize,
    pub one_gone: Option<PathBuf>,
}

/// The path a content record (`payload`) is of.
fn record_path(payload: &[u8]) -> Option<&Path> {
    let mut i = In(payload.get(1..)?);
    Some(Path::new(std::ffi::OsStr::from_bytes(i.bytes()?)))
}

/// Whether a content record (`payload`) still holds for the item the walk found at its path.
fn judge(payload: &[u8], item: &Item) -> Carried {
    match parse_content(payload) {
        // It parsed, and was this path's, when the journal was opened; the file changed since.
        None => Carried::New,
        Some((key, _)) if key != path_key(&item.path) => Carried::New,
        // A failed read is tried again: the cause (a permission, a failing reader) may be
        // gone.
        Some((_, c)) if !c.read_whole() => Carried::New,
        Some((_, c))
            if Some(c.ino) == item.id.map(|i| i.ino)
                && c.size == item.size
                && c.mtime == item.mtime
                && c.ctime == item.ctime =>
        {
            Carried::Same(c.outcome)
        }
        Some(_) => Carried::Changed,
    }
}

/// A piece of the journal read into memory, so that records read in the file's order take a
/// `pread` a megabyte, not one each.
struct Window<'a> {
    file: Option<&'a File>,
    start: u64,
    bytes: Vec<u8>,
}

impl Window<'_> {
    const SIZE: usize = 1 << 20;

    /// The `len` bytes at `offset`; `None` when the file cannot be read or ends before.
    fn get(&mut self, offset: u64, len: u32) -> Option<&[u8]> {
        use std::os::unix::fs::FileExt;
        let len = len as usize;
        let inside =
            offset >= self.start && offset + len as u64 <= self.start + self.bytes.len() as u64;
        if !inside {
            let file = self.file?;
            self.start = offset;
            self.bytes.resize(len.max(Self::SIZE), 0);
            let mut filled = 0;
            while filled < self.bytes.len() {
                match file.read_at(&mut self.bytes[filled..], offset + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        filled = 0;
                        break;
                    }
                }
            }
            self.bytes.truncate(filled);
            if filled < len {
                return None;
            }
        }
        let at = (offset - self.start) as usize;
        Some(&self.bytes[at..at + len])
    }

    /// The payload of `len` bytes at `offset` when its check, which follows it, still holds:
    /// read again, the record is checked again.
    fn payload(&mut self, offset: u64, len: u32) -> Option<&[u8]> {
        let bytes = self.get(offset, len + CHECK as u32)?;
        let (payload, check) = bytes.split_at(len as usize);
        (check == &blake3::hash(payload).as_bytes()[..CHECK]).then_some(payload)
    }
}

impl Committed {
    /// Whether the content was read to its end (and, for an image, read again to decode it).
    fn read_whole(&self) -> bool {
        match &self.outcome {
            Err(_) => false,
            Ok((_, _, Some(image))) => !matches!(image.pdq, Err(DecodeError::Read(_))),
            Ok(_) => true,
        }
    }
}

impl Journal {
    /// Starts the journal of a new scan in `dir`, where none may be: writes the scan's record
    /// and syncs it before returning.
    ///
    /// # Errors
    /// The file exists or cannot be written.
    pub fn create(dir: &Path, start: Start) -> io::Result<Journal> {
        let path = dir.join(JOURNAL);
        // Made whole under a temporary name (owner-only), then renamed: a kill while it is
        // made leaves no journal that cannot be resumed, only a file the next session removes.
        let mut tmp = crate::output::create_temp(dir)?;
        let lock = lock(tmp.as_file())?;
        let mut head = MAGIC.to_vec();
        head.extend(VERSION.to_le_bytes());
        head.extend(frame(&start_record(&start)));
        tmp.write_all(&head)?;
        tmp.as_file().sync_all()?;
        let file = tmp.persist_noclobber(&path).map_err(|e| e.error)?;
        File::open(dir)?.sync_all()?;
        let contents = Contents {
            start,
            sessions: Vec::new(),
            committed: HashMap::new(),
            records_read: 0,
            good: 0,
        };
        Ok(Journal::writing(path, file, lock, contents, 0, None))
    }

    /// Opens the journal in `dir` to resume its scan: reads every whole record, and appends
    /// from the end of the last one, cutting off what follows it (a record a kill left half
    /// written) when it first writes: a session refused before it began leaves the file as it
    /// was. `command` is the resuming session's, recorded by [`Journal::begin`].
    ///
    /// # Errors
    /// No journal, or not one, or one from another version of hashsift.
    pub fn resume(dir: &Path, command: Vec<OsString>) -> Result<Journal, JournalError> {
        let path = dir.join(JOURNAL);
        let io_err = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err)?;
        let lock = lock(&file).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock => JournalError::InUse { path: path.clone() },
            _ => io_err(e),
        })?;
        // The session that held the lock may have finished and removed the journal between
        // its opening here and the lock: then this is not the journal any more.
        {
            use std::os::unix::fs::MetadataExt;
            let open = file.metadata().map_err(io_err)?;
            let named = std::fs::metadata(&path).map_err(io_err)?;
            if open.nlink() == 0 || (open.dev(), open.ino()) != (named.dev(), named.ino()) {
                return Err(JournalError::InUse { path });
            }
        }
        let total = file.metadata().map_err(io_err)?.len();
        let contents = read(io::BufReader::with_capacity(1 << 20, &file), &path)?;
        let torn_bytes = total.saturating_sub(contents.good);
        file.seek(io::SeekFrom::Start(contents.good))
            .map_err(io_err)?;
        Ok(Journal::writing(
            path,
            file,
            lock,
            contents,
            torn_bytes,
            Some(command),
        ))
    }

    /// The journal `file`, positioned where records are appended (`torn_bytes` after it are
    /// cut off before the first is written), holding `contents`.
    fn writing(
        path: PathBuf,
        file: File,
        lock: File,
        contents: Contents,
        torn_bytes: u64,
        resuming: Option<Vec<OsString>>,
    ) -> Journal {
        let (sender, receiver) = sync_channel(QUEUE);
        let cut_to = (torn_bytes > 0).then_some(contents.good);
        let writer = std::thread::Builder::new()
            .name("hashsift-journal".into())
            .spawn(move || write_records(file, cut_to, &receiver))
            .expect("a thread for the journal starts");
        Journal {
            path,
            start: contents.start,
            sessions: contents.sessions,
            committed: Mutex::new(contents.committed),
            resuming: Mutex::new(resuming),
            records_read: contents.records_read,
            torn_bytes,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            lock,
        }
    }

    /// What the scan is.
    pub fn start(&self) -> &Start {
        &self.start
    }

    /// The resumed sessions before this one.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// Whether this session resumes an earlier one.
    pub fn is_resumed(&self) -> bool {
        self.lock_resuming().is_some() || !self.sessions.is_empty()
    }

    fn lock_resuming(&self) -> std::sync::MutexGuard<'_, Option<Vec<OsString>>> {
        self.resuming.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The records read from the journal, to carry over what has not changed: taken once
    /// (after that, and for a new scan, empty), and freed once the hashing is planned.
    pub fn carry_over(&self) -> CarryOver {
        let offsets = std::mem::take(
            &mut *self
                .committed
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        // Without a handle to read it by, nothing is carried over: every content is read.
        let file = if offsets.is_empty() {
            None
        } else {
            self.lock.try_clone().ok()
        };
        CarryOver { offsets, file }
    }

    /// Records, when resuming, that this session began at `at` and carried `carried` contents
    /// over (`changed` recorded ones had changed); returns the session (`None` for the first).
    pub fn begin(&self, at: Timestamp, carried: u64, changed: u64) -> Option<Session> {
        let command = self.lock_resuming().take()?;
        let session = Session {
            at,
            command,
            carried,
            changed,
        };
        self.send(frame(&session_record(&session)));
        Some(session)
    }

    /// A batch for one hashing thread's records.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            journal: self,
            frames: Vec::new(),
            since: None,
        }
    }

    /// Hands framed records to the writer.
    fn send(&self, frames: Vec<u8>) {
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

    /// Writes out and syncs every record sent.
    ///
    /// # Errors
    /// A record could not be written or synced (the disk is full, say): the journal holds
    /// the records before it.
    pub fn finish(&self) -> io::Result<()> {
        drop(
            self.sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match writer {
            Some(w) => w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            None => Ok(()),
        }
    }

    /// Deletes the journal: the scan is complete and its report written.
    ///
    /// # Errors
    /// The records could not all be written, or the file could not be removed.
    pub fn remove(self) -> io::Result<()> {
        self.finish()?;
        std::fs::remove_file(&self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What a journal holds.
struct Contents {
    start: Start,
    sessions: Vec<Session>,
    committed: Offsets,
    /// Whole records read, and the offset after the last.
    records_read: u64,
    good: u64,
}

/// Reads a journal (at `path`, for messages) up to its last whole record.
fn read(input: impl Read, path: &Path) -> Result<Contents, JournalError> {
    let io_err = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let not = |detail: &str| JournalError::NotJournal {
        path: path.to_owned(),
        detail: detail.to_owned(),
    };
    let mut records = Records {
        input,
        at: PREAMBLE,
        buf: Vec::new(),
    };
    let mut preamble = [0u8; PREAMBLE as usize];
    if !read_whole(&mut records.input, &mut preamble).map_err(io_err)? || &preamble[..16] != MAGIC {
        return Err(not(""));
    }
    let version = u32::from_le_bytes(preamble[16..20].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(not(&format!(
            " of format {VERSION} (it is format {version})"
        )));
    }
    let start = records
        .next()
        .map_err(io_err)?
        .and_then(parse_start)
        .ok_or_else(|| not(": its first record is missing or damaged"))?;
    let ours = env!("CARGO_PKG_VERSION");
    if start.tool_version != ours {
        return Err(JournalError::Version {
            path: path.to_owned(),
            theirs: start.tool_version,
            ours: ours.to_owned(),
        });
    }
    let mut sessions = Vec::new();
    let mut committed = HashMap::new();
    let mut records_read = 1;
    let mut good = records.at;
    loop {
        // The payload follows the record's length.
        let offset = records.at + 4;
        let Some(payload) = records.next().map_err(io_err)? else {
            break;
        };
        let len = payload.len() as u32;
        let parsed = match payload.first() {
            Some(&SESSION) => parse_session(payload).map(|s| sessions.push(s)),
            Some(&CONTENT) => parse_content(payload).map(|(key, _)| {
                committed.insert(key, (offset, len));
            }),
            _ => None,
        };
        if parsed.is_none() {
            break;
        }
        records_read += 1;
        good = records.at;
    }
    Ok(Contents {
        start,
        sessions,
        committed,
        records_read,
        good,
    })
}

/// Reads a journal's bytes as `scan --resume` does: how many whole records they hold, or why
/// they are not a journal to resume. For fuzzing the reader.
///
/// # Errors
/// Not a journal, or one from another version.
pub fn check(bytes: &[u8]) -> Result<u64, JournalError> {
    read(bytes, Path::new("(bytes)")).map(|c| c.records_read)
}

/// Parses one record's payload (its check passed) as the reader does: whether it is one.
/// For fuzzing the record parsers, which the checks keep random bytes from.
pub fn check_record(payload: &[u8]) -> bool {
    match payload.first() {
        Some(&START) => parse_start(payload).is_some(),
        Some(&SESSION) => parse_session(payload).is_some(),
        Some(&CONTENT) => parse_content(payload).is_some(),
        _ => false,
    }
}

/// One hashing thread's records, handed to the writer together every [`BATCH_BYTES`] or
/// [`FLUSH_EVERY`] and when dropped: a record at a time would wake the writer for each (a
/// million small files, a million wake-ups).
pub struct Batch<'a> {
    journal: &'a Journal,
    frames: Vec<u8>,
    /// When the first record of the batch was made.
    since: Option<Instant>,
}

impl Batch<'_> {
    /// Records what hashing found of the content `item` (the first path to it) points to.
    pub fn record(&mut self, item: &Item, outcome: Result<&Hashed, &ItemError>) {
        let payload = content_record(item, outcome);
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
            self.journal.send(std::mem::take(&mut self.frames));
        }
        self.since = None;
    }
}

impl Drop for Journal {
    /// Writes out what was sent, even when the scan stops on an error.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.send();
    }
}

/// Takes the journal's exclusive lock (`flock`) for this process, without waiting: another
/// session of the same scan running now is refused. Returns a handle that holds it (the lock
/// goes with the process, however it ends).
fn lock(file: &File) -> io::Result<File> {
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

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(payload.len() + 4 + CHECK);
    frame_into(&mut r, payload);
    r
}

/// Appends the record of `payload` to `out`: its length, itself, its check.
fn frame_into(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend((payload.len() as u32).to_le_bytes());
    out.extend(payload);
    out.extend(&blake3::hash(payload).as_bytes()[..CHECK]);
}

/// The journal's records, read in order.
struct Records<R> {
    input: R,
    /// The offset after the last whole record read.
    at: u64,
    buf: Vec<u8>,
}

impl<R: Read> Records<R> {
    /// The next record's payload; `None` at the end of the file, and at the first record that
    /// is cut short or damaged (the journal ends there).
    ///
    /// # Errors
    /// The file cannot be read.
    fn next(&mut self) -> io::Result<Option<&[u8]>> {
        let mut len = [0u8; 4];
        if !read_whole(&mut self.input, &mut len)? {
            return Ok(None);
        }
        let len = u32::from_le_bytes(len);
        if len > MAX_RECORD {
            return Ok(None);
        }
        self.buf.resize(len as usize + CHECK, 0);
        if !read_whole(&mut self.input, &mut self.buf)? {
            return Ok(None);
        }
        let (payload, check) = self.buf.split_at(len as usize);
        if check != &blake3::hash(payload).as_bytes()[..CHECK] {
            return Ok(None);
        }
        self.at += 4 + u64::from(len) + CHECK as u64;
        Ok(Some(payload))
    }
}

/// Fills `buf`; false when the input ends first.
fn read_whole(input: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match input.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn path_key(path: &Path) -> [u8; 16] {
    blake3::hash(path.as_os_str().as_bytes()).as_bytes()[..16]
        .try_into()
        .expect("16 bytes")
}

// The scan and session records: JSON, as they are few and read by people inspecting a journal.
// Paths and arguments are kept as bytes (hex), as they need not be UTF-8.

fn hex_os(s: &std::ffi::OsStr) -> Value {
    crate::digest::to_hex(s.as_bytes()).into()
}

fn os_hex(v: &Value) -> Option<OsString> {
    let s = v.as_str()?;
    if s.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(OsString::from_vec(bytes))
}

fn time_value(t: Timestamp) -> Value {
    json!([t.secs, t.nanos])
}

fn value_time(v: &Value) -> Option<Timestamp> {
    Some(Timestamp {
        secs: v.get(0)?.as_i64()?,
        nanos: u32::try_from(v.get(1)?.as_u64()?)
            .ok()
            .filter(|&n| n < NANOS)?,
    })
}

/// Nanoseconds in a second: a time's fraction is below it, or the record is damaged.
const NANOS: u32 = 1_000_000_000;

fn start_record(s: &Start) -> Vec<u8> {
    let v = json!({
        "tool_version": s.tool_version,
        "started": time_value(s.started),
        "command": s.command.iter().map(|a| hex_os(a)).collect::<Vec<_>>(),
        "cwd": hex_os(s.cwd.as_os_str()),
        "roots": s.roots.iter().map(|r| hex_os(r.as_os_str())).collect::<Vec<_>>(),
        "db": hex_os(s.db.as_os_str()),
        "case": s.case,
        "evidence_id": s.evidence_id,
        "examiner": s.examiner,
        "lookup": match s.lookup {
            LookupChoice::Auto => "auto",
            LookupChoice::Index => "index",
            LookupChoice::Direct => "direct",
        },
        "pdq": s.pdq.map(|p| json!({
            "decode": p.scale.name(),
            "min_quality": p.min_quality,
            "max_distance": p.max_distance,
        })),
    });
    let mut r = vec![START];
    r.extend(serde_json::to_vec(&v).expect("a JSON value serialises"));
    r
}

fn parse_start(payload: &[u8]) -> Option<Start> {
    let (&kind, json) = payload.split_first()?;
    if kind != START {
        return None;
    }
    let v: Value = serde_json::from_slice(json).ok()?;
    let os_list = |key: &str| -> Option<Vec<OsString>> {
        v.get(key)?.as_array()?.iter().map(os_hex).collect()
    };
    let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let pdq = match v.get("pdq")? {
        Value::Null => None,
        p => Some(PdqMatching {
            scale: match p.get("decode")?.as_str()? {
                "fast" => JpegScale::Fast,
                "full" => JpegScale::Full,
                _ => return None,
            },
            min_quality: u8::try_from(p.get("min_quality")?.as_u64()?).ok()?,
            max_distance: u32::try_from(p.get("max_distance")?.as_u64()?).ok()?,
        }),
    };
    Some(Start {
        tool_version: text("tool_version")?,
        started: value_time(v.get("started")?)?,
        command: os_list("command")?,
        cwd: os_hex(v.get("cwd")?)?.into(),
        roots: os_list("roots")?.into_iter().map(PathBuf::from).collect(),
        db: os_hex(v.get("db")?)?.into(),
        case: text("case"),
        evidence_id: text("evidence_id"),
        examiner: text("examiner"),
        lookup: match v.get("lookup")?.as_str()? {
            "auto" => LookupChoice::Auto,
            "index" => LookupChoice::Index,
            "direct" => LookupChoice::Direct,
            _ => return None,
        },
        pdq,
    })
}

fn session_record(s: &Session) -> Vec<u8> {
    let v = json!({
        "at": time_value(s.at),
        "command": s.command.iter().map(|a| hex_os(a)).collect::<Vec<_>>(),
        "carried": s.carried,
        "changed": s.changed,
    });
    let mut r = vec![SESSION];
    r.extend(serde_json::to_vec(&v).expect("a JSON value serialises"));
    r
}

fn parse_session(payload: &[u8]) -> Option<Session> {
    let v: Value = serde_json::from_slice(payload.get(1..)?).ok()?;
    Some(Session {
        at: value_time(v.get("at")?)?,
        command: v
            .get("command")?
            .as_array()?
            .iter()
            .map(os_hex)
            .collect::<Option<_>>()?,
        carried: v.get("carried")?.as_u64()?,
        changed: v.get("changed")?.as_u64()?,
    })
}

// Content records: binary, as there is one per file hashed.

struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend(v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend(v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend(b);
    }
    /// A presence flag, and the value when there is one.
    fn optional<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        self.u8(u8::from(value.is_some()));
        if let Some(v) = value {
            write(self, v);
        }
    }
    fn time(&mut self, t: Option<Timestamp>) {
        self.optional(t, |o, t| {
            o.u64(t.secs as u64);
            o.u32(t.nanos);
        });
    }
}

struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
    fn flag(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    /// A value after a presence flag: `None` when damaged, `Some(None)` when absent.
    fn optional<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.flag()? {
            read(self).map(Some)
        } else {
            Some(None)
        }
    }
    fn time(&mut self) -> Option<Option<Timestamp>> {
        self.optional(|i| {
            Some(Timestamp {
                secs: i.u64()? as i64,
                nanos: i.u32().filter(|&n| n < NANOS)?,
            })
        })
    }
}

fn content_record(item: &Item, outcome: Result<&Hashed, &ItemError>) -> Vec<u8> {
    let mut o = Out(Vec::with_capacity(256));
    o.u8(CONTENT);
    o.bytes(item.path.as_os_str().as_bytes());
    o.u64(item.id.map_or(0, |i| i.ino));
    o.u64(item.size);
    o.time(item.mtime);
    o.time(item.ctime);
    match outcome {
        Ok((digests, content, image)) => {
            o.u8(0);
            let raw = |o: &mut Out, d: &[u8]| o.0.extend(d);
            o.optional(digests.md5.as_ref().map(|d| &d.0[..]), raw);
            o.optional(digests.sha1.as_ref().map(|d| &d.0[..]), raw);
            o.optional(digests.sha256.as_ref().map(|d| &d.0[..]), raw);
            o.optional(digests.blake3.as_ref().map(|d| &d.0[..]), raw);
            o.optional(*content, |o, c| {
                let class = Class::ALL.iter().position(|&k| k == c.class);
                o.u8(class.expect("Class::ALL lists every class") as u8);
                o.bytes(c.mime.as_bytes());
            });
            match image.as_deref() {
                None => o.u8(0),
                Some(ImageHash {
                    pdq: Ok(pdq),
                    dihedral,
                    decoder,
                }) => {
                    o.u8(1);
                    o.0.extend(pdq.hash.to_bytes());
                    o.u8(pdq.quality);
                    o.bytes(decoder.unwrap_or_default().as_bytes());
                    o.optional(dihedral.as_deref(), |o, all| {
                        for h in all {
                            o.0.extend(h.to_bytes());
                        }
                    });
                }
                Some(ImageHash { pdq: Err(e), .. }) => {
                    o.u8(2);
                    match e {
                        DecodeError::Unsupported(r) => {
                            o.u8(0);
                            o.bytes(r.as_str().as_bytes());
                        }
                        DecodeError::TooLarge { width, height } => {
                            o.u8(1);
                            o.u64(*width);
                            o.u64(*height);
                        }
                        DecodeError::Corrupt(r) => {
                            o.u8(2);
                            o.bytes(r.as_str().as_bytes());
                        }
                        DecodeError::FileTooLarge(n) => {
                            o.u8(3);
                            o.u64(*n);
                        }
                        DecodeError::Read(r) => {
                            o.u8(4);
                            o.bytes(r.as_str().as_bytes());
                        }
                    }
                }
            }
        }
        Err(e) => {
            o.u8(1);
            let stage = Stage::ALL.iter().position(|&s| s == e.stage);
            o.u8(stage.expect("Stage::ALL lists every stage") as u8);
            o.optional(e.os_code, |o, code| o.u32(code as u32));
            o.bytes(e.message.as_bytes());
        }
    }
    o.0
}

fn parse_content(payload: &[u8]) -> Option<([u8; 16], Committed)> {
    let mut i = In(payload.get(1..)?);
    let key = path_key(Path::new(std::ffi::OsStr::from_bytes(i.bytes()?)));
    let ino = i.u64()?;
    let size = i.u64()?;
    let mtime = i.time()?;
    let ctime = i.time()?;
    let outcome = match i.u8()? {
        0 => {
            let md5 = i.optional(|i| i.array().map(Md5))?;
            let sha1 = i.optional(|i| i.array().map(Sha1))?;
            let sha256 = i.optional(|i| i.array().map(Sha256))?;
            let blake3 = i.optional(|i| i.array().map(Blake3))?;
            let content = i.optional(|i| {
                let class = *Class::ALL.get(i.u8()? as usize)?;
                let mime = intern(i.text()?)?;
                Some(ContentType { mime, class })
            })?;
            let image = match i.u8()? {
                0 => None,
                1 => {
                    let hash = PdqHash::from_bytes(&i.array()?);
                    let quality = i.u8()?;
                    let decoder = i.text()?;
                    let dihedral = i.optional(|i| {
                        let mut all = [PdqHash::from_bytes(&[0; 32]); 8];
                        for h in &mut all {
                            *h = PdqHash::from_bytes(&i.array()?);
                        }
                        Some(Box::new(all))
                    })?;
                    Some(Arc::new(ImageHash {
                        pdq: Ok(Pdq { hash, quality }),
                        dihedral,
                        decoder: match decoder {
                            "" => None,
                            name => Some(intern(name)?),
                        },
                    }))
                }
                2 => {
                    let e = match i.u8()? {
                        0 => DecodeError::Unsupported(i.text()?.into()),
                        1 => DecodeError::TooLarge {
                            width: i.u64()?,
                            height: i.u64()?,
                        },
                        2 => DecodeError::Corrupt(i.text()?.into()),
                        3 => DecodeError::FileTooLarge(i.u64()?),
                        4 => DecodeError::Read(i.text()?.into()),
                        _ => return None,
                    };
                    Some(ImageHash::failed_shared(e))
                }
                _ => return None,
            };
            Ok((
                Digests {
                    md5,
                    sha1,
                    sha256,
                    blake3,
                },
                content,
                image,
            ))
        }
        1 => {
            let stage = *Stage::ALL.get(i.u8()? as usize)?;
            let os_code = i.optional(|i| i.u32().map(|c| c as i32))?;
            Err(ItemError {
                stage,
                os_code,
                message: i.text()?.to_owned(),
            })
        }
        _ => return None,
    };
    i.0.is_empty().then_some((
        key,
        Committed {
            ino,
            size,
            mtime,
            ctime,
            outcome,
        },
    ))
}

/// The one `&'static str` of each content type's and decoder's name read from a journal: the
/// names are few (a few dozen) and short, and a journal naming more than [`MAX_NAMES`], or one
/// longer than [`MAX_NAME`] bytes, is taken for damaged (a forged one holds at most 32 KiB).
fn intern(s: &str) -> Option<&'static str> {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    if s.len() > MAX_NAME {
        return None;
    }
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&n) = names.iter().find(|&&n| n == s) {
        return Some(n);
    }
    if names.len() >= MAX_NAMES {
        return None;
    }
    let n: &'static str = Box::leak(s.to_owned().into_boxed_str());
    names.push(n);
    Some(n)
}

const MAX_NAMES: usize = 256;
const MAX_NAME: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::FileId;
    use crate::media::pdq::Transform;
    use crate::record::Kind;

    fn item(path: &str, ino: u64, size: u64, secs: i64) -> Item {
        let mut item = Item::failed(
            PathBuf::from(path),
            Kind::File,
            ItemError::new(Stage::Stat, String::new()),
        );
        item.error = None;
        item.id = Some(FileId { dev: 9, ino });
        item.size = size;
        item.mtime = Some(Timestamp {
            secs,
            nanos: 123_456_789,
        });
        item.ctime = Some(Timestamp {
            secs: secs + 1,
            nanos: 7,
        });
        item
    }

    fn start() -> Start {
        Start {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            started: Timestamp {
                secs: 1_800_000_000,
                nanos: 5,
            },
            command: vec!["hashsift".into(), OsString::from_vec(b"scan \xff".to_vec())],
            cwd: "/cases/1".into(),
            roots: vec![PathBuf::from(OsString::from_vec(
                b"/mnt/ev\xfe\nx".to_vec(),
            ))],
            db: "/units/known.db".into(),
            case: Some("2026/118".into()),
            evidence_id: None,
            examiner: Some("A. Examiner, \"lab\"".into()),
            lookup: LookupChoice::Index,
            pdq: Some(PdqMatching {
                scale: JpegScale::Fast,
                min_quality: 60,
                max_distance: 20,
            }),
        }
    }

    /// One outcome of each shape a content record holds.
    fn outcomes() -> Vec<(Item, Outcome)> {
        let digests = Digests {
            md5: Some(Md5([1; 16])),
            sha1: Some(Sha1([2; 20])),
            sha256: Some(Sha256([3; 32])),
            blake3: Some(Blake3([4; 32])),
        };
        let png = ContentType {
            mime: "image/png",
            class: Class::Image,
        };
        let hash = |b: u8| PdqHash::from_bytes(&[b; 32]);
        let mut dihedral = [hash(0); 8];
        for (t, h) in Transform::ALL.iter().zip(&mut dihedral) {
            *h = hash(*t as u8 + 10);
        }
        let hashed = Arc::new(ImageHash {
            pdq: Ok(Pdq {
                hash: hash(7),
                quality: 93,
            }),
            dihedral: Some(Box::new(dihedral)),
            decoder: Some("libjpeg-turbo"),
        });
        let mut list = vec![
            (
                item("/e/plain", 1, 10, 1),
                Ok((
                    Digests {
                        sha1: None,
                        ..digests
                    },
                    None,
                    None,
                )),
            ),
            (
                item("/e/typed", 2, 11, -5),
                Ok((
                    digests,
                    Some(ContentType {
                        mime: "application/x-empty",
                        class: Class::Empty,
                    }),
                    None,
                )),
            ),
            (
                item("/e/image", 3, 12, 2),
                Ok((digests, Some(png), Some(hashed))),
            ),
            (
                item("/e/no-dihedral", 4, 13, 2),
                Ok((
                    digests,
                    Some(png),
                    Some(Arc::new(ImageHash {
                        pdq: Ok(Pdq {
                            hash: hash(8),
                            quality: 0,
                        }),
                        dihedral: None,
                        decoder: Some("image-rs"),
                    })),
                )),
            ),
            (
                item("/e/unreadable", 5, 14, 3),
                Err(ItemError {
                    stage: Stage::Read,
                    os_code: Some(5),
                    message: "Input/output error (os error 5)".into(),
                }),
            ),
            (
                item("/e/changed size", 6, 15, 3),
                Err(ItemError::new(
                    Stage::Open,
                    "changed size while being read".into(),
                )),
            ),
        ];
        for (n, e) in [
            DecodeError::Unsupported("AVIF".into()),
            DecodeError::TooLarge {
                width: 70_000,
                height: 3,
            },
            DecodeError::Corrupt("premature end of data segment".into()),
            DecodeError::FileTooLarge(1 << 40),
            DecodeError::Read("EIO".into()),
        ]
        .into_iter()
        .enumerate()
        {
            list.push((
                item(&format!("/e/damaged-{n}"), 20 + n as u64, 99, 4),
                Ok((digests, Some(png), Some(ImageHash::failed_shared(e)))),
            ));
        }
        let odd = OsString::from_vec(b"/e/\xff\xfe name\nwith newline".to_vec());
        list.push((
            Item {
                path: PathBuf::from(odd),
                ..item("", 40, 0, 0)
            },
            Ok((digests, None, None)),
        ));
        list
    }

    fn write_all(dir: &Path) -> Vec<(Item, Outcome)> {
        let journal = Journal::create(dir, start()).unwrap();
        let list = outcomes();
        let mut batch = journal.batch();
        for (item, outcome) in &list {
            batch.record(item, outcome.as_ref());
        }
        drop(batch);
        journal.finish().unwrap();
        list
    }

    #[test]
    fn every_record_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let list = write_all(dir.path());
        let command = vec![OsString::from("resume"), OsString::from_vec(vec![0xff])];
        let journal = Journal::resume(dir.path(), command.clone()).unwrap();
        // No second session of the scan while this one runs.
        assert!(matches!(
            Journal::resume(dir.path(), vec![]),
            Err(JournalError::InUse { .. })
        ));
        assert_eq!(journal.start(), &start());
        assert_eq!(journal.records_read, 1 + list.len() as u64);
        assert_eq!(journal.torn_bytes, 0);
        let carry = journal.carry_over();
        assert!(journal.carry_over().offsets.is_empty(), "taken once");
        let mut window = Window {
            file: carry.file.as_ref(),
            start: 0,
            bytes: Vec::new(),
        };
        for (item, outcome) in &list {
            let (offset, len) = carry.offsets[&path_key(&item.path)];
            let (_, committed) = parse_content(window.payload(offset, len).unwrap()).unwrap();
            assert_eq!(&committed.outcome, outcome, "{}", item.path.display());
            // What was read whole is carried over; a failed read is tried again.
            let failed = match outcome {
                Err(_) => true,
                Ok((_, _, image)) => image
                    .as_ref()
                    .is_some_and(|i| matches!(i.pdq, Err(DecodeError::Read(_)))),
            };
            match carry.carried(item) {
                Carried::Same(got) if !failed => assert_eq!(&got, outcome),
                Carried::New if failed => {}
                other => panic!("{}: {other:?}", item.path.display()),
            }
        }
        // Another inode, size or time at the same path is a change; another path is new.
        let (base, _) = &list[0];
        for changed in [
            Item {
                id: Some(FileId { dev: 9, ino: 77 }),
                ..base.clone()
            },
            Item {
                size: base.size + 1,
                ..base.clone()
            },
            Item {
                mtime: None,
                ..base.clone()
            },
            // Written to and its modification time put back: the change time tells.
            Item {
                ctime: Some(Timestamp { secs: 1, nanos: 0 }),
                ..base.clone()
            },
        ] {
            assert!(matches!(carry.carried(&changed), Carried::Changed));
        }
        // The device may differ (a remount after a power cut): the path and inode decide.
        let remounted = Item {
            id: Some(FileId { dev: 1, ino: 1 }),
            ..base.clone()
        };
        assert!(matches!(carry.carried(&remounted), Carried::Same(_)));
        let other = Item {
            path: "/e/other".into(),
            ..base.clone()
        };
        assert!(matches!(carry.carried(&other), Carried::New));
        // All at once, in one pass over the file: the same, each item once.
        let mut all: Vec<Item> = list.iter().map(|(item, _)| item.clone()).collect();
        // (Not `remounted`: a walk gives each path once.)
        all.push(other);
        let one_by_one: Vec<String> = all
            .iter()
            .map(|item| format!("{:?}", carry.carried(item)))
            .collect();
        let mut together = vec![None; all.len()];
        let sorted = carry.sort_out(
            all.len(),
            |i| &all[i],
            |i, what| {
                assert!(together[i].is_none(), "item {i} twice");
                together[i] = Some(format!("{what:?}"));
            },
        );
        let together: Vec<String> = together.into_iter().map(Option::unwrap).collect();
        assert_eq!(together, one_by_one);
        // All but the other path; every path recorded was walked.
        assert_eq!(
            sorted,
            Sorted {
                in_journal: all.len() - 1,
                gone: 0,
                one_gone: None
            }
        );

        // The session is recorded once, and read back by the next resume.
        let at = Timestamp { secs: 7, nanos: 8 };
        let session = journal.begin(at, 3, 1).unwrap();
        assert!(journal.begin(at, 3, 1).is_none());
        journal.finish().unwrap();
        drop(journal);
        let again = Journal::resume(dir.path(), vec![]).unwrap();
        assert_eq!(again.sessions(), &[session]);
        assert_eq!(again.sessions()[0].command, command);
    }

    #[test]
    fn recorded_paths_the_walk_did_not_find_are_counted_when_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let list = write_all(dir.path());
        let read_whole = |outcome: &Outcome| match outcome {
            Err(_) => false,
            Ok((_, _, image)) => !image
                .as_ref()
                .is_some_and(|i| matches!(i.pdq, Err(DecodeError::Read(_)))),
        };
        let gone = list.iter().position(|(_, o)| read_whole(o)).unwrap();
        let failed = list.iter().position(|(_, o)| !read_whole(o)).unwrap();
        let walked: Vec<Item> = list
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != gone && i != failed)
            .map(|(_, (item, _))| item.clone())
            .collect();
        let journal = Journal::resume(dir.path(), vec![]).unwrap();
        let sorted = journal
            .carry_over()
            .sort_out(walked.len(), |i| &walked[i], |_, _| {});
        assert_eq!(
            sorted,
            Sorted {
                in_journal: list.len() - 2,
                gone: 1,
                one_gone: Some(list[gone].0.path.clone()),
            }
        );
        journal.finish().unwrap();
    }

    #[test]
    fn a_record_changed_after_the_journal_was_opened_is_not_carried_over() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let list = write_all(dir.path());
        let journal = Journal::resume(dir.path(), vec![]).unwrap();
        let carry = journal.carry_over();
        let (item, _) = list
            .iter()
            .find(|(item, _)| matches!(carry.carried(item), Carried::Same(_)))
            .unwrap();
        let (offset, len) = carry.offsets[&path_key(&item.path)];
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.path().join(JOURNAL))
            .unwrap();
        // Every byte of the record, its payload and its check, changed in turn.
        for at in offset..offset + u64::from(len) + CHECK as u64 {
            let mut byte = [0u8];
            file.read_exact_at(&mut byte, at).unwrap();
            file.write_all_at(&[byte[0] ^ 0x10], at).unwrap();
            assert!(
                matches!(carry.carried(item), Carried::New),
                "byte {} of the record changed",
                at - offset
            );
            file.write_all_at(&byte, at).unwrap();
        }
        assert!(matches!(carry.carried(item), Carried::Same(_)));
        journal.finish().unwrap();
    }

    #[test]
    fn a_cut_or_damaged_record_ends_the_journal_and_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let list = write_all(dir.path());
        let path = dir.path().join(JOURNAL);
        let whole = std::fs::read(&path).unwrap();
        let last = &list.last().unwrap().0;
        // The last record's length: 4 + payload + 16.
        let last_len = 4 + content_record(last, list.last().unwrap().1.as_ref()).len() + CHECK;
        for cut in [1, 2, 5, 16, 17, last_len - 1] {
            std::fs::write(&path, &whole[..whole.len() - cut]).unwrap();
            let journal = Journal::resume(dir.path(), vec![]).unwrap();
            assert_eq!(journal.records_read, list.len() as u64, "cut {cut}");
            assert_eq!(journal.torn_bytes, (last_len - cut) as u64);
            let carry = journal.carry_over();
            assert!(matches!(carry.carried(last), Carried::New));
            assert!(matches!(carry.carried(&list[0].0), Carried::Same(_)));
            // Its handle holds the lock too.
            drop(carry);
            journal.finish().unwrap();
            drop(journal);
            // A session that wrote nothing (refused before it began) leaves the file as it was.
            assert_eq!(
                std::fs::read(&path).unwrap(),
                &whole[..whole.len() - cut],
                "cut {cut}"
            );
            // One that begins cuts the torn record off: what it appends follows the last whole
            // one, and the next session reads it all.
            let journal = Journal::resume(dir.path(), vec![]).unwrap();
            let at = Timestamp { secs: 5, nanos: 6 };
            let session = journal.begin(at, 0, 0).unwrap();
            journal.finish().unwrap();
            drop(journal);
            let again = Journal::resume(dir.path(), vec![]).unwrap();
            assert_eq!(again.torn_bytes, 0, "cut {cut}");
            assert_eq!(again.records_read, list.len() as u64 + 1);
            assert_eq!(again.sessions(), &[session]);
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                (whole.len() - last_len + 4 + session_record(&again.sessions()[0]).len() + CHECK)
                    as u64
            );
        }
        // A changed byte in the third content record (after the scan's and two): it and the
        // rest are dropped.
        let mut damaged = whole.clone();
        let mut at = PREAMBLE as usize;
        for _ in 0..3 {
            let len = u32::from_le_bytes(damaged[at..at + 4].try_into().unwrap()) as usize;
            at += 4 + len + CHECK;
        }
        damaged[at + 10] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        let journal = Journal::resume(dir.path(), vec![]).unwrap();
        assert_eq!(journal.records_read, 3, "the scan's and two contents'");
        let carry = journal.carry_over();
        assert!(matches!(carry.carried(&list[1].0), Carried::Same(_)));
        assert!(matches!(carry.carried(&list[2].0), Carried::New));
        assert!(matches!(carry.carried(&list[3].0), Carried::New));
    }

    #[test]
    fn a_record_with_a_bad_flag_or_trailing_bytes_is_damage() {
        let (item, outcome) = &outcomes()[2];
        let payload = content_record(item, outcome.as_ref());
        assert!(parse_content(&payload).is_some());
        // The mtime's presence flag, after the kind, the path, the inode and the size.
        let flag = 1 + 4 + item.path.as_os_str().len() + 8 + 8;
        assert_eq!(payload[flag], 1);
        for bad in [2u8, 0xff] {
            let mut damaged = payload.clone();
            damaged[flag] = bad;
            assert!(parse_content(&damaged).is_none(), "flag {bad}");
        }
        let mut longer = payload.clone();
        longer.push(0);
        assert!(parse_content(&longer).is_none());
        assert!(parse_content(&payload[..payload.len() - 1]).is_none());
        // A length past the limit ends the journal without reading (or allocating) it.
        let mut records = Records {
            input: &(MAX_RECORD + 1).to_le_bytes()[..],
            at: 0,
            buf: Vec::new(),
        };
        assert!(records.next().unwrap().is_none());
    }

    #[test]
    fn what_is_not_a_journal_of_this_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL);
        assert!(matches!(
            Journal::resume(dir.path(), vec![]),
            Err(JournalError::Io { .. })
        ));
        std::fs::write(&path, b"SQLite format 3\0 and more bytes").unwrap();
        assert!(matches!(
            Journal::resume(dir.path(), vec![]),
            Err(JournalError::NotJournal { .. })
        ));
        // The preamble alone: no scan record.
        let mut bytes = MAGIC.to_vec();
        bytes.extend(VERSION.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            Journal::resume(dir.path(), vec![]),
            Err(JournalError::NotJournal { .. })
        ));
        // Another format version.
        let mut other = MAGIC.to_vec();
        other.extend((VERSION + 1).to_le_bytes());
        std::fs::write(&path, &other).unwrap();
        let e = Journal::resume(dir.path(), vec![]).unwrap_err();
        assert!(e.to_string().contains("format"), "{e}");
        // Another version of hashsift.
        std::fs::remove_file(&path).unwrap();
        let older = Start {
            tool_version: "0.0.1".into(),
            ..start()
        };
        Journal::create(dir.path(), older)
            .unwrap()
            .finish()
            .unwrap();
        assert!(matches!(
            Journal::resume(dir.path(), vec![]),
            Err(JournalError::Version { .. })
        ));
        // A second journal is never started over the first.
        assert!(Journal::create(dir.path(), start()).is_err());
    }
}
