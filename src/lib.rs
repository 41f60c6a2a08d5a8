//! hashsift: hashes seized media exactly (MD5, SHA-1, SHA-256, BLAKE3), for grading against a
//! unit's known-material database.
//!
//! The pipeline, stage by stage: [`walk`] lists the evidence read-only, [`digest`] reads each
//! file once for every algorithm, [`hash`] runs the two over a worker pool, and [`report`]
//! writes the result. [`progress`] and [`cancel`] connect the stages to the command line.

pub mod cancel;
pub mod command;
pub mod config;
pub mod digest;
pub mod exit;
pub mod hash;
pub mod import;
pub mod knowndb;
pub mod media;
pub mod output;
pub mod progress;
pub mod read;
pub mod record;
pub mod report;
pub mod scan;
pub mod textsafe;
pub mod utc;
pub mod walk;
