//! CSV for spreadsheets: a header row, then one row per item in path order (RFC 4180 quoting,
//! so commas, quotes and line breaks inside a field are kept).
//!
//! Columns: `path, path_hex, kind, size, mtime, nlink, <one per algorithm>, [pdq, pdq_quality,
//! pdq_error, vpdq_frames, vpdq_stopped with --pdq,] [archive, archive_members,
//! archive_stopped with --archives or a disk image read,] [partition, inode, deleted, atime,
//! ctime, crtime, dtime, image_integrity when a disk image was read,] target, target_hex, note, error_stage, error_os_code,
//! error`. A text cell that a spreadsheet would take for a formula
//! (starting with `=`, `+`, `-`, `@`, tab or CR) is written with a leading `'`. Whenever a
//! `path` or `target` cell is not the exact name (not valid UTF-8, or neutralised), the `_hex`
//! column beside it holds the exact bytes. The last row has `kind` `end` (or `incomplete` when the
//! run was interrupted) and the counts in `note`; a file without it was cut short.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

use super::ListingHeader;
use super::text::Text;
use crate::digest::to_hex;
use crate::record::Item;
use crate::textsafe::{looks_like_formula, neutralise};

pub fn write(p: &ListingHeader, items: &[Item], out: &mut dyn Write) -> io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    let mut header: Vec<String> = ["path", "path_hex", "kind", "size", "mtime", "nlink"]
        .map(String::from)
        .to_vec();
    header.extend(p.algorithms.iter().map(|a| a.name().to_owned()));
    if p.pdq {
        header.extend(["pdq", "pdq_quality", "pdq_error"].map(String::from));
        header.extend(VIDEO_COLUMNS.map(String::from));
    }
    let images = any_image(items);
    if p.archives || images {
        header.extend(ARCHIVE_COLUMNS.map(String::from));
    }
    if images {
        header.extend(IMAGE_COLUMNS.map(String::from));
    }
    header.extend(
        [
            "target",
            "target_hex",
            "note",
            "error_stage",
            "error_os_code",
            "error",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    let width = header.len();
    for item in items {
        let mut row = leading_cells(item);
        row.push(item.nlink.to_string());
        for alg in p.algorithms.iter() {
            row.push(
                item.digests
                    .as_ref()
                    .and_then(|d| d.hex(alg))
                    .unwrap_or_default(),
            );
        }
        if p.pdq {
            row.extend(pdq_cells(item));
            row.extend(video_cells(item));
        }
        if p.archives || images {
            row.extend(archive_cells(item));
        }
        if images {
            row.extend(image_cells(item));
        }
        let (target, target_hex) = match &item.target {
            Some(t) => cell_with_hex(t.as_os_str()),
            None => Default::default(),
        };
        row.push(target);
        row.push(target_hex);
        row.push(item.note.clone().map(neutralise).unwrap_or_default());
        match &item.error {
            Some(e) => {
                row.push(e.stage.name().to_owned());
                row.push(e.os_code.map(|c| c.to_string()).unwrap_or_default());
                row.push(neutralise(e.message.clone()));
            }
            None => row.extend([String::new(), String::new(), String::new()]),
        }
        w.write_record(&row)?;
    }
    // The last row says whether the listing is whole, so a cut-short file shows it.
    let mut row = vec![String::new(); width];
    row[2] = if p.complete { "end" } else { "incomplete" }.into();
    let note = header.iter().position(|h| h == "note").unwrap_or(width - 1);
    row[note] = format!(
        "{} items, {} files hashed ({} bytes), {} errors{}",
        items.len(),
        p.files_hashed,
        p.bytes_hashed,
        p.errors,
        if p.complete {
            ""
        } else {
            "; INCOMPLETE: the run was interrupted, paths not listed or not read are missing"
        }
    );
    w.write_record(&row)?;
    w.flush()?;
    Ok(())
}

/// The cells every CSV listing of items starts with: `path`, `path_hex`, `kind`, `size`,
/// `mtime`.
pub(crate) fn leading_cells(item: &Item) -> Vec<String> {
    let (path, path_hex) = cell_with_hex(item.path.as_os_str());
    vec![
        path,
        path_hex,
        item.kind.name().to_owned(),
        item.size.to_string(),
        item.mtime.map(|m| m.to_string()).unwrap_or_default(),
    ]
}

/// A name's cell, and its exact bytes in hex when the cell is not exactly the name.
pub(crate) fn cell_with_hex(name: &OsStr) -> (String, String) {
    let t = Text::of(name);
    if looks_like_formula(&t.text) {
        (format!("'{}", t.text), to_hex(name.as_bytes()))
    } else {
        (t.text, t.hex.unwrap_or_default())
    }
}

/// The `pdq`, `pdq_quality` and `pdq_error` cells of an item (empty when it is not an image).
pub fn pdq_cells(item: &Item) -> [String; 3] {
    match item.image.as_deref().map(|i| &i.pdq) {
        Some(Ok(p)) => [p.hash.to_string(), p.quality.to_string(), String::new()],
        Some(Err(e)) => [String::new(), String::new(), neutralise(e.to_string())],
        None => Default::default(),
    }
}

/// The columns of [`video_cells`].
pub(crate) const VIDEO_COLUMNS: [&str; 2] = ["vpdq_frames", "vpdq_stopped"];

/// A video's `vpdq_frames` (frames hashed) and `vpdq_stopped` (why not to its end) cells;
/// empty for any other item.
pub(crate) fn video_cells(item: &Item) -> [String; 2] {
    match &item.video {
        Some(v) => [
            v.frames.len().to_string(),
            v.stopped.clone().map(neutralise).unwrap_or_default(),
        ],
        None => Default::default(),
    }
}

/// The columns of [`image_cells`].
pub(crate) const IMAGE_COLUMNS: [&str; 8] = [
    "partition",
    "inode",
    "deleted",
    "atime",
    "ctime",
    "crtime",
    "dtime",
    "image_integrity",
];

/// The cells of a file read from a disk image (`partition`, `inode` with its stream as
/// `inode-type-id`, `deleted` (`deleted`, `deleted, reallocated` or empty), its file system's
/// access, change, creation and deletion times) and of a disk image (`image_integrity`: what
/// checking its hashes found); empty for any other item.
pub(crate) fn image_cells(item: &Item) -> [String; 8] {
    let mut cells: [String; 8] = Default::default();
    let time = |t: Option<crate::utc::Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    if let Some(f) = &item.fs {
        cells[0] = f.partition.map(|p| format!("p{p}")).unwrap_or_default();
        cells[1] = match f.stream {
            Some((t, i)) => format!("{}-{t}-{i}", f.inode),
            None => f.inode.to_string(),
        };
        cells[2] = match (f.deleted, f.reallocated) {
            (true, true) => "deleted, reallocated".to_owned(),
            (true, false) => "deleted".to_owned(),
            _ => String::new(),
        };
        cells[3] = time(f.atime);
        cells[4] = time(f.ctime);
        cells[5] = time(f.crtime);
        cells[6] = time(f.dtime);
    }
    if let Some(i) = item.archive.as_ref().and_then(|a| a.image.as_ref()) {
        cells[7] = neutralise(i.integrity.describe());
    }
    cells
}

/// Whether any of `items` was read from a disk image, or is one.
pub(crate) fn any_image(items: &[Item]) -> bool {
    items
        .iter()
        .any(|i| i.fs.is_some() || i.archive.as_ref().is_some_and(|a| a.image.is_some()))
}

/// The columns of [`archive_cells`].
pub(crate) const ARCHIVE_COLUMNS: [&str; 3] = ["archive", "archive_members", "archive_stopped"];

/// The `archive` (format), `archive_members` (members listed directly in it) and
/// `archive_stopped` (why it was not read to its end) cells of a container; empty for any
/// other item.
pub(crate) fn archive_cells(item: &Item) -> [String; 3] {
    match &item.archive {
        Some(a) => [
            a.format.to_owned(),
            a.members.to_string(),
            a.stopped.clone().map(neutralise).unwrap_or_default(),
        ],
        None => Default::default(),
    }
}
