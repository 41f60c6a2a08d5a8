//! The table readers (ICSE, NSRL RDS 2.x, HashKeeper, generic CSV) on arbitrary bytes; the
//! first byte picks the table.
#![no_main]
use hashsift::import::csvsets::{self, CsvOptions, Table};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let table = [
        Table::Icse,
        Table::NsrlRds2,
        Table::HashKeeper,
        Table::Generic,
    ][pick as usize % 4];
    let _ = csvsets::read(table, rest, &CsvOptions::default(), &mut |_| Ok(()));
});
