//! PDQ suggestions: the known images near each image no exact hash graded.

use std::collections::HashMap;
use std::time::Duration;

use crate::cancel::Cancel;
use crate::knowndb::pdq_index::PdqIndex;
use crate::knowndb::read::MediaView;
use crate::knowndb::{DbError, KnownDb};
use crate::media::pdq::{PdqHash, Transform};
use crate::progress::Counters;
use crate::record::{Item, ItemError, Stage};

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
    counters.start_step("images searched by PDQ", queries.len() as u64);
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
