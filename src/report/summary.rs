//! `summary.json` as a type: the counts per category, the triage, the review spared, hits per
//! set, conflicts, errors and times of a scan, computed once from the [`ScanRun`]. The file is
//! this value serialised (each field a key, in this order) and `summary.html` reads its
//! fields, so the two cannot disagree and a field renamed in one is a compile error in the
//! other, not a dash on the page. Formats: `docs/report.md`.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::model::category_name;
use crate::digest::Algorithm;
use crate::knowndb::Category;
use crate::read::Stage;
use crate::record::Kind;
use crate::scan::{MatchStatus, Provenance, ScanRun};

/// The contents of `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Always `hashsift`.
    pub tool: &'static str,
    pub tool_version: String,
    pub complete: bool,
    pub case: Option<String>,
    pub evidence_id: Option<String>,
    pub examiner: Option<String>,
    /// When the first session began, UTC.
    pub started: String,
    pub finished: String,
    /// When each later session began, after an interruption.
    pub resumed: Vec<String>,
    /// From `started` to `finished` (at least a nanosecond).
    pub duration_seconds: f64,
    pub items: u64,
    /// Regular files, and members of containers, read completely.
    pub files: u64,
    /// The containers opened and the members they held; `None` when the scan opened none
    /// (`--no-archives`).
    pub containers: Option<ContainerSummary>,
    pub bytes_hashed: u64,
    pub throughput_bytes_per_second: f64,
    /// The files and their bytes per category (`unknown` included), by name.
    pub by_category: BTreeMap<&'static str, Tally>,
    pub triage: Triage,
    /// The files PDQ suggests a category for, by that category.
    pub suggested_by_category: BTreeMap<&'static str, Tally>,
    pub graded_automatically: GradedAutomatically,
    /// The files no set grades, by class.
    pub to_review_by_class: BTreeMap<&'static str, Tally>,
    /// The files each set grades (a file two sets grade counts for both).
    pub hits_per_set: BTreeMap<String, u64>,
    pub conflicts: u64,
    pub contradicted_matches: u64,
    pub size_mismatches: u64,
    /// The items with an error, by the stage that failed.
    pub errors_by_stage: BTreeMap<&'static str, u64>,
    pub lookup: Lookup,
    /// The known hashes loaded per algorithm; `None` for a direct lookup.
    pub known_hashes: Option<PerAlgorithm>,
    pub index_load_seconds: f64,
    /// `None` when images were not hashed.
    pub pdq: Option<PdqSummary>,
    /// `None` when videos were not to be hashed (`--no-vpdq`).
    pub videos: Option<VideoSummary>,
    /// The disk images opened, in path order.
    pub images: Vec<ImageSummary>,
}

/// A disk image a scan opened: what it is, what checking its hashes found, what it held.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageSummary {
    pub path: String,
    /// `ewf` or `raw`.
    pub format: &'static str,
    pub segments: u32,
    pub media_size: u64,
    /// The partitions (or the one file system), each as `p1: fat32 (Win95 FAT32 (0x0c))`,
    /// or with why its file system was not read.
    pub volumes: Vec<String>,
    /// `verified`, `mismatch`, `computed`, `off` or `not_read`, and in words.
    pub integrity: &'static str,
    pub integrity_text: String,
    /// Files listed from its file systems (data streams count apart), of them deleted, and
    /// of those read (their content still described by the file system).
    pub files: u64,
    pub deleted: u64,
    pub deleted_read: u64,
    /// Deleted names whose metadata another file now uses (listed, no content).
    pub reallocated: u64,
    /// Why its walk ended early, if it did.
    pub stopped: Option<String>,
}

/// The videos of a scan and their vPDQ.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VideoSummary {
    /// The FFmpeg that decoded them (its version line); `None` when there was none.
    pub ffmpeg: Option<String>,
    /// Why no video was hashed, when FFmpeg was not found.
    pub not_hashed_because: Option<String>,
    /// Files and members that are videos by their content, read completely.
    pub videos: u64,
    /// Of those, hashed with vPDQ (some frame hashed), and the frames hashed.
    pub hashed: u64,
    pub frames: u64,
    /// Of those, hashed only in part, and not at all: each with its reason in `items.jsonl`
    /// (`vpdq.stopped`).
    pub not_to_their_end: u64,
    pub not_decoded: u64,
    /// Not hashed because FFmpeg was not found.
    pub not_hashed: u64,
    /// Not graded by an exact hash, and suggested a category by what their frames match
    /// (known videos, known images).
    pub suggested: u64,
    /// The search of the videos no exact hash graded; `None` when there was none.
    pub search: Option<VideoSearchSummary>,
}

/// The known videos a scan searched its videos among, and how long that took.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VideoSearchSummary {
    pub known_videos: u64,
    pub known_frames: u64,
    /// Distinct vPDQs searched (copies of a content once).
    pub videos_searched: u64,
    /// Loading and indexing the known frames, and searching.
    pub seconds: f64,
}

/// Counts and bytes of a group of files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub items: u64,
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.items += 1;
        self.bytes += bytes;
    }
}

/// The containers of a scan (archives and compressed files, at every depth) and their members.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContainerSummary {
    /// Containers met (files and members that are archives or compressed files), by format.
    pub by_format: BTreeMap<&'static str, u64>,
    /// Of those, containers not read to their end or not opened (a limit, damage, an
    /// unsupported format), each with its reason in `items.jsonl`.
    pub stopped: u64,
    /// Members listed, at every depth (in `items`).
    pub members: u64,
    /// Members read completely (in `files`), and their bytes.
    pub members_read: u64,
    pub member_bytes: u64,
    /// Members graded by an exact hash.
    pub members_graded: u64,
    /// Containers on the evidence (not in another container) holding a member graded csam,
    /// csem or cgi, at any depth.
    pub holding_illegal_material: u64,
}

/// How each file was sorted: they add up to `files`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Triage {
    pub graded_by_exact_hash: Tally,
    /// Not graded; some known image near it by PDQ proposes a category.
    pub suggested_by_pdq: Tally,
    pub unknown: Tally,
}

/// The review the examiner is spared: files some set grades, among all files and among media.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GradedAutomatically {
    pub files: u64,
    pub share_of_files: f64,
    /// Files of class `image` or `video`.
    pub media_files: u64,
    pub media_graded: u64,
    pub share_of_media: f64,
}

/// How the files' digests were looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lookup {
    /// The known hashes were loaded into memory first.
    Index,
    /// The database was asked about each file.
    Direct,
}

/// A count per algorithm, in the index's order: a JSON object keyed by algorithm name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerAlgorithm(pub Vec<(Algorithm, u64)>);

impl Serialize for PerAlgorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(a, n)| (a.name(), n)))
    }
}

/// The PDQ side of a scan: settings, known hashes loaded, images hashed and searched.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PdqSummary {
    /// How JPEGs were decoded for hashing.
    pub decode: &'static str,
    pub min_quality: u8,
    pub max_distance: u32,
    pub known_hashes: u64,
    pub load_seconds: f64,
    pub images_hashed: u64,
    pub images_not_decoded: u64,
    /// Images searched and their distinct hashes; 0 when the search was interrupted.
    pub images_searched: u64,
    pub distinct_hashes_searched: u64,
    pub search_complete: bool,
    pub images_by_decoder: BTreeMap<&'static str, u64>,
}

/// The share `part / whole`, 0 when there is no whole.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Summary {
    /// The summary of `run`, by `p`.
    pub fn of(p: &Provenance, run: &ScanRun) -> Summary {
        let mut by_category: BTreeMap<&'static str, Tally> = BTreeMap::new();
        let mut to_review: BTreeMap<&'static str, Tally> = BTreeMap::new();
        let mut hits_per_set: BTreeMap<String, u64> = BTreeMap::new();
        let mut errors: BTreeMap<&'static str, u64> = BTreeMap::new();
        let (mut files, mut graded, mut media, mut media_graded) = (0u64, 0u64, 0u64, 0u64);
        let (mut conflicts, mut contradicted, mut size_mismatches) = (0u64, 0u64, 0u64);
        let mut triage = Triage::default();
        let mut suggested: BTreeMap<&'static str, Tally> = BTreeMap::new();
        let (mut images_hashed, mut images_failed) = (0u64, 0u64);
        let mut videos = VideoSummary {
            ffmpeg: run.ffmpeg.clone().and_then(Result::ok),
            not_hashed_because: run.ffmpeg.clone().and_then(Result::err),
            search: run.video_search.map(|s| VideoSearchSummary {
                known_videos: s.known_videos,
                known_frames: s.known_frames,
                videos_searched: s.distinct_videos,
                seconds: s.time.as_secs_f64(),
            }),
            ..VideoSummary::default()
        };
        let mut decoders: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut containers = ContainerSummary::default();
        let mut images: Vec<(usize, ImageSummary)> = Vec::new();
        let mut in_image: std::collections::HashMap<u32, [u64; 4]> =
            std::collections::HashMap::new();
        for (index, s) in run.items().enumerate() {
            let item = &s.item;
            if let Some(a) = &item.archive
                && let Some(d) = &a.image
            {
                images.push((
                    index,
                    ImageSummary {
                        path: super::text::Text::of(item.path.as_os_str()).text,
                        format: a.format,
                        segments: d.segments,
                        media_size: d.media_size,
                        volumes: d
                            .volumes
                            .iter()
                            .map(|v| {
                                let name = if v.name.is_empty() {
                                    "file system"
                                } else {
                                    &v.name
                                };
                                match &v.file_system {
                                    Ok(t) if v.description.is_empty() => format!("{name}: {t}"),
                                    Ok(t) => format!("{name}: {t} ({})", v.description),
                                    Err(e) => format!("{name}: not read ({e})"),
                                }
                            })
                            .collect(),
                        integrity: d.integrity.status.name(),
                        integrity_text: d.integrity.describe(),
                        files: 0,
                        deleted: 0,
                        deleted_read: 0,
                        reallocated: 0,
                        stopped: a.stopped.clone(),
                    },
                ));
            }
            if let (Some(f), Some(parent)) = (&item.fs, item.parent) {
                let n = in_image.entry(parent).or_default();
                n[0] += 1;
                n[1] += u64::from(f.deleted);
                n[2] += u64::from(f.deleted && item.digests.is_some());
                n[3] += u64::from(f.reallocated);
            }
            if let Some(a) = &item.archive {
                *containers.by_format.entry(a.format).or_default() += 1;
                containers.stopped += u64::from(a.stopped.is_some());
            }
            if item.kind == Kind::Member {
                containers.members += 1;
                if item.digests.is_some() && item.error.is_none() {
                    containers.members_read += 1;
                    containers.member_bytes += item.size;
                }
                containers.members_graded += u64::from(s.category.is_some());
            } else if s
                .contents
                .is_some_and(|c| c.contains.is_some_and(Category::is_illegal_material))
            {
                containers.holding_illegal_material += 1;
            }
            if let Some(e) = &item.error {
                *errors.entry(e.stage.name()).or_default() += 1;
                if e.stage == Stage::Interrupted {
                    continue;
                }
            }
            if !item.kind.holds_content() || item.digests.is_none() {
                continue;
            }
            files += 1;
            if item
                .content
                .is_some_and(|c| c.class == crate::media::sniff::Class::Video)
            {
                videos.videos += 1;
                match &item.video {
                    None => videos.not_hashed += 1,
                    Some(v) if v.frames.is_empty() => videos.not_decoded += 1,
                    Some(v) => {
                        videos.hashed += 1;
                        videos.frames += v.frames.len() as u64;
                        videos.not_to_their_end += u64::from(v.stopped.is_some());
                        videos.suggested += u64::from(s.videos.is_some() && s.suggested.is_some());
                    }
                }
            }
            if let Some(image) = &item.image {
                images_hashed += u64::from(image.pdq.is_ok());
                images_failed += u64::from(image.pdq.is_err());
                if let Some(d) = image.decoder {
                    *decoders.entry(d).or_default() += 1;
                }
            }
            let way = match (s.category, s.suggested) {
                (Some(_), _) => &mut triage.graded_by_exact_hash,
                (None, Some(c)) => {
                    suggested.entry(c.name()).or_default().add(item.size);
                    &mut triage.suggested_by_pdq
                }
                (None, None) => &mut triage.unknown,
            };
            way.add(item.size);
            let is_media = item.content.is_some_and(|c| c.class.is_media());
            media += u64::from(is_media);
            by_category
                .entry(category_name(&s))
                .or_default()
                .add(item.size);
            if s.category.is_some() {
                graded += 1;
                media_graded += u64::from(is_media);
            } else {
                let class = item.content.map_or("other", |c| c.class.name());
                to_review.entry(class).or_default().add(item.size);
            }
            conflicts += u64::from(s.conflict);
            for m in s.matches {
                contradicted += u64::from(m.status == MatchStatus::Contradicts);
                size_mismatches += u64::from(m.status == MatchStatus::SizeMismatch);
                let mut sets: Vec<&str> = m.grades.iter().map(|g| g.set.as_str()).collect();
                sets.dedup();
                for set in sets {
                    *hits_per_set.entry(set.to_owned()).or_default() += 1;
                }
            }
        }
        let seconds = run.finished.seconds_since(&run.started).max(1e-9);
        Summary {
            tool: "hashsift",
            tool_version: p.tool_version.clone(),
            complete: run.complete,
            case: p.case.clone(),
            evidence_id: p.evidence_id.clone(),
            examiner: p.examiner.clone(),
            started: run.started.to_string(),
            finished: run.finished.to_string(),
            resumed: run.resumed.iter().map(|s| s.at.to_string()).collect(),
            duration_seconds: seconds,
            items: run.len() as u64,
            files,
            containers: run.archives.then_some(containers),
            bytes_hashed: run.bytes_hashed,
            throughput_bytes_per_second: run.bytes_hashed as f64 / seconds,
            by_category,
            triage,
            suggested_by_category: suggested,
            graded_automatically: GradedAutomatically {
                files: graded,
                share_of_files: share(graded, files),
                media_files: media,
                media_graded,
                share_of_media: share(media_graded, media),
            },
            to_review_by_class: to_review,
            hits_per_set,
            conflicts,
            contradicted_matches: contradicted,
            size_mismatches,
            errors_by_stage: errors,
            lookup: if run.known.is_some() {
                Lookup::Index
            } else {
                Lookup::Direct
            },
            known_hashes: run
                .known
                .as_ref()
                .map(|k| PerAlgorithm(k.iter().map(|&(a, n)| (a, n as u64)).collect())),
            index_load_seconds: run.index_time.as_secs_f64(),
            pdq: run.pdq.map(|p| PdqSummary {
                decode: p.settings.scale.name(),
                min_quality: p.settings.min_quality,
                max_distance: p.settings.max_distance,
                known_hashes: p.known as u64,
                load_seconds: p.load_time.as_secs_f64(),
                images_hashed,
                images_not_decoded: images_failed,
                images_searched: p.searched,
                distinct_hashes_searched: p.distinct,
                search_complete: p.completed,
                images_by_decoder: decoders,
            }),
            videos: run.ffmpeg.is_some().then_some(videos),
            images: images
                .into_iter()
                .map(|(index, mut image)| {
                    if let Some(n) = in_image.get(&(index as u32)) {
                        [
                            image.files,
                            image.deleted,
                            image.deleted_read,
                            image.reallocated,
                        ] = *n;
                    }
                    image
                })
                .collect(),
        }
    }
}
