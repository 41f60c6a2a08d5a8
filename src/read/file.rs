//! Reading one evidence file for its digests: [`hash_file`] memory-maps large files (with a
//! guard against files truncated while mapped) and reads small ones through a per-thread
//! buffer, feeding a [`MultiHasher`], and reports a file whose size changes while it is read
//! instead of returning a digest of a moving target.

use std::fs::File;
use std::io::{self, Read};

use crate::cancel::Cancel;
use crate::digest::{AlgorithmSet, Digests, MultiHasher};

use super::{ItemError, Stage};

/// Files at least this large are memory-mapped; smaller ones are read through a buffer.
pub const MMAP_THRESHOLD: u64 = 1 << 20;

/// Size of the per-thread read buffer.
const CHUNK: usize = 256 << 10;
const _: () = assert!(
    CHUNK.is_multiple_of(65_536),
    "mapped pieces start on page boundaries"
);

#[derive(Debug)]
pub enum HashFailure {
    /// The file could not be opened, read, or changed while being read.
    Item(ItemError),
    /// The run was interrupted; the file is not hashed.
    Cancelled,
}

impl From<ItemError> for HashFailure {
    fn from(e: ItemError) -> Self {
        HashFailure::Item(e)
    }
}

/// Hashes `file`, opened by [`crate::read::evidence::open_regular`] and listed with `expected_size`
/// bytes. `on_bytes` is called with each amount of data hashed (for progress).
///
/// # Errors
/// An [`ItemError`] when the file cannot be read or changes size while it is read;
/// [`HashFailure::Cancelled`] when `cancel` fires first.
pub fn hash_file(
    file: &File,
    expected_size: u64,
    algorithms: AlgorithmSet,
    cancel: &Cancel,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<Digests, HashFailure> {
    let before = Stamp::of(file)?;
    let mut hasher = MultiHasher::new(algorithms);
    let mapped = expected_size >= MMAP_THRESHOLD
        && match hash_mapped(file, expected_size, &mut hasher, cancel, on_bytes) {
            Ok(()) => true,
            // The mapping could not be made (some FUSE mounts), or a page could not be read
            // while the size stayed the same (a bad sector): read it again through a buffer,
            // which reports the real I/O error if there is one.
            Err(MapFailure::Unavailable | MapFailure::Faulted) => {
                hasher = MultiHasher::new(algorithms);
                false
            }
            Err(MapFailure::Hash(f)) => return Err(f),
        };
    if !mapped {
        hash_buffered(file, expected_size, &mut hasher, cancel, on_bytes)?;
    }
    let after = Stamp::of(file)?;
    if after.size != expected_size {
        return Err(changed_size(expected_size, after.size).into());
    }
    if after != before {
        return Err(ItemError::new(
            Stage::Read,
            "file was modified while being read (its modification or change time moved)".into(),
        )
        .into());
    }
    Ok(hasher.finish())
}

/// What must not change while a file is read: size, modification and status-change times.
#[derive(PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(file: &File) -> Result<Stamp, ItemError> {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata().map_err(|e| read_error(&e))?;
        Ok(Stamp {
            size: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// Why a mapped read gave no digest.
enum MapFailure {
    /// The file cannot be mapped here.
    Unavailable,
    /// A page could not be read while mapped, yet the size did not change.
    Faulted,
    Hash(HashFailure),
}

impl From<HashFailure> for MapFailure {
    fn from(f: HashFailure) -> Self {
        MapFailure::Hash(f)
    }
}

impl From<ItemError> for MapFailure {
    fn from(e: ItemError) -> Self {
        MapFailure::Hash(e.into())
    }
}

fn read_error(e: &io::Error) -> ItemError {
    ItemError::from_io(Stage::Read, e)
}

fn changed_size(expected: u64, found: u64) -> ItemError {
    ItemError::new(
        Stage::Read,
        format!("file changed size while being read (listed {expected} bytes, found {found})"),
    )
}

fn hash_buffered(
    mut file: &File,
    size: u64,
    hasher: &mut MultiHasher,
    cancel: &Cancel,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<(), HashFailure> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buf| {
        if buf.len() < CHUNK {
            buf.resize(CHUNK, 0);
        }
        let mut total: u64 = 0;
        loop {
            if cancel.is_cancelled() {
                return Err(HashFailure::Cancelled);
            }
            // Read one byte past the listed size, so a file that grew is noticed.
            let want = usize::try_from((size - total.min(size)) + 1)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let n = match file.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(&e).into()),
            };
            total += n as u64;
            if total > size {
                let now = file.metadata().map(|m| m.len()).unwrap_or(total);
                return Err(changed_size(size, now.max(total)).into());
            }
            hasher.update(&buf[..n]);
            on_bytes(n as u64);
        }
        if total != size {
            return Err(changed_size(size, total).into());
        }
        Ok(())
    })
}

fn hash_mapped(
    file: &File,
    size: u64,
    hasher: &mut MultiHasher,
    cancel: &Cancel,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<(), MapFailure> {
    let len = usize::try_from(size).map_err(|_| MapFailure::Unavailable)?;
    // SAFETY: the mapping is read-only and private. Another process may still truncate the file
    // while it is mapped; `mapguard` turns the SIGBUS that would follow into a flag checked
    // below, so a truncated file becomes an error record instead of killing the run.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map(file) }
        .map_err(|_| MapFailure::Unavailable)?;
    let _ = map.advise(memmap2::Advice::Sequential);
    let truncated = crate::read::mapguard::guarded(&map, |bytes| {
        for piece in bytes.chunks(4 * CHUNK) {
            if cancel.is_cancelled() {
                return Err(HashFailure::Cancelled);
            }
            hasher.update(piece);
            on_bytes(piece.len() as u64);
            // Pages hashed are let go of: otherwise every page of the file stays mapped until
            // the end (a 10 GiB file showed 10 GiB resident). They are the file's, in the page
            // cache; only this mapping's hold on them goes, and nothing reads them again.
            // SAFETY: `piece` lies within the mapping and starts on a page boundary (the
            // mapping does, and pieces are whole pages); MADV_DONTNEED on a private read-only
            // file mapping only drops page table entries, refilled from the file if touched.
            unsafe {
                libc::madvise(
                    piece.as_ptr() as *mut libc::c_void,
                    piece.len(),
                    libc::MADV_DONTNEED,
                );
            }
        }
        Ok(())
    })?;
    let now = file.metadata().map_err(|e| read_error(&e))?.len();
    if now != size {
        return Err(changed_size(size, now).into());
    }
    if truncated {
        return Err(MapFailure::Faulted);
    }
    Ok(())
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use std::io::Write;

    fn open(content: &[u8]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        let file = File::open(&path).unwrap();
        (dir, file)
    }

    fn hash(file: &File, size: u64) -> Result<Digests, HashFailure> {
        hash_file(file, size, AlgorithmSet::all(), &Cancel::new(), &|_| {})
    }

    fn expect_changed(r: Result<Digests, HashFailure>) {
        match r {
            Err(HashFailure::Item(e)) => {
                assert_eq!(e.stage, Stage::Read);
                assert!(e.message.contains("changed size"), "{}", e.message);
            }
            other => panic!("expected a changed-size error, got {other:?}"),
        }
    }

    #[test]
    fn buffered_and_mapped_reads_match_the_crates_fed_directly() {
        // Oracle: each crate's one-shot digest of the same bytes, not MultiHasher.
        for len in [5000usize, MMAP_THRESHOLD as usize + 5000] {
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let (_d, f) = open(&data);
            let d = hash(&f, len as u64).unwrap();
            crate::digest::tests::assert_crates_agree(&d, &data);
        }
    }

    #[test]
    fn regression_file_grown_since_listing_is_an_error_not_a_digest() {
        let (_d, f) = open(&[1u8; 300]);
        expect_changed(hash(&f, 200));
    }

    #[test]
    fn regression_file_shrunk_since_listing_is_an_error_not_a_digest() {
        let (_d, f) = open(&[1u8; 100]);
        expect_changed(hash(&f, 200));
    }

    #[test]
    fn regression_mapped_file_shorter_than_listed_is_an_error() {
        // Listed at 3 MiB, now 2 MiB: the mapping's last MiB lies past the end of the file.
        let (_d, f) = open(&vec![2u8; 2 << 20]);
        expect_changed(hash(&f, 3 << 20));
    }

    #[test]
    fn cancellation_stops_a_read() {
        let (_d, f) = open(&vec![0u8; 4 << 20]);
        let cancel = Cancel::new();
        cancel.cancel();
        let r = hash_file(&f, 4 << 20, AlgorithmSet::all(), &cancel, &|_| {});
        assert!(matches!(r, Err(HashFailure::Cancelled)));
    }
}
