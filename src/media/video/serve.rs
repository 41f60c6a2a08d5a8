//! The evidence handed to FFmpeg without FFmpeg opening it: a loopback HTTP server that answers
//! byte-range requests for one secret path from a source hashsift opened itself.
//!
//! FFmpeg needs to seek in most video files (an MP4 whose index sits at its end), and the only
//! seekable inputs the Debian 12 FFmpeg (5.1) takes are a path, which it would open itself
//! without `O_NOATIME` (moving the evidence's access time), and a URL. So hashsift opens the
//! file as it opens all evidence (read-only, no access-time update) or holds a container's
//! member in memory, and FFmpeg reads it over HTTP from `127.0.0.1`, at a path made of 128
//! random bits, one video at a time. The server answers `GET` (and `HEAD`) for that path with
//! the bytes asked (`Range: bytes=A-` or `A-B`), and 404 to anything else; it reads nothing but
//! the one source, so even an FFmpeg subverted by a crafted video can read no other file through
//! it.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Bytes read from a position, as `pread` does: what the server serves.
pub trait ReadAt: Sync {
    /// Reads into `buf` from `offset`: the bytes read, 0 at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

impl ReadAt for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

/// How long a connection may take to send its request, or to take a chunk of the answer.
const PATIENCE: Duration = Duration::from_secs(30);
/// Size of the reads from the source and the writes to a connection.
const CHUNK: usize = 256 << 10;

/// A server for one source, listening until [`Server::stop`]; its threads live in `scope`.
pub struct Server<'s> {
    addr: SocketAddr,
    path: String,
    done: &'s AtomicBool,
}

impl<'s> Server<'s> {
    /// Listens on a free loopback port and serves `source` (`size` bytes) on threads of
    /// `scope` until stopped. `done` is the flag that stops it (kept by the caller, so the
    /// threads can borrow it).
    pub fn start<'scope, 'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        source: &'env (dyn ReadAt + 'env),
        size: u64,
        done: &'env AtomicBool,
    ) -> io::Result<Server<'env>> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let path = format!("/{}", random_token()?);
        let wanted: std::sync::Arc<str> = path.clone().into();
        scope.spawn(move || {
            for stream in listener.incoming() {
                if done.load(Ordering::Acquire) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let wanted = std::sync::Arc::clone(&wanted);
                scope.spawn(move || {
                    let _ = answer(stream, &wanted, source, size);
                });
            }
        });
        Ok(Server { addr, path, done })
    }

    /// The URL FFmpeg reads the source from.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    /// Stops accepting connections (those open end when FFmpeg closes them, or at the first
    /// write once it is gone).
    pub fn stop(self) {
        self.done.store(true, Ordering::Release);
        // Wakes the accepting thread, which then sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// 128 random bits in hex, from the kernel.
fn random_token() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the buffer is valid for the length given.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        } else {
            filled += n as usize;
        }
    }
    Ok(crate::digest::to_hex(&bytes))
}

/// Answers one request on `stream`.
fn answer(stream: TcpStream, wanted: &str, source: &dyn ReadAt, size: u64) -> io::Result<()> {
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    let mut reader = BufReader::new(io::Read::take(stream.try_clone()?, 16 << 10));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_ascii_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let mut range = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("range")
        {
            range = Some(value.trim().to_owned());
        }
    }
    let mut out = stream;
    if target != wanted || !(method == "GET" || method == "HEAD") {
        return out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let (start, end) = match range.as_deref().map(|r| parse_range(r, size)) {
        None => (0, size),
        Some(Some(r)) => r,
        Some(None) => {
            return out.write_all(
                format!(
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{size}\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            );
        }
    };
    let head = if range.is_some() {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Type: application/octet-stream\r\n\
             Accept-Ranges: bytes\r\nContent-Range: bytes {start}-{}/{size}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            end.saturating_sub(1),
            end - start
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
             Accept-Ranges: bytes\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
        )
    };
    out.write_all(head.as_bytes())?;
    if method == "HEAD" {
        return Ok(());
    }
    let mut buf = vec![0u8; CHUNK];
    let mut at = start;
    while at < end {
        let want = CHUNK.min((end - at) as usize);
        let n = source.read_at(&mut buf[..want], at)?;
        if n == 0 {
            // The source is shorter than it was: FFmpeg sees a cut connection.
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        out.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// `bytes=A-` or `bytes=A-B` (inclusive) as the half-open span it asks for within `size`;
/// `None` when it is not one span or starts past the end.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?.trim();
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end = match b.trim() {
        "" => size,
        b => b.parse::<u64>().ok()?.saturating_add(1).min(size),
    };
    (start < size && start < end || start == 0 && size == 0).then_some((start, end.max(start)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(url: &str, path: &str, range: Option<&str>) -> (String, Vec<u8>) {
        let addr = url.trim_start_matches("http://");
        let host = &addr[..addr.find('/').unwrap()];
        let mut s = TcpStream::connect(host).unwrap();
        let range = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{range}\r\n").unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (
            String::from_utf8(all[..split].to_vec()).unwrap(),
            all[split + 4..].to_vec(),
        )
    }

    #[test]
    fn serves_ranges_of_its_one_path_only() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let server = Server::start(scope, &data, data.len() as u64, &done).unwrap();
            let url = server.url();
            let path = &url[url.find('/').unwrap() + 2..];
            let path = &path[path.find('/').unwrap()..];
            let (head, body) = get(&url, path, None);
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert_eq!(body, data);
            let (head, body) = get(&url, path, Some("bytes=1000-"));
            assert!(
                head.contains("Content-Range: bytes 1000-299999/300000"),
                "{head}"
            );
            assert_eq!(body, &data[1000..]);
            let (_, body) = get(&url, path, Some("bytes=10-19"));
            assert_eq!(body, &data[10..20]);
            let (head, _) = get(&url, path, Some("bytes=300000-"));
            assert!(head.starts_with("HTTP/1.1 416"), "{head}");
            let (head, body) = get(&url, "/etc/passwd", None);
            assert!(head.starts_with("HTTP/1.1 404"), "{head}");
            assert!(body.is_empty());
            server.stop();
        });
    }
}
