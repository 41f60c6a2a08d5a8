//! Read-only access to evidence: the one place where hashsift opens a file it was pointed at.
//!
//! Files and directories are opened read-only with `O_NOATIME` (so reading does not update the
//! access time), `O_NOFOLLOW` (a path swapped for a symlink after the walk is not followed) and
//! `O_NONBLOCK` (a path swapped for a FIFO cannot block the run). Where the kernel refuses
//! `O_NOATIME`, see [`open_read_only`]. A path longer than the kernel takes in one call
//! (PATH_MAX, 4096 bytes: trees thousands of directories deep, long names) is opened a piece at
//! a time, each relative to the directory before.

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::{ItemError, Stage};

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

fn open_flags(extra: i32, noatime: bool) -> i32 {
    let base = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | extra;
    if noatime {
        base | libc::O_NOATIME
    } else {
        base
    }
}

/// Paths at least this long are opened a piece at a time: the kernel refuses a path of
/// PATH_MAX (4096) bytes or more in one call, and evidence trees go deeper than that.
const LONG_PATH: usize = 4000;

fn open_with(path: &Path, extra: i32, noatime: bool) -> io::Result<File> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() < LONG_PATH {
        return std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(open_flags(extra, noatime))
            .open(path);
    }
    open_long(bytes, extra, noatime)
}

/// Opens a path of [`LONG_PATH`] bytes or more: its leading directories a piece (shorter than
/// PATH_MAX, cut at a `/`) at a time, each piece relative to the directory before, then the
/// last piece with the flags asked for. Opening a directory reads nothing and changes no
/// access time; the walker listed every one of them as a directory, not a link.
fn open_long(path: &[u8], extra: i32, noatime: bool) -> io::Result<File> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let openat = |dir: Option<&OwnedFd>, piece: &[u8], flags: i32| -> io::Result<OwnedFd> {
        let c = std::ffi::CString::new(piece)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a path"))?;
        let at = dir.map_or(libc::AT_FDCWD, std::os::fd::AsRawFd::as_raw_fd);
        // SAFETY: `c` is NUL-terminated; the descriptor returned is owned from here on.
        let fd = unsafe { libc::openat(at, c.as_ptr(), flags, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let dir_flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NONBLOCK;
    let mut dir: Option<OwnedFd> = None;
    let mut rest = path;
    while rest.len() >= LONG_PATH {
        let cut = rest[..LONG_PATH]
            .iter()
            .rposition(|&b| b == b'/')
            .filter(|&c| c > 0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENAMETOOLONG))?;
        dir = Some(openat(dir.as_ref(), &rest[..cut], dir_flags)?);
        rest = &rest[cut + 1..];
    }
    let fd = openat(
        dir.as_ref(),
        rest,
        libc::O_RDONLY | open_flags(extra, noatime),
    )?;
    Ok(File::from(fd))
}

/// Whether the filesystem holding `path` cannot update access times: mounted read-only or
/// `noatime`. The path is opened with `O_PATH` (the name itself, nothing read, no permission
/// on it needed), a piece at a time when it is long: `statvfs` takes no path of PATH_MAX.
pub fn atime_frozen_at(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    open_with(path, libc::O_PATH, false).is_ok_and(|f| atime_frozen_fd(f.as_raw_fd()))
}

/// [`atime_frozen_at`] for an open descriptor.
pub fn atime_frozen_fd(fd: libc::c_int) -> bool {
    // SAFETY: `st` is written by fstatvfs before it is read.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        libc::fstatvfs(fd, &mut st) == 0 && frozen(&st)
    }
}

fn frozen(st: &libc::statvfs) -> bool {
    st.f_flag & (libc::ST_RDONLY | libc::ST_NOATIME) != 0
}

/// Opens `path` read-only (`extra` adds flags such as `O_DIRECTORY`) without touching its
/// access time.
///
/// The kernel refuses `O_NOATIME` to a process that neither owns the file nor holds
/// `CAP_FOWNER`. The file is then opened without it only where access times cannot change (a
/// read-only or `noatime` mount); elsewhere the open fails, so that hashsift never updates an
/// access time.
///
/// # Errors
/// The OS error of the open, or `PermissionDenied` when opening would update the access time.
pub fn open_read_only(path: &Path, extra: i32) -> io::Result<File> {
    match open_with(path, extra, true) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            if atime_frozen_at(path) {
                open_with(path, extra, false)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    ATIME_REFUSAL,
                ))
            }
        }
        other => other,
    }
}

/// Why a file was not opened although it could have been read.
pub const ATIME_REFUSAL: &str = "not opened: hashsift is not the owner, so the kernel refuses to open it without updating its access time, and this filesystem records access times; run hashsift as root or mount the evidence read-only";

/// Opens the regular file the walker listed at `path` as `expected`, and checks that it is still
/// that file and still `expected_size` bytes long.
///
/// # Errors
/// An [`ItemError`] at stage `open` when the open fails or the path now names something else.
pub fn open_regular(path: &Path, expected: FileId, expected_size: u64) -> Result<File, ItemError> {
    let file = open_read_only(path, 0).map_err(|e| ItemError::from_io(Stage::Open, &e))?;
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
