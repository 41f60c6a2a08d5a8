//! Disk images read directly: raw, split raw and EWF (E01), their volumes and file systems,
//! deleted files included.

pub mod detect;
pub mod entry;
pub mod frames;
pub mod items;
pub mod media;
pub mod reader;
#[cfg(tsk)]
pub mod tsk;
pub mod worker;

/// Whether this hashsift was built with The Sleuth Kit (Debian's `libtsk-dev` present at build
/// time): without it, disk images are not read.
pub const WITH_TSK: bool = cfg!(tsk);
