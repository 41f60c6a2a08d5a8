//! The content sniffer on an arbitrary head, with the head's length and a larger size.
#![no_main]
include!("../../tests/support/fuzz_replay.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| replay("sniff", data));
