//! Carrying over what an earlier session recorded: each path's last record found by its
//! key, read back in the file's order, checked again, and judged against what the walk found.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::hash::Carried;
use crate::record::Item;

use super::content::{In, parse_content};
use super::format::{CHECK, path_key};

/// Where an earlier session's record of each path is in the journal (the last, when a path
/// has several): the offset of its payload and its length, by the path's BLAKE3 (16 bytes).
/// Records are read back from the file as they are carried over, not held: a million of them
/// would take 200 MB.
pub(super) type Offsets = HashMap<[u8; 16], (u64, u32)>;

/// The records earlier sessions committed, to be carried over.
#[derive(Debug, Default)]
pub(crate) struct CarryOver {
    pub(super) offsets: Offsets,
    /// The journal, read by offset (`pread`: the writer's position is not moved).
    pub(super) file: Option<File>,
}

impl CarryOver {
    /// How many paths the journal has records of.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len()
    }

    /// What the journal says of each of `n` contents, content `i` being the one `item(i)`
    /// (its first path) points to: `each(i, what)` is called once for every `i`, in no order.
    /// The records are read in the journal's order, in one pass over the file; then those of
    /// paths the walk did not find, to count the contents read whole that are gone.
    pub(crate) fn sort_out<'a>(
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
        let mut window = Window::new(self.file.as_ref());
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
    pub(super) fn carried(&self, item: &Item) -> Carried {
        let Some(&(offset, len)) = self.offsets.get(&path_key(&item.path)) else {
            return Carried::New;
        };
        let mut window = Window::new(self.file.as_ref());
        window
            .payload(offset, len)
            .map_or(Carried::New, |payload| judge(payload, item))
    }
}

/// What [`CarryOver::sort_out`] found of the journal's records.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Sorted {
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
            Carried::Same(c.outcome, c.members)
        }
        Some(_) => Carried::Changed,
    }
}

/// A piece of the journal read into memory, so that records read in the file's order take a
/// `pread` a megabyte, not one each.
pub(super) struct Window<'a> {
    file: Option<&'a File>,
    start: u64,
    bytes: Vec<u8>,
}

impl<'a> Window<'a> {
    const SIZE: usize = 1 << 20;

    pub(super) fn new(file: Option<&'a File>) -> Self {
        Window {
            file,
            start: 0,
            bytes: Vec::new(),
        }
    }

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
    pub(super) fn payload(&mut self, offset: u64, len: u32) -> Option<&[u8]> {
        let bytes = self.get(offset, len + CHECK as u32)?;
        let (payload, check) = bytes.split_at(len as usize);
        (check == &blake3::hash(payload).as_bytes()[..CHECK]).then_some(payload)
    }
}
