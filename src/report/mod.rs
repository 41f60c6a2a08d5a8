//! Output formats of an item listing: hashdeep, JSON Lines and CSV.
//!
//! Every writer takes the same [`Listing`] (provenance and items) and writes it in one pass, in
//! the items' path order. How each format writes a path that is not valid UTF-8, or that
//! contains line breaks, commas or quotes, is documented in `docs/formats.md`.

mod csv;
mod hashdeep;
pub(crate) mod html;
mod jsonl;
pub mod manifest;
pub(crate) mod model;
pub(crate) mod scan;
pub(crate) mod summary;
pub(crate) mod text;
pub(crate) mod vics;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::digest::AlgorithmSet;
use crate::record::Item;
use crate::utc::Timestamp;

/// An output format for `hashsift hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Hashdeep,
    Jsonl,
    Csv,
}

impl Format {
    /// The algorithms this format can carry.
    pub fn supported(self) -> AlgorithmSet {
        match self {
            Format::Hashdeep => hashdeep::SUPPORTED,
            Format::Jsonl | Format::Csv => AlgorithmSet::all(),
        }
    }
}

/// The header of a `hash` listing: who made it, how, and whether it is complete.
#[derive(Clone, Debug)]
pub struct ListingHeader {
    pub tool_version: &'static str,
    /// The full command line, as given.
    pub command: Vec<OsString>,
    pub cwd: PathBuf,
    pub roots: Vec<PathBuf>,
    pub algorithms: AlgorithmSet,
    /// Whether images were PDQ-hashed (the listing then has PDQ fields or columns).
    pub pdq: bool,
    /// Whether containers were opened (the CSV then has archive columns).
    pub archives: bool,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub complete: bool,
    pub files_hashed: u64,
    pub bytes_hashed: u64,
    pub errors: usize,
}

/// Writes `items` with `provenance` to `out` in `format`.
///
/// # Errors
/// Any error writing to `out`.
pub fn write(
    format: Format,
    provenance: &ListingHeader,
    items: &[Item],
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Hashdeep => hashdeep::write(provenance, items, out),
        Format::Jsonl => jsonl::write(provenance, items, out),
        Format::Csv => csv::write(provenance, items, out),
    }
}

/// Removes from `dir` the temporary files [`write_atomically`] leaves when the process is
/// killed while writing; returns how many there were.
///
/// # Errors
/// The directory cannot be listed, or a file removed.
pub fn remove_partial_files(dir: &std::path::Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if crate::output::is_partial_name(&entry.file_name()) && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Writes a file through a new temporary name in the same directory and renames it into place
/// only once `fill` succeeded, so a crash never leaves a half-written file under the final name.
/// An existing `path` is replaced, never opened: a link, FIFO or device planted under the name
/// is neither followed nor written to.
///
/// # Errors
/// Any error creating, writing, syncing or renaming the file.
pub fn write_atomically(
    path: &std::path::Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = crate::output::parent_dir(path);
    let tmp = crate::output::create_temp(dir)?;
    let mut w = io::BufWriter::with_capacity(1 << 20, tmp);
    fill(&mut w)?;
    let tmp = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself reaches the disk only with the directory.
    crate::output::sync_dir(dir)
}

/// Writes a file the user named (`hash -o`, `db export -o`): a FIFO or character device
/// already there (`/dev/null`, a pipe to another program) is written in place, opened without
/// blocking (a FIFO nobody reads is an error at once, not a hang); anything else goes through
/// [`write_atomically`].
///
/// # Errors
/// Any error opening, creating, writing, syncing or renaming the file.
pub fn write_named(
    path: &std::path::Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let kind = std::fs::metadata(path).ok().map(|m| m.file_type());
    if kind.is_some_and(|k| k.is_block_device()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a block device: not written (it could hold evidence)",
        ));
    }
    if !kind.is_some_and(|k| k.is_fifo() || k.is_char_device()) {
        return write_atomically(path, fill);
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !(kind.is_fifo() || kind.is_char_device()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "changed into another kind of file as it was opened",
        ));
    }
    set_blocking(&file)?;
    let mut w = io::BufWriter::with_capacity(1 << 20, file);
    fill(&mut w)?;
    w.flush()
}

/// Clears `O_NONBLOCK` on `file`, opened with it so that the open could not block.
fn set_blocking(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor `file` owns, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_to_a_device_under_the_name_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("items.csv");
        std::os::unix::fs::symlink("/dev/null", &path).unwrap();
        write_atomically(&path, |out| out.write_all(b"report")).unwrap();
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(std::fs::read(&path).unwrap(), b"report");
        // Only the file: the temporary name is gone.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
