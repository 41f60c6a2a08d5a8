//! The vPDQ text format as ThreatExchange's tools write it: one line per sampled frame,
//! `FRAME,QUALITY,HASH,SECONDS` (the frame number from 0, the PDQ quality 0-100, the hash in
//! the reference's 64 lower-case hex digits, the time stamp with three decimals), no header.
//!
//! Read leniently, as files arrive from the world: `\r\n` endings, blank lines, spaces around
//! fields, upper-case hex and fields after the fourth are taken; python-threatexchange's
//! compact form `HASH,QUALITY,SECONDS` (three fields, the hash first) is taken too, its frames
//! numbered by line. Anything else is refused with its line number.

use std::fmt::Write as _;
use std::io::{self, BufRead};

use super::Frame;
use crate::media::pdq::{Pdq, PdqHash};

/// Writes `frames` as the reference writes them.
pub fn write(frames: &[Frame], out: &mut dyn io::Write) -> io::Result<()> {
    let mut text = String::with_capacity(frames.len() * 80);
    for f in frames {
        let _ = writeln!(
            text,
            "{},{},{},{:.3}",
            f.number, f.pdq.quality, f.pdq.hash, f.timestamp
        );
    }
    out.write_all(text.as_bytes())
}

/// The frames of a known video in the same text, as one string (a VICS record's `vPDQ`
/// alternative hash): the time stamps are kept in milliseconds, which the three decimals show
/// exactly.
pub fn known_text(frames: &[crate::knowndb::record::KnownFrame]) -> String {
    let mut text = String::with_capacity(frames.len() * 80);
    for f in frames {
        let _ = writeln!(
            text,
            "{},{},{},{}.{:03}",
            f.number,
            f.quality,
            PdqHash::from_bytes(&f.pdq),
            f.millis / 1000,
            f.millis % 1000
        );
    }
    text
}

/// Why a vPDQ file was refused.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("line {line}: {reason}")]
    Line { line: u64, reason: String },
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("no frames")]
    Empty,
}

/// The longest line taken (a frame's line is under 100 bytes).
const MAX_LINE: u64 = 4096;

/// Reads a vPDQ file's frames.
pub fn read(input: &mut dyn BufRead) -> Result<Vec<Frame>, FormatError> {
    let mut frames = Vec::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        number += 1;
        line.clear();
        let n = io::Read::take(&mut *input, MAX_LINE).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && n as u64 == MAX_LINE {
            return Err(FormatError::Line {
                line: number,
                reason: format!("longer than {MAX_LINE} bytes"),
            });
        }
        let text = std::str::from_utf8(&line).map_err(|_| FormatError::Line {
            line: number,
            reason: "not text".to_owned(),
        })?;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let frame = parse_line(text, frames.len() as u64).map_err(|reason| FormatError::Line {
            line: number,
            reason,
        })?;
        frames.push(frame);
    }
    if frames.is_empty() {
        return Err(FormatError::Empty);
    }
    Ok(frames)
}

/// Whether `text` (a file's first bytes) reads as a vPDQ file: its first non-blank line parses,
/// and in the compact form its time stamp is written as a decimal (`1.0`, never `1`), so that a
/// PDQ list whose names are numbers (`HASH,QUALITY,NAME`) is not taken for one.
pub fn looks_like(text: &[u8]) -> bool {
    let text = &text[..text.len().min(MAX_LINE as usize)];
    let text = match std::str::from_utf8(text) {
        Ok(t) => t,
        // The head may end inside a character: what precedes it.
        Err(e) => std::str::from_utf8(&text[..e.valid_up_to()]).unwrap_or(""),
    };
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            let decimal = fields.len() != 3 || fields[2].contains(['.', 'e']);
            decimal && parse_line(l, 0).is_ok()
        })
}

fn parse_line(text: &str, index: u64) -> Result<Frame, String> {
    let fields: Vec<&str> = text.split(',').map(str::trim).collect();
    let hash = |s: &str| {
        (s.len() == 64)
            .then(|| PdqHash::from_hex(s))
            .flatten()
            .ok_or_else(|| format!("'{}' is not a PDQ hash (64 hex digits)", shown(s)))
    };
    let quality = |s: &str| {
        s.parse::<u8>()
            .ok()
            .filter(|q| *q <= 100)
            .ok_or_else(|| format!("quality '{}' is not a whole number 0-100", shown(s)))
    };
    let seconds = |s: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| format!("time stamp '{}' is not a number of seconds", shown(s)))
    };
    match fields.as_slice() {
        [h, q, t] if h.len() == 64 => Ok(Frame {
            number: index,
            timestamp: seconds(t)?,
            pdq: Pdq {
                hash: hash(h)?,
                quality: quality(q)?,
            },
            cropped: None,
        }),
        [f, q, h, t, ..] => Ok(Frame {
            number: f
                .parse()
                .map_err(|_| format!("frame number '{}' is not a whole number", shown(f)))?,
            timestamp: seconds(t)?,
            pdq: Pdq {
                hash: hash(h)?,
                quality: quality(q)?,
            },
            cropped: None,
        }),
        _ => Err(format!(
            "{} fields; a vPDQ line is FRAME,QUALITY,HASH,SECONDS",
            fields.len()
        )),
    }
}

/// A field as shown in an error: control characters visible, at most 80 characters.
fn shown(s: &str) -> String {
    let cut: String = s.chars().take(80).collect();
    crate::textsafe::escape(&cut).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_the_compact_form() {
        let frames = vec![
            Frame {
                number: 0,
                timestamp: 0.0,
                pdq: Pdq {
                    hash: PdqHash([0x1234; 16]),
                    quality: 100,
                },
                cropped: None,
            },
            Frame {
                number: 29,
                timestamp: 29.0 / 29.97,
                pdq: Pdq {
                    hash: PdqHash([0xfedc; 16]),
                    quality: 7,
                },
                cropped: None,
            },
        ];
        let mut out = Vec::new();
        write(&frames, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.ends_with(",0.968\n"), "{text}");
        let back = read(&mut &out[..]).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].number, 29);
        assert_eq!(back[1].pdq, frames[1].pdq);
        assert!((back[1].timestamp - 0.968).abs() < 1e-9);
        let compact = format!("\r\n{},100,1.5\r\n", frames[0].pdq.hash);
        let back = read(&mut compact.as_bytes()).unwrap();
        assert_eq!((back[0].number, back[0].timestamp), (0, 1.5));
    }

    #[test]
    fn a_bad_line_is_refused_with_its_number() {
        let good = "0,100,".to_owned() + &"ab".repeat(32) + ",0.000\n";
        for (bad, says) in [
            ("1,100,abc,1.0", "not a PDQ hash"),
            ("1,101,".to_owned().as_str(), "fields"),
            ("x,100,".to_owned().as_str(), "fields"),
        ] {
            let text = format!("{good}{bad}\n");
            let e = read(&mut text.as_bytes()).unwrap_err().to_string();
            assert!(e.starts_with("line 2: "), "{e}");
            assert!(e.contains(says), "{e}");
        }
        let text = format!("{good}1,250,{},1.0\n", "ab".repeat(32));
        let e = read(&mut text.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("quality '250'"), "{e}");
        assert!(matches!(read(&mut &b"\n\n"[..]), Err(FormatError::Empty)));
    }
}
