//! What a file's content is: detection by magic bytes ([`sniff`]); image decoding with limits
//! ([`decode`]); and the PDQ perceptual hash of an image's pixels ([`pdq`]).

pub mod decode;
pub mod pdq;
pub mod sniff;

/// What PDQ made of an image file: its hash and quality, or why there is none, and the
/// decoder that read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageHash {
    pub pdq: Result<pdq::Pdq, decode::DecodeError>,
    /// "libjpeg-turbo 1/4", "image-rs"; `None` when no decoder took the file.
    pub decoder: Option<&'static str>,
}

/// The largest image file decoded (bigger ones get an error, not a hash).
pub const MAX_IMAGE_FILE: u64 = 512 << 20;

impl ImageHash {
    /// Decodes an image file's bytes and hashes the pixels.
    pub fn of(bytes: &[u8], scale: decode::JpegScale) -> ImageHash {
        match decode::decode(bytes, scale) {
            Ok(d) => ImageHash {
                decoder: Some(d.decoder),
                pdq: Ok(pdq::hash(d.luma)),
            },
            Err(e) => ImageHash {
                pdq: Err(e),
                decoder: None,
            },
        }
    }
}
