//! EnCase legacy `.hash` sets (binary): a 16-byte magic, the record count (u32, little-endian)
//! at 0x10, the set's name and type, and from 0x480 records of 16 raw MD5 bytes and 2 bytes
//! hashsift does not interpret.

use std::io::Read;

use super::{Location, ReadError, Sink};
use crate::digest::Md5;
use crate::knowndb::record::KnownRecord;

/// The first 16 bytes of every EnCase `.hash` file.
pub const MAGIC: [u8; 16] = [
    0x48, 0x41, 0x53, 0x48, 0x0D, 0x0A, 0xFF, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
];
const HEADER: usize = 0x480;
const RECORD: usize = 18;

/// Reads an EnCase hash set.
///
/// # Errors
/// A wrong magic, a file shorter than its record count says, or longer.
pub fn read(mut reader: impl Read, sink: &mut Sink) -> Result<(), ReadError> {
    let mut header = vec![0u8; HEADER];
    read_full(&mut reader, &mut header).map_err(|_| {
        ReadError::malformed(
            Location::File,
            "truncated: shorter than the 0x480-byte header",
        )
    })?;
    if header[..16] != MAGIC {
        return Err(ReadError::malformed(
            Location::File,
            "not an EnCase hash set (wrong magic)",
        ));
    }
    let count = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
    let mut rec = [0u8; RECORD];
    for number in 1..=u64::from(count) {
        match read_full(&mut reader, &mut rec) {
            Ok(()) => {}
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(ReadError::malformed(
                    Location::Record(number),
                    format!(
                        "truncated: the header announces {count} records, the file ends inside record {number}"
                    ),
                ));
            }
            Err(e) => return Err(e),
        }
        let md5: [u8; 16] = rec[..16].try_into().expect("16 bytes");
        let mut known = KnownRecord {
            number,
            ..KnownRecord::default()
        };
        known.digests.md5 = Some(Md5(md5));
        sink(Ok(known))?;
    }
    let mut extra = [0u8; 1];
    if reader.read(&mut extra)? != 0 {
        return Err(ReadError::malformed(
            Location::Record(u64::from(count) + 1),
            format!("the header announces {count} records, but the file goes on"),
        ));
    }
    Ok(())
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<(), ReadError> {
    r.read_exact(buf).map_err(ReadError::Io)
}
