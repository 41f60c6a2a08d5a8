//! `manifest.json`, written last into a scan's report directory: who ran the scan, how, over
//! which evidence, against which database (each set's name, version and source digests), and
//! the size and SHA-256 of every other report file, so the report can be checked later
//! ([`verify`], `hashsift verify OUTDIR`).
//!
//! The manifest is not signed: anyone able to change a report file can write a new manifest.
//! The scan prints the manifest's own SHA-256 for the examiner's notes, and `verify` prints it
//! again.

use std::io::{self, Read};
use std::path::Path;

use serde_json::{Value, json};
use sha2::Digest;

use super::model::{COVERED, MANIFEST};
use super::text::Text;
use super::write_atomically;
use crate::digest::to_hex;
use crate::scan::Provenance;
use crate::scan::ScanRun;

/// The largest manifest [`read`] takes. A manifest is a few KiB plus about 300 bytes per
/// hash set in the database; 64 MiB is far beyond any real one, and bounds the memory a
/// hostile one (`manifest.json` linked to `/dev/zero`) can take.
pub const MANIFEST_MAX: u64 = 64 << 20;

/// Size and SHA-256 of a regular file (a link, FIFO or device is refused, not opened or
/// followed), read in pieces.
fn digest_file(path: &Path) -> io::Result<(u64, String)> {
    let mut f = crate::output::open_regular(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, to_hex(&h.finalize())))
}

/// This machine's host name, as `gethostname` gives it.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Writes `manifest.json` into `dir`, after the files it covers; returns its SHA-256.
///
/// # Errors
/// A covered file cannot be read; the manifest cannot be written.
pub fn write(
    dir: &Path,
    p: &Provenance,
    run: &ScanRun,
    counters: &crate::progress::Counters,
) -> io::Result<String> {
    let mut files = serde_json::Map::new();
    for name in COVERED {
        let (size, sha256) = digest_file(&dir.join(name))?;
        files.insert(name.into(), json!({"size": size, "sha256": sha256}));
        counters.add_step(1);
    }
    let sets: Vec<Value> = run
        .sets
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "version": s.version,
                "source": s.source,
                "format": s.format,
                "profile": s.profile,
                "imported_at": s.imported_at,
                "rows_imported": s.rows_imported,
                "files": s.files.iter().map(|f| json!({"file_name": f.file_name, "sha256": f.sha256})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let manifest = json!({
        "tool": "hashsift",
        "tool_version": p.tool_version,
        "command": p.command.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "cwd": Text::of(p.cwd.as_os_str()).text,
        "host": host_name(),
        "started": run.started.to_string(),
        "finished": run.finished.to_string(),
        "complete": run.complete,
        "resumed": run.resumed.iter().map(|s| json!({
            "at": s.at.to_string(),
            "command": s.command.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
            "contents_carried_over": s.carried,
            "contents_changed_since": s.changed,
        })).collect::<Vec<_>>(),
        "case": p.case,
        "evidence_id": p.evidence_id,
        "examiner": p.examiner,
        "evidence_roots": p.roots.iter().map(|r| Text::of(r.as_os_str()).text).collect::<Vec<_>>(),
        "database": {
            "path": Text::of(p.db.as_os_str()).text,
            "sets": sets,
        },
        "pdq": run.pdq.map(|pdq| json!({
            "decode": pdq.settings.scale.name(),
            "min_quality": pdq.settings.min_quality,
            "max_distance": pdq.settings.max_distance,
            "decoders": crate::media::decode::DECODERS
                .iter()
                .map(|(name, what)| (name.to_string(), Value::from(*what)))
                .collect::<serde_json::Map<String, Value>>(),
        })),
        "files": files,
    });
    let mut bytes = serde_json::to_vec_pretty(&manifest)?;
    bytes.push(b'\n');
    write_atomically(&dir.join(MANIFEST), |out| out.write_all(&bytes))?;
    Ok(to_hex(&sha2::Sha256::digest(&bytes)))
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Verification {
    /// The manifest's own SHA-256.
    pub manifest_sha256: String,
    /// Whether the scan was complete (`false`: interrupted, the report says what is missing).
    pub complete: bool,
    /// Files that match the manifest.
    pub good: Vec<String>,
    /// What does not: a file changed, missing or unreadable.
    pub problems: Vec<String>,
}

/// Why a report cannot be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{path}: cannot read the manifest: {source}")]
    Read {
        path: std::path::PathBuf,
        source: io::Error,
    },
    #[error("{path}: larger than {MANIFEST_MAX} bytes, which no manifest hashsift writes is")]
    TooLarge { path: std::path::PathBuf },
    #[error("{path}: not a hashsift manifest: {reason}")]
    Malformed {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// The bytes of the manifest at `path`: a regular file (not followed if a link, not opened
/// if a FIFO or device) of at most [`MANIFEST_MAX`] bytes.
fn read_bytes(path: &Path) -> Result<Vec<u8>, VerifyError> {
    let read_err = |source| VerifyError::Read {
        path: path.to_owned(),
        source,
    };
    let file = crate::output::open_regular(path).map_err(read_err)?;
    let too_large = || VerifyError::TooLarge {
        path: path.to_owned(),
    };
    if file.metadata().map_err(read_err)?.len() > MANIFEST_MAX {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MANIFEST_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MANIFEST_MAX {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads the manifest at `path` as JSON (see [`read_bytes`] for what is refused).
///
/// # Errors
/// The manifest cannot be read, is too large, or is not JSON.
pub fn read(path: &Path) -> Result<Value, VerifyError> {
    let bytes = read_bytes(path)?;
    serde_json::from_slice(&bytes).map_err(|e| VerifyError::Malformed {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Checks every file the manifest of the report in `dir` lists against its size and SHA-256,
/// and reads whether the scan was complete. Only regular files are read (a link, FIFO or
/// device under a report file's name is a problem, never opened or followed), the manifest
/// up to [`MANIFEST_MAX`] bytes.
///
/// # Errors
/// The manifest cannot be read or is not one.
pub fn verify(dir: &Path) -> Result<Verification, VerifyError> {
    let path = dir.join(MANIFEST);
    let bytes = read_bytes(&path)?;
    let malformed = |reason: String| VerifyError::Malformed {
        path: path.clone(),
        reason,
    };
    let manifest: Value = serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
    if manifest["tool"] != "hashsift" {
        return Err(malformed("no \"tool\": \"hashsift\"".into()));
    }
    let files = manifest["files"]
        .as_object()
        .ok_or_else(|| malformed("no \"files\" object".into()))?;
    let complete = manifest["complete"]
        .as_bool()
        .ok_or_else(|| malformed("no \"complete\": true or false".into()))?;
    let mut v = Verification {
        manifest_sha256: to_hex(&sha2::Sha256::digest(&bytes)),
        complete,
        ..Verification::default()
    };
    for name in COVERED {
        if !files.contains_key(name) {
            v.problems
                .push(format!("{name}: not in the manifest, which should list it"));
        }
    }
    for (name, expected) in files {
        // Only plain names inside the report directory.
        if name.contains('/') || name == ".." || name == "." {
            v.problems
                .push(format!("{name}: not a file of the report directory"));
            continue;
        }
        let (Some(size), Some(sha256)) = (expected["size"].as_u64(), expected["sha256"].as_str())
        else {
            v.problems
                .push(format!("{name}: the manifest gives no size and SHA-256"));
            continue;
        };
        match digest_file(&dir.join(name)) {
            Ok((s, h)) if s == size && h == sha256 => v.good.push(name.clone()),
            Ok((s, h)) => v.problems.push(format!(
                "{name}: changed since the scan (size {s}, SHA-256 {h}; the manifest says {size}, {sha256})"
            )),
            Err(e) => v.problems.push(format!("{name}: {e}")),
        }
    }
    Ok(v)
}
