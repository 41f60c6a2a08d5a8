//! hashsift: hashes seized media exactly (MD5, SHA-1, SHA-256, BLAKE3), for grading against a
//! unit's known-material database.
//!
//! The pipeline, layer by layer (`docs/architecture.md`): [`read`] opens evidence read-only and
//! reads each file once for every [`digest`] (and [`media`] for images); [`hash`] walks,
//! plans and hashes over a worker pool; [`scan`] looks every content up in the [`knowndb`]
//! and grades it; [`report`] writes the result; [`command`] runs a command as a whole.
//! [`import`] reads hash sets into the database. [`progress`] and [`cancel`] connect the
//! stages to the command line, which draws and prints.

pub mod cancel;
pub mod child;
pub mod command;
pub mod config;
pub mod container;
pub mod digest;
pub mod exit;
pub mod expand;
pub mod hash;
pub mod image;
pub mod import;
pub mod knowndb;
pub mod media;
pub(crate) mod output;
pub mod progress;
pub mod read;
pub mod record;
pub mod report;
pub mod scan;
pub mod textsafe;
pub mod utc;
pub(crate) mod walk;
