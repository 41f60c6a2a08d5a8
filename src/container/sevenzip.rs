//! 7z archives with `sevenz-rust2`, block by block: a block encrypted with AES lists its
//! members as encrypted and is not decoded; empty files and folders come last, as the format
//! stores them apart.

use std::io::Read;

use sevenz_rust2::{Archive, ArchiveEntry, BlockDecoder, Error, Password};

use super::{Budget, Entry, Member, ReadSeek, Stop, Visit, stop_after, visit_member};
use crate::utc::Timestamp;

/// The dictionary (or model) one coder may ask for, at most: a hostile header asks for GiBs.
const MEMORY_KB: usize = 256 << 10;

/// Hands each member of the 7z in `source` to `visit`.
pub(super) fn expand(
    source: &mut dyn ReadSeek,
    budget: &Budget,
    visit: &mut dyn Visit,
) -> Result<(), Stop> {
    let password = Password::empty();
    let mut source = source;
    let archive = Archive::read_with_memory_limit(&mut source, &password, MEMORY_KB).map_err(
        |e| match e {
            Error::PasswordRequired => {
                Stop::Unreadable("encrypted 7z whose names are encrypted too: not read".into())
            }
            e => Stop::Damaged(format!("not a readable 7z: {e}")),
        },
    )?;
    let limits = budget.limits();
    let member = |i: usize, entry: &ArchiveEntry| {
        let kind = if entry.is_directory() {
            Entry::Dir
        } else {
            Entry::File
        };
        let mut m = Member::new(entry.name().as_bytes(), limits, kind);
        m.size = Some(entry.size());
        m.mtime = entry
            .has_last_modified_date
            .then(|| nt_time(entry.last_modified_date().into()))
            .flatten();
        m.encrypted = archive.is_file_encrypted(i);
        m
    };
    let mut visited = vec![false; archive.files.len()];
    for block in 0..archive.blocks.len() {
        let files: Vec<usize> = (0..archive.files.len())
            .filter(|&i| archive.stream_map.file_block_index[i] == Some(block))
            .collect();
        if files.first().is_some_and(|&i| archive.is_file_encrypted(i)) {
            for i in files {
                visited[i] = true;
                visit_member(visit, budget, member(i, &archive.files[i]), None)?;
            }
            continue;
        }
        let mut stopped = None;
        // The block's entries come in file order from its first file.
        let mut next = archive.stream_map.block_first_file_index[block];
        let decoded = BlockDecoder::new_with_memory_limit(
            1,
            MEMORY_KB,
            block,
            &archive,
            &password,
            &mut source,
        )
        .for_each_entries(&mut |entry: &ArchiveEntry, reader: &mut dyn Read| {
            let i = next;
            next += 1;
            if let Some(seen) = visited.get_mut(i) {
                *seen = true;
            }
            let content: Option<&mut dyn Read> = if entry.is_directory() {
                None
            } else {
                Some(reader)
            };
            match visit_member(visit, budget, member(i, entry), content) {
                Ok(()) => Ok(true),
                Err(stop) => {
                    stopped = Some(stop);
                    Err(Error::Other("stopped".into()))
                }
            }
        });
        if let Some(stop) = stopped {
            return Err(stop);
        }
        decoded.map_err(|e| stop_after(budget, || format!("7z block {}: {e}", block + 1)))?;
    }
    // Files without data: empty files and folders.
    for (i, entry) in archive.files.iter().enumerate() {
        if !visited[i] && archive.stream_map.file_block_index[i].is_none() {
            let content: Option<&mut dyn Read> = if entry.is_directory() {
                None
            } else {
                Some(&mut std::io::empty())
            };
            visit_member(visit, budget, member(i, entry), content)?;
        }
    }
    Ok(())
}

/// A Windows file time (100 ns ticks since 1601-01-01 UTC).
fn nt_time(ticks: u64) -> Option<Timestamp> {
    const TICKS: u64 = 10_000_000;
    const TO_UNIX: i64 = 11_644_473_600;
    let secs = i64::try_from(ticks / TICKS).ok()? - TO_UNIX;
    Some(Timestamp {
        secs,
        nanos: ((ticks % TICKS) * 100) as u32,
    })
}
