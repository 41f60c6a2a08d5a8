//! The EnCase legacy `.hash` reader on arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = hashsift::import::encase::read(data, &mut |_| Ok(()));
});
