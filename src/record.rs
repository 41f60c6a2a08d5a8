//! The item record: what hashsift knows about one path of the evidence, shared by every stage
//! and every output format.

use std::fmt;
use std::path::PathBuf;

use crate::digest::Digests;
use crate::read::evidence::FileId;

use crate::read::ItemError;
use crate::utc::Timestamp;

/// What kind of filesystem object a path is. Only regular files are ever opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    BlockDevice,
    CharDevice,
    /// The path could not be examined at all (see the item's error).
    Unknown,
    /// A member read from a container (an archive or a compressed file) on the evidence: its
    /// path is the container's, `!/`, and its name there ([`member_path`]).
    Member,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
            Kind::BlockDevice => "block_device",
            Kind::CharDevice => "char_device",
            Kind::Unknown => "unknown",
            Kind::Member => "member",
        }
    }

    pub fn of(file_type: std::fs::FileType) -> Kind {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_file() {
            Kind::File
        } else if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_symlink() {
            Kind::Symlink
        } else if file_type.is_fifo() {
            Kind::Fifo
        } else if file_type.is_socket() {
            Kind::Socket
        } else if file_type.is_block_device() {
            Kind::BlockDevice
        } else if file_type.is_char_device() {
            Kind::CharDevice
        } else {
            Kind::Unknown
        }
    }
}

impl Kind {
    /// Whether an item of this kind has content that is read and graded: a file, or a
    /// member of a container.
    pub fn holds_content(self) -> bool {
        matches!(self, Kind::File | Kind::Member)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One path of the evidence and everything hashsift found out about it.
#[derive(Clone, Debug)]
pub struct Item {
    /// The path exactly as found (absolute; may not be valid UTF-8).
    pub path: PathBuf,
    pub kind: Kind,
    /// Size in bytes from `lstat` (for a symlink, the length of its target).
    pub size: u64,
    pub mtime: Option<Timestamp>,
    /// Status-change time from `lstat`: not reported, but moved by any write to the file,
    /// even one that puts the modification time back (what a resumed scan checks).
    pub ctime: Option<Timestamp>,
    pub id: Option<FileId>,
    /// Number of hard links to the same content.
    pub nlink: u64,
    /// A symlink's target, as stored in the link (not resolved, never followed).
    pub target: Option<PathBuf>,
    /// Something the examiner should know that is not an error (why a link target is missing).
    pub note: Option<String>,
    /// Digests of a regular file's content, when it was read completely.
    pub digests: Option<Digests>,
    /// What the content is, from its first bytes (when the run asked for it).
    pub content: Option<crate::media::sniff::ContentType>,
    /// An image's PDQ hash (when the run asked for it), apart: most files have none, and hard
    /// links share it.
    pub image: Option<std::sync::Arc<crate::media::ImageHash>>,
    /// A video's vPDQ (when the run asked for it and FFmpeg was there), apart like `image`.
    pub video: Option<std::sync::Arc<crate::media::video::VideoHash>>,
    pub error: Option<ItemError>,
    /// For a member: the item of the container it was read from (an index into the run's
    /// items).
    pub parent: Option<u32>,
    /// For a container whose members were read: what it is and how far it was read.
    pub archive: Option<std::sync::Arc<ArchiveInfo>>,
    /// For a file read from a disk image: what its file system says of it.
    pub fs: Option<std::sync::Arc<FsInfo>>,
}

/// What a file system in a disk image says of a file read from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsInfo {
    /// The partition it is in (`p1` is the first the image's table lists), or `None` when the
    /// image holds one file system and no table.
    pub partition: Option<u32>,
    /// Its inode (ext), MFT entry (NTFS) or directory entry address (FAT), as The Sleuth Kit
    /// numbers them.
    pub inode: u64,
    /// The NTFS data stream read, as attribute type and id (`128-3`).
    pub stream: Option<(u32, u32)>,
    /// Its name is deleted from its directory.
    pub deleted: bool,
    /// Deleted, and its metadata now describes another file: its content is not this file's.
    pub reallocated: bool,
    pub atime: Option<Timestamp>,
    /// The metadata change time (NTFS: the MFT entry's).
    pub ctime: Option<Timestamp>,
    pub crtime: Option<Timestamp>,
    /// ext2/3/4's deletion time.
    pub dtime: Option<Timestamp>,
}

/// A disk image whose file systems were read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// Segment files (`.E01`..., `.001`...; 1 for a single raw file).
    pub segments: u32,
    /// The bytes of the disk it was taken from.
    pub media_size: u64,
    /// The partitions (or the one file system) found, in the order read.
    pub volumes: Vec<VolumeInfo>,
    pub integrity: Integrity,
}

/// A partition of a disk image, or the image's one file system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeInfo {
    /// `p1`, `p2`...; empty for an image that is one file system.
    pub name: String,
    /// Where it starts and its length, in bytes of the media.
    pub start: u64,
    pub length: u64,
    /// What the partition table calls it.
    pub description: String,
    /// Its file system's type (`fat32`, `ntfs`, `ext4`...), or why none was read.
    pub file_system: Result<String, String>,
    /// Why the walk of its directories ended early, if it did.
    pub broken: Option<String>,
}

/// What checking an image's media against its own hashes found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integrity {
    pub status: IntegrityStatus,
    /// The MD5 and SHA-1 of the media as read (hex), when it was read to its end.
    pub md5: Option<String>,
    pub sha1: Option<String>,
    /// What the image stores of them (EWF).
    pub stored_md5: Option<String>,
    pub stored_sha1: Option<String>,
    /// Why the media was not read to its end.
    pub error: Option<String>,
}

/// [`Integrity::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrityStatus {
    /// Every hash the image stores equals the media's.
    Verified,
    /// A stored hash differs from the media's.
    Mismatch,
    /// A raw image, or an EWF image storing no hash: the media's hashes computed and reported.
    Computed,
    /// Not read: `--no-image-verify`.
    Off,
    /// The media could not be read to its end, or the run was interrupted.
    NotRead,
}

impl IntegrityStatus {
    /// The name in reports (fixed).
    pub fn name(self) -> &'static str {
        match self {
            IntegrityStatus::Verified => "verified",
            IntegrityStatus::Mismatch => "mismatch",
            IntegrityStatus::Computed => "computed",
            IntegrityStatus::Off => "off",
            IntegrityStatus::NotRead => "not_read",
        }
    }

    /// Its name read back from a journal.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            IntegrityStatus::Verified,
            IntegrityStatus::Mismatch,
            IntegrityStatus::Computed,
            IntegrityStatus::Off,
            IntegrityStatus::NotRead,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

impl Integrity {
    /// What an examiner reads: `image hash verified`, the mismatch, or why there is no check.
    pub fn describe(&self) -> String {
        let both = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(m), Some(s)) => format!("MD5 {m}, SHA-1 {s}"),
            (Some(m), None) => format!("MD5 {m}"),
            (None, Some(s)) => format!("SHA-1 {s}"),
            (None, None) => "none".to_owned(),
        };
        match self.status {
            IntegrityStatus::Verified => format!(
                "image hash verified ({})",
                both(&self.stored_md5, &self.stored_sha1)
            ),
            IntegrityStatus::Mismatch => format!(
                "image hash MISMATCH: stored {}, computed {}",
                both(&self.stored_md5, &self.stored_sha1),
                both(&self.md5, &self.sha1)
            ),
            IntegrityStatus::Computed => format!(
                "the image stores no hash; its media's: {}",
                both(&self.md5, &self.sha1)
            ),
            IntegrityStatus::Off => "not verified (--no-image-verify)".to_owned(),
            IntegrityStatus::NotRead => format!(
                "not verified: {}",
                self.error
                    .as_deref()
                    .unwrap_or("the media was not read to its end")
            ),
        }
    }
}

/// A container whose members were listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// The format's name (`zip`, `tar`, `7z`, `gzip`, `bzip2`, `xz`, `zstd`; a disk image's:
    /// `ewf`, `raw`).
    pub format: &'static str,
    /// Members listed directly inside it (those nested deeper are their container's).
    pub members: u64,
    /// Why it was not read to its end, if it was not: a limit, damage, encryption.
    pub stopped: Option<String>,
    /// For a disk image: its media, partitions and integrity.
    pub image: Option<Box<ImageInfo>>,
}

/// The path of the member `name` of the container at `container`: the container's path, `!/`,
/// then the name as stored with each `!` written twice, so that a reader splits a chain at
/// each `!/` that follows an even run of `!` (`a.zip!/b!!/c.jpg` is member `b!/c.jpg`).
pub fn member_path(container: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(container.len() + name.len() + 2);
    path.extend_from_slice(container);
    path.extend_from_slice(b"!/");
    for &b in name {
        path.push(b);
        if b == b'!' {
            path.push(b'!');
        }
    }
    path
}

/// The path of the container a member's `path` ([`member_path`]) was read from: up to its last
/// `!/` that follows an even run of `!` (an odd run ends in the separator's own `!`).
pub fn container_of(path: &[u8]) -> Option<&[u8]> {
    let mut at = None;
    let mut run = 0;
    for (i, &b) in path.iter().enumerate() {
        if b == b'/' && run % 2 == 1 {
            at = Some(i - 1);
        }
        run = if b == b'!' { run + 1 } else { 0 };
    }
    at.map(|i| &path[..i])
}

impl Item {
    /// A record for a path that could not be examined.
    pub fn failed(path: PathBuf, kind: Kind, error: ItemError) -> Self {
        Item {
            path,
            kind,
            size: 0,
            mtime: None,
            ctime: None,
            id: None,
            nlink: 0,
            target: None,
            note: None,
            digests: None,
            content: None,
            image: None,
            video: None,
            error: Some(error),
            parent: None,
            archive: None,
            fs: None,
        }
    }
}
