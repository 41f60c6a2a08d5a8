//! The Sleuth Kit through hashsift's shim (`csrc/tsk_walk.c`): a disk image's volumes, file
//! systems and names, allocated and deleted, and each data stream's content, in walk order.
//!
//! The image's bytes come from a [`ReadAt`] hashsift gives (the evidence opened by hashsift,
//! EWF decoded by it): TSK never opens a file. This is called in the image worker, a child
//! process, so that a crash in TSK on a crafted image ends the child only.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use super::entry::{Entry, Volume, flags, meta_type};

/// Bytes at an offset of the media (the image as the disk it was taken from).
pub trait ReadAt {
    /// Reads into `buf` from `offset`; fewer bytes only at the end.
    ///
    /// # Errors
    /// The evidence cannot be read.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize>;
}

#[repr(C)]
struct RawEntry {
    parent: *const c_char,
    name: *const c_char,
    stream: *const c_char,
    inode: u64,
    attr_type: u32,
    attr_id: u32,
    meta_type: u32,
    flags: u32,
    size: i64,
    mtime: i64,
    atime: i64,
    ctime: i64,
    crtime: i64,
    dtime: i64,
    mtime_nano: u32,
    atime_nano: u32,
    ctime_nano: u32,
    crtime_nano: u32,
}

pub use super::entry::Run;

type ReadFn = unsafe extern "C" fn(*mut c_void, u64, *mut c_char, usize) -> isize;

#[repr(C)]
struct Callbacks {
    ctx: *mut c_void,
    volume: unsafe extern "C" fn(
        *mut c_void,
        i64,
        u64,
        u64,
        *const c_char,
        *const c_char,
        *const c_char,
    ) -> c_int,
    entry: unsafe extern "C" fn(*mut c_void, *const RawEntry) -> c_int,
    data: unsafe extern "C" fn(*mut c_void, *const c_char, usize) -> c_int,
    runs: unsafe extern "C" fn(*mut c_void, *const Run, usize, u64, u64) -> c_int,
    end: unsafe extern "C" fn(*mut c_void, u64, *const c_char) -> c_int,
}

unsafe extern "C" {
    fn hs_walk(
        read_ctx: *mut c_void,
        read: ReadFn,
        size: u64,
        cb: *const Callbacks,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
}

/// A visitor's answer that ends the walk (the worker's output closed, an interruption).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stop;

/// What the walk hands to its caller.
pub trait Visitor {
    /// A file system about to be walked. `Err` stops the walk.
    fn volume(&mut self, volume: Volume) -> Result<(), Stop>;
    /// The walk of the last file system broke off (a damaged directory), and why.
    fn broken(&mut self, why: String) -> Result<(), Stop>;
    /// A name: `Ok(true)` to be given its content.
    fn entry(&mut self, entry: Entry) -> Result<bool, Stop>;
    /// A piece of the last entry's content, in order: `Ok(false)` when no more of it is
    /// wanted (its end follows).
    fn data(&mut self, bytes: &[u8]) -> Result<bool, Stop>;
    /// Where the last entry's content lies in the media, instead of the content, for a stream
    /// stored plainly in blocks (`size` bytes, those past `initsize` zeros): `Ok(true)` when
    /// taken (no data and no end follow), `Ok(false)` to be given the data.
    fn runs(&mut self, runs: &[Run], size: u64, initsize: u64) -> Result<bool, Stop>;
    /// The end of the last entry's content: its bytes, and why it ended early.
    fn end(&mut self, bytes: u64, error: Option<String>) -> Result<(), Stop>;
}

/// Why a walk did not happen or did not finish.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WalkError {
    #[error("{0}")]
    NotAnImage(String),
    #[error("stopped")]
    Stopped,
    #[error("out of memory")]
    OutOfMemory,
}

struct State<'a> {
    reader: &'a dyn ReadAt,
    visitor: &'a mut dyn Visitor,
    /// A panic in the visitor or the reader, kept to be raised again once out of C.
    panic: Option<Box<dyn std::any::Any + Send>>,
}

fn text(p: *const c_char) -> Option<Vec<u8>> {
    // SAFETY: the shim passes NULL or a NUL-terminated string valid for the call.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes().to_vec())
}

fn lossy(p: *const c_char) -> String {
    String::from_utf8_lossy(&text(p).unwrap_or_default()).into_owned()
}

/// Runs `f` on the state behind `ctx`, a panic kept for later and answered with `stop`.
fn with_state<T>(ctx: *mut c_void, stop: T, f: impl FnOnce(&mut State) -> T) -> T {
    // SAFETY: `ctx` is the `State` `walk` passed, alive for the whole walk.
    let state = unsafe { &mut *(ctx as *mut State) };
    if state.panic.is_some() {
        return stop;
    }
    match catch_unwind(AssertUnwindSafe(|| f(state))) {
        Ok(v) => v,
        Err(p) => {
            state.panic = Some(p);
            stop
        }
    }
}

unsafe extern "C" fn read_cb(ctx: *mut c_void, offset: u64, buf: *mut c_char, len: usize) -> isize {
    with_state(ctx, -1, |s| {
        // SAFETY: TSK passes a buffer of `len` bytes.
        let buf = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        let mut filled = 0;
        while filled < len {
            match s.reader.read_at(&mut buf[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return -1,
            }
        }
        filled as isize
    })
}

unsafe extern "C" fn volume_cb(
    ctx: *mut c_void,
    index: i64,
    start: u64,
    length: u64,
    desc: *const c_char,
    fs_type: *const c_char,
    error: *const c_char,
) -> c_int {
    with_state(ctx, 1, |s| {
        if index == -2 {
            let why = text(error).map_or_else(String::new, |e| String::from_utf8_lossy(&e).into());
            return c_int::from(s.visitor.broken(why).is_err());
        }
        let volume = Volume {
            index: u64::try_from(index).ok(),
            start,
            length,
            description: lossy(desc),
            file_system: match text(error) {
                Some(e) => Err(String::from_utf8_lossy(&e).into_owned()),
                None => Ok(lossy(fs_type)),
            },
        };
        c_int::from(s.visitor.volume(volume).is_err())
    })
}

unsafe extern "C" fn entry_cb(ctx: *mut c_void, e: *const RawEntry) -> c_int {
    with_state(ctx, -1, |s| {
        // SAFETY: the shim passes a valid entry for the call.
        let e = unsafe { &*e };
        let time = |t: i64, n: u32| (t != 0).then_some((t, n));
        let entry = Entry {
            parent: text(e.parent).unwrap_or_default(),
            name: text(e.name).unwrap_or_default(),
            stream: text(e.stream),
            inode: e.inode,
            attr_type: e.attr_type,
            attr_id: e.attr_id,
            meta_type: e.meta_type,
            flags: e.flags,
            size: u64::try_from(e.size).ok(),
            mtime: time(e.mtime, e.mtime_nano),
            atime: time(e.atime, e.atime_nano),
            ctime: time(e.ctime, e.ctime_nano),
            crtime: time(e.crtime, e.crtime_nano),
            dtime: (e.dtime != 0).then_some(e.dtime),
        };
        match s.visitor.entry(entry) {
            Ok(true) => 1,
            Ok(false) => 0,
            Err(Stop) => -1,
        }
    })
}

unsafe extern "C" fn data_cb(ctx: *mut c_void, buf: *const c_char, len: usize) -> c_int {
    with_state(ctx, 1, |s| {
        // SAFETY: the shim passes `len` bytes at `buf`.
        let bytes = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
        match s.visitor.data(bytes) {
            Ok(true) => 0,
            Ok(false) => 2,
            Err(Stop) => 1,
        }
    })
}

unsafe extern "C" fn runs_cb(
    ctx: *mut c_void,
    runs: *const Run,
    n: usize,
    size: u64,
    initsize: u64,
) -> c_int {
    with_state(ctx, 2, |s| {
        let runs = if n == 0 {
            &[][..]
        } else {
            // SAFETY: the shim passes `n` runs at `runs`.
            unsafe { std::slice::from_raw_parts(runs, n) }
        };
        match s.visitor.runs(runs, size, initsize) {
            Ok(true) => 1,
            Ok(false) => 0,
            Err(Stop) => 2,
        }
    })
}

unsafe extern "C" fn end_cb(ctx: *mut c_void, bytes: u64, error: *const c_char) -> c_int {
    with_state(ctx, 1, |s| {
        let error = text(error).map(|e| String::from_utf8_lossy(&e).into_owned());
        c_int::from(s.visitor.end(bytes, error).is_err())
    })
}

/// Walks the media of `size` bytes `reader` gives: every volume's file system (or the image's
/// own), every name, the content of those `visitor` asks for.
///
/// # Errors
/// No partition table and no file system found; stopped by the visitor.
pub fn walk(reader: &dyn ReadAt, size: u64, visitor: &mut dyn Visitor) -> Result<(), WalkError> {
    let mut state = State {
        reader,
        visitor,
        panic: None,
    };
    let ctx = (&mut state as *mut State).cast::<c_void>();
    let callbacks = Callbacks {
        ctx,
        volume: volume_cb,
        entry: entry_cb,
        data: data_cb,
        runs: runs_cb,
        end: end_cb,
    };
    let mut err = [0 as c_char; 1024];
    // SAFETY: the callbacks and their context outlive the call; `err` is writable for its
    // length.
    let rc = unsafe { hs_walk(ctx, read_cb, size, &callbacks, err.as_mut_ptr(), err.len()) };
    if let Some(p) = state.panic.take() {
        std::panic::resume_unwind(p);
    }
    match rc {
        0 => Ok(()),
        1 => Err(WalkError::NotAnImage(lossy(err.as_ptr()))),
        2 => Err(WalkError::Stopped),
        _ => Err(WalkError::OutOfMemory),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    impl ReadAt for std::fs::File {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
            std::os::unix::fs::FileExt::read_at(self, buf, offset)
        }
    }

    /// Every entry, with its content when it has a stream.
    #[derive(Default)]
    struct Collect {
        volumes: Vec<Volume>,
        entries: Vec<(Entry, Vec<u8>, Option<String>)>,
    }

    impl Visitor for Collect {
        fn volume(&mut self, volume: Volume) -> Result<(), Stop> {
            self.volumes.push(volume);
            Ok(())
        }
        fn entry(&mut self, entry: Entry) -> Result<bool, Stop> {
            let want = entry.attr_type != 0 && !entry.is(flags::REALLOC);
            self.entries.push((entry, Vec::new(), None));
            Ok(want)
        }
        fn broken(&mut self, why: String) -> Result<(), Stop> {
            panic!("the walk broke off: {why}");
        }
        fn data(&mut self, bytes: &[u8]) -> Result<bool, Stop> {
            self.entries.last_mut().unwrap().1.extend_from_slice(bytes);
            Ok(true)
        }
        fn runs(&mut self, _: &[Run], _: u64, _: u64) -> Result<bool, Stop> {
            Ok(false)
        }
        fn end(&mut self, bytes: u64, error: Option<String>) -> Result<(), Stop> {
            let last = self.entries.last_mut().unwrap();
            assert_eq!(bytes, last.1.len() as u64);
            last.2 = error;
            Ok(())
        }
    }

    fn run(tool: &str, args: &[&str]) -> bool {
        Command::new(tool)
            .args(args)
            .env("MTOOLS_SKIP_CHECK", "1")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn walk_file(image: &Path) -> (Collect, Result<(), WalkError>) {
        let file = std::fs::File::open(image).unwrap();
        let size = file.metadata().unwrap().len();
        let mut c = Collect::default();
        let r = walk(&file, size, &mut c);
        (c, r)
    }

    #[test]
    fn a_fat_image_gives_its_files_and_a_deleted_one_with_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let image = d.join("fat.img");
        let img = image.to_str().unwrap();
        if !run("truncate", &["-s", "40M", img]) || !run("mkfs.fat", &["-F", "32", img]) {
            eprintln!("SKIPPED: needs mkfs.fat (dosfstools) and mtools");
            return;
        }
        let keep: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let gone: Vec<u8> = (0..9_000u32).map(|i| (i * 13 + 5) as u8).collect();
        std::fs::write(d.join("keep.bin"), &keep).unwrap();
        std::fs::write(d.join("gone.bin"), &gone).unwrap();
        let (k, g) = (d.join("keep.bin"), d.join("gone.bin"));
        assert!(run("mmd", &["-i", img, "::/sub"]), "mtools");
        assert!(run("mcopy", &["-i", img, k.to_str().unwrap(), "::/sub/"]));
        assert!(run("mcopy", &["-i", img, g.to_str().unwrap(), "::/"]));
        assert!(run("mdel", &["-i", img, "::/gone.bin"]));

        let (c, r) = walk_file(&image);
        assert_eq!(r, Ok(()));
        assert_eq!(c.volumes.len(), 1);
        assert_eq!(c.volumes[0].index, None);
        assert_eq!(c.volumes[0].file_system.as_deref(), Ok("fat32"));
        let find = |parent: &[u8], name: &[u8]| {
            c.entries
                .iter()
                .find(|(e, _, _)| e.parent == parent && e.name == name)
                .unwrap_or_else(|| panic!("{:?}", String::from_utf8_lossy(name)))
        };
        let (e, bytes, error) = find(b"sub/", b"keep.bin");
        assert!(!e.is(flags::DELETED));
        assert_eq!(e.meta_type, meta_type::REG);
        assert_eq!((bytes, error), (&keep, &None));
        assert!(e.mtime.is_some());
        // FAT loses a deleted name's first character.
        let (e, bytes, error) = find(b"", b"_one.bin");
        assert!(e.is(flags::DELETED) && !e.is(flags::REALLOC));
        assert_eq!((bytes, error), (&gone, &None));
        let (e, _, _) = find(b"", b"sub");
        assert_eq!(e.meta_type, meta_type::DIR);
        // TSK's own entries for the file system's areas are virtual.
        let (e, _, _) = find(b"", b"$FAT1");
        assert_eq!(e.meta_type, meta_type::VIRT);
    }

    #[test]
    fn bytes_that_are_no_image_are_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("noise");
        let noise: Vec<u8> = (0..1_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&path, noise).unwrap();
        let (c, r) = walk_file(&path);
        assert!(matches!(r, Err(WalkError::NotAnImage(_))), "{r:?}");
        assert!(c.entries.is_empty());
    }
}
