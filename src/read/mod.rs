//! Reading evidence, and only reading it: [`evidence`] opens every file and directory
//! (read-only, without moving access times, checked to be the one listed), `prefetch` opens
//! files ahead of the hashers and asks the kernel to read them, [`file`] reads one file for
//! its digests (with `mapguard` for mapped files truncated meanwhile). What fails becomes an
//! [`ItemError`]: the stage it failed at and why.

pub mod evidence;
pub mod file;
mod mapguard;
pub mod positional;
pub(crate) mod prefetch;

use std::fmt;
use std::io;

/// The step at which an item failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Examining the path itself (`lstat`).
    Stat,
    /// Listing a directory's entries.
    ListDir,
    /// Reading a symlink's target.
    ReadLink,
    /// Opening a file for reading.
    Open,
    /// Reading a file's content.
    Read,
    /// The run was interrupted before the file was read.
    Interrupted,
}

impl Stage {
    /// Every stage, in declaration order.
    pub const ALL: [Stage; 6] = [
        Stage::Stat,
        Stage::ListDir,
        Stage::ReadLink,
        Stage::Open,
        Stage::Read,
        Stage::Interrupted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Stat => "stat",
            Stage::ListDir => "list_dir",
            Stage::ReadLink => "read_link",
            Stage::Open => "open",
            Stage::Read => "read",
            Stage::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an item has no (complete) result: the stage, the OS error number if any, and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemError {
    pub stage: Stage,
    /// The OS error number (`errno`), when the failure came from the OS.
    pub os_code: Option<i32>,
    pub message: String,
}

impl ItemError {
    pub fn new(stage: Stage, message: String) -> Self {
        ItemError {
            stage,
            os_code: None,
            message,
        }
    }

    pub fn from_io(stage: Stage, e: &io::Error) -> Self {
        ItemError {
            stage,
            os_code: e.raw_os_error(),
            message: e.to_string(),
        }
    }
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.message)
    }
}
