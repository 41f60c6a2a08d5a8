//! The image worker's frames turned into container members: each file (each data stream of
//! it) a [`Member`] with its file-system details and a reader of its content, handed to a
//! [`Visit`] as an archive's members are, so that they go through the same hashing, PDQ,
//! container expansion, lookup and report.

use std::io::{self, Read};
use std::sync::Arc;

use super::entry::{Entry, flags, meta_type};
use super::frames::Frame;
use crate::cancel::Cancel;
use crate::container::{self, Budget, Limits, Member, Stop, Visit};
use crate::record::{FsInfo, VolumeInfo};
use crate::utc::Timestamp;

/// TSK's attribute type of NTFS's `$DATA`.
const NTFS_DATA: u32 = 0x80;

/// Where the frames come from (the worker's output).
pub type Frames<'a> = dyn FnMut() -> io::Result<Option<Frame>> + 'a;

/// The image's media, read where a file's runs say its content lies.
pub trait Source {
    /// Reads into `buf` from `offset`: fewer bytes at the end of the media.
    ///
    /// # Errors
    /// The media cannot be read there.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

impl Source for super::media::Media {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        super::media::Media::read_at(self, buf, offset)
    }
}

/// Whether the worker sends the content of `e` (the rule of `super::worker`): a regular
/// file's data stream, not a deleted name whose metadata another file now uses.
pub fn content_follows(e: &Entry) -> bool {
    e.attr_type != 0 && e.meta_type == meta_type::REG && !e.is(flags::REALLOC)
}

/// Reads the frames to the walk's end, handing every file to `visit`, and noting each
/// volume (partitions numbered `p1`, `p2`... in the order the table lists them) in `volumes`.
///
/// # Errors
/// The stop that ended the walk early: the output damaged or ended before the walk was done
/// (the caller says why the worker ended), the image not read at all, the budget spent, an
/// interruption.
pub fn walk(
    next: &mut Frames<'_>,
    media: &dyn Source,
    cap: u64,
    budget: &Budget,
    visit: &mut dyn Visit,
    cancel: &Cancel,
    volumes: &mut Vec<VolumeInfo>,
) -> Result<(), Stop> {
    // The media's reader (the EWF one) and the visitor's (archives inside) meet hostile
    // bytes here, in hashsift's own process: a panic ends this image, not the run.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        walk_frames(next, media, cap, budget, visit, cancel, volumes)
    }))
    .unwrap_or_else(|panic| {
        Err(Stop::Damaged(format!(
            "reading the image's files failed on this data ({})",
            container::panic_text(panic.as_ref())
        )))
    })
}

fn walk_frames(
    next: &mut Frames<'_>,
    media: &dyn Source,
    cap: u64,
    budget: &Budget,
    visit: &mut dyn Visit,
    cancel: &Cancel,
    volumes: &mut Vec<VolumeInfo>,
) -> Result<(), Stop> {
    let damaged =
        |e: io::Error| Stop::Damaged(format!("the image reader's output is damaged: {e}"));
    let mut partition: Option<u32> = None;
    let mut partitions = 0u32;
    loop {
        if cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let frame = next().map_err(damaged)?.ok_or_else(|| {
            Stop::Damaged("the image reader ended before its walk was done".to_owned())
        })?;
        match frame {
            Frame::Volume(v) => {
                partition = v.index.map(|_| {
                    partitions += 1;
                    partitions
                });
                volumes.push(VolumeInfo {
                    name: partition.map(|n| format!("p{n}")).unwrap_or_default(),
                    start: v.start,
                    length: v.length,
                    description: v.description,
                    file_system: v.file_system,
                    broken: None,
                });
            }
            Frame::Broken(why) => {
                if let Some(v) = volumes.last_mut() {
                    v.broken = Some(why);
                }
            }
            Frame::Entry(e) => {
                let follows = content_follows(&e);
                let member = member(&e, partition, budget.limits());
                if follows {
                    // The content follows as data, or as where it lies in the media.
                    let first = next().map_err(damaged)?;
                    if let Some(Frame::Runs {
                        size,
                        initsize,
                        runs,
                    }) = first
                    {
                        if let Some(member) = member {
                            let mut content = InMedia {
                                media,
                                runs,
                                size,
                                initsize,
                                cap,
                                at: 0,
                                run: 0,
                            };
                            container::visit_member(visit, budget, member, Some(&mut content))?;
                        }
                        continue;
                    }
                    let mut content = Content::new(next, first);
                    let visited = match member {
                        Some(member) => {
                            container::visit_member(visit, budget, member, Some(&mut content))
                        }
                        None => Ok(()),
                    };
                    // What the visitor left unread (it stopped at an error, or the budget).
                    let drained = content.drain();
                    visited?;
                    drained.map_err(damaged)?;
                    continue;
                }
                let Some(member) = member else {
                    continue;
                };
                if e.meta_type == meta_type::REG
                    && !e.is(flags::DELETED)
                    && e.size.unwrap_or(0) == 0
                {
                    // An empty file with no data stream: its content is empty.
                    container::visit_member(visit, budget, member, Some(&mut io::empty()))?;
                } else {
                    container::visit_member(visit, budget, member, None)?;
                }
            }
            Frame::Failed(why) => {
                return Err(Stop::Unreadable(format!(
                    "no partition table or file system read: {why}"
                )));
            }
            Frame::Done => return Ok(()),
            Frame::Data(_) | Frame::End { .. } | Frame::Runs { .. } => {
                return Err(damaged(io::Error::other("content without a file")));
            }
        }
    }
}

fn time(t: Option<(i64, u32)>) -> Option<Timestamp> {
    t.map(|(secs, nanos)| Timestamp {
        secs,
        nanos: nanos.min(999_999_999),
    })
}

/// The member `e` is, in `partition`; `None` for what is no item (TSK's virtual files).
fn member(e: &Entry, partition: Option<u32>, limits: &Limits) -> Option<Member> {
    if e.meta_type == meta_type::VIRT {
        return None;
    }
    let mut name = Vec::with_capacity(e.parent.len() + e.name.len() + 8);
    if let Some(p) = partition {
        name.extend_from_slice(format!("p{p}/").as_bytes());
    }
    name.extend_from_slice(&e.parent);
    name.extend_from_slice(&e.name);
    if let Some(s) = &e.stream {
        name.push(b':');
        name.extend_from_slice(s);
    }
    let kind = match e.meta_type {
        meta_type::DIR | meta_type::VIRT_DIR => container::Entry::Dir,
        meta_type::REG | 0 => container::Entry::File,
        0x05 => container::Entry::Other("symbolic link"),
        0x03 => container::Entry::Other("FIFO"),
        0x04 => container::Entry::Other("character device"),
        0x06 => container::Entry::Other("block device"),
        0x08 => container::Entry::Other("socket"),
        _ => container::Entry::Other("file-system object of another kind"),
    };
    let mut m = Member::new(&name, limits, kind);
    m.size = e.size;
    m.mtime = time(e.mtime);
    let deleted = e.is(flags::DELETED);
    m.fs = Some(Arc::new(FsInfo {
        partition,
        inode: e.inode,
        // NTFS's streams are told apart by their attribute (`128-3`); other file systems
        // give a file one stream.
        stream: (e.attr_type == NTFS_DATA).then_some((e.attr_type, e.attr_id)),
        deleted,
        reallocated: e.is(flags::REALLOC),
        atime: time(e.atime),
        ctime: time(e.ctime),
        crtime: time(e.crtime),
        dtime: e.dtime.map(|secs| Timestamp { secs, nanos: 0 }),
    }));
    m.no_content = if e.is(flags::REALLOC) {
        Some(format!(
            "deleted; its metadata (entry {}) now describes another file: its content is not recoverable",
            e.inode
        ))
    } else if e.is(flags::NO_META) || e.meta_type == 0 {
        Some("deleted; the file system no longer holds its metadata: no content to read".to_owned())
    } else if deleted {
        Some(
            "deleted; the file system no longer describes its content (size or blocks cleared)"
                .to_owned(),
        )
    } else if e.meta_type == meta_type::REG {
        Some("the file system describes no content for it".to_owned())
    } else {
        None
    };
    Some(m)
}

/// A file's content as the frames bring it: `Data` frames up to its `End`.
struct Content<'a, 'b> {
    next: &'a mut Frames<'b>,
    /// The first frame, read already.
    first: Option<Option<Frame>>,
    piece: Vec<u8>,
    at: usize,
    /// Its `End` was read.
    ended: bool,
    /// The frames went wrong (damaged, cut, out of order): nothing more is read from them.
    broken: bool,
}

impl<'a, 'b> Content<'a, 'b> {
    fn new(next: &'a mut Frames<'b>, first: Option<Frame>) -> Self {
        Content {
            next,
            first: Some(first),
            piece: Vec::new(),
            at: 0,
            ended: false,
            broken: false,
        }
    }

    /// Reads what is left of the content, to its end.
    ///
    /// # Errors
    /// The frames went wrong.
    fn drain(&mut self) -> io::Result<()> {
        while !self.ended {
            if let Err(e) = self.fill()
                && !self.ended
            {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The next piece into `piece`; at the end, `ended` set (and the error of a content that
    /// ended early returned).
    fn fill(&mut self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the image reader's output went wrong",
            ));
        }
        let frame = match self.first.take() {
            Some(first) => first,
            None => (self.next)().inspect_err(|_| self.broken = true)?,
        };
        match frame {
            Some(Frame::Data(d)) => {
                self.piece = d;
                self.at = 0;
                Ok(())
            }
            Some(Frame::End { error, .. }) => {
                self.ended = true;
                match error {
                    Some(e) => Err(io::Error::other(e)),
                    None => Ok(()),
                }
            }
            Some(_) => {
                self.broken = true;
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a file's content broken off by another frame",
                ))
            }
            None => {
                self.broken = true;
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the image reader ended inside a file's content",
                ))
            }
        }
    }
}

impl Read for Content<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.piece.len() {
            if self.ended {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.piece.len() - self.at);
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A file's content read from the media where its runs say it lies, as The Sleuth Kit would
/// read it: a zero run, and what lies past the initialised size, as zeros; a part no run
/// covers, or one past the media's end, an error; at most `cap` bytes.
struct InMedia<'a> {
    media: &'a dyn Source,
    runs: Vec<super::entry::Run>,
    size: u64,
    initsize: u64,
    cap: u64,
    /// The offset in the file read next, and the run looked at.
    at: u64,
    run: usize,
}

impl Read for InMedia<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.size.min(self.cap);
        if self.at >= end || buf.is_empty() {
            if self.at < self.size {
                return Err(io::Error::other(super::worker::cut_reason(self.at)));
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(end - self.at).unwrap_or(usize::MAX));
        if self.at >= self.initsize {
            buf[..want].fill(0);
            self.at += want as u64;
            return Ok(want);
        }
        while self
            .runs
            .get(self.run)
            .is_some_and(|r| r.offset.saturating_add(r.len) <= self.at)
        {
            self.run += 1;
        }
        let Some(r) = self.runs.get(self.run).filter(|r| r.offset <= self.at) else {
            return Err(io::Error::other(format!(
                "the file system describes no more of it past {} of its {} bytes",
                self.at, self.size
            )));
        };
        let into = self.at - r.offset;
        let n = (want as u64).min(r.len - into).min(self.initsize - self.at) as usize;
        let n = if r.zeros() {
            buf[..n].fill(0);
            n
        } else {
            let addr = r
                .addr
                .checked_add(into)
                .ok_or_else(|| io::Error::other("the file system points past any image's end"))?;
            match self.media.read_at(&mut buf[..n], addr)? {
                0 => {
                    return Err(io::Error::other(format!(
                        "the file system points past the end of the image (at byte {addr})"
                    )));
                }
                got => got,
            }
        };
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::entry::Volume;

    /// The bytes read of a member, or the error reading it; `None` when it had no reader.
    type Got = Option<Result<Vec<u8>, String>>;

    /// Every member handed over, with what was read of it.
    #[derive(Default)]
    struct Collect(Vec<(Member, Got)>);

    impl Visit for Collect {
        fn member(&mut self, member: Member, content: Option<&mut dyn Read>) -> Result<(), Stop> {
            let read = content.map(|r| {
                let mut bytes = Vec::new();
                r.read_to_end(&mut bytes)
                    .map(|_| bytes)
                    .map_err(|e| e.to_string())
            });
            self.0.push((member, read));
            Ok(())
        }
    }

    fn entry(name: &str, flags: u32, attr_type: u32, size: u64) -> Entry {
        Entry {
            parent: b"dir/".to_vec(),
            name: name.as_bytes().to_vec(),
            stream: None,
            inode: 7,
            attr_type,
            attr_id: 0,
            meta_type: meta_type::REG,
            flags,
            size: Some(size),
            mtime: Some((1_700_000_000, 5)),
            atime: None,
            ctime: None,
            crtime: None,
            dtime: None,
        }
    }

    fn volume(index: Option<u64>) -> Frame {
        Frame::Volume(Volume {
            index,
            start: 0,
            length: 1 << 20,
            description: String::new(),
            file_system: Ok("fat32".into()),
        })
    }

    /// A media of 64 KiB: byte i is i % 251.
    struct Pattern;

    impl Source for Pattern {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let n = buf.len().min(65536usize.saturating_sub(offset as usize));
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = ((offset as usize + i) % 251) as u8;
            }
            Ok(n)
        }
    }

    fn run(frames: Vec<Frame>) -> (Collect, Vec<VolumeInfo>, Result<(), Stop>) {
        run_capped(frames, u64::MAX)
    }

    fn run_capped(frames: Vec<Frame>, cap: u64) -> (Collect, Vec<VolumeInfo>, Result<(), Stop>) {
        let mut frames = frames.into_iter();
        let mut next = || Ok(frames.next());
        let budget = Budget::new(Limits::default(), 1 << 20);
        let mut seen = Collect::default();
        let mut volumes = Vec::new();
        let r = walk(
            &mut next,
            &Pattern,
            cap,
            &budget,
            &mut seen,
            &Cancel::new(),
            &mut volumes,
        );
        (seen, volumes, r)
    }

    fn pattern(from: usize, len: usize) -> Vec<u8> {
        (from..from + len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn a_file_s_runs_are_read_from_the_media_as_the_sleuth_kit_reads_them() {
        use crate::image::entry::Run;
        let run = |offset, addr, len, flags| Run {
            offset,
            addr,
            len,
            flags,
        };
        let file = |runs: Vec<Run>, size, initsize| {
            vec![
                volume(None),
                Frame::Entry(entry("f", 0, 1, size)),
                Frame::Runs {
                    size,
                    initsize,
                    runs,
                },
                Frame::Done,
            ]
        };
        let read = |frames, cap| {
            let (seen, _, r) = run_capped(frames, cap);
            assert_eq!(r, Ok(()));
            seen.0[0].1.clone().unwrap()
        };
        // Two pieces out of order on the media, a zero run between, the last block partly
        // past the size.
        let runs = vec![
            run(0, 8192, 1000, 0),
            run(1000, 0, 500, 1),
            run(1500, 100, 2048, 0),
        ];
        let mut want = pattern(8192, 1000);
        want.extend(vec![0; 500]);
        want.extend(pattern(100, 1800));
        assert_eq!(
            read(file(runs.clone(), 3300, 3300), u64::MAX),
            Ok(want.clone())
        );
        // Past the initialised size: zeros.
        let mut zeroed = want[..2000].to_vec();
        zeroed.extend(vec![0; 1300]);
        assert_eq!(read(file(runs.clone(), 3300, 2000), u64::MAX), Ok(zeroed));
        // Cut at the cap, with the reason.
        let cut = read(file(runs.clone(), 3300, 3300), 1200).unwrap_err();
        assert!(cut.contains("not read past 1200"), "{cut}");
        // A media reader that panics on what it meets: the image stops, with the reason.
        struct Panics;
        impl Source for Panics {
            fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<usize> {
                panic!("a crafted chunk");
            }
        }
        let mut frames = file(runs.clone(), 3300, 3300).into_iter();
        let mut next = || Ok(frames.next());
        let budget = Budget::new(Limits::default(), 1 << 20);
        let r = walk(
            &mut next,
            &Panics,
            u64::MAX,
            &budget,
            &mut Collect::default(),
            &Cancel::new(),
            &mut Vec::new(),
        );
        assert!(
            matches!(&r, Err(Stop::Damaged(w)) if w.contains("a crafted chunk")),
            "{r:?}"
        );
        // A part no run covers, and a run past the media's end: errors, not bytes made up.
        let gap = read(file(vec![run(0, 0, 100, 0)], 300, 300), u64::MAX).unwrap_err();
        assert!(gap.contains("no more of it past 100"), "{gap}");
        let past = read(file(vec![run(0, 70_000, 100, 0)], 100, 100), u64::MAX).unwrap_err();
        assert!(past.contains("past the end of the image"), "{past}");
    }

    #[test]
    fn files_their_streams_and_deleted_names_become_members_in_their_partitions() {
        let mut ads = entry("a.jpg", flags::STREAM, NTFS_DATA, 3);
        ads.stream = Some(b"secret".to_vec());
        ads.attr_id = 4;
        let mut virt = entry("$FAT1", 0, 1, 2);
        virt.meta_type = meta_type::VIRT;
        let (seen, volumes, r) = run(vec![
            volume(Some(2)),
            Frame::Entry(entry("a.jpg", 0, NTFS_DATA, 5)),
            Frame::Data(b"he".to_vec()),
            Frame::Data(b"llo".to_vec()),
            Frame::End {
                bytes: 5,
                error: None,
            },
            Frame::Entry(ads),
            Frame::Data(b"abc".to_vec()),
            Frame::End {
                bytes: 3,
                error: None,
            },
            // TSK's virtual files are not items.
            Frame::Entry(virt),
            volume(Some(5)),
            Frame::Broken("a directory loops".into()),
            Frame::Entry(entry("old.bin", flags::DELETED | flags::REALLOC, 1, 9)),
            Frame::Entry(entry("cut.bin", flags::DELETED, 1, 9)),
            Frame::Data(b"1234".to_vec()),
            Frame::End {
                bytes: 4,
                error: Some("a block past the end".into()),
            },
            Frame::Entry(entry("empty.txt", 0, 0, 0)),
            Frame::Done,
        ]);
        assert_eq!(r, Ok(()));
        let names: Vec<String> = seen
            .0
            .iter()
            .map(|(m, _)| String::from_utf8_lossy(&m.name).into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "p1/dir/a.jpg",
                "p1/dir/a.jpg:secret",
                "p2/dir/old.bin",
                "p2/dir/cut.bin",
                "p2/dir/empty.txt"
            ]
        );
        let content = |i: usize| seen.0[i].1.clone();
        assert_eq!(content(0), Some(Ok(b"hello".to_vec())));
        assert_eq!(content(1), Some(Ok(b"abc".to_vec())));
        let fs = |i: usize| seen.0[i].0.fs.clone().unwrap();
        assert_eq!(fs(0).stream, Some((NTFS_DATA, 0)));
        assert_eq!(fs(1).stream, Some((NTFS_DATA, 4)));
        assert_eq!(fs(0).partition, Some(1));
        // Reallocated: listed, deleted, no content, and why.
        assert_eq!(content(2), None);
        assert!(fs(2).deleted && fs(2).reallocated);
        assert!(
            seen.0[2]
                .0
                .no_content
                .as_deref()
                .unwrap()
                .contains("another file")
        );
        // A content that ended early: the member's error, and the walk goes on.
        assert_eq!(content(3), Some(Err("a block past the end".into())));
        assert_eq!(content(4), Some(Ok(Vec::new())));
        assert_eq!(volumes.len(), 2);
        assert_eq!(volumes[1].name, "p2");
        assert_eq!(volumes[1].broken.as_deref(), Some("a directory loops"));
        assert_eq!(volumes[0].broken, None);
    }

    #[test]
    fn output_that_breaks_the_order_or_ends_early_stops_the_walk_as_damaged() {
        let file = || Frame::Entry(entry("a.bin", 0, 1, 5));
        let cases = [
            // Content with no file.
            vec![volume(None), Frame::Data(b"x".to_vec())],
            // A content broken off by another file.
            vec![volume(None), file(), Frame::Data(b"x".to_vec()), file()],
            // The output ends inside a content, or before the walk is done.
            vec![volume(None), file(), Frame::Data(b"x".to_vec())],
            vec![volume(None)],
        ];
        for frames in cases {
            let (seen, _, r) = run(frames.clone());
            assert!(matches!(r, Err(Stop::Damaged(_))), "{frames:?}: {r:?}");
            // A member read in part is listed with its error, never with bytes made up.
            for (_, content) in &seen.0 {
                assert!(matches!(content, Some(Err(_))), "{frames:?}");
            }
        }
        // Not an image at all: said so.
        let (_, _, r) = run(vec![Frame::Failed("no file system".into())]);
        assert!(matches!(r, Err(Stop::Unreadable(w)) if w.contains("no file system")));
        // A bare file system: its files have no partition.
        let (seen, volumes, r) = run(vec![
            volume(None),
            Frame::Entry(entry("b", 0, 0, 0)),
            Frame::Done,
        ]);
        assert_eq!(r, Ok(()));
        assert_eq!(seen.0[0].0.name, b"dir/b");
        assert_eq!(volumes[0].name, "");
    }
}
