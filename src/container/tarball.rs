//! tar archives (ustar, GNU, pax, V7), read front to back with the `tar` crate: long names,
//! pax headers and GNU sparse members are the crate's to resolve.

use std::io::Read;

use super::{Budget, Entry, Member, Stop, Visit, stop_after, visit_member};
use crate::utc::Timestamp;

/// Whether `head` starts with a tar header: the ustar magic (POSIX or GNU), or a V7 header
/// whose checksum holds.
pub(super) fn is_header(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    if &head[257..262] == b"ustar" {
        return true;
    }
    // V7: a name, and the checksum (octal, at 148) of the header with that field as spaces.
    let Some(stored) = octal(&head[148..156]) else {
        return false;
    };
    let sum: u64 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    head[0] != 0 && stored == sum
}

/// An octal number field (digits, then spaces or NULs).
fn octal(field: &[u8]) -> Option<u64> {
    let digits: &[u8] = {
        let start = field.iter().position(|&b| b != b' ')?;
        let rest = &field[start..];
        let end = rest
            .iter()
            .position(|&b| b == b' ' || b == 0)
            .unwrap_or(rest.len());
        &rest[..end]
    };
    if digits.is_empty() || !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()
}

/// Hands each member of the tar in `source` to `visit`.
pub(super) fn expand(
    source: &mut dyn Read,
    budget: &Budget,
    visit: &mut dyn Visit,
) -> Result<(), Stop> {
    let limits = budget.limits();
    let mut archive = tar::Archive::new(source);
    let entries = archive
        .entries()
        .map_err(|e| Stop::Damaged(format!("not a readable tar: {e}")))?;
    for entry in entries {
        let mut entry = entry
            .map_err(|e| stop_after(budget, || format!("tar damaged or cut short here: {e}")))?;
        use tar::EntryType as T;
        let kind = entry.header().entry_type();
        let link = || {
            entry
                .link_name_bytes()
                .map(|l| l.into_owned())
                .unwrap_or_default()
        };
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            // Metadata of the archive or of the next member, not a member.
            continue;
        }
        let what = match kind {
            T::Regular | T::Continuous | T::GNUSparse => Entry::File,
            T::Directory => Entry::Dir,
            T::Symlink => Entry::Symlink(link()),
            T::Link => Entry::HardLink(link()),
            T::Char => Entry::Other("char_device"),
            T::Block => Entry::Other("block_device"),
            T::Fifo => Entry::Other("fifo"),
            // Headers the crate did not fold into the next member (an unknown type): listed
            // as what they are, their bytes read like a file's.
            _ => Entry::File,
        };
        let mut member = Member::new(&entry.path_bytes(), limits, what);
        member.size = Some(entry.size());
        member.mtime = entry.header().mtime().ok().map(|secs| Timestamp {
            secs: i64::try_from(secs).unwrap_or(i64::MAX),
            nanos: 0,
        });
        let is_file = member.entry == Entry::File;
        let size = entry.size();
        let mut exact = Exact {
            inner: &mut entry,
            left: size,
        };
        let content: Option<&mut dyn Read> = if is_file { Some(&mut exact) } else { None };
        visit_member(visit, budget, member, content)?;
    }
    Ok(())
}

/// A member's bytes, which must be as many as its header says: a tar has no checksum of its
/// data, so a member cut short by the end of the archive is an error, never a shorter file.
struct Exact<'a> {
    inner: &'a mut dyn Read,
    left: u64,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("cut short: {} bytes of the member missing", self.left),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
