//! The evidence walker: lists every path under one or more roots, in parallel, without changing
//! anything it reads.
//!
//! - Directories are opened read-only with `O_NOATIME` and listed with `readdir`; each entry is
//!   examined with `fstatat(AT_SYMLINK_NOFOLLOW)` relative to its directory, so listing a
//!   directory neither follows links nor updates access times.
//! - Symlinks are items; they are never followed, so a link loop or a link to `/` cannot lead the
//!   walk outside its roots. A root given as a symlink is followed, since the examiner named it:
//!   it is listed at its resolved path, with a note giving the path as typed.
//! - A symlink's target is read only where that cannot change the link's access time: Linux
//!   updates it on every `readlink` and no flag prevents that, so targets are read on filesystems
//!   mounted read-only or `noatime` (as evidence should be), and elsewhere the item carries a note
//!   instead of its target.
//! - FIFOs, sockets and device nodes are items of their kind and are never opened.
//! - A directory reached twice (a bind mount inside the tree) is listed once; the second path is
//!   an item with a note saying where it was listed. A root inside another root is not walked
//!   twice.
//! - Anything that cannot be examined becomes an item with an [`ItemError`]; the walk goes on.
//!
//! The walk is breadth-first: all directories of one depth are listed in parallel, then the next
//! depth, so no recursion limits how deep a tree may be. Items come out sorted by path, component
//! by component (a directory's entries directly follow it).

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::IntoRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::progress::Counters;
use crate::read::evidence::FileId;
use crate::read::{ItemError, Stage};
use crate::record::{Item, Kind};
use crate::utc::Timestamp;

/// Directories with more entries than this have their entries examined in parallel.
const PARALLEL_STAT_MIN: usize = 256;

/// The result of a walk: every item found, sorted by path.
#[derive(Debug, Default)]
pub struct Walk {
    pub items: Vec<Item>,
    /// The walk was cancelled before every directory was listed.
    pub interrupted: bool,
    /// Roots not walked because another root already contains them: (root, containing root).
    pub nested_roots: Vec<(PathBuf, PathBuf)>,
}

/// Roots to walk, in order, without the roots another root already covers: one inside another
/// root, or the same file or directory given twice (the first is kept). Those come back as
/// (root, covering root).
fn distinct_roots(roots: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, PathBuf)>) {
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| FileId::of(&m));
    let mut kept: Vec<PathBuf> = Vec::new();
    let mut covered = Vec::new();
    for root in roots {
        let container = roots
            .iter()
            .find(|other| is_inside(root, other) && !is_inside(other, root))
            .or_else(|| {
                kept.iter()
                    .find(|k| *k == root || id(k).is_some_and(|k| Some(k) == id(root)))
            });
        match container {
            Some(c) => covered.push((root.clone(), c.clone())),
            None => kept.push(root.clone()),
        }
    }
    (kept, covered)
}

/// Walks `roots` (absolute paths) and returns every item under them.
pub fn walk(roots: &[PathBuf], cancel: &Cancel, counters: &Counters) -> Walk {
    let mut items: Vec<Item> = Vec::new();
    let mut visited: HashMap<FileId, usize> = HashMap::new();
    let mut frontier: Vec<usize> = Vec::new();

    let (roots, nested_roots) = distinct_roots(roots);
    for root in roots {
        enqueue(root_item(root), &mut items, &mut visited, &mut frontier);
    }
    counters.add_found(items.len() as u64);

    let mut interrupted = false;
    while !frontier.is_empty() {
        if cancel.is_cancelled() {
            interrupted = true;
            break;
        }
        let listings: Vec<(Vec<Item>, Option<ItemError>)> = frontier
            .par_iter()
            .map(|&idx| {
                if cancel.is_cancelled() {
                    return (Vec::new(), None);
                }
                let listing = list_dir(&items[idx].path);
                counters.add_found(listing.0.len() as u64);
                listing
            })
            .collect();
        let dirs = std::mem::take(&mut frontier);
        for (dir_idx, (mut children, error)) in dirs.into_iter().zip(listings) {
            if let Some(e) = error {
                items[dir_idx].error = Some(e);
            }
            // Sorted, so which of two paths to one directory is listed does not depend on
            // thread timing.
            children.sort_by(|a, b| a.path.cmp(&b.path));
            for child in children {
                enqueue(child, &mut items, &mut visited, &mut frontier);
            }
        }
    }
    // Paths are unique (roots are distinct and none inside another), so an unstable sort is
    // as reproducible as a stable one, and it sorts in place: a stable sort's buffer would be
    // a second copy of every record.
    items.par_sort_unstable_by(|a, b| a.path.cmp(&b.path));
    Walk {
        items,
        interrupted,
        nested_roots,
    }
}

/// The item for a root. A root that is a symlink is followed (the examiner named it): it is
/// listed at its resolved path, with a note giving the path as typed.
fn root_item(root: PathBuf) -> Item {
    let failed =
        |path, e: &io::Error| Item::failed(path, Kind::Unknown, ItemError::from_io(Stage::Stat, e));
    let (path, note) = match std::fs::symlink_metadata(&root) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(&root) {
            Ok(resolved) => {
                let note = format!("root given as {}, a symlink to this path", root.display());
                (resolved, Some(note))
            }
            Err(e) => return failed(root, &e),
        },
        Ok(_) => (root, None),
        Err(e) => return failed(root, &e),
    };
    match std::fs::symlink_metadata(&path) {
        Ok(meta) => {
            let mut item = item_from_metadata(path, &meta);
            item.note = note;
            item
        }
        Err(e) => failed(path, &e),
    }
}

/// Adds `item`; a directory not seen before joins the next level to list.
fn enqueue(
    mut item: Item,
    items: &mut Vec<Item>,
    visited: &mut HashMap<FileId, usize>,
    frontier: &mut Vec<usize>,
) {
    if item.kind == Kind::Dir
        && item.error.is_none()
        && let Some(id) = item.id
    {
        match visited.get(&id) {
            Some(&first) => {
                item.note = Some(format!(
                    "not listed again: the same directory as {} (a bind mount)",
                    items[first].path.display()
                ));
            }
            None => {
                visited.insert(id, items.len());
                frontier.push(items.len());
            }
        }
    }
    items.push(item);
}

fn item_from_metadata(path: PathBuf, meta: &std::fs::Metadata) -> Item {
    let stat = Stat {
        kind: Kind::of(meta.file_type()),
        size: meta.len(),
        mtime: Timestamp {
            secs: meta.mtime(),
            nanos: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
        },
        ctime: Timestamp {
            secs: meta.ctime(),
            nanos: u32::try_from(meta.ctime_nsec()).unwrap_or(0),
        },
        id: FileId::of(meta),
        nlink: meta.nlink(),
    };
    stat.into_item(path, None)
}

/// What `lstat` tells of one path.
struct Stat {
    kind: Kind,
    size: u64,
    mtime: Timestamp,
    ctime: Timestamp,
    id: FileId,
    nlink: u64,
}

impl Stat {
    fn into_item(self, path: PathBuf, target: Option<PathBuf>) -> Item {
        Item {
            path,
            kind: self.kind,
            size: self.size,
            mtime: Some(self.mtime),
            ctime: Some(self.ctime),
            id: Some(self.id),
            nlink: self.nlink,
            target,
            note: None,
            digests: None,
            content: None,
            image: None,
            video: None,
            error: None,
            parent: None,
            archive: None,
            fs: None,
        }
    }
}

fn kind_of_mode(mode: libc::mode_t) -> Kind {
    match mode & libc::S_IFMT {
        libc::S_IFREG => Kind::File,
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFLNK => Kind::Symlink,
        libc::S_IFIFO => Kind::Fifo,
        libc::S_IFSOCK => Kind::Socket,
        libc::S_IFBLK => Kind::BlockDevice,
        libc::S_IFCHR => Kind::CharDevice,
        _ => Kind::Unknown,
    }
}

fn kind_of_dtype(d_type: u8) -> Kind {
    match d_type {
        libc::DT_REG => Kind::File,
        libc::DT_DIR => Kind::Dir,
        libc::DT_LNK => Kind::Symlink,
        libc::DT_FIFO => Kind::Fifo,
        libc::DT_SOCK => Kind::Socket,
        libc::DT_BLK => Kind::BlockDevice,
        libc::DT_CHR => Kind::CharDevice,
        _ => Kind::Unknown,
    }
}

/// `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)`.
fn stat_at(dirfd: libc::c_int, name: &CStr) -> io::Result<Stat> {
    // SAFETY: `st` is written by fstatat before it is read; `name` is NUL-terminated.
    let st = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstatat(dirfd, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) != 0 {
            return Err(io::Error::last_os_error());
        }
        st
    };
    Ok(Stat {
        kind: kind_of_mode(st.st_mode),
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime: Timestamp {
            secs: st.st_mtime,
            nanos: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
        },
        ctime: Timestamp {
            secs: st.st_ctime,
            nanos: u32::try_from(st.st_ctime_nsec).unwrap_or(0),
        },
        id: FileId {
            dev: st.st_dev,
            ino: st.st_ino,
        },
        nlink: st.st_nlink,
    })
}

/// `readlinkat(dirfd, name)`, growing the buffer until the whole target fits.
fn read_link_at(dirfd: libc::c_int, name: &CStr) -> io::Result<PathBuf> {
    let mut cap = 256usize;
    loop {
        let mut buf = vec![0u8; cap];
        // SAFETY: buf has `cap` writable bytes.
        let n = unsafe { libc::readlinkat(dirfd, name.as_ptr(), buf.as_mut_ptr().cast(), cap) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n < cap {
            buf.truncate(n);
            return Ok(PathBuf::from(OsStr::from_bytes(&buf)));
        }
        cap *= 2;
    }
}

/// The note on a symlink whose target was not read.
pub const TARGET_NOT_READ: &str = "target not read: the filesystem records access times, and reading a link's target would update the link's; mount the evidence read-only to record targets";

/// An open directory stream, closed on drop.
struct Dir(*mut libc::DIR);

impl Dir {
    fn open(path: &Path) -> io::Result<Dir> {
        let file = crate::read::evidence::open_read_only(path, libc::O_DIRECTORY)?;
        let fd = file.into_raw_fd();
        // SAFETY: fd is an open directory descriptor whose ownership passes to the stream.
        let dir = unsafe { libc::fdopendir(fd) };
        if dir.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so fd is still ours to close.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        Ok(Dir(dir))
    }

    fn fd(&self) -> libc::c_int {
        // SAFETY: self.0 is an open stream.
        unsafe { libc::dirfd(self.0) }
    }

    /// The next entry's name and `d_type`, skipping `.` and `..`; `None` at the end.
    fn next_entry(&mut self) -> Option<io::Result<(CString, u8)>> {
        loop {
            // SAFETY: errno is thread-local; readdir's result is valid until the next call on
            // this stream, and is copied out before then.
            unsafe {
                *libc::__errno_location() = 0;
                let ent = libc::readdir64(self.0);
                if ent.is_null() {
                    let e = io::Error::last_os_error();
                    return match e.raw_os_error() {
                        Some(0) | None => None,
                        Some(_) => Some(Err(e)),
                    };
                }
                let name = CStr::from_ptr((*ent).d_name.as_ptr());
                let bytes = name.to_bytes();
                if bytes == b"." || bytes == b".." {
                    continue;
                }
                return Some(Ok((name.to_owned(), (*ent).d_type)));
            }
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: self.0 is an open stream, closed exactly once here.
        unsafe { libc::closedir(self.0) };
    }
}

/// Lists one directory: an item per entry, and the error that stopped the listing, if any.
fn list_dir(path: &Path) -> (Vec<Item>, Option<ItemError>) {
    let mut dir = match Dir::open(path) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Some(ItemError::from_io(Stage::ListDir, &e))),
    };
    let mut names = Vec::new();
    let mut error = None;
    while let Some(entry) = dir.next_entry() {
        match entry {
            Ok(e) => names.push(e),
            Err(e) => {
                error = Some(ItemError::from_io(Stage::ListDir, &e));
                break;
            }
        }
    }
    let fd = dir.fd();
    let links_readable = std::sync::OnceLock::new();
    let examine = |(name, d_type): &(CString, u8)| {
        let child = path.join(OsStr::from_bytes(name.to_bytes()));
        match stat_at(fd, name) {
            Ok(stat) if stat.kind == Kind::Symlink => {
                let mut item = stat.into_item(child, None);
                if *links_readable.get_or_init(|| crate::read::evidence::atime_frozen_fd(fd)) {
                    match read_link_at(fd, name) {
                        Ok(t) => item.target = Some(t),
                        Err(e) => item.error = Some(ItemError::from_io(Stage::ReadLink, &e)),
                    }
                } else {
                    item.note = Some(TARGET_NOT_READ.into());
                }
                item
            }
            Ok(stat) => stat.into_item(child, None),
            Err(e) => Item::failed(
                child,
                kind_of_dtype(*d_type),
                ItemError::from_io(Stage::Stat, &e),
            ),
        }
    };
    let items = if names.len() >= PARALLEL_STAT_MIN {
        names.par_iter().map(examine).collect()
    } else {
        names.iter().map(examine).collect()
    };
    drop(dir);
    (items, error)
}

/// Whether `path` lies inside `root` (both absolute), comparing directory identities so that a
/// path written differently (through `..` or a symlink) is still caught.
pub fn is_inside(path: &Path, root: &Path) -> bool {
    let (Ok(root_meta), Some(mut cur)) = (std::fs::metadata(root), Some(path)) else {
        return false;
    };
    if !root_meta.is_dir() {
        return false;
    }
    let root_id = FileId::of(&root_meta);
    loop {
        if let Ok(meta) = std::fs::metadata(cur)
            && FileId::of(&meta) == root_id
        {
            return true;
        }
        match cur.parent() {
            Some(p) => cur = p,
            None => return false,
        }
    }
}
