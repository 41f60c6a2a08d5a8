//! Grading: a content's digests compared with the known media its keys point to.

use crate::digest::{Algorithm, Digests};
use crate::knowndb::read::MediaView;
use crate::knowndb::{DbError, KnownDb};
use crate::read::{ItemError, Stage};

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
    /// Whether two hashes are equal, when both sides have one.
    fn same<T: PartialEq>(known: Option<T>, computed: Option<T>) -> Option<bool> {
        Some(known? == computed?)
    }
    let compared = [
        (Algorithm::Md5, same(medium.md5, digests.md5)),
        (Algorithm::Sha1, same(medium.sha1, digests.sha1)),
        (Algorithm::Sha256, same(medium.sha256, digests.sha256)),
        (Algorithm::Blake3, same(medium.blake3, digests.blake3)),
    ];
    let mut matched = Vec::new();
    let mut contradicted = Vec::new();
    for (alg, same) in compared {
        match same {
            Some(true) => matched.push(alg),
            Some(false) => contradicted.push(alg),
            None => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{Blake3, Md5, Sha1, Sha256};
    use crate::knowndb::Category;
    use crate::knowndb::read::SetGrade;

    /// A file's digests of every algorithm, each a different repeated byte.
    const FILE: Digests = Digests {
        md5: Some(Md5([0x11; 16])),
        sha1: Some(Sha1([0x22; 20])),
        sha256: Some(Sha256([0x33; 32])),
        blake3: Some(Blake3([0x44; 32])),
    };

    /// A known medium with these hashes and size, graded `csam` by the set `unit`.
    fn known(hashes: Digests, size: Option<u64>) -> MediaView {
        MediaView {
            md5: hashes.md5,
            sha1: hashes.sha1,
            sha256: hashes.sha256,
            blake3: hashes.blake3,
            pdq: None,
            pdq_quality: None,
            photodna: None,
            size,
            triage: Category::Csam,
            conflict: false,
            grades: vec![SetGrade {
                set: "unit".into(),
                set_version: None,
                file: 0,
                record: 7,
                code: Some("1".into()),
                label: None,
                category: Category::Csam,
                baseline: None,
                victim_identified: None,
                offender_identified: None,
                distributed: None,
                series: None,
                tags: Vec::new(),
            }],
        }
    }

    /// `d` with its last byte changed: a different hash with the same key (first 8 bytes).
    fn last_byte_flipped<const N: usize>(mut d: [u8; N]) -> [u8; N] {
        d[N - 1] ^= 1;
        d
    }

    #[test]
    fn every_algorithm_equal_and_the_same_size_all_agree() {
        let m = compare(&known(FILE, Some(100)), &FILE, 100).expect("a match");
        assert_eq!(m.matched, Algorithm::ALL);
        assert!(m.contradicted.is_empty());
        assert_eq!(m.status, MatchStatus::AllAgree);
        assert_eq!(m.grades.len(), 1);
        assert_eq!(m.grades[0].set, "unit");
        assert_eq!(m.grades[0].record, 7);
    }

    #[test]
    fn a_size_the_known_medium_does_not_state_does_not_disagree() {
        let m = compare(&known(FILE, None), &FILE, 100).expect("a match");
        assert_eq!(m.status, MatchStatus::AllAgree);
        assert_eq!(m.matched, Algorithm::ALL);
    }

    #[test]
    fn equal_hashes_of_another_size_are_a_size_mismatch() {
        let m = compare(&known(FILE, Some(99)), &FILE, 100).expect("a match");
        assert_eq!(m.status, MatchStatus::SizeMismatch);
        assert_eq!(m.matched, Algorithm::ALL);
        assert!(m.contradicted.is_empty());
    }

    #[test]
    fn one_equal_and_one_different_hash_contradict() {
        let k = Digests {
            sha1: Some(Sha1(last_byte_flipped(FILE.sha1.unwrap().0))),
            blake3: Some(Blake3([0x55; 32])),
            ..FILE
        };
        // The sizes differ as well: the contradiction is what is said.
        let m = compare(&known(k, Some(99)), &FILE, 100).expect("a match");
        assert_eq!(m.status, MatchStatus::Contradicts);
        assert_eq!(m.matched, [Algorithm::Md5, Algorithm::Sha256]);
        assert_eq!(m.contradicted, [Algorithm::Sha1, Algorithm::Blake3]);
    }

    #[test]
    fn no_equal_hash_is_no_match() {
        // Every hash differs in its last byte only: the medium shares each key with the file.
        let k = Digests {
            md5: Some(Md5(last_byte_flipped(FILE.md5.unwrap().0))),
            sha1: Some(Sha1(last_byte_flipped(FILE.sha1.unwrap().0))),
            sha256: Some(Sha256(last_byte_flipped(FILE.sha256.unwrap().0))),
            blake3: Some(Blake3(last_byte_flipped(FILE.blake3.unwrap().0))),
        };
        assert!(compare(&known(k, Some(100)), &FILE, 100).is_none());
        // Nor is a medium with no algorithm in common with the file.
        let only_blake3 = Digests {
            blake3: FILE.blake3,
            ..Digests::default()
        };
        let only_md5 = Digests {
            md5: FILE.md5,
            ..Digests::default()
        };
        assert!(compare(&known(only_blake3, Some(100)), &only_md5, 100).is_none());
    }

    #[test]
    fn algorithms_only_one_side_has_are_left_out() {
        // The medium has MD5 (equal) and SHA-1 (different), the file MD5 and SHA-256: SHA-1
        // is the medium's only, SHA-256 the file's only, and neither is compared.
        let k = Digests {
            md5: FILE.md5,
            sha1: Some(Sha1([0x99; 20])),
            ..Digests::default()
        };
        let file = Digests {
            md5: FILE.md5,
            sha256: FILE.sha256,
            ..Digests::default()
        };
        let m = compare(&known(k, Some(100)), &file, 100).expect("a match");
        assert_eq!(m.matched, [Algorithm::Md5]);
        assert!(m.contradicted.is_empty());
        assert_eq!(m.status, MatchStatus::AllAgree);
    }
}
