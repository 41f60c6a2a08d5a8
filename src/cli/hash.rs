//! `hashsift hash`: settings from the command line, the listing, and the exit status.

use std::io::{IsTerminal, Write};

use anyhow::Context;

use hashsift::cancel::Cancel;
use hashsift::config::{HashSettings, Looking};
use hashsift::digest::AlgorithmSet;
use hashsift::exit::ExitStatus;
use hashsift::progress::{Counters, Phase};
use hashsift::{hash, report};

use super::progress::Display;

pub fn run(args: super::HashArgs, cancel: &Cancel) -> anyhow::Result<ExitStatus> {
    let settings = HashSettings::new(
        &args.paths,
        args.algorithms
            .map(|v| v.into_iter().collect::<AlgorithmSet>()),
        args.threads.map(|n| n.get()),
        args.format.into(),
        args.output.as_deref(),
        args.quiet,
        Looking {
            pdq: args.pdq.then(|| args.pdq_decode.into()),
            archives: args.archives,
            video: args.pdq.then(|| args.video.config()),
            images: args.images.options(),
        },
    )?;
    let counters = Counters::new();
    let display = (!settings.quiet && std::io::stderr().is_terminal())
        .then(|| Display::start(counters.clone()));

    let run = hash::run(&settings.hash, cancel, &counters)?;
    counters.set_phase(Phase::Writing);
    let provenance = report::ListingHeader {
        tool_version: env!("CARGO_PKG_VERSION"),
        command: std::env::args_os().collect(),
        cwd: std::env::current_dir().unwrap_or_default(),
        roots: settings.hash.roots.clone(),
        algorithms: settings.hash.algorithms,
        pdq: settings.hash.pdq.is_some(),
        archives: settings.hash.archives.is_some(),
        started: run.started,
        finished: run.finished,
        complete: run.complete,
        files_hashed: run.files_hashed,
        bytes_hashed: run.bytes_hashed,
        errors: run.error_count(),
    };
    let write = |out: &mut dyn Write| report::write(settings.format, &provenance, &run.items, out);
    match &settings.output {
        Some(path) => report::write_named(path, write)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            write(&mut out).context("cannot write to stdout")?;
        }
    }
    counters.set_phase(Phase::Done);
    if let Some(d) = display {
        d.finish();
    }

    super::warn_videos_unhashed(&run.ffmpeg, run.items.iter());
    if !settings.quiet {
        let secs = run.finished.secs.saturating_sub(run.started.secs).max(0);
        eprintln!(
            "hashsift: {} items, {} files hashed ({} bytes) in about {secs} s, {} errors{}",
            run.items.len(),
            run.files_hashed,
            run.bytes_hashed,
            provenance.errors,
            if run.complete {
                ""
            } else {
                "; INCOMPLETE (interrupted)"
            }
        );
        for (root, container) in &run.nested_roots {
            eprintln!(
                "hashsift: note: {} is inside (or the same as) {}: listed once, under the latter",
                root.display(),
                container.display()
            );
        }
    }
    Ok(run.exit_status())
}
