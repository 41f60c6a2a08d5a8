//! Output formats of an item listing: hashdeep, JSON Lines and CSV.
//!
//! Every writer takes the same [`Listing`] (provenance and items) and writes it in one pass, in
//! the items' path order. How each format writes a path that is not valid UTF-8, or that
//! contains line breaks, commas or quotes, is documented in `docs/formats.md`.

mod csv;
mod hashdeep;
pub mod html;
mod jsonl;
pub mod manifest;
pub mod scan;
pub mod text;
pub mod vics;

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

/// Provenance of a listing: who made it, how, and whether it is complete.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub tool_version: &'static str,
    /// The full command line, as given.
    pub command: Vec<OsString>,
    pub cwd: PathBuf,
    pub roots: Vec<PathBuf>,
    pub algorithms: AlgorithmSet,
    /// Whether images were PDQ-hashed (the listing then has PDQ fields or columns).
    pub pdq: bool,
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
    provenance: &Provenance,
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
        let name = entry.file_name();
        let name = name.as_encoded_bytes();
        if name.starts_with(PARTIAL_PREFIX.as_bytes())
            && name.ends_with(PARTIAL_SUFFIX.as_bytes())
            && entry.file_type()?.is_file()
        {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

const PARTIAL_PREFIX: &str = ".hashsift-";
const PARTIAL_SUFFIX: &str = ".partial";

/// Writes a file through a temporary name in the same directory and renames it into place only
/// once `fill` succeeded, so a crash never leaves a half-written file under the final name.
/// A path that exists and is not a regular file (`/dev/null`, a FIFO) is written in place.
///
/// # Errors
/// Any error creating, writing, syncing or renaming the file.
pub fn write_atomically(
    path: &std::path::Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let mut w = io::BufWriter::with_capacity(
            1 << 20,
            std::fs::OpenOptions::new().write(true).open(path)?,
        );
        fill(&mut w)?;
        return w.flush();
    }
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .suffix(PARTIAL_SUFFIX)
        .tempfile_in(dir)?;
    let mut w = io::BufWriter::with_capacity(1 << 20, tmp);
    fill(&mut w)?;
    let tmp = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself reaches the disk only with the directory.
    std::fs::File::open(dir)?.sync_all()
}
