//! Containers: archives (ZIP, tar, 7z) and compressed files (gzip, bzip2, xz, zstd) opened in
//! memory, member by member, never written to disk.
//!
//! [`Format::detect`] tells a container by its first bytes (never by its name). [`expand`]
//! walks its members in the order they are stored and hands each to a [`Visit`] with a reader
//! of its bytes; the visitor hashes them, and may open a member that is itself a container
//! with [`expand`] again. Every byte a member reader yields counts against one [`Budget`] for
//! the whole tree under an evidence file, so a zip bomb, however it nests, stops at the
//! budget with a reason instead of filling the memory, the disk or the hours.
//!
//! What stops a container early (a limit, damage, an interruption) is a [`Stop`]: the members
//! handed over before it stand, and the stop is recorded once.

mod compressed;
mod sevenzip;
mod tarball;
mod zipfile;

use std::cell::Cell;
use std::io::{self, Read, Seek};

use crate::utc::Timestamp;

/// A container format hashsift opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ZIP and everything built on it (OOXML, ODF, EPUB, JAR, APK), ZIP64 included.
    Zip,
    /// tar: ustar, GNU and pax, and the old V7 layout.
    Tar,
    /// 7-Zip.
    SevenZip,
    /// A gzip stream (several members concatenated read as one).
    Gzip,
    /// A bzip2 stream (several concatenated read as one).
    Bzip2,
    /// An xz stream (several concatenated read as one).
    Xz,
    /// A Zstandard stream (several frames read as one; skippable frames skipped).
    Zstd,
}

/// How many bytes of a file [`Format::detect`] looks at: a tar header's magic ends at 263.
pub const HEAD: usize = 512;

impl Format {
    /// The format's name in reports (fixed: written into reports and journals).
    pub fn name(self) -> &'static str {
        match self {
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::SevenZip => "7z",
            Format::Gzip => "gzip",
            Format::Bzip2 => "bzip2",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
        }
    }

    /// The container `head` (the first [`HEAD`] bytes of a file, fewer if it is shorter) starts,
    /// if any.
    pub fn detect(head: &[u8]) -> Option<Format> {
        let starts = |magic: &[u8]| head.starts_with(magic);
        if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
            Some(Format::Zip)
        } else if starts(&[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) {
            Some(Format::SevenZip)
        } else if starts(&[0x1F, 0x8B, 0x08]) {
            Some(Format::Gzip)
        } else if starts(b"BZh") && head.get(3).is_some_and(|b| (b'1'..=b'9').contains(b)) {
            Some(Format::Bzip2)
        } else if starts(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Format::Xz)
        } else if starts(&[0x28, 0xB5, 0x2F, 0xFD]) {
            Some(Format::Zstd)
        } else if tarball::is_header(head) {
            Some(Format::Tar)
        } else {
            None
        }
    }

    /// Whether the format holds one stream of bytes (a compressed file) rather than named
    /// members.
    pub fn is_compressed_file(self) -> bool {
        matches!(
            self,
            Format::Gzip | Format::Bzip2 | Format::Xz | Format::Zstd
        )
    }
}

/// The name the stream of a compressed file is listed under when the file stores none (gzip
/// may; bzip2, xz and zstd never do): the container's name without its compression suffix
/// (`x.tar.gz` gives `x.tar`, `x.tgz` gives `x.tar`), or the container's name itself when it
/// has no such suffix.
pub fn stream_name(container: &[u8]) -> Vec<u8> {
    const SUFFIXES: [(&[u8], &[u8]); 12] = [
        (b".tgz", b".tar"),
        (b".taz", b".tar"),
        (b".tbz2", b".tar"),
        (b".tbz", b".tar"),
        (b".txz", b".tar"),
        (b".tzst", b".tar"),
        (b".gz", b""),
        (b".z", b""),
        (b".bz2", b""),
        (b".bz", b""),
        (b".xz", b""),
        (b".zst", b""),
    ];
    let lower = container.to_ascii_lowercase();
    for (suffix, then) in SUFFIXES {
        if lower.ends_with(suffix) && lower.len() > suffix.len() {
            let mut name = container[..container.len() - suffix.len()].to_vec();
            name.extend_from_slice(then);
            return name;
        }
    }
    container.to_vec()
}

/// What bounds the expansion of one evidence file and everything nested in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Containers inside containers, the evidence file being depth 1.
    pub depth: u32,
    /// Members listed, all depths together.
    pub members: u64,
    /// Bytes expanded, all depths together, at the most.
    pub bytes: u64,
    /// Bytes expanded per byte of the evidence file, beyond [`Limits::ratio_floor`].
    pub ratio: u64,
    /// Bytes any evidence file may expand to, whatever its ratio.
    pub ratio_floor: u64,
    /// Bytes of a member's name kept (longer names are cut, and said to be).
    pub name_bytes: usize,
    /// The largest member opened in memory when it is a ZIP or 7z inside a stream (these need
    /// to seek): a larger one is hashed but not opened.
    pub in_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: 8,
            members: 1_000_000,
            bytes: 64 << 30,
            ratio: 200,
            ratio_floor: 256 << 20,
            name_bytes: 4096,
            in_memory: 256 << 20,
        }
    }
}

/// The bytes and members one evidence file may still expand to: shared by every container
/// nested in it.
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    allowed: u64,
    used: Cell<u64>,
    members: Cell<u64>,
}

impl Budget {
    /// The budget of an evidence file of `size` bytes.
    pub fn new(limits: Limits, size: u64) -> Budget {
        let by_ratio = size.saturating_mul(limits.ratio).max(limits.ratio_floor);
        Budget {
            limits,
            allowed: by_ratio.min(limits.bytes),
            used: Cell::new(0),
            members: Cell::new(0),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes expanded so far.
    pub fn used(&self) -> u64 {
        self.used.get()
    }

    /// The bytes this evidence file may expand to.
    pub fn allowed(&self) -> u64 {
        self.allowed
    }

    /// Whether a member reader has gone past the bytes allowed.
    pub fn exhausted(&self) -> bool {
        self.used.get() > self.allowed
    }

    /// The stop when the bytes allowed are spent.
    pub fn bytes_stop(&self) -> Stop {
        Stop::Limit(format!(
            "expansion stopped after {} bytes: more than this file may expand to ({} bytes: {}x its size, at least {} bytes, at most {} bytes)",
            self.used.get(),
            self.allowed,
            self.limits.ratio,
            self.limits.ratio_floor,
            self.limits.bytes
        ))
    }

    /// Counts one more member; the stop when that is more than allowed.
    fn count_member(&self) -> Result<(), Stop> {
        let n = self.members.get() + 1;
        if n > self.limits.members {
            return Err(Stop::Limit(format!(
                "more than {} members: the rest are not listed",
                self.limits.members
            )));
        }
        self.members.set(n);
        Ok(())
    }
}

/// Why a container's members stopped before its end. The members visited before stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A limit of [`Limits`] was reached.
    Limit(String),
    /// The container is damaged or cut short from here on.
    Damaged(String),
    /// The container cannot be read further: encrypted as a whole, or a method hashsift
    /// does not read.
    Unreadable(String),
    /// The run was interrupted.
    Cancelled,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Limit(s) | Stop::Damaged(s) | Stop::Unreadable(s) => f.write_str(s),
            Stop::Cancelled => f.write_str("interrupted"),
        }
    }
}

/// What a member is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    File,
    Dir,
    /// A symbolic link, with its target as stored.
    Symlink(Vec<u8>),
    /// A hard link to an earlier member (tar), with its name as stored.
    HardLink(Vec<u8>),
    /// Anything else a tar can hold (device, FIFO), by name.
    Other(&'static str),
}

/// One member of a container, as its container describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The name as stored (at most [`Limits::name_bytes`]; see `name_len`). Empty for a
    /// compressed file that stores none.
    pub name: Vec<u8>,
    /// The length of the stored name, when it was longer than what `name` keeps.
    pub name_cut: Option<usize>,
    pub entry: Entry,
    /// The size the container declares (not trusted: the bytes read are what count).
    pub size: Option<u64>,
    pub mtime: Option<Timestamp>,
    /// Encrypted: its bytes are not read (no reader is given).
    pub encrypted: bool,
    /// Stored by a method hashsift cannot read (no reader is given), and which.
    pub unsupported: Option<String>,
    /// For a file of a disk image: what its file system says of it.
    pub fs: Option<std::sync::Arc<crate::record::FsInfo>>,
    /// Why a member listed with no reader has no content, when that is no error (a deleted
    /// file whose metadata another file now uses).
    pub no_content: Option<String>,
}

impl Member {
    pub(crate) fn new(name: &[u8], limits: &Limits, entry: Entry) -> Member {
        let cut = name.len() > limits.name_bytes;
        Member {
            name: name[..name.len().min(limits.name_bytes)].to_vec(),
            name_cut: cut.then_some(name.len()),
            entry,
            size: None,
            mtime: None,
            encrypted: false,
            unsupported: None,
            fs: None,
            no_content: None,
        }
    }
}

/// What [`expand`] hands each member to.
pub trait Visit {
    /// One member, with a reader of its bytes when it is a file that can be read. An error
    /// while reading is the visitor's to record (the member's own error); the visitor returns
    /// a [`Stop`] only to stop the whole container (the budget spent, an interruption).
    ///
    /// # Errors
    /// The stop that ends the container.
    fn member(&mut self, member: Member, content: Option<&mut dyn Read>) -> Result<(), Stop>;
}

/// A reader that can also seek.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// Where a container's bytes come from.
pub enum Source<'a> {
    /// A file or buffer that can be read anywhere: ZIP and 7z read their directory at the end.
    Seekable(&'a mut dyn ReadSeek),
    /// A stream read once, front to back: a member of a tar or a compressed file. A ZIP read
    /// this way is read by its local headers; a 7z is read into memory first (within
    /// [`Limits::in_memory`]).
    Stream(&'a mut dyn Read),
}

/// Hands each member of the `format` container in `source` to `visit`, in stored order.
///
/// # Errors
/// The [`Stop`] that ended the container before its end (the members visited before it
/// stand).
pub fn expand(
    format: Format,
    source: Source<'_>,
    budget: &Budget,
    visit: &mut dyn Visit,
) -> Result<(), Stop> {
    // The readers are other people's code meeting hostile bytes: a panic in one ends this
    // container, not the run.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        expand_format(format, source, budget, visit)
    }))
    .unwrap_or_else(|panic| {
        Err(Stop::Damaged(format!(
            "the {} reader failed on this data ({})",
            format.name(),
            panic_text(panic.as_ref())
        )))
    })
}

/// What a caught panic said.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

fn expand_format(
    format: Format,
    source: Source<'_>,
    budget: &Budget,
    visit: &mut dyn Visit,
) -> Result<(), Stop> {
    match (format, source) {
        (Format::Zip, Source::Seekable(s)) => zipfile::expand(s, budget, visit),
        (Format::Zip, Source::Stream(s)) => zipfile::expand_stream(s, budget, visit),
        (Format::SevenZip, Source::Seekable(s)) => sevenzip::expand(s, budget, visit),
        (Format::SevenZip, Source::Stream(s)) => {
            let bytes = read_in_memory(s, budget, "7z")?;
            sevenzip::expand(&mut io::Cursor::new(bytes), budget, visit)
        }
        (Format::Tar, Source::Seekable(s)) => tarball::expand(s, budget, visit),
        (Format::Tar, Source::Stream(s)) => tarball::expand(s, budget, visit),
        (f, Source::Seekable(s)) => compressed::expand(f, s, budget, visit),
        (f, Source::Stream(s)) => compressed::expand(f, s, budget, visit),
    }
}

/// The rest of `stream`, when it is no longer than [`Limits::in_memory`].
fn read_in_memory(stream: &mut dyn Read, budget: &Budget, what: &str) -> Result<Vec<u8>, Stop> {
    let limit = budget.limits.in_memory;
    let mut bytes = Vec::new();
    stream
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Stop::Damaged(format!("cannot read the {what} archive: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(Stop::Limit(format!(
            "a {what} archive inside a stream is opened in memory up to {limit} bytes; this one is larger: its members are not listed"
        )));
    }
    Ok(bytes)
}

/// A member's reader that counts what it yields against the budget, and fails once the
/// budget is spent.
struct Metered<'a, R: ?Sized> {
    inner: &'a mut R,
    budget: &'a Budget,
}

impl<'a, R: Read + ?Sized> Metered<'a, R> {
    fn new(inner: &'a mut R, budget: &'a Budget) -> Self {
        Metered { inner, budget }
    }
}

impl<R: Read + ?Sized> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget.exhausted() {
            return Err(budget_error());
        }
        let room = self.budget.allowed - self.budget.used.get();
        if room == 0 && !buf.is_empty() {
            // Exactly the budget handed over: past it only if there is more.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.budget.used.set(self.budget.used.get() + 1);
            return Err(budget_error());
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.budget.used.set(self.budget.used.get() + n as u64);
        Ok(n)
    }
}

fn budget_error() -> io::Error {
    io::Error::other("the expansion budget is spent")
}

/// The stop after a visitor or reader failed: the budget when it is spent, else `damaged`.
pub(crate) fn stop_after(budget: &Budget, damaged: impl FnOnce() -> String) -> Stop {
    if budget.exhausted() {
        budget.bytes_stop()
    } else {
        Stop::Damaged(damaged())
    }
}

/// Hands `member` to `visit` with `content` metered, after counting it.
pub(crate) fn visit_member(
    visit: &mut dyn Visit,
    budget: &Budget,
    member: Member,
    content: Option<&mut dyn Read>,
) -> Result<(), Stop> {
    budget.count_member()?;
    match content {
        Some(r) => visit.member(member, Some(&mut Metered::new(r, budget))),
        None => visit.member(member, None),
    }?;
    if budget.exhausted() {
        return Err(budget.bytes_stop());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
