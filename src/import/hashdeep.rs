//! hashdeep listings (also what `hashsift hash` writes): `%%%% HASHDEEP-1.0`, then
//! `%%%% size,<algorithms...>,filename`, `#` comment lines, and `size,hash...,path` rows whose
//! path (the last field, which may hold commas) is not kept. Algorithms hashsift does not
//! store (tiger, whirlpool, sha3) are read past.

use std::io::BufRead;

use super::fields::{hex, size};
use super::lines::{Lines, text};
use super::{Location, ReadError, Sink, deliver};
use crate::digest::{Md5, Sha1, Sha256};
use crate::knowndb::record::KnownRecord;

#[derive(Clone, Copy)]
enum Column {
    Size,
    Md5,
    Sha1,
    Sha256,
    Other,
}

/// One row: `size,<hashes>,<path>`, the path being the rest of the line.
fn row(n: u64, bytes: &[u8], cols: &[Column]) -> Result<KnownRecord, ReadError> {
    let at = Location::Line(n);
    // The path is last and may contain commas (and any bytes): split off the known fields
    // only.
    let mut fields = bytes.splitn(cols.len() + 1, |&b| b == b',');
    let mut rec = KnownRecord {
        number: n,
        ..KnownRecord::default()
    };
    for col in cols {
        let Some(raw) = fields.next() else {
            return Err(ReadError::malformed(
                at,
                format!("expected {} fields before the file name", cols.len()),
            ));
        };
        let field = std::str::from_utf8(raw)
            .map_err(|_| ReadError::malformed(at, "a hash or size field is not valid UTF-8"))?;
        let bad = |reason: String| ReadError::malformed(at, reason);
        match col {
            Column::Size => rec.size = Some(size(field).map_err(bad)?),
            Column::Md5 => rec.digests.md5 = Some(Md5(hex(field, "MD5").map_err(bad)?)),
            Column::Sha1 => rec.digests.sha1 = Some(Sha1(hex(field, "SHA-1").map_err(bad)?)),
            Column::Sha256 => {
                rec.digests.sha256 = Some(Sha256(hex(field, "SHA-256").map_err(bad)?))
            }
            Column::Other => {}
        }
    }
    if fields.next().is_none() {
        return Err(ReadError::malformed(at, "no file name after the hashes"));
    }
    Ok(rec)
}

/// Reads a hashdeep listing.
///
/// # Errors
/// A missing or wrong header, a row with the wrong number of fields, bad hex or size.
pub fn read(reader: impl BufRead, sink: &mut Sink) -> Result<(), ReadError> {
    let mut lines = Lines::new(reader);
    let mut columns: Option<Vec<Column>> = None;
    while let Some((n, bytes)) = lines.next_line()? {
        let at = Location::Line(n);
        if n == 1 {
            if bytes != b"%%%% HASHDEEP-1.0" {
                return Err(ReadError::malformed(
                    at,
                    "not a hashdeep listing: the first line must be '%%%% HASHDEEP-1.0'",
                ));
            }
            continue;
        }
        if n == 2 {
            let line = text(n, bytes)?;
            let Some(spec) = line.strip_prefix("%%%% ") else {
                return Err(ReadError::malformed(
                    at,
                    "the second line must be '%%%% size,<algorithms>,filename'",
                ));
            };
            let names: Vec<&str> = spec.split(',').collect();
            if names.len() < 3 || names[0] != "size" || names[names.len() - 1] != "filename" {
                return Err(ReadError::malformed(
                    at,
                    format!(
                        "unexpected column list '{spec}' (expected size,<algorithms>,filename)"
                    ),
                ));
            }
            let mut cols = vec![Column::Size];
            for name in &names[1..names.len() - 1] {
                cols.push(match name.to_ascii_lowercase().as_str() {
                    "md5" => Column::Md5,
                    "sha1" => Column::Sha1,
                    "sha256" => Column::Sha256,
                    "tiger" | "whirlpool" | "sha3" => Column::Other,
                    other => {
                        return Err(ReadError::malformed(
                            at,
                            format!("unknown hashdeep algorithm '{other}'"),
                        ));
                    }
                });
            }
            columns = Some(cols);
            continue;
        }
        if bytes.is_empty() || bytes.starts_with(b"#") {
            continue;
        }
        let cols = columns.as_ref().expect("set on line 2");
        deliver(sink, row(n, bytes, cols))?;
    }
    if columns.is_none() {
        return Err(ReadError::malformed(
            Location::File,
            "truncated: no hashdeep header",
        ));
    }
    Ok(())
}
