//! The shapes VICS exporters write a field's value in: a hex digest borrowed from the
//! record's bytes, numbers as JSON numbers or as strings, yes/no values in five spellings,
//! tags as a string or an array, a series as text or a number. Each is a visitor (not an
//! untagged enum, which buffers every value first).

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::super::fields::shorten;
use crate::knowndb::category::parse_flag;

/// A string borrowed from the record's bytes when it has no escapes to undo (hex digests
/// never do), or null.
#[derive(Default)]
pub(super) struct MaybeStr<'a>(pub(super) Option<std::borrow::Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for MaybeStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> de::Visitor<'de> for V<'a> {
            type Value = MaybeStr<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string of hex digits, or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<MaybeStr<'a>, E> {
                Ok(MaybeStr(Some(std::borrow::Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<MaybeStr<'a>, E> {
                Ok(MaybeStr(Some(std::borrow::Cow::Owned(s.to_owned()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<MaybeStr<'a>, E> {
                Ok(MaybeStr(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `Category`: an integer code that VICS writes as a JSON number or as a string (`"8"`);
/// null or an empty string is no code.
#[derive(Default)]
pub(super) struct Code(pub(super) Option<i64>);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Code;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer code (or a string holding one), or null")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Code, E> {
                Ok(Code(Some(n)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Code, E> {
                i64::try_from(n)
                    .map(|n| Code(Some(n)))
                    .map_err(|_| E::custom(format!("{n} is too large")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Code, E> {
                let t = s.trim();
                if t.is_empty() {
                    return Ok(Code(None));
                }
                let digits = t.strip_prefix('-').unwrap_or(t);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(format!("'{}' is not an integer", shorten(t))));
                }
                t.parse()
                    .map(|n| Code(Some(n)))
                    .map_err(|_| E::custom(format!("'{}' is too large", shorten(t))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Code, E> {
                Ok(Code(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A whole number that VICS writes as a JSON number or, as NIST's files do, as a string
/// (`"MediaSize":"488"`); null or an empty string is none.
#[derive(Default)]
pub(super) struct WholeNumber(pub(super) Option<u64>);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = WholeNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number (or a string holding one), or null")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<WholeNumber, E> {
                Ok(WholeNumber(Some(n)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<WholeNumber, E> {
                u64::try_from(n)
                    .map(|n| WholeNumber(Some(n)))
                    .map_err(|_| E::custom(format!("{n} is negative")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<WholeNumber, E> {
                let t = s.trim();
                if t.is_empty() {
                    return Ok(WholeNumber(None));
                }
                // Digits only: "+5", "1e3" and "4.0" are not what an exporter writes.
                if !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(format!("'{}' is not a whole number", shorten(t))));
                }
                t.parse()
                    .map(|n| WholeNumber(Some(n)))
                    .map_err(|_| E::custom(format!("'{}' is too large", shorten(t))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<WholeNumber, E> {
                Ok(WholeNumber(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A yes/no that VICS writes as a boolean, a string, 0 or 1, or null. (A visitor, not an
/// untagged enum: serde buffers an untagged value before trying each variant, which cost more
/// than the rest of the record.)
#[derive(Default)]
pub(super) struct FlexBool(pub(super) Option<bool>);

impl<'de> Deserialize<'de> for FlexBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = FlexBool;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a yes/no value (true, false, \"true\", \"false\", 0, 1) or null")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<FlexBool, E> {
                Ok(FlexBool(Some(b)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<FlexBool, E> {
                match n {
                    0 => Ok(FlexBool(Some(false))),
                    1 => Ok(FlexBool(Some(true))),
                    _ => Err(E::custom(format!("{n} is not a yes/no value"))),
                }
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<FlexBool, E> {
                self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<FlexBool, E> {
                parse_flag(s).map(FlexBool).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<FlexBool, E> {
                Ok(FlexBool(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// `Tags`: a string (comma-separated) or an array of strings.
#[derive(Default)]
pub(super) struct Tags(pub(super) Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Tags;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, an array of strings, or null")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Tags, E> {
                Ok(Tags(
                    s.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect(),
                ))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
                let mut tags = Vec::new();
                while let Some(t) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    let t = t.trim();
                    if !t.is_empty() {
                        tags.push(t.to_owned());
                    }
                }
                Ok(Tags(tags))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `Series`: text, or a number some exports write.
#[derive(Default)]
pub(super) struct Text(pub(super) Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, a whole number, or null")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text(Some(s.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Text, E> {
                Ok(Text(Some(n.to_string())))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Text, E> {
                Ok(Text(Some(n.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}
