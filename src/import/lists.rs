//! Plain digest lists: `md5sum`/`sha1sum`/`sha256sum` output (`<hex>  <name>`,
//! `<hex> *<name>`, and the `\<hex>` form coreutils writes for names with backslashes or
//! newlines), BSD style `MD5 (name) = <hex>`, and one bare digest per line. Each line's
//! algorithm comes from its BSD tag or its length. PDQ lists as ThreatExchange's tools write
//! them (`<64 hex>,<quality>[,<name>]`, `pdq-photo-hasher`'s output) are read too: the comma
//! and the quality tell them from a SHA-256 line. md5deep's size-prefixed listings
//! (`md5deep -z`, and sha1deep's, sha256deep's: `<size>  <hex>  <name>`, the size
//! right-aligned in ten columns) are read with their sizes. Names are not kept; blank lines and
//! `#` comments are skipped.

use std::io::BufRead;

use super::fields::{hex, set_digest_by_length, shorten};
use super::lines::{Lines, text};
use super::{Location, ReadError, Sink, deliver};
use crate::digest::{Blake3, Md5, Sha1, Sha256};
use crate::knowndb::record::{KnownRecord, PdqHash};

/// Whether `line` looks like a line of a digest list (used by detection).
pub fn looks_like(line: &str) -> bool {
    parse_pdq(line).is_some() || parse_sized(line).is_some() || parse_line(line).is_ok()
}

/// A PDQ line: `<64 hex>,<quality 0-100>` and optionally `,<name>`.
fn parse_pdq(line: &str) -> Option<([u8; 32], u8)> {
    let t = line.trim_end();
    let mut fields = t.splitn(3, ',');
    let (digest, quality) = (fields.next()?, fields.next()?);
    if digest.len() != 64 || !is_hex(digest) {
        return None;
    }
    let quality: u8 = quality.trim().parse().ok().filter(|q| *q <= 100)?;
    Some((hex(digest, "PDQ").ok()?, quality))
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The digest text of one line and, for BSD lines, the algorithm named.
fn parse_line(line: &str) -> Result<(Option<&str>, &str), String> {
    let t = line.trim_end();
    // BSD: TAG (name) = hex   (also TAG(name)= hex, as OpenSSL writes it)
    if let Some(open) = t.find('(') {
        let tag = t[..open].trim();
        if !tag.is_empty()
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && let Some(eq) = t.rfind(")= ").max(t.rfind(") = "))
        {
            let digest = t[eq..]
                .trim_start_matches(')')
                .trim_start()
                .trim_start_matches('=')
                .trim();
            if is_hex(digest) {
                return Ok((Some(tag), digest));
            }
        }
    }
    let t = t.strip_prefix('\\').unwrap_or(t);
    let first = t.split([' ', '\t']).next().unwrap_or("");
    if is_hex(first) && matches!(first.len(), 32 | 40 | 64) {
        let rest = &t[first.len()..];
        if rest.is_empty()
            || rest.starts_with("  ")
            || rest.starts_with(" *")
            || rest.starts_with('\t')
        {
            return Ok((None, first));
        }
    }
    Err(format!(
        "'{}' is not a digest line (expected '<hex>  <name>', 'MD5 (<name>) = <hex>' or a bare digest)",
        shorten(t)
    ))
}

/// A line of md5deep's (or sha1deep's, sha256deep's...) size-prefixed listing, `md5deep -z`:
/// the size right-aligned in ten columns, two spaces, the digest, two spaces, the name
/// (`md5deep -zc` writes `<size>, <digest>,<name>`). The size and the digest's text.
fn parse_sized(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start_matches(' ');
    let end = t.bytes().position(|b| !b.is_ascii_digit())?;
    // A size has at most 20 digits (u64): never a 32-, 40- or 64-digit digest.
    if end == 0 || end > 20 {
        return None;
    }
    let (size, rest) = t.split_at(end);
    let rest = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(", "))?;
    let digest_end = rest
        .bytes()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(rest.len());
    let (digest, after) = rest.split_at(digest_end);
    if !matches!(digest.len(), 32 | 40 | 64) {
        return None;
    }
    if !(after.is_empty() || after.starts_with("  ") || after.starts_with(',')) {
        return None;
    }
    Some((size, digest))
}

/// md5deep writes the size of a file over 9,999,999,999 bytes as 9999999999: that value says
/// "this or more", not the size.
const MD5DEEP_SIZE_CAP: u64 = 9_999_999_999;

/// One line as a record; `None` for blank and comment lines.
fn parse_record(n: u64, bytes: &[u8], blake3: bool) -> Result<Option<KnownRecord>, ReadError> {
    let at = Location::Line(n);
    let line = text(n, bytes)?;
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let bad = |reason: String| ReadError::malformed(at, reason);
    let mut rec = KnownRecord {
        number: n,
        ..KnownRecord::default()
    };
    if let Some((hash, quality)) = parse_pdq(line) {
        rec.pdq = Some(PdqHash {
            hash,
            quality: Some(quality),
        });
        return Ok(Some(rec));
    }
    if let Some((size, digest)) = parse_sized(line) {
        let size: u64 = size
            .parse()
            .map_err(|_| bad(format!("size '{size}' is too large")))?;
        rec.size = (size != MD5DEEP_SIZE_CAP).then_some(size);
        set_digest_by_length(&mut rec, digest, blake3).map_err(bad)?;
        return Ok(Some(rec));
    }
    let (tag, digest) = parse_line(line).map_err(bad)?;
    match tag.map(|t| t.to_ascii_uppercase().replace('-', "")) {
        None => set_digest_by_length(&mut rec, digest, blake3).map_err(bad)?,
        Some(t) => match t.as_str() {
            "MD5" => rec.digests.md5 = Some(Md5(hex(digest, "MD5").map_err(bad)?)),
            "SHA1" => rec.digests.sha1 = Some(Sha1(hex(digest, "SHA-1").map_err(bad)?)),
            "SHA256" | "SHA2256" => {
                rec.digests.sha256 = Some(Sha256(hex(digest, "SHA-256").map_err(bad)?))
            }
            "BLAKE3" => rec.digests.blake3 = Some(Blake3(hex(digest, "BLAKE3").map_err(bad)?)),
            other => {
                return Err(bad(format!(
                    "unsupported algorithm '{}' (md5, sha1, sha256 and blake3 are read)",
                    shorten(other)
                )));
            }
        },
    }
    Ok(Some(rec))
}

/// Reads a digest list.
///
/// # Errors
/// A line that is none of the accepted forms, or a digest of the wrong length (handed to the
/// sink as a rejected record); a line over the length limit.
pub fn read(reader: impl BufRead, blake3: bool, sink: &mut Sink) -> Result<(), ReadError> {
    let mut lines = Lines::new(reader);
    while let Some((n, bytes)) = lines.next_line()? {
        match parse_record(n, bytes, blake3) {
            Ok(None) => {}
            Ok(Some(rec)) => deliver(sink, Ok(rec))?,
            Err(e) => deliver(sink, Err(e))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_form_is_recognised() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427f";
        for line in [
            format!("{md5}  name with  spaces"),
            format!("{md5} *binary-mode"),
            format!("\\{md5}  back\\\\slash"),
            format!("MD5 (a (b) = c) = {md5}"),
            format!("MD5(x)= {md5}"),
            md5.to_string(),
        ] {
            let (_, d) = parse_line(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(d, md5, "{line}");
        }
        assert!(parse_line("hello world").is_err());
        assert!(parse_line(&format!("{md5}x  name")).is_err());
    }

    #[test]
    fn pdq_lines_are_told_from_sha256_lines() {
        let h = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
        let (bytes, q) = parse_pdq(&format!("{h},100,bridge.jpg")).expect("pdq line");
        assert_eq!((bytes[0], bytes[31], q), (0xf8, 0x22, 100));
        assert_eq!(parse_pdq(&format!("{h},49")).map(|p| p.1), Some(49));
        for not in [
            format!("{h}  name"),
            format!("{h},101"),
            format!("{h},high"),
            format!("{},90", &h[..62]),
        ] {
            assert!(parse_pdq(&not).is_none(), "{not}");
        }
        assert!(looks_like(&format!("{h},90")));
    }
}
