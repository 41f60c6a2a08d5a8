//! `hashsift scan` and `hashsift verify`: settings from the command line, the run, what is said
//! on stderr, and the exit status.

use std::io::IsTerminal;

use anyhow::Context;

use hashsift::cancel::Cancel;
use hashsift::command::scan::{Examination, JournalProblem, ScanJob};
use hashsift::exit::ExitStatus;
use hashsift::progress::Counters;
use hashsift::report;

use super::progress::Display;

pub fn run(args: super::ScanArgs, cancel: &Cancel) -> anyhow::Result<ExitStatus> {
    let threads = args.threads.map(|n| n.get());
    let job = match &args.resume {
        Some(dir) => {
            let job = ScanJob::resume(
                dir,
                std::env::args_os().collect(),
                args.db.clone(),
                threads,
                args.quiet,
            )?;
            if !job.settings.quiet {
                let journal = job.journal();
                eprintln!(
                    "hashsift: resuming the scan started {} ({} records in the journal{})",
                    journal.start().provenance.started,
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
            job
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
            let mut settings = settings;
            settings.scan.video = (!args.no_vpdq).then(|| args.video.config());
            if args.no_archives {
                settings.scan.archives = None;
            }
            settings.scan.images = args.images.options();
            let who = Examination {
                case: args.case,
                evidence_id: args.evidence_id,
                examiner: args.examiner,
            };
            ScanJob::create(settings, who)?
        }
    };
    let quiet = job.settings.quiet;
    let out = job.settings.out.clone();
    let counters = Counters::new();
    let display =
        (!quiet && std::io::stderr().is_terminal()).then(|| Display::start(counters.clone()));
    let outcome = job.run(cancel, &counters)?;
    if let Some(d) = display {
        d.finish();
    }
    match &outcome.journal_problem {
        Some(JournalProblem::Unwritten { path, error }) => eprintln!(
            "hashsift: warning: the journal {} could not be written to the end ({error}): a resumed scan reads those files again",
            path.display()
        ),
        Some(JournalProblem::NotRemoved { path, error }) => eprintln!(
            "hashsift: warning: cannot remove the journal {} of this complete scan: {error}",
            path.display()
        ),
        None => {}
    }
    let run = &outcome.run;
    let this_session = outcome.this_session();
    // Evidence does not change between sessions: a change says it may be another exhibit.
    if let Some(changed) = this_session.map(|s| s.changed).filter(|&n| n > 0) {
        eprintln!(
            "hashsift: warning: {changed} files the journal records had changed since (inode, size, modification or change time) and were read again; evidence does not change between the sessions of a scan: check that this is the exhibit the scan began on, mounted as it was (on FAT or exFAT a remount alone changes every inode)"
        );
    }
    super::warn_videos_unhashed(&run.ffmpeg, run.items().map(|s| s.item));
    if !quiet {
        let graded = run.items().filter(|i| i.category.is_some()).count();
        let suggested = run.items().filter(|i| i.suggested.is_some()).count();
        if let Some(carried) = this_session.map(|s| s.carried).filter(|&n| n > 0) {
            eprintln!(
                "hashsift: {carried} files' hashes carried over from the journal, not read again"
            );
        }
        eprintln!(
            "hashsift: {} items, {} files hashed ({} bytes), {graded} graded by exact hash, {suggested} suggested by PDQ, {} errors{}; report in {}",
            run.len(),
            run.files_hashed,
            run.bytes_hashed,
            outcome.errors(),
            if run.complete {
                ""
            } else {
                "; INCOMPLETE (interrupted)"
            },
            out.display()
        );
        eprintln!(
            "hashsift: SHA-256 of manifest.json (note it to verify the report later): {}",
            outcome.manifest_sha256
        );
    }
    Ok(outcome.exit_status())
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
