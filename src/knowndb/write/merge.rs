//! Merging the media that share a hash: the set's records against each other and against the
//! media already known, set-wise over the hash indexes after the insert.

use std::collections::HashSet;

use rusqlite::{Transaction, params};

use super::dupes::Seen;
use super::sql::ColumnMask;
use crate::knowndb::record::KnownRecord;
use crate::knowndb::schema::hash_key;

/// The first four bytes of every hash value an import into an empty database inserted, per
/// merge column. Values that two media share have the same prefix, so after the insert only
/// the prefixes seen twice need looking up in the hash indexes, instead of grouping whole
/// indexes: at 10 million values about 12,000 prefixes meet by chance, against 10 million
/// index entries to group. Memory is bounded: past [`Prefixes::CAPACITY`] values the
/// prefixes are dropped and the merge groups whole indexes as before.
#[derive(Default)]
pub(super) struct Prefixes {
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
    pub(super) fn new(source_bytes: u64) -> Prefixes {
        let expected = usize::try_from(source_bytes / Seen::BYTES_PER_RECORD)
            .unwrap_or(usize::MAX)
            .min(Self::CAPACITY / 2);
        Prefixes {
            columns: std::array::from_fn(|_| Vec::with_capacity(expected)),
            ..Prefixes::default()
        }
    }

    pub(super) fn add(&mut self, rec: &KnownRecord) {
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
    pub(super) fn shared(self) -> Option<[Vec<u32>; 4]> {
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

/// What became of a record whose key in the duplicate table is an earlier medium's.
pub(super) enum Fold {
    /// The same file, described as fully or more so: merged into that medium, which `grew`
    /// when the record brought a value it lacked.
    Merged { grew: bool },
    /// They share a hash but another differs: a genuine clash, kept apart.
    Clash,
    /// They share no hash: two files whose first hashes only start alike.
    Unrelated,
}

/// Folds `rec` into the medium `id` of an earlier record whose first hash starts like its
/// own, when they share a hash and nothing else differs.
pub(super) fn fold_into(tx: &Transaction, id: i64, rec: &KnownRecord) -> rusqlite::Result<Fold> {
    let existing = MediaRow::read(tx, id)?;
    let incoming = MediaRow::of(rec);
    let shared = existing.shares_a_hash(&incoming);
    if shared && existing.agrees_with(&incoming) {
        let mut merged = existing.clone();
        merged.absorb(&incoming);
        let grew = merged != existing;
        if grew {
            merged.write(tx)?;
        }
        Ok(Fold::Merged { grew })
    } else if shared {
        // Only a clash if they really share a hash (the key is a 32-bit prefix, which
        // thousands of records share by chance).
        Ok(Fold::Clash)
    } else {
        Ok(Fold::Unrelated)
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
pub(super) fn merge_shared_hashes(
    tx: &Transaction,
    base: i64,
    full: bool,
    filled: ColumnMask,
    candidates: Option<&[Vec<u32>; 4]>,
    kept_apart: &mut HashSet<i64>,
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
            let shared = shared_pairs(tx, column, round, full, candidates.map(|c| &c[i][..]))?;
            merge_column(tx, column, &shared, base, kept_apart)?;
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

/// The query of the (key, value) pairs of `column` that several media hold, for one round of
/// [`merge_shared_hashes`] (its parameter ?1 is `base`). With `prefixes` (in round 0), fills
/// `temp.candidates` first and reads that.
fn shared_pairs(
    tx: &Transaction,
    column: &str,
    round: usize,
    full: bool,
    prefixes: Option<&[u32]>,
) -> rusqlite::Result<String> {
    Ok(match (round, full, prefixes) {
        // Each gives the (key, value) pairs that several media hold; keys lead every
        // search, as only they are indexed, and the pairs drive the join below (CROSS
        // JOIN keeps that order: the planner would otherwise scan all of media).
        (0, _, Some(prefixes)) => {
            shared_values(tx, column, prefixes)?;
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
    })
}

/// Merges, group by group, the media that hold the pairs of `column` that the query `shared`
/// gives (see [`shared_pairs`]).
fn merge_column(
    tx: &Transaction,
    column: &str,
    shared: &str,
    base: i64,
    kept_apart: &mut HashSet<i64>,
) -> rusqlite::Result<()> {
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
    tx.execute_batch("DROP TABLE temp.shared")
}

/// Merges a group of media sharing one hash into its oldest member. Members that disagree on
/// another hash are kept apart (their ids, and the survivor's, go into `kept_apart`); a
/// survivor that gained a hash is noted in `temp.touched_next` for the next round.
fn merge_group(
    tx: &Transaction,
    members: &[MediaRow],
    kept_apart: &mut HashSet<i64>,
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

/// Moves every grade of medium `from` to medium `to` (a set that grades both keeps both
/// records; readers combine them).
fn move_grades(tx: &Transaction, from: i64, to: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE grade SET media_id = ?2 WHERE media_id = ?1")?
        .execute([from, to])?;
    Ok(())
}
