//! Near-neighbour search over known PDQ hashes: a multi-index of the 256 bits cut into 16 slots
//! of 16 bits (Norouzi, Punjani and Fleet's multi-index hashing, as ThreatExchange's PDQ
//! tools use it).
//!
//! Two hashes within distance `d` differ in at most `d / 16` bits in at least one slot (16
//! slots each differing in more would make at least `16 * (d / 16 + 1) > d` bits), so probing
//! every slot's value and its variants within that many bits finds every hash within `d`,
//! and only those are kept after a whole-hash distance check. At the usual `d = 31` that is 17
//! probes per slot.
//!
//! Memory: per slot, a table of where each of the 65,536 values begins (256 KiB) and one 4-byte
//! entry per hash; with the hashes themselves, 96 bytes per known hash (96 MB at a million).

use crate::media::pdq::PdqHash;

/// The known hashes, and for each slot their positions ordered by that slot's value.
pub struct PdqIndex {
    hashes: Vec<PdqHash>,
    /// A caller's id for each hash (a medium id).
    ids: Vec<u32>,
    slots: Vec<Slot>,
}

struct Slot {
    /// `starts[v]..starts[v + 1]` are the entries whose slot value is `v`.
    starts: Vec<u32>,
    entries: Vec<u32>,
}

/// A known hash within the distance asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Neighbour {
    pub distance: u32,
    pub id: u32,
}

impl PdqIndex {
    /// Indexes `(id, hash)` pairs.
    ///
    /// # Panics
    /// With more than 2^32 hashes.
    pub fn build(pairs: impl IntoIterator<Item = (u32, PdqHash)>) -> PdqIndex {
        let (ids, hashes): (Vec<u32>, Vec<PdqHash>) = pairs.into_iter().unzip();
        PdqIndex::from_parts(ids, hashes)
    }

    /// [`PdqIndex::build`] from the ids and hashes in two lists of one length (taken as they
    /// are, not copied).
    pub fn from_parts(ids: Vec<u32>, hashes: Vec<PdqHash>) -> PdqIndex {
        assert_eq!(ids.len(), hashes.len(), "an id for every hash");
        let n = u32::try_from(hashes.len()).expect("at most 2^32 hashes");
        let slots = (0..16)
            .map(|s| {
                // A counting sort by the slot's value.
                let mut starts = vec![0u32; 65_537];
                for h in &hashes {
                    starts[h.0[s] as usize + 1] += 1;
                }
                for v in 0..65_536 {
                    starts[v + 1] += starts[v];
                }
                let mut next = starts.clone();
                let mut entries = vec![0u32; hashes.len()];
                for (i, h) in (0..n).zip(&hashes) {
                    let v = h.0[s] as usize;
                    entries[next[v] as usize] = i;
                    next[v] += 1;
                }
                Slot { starts, entries }
            })
            .collect();
        PdqIndex { hashes, ids, slots }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Every known hash within `max_distance` of `hash`, nearest first (ties by id), each once.
    pub fn within(&self, hash: &PdqHash, max_distance: u32) -> Vec<Neighbour> {
        let masks = masks(max_distance / 16);
        // The candidates first (each bucket's entries are contiguous), then their distances
        // with the hashes fetched some candidates ahead: each is a cache miss of its own, and
        // several in flight at once cost little more than one.
        let mut candidates: Vec<u32> = Vec::new();
        for (s, slot) in self.slots.iter().enumerate() {
            let value = hash.0[s];
            for &mask in &masks {
                let probe = (value ^ mask) as usize;
                let range = slot.starts[probe] as usize..slot.starts[probe + 1] as usize;
                candidates.extend_from_slice(&slot.entries[range]);
            }
        }
        const AHEAD: usize = 16;
        let mut found: Vec<Neighbour> = Vec::new();
        for (k, &entry) in candidates.iter().enumerate() {
            if let Some(&later) = candidates.get(k + AHEAD) {
                self.prefetch(later);
            }
            let distance = self.hashes[entry as usize].distance(hash);
            if distance <= max_distance {
                found.push(Neighbour {
                    distance,
                    id: self.ids[entry as usize],
                });
            }
        }
        found.sort_unstable();
        found.dedup_by_key(|n| n.id);
        found
    }

    /// Asks the CPU to fetch a candidate's hash ahead of its distance.
    fn prefetch(&self, entry: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            let h: *const PdqHash = &self.hashes[entry as usize];
            // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault, and the
            // pointer is to a live element anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    h.cast::<i8>(),
                );
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = entry;
    }
}

/// Every 16-bit mask with at most `radius` bits set (the probe offsets of one slot): 17 of
/// them for radius 1, 137 for 2.
fn masks(radius: u32) -> Vec<u16> {
    fn extend(out: &mut Vec<u16>, mask: u16, from: u32, left: u32) {
        out.push(mask);
        if left == 0 {
            return;
        }
        for bit in from..16 {
            extend(out, mask | (1 << bit), bit + 1, left - 1);
        }
    }
    let mut out = Vec::new();
    extend(&mut out, 0, 0, radius.min(16));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn hash(&mut self) -> PdqHash {
            PdqHash(std::array::from_fn(|_| self.next() as u16))
        }
        /// `h` with `k` distinct bits flipped.
        fn flip(&mut self, h: PdqHash, k: u32) -> PdqHash {
            let mut out = h;
            let mut flipped = 0;
            while flipped < k {
                let bit = (self.next() % 256) as usize;
                let before = out;
                out.0[bit / 16] ^= 1 << (bit % 16);
                if out.distance(&h) > before.distance(&h) {
                    flipped += 1;
                } else {
                    out = before;
                }
            }
            out
        }
    }

    /// The index against a brute-force scan, with near copies planted at every distance up to
    /// and just past the limit, and bits flipped together in one slot (the pigeonhole's edge).
    #[test]
    fn finds_exactly_what_a_brute_force_scan_finds() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut known: Vec<(u32, PdqHash)> = (0..20_000u32).map(|i| (i, rng.hash())).collect();
        let queries: Vec<PdqHash> = (0..40).map(|_| rng.hash()).collect();
        let mut id = 1_000_000;
        for q in &queries {
            for d in [0, 1, 2, 15, 16, 17, 30, 31, 32, 33, 40, 47, 48] {
                known.push((id, rng.flip(*q, d)));
                id += 1;
            }
            // 31 bits spread 2, 2, ..., 2, 1 over the slots: only the last slot is within 1.
            let mut spread = *q;
            for s in 0..16 {
                spread.0[s] ^= if s == 15 { 0b1 } else { 0b11 };
            }
            known.push((id, spread));
            id += 1;
        }
        let index = PdqIndex::build(known.iter().copied());
        for max in [0, 10, 31, 47] {
            for q in &queries {
                let mut expected: Vec<Neighbour> = known
                    .iter()
                    .map(|(id, h)| Neighbour {
                        distance: h.distance(q),
                        id: *id,
                    })
                    .filter(|n| n.distance <= max)
                    .collect();
                expected.sort_unstable();
                assert_eq!(index.within(q, max), expected, "distance {max}");
            }
        }
    }

    #[test]
    fn masks_are_every_value_within_the_radius_once() {
        for radius in 0..=3 {
            let mut got = masks(radius);
            got.sort_unstable();
            let expected: Vec<u16> = (0..=u16::MAX)
                .filter(|m| m.count_ones() <= radius)
                .collect();
            assert_eq!(got, expected, "radius {radius}");
        }
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        let index = PdqIndex::build(std::iter::empty());
        assert!(index.is_empty());
        assert!(index.within(&PdqHash::default(), 31).is_empty());
    }

    /// The oracle: the popcount of the XOR of two hashes, word by word, written here rather
    /// than taken from [`PdqHash::distance`].
    fn popcount_xor(a: &PdqHash, b: &PdqHash) -> u32 {
        let mut bits = 0;
        for (x, y) in a.0.iter().zip(&b.0) {
            bits += (x ^ y).count_ones();
        }
        bits
    }

    /// `h` with `k` bits flipped, at distinct positions drawn by a partial Fisher-Yates shuffle
    /// of the 256 (so no bit is flipped back, whatever the draws).
    fn flip_distinct(rng: &mut Rng, h: PdqHash, k: usize) -> PdqHash {
        let mut positions: Vec<usize> = (0..256).collect();
        let mut out = h;
        for i in 0..k {
            let j = i + (rng.next() % (256 - i) as u64) as usize;
            positions.swap(i, j);
            let bit = positions[i];
            out.0[bit / 16] ^= 1 << (bit % 16);
        }
        out
    }

    /// `h` with `k` bits flipped as evenly as the 16 slots allow (`k / 16` in each, one more in
    /// `k % 16` slots drawn at random), at random distinct positions within each slot: no slot
    /// differs in fewer than `k / 16` bits, the pigeonhole's edge the probes must still reach.
    fn spread_distinct(rng: &mut Rng, h: PdqHash, k: usize) -> PdqHash {
        let mut slots: Vec<usize> = (0..16).collect();
        for i in 0..16 {
            let j = i + (rng.next() % (16 - i) as u64) as usize;
            slots.swap(i, j);
        }
        let mut out = h;
        for (rank, &slot) in slots.iter().enumerate() {
            let count = k / 16 + usize::from(rank < k % 16);
            let mut bits: Vec<u16> = (0..16).collect();
            for i in 0..count {
                let j = i + (rng.next() % (16 - i) as u64) as usize;
                bits.swap(i, j);
                out.0[slot] ^= 1 << bits[i];
            }
        }
        out
    }

    /// What the index must answer, by a scan of every entry: each within `max` once, nearest
    /// first, ties by id.
    fn brute_force(known: &[(u32, PdqHash)], query: &PdqHash, max: u32) -> Vec<Neighbour> {
        let mut found: Vec<Neighbour> = known
            .iter()
            .map(|(id, h)| Neighbour {
                distance: popcount_xor(h, query),
                id: *id,
            })
            .filter(|n| n.distance <= max)
            .collect();
        found.sort_by_key(|n| (n.distance, n.id));
        found
    }

    /// What `within` promises of any answer, said on its own: within the limit, nearest first,
    /// ties by ascending id, no id twice.
    fn assert_ordered_and_once(found: &[Neighbour], max: u32) {
        assert!(found.iter().all(|n| n.distance <= max), "{found:?}");
        for pair in found.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(
                a.distance < b.distance || (a.distance == b.distance && a.id < b.id),
                "out of order or twice: {a:?} then {b:?}"
            );
        }
    }

    /// Near copies planted at distances on each side of the slot width (16) and its multiples,
    /// among a few thousand random hashes, each distance twice: bits flipped anywhere, and bits
    /// spread evenly over the slots. Searched at limits equal to each planted distance and
    /// others, a copy is found exactly when its distance is at most the limit, as a scan finds.
    #[test]
    fn copies_are_found_exactly_up_to_a_limit_equal_to_their_distance() {
        const PLANTED: [u32; 9] = [0, 1, 15, 16, 17, 31, 32, 63, 64];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut known: Vec<(u32, PdqHash)> = (0..3_000u32).map(|i| (i, rng.hash())).collect();
        let queries: Vec<PdqHash> = (0..12).map(|_| rng.hash()).collect();
        // planted[q]: (distance, id) of each of query q's copies. Ids count down, so that
        // insertion order and id order differ for the two copies at one distance.
        let mut id = 900_000u32;
        let mut planted: Vec<Vec<(u32, u32)>> = vec![Vec::new(); queries.len()];
        for (q, query) in queries.iter().enumerate() {
            for d in PLANTED {
                let anywhere = flip_distinct(&mut rng, *query, d as usize);
                let spread = spread_distinct(&mut rng, *query, d as usize);
                let fewest = (0..16)
                    .map(|s| (spread.0[s] ^ query.0[s]).count_ones())
                    .min();
                assert_eq!(
                    fewest,
                    Some(d / 16),
                    "no slot nearer than the pigeonhole says"
                );
                for copy in [anywhere, spread] {
                    assert_eq!(popcount_xor(&copy, query), d, "the planting itself");
                    known.push((id, copy));
                    planted[q].push((d, id));
                    id -= 1;
                }
            }
        }
        let index = PdqIndex::build(known.iter().copied());
        assert_eq!(index.len(), known.len());
        for max in PLANTED.into_iter().chain([2, 30, 47, 48]) {
            for (q, query) in queries.iter().enumerate() {
                let found = index.within(query, max);
                assert_eq!(
                    found,
                    brute_force(&known, query, max),
                    "query {q}, limit {max}"
                );
                assert_ordered_and_once(&found, max);
                for &(distance, id) in &planted[q] {
                    assert_eq!(
                        found.contains(&Neighbour { distance, id }),
                        distance <= max,
                        "query {q}: copy {id} at {distance} with the limit at {max}"
                    );
                }
            }
        }
    }

    /// One hash known under several ids (the same image in several media), next to near copies
    /// of it: each id is found, once, and equal distances come in id order whatever the order
    /// of insertion.
    #[test]
    fn duplicates_of_one_hash_are_each_found_under_their_own_id() {
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        let h = rng.hash();
        let mut known: Vec<(u32, PdqHash)> = Vec::new();
        let duplicates = [90u32, 7, 7_000, 55];
        for (k, &id) in duplicates.iter().enumerate() {
            // Spread among random hashes: not neighbours in the order of insertion.
            known.extend((0..500u32).map(|i| (10_000 + 500 * k as u32 + i, rng.hash())));
            known.push((id, h));
        }
        let near_1 = flip_distinct(&mut rng, h, 1);
        let near_16 = flip_distinct(&mut rng, h, 16);
        known.extend([(3, near_1), (8, near_16), (2, near_16)]);
        let index = PdqIndex::build(known.iter().copied());

        let exact = index.within(&h, 0);
        let ids: Vec<u32> = exact.iter().map(|n| n.id).collect();
        assert_eq!(ids, [7, 55, 90, 7_000]);
        assert!(exact.iter().all(|n| n.distance == 0), "{exact:?}");
        let near_h = flip_distinct(&mut rng, h, 5);
        for query in [h, near_1, near_16, near_h] {
            for max in [0, 1, 5, 15, 16, 17, 31, 64] {
                let found = index.within(&query, max);
                assert_eq!(found, brute_force(&known, &query, max), "limit {max}");
                assert_ordered_and_once(&found, max);
            }
        }
        // From the copy at 16: the other copy at 0 and the duplicates all at 16, in id order.
        let found = index.within(&near_16, 16);
        let at = |d: u32| -> Vec<u32> {
            found
                .iter()
                .filter(|n| n.distance == d)
                .map(|n| n.id)
                .collect()
        };
        assert_eq!(at(0), [2, 8]);
        assert_eq!(at(16), [7, 55, 90, 7_000]);
    }

    /// The widest limits: 256 and beyond probe every value of every slot and find every entry
    /// once, the query's complement (every bit differs) only from 256 on; an empty index finds
    /// nothing at any limit.
    #[test]
    fn the_widest_limits_find_every_entry_once_and_an_empty_index_nothing() {
        let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
        let query = rng.hash();
        let mut known: Vec<(u32, PdqHash)> = (0..60u32).map(|i| (i * 3 % 61, rng.hash())).collect();
        known.push((1_000, known[5].1));
        let complement = PdqHash(query.0.map(|w| !w));
        known.push((2_000, complement));
        let index = PdqIndex::build(known.iter().copied());
        for max in [255, 256, 257, u32::MAX] {
            let found = index.within(&query, max);
            assert_eq!(found, brute_force(&known, &query, max), "limit {max}");
            assert_ordered_and_once(&found, max);
            let far = Neighbour {
                distance: 256,
                id: 2_000,
            };
            assert_eq!(found.contains(&far), max >= 256, "limit {max}");
            if max >= 256 {
                assert_eq!(found.len(), known.len(), "limit {max}");
            }
        }

        let empty = PdqIndex::build(std::iter::empty());
        assert_eq!(empty.len(), 0);
        for max in [0, 1, 16, 31, 64, 256, u32::MAX] {
            for query in [PdqHash::default(), query, complement] {
                assert!(empty.within(&query, max).is_empty(), "limit {max}");
            }
        }
    }
}
