//! How a scan finds the known media a digest may match: every key loaded into memory while
//! the evidence is hashed, or the database asked about each content, whichever costs less.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::knowndb::index::KnownIndex;
use crate::knowndb::pdq_index::PdqIndex;
use crate::knowndb::{DbError, KnownDb};

use super::options::{LookupChoice, ScanConfig};

/// How a scan finds the known media a digest may match.
pub(super) enum Lookup {
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
pub(super) struct Loaded {
    pub(super) lookup: Lookup,
    pub(super) index_time: Duration,
    /// The known PDQ hashes and how long they took to load (when images are matched).
    pub(super) pdq: Option<(PdqIndex, Duration)>,
}

/// Loads the known PDQ hashes when images are matched (at once: every image needs them),
/// then the exact hashes' keys, once the hashing says (through `contents`) how many distinct
/// contents there are to look up,
/// unless asking the database about each of them costs less: a scan of 20,000 files against
/// 10 M known media makes 60,000 queries (about 0.6 s) instead of loading 30 M keys (about
/// 3.5 s of a core the hashing needs).
pub(super) fn load(
    db: &KnownDb,
    config: &ScanConfig,
    cancel: &Cancel,
    contents: &Receiver<u64>,
) -> Result<Loaded, DbError> {
    let pdq = match config.pdq {
        Some(_) => {
            let loading = Instant::now();
            let index = db.pdq_index(cancel)?;
            Some((index, loading.elapsed()))
        }
        None => None,
    };
    // Every content is looked up, whether this session hashes it or a journal carried it over.
    let files = loop {
        match contents.recv_timeout(Duration::from_millis(5)) {
            Ok(n) => break n,
            Err(RecvTimeoutError::Timeout) if cancel.is_cancelled() => {
                return Err(DbError::Interrupted);
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The hashing ended before planning: nothing is graded, the choice is moot.
            Err(RecvTimeoutError::Disconnected) => break 0,
        }
    };
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
