//! The hashdeep format, as `hashdeep` writes it and as its audit mode (`-a -k FILE`) reads it.
//!
//! ```text
//! %%%% HASHDEEP-1.0
//! %%%% size,md5,sha1,sha256,filename
//! ## Invoked from: /home/examiner
//! ## $ hashsift hash /mnt/evidence
//! ##
//! 5,<md5>,<sha1>,<sha256>,/mnt/evidence/a.txt
//! ## symlink (not followed): /mnt/evidence/link -> a.txt
//! ## fifo (not opened): /mnt/evidence/pipe
//! ```
//!
//! Rows exist for regular files that were read completely; every other item (symlinks, FIFOs,
//! errors, files not read because of an interruption) is a `##` comment line, which hashdeep
//! ignores, so nothing is silently left out. Paths are written as raw bytes, as hashdeep does.
//! A path with a line break cannot be one line: it is written with `\\`, `\n` and `\r` escapes
//! after a comment saying so (hashdeep will not find that file by name). hashdeep knows no
//! BLAKE3, so this format carries MD5, SHA-1 and SHA-256 only.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

use super::ListingHeader;
use super::text::escape_line_breaks;
use crate::digest::{Algorithm, AlgorithmSet};
use crate::read::Stage;
use crate::record::{Item, Kind};

/// The algorithms hashdeep 4.4 accepts in a listing's header.
pub const SUPPORTED: AlgorithmSet = AlgorithmSet::HASHDEEP;

pub fn write(p: &ListingHeader, items: &[Item], out: &mut dyn Write) -> io::Result<()> {
    let algorithms: Vec<Algorithm> = p.algorithms.iter().collect();
    out.write_all(b"%%%% HASHDEEP-1.0\n%%%% size,")?;
    for alg in &algorithms {
        write!(out, "{alg},")?;
    }
    out.write_all(b"filename\n## Invoked from: ")?;
    write_line_bytes(out, p.cwd.as_os_str().as_bytes())?;
    out.write_all(b"\n## $ ")?;
    write_line_bytes(out, &super::text::command_line(&p.command))?;
    out.write_all(b"\n##\n")?;
    writeln!(
        out,
        "## hashsift {}, started {}, finished {}",
        p.tool_version, p.started, p.finished
    )?;
    if !p.complete {
        out.write_all(
            b"## INCOMPLETE: the run was interrupted; paths not listed or not read are missing\n",
        )?;
    }
    for item in items {
        let path = item.path.as_os_str().as_bytes();
        match (&item.digests, &item.error) {
            (Some(d), None) if item.kind.holds_content() => {
                let escaped = escape_line_breaks(path);
                if escaped.is_some() {
                    out.write_all(b"## next path has line breaks, written as \\n and \\r (backslash as \\\\)\n")?;
                }
                write!(out, "{}", item.size)?;
                for alg in &algorithms {
                    write!(out, ",{}", d.hex(*alg).unwrap_or_default())?;
                }
                out.write_all(b",")?;
                out.write_all(escaped.as_deref().unwrap_or(path))?;
                out.write_all(b"\n")?;
            }
            (_, Some(e)) => {
                let what: &[u8] = if e.stage == Stage::Interrupted {
                    b"## not read (interrupted): "
                } else {
                    b"## error: "
                };
                out.write_all(what)?;
                write_line_bytes(out, path)?;
                if e.stage != Stage::Interrupted {
                    out.write_all(b": ")?;
                    write_line_bytes(out, e.to_string().as_bytes())?;
                }
                out.write_all(b"\n")?;
            }
            _ if item.kind == Kind::Dir => {}
            _ => {
                let why = match item.kind {
                    Kind::Symlink => "not followed",
                    Kind::Member if item.target.is_some() => "a link, not followed",
                    Kind::Fifo | Kind::Socket | Kind::BlockDevice | Kind::CharDevice => {
                        "not opened"
                    }
                    _ => "not read",
                };
                write!(out, "## {} ({why}): ", item.kind)?;
                write_line_bytes(out, path)?;
                if let Some(t) = &item.target {
                    out.write_all(b" -> ")?;
                    write_line_bytes(out, t.as_os_str().as_bytes())?;
                }
                if let Some(n) = &item.note {
                    out.write_all(b" (")?;
                    write_line_bytes(out, n.as_bytes())?;
                    out.write_all(b")")?;
                }
                out.write_all(b"\n")?;
            }
        }
    }
    writeln!(
        out,
        "## {} files hashed ({} bytes), {} errors{}",
        p.files_hashed,
        p.bytes_hashed,
        p.errors,
        if p.complete { "" } else { ", INCOMPLETE" }
    )?;
    out.flush()
}

fn write_line_bytes(out: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(escape_line_breaks(bytes).as_deref().unwrap_or(bytes))
}
