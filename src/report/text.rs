//! How paths and other evidence-derived text are written in text formats.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::digest::to_hex;

/// A name as text: the exact string when it is valid UTF-8, otherwise a lossy rendering (invalid
/// bytes as U+FFFD) for reading plus the exact bytes in hex.
pub struct Text {
    pub text: String,
    /// The exact bytes in lower-case hex, set only when `text` is not exact.
    pub hex: Option<String>,
}

impl Text {
    pub fn of(name: &OsStr) -> Text {
        match name.to_str() {
            Some(s) => Text {
                text: s.to_owned(),
                hex: None,
            },
            None => Text {
                text: name.to_string_lossy().into_owned(),
                hex: Some(to_hex(name.as_bytes())),
            },
        }
    }
}

/// `bytes` made safe for one line of a line-based format: backslash, LF and CR become `\\`,
/// `\n` and `\r`. Returns `None` when nothing needed escaping.
pub fn escape_line_breaks(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    Some(out)
}

/// A command line as one string, each argument quoted for a POSIX shell when it needs to be.
pub fn command_line(args: &[std::ffi::OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let bytes = arg.as_bytes();
        let plain = !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./,=:+@%".contains(b));
        if plain {
            out.extend_from_slice(bytes);
        } else {
            out.push(b'\'');
            for &b in bytes {
                if b == b'\'' {
                    out.extend_from_slice(b"'\\''");
                } else {
                    out.push(b);
                }
            }
            out.push(b'\'');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_keeps_exact_bytes_in_hex() {
        let t = Text::of(OsStr::from_bytes(b"a\xffb"));
        assert_eq!(t.text, "a\u{fffd}b");
        assert_eq!(t.hex.as_deref(), Some("61ff62"));
        assert!(Text::of(OsStr::new("plain")).hex.is_none());
    }

    #[test]
    fn line_breaks_escaped_only_when_present() {
        assert_eq!(escape_line_breaks(b"a\\b"), None);
        assert_eq!(
            escape_line_breaks(b"a\\b\nc\r").unwrap(),
            b"a\\\\b\\nc\\r".to_vec()
        );
    }

    #[test]
    fn command_line_quotes_what_a_shell_would_split() {
        let args: Vec<std::ffi::OsString> = ["hashsift", "hash", "a b", "it's", ""]
            .iter()
            .map(Into::into)
            .collect();
        assert_eq!(
            String::from_utf8(command_line(&args)).unwrap(),
            "hashsift hash 'a b' 'it'\\''s' ''"
        );
    }
}
