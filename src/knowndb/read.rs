//! Reading the database: the sets and their provenance, every set's view of a hash, and
//! statistics per set and per canonical category, with the conflicts between sets.

use std::collections::BTreeMap;

use rusqlite::params;
use serde::Serialize;

use super::category::Category;
use super::record::{Grade, UnmappedCode};
use super::schema::grade_from_row;
use super::{DbError, KnownDb};
use crate::digest::{Blake3, Md5, Sha1, Sha256, to_hex};
use crate::media::pdq::PdqHash;

/// One file a set was imported from.
#[derive(Clone, Debug, Serialize)]
pub struct SetFile {
    pub file_name: String,
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub format: String,
    pub rows_read: u64,
}

/// A hash set and its provenance.
#[derive(Clone, Debug, Serialize)]
pub struct SetInfo {
    pub name: String,
    pub source: Option<String>,
    pub version: Option<String>,
    pub format: String,
    pub profile: Option<String>,
    pub profile_sha256: Option<String>,
    pub default_category: Option<String>,
    pub imported_at: String,
    pub hashsift_version: String,
    pub rows_read: u64,
    pub rows_imported: u64,
    pub rows_merged: u64,
    pub rows_rejected: u64,
    pub rows_empty: u64,
    pub files: Vec<SetFile>,
    /// Where the records left out by `--skip-invalid` are listed (when some were).
    pub rejects_file: Option<String>,
    /// Category codes the profile does not list, imported as `uncategorised`.
    pub unmapped: Vec<UnmappedCode>,
}

/// One set's grade of a medium, as `lookup` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SetGrade {
    pub set: String,
    pub set_version: Option<String>,
    /// The set's file (its position in `db list`, from 0) and the record in it.
    pub file: u32,
    pub record: u64,
    pub code: Option<String>,
    pub label: Option<String>,
    pub category: Category,
    pub baseline: Option<bool>,
    pub victim_identified: Option<bool>,
    pub offender_identified: Option<bool>,
    pub distributed: Option<bool>,
    pub series: Option<String>,
    pub tags: Vec<String>,
}

impl SetGrade {
    fn new(set: String, set_version: Option<String>, g: Grade) -> SetGrade {
        SetGrade {
            set,
            set_version,
            file: g.file,
            record: g.record,
            code: g.code,
            label: g.label,
            category: g.category,
            baseline: g.flags.baseline,
            victim_identified: g.flags.victim_identified,
            offender_identified: g.flags.offender_identified,
            distributed: g.flags.distributed,
            series: g.series,
            tags: g.tags,
        }
    }
}

/// A known medium with every set's grade of it. Its hashes serialise as lower-case hex.
#[derive(Clone, Debug, Serialize)]
pub struct MediaView {
    pub md5: Option<Md5>,
    pub sha1: Option<Sha1>,
    pub sha256: Option<Sha256>,
    pub blake3: Option<Blake3>,
    pub pdq: Option<PdqHash>,
    pub pdq_quality: Option<u8>,
    /// Lower-case hex of the stored bytes (PhotoDNA has no fixed size here).
    pub photodna: Option<String>,
    pub size: Option<u64>,
    /// The most severe grade any set gives.
    pub triage: Category,
    /// Whether sets disagree (see [`conflicting`]).
    pub conflict: bool,
    pub grades: Vec<SetGrade>,
}

/// Serialises as the category's name.
impl Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Whether grades disagree: two different categories, leaving out `uncategorised` (a set
/// that gives no grade does not contradict one that does).
pub fn conflicting(categories: impl IntoIterator<Item = Category>) -> bool {
    let mut seen: Option<Category> = None;
    for c in categories {
        if c == Category::Uncategorised {
            continue;
        }
        match seen {
            None => seen = Some(c),
            Some(s) if s != c => return true,
            _ => {}
        }
    }
    false
}

/// Which columns a hex digest of this length can be.
fn columns_for(len: usize) -> &'static [&'static str] {
    match len {
        32 => &["md5"],
        40 => &["sha1"],
        64 => &["sha256", "blake3", "pdq"],
        _ => &[],
    }
}

/// Counts for `stats`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub sets: u64,
    pub media: u64,
    /// Media by their triage category (the most severe grade of any set).
    pub by_triage: BTreeMap<String, u64>,
    /// Per set: grades by canonical category.
    pub by_set: BTreeMap<String, BTreeMap<String, u64>>,
    pub conflicts: u64,
    /// The MD5 (or first hash) of up to 20 conflicting media.
    pub conflict_examples: Vec<String>,
    /// Per set (those that have any): category codes the profile does not list, imported as
    /// `uncategorised`, with their records.
    pub unmapped: BTreeMap<String, Vec<UnmappedCode>>,
}

impl KnownDb {
    /// The codes of set `id` that its profile does not list, by number of records.
    fn unmapped_codes(&self, id: i64) -> Result<Vec<UnmappedCode>, DbError> {
        let e = |s| self.sqlite_error(s);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT code, label, records FROM hash_set_unmapped WHERE set_id = ?1
                 ORDER BY records DESC, code",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(UnmappedCode {
                    code: r.get(0)?,
                    label: r.get(1)?,
                    records: r.get::<_, i64>(2)? as u64,
                })
            })
            .map_err(e)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(e)
    }

    /// Every set with its provenance, by name.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn sets(&self) -> Result<Vec<SetInfo>, DbError> {
        let e = |s| self.sqlite_error(s);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, name, source, version, format, profile, profile_sha256,
                        default_category, imported_at, hashsift_version, rows_read,
                        rows_imported, rows_merged, rows_rejected, rows_empty, rejects_file
                 FROM hash_set ORDER BY name",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map([], |r| {
                let sha: Option<Vec<u8>> = r.get(6)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    SetInfo {
                        name: r.get(1)?,
                        source: r.get(2)?,
                        version: r.get(3)?,
                        format: r.get(4)?,
                        profile: r.get(5)?,
                        profile_sha256: sha.map(|s| to_hex(&s)),
                        default_category: r.get(7)?,
                        imported_at: r.get(8)?,
                        hashsift_version: r.get(9)?,
                        rows_read: r.get::<_, i64>(10)? as u64,
                        rows_imported: r.get::<_, i64>(11)? as u64,
                        rows_merged: r.get::<_, i64>(12)? as u64,
                        rows_rejected: r.get::<_, i64>(13)? as u64,
                        rows_empty: r.get::<_, i64>(14)? as u64,
                        files: Vec::new(),
                        rejects_file: r
                            .get::<_, Option<Vec<u8>>>(15)?
                            .map(|p| String::from_utf8_lossy(&p).into_owned()),
                        unmapped: Vec::new(),
                    },
                ))
            })
            .map_err(e)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(e)?;
        let mut files = self
            .conn
            .prepare(
                "SELECT file_name, path, file_size, file_sha256, format, rows_read
                 FROM hash_set_file WHERE set_id = ?1 ORDER BY position",
            )
            .map_err(e)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, mut info) in rows {
            info.files = files
                .query_map([id], |r| {
                    let path: Vec<u8> = r.get(1)?;
                    let sha: Vec<u8> = r.get(3)?;
                    Ok(SetFile {
                        file_name: r.get(0)?,
                        path: String::from_utf8_lossy(&path).into_owned(),
                        size: r.get::<_, i64>(2)? as u64,
                        sha256: to_hex(&sha),
                        format: r.get(4)?,
                        rows_read: r.get::<_, i64>(5)? as u64,
                    })
                })
                .map_err(e)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(e)?;
            info.unmapped = self.unmapped_codes(id)?;
            out.push(info);
        }
        Ok(out)
    }

    /// Every known medium whose MD5 (32 hex digits), SHA-1 (40), SHA-256, BLAKE3 or PDQ (64)
    /// is `hex`, with every set's grade.
    ///
    /// # Errors
    /// `hex` is not a digest of a supported length; SQLite errors.
    pub fn lookup(&self, hex: &str) -> Result<Result<Vec<MediaView>, String>, DbError> {
        let hex = hex.trim();
        let columns = columns_for(hex.len());
        if columns.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Err(format!(
                "'{hex}' is not a digest: expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256, BLAKE3, PDQ) hex digits"
            )));
        }
        let bytes = crate::digest::from_hex(hex.as_bytes()).expect("checked hex");
        let e = |s| self.sqlite_error(s);
        let mut ids: Vec<i64> = Vec::new();
        for column in columns {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT id FROM media m WHERE {}",
                    super::schema::hash_equals("m", column, "?1", "?2")
                ))
                .map_err(e)?;
            let key = super::schema::hash_key(&bytes);
            for id in stmt
                .query_map(rusqlite::params![&bytes, key], |r| r.get(0))
                .map_err(e)?
            {
                let id = id.map_err(e)?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids.sort_unstable();
        ids.into_iter()
            .map(|id| self.medium(id))
            .collect::<Result<Vec<_>, _>>()
            .map(Ok)
    }

    /// The media whose hash of some algorithm has the key of the digest's (sorted, each
    /// once), asked of the key indexes one digest at a time: what [`super::index::KnownIndex`]
    /// answers from memory, for scans too small to be worth loading it.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn candidates(&self, digests: &crate::digest::Digests) -> Result<Vec<i64>, DbError> {
        let e = |s| self.sqlite_error(s);
        let values: [Option<&[u8]>; 4] = [
            digests.md5.as_ref().map(|h| &h.0[..]),
            digests.sha1.as_ref().map(|h| &h.0[..]),
            digests.sha256.as_ref().map(|h| &h.0[..]),
            digests.blake3.as_ref().map(|h| &h.0[..]),
        ];
        let mut ids = Vec::new();
        for (column, value) in super::schema::KEYED.iter().zip(values) {
            let Some(value) = value else { continue };
            let mut stmt = self
                .conn
                .prepare_cached(&format!("SELECT id FROM media WHERE {column}_key = ?1"))
                .map_err(e)?;
            let rows = stmt
                .query_map([super::schema::hash_key(value)], |r| r.get::<_, i64>(0))
                .map_err(e)?;
            for id in rows {
                ids.push(id.map_err(e)?);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The highest medium id: an upper bound of how many media the database holds, found
    /// without counting them.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn max_media_id(&self) -> Result<u64, DbError> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT max(id) FROM media", [], |r| r.get(0))
            .map_err(|e| self.sqlite_error(e))?;
        Ok(max.map_or(0, |m| m.max(0) as u64))
    }

    /// Every known PDQ hash, indexed for near-neighbour search by medium id.
    ///
    /// # Errors
    /// SQLite errors; [`DbError::Interrupted`] on Ctrl-C; [`DbError::Corrupt`] for a medium id
    /// beyond 2^32.
    pub fn pdq_index(
        &self,
        cancel: &crate::cancel::Cancel,
    ) -> Result<super::pdq_index::PdqIndex, DbError> {
        use crate::media::pdq::PdqHash;
        let e = |s| self.sqlite_error(s);
        // The partial index holds every PDQ hash with its medium id: read, not the table.
        let mut stmt = self
            .conn
            .prepare("SELECT id, pdq FROM media INDEXED BY media_pdq WHERE pdq IS NOT NULL")
            .map_err(e)?;
        let mut rows = stmt.query([]).map_err(e)?;
        let mut pairs: Vec<(u32, PdqHash)> = Vec::new();
        while let Some(r) = rows.next().map_err(e)? {
            let id: i64 = r.get(0).map_err(e)?;
            let id = u32::try_from(id).map_err(|_| DbError::Corrupt {
                path: self.path().to_owned(),
                reason: format!("medium id {id} is beyond 2^32"),
            })?;
            let bytes: Vec<u8> = r.get(1).map_err(e)?;
            let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| DbError::Corrupt {
                path: self.path().to_owned(),
                reason: format!("medium {id} has a PDQ hash of {} bytes", bytes.len()),
            })?;
            pairs.push((id, PdqHash::from_bytes(&bytes)));
            if pairs.len().is_multiple_of(1 << 16) && cancel.is_cancelled() {
                return Err(DbError::Interrupted);
            }
        }
        Ok(super::pdq_index::PdqIndex::build(pairs))
    }

    /// For each of `queries`, every known medium whose PDQ hash is within `max_distance` bits,
    /// nearest first (ties by medium id), as (distance, medium): one pass over the database's
    /// PDQ hashes, nothing loaded into memory.
    ///
    /// # Errors
    /// SQLite errors; [`DbError::Interrupted`] on Ctrl-C.
    pub fn pdq_neighbours(
        &self,
        queries: &[crate::media::pdq::PdqHash],
        max_distance: u32,
        cancel: &crate::cancel::Cancel,
    ) -> Result<Vec<Vec<(u32, MediaView)>>, DbError> {
        use crate::media::pdq::PdqHash;
        let e = |s| self.sqlite_error(s);
        let mut found: Vec<Vec<(u32, i64)>> = vec![Vec::new(); queries.len()];
        {
            let mut stmt = self
                .conn
                .prepare("SELECT id, pdq FROM media INDEXED BY media_pdq WHERE pdq IS NOT NULL")
                .map_err(e)?;
            let mut rows = stmt.query([]).map_err(e)?;
            let mut read = 0u64;
            while let Some(r) = rows.next().map_err(e)? {
                let bytes: Vec<u8> = r.get(1).map_err(e)?;
                let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) else {
                    continue; // the schema's CHECK keeps every PDQ hash at 32 bytes
                };
                let known = PdqHash::from_bytes(&bytes);
                for (q, out) in queries.iter().zip(&mut found) {
                    let d = q.distance(&known);
                    if d <= max_distance {
                        out.push((d, r.get(0).map_err(e)?));
                    }
                }
                read += 1;
                if read.is_multiple_of(1 << 16) && cancel.is_cancelled() {
                    return Err(DbError::Interrupted);
                }
            }
        }
        found
            .into_iter()
            .map(|mut near| {
                near.sort_unstable();
                near.into_iter()
                    .map(|(d, id)| Ok((d, self.medium(id)?)))
                    .collect()
            })
            .collect()
    }

    /// The medium `id` with every set's grade of it.
    ///
    /// # Errors
    /// No such medium; SQLite errors; [`DbError::Corrupt`] for a hash blob of the wrong size.
    pub fn medium(&self, id: i64) -> Result<MediaView, DbError> {
        let e = |s| self.sqlite_error(s);
        type Cell = rusqlite::types::Value;
        type Blob = Option<Vec<u8>>;
        let (md5, sha1, sha256, blake3, pdq, pdq_quality, photodna, size): (
            Cell,
            Cell,
            Cell,
            Cell,
            Cell,
            Option<i64>,
            Blob,
            Option<i64>,
        ) = self
            .conn
            .prepare_cached(
                "SELECT md5, sha1, sha256, blake3, pdq, pdq_quality, photodna, size FROM media WHERE id = ?1",
            )
            .map_err(e)?
            .query_row([id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .map_err(e)?;
        let mut view = MediaView {
            md5: self.hash_blob(id, "an MD5", md5)?.map(Md5),
            sha1: self.hash_blob(id, "a SHA-1", sha1)?.map(Sha1),
            sha256: self.hash_blob(id, "a SHA-256", sha256)?.map(Sha256),
            blake3: self.hash_blob(id, "a BLAKE3", blake3)?.map(Blake3),
            pdq: self
                .hash_blob(id, "a PDQ hash", pdq)?
                .map(|b| PdqHash::from_bytes(&b)),
            pdq_quality: pdq_quality.map(|q| q as u8),
            photodna: photodna.map(|b| to_hex(&b)),
            size: size.map(|s| s as u64),
            triage: Category::Uncategorised,
            conflict: false,
            grades: Vec::new(),
        };
        self.grade_view(id, &mut view).map_err(e)?;
        Ok(view)
    }

    /// A hash of medium `id` as the `N` bytes its column holds: another size, or a value
    /// that is not bytes (text, a number), is a corrupt database (the schema's CHECK allows
    /// neither), never compared cut, padded or as text.
    fn hash_blob<const N: usize>(
        &self,
        id: i64,
        what: &str,
        cell: rusqlite::types::Value,
    ) -> Result<Option<[u8; N]>, DbError> {
        use rusqlite::types::Value;
        let corrupt = |held: String| DbError::Corrupt {
            path: self.path().to_owned(),
            reason: format!("medium {id} in table media has {what} {held}"),
        };
        let blob = match cell {
            Value::Null => return Ok(None),
            Value::Blob(blob) => blob,
            other => {
                let kind = other.data_type().to_string().to_lowercase();
                return Err(corrupt(format!("stored as {kind}, not as bytes")));
            }
        };
        <[u8; N]>::try_from(blob.as_slice())
            .map(Some)
            .map_err(|_| corrupt(format!("of {} bytes, expected {N}", blob.len())))
    }

    /// Every set's grade of medium `id` into `view`, with its triage category and whether the
    /// sets disagree.
    fn grade_view(&self, id: i64, view: &mut MediaView) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.name, s.version, g.record, g.code, g.label, g.category, g.baseline,
                    g.victim_identified, g.offender_identified, g.distributed, g.series, g.tags,
                    g.file
             FROM grade g JOIN hash_set s ON s.id = g.set_id
             WHERE g.media_id = ?1 ORDER BY s.name, g.file, g.record",
        )?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    grade_from_row(r, 2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // A set that lists the medium more than once (several records sharing a hash) gives
        // one grade: its records combined.
        let mut per_set: Vec<(String, Option<String>, Grade)> = Vec::new();
        for (set, version, g) in rows {
            match per_set.last_mut() {
                Some((s, _, kept)) if *s == set => {
                    let k = std::mem::take(kept);
                    *kept = k.combine(g);
                }
                _ => per_set.push((set, version, g)),
            }
        }
        view.grades = per_set
            .into_iter()
            .map(|(set, version, g)| SetGrade::new(set, version, g))
            .collect();
        view.triage = view
            .grades
            .iter()
            .map(|g| g.category)
            .min()
            .unwrap_or(Category::Uncategorised);
        view.conflict = conflicting(view.grades.iter().map(|g| g.category));
        Ok(())
    }

    /// Counts per set and category, media by triage category, and conflicts.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn stats(&self) -> Result<Stats, DbError> {
        let e = |s| self.sqlite_error(s);
        let sets = self
            .conn
            .query_row("SELECT count(*) FROM hash_set", [], |r| r.get::<_, i64>(0))
            .map_err(e)? as u64;
        let mut stats = Stats {
            sets,
            ..Stats::default()
        };
        let names: std::collections::HashMap<i64, String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id, name FROM hash_set")
                .map_err(e)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(e)?;
            rows.collect::<rusqlite::Result<_>>().map_err(e)?
        };
        // One pass over the grades in the primary key's order (medium, set, record): no sort.
        let mut stmt = self
            .conn
            .prepare("SELECT media_id, set_id, category FROM grade ORDER BY media_id, set_id")
            .map_err(e)?;
        let mut rows = stmt.query([]).map_err(e)?;
        let mut current: Option<i64> = None;
        // Each set's grade of the current medium: its most severe record.
        let mut sets: Vec<(i64, Category)> = Vec::new();
        let mut conflict_ids = Vec::new();
        let mut finish = |stats: &mut Stats, id: i64, sets: &[(i64, Category)]| {
            stats.media += 1;
            let triage = sets
                .iter()
                .map(|s| s.1)
                .min()
                .unwrap_or(Category::Uncategorised);
            *stats.by_triage.entry(triage.name().to_owned()).or_default() += 1;
            for (set, cat) in sets {
                let name = names
                    .get(set)
                    .cloned()
                    .unwrap_or_else(|| format!("set {set}"));
                *stats
                    .by_set
                    .entry(name)
                    .or_default()
                    .entry(cat.name().to_owned())
                    .or_default() += 1;
            }
            if conflicting(sets.iter().map(|s| s.1)) {
                stats.conflicts += 1;
                if conflict_ids.len() < 20 {
                    conflict_ids.push(id);
                }
            }
        };
        while let Some(r) = rows.next().map_err(e)? {
            let id: i64 = r.get(0).map_err(e)?;
            let set: i64 = r.get(1).map_err(e)?;
            let cat: String = r.get(2).map_err(e)?;
            let cat: Category = cat.parse().unwrap_or(Category::Uncategorised);
            if current != Some(id) {
                if let Some(cur) = current {
                    finish(&mut stats, cur, &sets);
                }
                current = Some(id);
                sets.clear();
            }
            match sets.last_mut() {
                Some((s, c)) if *s == set => *c = (*c).min(cat),
                _ => sets.push((set, cat)),
            }
        }
        if let Some(cur) = current {
            finish(&mut stats, cur, &sets);
        }
        drop(rows);
        for id in conflict_ids {
            let v = self.medium(id)?;
            let name = v
                .md5
                .map(|d| d.to_string())
                .or_else(|| v.sha1.map(|d| d.to_string()))
                .or_else(|| v.sha256.map(|d| d.to_string()))
                .or_else(|| v.blake3.map(|d| d.to_string()))
                .unwrap_or_default();
            stats.conflict_examples.push(name);
        }
        let ids: Vec<(i64, String)> = {
            let mut stmt = self
                .conn
                .prepare("SELECT DISTINCT s.id, s.name FROM hash_set s JOIN hash_set_unmapped u ON u.set_id = s.id")
                .map_err(e)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(e)?;
            rows.collect::<rusqlite::Result<_>>().map_err(e)?
        };
        for (id, name) in ids {
            stats.unmapped.insert(name, self.unmapped_codes(id)?);
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowndb::Access;

    /// Lower-case hex by the standard formatter, for SQL literals and expected output.
    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `N` bytes from `from` up, 7 apart.
    fn bytes<const N: usize>(from: u8) -> [u8; N] {
        std::array::from_fn(|i| from.wrapping_add(i as u8 * 7))
    }

    #[test]
    fn a_medium_has_the_stored_bytes_and_serialises_them_as_hex() {
        let dir = tempfile::tempdir().unwrap();
        let db = KnownDb::open(&dir.path().join("k.db"), Access::Create).unwrap();
        let (md5, sha1) = (bytes::<16>(1), bytes::<20>(2));
        let (sha256, blake3, pdq) = (bytes::<32>(3), bytes::<32>(0xf0), bytes::<32>(0xa5));
        db.conn
            .execute_batch(&format!(
                "INSERT INTO media (id, md5, sha1, sha256, blake3, pdq, pdq_quality, photodna, size)
                 VALUES (5, x'{}', x'{}', x'{}', x'{}', x'{}', 90, x'0A0b0c', 123)",
                hex_of(&md5),
                hex_of(&sha1),
                hex_of(&sha256),
                hex_of(&blake3),
                hex_of(&pdq),
            ))
            .unwrap();
        let m = db.medium(5).unwrap();
        assert_eq!(m.md5, Some(Md5(md5)));
        assert_eq!(m.sha1, Some(Sha1(sha1)));
        assert_eq!(m.sha256, Some(Sha256(sha256)));
        assert_eq!(m.blake3, Some(Blake3(blake3)));
        assert_eq!(m.pdq.map(|h| h.to_bytes()), Some(pdq));
        let json = serde_json::to_value(&m).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(|k| &k[..]).collect();
        assert_eq!(
            keys,
            [
                "md5",
                "sha1",
                "sha256",
                "blake3",
                "pdq",
                "pdq_quality",
                "photodna",
                "size",
                "triage",
                "conflict",
                "grades"
            ]
        );
        assert_eq!(json["md5"], hex_of(&md5));
        assert_eq!(json["sha1"], hex_of(&sha1));
        assert_eq!(json["sha256"], hex_of(&sha256));
        assert_eq!(json["blake3"], hex_of(&blake3));
        assert_eq!(json["pdq"], hex_of(&pdq));
        assert_eq!(json["photodna"], "0a0b0c");
        assert_eq!(json["size"], 123);
    }

    #[test]
    fn a_hash_blob_of_the_wrong_size_is_a_corrupt_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = KnownDb::open(&dir.path().join("k.db"), Access::Create).unwrap();
        // Only a database written around the schema's CHECKs can hold one.
        db.conn
            .execute_batch("PRAGMA ignore_check_constraints = ON")
            .unwrap();
        for (id, column, what, expected) in [
            (1, "md5", "an MD5", 16),
            (2, "sha1", "a SHA-1", 20),
            (3, "sha256", "a SHA-256", 32),
            (4, "blake3", "a BLAKE3", 32),
            (5, "pdq", "a PDQ hash", 32),
        ] {
            let blob = hex_of(&vec![0xab; expected + 1]);
            db.conn
                .execute_batch(&format!(
                    "INSERT INTO media (id, {column}) VALUES ({id}, x'{blob}')"
                ))
                .unwrap();
            match db.medium(id) {
                Err(DbError::Corrupt { path, reason }) => {
                    assert_eq!(path, db.path());
                    assert_eq!(
                        reason,
                        format!(
                            "medium {id} in table media has {what} of {} bytes, expected {expected}",
                            expected + 1
                        )
                    );
                }
                other => panic!("{column}: {other:?}"),
            }
        }
    }

    #[test]
    fn uncategorised_does_not_conflict_but_two_grades_do() {
        use Category::*;
        assert!(!conflicting([Csam, Uncategorised]));
        assert!(!conflicting([Csam, Csam]));
        assert!(conflicting([Csam, NonPertinent]));
        assert!(conflicting([KnownFile, Uncategorised, Csem]));
        assert!(!conflicting([]));
    }
}
