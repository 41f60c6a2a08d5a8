//! A line reader for text hash sets: bounded line length (a hostile 200 MB line is an error,
//! not an allocation), line numbers, CR LF and LF endings, a UTF-8 byte-order mark skipped.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::{Location, ReadError};
use crate::progress::ImportCounters;

/// The longest line a text format may have.
pub const MAX_LINE: usize = 1 << 20;

/// Counts the bytes read from a source into the import's progress.
pub struct Counting<'a, R> {
    inner: R,
    counters: &'a ImportCounters,
}

impl<'a, R> Counting<'a, R> {
    pub fn new(inner: R, counters: &'a ImportCounters) -> Self {
        Counting { inner, counters }
    }
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters.add_bytes(n as u64);
        Ok(n)
    }
}

/// Opens a source file for reading, its bytes counted into `counters`.
///
/// # Errors
/// I/O errors.
pub fn open<'a>(
    path: &Path,
    counters: &'a ImportCounters,
) -> std::io::Result<BufReader<Counting<'a, std::fs::File>>> {
    let file = super::open_source(path)?;
    Ok(BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            counters,
        },
    ))
}

/// Reads lines of at most [`MAX_LINE`] bytes.
pub struct Lines<R> {
    reader: R,
    line: Vec<u8>,
    number: u64,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R) -> Self {
        Lines {
            reader,
            line: Vec::new(),
            number: 0,
        }
    }

    /// The next line without its ending, with its number; `None` at the end.
    ///
    /// # Errors
    /// I/O errors, and a line longer than [`MAX_LINE`].
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, ReadError> {
        self.line.clear();
        let mut ended = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let (take, found) = match memchr_newline(buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if self.line.len() + take > MAX_LINE + 2 {
                return Err(ReadError::malformed(
                    Location::Line(self.number + 1),
                    format!("line longer than {} bytes", MAX_LINE),
                ));
            }
            self.line.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            if found {
                ended = true;
                break;
            }
        }
        if self.line.is_empty() && !ended {
            return Ok(None);
        }
        self.number += 1;
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if self.number == 1 && self.line.starts_with(b"\xef\xbb\xbf") {
            self.line.drain(..3);
        }
        if self.line.len() > MAX_LINE {
            return Err(ReadError::malformed(
                Location::Line(self.number),
                format!("line longer than {} bytes", MAX_LINE),
            ));
        }
        Ok(Some((self.number, &self.line)))
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

/// A line as text.
///
/// # Errors
/// Bytes that are not UTF-8.
pub fn text(number: u64, line: &[u8]) -> Result<&str, ReadError> {
    std::str::from_utf8(line).map_err(|e| {
        ReadError::malformed(
            Location::Line(number),
            format!("not valid UTF-8 (at byte {})", e.valid_up_to() + 1),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, String> {
        let mut l = Lines::new(std::io::Cursor::new(input.to_vec()));
        let mut out = Vec::new();
        loop {
            match l.next_line() {
                Ok(Some((n, line))) => out.push((n, line.to_vec())),
                Ok(None) => return Ok(out),
                Err(ReadError::Malformed { at, reason }) => return Err(format!("{at}: {reason}")),
                Err(_) => return Err("other".into()),
            }
        }
    }

    #[test]
    fn endings_bom_and_last_line_without_newline() {
        let got = all(b"\xef\xbb\xbfa\r\nb\n\nc").unwrap();
        let want: Vec<(u64, Vec<u8>)> = vec![
            (1, b"a".to_vec()),
            (2, b"b".to_vec()),
            (3, b"".to_vec()),
            (4, b"c".to_vec()),
        ];
        assert_eq!(got, want);
        assert_eq!(all(b"").unwrap(), vec![]);
    }

    #[test]
    fn an_overlong_line_is_an_error_with_its_number() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        input.extend(b"\nnext\n");
        let e = all(&input).unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
    }
}
