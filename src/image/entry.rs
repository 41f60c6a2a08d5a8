//! What a walk of a disk image finds: its file systems, and their names with their streams.

use serde::{Deserialize, Serialize};

/// [`Entry::flags`].
pub mod flags {
    pub const DELETED: u32 = 1;
    pub const REALLOC: u32 = 2;
    pub const NO_META: u32 = 4;
    pub const STREAM: u32 = 8;
    pub const META_FREE: u32 = 16;
}

/// TSK's metadata types that hashsift tells apart (`TSK_FS_META_TYPE_*`).
pub mod meta_type {
    pub const REG: u32 = 0x01;
    pub const DIR: u32 = 0x02;
    pub const VIRT: u32 = 0x0a;
    pub const VIRT_DIR: u32 = 0x0b;
}

/// One run of a stream stored plainly in blocks: `len` bytes at `offset` of the stream are at
/// `addr` of the media, or are zeros (`zeros`: a sparse run, or one TSK lost track of).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub offset: u64,
    pub addr: u64,
    pub len: u64,
    /// 1: the run reads as zeros.
    pub flags: u32,
}

impl Run {
    pub fn zeros(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// A file system TSK found: in a volume of a partition table, or the whole image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// The volume's number in its table; `None` for the image itself.
    pub index: Option<u64>,
    pub start: u64,
    pub length: u64,
    pub description: String,
    /// The file system's type (`fat32`, `ntfs`, `ext4`...), or why none opened.
    pub file_system: Result<String, String>,
}

/// A name in a file system (one data stream of it when it has several).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its directory's path from the file system's root: empty, or `a/b/`.
    pub parent: Vec<u8>,
    pub name: Vec<u8>,
    /// A named stream (an NTFS alternate data stream).
    pub stream: Option<Vec<u8>>,
    pub inode: u64,
    pub attr_type: u32,
    pub attr_id: u32,
    pub meta_type: u32,
    pub flags: u32,
    pub size: Option<u64>,
    /// Seconds and nanoseconds since 1970 UTC, when the file system keeps them.
    pub mtime: Option<(i64, u32)>,
    pub atime: Option<(i64, u32)>,
    pub ctime: Option<(i64, u32)>,
    pub crtime: Option<(i64, u32)>,
    /// ext2/3/4's deletion time.
    pub dtime: Option<i64>,
}

impl Entry {
    pub fn is(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}
