//! Where and how hashsift writes: never into the evidence (neither through a symlink nor
//! through a bind mount of one of its folders), never through a name someone else could have
//! planted (a link, a FIFO or a device where a report file goes), and never half a file under
//! its final name.
//!
//! Every file hashsift writes is created under a new temporary name (`O_CREAT | O_EXCL |
//! O_NOFOLLOW`, owner-only) and renamed over its final name once complete: an existing name is
//! replaced, never opened. A report directory that existed before the scan must be the user's
//! own, writable by nobody else, and hold nothing but hashsift's files.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use crate::read::evidence::FileId;

/// Prefix and suffix of the temporary names files are written under.
pub const PARTIAL_PREFIX: &str = ".hashsift-";
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Whether `name` is one of the temporary names [`create_temp`] makes.
pub fn is_partial_name(name: &OsStr) -> bool {
    let name = name.as_bytes();
    name.starts_with(PARTIAL_PREFIX.as_bytes()) && name.ends_with(PARTIAL_SUFFIX.as_bytes())
}

/// Creates a new file under a temporary name in `dir` (`O_EXCL | O_NOFOLLOW`, mode 0600): no
/// existing name, link or special file is ever opened. The file is removed if dropped before
/// it is persisted.
///
/// # Errors
/// The directory cannot be written.
pub fn create_temp(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    // `Path::parent` of a bare file name is "": that is the current directory.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .suffix(PARTIAL_SUFFIX)
        .make_in(dir, |path| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
        })
}

/// The directory of `path` as one to open: `.` for a bare file name.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Syncs the directory `dir` (a rename in it reaches the disk only with it).
///
/// # Errors
/// The directory cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The evidence root that holds the existing directory `dir`, or is it, if any. `dir` is
/// compared by device and inode with each root and compared as a place in its filesystem
/// (the filesystem's device and the path from its root, from `/proc/self/mountinfo`), so that
/// a symlink to a folder of the evidence, a bind mount of one, or a bind mount of a folder
/// that holds `dir` as an evidence root are all caught; nothing in the evidence is walked.
///
/// # Errors
/// `dir` cannot be resolved.
pub fn evidence_holding(dir: &Path, roots: &[PathBuf]) -> io::Result<Option<PathBuf>> {
    let dir = Resolved::open(dir)?;
    let mounts = Mounts::read().ok();
    for root in roots {
        // A root that is not there (or not a directory) holds no directory.
        let Ok(r) = Resolved::open(root) else {
            continue;
        };
        if !r.is_dir {
            continue;
        }
        // The directory or one of its ancestors is the root (also through a symlink).
        let mut cur = Some(dir.path.as_path());
        while let Some(p) = cur {
            if std::fs::metadata(p).is_ok_and(|m| FileId::of(&m) == r.id) {
                return Ok(Some(root.clone()));
            }
            cur = p.parent();
        }
        // The same folder of the same filesystem, reached through another mount.
        if let Some(mounts) = &mounts
            && let (Some(d), Some(r)) = (mounts.place(&dir), mounts.place(&r))
            && d.fs == r.fs
            && d.path.starts_with(&r.path)
        {
            return Ok(Some(root.clone()));
        }
    }
    Ok(None)
}

/// The nearest existing ancestor of the absolute path `path` (itself if it exists), and the
/// names below it still to be created.
///
/// # Errors
/// A name to create is `..` (which would be resolved only once its parent exists, possibly
/// through a link into the evidence), or no ancestor exists.
pub fn nearest_existing(path: &Path) -> io::Result<(PathBuf, Vec<OsString>)> {
    let mut missing = Vec::new();
    let mut cur = path;
    loop {
        match std::fs::metadata(cur) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match cur.components().next_back() {
            Some(Component::Normal(name)) => missing.push(name.to_owned()),
            Some(Component::CurDir) => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a folder to create follows `..`: give the path without `..`",
                ));
            }
        }
        cur = cur
            .parent()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
    }
    missing.reverse();
    Ok((cur.to_owned(), missing))
}

/// A path opened (`O_PATH`: nothing read, no time changed) and resolved by the kernel.
struct Resolved {
    file: File,
    /// The path the kernel gives the open file (`/proc/self/fd/N`): links resolved.
    path: PathBuf,
    id: FileId,
    is_dir: bool,
}

impl Resolved {
    fn open(path: &Path) -> io::Result<Resolved> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(path)?;
        let meta = file.metadata()?;
        let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .or_else(|_| std::fs::canonicalize(path))?;
        Ok(Resolved {
            file,
            path,
            id: FileId::of(&meta),
            is_dir: meta.is_dir(),
        })
    }
}

/// A place in a filesystem: the filesystem (its device number, as `major:minor`) and the path
/// from its root.
struct Place {
    fs: String,
    path: PathBuf,
}

/// One line of `/proc/self/mountinfo`.
struct Mount {
    id: u64,
    fs: String,
    /// The folder of the filesystem mounted (`/` for its root; another for a bind mount).
    root: PathBuf,
    mount_point: PathBuf,
}

struct Mounts(Vec<Mount>);

impl Mounts {
    fn read() -> io::Result<Mounts> {
        let text = std::fs::read("/proc/self/mountinfo")?;
        Ok(Mounts(
            text.split(|&b| b == b'\n')
                .filter_map(parse_mount_line)
                .collect(),
        ))
    }

    /// Where the open `r` is in its filesystem: its mount (from `/proc/self/fdinfo`), that
    /// mount's folder, and the path below the mount point. `None` when the kernel does not say.
    fn place(&self, r: &Resolved) -> Option<Place> {
        let info =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", r.file.as_raw_fd())).ok()?;
        let id: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("mnt_id:"))?
            .trim()
            .parse()
            .ok()?;
        let mount = self.0.iter().find(|m| m.id == id)?;
        let below = r.path.strip_prefix(&mount.mount_point).ok()?;
        Some(Place {
            fs: mount.fs.clone(),
            path: mount.root.join(below),
        })
    }
}

/// `ID PARENT MAJOR:MINOR ROOT MOUNT_POINT ...`, paths with `\ooo` escapes.
fn parse_mount_line(line: &[u8]) -> Option<Mount> {
    let mut fields = line.split(|&b| b == b' ');
    let id = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    fields.next()?;
    let fs = String::from_utf8(fields.next()?.to_vec()).ok()?;
    let root = unescape(fields.next()?);
    let mount_point = unescape(fields.next()?);
    Some(Mount {
        id,
        fs,
        root,
        mount_point,
    })
}

fn unescape(field: &[u8]) -> PathBuf {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| field[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, c| (v << 3) | (c - b'0')));
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// Why a report directory that existed before the scan is not used.
#[derive(Debug, thiserror::Error)]
pub enum ReportDirError {
    #[error("cannot examine the report directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the report directory {path} belongs to user {owner}, not to the user running hashsift ({me}): its owner could plant a link where a report file goes; give a directory of your own"
    )]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "the report directory {path} is writable by {who} (mode {mode:03o}): anyone who can write to it could plant a link where a report file goes; remove that write permission (chmod go-w {path}) or give a new directory (hashsift makes it owner-only)",
        who = if mode & 0o002 != 0 { "others" } else { "its group" },
        path = path.display()
    )]
    Writable { path: PathBuf, mode: u32 },
    #[error(
        "the report directory holds {path}, which is not a file of hashsift's report: give an empty or new directory"
    )]
    Foreign { path: PathBuf },
    #[error(
        "{path} is a {kind}, not a file hashsift wrote: hashsift neither follows nor opens it; remove it or give a new directory"
    )]
    NotRegular { path: PathBuf, kind: &'static str },
}

/// Checks a report directory that existed before the scan: a directory owned by the user
/// running hashsift, writable by nobody else, holding only regular files among the names
/// `ours` accepts. The checks on its entries hold afterwards because nobody else can change
/// them.
///
/// # Errors
/// A [`ReportDirError`] saying what is wrong and what to do.
pub fn check_report_dir(dir: &Path, ours: impl Fn(&OsStr) -> bool) -> Result<(), ReportDirError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ReportDirError::Io { path, source }
    };
    let meta = std::fs::metadata(dir).map_err(io_err(dir))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(ReportDirError::NotOwned {
            path: dir.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    if meta.mode() & 0o022 != 0 {
        return Err(ReportDirError::Writable {
            path: dir.to_owned(),
            mode: meta.mode() & 0o7777,
        });
    }
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        if !ours(&entry.file_name()) {
            return Err(ReportDirError::Foreign { path });
        }
        let kind = entry.file_type().map_err(io_err(&path))?;
        if !kind.is_file() {
            return Err(ReportDirError::NotRegular {
                kind: kind_name(kind),
                path,
            });
        }
    }
    Ok(())
}

/// What a file that is not a regular file is, in words.
pub fn kind_name(kind: std::fs::FileType) -> &'static str {
    if kind.is_symlink() {
        "symbolic link"
    } else if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else {
        "regular file"
    }
}

/// Opens `path` to read it only if it is a regular file: `O_NOFOLLOW` (a link is refused),
/// `O_NONBLOCK` (a FIFO cannot block the open), then `fstat`.
///
/// # Errors
/// The file cannot be opened, or is a link or not a regular file (`InvalidData`, saying what
/// it is).
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a symbolic link, not a file hashsift wrote: not followed",
                )
            } else {
                e
            }
        })?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a {}, not a file hashsift wrote: not read", kind_name(kind)),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_and_escapes_are_read() {
        let line =
            b"36 35 98:0 /mnt\\0401 /mnt/par\\134ent rw,noatime master:1 - ext3 /dev/root rw";
        let m = parse_mount_line(line).unwrap();
        assert_eq!(m.id, 36);
        assert_eq!(m.fs, "98:0");
        assert_eq!(m.root, Path::new("/mnt 1"));
        assert_eq!(m.mount_point, Path::new("/mnt/par\\ent"));
        assert!(parse_mount_line(b"").is_none());
    }

    #[test]
    fn the_nearest_existing_ancestor_and_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let (base, missing) = nearest_existing(&dir.path().join("a/./b")).unwrap();
        assert_eq!(base, dir.path());
        assert_eq!(missing, [OsStr::new("a"), OsStr::new("b")]);
        assert!(nearest_existing(&dir.path().join("a/../b")).is_err());
        // `..` below an existing folder is the kernel's to resolve.
        let (base, missing) = nearest_existing(&dir.path().join("..")).unwrap();
        assert_eq!(base, dir.path().join(".."));
        assert!(missing.is_empty());
    }

    #[test]
    fn a_symlinked_folder_of_a_root_is_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ev");
        std::fs::create_dir_all(root.join("d2")).unwrap();
        std::os::unix::fs::symlink(root.join("d2"), dir.path().join("link")).unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let roots = [root.clone()];
        assert_eq!(
            evidence_holding(&dir.path().join("link"), &roots).unwrap(),
            Some(root.clone())
        );
        assert_eq!(evidence_holding(&root, &roots).unwrap(), Some(root));
        assert_eq!(
            evidence_holding(&dir.path().join("out"), &roots).unwrap(),
            None
        );
    }

    #[test]
    fn the_inside_of_the_evidence_is_found_through_links_and_dotdot_not_by_a_name_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let ev = dir.path().join("ev");
        std::fs::create_dir_all(ev.join("a/b/c")).unwrap();
        // A sibling whose name starts with the root's: outside.
        std::fs::create_dir(dir.path().join("ev2")).unwrap();
        std::fs::write(dir.path().join("image.dd"), b"x").unwrap();
        let roots = [
            dir.path().join("missing"),
            // A root that is a file holds no folder.
            dir.path().join("image.dd"),
            ev.clone(),
        ];
        assert_eq!(
            evidence_holding(&ev.join("a/b/c"), &roots).unwrap(),
            Some(ev.clone()),
            "deep inside the third root"
        );
        assert_eq!(
            evidence_holding(&dir.path().join("ev2"), &roots).unwrap(),
            None
        );
        assert_eq!(
            evidence_holding(dir.path(), &roots).unwrap(),
            None,
            "above it"
        );
        // Through `..` and a link to the root's parent.
        std::os::unix::fs::symlink(dir.path(), dir.path().join("ev2/up")).unwrap();
        assert_eq!(
            evidence_holding(&dir.path().join("ev2/up/ev/a/../a/b"), &roots).unwrap(),
            Some(ev)
        );
    }
}
