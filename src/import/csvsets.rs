//! Every hash set that is a table with a header row: INTERPOL ICSE exports (`;`), NSRL RDS
//! 2.x `NSRLFile.txt`, HashKeeper `.hsh`, and any other CSV whose header names its columns
//! (`--map-column` names the ones hashsift cannot guess). One reader, a column map per format.

use std::cell::Cell;
use std::io::{BufRead, Read};
use std::rc::Rc;

use super::fields::{hex, hex_bytes, shorten, size};
use super::lines::MAX_LINE;
use super::{Location, ReadError, Sink, deliver};
use crate::digest::{Blake3, Md5, Sha1, Sha256};
use crate::knowndb::category::parse_flag;
use crate::knowndb::record::{KnownRecord, PdqHash};

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Md5,
    Sha1,
    Sha256,
    Blake3,
    Pdq,
    PdqQuality,
    PhotoDna,
    Size,
    Category,
    Label,
    Series,
    Tags,
    Baseline,
    VictimIdentified,
    OffenderIdentified,
    Distributed,
}

impl Field {
    /// The names `--map-column` accepts.
    pub const NAMES: [(&'static str, Field); 16] = [
        ("md5", Field::Md5),
        ("sha1", Field::Sha1),
        ("sha256", Field::Sha256),
        ("blake3", Field::Blake3),
        ("pdq", Field::Pdq),
        ("pdq_quality", Field::PdqQuality),
        ("photodna", Field::PhotoDna),
        ("size", Field::Size),
        ("category", Field::Category),
        ("label", Field::Label),
        ("series", Field::Series),
        ("tags", Field::Tags),
        ("baseline", Field::Baseline),
        ("victim_identified", Field::VictimIdentified),
        ("offender_identified", Field::OffenderIdentified),
        ("distributed", Field::Distributed),
    ];

    pub fn parse(name: &str) -> Option<Field> {
        Field::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    /// The field a header names, compared without case, spaces, `-` or `_`.
    fn guess(header: &str) -> Option<Field> {
        let key: String = header
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect();
        Some(match key.as_str() {
            "md5" => Field::Md5,
            "sha1" => Field::Sha1,
            "sha256" | "sha2256" => Field::Sha256,
            "blake3" => Field::Blake3,
            "pdq" | "pdqhash" => Field::Pdq,
            "pdqquality" | "quality" => Field::PdqQuality,
            "photodna" => Field::PhotoDna,
            "size" | "filesize" | "mediasize" => Field::Size,
            "category" | "grade" => Field::Category,
            "label" | "categoryname" => Field::Label,
            "series" | "seriesname" => Field::Series,
            "tags" => Field::Tags,
            "baseline" => Field::Baseline,
            "victimidentified" => Field::VictimIdentified,
            "offenderidentified" => Field::OffenderIdentified,
            "distributed" | "isdistributed" => Field::Distributed,
            _ => return None,
        })
    }
}

/// Options of the generic CSV reader, from the command line.
#[derive(Clone, Debug, Default)]
pub struct CsvOptions {
    /// `--map-column FIELD=HEADER`: the column named HEADER holds FIELD.
    pub map_columns: Vec<(Field, String)>,
    /// `--blake3`: digest-list lines of 64 hex digits without a BSD tag are BLAKE3 (`b3sum`
    /// output), not SHA-256.
    pub blake3_lists: bool,
}

/// The table formats this module reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Icse,
    NsrlRds2,
    HashKeeper,
    Generic,
}

impl Table {
    fn delimiter(self, header: &[u8]) -> u8 {
        match self {
            Table::Icse => b';',
            Table::NsrlRds2 | Table::HashKeeper => b',',
            Table::Generic => {
                let count = |d: u8| header.iter().filter(|&&b| b == d).count();
                [b',', b';', b'\t', b'|']
                    .into_iter()
                    .max_by_key(|&d| count(d))
                    .unwrap_or(b',')
            }
        }
    }
}

/// Watches the bytes the CSV parser reads: fails once a line grows past [`MAX_LINE`] or a
/// record (a quoted field may span lines) past [`MAX_RECORD`], so hostile input is refused
/// without being held in memory; and notes where lines end, so that rows get their true line
/// numbers whatever the line endings.
struct LineGuard<R> {
    inner: R,
    shared: Rc<Tracking>,
    since_newline: usize,
}

/// What [`LineGuard`] and the row loop share.
#[derive(Default)]
struct Tracking {
    /// Newlines read so far (the line being read is this plus one).
    newlines: Cell<u64>,
    /// Bytes read so far.
    read: Cell<u64>,
    /// Where the parser's next record starts.
    record_start: Cell<u64>,
    /// Offsets of newlines read ahead of the row loop, and how many were already passed.
    pending: std::cell::RefCell<std::collections::VecDeque<u64>>,
    passed: Cell<u64>,
}

impl Tracking {
    /// The line (1-based) of byte `offset`, for offsets in increasing order.
    fn line_of(&self, offset: u64) -> u64 {
        let mut pending = self.pending.borrow_mut();
        // `<=`: after a CR LF the parser may place the next record at the LF itself.
        while pending.front().is_some_and(|&nl| nl <= offset) {
            pending.pop_front();
            self.passed.set(self.passed.get() + 1);
        }
        self.passed.get() + 1
    }
}

/// The longest record of a table format, quoted fields spanning lines included.
const MAX_RECORD: u64 = 4 * MAX_LINE as u64;

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let t = &self.shared;
        let start = t.read.get();
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' {
                t.newlines.set(t.newlines.get() + 1);
                t.pending.borrow_mut().push_back(start + i as u64);
                self.since_newline = 0;
            } else {
                self.since_newline += 1;
                if self.since_newline > MAX_LINE {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        LineTooLong,
                    ));
                }
            }
        }
        t.read.set(start + n as u64);
        if t.read.get() - t.record_start.get() > MAX_RECORD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                RecordTooLong,
            ));
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct RecordTooLong;

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a record (its quoted fields spanning lines) longer than {MAX_RECORD} bytes"
        )
    }
}

impl std::error::Error for RecordTooLong {}

#[derive(Debug)]
struct LineTooLong;

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line longer than {MAX_LINE} bytes")
    }
}

impl std::error::Error for LineTooLong {}

/// Reads a table-shaped hash set.
///
/// # Errors
/// A header without any hash column, rows with the wrong number of fields, bad values (with
/// the line number).
pub fn read(
    table: Table,
    mut reader: impl BufRead,
    options: &CsvOptions,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let header_peek = reader.fill_buf()?.to_vec();
    let first_line = header_peek.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let delimiter = table.delimiter(first_line);
    let shared = Rc::new(Tracking::default());
    let guard = LineGuard {
        inner: reader,
        shared: Rc::clone(&shared),
        since_newline: 0,
    };
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(guard);
    let error = |e: csv::Error, t: &Tracking| -> ReadError {
        let reading = Location::Line(t.newlines.get() + 1);
        let at = e
            .position()
            .map_or(reading, |p| Location::Line(t.line_of(p.byte())));
        match e.into_kind() {
            csv::ErrorKind::Io(io) => {
                let inner = io.get_ref();
                if inner.is_some_and(|i| i.is::<LineTooLong>()) {
                    ReadError::malformed(reading, LineTooLong.to_string())
                } else if inner.is_some_and(|i| i.is::<RecordTooLong>()) {
                    ReadError::malformed(
                        Location::Line(t.line_of(t.record_start.get())),
                        RecordTooLong.to_string(),
                    )
                } else {
                    ReadError::Io(io)
                }
            }
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => ReadError::malformed(
                at,
                format!("{len} fields where the header has {expected_len}"),
            ),
            other => ReadError::malformed(at, format!("{other:?}")),
        }
    };
    let headers = csv.byte_headers().map_err(|e| error(e, &shared))?.clone();
    shared.record_start.set(csv.position().byte());
    let mut columns: Vec<Option<Field>> = Vec::with_capacity(headers.len());
    for raw in headers.iter() {
        let name = String::from_utf8_lossy(raw);
        let name = name.trim();
        let mapped = options
            .map_columns
            .iter()
            .find(|(_, h)| h.trim().eq_ignore_ascii_case(name))
            .map(|(f, _)| *f);
        let guessed = match (table, name.to_ascii_lowercase().as_str()) {
            (Table::HashKeeper, "hash") => Some(Field::Md5),
            (Table::HashKeeper, "file_size") => Some(Field::Size),
            (Table::HashKeeper, _) => None,
            (
                Table::NsrlRds2,
                "crc32" | "filename" | "productcode" | "opsystemcode" | "specialcode",
            ) => None,
            _ => Field::guess(name),
        };
        columns.push(mapped.or(guessed));
    }
    for (field, header) in &options.map_columns {
        if !headers.iter().any(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .eq_ignore_ascii_case(header.trim())
        }) {
            return Err(ReadError::malformed(
                Location::Line(1),
                format!(
                    "--map-column {}={header}: no column '{header}' in the header",
                    field_name(*field)
                ),
            ));
        }
    }
    if !columns.iter().flatten().any(|f| {
        matches!(
            f,
            Field::Md5 | Field::Sha1 | Field::Sha256 | Field::Blake3 | Field::Pdq
        )
    }) {
        return Err(ReadError::malformed(
            Location::Line(1),
            "no hash column in the header (name one with --map-column md5=<header>, sha1=, sha256=, blake3= or pdq=)",
        ));
    }

    let mut row = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // A row of the wrong length was read whole: it alone is rejected, and the
                // reading goes on after it. Any other error ends the reading.
                let ragged = matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. });
                let e = error(e, &shared);
                shared.record_start.set(csv.position().byte());
                if ragged {
                    deliver(sink, Err(e))?;
                    continue;
                }
                return Err(e);
            }
        }
        shared.record_start.set(csv.position().byte());
        let number = row
            .position()
            .map_or(shared.newlines.get() + 1, |p| shared.line_of(p.byte()));
        deliver(sink, record(number, &row, &columns))?;
    }
    Ok(())
}

/// One row of the table as a record.
fn record(
    number: u64,
    row: &csv::ByteRecord,
    columns: &[Option<Field>],
) -> Result<KnownRecord, ReadError> {
    {
        let at = Location::Line(number);
        let mut rec = KnownRecord {
            number,
            ..KnownRecord::default()
        };
        let mut quality = None;
        for (raw, field) in row.iter().zip(columns) {
            let Some(field) = field else { continue };
            let value = std::str::from_utf8(raw).map_err(|e| {
                ReadError::malformed(
                    at,
                    format!(
                        "{} column is not valid UTF-8 (at byte {})",
                        field_name(*field),
                        e.valid_up_to() + 1
                    ),
                )
            })?;
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let bad = |reason: String| ReadError::malformed(at, reason);
            match field {
                Field::Md5 => rec.digests.md5 = Some(Md5(hex(value, "MD5").map_err(bad)?)),
                Field::Sha1 => rec.digests.sha1 = Some(Sha1(hex(value, "SHA-1").map_err(bad)?)),
                Field::Sha256 => {
                    rec.digests.sha256 = Some(Sha256(hex(value, "SHA-256").map_err(bad)?))
                }
                Field::Blake3 => {
                    rec.digests.blake3 = Some(Blake3(hex(value, "BLAKE3").map_err(bad)?))
                }
                Field::Pdq => {
                    rec.pdq = Some(PdqHash {
                        hash: hex(value, "PDQ").map_err(bad)?,
                        quality: None,
                    })
                }
                Field::PdqQuality => {
                    let q: u8 = value.parse().ok().filter(|q| *q <= 100).ok_or_else(|| {
                        bad(format!(
                            "PDQ quality '{}' is not a whole number from 0 to 100",
                            shorten(value)
                        ))
                    })?;
                    quality = Some(q);
                }
                Field::PhotoDna => rec.photodna = Some(photodna(value).map_err(bad)?),
                Field::Size => rec.size = Some(size(value).map_err(bad)?),
                Field::Category => rec.grade.code = Some(value.to_owned()),
                Field::Label => rec.grade.label = Some(value.to_owned()),
                Field::Series => rec.grade.series = Some(value.to_owned()),
                Field::Tags => {
                    rec.grade.tags = value
                        .split('|')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                Field::Baseline => {
                    rec.grade.flags.baseline = flag(value, "baseline").map_err(bad)?
                }
                Field::VictimIdentified => {
                    rec.grade.flags.victim_identified =
                        flag(value, "victim identified").map_err(bad)?
                }
                Field::OffenderIdentified => {
                    rec.grade.flags.offender_identified =
                        flag(value, "offender identified").map_err(bad)?
                }
                Field::Distributed => {
                    rec.grade.flags.distributed = flag(value, "distributed").map_err(bad)?
                }
            }
        }
        if let Some(p) = rec.pdq.as_mut() {
            p.quality = quality;
        }
        if rec.digests == Default::default() && rec.pdq.is_none() {
            return Err(ReadError::malformed(at, "no hash in this row"));
        }
        Ok(rec)
    }
}

fn flag(value: &str, what: &str) -> Result<Option<bool>, String> {
    parse_flag(value).map_err(|e| format!("{what}: {e}"))
}

/// The `--map-column` name of a field.
pub fn field_name(f: Field) -> &'static str {
    Field::NAMES
        .iter()
        .find(|(_, x)| *x == f)
        .map_or("?", |(n, _)| n)
}

/// PhotoDNA as bytes: 288 hex digits, or base64 (192 characters) as VICS writes it.
///
/// # Errors
/// Neither form.
pub fn photodna(value: &str) -> Result<Vec<u8>, String> {
    let v = value.trim();
    if v.len() == 288 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex_bytes(v, "PhotoDNA");
    }
    base64(v).ok_or_else(|| {
        format!(
            "PhotoDNA '{}' is neither 288 hex digits nor base64",
            shorten(v)
        )
    })
}

/// Standard base64 with padding; `None` if malformed.
fn base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        // RFC 4648 section 10.
        for (plain, coded) in [
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(coded).as_deref(), Some(plain.as_bytes()), "{coded}");
        }
        assert_eq!(base64("Zg="), None);
        assert_eq!(base64("Z*=="), None);
    }

    #[test]
    fn headers_are_guessed_without_case_or_separators() {
        assert_eq!(Field::guess("SHA-1"), Some(Field::Sha1));
        assert_eq!(Field::guess("Is distributed"), Some(Field::Distributed));
        assert_eq!(Field::guess("Series name"), Some(Field::Series));
        assert_eq!(Field::guess("FileSize"), Some(Field::Size));
        assert_eq!(Field::guess("Image ID"), None);
    }
}
