//! The line readers (hashdeep listings, digest lists with and without --blake3) on arbitrary
//! bytes; the first byte picks the reader.
#![no_main]
include!("../../tests/support/fuzz_replay.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| replay("import_lists", data));
