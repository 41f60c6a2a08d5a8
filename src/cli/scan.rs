//! `hashsift scan` and `hashsift verify`: settings from the command line, the run, what is said
//! on stderr, and the exit status.

use std::io::IsTerminal;

use anyhow::Context;

use hashsift::cancel::Cancel;
use hashsift::exit::ExitStatus;
use hashsift::progress::{Counters, Phase};
use hashsift::report;

use super::progress::Display;

pub fn run(args: super::ScanArgs, cancel: &Cancel) -> anyhow::Result<ExitStatus> {
    use hashsift::knowndb::Category;
    use hashsift::record::Stage;
    use hashsift::scan::journal::{Journal, Start};
    let threads = args.threads.map(|n| n.get());
    let (settings, journal) = match &args.resume {
        Some(dir) => {
            let out = hashsift::config::ScanSettings::resumable(dir)?;
            let journal = Journal::resume(&out, std::env::args_os().collect())
                .context("cannot resume the scan")?;
            // Again under the journal's lock: a session finishing meanwhile wrote the report.
            hashsift::config::ScanSettings::resumable(&out)?;
            let settings = hashsift::config::ScanSettings::resumed(
                out,
                journal.start(),
                args.db.clone(),
                threads,
                args.quiet,
            )?;
            // A session killed while writing the report leaves its temporary files.
            report::remove_partial_files(&settings.out).with_context(|| {
                format!(
                    "cannot clear {} of unfinished files",
                    settings.out.display()
                )
            })?;
            if !settings.quiet {
                let start = journal.start();
                eprintln!(
                    "hashsift: resuming the scan started {} ({} records in the journal{})",
                    start.provenance.started,
                    journal.records_read,
                    if journal.torn_bytes > 0 {
                        format!(
                            "; {} bytes after the last whole record, left by the interruption, dropped",
                            journal.torn_bytes
                        )
                    } else {
                        String::new()
                    }
                );
            }
            (settings, journal)
        }
        None => {
            let db = hashsift::knowndb::resolve_path(args.db.as_deref()).context(
                "no database given: use --db PATH or set HASHSIFT_DB (HOME is not set, so there is no default)",
            )?;
            let settings = hashsift::config::ScanSettings::new(
                &args.paths,
                args.out
                    .as_deref()
                    .expect("clap requires --out without --resume"),
                db,
                threads,
                match args.lookup {
                    super::LookupArg::Auto => hashsift::scan::LookupChoice::Auto,
                    super::LookupArg::Index => hashsift::scan::LookupChoice::Index,
                    super::LookupArg::Direct => hashsift::scan::LookupChoice::Direct,
                },
                (!args.no_pdq).then(|| hashsift::scan::PdqMatching {
                    scale: args.pdq_decode.into(),
                    min_quality: args.pdq_quality,
                    max_distance: args.pdq_distance,
                }),
                args.quiet,
            )?;
            // A database that cannot be opened stops the scan before it has a journal, so that
            // the scan can be run again into the same directory.
            hashsift::knowndb::KnownDb::open(
                &settings.scan.db,
                hashsift::knowndb::Access::ReadOnly,
            )?;
            let start = Start {
                provenance: hashsift::scan::Provenance {
                    case: args.case,
                    evidence_id: args.evidence_id,
                    examiner: args.examiner,
                    ..hashsift::scan::Provenance::of_this_process(
                        settings.scan.roots.clone(),
                        settings.scan.db.clone(),
                    )
                },
                lookup: settings.scan.lookup,
                pdq: settings.scan.pdq,
            };
            let journal = Journal::create(&settings.out, start).with_context(|| {
                format!(
                    "cannot start the scan's journal in {}",
                    settings.out.display()
                )
            })?;
            (settings, journal)
        }
    };
    let counters = Counters::new();
    let display = (!settings.quiet && std::io::stderr().is_terminal())
        .then(|| Display::start(counters.clone()));
    let run = hashsift::scan::run(&settings.scan, cancel, &counters, Some(&journal))?;
    // The journal's records are all on disk before the report is: a kill while writing the
    // report loses no hashing.
    let journaled = journal.finish();
    let provenance = hashsift::scan::Provenance {
        roots: settings.scan.roots.clone(),
        // The database as this session read it (a resume may name it anew).
        db: settings.scan.db.clone(),
        ..journal.start().provenance.clone()
    };
    let manifest = report::scan::write(&settings.out, &provenance, &run, &counters)
        .with_context(|| format!("cannot write the report into {}", settings.out.display()))?;
    counters.set_phase(Phase::Done);
    if let Some(d) = display {
        d.finish();
    }
    // A complete report supersedes the journal; an incomplete one keeps it, to resume from.
    if let Err(e) = journaled {
        eprintln!(
            "hashsift: warning: the journal {} could not be written to the end ({e}): a resumed scan reads those files again",
            journal.path().display()
        );
    } else if run.complete {
        let path = journal.path().to_owned();
        if let Err(e) = journal.remove() {
            eprintln!(
                "hashsift: warning: cannot remove the journal {} of this complete scan: {e}",
                path.display()
            );
        }
    }
    let illegal = run
        .items()
        .any(|i| i.category.is_some_and(Category::is_illegal_material));
    let errors = run
        .items()
        .filter(|i| matches!(&i.item.error, Some(e) if e.stage != Stage::Interrupted))
        .count();
    // This session's record when it resumed the scan (the last of them).
    let this_session = run.resumed.last();
    // Evidence does not change between sessions: a change says it may be another exhibit.
    if let Some(changed) = this_session.map(|s| s.changed).filter(|&n| n > 0) {
        eprintln!(
            "hashsift: warning: {changed} files the journal records had changed since (inode, size, modification or change time) and were read again; evidence does not change between the sessions of a scan: check that this is the exhibit the scan began on, mounted as it was (on FAT or exFAT a remount alone changes every inode)"
        );
    }
    if !settings.quiet {
        let graded = run.items().filter(|i| i.category.is_some()).count();
        let suggested = run.items().filter(|i| i.suggested.is_some()).count();
        if let Some(carried) = this_session.map(|s| s.carried).filter(|&n| n > 0) {
            eprintln!(
                "hashsift: {carried} files' hashes carried over from the journal, not read again"
            );
        }
        eprintln!(
            "hashsift: {} items, {} files hashed ({} bytes), {graded} graded by exact hash, {suggested} suggested by PDQ, {errors} errors{}; report in {}",
            run.len(),
            run.files_hashed,
            run.bytes_hashed,
            if run.complete {
                ""
            } else {
                "; INCOMPLETE (interrupted)"
            },
            settings.out.display()
        );
        eprintln!(
            "hashsift: SHA-256 of manifest.json (note it to verify the report later): {manifest}"
        );
    }
    Ok(if !run.complete {
        ExitStatus::Interrupted
    } else if illegal {
        ExitStatus::KnownIllegal
    } else if errors > 0 {
        ExitStatus::ItemErrors
    } else {
        ExitStatus::Clean
    })
}

pub fn verify(dir: &std::path::Path) -> anyhow::Result<ExitStatus> {
    let v = report::manifest::verify(dir)?;
    for name in &v.good {
        println!("ok        {name}");
    }
    for p in &v.problems {
        println!("CHANGED   {p}");
    }
    println!("manifest.json SHA-256: {}", v.manifest_sha256);
    let incomplete = if v.complete {
        String::new()
    } else {
        println!(
            "INCOMPLETE the scan was interrupted: items not read or not looked up say so in the report"
        );
        format!(
            ", but the scan is INCOMPLETE (interrupted: not every item was read or looked up; while its journal is there, `hashsift scan --resume {}` finishes it)",
            dir.display()
        )
    };
    Ok(if v.problems.is_empty() {
        eprintln!(
            "hashsift: the report in {} matches its manifest{incomplete}",
            dir.display()
        );
        ExitStatus::Clean
    } else {
        eprintln!(
            "hashsift: the report in {} does NOT match its manifest ({} problems){incomplete}",
            dir.display(),
            v.problems.len()
        );
        ExitStatus::ReportChanged
    })
}
