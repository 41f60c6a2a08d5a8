//! The content sniffer on an arbitrary head, with the head's length and a larger size.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = hashsift::media::sniff::sniff(data, data.len() as u64);
    let _ = hashsift::media::sniff::sniff(data, u64::MAX);
});
