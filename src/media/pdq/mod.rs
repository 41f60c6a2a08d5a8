//! PDQ, the perceptual hash of the hash-sharing world, as Meta's reference defines it
//! (ThreatExchange `pdq/cpp`, as the `pdqhash` binding calls it on a full-size image), bit for
//! bit: luma, two passes of a box filter along rows and columns, decimation to 64x64, the
//! image-domain quality metric, a 16x16 DCT, and one bit per coefficient above the median.
//! The seven other dihedral hashes (rotations and flips) come from the same DCT by sign changes
//! and transposition.
//!
//! Exactness is in the arithmetic, so every step keeps the reference's types and order:
//! luma in f64 rounded once to f32; the box filter as a running f32 sum (add the new sample,
//! then subtract the old, divide by the samples in the window); the DCT's sums f32 and in
//! ascending order. Where this code is arranged differently for speed (the column pass runs
//! along rows, over every column at once; the DCT's first product runs over rows of the
//! image), each output value still sees the same operations in the same order.
//!
//! The stages are sub-modules: `luma.rs` (RGB or grey to luma, and the buffers a thread
//! keeps), `filter.rs` (the box filter and the decimation to 64x64), `quality.rs`, `dct.rs`
//! (the DCT, the median and the dihedral transforms) and `hash.rs` (the [`PdqHash`] type).
//! This file holds the public API and runs the stages in order.

mod dct;
mod filter;
mod hash;
mod luma;
mod quality;

pub use hash::PdqHash;
pub use luma::Luma;
pub(crate) use luma::{give_u8, take_u8};

use dct::{bits, dct16, transformed};
use filter::blur_and_decimate;
use quality::quality;

/// Images with a side under this many pixels get the zero hash and quality 0.
pub const MIN_DIMENSION: usize = 5;

/// The eight dihedral transforms, in the reference's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    Original,
    /// 90 degrees counter-clockwise.
    Rotate90,
    Rotate180,
    /// 90 degrees clockwise.
    Rotate270,
    /// Top and bottom swapped.
    FlipX,
    /// Left and right swapped (a mirror image).
    FlipY,
    /// Transposed (upper left and lower right stay).
    FlipPlus1,
    /// Anti-transposed (upper right and lower left stay).
    FlipMinus1,
}

impl Transform {
    pub const ALL: [Transform; 8] = [
        Transform::Original,
        Transform::Rotate90,
        Transform::Rotate180,
        Transform::Rotate270,
        Transform::FlipX,
        Transform::FlipY,
        Transform::FlipPlus1,
        Transform::FlipMinus1,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Transform::Original => "original",
            Transform::Rotate90 => "rot90",
            Transform::Rotate180 => "rot180",
            Transform::Rotate270 => "rot270",
            Transform::FlipX => "flipx",
            Transform::FlipY => "flipy",
            Transform::FlipPlus1 => "flip_plus1",
            Transform::FlipMinus1 => "flip_minus1",
        }
    }
}

/// A hash and the reference's quality (0-100; under 50 the hash is too unreliable to match on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pdq {
    pub hash: PdqHash,
    pub quality: u8,
}

/// The hashes of the eight transforms ([`Transform::ALL`] order) and their one quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dihedral {
    pub hashes: [PdqHash; 8],
    pub quality: u8,
}

/// The PDQ hash and quality of an image, as the reference's `pdqhash.compute` gives them (a
/// 64x64 image is used as it is, without the box filter).
pub fn hash(luma: Luma) -> Pdq {
    if luma.width < MIN_DIMENSION || luma.height < MIN_DIMENSION {
        return Pdq {
            hash: PdqHash::default(),
            quality: 0,
        };
    }
    let small = bypassed(&luma).unwrap_or_else(|| blur_and_decimate(luma));
    pdq_of(&small, &dct16(&small))
}

/// The eight dihedral hashes and the quality, as the reference's `compute_dihedral` gives
/// them (which always applies the box filter: for a 64x64 image its first hash can differ from
/// [`hash`](fn@hash)'s in a few bits).
pub fn dihedral(luma: Luma) -> Dihedral {
    hash_and_dihedral(luma).1
}

/// [`hash`](fn@hash) and [`dihedral`] of one image, from one filter pass (two for a 64x64 image).
pub fn hash_and_dihedral(luma: Luma) -> (Pdq, Dihedral) {
    if luma.width < MIN_DIMENSION || luma.height < MIN_DIMENSION {
        let zero = PdqHash::default();
        return (
            Pdq {
                hash: zero,
                quality: 0,
            },
            Dihedral {
                hashes: [zero; 8],
                quality: 0,
            },
        );
    }
    let bypass = bypassed(&luma).map(|small| pdq_of(&small, &dct16(&small)));
    let small = blur_and_decimate(luma);
    let dct = dct16(&small);
    let mut hashes = [PdqHash::default(); 8];
    for (h, t) in hashes.iter_mut().zip(Transform::ALL) {
        *h = bits(&transformed(&dct, t));
    }
    let quality = quality(&small);
    let pdq = bypass.unwrap_or(Pdq {
        hash: hashes[0],
        quality,
    });
    (pdq, Dihedral { hashes, quality })
}

/// A 64x64 image as `compute` takes it, unfiltered; `None` for any other size.
fn bypassed(luma: &Luma) -> Option<Box<[[f32; 64]; 64]>> {
    if luma.width != 64 || luma.height != 64 {
        return None;
    }
    let mut a = Box::new([[0f32; 64]; 64]);
    for (row, values) in a.iter_mut().zip(luma.values.chunks_exact(64)) {
        row.copy_from_slice(values);
    }
    Some(a)
}

/// The hash and quality of a 64x64 image whose DCT is `dct`.
fn pdq_of(small: &[[f32; 64]; 64], dct: &[[f32; 16]; 16]) -> Pdq {
    Pdq {
        hash: bits(dct),
        quality: quality(small),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_images_get_the_zero_hash_and_quality_0() {
        for (w, h) in [(4, 100), (100, 4), (1, 1)] {
            let luma = Luma::from_grey8(&vec![200; w * h], w, h);
            assert_eq!(
                hash(luma),
                Pdq {
                    hash: PdqHash::default(),
                    quality: 0
                }
            );
        }
        let d = dihedral(Luma::from_grey8(&[9; 16], 4, 4));
        assert_eq!(d.quality, 0);
        assert!(d.hashes.iter().all(|h| *h == PdqHash::default()));
    }
}
