//! What a file's content is: detection by magic bytes ([`sniff`]). Image decoding and PDQ
//! will live here too.

pub mod sniff;
