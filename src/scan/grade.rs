//! Grading: a content's digests compared with the known media its keys point to.

use crate::digest::{Algorithm, Digests};
use crate::knowndb::read::MediaView;
use crate::knowndb::{DbError, KnownDb};
use crate::record::{ItemError, Stage};

use super::result::{Match, MatchStatus};

/// The error of a file read but not looked up, because the scan was interrupted.
pub(super) fn not_looked_up() -> ItemError {
    ItemError::new(
        Stage::Interrupted,
        "not looked up in the database: the scan was interrupted".into(),
    )
}

/// The known media matching a content of `size` bytes with these digests.
pub(super) fn look_up(
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
