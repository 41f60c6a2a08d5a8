// What each fuzz target does with one input, shared word for word by the targets
// (`fuzz/fuzz_targets/*.rs`, through `include!`) and by the replay of their regression inputs
// (`tests/fuzz_regressions.rs`), so the two cannot drift apart.

use hashsift::import::csvsets::{self, CsvOptions, Table};
use hashsift::import::{encase, hashdeep, lists, vics};
use hashsift::media::ImageHash;
use hashsift::media::decode::JpegScale;

/// What the fuzz target `target` does with one input.
pub fn replay(target: &str, data: &[u8]) {
    let sink = &mut |_| Ok(());
    match target {
        "import_vics" => drop(vics::read(data, sink)),
        "import_tables" => {
            if let Some((&pick, rest)) = data.split_first() {
                let table = [
                    Table::Icse,
                    Table::NsrlRds2,
                    Table::HashKeeper,
                    Table::Generic,
                ][pick as usize % 4];
                drop(csvsets::read(table, rest, &CsvOptions::default(), sink));
            }
        }
        "import_lists" => {
            if let Some((&pick, rest)) = data.split_first() {
                drop(match pick % 3 {
                    0 => hashdeep::read(rest, sink),
                    1 => lists::read(rest, false, sink),
                    _ => lists::read(rest, true, sink),
                });
            }
        }
        "import_encase" => drop(encase::read(data, sink)),
        "sniff" => {
            hashsift::media::sniff::sniff(data, data.len() as u64);
            hashsift::media::sniff::sniff(data, u64::MAX);
        }
        "decode_pdq" => {
            ImageHash::of(data, JpegScale::Full, true);
            ImageHash::of(data, JpegScale::Fast, false);
        }
        // The first byte picks: 0 a whole journal, else one record's payload.
        "journal" => match data.split_first() {
            Some((0, journal)) => drop(hashsift::scan::journal::check(journal)),
            Some((_, payload)) => drop(hashsift::scan::journal::check_record(payload)),
            None => {}
        },
        other => panic!("fuzz/regressions/{other}: no such fuzz target"),
    }
}
