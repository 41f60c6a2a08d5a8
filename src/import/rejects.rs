//! `--skip-invalid`: the records an import leaves out, each written with its file, line or
//! record number and reason to a rejects file, as they are met (a set with millions of bad
//! lines costs disk, not memory).
//!
//! The file is created new, never over another file and never through a symbolic link
//! (`O_CREAT | O_EXCL | O_NOFOLLOW`), readable by its owner only: it quotes the set. Format:
//! two `#` lines (the set and the time; the column names), then one line per record left
//! out, its file, where it is (`line 3`, `record 7 (line 12)`) and why, separated by tabs,
//! and a last `# N records rejected` line.
//! Fields are escaped for a terminal and a tab-separated reader ([`crate::textsafe::escape`]:
//! no tab, line break or control character is written raw).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::Location;
use crate::textsafe::escape;
use crate::utc::Timestamp;

/// Where the rejects go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectsTarget {
    /// `--rejects FILE`: created when the import starts (so that a name already taken is
    /// refused before any reading), kept even when nothing is rejected.
    Named(PathBuf),
    /// Beside the database, named after the set and the time; created at the first rejected
    /// record only.
    BesideDatabase(PathBuf),
}

/// The rejects file of one import.
pub struct Rejects {
    target: RejectsTarget,
    set: String,
    started: Timestamp,
    /// The file, once created; kept after [`Rejects::finish`] for [`Rejects::discard`].
    path: Option<PathBuf>,
    out: Option<BufWriter<File>>,
    count: u64,
}

/// A set name made safe as part of a file name.
fn file_part(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let s = s.trim_start_matches('.').to_owned();
    if s.is_empty() { "set".to_owned() } else { s }
}

/// Creates `path` new, owner-only, without following a link in its last component.
fn create_new(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

impl Rejects {
    /// Prepares the rejects file of the set `set`; a named file is created now.
    ///
    /// # Errors
    /// A named file that exists (or is a link), or cannot be created.
    pub fn new(target: RejectsTarget, set: &str) -> std::io::Result<Rejects> {
        let mut r = Rejects {
            target,
            set: set.to_owned(),
            started: Timestamp::now(),
            path: None,
            out: None,
            count: 0,
        };
        if let RejectsTarget::Named(path) = &r.target {
            let path = path.clone();
            let file = create_new(&path).map_err(|e| in_file(&path, e))?;
            r.begin(path, file)?;
        }
        Ok(r)
    }

    fn begin(&mut self, path: PathBuf, file: File) -> std::io::Result<()> {
        let mut w = BufWriter::new(file);
        writeln!(
            w,
            "# hashsift {}: records left out of the set '{}' (--skip-invalid), {}",
            env!("CARGO_PKG_VERSION"),
            escape(&self.set),
            Timestamp {
                secs: self.started.secs,
                nanos: 0
            }
        )?;
        writeln!(w, "# file\twhere\twhy").map_err(|e| in_file(&path, e))?;
        self.path = Some(path);
        self.out = Some(w);
        Ok(())
    }

    /// Creates the default file beside the database: `<set>-rejects-<UTC time>.txt`, with a
    /// number added when that name is taken.
    fn open_default(&mut self, dir: &Path) -> std::io::Result<()> {
        let time = Timestamp {
            secs: self.started.secs,
            nanos: 0,
        }
        .to_string()
        .replace([':', '-'], "");
        let stem = format!("{}-rejects-{time}", file_part(&self.set));
        for n in 1..1000 {
            let name = if n == 1 {
                format!("{stem}.txt")
            } else {
                format!("{stem}-{n}.txt")
            };
            let path = dir.join(name);
            match create_new(&path) {
                Ok(file) => return self.begin(path, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(in_file(&path, e)),
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{}: every rejects file name is taken", dir.display()),
        ))
    }

    /// Writes one rejected record.
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub fn add(&mut self, file: &Path, at: Location, reason: &str) -> std::io::Result<()> {
        if self.out.is_none()
            && let RejectsTarget::BesideDatabase(db) = &self.target
        {
            let dir = match db.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
                _ => PathBuf::from("."),
            };
            self.open_default(&dir)?;
        }
        let w = self.out.as_mut().expect("opened above");
        let written = writeln!(
            w,
            "{}\t{at}\t{}",
            escape(&file.to_string_lossy()),
            escape(reason)
        );
        written.map_err(|e| in_file(self.path.as_deref().unwrap_or(file), e))?;
        self.count += 1;
        Ok(())
    }

    /// How many records were rejected.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Closes the file with its count and syncs it; its path, if one was written.
    ///
    /// # Errors
    /// Writing or syncing fails.
    pub fn finish(&mut self) -> std::io::Result<Option<PathBuf>> {
        let count = self.count;
        let Some(mut w) = self.out.take() else {
            return Ok(self.path.clone());
        };
        let path = self.path.clone().expect("set with the writer");
        let done = writeln!(
            w,
            "# {count} record{} rejected",
            if count == 1 { "" } else { "s" }
        )
        .and_then(|()| {
            w.into_inner()
                .map_err(std::io::IntoInnerError::into_error)?
                .sync_all()
        });
        done.map_err(|e| in_file(&path, e))?;
        Ok(Some(path))
    }

    /// Removes the file again (the import failed: nothing of it was kept, nor is its list
    /// of left-out records).
    pub fn discard(&mut self) {
        self.out = None;
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// An I/O error with the rejects file's name in its message.
fn in_file(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!("the rejects file {}: {e}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_names_become_safe_file_names() {
        assert_eq!(file_part("vics 2026/11"), "vics_2026_11");
        assert_eq!(file_part("../../etc"), "_.._etc");
        assert_eq!(file_part(""), "set");
        assert_eq!(file_part("a\x1b[2J"), "a__2J");
    }

    #[test]
    fn a_named_file_is_never_replaced_nor_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("taken.txt");
        std::fs::write(&taken, "keep").unwrap();
        assert!(Rejects::new(RejectsTarget::Named(taken.clone()), "s").is_err());
        assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep");
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(dir.path().join("elsewhere.txt"), &link).unwrap();
        assert!(Rejects::new(RejectsTarget::Named(link), "s").is_err());
        assert!(!dir.path().join("elsewhere.txt").exists());
    }

    #[test]
    fn the_default_file_appears_beside_the_database_at_the_first_reject() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("known.db");
        let mut r = Rejects::new(RejectsTarget::BesideDatabase(db.clone()), "unit/x").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        r.add(Path::new("/s/a\tb.md5"), Location::Line(3), "bad\x1b[2J")
            .unwrap();
        let path = r.finish().unwrap().unwrap();
        assert_eq!(path.parent(), Some(dir.path()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("unit_x-rejects-") && name.ends_with(".txt"),
            "{name}"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "/s/a\\tb.md5\tline 3\tbad\\x1b[2J");
        assert_eq!(lines[3], "# 1 record rejected");
    }
}
