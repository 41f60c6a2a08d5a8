//! The plain data that flows between the importers and the store: one graded record of a set,
//! and one set's grade of a known medium.

use crate::digest::Digests;

use super::category::{Category, Flags};

/// A PDQ perceptual hash (256 bits, the reference's byte order) and its quality (0-100) when
/// the source gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdqHash {
    pub hash: [u8; 32],
    pub quality: Option<u8>,
}

/// One record of a hash set, read and graded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownRecord {
    /// Where the record is in its source: line number for text formats, record number
    /// (1-based) otherwise. Kept in the database to trace a grade back to its source.
    pub number: u64,
    pub digests: Digests,
    pub pdq: Option<PdqHash>,
    /// PhotoDNA, opaque: kept as given (decoded from hex or base64 to bytes).
    pub photodna: Option<Vec<u8>>,
    pub size: Option<u64>,
    pub grade: Grade,
    /// A known video's vPDQ frames, when the source gives them.
    pub video: Option<Box<[KnownFrame]>>,
}

/// One frame of a known video's vPDQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownFrame {
    /// Its number among the video's decoded frames.
    pub number: u64,
    pub quality: u8,
    pub pdq: [u8; 32],
    /// Its time stamp, in milliseconds (the text format's precision).
    pub millis: u64,
}

impl KnownFrame {
    /// The frame as a vPDQ file line gives it.
    pub fn of(f: &crate::media::video::Frame) -> KnownFrame {
        KnownFrame {
            number: f.number,
            quality: f.pdq.quality,
            pdq: f.pdq.hash.to_bytes(),
            millis: (f.timestamp * 1000.0).round() as u64,
        }
    }
}

/// A category code a set carries that its profile does not list (nor `--map-value`): its
/// records were imported as `uncategorised`, the code and the source's label kept.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UnmappedCode {
    pub code: String,
    /// The source's own label for the code, when its records carry one.
    pub label: Option<String>,
    /// How many records carry it.
    pub records: u64,
}

/// What one set says about one known medium.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grade {
    /// The set's file the grade comes from (its position in `db list`, from 0).
    pub file: u32,
    /// The record number the grade comes from (the first, when records merged).
    pub record: u64,
    /// The source's own category code and label, as the source wrote them.
    pub code: Option<String>,
    pub label: Option<String>,
    pub category: Category,
    pub flags: Flags,
    pub series: Option<String>,
    pub tags: Vec<String>,
}

impl Default for Grade {
    fn default() -> Self {
        Grade {
            file: 0,
            record: 0,
            code: None,
            label: None,
            category: Category::Uncategorised,
            flags: Flags::default(),
            series: None,
            tags: Vec::new(),
        }
    }
}

impl Grade {
    /// Combines two records of one set about the same medium: the more severe category (with
    /// its code and label; on a tie the earlier record's), flags merged towards yes, the first
    /// series given, every tag once.
    pub fn combine(self, other: Grade) -> Grade {
        let (first, second) = if (other.file, other.record) < (self.file, self.record) {
            (other, self)
        } else {
            (self, other)
        };
        let flags = first.flags.merge(second.flags);
        let series = first.series.clone().or_else(|| second.series.clone());
        let mut tags = first.tags.clone();
        for t in &second.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        let (file, record) = (first.file, first.record);
        let winner = if second.category < first.category {
            second
        } else {
            first
        };
        Grade {
            file,
            record,
            code: winner.code,
            label: winner.label,
            category: winner.category,
            flags,
            series,
            tags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grade(record: u64, code: &str, category: Category) -> Grade {
        Grade {
            record,
            code: Some(code.into()),
            label: Some(format!("label {code}")),
            category,
            ..Grade::default()
        }
    }

    #[test]
    fn combining_keeps_the_most_severe_grade_and_the_first_record() {
        let a = Grade {
            series: Some("S1".into()),
            tags: vec!["x".into()],
            ..grade(7, "0", Category::NonPertinent)
        };
        let b = Grade {
            tags: vec!["y".into(), "x".into()],
            ..grade(3, "1", Category::Csam)
        };
        let c = a.clone().combine(b.clone());
        assert_eq!(c, b.clone().combine(a.clone()));
        assert_eq!(c.category, Category::Csam);
        assert_eq!(c.code.as_deref(), Some("1"));
        assert_eq!(c.record, 3);
        assert_eq!(c.series.as_deref(), Some("S1"));
        assert_eq!(c.tags, vec!["y".to_string(), "x".to_string()]);
    }
}
