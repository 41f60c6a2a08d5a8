//! The duplicate table of an import: the set's records by their first hash, so that a set's
//! own duplicates go to one medium without a database lookup.

use crate::knowndb::category::Flags;
use crate::knowndb::record::{Grade, KnownRecord};

/// The records of the set being imported, by their first hash, so that a set's own
/// duplicates (NSRL lists a file once per product) go to one medium without a database
/// lookup. An open-addressing table of 16-byte slots (268 MB at most, 2^24 slots), sized once
/// from the source's size; past [`Seen::capacity`] entries new records are not remembered and
/// their duplicates are merged by the set-wise pass instead, so memory stays bounded.
///
/// Written by hand rather than with `HashMap` because at 10 million records every access
/// misses the CPU cache: a slot holds key and value together (one miss, not two), and the
/// import prefetches the slots of the records it will look up next ([`Seen::prefetch`]).
pub(super) struct Seen {
    base: i64,
    /// Whether every record with a first hash was remembered (the table never filled up).
    pub(super) complete: bool,
    /// [key, word, fingerprint low, fingerprint high]: the key is the first 4 bytes of the
    /// first hash (mixed with its algorithm); the word is id - base, its top bit saying whether
    /// that medium's first record was blank ([`is_blank`]); `EMPTY` in the word marks a free
    /// slot (an offset is below 2^31, so no entry has that word).
    slots: Vec<[u32; 4]>,
    /// log2 of the number of slots.
    bits: u32,
    len: usize,
    /// Mixes keys into slot numbers; random for this run, so that no one can craft a set whose
    /// keys all crowd into one run of slots.
    mix: (u64, u64),
    /// Keys the fingerprint with this run's random keys, so that no one can craft a set whose
    /// different files look alike to it.
    keys: std::collections::hash_map::RandomState,
}

/// What [`Seen`] keeps of a record: its key and fingerprint.
#[derive(Clone, Copy)]
pub(super) struct SeenKey {
    key: u32,
    fingerprint: u64,
}

/// The word of a free slot of [`Seen`].
const EMPTY: u32 = u32::MAX;

impl Seen {
    /// How many records ahead the import prefetches slots.
    pub(super) const PREFETCH_AHEAD: usize = 8;
    /// At most 2^24 slots (268 MB).
    const MAX_BITS: u32 = 24;
    /// Source bytes per record assumed when sizing the table up front.
    pub(super) const BYTES_PER_RECORD: u64 = 100;

    /// An empty table for media from id `base` on, sized once from the size of the files to
    /// read (a record takes at least about 100 bytes in every format but a bare digest list),
    /// rather than doubled and rehashed as it fills.
    pub(super) fn new(base: i64, source_bytes: u64) -> Seen {
        use std::hash::BuildHasher;
        let expected = usize::try_from(source_bytes / Self::BYTES_PER_RECORD).unwrap_or(usize::MAX);
        // Linear probing stays short up to a load of 0.7.
        let wanted = expected.saturating_mul(10) / 7;
        let bits = wanted
            .max(1024)
            .checked_next_power_of_two()
            .map_or(Self::MAX_BITS, |n| n.trailing_zeros())
            .min(Self::MAX_BITS);
        let keys = std::collections::hash_map::RandomState::new();
        let mix = (keys.hash_one(1u8) | 1, keys.hash_one(2u8));
        Seen {
            base,
            complete: true,
            slots: vec![[EMPTY; 4]; 1 << bits],
            bits,
            len: 0,
            mix,
            keys,
        }
    }

    /// How many entries the table takes before it stops remembering (a load of 0.7).
    fn capacity(&self) -> usize {
        self.slots.len() / 10 * 7
    }

    /// The slot where the search for `key` starts.
    fn home(&self, key: u32) -> usize {
        let h = (u64::from(key) ^ self.mix.1).wrapping_mul(self.mix.0);
        (h >> (64 - self.bits)) as usize
    }

    /// Asks the CPU to fetch the slot where the search for `k` starts, ahead of [`Seen::get`].
    pub(super) fn prefetch(&self, k: SeenKey) {
        #[cfg(target_arch = "x86_64")]
        {
            let slot: *const [u32; 4] = &self.slots[self.home(k.key)];
            // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault, and the
            // pointer is to a live element anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    slot.cast::<i8>(),
                );
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = k;
    }

    /// The slot holding `key`, or the free slot where it would go.
    fn find(&self, key: u32) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let [k, word, ..] = self.slots[i];
            if word == EMPTY || k == key {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    pub(super) fn key(&self, rec: &KnownRecord) -> Option<SeenKey> {
        use std::hash::BuildHasher;
        let d = &rec.digests;
        let (tag, first): (u32, &[u8]) = if let Some(h) = &d.md5 {
            (1, &h.0)
        } else if let Some(h) = &d.sha1 {
            (2, &h.0)
        } else if let Some(h) = &d.sha256 {
            (3, &h.0)
        } else if let Some(h) = &d.blake3 {
            (4, &h.0)
        } else {
            return None;
        };
        let prefix = u32::from_le_bytes(first[..4].try_into().expect("4 bytes"));
        let fingerprint = self
            .keys
            .hash_one((d, rec.size, rec.pdq.map(|p| p.hash), &rec.photodna));
        Some(SeenKey {
            key: prefix ^ tag.wrapping_mul(0x9E37_79B9),
            fingerprint,
        })
    }

    /// The medium of an earlier record whose first hash starts alike, and whether every hash
    /// and the size are the same too (compared by a 64-bit fingerprint, keyed at random for
    /// this run; a mismatch, including two hashes that only start alike, is checked against
    /// the database).
    pub(super) fn get(&self, k: SeenKey) -> Option<SeenEntry> {
        let [_, word, lo, hi] = self.slots[self.find(k.key)];
        (word != EMPTY).then(|| {
            let fp = u64::from(lo) | u64::from(hi) << 32;
            SeenEntry {
                id: self.base + i64::from(word & !BLANK),
                same: fp == k.fingerprint,
                blank: word & BLANK != 0,
            }
        })
    }

    /// Remembers the medium `id` of a record whose key is not in the table yet.
    pub(super) fn insert(&mut self, k: SeenKey, id: i64, blank: bool) {
        match u32::try_from(id - self.base) {
            Ok(offset) if offset & BLANK == 0 && self.len < self.capacity() => {
                let fp = k.fingerprint;
                let word = if blank { offset | BLANK } else { offset };
                let i = self.find(k.key);
                debug_assert_eq!(self.slots[i][1], EMPTY, "a key is inserted once");
                self.slots[i] = [k.key, word, fp as u32, (fp >> 32) as u32];
                self.len += 1;
            }
            _ => self.complete = false,
        }
    }
}

/// The top bit of a [`Seen`] entry's first word.
const BLANK: u32 = 1 << 31;

/// What [`Seen`] remembers of a medium: its id, whether the record looked up has the same
/// hashes and size (by fingerprint), and whether the medium's first record was blank.
#[derive(Clone, Copy)]
pub(super) struct SeenEntry {
    pub(super) id: i64,
    pub(super) same: bool,
    pub(super) blank: bool,
}

/// Whether a grade says nothing but the set's own grade: no code (so its category is the set's
/// default for records without one), label, flag, series or tag. Records of formats that carry
/// no grades (NSRL, hashdeep, digest lists...) are all blank, and all alike.
pub(super) fn is_blank(g: &Grade) -> bool {
    g.code.is_none()
        && g.label.is_none()
        && g.flags == Flags::default()
        && g.series.is_none()
        && g.tags.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{Digests, Md5, Sha1};
    use crate::knowndb::write::import_records;
    use crate::knowndb::{Access, KnownDb};

    #[test]
    fn the_duplicate_table_finds_what_it_was_given_until_full() {
        // Keys from a fixed pseudo-random sequence, checked against std's HashMap.
        let mut seen = Seen::new(100, 0);
        let capacity = seen.capacity();
        assert!(capacity >= 700, "{capacity}");
        let mut oracle = std::collections::HashMap::new();
        let mut x: u32 = 12_345;
        while oracle.len() < capacity {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            // Many keys alike in their low bits, so that probes run past each other.
            let key = x & 0xFFF0_0FFF;
            if oracle.contains_key(&key) {
                continue;
            }
            let id = 100 + oracle.len() as i64;
            let blank = key.is_multiple_of(3);
            let k = SeenKey {
                key,
                fingerprint: u64::from(key) * 7,
            };
            assert!(
                seen.get(k).is_none(),
                "key {key:#x} found before its insert"
            );
            seen.insert(k, id, blank);
            oracle.insert(key, (id, blank));
        }
        assert!(seen.complete);
        for (&key, &(id, blank)) in &oracle {
            let e = seen
                .get(SeenKey {
                    key,
                    fingerprint: u64::from(key) * 7,
                })
                .unwrap_or_else(|| panic!("key {key:#x} lost"));
            assert_eq!((e.id, e.blank, e.same), (id, blank, true), "key {key:#x}");
            let other = SeenKey {
                key,
                fingerprint: u64::from(key) * 7 + 1,
            };
            assert!(
                !seen.get(other).unwrap().same,
                "another fingerprint is not the same"
            );
        }
        // Full: the next key is not remembered, and the import is told so.
        let extra = (0..).find(|k| !oracle.contains_key(k)).unwrap();
        let k = SeenKey {
            key: extra,
            fingerprint: 1,
        };
        seen.insert(k, 100 + capacity as i64, false);
        assert!(!seen.complete);
        assert!(seen.get(k).is_none());
    }

    #[test]
    fn files_whose_first_hashes_only_start_alike_stay_apart() {
        // An MD5-only and a SHA-1-only record whose keys in the duplicate map are equal: they
        // give no hash in common, so nothing contradicts a merge, but nothing supports one.
        let seen = Seen::new(1, 0);
        let x = KnownRecord {
            number: 1,
            digests: Digests {
                md5: Some(Md5([0u8; 16])),
                ..Digests::default()
            },
            ..KnownRecord::default()
        };
        let x_key = seen.key(&x).unwrap().key;
        // The SHA-1 whose first four bytes, mixed with the SHA-1 tag, give the same key.
        let mut sha1 = [7u8; 20];
        sha1[..4].copy_from_slice(&(x_key ^ 2u32.wrapping_mul(0x9E37_79B9)).to_le_bytes());
        let y = KnownRecord {
            number: 2,
            digests: Digests {
                sha1: Some(Sha1(sha1)),
                ..Digests::default()
            },
            ..KnownRecord::default()
        };
        assert_eq!(
            seen.key(&y).unwrap().key,
            x_key,
            "the records must meet in the map for this test to mean anything"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut db = KnownDb::open(&dir.path().join("k.db"), Access::Create).unwrap();
        let summary = import_records(&mut db, vec![x, y]);
        assert_eq!(summary.rows_imported, 2, "{summary:?}");
        assert_eq!(summary.hash_conflicts, 0);
    }
}
