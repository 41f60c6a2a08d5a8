//! `hashsift vpdq`: each video's vPDQ lines to stdout, a file, or a directory.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::Path;

use anyhow::Context;

use hashsift::cancel::Cancel;
use hashsift::config::{VpdqOutput, VpdqSettings};
use hashsift::exit::ExitStatus;
use hashsift::media::sniff::{self, Class};
use hashsift::media::video::{self, Tools, VideoHash, format};
use hashsift::read::evidence;

pub fn run(args: super::VpdqArgs, cancel: &Cancel) -> anyhow::Result<ExitStatus> {
    let settings = VpdqSettings::new(&args.videos, args.output.as_deref(), args.video.config())?;
    let tools = Tools::find().map_err(anyhow::Error::msg)?;
    if let VpdqOutput::Dir(dir) = &settings.output {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut names: HashSet<OsString> = HashSet::new();
    let mut all_whole = true;
    for path in &settings.videos {
        if cancel.is_cancelled() {
            return Ok(ExitStatus::Interrupted);
        }
        let hashed = match hash_one(&tools, path, &settings, cancel) {
            Ok(h) => h,
            Err(why) => {
                eprintln!("hashsift: {}: {why}", path.display());
                all_whole = false;
                continue;
            }
        };
        if cancel.is_cancelled() {
            return Ok(ExitStatus::Interrupted);
        }
        if let Some(why) = &hashed.stopped {
            eprintln!(
                "hashsift: {}: {why}{}",
                path.display(),
                if hashed.frames.is_empty() {
                    ""
                } else {
                    " (the frames hashed until then are written)"
                }
            );
            all_whole = false;
        }
        if hashed.frames.is_empty() {
            continue;
        }
        let write = |out: &mut dyn std::io::Write| format::write(&hashed.frames, out);
        match &settings.output {
            VpdqOutput::Stdout => {
                let stdout = std::io::stdout();
                write(&mut stdout.lock()).context("cannot write to stdout")?;
            }
            VpdqOutput::File(file) => hashsift::report::write_named(file, write)
                .with_context(|| format!("cannot write {}", file.display()))?,
            VpdqOutput::Dir(dir) => {
                let mut name = path.file_name().unwrap_or_default().to_owned();
                name.push(".txt");
                if !names.insert(name.clone()) {
                    eprintln!(
                        "hashsift: {}: another video of the same name was hashed into {}: not \
                         written (hash videos of the same name into separate directories)",
                        path.display(),
                        dir.display()
                    );
                    all_whole = false;
                    continue;
                }
                let file = dir.join(&name);
                hashsift::report::write_named(&file, write)
                    .with_context(|| format!("cannot write {}", file.display()))?;
            }
        }
        if !args.quiet {
            let sampled = match hashed.every {
                Some(n) => format!("one in {n} decoded"),
                None => "key frames".to_owned(),
            };
            eprintln!(
                "hashsift: {}: {} frames hashed ({sampled})",
                path.display(),
                hashed.frames.len()
            );
        }
    }
    Ok(if all_whole {
        ExitStatus::Clean
    } else {
        ExitStatus::ItemErrors
    })
}

/// Opens one video as evidence is opened (read-only, its access time untouched) and hashes it.
fn hash_one(
    tools: &Tools,
    path: &Path,
    settings: &VpdqSettings,
    cancel: &Cancel,
) -> Result<VideoHash, String> {
    let file = evidence::open_read_only(path, libc::O_NONBLOCK).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mut head = [0u8; sniff::HEAD];
    let mut filled = 0;
    while filled < head.len() {
        match std::os::unix::fs::FileExt::read_at(&file, &mut head[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let content = sniff::sniff(&head[..filled], meta.len());
    if content.class != Class::Video {
        return Err(format!(
            "not a video by its content ({}): not hashed",
            content.mime
        ));
    }
    Ok(video::hash_video(
        tools,
        &file,
        meta.len(),
        content.mime,
        &settings.video,
        cancel,
    ))
}
