//! Importing a hash set: every record of the set goes in within one transaction, so a rejected
//! or interrupted import leaves the database exactly as it was.
//!
//! The records are inserted one medium each, without looking anything up; then records that
//! share a hash (within the set, or with media already known) are merged in a set-wise pass
//! over the hash indexes. When a set is large against what the database holds, the hash
//! indexes are dropped while inserting and built again after: sorting once is far cheaper than
//! millions of random index insertions.
//!
//! The import's steps are the methods of [`Import`]; the table that meets a set's own
//! duplicates while inserting is in [`dupes`], the set-wise merge in [`merge`], and the
//! statements that read best on their own (rows of a set, a medium, a grade; a set's removal)
//! in [`sql`].

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior};

use super::category::Category;
use super::record::{KnownRecord, UnmappedCode};
use super::schema::{GRADE_INDEXES, HASH_INDEXES, create_index_sql, set_grades};
use super::{DbError, KnownDb};
use crate::cancel::Cancel;
use crate::progress::{ImportCounters, ImportStage};

mod dupes;
mod merge;
mod sql;

use dupes::{Seen, SeenEntry, SeenKey, is_blank};
use merge::{Fold, Prefixes, fold_into, merge_shared_hashes};
use sql::{
    ColumnMask, Inserts, drop_grade_indexes, drop_hash_indexes, insert_files, insert_set,
    record_summary, remove_set_in,
};

/// Who made a set and how it was read.
#[derive(Clone, Debug, Default)]
pub struct SetMeta {
    pub name: String,
    pub source: Option<String>,
    pub version: Option<String>,
    /// The name of its files' format (the first file's, when they differ), as
    /// `import::Format::name` gives it.
    pub format: &'static str,
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
    pub format: &'static str,
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
        let db = sqlite::<E>(&path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let mut import = Import::begin(&tx, &path, meta, replace, counters, cancel)?;
        let md5_done = import.append(batches)?;
        let source = finish().map_err(WriteError::Source)?;
        // Ctrl-C is honoured between the stages after reading too (each rolls back).
        import.interrupted()?;
        if import.bulk {
            import.build_indexes()?;
        }
        import.merge(md5_done)?;
        let summary = import.conclude(&source).map_err(db)?;
        import.interrupted()?;
        counters.set_stage(ImportStage::Committing);
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

fn self_error(path: &Path, source: rusqlite::Error) -> DbError {
    DbError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// The error of a statement that failed in the database at `path`.
fn sqlite<E: std::error::Error + 'static>(
    path: &Path,
) -> impl Fn(rusqlite::Error) -> WriteError<E> + Copy + '_ {
    move |source| {
        WriteError::Db(DbError::Sqlite {
            path: path.to_owned(),
            source,
        })
    }
}

/// One import under way inside its transaction, from the set's row to its summary: where the
/// set's media and grades begin, how the indexes stand, and what the summary counts.
struct Import<'t> {
    tx: &'t Transaction<'t>,
    /// The database's path, for errors.
    path: &'t Path,
    counters: &'t ImportCounters,
    cancel: &'t Cancel,
    set_id: i64,
    /// Whether an earlier version of the set was removed first.
    replaced: bool,
    /// The last grade id before the import: the set's grades get the ids after it (see
    /// `schema::set_grades`).
    grades_before: i64,
    /// The first media id the import can give: media from here on are new.
    base: i64,
    /// Whether the database held no media before.
    was_empty: bool,
    /// Inserting with the grade indexes, and the index of each hash column the set fills,
    /// dropped; they are built again after the insert.
    bulk: bool,
    /// The media rows inserted past which an import not in bulk mode turns to it.
    bulk_at: u64,
    /// The hash columns some record has filled.
    columns: ColumnMask,
    /// The hash columns whose index is dropped.
    dropped: ColumnMask,
    /// Records taken from the batches.
    inserted: u64,
    /// Media rows inserted.
    media_rows: u64,
    /// Media kept apart from one sharing a hash with them, because another hash differs.
    kept_apart: HashSet<i64>,
    /// Into an empty database, the only media that can share a hash are the set's own: their
    /// prefixes find them without scanning whole indexes.
    prefixes: Option<Prefixes>,
}

impl<'t> Import<'t> {
    /// Opens the set: removes the version it replaces (only with `replace`), inserts its row,
    /// and notes where its media and grades begin. Into an empty database the import is in
    /// bulk mode from the start, and the grade indexes go at once.
    fn begin<E: std::error::Error + 'static>(
        tx: &'t Transaction<'t>,
        path: &'t Path,
        meta: &SetMeta,
        replace: bool,
        counters: &'t ImportCounters,
        cancel: &'t Cancel,
    ) -> Result<Import<'t>, WriteError<E>> {
        let db = sqlite::<E>(path);
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
            remove_set_in(tx, old).map_err(db)?;
        }
        let set_id = insert_set(tx, meta).map_err(db)?;
        let grades_before: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) FROM grade", [], |r| r.get(0))
            .map_err(db)?;
        let existing: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) FROM media", [], |r| r.get(0))
            .map_err(db)?;
        // In bulk mode the index of a hash column is dropped when the set first brings a value
        // for it: a column the set never fills keeps its index, and costs no rebuild.
        let bulk = existing == 0;
        if bulk {
            drop_grade_indexes(tx).map_err(db)?;
            tx.execute_batch(BULK_CACHE).map_err(db)?;
        }
        Ok(Import {
            tx,
            path,
            counters,
            cancel,
            set_id,
            replaced: old.is_some(),
            grades_before,
            base: existing + 1,
            was_empty: existing == 0,
            bulk,
            bulk_at: BULK_MIN.max(u64::try_from(existing).unwrap_or(0) / 8),
            columns: ColumnMask::default(),
            dropped: ColumnMask::default(),
            inserted: 0,
            media_rows: 0,
            kept_apart: HashSet::new(),
            prefixes: (existing == 0).then(|| Prefixes::new(counters.total_bytes())),
        })
    }

    /// Inserts every batch, and says whether the MD5 pass of the merge can be skipped. The
    /// duplicate table lives only while the batches are read.
    fn append<E, I>(&mut self, batches: I) -> Result<bool, WriteError<E>>
    where
        E: std::error::Error + 'static,
        I: IntoIterator<Item = Result<Vec<KnownRecord>, E>>,
    {
        let db = sqlite::<E>(self.path);
        let mut seen = Seen::new(self.base, self.counters.total_bytes());
        let mut inserts = Inserts::prepare(self.tx).map_err(db)?;
        for batch in batches {
            let batch = batch.map_err(WriteError::Source)?;
            self.append_batch(&mut seen, &mut inserts, &batch)
                .map_err(db)?;
        }
        drop(inserts);
        // Records sharing an MD5 always met in the map (a record with an MD5 is keyed by it):
        // into a database that held nothing, with every record remembered, the MD5 pass of
        // the merge would find nothing new.
        Ok(self.was_empty && seen.complete)
    }

    /// Inserts one batch: each record's grade, on the medium of an earlier record it repeats
    /// or on a new one; then turns to bulk mode once the set proves large.
    fn append_batch(
        &mut self,
        seen: &mut Seen,
        inserts: &mut Inserts,
        batch: &[KnownRecord],
    ) -> rusqlite::Result<()> {
        self.columns.add_batch(batch);
        if self.bulk {
            drop_hash_indexes(self.tx, self.columns, &mut self.dropped)?;
        }
        let keys: Vec<Option<SeenKey>> = batch.iter().map(|r| seen.key(r)).collect();
        for (i, rec) in batch.iter().enumerate() {
            // The slot of a record a few ahead arrives while this one is inserted.
            if let Some(Some(ahead)) = keys.get(i + Seen::PREFETCH_AHEAD) {
                seen.prefetch(*ahead);
            }
            if let Some(id) = self.medium_of(seen, inserts, rec, keys[i])? {
                inserts.grade(id, self.set_id, rec)?;
                inserts.frames(id, rec)?;
            }
        }
        self.inserted += batch.len() as u64;
        self.counters.add_written(batch.len() as u64);
        if !self.bulk && self.media_rows >= self.bulk_at {
            drop_hash_indexes(self.tx, self.columns, &mut self.dropped)?;
            drop_grade_indexes(self.tx)?;
            self.tx.execute_batch(BULK_CACHE)?;
            self.bulk = true;
        }
        Ok(())
    }

    /// The medium that `rec` (whose key in the duplicate table is `key`) is graded on: an
    /// earlier record's, or one inserted for it. `None` for a repeat that adds no grade.
    fn medium_of(
        &mut self,
        seen: &mut Seen,
        inserts: &mut Inserts,
        rec: &KnownRecord,
        key: Option<SeenKey>,
    ) -> rusqlite::Result<Option<i64>> {
        let earlier = key.and_then(|k| seen.get(k));
        let clash = match earlier {
            Some(e) if e.same && e.blank && is_blank(&rec.grade) => {
                // A repeat of the medium's first record that, like it, says nothing but the
                // set's own grade (NSRL lists a file once per package): its grade row would
                // add only a record number.
                return Ok(None);
            }
            Some(e) if e.same => return Ok(Some(e.id)),
            Some(SeenEntry { id, .. }) => {
                // Its first hash starts like an earlier record's, and something differs: the
                // same file described more fully (merge), a genuine clash (kept apart), or two
                // files alike by chance.
                match fold_into(self.tx, id, rec)? {
                    Fold::Merged { grew } => {
                        if grew {
                            self.add_prefixes(rec);
                        }
                        return Ok(Some(id));
                    }
                    Fold::Clash => true,
                    Fold::Unrelated => false,
                }
            }
            None => false,
        };
        let id = inserts.media(rec)?;
        self.media_rows += 1;
        if clash {
            self.kept_apart.insert(id);
            // Not remembered: its own duplicates meet in the merge.
            seen.complete = false;
        } else {
            match (key, earlier) {
                (Some(k), None) => seen.insert(k, id, is_blank(&rec.grade)),
                // Its key is another medium's: not remembered.
                (Some(_), Some(_)) => seen.complete = false,
                _ => {}
            }
        }
        self.add_prefixes(rec);
        Ok(Some(id))
    }

    /// Notes the prefixes of `rec`'s hashes, when the import keeps them.
    fn add_prefixes(&mut self, rec: &KnownRecord) {
        if let Some(p) = &mut self.prefixes {
            p.add(rec);
        }
    }

    /// Builds again the indexes that bulk mode dropped, one statement each, heeding Ctrl-C
    /// between them.
    fn build_indexes<E: std::error::Error + 'static>(&self) -> Result<(), WriteError<E>> {
        let db = sqlite::<E>(self.path);
        self.counters.set_stage(ImportStage::Indexing);
        // SQLite sorts for CREATE INDEX in runs as large as the page cache. Small runs,
        // sorted by helper threads and merged, build the indexes of a 3 M-row table 2.4x
        // faster than one 256 MiB run (measured: 6.1 s against 14.4 s for three indexes).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        self.tx
            .execute_batch(&format!(
                "PRAGMA threads = {threads}; PRAGMA cache_size = -8192;"
            ))
            .map_err(db)?;
        for (i, (name, column)) in HASH_INDEXES.iter().enumerate() {
            if self.dropped.has(i) {
                self.tx
                    .execute_batch(&create_index_sql(name, column))
                    .map_err(db)?;
                self.interrupted()?;
            }
        }
        for (_, sql) in GRADE_INDEXES {
            self.tx.execute_batch(sql).map_err(db)?;
            self.interrupted()?;
        }
        self.tx
            .execute_batch(&format!(
                "PRAGMA threads = 0; PRAGMA cache_size = {CACHE_SIZE};"
            ))
            .map_err(db)?;
        Ok(())
    }

    /// Merges the media that share a hash where one of them is new (see
    /// [`merge_shared_hashes`]); `md5_done` when the duplicate table already met every MD5.
    fn merge<E: std::error::Error + 'static>(
        &mut self,
        md5_done: bool,
    ) -> Result<(), WriteError<E>> {
        self.counters.set_stage(ImportStage::Merging);
        self.interrupted()?;
        let mut columns = self.columns;
        if md5_done {
            columns = columns.without(0);
        }
        let candidates = self.prefixes.take().and_then(Prefixes::shared);
        merge_shared_hashes(
            self.tx,
            self.base,
            self.bulk,
            columns,
            candidates.as_ref(),
            &mut self.kept_apart,
        )
        .map_err(sqlite(self.path))
    }

    /// Writes the set's grade range, counts, unmapped codes and files to its rows, and
    /// returns its summary.
    fn conclude(&self, source: &SourceSummary) -> rusqlite::Result<ImportSummary> {
        self.tx.execute(
            "UPDATE hash_set SET grade_first = (SELECT min(id) FROM grade WHERE id > ?2),
                 grade_last = (SELECT max(id) FROM grade WHERE id > ?2) WHERE id = ?1",
            [self.set_id, self.grades_before],
        )?;
        let imported: i64 = self.tx.query_row(
            &format!(
                "SELECT count(DISTINCT media_id) FROM grade WHERE {}",
                set_grades("grade")
            ),
            [self.set_id],
            |r| r.get(0),
        )?;
        let imported = imported as u64;
        let summary = ImportSummary {
            set_id: self.set_id,
            rows_read: source.rows_read,
            rows_imported: imported,
            rows_merged: self.inserted - imported,
            rows_rejected: source.rows_rejected,
            rows_empty: source.rows_empty,
            hash_conflicts: self.kept_apart.len() as u64,
            replaced: self.replaced,
            unmapped: source.unmapped.clone(),
            rejects_file: source.rejects_file.clone(),
        };
        record_summary(self.tx, &summary)?;
        insert_files(self.tx, self.set_id, &source.files)?;
        Ok(summary)
    }

    /// `Interrupted` once Ctrl-C was pressed.
    fn interrupted<E: std::error::Error + 'static>(&self) -> Result<(), WriteError<E>> {
        if self.cancel.is_cancelled() {
            Err(WriteError::Db(DbError::Interrupted))
        } else {
            Ok(())
        }
    }
}

/// Imports `records` as one set of MD5 lists named "set", for unit tests.
#[cfg(test)]
pub(crate) fn import_records(db: &mut KnownDb, records: Vec<KnownRecord>) -> ImportSummary {
    let rows_read = records.len() as u64;
    let meta = SetMeta {
        name: "set".into(),
        format: "digest-list",
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
