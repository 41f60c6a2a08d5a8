//! What a file's content is: detection by magic bytes ([`sniff`]); image decoding with limits
//! ([`decode`]); and the PDQ perceptual hash of an image's pixels ([`pdq`]).

use std::sync::Arc;

pub mod decode;
pub mod pdq;
pub mod sniff;
pub mod video;

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

/// How images are hashed with PDQ.
#[derive(Clone, Copy, Debug)]
pub struct PdqConfig {
    pub scale: decode::JpegScale,
    /// Also the eight dihedral hashes, for matching.
    pub dihedral: bool,
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

    /// The same, shared by every image that fails for the same reason: a million damaged
    /// images hold a pointer each, not a record each.
    pub fn failed_shared(e: decode::DecodeError) -> Arc<ImageHash> {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static SHARED: OnceLock<Mutex<HashMap<decode::DecodeError, Arc<ImageHash>>>> =
            OnceLock::new();
        let mut shared = SHARED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = shared.get(&e) {
            return Arc::clone(f);
        }
        let f = Arc::new(ImageHash::failed(e.clone()));
        if shared.len() < decode::SHARED_REASONS {
            shared.insert(e, Arc::clone(&f));
        }
        f
    }

    /// [`ImageHash::of`], shared when it failed ([`ImageHash::failed_shared`]).
    pub fn of_shared(bytes: &[u8], scale: decode::JpegScale, dihedral: bool) -> Arc<ImageHash> {
        match ImageHash::of(bytes, scale, dihedral) {
            ImageHash { pdq: Err(e), .. } => ImageHash::failed_shared(e),
            ok => Arc::new(ok),
        }
    }
}
