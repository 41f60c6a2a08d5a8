//! The image worker: `hashsift __image-worker IMAGE`, run by hashsift as a child process,
//! walks the image with The Sleuth Kit and writes [`super::frames`] to its standard output. A
//! crash in TSK on a crafted image ends this process only; hashsift sees its output end early
//! and records why.

use std::io::{self, Write};
use std::path::Path;

use super::frames::{self, Frame};
use super::media::Media;

/// Walks `image`, writing the frames to `out`; the last is `Done` or `Failed`.
///
/// # Errors
/// `out` is closed or fails (hashsift stopped reading).
pub fn run(image: &Path, out: &mut dyn Write) -> io::Result<()> {
    let media = match Media::open(image) {
        Ok(m) => m,
        Err(e) => return frames::write(out, &Frame::Failed(e.to_string())),
    };
    walk(&media, out)
}

#[cfg(not(tsk))]
fn walk(_media: &Media, out: &mut dyn Write) -> io::Result<()> {
    frames::write(
        out,
        &Frame::Failed(
            "this hashsift was built without The Sleuth Kit: install Debian's libtsk-dev and \
             build it again"
                .into(),
        ),
    )
}

/// The most bytes of one file's content read from an image of `media` bytes: twice the media,
/// at least 256 MiB. A file system may describe a sparse file larger than its disk, but one
/// claiming a petabyte (crafted, or damaged) would otherwise be read for days.
pub fn content_cap(media: u64) -> u64 {
    media.saturating_mul(2).max(256 << 20)
}

/// Why a file's content stops at [`content_cap`] bytes.
pub fn cut_reason(at: u64) -> String {
    format!(
        "not read past {at} bytes: more than the image could hold of one file (twice its media, at least 256 MiB); the file system's record of it is damaged or crafted"
    )
}

#[cfg(tsk)]
fn walk(media: &Media, out: &mut dyn Write) -> io::Result<()> {
    use super::entry::{Entry, Volume, flags, meta_type};
    use super::tsk::{self, Stop, Visitor, WalkError};

    struct Writer<'a> {
        out: &'a mut dyn Write,
        error: Option<io::Error>,
        /// The most bytes of one content given (see [`content_cap`]).
        cap: u64,
        /// Bytes of the current content given so far, and its size as the file system says.
        given: u64,
        size: u64,
    }

    impl Writer<'_> {
        fn put(&mut self, r: io::Result<()>) -> Result<(), Stop> {
            r.map_err(|e| {
                self.error = Some(e);
                Stop
            })
        }
    }

    impl Visitor for Writer<'_> {
        fn volume(&mut self, volume: Volume) -> Result<(), Stop> {
            let r = frames::write(self.out, &Frame::Volume(volume));
            self.put(r)
        }
        fn broken(&mut self, why: String) -> Result<(), Stop> {
            let r = frames::write(self.out, &Frame::Broken(why));
            self.put(r)
        }
        fn entry(&mut self, entry: Entry) -> Result<bool, Stop> {
            self.given = 0;
            self.size = entry.size.unwrap_or(u64::MAX);
            // The content of regular files' streams, deleted ones included; not of a deleted
            // name whose metadata another file now uses (that content is the other file's).
            let want = entry.attr_type != 0
                && entry.meta_type == meta_type::REG
                && !entry.is(flags::REALLOC);
            let r = frames::write(self.out, &Frame::Entry(entry));
            self.put(r).map(|()| want)
        }
        fn data(&mut self, bytes: &[u8]) -> Result<bool, Stop> {
            let r = frames::write_data(self.out, bytes);
            self.put(r)?;
            self.given += bytes.len() as u64;
            Ok(self.given < self.cap)
        }
        fn runs(&mut self, runs: &[tsk::Run], size: u64, initsize: u64) -> Result<bool, Stop> {
            if runs.len() > frames::MAX_RUNS {
                return Ok(false);
            }
            let frame = Frame::Runs {
                size,
                initsize,
                runs: runs.to_vec(),
            };
            let r = frames::write(self.out, &frame);
            self.put(r).map(|()| true)
        }
        fn end(&mut self, bytes: u64, error: Option<String>) -> Result<(), Stop> {
            let error = if error.is_none() && self.given >= self.cap && self.size > self.given {
                Some(cut_reason(self.given))
            } else {
                error
            };
            let r = frames::write(self.out, &Frame::End { bytes, error });
            self.put(r)
        }
    }

    let mut w = Writer {
        out,
        error: None,
        cap: content_cap(media.size),
        given: 0,
        size: 0,
    };
    let result = tsk::walk(media, media.size, &mut w);
    if let Some(e) = w.error {
        return Err(e);
    }
    let last = match result {
        Ok(()) => Frame::Done,
        Err(WalkError::NotAnImage(why)) => Frame::Failed(why),
        Err(WalkError::Stopped) => Frame::Failed("stopped".into()),
        Err(WalkError::OutOfMemory) => Frame::Failed("out of memory".into()),
    };
    frames::write(w.out, &last)
}
