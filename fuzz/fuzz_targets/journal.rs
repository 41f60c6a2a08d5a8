//! The scan journal's reader (`scan --resume`) on arbitrary bytes: a journal on a failing disk,
//! or cut short by a power cut, must be read up to its last whole record or refused.
//! The first byte picks a whole journal (0) or one record's payload (anything else): random
//! bytes never pass a record's check, so the second mode reaches the record parsers.
#![no_main]
include!("../../tests/support/fuzz_replay.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| replay("journal", data));
