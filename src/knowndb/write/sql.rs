//! The statements of an import and of a set's removal that read best on their own: the rows of
//! a set, a medium and a grade, which indexes a bulk insert drops, and taking a set back out.

use rusqlite::{Statement, Transaction, params};

use super::{ImportSummary, SetMeta, SourceFile};
use crate::knowndb::category::Category;
use crate::knowndb::record::KnownRecord;
use crate::knowndb::schema::{
    GRADE_INDEXES, HASH_INDEXES, KEYED, hash_key, set_grades, tags_to_sql,
};
use crate::utc::Timestamp;

pub(super) fn insert_set(tx: &Transaction, meta: &SetMeta) -> rusqlite::Result<i64> {
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

/// The two statements an import runs once per record, prepared once.
pub(super) struct Inserts<'t> {
    tx: &'t Transaction<'t>,
    media: Statement<'t>,
    grade: Statement<'t>,
    frame: Statement<'t>,
}

// The two inserts below run once per record: they bind each parameter by its own type
// (`raw_bind_parameter`) rather than through a slice of `&dyn ToSql`.
impl<'t> Inserts<'t> {
    pub(super) fn prepare(tx: &'t Transaction<'t>) -> rusqlite::Result<Inserts<'t>> {
        let media = tx.prepare(
            "INSERT INTO media (md5, sha1, sha256, blake3, pdq, pdq_quality, photodna, size,
                 md5_key, sha1_key, sha256_key, blake3_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        let grade = tx.prepare(
            "INSERT INTO grade (media_id, set_id, record, code, label, category, baseline,
                 victim_identified, offender_identified, distributed, series, tags,
                 file, provided)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        let frame = tx.prepare(
            "INSERT OR IGNORE INTO video_frame (media_id, position, frame, quality, pdq, millis)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        Ok(Inserts {
            tx,
            media,
            grade,
            frame,
        })
    }

    /// Inserts the medium `rec` describes, and returns its id.
    pub(super) fn media(&mut self, rec: &KnownRecord) -> rusqlite::Result<i64> {
        let stmt = &mut self.media;
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
        Ok(self.tx.last_insert_rowid())
    }

    /// Inserts the vPDQ frames of `rec`, a known video, for the medium `media_id`, unless it has
    /// some already (a repeat of a video, or one a set described before).
    pub(super) fn frames(&mut self, media_id: i64, rec: &KnownRecord) -> rusqlite::Result<()> {
        let Some(frames) = rec.video.as_deref() else {
            return Ok(());
        };
        let has: bool = self.tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM video_frame WHERE media_id = ?1)",
            [media_id],
            |r| r.get(0),
        )?;
        if has {
            return Ok(());
        }
        let stmt = &mut self.frame;
        for (position, f) in frames.iter().enumerate() {
            stmt.raw_bind_parameter(1, media_id)?;
            stmt.raw_bind_parameter(2, position as i64)?;
            stmt.raw_bind_parameter(3, f.number as i64)?;
            stmt.raw_bind_parameter(4, i64::from(f.quality))?;
            stmt.raw_bind_parameter(5, &f.pdq[..])?;
            stmt.raw_bind_parameter(6, f.millis as i64)?;
            stmt.raw_execute()?;
        }
        Ok(())
    }

    /// Inserts the grade `rec` gives the medium `media_id` in the set `set_id`.
    pub(super) fn grade(
        &mut self,
        media_id: i64,
        set_id: i64,
        rec: &KnownRecord,
    ) -> rusqlite::Result<()> {
        let stmt = &mut self.grade;
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
}

/// Writes a finished import's counts to its set's row, with where its rejects went and the
/// codes its profile did not map.
pub(super) fn record_summary(tx: &Transaction, summary: &ImportSummary) -> rusqlite::Result<()> {
    let set_id = summary.set_id;
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
    )?;
    if let Some(path) = &summary.rejects_file {
        use std::os::unix::ffi::OsStrExt;
        tx.execute(
            "UPDATE hash_set SET rejects_file = ?2 WHERE id = ?1",
            params![set_id, path.as_os_str().as_bytes()],
        )?;
    }
    for u in &summary.unmapped {
        tx.execute(
            "INSERT INTO hash_set_unmapped (set_id, code, label, records)
             VALUES (?1, ?2, ?3, ?4)",
            params![set_id, u.code, u.label, u.records as i64],
        )?;
    }
    Ok(())
}

/// Lists the files the set `set_id` was read from, in their order.
pub(super) fn insert_files(
    tx: &Transaction,
    set_id: i64,
    files: &[SourceFile],
) -> rusqlite::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    for (position, f) in files.iter().enumerate() {
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
        )?;
    }
    Ok(())
}

pub(super) fn remove_set_in(tx: &Transaction, id: i64) -> rusqlite::Result<()> {
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
            "DELETE FROM video_frame WHERE media_id IN (SELECT media_id FROM grade WHERE {of_set})
               AND NOT EXISTS (SELECT 1 FROM grade g WHERE g.media_id = video_frame.media_id
                               AND g.set_id <> ?1)"
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
pub(super) struct ColumnMask(u8);

impl ColumnMask {
    pub(super) fn add_batch(&mut self, batch: &[KnownRecord]) {
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

    pub(super) fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// The same columns but column `i`.
    pub(super) fn without(self, i: usize) -> ColumnMask {
        ColumnMask(self.0 & !(1 << i))
    }
}

pub(super) fn drop_grade_indexes(tx: &Transaction) -> rusqlite::Result<()> {
    for (name, _) in GRADE_INDEXES {
        tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    Ok(())
}

/// Drops the index of every column in `columns` not dropped yet.
pub(super) fn drop_hash_indexes(
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
