//! What the scan report's writers share: the names of the files in a report directory, who
//! ran the scan over what, and how an item's category is named. The writers (`scan.rs` for
//! `items.jsonl`, `items.csv` and `summary.json`, `vics.rs`, `html.rs`, `manifest.rs`) import
//! this, not `scan.rs`; `scan.rs` runs them in order. The figures of `summary.json` are a
//! type of their own, `summary.rs`'s `Summary`: `scan.rs` writes it and `html.rs` shows it.

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

/// The item's category as reports name it: `unknown` when nothing grades it.
pub fn category_name(s: &ScanItem) -> &'static str {
    s.category.map_or("unknown", |c| c.name())
}
