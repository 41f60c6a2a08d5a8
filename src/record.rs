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
}

/// A container whose members were listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// The format's name (`zip`, `tar`, `7z`, `gzip`, `bzip2`, `xz`, `zstd`).
    pub format: &'static str,
    /// Members listed directly inside it (those nested deeper are their container's).
    pub members: u64,
    /// Why it was not read to its end, if it was not: a limit, damage, encryption.
    pub stopped: Option<String>,
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
        }
    }
}
