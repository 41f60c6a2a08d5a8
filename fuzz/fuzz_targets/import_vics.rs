//! The VICS 1.x / 2.0 JSON reader on arbitrary bytes: records or an error, never a panic.
#![no_main]
include!("../../tests/support/fuzz_replay.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| replay("import_vics", data));
