//! The canonical categories every source grade maps to, in severity order, and the flags kept
//! beside a grade.
//!
//! The categories are code (triage depends on their order); how each source's codes map to them
//! is data, in the profiles (`hashsets/profiles/*.toml`, see [`super::profile`]).

use std::fmt;
use std::str::FromStr;

/// hashsift's canonical category of a known file, most severe first. The derived order is the
/// severity order: when sets disagree about a hash, the smallest wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Child sexual abuse material.
    Csam,
    /// Child sexual exploitation material: exploitative, or age hard to judge.
    Csem,
    /// Drawn, animated or computer-generated child exploitation material.
    Cgi,
    /// Reference or exemplar images used for grading.
    Comparison,
    /// Known to a set that gives no grade.
    Uncategorised,
    /// Known and not relevant to the case.
    NonPertinent,
    /// Reference software or system file (NSRL and similar).
    KnownFile,
}

impl Category {
    /// Every category, most severe first.
    pub const ALL: [Category; 7] = [
        Category::Csam,
        Category::Csem,
        Category::Cgi,
        Category::Comparison,
        Category::Uncategorised,
        Category::NonPertinent,
        Category::KnownFile,
    ];

    /// The name used in the database, in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Category::Csam => "csam",
            Category::Csem => "csem",
            Category::Cgi => "cgi",
            Category::Comparison => "comparison",
            Category::Uncategorised => "uncategorised",
            Category::NonPertinent => "non_pertinent",
            Category::KnownFile => "known_file",
        }
    }

    /// `csam`, `csem` and `cgi`: the grades of material a scan reports as found (exit code 1)
    /// and lists by name.
    pub fn is_illegal_material(self) -> bool {
        matches!(self, Category::Csam | Category::Csem | Category::Cgi)
    }

    /// The more severe of two categories.
    pub fn most_severe(self, other: Category) -> Category {
        self.min(other)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the canonical categories.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown category '{0}' (expected one of csam, csem, cgi, comparison, uncategorised, non_pertinent, known_file)"
)]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, UnknownCategory> {
        Category::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

/// Yes/no facts a source may state about a known file; `None` when it does not say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// INTERPOL baseline: the worst material, illegal in every country.
    pub baseline: Option<bool>,
    pub victim_identified: Option<bool>,
    pub offender_identified: Option<bool>,
    pub distributed: Option<bool>,
}

impl Flags {
    /// Combines what two records of one set say about the same file: yes if either says yes,
    /// no if one says no and the other nothing or no, nothing if neither says.
    pub fn merge(self, other: Flags) -> Flags {
        fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
            match (a, b) {
                (Some(x), Some(y)) => Some(x || y),
                (x, None) => x,
                (None, y) => y,
            }
        }
        Flags {
            baseline: or(self.baseline, other.baseline),
            victim_identified: or(self.victim_identified, other.victim_identified),
            offender_identified: or(self.offender_identified, other.offender_identified),
            distributed: or(self.distributed, other.distributed),
        }
    }
}

/// Reads a yes/no value as the formats write it: `true`/`false`, `y`/`n`, `yes`/`no`, `t`/`f`,
/// `1`/`0`, any case; empty means "not stated".
///
/// # Errors
/// Any other text.
pub fn parse_flag(text: &str) -> Result<Option<bool>, String> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    const YES: [&str; 4] = ["true", "yes", "y", "t"];
    const NO: [&str; 4] = ["false", "no", "n", "f"];
    if t == "1" || YES.iter().any(|y| t.eq_ignore_ascii_case(y)) {
        Ok(Some(true))
    } else if t == "0" || NO.iter().any(|n| t.eq_ignore_ascii_case(n)) {
        Ok(Some(false))
    } else {
        Err(format!("'{t}' is not a yes/no value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order_is_the_documented_one() {
        let names: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "csam",
                "csem",
                "cgi",
                "comparison",
                "uncategorised",
                "non_pertinent",
                "known_file"
            ]
        );
        let mut sorted = Category::ALL;
        sorted.reverse();
        sorted.sort();
        assert_eq!(sorted, Category::ALL);
        assert_eq!(
            Category::NonPertinent.most_severe(Category::Csam),
            Category::Csam
        );
    }

    #[test]
    fn names_round_trip_and_unknown_is_refused() {
        for c in Category::ALL {
            assert_eq!(c.name().parse::<Category>(), Ok(c));
        }
        assert!("child_abuse".parse::<Category>().is_err());
        assert!("CSAM".parse::<Category>().is_err());
    }

    #[test]
    fn flags_parse_every_spelling_and_merge_towards_yes() {
        for yes in ["true", "TRUE", "y", "Yes", "t", "1"] {
            assert_eq!(parse_flag(yes), Ok(Some(true)), "{yes}");
        }
        for no in ["false", "N", "no", "f", "0"] {
            assert_eq!(parse_flag(no), Ok(Some(false)), "{no}");
        }
        assert_eq!(parse_flag(""), Ok(None));
        assert!(parse_flag("maybe").is_err());
        let a = Flags {
            baseline: Some(false),
            victim_identified: None,
            offender_identified: Some(true),
            distributed: None,
        };
        let b = Flags {
            baseline: Some(true),
            victim_identified: Some(false),
            offender_identified: Some(false),
            distributed: None,
        };
        let m = a.merge(b);
        assert_eq!(m.baseline, Some(true));
        assert_eq!(m.victim_identified, Some(false));
        assert_eq!(m.offender_identified, Some(true));
        assert_eq!(m.distributed, None);
    }
}
