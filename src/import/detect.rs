//! Which format a hash-set file is, told from its content (the extension is never trusted;
//! `--format` overrides), and the dispatch to each format's reader.

use std::io::{BufReader, Read};
use std::path::Path;

use super::csvsets::{self, CsvOptions, Table};
use super::lines::{self, Counting};
use super::{ImportError, Location, ReadError, Sink, encase, hashdeep, lists, sqlite_sets, vics};
use crate::cancel::Cancel;
use crate::progress::ImportCounters;

/// A hash-set format hashsift reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Vics,
    Rdsv3,
    NsrlRds2,
    Icse,
    Hashdeep,
    DigestList,
    HashKeeper,
    Encase,
    Kdb,
    Csv,
    Vpdq,
}

impl Format {
    /// Every format with its `--format` name.
    pub const ALL: [(&'static str, Format); 11] = [
        ("vics", Format::Vics),
        ("rdsv3", Format::Rdsv3),
        ("nsrl-rds2", Format::NsrlRds2),
        ("icse", Format::Icse),
        ("hashdeep", Format::Hashdeep),
        ("digest-list", Format::DigestList),
        ("hashkeeper", Format::HashKeeper),
        ("encase", Format::Encase),
        ("kdb", Format::Kdb),
        ("csv", Format::Csv),
        ("vpdq", Format::Vpdq),
    ];

    pub fn name(self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .expect("every format is listed")
    }

    /// Parses a `--format` name.
    ///
    /// # Errors
    /// An unknown name (the message lists the known ones).
    pub fn parse(name: &str) -> Result<Format, String> {
        Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|(n, _)| *n).collect();
                format!("unknown format '{name}' (known: {})", names.join(", "))
            })
    }

    /// Whether errors are located by line (text formats) rather than by record.
    pub fn is_line_based(self) -> bool {
        !matches!(
            self,
            Format::Vics | Format::Rdsv3 | Format::Encase | Format::Kdb
        )
    }

    /// The profile a format's records are graded with when none is chosen.
    pub fn default_profile(self) -> Option<&'static str> {
        match self {
            Format::Vics => Some("vics-us"),
            Format::Rdsv3 | Format::NsrlRds2 => Some("nsrl"),
            Format::Icse => Some("icse"),
            _ => None,
        }
    }

    /// Reads `file` as this format into `sink`.
    ///
    /// # Errors
    /// Malformed content (with its location), I/O and SQLite errors, a stopped sink.
    pub fn read(
        self,
        file: &Path,
        csv: &CsvOptions,
        counters: &ImportCounters,
        cancel: &Cancel,
        sink: &mut Sink,
    ) -> Result<(), ReadError> {
        match self {
            Format::Vics => vics::read(lines::open(file, counters)?, sink),
            Format::Hashdeep => hashdeep::read(lines::open(file, counters)?, sink),
            Format::DigestList => lists::read(lines::open(file, counters)?, csv.blake3_lists, sink),
            Format::Icse => csvsets::read(Table::Icse, lines::open(file, counters)?, csv, sink),
            Format::HashKeeper => {
                csvsets::read(Table::HashKeeper, lines::open(file, counters)?, csv, sink)
            }
            Format::Csv => csvsets::read(Table::Generic, lines::open(file, counters)?, csv, sink),
            Format::NsrlRds2 => {
                let mut head = [0u8; 4];
                let n = super::open_source(file)?.read(&mut head)?;
                if head[..n] == *b"PK\x03\x04" {
                    read_zipped_nsrl(file, counters, csv, sink)
                } else {
                    csvsets::read(Table::NsrlRds2, lines::open(file, counters)?, csv, sink)
                }
            }
            Format::Encase => encase::read(lines::open(file, counters)?, sink),
            Format::Rdsv3 => sqlite_sets::read_rdsv3(file, cancel, sink),
            Format::Kdb => sqlite_sets::read_kdb(file, cancel, sink),
            Format::Vpdq => super::vpdq::read(lines::open(file, counters)?, sink),
        }
    }
}

/// The member of an NSRL zip that holds the file list.
fn nsrl_member(archive: &zip::ZipArchive<std::fs::File>) -> Option<String> {
    // A name that is not text cannot be the file list's.
    archive
        .file_names()
        .filter_map(Result::ok)
        .find(|n| {
            n.rsplit('/')
                .next()
                .is_some_and(|b| b.eq_ignore_ascii_case("NSRLFile.txt"))
        })
        .map(std::borrow::Cow::into_owned)
}

fn read_zipped_nsrl(
    file: &Path,
    counters: &ImportCounters,
    csv: &CsvOptions,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let zip_error =
        |e: zip::result::ZipError| ReadError::malformed(Location::File, format!("zip: {e}"));
    let mut archive = zip::ZipArchive::new(super::open_source(file)?).map_err(zip_error)?;
    let name = nsrl_member(&archive)
        .ok_or_else(|| ReadError::malformed(Location::File, "the zip holds no NSRLFile.txt"))?;
    let member = archive.by_name(&name).map_err(zip_error)?;
    let counted = Counting::new(member, counters);
    csvsets::read(
        Table::NsrlRds2,
        BufReader::with_capacity(1 << 20, counted),
        csv,
        sink,
    )
}

/// Tells the format of `file` from its first bytes (and, for SQLite and zip files, from what
/// they contain).
///
/// # Errors
/// Unreadable, or no known format matches (the message says what the start looked like).
pub fn detect(file: &Path) -> Result<Format, ImportError> {
    let io = |source| ImportError::Io {
        file: file.to_owned(),
        source,
    };
    let undetected = |reason: String| ImportError::Undetected {
        file: file.to_owned(),
        reason,
    };
    super::check_source(file)?;
    let mut head = Vec::with_capacity(64 << 10);
    super::open_source(file)
        .map_err(io)?
        .take(64 << 10)
        .read_to_end(&mut head)
        .map_err(io)?;
    if head.is_empty() {
        return Err(undetected(
            "the file is empty: no format holds a hash set in an empty file".into(),
        ));
    }
    if head.starts_with(&encase::MAGIC) {
        return Ok(Format::Encase);
    }
    if head.starts_with(b"SQLite format 3\0") {
        let conn = sqlite_sets::open(file).map_err(|e| e.with_file(file))?;
        let names = sqlite_sets::objects(&conn).map_err(|source| ImportError::Sqlite {
            file: file.to_owned(),
            source,
        })?;
        let has = |n: &str| names.iter().any(|x| x == n);
        if has("file") && (has("pkg") || has("metadata")) {
            return Ok(Format::Rdsv3);
        }
        if has("hashes") {
            return Ok(Format::Kdb);
        }
        return Err(undetected(
            "an SQLite database that is neither an NSRL RDSv3 release (tables FILE, and PKG or METADATA) nor an Autopsy hash database (table hashes): no format hashsift reads"
                .into(),
        ));
    }
    if head.starts_with(b"PK\x03\x04") {
        let archive = super::open_source(file)
            .map_err(io)
            .and_then(|f| zip::ZipArchive::new(f).map_err(|e| {
                undetected(format!(
                    "a damaged zip file ({e}): no format hashsift reads (NSRL RDS 2.x is the one read zipped)"
                ))
            }))?;
        if nsrl_member(&archive).is_some() {
            return Ok(Format::NsrlRds2);
        }
        return Err(undetected(
            "a zip file without NSRLFile.txt: NSRL RDS 2.x is the only set read zipped; unzip it and import the files inside"
                .into(),
        ));
    }
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&head);
    let trimmed = text.trim_ascii_start();
    if trimmed.starts_with(b"{") {
        return Ok(Format::Vics);
    }
    let first = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let first = String::from_utf8_lossy(first);
    let first = first.trim_end_matches('\r');
    let lower = first.to_ascii_lowercase();
    // Some exports quote every header name.
    let unquoted = lower.replace('"', "");
    if first == "%%%% HASHDEEP-1.0" {
        return Ok(Format::Hashdeep);
    }
    if lower.starts_with("\"sha-1\",\"md5\",\"crc32\",\"filename\"") {
        return Ok(Format::NsrlRds2);
    }
    if unquoted.starts_with("md5;sha1;photodna;") {
        return Ok(Format::Icse);
    }
    if lower.starts_with("\"file_id\",\"hashset_id\",\"file_name\"") {
        return Ok(Format::HashKeeper);
    }
    // Digest lists may open with blank or comment lines.
    let first_data = String::from_utf8_lossy(text);
    let first_data = first_data
        .lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    // Before the digest lists: python-threatexchange's compact vPDQ line (hash, quality,
    // seconds) starts like a PDQ list's line.
    if crate::media::video::format::looks_like(text) {
        return Ok(Format::Vpdq);
    }
    if lists::looks_like(first_data) {
        return Ok(Format::DigestList);
    }
    let names = ["md5", "sha1", "sha-1", "sha256", "sha-256", "blake3", "pdq"];
    if lower
        .split([',', ';', '\t', '|'])
        .any(|h| names.contains(&h.trim().trim_matches('"')))
    {
        return Ok(Format::Csv);
    }
    Err(undetected(format!(
        "the first line ('{}') is not a header or line of any format hashsift reads; {}",
        super::fields::shorten(first),
        suggest(text)
    )))
}

/// What would read a text file that no format's first line matches: a format and options
/// that read its first 64 KiB (tried here, not guessed), or that none does.
fn suggest(head: &[u8]) -> String {
    // Whole lines only: the head may end inside one.
    let head = match head.iter().rposition(|&b| b == b'\n') {
        Some(i) => &head[..=i],
        None => head,
    };
    // A table whose header names its hash column in words of its own ("Hash Value"): the
    // column whose first value is a digest, named with --map-column.
    if let Some((field, header)) = hash_column(head) {
        let options = CsvOptions {
            map_columns: vec![(field, header.clone())],
            blake3_lists: false,
        };
        let (records, rejected) = trial(|sink| csvsets::read(Table::Generic, head, &options, sink));
        if records > 0 && rejected.is_empty() {
            return format!(
                "it reads as a table with --format csv --map-column {}=\"{}\"",
                csvsets::field_name(field),
                header.replace('"', "\\\"")
            );
        }
    }
    // A digest list with a few lines that are not (a stray title or note).
    let (records, rejected) = trial(|sink| lists::read(head, false, sink));
    if records > 0 && rejected.len() <= records / 10 + 1 {
        let lines: Vec<String> = rejected.iter().take(5).map(ToString::to_string).collect();
        return format!(
            "its other lines read as a digest list: --format digest-list --skip-invalid imports them and lists what it leaves out ({}{})",
            lines.join(", "),
            if rejected.len() > 5 { ", ..." } else { "" }
        );
    }
    "no format hashsift reads accepts it (the formats: docs/formats.md)".to_owned()
}

/// Runs a reader over a file's head: the records it reads, and where it rejects one.
fn trial(read: impl FnOnce(&mut Sink) -> Result<(), ReadError>) -> (usize, Vec<Location>) {
    let mut records = 0;
    let mut rejected = Vec::new();
    let mut sink = |item: Result<crate::knowndb::record::KnownRecord, super::Rejected>| {
        match item {
            Ok(_) => records += 1,
            Err(r) => rejected.push(r.at),
        }
        Ok(())
    };
    match read(&mut sink) {
        Ok(()) => (records, rejected),
        Err(_) => (0, rejected),
    }
}

/// In a table with a header line, the first column whose value on the next line is a hex
/// digest: the field it would be (by length) and its header.
fn hash_column(head: &[u8]) -> Option<(csvsets::Field, String)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty());
    let header = lines.next()?;
    let row = lines.next()?;
    let delimiter = [',', ';', '\t', '|']
        .into_iter()
        .max_by_key(|&d| header.matches(d).count())?;
    if !header.contains(delimiter) {
        return None;
    }
    let unquote = |f: &str| f.trim().trim_matches('"').trim().to_owned();
    let names: Vec<String> = header.split(delimiter).map(unquote).collect();
    for (i, value) in row.split(delimiter).map(unquote).enumerate() {
        if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let field = match value.len() {
            32 => csvsets::Field::Md5,
            40 => csvsets::Field::Sha1,
            64 => csvsets::Field::Sha256,
            _ => continue,
        };
        let name = names.get(i).filter(|n| !n.is_empty())?;
        return Some((field, name.clone()));
    }
    None
}
