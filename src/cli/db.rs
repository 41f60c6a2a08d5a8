//! `hashsift db ...`: turns the parsed command line into calls on the known-material database
//! and prints the results.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};

use hashsift::cancel::Cancel;
use hashsift::exit::ExitStatus;
use hashsift::import::rejects::RejectsTarget;
use hashsift::import::{self, Grading, ImportError, ImportRequest, csvsets::CsvOptions};
use hashsift::knowndb::profile::{Profile, built_in_names};
use hashsift::knowndb::read::MediaView;
use hashsift::knowndb::write::SetMeta;
use hashsift::knowndb::{self, Access, KnownDb};
use hashsift::progress::ImportCounters;

use super::progress::ImportDisplay;
use hashsift::textsafe::{escape, escape_opt};

use super::{DbArgs, DbCommand, ExportArgs, ExportFormatArg, ImportArgs};
use hashsift::knowndb::export::{ExportFormat, Scope};

fn db_path(args: &DbArgs) -> anyhow::Result<PathBuf> {
    knowndb::resolve_path(args.db.as_deref()).context(
        "no database given: use --db PATH or set HASHSIFT_DB (HOME is not set, so there is no default)",
    )
}

pub fn run(args: DbArgs, cancel: &Cancel) -> anyhow::Result<ExitStatus> {
    let path = db_path(&args)?;
    match args.command {
        DbCommand::Init => {
            KnownDb::open(&path, Access::Create)?;
            eprintln!("hashsift: created the database {}", path.display());
            Ok(ExitStatus::Clean)
        }
        DbCommand::Import(a) => import(&path, a, cancel),
        DbCommand::List { json } => list(&KnownDb::open(&path, Access::ReadOnly)?, json),
        DbCommand::Remove { name } => {
            KnownDb::open(&path, Access::Write)?.remove_set(&name)?;
            eprintln!("hashsift: removed the set '{}'", escape(&name));
            Ok(ExitStatus::Clean)
        }
        DbCommand::Stats { json } => stats(&KnownDb::open(&path, Access::ReadOnly)?, json),
        DbCommand::Lookup {
            hashes,
            json,
            pdq: false,
            ..
        } => lookup(&KnownDb::open(&path, Access::ReadOnly)?, &hashes, json),
        DbCommand::Lookup {
            hashes,
            json,
            pdq: true,
            pdq_distance,
        } => lookup_pdq(
            &KnownDb::open(&path, Access::ReadOnly)?,
            &hashes,
            pdq_distance,
            json,
            cancel,
        ),
        DbCommand::Profile { name } => profile(name.as_deref()),
        DbCommand::Export(a) => export(&KnownDb::open(&path, Access::ReadOnly)?, a),
    }
}

/// The files to import: each path given, a folder standing for the files directly in it (by
/// name, those whose name begins with `.` left out), as a folder of vPDQ files (one video each)
/// is delivered. A folder inside is refused rather than passed over; anything else that is not
/// a regular file is refused when it is read.
fn set_files(given: &[std::path::PathBuf]) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for path in given {
        if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            files.push(path.clone());
            continue;
        }
        let mut inside = Vec::new();
        for entry in
            std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?
        {
            let entry = entry.with_context(|| format!("cannot list {}", path.display()))?;
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                bail!(
                    "{} holds the folder {}: a set is read from the files directly in a folder; import that folder's files on their own",
                    path.display(),
                    entry.path().display()
                );
            }
            inside.push(entry.path());
        }
        if inside.is_empty() {
            bail!(
                "{} is a folder with no file to import in it",
                path.display()
            );
        }
        inside.sort();
        files.extend(inside);
    }
    Ok(files)
}

fn import(path: &std::path::Path, a: ImportArgs, cancel: &Cancel) -> anyhow::Result<ExitStatus> {
    // A set made of a folder is named after the folder.
    let first = a.files.first().expect("clap requires one file");
    let files = set_files(&a.files)?;
    let mut formats = Vec::with_capacity(files.len());
    for f in &files {
        formats.push(match a.format {
            Some(fmt) => fmt,
            None => import::detect::detect(f)?,
        });
    }
    let first_format = formats[0];
    if a.profile.is_none()
        && let Some(other) = formats
            .iter()
            .find(|f| f.default_profile() != first_format.default_profile())
    {
        bail!(
            "the files are {} and {}, which are graded differently by default: import them as separate sets, or name one profile for all with --profile",
            first_format.name(),
            other.name()
        );
    }
    let profile_name = a
        .profile
        .clone()
        .or_else(|| first_format.default_profile().map(str::to_owned));
    let profile = profile_name.as_deref().map(Profile::load).transpose()?;
    let name = match &a.name {
        Some(n) if n.trim().is_empty() => bail!("--name must not be empty"),
        Some(n) => n.clone(),
        None => first
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .context("cannot name the set after its file: give --name")?,
    };
    if !a.quiet
        && let Some(p) = profile.as_ref().filter(|p| !p.verified)
    {
        eprintln!(
            "hashsift: warning: the profile '{}' is a starting point, not verified against its source: check its codes (`hashsift db profile {}`)",
            p.name, p.name
        );
    }
    let request = ImportRequest {
        files: files.iter().cloned().zip(formats.iter().copied()).collect(),
        meta: SetMeta {
            name: name.clone(),
            source: a.source.clone(),
            version: a.set_version.clone(),
            format: "",
            profile: None,
            default_category: None,
        },
        grading: Grading {
            profile,
            default_category: a.category,
            map_values: a.map_value.clone(),
            strict_codes: a.strict_codes,
        },
        replace: a.replace,
        csv: CsvOptions {
            map_columns: a.map_column.clone(),
            blake3_lists: a.blake3,
        },
        // Absolute: `db list` shows where the rejects are from wherever it is run.
        skip_invalid: a
            .skip_invalid
            .then(|| -> anyhow::Result<RejectsTarget> {
                Ok(match &a.rejects {
                    Some(file) => RejectsTarget::Named(hashsift::config::absolute(file)?),
                    None => RejectsTarget::BesideDatabase(hashsift::config::absolute(path)?),
                })
            })
            .transpose()?,
    };
    // A database this import creates is removed again if the import fails, so that a
    // rejected import leaves nothing behind.
    let was_empty_file = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0);
    let created = !path.exists();
    let created_dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(std::path::Path::to_path_buf);
    let remove_created = || {
        if was_empty_file {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(0));
        }
        if created {
            let _ = std::fs::remove_file(path);
            if let Some(d) = &created_dir {
                let _ = std::fs::remove_dir(d);
            }
        }
    };
    let mut db = match KnownDb::open(path, Access::CreateOrWrite) {
        Ok(db) => db,
        Err(e) => {
            remove_created();
            return Err(e.into());
        }
    };
    let counters = ImportCounters::new();
    let display = (!a.quiet && std::io::stderr().is_terminal())
        .then(|| ImportDisplay::start(counters.clone()));
    let started = Instant::now();
    let result = import::run(&mut db, &request, &counters, cancel);
    if let Some(d) = display {
        d.finish();
    }
    if result.is_err() {
        drop(db);
        remove_created();
    }
    let summary = match result {
        Ok(s) => s,
        Err(ImportError::Interrupted) => {
            eprintln!("hashsift: import interrupted; the database is unchanged");
            return Ok(ExitStatus::Interrupted);
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "import of '{name}' rejected; the database is unchanged"
            )));
        }
    };
    // What the set holds that was not imported as its source meant it: said even with -q.
    let profile_name = request
        .grading
        .profile
        .as_ref()
        .map_or("none".to_owned(), |p| p.name.clone());
    for u in &summary.unmapped {
        eprintln!(
            "hashsift: warning: {} record{} with code {}{}, not in profile {}: imported as uncategorised; to map them: --map-value {}=<category>",
            u.records,
            if u.records == 1 { "" } else { "s" },
            escape(&u.code),
            u.label
                .as_deref()
                .map(|l| format!(" (\"{}\")", escape(l)))
                .unwrap_or_default(),
            escape(&profile_name),
            shell_word(&u.code),
        );
    }
    if summary.rows_rejected > 0 || summary.rejects_file.is_some() {
        eprintln!(
            "hashsift: warning: {} malformed record{} left out (--skip-invalid){}",
            summary.rows_rejected,
            if summary.rows_rejected == 1 { "" } else { "s" },
            summary
                .rejects_file
                .as_deref()
                .map(|p| format!(", listed in {}", escape(&p.display().to_string())))
                .unwrap_or_default(),
        );
    }
    if !a.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "hashsift: {} set '{}' ({}): {} records read, {} media graded, {} merged with another record of the set, {} empty-file hashes skipped; {} hash conflicts; {:.1} s, {:.0} records/s",
            if summary.replaced {
                "replaced"
            } else {
                "imported"
            },
            escape(&name),
            first_format.name(),
            summary.rows_read,
            summary.rows_imported,
            summary.rows_merged,
            summary.rows_empty,
            summary.hash_conflicts,
            secs,
            summary.rows_read as f64 / secs.max(1e-9),
        );
        let stages: Vec<String> = counters
            .stage_times()
            .iter()
            .map(|(stage, d)| format!("{} {:.1} s", stage.name(), d.as_secs_f64()))
            .collect();
        eprintln!("hashsift: time by stage: {}", stages.join(", "));
    }
    Ok(ExitStatus::Clean)
}

/// `code` as one word a shell would read back as it is (quoted when it holds anything but
/// letters, digits and `._-`), for a `--map-value` to copy.
fn shell_word(code: &str) -> String {
    let code = code.trim();
    if !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        code.to_owned()
    } else {
        format!("'{}'", escape(&code.replace('\'', "'\\''")))
    }
}

fn list(db: &KnownDb, json: bool) -> anyhow::Result<ExitStatus> {
    let sets = db.sets()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &sets)?;
        writeln!(out)?;
        return Ok(ExitStatus::Clean);
    }
    if sets.is_empty() {
        writeln!(out, "no hash sets in {}", db.path().display())?;
    }
    for s in sets {
        writeln!(
            out,
            "{}  version {}  source {}  format {}  profile {}",
            escape(&s.name),
            escape_opt(s.version.as_deref()).unwrap_or("-".into()),
            escape_opt(s.source.as_deref()).unwrap_or("-".into()),
            escape(&s.format),
            escape_opt(s.profile.as_deref()).unwrap_or("-".into())
        )?;
        writeln!(
            out,
            "  imported {} by hashsift {}: {} records read, {} media, {} merged, {} rejected, {} empty-file skipped",
            s.imported_at,
            s.hashsift_version,
            s.rows_read,
            s.rows_imported,
            s.rows_merged,
            s.rows_rejected,
            s.rows_empty
        )?;
        if let Some(r) = &s.rejects_file {
            writeln!(out, "  rejected records listed in {}", escape(r))?;
        }
        for u in &s.unmapped {
            writeln!(
                out,
                "  code {} not in the profile: {} records imported as uncategorised",
                escape(&u.code),
                u.records
            )?;
        }
        for f in &s.files {
            writeln!(
                out,
                "  file {} ({} bytes, {} records, {}) sha256 {}",
                escape(&f.path),
                f.size,
                f.rows_read,
                escape(&f.format),
                f.sha256
            )?;
        }
    }
    Ok(ExitStatus::Clean)
}

fn stats(db: &KnownDb, json: bool) -> anyhow::Result<ExitStatus> {
    let st = db.stats()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &st)?;
        writeln!(out)?;
        return Ok(ExitStatus::Clean);
    }
    writeln!(out, "{} sets, {} known media", st.sets, st.media)?;
    writeln!(
        out,
        "media by triage category (the most severe grade of any set):"
    )?;
    for c in hashsift::knowndb::Category::ALL {
        if let Some(n) = st.by_triage.get(c.name()) {
            writeln!(out, "  {:<14} {n}", c.name())?;
        }
    }
    for (set, cats) in &st.by_set {
        writeln!(out, "set {}:", escape(set))?;
        for c in hashsift::knowndb::Category::ALL {
            if let Some(n) = cats.get(c.name()) {
                writeln!(out, "  {:<14} {n}", c.name())?;
            }
        }
    }
    for (set, codes) in &st.unmapped {
        writeln!(
            out,
            "set {}: codes not in its profile, imported as uncategorised:",
            escape(set)
        )?;
        for u in codes {
            writeln!(
                out,
                "  code {}{}: {} records (map with --map-value {}=<category> and import again with --replace)",
                escape(&u.code),
                u.label
                    .as_deref()
                    .map(|l| format!(" \"{}\"", escape(l)))
                    .unwrap_or_default(),
                u.records,
                shell_word(&u.code)
            )?;
        }
    }
    writeln!(
        out,
        "conflicts (sets grade the same medium differently): {}",
        st.conflicts
    )?;
    for h in &st.conflict_examples {
        writeln!(out, "  {h}  (see `hashsift db lookup {h}`)")?;
    }
    Ok(ExitStatus::Clean)
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not stated",
    }
}

fn lookup(db: &KnownDb, hashes: &[String], json: bool) -> anyhow::Result<ExitStatus> {
    let mut results: Vec<(String, Vec<MediaView>)> = Vec::new();
    for h in hashes {
        match db.lookup(h)? {
            Ok(found) => results.push((h.trim().to_ascii_lowercase(), found)),
            Err(reason) => {
                return Err(anyhow::Error::new(hashsift::config::ConfigError::Invalid(
                    reason,
                )));
            }
        }
    }
    let all_known = results.iter().all(|(_, f)| !f.is_empty());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let v: Vec<serde_json::Value> = results
            .iter()
            .map(|(q, found)| serde_json::json!({ "query": q, "known": !found.is_empty(), "media": found }))
            .collect();
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        for (q, found) in &results {
            if found.is_empty() {
                writeln!(out, "{q}: unknown (in no set)")?;
                continue;
            }
            for m in found {
                writeln!(out, "{q}: {}", triage_line(m))?;
                write_medium(&mut out, m)?;
            }
        }
    }
    Ok(if all_known {
        ExitStatus::Clean
    } else {
        ExitStatus::NotFound
    })
}

/// A medium's triage grade, and a warning when its sets disagree.
fn triage_line(m: &MediaView) -> String {
    format!(
        "{}{}",
        m.triage,
        if m.conflict {
            "  CONFLICT: the sets disagree, triaged as the most severe"
        } else {
            ""
        }
    )
}

/// A medium's hashes, size and every set's grade, indented under its heading line.
fn write_medium(out: &mut dyn Write, m: &MediaView) -> std::io::Result<()> {
    for (name, v) in [
        ("md5", m.md5.map(|d| d.to_string())),
        ("sha1", m.sha1.map(|d| d.to_string())),
        ("sha256", m.sha256.map(|d| d.to_string())),
        ("blake3", m.blake3.map(|d| d.to_string())),
        ("pdq", m.pdq.map(|h| h.to_string())),
    ] {
        if let Some(v) = v {
            writeln!(out, "  {name:<7} {v}")?;
        }
    }
    if let Some(s) = m.size {
        writeln!(out, "  size    {s}")?;
    }
    for g in &m.grades {
        writeln!(
            out,
            "  set {}{}: {} (code {}{}); baseline {}, victim identified {}, offender identified {}, distributed {}{}{}; record {}",
            escape(&g.set),
            g.set_version
                .as_deref()
                .map(|v| format!(" {}", escape(v)))
                .unwrap_or_default(),
            g.category,
            escape(g.code.as_deref().unwrap_or("none")),
            g.label
                .as_deref()
                .map(|l| format!(" \"{}\"", escape(l)))
                .unwrap_or_default(),
            yes_no(g.baseline),
            yes_no(g.victim_identified),
            yes_no(g.offender_identified),
            yes_no(g.distributed),
            g.series
                .as_deref()
                .map(|s| format!(", series {}", escape(s)))
                .unwrap_or_default(),
            if g.tags.is_empty() {
                String::new()
            } else {
                format!(", tags {}", escape(&g.tags.join(", ")))
            },
            g.record,
        )?;
    }
    Ok(())
}

/// `db lookup --pdq`: the known media near each PDQ hash.
fn lookup_pdq(
    db: &KnownDb,
    hashes: &[String],
    max_distance: u32,
    json: bool,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    use hashsift::media::pdq::PdqHash;
    let mut queries = Vec::new();
    for h in hashes {
        let hex = h.trim().to_ascii_lowercase();
        let q = PdqHash::from_hex(&hex).ok_or_else(|| {
            hashsift::config::ConfigError::Invalid(format!(
                "'{h}' is not a PDQ hash (64 hexadecimal digits)"
            ))
        })?;
        queries.push((hex, q));
    }
    let hashes: Vec<PdqHash> = queries.iter().map(|(_, q)| *q).collect();
    let found = db.pdq_neighbours(&hashes, max_distance, cancel)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let v: Vec<serde_json::Value> = queries
            .iter()
            .zip(&found)
            .map(|((q, _), near)| {
                serde_json::json!({
                    "query": q,
                    "max_distance": max_distance,
                    "neighbours": near.iter().map(|(d, m)| serde_json::json!({"distance": d, "medium": m})).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        for ((q, _), near) in queries.iter().zip(&found) {
            if near.is_empty() {
                writeln!(out, "{q}: no known PDQ hash within {max_distance} bits")?;
            }
            for (d, m) in near {
                writeln!(out, "{q}: {d} bits: {}", triage_line(m))?;
                write_medium(&mut out, m)?;
            }
        }
    }
    Ok(if found.iter().all(|n| !n.is_empty()) {
        ExitStatus::Clean
    } else {
        ExitStatus::NotFound
    })
}

fn profile(name: Option<&str>) -> anyhow::Result<ExitStatus> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let Some(name) = name else {
        writeln!(
            out,
            "built-in profiles (show one with `hashsift db profile NAME`):"
        )?;
        for n in built_in_names() {
            let p = Profile::load(n)?;
            writeln!(
                out,
                "  {n:<8} {}{}",
                escape(&p.description),
                if p.verified { "" } else { " [NOT VERIFIED]" }
            )?;
        }
        return Ok(ExitStatus::Clean);
    };
    let p = Profile::load(name)?;
    writeln!(
        out,
        "profile {}: {}",
        escape(&p.name),
        escape(&p.description)
    )?;
    writeln!(
        out,
        "verified: {}",
        if p.verified {
            "yes"
        } else {
            "NO: a starting point, check it against your own set"
        }
    )?;
    writeln!(out, "records without a code: {}", p.missing)?;
    for (code, m) in p.codes() {
        writeln!(
            out,
            "  code {:<4} -> {:<14} {}",
            escape(code),
            m.category.name(),
            escape(&m.label)
        )?;
    }
    Ok(ExitStatus::Clean)
}

fn export(db: &KnownDb, a: ExportArgs) -> anyhow::Result<ExitStatus> {
    let scope = match a.name {
        Some(n) => Scope::Set(n),
        None => Scope::All,
    };
    let format = match a.format {
        ExportFormatArg::Vics => ExportFormat::Vics,
        ExportFormatArg::Hashdeep => ExportFormat::Hashdeep,
        ExportFormatArg::Csv => ExportFormat::Csv,
    };
    if let (Ok(out), Ok(dbm)) = (std::fs::metadata(&a.output), std::fs::metadata(db.path())) {
        use std::os::unix::fs::MetadataExt;
        if out.dev() == dbm.dev() && out.ino() == dbm.ino() {
            bail!(
                "refusing to export over the database itself ({})",
                a.output.display()
            );
        }
    }
    let mut summary = None;
    let mut failure = None;
    hashsift::report::write_named(&a.output, |out| match db.export(&scope, format, out) {
        Ok(s) => {
            summary = Some(s);
            Ok(())
        }
        Err(e) => {
            let io = std::io::Error::other(e.to_string());
            failure = Some(e);
            Err(io)
        }
    })
    .map_err(|io| match failure.take() {
        Some(e) => anyhow::Error::new(e),
        None => anyhow::Error::new(io),
    })
    .with_context(|| format!("cannot export to {}", a.output.display()))?;
    let s = summary.expect("set on success");
    eprintln!(
        "hashsift: exported {} media to {}{}",
        s.media,
        a.output.display(),
        if s.skipped > 0 {
            format!(
                " ({} left out: {})",
                s.skipped,
                match a.format {
                    ExportFormatArg::Hashdeep =>
                        "a hashdeep listing needs MD5, SHA-1, SHA-256 and the size",
                    _ => "videos known by their vPDQ frames alone, which only VICS carries",
                }
            )
        } else {
            String::new()
        }
    );
    Ok(ExitStatus::Clean)
}
