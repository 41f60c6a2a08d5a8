//! The EnCase legacy `.hash` reader on arbitrary bytes.
#![no_main]
include!("../../tests/support/fuzz_replay.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| replay("import_encase", data));
