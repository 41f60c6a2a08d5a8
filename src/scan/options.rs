//! A scan's settings: what it reads, which database, how it looks digests up and matches
//! images.

use std::path::PathBuf;

use crate::media::decode::JpegScale;

/// Validated settings of a `scan` run.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// Evidence roots, absolute.
    pub roots: Vec<PathBuf>,
    pub db: PathBuf,
    /// Worker threads for walking and hashing.
    pub threads: usize,
    pub lookup: LookupChoice,
    /// How images are hashed and matched with PDQ; `None` hashes no image.
    pub pdq: Option<PdqMatching>,
    /// Limits of opening containers; `None` hashes each container as one file only.
    pub archives: Option<crate::container::Limits>,
    /// How videos are sampled for vPDQ; `None` hashes no video.
    pub video: Option<crate::media::video::VideoConfig>,
    /// How disk images are opened; `None` hashes each as a file only.
    pub images: Option<crate::expand::ImageOptions>,
}

/// How a scan hashes images with PDQ and suggests categories from near matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdqMatching {
    pub scale: JpegScale,
    /// Images of lower quality (flat, nearly blank) are hashed but not matched: their hashes
    /// say little about the picture.
    pub min_quality: u8,
    /// The farthest (in bits of 256) a known hash may be from one of an image's eight
    /// dihedral hashes to be suggested.
    pub max_distance: u32,
}

impl Default for PdqMatching {
    fn default() -> Self {
        PdqMatching {
            scale: JpegScale::Full,
            min_quality: 50,
            max_distance: 31,
        }
    }
}

/// The farthest distance a scan may be asked to match at: beyond it, PDQ tells no picture
/// from its neighbours (unrelated images are about 128 bits apart), and a search costs more
/// than it finds.
pub const MAX_PDQ_DISTANCE: u32 = 64;

/// The nearest known images reported for one image.
pub const MAX_SUGGESTIONS: usize = 8;

/// How a scan looks digests up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LookupChoice {
    /// Whichever costs less for this many files against this many known media.
    #[default]
    Auto,
    /// Load every known hash's key into memory first.
    Index,
    /// Ask the database's key indexes about each digest.
    Direct,
}
