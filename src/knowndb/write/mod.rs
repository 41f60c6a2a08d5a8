//! Importing a hash set: every record of the set goes in within one transaction, so a rejected
//! or interrupted import leaves the database exactly as it was.
//!
//! The records are inserted one medium each, without looking anything up; then records that
//! share a hash (within the set, or with media already known) are merged in a set-wise pass
//! over the hash indexes. When a set is large against what the database holds, the hash
//! indexes are dropped while inserting and built again after: sorting once is far cheaper than
//! millions of random index insertions.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::category::Category;
use super::record::{KnownRecord, UnmappedCode};
use super::schema::{GRADE_INDEXES, HASH_INDEXES, create_index_sql, set_grades};
use super::{DbError, KnownDb};
use crate::cancel::Cancel;
use crate::progress::ImportCounters;

mod dupes;
mod merge;
mod sql;

use dupes::{Seen, SeenEntry, SeenKey, is_blank};
use merge::{Fold, Prefixes, fold_into, merge_shared_hashes};
pub(crate) use sql::grade_from_row;
use sql::{
    ColumnMask, drop_grade_indexes, drop_hash_indexes, insert_grade, insert_media, insert_set,
    remove_set_in,
};

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
                            match fold_into(&tx, id, rec).map_err(db)? {
                                Fold::Merged { grew } => {
                                    if grew {
                                        if let Some(p) = &mut prefixes {
                                            p.add(rec);
                                        }
                                    }
                                    Some(id)
                                }
                                Fold::Clash => {
                                    clash = true;
                                    None
                                }
                                Fold::Unrelated => None,
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
            merge_columns = merge_columns.without(0);
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
