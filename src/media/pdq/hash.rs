//! The 256-bit PDQ hash: its bits, its distance, its hex and byte forms.

use std::fmt;

/// A 256-bit PDQ hash: word `i` holds the signs of row `i` of the DCT, bit `j` column `j`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PdqHash(pub [u16; 16]);

impl PdqHash {
    /// The number of bits in which two hashes differ.
    pub fn distance(&self, other: &PdqHash) -> u32 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// Parses the reference's 64 hex digits (the last word first), in either case.
    pub fn from_hex(hex: &str) -> Option<PdqHash> {
        let mut bytes = [0u8; 32];
        crate::digest::hex_into(hex.as_bytes(), &mut bytes).ok()?;
        Some(PdqHash::from_bytes(&bytes))
    }

    /// The hash as 32 bytes in the order of its hex form.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (k, w) in self.0.iter().rev().enumerate() {
            out[2 * k..2 * k + 2].copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// The inverse of [`PdqHash::to_bytes`].
    pub fn from_bytes(bytes: &[u8; 32]) -> PdqHash {
        let mut words = [0u16; 16];
        for (k, pair) in bytes.chunks(2).enumerate() {
            words[15 - k] = u16::from_be_bytes([pair[0], pair[1]]);
        }
        PdqHash(words)
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::digest::to_hex(&self.to_bytes()))
    }
}

/// Serialises as its hex (the 32 bytes' lower-case hex, as the reference writes it).
impl serde::Serialize for PdqHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_with_the_last_word_first() {
        let mut words = [0u16; 16];
        words[15] = 0xf8f8;
        words[0] = 0x9b22;
        let h = PdqHash(words);
        let hex = h.to_string();
        assert!(hex.starts_with("f8f8") && hex.ends_with("9b22"), "{hex}");
        assert_eq!(PdqHash::from_hex(&hex), Some(h));
        assert_eq!(PdqHash::from_bytes(&h.to_bytes()), h);
        assert_eq!(&h.to_bytes()[..2], &[0xf8, 0xf8]);
        assert_eq!(PdqHash::from_hex("xyz"), None);
        assert_eq!(PdqHash::from_hex(&"g".repeat(64)), None);
        assert_eq!(PdqHash::from_hex(&hex.to_ascii_uppercase()), Some(h));
        // Hex digits only: no sign (the word-wise parse once took "+fff" as a word).
        let signed = format!("+fff{}", &hex[4..]);
        assert_eq!(PdqHash::from_hex(&signed), None);
    }
}
