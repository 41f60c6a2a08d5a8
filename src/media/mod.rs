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
    /// The eight dihedral hashes ([`pdq::Transform::ALL`] order), when asked for: what a
    /// rotated or mirrored copy of a known image is matched by.
    pub dihedral: Option<Box<[pdq::PdqHash; 8]>>,
    /// "libjpeg-turbo 1/4", "image-rs"; `None` when no decoder took the file.
    pub decoder: Option<&'static str>,
}

/// The largest image file decoded (bigger ones get an error, not a hash).
pub const MAX_IMAGE_FILE: u64 = 512 << 20;

impl ImageHash {
    /// Decodes an image file's bytes and hashes the pixels, and their dihedral transforms
    /// when `dihedral` is set.
    pub fn of(bytes: &[u8], scale: decode::JpegScale, dihedral: bool) -> ImageHash {
        match decode::decode(bytes, scale) {
            Ok(d) if dihedral => {
                let (pdq, all) = pdq::hash_and_dihedral(d.luma);
                ImageHash {
                    decoder: Some(d.decoder),
                    pdq: Ok(pdq),
                    dihedral: Some(Box::new(all.hashes)),
                }
            }
            Ok(d) => ImageHash {
                decoder: Some(d.decoder),
                pdq: Ok(pdq::hash(d.luma)),
                dihedral: None,
            },
            Err(e) => ImageHash::failed(e),
        }
    }

    /// An image with no hash, for this reason.
    pub fn failed(e: decode::DecodeError) -> ImageHash {
        ImageHash {
            pdq: Err(e),
            dihedral: None,
            decoder: None,
        }
    }
}
