//! Project VIC / CAID VICS JSON, versions 1.2, 1.3 (`odata.metadata`) and 2.0
//! (`@odata.context`, flavours Default, US, UK, CUSTOM), entity `Media` (records in `value[]`)
//! or `Cases` (case objects in `value[]`, their records in `Media[]`).
//!
//! The file is streamed: one record is in memory at a time, whatever the file's size. Read:
//! `Category` (the code; null or absent = none), `MD5`, `SHA1`, `PhotoDNA`, `MediaSize`,
//! `VictimIdentified`, `OffenderIdentified`, `IsDistributed`, `Series`, `Tags`, and
//! `AlternativeHashes[]` (SHA-256, BLAKE3, PDQ, a video's vPDQ frames and the others by
//! `HashName`). Everything else
//! (`MediaFiles`, `Exifs`, `Comments`, `odata.*` keys...) is read past.

use std::io::BufRead;

use serde::Deserialize;
use serde::de::{self, Deserializer};

mod values;

use values::{Code, FlexBool, MaybeStr, Tags, Text, WholeNumber};

use super::csvsets::photodna;
use super::fields::{hex, shorten};
use super::{Location, ReadError, Sink, deliver};
use crate::digest::{Blake3, Md5, Sha1, Sha256};
use crate::knowndb::record::{KnownFrame, KnownRecord, PdqHash};
use crate::media::video::format::{self, FormatError};

/// The longest string value read from a record (hashes, series, tags).
const MAX_STRING: usize = 1 << 20;

/// The longest `vPDQ` alternative hash: 16 MiB, some 200,000 frame lines (55 hours at the
/// default of one frame a second).
const MAX_VPDQ: usize = 16 << 20;

/// Which VICS flavour a file is, from its root marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub version: String,
    pub cases: bool,
}

/// Reads the root marker: `odata.metadata` (1.2, 1.3) or `@odata.context` (2.0).
///
/// # Errors
/// A marker that names no VICS data model or entity.
pub fn parse_marker(key: &str, value: &str) -> Result<Marker, String> {
    if key != "odata.metadata" && key != "@odata.context" {
        return Err(format!(
            "the first key is '{}', not odata.metadata or @odata.context: not a VICS file",
            shorten(key)
        ));
    }
    let entity = value.rsplit('#').next().unwrap_or("");
    let cases = match entity {
        "Media" => false,
        "Cases" => true,
        _ => {
            return Err(format!(
                "the VICS marker '{}' names neither #Media nor #Cases",
                shorten(value)
            ));
        }
    };
    let version = match key {
        "odata.metadata" => {
            if value.contains("DataModels/1.3.xml") {
                "1.3"
            } else if value.contains("DataModels/1.2.xml") {
                "1.2"
            } else {
                return Err(format!(
                    "'{}' is not a VICS 1.2 or 1.3 data model",
                    shorten(value)
                ));
            }
        }
        "@odata.context" => {
            if value.contains("DataModels/2.0.xml") {
                "2.0"
            } else {
                return Err(format!("'{}' is not a VICS 2.0 data model", shorten(value)));
            }
        }
        _ => {
            return Err(format!(
                "the first key is '{}', not odata.metadata or @odata.context",
                shorten(key)
            ));
        }
    };
    Ok(Marker {
        version: version.to_owned(),
        cases,
    })
}

/// The most a record (or whatever comes between two records) may take.
const MAX_RECORD: usize = 16 << 20;

/// Walks the structure of a VICS file over a buffered stream: the root object, `value[]`,
/// cases and their `Media[]`. Each media record's bytes are gathered (at most [`MAX_RECORD`])
/// and parsed on their own with `serde_json::from_slice`; everything else is skipped without
/// being kept, whatever its size. Lines are counted for error locations.
struct Scanner<'s, 'a, R> {
    reader: R,
    line: u64,
    records: u64,
    sink: &'s mut Sink<'a>,
    record: Vec<u8>,
}

/// How one JSON value is consumed: skipped, or copied into a buffer of bounded size.
enum Keep<'b> {
    Skip,
    Into(&'b mut Vec<u8>, usize),
}

/// Where [`Scanner::value`] stands inside a string, object or array, across buffer refills.
#[derive(Default)]
struct Nesting {
    depth: usize,
    in_string: bool,
    /// The last byte seen was the backslash of an escape inside a string.
    escaped: bool,
}

impl Nesting {
    /// Follows the value through `buf`: the index just past its end, or `None` if it goes on
    /// past `buf`. Inside strings it jumps from one quote or backslash to the next
    /// (`memchr2`), rather than looking at every byte of a hash or a name.
    fn end_in(&mut self, buf: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < buf.len() {
            if self.escaped {
                self.escaped = false;
                i += 1;
                continue;
            }
            if self.in_string {
                let p = i + memchr::memchr2(b'"', b'\\', &buf[i..])?;
                i = p + 1;
                if buf[p] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Some(i);
                    }
                }
                continue;
            }
            match buf[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }
}

impl<R: BufRead> Scanner<'_, '_, R> {
    fn truncated(&self) -> ReadError {
        let at = if self.records > 0 {
            Location::RecordAtLine(self.records + 1, self.line)
        } else {
            Location::Line(self.line)
        };
        ReadError::malformed(at, "truncated: the file ends inside the JSON")
    }

    fn unexpected(&self, what: &str, found: u8) -> ReadError {
        let at = if self.records > 0 {
            Location::RecordAtLine(self.records + 1, self.line)
        } else {
            Location::Line(self.line)
        };
        ReadError::malformed(
            at,
            format!("expected {what}, found '{}'", found.escape_ascii()),
        )
    }

    /// The next byte that is not white space, not consumed; `None` at the end.
    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        loop {
            let buf = self.reader.fill_buf()?;
            let Some(&b) = buf.first() else {
                return Ok(None);
            };
            match b {
                b' ' | b'\t' | b'\r' => self.reader.consume(1),
                b'\n' => {
                    self.line += 1;
                    self.reader.consume(1);
                }
                _ => return Ok(Some(b)),
            }
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), ReadError> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.reader.consume(1);
                Ok(())
            }
            Some(b) => Err(self.unexpected(what, b)),
            None => Err(self.truncated()),
        }
    }

    /// Consumes one JSON value (string, object, array or literal), keeping its bytes or not.
    fn value(&mut self, mut keep: Keep) -> Result<(), ReadError> {
        let first = self.peek()?.ok_or_else(|| self.truncated())?;
        let literal = !matches!(first, b'"' | b'{' | b'[');
        let mut nesting = Nesting::default();
        let mut started = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                if literal && started {
                    return Ok(());
                }
                return Err(self.truncated());
            }
            let end = if literal {
                // A literal ends before the first delimiter (not consumed).
                buf.iter().enumerate().position(|(i, &b)| {
                    matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
                        && (started || i > 0)
                })
            } else {
                nesting.end_in(buf)
            };
            let take = end.unwrap_or(buf.len());
            let newlines = memchr::memchr_iter(b'\n', &buf[..take]).count() as u64;
            if let Keep::Into(out, limit) = &mut keep {
                if out.len() + take > *limit {
                    return Err(ReadError::malformed(
                        Location::RecordAtLine(self.records + 1, self.line),
                        format!("more than {} bytes in one record", *limit),
                    ));
                }
                out.extend_from_slice(&buf[..take]);
            }
            self.reader.consume(take);
            self.line += newlines;
            started = true;
            if end.is_some() {
                return Ok(());
            }
        }
    }

    /// An object key (a JSON string), decoded.
    fn key(&mut self) -> Result<String, ReadError> {
        match self.peek()? {
            Some(b'"') => {}
            Some(b) => return Err(self.unexpected("a key", b)),
            None => return Err(self.truncated()),
        }
        let mut raw = Vec::new();
        self.value(Keep::Into(&mut raw, MAX_STRING))?;
        let line = self.line;
        serde_json::from_slice::<String>(&raw)
            .map_err(|e| ReadError::malformed(Location::Line(line), format!("a key: {e}")))
    }

    /// After a member or element: `true` if another follows (a comma), `false` at `close`.
    fn more(&mut self, close: u8) -> Result<bool, ReadError> {
        match self.peek()? {
            Some(b',') => {
                self.reader.consume(1);
                Ok(true)
            }
            Some(b) if b == close => {
                self.reader.consume(1);
                Ok(false)
            }
            Some(b) => Err(self.unexpected("',' or the end of the list", b)),
            None => Err(self.truncated()),
        }
    }

    /// The members of an object, `on_key` deciding for each key how its value is read.
    fn object(
        &mut self,
        on_key: &mut dyn FnMut(&mut Self, &str) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        self.expect(b'{', "an object")?;
        if self.peek()? == Some(b'}') {
            self.reader.consume(1);
            return Ok(());
        }
        loop {
            let key = self.key()?;
            self.expect(b':', "':'")?;
            on_key(self, &key)?;
            if !self.more(b'}')? {
                return Ok(());
            }
        }
    }

    /// An array of media records (`cases`: of case objects holding `Media[]`).
    fn array(&mut self, cases: bool) -> Result<(), ReadError> {
        self.expect(b'[', "an array")?;
        if self.peek()? == Some(b']') {
            self.reader.consume(1);
            return Ok(());
        }
        loop {
            if cases {
                self.object(&mut |s, key| {
                    if key == "Media" {
                        s.array(false)
                    } else {
                        s.value(Keep::Skip)
                    }
                })?;
            } else {
                self.media()?;
            }
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    /// One media record: gathered, parsed, converted, handed on.
    fn media(&mut self) -> Result<(), ReadError> {
        let start = match self.peek()? {
            Some(b'{') => self.line,
            Some(b) => return Err(self.unexpected("a media record (an object)", b)),
            None => return Err(self.truncated()),
        };
        let mut record = std::mem::take(&mut self.record);
        record.clear();
        self.value(Keep::Into(&mut record, MAX_RECORD))?;
        self.records += 1;
        let number = self.records;
        let parsed = serde_json::from_slice::<Media>(&record).map_err(|e| {
            let text = e.to_string();
            let reason = match text.rfind(" at line ") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            ReadError::malformed(
                Location::RecordAtLine(number, start + e.line().saturating_sub(1) as u64),
                reason,
            )
        });
        let rec = parsed.and_then(|media| {
            media.into_record(number).map_err(|reason| {
                ReadError::malformed(Location::RecordAtLine(number, start), reason)
            })
        });
        self.record = record;
        // A record read whole but malformed is rejected alone (the file's structure is
        // intact): the reading goes on after it.
        deliver(self.sink, rec)
    }
}

/// Reads a VICS JSON file.
///
/// # Errors
/// Not a VICS file, malformed JSON, a malformed record (with its number and line).
pub fn read(reader: impl BufRead, sink: &mut Sink) -> Result<(), ReadError> {
    let mut s = Scanner {
        reader,
        line: 1,
        records: 0,
        sink,
        record: Vec::new(),
    };
    if s.peek()? == Some(0xef) {
        // A UTF-8 byte-order mark (read byte by byte: the buffer may hold less than three).
        let mut bom = [0u8; 3];
        std::io::Read::read_exact(&mut s.reader, &mut bom)?;
        if bom != *b"\xef\xbb\xbf" {
            return Err(s.unexpected("'{' (a VICS file is a JSON object)", bom[0]));
        }
    }
    s.expect(b'{', "'{' (a VICS file is a JSON object)")?;
    let first = s.key()?;
    s.expect(b':', "':'")?;
    let mut raw = Vec::new();
    s.value(Keep::Into(&mut raw, MAX_STRING))?;
    let line = s.line;
    let marker_value: String = serde_json::from_slice(&raw).map_err(|_| {
        ReadError::malformed(
            Location::Line(line),
            format!(
                "the first key '{}' must hold the VICS marker (a string)",
                shorten(&first)
            ),
        )
    })?;
    let marker = parse_marker(&first, &marker_value)
        .map_err(|reason| ReadError::malformed(Location::Line(line), reason))?;
    let mut found = false;
    loop {
        if !s.more(b'}')? {
            break;
        }
        let key = s.key()?;
        s.expect(b':', "':'")?;
        if key == "value" {
            if found {
                // JSON leaves duplicate keys undefined: readers keep the first, the last, or
                // (as this one did) both. Which set was meant cannot be told.
                let line = s.line;
                return Err(ReadError::malformed(
                    Location::Line(line),
                    "a second \"value\" array in the root object: which one holds the set cannot be told",
                ));
            }
            s.array(marker.cases)?;
            found = true;
        } else {
            s.value(Keep::Skip)?;
        }
    }
    if let Some(b) = s.peek()? {
        return Err(s.unexpected("the end of the file", b));
    }
    if !found {
        return Err(ReadError::malformed(
            Location::File,
            "no \"value\" array: not a VICS file, or truncated",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
struct AltHash {
    #[serde(rename = "HashName", default, deserialize_with = "f_hash_name")]
    name: Option<String>,
    #[serde(rename = "HashValue", default, deserialize_with = "f_hash_value")]
    value: Option<String>,
}

/// Deserialises one field, its errors naming the field: serde's own say what was found and
/// what was expected, not where (`invalid type: string "488", expected u64`).
fn named<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D, field: &str) -> Result<T, D::Error> {
    T::deserialize(d).map_err(|e| {
        // serde_json has already appended the position: the record's error adds it again.
        let text = e.to_string();
        let text = match text.rfind(" at line ") {
            Some(i) => &text[..i],
            None => &text,
        };
        de::Error::custom(format!("{field}: {text}"))
    })
}

/// The `deserialize_with` functions of each field, through [`named`].
macro_rules! named_fields {
    ($($f:ident: $t:ty = $name:literal;)*) => {$(
        fn $f<'de, D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
            named(d, $name)
        }
    )*};
}

named_fields! {
    f_hash_name: Option<String> = "HashName";
    f_hash_value: Option<String> = "HashValue";
    f_category: Code = "Category";
    f_photodna: Option<String> = "PhotoDNA";
    f_size: WholeNumber = "MediaSize";
    f_victim: FlexBool = "VictimIdentified";
    f_offender: FlexBool = "OffenderIdentified";
    f_distributed: FlexBool = "IsDistributed";
    f_baseline: FlexBool = "Baseline";
    f_series: Text = "Series";
    f_tags: Tags = "Tags";
    f_alternative: Option<Vec<AltHash>> = "AlternativeHashes";
}

fn f_md5<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<MaybeStr<'a>, D::Error> {
    named(d, "MD5")
}

fn f_sha1<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<MaybeStr<'a>, D::Error> {
    named(d, "SHA1")
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(rename = "Category", default, deserialize_with = "f_category")]
    category: Code,
    /// Borrowed from the record's bytes (a hex digest has no escapes to undo).
    #[serde(rename = "MD5", default, borrow, deserialize_with = "f_md5")]
    md5: MaybeStr<'a>,
    #[serde(rename = "SHA1", default, borrow, deserialize_with = "f_sha1")]
    sha1: MaybeStr<'a>,
    #[serde(rename = "PhotoDNA", default, deserialize_with = "f_photodna")]
    photodna: Option<String>,
    #[serde(rename = "MediaSize", default, deserialize_with = "f_size")]
    size: WholeNumber,
    #[serde(rename = "VictimIdentified", default, deserialize_with = "f_victim")]
    victim_identified: FlexBool,
    #[serde(
        rename = "OffenderIdentified",
        default,
        deserialize_with = "f_offender"
    )]
    offender_identified: FlexBool,
    #[serde(rename = "IsDistributed", default, deserialize_with = "f_distributed")]
    distributed: FlexBool,
    /// Not a VICS 2.0 field: hashsift's own exports carry the INTERPOL baseline flag here.
    #[serde(rename = "Baseline", default, deserialize_with = "f_baseline")]
    baseline: FlexBool,
    #[serde(rename = "Series", default, deserialize_with = "f_series")]
    series: Text,
    #[serde(rename = "Tags", default, deserialize_with = "f_tags")]
    tags: Tags,
    #[serde(
        rename = "AlternativeHashes",
        default,
        deserialize_with = "f_alternative"
    )]
    alternative: Option<Vec<AltHash>>,
}

fn checked(s: &str, what: &str) -> Result<(), String> {
    if s.len() > MAX_STRING {
        Err(format!(
            "{what} is {} bytes long (at most {MAX_STRING})",
            s.len()
        ))
    } else {
        Ok(())
    }
}

impl Media<'_> {
    fn into_record(self, number: u64) -> Result<KnownRecord, String> {
        let mut rec = KnownRecord {
            number,
            size: self.size.0,
            ..KnownRecord::default()
        };
        fn present(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|v| !v.is_empty())
        }
        if let Some(md5) = present(self.md5.0.as_deref()) {
            rec.digests.md5 = Some(Md5(hex(md5, "MD5")?));
        }
        if let Some(sha1) = present(self.sha1.0.as_deref()) {
            rec.digests.sha1 = Some(Sha1(hex(sha1, "SHA1")?));
        }
        if let Some(p) = present(self.photodna.as_deref()) {
            rec.photodna = Some(photodna(p)?);
        }
        for alt in self.alternative.unwrap_or_default() {
            let (Some(name), Some(value)) = (alt.name, alt.value) else {
                continue;
            };
            let key: String = name
                .chars()
                .filter(|c| !matches!(c, '-' | '_' | ' '))
                .flat_map(char::to_lowercase)
                .collect();
            if key == "vpdq" {
                if value.len() > MAX_VPDQ {
                    return Err(format!(
                        "a vPDQ alternative hash is {} bytes long (at most {MAX_VPDQ})",
                        value.len()
                    ));
                }
                video_frames(&value, rec.video.get_or_insert_default())?;
                continue;
            }
            checked(&value, "an AlternativeHashes value")?;
            let value = value.trim();
            match key.as_str() {
                "md5" => {
                    let v = Md5(hex(value, "MD5")?);
                    if rec.digests.md5.is_some_and(|m| m != v) {
                        return Err(
                            "AlternativeHashes gives another MD5 than the record's MD5".into()
                        );
                    }
                    rec.digests.md5 = Some(v);
                }
                "sha1" => {
                    let v = Sha1(hex(value, "SHA-1")?);
                    if rec.digests.sha1.is_some_and(|m| m != v) {
                        return Err(
                            "AlternativeHashes gives another SHA-1 than the record's SHA1".into(),
                        );
                    }
                    rec.digests.sha1 = Some(v);
                }
                "sha256" | "sha2256" => rec.digests.sha256 = Some(Sha256(hex(value, "SHA-256")?)),
                "blake3" => rec.digests.blake3 = Some(Blake3(hex(value, "BLAKE3")?)),
                "pdq" => {
                    // "<64 hex>" or "<64 hex>,<quality>"
                    let (h, q) = value.split_once(',').unwrap_or((value, ""));
                    let quality =
                        match q.trim() {
                            "" => None,
                            q => Some(q.parse::<u8>().ok().filter(|q| *q <= 100).ok_or_else(
                                || format!("PDQ quality '{}' is not 0-100", shorten(q)),
                            )?),
                        };
                    rec.pdq = Some(PdqHash {
                        hash: hex(h, "PDQ")?,
                        quality,
                    });
                }
                _ => {} // eDonkey, Tiger and other hashes hashsift does not store
            }
        }
        if rec.digests == Default::default() && rec.pdq.is_none() && rec.video.is_none() {
            return Err("no MD5, SHA1 or alternative hash".into());
        }
        if let Some(series) = &self.series.0 {
            checked(series, "Series")?;
        }
        for t in &self.tags.0 {
            checked(t, "a tag")?;
        }
        rec.grade.code = self.category.0.map(|c| c.to_string());
        rec.grade.flags.victim_identified = self.victim_identified.0;
        rec.grade.flags.offender_identified = self.offender_identified.0;
        rec.grade.flags.distributed = self.distributed.0;
        rec.grade.flags.baseline = self.baseline.0;
        rec.grade.series = self.series.0.filter(|s| !s.trim().is_empty());
        rec.grade.tags = self.tags.0;
        Ok(rec)
    }
}

/// A `vPDQ` alternative hash's frames, added to `video`: the vPDQ text (`docs/formats.md`), its
/// frame lines separated by line breaks; a video's frames may also come as several `vPDQ`
/// entries, in order.
fn video_frames(value: &str, video: &mut Box<[KnownFrame]>) -> Result<(), String> {
    let frames = match format::read(&mut value.as_bytes()) {
        Ok(frames) => frames,
        Err(FormatError::Empty) => return Err("a vPDQ alternative hash has no frames".into()),
        Err(e) => return Err(format!("vPDQ alternative hash, {e}")),
    };
    let mut all = std::mem::take(video).into_vec();
    all.extend(frames.iter().map(KnownFrame::of));
    *video = all.into_boxed_slice();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `json` through a buffer of `capacity` bytes, returning each record's MD5 and
    /// series, or the error.
    fn records(json: &str, capacity: usize) -> Result<Vec<(String, Option<String>)>, String> {
        let mut out = Vec::new();
        let mut sink = |r: Result<KnownRecord, super::super::Rejected>| {
            let r = r.map_err(|r| ReadError::malformed(r.at, r.reason))?;
            out.push((r.digests.md5.unwrap().to_string(), r.grade.series));
            Ok(())
        };
        let reader = std::io::BufReader::with_capacity(capacity, json.as_bytes());
        match read(reader, &mut sink) {
            Ok(()) => Ok(out),
            Err(ReadError::Malformed { at, reason }) => Err(format!("{at}: {reason}")),
            Err(_) => Err("other error".into()),
        }
    }

    #[test]
    fn flags_series_and_tags_in_every_shape_vics_files_write_them() {
        let md5 = "0123456789abcdef0123456789abcdef";
        let parse = |fields: &str| -> Result<KnownRecord, String> {
            let json = format!("{{\"MD5\": \"{md5}\", {fields}}}");
            serde_json::from_slice::<Media>(json.as_bytes())
                .map_err(|e| e.to_string())
                .and_then(|m| m.into_record(1))
        };
        let r = parse(
            r#""VictimIdentified": true, "OffenderIdentified": "False", "IsDistributed": 1,
               "Baseline": null, "Series": 7, "Tags": " a, ,b ""#,
        )
        .unwrap();
        let f = r.grade.flags;
        assert_eq!(
            (
                f.victim_identified,
                f.offender_identified,
                f.distributed,
                f.baseline
            ),
            (Some(true), Some(false), Some(true), None)
        );
        assert_eq!(r.grade.series.as_deref(), Some("7"));
        assert_eq!(r.grade.tags, ["a", "b"]);
        let r = parse(r#""IsDistributed": 0, "Series": null, "Tags": ["x", " ", "y "]"#).unwrap();
        assert_eq!(r.grade.flags.distributed, Some(false));
        assert_eq!(r.grade.series, None);
        assert_eq!(r.grade.tags, ["x", "y"]);
        let r = parse(r#""Tags": null, "VictimIdentified": "yes""#).unwrap();
        assert!(r.grade.tags.is_empty());
        assert_eq!(r.grade.flags.victim_identified, Some(true));
        let e = parse(r#""IsDistributed": 2"#).unwrap_err();
        assert!(e.contains("2 is not a yes/no value"), "{e}");
        let e = parse(r#""VictimIdentified": "perhaps""#).unwrap_err();
        assert!(e.contains("'perhaps' is not a yes/no value"), "{e}");
        let e = parse(r#""VictimIdentified": {"a": 1}"#).unwrap_err();
        assert!(e.contains("yes/no"), "{e}");
        let e = parse(r#""Tags": 3"#).unwrap_err();
        assert!(e.contains("array of strings"), "{e}");
    }

    #[test]
    fn the_scanner_finds_every_record_whatever_the_buffer_and_the_strings_hold() {
        let a = "0cc175b9c0f1b6a831c399e269772661";
        let b = "92eb5ffee6ae2fec3ad71c777531578f";
        // Braces, brackets, escaped quotes and a `Media` key inside strings and skipped
        // values must not fool it; numbers and literals end at any delimiter.
        let json = format!(
            "\u{feff}{{ \"@odata.context\": \"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases\",\n\
             \"odata.count\":2, \"note\": {{\"x\": [\"}}]\\\"{{\", 1e3, null, true]}},\n\
             \"value\": [ {{\"CaseID\": 7, \"Comment\": \"Media: [\\\"\", \"Media\": [\n\
               {{\"MD5\": \"{a}\", \"Series\": \"a \\\"quoted\\\" {{series}}\", \"Category\":1}},\n\
               {{\"MediaFiles\": [{{\"FileName\": \"]]}}}}\"}}], \"MD5\": \"{b}\", \"Category\": null}}\n\
             ]}}, {{\"CaseID\": 8, \"Media\": []}} ] }}\n"
        );
        let want = vec![
            (a.to_string(), Some("a \"quoted\" {series}".to_string())),
            (b.to_string(), None),
        ];
        for capacity in [1, 2, 3, 7, 64, 1 << 16] {
            assert_eq!(
                records(&json, capacity),
                Ok(want.clone()),
                "capacity {capacity}"
            );
        }
        // Cut anywhere inside, it is truncated or malformed, never accepted.
        for cut in (1..json.len() - 2).step_by(7) {
            if json.is_char_boundary(cut) {
                assert!(
                    records(&json[..cut], 5).is_err(),
                    "accepted when cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn markers_of_every_version_and_entity() {
        let m = parse_marker(
            "odata.metadata",
            "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media",
        )
        .unwrap();
        assert_eq!((m.version.as_str(), m.cases), ("1.3", false));
        let m = parse_marker(
            "odata.metadata",
            "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Cases",
        )
        .unwrap();
        assert_eq!((m.version.as_str(), m.cases), ("1.2", true));
        for flavour in ["Default", "US", "UK", "CUSTOM"] {
            let v = format!(
                "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{flavour}/$metadata#Media"
            );
            assert_eq!(parse_marker("@odata.context", &v).unwrap().version, "2.0");
        }
        assert!(parse_marker("odata.metadata", "http://example.com/x.xml#Media").is_err());
        assert!(parse_marker("name", "x#Media").is_err());
        assert!(
            parse_marker(
                "@odata.context",
                "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Things"
            )
            .is_err()
        );
    }
}
