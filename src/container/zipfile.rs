//! ZIP archives with the `zip` crate: by the central directory when the archive can be read
//! anywhere, by the local headers front to back when it is a stream or its central directory
//! is missing or damaged (a ZIP cut short still yields the members before the cut).

use std::io::{Read, SeekFrom};

use zip::result::ZipError;

use super::{Budget, Entry, Member, ReadSeek, Stop, Visit, stop_after, visit_member};
use crate::utc::Timestamp;

/// Hands each member of the ZIP in `source` to `visit`, in central-directory order.
pub(super) fn expand(
    source: &mut dyn ReadSeek,
    budget: &Budget,
    visit: &mut dyn Visit,
) -> Result<(), Stop> {
    let mut archive = match zip::ZipArchive::new(&mut *source) {
        Ok(archive) => archive,
        Err(e) => {
            // No usable central directory (cut short, damaged): the local headers still say
            // what each member is, front to back.
            source
                .seek(SeekFrom::Start(0))
                .map_err(|e| Stop::Damaged(format!("cannot read the ZIP: {e}")))?;
            let streamed = expand_stream(source, budget, visit);
            let note = format!(
                "its central directory cannot be read ({e}): members read from their local headers"
            );
            return match streamed {
                Ok(()) => Err(Stop::Damaged(note)),
                Err(Stop::Damaged(d)) => Err(Stop::Damaged(format!("{note}; then {d}"))),
                Err(Stop::Unreadable(d)) => Err(Stop::Unreadable(format!("{note}; then {d}"))),
                Err(other) => Err(other),
            };
        }
    };
    let limits = budget.limits();
    for i in 0..archive.len() {
        let entry = archive
            .by_index_data(i)
            .map_err(|e| Stop::Damaged(format!("ZIP member {}: {e}", i + 1)))?;
        let mut member = Member::new(
            entry.name_raw(),
            limits,
            kind_of(entry.is_dir(), entry.is_symlink()),
        );
        member.size = Some(entry.size());
        member.mtime = entry.last_modified().and_then(dos_time);
        member.encrypted = entry.encrypted();
        let is_symlink = matches!(member.entry, Entry::Symlink(_));
        if member.entry == Entry::Dir || member.encrypted {
            visit_member(visit, budget, member, None)?;
            continue;
        }
        match archive.by_index(i) {
            Ok(mut file) if is_symlink => {
                member.entry =
                    Entry::Symlink(link_target(&mut file, limits.name_bytes, i as u64 + 1)?);
                visit_member(visit, budget, member, None)?;
            }
            Ok(mut file) => visit_member(visit, budget, member, Some(&mut file))?,
            Err(e) => {
                member.unsupported = Some(unreadable(&e));
                visit_member(visit, budget, member, None)?;
            }
        }
    }
    Ok(())
}

/// Hands each member of the ZIP read front to back from `source` to `visit`, by the local
/// headers (a ZIP inside a stream, or one whose central directory is gone).
pub(super) fn expand_stream(
    source: &mut dyn Read,
    budget: &Budget,
    visit: &mut dyn Visit,
) -> Result<(), Stop> {
    let limits = budget.limits();
    let mut source = source;
    let mut n = 0u64;
    loop {
        n += 1;
        let mut file = match zip::read::read_zipfile_from_stream(&mut source) {
            Ok(Some(file)) => file,
            // The central directory: every member has been read.
            Ok(None) => return Ok(()),
            Err(ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED)) => {
                // Read front to back, an encrypted member hides where the next one starts.
                return Err(Stop::Unreadable(format!(
                    "member {n} is encrypted: read as a stream, the rest of this ZIP cannot be listed"
                )));
            }
            Err(e) => {
                return Err(stop_after(budget, || {
                    format!("ZIP damaged or cut short at member {n}: {e}")
                }));
            }
        };
        let mut member = Member::new(
            file.name_raw(),
            limits,
            kind_of(file.is_dir(), file.is_symlink()),
        );
        member.size = Some(file.size());
        member.mtime = file.last_modified().and_then(dos_time);
        member.encrypted = file.encrypted();
        if member.entry == Entry::Dir || member.encrypted {
            visit_member(visit, budget, member, None)?;
        } else if matches!(member.entry, Entry::Symlink(_)) {
            member.entry = Entry::Symlink(link_target(&mut file, limits.name_bytes, n)?);
            visit_member(visit, budget, member, None)?;
        } else {
            visit_member(visit, budget, member, Some(&mut file))?;
        }
    }
}

/// A link's target: its member's content (kept as the link's, not listed as a file's).
fn link_target(file: &mut dyn Read, limit: usize, n: u64) -> Result<Vec<u8>, Stop> {
    let mut target = Vec::new();
    file.take(limit as u64)
        .read_to_end(&mut target)
        .map_err(|e| Stop::Damaged(format!("ZIP member {n}: {e}")))?;
    Ok(target)
}

fn kind_of(is_dir: bool, is_symlink: bool) -> Entry {
    if is_dir {
        Entry::Dir
    } else if is_symlink {
        Entry::Symlink(Vec::new())
    } else {
        Entry::File
    }
}

/// What keeps a member's bytes from being read.
fn unreadable(e: &ZipError) -> String {
    match e {
        ZipError::CompressionMethodNotSupported(m) => {
            format!("compression method {m} is not supported")
        }
        ZipError::UnsupportedArchive(what) => format!("not supported: {what}"),
        other => other.to_string(),
    }
}

/// A DOS date and time as stored (local time of the machine that wrote it, zone unknown),
/// read as UTC.
fn dos_time(t: zip::DateTime) -> Option<Timestamp> {
    Timestamp::from_civil(
        i64::from(t.year()),
        u32::from(t.month()),
        u32::from(t.day()),
        u32::from(t.hour()),
        u32::from(t.minute()),
        u32::from(t.second()),
    )
}
