//! vPDQ suggestions: the known videos each video no exact hash graded matches, and the known
//! images some of its frames show ([`super::video_match`]).

use std::collections::HashMap;
use std::sync::Arc;

use crate::cancel::Cancel;
use crate::knowndb::pdq_index::PdqIndex;
use crate::knowndb::read::MediaView;
use crate::knowndb::{DbError, KnownDb};
use crate::media::video::VideoHash;
use crate::record::Item;

use super::options::PdqMatching;
use super::result::{Grading, VideoFindings, VideoSearch};
use super::video_match::{KnownFramesBuilder, QueryFrame, match_images, match_videos};

/// A video suggests the category of a known video when either of vPDQ's two percentages
/// reaches this: most of the query is the known video (a copy, a re-encode, a trimmed copy),
/// or most of the known video is in the query (a compilation holding it).
pub const MIN_PERCENT: f64 = 80.0;

/// Matches every video no exact hash graded (each distinct vPDQ once) against the known videos
/// and, when `images` is given, the known images; sets each one's suggested category (the most
/// severe grade of what it matches) and returns what each matched, by item index.
pub(super) fn suggest_videos(
    db: &KnownDb,
    images: Option<&PdqIndex>,
    settings: PdqMatching,
    items: &[Item],
    gradings: &mut [Grading],
    cancel: &Cancel,
) -> Result<(Suggested, Option<VideoSearch>), DbError> {
    let began = std::time::Instant::now();
    let wanted: Vec<usize> = (0..items.len())
        .filter(|&i| {
            gradings[i].category.is_none()
                && items[i].error.is_none()
                && items[i]
                    .video
                    .as_ref()
                    .is_some_and(|v| !v.frames.is_empty())
        })
        .collect();
    if wanted.is_empty() {
        return Ok((Vec::new(), None));
    }
    // The known videos' medium ids, in the order the index numbers them.
    let mut known_videos: Vec<i64> = Vec::new();
    let mut known_frames = 0u64;
    let mut builder = KnownFramesBuilder::new(settings.min_quality);
    db.each_video_frame(cancel, |id, hash, quality| {
        if known_videos.last() != Some(&id) {
            known_videos.push(id);
            builder.start_video();
        }
        builder.add(hash, quality);
        known_frames += 1;
    })?;
    let known = builder.finish();
    let mut media: HashMap<i64, MediaView> = HashMap::new();
    let mut medium = |id: i64| -> Result<MediaView, DbError> {
        if let Some(m) = media.get(&id) {
            return Ok(m.clone());
        }
        let m = db.medium(id)?;
        media.insert(id, m.clone());
        Ok(m)
    };
    // Copies of one content share their vPDQ: matched once.
    let mut done: HashMap<*const VideoHash, Option<VideoFindings>> = HashMap::new();
    let mut out = Vec::new();
    for i in wanted {
        if cancel.is_cancelled() {
            return Err(DbError::Interrupted);
        }
        let video = items[i].video.as_ref().expect("chosen for its video");
        let key = Arc::as_ptr(video);
        if let std::collections::hash_map::Entry::Vacant(slot) = done.entry(key) {
            let query: Vec<QueryFrame> = video
                .frames
                .iter()
                .map(|f| QueryFrame {
                    hash: f.pdq.hash,
                    cropped: f.cropped.map(|c| c.hash),
                    quality: f.pdq.quality,
                    seconds: f.timestamp,
                })
                .collect();
            let d = settings.max_distance;
            let q = settings.min_quality;
            let mut found = VideoFindings {
                videos: Vec::new(),
                images: Vec::new(),
            };
            for m in match_videos(&known, &query, d, q, MIN_PERCENT) {
                let id = known_videos[m.video as usize];
                found.videos.push((m, medium(id)?));
            }
            if let Some(images) = images {
                for m in match_images(images, &query, d, q) {
                    let id = i64::from(m.id);
                    found.images.push((m, medium(id)?));
                }
            }
            let any = !(found.videos.is_empty() && found.images.is_empty());
            slot.insert(any.then_some(found));
        }
        if let Some(found) = &done[&key] {
            let most_severe = found
                .videos
                .iter()
                .map(|(_, m)| m.triage)
                .chain(found.images.iter().map(|(_, m)| m.triage))
                .min();
            gradings[i].suggested = [gradings[i].suggested, most_severe]
                .into_iter()
                .flatten()
                .min();
            out.push((i as u32, found.clone()));
        }
    }
    let search = VideoSearch {
        known_videos: known_videos.len() as u64,
        known_frames,
        distinct_videos: done.len() as u64,
        time: began.elapsed(),
    };
    Ok((out, Some(search)))
}

/// What each video suggested matched, by item index.
type Suggested = Vec<(u32, VideoFindings)>;
