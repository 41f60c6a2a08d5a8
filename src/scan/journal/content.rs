//! Content records: binary, as there is one per file hashed. Every tag written is a fixed
//! number chosen here, never a variant's place in a list, so that adding a variant cannot
//! change what an existing journal says.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::digest::{Blake3, Digests, Md5, Sha1, Sha256};
use crate::hash::{Hashed, Outcome};
use crate::media::ImageHash;
use crate::media::decode::DecodeError;
use crate::media::pdq::{Pdq, PdqHash};
use crate::media::sniff::{Class, ContentType};
use crate::read::{ItemError, Stage};
use crate::record::Item;
use crate::utc::Timestamp;

use super::format::{CONTENT, NANOS, path_key};

struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend(v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend(v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend(b);
    }
    /// A presence flag, and the value when there is one.
    fn optional<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        self.u8(u8::from(value.is_some()));
        if let Some(v) = value {
            write(self, v);
        }
    }
    fn time(&mut self, t: Option<Timestamp>) {
        self.optional(t, |o, t| {
            o.u64(t.secs as u64);
            o.u32(t.nanos);
        });
    }
}

pub(super) struct In<'a>(pub(super) &'a [u8]);

impl<'a> In<'a> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    pub(super) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    pub(super) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(super) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }
    pub(super) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub(super) fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
    pub(super) fn flag(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    /// A value after a presence flag: `None` when damaged, `Some(None)` when absent.
    pub(super) fn optional<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.flag()? {
            read(self).map(Some)
        } else {
            Some(None)
        }
    }
    pub(super) fn time(&mut self) -> Option<Option<Timestamp>> {
        self.optional(|i| {
            Some(Timestamp {
                secs: i.u64()? as i64,
                nanos: i.u32().filter(|&n| n < NANOS)?,
            })
        })
    }
}

/// A content record as read back.
#[derive(Debug)]
pub(super) struct Committed {
    pub(super) ino: u64,
    pub(super) size: u64,
    pub(super) mtime: Option<Timestamp>,
    pub(super) ctime: Option<Timestamp>,
    pub(super) outcome: Outcome,
}

impl Committed {
    /// Whether the content was read to its end (and, for an image, read again to decode it).
    pub(super) fn read_whole(&self) -> bool {
        match &self.outcome {
            Err(_) => false,
            Ok((_, _, Some(image))) => !matches!(image.pdq, Err(DecodeError::Read(_))),
            Ok(_) => true,
        }
    }
}

// The tags of a content's class and of the stage a read failed at. A new variant gets the
// next free number here (the matches are exhaustive, so it cannot be forgotten); no number is
// ever reused or changed: journals written before name them by these numbers.

fn class_tag(class: Class) -> u8 {
    match class {
        Class::Image => 0,
        Class::Video => 1,
        Class::Audio => 2,
        Class::Archive => 3,
        Class::Document => 4,
        Class::Executable => 5,
        Class::Database => 6,
        Class::Text => 7,
        Class::Empty => 8,
        Class::Other => 9,
    }
}

fn tag_class(tag: u8) -> Option<Class> {
    Some(match tag {
        0 => Class::Image,
        1 => Class::Video,
        2 => Class::Audio,
        3 => Class::Archive,
        4 => Class::Document,
        5 => Class::Executable,
        6 => Class::Database,
        7 => Class::Text,
        8 => Class::Empty,
        9 => Class::Other,
        _ => return None,
    })
}

fn stage_tag(stage: Stage) -> u8 {
    match stage {
        Stage::Stat => 0,
        Stage::ListDir => 1,
        Stage::ReadLink => 2,
        Stage::Open => 3,
        Stage::Read => 4,
        Stage::Interrupted => 5,
    }
}

fn tag_stage(tag: u8) -> Option<Stage> {
    Some(match tag {
        0 => Stage::Stat,
        1 => Stage::ListDir,
        2 => Stage::ReadLink,
        3 => Stage::Open,
        4 => Stage::Read,
        5 => Stage::Interrupted,
        _ => return None,
    })
}

pub(super) fn content_record(item: &Item, outcome: Result<&Hashed, &ItemError>) -> Vec<u8> {
    let mut o = Out(Vec::with_capacity(256));
    o.u8(CONTENT);
    o.bytes(item.path.as_os_str().as_bytes());
    o.u64(item.id.map_or(0, |i| i.ino));
    o.u64(item.size);
    o.time(item.mtime);
    o.time(item.ctime);
    match outcome {
        Ok((digests, content, image)) => {
            o.u8(0);
            let raw = |o: &mut Out, d: &[u8]| o.0.extend(d);
            o.optional(digests.md5.as_ref().map(|d| &d.0[..]), raw);
            o.optional(digests.sha1.as_ref().map(|d| &d.0[..]), raw);
            o.optional(digests.sha256.as_ref().map(|d| &d.0[..]), raw);
            o.optional(digests.blake3.as_ref().map(|d| &d.0[..]), raw);
            o.optional(*content, |o, c| {
                o.u8(class_tag(c.class));
                o.bytes(c.mime.as_bytes());
            });
            match image.as_deref() {
                None => o.u8(0),
                Some(ImageHash {
                    pdq: Ok(pdq),
                    dihedral,
                    decoder,
                }) => {
                    o.u8(1);
                    o.0.extend(pdq.hash.to_bytes());
                    o.u8(pdq.quality);
                    o.bytes(decoder.unwrap_or_default().as_bytes());
                    o.optional(dihedral.as_deref(), |o, all| {
                        for h in all {
                            o.0.extend(h.to_bytes());
                        }
                    });
                }
                Some(ImageHash { pdq: Err(e), .. }) => {
                    o.u8(2);
                    match e {
                        DecodeError::Unsupported(r) => {
                            o.u8(0);
                            o.bytes(r.as_str().as_bytes());
                        }
                        DecodeError::TooLarge { width, height } => {
                            o.u8(1);
                            o.u64(*width);
                            o.u64(*height);
                        }
                        DecodeError::Corrupt(r) => {
                            o.u8(2);
                            o.bytes(r.as_str().as_bytes());
                        }
                        DecodeError::FileTooLarge(n) => {
                            o.u8(3);
                            o.u64(*n);
                        }
                        DecodeError::Read(r) => {
                            o.u8(4);
                            o.bytes(r.as_str().as_bytes());
                        }
                    }
                }
            }
        }
        Err(e) => {
            o.u8(1);
            o.u8(stage_tag(e.stage));
            o.optional(e.os_code, |o, code| o.u32(code as u32));
            o.bytes(e.message.as_bytes());
        }
    }
    o.0
}

pub(super) fn parse_content(payload: &[u8]) -> Option<([u8; 16], Committed)> {
    let mut i = In(payload.get(1..)?);
    let key = path_key(Path::new(std::ffi::OsStr::from_bytes(i.bytes()?)));
    let ino = i.u64()?;
    let size = i.u64()?;
    let mtime = i.time()?;
    let ctime = i.time()?;
    let outcome = match i.u8()? {
        0 => {
            let md5 = i.optional(|i| i.array().map(Md5))?;
            let sha1 = i.optional(|i| i.array().map(Sha1))?;
            let sha256 = i.optional(|i| i.array().map(Sha256))?;
            let blake3 = i.optional(|i| i.array().map(Blake3))?;
            let content = i.optional(|i| {
                let class = tag_class(i.u8()?)?;
                let mime = intern(i.text()?)?;
                Some(ContentType { mime, class })
            })?;
            let image = match i.u8()? {
                0 => None,
                1 => {
                    let hash = PdqHash::from_bytes(&i.array()?);
                    let quality = i.u8()?;
                    let decoder = i.text()?;
                    let dihedral = i.optional(|i| {
                        let mut all = [PdqHash::from_bytes(&[0; 32]); 8];
                        for h in &mut all {
                            *h = PdqHash::from_bytes(&i.array()?);
                        }
                        Some(Box::new(all))
                    })?;
                    Some(Arc::new(ImageHash {
                        pdq: Ok(Pdq { hash, quality }),
                        dihedral,
                        decoder: match decoder {
                            "" => None,
                            name => Some(intern(name)?),
                        },
                    }))
                }
                2 => {
                    let e = match i.u8()? {
                        0 => DecodeError::Unsupported(i.text()?.into()),
                        1 => DecodeError::TooLarge {
                            width: i.u64()?,
                            height: i.u64()?,
                        },
                        2 => DecodeError::Corrupt(i.text()?.into()),
                        3 => DecodeError::FileTooLarge(i.u64()?),
                        4 => DecodeError::Read(i.text()?.into()),
                        _ => return None,
                    };
                    Some(ImageHash::failed_shared(e))
                }
                _ => return None,
            };
            Ok((
                Digests {
                    md5,
                    sha1,
                    sha256,
                    blake3,
                },
                content,
                image,
            ))
        }
        1 => {
            let stage = tag_stage(i.u8()?)?;
            let os_code = i.optional(|i| i.u32().map(|c| c as i32))?;
            Err(ItemError {
                stage,
                os_code,
                message: i.text()?.to_owned(),
            })
        }
        _ => return None,
    };
    i.0.is_empty().then_some((
        key,
        Committed {
            ino,
            size,
            mtime,
            ctime,
            outcome,
        },
    ))
}

/// The one `&'static str` of each content type's and decoder's name read from a journal: the
/// names are few (a few dozen) and short, and a journal naming more than [`MAX_NAMES`], or one
/// longer than [`MAX_NAME`] bytes, is taken for damaged (a forged one holds at most 32 KiB).
fn intern(s: &str) -> Option<&'static str> {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    if s.len() > MAX_NAME {
        return None;
    }
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&n) = names.iter().find(|&&n| n == s) {
        return Some(n);
    }
    if names.len() >= MAX_NAMES {
        return None;
    }
    let n: &'static str = Box::leak(s.to_owned().into_boxed_str());
    names.push(n);
    Some(n)
}

const MAX_NAMES: usize = 256;
const MAX_NAME: usize = 128;

#[cfg(test)]
mod tags {
    use super::*;

    #[test]
    fn every_class_and_stage_has_its_own_tag_and_reads_back() {
        let classes: Vec<u8> = Class::ALL.iter().map(|&c| class_tag(c)).collect();
        let stages: Vec<u8> = Stage::ALL.iter().map(|&s| stage_tag(s)).collect();
        for tags in [&classes, &stages] {
            let mut sorted = tags.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), tags.len(), "a tag given twice: {tags:?}");
        }
        for c in Class::ALL {
            assert_eq!(tag_class(class_tag(c)), Some(c));
        }
        for s in Stage::ALL {
            assert_eq!(tag_stage(stage_tag(s)), Some(s));
        }
        assert_eq!(tag_class(200), None);
        assert_eq!(tag_stage(200), None);
    }

    /// The numbers journals hold. Never edit this table: a new variant gets a new number.
    #[test]
    fn the_tags_are_the_numbers_journals_hold() {
        use Class::*;
        for (class, tag) in [
            (Image, 0),
            (Video, 1),
            (Audio, 2),
            (Archive, 3),
            (Document, 4),
            (Executable, 5),
            (Database, 6),
            (Text, 7),
            (Empty, 8),
            (Other, 9),
        ] {
            assert_eq!(class_tag(class), tag, "{class:?}");
        }
        for (stage, tag) in [
            (Stage::Stat, 0),
            (Stage::ListDir, 1),
            (Stage::ReadLink, 2),
            (Stage::Open, 3),
            (Stage::Read, 4),
            (Stage::Interrupted, 5),
        ] {
            assert_eq!(stage_tag(stage), tag, "{stage:?}");
        }
    }
}
