//! The `scan` pipeline: walk and hash the evidence (every exact algorithm, content types by
//! magic bytes), look every distinct content up in the known-material database, and grade
//! each item by the most severe of its matches.
//!
//! The database is opened read-only and its hashes are loaded once into a [`KnownIndex`];
//! SQLite is asked only about the media a digest's key points to, and each distinct content
//! (hard links and copies alike) is looked up once.

pub mod journal;

mod grade;
mod lookup;
mod options;
mod provenance;
mod result;
mod suggest;
pub mod video_match;
mod videos;

use std::collections::HashMap;
use std::time::Duration;

use crate::cancel::Cancel;
use crate::digest::{AlgorithmSet, Digests};
use crate::hash::{self, HashConfig, HashError};
use crate::knowndb::read::conflicting;
use crate::knowndb::{Access, DbError, KnownDb};
use crate::progress::{Counters, Phase, Step};
use crate::utc::Timestamp;

use self::grade::{look_up, not_looked_up};
use self::journal::Journal;
use self::lookup::{Lookup, load};
use self::result::Grading;
use self::suggest::suggest;

pub use self::grade::compare;
pub use self::options::{LookupChoice, MAX_PDQ_DISTANCE, MAX_SUGGESTIONS, PdqMatching, ScanConfig};
pub use self::provenance::Provenance;
pub use self::result::{
    Contents, Match, MatchStatus, PdqMatch, PdqRun, ScanItem, ScanRun, VideoFindings,
};
pub use self::videos::MIN_PERCENT as VIDEO_MIN_PERCENT;

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
    let started = journal.map_or_else(Timestamp::now, |j| j.start().provenance.started);
    // One connection, holding one read transaction from here to the last lookup: the sets the
    // manifest names, the keys, the candidate media and the PDQ hashes all come from one state
    // of the database, whatever an import commits meanwhile (docs/reliability.md).
    let db = KnownDb::open(&config.db, Access::ReadOnly)?;
    let sets = db.sets()?;
    // The known hashes load on a thread of their own (the connection goes with it and comes
    // back) while the evidence is hashed, when that is cheaper than asking the database about
    // each file.
    // The hashing tells the loader how many contents there are to look up once it knows.
    let (planned, contents) = std::sync::mpsc::channel::<u64>();
    let (db, lookup, hashed) = std::thread::scope(|scope| {
        let loader = scope.spawn(move || {
            let lookup = load(&db, config, cancel, &contents);
            (db, lookup)
        });
        let hashed = hash::run_journaled(
            &HashConfig {
                roots: config.roots.clone(),
                algorithms: AlgorithmSet::all(),
                threads: config.threads,
                sniff: true,
                pdq: config.pdq.map(|p| crate::media::PdqConfig {
                    scale: p.scale,
                    dihedral: true,
                }),
                archives: config.archives,
                video: config.video,
                images: config.images,
            },
            cancel,
            counters,
            journal.map(|j| j as &dyn hash::Recorder),
            &|n| {
                let _ = planned.send(n);
            },
        );
        // Ended without planning (interrupted, or it could not start): the loader goes on.
        drop(planned);
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
    counters.start_step(Step::Grading, items.len() as u64);
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
    // Videos: against the known videos, and their frames against the known images.
    let (videos, video_search) = match config.video {
        Some(_) if complete => match videos::suggest_videos(
            &db,
            pdq_index.as_ref().map(|(i, _)| i),
            config.pdq.unwrap_or_default(),
            &items,
            &mut gradings,
            cancel,
        ) {
            Ok(v) => v,
            Err(DbError::Interrupted) => {
                complete = false;
                (Vec::new(), None)
            }
            Err(e) => return Err(e.into()),
        },
        _ => (Vec::new(), None),
    };
    let containers = contained(&items, &gradings);
    Ok(ScanRun {
        items,
        gradings,
        match_lists,
        suggestion_lists,
        containers,
        videos,
        video_search,
        started,
        finished: Timestamp::now(),
        complete,
        archives: config.archives.is_some(),
        ffmpeg: hashed.ffmpeg.clone(),
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

/// What the members of each container were found to be, nested ones included: members come
/// after their container, so one pass from the end carries every tally up the chain.
fn contained(items: &[crate::record::Item], gradings: &[Grading]) -> Vec<(u32, Contents)> {
    let mut tally: HashMap<u32, Contents> = HashMap::new();
    for i in (0..items.len()).rev() {
        let Some(parent) = items[i].parent else {
            continue;
        };
        let g = &gradings[i];
        let own = tally.get(&(i as u32)).copied().unwrap_or_default();
        let p = tally.entry(parent).or_default();
        p.members += 1 + own.members;
        p.graded += u64::from(g.category.is_some()) + own.graded;
        p.suggested += u64::from(g.category.is_none() && g.suggested.is_some()) + own.suggested;
        p.contains = [p.contains, g.category, own.contains]
            .into_iter()
            .flatten()
            .min();
        p.suggests = [p.suggests, g.suggested, own.suggests]
            .into_iter()
            .flatten()
            .min();
    }
    for (i, item) in items.iter().enumerate() {
        if item.archive.is_some() {
            tally.entry(i as u32).or_default();
        }
    }
    let mut containers: Vec<(u32, Contents)> = tally.into_iter().collect();
    containers.sort_unstable_by_key(|(i, _)| *i);
    containers
}
