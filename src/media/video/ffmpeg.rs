//! FFmpeg as a child process: finding it, asking `ffprobe` what a video is, and running
//! `ffmpeg` to decode the sampled frames to raw RGB on a pipe, within a time limit.
//!
//! The children are contained: no environment (no proxy or library path taken from the
//! user's), the working directory `/`, no core dumps (a crash writes nothing to disk), 4 GiB of
//! address space, their own process group (the terminal's Ctrl-C is hashsift's to handle), and
//! killed if hashsift dies. They read only the URL of [`super::serve`] (`-protocol_whitelist
//! http,tcp`, the demuxer named by hashsift from the file's first bytes, so a playlist cannot
//! send them elsewhere) and write only to their pipes.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::cancel::Cancel;

/// The FFmpeg programs hashsift runs.
#[derive(Clone, Debug)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// `ffmpeg -version`'s first line ("ffmpeg version 5.1.9-0+deb12u1 ...").
    pub version: String,
}

impl Tools {
    /// `ffmpeg` and `ffprobe` from `HASHSIFT_FFMPEG` / `HASHSIFT_FFPROBE` when set, otherwise
    /// from the `PATH` (`ffprobe` also beside the `ffmpeg` given); why not when they are not
    /// there or do not run.
    pub fn find() -> Result<Tools, String> {
        let ffmpeg = std::env::var_os("HASHSIFT_FFMPEG")
            .map(PathBuf::from)
            .or_else(|| on_path("ffmpeg"))
            .ok_or("FFmpeg not found (install Debian's ffmpeg package, or set HASHSIFT_FFMPEG)")?;
        let ffprobe = std::env::var_os("HASHSIFT_FFPROBE")
            .map(PathBuf::from)
            .or_else(|| {
                let beside = ffmpeg.with_file_name("ffprobe");
                beside.is_file().then_some(beside)
            })
            .or_else(|| on_path("ffprobe"))
            .ok_or("ffprobe not found beside ffmpeg (set HASHSIFT_FFPROBE)")?;
        let out = Command::new(&ffmpeg)
            .arg("-version")
            .env_clear()
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", ffmpeg.display()))?;
        let version = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        if !out.status.success() || !version.starts_with("ffmpeg version") {
            return Err(format!(
                "{} -version did not answer as FFmpeg",
                ffmpeg.display()
            ));
        }
        Ok(Tools {
            ffmpeg,
            ffprobe,
            version,
        })
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// What `ffprobe` says of a video's first video stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub width: u32,
    pub height: u32,
    /// The average frame rate, or the stream's base rate where there is none (as the reference
    /// takes it); `None` when neither is declared.
    pub frame_rate: Option<f64>,
    pub codec: String,
    /// Seconds, when declared.
    pub duration: Option<f64>,
}

/// The address space a child may take.
const MEMORY: libc::rlim_t = 4 << 30;

/// A contained child (see the module's documentation), its stdout piped.
fn contained(program: &Path) -> Command {
    crate::child::contained(program, MEMORY)
}

/// Why a child was stopped before it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    TimeLimit,
    Cancelled,
}

/// What a child left once it ended: how it ended, its last lines of errors, and whatever its
/// stderr reader collected.
pub struct Ended<T> {
    pub stopped: Option<Stopped>,
    pub status: Option<std::process::ExitStatus>,
    pub errors: Vec<String>,
    pub collected: T,
}

impl<T> Ended<T> {
    /// The child's own account of a failure: its last error lines (without the addresses
    /// FFmpeg prints or the URL it read, which differ at each run), or its exit status.
    pub fn complaint(&self) -> String {
        let said: Vec<String> = self
            .errors
            .iter()
            .map(|l| plain(l))
            .filter(|l| !l.is_empty())
            .collect();
        match (said.last(), self.status) {
            // The first error is usually the cause, the last what it led to.
            (Some(last), _) if said.len() > 1 && *last != said[0] => {
                format!("{}; ... {last}", said[0])
            }
            (Some(last), _) => last.clone(),
            (None, Some(s)) => format!("FFmpeg ended with {s}"),
            (None, None) => "FFmpeg ended without a status".to_owned(),
        }
    }
}

/// An FFmpeg log line without its `[name @ 0x...]` prefixes and with `http://127.0.0.1...`
/// (the loopback URL of the video) as "the video".
fn plain(line: &str) -> String {
    let mut rest = line.trim();
    while let Some(r) = rest.strip_prefix('[')
        && let Some(end) = r.find("] ")
    {
        rest = r[end + 2..].trim_start();
    }
    let mut words: Vec<&str> = Vec::new();
    for w in rest.split(' ') {
        if w.starts_with("http://127.0.0.1:") {
            words.push(if w.ends_with(':') {
                "the video:"
            } else {
                "the video"
            });
        } else {
            words.push(w);
        }
    }
    words.join(" ")
}

/// Lines of errors kept from a child.
const ERROR_LINES: usize = 8;

/// Runs `command`, hands its stdout to `read` while a watchdog kills it at `deadline` or when
/// `cancel` is set, and feeds its stderr, line by line, to `on_line` (which keeps what it needs
/// and says whether the line is an error worth keeping).
pub fn run<R, T: Send + Default>(
    mut command: Command,
    deadline: Instant,
    cancel: &Cancel,
    mut on_line: impl FnMut(&str, &mut T) -> bool + Send,
    read: impl FnOnce(&mut dyn Read) -> R,
) -> io::Result<(R, Ended<T>)> {
    let mut child: Child = command.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.take().expect("stdout piped");
    let stderr = child.stderr.take().expect("stderr piped");
    let finished = Arc::new((Mutex::new(false), Condvar::new()));
    let stopped = Mutex::new(None);
    let (result, errors, collected) = std::thread::scope(|scope| {
        let watch = scope.spawn(|| {
            let (lock, wake) = &*finished;
            let mut done = lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            while !*done {
                let now = Instant::now();
                let why = if cancel.is_cancelled() {
                    Some(Stopped::Cancelled)
                } else if now >= deadline {
                    Some(Stopped::TimeLimit)
                } else {
                    None
                };
                if let Some(why) = why {
                    *stopped
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
                    // SAFETY: the child has not been waited for, so the pid is still its own.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return;
                }
                let pause = (deadline - now).min(Duration::from_millis(100));
                done = wake
                    .wait_timeout(done, pause)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        });
        let errors = scope.spawn(move || {
            let mut kept: std::collections::VecDeque<String> = Default::default();
            let mut collected = T::default();
            let mut lines = BufReader::new(stderr);
            let mut line = Vec::new();
            loop {
                line.clear();
                match lines.by_ref().take(64 << 10).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&line);
                if on_line(&text, &mut collected) {
                    // The first line stays; the others are the last ones.
                    if kept.len() == ERROR_LINES {
                        kept.remove(1);
                    }
                    kept.push_back(crate::textsafe::escape(text.trim_end()).into_owned());
                }
            }
            (kept.into(), collected)
        });
        let result = read(&mut stdout);
        // Whatever `read` left unread is drained, so the child never blocks on a full pipe.
        let _ = io::copy(&mut stdout, &mut io::sink());
        let (errors, collected) = errors.join().unwrap_or_default();
        {
            let (lock, wake) = &*finished;
            *lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
            wake.notify_all();
        }
        let _ = watch.join();
        (result, errors, collected)
    });
    let status = child.wait().ok();
    let stopped = stopped
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((
        result,
        Ended {
            stopped,
            status,
            errors,
            collected,
        },
    ))
}

/// The first video stream of `url` as `ffprobe` reads it with the demuxer `format`.
pub fn probe(
    tools: &Tools,
    url: &str,
    format: &str,
    deadline: Instant,
    cancel: &Cancel,
) -> Result<Probe, String> {
    let mut c = contained(&tools.ffprobe);
    c.args([
        "-v",
        "error",
        "-protocol_whitelist",
        "http,tcp",
        "-f",
        format,
    ])
    .args(["-select_streams", "v:0", "-of", "json"])
    .args([
        "-show_entries",
        "stream=codec_name,width,height,avg_frame_rate,r_frame_rate:format=duration",
    ])
    .arg(url);
    let (out, ended) = run(
        c,
        deadline,
        cancel,
        |_, _: &mut ()| true,
        |stdout| {
            let mut all = Vec::new();
            stdout.take(1 << 20).read_to_end(&mut all).map(|_| all)
        },
    )
    .map_err(|e| format!("cannot run ffprobe: {e}"))?;
    if let Some(why) = ended.stopped {
        return Err(stop_reason(why, "reading its header"));
    }
    let out = out.map_err(|e| format!("ffprobe: {e}"))?;
    let json: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|_| format!("not read as a video: {}", ended.complaint()))?;
    let Some(stream) = json["streams"].get(0) else {
        return Err(match ended.errors.is_empty() {
            true => "no video stream".to_owned(),
            false => format!("not read as a video: {}", ended.complaint()),
        });
    };
    let rate = |key: &str| {
        let (n, d) = stream[key].as_str()?.split_once('/')?;
        let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
        (n > 0.0 && d > 0.0).then(|| n / d)
    };
    let side = |key: &str| stream[key].as_u64().and_then(|v| u32::try_from(v).ok());
    let (Some(width @ 1..), Some(height @ 1..)) = (side("width"), side("height")) else {
        return Err(match ended.errors.is_empty() {
            true => "the video stream declares no frame size".to_owned(),
            false => format!("no usable frame size: {}", ended.complaint()),
        });
    };
    Ok(Probe {
        width,
        height,
        frame_rate: rate("avg_frame_rate").or_else(|| rate("r_frame_rate")),
        codec: stream["codec_name"].as_str().unwrap_or("").to_owned(),
        duration: json["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok()),
    })
}

/// How a stopped child is described in a record.
pub fn stop_reason(why: Stopped, doing: &str) -> String {
    match why {
        Stopped::TimeLimit => format!("stopped at the time limit for a video while {doing}"),
        Stopped::Cancelled => format!("interrupted while {doing}"),
    }
}

/// What `ffmpeg` is asked to do with a video.
pub struct Decode<'a> {
    pub url: &'a str,
    pub format: &'a str,
    /// Every `nth` decoded frame (exact sampling), or key frames only (`None`).
    pub every: Option<u64>,
    /// The size frames are delivered at.
    pub width: u32,
    pub height: u32,
    /// The largest frame the decoder may allocate, in pixels.
    pub max_pixels: u64,
    /// Decoding threads (0: FFmpeg's choice).
    pub threads: usize,
}

/// The `ffmpeg` command that writes the frames of `d` to its stdout as raw RGB, one after the
/// other, at `d.width` x `d.height`, and (key frames only) describes each on stderr.
pub fn decode_command(tools: &Tools, d: &Decode<'_>) -> Command {
    let mut c = contained(&tools.ffmpeg);
    c.args(["-nostdin", "-hide_banner", "-nostats"])
        .args(["-protocol_whitelist", "http,tcp"])
        .args(["-threads", &d.threads.to_string()])
        .args(["-max_pixels", &d.max_pixels.to_string()])
        .arg("-noautorotate");
    // The reference's frame numbers count decoded frames: no frame may be dropped or
    // repeated on the way (passthrough), and the selection comes before the scaling, which is
    // the reference's (area, to RGB) so the pixels are those it hashes.
    let scale = format!("scale={}:{}:flags=area,format=rgb24", d.width, d.height);
    let filters = match d.every {
        Some(n) => {
            c.args(["-loglevel", "error"]);
            format!("select='not(mod(n\\,{n}))',{scale}")
        }
        None => {
            c.args(["-loglevel", "info", "-skip_frame", "nokey"]);
            format!("{scale},showinfo")
        }
    };
    c.args(["-f", d.format, "-i", d.url])
        .args(["-map", "0:v:0", "-an", "-sn", "-dn"])
        .args(["-vf", &filters])
        .args(["-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"]);
    c
}

/// A `showinfo` line's `pts_time`, when the line is one (key frames only).
pub fn shown_time(line: &str) -> Option<f64> {
    let at = line.find(" pts_time:")?;
    if !line[..at].contains("n:") {
        return None;
    }
    line[at + " pts_time:".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}
