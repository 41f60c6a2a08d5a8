//! `vics.json`: the scan as a Project VIC VICS 2.0 `#Cases` file (US data model), so the result
//! opens in the review tools the field uses. One case (the scan's case number and examiner,
//! hashsift as the source application); one `Media` record per distinct content that is known
//! to the database (with its `Category`) or is an unknown image or video (with no `Category`,
//! which VICS reads as not yet categorised); a `MediaFiles` entry for every path holding it,
//! with the evidence id as `SourceID`. hashsift's own VICS importer reads it back.

use crate::scan::Provenance;
use rayon::slice::ParallelSliceMut;
use std::io::{self, Write};

use serde_json::{Map, Value, json};

use super::text::Text;
use crate::digest::{Algorithm, Digests};
use crate::knowndb::Category;
use crate::knowndb::export::vics_code;
use crate::scan::{MatchStatus, ScanItem, ScanRun};

/// The VICS 2.0 data model, US flavour, entity `Cases`.
const CONTEXT: &str =
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases";

/// Writes `vics.json` for `run` to `out`, one media record at a time.
///
/// # Errors
/// Any error writing.
pub fn write(
    p: &Provenance,
    run: &ScanRun,
    counters: &crate::progress::Counters,
    out: &mut dyn Write,
) -> io::Result<()> {
    // Distinct contents in path order of their first file, each with every file holding it:
    // the files' indices sorted by content (then path), cut into runs of one content, the
    // runs put in order of their first file. 12 bytes a file, where a map from contents to
    // lists of files would hold the digests of each over again.
    let digests = |i: u32| run.item(i as usize).item.digests;
    let mut by_content: Vec<u32> = run
        .items()
        .enumerate()
        .filter(|(_, s)| {
            let media = s.item.content.is_some_and(|c| c.class.is_media());
            s.item.digests.is_some()
                && s.item.kind.holds_content()
                && s.item.error.is_none()
                && (s.category.is_some() || media)
        })
        .map(|(i, _)| i as u32)
        .collect();
    // The files left out count as done at once; the rest as their records are written.
    counters.add_step((run.len() - by_content.len()) as u64);
    by_content.par_sort_unstable_by(|&a, &b| digests(a).cmp(&digests(b)).then(a.cmp(&b)));
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, &file) in by_content.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if digests(by_content[r.start]) == digests(file) => r.end = i + 1,
            _ => runs.push(i..i + 1),
        }
    }
    runs.sort_unstable_by_key(|r| by_content[r.start]);
    let case = json!({
        "CaseID": 1,
        "CaseNumber": p.case.clone().unwrap_or_default(),
        "ContactName": p.examiner,
        "SourceApplicationName": "hashsift",
        "SourceApplicationVersion": p.tool_version,
    });
    let mut head = serde_json::to_string(&case)?;
    head.pop(); // the closing brace: the media follow
    write!(
        out,
        "{{\"@odata.context\":{},\"value\":[{head},\"Media\":[",
        Value::from(CONTEXT)
    )?;
    for (i, r) in runs.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        let files: Vec<ScanItem> = by_content[r]
            .iter()
            .map(|&f| run.item(f as usize))
            .collect();
        let d = files[0]
            .item
            .digests
            .expect("only files with digests are kept");
        let record = media(i as u64 + 1, &d, &files, p);
        counters.add_step(files.len() as u64);
        serde_json::to_writer(&mut *out, &record)?;
    }
    out.write_all(b"]}]}\n")?;
    out.flush()
}

/// One `Media` record: the content's hashes, its grade (the most severe of its matches) and
/// flags (any set's `true` wins over `false`), and its files.
fn media(id: u64, d: &Digests, files: &[ScanItem], p: &Provenance) -> Value {
    let first = files[0];
    let upper = |a| d.hex(a).map(|h| h.to_ascii_uppercase());
    let mut m = Map::new();
    m.insert("MediaID".into(), json!(id));
    if let Some(c) = first.category {
        m.insert(
            "Category".into(),
            vics_code(c).map_or(Value::Null, Value::from),
        );
    }
    m.insert("MD5".into(), json!(upper(Algorithm::Md5)));
    m.insert("SHA1".into(), json!(upper(Algorithm::Sha1)));
    m.insert("MediaSize".into(), json!(first.item.size));
    if let Some(c) = first.item.content {
        m.insert("MimeType".into(), json!(c.mime));
    }
    let grades: Vec<_> = first
        .matches
        .iter()
        .filter(|m| m.status != MatchStatus::Contradicts)
        .flat_map(|m| m.grades.iter())
        .collect();
    let flag = |f: fn(&crate::knowndb::read::SetGrade) -> Option<bool>| {
        grades.iter().filter_map(|g| f(g)).reduce(|a, b| a || b)
    };
    m.insert(
        "VictimIdentified".into(),
        json!(flag(|g| g.victim_identified)),
    );
    m.insert(
        "OffenderIdentified".into(),
        json!(flag(|g| g.offender_identified)),
    );
    m.insert("IsDistributed".into(), json!(flag(|g| g.distributed)));
    if let Some(b) = flag(|g| g.baseline) {
        m.insert("Baseline".into(), json!(b));
    }
    if let Some(series) = grades.iter().find_map(|g| g.series.clone()) {
        m.insert("Series".into(), json!(series));
    }
    if first.category == Some(Category::KnownFile) {
        m.insert("Tags".into(), json!(["known_file"]));
    }
    m.insert("IsPrecategorized".into(), json!(first.category.is_some()));
    if first.category.is_some() {
        let mut sets: Vec<String> = grades
            .iter()
            .map(|g| match &g.set_version {
                Some(v) => format!("{} {v}", g.set),
                None => g.set.clone(),
            })
            .collect();
        sets.dedup();
        m.insert(
            "PrecategorizationSource".into(),
            json!(format!("hashsift: {}", sets.join(", "))),
        );
    }
    let mut alt = Vec::new();
    for (name, a) in [("SHA256", Algorithm::Sha256), ("BLAKE3", Algorithm::Blake3)] {
        if let Some(h) = upper(a) {
            alt.push(json!({"HashName": name, "HashValue": h}));
        }
    }
    // As the database's own VICS export writes it: the hash, a comma, the quality. Not the
    // zero hash of quality 0 (an image under 5 pixels or flat): it would match nothing real.
    if let Some(Ok(pdq)) = first
        .item
        .image
        .as_deref()
        .map(|i| &i.pdq)
        .filter(|p| p.as_ref().is_ok_and(|p| p.quality > 0))
    {
        alt.push(json!({
            "HashName": "PDQ",
            "HashValue": format!("{},{}", pdq.hash, pdq.quality),
        }));
    }
    // A video's frames as `hashsift vpdq` writes them, one line each.
    if let Some(v) = first.item.video.as_deref().filter(|v| !v.frames.is_empty()) {
        let mut text = Vec::new();
        let _ = crate::media::video::format::write(&v.frames, &mut text);
        alt.push(json!({
            "HashName": "vPDQ",
            "HashValue": String::from_utf8_lossy(&text),
        }));
    }
    m.insert("AlternativeHashes".into(), Value::Array(alt));
    let media_files: Vec<Value> = files
        .iter()
        .map(|s| {
            let path = &s.item.path;
            json!({
                "MD5": upper(Algorithm::Md5),
                "FileName": path.file_name().map(|n| Text::of(n).text),
                "FilePath": path.parent().map(|d| Text::of(d.as_os_str()).text),
                "Written": s.item.mtime.map(|t| t.to_string()),
                "SourceID": p.evidence_id,
            })
        })
        .collect();
    m.insert("MediaFiles".into(), Value::Array(media_files));
    Value::Object(m)
}
