//! Project VIC / CAID VICS JSON, versions 1.2, 1.3 (`odata.metadata`) and 2.0
//! (`@odata.context`, flavours Default, US, UK, CUSTOM), entity `Media` (records in `value[]`)
//! or `Cases` (case objects in `value[]`, their records in `Media[]`).
//!
//! The file is streamed: one record is in memory at a time, whatever the file's size. Read:
//! `Category` (the code; null or absent = none), `MD5`, `SHA1`, `PhotoDNA`, `MediaSize`,
//! `VictimIdentified`, `OffenderIdentified`, `IsDistributed`, `Series`, `Tags`, and
//! `AlternativeHashes[]` (SHA-256, BLAKE3, PDQ and the others by `HashName`). Everything else
//! (`MediaFiles`, `Exifs`, `Comments`, `odata.*` keys...) is read past.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{BufRead, Read};
use std::rc::Rc;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::csvsets::photodna;
use super::fields::{hex, shorten};
use super::{Location, ReadError, Sink};
use crate::digest::{Blake3, Md5, Sha1, Sha256};
use crate::knowndb::category::parse_flag;
use crate::knowndb::record::{KnownRecord, PdqHash};

/// The longest string value read from a record (hashes, series, tags).
const MAX_STRING: usize = 1 << 20;

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

/// Counts lines of the bytes serde_json has consumed, for error locations.
/// Also bounds memory: serde_json holds a whole string before a record sees it, so more than
/// [`MAX_RECORD`] bytes since the last record ended is refused while it is being read.
struct LineCounter<R> {
    inner: R,
    line: Rc<Cell<u64>>,
    /// Bytes read, and the count when the last record ended.
    bytes: Rc<Cell<u64>>,
    record_end: Rc<Cell<u64>>,
}

/// The most a record (or whatever comes between two records) may take.
const MAX_RECORD: u64 = 16 << 20;

#[derive(Debug)]
struct RecordTooLong;

impl fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {MAX_RECORD} bytes in one record")
    }
}

impl std::error::Error for RecordTooLong {}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let newlines = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        self.line.set(self.line.get() + newlines);
        self.bytes.set(self.bytes.get() + n as u64);
        if self.bytes.get() - self.record_end.get() > MAX_RECORD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                RecordTooLong,
            ));
        }
        Ok(n)
    }
}

/// Shared state of one file's walk: the sink, the record count, the first sink error.
struct State<'s, 'a> {
    sink: &'s mut Sink<'a>,
    records: u64,
    line: Rc<Cell<u64>>,
    failed: Option<ReadError>,
    record_end: Rc<Cell<u64>>,
    bytes: Rc<Cell<u64>>,
}

type Shared<'s, 'a> = Rc<RefCell<State<'s, 'a>>>;

/// Reads a VICS JSON file.
///
/// # Errors
/// Not a VICS file, malformed JSON, a malformed record (with its number and line).
pub fn read(reader: impl BufRead, sink: &mut Sink) -> Result<(), ReadError> {
    let line = Rc::new(Cell::new(1u64));
    let record_end = Rc::new(Cell::new(0u64));
    let bytes = Rc::new(Cell::new(0u64));
    let state = Rc::new(RefCell::new(State {
        sink,
        records: 0,
        line: Rc::clone(&line),
        failed: None,
        record_end: Rc::clone(&record_end),
        bytes: Rc::clone(&bytes),
    }));
    let counted = LineCounter {
        inner: reader,
        line: Rc::clone(&line),
        bytes,
        record_end,
    };
    let mut de = serde_json::Deserializer::from_reader(counted);
    let result = RootSeed(Rc::clone(&state))
        .deserialize(&mut de)
        .and_then(|found| de.end().map(|()| found));
    let mut st = state.borrow_mut();
    if let Some(e) = st.failed.take() {
        return Err(e);
    }
    match result {
        Ok(found) => {
            if !found {
                return Err(ReadError::malformed(
                    Location::File,
                    "no \"value\" array: not a VICS file, or truncated",
                ));
            }
            Ok(())
        }
        Err(e) => {
            if e.is_io() {
                let io: std::io::Error = e.into();
                if io.get_ref().is_some_and(|i| i.is::<RecordTooLong>()) {
                    return Err(ReadError::malformed(
                        Location::RecordAtLine(st.records + 1, st.line.get()),
                        RecordTooLong.to_string(),
                    ));
                }
                return Err(ReadError::Io(io));
            }
            let at = if st.records > 0 || e.is_eof() {
                Location::RecordAtLine(st.records + 1, e.line() as u64)
            } else {
                Location::Line(e.line() as u64)
            };
            let reason = if e.is_eof() {
                format!("truncated: the file ends inside the JSON ({e})")
            } else {
                e.to_string()
            };
            Err(ReadError::malformed(at, reason))
        }
    }
}

/// The root object: the marker first, then `value`; returns whether `value` was found.
struct RootSeed<'s, 'a>(Shared<'s, 'a>);

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a VICS root object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom("an empty object, not a VICS file"));
        };
        let value: String = map.next_value()?;
        let marker = parse_marker(&key, &value).map_err(de::Error::custom)?;
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" {
                map.next_value_seed(ArraySeed {
                    state: Rc::clone(&self.0),
                    cases: marker.cases,
                })?;
                found = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// `value[]` of media records or of cases.
struct ArraySeed<'s, 'a> {
    state: Shared<'s, 'a>,
    cases: bool,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.cases {
            "an array of cases"
        } else {
            "an array of media records"
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.cases {
            while seq
                .next_element_seed(CaseSeed(Rc::clone(&self.state)))?
                .is_some()
            {}
        } else {
            while seq
                .next_element_seed(MediaSeed(Rc::clone(&self.state)))?
                .is_some()
            {}
        }
        Ok(())
    }
}

/// A case object: its `Media[]` holds records; every other key is read past.
struct CaseSeed<'s, 'a>(Shared<'s, 'a>);

impl<'de> DeserializeSeed<'de> for CaseSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CaseSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a case object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "Media" {
                map.next_value_seed(ArraySeed {
                    state: Rc::clone(&self.0),
                    cases: false,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// One media record: deserialised, converted, handed to the sink.
struct MediaSeed<'s, 'a>(Shared<'s, 'a>);

impl<'de> DeserializeSeed<'de> for MediaSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let media = Media::deserialize(d)?;
        let mut st = self.0.borrow_mut();
        st.records += 1;
        // The record is complete: the next may take MAX_RECORD bytes from here.
        st.record_end.set(st.bytes.get());
        let number = st.records;
        let at = Location::RecordAtLine(number, st.line.get());
        let rec = media
            .into_record(number)
            .map_err(|reason| ReadError::malformed(at, reason));
        let result = rec.and_then(|r| (st.sink)(r));
        if let Err(e) = result {
            st.failed = Some(e);
            return Err(de::Error::custom("stopped"));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct AltHash {
    #[serde(rename = "HashName")]
    name: Option<String>,
    #[serde(rename = "HashValue")]
    value: Option<String>,
}

/// A yes/no that VICS writes as a boolean, a string, or null.
#[derive(Default)]
struct FlexBool(Option<bool>);

impl<'de> Deserialize<'de> for FlexBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            B(bool),
            S(String),
            N(i64),
        }
        match Option::<Raw>::deserialize(d)? {
            None => Ok(FlexBool(None)),
            Some(Raw::B(b)) => Ok(FlexBool(Some(b))),
            Some(Raw::N(0)) => Ok(FlexBool(Some(false))),
            Some(Raw::N(1)) => Ok(FlexBool(Some(true))),
            Some(Raw::N(n)) => Err(de::Error::custom(format!("{n} is not a yes/no value"))),
            Some(Raw::S(s)) => parse_flag(&s).map(FlexBool).map_err(de::Error::custom),
        }
    }
}

/// `Tags`: a string (comma-separated) or an array of strings.
#[derive(Default)]
struct Tags(Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let tags = match Option::<Raw>::deserialize(d)? {
            None => Vec::new(),
            Some(Raw::One(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(Raw::Many(v)) => v
                .into_iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
        };
        Ok(Tags(tags))
    }
}

/// `Series`: text, or a number some exports write.
#[derive(Default)]
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(i64),
        }
        Ok(Text(match Option::<Raw>::deserialize(d)? {
            None => None,
            Some(Raw::S(s)) => Some(s),
            Some(Raw::N(n)) => Some(n.to_string()),
        }))
    }
}

#[derive(Deserialize)]
struct Media {
    #[serde(rename = "Category", default)]
    category: Option<i64>,
    #[serde(rename = "MD5", default)]
    md5: Option<String>,
    #[serde(rename = "SHA1", default)]
    sha1: Option<String>,
    #[serde(rename = "PhotoDNA", default)]
    photodna: Option<String>,
    #[serde(rename = "MediaSize", default)]
    size: Option<u64>,
    #[serde(rename = "VictimIdentified", default)]
    victim_identified: FlexBool,
    #[serde(rename = "OffenderIdentified", default)]
    offender_identified: FlexBool,
    #[serde(rename = "IsDistributed", default)]
    distributed: FlexBool,
    /// Not a VICS 2.0 field: hashsift's own exports carry the INTERPOL baseline flag here.
    #[serde(rename = "Baseline", default)]
    baseline: FlexBool,
    #[serde(rename = "Series", default)]
    series: Text,
    #[serde(rename = "Tags", default)]
    tags: Tags,
    #[serde(rename = "AlternativeHashes", default)]
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

impl Media {
    fn into_record(self, number: u64) -> Result<KnownRecord, String> {
        let mut rec = KnownRecord {
            number,
            size: self.size,
            ..KnownRecord::default()
        };
        let present = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        if let Some(md5) = present(&self.md5) {
            rec.digests.md5 = Some(Md5(hex(&md5, "MD5")?));
        }
        if let Some(sha1) = present(&self.sha1) {
            rec.digests.sha1 = Some(Sha1(hex(&sha1, "SHA1")?));
        }
        if let Some(p) = present(&self.photodna) {
            rec.photodna = Some(photodna(&p)?);
        }
        for alt in self.alternative.unwrap_or_default() {
            let (Some(name), Some(value)) = (alt.name, alt.value) else {
                continue;
            };
            checked(&value, "an AlternativeHashes value")?;
            let key: String = name
                .chars()
                .filter(|c| !matches!(c, '-' | '_' | ' '))
                .flat_map(char::to_lowercase)
                .collect();
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
        if rec.digests == Default::default() && rec.pdq.is_none() {
            return Err("no MD5, SHA1 or alternative hash".into());
        }
        if let Some(series) = &self.series.0 {
            checked(series, "Series")?;
        }
        for t in &self.tags.0 {
            checked(t, "a tag")?;
        }
        rec.grade.code = self.category.map(|c| c.to_string());
        rec.grade.flags.victim_identified = self.victim_identified.0;
        rec.grade.flags.offender_identified = self.offender_identified.0;
        rec.grade.flags.distributed = self.distributed.0;
        rec.grade.flags.baseline = self.baseline.0;
        rec.grade.series = self.series.0.filter(|s| !s.trim().is_empty());
        rec.grade.tags = self.tags.0;
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
