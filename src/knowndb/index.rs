//! The lookup index a scan builds once from the database: for each exact algorithm, the key of
//! every known hash (`{column}_key`, see [`super::schema::hash_key`]) in sorted order beside
//! its medium's id. The keys are read from the database's key indexes in their order, so
//! building sorts nothing; each entry takes 12 bytes (about 280 MB for 23 M known hashes).
//!
//! A digest is looked up by binary search on its key. A key is only the first 8 bytes of the
//! hash, so a hit names a candidate medium, which [`KnownDb::medium`] reads and the caller
//! compares whole.

use super::schema::{KEYED, hash_key};
use super::{DbError, KnownDb};
use crate::cancel::Cancel;
use crate::digest::{Algorithm, Digests};

/// The keys of one algorithm's known hashes, sorted, with their media ids, and where the keys
/// of each run of leading bits begin.
#[derive(Default)]
struct Column {
    keys: Vec<i64>,
    ids: Vec<u32>,
    /// `starts[b]` is the position of the first key whose top `bits` bits are `b` or more
    /// (one entry beyond the last bucket). Hash prefixes are spread evenly, so a bucket holds
    /// a few keys and a lookup touches two or three cache lines instead of a binary search's
    /// twenty-odd over the whole column; keys piled into one bucket are still found, by a
    /// binary search within it.
    starts: Vec<u32>,
    bits: u32,
}

/// Keys per bucket aimed at (eight 8-byte keys fill one cache line), and the most leading
/// bits a bucket table uses (16 M buckets, 64 MiB, from 128 M keys up).
const KEYS_PER_BUCKET: usize = 8;
const MAX_BITS: u32 = 24;

impl Column {
    /// Fills [`Column::starts`] from the sorted keys.
    fn index_buckets(&mut self) {
        let wanted = (self.keys.len() / KEYS_PER_BUCKET).max(1);
        self.bits = (usize::BITS - wanted.leading_zeros()).min(MAX_BITS);
        let buckets = 1usize << self.bits;
        self.starts = Vec::with_capacity(buckets + 1);
        let mut position = 0;
        for b in 0..buckets {
            while position < self.keys.len() && self.bucket(self.keys[position]) < b {
                position += 1;
            }
            self.starts.push(position as u32);
        }
        self.starts.push(self.keys.len() as u32);
    }

    /// The bucket of `key`: the top bits of the hash it was cut from (the key flips the top
    /// bit so that keys sort like hashes; flipping it back gives the hash's first 8 bytes).
    fn bucket(&self, key: i64) -> usize {
        if self.bits == 0 {
            return 0;
        }
        ((key as u64 ^ (1 << 63)) >> (64 - self.bits)) as usize
    }

    /// The positions of the keys equal to `key`.
    fn find(&self, key: i64) -> std::ops::Range<usize> {
        if self.keys.is_empty() {
            return 0..0;
        }
        let b = self.bucket(key);
        let (from, to) = (self.starts[b] as usize, self.starts[b + 1] as usize);
        let within = &self.keys[from..to];
        let start = from + within.partition_point(|&k| k < key);
        let end = from + within.partition_point(|&k| k <= key);
        start..end
    }
}

/// The known hashes of a database, for lookups by digest.
#[derive(Default)]
pub struct KnownIndex {
    /// In the order of [`KEYED`]: MD5, SHA-1, SHA-256, BLAKE3.
    columns: [Column; 4],
}

/// The algorithms of [`KEYED`], in its order.
const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::Md5,
    Algorithm::Sha1,
    Algorithm::Sha256,
    Algorithm::Blake3,
];

/// How many rows are read between two looks at Ctrl-C.
const CANCEL_EVERY: usize = 1 << 16;

impl KnownIndex {
    /// Reads every known hash's key. `on_rows` hears how many were read so far.
    ///
    /// # Errors
    /// SQLite errors; [`DbError::Interrupted`] on Ctrl-C; [`DbError::Corrupt`] for a medium id
    /// beyond 2^32 (an import assigns ids from 1 up; no database of known material gets there).
    pub fn build(
        db: &KnownDb,
        cancel: &Cancel,
        on_rows: &dyn Fn(u64),
    ) -> Result<KnownIndex, DbError> {
        let e = |s| db.sqlite_error(s);
        // The key indexes are read once, in order: a large page cache would only hold pages
        // never read again (256 MiB of them at 10 M media).
        db.conn
            .execute_batch("PRAGMA cache_size = -8192")
            .map_err(e)?;
        let mut index = KnownIndex::default();
        let mut read: u64 = 0;
        // Room for every medium in each column, from the highest id (no count, which would
        // read each key index a second time); what a column does not fill is never touched,
        // and is given back below.
        let media = usize::try_from(db.max_media_id()?).unwrap_or(0);
        for (column, name) in index.columns.iter_mut().zip(KEYED) {
            column.keys.reserve_exact(media);
            column.ids.reserve_exact(media);
            // The key index holds (key, id) in this order: a scan of it, no sort.
            let mut stmt = db
                .conn
                .prepare(&format!(
                    "SELECT {name}_key, id FROM media INDEXED BY media_{name}
                     WHERE {name}_key IS NOT NULL ORDER BY {name}_key"
                ))
                .map_err(e)?;
            let mut rows = stmt.query([]).map_err(e)?;
            while let Some(r) = rows.next().map_err(e)? {
                let key: i64 = r.get(0).map_err(e)?;
                let id: i64 = r.get(1).map_err(e)?;
                let id = u32::try_from(id).map_err(|_| DbError::Corrupt {
                    path: db.path().to_owned(),
                    reason: format!("medium id {id} is beyond 2^32"),
                })?;
                column.keys.push(key);
                column.ids.push(id);
                if column.keys.len() % CANCEL_EVERY == 0 {
                    if cancel.is_cancelled() {
                        return Err(DbError::Interrupted);
                    }
                    on_rows(read + column.keys.len() as u64);
                }
            }
            column.keys.shrink_to_fit();
            column.ids.shrink_to_fit();
            column.index_buckets();
            read += column.keys.len() as u64;
            on_rows(read);
        }
        Ok(index)
    }

    /// How many hashes of each algorithm are known, as (algorithm, count).
    pub fn counts(&self) -> Vec<(Algorithm, usize)> {
        ALGORITHMS
            .iter()
            .zip(&self.columns)
            .map(|(a, c)| (*a, c.keys.len()))
            .collect()
    }

    /// The media whose hash of some algorithm starts like the digest's (sorted, each once):
    /// candidates to compare whole.
    pub fn candidates(&self, digests: &Digests) -> Vec<i64> {
        let values: [Option<&[u8]>; 4] = [
            digests.md5.as_ref().map(|h| &h.0[..]),
            digests.sha1.as_ref().map(|h| &h.0[..]),
            digests.sha256.as_ref().map(|h| &h.0[..]),
            digests.blake3.as_ref().map(|h| &h.0[..]),
        ];
        let mut ids: Vec<i64> = Vec::new();
        for (column, value) in self.columns.iter().zip(values) {
            let Some(value) = value else { continue };
            let key = hash_key(value);
            ids.extend(column.ids[column.find(key)].iter().map(|&id| i64::from(id)));
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{Md5, Sha1, Sha256};
    use crate::knowndb::Access;
    use crate::knowndb::record::KnownRecord;

    fn record(
        number: u64,
        md5: [u8; 16],
        sha1: Option<[u8; 20]>,
        sha256: Option<[u8; 32]>,
    ) -> KnownRecord {
        KnownRecord {
            number,
            digests: Digests {
                md5: Some(Md5(md5)),
                sha1: sha1.map(Sha1),
                sha256: sha256.map(Sha256),
                blake3: None,
            },
            ..KnownRecord::default()
        }
    }

    /// The range plain binary search over the whole column gives: the oracle for buckets.
    fn search(keys: &[i64], key: i64) -> std::ops::Range<usize> {
        keys.partition_point(|&k| k < key)..keys.partition_point(|&k| k <= key)
    }

    #[test]
    fn buckets_find_what_a_binary_search_over_the_column_finds() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as i64
        };
        for size in [0usize, 1, 2, 3, 5, 17, 1000, 20_000] {
            let mut keys: Vec<i64> = (0..size).map(|_| next()).collect();
            // Extremes, a duplicate, and a pile of keys in one bucket.
            if size > 3 {
                keys.extend([i64::MIN, i64::MAX, keys[0], keys[1]]);
                keys.extend((0..50).map(|i| 0x1234_5678_0000_0000 + i));
            }
            keys.sort_unstable();
            let mut column = Column {
                ids: (0..keys.len() as u32).collect(),
                keys,
                ..Column::default()
            };
            column.index_buckets();
            let probes: Vec<i64> = column
                .keys
                .iter()
                .flat_map(|&k| [k, k.wrapping_add(1), k.wrapping_sub(1)])
                .chain((0..1000).map(|_| next()))
                .chain([i64::MIN, i64::MAX, 0, -1])
                .collect();
            for key in probes {
                assert_eq!(
                    column.find(key),
                    search(&column.keys, key),
                    "{size} keys, key {key:#x}"
                );
            }
        }
    }

    #[test]
    fn every_known_hash_is_found_and_a_shared_prefix_is_only_a_candidate() {
        // Hashes from a simple generator; record 3 shares record 1's first 8 MD5 bytes only.
        let bytes = |seed: u8, n: usize| -> Vec<u8> {
            (0..n)
                .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7))
                .collect()
        };
        let md5 = |seed| -> [u8; 16] { bytes(seed, 16).try_into().unwrap() };
        let mut twin = md5(1);
        twin[15] ^= 0xFF;
        let records = vec![
            record(1, md5(1), Some(bytes(1, 20).try_into().unwrap()), None),
            record(2, md5(2), None, Some(bytes(2, 32).try_into().unwrap())),
            record(3, twin, None, None),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut db = KnownDb::open(&path, Access::Create).unwrap();
        crate::knowndb::write::import_records(&mut db, records.clone());
        drop(db);
        let db = KnownDb::open(&path, Access::ReadOnly).unwrap();
        let index = KnownIndex::build(&db, &Cancel::new(), &|_| {}).unwrap();
        let counts: Vec<usize> = index.counts().into_iter().map(|(_, n)| n).collect();
        assert_eq!(counts, [3, 1, 1, 0]);
        for r in &records {
            let ids = index.candidates(&r.digests);
            let found: Vec<crate::digest::Md5> = ids
                .iter()
                .map(|&id| db.medium(id).unwrap().md5.unwrap())
                .collect();
            assert!(
                found.contains(&r.digests.md5.unwrap()),
                "record {} not found among {found:?}",
                r.number
            );
        }
        // Record 1's MD5 and its twin share a key: both are candidates for either.
        assert_eq!(index.candidates(&records[0].digests).len(), 2);
        // Found by SHA-256 alone.
        let by_sha256 = Digests {
            sha256: records[1].digests.sha256,
            ..Digests::default()
        };
        assert_eq!(index.candidates(&by_sha256).len(), 1);
        let unknown = Digests {
            md5: Some(Md5(md5(9))),
            ..Digests::default()
        };
        assert!(index.candidates(&unknown).is_empty());
    }
}
