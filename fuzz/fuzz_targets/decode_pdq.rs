//! Image decoding and PDQ (hash and the eight dihedral hashes) on arbitrary bytes, both
//! decoding modes: a hash or a reason, never a crash, within the pixel limits.
#![no_main]
include!("../../tests/support/fuzz_replay.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| replay("decode_pdq", data));
