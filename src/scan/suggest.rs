//! PDQ suggestions: the known images near each image no exact hash graded.

use std::collections::HashMap;
use std::time::Duration;

use crate::cancel::Cancel;
use crate::knowndb::pdq_index::PdqIndex;
use crate::knowndb::read::MediaView;
use crate::knowndb::{DbError, KnownDb};
use crate::media::pdq::{PdqHash, Transform};
use crate::progress::{Counters, Step};
use crate::read::{ItemError, Stage};
use crate::record::Item;

use super::options::{MAX_SUGGESTIONS, PdqMatching};
use super::result::{Grading, PdqMatch};

/// Searches the known PDQ hashes for every image no exact hash graded (quality high enough;
/// each distinct set of dihedral hashes once, on `threads` threads) and records what the near
/// ones propose. Without an index (the scan was interrupted before), or when interrupted
/// during the search, the images that were to be searched are marked interrupted: not
/// searched is not "nothing near".
#[allow(clippy::too_many_arguments)]
pub(super) fn suggest(
    db: &KnownDb,
    index: Option<&(PdqIndex, Duration)>,
    settings: PdqMatching,
    threads: usize,
    items: &mut [Item],
    gradings: &mut [Grading],
    lists: &mut Vec<Vec<PdqMatch>>,
    cancel: &Cancel,
    counters: &Counters,
) -> Result<Search, DbError> {
    use rayon::prelude::*;
    // The images to search, and their distinct dihedral hashes. Two images may share their
    // first hash and not the others (each is cut at its own transform's median), so all
    // eight are the key.
    let mut distinct: HashMap<[PdqHash; 8], u32> = HashMap::new();
    let mut queries: Vec<[PdqHash; 8]> = Vec::new();
    let mut searched: Vec<(usize, u32)> = Vec::new();
    for (i, (item, g)) in items.iter().zip(gradings.iter()).enumerate() {
        let Some(image) = &item.image else { continue };
        let (Ok(pdq), Some(all)) = (&image.pdq, &image.dihedral) else {
            continue;
        };
        // Quality 0 is a flat image or one under 5 pixels: its hash is all zeros or noise.
        let too_poor = pdq.quality == 0 || pdq.quality < settings.min_quality;
        if g.category.is_some() || too_poor || item.error.is_some() {
            continue;
        }
        let q = *distinct.entry(**all).or_insert_with(|| {
            queries.push(**all);
            (queries.len() - 1) as u32
        });
        searched.push((i, q));
    }
    let not_searched = |items: &mut [Item]| {
        for &(i, _) in &searched {
            items[i].error = Some(ItemError::new(
                Stage::Interrupted,
                "not searched among the known PDQ hashes: the scan was interrupted".into(),
            ));
        }
        Search::default()
    };
    let Some((index, _)) = index.filter(|_| !cancel.is_cancelled()) else {
        return Ok(not_searched(items));
    };
    counters.start_step(Step::PdqSearch, queries.len() as u64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| DbError::Corrupt {
            path: db.path().to_owned(),
            reason: format!("cannot start the PDQ search threads: {e}"),
        })?;
    let found: Vec<Vec<(u32, u32, Transform)>> = pool.install(|| {
        queries
            .par_iter()
            .map(|all| {
                counters.add_step(1);
                if cancel.is_cancelled() {
                    return Vec::new();
                }
                nearest(index, all, settings.max_distance)
            })
            .collect()
    });
    if cancel.is_cancelled() {
        return Ok(not_searched(items));
    }
    // Each known medium found is read once, however many images it is near.
    let mut media: HashMap<u32, MediaView> = HashMap::new();
    let mut list_of: Vec<u32> = vec![0; found.len()];
    for (q, near) in found.iter().enumerate() {
        if near.is_empty() {
            continue;
        }
        let mut list = Vec::with_capacity(near.len());
        for &(id, distance, transform) in near {
            let medium = match media.get(&id) {
                Some(m) => m.clone(),
                None => {
                    let m = db.medium(i64::from(id))?;
                    media.insert(id, m.clone());
                    m
                }
            };
            list.push(PdqMatch {
                distance,
                transform,
                medium,
            });
        }
        lists.push(list);
        list_of[q] = (lists.len() - 1) as u32;
    }
    for &(i, q) in &searched {
        let list = list_of[q as usize];
        gradings[i].suggestions = list;
        // The most severe grade of any near known image: a milder one nearer does not hide
        // it (the examiner confirms either way, and sees the nearest first).
        gradings[i].suggested = lists[list as usize]
            .iter()
            .flat_map(|m| m.medium.grades.iter().map(|g| g.category))
            .min();
    }
    Ok(Search {
        searched: searched.len() as u64,
        distinct: queries.len() as u64,
        completed: true,
    })
}

/// What [`suggest`] did: images searched and their distinct hashes (0 when it did not run to
/// its end), and whether it did.
#[derive(Default)]
pub(super) struct Search {
    pub(super) searched: u64,
    pub(super) distinct: u64,
    pub(super) completed: bool,
}

/// The known hashes within `max_distance` of any of an image's eight dihedral hashes, each
/// medium once at its nearest (and the transform that brought it there), nearest first, at
/// most [`MAX_SUGGESTIONS`]: (medium id, distance, transform).
fn nearest(index: &PdqIndex, all: &[PdqHash; 8], max_distance: u32) -> Vec<(u32, u32, Transform)> {
    let mut best: HashMap<u32, (u32, Transform)> = HashMap::new();
    for (hash, transform) in all.iter().zip(Transform::ALL) {
        for n in index.within(hash, max_distance) {
            let entry = best.entry(n.id).or_insert((n.distance, transform));
            if n.distance < entry.0 {
                *entry = (n.distance, transform);
            }
        }
    }
    let mut near: Vec<(u32, u32, Transform)> =
        best.into_iter().map(|(id, (d, t))| (id, d, t)).collect();
    near.sort_unstable_by_key(|&(id, d, t)| (d, t as u8, id));
    near.truncate(MAX_SUGGESTIONS);
    near
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*, for reproducible random hashes.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn hash(&mut self) -> [u8; 32] {
            let mut b = [0u8; 32];
            for chunk in b.chunks_mut(8) {
                chunk.copy_from_slice(&self.next().to_le_bytes());
            }
            b
        }

        /// `bytes` with `bits` distinct bits flipped.
        fn near(&mut self, bytes: [u8; 32], bits: u32) -> [u8; 32] {
            let mut b = bytes;
            let mut flipped = std::collections::BTreeSet::new();
            while flipped.len() < bits as usize {
                flipped.insert((self.next() % 256) as usize);
            }
            for bit in flipped {
                b[bit / 8] ^= 1 << (bit % 8);
            }
            b
        }
    }

    fn bits_apart(a: &[u8; 32], b: &[u8; 32]) -> u32 {
        a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
    }

    /// What `nearest` must answer, by comparing every known hash with every transform's hash:
    /// each medium at its least distance (the first transform to reach it), within the limit,
    /// by distance, transform and id, at most eight.
    fn brute_force(
        known: &[(u32, [u8; 32])],
        query: &[[u8; 32]; 8],
        max: u32,
    ) -> Vec<(u32, u32, Transform)> {
        let mut best: Vec<(u32, u32, Transform)> = Vec::new();
        for &(id, k) in known {
            let mut nearest: Option<(u32, Transform)> = None;
            for (q, t) in query.iter().zip(Transform::ALL) {
                let d = bits_apart(q, &k);
                if nearest.is_none_or(|(n, _)| d < n) {
                    nearest = Some((d, t));
                }
            }
            let (d, t) = nearest.unwrap();
            if d <= max {
                match best.iter_mut().find(|e| e.0 == id) {
                    Some(e) if (d, t as u8) < (e.1, e.2 as u8) => *e = (id, d, t),
                    Some(_) => {}
                    None => best.push((id, d, t)),
                }
            }
        }
        best.sort_by_key(|&(id, d, t)| (d, t as u8, id));
        best.truncate(MAX_SUGGESTIONS);
        best
    }

    #[test]
    fn the_nearest_known_images_by_any_transform_each_once_nearest_first() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..20 {
            let query: [[u8; 32]; 8] = std::array::from_fn(|_| rng.hash());
            let mut known: Vec<(u32, [u8; 32])> = (0..300).map(|i| (i, rng.hash())).collect();
            // Near copies of several transforms' hashes, some media twice (two hashes, as a
            // medium found through two transforms), and more near ones than are reported.
            let mut id = 1000;
            for (t, &q) in query.iter().enumerate() {
                for bits in [0, 3, 9, 17, 31, 32, 40] {
                    known.push((id, rng.near(q, bits + round % 3)));
                    if t % 3 == 0 {
                        known.push((id, rng.near(query[(t + 1) % 8], bits + 1)));
                    }
                    id += 1;
                }
            }
            let index = PdqIndex::build(known.iter().map(|&(id, b)| (id, PdqHash::from_bytes(&b))));
            let all: [PdqHash; 8] = std::array::from_fn(|i| PdqHash::from_bytes(&query[i]));
            for max in [0, 8, 31, 32, 64] {
                assert_eq!(
                    nearest(&index, &all, max),
                    brute_force(&known, &query, max),
                    "round {round}, within {max} bits"
                );
            }
        }
        let empty = PdqIndex::build(std::iter::empty());
        let all = [PdqHash::from_bytes(&[0; 32]); 8];
        assert!(nearest(&empty, &all, 64).is_empty());
    }
}
