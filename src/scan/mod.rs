//! The `scan` pipeline: walk and hash the evidence (every exact algorithm, content types by
//! magic bytes), look every distinct content up in the known-material database, and grade
//! each item by the most severe of its matches.
//!
//! The database is opened read-only and its hashes are loaded once into a [`KnownIndex`];
//! SQLite is asked only about the media a digest's key points to, and each distinct content
//! (hard links and copies alike) is looked up once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::digest::{Algorithm, AlgorithmSet, Digests};
use crate::hash::{self, HashConfig, HashError};
pub mod journal;

use self::journal::{Journal, Session};
use crate::knowndb::index::KnownIndex;
use crate::knowndb::pdq_index::PdqIndex;
use crate::knowndb::read::{MediaView, SetGrade, SetInfo, conflicting};
use crate::knowndb::{Access, Category, DbError, KnownDb};
use crate::media::decode::JpegScale;
use crate::media::pdq::{PdqHash, Transform};
use crate::progress::{Counters, Phase};
use crate::record::{Item, ItemError, Stage};
use crate::utc::Timestamp;

/// Validated settings of a `scan` run.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// Evidence roots, absolute.
    pub roots: Vec<PathBuf>,
    pub db: PathBuf,
    /// Worker threads for walking and hashing.
    pub threads: usize,
    pub lookup: LookupChoice,
    /// How images are hashed and matched with PDQ; `None` hashes no image.
    pub pdq: Option<PdqMatching>,
}

/// How a scan hashes images with PDQ and suggests categories from near matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdqMatching {
    pub scale: JpegScale,
    /// Images of lower quality (flat, nearly blank) are hashed but not matched: their hashes
    /// say little about the picture.
    pub min_quality: u8,
    /// The farthest (in bits of 256) a known hash may be from one of an image's eight
    /// dihedral hashes to be suggested.
    pub max_distance: u32,
}

impl Default for PdqMatching {
    fn default() -> Self {
        PdqMatching {
            scale: JpegScale::Full,
            min_quality: 50,
            max_distance: 31,
        }
    }
}

/// The farthest distance a scan may be asked to match at: beyond it, PDQ tells no picture
/// from its neighbours (unrelated images are about 128 bits apart), and a search costs more
/// than it finds.
pub const MAX_PDQ_DISTANCE: u32 = 64;

/// The nearest known images reported for one image.
pub const MAX_SUGGESTIONS: usize = 8;

/// How a scan looks digests up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LookupChoice {
    /// Whichever costs less for this many files against this many known media.
    #[default]
    Auto,
    /// Load every known hash's key into memory first.
    Index,
    /// Ask the database's key indexes about each digest.
    Direct,
}

/// How a known medium's hashes compare with a file's digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchStatus {
    /// Every algorithm both sides have agrees, and so does the size when both have one.
    AllAgree,
    /// One algorithm matches and another that both sides have differs (as hashdeep's
    /// "partial match"): a collision, a forged entry or a damaged set.
    Contradicts,
    /// The hashes agree and the sizes differ.
    SizeMismatch,
}

impl MatchStatus {
    pub fn name(self) -> &'static str {
        match self {
            MatchStatus::AllAgree => "all_agree",
            MatchStatus::Contradicts => "contradicts",
            MatchStatus::SizeMismatch => "size_mismatch",
        }
    }
}

/// A known medium a file matched, with every set's grade of it.
#[derive(Clone, Debug)]
pub struct Match {
    /// The algorithms whose hashes are equal.
    pub matched: Vec<Algorithm>,
    /// The algorithms both sides have and whose hashes differ.
    pub contradicted: Vec<Algorithm>,
    pub status: MatchStatus,
    pub grades: Vec<SetGrade>,
}

/// A known image whose PDQ hash is near one of an image's dihedral hashes: a suggestion,
/// for the examiner to confirm, never a grade.
#[derive(Clone, Debug)]
pub struct PdqMatch {
    /// Bits of 256 that differ.
    pub distance: u32,
    /// The transform of the image whose hash is the nearest (`rot90`: the evidence image,
    /// turned 90 degrees counter-clockwise, looks like the known one).
    pub transform: Transform,
    /// The known medium: its hashes and every set's grade of it.
    pub medium: MediaView,
}

/// One item of the evidence and what the database says of it: a view into a [`ScanRun`].
#[derive(Clone, Copy, Debug)]
pub struct ScanItem<'a> {
    pub item: &'a Item,
    pub matches: &'a [Match],
    /// The most severe grade of any match; `None` is "unknown" (no match).
    pub category: Option<Category>,
    /// Whether the sets that grade it disagree.
    pub conflict: bool,
    /// Known images near this one by PDQ, nearest first (an image no exact hash grades).
    pub suggestions: &'a [PdqMatch],
    /// The category the suggestions propose (the most severe grade of any of them), to
    /// confirm.
    pub suggested: Option<Category>,
}

impl ScanItem<'_> {
    /// Whether the item's digests were looked up: it was read and the scan not interrupted
    /// before its turn. Only then do its category (`unknown` included) and matches mean
    /// anything.
    pub fn looked_up(&self) -> bool {
        self.item.digests.is_some()
            && self
                .item
                .error
                .as_ref()
                .is_none_or(|e| e.stage != Stage::Interrupted)
    }
}

/// What the database says of one item, beside the item: 12 bytes, with the matches of each
/// distinct known content (and the suggestions of each distinct PDQ hash) held once however
/// many copies the evidence has.
#[derive(Clone, Copy, Debug, Default)]
struct Grading {
    /// Index into [`ScanRun::match_lists`]; 0 is the empty list.
    matches: u32,
    /// Index into [`ScanRun::suggestion_lists`]; 0 is the empty list.
    suggestions: u32,
    category: Option<Category>,
    suggested: Option<Category>,
    conflict: bool,
}

/// What a scan found.
#[derive(Debug)]
pub struct ScanRun {
    /// Every item, sorted by path, and its grading at the same index.
    items: Vec<Item>,
    gradings: Vec<Grading>,
    match_lists: Vec<Vec<Match>>,
    suggestion_lists: Vec<Vec<PdqMatch>>,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub complete: bool,
    pub files_hashed: u64,
    pub bytes_hashed: u64,
    /// Known hashes loaded per algorithm, and how long loading took (while the walk and the
    /// hashing went on); `None` when the database was asked about each file instead.
    pub known: Option<Vec<(Algorithm, usize)>>,
    pub index_time: Duration,
    /// The database's sets when the scan began, with their provenance.
    pub sets: Vec<SetInfo>,
    /// What PDQ matching was asked for, how many known PDQ hashes were loaded and how long
    /// that took; `None` when images were not hashed.
    pub pdq: Option<PdqRun>,
    /// The sessions that resumed this scan after an interruption, this one last if it is one.
    pub resumed: Vec<Session>,
}

/// The PDQ side of a scan.
#[derive(Clone, Copy, Debug)]
pub struct PdqRun {
    pub settings: PdqMatching,
    pub known: usize,
    pub load_time: Duration,
    /// Images searched (no exact grade, quality high enough), and how many distinct hashes
    /// they had (copies are searched once); 0 when the search did not run to its end.
    pub searched: u64,
    pub distinct: u64,
    /// Whether every image to search was searched (not interrupted).
    pub completed: bool,
}

impl ScanRun {
    /// Every item, sorted by path, with what the database says of it.
    pub fn items(&self) -> impl ExactSizeIterator<Item = ScanItem<'_>> + Clone + '_ {
        (0..self.items.len()).map(|i| self.item(i))
    }

    /// The item at `index` of the path order.
    ///
    /// # Panics
    /// When `index` is not below [`ScanRun::len`].
    pub fn item(&self, index: usize) -> ScanItem<'_> {
        let g = self.gradings[index];
        ScanItem {
            item: &self.items[index],
            matches: &self.match_lists[g.matches as usize],
            category: g.category,
            conflict: g.conflict,
            suggestions: &self.suggestion_lists[g.suggestions as usize],
            suggested: g.suggested,
        }
    }

    /// How many items the evidence has.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Error setting up a scan (per-file failures are records, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Runs the scan, recording in `journal` what it hashes, and taking from it what an earlier
/// session of the same scan hashed (see [`crate::scan::journal`]).
///
/// # Errors
/// The database cannot be opened or read; the worker pool cannot start; resuming, files the
/// journal records are not in the evidence.
pub fn run(
    config: &ScanConfig,
    cancel: &Cancel,
    counters: &Counters,
    journal: Option<&Journal>,
) -> Result<ScanRun, ScanError> {
    let started = journal.map_or_else(Timestamp::now, |j| j.start().started);
    // One connection, holding one read transaction from here to the last lookup: the sets the
    // manifest names, the keys, the candidate media and the PDQ hashes all come from one state
    // of the database, whatever an import commits meanwhile (docs/reliability.md).
    let db = KnownDb::open(&config.db, Access::ReadOnly)?;
    let sets = db.sets()?;
    // The known hashes load on a thread of their own (the connection goes with it and comes
    // back) while the evidence is hashed, when that is cheaper than asking the database about
    // each file.
    let walked = std::sync::atomic::AtomicBool::new(false);
    let (db, lookup, hashed) = std::thread::scope(|scope| {
        let walking = &walked;
        let loader = scope.spawn(move || {
            let lookup = load(&db, config, cancel, counters, walking);
            (db, lookup)
        });
        let hashed = hash::run_journaled(
            &HashConfig {
                roots: config.roots.clone(),
                algorithms: AlgorithmSet::all(),
                threads: config.threads,
                sniff: true,
                pdq: config.pdq.map(|p| hash::PdqConfig {
                    scale: p.scale,
                    dihedral: true,
                }),
            },
            cancel,
            counters,
            journal.map(|j| j as &dyn hash::Recorder),
        );
        walked.store(true, std::sync::atomic::Ordering::Relaxed);
        counters.set_phase(Phase::Loading);
        let (db, lookup) = loader.join().expect("the index loader does not panic");
        (db, lookup, hashed)
    });
    let hashed = hashed?;
    // Interrupted while loading: the files read keep their digests, and none is graded.
    let (index, index_time, pdq_index) = match lookup {
        Err(DbError::Interrupted) => (None, Duration::ZERO, None),
        other => other.map(|l| (Some(l.lookup), l.index_time, l.pdq))?,
    };
    let mut complete = hashed.complete && index.is_some();

    // The matches of each content met so far that some known hash's key points to: a copy of
    // a known file is looked up once. Contents no key points to cost no query and no memory.
    let mut known: HashMap<Digests, u32> = HashMap::new();
    let mut match_lists: Vec<Vec<Match>> = vec![Vec::new()];
    let mut items = hashed.items;
    let mut gradings = vec![Grading::default(); items.len()];
    counters.start_step("items", items.len() as u64);
    counters.set_phase(Phase::Matching);
    for (item, grading) in items.iter_mut().zip(&mut gradings) {
        counters.add_step(1);
        let (Some(digests), Some(lookup)) = (item.digests, &index) else {
            if item.digests.is_some() {
                item.error = Some(not_looked_up());
            }
            continue;
        };
        if cancel.is_cancelled() {
            // Ctrl-C while matching: the rest is listed, not graded, and the report says so.
            complete = false;
            item.error = Some(not_looked_up());
            continue;
        }
        let list = match known.get(&digests) {
            Some(&list) => list,
            None => {
                let candidates = match lookup {
                    Lookup::Index(index) => index.candidates(&digests),
                    Lookup::Direct => db.candidates(&digests)?,
                };
                let matches = if candidates.is_empty() {
                    Vec::new()
                } else {
                    look_up(&db, &candidates, &digests, item.size)?
                };
                if matches.is_empty() {
                    0
                } else {
                    match_lists.push(matches);
                    let list = (match_lists.len() - 1) as u32;
                    known.insert(digests, list);
                    list
                }
            }
        };
        let matches = &match_lists[list as usize];
        // A contradicted match grades nothing: one hash agreeing while another differs is a
        // collision or a damaged set, for the examiner to look at.
        *grading = Grading {
            matches: list,
            category: matches
                .iter()
                .filter(|m| m.status != MatchStatus::Contradicts)
                .flat_map(|m| m.grades.iter().map(|g| g.category))
                .min(),
            conflict: conflicting(
                matches
                    .iter()
                    .flat_map(|m| m.grades.iter().map(|g| g.category)),
            ),
            ..Grading::default()
        };
    }
    let mut suggestion_lists = vec![Vec::new()];
    let pdq = match config.pdq {
        Some(settings) => {
            let search = suggest(
                &db,
                pdq_index.as_ref().filter(|_| complete),
                settings,
                config.threads,
                &mut items,
                &mut gradings,
                &mut suggestion_lists,
                cancel,
                counters,
            )?;
            complete = complete && search.completed;
            Some(PdqRun {
                settings,
                known: pdq_index.as_ref().map_or(0, |(i, _)| i.len()),
                load_time: pdq_index.as_ref().map_or(Duration::ZERO, |(_, t)| *t),
                searched: search.searched,
                distinct: search.distinct,
                completed: search.completed,
            })
        }
        None => None,
    };
    Ok(ScanRun {
        items,
        gradings,
        match_lists,
        suggestion_lists,
        started,
        finished: Timestamp::now(),
        complete,
        files_hashed: hashed.files_hashed,
        bytes_hashed: hashed.bytes_hashed,
        known: match &index {
            Some(Lookup::Index(i)) => Some(i.counts()),
            _ => None,
        },
        index_time,
        sets,
        pdq,
        resumed: journal.map_or_else(Vec::new, Journal::sessions),
    })
}

/// Searches the known PDQ hashes for every image no exact hash graded (quality high enough;
/// each distinct set of dihedral hashes once, on `threads` threads) and records what the near
/// ones propose. Without an index (the scan was interrupted before), or when interrupted
/// during the search, the images that were to be searched are marked interrupted: not
/// searched is not "nothing near".
#[allow(clippy::too_many_arguments)]
fn suggest(
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
struct Search {
    searched: u64,
    distinct: u64,
    completed: bool,
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

/// How a scan finds the known media a digest may match.
enum Lookup {
    /// Every known hash's key, loaded into memory.
    Index(Box<KnownIndex>),
    /// The database's key indexes, one query per digest.
    Direct,
}

/// What one query per digest costs, and what loading one key costs (measured: about 10 us
/// against 110-150 ns, a 10 M-medium database with three hashes each loading in 2.5-3.5 s).
const QUERY_NS: u64 = 10_000;
const LOAD_NS: u64 = 150;

/// What the loader thread made ready while the evidence was hashed.
struct Loaded {
    lookup: Lookup,
    index_time: Duration,
    /// The known PDQ hashes and how long they took to load (when images are matched).
    pdq: Option<(PdqIndex, Duration)>,
}

/// Loads the known PDQ hashes when images are matched (at once: every image needs them),
/// then the exact hashes' keys, once the walk says how many files there are to look up,
/// unless asking the database about each of them costs less: a scan of 20,000 files against
/// 10 M known media makes 60,000 queries (about 0.6 s) instead of loading 30 M keys (about
/// 3.5 s of a core the hashing needs).
fn load(
    db: &KnownDb,
    config: &ScanConfig,
    cancel: &Cancel,
    counters: &Counters,
    walked: &std::sync::atomic::AtomicBool,
) -> Result<Loaded, DbError> {
    let pdq = match config.pdq {
        Some(_) => {
            let loading = Instant::now();
            let index = db.pdq_index(cancel)?;
            Some((index, loading.elapsed()))
        }
        None => None,
    };
    while counters.phase() == Phase::Walking && !walked.load(std::sync::atomic::Ordering::Relaxed) {
        if cancel.is_cancelled() {
            return Err(DbError::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Every content is looked up, whether this session hashes it or a journal carried it over.
    let files = counters.contents();
    let media = db.max_media_id()?;
    // Each file costs a query per algorithm (three hold keys in most databases); each medium
    // as many keys to load.
    let direct = match config.lookup {
        LookupChoice::Auto => files.saturating_mul(QUERY_NS) <= media.saturating_mul(LOAD_NS),
        LookupChoice::Index => false,
        LookupChoice::Direct => true,
    };
    if direct {
        return Ok(Loaded {
            lookup: Lookup::Direct,
            index_time: Duration::ZERO,
            pdq,
        });
    }
    let loading = Instant::now();
    let index = KnownIndex::build(db, cancel, &|_| {})?;
    Ok(Loaded {
        lookup: Lookup::Index(Box::new(index)),
        index_time: loading.elapsed(),
        pdq,
    })
}

/// The error of a file read but not looked up, because the scan was interrupted.
fn not_looked_up() -> ItemError {
    ItemError::new(
        Stage::Interrupted,
        "not looked up in the database: the scan was interrupted".into(),
    )
}

/// The known media matching a content of `size` bytes with these digests.
fn look_up(
    db: &KnownDb,
    candidates: &[i64],
    digests: &Digests,
    size: u64,
) -> Result<Vec<Match>, DbError> {
    let mut matches = Vec::new();
    for &id in candidates {
        let medium = db.medium(id)?;
        if let Some(m) = compare(&medium, digests, size) {
            matches.push(m);
        }
    }
    Ok(matches)
}

/// How `medium` compares with a file: `None` when no hash is equal (the two only share a
/// key, the first 8 bytes of a hash).
pub fn compare(medium: &MediaView, digests: &Digests, size: u64) -> Option<Match> {
    let known = [
        (Algorithm::Md5, &medium.md5),
        (Algorithm::Sha1, &medium.sha1),
        (Algorithm::Sha256, &medium.sha256),
        (Algorithm::Blake3, &medium.blake3),
    ];
    let mut matched = Vec::new();
    let mut contradicted = Vec::new();
    for (alg, value) in known {
        if let (Some(k), Some(d)) = (value, digests.hex(alg)) {
            if *k == d {
                matched.push(alg);
            } else {
                contradicted.push(alg);
            }
        }
    }
    if matched.is_empty() {
        return None;
    }
    let status = if !contradicted.is_empty() {
        MatchStatus::Contradicts
    } else if medium.size.is_some_and(|s| s != size) {
        MatchStatus::SizeMismatch
    } else {
        MatchStatus::AllAgree
    };
    Some(Match {
        matched,
        contradicted,
        status,
        grades: medium.grades.clone(),
    })
}
