//! The journal's framing: a preamble, then records each its length, its payload and the
//! first 16 bytes of the payload's BLAKE3.

use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(super) const MAGIC: &[u8; 16] = b"hashsift-journal";
/// The format written. Format 2 added a content record's members; format 3 a member's file
/// system details and a disk image's own. A format-1 journal (no members) reads as format 3;
/// a format-2 one is refused (its members would not read).
pub(super) const VERSION: u32 = 3;
pub(super) const READS: [u32; 2] = [1, 3];
pub(super) const PREAMBLE: u64 = 20;
/// A longer record is taken for damage (the longest real one is a few KiB: a path).
pub(super) const MAX_RECORD: u32 = 1 << 24;
pub(super) const CHECK: usize = 16;

/// The first byte of each record's payload: what the record is.
pub(super) const START: u8 = b'S';
pub(super) const SESSION: u8 = b'R';
pub(super) const CONTENT: u8 = b'C';

/// Nanoseconds in a second: a time's fraction is below it, or the record is damaged.
pub(super) const NANOS: u32 = 1_000_000_000;

pub(super) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(payload.len() + 4 + CHECK);
    frame_into(&mut r, payload);
    r
}

/// Appends the record of `payload` to `out`: its length, itself, its check.
pub(super) fn frame_into(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend((payload.len() as u32).to_le_bytes());
    out.extend(payload);
    out.extend(&blake3::hash(payload).as_bytes()[..CHECK]);
}

/// The journal's records, read in order.
pub(super) struct Records<R> {
    pub(super) input: R,
    /// The offset after the last whole record read.
    pub(super) at: u64,
    pub(super) buf: Vec<u8>,
}

impl<R: Read> Records<R> {
    /// The next record's payload; `None` at the end of the file, and at the first record that
    /// is cut short or damaged (the journal ends there).
    ///
    /// # Errors
    /// The file cannot be read.
    pub(super) fn next(&mut self) -> io::Result<Option<&[u8]>> {
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
pub(super) fn read_whole(input: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match input.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

pub(super) fn path_key(path: &Path) -> [u8; 16] {
    blake3::hash(path.as_os_str().as_bytes()).as_bytes()[..16]
        .try_into()
        .expect("16 bytes")
}
