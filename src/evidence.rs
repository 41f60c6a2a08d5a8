//! Read-only access to evidence: the one place where hashsift opens a file it was pointed at.
//!
//! Files are opened read-only with `O_NOATIME` (so reading does not update the access time),
//! `O_NOFOLLOW` (a path swapped for a symlink after the walk is not followed) and `O_NONBLOCK`
//! (a path swapped for a FIFO cannot block the run). The kernel refuses `O_NOATIME` to a process
//! that neither owns the file nor holds `CAP_FOWNER`; the open then falls back to a plain
//! read-only open, which is counted in [`noatime_refusals`] so the run can say so.

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::record::{ItemError, Stage};

/// The identity of a file on a mounted filesystem: device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

static NOATIME_REFUSED: AtomicU64 = AtomicU64::new(0);

/// How many opens fell back to a plain read-only open because the kernel refused `O_NOATIME`.
pub fn noatime_refusals() -> u64 {
    NOATIME_REFUSED.load(Ordering::Relaxed)
}

fn open_flags(noatime: bool) -> i32 {
    let base = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    if noatime {
        base | libc::O_NOATIME
    } else {
        base
    }
}

fn open_with(path: &Path, noatime: bool) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(open_flags(noatime))
        .open(path)
}

/// Opens `path` read-only without touching its access time, falling back to a plain read-only
/// open when the kernel refuses `O_NOATIME` (counted in [`noatime_refusals`]).
///
/// # Errors
/// The OS error of the open.
pub fn open_read_only(path: &Path) -> io::Result<File> {
    match open_with(path, true) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            NOATIME_REFUSED.fetch_add(1, Ordering::Relaxed);
            open_with(path, false)
        }
        other => other,
    }
}

/// Opens `path` read-only with `O_NOATIME`, with no fallback.
///
/// # Errors
/// The OS error of the open (`EPERM` when the kernel refuses `O_NOATIME`).
pub fn open_no_atime(path: &Path) -> io::Result<File> {
    open_with(path, true)
}

/// Opens the regular file the walker listed at `path` as `expected`, and checks that it is still
/// that file and still `expected_size` bytes long.
///
/// # Errors
/// An [`ItemError`] at stage `open` when the open fails or the path now names something else.
pub fn open_regular(path: &Path, expected: FileId, expected_size: u64) -> Result<File, ItemError> {
    let file = open_read_only(path).map_err(|e| ItemError::from_io(Stage::Open, &e))?;
    let meta = file
        .metadata()
        .map_err(|e| ItemError::from_io(Stage::Open, &e))?;
    if !meta.file_type().is_file() || FileId::of(&meta) != expected {
        return Err(ItemError::new(
            Stage::Open,
            "path was replaced by another file after it was listed".into(),
        ));
    }
    if meta.len() != expected_size {
        return Err(ItemError::new(
            Stage::Open,
            format!(
                "file changed size after it was listed (listed {expected_size} bytes, found {})",
                meta.len()
            ),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(path: &Path) -> (FileId, u64) {
        let m = std::fs::symlink_metadata(path).unwrap();
        (FileId::of(&m), m.len())
    }

    #[test]
    fn vanished_file_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gone");
        std::fs::write(&p, b"x").unwrap();
        let (id, size) = listed(&p);
        std::fs::remove_file(&p).unwrap();
        let e = open_regular(&p, id, size).unwrap_err();
        assert_eq!((e.stage, e.os_code), (Stage::Open, Some(libc::ENOENT)));
    }

    #[test]
    fn replaced_file_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"first").unwrap();
        let (id, size) = listed(&p);
        let other = dir.path().join("other");
        std::fs::write(&other, b"other").unwrap();
        std::fs::rename(&other, &p).unwrap();
        let e = open_regular(&p, id, size).unwrap_err();
        assert!(e.message.contains("replaced"), "{}", e.message);
    }

    #[test]
    fn path_swapped_for_a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"data").unwrap();
        let (id, size) = listed(&p);
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &p).unwrap();
        let e = open_regular(&p, id, size).unwrap_err();
        assert_eq!(e.os_code, Some(libc::ELOOP));
    }

    #[test]
    fn path_swapped_for_a_fifo_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"data").unwrap();
        let (id, size) = listed(&p);
        std::fs::remove_file(&p).unwrap();
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_regular(&p, id, size).unwrap_err();
        assert!(e.message.contains("replaced"), "{}", e.message);
    }
}
