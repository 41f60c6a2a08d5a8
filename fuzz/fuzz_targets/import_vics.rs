//! The VICS 1.x / 2.0 JSON reader on arbitrary bytes: records or an error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = hashsift::import::vics::read(data, &mut |_| Ok(()));
});
