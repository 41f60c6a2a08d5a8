//! One read of a file feeds every selected digest: MD5, SHA-1, SHA-256 and BLAKE3.
//!
//! [`MultiHasher`] takes the same buffer for all algorithms, so a file is read from disk once
//! whatever is selected (`crate::read::file` does the reading). Nothing here reads a file.

use std::fmt;
use std::str::FromStr;

use md5::Digest as _;

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

        /// Serialises as its lower-case hex.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
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

// Hexadecimal text, the one encoder and the one decoder of the crate: every digest, path and
// blob written as hex goes through `to_hex`, every hex read through `hex_into` or `from_hex`.
// faster-hex underneath: against the hand-written loops it replaced and the `hex` crate, on
// 16- to 32-byte values, it encodes about twice as fast as the loop (the `hex` crate half as
// fast), and decodes about as fast as the import readers' table (the `hex` crate 5 to 9
// times slower).

/// Lower-case hexadecimal of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    faster_hex::hex_string(bytes)
}

/// Text that is not hexadecimal of the length asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotHex;

/// Reads hex digits of either case into `out`, which they must fill exactly: two digits a
/// byte, nothing else (no sign, prefix or space).
///
/// # Errors
/// Any other length, or a byte that is not a hex digit.
pub fn hex_into(text: &[u8], out: &mut [u8]) -> Result<(), NotHex> {
    if text.len() != 2 * out.len() {
        return Err(NotHex);
    }
    faster_hex::hex_decode(text, out).map_err(|_| NotHex)
}

/// Reads any even number of hex digits of either case, nothing else.
///
/// # Errors
/// An odd length, or a byte that is not a hex digit.
pub fn from_hex(text: &[u8]) -> Result<Vec<u8>, NotHex> {
    if !text.len().is_multiple_of(2) {
        return Err(NotHex);
    }
    let mut out = vec![0; text.len() / 2];
    hex_into(text, &mut out)?;
    Ok(out)
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

    /// [`MultiHasher::update`] with MD5 (the slowest, about half the cost of all four) on
    /// this thread and the others through `rayon::join`: a thread of the pool that is idle
    /// (the last container of a run still being read, one large archive) takes them and both
    /// halves run at once; when none is idle this thread runs both in turn, as `update` does.
    /// Outside a rayon pool, both halves run on the pool rayon starts for the process.
    pub fn update_shared(&mut self, data: &[u8]) {
        let MultiHasher {
            md5,
            sha1,
            sha256,
            blake3,
        } = self;
        rayon::join(
            || {
                if let Some(h) = md5 {
                    h.update(data);
                }
            },
            || {
                for slice in data.chunks(SLICE) {
                    if let Some(h) = sha1 {
                        h.update(slice);
                    }
                    if let Some(h) = sha256 {
                        h.update(slice);
                    }
                    if let Some(h) = blake3 {
                        h.update(slice);
                    }
                }
            },
        );
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
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every algorithm split across two threads gives what one thread gives, as the
    /// RustCrypto and blake3 crates compute over the whole input at once.
    #[test]
    fn hashing_shared_between_threads_gives_the_one_thread_digests() {
        use md5::Digest as _;
        let data: Vec<u8> = (0..1_000_003u64).map(|i| (i * 7919 % 251) as u8).collect();
        let mut shared = MultiHasher::new(AlgorithmSet::all());
        for piece in data.chunks(65_536 + 17) {
            shared.update_shared(piece);
        }
        let d = shared.finish();
        assert_eq!(d.md5.unwrap().0[..], md5::Md5::digest(&data)[..]);
        assert_eq!(d.sha1.unwrap().0[..], sha1::Sha1::digest(&data)[..]);
        assert_eq!(d.sha256.unwrap().0[..], sha2::Sha256::digest(&data)[..]);
        assert_eq!(d.blake3.unwrap().0, *blake3::hash(&data).as_bytes());
    }

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
    pub(crate) fn assert_crates_agree(d: &Digests, data: &[u8]) {
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
        let data: Vec<u8> = (0..(3 * (256 << 10) + 17))
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

    /// Bytes of every value, in lengths around faster-hex's 16- and 32-byte vector blocks.
    fn samples() -> Vec<Vec<u8>> {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = vec![all];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..=100 {
            out.push(
                (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn hex_is_written_as_the_standard_formatter_writes_it() {
        for bytes in samples() {
            let oracle: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(to_hex(&bytes), oracle);
        }
    }

    #[test]
    fn hex_is_read_in_either_case_as_from_str_radix_reads_it() {
        for bytes in samples() {
            let lower: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let upper = lower.to_ascii_uppercase();
            // The oracle: the standard parser, two digits at a time.
            let parsed: Vec<u8> = (0..bytes.len())
                .map(|i| u8::from_str_radix(&upper[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            assert_eq!(parsed, bytes);
            assert_eq!(from_hex(lower.as_bytes()), Ok(bytes.clone()));
            assert_eq!(from_hex(upper.as_bytes()), Ok(bytes.clone()));
            let mut out = vec![0; bytes.len()];
            assert_eq!(hex_into(upper.as_bytes(), &mut out), Ok(()));
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn hex_refuses_wrong_lengths_and_any_other_byte_anywhere() {
        let mut out = [0u8; 4];
        assert_eq!(hex_into(b"abcdef", &mut out), Err(NotHex));
        assert_eq!(hex_into(b"abcdef0123", &mut out), Err(NotHex));
        assert_eq!(from_hex(b"abc"), Err(NotHex));
        assert_eq!(from_hex(b""), Ok(Vec::new()));
        // Every position of a value long enough for the vector code and its tail: a sign, a
        // space, the bytes beside the digit and letter ranges, and non-ASCII.
        let good = "0123456789abcdefABCDEF".repeat(5);
        for at in 0..good.len() {
            for bad in [
                b'+', b'-', b' ', b'/', b':', b'@', b'G', b'`', b'g', b'x', 0x80, 0xff,
            ] {
                let mut text = good.clone().into_bytes();
                text[at] = bad;
                assert_eq!(from_hex(&text), Err(NotHex), "{bad:#x} at {at}");
            }
        }
    }
}
