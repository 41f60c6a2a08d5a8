//! The table readers (ICSE, NSRL RDS 2.x, HashKeeper, generic CSV) on arbitrary bytes; the
//! first byte picks the table.
#![no_main]
include!("../../tests/support/fuzz_replay.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| replay("import_tables", data));
