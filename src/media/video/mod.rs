//! Videos hashed perceptually as Meta's vPDQ does (ThreatExchange `vpdq`): frames sampled over
//! time, each hashed with PDQ, with its frame number and time stamp.
//!
//! FFmpeg decodes, as a contained child process ([`ffmpeg`]) that reads the evidence through a
//! loopback server ([`serve`]) and writes raw RGB frames to a pipe; nothing is written to disk.
//! The sampling is the reference's: the frame rate is the stream's average rate (its base rate
//! where it has none), every `trunc(seconds_per_hash x rate)`-th decoded frame is hashed
//! (every frame when that is 0), counted from 0 in decoding output order, and its time stamp is
//! `frame / rate` in single precision. Frames are converted to RGB by FFmpeg's area scaler, as
//! the reference converts them, and hashed whole by [`crate::media::pdq`]: at their own size up
//! to [`MAX_SIDE`] pixels a side (larger ones are scaled down to fit, which moves a few bits).
//! The text format ([`format`]) is the reference's.

pub mod bars;
pub mod ffmpeg;
pub mod format;
pub mod serve;

use std::io::Read;
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::media::pdq::{self, Luma, Pdq};

pub use ffmpeg::{Probe, Tools};
pub use serve::ReadAt;

/// Frames wider or taller than this are scaled down to fit before hashing.
pub const MAX_SIDE: u32 = 1920;
/// The largest frame the decoder may allocate, in pixels (8K video has 33 million): a video
/// declaring more is refused by FFmpeg, not given the memory.
pub const MAX_DECODED_PIXELS: u64 = 1 << 26;

/// How videos are sampled and how long one may take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoConfig {
    /// One frame hashed every this many seconds (0: every frame), as the reference counts.
    pub seconds_per_hash: f64,
    /// Key frames only, decoding nothing else: faster, and not the reference's sampling.
    pub keyframes: bool,
    /// The most time one video may take; frames hashed until then are kept.
    pub time_limit: Duration,
    /// FFmpeg's decoding threads for one video (0: its own choice).
    pub threads: usize,
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig {
            seconds_per_hash: 1.0,
            keyframes: false,
            time_limit: Duration::from_secs(30 * 60),
            threads: 0,
        }
    }
}

/// Videos to hash, and the FFmpeg that decodes them.
#[derive(Clone, Copy, Debug)]
pub struct Videos<'a> {
    pub config: VideoConfig,
    pub tools: &'a Tools,
}

/// One sampled frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    /// Its number among the decoded frames, from 0 (with key frames only: its time stamp in
    /// frames at the average rate).
    pub number: u64,
    /// Seconds from the start.
    pub timestamp: f64,
    pub pdq: Pdq,
    /// The hash of the frame's picture without the black bars around it, when it has some
    /// ([`bars`]): for matching only (the text format has the frame as it is).
    pub cropped: Option<Pdq>,
}

/// What vPDQ made of a video: its sampled frames, and why it was not read to its end if it
/// was not.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoHash {
    pub frames: Vec<Frame>,
    /// What FFmpeg said of the stream, when it could read it.
    pub probe: Option<Probe>,
    /// One frame hashed in this many decoded; `None` with key frames only.
    pub every: Option<u64>,
    /// Why the frames do not cover the whole video: not read at all, damage, the time limit.
    pub stopped: Option<String>,
}

impl VideoHash {
    /// A video not decoded, for this reason.
    pub fn not_read(reason: String) -> VideoHash {
        VideoHash {
            frames: Vec::new(),
            probe: None,
            every: None,
            stopped: Some(reason),
        }
    }
}

/// The demuxer FFmpeg is told to use for a video of this content type (named by hashsift from
/// the file's first bytes, never guessed by FFmpeg); `None` for a type hashsift does not hand
/// to FFmpeg.
pub fn demuxer(mime: &str) -> Option<&'static str> {
    Some(match mime {
        "video/mp4" | "video/quicktime" | "video/3gpp" => "mov",
        "video/x-matroska" | "video/webm" => "matroska",
        "video/x-msvideo" => "avi",
        "video/x-flv" => "flv",
        "video/mpeg" => "mpeg",
        "video/mp2t" => "mpegts",
        "video/x-ms-asf" => "asf",
        _ => return None,
    })
}

/// The size frames are hashed at: their own, or scaled to fit [`MAX_SIDE`] keeping their
/// shape.
fn hashed_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= MAX_SIDE {
        return (width, height);
    }
    let scale = |v: u32| {
        ((u64::from(v) * u64::from(MAX_SIDE) + u64::from(long) / 2) / u64::from(long)).max(1) as u32
    };
    (scale(width), scale(height))
}

/// The reference's sampling interval: `trunc(seconds_per_hash x rate)` decoded frames, at
/// least 1.
pub fn sampling_interval(seconds_per_hash: f64, rate: f64) -> u64 {
    let every = (seconds_per_hash * rate) as i64;
    every.max(1) as u64
}

/// The reference's time stamp of frame `number` at `rate` frames a second (computed in single
/// precision, as it does).
pub fn timestamp(number: u64, rate: f64) -> f64 {
    f64::from(number as f32 / rate as f32)
}

/// The vPDQ of the video `source` (`size` bytes, content type `mime`), decoded by `tools`.
pub fn hash_video(
    tools: &Tools,
    source: &dyn ReadAt,
    size: u64,
    mime: &str,
    config: &VideoConfig,
    cancel: &Cancel,
) -> VideoHash {
    let Some(format) = demuxer(mime) else {
        return VideoHash::not_read(format!("{mime} is not a video format hashsift decodes"));
    };
    let deadline = Instant::now() + config.time_limit;
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let server = match serve::Server::start(scope, source, size, &done) {
            Ok(s) => s,
            Err(e) => return VideoHash::not_read(format!("cannot serve the video to FFmpeg: {e}")),
        };
        let url = server.url();
        // A panic here must still stop the server, or the scope would wait for it forever.
        let hashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            probe_and_decode(tools, &url, format, config, deadline, cancel)
        }))
        .unwrap_or_else(|_| {
            VideoHash::not_read("not hashed: hashsift failed on this video (a bug)".to_owned())
        });
        server.stop();
        hashed
    })
}

fn probe_and_decode(
    tools: &Tools,
    url: &str,
    format: &str,
    config: &VideoConfig,
    deadline: Instant,
    cancel: &Cancel,
) -> VideoHash {
    let probe = match ffmpeg::probe(tools, url, format, deadline, cancel) {
        Ok(p) => p,
        Err(e) => return VideoHash::not_read(e),
    };
    let (width, height) = hashed_size(probe.width, probe.height);
    if width == 0 || height == 0 {
        return VideoHash::not_read("the video stream declares no frame size".to_owned());
    }
    let rate = probe.frame_rate;
    let every = (!config.keyframes).then(|| {
        // Without a declared rate, the reference's count cannot be followed: one frame in
        // 30 stands for one a second.
        rate.map_or(30, |r| sampling_interval(config.seconds_per_hash, r))
    });
    let decode = ffmpeg::Decode {
        url,
        format,
        every,
        width,
        height,
        max_pixels: MAX_DECODED_PIXELS,
        threads: config.threads,
    };
    let command = ffmpeg::decode_command(tools, &decode);
    let frame_len = width as usize * height as usize * 3;
    let keyframes = config.keyframes;
    let run = ffmpeg::run(
        command,
        deadline,
        cancel,
        |line, times: &mut Vec<f64>| match ffmpeg::shown_time(line) {
            Some(t) if keyframes => {
                times.push(t);
                false
            }
            _ => !line.contains("Parsed_showinfo"),
        },
        |stdout| {
            let mut rgb = vec![0u8; frame_len];
            let mut hashes = Vec::new();
            let (w, h) = (width as usize, height as usize);
            while read_frame(stdout, &mut rgb) {
                let pdq = pdq::hash(Luma::from_rgb8(&rgb, w, h));
                let cropped = bars::inner(&rgb, w, h).map(|inner @ (_, _, cw, ch)| {
                    pdq::hash(Luma::from_rgb8(&bars::crop(&rgb, w, inner), cw, ch))
                });
                hashes.push((pdq, cropped));
            }
            hashes
        },
    );
    let (hashes, ended) = match run {
        Ok(r) => r,
        Err(e) => return VideoHash::not_read(format!("cannot run ffmpeg: {e}")),
    };
    let frames: Vec<Frame> = match every {
        Some(every) => hashes
            .into_iter()
            .enumerate()
            .map(|(i, (pdq, cropped))| {
                let number = i as u64 * every;
                Frame {
                    number,
                    timestamp: rate.map_or(number as f64 / 30.0, |r| timestamp(number, r)),
                    pdq,
                    cropped,
                }
            })
            .collect(),
        None => hashes
            .into_iter()
            .zip(&ended.collected)
            .map(|((pdq, cropped), &t)| match rate {
                Some(r) => {
                    let number = (t * r).round().max(0.0) as u64;
                    Frame {
                        number,
                        timestamp: timestamp(number, r),
                        pdq,
                        cropped,
                    }
                }
                None => Frame {
                    number: 0,
                    timestamp: t,
                    pdq,
                    cropped,
                },
            })
            .collect(),
    };
    let stopped = match ended.stopped {
        Some(why) => Some(ffmpeg::stop_reason(
            why,
            &format!("decoding (after {} frames)", frames.len()),
        )),
        None if ended.status.is_some_and(|s| s.success()) => None,
        None if frames.is_empty() => Some(format!("not decoded: {}", ended.complaint())),
        None => Some(format!(
            "decoding stopped after {} frames: {}",
            frames.len(),
            ended.complaint()
        )),
    };
    VideoHash {
        frames,
        probe: Some(probe),
        every,
        stopped,
    }
}

/// Fills `buf` with the next frame; false at the end (a cut last frame is dropped).
fn read_frame(r: &mut dyn Read, buf: &mut [u8]) -> bool {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => return false,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_reference_arithmetic() {
        assert_eq!(sampling_interval(1.0, 30000.0 / 1001.0), 29);
        assert_eq!(sampling_interval(1.0, 25.0), 25);
        assert_eq!(sampling_interval(0.0, 25.0), 1);
        assert_eq!(sampling_interval(0.5, 1.0), 1);
        // Single precision, as the reference: frame 1 at 25 frames a second.
        assert_eq!(timestamp(1, 25.0), 0.03999999910593033);
    }

    #[test]
    fn large_frames_are_scaled_to_fit_keeping_their_shape() {
        assert_eq!(hashed_size(1280, 720), (1280, 720));
        assert_eq!(hashed_size(3840, 2160), (1920, 1080));
        assert_eq!(hashed_size(100_000, 10), (1920, 1));
    }
}
