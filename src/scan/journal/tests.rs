use super::carry::{Sorted, Window};
use super::content::content_record;
use super::format::MAX_RECORD;
use super::format::{CHECK, path_key};
use super::*;
use crate::digest::{Blake3, Digests, Md5, Sha1, Sha256};
use crate::hash::Outcome;
use crate::media::ImageHash;
use crate::media::decode::{DecodeError, JpegScale};
use crate::media::pdq::Transform;
use crate::media::pdq::{Pdq, PdqHash};
use crate::media::sniff::{Class, ContentType};
use crate::read::evidence::FileId;
use crate::read::{ItemError, Stage};
use crate::record::Kind;
use crate::scan::{LookupChoice, PdqMatching};
use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

fn item(path: &str, ino: u64, size: u64, secs: i64) -> Item {
    let mut item = Item::failed(
        PathBuf::from(path),
        Kind::File,
        ItemError::new(Stage::Stat, String::new()),
    );
    item.error = None;
    item.id = Some(FileId { dev: 9, ino });
    item.size = size;
    item.mtime = Some(Timestamp {
        secs,
        nanos: 123_456_789,
    });
    item.ctime = Some(Timestamp {
        secs: secs + 1,
        nanos: 7,
    });
    item
}

/// [`Journal::resume`], tried again while the journal is in use: another test of this binary
/// may fork (`utc.rs` runs `date`) while this one holds the journal's lock, and the child
/// holds a copy of the lock until it runs `date`.
fn resume(dir: &Path) -> Result<Journal, JournalError> {
    for _ in 0..200 {
        match Journal::resume(dir, vec![]) {
            Err(JournalError::InUse { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            other => return other,
        }
    }
    Journal::resume(dir, vec![])
}

fn start() -> Start {
    Start {
        provenance: crate::scan::Provenance {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            started: Timestamp {
                secs: 1_800_000_000,
                nanos: 5,
            },
            command: vec!["hashsift".into(), OsString::from_vec(b"scan \xff".to_vec())],
            cwd: "/cases/1".into(),
            roots: vec![PathBuf::from(OsString::from_vec(
                b"/mnt/ev\xfe\nx".to_vec(),
            ))],
            db: "/units/known.db".into(),
            case: Some("2026/118".into()),
            evidence_id: None,
            examiner: Some("A. Examiner, \"lab\"".into()),
        },
        lookup: LookupChoice::Index,
        pdq: Some(PdqMatching {
            scale: JpegScale::Fast,
            min_quality: 60,
            max_distance: 20,
        }),
        archives: true,
        video: Some(crate::media::video::VideoConfig {
            seconds_per_hash: 0.5,
            keyframes: true,
            time_limit: std::time::Duration::from_secs(90),
            threads: 0,
        }),
        images: Some(crate::expand::ImageOptions {
            verify: false,
            open_all: true,
        }),
    }
}

/// One outcome of each shape a content record holds.
fn outcomes() -> Vec<(Item, Outcome)> {
    let digests = Digests {
        md5: Some(Md5([1; 16])),
        sha1: Some(Sha1([2; 20])),
        sha256: Some(Sha256([3; 32])),
        blake3: Some(Blake3([4; 32])),
    };
    let png = ContentType {
        mime: "image/png",
        class: Class::Image,
    };
    let hash = |b: u8| PdqHash::from_bytes(&[b; 32]);
    let mut dihedral = [hash(0); 8];
    for (t, h) in Transform::ALL.iter().zip(&mut dihedral) {
        *h = hash(*t as u8 + 10);
    }
    let hashed = Arc::new(ImageHash {
        pdq: Ok(Pdq {
            hash: hash(7),
            quality: 93,
        }),
        dihedral: Some(Box::new(dihedral)),
        decoder: Some("libjpeg-turbo"),
    });
    let mut list = vec![
        (
            item("/e/plain", 1, 10, 1),
            Ok((
                Digests {
                    sha1: None,
                    ..digests
                },
                None,
                None,
            )),
        ),
        (
            item("/e/typed", 2, 11, -5),
            Ok((
                digests,
                Some(ContentType {
                    mime: "application/x-empty",
                    class: Class::Empty,
                }),
                None,
            )),
        ),
        (
            item("/e/image", 3, 12, 2),
            Ok((digests, Some(png), Some(hashed))),
        ),
        (
            item("/e/no-dihedral", 4, 13, 2),
            Ok((
                digests,
                Some(png),
                Some(Arc::new(ImageHash {
                    pdq: Ok(Pdq {
                        hash: hash(8),
                        quality: 0,
                    }),
                    dihedral: None,
                    decoder: Some("image-rs"),
                })),
            )),
        ),
        (
            item("/e/unreadable", 5, 14, 3),
            Err(ItemError {
                stage: Stage::Read,
                os_code: Some(5),
                message: "Input/output error (os error 5)".into(),
            }),
        ),
        (
            item("/e/changed size", 6, 15, 3),
            Err(ItemError::new(
                Stage::Open,
                "changed size while being read".into(),
            )),
        ),
    ];
    for (n, e) in [
        DecodeError::Unsupported("AVIF".into()),
        DecodeError::TooLarge {
            width: 70_000,
            height: 3,
        },
        DecodeError::Corrupt("premature end of data segment".into()),
        DecodeError::FileTooLarge(1 << 40),
        DecodeError::Read("EIO".into()),
    ]
    .into_iter()
    .enumerate()
    {
        list.push((
            item(&format!("/e/damaged-{n}"), 20 + n as u64, 99, 4),
            Ok((digests, Some(png), Some(ImageHash::failed_shared(e)))),
        ));
    }
    let odd = OsString::from_vec(b"/e/\xff\xfe name\nwith newline".to_vec());
    list.push((
        Item {
            path: PathBuf::from(odd),
            ..item("", 40, 0, 0)
        },
        Ok((digests, None, None)),
    ));
    list
}

fn write_all(dir: &Path) -> Vec<(Item, Outcome)> {
    let journal = Journal::create(dir, start()).unwrap();
    let list = outcomes();
    let mut batch = journal.batch();
    for (item, outcome) in &list {
        batch.record(item, outcome.as_ref(), None);
    }
    drop(batch);
    journal.finish().unwrap();
    list
}

#[test]
fn every_record_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let list = write_all(dir.path());
    let command = vec![OsString::from("resume"), OsString::from_vec(vec![0xff])];
    let journal = Journal::resume(dir.path(), command.clone()).unwrap();
    // No second session of the scan while this one runs.
    assert!(matches!(
        Journal::resume(dir.path(), vec![]),
        Err(JournalError::InUse { .. })
    ));
    assert_eq!(journal.start(), &start());
    assert_eq!(journal.records_read, 1 + list.len() as u64);
    assert_eq!(journal.torn_bytes, 0);
    let carry = journal.carry_over();
    assert!(journal.carry_over().offsets.is_empty(), "taken once");
    let mut window = Window::new(carry.file.as_ref());
    for (item, outcome) in &list {
        let (offset, len) = carry.offsets[&path_key(&item.path)];
        let (_, committed) = parse_content(window.payload(offset, len).unwrap()).unwrap();
        assert_eq!(&committed.outcome, outcome, "{}", item.path.display());
        // What was read whole is carried over; a failed read is tried again.
        let failed = match outcome {
            Err(_) => true,
            Ok((_, _, image)) => image
                .as_ref()
                .is_some_and(|i| matches!(i.pdq, Err(DecodeError::Read(_)))),
        };
        match carry.carried(item) {
            Carried::Same(got, _) if !failed => assert_eq!(&got, outcome),
            Carried::New if failed => {}
            other => panic!("{}: {other:?}", item.path.display()),
        }
    }
    // Another inode, size or time at the same path is a change; another path is new.
    let (base, _) = &list[0];
    for changed in [
        Item {
            id: Some(FileId { dev: 9, ino: 77 }),
            ..base.clone()
        },
        Item {
            size: base.size + 1,
            ..base.clone()
        },
        Item {
            mtime: None,
            ..base.clone()
        },
        // Written to and its modification time put back: the change time tells.
        Item {
            ctime: Some(Timestamp { secs: 1, nanos: 0 }),
            ..base.clone()
        },
    ] {
        assert!(matches!(carry.carried(&changed), Carried::Changed));
    }
    // The device may differ (a remount after a power cut): the path and inode decide.
    let remounted = Item {
        id: Some(FileId { dev: 1, ino: 1 }),
        ..base.clone()
    };
    assert!(matches!(carry.carried(&remounted), Carried::Same(..)));
    let other = Item {
        path: "/e/other".into(),
        ..base.clone()
    };
    assert!(matches!(carry.carried(&other), Carried::New));
    // All at once, in one pass over the file: the same, each item once.
    let mut all: Vec<Item> = list.iter().map(|(item, _)| item.clone()).collect();
    // (Not `remounted`: a walk gives each path once.)
    all.push(other);
    let one_by_one: Vec<String> = all
        .iter()
        .map(|item| format!("{:?}", carry.carried(item)))
        .collect();
    let mut together = vec![None; all.len()];
    let sorted = carry.sort_out(
        all.len(),
        |i| &all[i],
        |i, what| {
            assert!(together[i].is_none(), "item {i} twice");
            together[i] = Some(format!("{what:?}"));
        },
    );
    let together: Vec<String> = together.into_iter().map(Option::unwrap).collect();
    assert_eq!(together, one_by_one);
    // All but the other path; every path recorded was walked.
    assert_eq!(
        sorted,
        Sorted {
            in_journal: all.len() - 1,
            gone: 0,
            one_gone: None
        }
    );

    // The session is recorded once, and read back by the next resume.
    let at = Timestamp { secs: 7, nanos: 8 };
    let session = journal.begin(at, 3, 1).unwrap();
    assert!(journal.begin(at, 3, 1).is_none());
    journal.finish().unwrap();
    drop(journal);
    let again = resume(dir.path()).unwrap();
    assert_eq!(again.sessions(), &[session]);
    assert_eq!(again.sessions()[0].command, command);
}

#[test]
fn recorded_paths_the_walk_did_not_find_are_counted_when_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let list = write_all(dir.path());
    let read_whole = |outcome: &Outcome| match outcome {
        Err(_) => false,
        Ok((_, _, image)) => !image
            .as_ref()
            .is_some_and(|i| matches!(i.pdq, Err(DecodeError::Read(_)))),
    };
    let gone = list.iter().position(|(_, o)| read_whole(o)).unwrap();
    let failed = list.iter().position(|(_, o)| !read_whole(o)).unwrap();
    let walked: Vec<Item> = list
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != gone && i != failed)
        .map(|(_, (item, _))| item.clone())
        .collect();
    let journal = resume(dir.path()).unwrap();
    let sorted = journal
        .carry_over()
        .sort_out(walked.len(), |i| &walked[i], |_, _| {});
    assert_eq!(
        sorted,
        Sorted {
            in_journal: list.len() - 2,
            gone: 1,
            one_gone: Some(list[gone].0.path.clone()),
        }
    );
    journal.finish().unwrap();
}

#[test]
fn a_record_changed_after_the_journal_was_opened_is_not_carried_over() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let list = write_all(dir.path());
    let journal = resume(dir.path()).unwrap();
    let carry = journal.carry_over();
    let (item, _) = list
        .iter()
        .find(|(item, _)| matches!(carry.carried(item), Carried::Same(..)))
        .unwrap();
    let (offset, len) = carry.offsets[&path_key(&item.path)];
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.path().join(JOURNAL))
        .unwrap();
    // Every byte of the record, its payload and its check, changed in turn.
    for at in offset..offset + u64::from(len) + CHECK as u64 {
        let mut byte = [0u8];
        file.read_exact_at(&mut byte, at).unwrap();
        file.write_all_at(&[byte[0] ^ 0x10], at).unwrap();
        assert!(
            matches!(carry.carried(item), Carried::New),
            "byte {} of the record changed",
            at - offset
        );
        file.write_all_at(&byte, at).unwrap();
    }
    assert!(matches!(carry.carried(item), Carried::Same(..)));
    journal.finish().unwrap();
}

#[test]
fn a_cut_or_damaged_record_ends_the_journal_and_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let list = write_all(dir.path());
    let path = dir.path().join(JOURNAL);
    let whole = std::fs::read(&path).unwrap();
    let last = &list.last().unwrap().0;
    // The last record's length: 4 + payload + 16.
    let last_len = 4 + content_record(last, list.last().unwrap().1.as_ref(), None).len() + CHECK;
    for cut in [1, 2, 5, 16, 17, last_len - 1] {
        std::fs::write(&path, &whole[..whole.len() - cut]).unwrap();
        let journal = resume(dir.path()).unwrap();
        assert_eq!(journal.records_read, list.len() as u64, "cut {cut}");
        assert_eq!(journal.torn_bytes, (last_len - cut) as u64);
        let carry = journal.carry_over();
        assert!(matches!(carry.carried(last), Carried::New));
        assert!(matches!(carry.carried(&list[0].0), Carried::Same(..)));
        // Its handle holds the lock too.
        drop(carry);
        journal.finish().unwrap();
        drop(journal);
        // A session that wrote nothing (refused before it began) leaves the file as it was.
        assert_eq!(
            std::fs::read(&path).unwrap(),
            &whole[..whole.len() - cut],
            "cut {cut}"
        );
        // One that begins cuts the torn record off: what it appends follows the last whole
        // one, and the next session reads it all.
        let journal = resume(dir.path()).unwrap();
        let at = Timestamp { secs: 5, nanos: 6 };
        let session = journal.begin(at, 0, 0).unwrap();
        journal.finish().unwrap();
        drop(journal);
        let again = resume(dir.path()).unwrap();
        assert_eq!(again.torn_bytes, 0, "cut {cut}");
        assert_eq!(again.records_read, list.len() as u64 + 1);
        assert_eq!(again.sessions(), &[session]);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            (whole.len() - last_len + 4 + session_record(&again.sessions()[0]).len() + CHECK)
                as u64
        );
    }
    // A changed byte in the third content record (after the scan's and two): it and the
    // rest are dropped.
    let mut damaged = whole.clone();
    let mut at = PREAMBLE as usize;
    for _ in 0..3 {
        let len = u32::from_le_bytes(damaged[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + len + CHECK;
    }
    damaged[at + 10] ^= 1;
    std::fs::write(&path, &damaged).unwrap();
    let journal = resume(dir.path()).unwrap();
    assert_eq!(journal.records_read, 3, "the scan's and two contents'");
    let carry = journal.carry_over();
    assert!(matches!(carry.carried(&list[1].0), Carried::Same(..)));
    assert!(matches!(carry.carried(&list[2].0), Carried::New));
    assert!(matches!(carry.carried(&list[3].0), Carried::New));
}

#[test]
fn a_record_with_a_bad_flag_or_trailing_bytes_is_damage() {
    let (item, outcome) = &outcomes()[2];
    let payload = content_record(item, outcome.as_ref(), None);
    assert!(parse_content(&payload).is_some());
    // The mtime's presence flag, after the kind, the path, the inode and the size.
    let flag = 1 + 4 + item.path.as_os_str().len() + 8 + 8;
    assert_eq!(payload[flag], 1);
    for bad in [2u8, 0xff] {
        let mut damaged = payload.clone();
        damaged[flag] = bad;
        assert!(parse_content(&damaged).is_none(), "flag {bad}");
    }
    for tail in [&[0u8][..], b"M", b"M\x02", b"M\x00\x00"] {
        let mut longer = payload.clone();
        longer.extend(tail);
        assert!(parse_content(&longer).is_none(), "{tail:?}");
    }
    assert!(parse_content(&payload[..payload.len() - 1]).is_none());
    // A length past the limit ends the journal without reading (or allocating) it.
    let mut records = Records {
        input: &(MAX_RECORD + 1).to_le_bytes()[..],
        at: 0,
        buf: Vec::new(),
    };
    assert!(records.next().unwrap().is_none());
}

#[test]
fn what_is_not_a_journal_of_this_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(JOURNAL);
    assert!(matches!(resume(dir.path()), Err(JournalError::Io { .. })));
    std::fs::write(&path, b"SQLite format 3\0 and more bytes").unwrap();
    assert!(matches!(
        resume(dir.path()),
        Err(JournalError::NotJournal { .. })
    ));
    // The preamble alone: no scan record.
    let mut bytes = MAGIC.to_vec();
    bytes.extend(VERSION.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        resume(dir.path()),
        Err(JournalError::NotJournal { .. })
    ));
    // Another format version.
    let mut other = MAGIC.to_vec();
    other.extend((VERSION + 1).to_le_bytes());
    std::fs::write(&path, &other).unwrap();
    let e = resume(dir.path()).unwrap_err();
    assert!(e.to_string().contains("format"), "{e}");
    // Another version of hashsift.
    std::fs::remove_file(&path).unwrap();
    let mut older = start();
    older.provenance.tool_version = "0.0.1".into();
    Journal::create(dir.path(), older)
        .unwrap()
        .finish()
        .unwrap();
    assert!(matches!(
        resume(dir.path()),
        Err(JournalError::Version { .. })
    ));
    // A second journal is never started over the first.
    assert!(Journal::create(dir.path(), start()).is_err());
}

/// A container's members, every kind `expand` makes (read, failed, a link with a note, a
/// nested container that stopped), read back from its content record as they were written;
/// a content looked at and found no container reads back as such, one not looked at as that.
#[test]
fn a_container_s_members_read_back_as_written() {
    use crate::expand::{Expanded, member_item};
    use crate::record::ArchiveInfo;
    let dir = tempfile::tempdir().unwrap();
    let list = outcomes();
    let mut members = Vec::new();
    for (n, (_, outcome)) in list.iter().enumerate() {
        let mut m = member_item(PathBuf::from(format!("/e/a.zip!/m{n}")));
        m.size = 100 + n as u64;
        m.mtime = (n % 2 == 0).then_some(Timestamp {
            secs: 1_500_000_000 + n as i64,
            nanos: 0,
        });
        m.parent = (n > 3).then_some(3);
        match outcome {
            Ok((d, c, i)) => {
                m.digests = Some(*d);
                m.content = *c;
                m.image = i.clone();
            }
            Err(e) => m.error = Some(e.clone()),
        }
        members.push(m);
    }
    let mut link = member_item(PathBuf::from(OsString::from_vec(
        b"/e/a.zip!/l\xff".to_vec(),
    )));
    link.target = Some(PathBuf::from("../../etc/passwd"));
    link.note = Some("a symbolic link in its container; name as stored climbs out".into());
    members.push(link);
    // Files of a disk image: their file systems' details.
    for (n, m) in members.iter_mut().enumerate().skip(1) {
        m.fs = Some(Arc::new(crate::record::FsInfo {
            partition: (n % 2 == 1).then_some(n as u32),
            inode: 1 << (n + 30),
            stream: (n % 3 == 0).then_some((128, n as u32)),
            deleted: n % 2 == 0,
            reallocated: n == 4,
            atime: Some(Timestamp {
                secs: -5,
                nanos: 999_999_999,
            }),
            ctime: None,
            crtime: Some(Timestamp {
                secs: 1_700_000_000,
                nanos: n as u32,
            }),
            dtime: (n == 2).then_some(Timestamp { secs: 9, nanos: 0 }),
        }));
    }
    members[3].archive = Some(Arc::new(ArchiveInfo {
        format: "gzip",
        members: 1,
        stopped: Some("damaged: unexpected end of the stream".into()),
        image: None,
    }));
    let expanded = Expanded {
        archive: ArchiveInfo {
            format: "ewf",
            members: 4,
            stopped: None,
            image: Some(Box::new(crate::record::ImageInfo {
                segments: 3,
                media_size: 1 << 40,
                volumes: vec![
                    crate::record::VolumeInfo {
                        name: "p1".into(),
                        start: 1 << 20,
                        length: 5 << 30,
                        description: "NTFS / exFAT (0x07)".into(),
                        file_system: Ok("ntfs".into()),
                        broken: Some("a directory loops".into()),
                    },
                    crate::record::VolumeInfo {
                        name: "p2".into(),
                        start: 6 << 30,
                        length: 1 << 30,
                        description: String::new(),
                        file_system: Err("no file system \u{ff}".into()),
                        broken: None,
                    },
                ],
                integrity: crate::record::Integrity {
                    status: crate::record::IntegrityStatus::Mismatch,
                    md5: Some("aa".into()),
                    sha1: None,
                    stored_md5: Some("bb".into()),
                    stored_sha1: Some("cc".into()),
                    error: None,
                },
            })),
        },
        members,
    };
    let journal = Journal::create(dir.path(), start()).unwrap();
    let container = item("/e/a.zip", 1, 5000, 1);
    let plain = item("/e/plain.bin", 2, 10, 1);
    let unexamined = item("/e/unexamined.bin", 3, 10, 1);
    let hashed = list[1].1.clone().unwrap();
    let mut batch = journal.batch();
    batch.record(&container, Ok(&hashed), Some(Some(&expanded)));
    batch.record(&plain, Ok(&hashed), Some(None));
    batch.record(&unexamined, Ok(&hashed), None);
    drop(batch);
    journal.finish().unwrap();
    drop(journal);

    let journal = resume(dir.path()).unwrap();
    let carry = journal.carry_over();
    match carry.carried(&container) {
        Carried::Same(Ok(_), Some(Some(got))) => {
            assert_eq!(got.archive, expanded.archive);
            assert_eq!(got.members.len(), expanded.members.len());
            for (got, want) in got.members.iter().zip(&expanded.members) {
                assert_eq!(format!("{got:?}"), format!("{want:?}"));
            }
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        carry.carried(&plain),
        Carried::Same(Ok(_), Some(None))
    ));
    assert!(matches!(
        carry.carried(&unexamined),
        Carried::Same(Ok(_), None)
    ));
}
