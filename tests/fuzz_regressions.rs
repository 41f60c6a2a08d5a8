//! Replays every input under `fuzz/regressions/TARGET/` through what that fuzz target calls
//! (`fuzz/fuzz_targets/`): inputs that once crashed a parser or the decoder, kept so the crash
//! stays fixed. Each must now give a result or an error, never a panic. Files are named after
//! what they found.

use std::path::Path;

use hashsift::import::csvsets::{self, CsvOptions, Table};
use hashsift::import::{encase, hashdeep, lists, vics};
use hashsift::media::ImageHash;
use hashsift::media::decode::JpegScale;

/// What the fuzz target `target` does with one input.
fn replay(target: &str, data: &[u8]) {
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
        other => panic!("fuzz/regressions/{other}: no such fuzz target"),
    }
}

#[test]
fn inputs_that_once_crashed_a_fuzz_target_are_handled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for target in std::fs::read_dir(&root).expect("fuzz/regressions") {
        let target = target.unwrap();
        if !target.file_type().unwrap().is_dir() {
            continue;
        }
        let name = target.file_name().into_string().unwrap();
        for input in std::fs::read_dir(target.path()).unwrap() {
            let input = input.unwrap().path();
            let data = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| replay(&name, &data));
            assert!(outcome.is_ok(), "{} panics again", input.display());
            replayed += 1;
        }
    }
    eprintln!("{replayed} regression inputs replayed");
}
