//! Category profiles: how one source scheme's codes map to the canonical categories.
//!
//! Profiles are data, not code: TOML files, the built-in ones in `hashsets/profiles/` (compiled
//! in), and a unit's own given by path. Their format is documented in `docs/categories.md`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use sha2::Digest;

use super::category::Category;

/// The profiles shipped with hashsift: (name, TOML text).
const BUILT_IN: [(&str, &str); 5] = [
    (
        "vics-us",
        include_str!("../../hashsets/profiles/vics-us.toml"),
    ),
    (
        "caid-uk",
        include_str!("../../hashsets/profiles/caid-uk.toml"),
    ),
    (
        "vics-ca",
        include_str!("../../hashsets/profiles/vics-ca.toml"),
    ),
    ("icse", include_str!("../../hashsets/profiles/icse.toml")),
    ("nsrl", include_str!("../../hashsets/profiles/nsrl.toml")),
];

/// The names of the built-in profiles.
pub fn built_in_names() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().map(|(n, _)| *n)
}

/// A profile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "no built-in profile named '{0}' (built in: vics-us, caid-uk, vics-ca, icse, nsrl; or give the path of a .toml file)"
    )]
    Unknown(String),
    #[error("cannot read the profile {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the profile {path} is not valid: {reason}")]
    Invalid { path: String, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    verified: bool,
    missing: String,
    #[serde(default)]
    codes: BTreeMap<String, CodeFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeFile {
    category: String,
    #[serde(default)]
    label: String,
}

/// One source code's meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeMeaning {
    pub category: Category,
    /// The source's own label for the code (may be empty).
    pub label: String,
}

/// A loaded profile.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Whether the mapping is checked against the source's documentation (false: a starting
    /// point the unit should correct).
    pub verified: bool,
    /// The category of a record that carries no code.
    pub missing: Category,
    codes: HashMap<String, CodeMeaning>,
    /// SHA-256 of the profile's text, kept with every set imported through it.
    pub sha256: [u8; 32],
}

/// A code the profile does not list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "category code '{code}' is not in the profile '{profile}' (add it to the profile, or choose another with --profile)"
)]
pub struct UnknownCode {
    pub code: String,
    pub profile: String,
}

impl Profile {
    /// A built-in profile by name, or a profile file when `spec` names an existing file or
    /// ends in `.toml`.
    ///
    /// # Errors
    /// Unknown name, unreadable or invalid file.
    pub fn load(spec: &str) -> Result<Profile, ProfileError> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == spec) {
            return Profile::parse(text, spec);
        }
        let path = Path::new(spec);
        if spec.ends_with(".toml") || path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
                path: spec.to_owned(),
                source,
            })?;
            return Profile::parse(&text, spec);
        }
        Err(ProfileError::Unknown(spec.to_owned()))
    }

    /// Parses a profile's TOML text; `origin` names it in errors.
    ///
    /// # Errors
    /// Invalid TOML, unknown keys, unknown categories, duplicate codes after trimming.
    pub fn parse(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let invalid = |reason: String| ProfileError::Invalid {
            path: origin.to_owned(),
            reason,
        };
        let file: ProfileFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let missing: Category = file
            .missing
            .parse()
            .map_err(|e| invalid(format!("missing: {e}")))?;
        let mut codes = HashMap::new();
        for (code, meaning) in file.codes {
            let category: Category = meaning
                .category
                .parse()
                .map_err(|e| invalid(format!("code '{code}': {e}")))?;
            let key = code.trim().to_owned();
            if key.is_empty() {
                return Err(invalid("an empty code".into()));
            }
            let entry = CodeMeaning {
                category,
                label: meaning.label,
            };
            if codes.insert(key.clone(), entry).is_some() {
                return Err(invalid(format!("code '{key}' is listed twice")));
            }
        }
        Ok(Profile {
            name: file.name,
            description: file.description,
            verified: file.verified,
            missing,
            codes,
            sha256: sha2::Sha256::digest(text.as_bytes()).into(),
        })
    }

    /// The meaning of `code` (surrounding spaces ignored).
    ///
    /// # Errors
    /// A code the profile does not list.
    pub fn meaning(&self, code: &str) -> Result<&CodeMeaning, UnknownCode> {
        self.codes.get(code.trim()).ok_or_else(|| UnknownCode {
            code: code.to_owned(),
            profile: self.name.clone(),
        })
    }

    /// The codes the profile lists, sorted, with their meanings.
    pub fn codes(&self) -> Vec<(&str, &CodeMeaning)> {
        let mut v: Vec<_> = self.codes.iter().map(|(k, m)| (k.as_str(), m)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_profile_loads_under_its_own_name() {
        for name in built_in_names() {
            let p = Profile::load(name).unwrap();
            assert_eq!(p.name, name);
        }
    }

    #[test]
    fn vics_us_zero_is_non_pertinent_not_uncategorised() {
        // The trap DOMAIN.md warns of: in VICS, 0 is Non-Pertinent and a missing code means
        // uncategorised (an older scheme used 0 for uncategorised).
        let p = Profile::load("vics-us").unwrap();
        assert_eq!(p.meaning("0").unwrap().category, Category::NonPertinent);
        assert_eq!(p.meaning("1").unwrap().category, Category::Csam);
        assert_eq!(p.missing, Category::Uncategorised);
        assert!(p.meaning("5").is_err());
    }

    #[test]
    fn invalid_profiles_are_refused_with_the_reason() {
        let bad_category = "name='x'\nmissing='uncategorised'\n[codes]\n\"1\"={category='illegal'}";
        let e = Profile::parse(bad_category, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("code '1'") && e.contains("illegal"), "{e}");
        let unknown_key = "name='x'\nmissing='csam'\ncolour='red'";
        assert!(Profile::parse(unknown_key, "x.toml").is_err());
        let twice =
            "name='x'\nmissing='csam'\n[codes]\n\"1\"={category='csam'}\n\" 1\"={category='csem'}";
        let e = Profile::parse(twice, "x.toml").unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
        assert!(matches!(
            Profile::load("no-such-profile"),
            Err(ProfileError::Unknown(_))
        ));
    }
}
