//! Field parsers shared by the readers: hex digests, sizes, and the digest of a source file.

use std::io::Read;
use std::path::Path;

use sha2::Digest;

use crate::digest::{Blake3, Md5, Sha1, Sha256};
use crate::knowndb::record::KnownRecord;

/// Decodes exactly `N` bytes of hex (either case, surrounding spaces ignored).
///
/// # Errors
/// Wrong length or a character that is not a hex digit, said in words.
pub fn hex<const N: usize>(field: &str, what: &str) -> Result<[u8; N], String> {
    let t = field.trim();
    if !t.is_ascii() {
        return Err(format!("{what} '{}' is not hexadecimal", shorten(t)));
    }
    if t.len() != 2 * N {
        return Err(format!(
            "{what} must be {} hex digits, found {} characters ('{}')",
            2 * N,
            t.chars().count(),
            shorten(t)
        ));
    }
    let mut out = [0u8; N];
    crate::digest::hex_into(t.as_bytes(), &mut out)
        .map_err(|_| format!("{what} '{}' is not hexadecimal", shorten(t)))?;
    Ok(out)
}

/// Decodes hex of any even length (PhotoDNA and other opaque values).
///
/// # Errors
/// Odd length or a non-hex character.
pub fn hex_bytes(field: &str, what: &str) -> Result<Vec<u8>, String> {
    let t = field.trim().as_bytes();
    if !t.len().is_multiple_of(2) {
        return Err(format!("{what} has an odd number of hex digits"));
    }
    crate::digest::from_hex(t).map_err(|_| format!("{what} is not hexadecimal"))
}

/// At most 80 characters of `s`, for error messages about huge fields.
pub fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_owned()
    } else {
        let head: String = s.chars().take(77).collect();
        format!("{head}...")
    }
}

/// The algorithm a bare hex digest of this many characters is read as: 32 MD5, 40 SHA-1,
/// 64 SHA-256 (BLAKE3 and PDQ are also 64 digits: name them in a CSV header instead).
///
/// # Errors
/// Any other length, or non-hex text.
pub fn set_digest_by_length(
    rec: &mut KnownRecord,
    field: &str,
    blake3: bool,
) -> Result<(), String> {
    match field.trim().len() {
        32 => rec.digests.md5 = Some(Md5(hex(field, "MD5")?)),
        40 => rec.digests.sha1 = Some(Sha1(hex(field, "SHA-1")?)),
        64 if blake3 => rec.digests.blake3 = Some(Blake3(hex(field, "BLAKE3")?)),
        64 => rec.digests.sha256 = Some(Sha256(hex(field, "SHA-256")?)),
        n => {
            return Err(format!(
                "'{}' is not a digest: {n} characters, expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits",
                shorten(field.trim())
            ));
        }
    }
    Ok(())
}

/// A file size in bytes: a non-negative decimal integer.
///
/// # Errors
/// Anything else.
pub fn size(field: &str) -> Result<u64, String> {
    let t = field.trim();
    t.parse::<u64>()
        .map_err(|_| format!("size '{}' is not a whole number of bytes", shorten(t)))
}

/// SHA-256 of a whole file, kept in the set's provenance; `stop` abandons it.
///
/// # Errors
/// I/O errors, and stopping.
pub fn file_sha256(path: &Path, stop: &dyn Fn() -> bool) -> std::io::Result<[u8; 32]> {
    let mut f = super::open_source(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if stop() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "stopped",
            ));
        }
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_agrees_with_from_str_radix_on_every_ascii_pair() {
        for a in 0u8..128 {
            for b in 0u8..128 {
                let s = String::from_utf8(vec![a, b]).unwrap();
                let expected = s
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit())
                    .then(|| u8::from_str_radix(&s, 16).unwrap());
                assert_eq!(hex::<1>(&s, "x").ok().map(|v| v[0]), expected, "{s:?}");
            }
        }
    }

    #[test]
    fn hex_reads_either_case_and_refuses_bad_digits_and_lengths() {
        assert_eq!(hex::<2>("aB0f", "x"), Ok([0xab, 0x0f]));
        assert_eq!(hex::<2>(" ab0f ", "x"), Ok([0xab, 0x0f]));
        let e = hex::<2>("ab0", "MD5").unwrap_err();
        assert!(e.contains("4 hex digits") && e.contains("found 3"), "{e}");
        assert!(
            hex::<2>("ab0g", "MD5")
                .unwrap_err()
                .contains("not hexadecimal")
        );
        assert!(hex::<2>("äb0", "MD5").is_err());
    }

    #[test]
    fn digest_length_decides_the_algorithm() {
        let mut r = KnownRecord::default();
        set_digest_by_length(&mut r, &"ab".repeat(16), false).unwrap();
        set_digest_by_length(&mut r, &"cd".repeat(20), false).unwrap();
        set_digest_by_length(&mut r, &"ef".repeat(32), false).unwrap();
        let mut b = KnownRecord::default();
        set_digest_by_length(&mut b, &"ef".repeat(32), true).unwrap();
        assert_eq!(b.digests.blake3, Some(Blake3([0xef; 32])));
        assert_eq!(b.digests.sha256, None);
        assert_eq!(r.digests.md5, Some(Md5([0xab; 16])));
        assert_eq!(r.digests.sha1, Some(Sha1([0xcd; 20])));
        assert_eq!(r.digests.sha256, Some(Sha256([0xef; 32])));
        assert!(set_digest_by_length(&mut r, "abc", false).is_err());
    }

    #[test]
    fn sizes_are_whole_non_negative_numbers() {
        assert_eq!(size(" 42 "), Ok(42));
        assert!(size("-1").is_err());
        assert!(size("4.2").is_err());
        assert!(size("forty").is_err());
    }
}
