//! Importing a hash set: every record of the set goes in within one transaction, so a rejected
//! or interrupted import leaves the database exactly as it was.
//!
//! The records are inserted one medium each, without looking anything up; then records that
//! share a hash (within the set, or with media already known) are merged in a set-wise pass
//! over the hash indexes. When a set is large against what the database holds, the hash
//! indexes are dropped while inserting and built again after: sorting once is far cheaper than
//! millions of random index insertions.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::category::{Category, Flags};
use super::record::{Grade, KnownRecord, UnmappedCode};
use super::schema::{GRADE_INDEXES, HASH_INDEXES, KEYED, create_index_sql, hash_key, set_grades};
use super::{DbError, KnownDb};
use crate::cancel::Cancel;
use crate::progress::ImportCounters;
use crate::utc::Timestamp;

mod dupes;

use dupes::{Seen, SeenEntry, SeenKey, is_blank};

/// Who made a set and how it was read.
#[derive(Clone, Debug, Default)]
pub struct SetMeta {
    pub name: String,
    pub source: Option<String>,
    pub version: Option<String>,
    /// The format of its files (the first file's, when they differ).
    pub format: String,
    /// Profile name and the SHA-256 of its text.
    pub profile: Option<(String, [u8; 32])>,
    /// `--category`: the grade of records whose format carries none.
    pub default_category: Option<Category>,
}

/// One file a set was read from.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: std::path::PathBuf,
    pub size: u64,
    pub sha256: [u8; 32],
    pub format: String,
    pub rows_read: u64,
}

/// What the reading side reports once every record is delivered.
#[derive(Clone, Debug, Default)]
pub struct SourceSummary {
    pub files: Vec<SourceFile>,
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub rows_empty: u64,
    /// Codes not in the profile, imported as `uncategorised`.
    pub unmapped: Vec<UnmappedCode>,
    /// Where the rejected records are listed (`--skip-invalid`), when a file was written.
    pub rejects_file: Option<std::path::PathBuf>,
}

/// The outcome of an import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub set_id: i64,
    pub rows_read: u64,
    /// Media the set grades (records that merged count once).
    pub rows_imported: u64,
    /// Records folded into another record of the same set that shares a hash.
    pub rows_merged: u64,
    pub rows_rejected: u64,
    pub rows_empty: u64,
    /// Media that share one hash but disagree on another (kept apart, both found by lookups).
    pub hash_conflicts: u64,
    /// Whether an earlier version of the set was replaced.
    pub replaced: bool,
    /// Codes not in the profile, imported as `uncategorised`, in the order met.
    pub unmapped: Vec<UnmappedCode>,
    /// Where the rejected records are listed (`--skip-invalid`), when a file was written.
    pub rejects_file: Option<std::path::PathBuf>,
}

/// An import that failed: on the reading side (`Source`) or in the database.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Source(E),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The page cache of an open database (`PRAGMA cache_size`: negative is KiB).
pub(crate) const CACHE_SIZE: i64 = -262_144;

/// The page cache while appending to tables without indexes, which needs few pages: the
/// memory goes to the map of the set's records instead (see [`Seen`]).
const BULK_CACHE: &str = "PRAGMA cache_size = -32768;";

/// Sets of at least this many records are inserted with the hash indexes dropped.
const BULK_MIN: u64 = 50_000;

pub(crate) fn tags_to_sql(tags: &[String]) -> Option<String> {
    (!tags.is_empty()).then(|| serde_json::to_string(tags).expect("strings serialise"))
}

pub(crate) fn tags_from_sql(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

impl KnownDb {
    /// Imports one set from `batches` of records, atomically. `finish` is called once the
    /// batches end and reports the files read; an error from either aborts the import and
    /// leaves the database as it was.
    ///
    /// # Errors
    /// A set of the same name without `replace`, a source error, SQLite errors.
    pub fn import_set<E, I, F>(
        &mut self,
        meta: &SetMeta,
        replace: bool,
        batches: I,
        counters: &ImportCounters,
        cancel: &Cancel,
        finish: F,
    ) -> Result<ImportSummary, WriteError<E>>
    where
        E: std::error::Error + 'static,
        I: IntoIterator<Item = Result<Vec<KnownRecord>, E>>,
        F: FnOnce() -> Result<SourceSummary, E>,
    {
        let path = self.path().to_owned();
        let db = |source| {
            WriteError::Db(DbError::Sqlite {
                path: path.clone(),
                source,
            })
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let old: Option<i64> = tx
            .query_row(
                "SELECT id FROM hash_set WHERE name = ?1",
                [&meta.name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        if let Some(old) = old {
            if !replace {
                return Err(WriteError::Db(DbError::SetExists(meta.name.clone())));
            }
            remove_set_in(&tx, old).map_err(db)?;
        }
        let set_id = insert_set(&tx, meta).map_err(db)?;
        // The set's grades get the ids after this one (see `schema::set_grades`).
        let grades_before: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) FROM grade", [], |r| r.get(0))
            .map_err(db)?;
        let existing: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) FROM media", [], |r| r.get(0))
            .map_err(db)?;
        let base = existing + 1;
        let bulk_at = BULK_MIN.max(u64::try_from(existing).unwrap_or(0) / 8);
        // In bulk mode the index of a hash column is dropped when the set first brings a value
        // for it: a column the set never fills keeps its index, and costs no rebuild.
        let mut bulk = existing == 0;
        if bulk {
            drop_grade_indexes(&tx).map_err(db)?;
            tx.execute_batch(BULK_CACHE).map_err(db)?;
        }
        let mut columns = ColumnMask::default();
        let mut dropped = ColumnMask::default();

        let mut inserted: u64 = 0;
        let mut media_rows: u64 = 0;
        // Media kept apart from one sharing a hash with them, because another hash differs.
        let mut kept_apart: std::collections::HashSet<i64> = std::collections::HashSet::new();
        let mut seen = Seen::new(base, counters.total_bytes());
        // Into an empty database, the only media that can share a hash are the set's own:
        // their prefixes find them without scanning whole indexes.
        let mut prefixes = (existing == 0).then(|| Prefixes::new(counters.total_bytes()));
        {
            let mut media = tx
                .prepare(
                    "INSERT INTO media (md5, sha1, sha256, blake3, pdq, pdq_quality, photodna, size,
                         md5_key, sha1_key, sha256_key, blake3_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(db)?;
            let mut grade = tx
                .prepare(
                    "INSERT INTO grade (media_id, set_id, record, code, label, category, baseline,
                         victim_identified, offender_identified, distributed, series, tags,
                         file, provided)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(db)?;
            for batch in batches {
                let batch = batch.map_err(WriteError::Source)?;
                columns.add_batch(&batch);
                if bulk {
                    drop_hash_indexes(&tx, columns, &mut dropped).map_err(db)?;
                }
                let keys: Vec<Option<SeenKey>> = batch.iter().map(|r| seen.key(r)).collect();
                for (i, rec) in batch.iter().enumerate() {
                    // The slot of a record a few ahead arrives while this one is inserted.
                    if let Some(Some(ahead)) = keys.get(i + Seen::PREFETCH_AHEAD) {
                        seen.prefetch(*ahead);
                    }
                    let key = keys[i];
                    let mut clash = false;
                    let earlier = key.and_then(|k| seen.get(k));
                    let id = match earlier {
                        Some(e) if e.same && e.blank && is_blank(&rec.grade) => {
                            // A repeat of the medium's first record that, like it, says
                            // nothing but the set's own grade (NSRL lists a file once per
                            // package): its grade row would add only a record number.
                            continue;
                        }
                        Some(e) if e.same => Some(e.id),
                        Some(SeenEntry { id, .. }) => {
                            // Its first hash starts like an earlier record's, and something
                            // differs: the same file described more fully (merge), a genuine
                            // clash (kept apart), or two files alike by chance.
                            let existing = MediaRow::read(&tx, id).map_err(db)?;
                            let incoming = MediaRow::of(rec);
                            let shared = existing.shares_a_hash(&incoming);
                            if shared && existing.agrees_with(&incoming) {
                                let mut merged = existing.clone();
                                merged.absorb(&incoming);
                                if merged != existing {
                                    merged.write(&tx).map_err(db)?;
                                    if let Some(p) = &mut prefixes {
                                        p.add(rec);
                                    }
                                }
                                Some(id)
                            } else {
                                // Only a clash if they really share a hash (the key is a
                                // 32-bit prefix, which thousands of records share by chance).
                                clash = shared;
                                None
                            }
                        }
                        None => None,
                    };
                    let id = match id {
                        Some(id) => id,
                        None if clash => {
                            let id = insert_media(&tx, &mut media, rec).map_err(db)?;
                            media_rows += 1;
                            kept_apart.insert(id);
                            // Not remembered: its own duplicates meet in the merge.
                            seen.complete = false;
                            if let Some(p) = &mut prefixes {
                                p.add(rec);
                            }
                            id
                        }
                        None => {
                            let id = insert_media(&tx, &mut media, rec).map_err(db)?;
                            media_rows += 1;
                            if let Some(p) = &mut prefixes {
                                p.add(rec);
                            }
                            match (key, earlier) {
                                (Some(k), None) => seen.insert(k, id, is_blank(&rec.grade)),
                                // Its key is another medium's: not remembered.
                                (Some(_), Some(_)) => seen.complete = false,
                                _ => {}
                            }
                            id
                        }
                    };
                    insert_grade(&mut grade, id, set_id, rec).map_err(db)?;
                }
                inserted += batch.len() as u64;
                counters.add_written(batch.len() as u64);
                if !bulk && media_rows >= bulk_at {
                    drop_hash_indexes(&tx, columns, &mut dropped).map_err(db)?;
                    drop_grade_indexes(&tx).map_err(db)?;
                    tx.execute_batch(BULK_CACHE).map_err(db)?;
                    bulk = true;
                }
            }
        }
        // Records sharing an MD5 always met in the map (a record with an MD5 is keyed by it):
        // into a database that held nothing, with every record remembered, the MD5 pass of
        // the merge would find nothing new.
        let md5_done = existing == 0 && seen.complete;
        drop(seen);
        let source = finish().map_err(WriteError::Source)?;
        // Ctrl-C is honoured between the stages after reading too (each rolls back).
        let interrupted = || {
            if cancel.is_cancelled() {
                Err(WriteError::Db(DbError::Interrupted))
            } else {
                Ok(())
            }
        };
        interrupted()?;

        if bulk {
            counters.set_stage("indexing");
            // SQLite sorts for CREATE INDEX in runs as large as the page cache. Small runs,
            // sorted by helper threads and merged, build the indexes of a 3 M-row table 2.4x
            // faster than one 256 MiB run (measured: 6.1 s against 14.4 s for three indexes).
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
            tx.execute_batch(&format!(
                "PRAGMA threads = {threads}; PRAGMA cache_size = -8192;"
            ))
            .map_err(db)?;
            for (i, (name, column)) in HASH_INDEXES.iter().enumerate() {
                if dropped.has(i) {
                    tx.execute_batch(&create_index_sql(name, column))
                        .map_err(db)?;
                    interrupted()?;
                }
            }
            for (_, sql) in GRADE_INDEXES {
                tx.execute_batch(sql).map_err(db)?;
                interrupted()?;
            }
            tx.execute_batch(&format!(
                "PRAGMA threads = 0; PRAGMA cache_size = {CACHE_SIZE};"
            ))
            .map_err(db)?;
        }
        counters.set_stage("merging");
        interrupted()?;
        let mut merge_columns = columns;
        if md5_done {
            merge_columns.0 &= !1;
        }
        let candidates = prefixes.and_then(Prefixes::shared);
        merge_shared_hashes(
            &tx,
            base,
            bulk,
            merge_columns,
            candidates.as_ref(),
            &mut kept_apart,
        )
        .map_err(db)?;

        tx.execute(
            "UPDATE hash_set SET grade_first = (SELECT min(id) FROM grade WHERE id > ?2),
                 grade_last = (SELECT max(id) FROM grade WHERE id > ?2) WHERE id = ?1",
            [set_id, grades_before],
        )
        .map_err(db)?;
        let imported: i64 = tx
            .query_row(
                &format!(
                    "SELECT count(DISTINCT media_id) FROM grade WHERE {}",
                    set_grades("grade")
                ),
                [set_id],
                |r| r.get(0),
            )
            .map_err(db)?;
        let imported = imported as u64;
        let summary = ImportSummary {
            set_id,
            rows_read: source.rows_read,
            rows_imported: imported,
            rows_merged: inserted - imported,
            rows_rejected: source.rows_rejected,
            rows_empty: source.rows_empty,
            hash_conflicts: kept_apart.len() as u64,
            replaced: old.is_some(),
            unmapped: source.unmapped.clone(),
            rejects_file: source.rejects_file.clone(),
        };
        tx.execute(
            "UPDATE hash_set SET rows_read = ?2, rows_imported = ?3, rows_merged = ?4,
                 rows_rejected = ?5, rows_empty = ?6 WHERE id = ?1",
            params![
                set_id,
                summary.rows_read as i64,
                summary.rows_imported as i64,
                summary.rows_merged as i64,
                summary.rows_rejected as i64,
                summary.rows_empty as i64
            ],
        )
        .map_err(db)?;
        if let Some(path) = &summary.rejects_file {
            use std::os::unix::ffi::OsStrExt;
            tx.execute(
                "UPDATE hash_set SET rejects_file = ?2 WHERE id = ?1",
                params![set_id, path.as_os_str().as_bytes()],
            )
            .map_err(db)?;
        }
        for u in &summary.unmapped {
            tx.execute(
                "INSERT INTO hash_set_unmapped (set_id, code, label, records)
                 VALUES (?1, ?2, ?3, ?4)",
                params![set_id, u.code, u.label, u.records as i64],
            )
            .map_err(db)?;
        }
        for (position, f) in source.files.iter().enumerate() {
            use std::os::unix::ffi::OsStrExt;
            let name = f
                .path
                .file_name()
                .unwrap_or(f.path.as_os_str())
                .to_string_lossy()
                .into_owned();
            tx.execute(
                "INSERT INTO hash_set_file (set_id, position, file_name, path, file_size,
                     file_sha256, format, rows_read) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    set_id,
                    position as i64,
                    name,
                    f.path.as_os_str().as_bytes(),
                    f.size as i64,
                    &f.sha256[..],
                    f.format,
                    f.rows_read as i64
                ],
            )
            .map_err(db)?;
        }
        interrupted()?;
        counters.set_stage("committing");
        tx.commit().map_err(db)?;
        Ok(summary)
    }

    /// Removes a set, its grades, and the media no other set knows.
    ///
    /// # Errors
    /// No set of that name; SQLite errors.
    pub fn remove_set(&mut self, name: &str) -> Result<(), DbError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self_error(&self.path, e))?;
        let id: Option<i64> = tx
            .query_row("SELECT id FROM hash_set WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self_error(&self.path, e))?;
        let id = id.ok_or_else(|| DbError::NoSuchSet(name.to_owned()))?;
        remove_set_in(&tx, id).map_err(|e| self_error(&self.path, e))?;
        tx.commit().map_err(|e| self_error(&self.path, e))
    }
}

fn self_error(path: &std::path::Path, source: rusqlite::Error) -> DbError {
    DbError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

fn insert_set(tx: &Transaction, meta: &SetMeta) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO hash_set (name, source, version, format, profile, profile_sha256,
             default_category, imported_at, hashsift_version, rows_read, rows_imported,
             rows_merged, rows_rejected, rows_empty)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, 0, 0, 0, 0)",
        params![
            meta.name,
            meta.source,
            meta.version,
            meta.format,
            meta.profile.as_ref().map(|p| &p.0),
            meta.profile.as_ref().map(|p| &p.1[..]),
            meta.default_category.map(Category::name),
            Timestamp::now().to_string(),
            env!("CARGO_PKG_VERSION"),
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Bits of `grade.provided`: which identity values the record itself carried, so that
/// removing a set can take back what only it brought to a merged medium.
const PROVIDED: [(&str, i64); 7] = [
    ("md5", 1),
    ("sha1", 2),
    ("sha256", 4),
    ("blake3", 8),
    ("pdq", 16),
    ("photodna", 32),
    ("size", 64),
];

fn provided(rec: &KnownRecord) -> i64 {
    let d = &rec.digests;
    let has = [
        d.md5.is_some(),
        d.sha1.is_some(),
        d.sha256.is_some(),
        d.blake3.is_some(),
        rec.pdq.is_some(),
        rec.photodna.is_some(),
        rec.size.is_some(),
    ];
    PROVIDED
        .iter()
        .zip(has)
        .filter(|(_, h)| *h)
        .map(|((_, bit), _)| bit)
        .sum()
}

// The two inserts below run once per record: they bind each parameter by its own type
// (`raw_bind_parameter`) rather than through a slice of `&dyn ToSql`.
fn insert_media(
    tx: &Transaction,
    stmt: &mut rusqlite::Statement,
    rec: &KnownRecord,
) -> rusqlite::Result<i64> {
    let d = &rec.digests;
    stmt.raw_bind_parameter(1, d.md5.as_ref().map(|h| &h.0[..]))?;
    stmt.raw_bind_parameter(2, d.sha1.as_ref().map(|h| &h.0[..]))?;
    stmt.raw_bind_parameter(3, d.sha256.as_ref().map(|h| &h.0[..]))?;
    stmt.raw_bind_parameter(4, d.blake3.as_ref().map(|h| &h.0[..]))?;
    stmt.raw_bind_parameter(5, rec.pdq.as_ref().map(|p| &p.hash[..]))?;
    stmt.raw_bind_parameter(6, rec.pdq.and_then(|p| p.quality))?;
    stmt.raw_bind_parameter(7, rec.photodna.as_deref())?;
    stmt.raw_bind_parameter(8, rec.size.map(|s| s as i64))?;
    stmt.raw_bind_parameter(9, d.md5.as_ref().map(|h| hash_key(&h.0)))?;
    stmt.raw_bind_parameter(10, d.sha1.as_ref().map(|h| hash_key(&h.0)))?;
    stmt.raw_bind_parameter(11, d.sha256.as_ref().map(|h| hash_key(&h.0)))?;
    stmt.raw_bind_parameter(12, d.blake3.as_ref().map(|h| hash_key(&h.0)))?;
    stmt.raw_execute()?;
    Ok(tx.last_insert_rowid())
}

fn insert_grade(
    stmt: &mut rusqlite::Statement,
    media_id: i64,
    set_id: i64,
    rec: &KnownRecord,
) -> rusqlite::Result<()> {
    let g = &rec.grade;
    stmt.raw_bind_parameter(1, media_id)?;
    stmt.raw_bind_parameter(2, set_id)?;
    stmt.raw_bind_parameter(3, g.record as i64)?;
    stmt.raw_bind_parameter(4, g.code.as_deref())?;
    stmt.raw_bind_parameter(5, g.label.as_deref())?;
    stmt.raw_bind_parameter(6, g.category.name())?;
    stmt.raw_bind_parameter(7, g.flags.baseline)?;
    stmt.raw_bind_parameter(8, g.flags.victim_identified)?;
    stmt.raw_bind_parameter(9, g.flags.offender_identified)?;
    stmt.raw_bind_parameter(10, g.flags.distributed)?;
    stmt.raw_bind_parameter(11, g.series.as_deref())?;
    stmt.raw_bind_parameter(12, tags_to_sql(&g.tags))?;
    stmt.raw_bind_parameter(13, i64::from(g.file))?;
    stmt.raw_bind_parameter(14, provided(rec))?;
    stmt.raw_execute()?;
    Ok(())
}

fn remove_set_in(tx: &Transaction, id: i64) -> rusqlite::Result<()> {
    // Media other sets also grade keep only the values some remaining record carried.
    let keep: Vec<String> = PROVIDED
        .iter()
        .map(|(column, bit)| {
            // PDQ's quality and each exact hash's key go with the value.
            let quality = if *column == "pdq" {
                format!(
                    ", pdq_quality = CASE WHEN EXISTS (SELECT 1 FROM grade g WHERE g.media_id = media.id AND g.set_id <> ?1 AND g.provided & {bit}) THEN pdq_quality END"
                )
            } else if KEYED.contains(column) {
                format!(
                    ", {column}_key = CASE WHEN EXISTS (SELECT 1 FROM grade g WHERE g.media_id = media.id AND g.set_id <> ?1 AND g.provided & {bit}) THEN {column}_key END"
                )
            } else {
                String::new()
            };
            format!(
                "{column} = CASE WHEN EXISTS (SELECT 1 FROM grade g WHERE g.media_id = media.id AND g.set_id <> ?1 AND g.provided & {bit}) THEN {column} END{quality}"
            )
        })
        .collect();
    let of_set = set_grades("grade");
    tx.execute(
        &format!(
            "UPDATE media SET {} WHERE id IN (SELECT media_id FROM grade WHERE {of_set})
               AND EXISTS (SELECT 1 FROM grade g WHERE g.media_id = media.id AND g.set_id <> ?1)",
            keep.join(", ")
        ),
        [id],
    )?;
    tx.execute(
        &format!(
            "DELETE FROM media WHERE id IN (SELECT media_id FROM grade WHERE {of_set})
               AND NOT EXISTS (SELECT 1 FROM grade g WHERE g.media_id = media.id AND g.set_id <> ?1)"
        ),
        [id],
    )?;
    tx.execute(&format!("DELETE FROM grade WHERE {of_set}"), [id])?;
    tx.execute("DELETE FROM hash_set_file WHERE set_id = ?1", [id])?;
    tx.execute("DELETE FROM hash_set_unmapped WHERE set_id = ?1", [id])?;
    tx.execute("DELETE FROM hash_set WHERE id = ?1", [id])?;
    Ok(())
}

/// Which hash columns (in the order of [`HASH_INDEXES`]) some record has filled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ColumnMask(u8);

impl ColumnMask {
    fn add_batch(&mut self, batch: &[KnownRecord]) {
        for r in batch {
            let d = &r.digests;
            let bits = [
                d.md5.is_some(),
                d.sha1.is_some(),
                d.sha256.is_some(),
                d.blake3.is_some(),
                r.pdq.is_some(),
            ];
            for (i, b) in bits.into_iter().enumerate() {
                if b {
                    self.0 |= 1 << i;
                }
            }
        }
    }

    fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }
}

fn drop_grade_indexes(tx: &Transaction) -> rusqlite::Result<()> {
    for (name, _) in GRADE_INDEXES {
        tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    Ok(())
}

/// Drops the index of every column in `columns` not dropped yet.
fn drop_hash_indexes(
    tx: &Transaction,
    columns: ColumnMask,
    dropped: &mut ColumnMask,
) -> rusqlite::Result<()> {
    for (i, (name, _)) in HASH_INDEXES.iter().enumerate() {
        if columns.has(i) && !dropped.has(i) {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
            dropped.0 |= 1 << i;
        }
    }
    Ok(())
}

/// The first four bytes of every hash value an import into an empty database inserted, per
/// merge column. Values that two media share have the same prefix, so after the insert only
/// the prefixes seen twice need looking up in the hash indexes, instead of grouping whole
/// indexes: at 10 million values about 12,000 prefixes meet by chance, against 10 million
/// index entries to group. Memory is bounded: past [`Prefixes::CAPACITY`] values the
/// prefixes are dropped and the merge groups whole indexes as before.
#[derive(Default)]
struct Prefixes {
    columns: [Vec<u32>; 4],
    total: usize,
    overflowed: bool,
}

impl Prefixes {
    /// 48 million prefixes: 192 MB.
    const CAPACITY: usize = 48_000_000;

    /// Room for one prefix per column for every record expected from `source_bytes` of
    /// input (as [`Seen::new`] estimates it), reserved once rather than grown by copying;
    /// the memory of a column no record fills is never touched.
    fn new(source_bytes: u64) -> Prefixes {
        let expected = usize::try_from(source_bytes / Seen::BYTES_PER_RECORD)
            .unwrap_or(usize::MAX)
            .min(Self::CAPACITY / 2);
        Prefixes {
            columns: std::array::from_fn(|_| Vec::with_capacity(expected)),
            ..Prefixes::default()
        }
    }

    fn add(&mut self, rec: &KnownRecord) {
        if self.overflowed {
            return;
        }
        let d = &rec.digests;
        let values: [Option<&[u8]>; 4] = [
            d.md5.as_ref().map(|h| &h.0[..]),
            d.sha1.as_ref().map(|h| &h.0[..]),
            d.sha256.as_ref().map(|h| &h.0[..]),
            d.blake3.as_ref().map(|h| &h.0[..]),
        ];
        for (column, value) in self.columns.iter_mut().zip(values) {
            if let Some(v) = value {
                column.push(u32::from_be_bytes(v[..4].try_into().expect("4 bytes")));
                self.total += 1;
            }
        }
        if self.total > Self::CAPACITY {
            self.overflowed = true;
            self.columns = Default::default();
        }
    }

    /// Per merge column, the prefixes met more than once (sorted), or `None` when the
    /// prefixes overflowed.
    fn shared(self) -> Option<[Vec<u32>; 4]> {
        if self.overflowed {
            return None;
        }
        Some(self.columns.map(|mut c| {
            c.sort_unstable();
            let mut twice: Vec<u32> = c
                .windows(2)
                .filter(|w| w[0] == w[1])
                .map(|w| w[0])
                .collect();
            twice.dedup();
            twice
        }))
    }
}

/// Fills `temp.candidates` with the (key, value) pairs of `column` that several media hold
/// among those whose value starts with one of `prefixes` (found by ranges of keys in the
/// column's index: the values that start with a four-byte prefix are the keys from the
/// prefix's key to the next one's, [`hash_key`]).
fn shared_values(tx: &Transaction, column: &str, prefixes: &[u32]) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DROP TABLE IF EXISTS temp.candidates;
         CREATE TEMP TABLE candidates (k INTEGER, v BLOB, PRIMARY KEY (k, v));",
    )?;
    let mut bounded = tx.prepare(&format!(
        "SELECT {column}_key, {column} FROM media WHERE {column}_key >= ?1 AND {column}_key < ?2
         ORDER BY {column}_key, {column}"
    ))?;
    let mut last = tx.prepare(&format!(
        "SELECT {column}_key, {column} FROM media WHERE {column}_key >= ?1
         ORDER BY {column}_key, {column}"
    ))?;
    let mut insert = tx.prepare("INSERT OR IGNORE INTO temp.candidates VALUES (?1, ?2)")?;
    let key = |p: u32| hash_key(&u64::from(p).wrapping_shl(32).to_be_bytes());
    for &p in prefixes {
        let mut rows = match p.checked_add(1) {
            Some(next) => bounded.query(params![key(p), key(next)])?,
            None => last.query(params![key(p)])?,
        };
        let mut previous: Option<Vec<u8>> = None;
        while let Some(r) = rows.next()? {
            let k: i64 = r.get(0)?;
            let v: Vec<u8> = r.get(1)?;
            if previous.as_ref() == Some(&v) {
                insert.execute(params![k, v])?;
            }
            previous = Some(v);
        }
    }
    Ok(())
}

/// The hash columns records merge on, in priority order. PDQ is not one: two files with the
/// same perceptual hash are similar images, not the same file.
const MERGE_COLUMNS: [&str; 4] = ["md5", "sha1", "sha256", "blake3"];

/// The identity columns of a medium, in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MediaRow {
    id: i64,
    hashes: [Option<Vec<u8>>; 6],
    pdq_quality: Option<i64>,
    size: Option<i64>,
}

const MEDIA_COLUMNS: &str = "id, md5, sha1, sha256, blake3, pdq, photodna, pdq_quality, size";

impl MediaRow {
    fn from_row(r: &rusqlite::Row, offset: usize) -> rusqlite::Result<MediaRow> {
        Ok(MediaRow {
            id: r.get(offset)?,
            hashes: [
                r.get(offset + 1)?,
                r.get(offset + 2)?,
                r.get(offset + 3)?,
                r.get(offset + 4)?,
                r.get(offset + 5)?,
                r.get(offset + 6)?,
            ],
            pdq_quality: r.get(offset + 7)?,
            size: r.get(offset + 8)?,
        })
    }

    fn of(rec: &KnownRecord) -> MediaRow {
        let d = &rec.digests;
        MediaRow {
            id: 0,
            hashes: [
                d.md5.map(|h| h.0.to_vec()),
                d.sha1.map(|h| h.0.to_vec()),
                d.sha256.map(|h| h.0.to_vec()),
                d.blake3.map(|h| h.0.to_vec()),
                rec.pdq.map(|p| p.hash.to_vec()),
                rec.photodna.clone(),
            ],
            pdq_quality: rec.pdq.and_then(|p| p.quality).map(i64::from),
            size: rec.size.map(|s| s as i64),
        }
    }

    fn read(tx: &Transaction, id: i64) -> rusqlite::Result<MediaRow> {
        tx.prepare_cached(&format!("SELECT {MEDIA_COLUMNS} FROM media WHERE id = ?1"))?
            .query_row([id], |r| MediaRow::from_row(r, 0))
    }

    fn write(&self, tx: &Transaction) -> rusqlite::Result<()> {
        let h = &self.hashes;
        tx.prepare_cached(
            "UPDATE media SET md5 = ?2, sha1 = ?3, sha256 = ?4, blake3 = ?5, pdq = ?6,
                 photodna = ?7, pdq_quality = ?8, size = ?9,
                 md5_key = ?10, sha1_key = ?11, sha256_key = ?12, blake3_key = ?13 WHERE id = ?1",
        )?
        .execute(params![
            self.id,
            h[0],
            h[1],
            h[2],
            h[3],
            h[4],
            h[5],
            self.pdq_quality,
            self.size,
            h[0].as_deref().map(hash_key),
            h[1].as_deref().map(hash_key),
            h[2].as_deref().map(hash_key),
            h[3].as_deref().map(hash_key),
        ])?;
        Ok(())
    }

    /// Whether the two give the same MD5, SHA-1, SHA-256 or BLAKE3.
    fn shares_a_hash(&self, other: &MediaRow) -> bool {
        self.hashes[..4]
            .iter()
            .zip(&other.hashes[..4])
            .any(|(a, b)| a.is_some() && a == b)
    }

    /// Whether `other` can be the same file: no hash or size that both give differs.
    fn agrees_with(&self, other: &MediaRow) -> bool {
        fn same<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            match (a, b) {
                (Some(x), Some(y)) => x == y,
                _ => true,
            }
        }
        // A medium holds one PDQ and one PhotoDNA: two sets that computed different ones stay
        // two media (both found by their shared hash), so neither value is lost.
        self.hashes
            .iter()
            .zip(&other.hashes)
            .all(|(a, b)| same(a, b))
            && same(&self.size, &other.size)
    }

    fn absorb(&mut self, other: &MediaRow) {
        for (mine, theirs) in self.hashes.iter_mut().zip(&other.hashes) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        // The quality belongs to its PDQ: take the other's only with its PDQ, or for the same.
        if self.hashes[4] == other.hashes[4] {
            self.pdq_quality = self.pdq_quality.or(other.pdq_quality);
        }
        self.size = self.size.or(other.size);
    }
}

/// Merges media that share a hash, where at least one of them is new (id >= `base`), and
/// then again around every medium that gained a hash in a merge (a chain: set A knows an MD5,
/// set B a SHA-1, set C both), until nothing changes. The ids of media kept apart because
/// they disagree on another hash go into `kept_apart`.
///
/// `candidates`: for an import into an empty database, the prefixes of the values new media
/// may share (see [`Prefixes`]); only those are looked up. Else, `full`: scan each whole hash
/// index for shared values (cheap after a bulk insert), or look up each new medium's hashes.
fn merge_shared_hashes(
    tx: &Transaction,
    base: i64,
    full: bool,
    filled: ColumnMask,
    candidates: Option<&[Vec<u32>; 4]>,
    kept_apart: &mut std::collections::HashSet<i64>,
) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DROP TABLE IF EXISTS temp.touched; CREATE TEMP TABLE touched (id INTEGER PRIMARY KEY);
         DROP TABLE IF EXISTS temp.touched_next; CREATE TEMP TABLE touched_next (id INTEGER PRIMARY KEY);",
    )?;
    for round in 0..8 {
        for (i, column) in MERGE_COLUMNS.into_iter().enumerate() {
            if round == 0 && !filled.has(i) {
                // No new medium has this hash: nothing new can share it.
                continue;
            }
            let shared = match (round, full, candidates) {
                // Each gives the (key, value) pairs that several media hold; keys lead every
                // search, as only they are indexed, and the pairs drive the join below (CROSS
                // JOIN keeps that order: the planner would otherwise scan all of media).
                (0, _, Some(prefixes)) => {
                    shared_values(tx, column, &prefixes[i])?;
                    "SELECT k, v FROM temp.candidates WHERE ?1 = ?1".to_owned()
                }
                (0, true, None) => format!(
                    "SELECT {column}_key AS k, {column} AS v FROM media WHERE {column}_key IN
                       (SELECT {column}_key FROM media WHERE {column}_key IS NOT NULL
                        GROUP BY {column}_key HAVING count(*) > 1)
                     GROUP BY k, v HAVING count(*) > 1 AND max(id) >= ?1"
                ),
                (0, false, None) => format!(
                    "SELECT {column}_key AS k, {column} AS v FROM media WHERE {column}_key IN
                       (SELECT {column}_key FROM media WHERE id >= ?1 AND {column}_key IS NOT NULL)
                     GROUP BY k, v HAVING count(*) > 1"
                ),
                _ => format!(
                    "SELECT {column}_key AS k, {column} AS v FROM media WHERE {column}_key IN
                       (SELECT {column}_key FROM media WHERE id IN (SELECT id FROM temp.touched)
                          AND {column}_key IS NOT NULL AND ?1 = ?1)
                     GROUP BY k, v HAVING count(*) > 1"
                ),
            };
            tx.execute_batch("DROP TABLE IF EXISTS temp.shared")?;
            tx.execute(
                &format!(
                    "CREATE TEMP TABLE shared AS
                     SELECT s.v AS v, {cols} FROM ({shared}) s
                     CROSS JOIN media m ON m.{column}_key = s.k AND m.{column} = s.v",
                    cols = MEDIA_COLUMNS
                        .split(", ")
                        .map(|c| format!("m.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                [base],
            )?;
            // Read the snapshot group by group: it lives in the temp database, so changing
            // media and grades while reading it is safe, and memory holds one group at a time.
            let mut stmt = tx.prepare(&format!(
                "SELECT v, {MEDIA_COLUMNS} FROM temp.shared ORDER BY v, id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut value: Vec<u8> = Vec::new();
            let mut group: Vec<MediaRow> = Vec::new();
            while let Some(r) = rows.next()? {
                let v: Vec<u8> = r.get(0)?;
                if v != value && !group.is_empty() {
                    merge_group(tx, &group, kept_apart)?;
                    group.clear();
                }
                value = v;
                group.push(MediaRow::from_row(r, 1)?);
            }
            merge_group(tx, &group, kept_apart)?;
            drop(rows);
            drop(stmt);
            tx.execute_batch("DROP TABLE temp.shared")?;
        }
        let more: i64 = tx.query_row("SELECT count(*) FROM temp.touched_next", [], |r| r.get(0))?;
        tx.execute_batch(
            "DELETE FROM temp.touched; INSERT INTO temp.touched SELECT id FROM temp.touched_next;
             DELETE FROM temp.touched_next;",
        )?;
        if more == 0 {
            break;
        }
    }
    tx.execute_batch(
        "DROP TABLE temp.touched; DROP TABLE temp.touched_next;
         DROP TABLE IF EXISTS temp.candidates;",
    )?;
    Ok(())
}

/// Merges a group of media sharing one hash into its oldest member. Members that disagree on
/// another hash are kept apart (their ids, and the survivor's, go into `kept_apart`); a
/// survivor that gained a hash is noted in `temp.touched_next` for the next round.
fn merge_group(
    tx: &Transaction,
    members: &[MediaRow],
    kept_apart: &mut std::collections::HashSet<i64>,
) -> rusqlite::Result<()> {
    let Some(first) = members.first() else {
        return Ok(());
    };
    let mut survivor = first.clone();
    for m in &members[1..] {
        if !survivor.agrees_with(m) {
            kept_apart.insert(m.id.max(survivor.id));
            continue;
        }
        survivor.absorb(m);
        move_grades(tx, m.id, survivor.id)?;
        tx.execute("DELETE FROM media WHERE id = ?1", [m.id])?;
    }
    if survivor != *first {
        survivor.write(tx)?;
        tx.prepare_cached("INSERT OR IGNORE INTO temp.touched_next VALUES (?1)")?
            .execute([survivor.id])?;
    }
    Ok(())
}

pub(crate) fn grade_from_row(r: &rusqlite::Row, offset: usize) -> rusqlite::Result<Grade> {
    let category: String = r.get(offset + 3)?;
    let category = category.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            offset + 3,
            rusqlite::types::Type::Text,
            Box::new(e),
        )
    })?;
    Ok(Grade {
        record: r.get::<_, i64>(offset)? as u64,
        code: r.get(offset + 1)?,
        label: r.get(offset + 2)?,
        category,
        flags: Flags {
            baseline: r.get(offset + 4)?,
            victim_identified: r.get(offset + 5)?,
            offender_identified: r.get(offset + 6)?,
            distributed: r.get(offset + 7)?,
        },
        series: r.get(offset + 8)?,
        tags: tags_from_sql(r.get(offset + 9)?),
        file: r.get::<_, i64>(offset + 10)? as u32,
    })
}

/// Moves every grade of medium `from` to medium `to` (a set that grades both keeps both
/// records; readers combine them).
fn move_grades(tx: &Transaction, from: i64, to: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE grade SET media_id = ?2 WHERE media_id = ?1")?
        .execute([from, to])?;
    Ok(())
}

/// Imports `records` as one md5sum-format set named "set", for unit tests.
#[cfg(test)]
pub(crate) fn import_records(db: &mut KnownDb, records: Vec<KnownRecord>) -> ImportSummary {
    let rows_read = records.len() as u64;
    let meta = SetMeta {
        name: "set".into(),
        format: "md5sum".into(),
        ..SetMeta::default()
    };
    db.import_set(
        &meta,
        false,
        vec![Ok::<_, std::io::Error>(records)],
        &ImportCounters::new(),
        &Cancel::new(),
        || {
            Ok(SourceSummary {
                rows_read,
                ..SourceSummary::default()
            })
        },
    )
    .unwrap()
}
