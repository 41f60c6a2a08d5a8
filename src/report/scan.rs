//! The report of a scan, in its output directory: `items.jsonl` (one record per item, with
//! every match) and `summary.json` (counts per category, the review spared, hits per set,
//! conflicts, errors, time). Formats: `docs/report.md`.

use std::io::{self, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

use super::jsonl::{item_fields, put_text};
use super::model::{COVERED, HTML, ITEMS, ITEMS_CSV, SUMMARY, VICS, category_name};
use super::summary::Summary;
use super::text::Text;
use super::write_atomically;
use crate::digest::AlgorithmSet;
use crate::progress::{Counters, Phase, Step};
use crate::scan::Provenance;
use crate::scan::{MatchStatus, ScanItem, ScanRun};

/// Writes `items.jsonl`, `items.csv`, `summary.json` and, last, `manifest.json` into `dir`
/// (which must exist), each through a temporary name; returns the manifest's SHA-256.
///
/// # Errors
/// Any error writing the files.
pub fn write(dir: &Path, p: &Provenance, run: &ScanRun, counters: &Counters) -> io::Result<String> {
    let items = run.len() as u64;
    counters.set_phase(Phase::Writing);
    // The three files of one record per item (or per content) are written side by side, each
    // on a thread of its own: at a million items each takes seconds, mostly formatting.
    counters.start_step(Step::ReportItems, 3 * items);
    std::thread::scope(|scope| {
        let jsonl = scope
            .spawn(|| write_atomically(&dir.join(ITEMS), |out| write_items(p, run, counters, out)));
        let csv = scope
            .spawn(|| write_atomically(&dir.join(ITEMS_CSV), |out| write_csv(run, counters, out)));
        let vics = write_atomically(&dir.join(VICS), |out| {
            super::vics::write(p, run, counters, out)
        });
        for written in [jsonl.join(), csv.join()] {
            written.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        }
        vics
    })?;
    counters.start_step(Step::ReportSummary, 2);
    let summary = Summary::of(p, run);
    write_atomically(&dir.join(SUMMARY), |out| {
        serde_json::to_writer_pretty(&mut *out, &summary)?;
        out.write_all(b"\n")
    })?;
    counters.add_step(1);
    write_atomically(&dir.join(HTML), |out| {
        super::html::write(p, run, &summary, out)
    })?;
    counters.add_step(1);
    counters.start_step(Step::Manifest, COVERED.len() as u64);
    super::manifest::write(dir, p, run, counters)
}

fn write_items(
    p: &Provenance,
    run: &ScanRun,
    counters: &Counters,
    out: &mut dyn Write,
) -> io::Result<()> {
    let header = json!({
        "type": "header",
        "tool": "hashsift",
        "tool_version": p.tool_version,
        "command": p.command.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "roots": p.roots.iter().map(|r| Text::of(r.as_os_str()).text).collect::<Vec<_>>(),
        "database": Text::of(p.db.as_os_str()).text,
        "case": p.case,
        "evidence_id": p.evidence_id,
        "started": run.started.to_string(),
    });
    line(out, &header)?;
    for item in run.items() {
        line(out, &Value::Object(item_object(&item)))?;
        counters.add_step(1);
    }
    let end = json!({
        "type": "end",
        "complete": run.complete,
        "finished": run.finished.to_string(),
        "resumed": run.resumed.iter().map(|s| s.at.to_string()).collect::<Vec<_>>(),
        "items": run.len(),
    });
    line(out, &end)?;
    out.flush()
}

fn line(out: &mut dyn Write, value: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

fn item_object(s: &ScanItem) -> Map<String, Value> {
    let item = &s.item;
    let mut obj = Map::new();
    obj.insert("type".into(), "item".into());
    obj.extend(item_fields(AlgorithmSet::all(), item));
    if let Some(c) = s.contents {
        // What the members were found to be, beside what the listing says of the container.
        if let Some(Value::Object(archive)) = obj.get_mut("archive") {
            archive.insert("within".into(), c.members.into());
            archive.insert("graded".into(), c.graded.into());
            archive.insert("suggested".into(), c.suggested.into());
        }
        if let Some(category) = c.contains {
            obj.insert("contains".into(), category.name().into());
        }
        if let Some(category) = c.suggests {
            obj.insert("contains_suggested".into(), category.name().into());
        }
    }
    if item.kind.holds_content() {
        if let Some(ext) = item.path.extension() {
            put_text(&mut obj, "extension", ext);
        }
        if let Some(c) = item.content {
            obj.insert("detected_type".into(), c.mime.into());
            obj.insert("class".into(), c.class.name().into());
        }
        // A file not looked up (an interrupted scan) has no grade, not "unknown".
        if s.looked_up() {
            obj.insert("category".into(), category_name(s).into());
            obj.insert("conflict".into(), s.conflict.into());
            let matches: Vec<Value> = s
                .matches
                .iter()
                .map(|m| {
                    json!({
                        "status": m.status.name(),
                        "matched": m.matched.iter().map(|a| a.name()).collect::<Vec<_>>(),
                        "contradicted": m.contradicted.iter().map(|a| a.name()).collect::<Vec<_>>(),
                        "sets": m.grades,
                    })
                })
                .collect();
            obj.insert("matches".into(), matches.into());
            if let Some(c) = s.suggested {
                obj.insert("suggested_category".into(), c.name().into());
            }
            if !s.suggestions.is_empty() {
                let near: Vec<Value> = s.suggestions.iter().map(pdq_match_object).collect();
                obj.insert("pdq_matches".into(), near.into());
            }
            if let Some(v) = s.videos {
                video_match_fields(v, &mut obj);
            }
        }
    }
    obj
}

/// What a video's frames match: `vpdq_matches` (known videos, with vPDQ's two percentages and
/// the stretches of this video that match) and `frame_matches` (known images some frames are
/// near, and where).
fn video_match_fields(v: &crate::scan::VideoFindings, obj: &mut Map<String, Value>) {
    let ranges = |r: &[(f64, f64)]| -> Value {
        r.iter()
            .map(|&(a, b)| json!([(a * 1000.0).round() / 1000.0, (b * 1000.0).round() / 1000.0]))
            .collect::<Vec<_>>()
            .into()
    };
    if !v.videos.is_empty() {
        let list: Vec<Value> = v
            .videos
            .iter()
            .map(|(m, k)| {
                let mut o = Map::new();
                o.insert("query_percent".into(), m.query_percent.into());
                o.insert("compared_percent".into(), m.compared_percent.into());
                o.insert("nearest_distance".into(), m.nearest.into());
                o.insert("seconds".into(), ranges(&m.ranges));
                medium_fields(k, &mut o);
                Value::Object(o)
            })
            .collect();
        obj.insert("vpdq_matches".into(), list.into());
    }
    if !v.images.is_empty() {
        let list: Vec<Value> = v
            .images
            .iter()
            .map(|(m, k)| {
                let mut o = Map::new();
                o.insert("distance".into(), m.nearest.into());
                o.insert("seconds".into(), ranges(&m.ranges));
                medium_fields(k, &mut o);
                Value::Object(o)
            })
            .collect();
        obj.insert("frame_matches".into(), list.into());
    }
}

/// A known image near this one by PDQ: how near, through which transform, and what it is.
fn pdq_match_object(m: &crate::scan::PdqMatch) -> Value {
    let mut obj = Map::new();
    obj.insert("distance".into(), m.distance.into());
    obj.insert("transform".into(), m.transform.name().into());
    medium_fields(&m.medium, &mut obj);
    Value::Object(obj)
}

/// A known medium's hashes (those it has) and every set's grade of it.
fn medium_fields(k: &crate::knowndb::read::MediaView, obj: &mut Map<String, Value>) {
    for (name, value) in [
        ("pdq", k.pdq.map(|h| h.to_string())),
        ("md5", k.md5.map(|d| d.to_string())),
        ("sha1", k.sha1.map(|d| d.to_string())),
        ("sha256", k.sha256.map(|d| d.to_string())),
    ] {
        if let Some(v) = value {
            obj.insert(name.into(), v.into());
        }
    }
    if let Some(q) = k.pdq_quality {
        obj.insert("pdq_quality".into(), q.into());
    }
    obj.insert("sets".into(), json!(k.grades));
}

/// `items.csv`: one row per item for spreadsheets, with one column per hash set that graded
/// something (`set: NAME`, that set's category of the item), as review tools lay them out.
/// Every text cell a spreadsheet would take for a formula starts with `'`.
fn write_csv(run: &ScanRun, counters: &Counters, out: &mut dyn Write) -> io::Result<()> {
    use super::csv::{
        IMAGE_COLUMNS, archive_cells, cell_with_hex, image_cells, leading_cells, pdq_cells,
        video_cells,
    };
    use crate::textsafe::neutralise;
    let sets: std::collections::BTreeSet<&str> = run
        .items()
        .flat_map(|s| s.matches.iter())
        .flat_map(|m| m.grades.iter().map(|g| g.set.as_str()))
        .collect();
    let mut w = ::csv::Writer::from_writer(out);
    let mut header: Vec<String> = [
        "path",
        "path_hex",
        "kind",
        "size",
        "mtime",
        "extension",
        "detected_type",
        "class",
        "md5",
        "sha1",
        "sha256",
        "blake3",
        "pdq",
        "pdq_quality",
        "pdq_error",
        "vpdq_frames",
        "vpdq_stopped",
        "category",
        "conflict",
        "match_status",
        "matches",
        "suggested_category",
        "pdq_distance",
        "pdq_transform",
        "pdq_matches",
        "note",
        "archive",
        "archive_members",
        "archive_stopped",
        "members_within",
        "members_graded",
        "members_suggested",
        "contains",
        "contains_suggested",
    ]
    .map(String::from)
    .to_vec();
    header.extend(IMAGE_COLUMNS.map(String::from));
    header.extend(sets.iter().map(|s| neutralise(format!("set: {s}"))));
    header.extend(["error_stage", "error"].map(String::from));
    w.write_record(&header)?;
    for s in run.items() {
        counters.add_step(1);
        let item = &s.item;
        let looked_up = s.looked_up();
        let digest = |a| {
            item.digests
                .as_ref()
                .and_then(|d| d.hex(a))
                .unwrap_or_default()
        };
        let mut row = leading_cells(item);
        row.extend([
            item.path
                .extension()
                .map(|e| cell_with_hex(e).0)
                .unwrap_or_default(),
            item.content.map(|c| c.mime.to_owned()).unwrap_or_default(),
            item.content
                .map(|c| c.class.name().to_owned())
                .unwrap_or_default(),
            digest(crate::digest::Algorithm::Md5),
            digest(crate::digest::Algorithm::Sha1),
            digest(crate::digest::Algorithm::Sha256),
            digest(crate::digest::Algorithm::Blake3),
        ]);
        row.extend(pdq_cells(item));
        row.extend(video_cells(item));
        row.extend([
            if looked_up {
                category_name(&s).to_owned()
            } else {
                String::new()
            },
            if looked_up {
                s.conflict.to_string()
            } else {
                String::new()
            },
            s.matches
                .iter()
                .map(|m| m.status.name())
                .collect::<Vec<_>>()
                .join(";"),
            neutralise(grades_text(s.matches.iter().flat_map(|m| m.grades.iter()))),
            s.suggested.map(|c| c.name().to_owned()).unwrap_or_default(),
            s.suggestions
                .first()
                .map(|m| m.distance.to_string())
                .unwrap_or_default(),
            s.suggestions
                .first()
                .map(|m| m.transform.name().to_owned())
                .unwrap_or_default(),
            neutralise(
                s.suggestions
                    .iter()
                    .map(|m| {
                        format!(
                            "{} bits {}: {}",
                            m.distance,
                            m.transform.name(),
                            grades_text(m.medium.grades.iter())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" | "),
            ),
            item.note.clone().map(neutralise).unwrap_or_default(),
        ]);
        row.extend(archive_cells(item));
        let count = |n: fn(&crate::scan::Contents) -> u64| {
            s.contents.map(|c| n(c).to_string()).unwrap_or_default()
        };
        let category = |c: Option<crate::knowndb::Category>| {
            c.map(|c| c.name().to_owned()).unwrap_or_default()
        };
        row.extend([
            count(|c| c.members),
            count(|c| c.graded),
            count(|c| c.suggested),
            category(s.contents.and_then(|c| c.contains)),
            category(s.contents.and_then(|c| c.suggests)),
        ]);
        row.extend(image_cells(item));
        for set in &sets {
            let grade = s
                .matches
                .iter()
                .filter(|m| m.status != MatchStatus::Contradicts)
                .flat_map(|m| m.grades.iter())
                .filter(|g| g.set == *set)
                .map(|g| g.category)
                .min();
            row.push(grade.map(|c| c.name().to_owned()).unwrap_or_default());
        }
        match &item.error {
            Some(e) => {
                row.push(e.stage.name().to_owned());
                row.push(neutralise(e.message.clone()));
            }
            None => row.extend([String::new(), String::new()]),
        }
        w.write_record(&row)?;
    }
    let mut end = vec![String::new(); header.len()];
    end[2] = if run.complete { "end" } else { "incomplete" }.into();
    end[0] = format!("{} items", run.len());
    w.write_record(&end)?;
    w.flush()?;
    Ok(())
}

/// Grades as one cell: `SET VERSION: category code C "label"`, separated by `; `.
fn grades_text<'a>(grades: impl Iterator<Item = &'a crate::knowndb::read::SetGrade>) -> String {
    grades
        .map(|g| {
            let version = g
                .set_version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            let code = g
                .code
                .as_deref()
                .map(|c| format!(" code {c}"))
                .unwrap_or_default();
            let label = g
                .label
                .as_deref()
                .map(|l| format!(" \"{l}\""))
                .unwrap_or_default();
            format!("{}{version}: {}{code}{label}", g.set, g.category.name())
        })
        .collect::<Vec<_>>()
        .join("; ")
}
