//! `summary.html`: one self-contained page an examiner or a prosecutor can read offline. No
//! external asset, no script, no image content: the case details, the files per category with
//! an inline SVG bar chart, the review spared, what is left to review by type, the files graded
//! as illegal material, the conflicts and errors, the sets used with their versions, and the
//! provenance. Every value that comes from the evidence or a hash set (names!) is escaped.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::model::category_name;
use super::summary::Summary;
use super::text::Text;
use crate::knowndb::Category;
use crate::scan::Provenance;
use crate::scan::ScanRun;

/// At most this many files are listed per table; the rest is counted.
const LISTED: usize = 200;

/// `s` with the characters HTML gives a meaning escaped, for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The colour of a category's bar.
fn colour(category: &str) -> &'static str {
    match category {
        "csam" => "#9b1c1c",
        "csem" => "#c2410c",
        "cgi" => "#a16207",
        "comparison" => "#6b21a8",
        "uncategorised" => "#475569",
        "non_pertinent" => "#15803d",
        "known_file" => "#0f766e",
        _ => "#1d4ed8",
    }
}

/// Writes the page from the scan and its `summary` (what `summary.json` holds).
///
/// # Errors
/// Any error writing.
pub fn write(
    p: &Provenance,
    run: &ScanRun,
    summary: &Summary,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut h = String::new();
    // A detail not given shows as a dash.
    let e = |v: Option<&str>| v.map_or_else(|| "&ndash;".into(), escape);
    let title = match &p.case {
        Some(c) => format!("hashsift scan report, case {}", escape(c)),
        None => "hashsift scan report".into(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#111}}\
         table{{border-collapse:collapse;margin:0.5em 0 1.5em}}\
         td,th{{border:1px solid #bbb;padding:0.2em 0.6em;text-align:left;vertical-align:top}}\
         td.n{{text-align:right}} .warn{{color:#9b1c1c;font-weight:bold}}\
         code{{font-size:0.9em;word-break:break-all}}</style></head><body>\n<h1>{title}</h1>\n"
    );
    if !run.complete {
        h.push_str(
            "<p class=\"warn\">INCOMPLETE: the scan was interrupted; files not read or not \
             looked up are not graded.</p>\n",
        );
    }
    h.push_str(
        "<p>No image content is shown in this report: names, sizes, digests and grades only.</p>\n",
    );

    // Case details.
    h.push_str("<h2>Case</h2><table>\n");
    for (label, value) in [
        ("Case number", summary.case.as_deref()),
        ("Evidence item", summary.evidence_id.as_deref()),
        ("Examiner", summary.examiner.as_deref()),
        ("Started (UTC)", Some(summary.started.as_str())),
        ("Finished (UTC)", Some(summary.finished.as_str())),
    ] {
        let _ = writeln!(h, "<tr><th>{label}</th><td>{}</td></tr>", e(value));
    }
    for at in &run.resumed {
        let _ = writeln!(
            h,
            "<tr><th>Resumed (UTC)</th><td>{} (after an interruption)</td></tr>",
            at.at
        );
    }
    for root in &p.roots {
        let _ = writeln!(
            h,
            "<tr><th>Evidence root</th><td><code>{}</code></td></tr>",
            escape(&Text::of(root.as_os_str()).text)
        );
    }
    h.push_str("</table>\n");

    // Files per category, with a bar chart.
    let mut rows: Vec<(&str, u64, u64)> = summary
        .by_category
        .iter()
        .map(|(k, t)| (*k, t.items, t.bytes))
        .collect();
    let order = |name: &str| {
        Category::ALL
            .iter()
            .position(|c| c.name() == name)
            .unwrap_or(Category::ALL.len())
    };
    rows.sort_by_key(|r| order(r.0));
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    h.push_str("<h2>Files by category</h2>\n");
    let bar_h = 22;
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"{}\" role=\"img\" \
         aria-label=\"files per category\">",
        rows.len() * bar_h + 4
    );
    for (i, (name, n, _)) in rows.iter().enumerate() {
        let y = i * bar_h + 2;
        let w = (*n as f64 / max as f64 * 400.0).max(1.0);
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>\
             <rect x=\"130\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"13\">{n}</text>",
            y + 15,
            escape(name),
            bar_h - 6,
            colour(name),
            136.0 + w,
            y + 15
        );
    }
    h.push_str("</svg>\n<table><tr><th>category</th><th>files</th><th>bytes</th></tr>\n");
    for (name, n, bytes) in &rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{n}</td><td class=\"n\">{bytes}</td></tr>",
            escape(name)
        );
    }
    h.push_str("</table>\n");

    // Review spared and left.
    let g = &summary.graded_automatically;
    let pct = |share: f64| format!("{:.1}%", share * 100.0);
    let _ = writeln!(
        h,
        "<h2>Review</h2><p>Graded automatically: <b>{}</b> of {} files ({}); \
         <b>{}</b> of {} images and videos ({}).</p>",
        g.files,
        summary.files,
        pct(g.share_of_files),
        g.media_graded,
        g.media_files,
        pct(g.share_of_media)
    );
    let t = &summary.triage;
    let _ = writeln!(
        h,
        "<p>Files graded by exact hash: <b>{}</b>; suggested by PDQ (a known image's near \
         copy, category proposed, to confirm): <b>{}</b>; unknown: <b>{}</b>.</p>",
        t.graded_by_exact_hash.items, t.suggested_by_pdq.items, t.unknown.items,
    );
    h.push_str("<p>Left to review (unknown to every set), by type:</p><table><tr><th>type</th><th>files</th><th>bytes</th></tr>\n");
    for (class, v) in &summary.to_review_by_class {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(class),
            v.items,
            v.bytes
        );
    }
    h.push_str("</table>\n");

    // Containers: what they held, and those not read to their end.
    if let Some(c) = &summary.containers {
        let _ = writeln!(
            h,
            "<h2>Archives and compressed files</h2><p>Containers opened: <b>{}</b>; members \
             listed: <b>{}</b> (each an item, its path the container's and its name after \
             <code>!/</code>), read: <b>{}</b> ({} bytes; counted among the files above), \
             graded by exact hash: <b>{}</b>. Not read to their end or not opened: \
             <b>{}</b>.</p>",
            c.by_format.values().sum::<u64>(),
            c.members,
            c.members_read,
            c.member_bytes,
            c.members_graded,
            c.stopped,
        );
        h.push_str("<table><tr><th>format</th><th>containers</th></tr>\n");
        for (format, n) in &c.by_format {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
                escape(format)
            );
        }
        h.push_str("</table>\n");
        let holding: Vec<_> = run
            .containers()
            .filter(|(s, c)| {
                s.item.kind != crate::record::Kind::Member
                    && c.contains.is_some_and(Category::is_illegal_material)
            })
            .collect();
        let _ = writeln!(
            h,
            "<h3>Containers on the evidence holding csam, csem or cgi: {}</h3>",
            holding.len()
        );
        file_table(
            &mut h,
            holding.iter().map(|(s, c)| {
                (
                    &s.item.path,
                    format!("contains {}", c.contains.map_or("", |c| c.name())),
                    format!(
                        "{} of its {} members graded by exact hash",
                        c.graded, c.members
                    ),
                )
            }),
        );
        let stopped: Vec<_> = run
            .containers()
            .filter_map(|(s, _)| {
                let why = s.item.archive.as_ref()?.stopped.clone()?;
                Some((s, why))
            })
            .collect();
        let _ = writeln!(
            h,
            "<h3>Containers not read to their end: {}</h3>",
            stopped.len()
        );
        file_table(
            &mut h,
            stopped.iter().map(|(s, why)| {
                let format = s.item.archive.as_ref().map_or("", |a| a.format);
                (&s.item.path, format.to_owned(), why.clone())
            }),
        );
    }

    // Disk images: their integrity first (a mismatch is what the examiner must see).
    if !summary.images.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Disk images: {}</h2><table><tr><th>image</th><th>integrity</th>\
             <th>partitions and file systems</th><th>files</th><th>deleted (read)</th>\
             <th>reallocated</th><th>stopped</th></tr>",
            summary.images.len()
        );
        for i in &summary.images {
            let class = match i.integrity {
                "mismatch" | "not_read" => " class=\"warn\"",
                _ => "",
            };
            let _ = writeln!(
                h,
                "<tr><td>{} ({}, {} segment{}, {} bytes)</td><td{class}>{}</td><td>{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{} ({})</td><td class=\"n\">{}</td>\
                 <td>{}</td></tr>",
                escape(&i.path),
                escape(i.format),
                i.segments,
                if i.segments == 1 { "" } else { "s" },
                i.media_size,
                escape(&i.integrity_text),
                escape(&i.volumes.join("; ")),
                i.files,
                i.deleted,
                i.deleted_read,
                i.reallocated,
                escape(i.stopped.as_deref().unwrap_or("")),
            );
        }
        h.push_str("</table>\n");
    }

    // Videos and their vPDQ.
    if let Some(v) = &summary.videos {
        let _ = writeln!(
            h,
            "<h2>Videos</h2><p>Videos: <b>{}</b>; hashed with vPDQ: <b>{}</b> ({} frames), of \
             which not to their end: <b>{}</b>; not decoded: <b>{}</b>; not hashed for want of \
             FFmpeg: <b>{}</b>; suggested by what their frames match (listed below): \
             <b>{}</b>.</p>",
            v.videos,
            v.hashed,
            v.frames,
            v.not_to_their_end,
            v.not_decoded,
            v.not_hashed,
            v.suggested,
        );
        let decoder = match (&v.ffmpeg, &v.not_hashed_because) {
            (Some(version), _) => format!("Decoded by {}.", escape(version)),
            (None, Some(why)) => format!("No video was hashed: {}.", escape(why)),
            (None, None) => String::new(),
        };
        let searched = v.search.as_ref().map_or(String::new(), |s| {
            format!(
                " Searched ({} distinct) among <b>{}</b> known videos ({} frames), \
                 images, in {:.1} s.",
                s.videos_searched, s.known_videos, s.known_frames, s.seconds
            )
        });
        let _ = writeln!(h, "<p>{decoder}{searched}</p>");
    }

    // Files graded as illegal material, conflicts, contradictions, errors.
    let illegal: Vec<_> = run
        .items()
        .filter(|s| s.looked_up() && s.category.is_some_and(Category::is_illegal_material))
        .collect();
    let _ = writeln!(
        h,
        "<h2>Files graded csam, csem or cgi: {}</h2>",
        illegal.len()
    );
    file_table(
        &mut h,
        illegal
            .iter()
            .map(|s| (&s.item.path, category_name(s).to_owned(), set_views(s))),
    );
    let suggested: Vec<_> = run.items().filter(|s| s.suggested.is_some()).collect();
    let _ = writeln!(
        h,
        "<h2>Images and videos suggested by PDQ, to confirm: {}</h2>",
        suggested.len()
    );
    file_table(
        &mut h,
        suggested.iter().map(|s| {
            (
                &s.item.path,
                format!("suggested {}", s.suggested.map_or("unknown", |c| c.name())),
                suggested_by(s),
            )
        }),
    );
    let conflicts: Vec<_> = run.items().filter(|s| s.conflict).collect();
    let _ = writeln!(h, "<h2>Conflicts between sets: {}</h2>", conflicts.len());
    file_table(
        &mut h,
        conflicts.iter().map(|s| {
            (
                &s.item.path,
                format!("triaged {}", category_name(s)),
                set_views(s),
            )
        }),
    );
    let errors: Vec<_> = run.items().filter(|s| s.item.error.is_some()).collect();
    let _ = writeln!(h, "<h2>Errors: {}</h2>", errors.len());
    file_table(
        &mut h,
        errors.iter().map(|s| {
            let err = s.item.error.as_ref().expect("filtered");
            (
                &s.item.path,
                err.stage.name().to_owned(),
                err.message.clone(),
            )
        }),
    );

    // Sets and provenance.
    h.push_str("<h2>Hash sets used</h2><table><tr><th>set</th><th>version</th><th>source</th><th>format</th><th>imported</th><th>media</th><th>files graded here</th></tr>\n");
    for s in &run.sets {
        let hits = summary.hits_per_set.get(&s.name).copied().unwrap_or(0);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{hits}</td></tr>",
            escape(&s.name),
            escape(s.version.as_deref().unwrap_or("")),
            escape(s.source.as_deref().unwrap_or("")),
            escape(&s.format),
            escape(&s.imported_at),
            s.rows_imported
        );
    }
    h.push_str("</table>\n<h2>Provenance</h2><table>\n");
    let command: Vec<String> = p
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (label, value) in [
        ("Tool", format!("hashsift {}", p.tool_version)),
        ("Command", command.join(" ")),
        ("Database", Text::of(p.db.as_os_str()).text),
        ("Duration", format!("{:.1} s", summary.duration_seconds)),
        ("Bytes hashed", summary.bytes_hashed.to_string()),
    ] {
        let _ = writeln!(
            h,
            "<tr><th>{label}</th><td><code>{}</code></td></tr>",
            escape(&value)
        );
    }
    h.push_str(
        "</table>\n<p>The SHA-256 of every report file is in <code>manifest.json</code>; \
         <code>hashsift verify</code> checks them.</p>\n</body></html>\n",
    );
    out.write_all(h.as_bytes())?;
    out.flush()
}

/// Every set's category of an item's matches, as `set: category; ...`.
fn set_views(s: &crate::scan::ScanItem) -> String {
    let views: Vec<String> = s
        .matches
        .iter()
        .flat_map(|m| m.grades.iter())
        .map(|g| format!("{}: {}", g.set, g.category.name()))
        .collect();
    views.join("; ")
}

/// A table of files: path, a short status, details; at most [`LISTED`] rows.
fn file_table<'a>(
    h: &mut String,
    rows: impl Iterator<Item = (&'a std::path::PathBuf, String, String)>,
) {
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        h.push_str("<p>None.</p>\n");
        return;
    }
    h.push_str("<table><tr><th>path</th><th></th><th></th></tr>\n");
    let mut more = 0;
    for (i, (path, status, detail)) in rows.enumerate() {
        if i >= LISTED {
            more += 1;
            continue;
        }
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            escape(&Text::of(path.as_os_str()).text),
            escape(&status),
            escape(&detail)
        );
    }
    h.push_str("</table>\n");
    if more > 0 {
        let _ = writeln!(h, "<p>and {more} more (see items.jsonl).</p>");
    }
}

/// What a suggestion rests on: the nearest known image, or for a video the known video it
/// matches (both of vPDQ's percentages) or the known image some frames show (and when).
fn suggested_by(s: &crate::scan::ScanItem<'_>) -> String {
    let sets = |m: &crate::knowndb::read::MediaView| {
        m.grades
            .iter()
            .map(|g| format!("{}: {}", g.set, g.category.name()))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if let Some(nearest) = s.suggestions.first() {
        return format!(
            "nearest {} bits ({}): {}",
            nearest.distance,
            nearest.transform.name(),
            sets(&nearest.medium)
        );
    }
    let Some(v) = s.videos else {
        return String::new();
    };
    if let Some((m, k)) = v.videos.first() {
        return format!(
            "known video, {:.0}% of this video and {:.0}% of the known one match: {}",
            m.query_percent,
            m.compared_percent,
            sets(k)
        );
    }
    if let Some((m, k)) = v.images.first() {
        let at = m
            .ranges
            .iter()
            .map(|(a, b)| format!("{a:.0}-{b:.0} s"))
            .collect::<Vec<_>>()
            .join(", ");
        return format!(
            "frames at {at} within {} bits of a known image: {}",
            m.nearest,
            sets(k)
        );
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_html_gives_a_meaning_is_escaped() {
        assert_eq!(
            escape("<script>alert('x' & \"y\")</script>"),
            "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(escape("plain ümlaut"), "plain ümlaut");
    }
}
