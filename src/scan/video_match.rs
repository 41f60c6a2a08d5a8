//! Matching a video's vPDQ against known videos and known images.
//!
//! The semantics are vPDQ's as ThreatExchange's matcher (python-threatexchange
//! `vpdq_brute_matcher`) defines them: each side's frames are deduplicated by hash (the first
//! kept) and those under the quality threshold left out; a frame of one side matches when a
//! frame of the other is within the distance (inclusive); the query match percentage is the
//! share of the query's frames that match, the compared match percentage the share of the known
//! video's. A multi-index over every known frame ([`PdqIndex`]) finds the same pairs a brute
//! comparison would, without comparing every frame with every frame.
//!
//! A query frame may carry a second hash, of the frame with black bars cut off (letterbox or
//! pillarbox added to a copy): it matches when either hash does.

use std::collections::{HashMap, HashSet};

use crate::knowndb::pdq_index::PdqIndex;
use crate::media::pdq::PdqHash;

/// One frame of the video searched for: its hash, that of its picture without black bars when
/// it has them, its quality and time stamp.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueryFrame {
    pub hash: PdqHash,
    pub cropped: Option<PdqHash>,
    pub quality: u8,
    pub seconds: f64,
}

/// Every frame of every known video, indexed.
pub struct KnownFrames {
    index: PdqIndex,
    /// The known video (its position in the list built from) of each indexed frame.
    owner: Vec<u32>,
    /// Each known video's frames after deduplication and the quality threshold: the compared
    /// side's denominator.
    counts: Vec<u32>,
}

impl KnownFrames {
    /// Indexes the frames `(hash, quality)` of each known video, keeping those of quality
    /// `min_quality` or more, each distinct hash of a video once.
    pub fn build<'a>(
        videos: impl IntoIterator<Item = &'a [(PdqHash, u8)]>,
        min_quality: u8,
    ) -> KnownFrames {
        let mut b = KnownFramesBuilder::new(min_quality);
        for frames in videos {
            b.start_video();
            for &(hash, quality) in frames {
                b.add(hash, quality);
            }
        }
        b.finish()
    }

    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }
}

/// [`KnownFrames`] built as the frames are read, video after video.
pub struct KnownFramesBuilder {
    min_quality: u8,
    hashes: Vec<PdqHash>,
    owner: Vec<u32>,
    counts: Vec<u32>,
    /// The hashes of the current video so far.
    seen: HashSet<PdqHash>,
}

impl KnownFramesBuilder {
    pub fn new(min_quality: u8) -> KnownFramesBuilder {
        KnownFramesBuilder {
            min_quality,
            hashes: Vec::new(),
            owner: Vec::new(),
            counts: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// The frames added next are another known video's (numbered from 0 in this order).
    pub fn start_video(&mut self) {
        self.counts.push(0);
        self.seen.clear();
    }

    /// A frame of the current video: kept when of the quality wanted and new in its video.
    pub fn add(&mut self, hash: PdqHash, quality: u8) {
        let Some(video) = self.counts.len().checked_sub(1) else {
            return;
        };
        // As the reference: deduplicated first (the first frame of a hash stands for it), then
        // the quality threshold.
        if !self.seen.insert(hash) || quality < self.min_quality {
            return;
        }
        self.hashes.push(hash);
        self.owner.push(video as u32);
        self.counts[video] += 1;
    }

    pub fn finish(self) -> KnownFrames {
        let ids = (0..self.hashes.len() as u32).collect();
        KnownFrames {
            index: PdqIndex::from_parts(ids, self.hashes),
            owner: self.owner,
            counts: self.counts,
        }
    }
}

/// A known video a query matches.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoMatch {
    /// Its position in the list [`KnownFrames`] was built from.
    pub video: u32,
    /// Of the query's frames, the share that match one of the known video's (0-100).
    pub query_percent: f64,
    /// Of the known video's frames, the share that match one of the query's (0-100).
    pub compared_percent: f64,
    /// The stretches of the query (first and last time stamp, seconds) whose frames match.
    pub ranges: Vec<(f64, f64)>,
    /// The nearest distance of any matching pair.
    pub nearest: u32,
}

/// A known image one or more frames of a query are near.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageMatch {
    /// The id the image index holds (a medium id).
    pub id: u32,
    pub nearest: u32,
    /// The stretches of the query where frames are near it.
    pub ranges: Vec<(f64, f64)>,
}

/// The query's frames as the matcher takes them: deduplicated by hash (first kept), those under
/// `min_quality` left out.
fn filtered(query: &[QueryFrame], min_quality: u8) -> Vec<&QueryFrame> {
    let mut seen = HashSet::new();
    query
        .iter()
        .filter(|f| seen.insert(f.hash) && f.quality >= min_quality)
        .collect()
}

/// For each filtered query frame, what `index` holds within `max_distance` of it (either of its
/// hashes), with the distance: the nearest per id.
fn near(index: &PdqIndex, frames: &[&QueryFrame], max_distance: u32) -> Vec<HashMap<u32, u32>> {
    frames
        .iter()
        .map(|f| {
            let mut found: HashMap<u32, u32> = HashMap::new();
            for hash in std::iter::once(&f.hash).chain(f.cropped.as_ref()) {
                for n in index.within(hash, max_distance) {
                    let d = found.entry(n.id).or_insert(n.distance);
                    *d = (*d).min(n.distance);
                }
            }
            found
        })
        .collect()
}

/// The stretches of consecutive matching frames: `hit[i]` says whether filtered frame `i`
/// matches.
fn ranges(frames: &[&QueryFrame], hit: impl Fn(usize) -> bool) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut open = false;
    for (i, f) in frames.iter().enumerate() {
        if hit(i) {
            match out.last_mut() {
                Some(r) if open => r.1 = f.seconds,
                _ => out.push((f.seconds, f.seconds)),
            }
            open = true;
        } else {
            open = false;
        }
    }
    out
}

/// The known videos `query` matches, with vPDQ's two percentages, those where either reaches
/// `min_percent`, highest query percentage first.
pub fn match_videos(
    known: &KnownFrames,
    query: &[QueryFrame],
    max_distance: u32,
    min_quality: u8,
    min_percent: f64,
) -> Vec<VideoMatch> {
    let frames = filtered(query, min_quality);
    if frames.is_empty() || known.is_empty() {
        return Vec::new();
    }
    let hits = near(&known.index, &frames, max_distance);
    // Per known video: the query frames that match it, its frames matched, the nearest pair.
    struct Tally {
        query: Vec<bool>,
        known: HashSet<u32>,
        nearest: u32,
    }
    let mut tallies: HashMap<u32, Tally> = HashMap::new();
    for (i, found) in hits.iter().enumerate() {
        for (&frame, &distance) in found {
            let video = known.owner[frame as usize];
            let t = tallies.entry(video).or_insert_with(|| Tally {
                query: vec![false; frames.len()],
                known: HashSet::new(),
                nearest: distance,
            });
            t.query[i] = true;
            t.known.insert(frame);
            t.nearest = t.nearest.min(distance);
        }
    }
    let mut out: Vec<VideoMatch> = tallies
        .into_iter()
        .map(|(video, t)| {
            let q = t.query.iter().filter(|h| **h).count();
            VideoMatch {
                video,
                query_percent: q as f64 * 100.0 / frames.len() as f64,
                compared_percent: t.known.len() as f64 * 100.0
                    / f64::from(known.counts[video as usize].max(1)),
                ranges: ranges(&frames, |i| t.query[i]),
                nearest: t.nearest,
            }
        })
        .filter(|m| m.query_percent.max(m.compared_percent) >= min_percent)
        .collect();
    out.sort_by(|a, b| {
        b.query_percent
            .total_cmp(&a.query_percent)
            .then(b.compared_percent.total_cmp(&a.compared_percent))
            .then(a.video.cmp(&b.video))
    });
    out
}

/// The known images (in `images`, ids as it holds them) that some frame of `query` is within
/// `max_distance` of, nearest first.
pub fn match_images(
    images: &PdqIndex,
    query: &[QueryFrame],
    max_distance: u32,
    min_quality: u8,
) -> Vec<ImageMatch> {
    let frames = filtered(query, min_quality);
    let hits = near(images, &frames, max_distance);
    let mut ids: Vec<u32> = hits.iter().flat_map(|h| h.keys().copied()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out: Vec<ImageMatch> = ids
        .into_iter()
        .map(|id| ImageMatch {
            id,
            nearest: hits
                .iter()
                .filter_map(|h| h.get(&id))
                .copied()
                .min()
                .unwrap_or(0),
            ranges: ranges(&frames, |i| hits[i].contains_key(&id)),
        })
        .collect();
    out.sort_by_key(|m| (m.nearest, m.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash from `seed`, and one `bits` away from it.
    fn hash(seed: u64) -> PdqHash {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut w = [0u16; 16];
        for v in &mut w {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *v = x as u16;
        }
        PdqHash(w)
    }

    fn flip(h: PdqHash, bits: usize) -> PdqHash {
        let mut w = h.0;
        for b in 0..bits {
            w[b % 16] ^= 1 << (b / 16);
        }
        PdqHash(w)
    }

    fn frame(hash: PdqHash, quality: u8, seconds: f64) -> QueryFrame {
        QueryFrame {
            hash,
            cropped: None,
            quality,
            seconds,
        }
    }

    /// The matcher's percentages by brute force, as python-threatexchange computes them.
    fn brute(q: &[(PdqHash, u8)], t: &[(PdqHash, u8)], d: u32, min_q: u8) -> (f64, f64) {
        let keep = |v: &[(PdqHash, u8)]| {
            let mut seen = HashSet::new();
            v.iter()
                .filter(|(h, qu)| seen.insert(*h) && *qu >= min_q)
                .map(|(h, _)| *h)
                .collect::<Vec<_>>()
        };
        let (q, t) = (keep(q), keep(t));
        let count = |a: &[PdqHash], b: &[PdqHash]| {
            a.iter()
                .filter(|x| b.iter().any(|y| x.distance(y) <= d))
                .count() as f64
        };
        (
            count(&q, &t) * 100.0 / q.len() as f64,
            count(&t, &q) * 100.0 / t.len() as f64,
        )
    }

    #[test]
    fn percentages_are_the_brute_force_matchers() {
        // A known video of 20 frames; the query: its frames 5..20 re-encoded (a few bits
        // off), a repeat, a frame of low quality, and 5 frames of its own.
        let known: Vec<(PdqHash, u8)> = (0..20).map(|i| (hash(i), 90)).collect();
        let mut query: Vec<QueryFrame> = (5..20)
            .map(|i| frame(flip(hash(i), (i % 9) as usize * 3), 80, i as f64))
            .collect();
        query.push(query[0]);
        query.push(frame(flip(hash(3), 2), 10, 30.0));
        query.extend((100..105).map(|i| frame(hash(i), 80, i as f64)));
        let other: Vec<(PdqHash, u8)> = (200..210).map(|i| (hash(i), 90)).collect();
        let index = KnownFrames::build([&other[..], &known[..]], 50);
        let found = match_videos(&index, &query, 31, 50, 0.0);
        assert_eq!(found.len(), 1, "{found:?}");
        let pairs: Vec<(PdqHash, u8)> = query.iter().map(|f| (f.hash, f.quality)).collect();
        let (q, t) = brute(&pairs, &known, 31, 50);
        assert_eq!(found[0].video, 1);
        assert!((found[0].query_percent - q).abs() < 1e-9, "{found:?} {q}");
        assert!(
            (found[0].compared_percent - t).abs() < 1e-9,
            "{found:?} {t}"
        );
        assert_eq!(found[0].ranges, vec![(5.0, 19.0)]);
        // Under the threshold on both sides: not reported.
        assert!(match_videos(&index, &query, 31, 50, 80.0).is_empty());
    }

    #[test]
    fn a_frame_matches_through_its_cropped_hash_and_images_are_found_with_their_times() {
        let known: Vec<(PdqHash, u8)> = (0..4).map(|i| (hash(i), 90)).collect();
        let query: Vec<QueryFrame> = (0..4)
            .map(|i| QueryFrame {
                hash: hash(50 + i),
                cropped: Some(flip(hash(i), 5)),
                quality: 90,
                seconds: i as f64,
            })
            .collect();
        let index = KnownFrames::build([&known[..]], 50);
        let found = match_videos(&index, &query, 31, 50, 80.0);
        assert_eq!(
            (found[0].query_percent, found[0].compared_percent),
            (100.0, 100.0)
        );
        assert_eq!(found[0].nearest, 5);

        // A known image shown at seconds 1-2 and 4 of a five-frame video.
        let images = PdqIndex::build([(7, hash(900)), (8, hash(901))]);
        let times = [
            hash(1),
            flip(hash(900), 3),
            flip(hash(900), 9),
            hash(2),
            hash(900),
        ];
        let query: Vec<QueryFrame> = times
            .iter()
            .enumerate()
            .map(|(i, h)| frame(*h, 90, i as f64))
            .collect();
        let found = match_images(&images, &query, 31, 50);
        assert_eq!(
            found,
            vec![ImageMatch {
                id: 7,
                nearest: 0,
                ranges: vec![(1.0, 2.0), (4.0, 4.0)],
            }]
        );
    }
}
