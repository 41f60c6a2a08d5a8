//! Who ran a scan, over what, against which database, and when it began: written into the
//! journal's first record and into every report file, one type for both.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::utc::Timestamp;

/// Who ran a scan, over what evidence, against which database, and when it began.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    pub tool_version: String,
    pub started: Timestamp,
    pub command: Vec<OsString>,
    pub cwd: PathBuf,
    pub roots: Vec<PathBuf>,
    /// The database (a resumed session may name it anew: the report names the one it read).
    pub db: PathBuf,
    pub case: Option<String>,
    pub evidence_id: Option<String>,
    pub examiner: Option<String>,
}

impl Provenance {
    /// This process's: this version of hashsift, its command line and working directory, now.
    pub fn of_this_process(roots: Vec<PathBuf>, db: PathBuf) -> Provenance {
        Provenance {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            started: Timestamp::now(),
            command: std::env::args_os().collect(),
            cwd: std::env::current_dir().unwrap_or_default(),
            roots,
            db,
            case: None,
            evidence_id: None,
            examiner: None,
        }
    }
}
