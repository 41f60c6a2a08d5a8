//! vPDQ files (`docs/formats.md`, the text format of ThreatExchange's tools and of `hashsift
//! vpdq`): one known video per file, its frames as lines. The video is one record (numbered 1)
//! with its frames and no exact hash; its grade comes from `--category` (or the profile's
//! default), as for any record without a code. A line that is not a frame refuses the file at
//! that line (`--skip-invalid` leaves the whole video out: a video is not known by part of its
//! frames).

use std::io::BufRead;

use super::{Location, ReadError, Sink, deliver};
use crate::knowndb::record::{KnownFrame, KnownRecord};
use crate::media::video::format::{self, FormatError};

/// Reads one video's frames into one record.
pub fn read(mut input: impl BufRead, sink: &mut Sink) -> Result<(), ReadError> {
    let parsed = match format::read(&mut input) {
        Ok(frames) => Ok(KnownRecord {
            number: 1,
            video: Some(frames.iter().map(KnownFrame::of).collect()),
            ..KnownRecord::default()
        }),
        Err(FormatError::Line { line, reason }) => {
            Err(ReadError::malformed(Location::Line(line), reason))
        }
        Err(FormatError::Empty) => Err(ReadError::malformed(
            Location::File,
            "no frames: a vPDQ file has a line per frame",
        )),
        Err(FormatError::Io(e)) => Err(ReadError::Io(e)),
    };
    deliver(sink, parsed)
}
