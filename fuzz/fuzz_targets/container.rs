//! A container reader (the first byte picks the format) on arbitrary bytes, from a buffer and
//! as a stream, every member read to its end.
#![no_main]
include!("../../tests/support/fuzz_replay.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| replay("container", data));
