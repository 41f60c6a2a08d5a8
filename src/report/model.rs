//! What the scan report's writers share: the names of the files in a report directory, who
//! ran the scan over what, and how an item's category is named. The writers (`scan.rs` for
//! `items.jsonl`, `items.csv` and `summary.json`, `vics.rs`, `html.rs`, `manifest.rs`) import
//! this and not each other; `scan.rs` runs them in order.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::scan::ScanItem;

/// The names of the files a scan writes into its output directory.
pub const ITEMS: &str = "items.jsonl";
pub const ITEMS_CSV: &str = "items.csv";
pub const SUMMARY: &str = "summary.json";
pub const VICS: &str = "vics.json";
pub const HTML: &str = "summary.html";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

/// The report files the manifest vouches for, in its order.
pub const COVERED: [&str; 5] = [ITEMS, ITEMS_CSV, VICS, SUMMARY, HTML];

/// Who ran a scan, over what, against which database.
#[derive(Clone, Debug)]
pub struct ScanProvenance {
    pub tool_version: &'static str,
    pub command: Vec<OsString>,
    pub cwd: PathBuf,
    pub roots: Vec<PathBuf>,
    pub db: PathBuf,
    pub case: Option<String>,
    pub evidence_id: Option<String>,
    pub examiner: Option<String>,
}

/// The item's category as reports name it: `unknown` when nothing grades it.
pub fn category_name(s: &ScanItem) -> &'static str {
    s.category.map_or("unknown", |c| c.name())
}
