//! One read of a file feeds every selected digest: MD5, SHA-1, SHA-256 and BLAKE3.
//!
//! [`MultiHasher`] takes the same buffer for all algorithms, so a file is read from disk once
//! whatever is selected. [`hash_file`] reads a file opened through [`crate::evidence`]: it
//! memory-maps large files (with a guard against files truncated while mapped) and reads small
//! ones through a per-thread buffer, and it reports a file whose size changes while it is read
//! instead of returning a digest of a moving target.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::str::FromStr;

use md5::Digest as _;

use crate::cancel::Cancel;
use crate::record::{ItemError, Stage};

/// Files at least this large are memory-mapped; smaller ones are read through a buffer.
pub const MMAP_THRESHOLD: u64 = 1 << 20;

/// Size of the per-thread read buffer.
const CHUNK: usize = 256 << 10;
const _: () = assert!(
    CHUNK % 65_536 == 0,
    "mapped pieces start on page boundaries"
);

/// Size of the slices fed to each hasher in turn: small enough that the next algorithm finds
/// the bytes still in the L1 cache (measured: 16 KiB slices hash all four 2.7% faster than
/// 256 KiB, `cargo bench --bench digest -- all4`), and still 16 BLAKE3 chunks for its SIMD lanes.
const SLICE: usize = 16 << 10;

/// A digest algorithm hashsift computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Blake3,
}

impl Algorithm {
    /// Every algorithm, in the order columns are written.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Md5,
        Algorithm::Sha1,
        Algorithm::Sha256,
        Algorithm::Blake3,
    ];

    /// The lower-case name used on the command line and in every output format.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Blake3 => "blake3",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        let alg = match lower.as_str() {
            "md5" => Algorithm::Md5,
            "sha1" | "sha-1" => Algorithm::Sha1,
            "sha256" | "sha-256" => Algorithm::Sha256,
            "blake3" => Algorithm::Blake3,
            _ => {
                return Err(format!(
                    "unknown algorithm '{s}' (expected md5, sha1, sha256 or blake3)"
                ));
            }
        };
        Ok(alg)
    }
}

/// A set of algorithms, iterated in the fixed column order of [`Algorithm::ALL`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlgorithmSet(u8);

impl AlgorithmSet {
    pub const EMPTY: AlgorithmSet = AlgorithmSet(0);
    /// MD5, SHA-1 and SHA-256: the algorithms hashdeep also computes.
    pub const HASHDEEP: AlgorithmSet = AlgorithmSet(0b0111);

    pub fn all() -> Self {
        Algorithm::ALL.into_iter().collect()
    }

    pub fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    pub fn insert(&mut self, alg: Algorithm) {
        self.0 |= alg.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        let mut set = AlgorithmSet::EMPTY;
        for alg in iter {
            set.insert(alg);
        }
        set
    }
}

macro_rules! digest_newtype {
    ($name:ident, $len:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&to_hex(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}

digest_newtype!(Md5, 16, "An MD5 digest.");
digest_newtype!(Sha1, 20, "A SHA-1 digest.");
digest_newtype!(Sha256, 32, "A SHA-256 digest.");
digest_newtype!(Blake3, 32, "A BLAKE3 digest (256-bit output).");

/// The digests of one content; an algorithm that was not selected is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digests {
    pub md5: Option<Md5>,
    pub sha1: Option<Sha1>,
    pub sha256: Option<Sha256>,
    pub blake3: Option<Blake3>,
}

impl Digests {
    /// The lower-case hex digest of `alg`, if it was computed.
    pub fn hex(&self, alg: Algorithm) -> Option<String> {
        match alg {
            Algorithm::Md5 => self.md5.map(|d| d.to_string()),
            Algorithm::Sha1 => self.sha1.map(|d| d.to_string()),
            Algorithm::Sha256 => self.sha256.map(|d| d.to_string()),
            Algorithm::Blake3 => self.blake3.map(|d| d.to_string()),
        }
    }
}

/// Lower-case hexadecimal of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// Feeds one stream of bytes to every selected algorithm.
pub struct MultiHasher {
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
    blake3: Option<blake3::Hasher>,
}

impl MultiHasher {
    pub fn new(algorithms: AlgorithmSet) -> Self {
        MultiHasher {
            md5: algorithms.contains(Algorithm::Md5).then(md5::Md5::new),
            sha1: algorithms.contains(Algorithm::Sha1).then(sha1::Sha1::new),
            sha256: algorithms
                .contains(Algorithm::Sha256)
                .then(sha2::Sha256::new),
            blake3: algorithms
                .contains(Algorithm::Blake3)
                .then(blake3::Hasher::new),
        }
    }

    /// Adds `data` to every selected digest. Large inputs are fed in cache-sized slices so each
    /// algorithm finds the bytes the previous one just read still in cache.
    pub fn update(&mut self, data: &[u8]) {
        for slice in data.chunks(SLICE) {
            if let Some(h) = &mut self.md5 {
                h.update(slice);
            }
            if let Some(h) = &mut self.sha1 {
                h.update(slice);
            }
            if let Some(h) = &mut self.sha256 {
                h.update(slice);
            }
            if let Some(h) = &mut self.blake3 {
                h.update(slice);
            }
        }
    }

    pub fn finish(self) -> Digests {
        Digests {
            md5: self.md5.map(|h| Md5(h.finalize().into())),
            sha1: self.sha1.map(|h| Sha1(h.finalize().into())),
            sha256: self.sha256.map(|h| Sha256(h.finalize().into())),
            blake3: self.blake3.map(|h| Blake3(*h.finalize().as_bytes())),
        }
    }
}

/// Digests of an in-memory buffer (used by tests and benchmarks).
pub fn hash_bytes(algorithms: AlgorithmSet, data: &[u8]) -> Digests {
    let mut h = MultiHasher::new(algorithms);
    h.update(data);
    h.finish()
}

/// Why hashing a file stopped without a digest.
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

/// Hashes `file`, opened by [`crate::evidence::open_regular`] and listed with `expected_size`
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
    let truncated = crate::mapguard::guarded(&map, |bytes| {
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
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>().unwrap(), alg);
        }
        assert!("crc32".parse::<Algorithm>().is_err());
    }

    #[test]
    fn set_iterates_in_column_order() {
        let set: AlgorithmSet = [Algorithm::Blake3, Algorithm::Md5].into_iter().collect();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Algorithm::Md5, Algorithm::Blake3]
        );
    }

    /// Checks `d` against each crate's one-shot digest of `data` (the independent oracle).
    pub(super) fn assert_crates_agree(d: &Digests, data: &[u8]) {
        assert_eq!(d.md5.unwrap().0, <[u8; 16]>::from(md5::Md5::digest(data)));
        assert_eq!(
            d.sha1.unwrap().0,
            <[u8; 20]>::from(sha1::Sha1::digest(data))
        );
        assert_eq!(
            d.sha256.unwrap().0,
            <[u8; 32]>::from(sha2::Sha256::digest(data))
        );
        assert_eq!(d.blake3.unwrap().0, *blake3::hash(data).as_bytes());
    }

    #[test]
    fn chunked_updates_equal_one_update() {
        // Independent oracle: each crate fed directly in one call.
        let data: Vec<u8> = (0..(3 * CHUNK + 17))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let mut h = MultiHasher::new(AlgorithmSet::all());
        for part in data.chunks(1000) {
            h.update(part);
        }
        let d = h.finish();
        assert_crates_agree(&d, &data);
    }

    #[test]
    fn unselected_algorithms_are_absent() {
        let d = hash_bytes([Algorithm::Sha1].into_iter().collect(), b"abc");
        assert!(d.md5.is_none() && d.sha256.is_none() && d.blake3.is_none());
        // FIPS 180 test vector for "abc".
        assert_eq!(
            d.sha1.unwrap().to_string(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
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
            tests::assert_crates_agree(&d, &data);
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
