//! Content records: binary, as there is one per file hashed. Every tag written is a fixed
//! number chosen here, never a variant's place in a list, so that adding a variant cannot
//! change what an existing journal says.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::digest::{Blake3, Digests, Md5, Sha1, Sha256};
use crate::expand::Expanded;
use crate::hash::{Examined, Hashed, Outcome};
use crate::media::ImageHash;
use crate::media::decode::DecodeError;
use crate::media::pdq::{Pdq, PdqHash};
use crate::media::sniff::{Class, ContentType};
use crate::read::{ItemError, Stage};
use crate::record::{ArchiveInfo, FsInfo, ImageInfo, Integrity, IntegrityStatus, Item, VolumeInfo};
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
    /// What the content held, when it was looked at for members: `Some(None)` no container.
    pub(super) members: Option<Option<Box<Expanded>>>,
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

pub(super) fn content_record(
    item: &Item,
    outcome: Result<&Hashed, &ItemError>,
    members: Examined<'_>,
) -> Vec<u8> {
    let mut o = Out(Vec::with_capacity(256));
    o.u8(CONTENT);
    o.bytes(item.path.as_os_str().as_bytes());
    o.u64(item.id.map_or(0, |i| i.ino));
    o.u64(item.size);
    o.time(item.mtime);
    o.time(item.ctime);
    match outcome {
        Ok(hashed) => {
            o.u8(0);
            o.hashed(hashed);
        }
        Err(e) => {
            o.u8(1);
            o.error(e);
        }
    }
    // What the content held: absent when it was not looked at for members.
    if let Some(expanded) = members {
        o.u8(MEMBERS);
        o.optional(expanded, |o, e| {
            o.archive(&e.archive);
            o.u32(e.members.len() as u32);
            for m in &e.members {
                o.member(m);
            }
        });
    }
    o.0
}

/// The tag of a content record's members section, after its outcome.
const MEMBERS: u8 = b'M';

impl Out {
    fn hashed(&mut self, (digests, content, image): &Hashed) {
        let raw = |o: &mut Out, d: &[u8]| o.0.extend(d);
        self.optional(digests.md5.as_ref().map(|d| &d.0[..]), raw);
        self.optional(digests.sha1.as_ref().map(|d| &d.0[..]), raw);
        self.optional(digests.sha256.as_ref().map(|d| &d.0[..]), raw);
        self.optional(digests.blake3.as_ref().map(|d| &d.0[..]), raw);
        self.optional(*content, |o, c| {
            o.u8(class_tag(c.class));
            o.bytes(c.mime.as_bytes());
        });
        match image.as_deref() {
            None => self.u8(0),
            Some(ImageHash {
                pdq: Ok(pdq),
                dihedral,
                decoder,
            }) => {
                self.u8(1);
                self.0.extend(pdq.hash.to_bytes());
                self.u8(pdq.quality);
                self.bytes(decoder.unwrap_or_default().as_bytes());
                self.optional(dihedral.as_deref(), |o, all| {
                    for h in all {
                        o.0.extend(h.to_bytes());
                    }
                });
            }
            Some(ImageHash { pdq: Err(e), .. }) => {
                self.u8(2);
                match e {
                    DecodeError::Unsupported(r) => {
                        self.u8(0);
                        self.bytes(r.as_str().as_bytes());
                    }
                    DecodeError::TooLarge { width, height } => {
                        self.u8(1);
                        self.u64(*width);
                        self.u64(*height);
                    }
                    DecodeError::Corrupt(r) => {
                        self.u8(2);
                        self.bytes(r.as_str().as_bytes());
                    }
                    DecodeError::FileTooLarge(n) => {
                        self.u8(3);
                        self.u64(*n);
                    }
                    DecodeError::Read(r) => {
                        self.u8(4);
                        self.bytes(r.as_str().as_bytes());
                    }
                }
            }
        }
    }

    fn error(&mut self, e: &ItemError) {
        self.u8(stage_tag(e.stage));
        self.optional(e.os_code, |o, code| o.u32(code as u32));
        self.bytes(e.message.as_bytes());
    }

    fn archive(&mut self, a: &ArchiveInfo) {
        self.bytes(a.format.as_bytes());
        self.u64(a.members);
        self.optional(a.stopped.as_deref(), |o, s| o.bytes(s.as_bytes()));
        self.optional(a.image.as_deref(), Out::disk_image);
    }

    fn text_opt(&mut self, t: Option<&str>) {
        self.optional(t, |o, t| o.bytes(t.as_bytes()));
    }

    fn disk_image(&mut self, d: &ImageInfo) {
        self.u32(d.segments);
        self.u64(d.media_size);
        self.u32(d.volumes.len() as u32);
        for v in &d.volumes {
            self.bytes(v.name.as_bytes());
            self.u64(v.start);
            self.u64(v.length);
            self.bytes(v.description.as_bytes());
            match &v.file_system {
                Ok(t) => {
                    self.u8(0);
                    self.bytes(t.as_bytes());
                }
                Err(e) => {
                    self.u8(1);
                    self.bytes(e.as_bytes());
                }
            }
            self.text_opt(v.broken.as_deref());
        }
        let i = &d.integrity;
        self.bytes(i.status.name().as_bytes());
        for t in [&i.md5, &i.sha1, &i.stored_md5, &i.stored_sha1, &i.error] {
            self.text_opt(t.as_deref());
        }
    }

    fn fs(&mut self, f: &FsInfo) {
        self.optional(f.partition, Out::u32);
        self.u64(f.inode);
        self.optional(f.stream, |o, (t, i)| {
            o.u32(t);
            o.u32(i);
        });
        self.u8(u8::from(f.deleted) | u8::from(f.reallocated) << 1);
        for t in [f.atime, f.ctime, f.crtime, f.dtime] {
            self.time(t);
        }
    }

    /// A member as `expand` made it: its path, size, time, container, note, link target,
    /// what reading it gave (nothing, an error, or its digests, type and image hash) and, for
    /// a container, what it held.
    fn member(&mut self, m: &Item) {
        self.bytes(m.path.as_os_str().as_bytes());
        self.u64(m.size);
        self.time(m.mtime);
        self.optional(m.parent, Out::u32);
        self.optional(m.note.as_deref(), |o, n| o.bytes(n.as_bytes()));
        self.optional(m.target.as_deref(), |o, t| {
            o.bytes(t.as_os_str().as_bytes())
        });
        match (&m.error, m.digests) {
            (Some(e), _) => {
                self.u8(1);
                self.error(e);
            }
            (None, Some(digests)) => {
                self.u8(2);
                self.hashed(&(digests, m.content, m.image.clone()));
            }
            (None, None) => self.u8(0),
        }
        self.optional(m.archive.as_deref(), Out::archive);
        self.optional(m.fs.as_deref(), Out::fs);
    }
}

pub(super) fn parse_content(payload: &[u8]) -> Option<([u8; 16], Committed)> {
    let mut i = In(payload.get(1..)?);
    let key = path_key(Path::new(std::ffi::OsStr::from_bytes(i.bytes()?)));
    let ino = i.u64()?;
    let size = i.u64()?;
    let mtime = i.time()?;
    let ctime = i.time()?;
    let outcome = match i.u8()? {
        0 => Ok(i.hashed()?),
        1 => Err(i.error()?),
        _ => return None,
    };
    let members = if i.0.is_empty() {
        None
    } else {
        (i.u8()? == MEMBERS).then_some(())?;
        Some(i.optional(|i| {
            let archive = i.archive()?;
            let n = i.u32()? as usize;
            // Each member takes some bytes: a count past what is left is damage.
            let mut members = Vec::with_capacity(n.min(i.0.len()));
            for _ in 0..n {
                members.push(i.member()?);
            }
            Some(Box::new(Expanded { archive, members }))
        })?)
    };
    i.0.is_empty().then_some((
        key,
        Committed {
            ino,
            size,
            mtime,
            ctime,
            outcome,
            members,
        },
    ))
}

impl In<'_> {
    fn hashed(&mut self) -> Option<Hashed> {
        let md5 = self.optional(|i| i.array().map(Md5))?;
        let sha1 = self.optional(|i| i.array().map(Sha1))?;
        let sha256 = self.optional(|i| i.array().map(Sha256))?;
        let blake3 = self.optional(|i| i.array().map(Blake3))?;
        let content = self.optional(|i| {
            let class = tag_class(i.u8()?)?;
            let mime = intern(i.text()?)?;
            Some(ContentType { mime, class })
        })?;
        let image = match self.u8()? {
            0 => None,
            1 => {
                let hash = PdqHash::from_bytes(&self.array()?);
                let quality = self.u8()?;
                let decoder = self.text()?;
                let dihedral = self.optional(|i| {
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
                let e = match self.u8()? {
                    0 => DecodeError::Unsupported(self.text()?.into()),
                    1 => DecodeError::TooLarge {
                        width: self.u64()?,
                        height: self.u64()?,
                    },
                    2 => DecodeError::Corrupt(self.text()?.into()),
                    3 => DecodeError::FileTooLarge(self.u64()?),
                    4 => DecodeError::Read(self.text()?.into()),
                    _ => return None,
                };
                Some(ImageHash::failed_shared(e))
            }
            _ => return None,
        };
        Some((
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

    fn error(&mut self) -> Option<ItemError> {
        let stage = tag_stage(self.u8()?)?;
        let os_code = self.optional(|i| i.u32().map(|c| c as i32))?;
        Some(ItemError {
            stage,
            os_code,
            message: self.text()?.to_owned(),
        })
    }

    fn archive(&mut self) -> Option<ArchiveInfo> {
        Some(ArchiveInfo {
            format: intern(self.text()?)?,
            members: self.u64()?,
            stopped: self.optional(|i| i.text().map(str::to_owned))?,
            image: self.optional(|i| i.disk_image().map(Box::new))?,
        })
    }

    fn text_opt(&mut self) -> Option<Option<String>> {
        self.optional(|i| i.text().map(str::to_owned))
    }

    fn disk_image(&mut self) -> Option<ImageInfo> {
        let segments = self.u32()?;
        let media_size = self.u64()?;
        let n = self.u32()? as usize;
        let mut volumes = Vec::with_capacity(n.min(self.0.len()));
        for _ in 0..n {
            volumes.push(VolumeInfo {
                name: self.text()?.to_owned(),
                start: self.u64()?,
                length: self.u64()?,
                description: self.text()?.to_owned(),
                file_system: match self.u8()? {
                    0 => Ok(self.text()?.to_owned()),
                    1 => Err(self.text()?.to_owned()),
                    _ => return None,
                },
                broken: self.text_opt()?,
            });
        }
        let status = IntegrityStatus::from_name(self.text()?)?;
        Some(ImageInfo {
            segments,
            media_size,
            volumes,
            integrity: Integrity {
                status,
                md5: self.text_opt()?,
                sha1: self.text_opt()?,
                stored_md5: self.text_opt()?,
                stored_sha1: self.text_opt()?,
                error: self.text_opt()?,
            },
        })
    }

    fn fs(&mut self) -> Option<FsInfo> {
        let partition = self.optional(In::u32)?;
        let inode = self.u64()?;
        let stream = self.optional(|i| Some((i.u32()?, i.u32()?)))?;
        let flags = self.u8().filter(|&f| f < 4)?;
        Some(FsInfo {
            partition,
            inode,
            stream,
            deleted: flags & 1 != 0,
            reallocated: flags & 2 != 0,
            atime: self.time()?,
            ctime: self.time()?,
            crtime: self.time()?,
            dtime: self.time()?,
        })
    }

    fn member(&mut self) -> Option<Item> {
        use std::os::unix::ffi::OsStringExt;
        let os = |b: &[u8]| std::path::PathBuf::from(std::ffi::OsString::from_vec(b.to_vec()));
        let mut m = crate::expand::member_item(os(self.bytes()?));
        m.size = self.u64()?;
        m.mtime = self.time()?;
        m.parent = self.optional(In::u32)?;
        m.note = self.optional(|i| i.text().map(str::to_owned))?;
        m.target = self.optional(|i| i.bytes().map(os))?;
        match self.u8()? {
            0 => {}
            1 => m.error = Some(self.error()?),
            2 => {
                let (digests, content, image) = self.hashed()?;
                m.digests = Some(digests);
                m.content = content;
                m.image = image;
            }
            _ => return None,
        }
        m.archive = self.optional(|i| i.archive().map(Arc::new))?;
        m.fs = self.optional(|i| i.fs().map(Arc::new))?;
        Some(m)
    }
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
