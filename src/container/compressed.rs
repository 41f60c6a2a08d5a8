//! Compressed files: one member, the decompressed stream. Concatenated gzip members, bzip2
//! and xz streams and zstd frames read as one stream, as their command-line tools read them.

use std::io::{self, BufRead, BufReader, Read};

use super::{Budget, Entry, Format, Member, Stop, Visit, visit_member};
use crate::utc::Timestamp;

/// The dictionary an xz stream may ask for, at most (a hostile header asks for 4 GiB).
const XZ_MEMORY_KB: u32 = 256 << 10;
/// The window a zstd frame may ask for, at most (zstd itself refuses more than 128 MiB
/// without `--long`).
const ZSTD_WINDOW: u64 = 128 << 20;

/// Hands the decompressed stream of `source` (a `format` file) to `visit` as one member.
pub(super) fn expand(
    format: Format,
    source: &mut dyn Read,
    budget: &Budget,
    visit: &mut dyn Visit,
) -> Result<(), Stop> {
    let limits = budget.limits();
    match format {
        Format::Gzip => {
            let mut gz = flate2::bufread::MultiGzDecoder::new(BufReader::new(source));
            // The header (and with it the stored name) is read with the first bytes.
            let mut first = [0u8; 1];
            let n = read_some(&mut gz, &mut first)
                .map_err(|e| Stop::Damaged(format!("not a readable gzip stream: {e}")))?;
            let mut member = Member::new(b"", limits, Entry::File);
            if let Some(h) = gz.header() {
                member = Member::new(h.filename().unwrap_or_default(), limits, Entry::File);
                member.mtime = (h.mtime() != 0).then(|| Timestamp {
                    secs: i64::from(h.mtime()),
                    nanos: 0,
                });
            }
            let mut rest = first[..n].chain(gz);
            visit_member(visit, budget, member, Some(&mut rest))
        }
        Format::Bzip2 => {
            let mut bz = bzip2::read::MultiBzDecoder::new(source);
            visit_member(
                visit,
                budget,
                Member::new(b"", limits, Entry::File),
                Some(&mut bz),
            )
        }
        Format::Xz => {
            let mut xz = lzma_rust2::XzReader::new_mem_limit(source, true, XZ_MEMORY_KB);
            visit_member(
                visit,
                budget,
                Member::new(b"", limits, Entry::File),
                Some(&mut xz),
            )
        }
        Format::Zstd => {
            let mut zstd = ZstdFrames::new(BufReader::new(source));
            visit_member(
                visit,
                budget,
                Member::new(b"", limits, Entry::File),
                Some(&mut zstd),
            )
        }
        Format::Zip | Format::Tar | Format::SevenZip => {
            unreachable!("{} is an archive", format.name())
        }
    }
}

/// `read` until it gives something or the end, retrying interruptions.
fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Every frame of a Zstandard stream, one after the other, skippable frames skipped.
struct ZstdFrames<R: BufRead> {
    source: R,
    decoder: ruzstd::decoding::FrameDecoder,
    /// Whether a frame is being decoded.
    in_frame: bool,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> Self {
        let mut decoder = ruzstd::decoding::FrameDecoder::new();
        decoder.set_max_window_size(ZSTD_WINDOW);
        ZstdFrames {
            source,
            decoder,
            in_frame: false,
        }
    }

    /// Starts the next frame; false at the end of the stream.
    fn next_frame(&mut self) -> io::Result<bool> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        loop {
            if self.source.fill_buf()?.is_empty() {
                return Ok(false);
            }
            match self.decoder.reset(&mut self.source) {
                Ok(()) => {
                    self.in_frame = true;
                    return Ok(true);
                }
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    let skipped = io::copy(
                        &mut (&mut self.source).take(u64::from(length)),
                        &mut io::sink(),
                    )?;
                    if skipped < u64::from(length) {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "a skippable zstd frame is cut short",
                        ));
                    }
                }
                Err(e) => return Err(io::Error::other(e)),
            }
        }
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::BlockDecodingStrategy;
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                let d = &mut self.decoder;
                while d.can_collect() == 0 && !d.is_finished() {
                    d.decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                        .map_err(io::Error::other)?;
                }
                let n = d.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.in_frame = false;
            }
            if !self.next_frame()? {
                return Ok(0);
            }
        }
    }
}
