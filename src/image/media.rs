//! A disk image's media (the bytes of the disk it was taken from): a raw image, split raw
//! segments (`.001`, `.002`...) or EWF segments (`.E01`, `.E02`...), each segment opened by
//! hashsift as evidence is (read-only, its access time untouched).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::read::evidence;

/// EWF's signature, at the start of every segment file.
pub const EWF_SIGNATURE: &[u8; 8] = b"EVF\x09\x0d\x0a\xff\x00";

/// The most segments an image may have (EWF names go to `.EZZ`: 99 + 26 x 26).
const MAX_SEGMENTS: usize = 775;

/// How the media is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Raw,
    Ewf,
}

/// The media of an image, read anywhere.
pub struct Media {
    pub format: Format,
    /// The segment files, in order.
    pub segments: Vec<PathBuf>,
    pub size: u64,
    inner: Inner,
}

enum Inner {
    /// Each segment with the media offset it starts at.
    Raw(Vec<(File, u64)>),
    Ewf(Box<ewf::EwfReader>),
}

/// The hashes an EWF image stores of its media.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
}

/// The segment names that follow `first` (`x.E01` -> `x.E02`... `x.E99`, `x.EAA`...; `x.001`
/// -> `x.002`...), as far as they exist; `first` alone for any other name.
pub fn segments(first: &Path) -> Vec<PathBuf> {
    let mut out = vec![first.to_owned()];
    let Some(ext) = first.extension().and_then(|e| e.to_str()) else {
        return out;
    };
    let names: Box<dyn Iterator<Item = String>> =
        if ext.len() == 3 && ext.as_bytes()[0].eq_ignore_ascii_case(&b'e') && &ext[1..] == "01" {
            let e = &ext[..1];
            let upper = e == "E";
            Box::new(
                (2..=99)
                    .map(move |n| format!("{e}{n:02}"))
                    .chain((b'A'..=b'Z').flat_map(move |a| {
                        (b'A'..=b'Z').map(move |b| {
                            let s = format!("{e}{}{}", a as char, b as char);
                            if upper { s } else { s.to_ascii_lowercase() }
                        })
                    })),
            )
        } else if ext == "001" {
            Box::new((2..=999).map(|n| format!("{n:03}")))
        } else {
            return out;
        };
    for name in names.take(MAX_SEGMENTS) {
        let next = first.with_extension(name);
        if !std::fs::symlink_metadata(&next).is_ok_and(|m| m.is_file()) {
            break;
        }
        out.push(next);
    }
    out
}

/// The last segment of an EWF image, read past its end as zeros. The `ewf` crate (0.4.10)
/// reads a full chunk for the image's last chunk when it is stored uncompressed and shorter
/// (a disk whose size is not a multiple of the chunk size), and refuses the short read; the
/// bytes past the media's end are never served. A last segment cut short is then caught by
/// the media hash against the stored one, as any damage is.
struct LastSegment {
    file: File,
    len: u64,
}

impl ewf::SegmentBacking for LastSegment {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let at = offset + filled as u64;
            if at >= self.len {
                buf[filled..].fill(0);
                return Ok(buf.len());
            }
            match std::os::unix::fs::FileExt::read_at(&self.file, &mut buf[filled..], at) {
                Ok(0) => {
                    buf[filled..].fill(0);
                    return Ok(buf.len());
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }

    fn len(&self) -> u64 {
        self.len
    }
}

/// Why an image's media cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("not a readable EWF image: {0}")]
    Ewf(String),
}

impl Media {
    /// Opens the image whose first segment is `first`, finding the others by name.
    ///
    /// # Errors
    /// A segment cannot be opened; the EWF structures do not read.
    pub fn open(first: &Path) -> Result<Media, OpenError> {
        let segments = segments(first);
        let mut files = Vec::with_capacity(segments.len());
        for path in &segments {
            let file = evidence::open_read_only(path, 0).map_err(|source| OpenError::Io {
                path: path.clone(),
                source,
            })?;
            files.push(file);
        }
        let mut head = [0u8; 8];
        let n = std::os::unix::fs::FileExt::read_at(&files[0], &mut head, 0).map_err(|source| {
            OpenError::Io {
                path: first.to_owned(),
                source,
            }
        })?;
        if n == head.len() && &head == EWF_SIGNATURE {
            let last = files.len() - 1;
            let mut sources = Vec::with_capacity(files.len());
            for (i, file) in files.into_iter().enumerate() {
                sources.push(if i == last {
                    let len = file.metadata().map_err(|source| OpenError::Io {
                        path: segments[i].clone(),
                        source,
                    })?;
                    ewf::SegmentSource::from_backing(std::sync::Arc::new(LastSegment {
                        file,
                        len: len.len(),
                    }))
                } else {
                    ewf::SegmentSource::File(file)
                });
            }
            let reader = ewf::EwfReader::open_from_sources(sources)
                .map_err(|e| OpenError::Ewf(e.to_string()))?;
            // A segment missing (the next name not there): its chunks are not, and the media
            // would read short or as zeros.
            let held = reader.chunk_count() as u64 * reader.chunk_size();
            if held < reader.total_size() {
                return Err(OpenError::Ewf(format!(
                    "the image declares {} bytes of media, its {} segment files hold {held}: a \
                     segment is missing after {}",
                    reader.total_size(),
                    segments.len(),
                    segments.last().unwrap_or(&first.to_owned()).display()
                )));
            }
            return Ok(Media {
                format: Format::Ewf,
                segments,
                size: reader.total_size(),
                inner: Inner::Ewf(Box::new(reader)),
            });
        }
        let mut parts = Vec::with_capacity(files.len());
        let mut size = 0u64;
        for (file, path) in files.into_iter().zip(&segments) {
            let len = file
                .metadata()
                .map_err(|source| OpenError::Io {
                    path: path.clone(),
                    source,
                })?
                .len();
            parts.push((file, size));
            size += len;
        }
        Ok(Media {
            format: Format::Raw,
            segments,
            size,
            inner: Inner::Raw(parts),
        })
    }

    /// The hashes of the media an EWF image stores.
    pub fn stored(&self) -> Stored {
        match &self.inner {
            Inner::Raw(_) => Stored::default(),
            Inner::Ewf(r) => {
                let h = r.stored_hashes();
                Stored {
                    md5: h.md5,
                    sha1: h.sha1,
                }
            }
        }
    }

    /// Reads into `buf` from the media's `offset`: fewer bytes at the end of the media or of
    /// a raw segment.
    ///
    /// # Errors
    /// A segment cannot be read; EWF data that does not decode.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.size - offset).unwrap_or(usize::MAX));
        match &self.inner {
            Inner::Raw(parts) => {
                let i = parts.partition_point(|(_, start)| *start <= offset) - 1;
                let (file, start) = &parts[i];
                let end = parts.get(i + 1).map_or(self.size, |(_, s)| *s);
                let len = want.min(usize::try_from(end - offset).unwrap_or(usize::MAX));
                std::os::unix::fs::FileExt::read_at(file, &mut buf[..len], offset - start)
            }
            Inner::Ewf(r) => r
                .read_at(&mut buf[..want], offset)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        }
    }
}

impl Media {
    /// The MD5 and SHA-1 of the whole media, read front to back (what an EWF image stores of
    /// it, and what `ewfverify` computes); `on_bytes` is told of each piece read.
    ///
    /// # Errors
    /// A segment cannot be read, EWF data does not decode, or `cancel` was set (`Interrupted`).
    pub fn digest(
        &self,
        cancel: &crate::cancel::Cancel,
        on_bytes: &dyn Fn(u64),
    ) -> io::Result<crate::digest::Digests> {
        use crate::digest::{Algorithm, AlgorithmSet, MultiHasher};
        let mut algorithms = AlgorithmSet::default();
        algorithms.insert(Algorithm::Md5);
        algorithms.insert(Algorithm::Sha1);
        let mut hasher = MultiHasher::new(algorithms);
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < self.size {
            if cancel.is_cancelled() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
            }
            let n = match self.read_at(&mut buf, at) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the media ends at {at} of its {} bytes", self.size),
                    ));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            at += n as u64;
            on_bytes(n as u64);
        }
        Ok(hasher.finish())
    }
}

#[cfg(tsk)]
impl super::tsk::ReadAt for Media {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        Media::read_at(self, buf, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn whole(media: &Media) -> Vec<u8> {
        let mut out = vec![0u8; media.size as usize];
        let mut at = 0;
        while at < out.len() {
            // Odd-sized reads, across segment boundaries.
            let end = (at + 77_777).min(out.len());
            let n = media.read_at(&mut out[at..end], at as u64).unwrap();
            assert!(n > 0, "no progress at {at}");
            at += n;
        }
        out
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len as u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 7) as u8)
            .collect()
    }

    #[test]
    fn split_raw_segments_read_as_one_media() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(2_500_000);
        let parts = [0..1_000_000, 1_000_000..2_000_000, 2_000_000..2_500_000];
        for (i, r) in parts.iter().enumerate() {
            std::fs::write(
                dir.path().join(format!("disk.{:03}", i + 1)),
                &data[r.clone()],
            )
            .unwrap();
        }
        // Not a segment of it: the numbering has a gap.
        std::fs::write(dir.path().join("disk.005"), b"other").unwrap();
        let media = Media::open(&dir.path().join("disk.001")).unwrap();
        assert_eq!(media.format, Format::Raw);
        assert_eq!(media.segments.len(), 3);
        assert_eq!(media.size, data.len() as u64);
        assert!(whole(&media) == data);
        let mut past = [0u8; 4];
        assert_eq!(media.read_at(&mut past, media.size).unwrap(), 0);
    }

    #[test]
    fn ewf_segments_read_as_the_media_they_were_acquired_from() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("disk.raw");
        let data = pattern(512 * 6446);
        std::fs::write(&raw, &data).unwrap();
        // Uncompressed (the last chunk, shorter than the others, stored as it is) and
        // compressed.
        for compression in ["none", "fast"] {
            let target = dir.path().join(compression);
            let made = Command::new("ewfacquire")
                .args([
                    "-u",
                    "-q",
                    "-f",
                    "encase6",
                    "-S",
                    "1MiB",
                    "-c",
                    compression,
                    "-t",
                ])
                .arg(&target)
                .arg(&raw)
                .output();
            if !made.is_ok_and(|o| o.status.success()) {
                eprintln!("SKIPPED: needs ewfacquire (Debian's ewf-tools)");
                return;
            }
            check_ewf(&target.with_extension("E01"), &data, &raw);
        }
        // A segment missing, at the end or in the middle: refused, not read short or as zeros.
        let first = dir.path().join("none.E01");
        let last = segments(&first).pop().unwrap();
        assert_ne!(last, first);
        let kept = std::fs::read(&last).unwrap();
        std::fs::remove_file(&last).unwrap();
        assert!(Media::open(&first).is_err());
        std::fs::write(&last, kept).unwrap();
        assert!(Media::open(&first).is_ok());
        std::fs::remove_file(dir.path().join("none.E02")).unwrap();
        assert!(Media::open(&first).is_err());
    }

    fn check_ewf(first: &Path, data: &[u8], raw: &Path) {
        let media = Media::open(first).unwrap();
        assert_eq!(media.format, Format::Ewf);
        // Every segment ewfacquire wrote (with `-c none`, one per MiB).
        let stem = first.file_stem().unwrap().to_str().unwrap().to_owned() + ".E";
        let written = std::fs::read_dir(first.parent().unwrap())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_str()
                    .unwrap()
                    .starts_with(&stem)
            })
            .count();
        assert_eq!(media.segments.len(), written, "{:?}", media.segments);
        if stem == "none.E" {
            assert!(written >= 3);
        }
        assert_eq!(media.size, data.len() as u64);
        assert!(whole(&media) == *data);
        // The stored MD5 is the raw image's (coreutils computes it here).
        let md5 = Command::new("md5sum").arg(raw).output().unwrap();
        let md5 = String::from_utf8(md5.stdout).unwrap();
        let stored: String = media
            .stored()
            .md5
            .expect("ewfacquire stores an MD5")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(stored, md5.split_whitespace().next().unwrap());
    }
}
