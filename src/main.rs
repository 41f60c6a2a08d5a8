//! The `hashsift` command: parse the command line, build the settings, run, map the outcome to
//! an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use hashsift::cancel::Cancel;
use hashsift::config::ConfigError;
use hashsift::exit::ExitStatus;

fn main() -> ExitCode {
    fix_mmap_threshold();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::Usage.into()
            } else {
                ExitStatus::Clean.into()
            };
        }
    };
    let result = dispatch(cli.command);
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            // Errors quote hash-set values and file names: no terminal control reaches stderr.
            eprintln!(
                "hashsift: error: {}",
                hashsift::textsafe::escape(&format!("{e:#}"))
            );
            if e.downcast_ref::<ConfigError>().is_some()
                || matches!(
                    e.downcast_ref::<hashsift::command::scan::JobError>(),
                    Some(hashsift::command::scan::JobError::Config(_))
                )
            {
                ExitStatus::Usage.into()
            } else {
                ExitStatus::Fatal.into()
            }
        }
    }
}

/// Runs one command. The Ctrl-C handler is installed once for the process, on first use, and
/// every command after it (the demo runs several) shares its flag.
fn dispatch(command: cli::Command) -> anyhow::Result<ExitStatus> {
    static CANCEL: std::sync::OnceLock<Cancel> = std::sync::OnceLock::new();
    let cancel = CANCEL.get_or_init(|| {
        let cancel = Cancel::new();
        install_interrupt_handler(&cancel);
        cancel
    });
    match command {
        cli::Command::Hash(args) => cli::hash::run(args, cancel),
        cli::Command::Scan(args) => cli::scan::run(args, cancel),
        cli::Command::Verify { dir } => cli::scan::verify(&dir),
        cli::Command::Demo { out } => cli::demo::run(out, &dispatch),
        cli::Command::Db(args) => cli::db::run(args, cancel),
        cli::Command::Vpdq(args) => cli::vpdq::run(args, cancel),
        cli::Command::ImageWorker { image } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            hashsift::image::worker::run(&image, &mut out)
                .and_then(|()| std::io::Write::flush(&mut out))
                .map_err(anyhow::Error::new)?;
            Ok(hashsift::exit::ExitStatus::Clean)
        }
    }
}

/// Ctrl-C once: stop cleanly and write what was done, marked incomplete. Twice: stop now.
fn install_interrupt_handler(cancel: &Cancel) {
    let cancel = cancel.clone();
    let result = ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            std::process::exit(i32::from(ExitStatus::Interrupted.code()));
        }
        cancel.cancel();
        eprintln!(
            "\nhashsift: interrupted; writing what was done, marked incomplete (Ctrl-C again to stop at once)"
        );
    });
    if let Err(e) = result {
        eprintln!("hashsift: warning: Ctrl-C will stop the run without writing output: {e}");
    }
}

/// Keeps glibc's threshold for giving a block its own mapping at its default (128 KiB).
/// glibc raises it each time such a block is freed (up to 32 MiB), after which big blocks come
/// from the threads' heaps, whose freed pieces it does not give back: a resumed scan, which
/// frees its journal's read buffers before walking the evidence, then held 300 MB more than
/// a fresh scan of a million files (the walk's per-folder lists). Setting it stops the raising.
fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
