//! Disk images read directly: raw, split raw and EWF (E01), their volumes and file systems,
//! deleted files included.

pub mod entry;
pub mod frames;
pub mod media;
pub mod reader;
#[cfg(tsk)]
pub mod tsk;
pub mod worker;
