//! The line readers (hashdeep listings, digest lists with and without --blake3) on arbitrary
//! bytes; the first byte picks the reader.
#![no_main]
use hashsift::import::{hashdeep, lists};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let _ = match pick % 3 {
        0 => hashdeep::read(rest, &mut |_| Ok(())),
        1 => lists::read(rest, false, &mut |_| Ok(())),
        _ => lists::read(rest, true, &mut |_| Ok(())),
    };
});
