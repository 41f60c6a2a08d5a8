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
use crate::knowndb::index::KnownIndex;
use crate::knowndb::read::{MediaView, SetGrade, SetInfo, conflicting};
use crate::knowndb::{Access, Category, DbError, KnownDb};
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
}

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

/// One item of the evidence and what the database says of it: a view into a [`ScanRun`].
#[derive(Clone, Copy, Debug)]
pub struct ScanItem<'a> {
    pub item: &'a Item,
    pub matches: &'a [Match],
    /// The most severe grade of any match; `None` is "unknown" (no match).
    pub category: Option<Category>,
    /// Whether the sets that grade it disagree.
    pub conflict: bool,
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

/// What the database says of one item, beside the item: 8 bytes, with the matches of each
/// distinct known content held once however many copies the evidence has.
#[derive(Clone, Copy, Debug, Default)]
struct Grading {
    /// Index into [`ScanRun::match_lists`]; 0 is the empty list.
    matches: u32,
    category: Option<Category>,
    conflict: bool,
}

/// What a scan found.
#[derive(Debug)]
pub struct ScanRun {
    /// Every item, sorted by path, and its grading at the same index.
    items: Vec<Item>,
    gradings: Vec<Grading>,
    match_lists: Vec<Vec<Match>>,
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

/// Runs the scan.
///
/// # Errors
/// The database cannot be opened or read; the worker pool cannot start.
pub fn run(
    config: &ScanConfig,
    cancel: &Cancel,
    counters: &Counters,
) -> Result<ScanRun, ScanError> {
    let started = Timestamp::now();
    let db = KnownDb::open(&config.db, Access::ReadOnly)?;
    let sets = db.sets()?;
    // The known hashes load on a thread of their own (with a connection of its own) while the
    // evidence is hashed, when that is cheaper than asking the database about each file.
    let walked = std::sync::atomic::AtomicBool::new(false);
    let (lookup, hashed) = std::thread::scope(|scope| {
        let loader = scope.spawn(|| load(config, cancel, counters, &walked));
        let hashed = hash::run(
            &HashConfig {
                roots: config.roots.clone(),
                algorithms: AlgorithmSet::all(),
                threads: config.threads,
                sniff: true,
                pdq: None,
            },
            cancel,
            counters,
        );
        walked.store(true, std::sync::atomic::Ordering::Relaxed);
        counters.set_phase(Phase::Loading);
        let lookup = loader.join().expect("the index loader does not panic");
        (lookup, hashed)
    });
    let hashed = hashed?;
    // Interrupted while loading: the files read keep their digests, and none is graded.
    let (index, index_time) = match lookup {
        Err(DbError::Interrupted) => (None, Duration::ZERO),
        other => other.map(|(i, t)| (Some(i), t))?,
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
        };
    }
    Ok(ScanRun {
        items,
        gradings,
        match_lists,
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
    })
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

/// Loads the known hashes, once the walk says how many files there are to look up, unless
/// asking the database about each of them costs less: a scan of 20,000 files against 10 M
/// known media makes 60,000 queries (about 0.6 s) instead of loading 30 M keys (about 3.5 s
/// of a core the hashing needs).
fn load(
    config: &ScanConfig,
    cancel: &Cancel,
    counters: &Counters,
    walked: &std::sync::atomic::AtomicBool,
) -> Result<(Lookup, Duration), DbError> {
    let db = KnownDb::open(&config.db, Access::ReadOnly)?;
    while counters.phase() == Phase::Walking && !walked.load(std::sync::atomic::Ordering::Relaxed) {
        if cancel.is_cancelled() {
            return Err(DbError::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let files = counters.files().1;
    let media = db.max_media_id()?;
    // Each file costs a query per algorithm (three hold keys in most databases); each medium
    // as many keys to load.
    let direct = match config.lookup {
        LookupChoice::Auto => files.saturating_mul(QUERY_NS) <= media.saturating_mul(LOAD_NS),
        LookupChoice::Index => false,
        LookupChoice::Direct => true,
    };
    if direct {
        return Ok((Lookup::Direct, Duration::ZERO));
    }
    let loading = Instant::now();
    let index = KnownIndex::build(&db, cancel, &|_| {})?;
    Ok((Lookup::Index(Box::new(index)), loading.elapsed()))
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
