//! A file read at positions (`pread`): a `Read + Seek` view that never moves the file's own
//! offset, so that the hashing of a file and the opening of it as a container can share it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

/// `file`'s first `len` bytes, read at a position of its own.
pub struct Positional<'a> {
    file: &'a File,
    pos: u64,
    len: u64,
}

impl<'a> Positional<'a> {
    /// The first `len` bytes of `file` (its size when it was listed: what was hashed).
    pub fn new(file: &'a File, len: u64) -> Self {
        Positional { file, pos: 0, len }
    }
}

impl Read for Positional<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Positional<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_seeks_within_the_length_without_moving_the_file_offset() {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, b"0123456789").unwrap();
        f.seek(SeekFrom::Start(3)).unwrap();
        let mut p = Positional::new(&f, 8);
        let mut all = Vec::new();
        p.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"01234567");
        p.seek(SeekFrom::End(-2)).unwrap();
        let mut two = [0u8; 4];
        assert_eq!(p.read(&mut two).unwrap(), 2);
        assert_eq!(&two[..2], b"67");
        assert!(p.seek(SeekFrom::Current(-100)).is_err());
        assert_eq!(
            f.stream_position().unwrap(),
            3,
            "the file's offset is untouched"
        );
    }
}
