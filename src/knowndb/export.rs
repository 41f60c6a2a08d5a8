//! Writing a set (or the whole database) back out: VICS 2.0 JSON, a hashdeep listing, or CSV
//! that `db import` reads back.

use std::io::{self, Write};

use rusqlite::params;
use serde_json::{Map, Value, json};

use super::category::Category;
use super::record::{Grade, KnownFrame};
use super::schema::grade_from_row;
use super::{DbError, KnownDb};
use crate::digest::to_hex;
use crate::textsafe::neutralise;

/// What to export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One set's grades.
    Set(String),
    /// Every medium once, with its triage grade: the most severe category of any set, flags
    /// merged towards yes, the first series, every tag.
    All,
}

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Vics,
    Hashdeep,
    Csv,
}

/// The VICS marker written at the top of an export.
pub const VICS_CONTEXT: &str =
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media";

/// The VICS (US numbering) code of a canonical category; `None` for categories VICS has no
/// code for (uncategorised, known_file).
pub fn vics_code(c: Category) -> Option<i64> {
    match c {
        Category::NonPertinent => Some(0),
        Category::Csam => Some(1),
        Category::Csem => Some(2),
        Category::Cgi => Some(3),
        Category::Comparison => Some(4),
        Category::Uncategorised | Category::KnownFile => None,
    }
}

/// One exported medium.
struct Row {
    md5: Option<Vec<u8>>,
    sha1: Option<Vec<u8>>,
    sha256: Option<Vec<u8>>,
    blake3: Option<Vec<u8>>,
    pdq: Option<Vec<u8>>,
    pdq_quality: Option<i64>,
    photodna: Option<Vec<u8>>,
    size: Option<i64>,
    grade: Grade,
    /// A known video's vPDQ text (VICS only).
    video: Option<String>,
}

/// What an export wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub media: u64,
    /// Media left out for lacking the hashes of the format's columns (hashdeep: MD5, SHA-1,
    /// SHA-256 and size; CSV: any hash, a video known by its vPDQ frames alone).
    pub skipped: u64,
}

/// The errors of an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl KnownDb {
    /// Writes `scope` as `format` to `out`, in medium order.
    ///
    /// # Errors
    /// No such set; SQLite and write errors.
    pub fn export(
        &self,
        scope: &Scope,
        format: ExportFormat,
        out: &mut dyn Write,
    ) -> Result<ExportSummary, ExportError> {
        let e = |s| self.sqlite_error(s);
        let set_id: Option<i64> = match scope {
            Scope::All => None,
            Scope::Set(name) => Some(
                self.conn
                    .query_row("SELECT id FROM hash_set WHERE name = ?1", [name], |r| {
                        r.get(0)
                    })
                    .map_err(|err| match err {
                        rusqlite::Error::QueryReturnedNoRows => DbError::NoSuchSet(name.clone()),
                        other => e(other),
                    })?,
            ),
        };
        let sql = format!(
            "SELECT m.id, m.md5, m.sha1, m.sha256, m.blake3, m.pdq, m.pdq_quality, m.photodna,
                    m.size, g.record, g.code, g.label, g.category, g.baseline,
                    g.victim_identified, g.offender_identified, g.distributed, g.series, g.tags,
                    g.file
             FROM grade g JOIN media m ON m.id = g.media_id {}
             ORDER BY g.media_id",
            if set_id.is_some() {
                format!("WHERE {}", super::schema::set_grades("g"))
            } else {
                String::new()
            }
        );
        let mut stmt = self.conn.prepare(&sql).map_err(e)?;
        let mut rows = match set_id {
            Some(id) => stmt.query(params![id]),
            None => stmt.query([]),
        }
        .map_err(e)?;
        let mut frames = self
            .conn
            .prepare(
                "SELECT frame, quality, pdq, millis FROM video_frame WHERE media_id = ?1
                 ORDER BY position",
            )
            .map_err(e)?;
        // A VICS record carries its video's frames (an alternative hash named vPDQ).
        let mut write = |writer: &mut Writer, id: i64, mut row: Row| -> Result<(), ExportError> {
            if format == ExportFormat::Vics {
                let known = frames
                    .query_map([id], |r| {
                        Ok(KnownFrame {
                            number: unsigned(r, 0)?,
                            quality: r.get(1)?,
                            pdq: r.get(2)?,
                            millis: unsigned(r, 3)?,
                        })
                    })
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(e)?;
                if !known.is_empty() {
                    row.video = Some(crate::media::video::format::known_text(&known));
                }
            }
            Ok(writer.row(&row)?)
        };
        let mut writer = Writer::new(format, out)?;
        let mut current: Option<(i64, Row)> = None;
        while let Some(r) = rows.next().map_err(e)? {
            let id: i64 = r.get(0).map_err(e)?;
            let grade = grade_from_row(r, 9).map_err(e)?;
            match &mut current {
                Some((cur, row)) if *cur == id => {
                    // --all: several sets grade this medium; combine their grades.
                    let g = std::mem::take(&mut row.grade);
                    row.grade = g.combine(grade);
                }
                _ => {
                    if let Some((id, row)) = current.take() {
                        write(&mut writer, id, row)?;
                    }
                    current = Some((
                        id,
                        Row {
                            md5: r.get(1).map_err(e)?,
                            sha1: r.get(2).map_err(e)?,
                            sha256: r.get(3).map_err(e)?,
                            blake3: r.get(4).map_err(e)?,
                            pdq: r.get(5).map_err(e)?,
                            pdq_quality: r.get(6).map_err(e)?,
                            photodna: r.get(7).map_err(e)?,
                            size: r.get(8).map_err(e)?,
                            grade,
                            video: None,
                        },
                    ));
                }
            }
        }
        if let Some((id, row)) = current.take() {
            write(&mut writer, id, row)?;
        }
        Ok(writer.finish()?)
    }
}

/// A column that holds a whole number from 0.
fn unsigned(r: &rusqlite::Row, i: usize) -> rusqlite::Result<u64> {
    let v: i64 = r.get(i)?;
    u64::try_from(v).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Integer, Box::new(e))
    })
}

struct Writer<'a> {
    format: ExportFormat,
    out: &'a mut dyn Write,
    summary: ExportSummary,
}

const CSV_HEADER: [&str; 17] = [
    "md5",
    "sha1",
    "sha256",
    "blake3",
    "pdq",
    "pdq_quality",
    "photodna",
    "size",
    "category",
    "code",
    "label",
    "baseline",
    "victim_identified",
    "offender_identified",
    "distributed",
    "series",
    "tags",
];

fn hex(v: &Option<Vec<u8>>) -> Option<String> {
    v.as_deref().map(to_hex)
}

fn flag(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "true",
        Some(false) => "false",
        None => "",
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl<'a> Writer<'a> {
    fn new(format: ExportFormat, out: &'a mut dyn Write) -> io::Result<Writer<'a>> {
        let mut w = Writer {
            format,
            out,
            summary: ExportSummary::default(),
        };
        match format {
            ExportFormat::Vics => {
                write!(
                    w.out,
                    "{{\"@odata.context\":{},\"value\":[",
                    Value::from(VICS_CONTEXT)
                )?;
            }
            ExportFormat::Hashdeep => {
                writeln!(w.out, "%%%% HASHDEEP-1.0")?;
                writeln!(w.out, "%%%% size,md5,sha1,sha256,filename")?;
                writeln!(
                    w.out,
                    "## hashsift {} known-material export; the file name column is <category>/<md5>",
                    env!("CARGO_PKG_VERSION")
                )?;
                writeln!(w.out, "##")?;
            }
            ExportFormat::Csv => {
                w.csv_record(CSV_HEADER)?;
            }
        }
        Ok(w)
    }

    /// One CSV record, quoted as needed.
    fn csv_record<I: AsRef<[u8]>>(
        &mut self,
        fields: impl IntoIterator<Item = I>,
    ) -> io::Result<()> {
        let mut c = csv::WriterBuilder::new().from_writer(Vec::new());
        c.write_record(fields)?;
        let bytes = c.into_inner().map_err(|e| e.into_error())?;
        self.out.write_all(&bytes)
    }

    fn row(&mut self, row: &Row) -> io::Result<()> {
        let g = &row.grade;
        match self.format {
            ExportFormat::Vics => {
                let mut m = Map::new();
                m.insert("MediaID".into(), json!(self.summary.media + 1));
                m.insert(
                    "Category".into(),
                    vics_code(g.category).map_or(Value::Null, Value::from),
                );
                if let Some(md5) = hex(&row.md5) {
                    m.insert("MD5".into(), Value::from(md5.to_ascii_uppercase()));
                }
                if let Some(sha1) = hex(&row.sha1) {
                    m.insert("SHA1".into(), Value::from(sha1.to_ascii_uppercase()));
                }
                if let Some(p) = &row.photodna {
                    m.insert("PhotoDNA".into(), Value::from(base64(p)));
                }
                if let Some(s) = row.size {
                    m.insert("MediaSize".into(), json!(s));
                }
                m.insert("VictimIdentified".into(), json!(g.flags.victim_identified));
                m.insert(
                    "OffenderIdentified".into(),
                    json!(g.flags.offender_identified),
                );
                m.insert("IsDistributed".into(), json!(g.flags.distributed));
                if let Some(b) = g.flags.baseline {
                    // Not a VICS 2.0 field: readers that do not know it ignore it, hashsift
                    // reads it back.
                    m.insert("Baseline".into(), json!(b));
                }
                m.insert("Series".into(), json!(g.series));
                let mut tags = g.tags.clone();
                if g.category == Category::KnownFile {
                    tags.push("known_file".into());
                }
                if !tags.is_empty() {
                    m.insert("Tags".into(), json!(tags));
                }
                let mut alt = Vec::new();
                if let Some(h) = hex(&row.sha256) {
                    alt.push(json!({"HashName": "SHA256", "HashValue": h.to_ascii_uppercase()}));
                }
                if let Some(h) = hex(&row.blake3) {
                    alt.push(json!({"HashName": "BLAKE3", "HashValue": h.to_ascii_uppercase()}));
                }
                if let Some(h) = hex(&row.pdq) {
                    let v = match row.pdq_quality {
                        Some(q) => format!("{h},{q}"),
                        None => h,
                    };
                    alt.push(json!({"HashName": "PDQ", "HashValue": v}));
                }
                if let Some(v) = &row.video {
                    alt.push(json!({"HashName": "vPDQ", "HashValue": v}));
                }
                if !alt.is_empty() {
                    m.insert("AlternativeHashes".into(), Value::Array(alt));
                }
                if self.summary.media > 0 {
                    self.out.write_all(b",")?;
                }
                self.out.write_all(b"\n")?;
                serde_json::to_writer(&mut *self.out, &Value::Object(m))?;
            }
            ExportFormat::Hashdeep => {
                let (Some(md5), Some(sha1), Some(sha256), Some(size)) =
                    (hex(&row.md5), hex(&row.sha1), hex(&row.sha256), row.size)
                else {
                    self.summary.skipped += 1;
                    return Ok(());
                };
                writeln!(
                    self.out,
                    "{size},{md5},{sha1},{sha256},{}/{md5}",
                    g.category
                )?;
            }
            ExportFormat::Csv => {
                // A video known by its frames alone: a CSV row of no hash would not import.
                if [
                    &row.md5,
                    &row.sha1,
                    &row.sha256,
                    &row.blake3,
                    &row.pdq,
                    &row.photodna,
                ]
                .iter()
                .all(|h| h.is_none())
                {
                    self.summary.skipped += 1;
                    return Ok(());
                }
                let record = [
                    hex(&row.md5).unwrap_or_default(),
                    hex(&row.sha1).unwrap_or_default(),
                    hex(&row.sha256).unwrap_or_default(),
                    hex(&row.blake3).unwrap_or_default(),
                    hex(&row.pdq).unwrap_or_default(),
                    row.pdq_quality.map(|q| q.to_string()).unwrap_or_default(),
                    row.photodna.as_deref().map(base64).unwrap_or_default(),
                    row.size.map(|s| s.to_string()).unwrap_or_default(),
                    g.category.name().to_owned(),
                    neutralise(g.code.clone().unwrap_or_default()),
                    neutralise(g.label.clone().unwrap_or_default()),
                    flag(g.flags.baseline).to_owned(),
                    flag(g.flags.victim_identified).to_owned(),
                    flag(g.flags.offender_identified).to_owned(),
                    flag(g.flags.distributed).to_owned(),
                    neutralise(g.series.clone().unwrap_or_default()),
                    neutralise(g.tags.join("|")),
                ];
                self.csv_record(&record)?;
            }
        }
        self.summary.media += 1;
        Ok(())
    }

    fn finish(self) -> io::Result<ExportSummary> {
        if self.format == ExportFormat::Vics {
            self.out.write_all(b"\n]}\n")?;
        }
        self.out.flush()?;
        Ok(self.summary)
    }
}
