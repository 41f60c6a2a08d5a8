//! Text from untrusted sources (hash-set names, labels, codes, paths, values quoted in error
//! messages) made safe to print on a terminal: control characters are written out visibly
//! instead of being sent raw, so a set cannot retitle the examiner's window (`ESC ] 0;`),
//! clear the screen (`ESC [ 2J`), ring the bell, or overwrite a line with a carriage return.
//! And text written into a spreadsheet cell (report and export CSV) kept from being read as a
//! formula.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal raw: C0 controls (tab and line feed included: a
/// value is printed on one line), DEL, C1 controls (U+0080-U+009F, among them the one-byte
/// CSI U+009B), and the Unicode bidirectional overrides and isolates, which reorder what
/// follows them on the line.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character written visibly: `\t`, `\n`, `\r`, `\x1b` for the other
/// ASCII controls, `\u{9b}` for the rest. Borrowed when nothing needed escaping.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) {
            out.push(c);
            continue;
        }
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// [`escape`] for an optional value.
pub fn escape_opt(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(escape)
}

/// Whether a spreadsheet would read a cell starting like `s` as a formula.
pub fn looks_like_formula(s: &str) -> bool {
    matches!(
        s.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// `s` as a spreadsheet cell: a leading `'` when it would be taken for a formula.
pub fn neutralise(s: String) -> String {
    if looks_like_formula(&s) {
        format!("'{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_written_visibly_and_plain_text_is_kept() {
        assert!(matches!(escape("Cat A: CSAM (é, 漢)"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\x1b]0;pwned\x07b\x1b[2Jc"),
            "a\\x1b]0;pwned\\x07b\\x1b[2Jc"
        );
        assert_eq!(escape("x\u{9b}31m\r\n\t\x7f"), "x\\u{9b}31m\\r\\n\\t\\x7f");
        assert_eq!(escape("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
        // Nothing unsafe survives, whatever the input.
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let s = c.to_string();
            assert!(
                !escape(&s).chars().any(is_unsafe),
                "U+{:04X} left raw",
                c as u32
            );
        }
    }

    #[test]
    fn formula_prefixes() {
        for s in ["=1+1", "+x", "-x", "@x", "\tx", "\rx"] {
            assert!(looks_like_formula(s), "{s:?}");
        }
        assert!(!looks_like_formula("/evidence/a.jpg"));
    }
}
