//! What the image worker (a child process) tells hashsift, on its standard output: frames of
//! a kind byte, a little-endian 32-bit length, and that many bytes. Volumes, entries and the
//! ends of contents are JSON; content is the bytes themselves.

use std::io::{self, Read, Write};

use super::entry::{Entry, Run, Volume};

/// The longest frame read: a content piece is at most 1 MiB, an entry's names at most a few
/// KiB; more is a worker gone wrong.
const MAX_FRAME: u32 = 4 << 20;

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A file system about to be walked.
    Volume(Volume),
    /// The walk of the last file system broke off, and why.
    Broken(String),
    /// Where the last entry's content lies in the media (instead of `Data`... `End`): a
    /// stream of `size` bytes, those past `initsize` zeros.
    Runs {
        size: u64,
        initsize: u64,
        runs: Vec<Run>,
    },
    /// A name; its content follows (`Data`... then `End`) when the worker reads it.
    Entry(Entry),
    Data(Vec<u8>),
    /// The end of the last entry's content: its bytes, and why it ended early.
    End {
        bytes: u64,
        error: Option<String>,
    },
    /// The image could not be walked at all, and why.
    Failed(String),
    /// The walk is complete.
    Done,
}

const VOLUME: u8 = 1;
const ENTRY: u8 = 2;
const DATA: u8 = 3;
const END: u8 = 4;
const FAILED: u8 = 5;
const DONE: u8 = 6;
const BROKEN: u8 = 7;
const RUNS: u8 = 8;

/// The bytes of one run in a `Runs` frame.
const RUN_BYTES: usize = 25;

/// The most runs one `Runs` frame holds (a file in more pieces is sent as data).
pub const MAX_RUNS: usize = (MAX_FRAME as usize - 16) / RUN_BYTES;

#[derive(serde::Serialize, serde::Deserialize)]
struct EndJson {
    bytes: u64,
    error: Option<String>,
}

fn header(kind: u8, len: usize) -> io::Result<[u8; 5]> {
    let len = u32::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
    let l = len.to_le_bytes();
    Ok([kind, l[0], l[1], l[2], l[3]])
}

/// Writes a content piece without copying it.
///
/// # Errors
/// The output is closed or fails; a piece over the frame limit.
pub fn write_data(out: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(&header(DATA, bytes.len())?)?;
    out.write_all(bytes)
}

/// Writes `frame`.
///
/// # Errors
/// The output is closed or fails.
pub fn write(out: &mut dyn Write, frame: &Frame) -> io::Result<()> {
    let (kind, payload) = match frame {
        Frame::Volume(v) => (VOLUME, serde_json::to_vec(v)?),
        Frame::Entry(e) => (ENTRY, serde_json::to_vec(e)?),
        Frame::Data(d) => return write_data(out, d),
        Frame::End { bytes, error } => (
            END,
            serde_json::to_vec(&EndJson {
                bytes: *bytes,
                error: error.clone(),
            })?,
        ),
        Frame::Failed(why) => (FAILED, why.as_bytes().to_vec()),
        Frame::Broken(why) => (BROKEN, why.as_bytes().to_vec()),
        Frame::Runs {
            size,
            initsize,
            runs,
        } => {
            let mut p = Vec::with_capacity(16 + runs.len() * RUN_BYTES);
            p.extend(size.to_le_bytes());
            p.extend(initsize.to_le_bytes());
            for r in runs {
                p.extend(r.offset.to_le_bytes());
                p.extend(r.addr.to_le_bytes());
                p.extend(r.len.to_le_bytes());
                p.push(u8::from(r.zeros()));
            }
            (RUNS, p)
        }
        Frame::Done => (DONE, Vec::new()),
    };
    out.write_all(&header(kind, payload.len())?)?;
    out.write_all(&payload)
}

/// Reads the next frame; `None` at the end of the output, between frames.
///
/// # Errors
/// The output ends inside a frame, or holds something that is not a frame.
pub fn read(input: &mut dyn Read) -> io::Result<Option<Frame>> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    if len > MAX_FRAME {
        return Err(bad(format!("a frame of {len} bytes")));
    }
    let mut payload = vec![0u8; len as usize];
    input.read_exact(&mut payload)?;
    let json = |e: serde_json::Error| bad(e.to_string());
    Ok(Some(match head[0] {
        VOLUME => Frame::Volume(serde_json::from_slice(&payload).map_err(json)?),
        ENTRY => Frame::Entry(serde_json::from_slice(&payload).map_err(json)?),
        DATA => Frame::Data(payload),
        END => {
            let e: EndJson = serde_json::from_slice(&payload).map_err(json)?;
            Frame::End {
                bytes: e.bytes,
                error: e.error,
            }
        }
        FAILED => Frame::Failed(String::from_utf8_lossy(&payload).into_owned()),
        DONE => Frame::Done,
        BROKEN => Frame::Broken(String::from_utf8_lossy(&payload).into_owned()),
        RUNS => {
            let u64_at = |b: &[u8], at: usize| {
                u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
            };
            if payload.len() < 16 || !(payload.len() - 16).is_multiple_of(RUN_BYTES) {
                return Err(bad(format!("a runs frame of {} bytes", payload.len())));
            }
            let mut runs = Vec::with_capacity((payload.len() - 16) / RUN_BYTES);
            for r in payload[16..].chunks_exact(RUN_BYTES) {
                runs.push(Run {
                    offset: u64_at(r, 0),
                    addr: u64_at(r, 8),
                    len: u64_at(r, 16),
                    flags: match r[24] {
                        0 => 0,
                        1 => 1,
                        f => return Err(bad(format!("a run flagged {f}"))),
                    },
                });
            }
            Frame::Runs {
                size: u64_at(&payload, 0),
                initsize: u64_at(&payload, 8),
                runs,
            }
        }
        other => return Err(bad(format!("a frame of kind {other}"))),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_reads_back_as_written_and_damage_is_an_error() {
        let entry = Entry {
            parent: b"a/\xff/".to_vec(),
            name: b"x\x00y.jpg".to_vec(),
            stream: Some(b"secret".to_vec()),
            inode: 64,
            attr_type: 128,
            attr_id: 4,
            meta_type: 1,
            flags: 9,
            size: Some(19),
            mtime: Some((1_796_675_990, 5)),
            atime: None,
            ctime: Some((-1, 0)),
            crtime: None,
            dtime: Some(7),
        };
        let frames = vec![
            Frame::Volume(Volume {
                index: Some(2),
                start: 1_048_576,
                length: 99,
                description: "Linux (0x83)".into(),
                file_system: Err("no file system".into()),
            }),
            Frame::Entry(entry),
            Frame::Data(vec![1, 2, 3]),
            Frame::Data(Vec::new()),
            Frame::End {
                bytes: 3,
                error: Some("short".into()),
            },
            Frame::Broken("a directory loops".into()),
            Frame::Runs {
                size: 9000,
                initsize: 5000,
                runs: vec![
                    Run {
                        offset: 0,
                        addr: 1 << 40,
                        len: 4096,
                        flags: 0,
                    },
                    Run {
                        offset: 4096,
                        addr: 0,
                        len: 8192,
                        flags: 1,
                    },
                ],
            },
            Frame::Failed("not an image".into()),
            Frame::Done,
        ];
        let mut out = Vec::new();
        for f in &frames {
            write(&mut out, f).unwrap();
        }
        let mut input = out.as_slice();
        let mut back = Vec::new();
        while let Some(f) = read(&mut input).unwrap() {
            back.push(f);
        }
        assert_eq!(back, frames);
        // Cut anywhere inside a frame: an error, never a frame made up.
        for cut in 1..out.len() {
            let mut input = &out[..cut];
            let mut n = 0;
            let end = loop {
                match read(&mut input) {
                    Ok(Some(_)) => n += 1,
                    other => break other,
                }
            };
            assert!(n <= frames.len());
            if let Ok(None) = end {
                // Only at a frame boundary.
                let mut whole = Vec::new();
                for f in &frames[..n] {
                    write(&mut whole, f).unwrap();
                }
                assert_eq!(whole.len(), cut);
            }
        }
        let mut huge = &[DATA, 0xff, 0xff, 0xff, 0xff][..];
        assert!(read(&mut huge).is_err());
        let mut unknown = &[9u8, 0, 0, 0, 0][..];
        assert!(read(&mut unknown).is_err());
    }
}
