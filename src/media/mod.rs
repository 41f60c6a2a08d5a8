//! What a file's content is: detection by magic bytes ([`sniff`]), and the PDQ perceptual
//! hash of an image's pixels ([`pdq`]). Image decoding will live here too.

pub mod decode;
pub mod pdq;
pub mod sniff;
