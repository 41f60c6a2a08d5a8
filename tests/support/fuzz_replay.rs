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
        // The first byte picks the format; the rest is read as that container, from a buffer
        // and as a stream, every member read to its end under small limits.
        "container" => {
            if let Some((&pick, rest)) = data.split_first() {
                container_replay(pick, rest);
            }
        }
        other => panic!("fuzz/regressions/{other}: no such fuzz target"),
    }
}

/// Reads every member of `data` as the container format `pick` selects.
fn container_replay(pick: u8, data: &[u8]) {
    use hashsift::container::{self, Budget, Format, Limits, Member, Source, Stop, Visit};
    use std::io::Read;
    struct Drain;
    impl Visit for Drain {
        fn member(&mut self, _: Member, content: Option<&mut dyn Read>) -> Result<(), Stop> {
            if let Some(r) = content {
                let _ = std::io::copy(r, &mut std::io::sink());
            }
            Ok(())
        }
    }
    let format = [
        Format::Zip,
        Format::Tar,
        Format::SevenZip,
        Format::Gzip,
        Format::Bzip2,
        Format::Xz,
        Format::Zstd,
    ][pick as usize % 7];
    let limits = Limits {
        members: 1000,
        bytes: 64 << 20,
        ratio: 100,
        ratio_floor: 16 << 20,
        in_memory: 16 << 20,
        ..Limits::default()
    };
    let budget = Budget::new(limits, data.len() as u64);
    // `expand` turns a reader's panic into a stop, so that a scan goes on: here it is the
    // finding, and fails the run as the panic would.
    let surfaced = |stopped: Result<(), Stop>| {
        if let Err(Stop::Damaged(why)) = &stopped {
            assert!(!why.contains("reader failed on this data"), "{why}");
        }
    };
    surfaced(container::expand(
        format,
        Source::Seekable(&mut std::io::Cursor::new(data)),
        &budget,
        &mut Drain,
    ));
    let budget = Budget::new(limits, data.len() as u64);
    surfaced(container::expand(
        format,
        Source::Stream(&mut &data[..]),
        &budget,
        &mut Drain,
    ));
}
