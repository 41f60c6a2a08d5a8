//! The members of a container found on the evidence, read as the hashing reads a file: every
//! digest, the content type, PDQ for an image, and the members of a member that is itself a
//! container (read into memory, within [`Limits::in_memory`], down to [`Limits::depth`]).
//! Nothing is written anywhere: members stream from the evidence file through the
//! decompressors into the hashers.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use std::sync::Arc;

use crate::cancel::Cancel;
use crate::container::{self, Budget, Entry, Format, Limits, Member, Source, Stop, Visit};
use crate::digest::{AlgorithmSet, MultiHasher};
use crate::media::decode::DecodeError;
use crate::media::sniff::{self, Class};
use crate::media::{ImageHash, MAX_IMAGE_FILE};
use crate::read::positional::Positional;
use crate::read::{ItemError, Stage};
use crate::record::{ArchiveInfo, Item, Kind, member_path};

/// How members are read: as the run reads files.
#[derive(Clone, Copy, Debug)]
pub struct Settings<'a> {
    pub algorithms: AlgorithmSet,
    /// PDQ of images: the JPEG scale and whether the dihedral hashes are wanted.
    pub pdq: Option<crate::media::PdqConfig>,
    /// vPDQ of videos (up to [`MAX_VIDEO_MEMBER`] bytes: they are held in memory for FFmpeg).
    pub video: Option<crate::media::video::Videos<'a>>,
    pub limits: Limits,
}

/// The largest member that is a video hashed with vPDQ (it is held in memory while FFmpeg
/// reads it).
pub const MAX_VIDEO_MEMBER: u64 = 256 << 20;

/// What reading a container's members found: its own description, and every member at every
/// depth in stored order (a nested container's members right after it), each member's
/// `parent` an index into this list, or `None` for the container itself.
#[derive(Debug)]
pub struct Expanded {
    pub archive: ArchiveInfo,
    pub members: Vec<Item>,
}

/// Size of the reads from a member.
const CHUNK: usize = 64 << 10;

/// The members of `file` (listed at `path`, `size` bytes, already hashed) when its first
/// bytes, `head` (at least [`container::HEAD`] of them unless the file is shorter), say it is
/// a container; `None` when they do not.
pub fn expand_file(
    file: &File,
    head: &[u8],
    path: &std::path::Path,
    size: u64,
    settings: &Settings,
    cancel: &Cancel,
) -> Option<Expanded> {
    let head = &head[..head.len().min(container::HEAD)];
    if head.starts_with(b"Rar!\x1a\x07") {
        return Some(Expanded {
            archive: ArchiveInfo {
                format: "rar",
                members: 0,
                stopped: Some("not opened: RAR is not supported".to_owned()),
                image: None,
            },
            members: Vec::new(),
        });
    }
    let format = Format::detect(head)?;
    let mut source = Positional::new(file, size);
    let budget = Budget::new(settings.limits, size);
    let mut members = Vec::new();
    let mut reader = Reader::top(settings, cancel, &budget, &mut members, path);
    let source = if matches!(format, Format::Zip | Format::SevenZip) {
        Source::Seekable(&mut source)
    } else {
        Source::Stream(&mut source)
    };
    let stopped = container::expand(format, source, &budget, &mut reader).err();
    let count = reader.count;
    Some(Expanded {
        archive: ArchiveInfo {
            format: format.name(),
            members: count,
            stopped: stopped.map(|s| s.to_string()),
            image: None,
        },
        members,
    })
}

mod image;
pub use image::{ImageOptions, expand_image};

/// Reads `buf` full, or to the end of `r`; the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The visitor that turns each member into an item.
struct Reader<'a> {
    settings: &'a Settings<'a>,
    cancel: &'a Cancel,
    budget: &'a Budget,
    members: &'a mut Vec<Item>,
    /// The container's path (a chain for a nested one).
    path: Vec<u8>,
    /// The container's own name (what a compressed file's stream is named after).
    name: Vec<u8>,
    /// The container's index in `members`, `None` for the evidence file.
    parent: Option<usize>,
    depth: u32,
    /// Members listed directly in this container.
    count: u64,
}

/// Reads through, hashing every byte read and keeping the first ones (for the type).
struct Tee<'a> {
    inner: &'a mut dyn Read,
    hasher: MultiHasher,
    size: u64,
    head: Vec<u8>,
    cancel: &'a Cancel,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let n = self.inner.read(buf)?;
        self.hasher.update_shared(&buf[..n]);
        self.size += n as u64;
        let want = sniff::HEAD.max(container::HEAD);
        if self.head.len() < want {
            let take = (want - self.head.len()).min(n);
            self.head.extend_from_slice(&buf[..take]);
        }
        Ok(n)
    }
}

/// A member's bytes as read: digests, and the whole when it must be looked at again (an
/// image to decode, a container to open).
struct Bytes {
    digests: crate::digest::Digests,
    size: u64,
    head: Vec<u8>,
    kept: Option<Vec<u8>>,
    /// Why the bytes were not kept although they were wanted.
    not_kept: Option<String>,
}

/// A member at `path`, with nothing read of it yet.
pub(crate) fn member_item(path: PathBuf) -> Item {
    let mut item = Item::failed(
        path,
        Kind::Member,
        ItemError::new(Stage::Read, String::new()),
    );
    item.error = None;
    item
}

impl<'a> Reader<'a> {
    /// The visitor of the container on the evidence at `path`.
    fn top(
        settings: &'a Settings<'a>,
        cancel: &'a Cancel,
        budget: &'a Budget,
        members: &'a mut Vec<Item>,
        path: &std::path::Path,
    ) -> Self {
        use std::os::unix::ffi::OsStrExt;
        Reader {
            settings,
            cancel,
            budget,
            members,
            path: path.as_os_str().as_bytes().to_vec(),
            name: path
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_default(),
            parent: None,
            depth: 1,
            count: 0,
        }
    }
}

impl Reader<'_> {
    fn item(&self, path: Vec<u8>, member: &Member) -> Item {
        use std::os::unix::ffi::OsStringExt;
        let mut item = member_item(PathBuf::from(std::ffi::OsString::from_vec(path)));
        item.mtime = member.mtime;
        item.fs = member.fs.clone();
        item.parent = self.parent.map(|p| p as u32);
        let mut notes = Vec::new();
        if let Some(len) = member.name_cut {
            notes.push(format!(
                "name cut to {} of its {len} bytes",
                member.name.len()
            ));
        }
        let name = &member.name;
        if name.starts_with(b"/") {
            notes.push("name as stored is absolute".to_owned());
        }
        if name
            .split(|&b| b == b'/' || b == b'\\')
            .any(|part| part == b"..")
        {
            notes.push("name as stored climbs out of its container (..)".to_owned());
        }
        if name.contains(&0) {
            notes.push("name as stored holds a NUL byte".to_owned());
        }
        item.note = (!notes.is_empty()).then(|| notes.join("; "));
        item
    }

    /// Reads a member's bytes through the hashers, keeping them when `keep` allows.
    fn read(
        &self,
        content: &mut dyn Read,
        keep: impl Fn(&[u8]) -> Option<u64>,
    ) -> io::Result<Bytes> {
        let mut hasher = MultiHasher::new(self.settings.algorithms);
        let mut buf = vec![0u8; CHUNK];
        let first = read_full(content, &mut buf)?;
        let head = buf[..first.min(sniff::HEAD.max(container::HEAD))].to_vec();
        hasher.update_shared(&buf[..first]);
        let mut size = first as u64;
        let cap = keep(&head);
        let mut kept = cap.map(|_| buf[..first].to_vec());
        let mut not_kept = None;
        loop {
            if self.cancel.is_cancelled() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
            }
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update_shared(&buf[..n]);
            size += n as u64;
            if let (Some(k), Some(cap)) = (kept.as_mut(), cap) {
                if size > cap {
                    kept = None;
                    not_kept = Some(format!("larger than the {cap} bytes read into memory"));
                } else {
                    k.extend_from_slice(&buf[..n]);
                }
            }
        }
        Ok(Bytes {
            digests: hasher.finish(),
            size,
            head,
            kept,
            not_kept,
        })
    }
}

impl Reader<'_> {
    /// Lists `item`, whose reading failed with `e`, and says whether that ends the container
    /// (the budget spent, the run interrupted) or only this member.
    fn failed(&mut self, mut item: Item, e: &io::Error) -> Result<(), Stop> {
        let stop = if self.cancel.is_cancelled() {
            Some(Stop::Cancelled)
        } else if self.budget.exhausted() {
            Some(self.budget.bytes_stop())
        } else {
            None
        };
        item.error = Some(ItemError::new(
            if stop == Some(Stop::Cancelled) {
                Stage::Interrupted
            } else {
                Stage::Read
            },
            match &stop {
                Some(Stop::Limit(_)) => {
                    "not read to its end: the container's expansion limit was reached".to_owned()
                }
                Some(_) => "not read: the run was interrupted".to_owned(),
                None => format!("cannot read this member: {e}"),
            },
        ));
        self.members.push(item);
        stop.map_or(Ok(()), Err)
    }

    /// What a nested container's stop means for the one holding it: the budget spent and an
    /// interruption end every container up the chain; anything else ends the nested one only.
    fn up_the_chain(&self, stopped: Result<(), Stop>) -> Result<(), Stop> {
        match stopped {
            Err(stop @ Stop::Cancelled) => Err(stop),
            Err(stop @ Stop::Limit(_)) if self.budget.exhausted() => Err(stop),
            _ => Ok(()),
        }
    }

    /// Reads the members of the member at `index` (named `path`, `name`), a container in
    /// `format`, from `source`: how many it listed directly, and why it stopped.
    fn nested(
        &mut self,
        index: usize,
        path: Vec<u8>,
        name: Vec<u8>,
        format: Format,
        source: Source<'_>,
    ) -> (u64, Result<(), Stop>) {
        let mut inner = Reader {
            settings: self.settings,
            cancel: self.cancel,
            budget: self.budget,
            members: &mut *self.members,
            path,
            name,
            parent: Some(index),
            depth: self.depth + 1,
            count: 0,
        };
        let stopped = container::expand(format, source, self.budget, &mut inner);
        (inner.count, stopped)
    }

    /// Lists `item`, a member in `format` (a tar or a compressed stream), and its members as
    /// they are read from `content`, which is hashed on the way (and read to its end after
    /// them, for its digests).
    fn stream(
        &mut self,
        item: Item,
        format: Format,
        path: Vec<u8>,
        name: Vec<u8>,
        content: &mut dyn Read,
    ) -> Result<(), Stop> {
        let index = self.members.len();
        self.members.push(item);
        let mut tee = Tee {
            inner: content,
            hasher: MultiHasher::new(self.settings.algorithms),
            size: 0,
            head: Vec::new(),
            cancel: self.cancel,
        };
        let (count, stopped) = self.nested(index, path, name, format, Source::Stream(&mut tee));
        // What the inner reader left unread (a tar's padding, what follows a damage) counts for
        // the member's digests.
        // Not after an interruption or with the budget spent: those end the member unread.
        let rest = match &stopped {
            Err(Stop::Cancelled) => Ok(0),
            Err(Stop::Limit(_)) if self.budget.exhausted() => Ok(0),
            _ => io::copy(&mut tee, &mut io::sink()),
        };
        let Tee {
            hasher, size, head, ..
        } = tee;
        let item = &mut self.members[index];
        item.archive = Some(Arc::new(ArchiveInfo {
            format: format.name(),
            members: count,
            stopped: stopped.as_ref().err().map(ToString::to_string),
            image: None,
        }));
        match (&stopped, rest) {
            (Err(Stop::Cancelled), _) => {
                item.error = Some(ItemError::new(
                    Stage::Interrupted,
                    "not read: the run was interrupted".to_owned(),
                ));
            }
            _ if self.budget.exhausted() => {
                item.error = Some(ItemError::new(
                    Stage::Read,
                    "not read to its end: the container's expansion limit was reached".to_owned(),
                ));
            }
            (_, Err(e)) => {
                item.error = Some(ItemError::new(
                    Stage::Read,
                    format!("cannot read this member: {e}"),
                ));
            }
            (_, Ok(_)) => {
                item.size = size;
                item.digests = Some(hasher.finish());
                item.content = Some(sniff::sniff(&head, size));
            }
        }
        self.up_the_chain(stopped)
    }
}

impl Visit for Reader<'_> {
    fn member(&mut self, member: Member, content: Option<&mut dyn Read>) -> Result<(), Stop> {
        if member.entry == Entry::Dir {
            return Ok(());
        }
        self.count += 1;
        let name = if member.name.is_empty() {
            container::stream_name(&self.name)
        } else {
            member.name.clone()
        };
        let path = member_path(&self.path, &name);
        let mut item = self.item(path.clone(), &member);
        let Some(content) = content else {
            item.error = Some(ItemError::new(
                Stage::Read,
                if member.encrypted {
                    "encrypted: not read".to_owned()
                } else if let Some(why) = &member.unsupported {
                    format!("not read: {why}")
                } else {
                    String::new()
                },
            ));
            match &member.entry {
                Entry::Symlink(t) | Entry::HardLink(t) => {
                    use std::os::unix::ffi::OsStringExt;
                    item.target = Some(PathBuf::from(std::ffi::OsString::from_vec(t.clone())));
                    let what = if matches!(member.entry, Entry::Symlink(_)) {
                        "a symbolic link in its container"
                    } else {
                        "a hard link in its container, to the member named as its target"
                    };
                    item.error = None;
                    item.note = Some(
                        item.note
                            .map_or(what.to_owned(), |n| format!("{what}; {n}")),
                    );
                }
                Entry::Other(kind) => {
                    item.error = None;
                    item.note = Some(format!("a {kind} in its container: no content"));
                }
                Entry::File | Entry::Dir => {
                    if let Some(why) = &member.no_content {
                        item.error = None;
                        item.note = Some(why.clone());
                    }
                }
            }
            self.members.push(item);
            return Ok(());
        };
        let settings = self.settings;
        let depth = self.depth;
        let limits = settings.limits;
        // A member that is a tar or a compressed stream is opened as it is read, however
        // large: its members come from the decompressor without being held, and what is read
        // before a cut is kept.
        let mut first = vec![0u8; container::HEAD];
        let n = match read_full(content, &mut first) {
            Ok(n) => n,
            Err(e) => return self.failed(item, &e),
        };
        first.truncate(n);
        let streamable = (depth < limits.depth)
            .then(|| Format::detect(&first))
            .flatten()
            .filter(|f| !matches!(f, Format::Zip | Format::SevenZip));
        let mut content = Cursor::new(first).chain(content);
        if let Some(format) = streamable {
            return self.stream(item, format, path, name, &mut content);
        }
        let (want_image, want_video) = (settings.pdq.is_some(), settings.video.is_some());
        let read = self.read(&mut content, |head| {
            let nested = (depth < limits.depth && Format::detect(head).is_some())
                .then_some(limits.in_memory);
            let class = sniff::sniff(head, u64::MAX).class;
            let image = (want_image && class == Class::Image).then_some(MAX_IMAGE_FILE);
            let video = (want_video && class == Class::Video).then_some(MAX_VIDEO_MEMBER);
            [nested, image, video].into_iter().flatten().max()
        });
        let read = match read {
            Ok(read) => read,
            Err(e) => return self.failed(item, &e),
        };
        item.size = read.size;
        item.digests = Some(read.digests);
        let content_type = sniff::sniff(&read.head, read.size);
        item.content = Some(content_type);
        if let Some(pdq) = settings.pdq
            && content_type.class == Class::Image
        {
            item.image = Some(match &read.kept {
                Some(bytes) => ImageHash::of_shared(bytes, pdq.scale, pdq.dihedral),
                None => ImageHash::failed_shared(DecodeError::FileTooLarge(read.size)),
            });
        }
        if let Some(videos) = settings.video
            && content_type.class == Class::Video
        {
            use crate::media::video::{VideoHash, hash_video};
            item.video = Some(Arc::new(match &read.kept {
                Some(bytes) => hash_video(
                    videos.tools,
                    bytes,
                    read.size,
                    content_type.mime,
                    &videos.config,
                    self.cancel,
                ),
                None => VideoHash::not_read(format!(
                    "not hashed: a video of more than {MAX_VIDEO_MEMBER} bytes in a container"
                )),
            }));
        }
        let nested = (depth < limits.depth)
            .then(|| Format::detect(&read.head))
            .flatten();
        let index = self.members.len();
        self.members.push(item);
        let Some(format) = nested else {
            return Ok(());
        };
        let Some(bytes) = read.kept else {
            let why = read.not_kept.unwrap_or_default();
            self.members[index].archive = Some(Arc::new(ArchiveInfo {
                format: format.name(),
                members: 0,
                stopped: Some(format!("not opened: {why}")),
                image: None,
            }));
            return Ok(());
        };
        let mut cursor = Cursor::new(bytes);
        let (count, stopped) =
            self.nested(index, path, name, format, Source::Seekable(&mut cursor));
        let info = ArchiveInfo {
            format: format.name(),
            members: count,
            stopped: stopped.as_ref().err().map(ToString::to_string),
            image: None,
        };
        self.members[index].archive = Some(Arc::new(info));
        self.up_the_chain(stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar.gz whose tar holds more members than the limit: the tar stops at the limit, and
    /// the tar member's digests are still those of the whole decompressed stream (the rest of
    /// it is read for them), as the md5 crate computes over the tar's bytes.
    #[test]
    fn a_streamed_member_stopped_by_the_member_limit_keeps_the_digests_of_all_its_bytes() {
        use md5::Digest as _;
        use std::io::Write as _;
        let mut tar = tar::Builder::new(Vec::new());
        for i in 0..10u8 {
            let data = vec![i; 3000 + usize::from(i)];
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, format!("m{i}.bin"), &data[..])
                .unwrap();
        }
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tar.gz");
        std::fs::write(&path, &gz).unwrap();
        let settings = Settings {
            algorithms: AlgorithmSet::all(),
            pdq: None,
            video: None,
            limits: Limits {
                members: 4,
                ..Limits::default()
            },
        };
        let file = File::open(&path).unwrap();
        let head = &gz[..gz.len().min(container::HEAD)];
        let found = expand_file(
            &file,
            head,
            &path,
            gz.len() as u64,
            &settings,
            &Cancel::new(),
        )
        .unwrap();
        let stream = &found.members[0];
        assert!(
            stream.path.to_str().unwrap().ends_with("/x.tar.gz!/x.tar"),
            "{}",
            stream.path.display()
        );
        let archive = stream.archive.as_deref().unwrap();
        assert_eq!(archive.format, "tar");
        assert!(archive.stopped.is_some(), "{archive:?}");
        assert!(found.members.len() < 11, "{}", found.members.len());
        let want: Vec<u8> = md5::Md5::digest(&tar).to_vec();
        assert_eq!(stream.digests.unwrap().md5.unwrap().0.to_vec(), want);
        assert_eq!(stream.size, tar.len() as u64);
    }

    #[test]
    fn member_paths_double_the_separator_s_mark() {
        assert_eq!(member_path(b"/ev/a.zip", b"b/c.jpg"), b"/ev/a.zip!/b/c.jpg");
        assert_eq!(member_path(b"/ev/a.zip", b"b!/c!"), b"/ev/a.zip!/b!!/c!!");
        assert_eq!(
            member_path(&member_path(b"/ev/x!.zip", b"in.tar"), b"y"),
            b"/ev/x!.zip!/in.tar!/y"
        );
    }

    #[test]
    fn the_container_of_a_member_path_is_found_whatever_the_names_hold() {
        use crate::record::container_of;
        for container in [
            &b"/ev/a.zip"[..],
            b"/ev/x!/a!.zip",
            b"/ev/!!/b",
            b"/e/a.zip!/in!!.tar",
        ] {
            for name in [
                &b"c.jpg"[..],
                b"!",
                b"!/",
                b"a!!/b!",
                b"!!!/x",
                b"/abs",
                b"",
            ] {
                let path = member_path(container, name);
                assert_eq!(
                    container_of(&path),
                    Some(container),
                    "{:?}",
                    String::from_utf8_lossy(&path)
                );
            }
        }
        assert_eq!(container_of(b"/ev/plain/file"), None);
    }
}
