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

mod carry;
mod content;
mod format;
mod records;
mod writer;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::hash::{Carried, Missing, Recorder, ThreadRecorder};
use crate::record::Item;
use crate::utc::Timestamp;

use self::carry::{CarryOver, Offsets};
use self::content::parse_content;
use self::format::{
    CONTENT, MAGIC, PREAMBLE, READS, Records, SESSION, START, VERSION, frame, read_whole,
};
use self::records::{parse_session, parse_start, session_record, start_record};
use self::writer::{Writer, lock};

pub use self::records::{Session, Start};
pub(crate) use self::writer::Batch;

/// The journal's name in the report directory.
pub const JOURNAL: &str = "journal.hsj";

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
    /// The resumed sessions: those read from the journal, then this one once it began.
    sessions: Mutex<Vec<Session>>,
    /// Where the records read from the journal are, until [`Journal::carry_over`] takes them.
    committed: Mutex<Offsets>,
    /// The session being resumed: its command until [`Journal::begin`] records it.
    resuming: Mutex<Option<Vec<OsString>>>,
    /// Records read, and bytes ignored after the last whole one.
    pub records_read: u64,
    pub torn_bytes: u64,
    writer: Writer,
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
        let cut_to = (torn_bytes > 0).then_some(contents.good);
        let writer = Writer::start(file, cut_to);
        Journal {
            path,
            start: contents.start,
            sessions: Mutex::new(contents.sessions),
            committed: Mutex::new(contents.committed),
            resuming: Mutex::new(resuming),
            records_read: contents.records_read,
            torn_bytes,
            writer,
            lock,
        }
    }

    /// What the scan is.
    pub fn start(&self) -> &Start {
        &self.start
    }

    /// The sessions that resumed the scan: those the journal holds, and this one once it
    /// began if it is one.
    pub fn sessions(&self) -> Vec<Session> {
        self.lock_sessions().clone()
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, Vec<Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_resuming(&self) -> std::sync::MutexGuard<'_, Option<Vec<OsString>>> {
        self.resuming.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The records read from the journal, to carry over what has not changed: taken once
    /// (after that, and for a new scan, empty), and freed once the hashing is planned.
    pub(crate) fn carry_over(&self) -> CarryOver {
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
        self.writer.send(frame(&session_record(&session)));
        self.lock_sessions().push(session.clone());
        Some(session)
    }

    /// A batch for one hashing thread's records.
    pub(crate) fn batch(&self) -> Batch<'_> {
        Batch::new(&self.writer)
    }

    /// Writes out and syncs every record sent.
    ///
    /// # Errors
    /// A record could not be written or synced (the disk is full, say): the journal holds
    /// the records before it.
    pub fn finish(&self) -> io::Result<()> {
        self.writer.finish()
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
    if !READS.contains(&version) {
        return Err(not(&format!(
            " of format {} (it is format {version})",
            READS.map(|v| v.to_string()).join(" or ")
        )));
    }
    let start = records
        .next()
        .map_err(io_err)?
        .and_then(parse_start)
        .ok_or_else(|| not(": its first record is missing or damaged"))?;
    let ours = env!("CARGO_PKG_VERSION");
    if start.provenance.tool_version != ours {
        return Err(JournalError::Version {
            path: path.to_owned(),
            theirs: start.provenance.tool_version,
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

impl Recorder for Journal {
    fn carry_over<'a>(
        &self,
        n: usize,
        item: &dyn Fn(usize) -> &'a Item,
        each: &mut dyn FnMut(usize, Carried),
    ) -> Missing {
        let carry = Journal::carry_over(self);
        let recorded = carry.len();
        let sorted = carry.sort_out(n, item, each);
        Missing {
            recorded,
            gone: sorted.gone,
            one_gone: sorted.one_gone,
        }
    }

    fn begin(&self, carried: u64, changed: u64) {
        Journal::begin(self, Timestamp::now(), carried, changed);
    }

    fn thread(&self) -> Box<dyn ThreadRecorder + '_> {
        Box::new(self.batch())
    }
}

impl Drop for Journal {
    /// Writes out what was sent, even when the scan stops on an error.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests;
