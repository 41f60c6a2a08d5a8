//! Image decoding and PDQ (hash and the eight dihedral hashes) on arbitrary bytes, both
//! decoding modes: a hash or a reason, never a crash, within the pixel limits.
#![no_main]
use hashsift::media::ImageHash;
use hashsift::media::decode::JpegScale;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = ImageHash::of(data, JpegScale::Full, true);
    let _ = ImageHash::of(data, JpegScale::Fast, false);
});
