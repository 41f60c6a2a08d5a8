//! Disk images read as containers: the image worker's files handed to the same visitor as an
//! archive's members, and the media's integrity checked alongside.

use std::io;

use super::{ArchiveInfo, Expanded, Reader, Settings};
use crate::cancel::Cancel;
use crate::container::{Budget, Limits, Stop};

/// How disk images are opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageOptions {
    /// Read each image's whole media for its MD5 and SHA-1, and check those an EWF image
    /// stores (`--no-image-verify` turns it off).
    pub verify: bool,
    /// Also open the images met while walking a folder (`--open-images`); by default only
    /// those given as roots are.
    pub open_all: bool,
}

/// The files of the disk image in `format` (`ewf` or `raw`, as its first bytes say) whose
/// first segment is `path` (its other segments found by name), read by the image worker
/// (`exe`, hashsift itself, in a contained child process), as members: `IMAGE!/p1/dir/name` (`IMAGE!/dir/name` for an image of one file system), each
/// with its file-system details, hashed and opened as an archive's members are. With
/// `options.verify` the whole media is read as well, alongside, for its MD5 and SHA-1, and
/// those the image stores are checked; `file` holds the digests of the first segment file,
/// which are the media's for a raw image of one file.
pub fn expand_image(
    format: &'static str,
    path: &std::path::Path,
    file: &crate::digest::Digests,
    exe: Result<&std::path::Path, &str>,
    options: ImageOptions,
    settings: &Settings,
    cancel: &Cancel,
) -> Expanded {
    use crate::image::media::{Format as MediaFormat, Media};
    use crate::record::{ImageInfo, Integrity, IntegrityStatus};
    let media = match Media::open(path) {
        Ok(m) => m,
        Err(e) => {
            let why = format!("cannot open the disk image: {e}");
            return Expanded {
                archive: ArchiveInfo {
                    format,
                    members: 0,
                    stopped: Some(why.clone()),
                    image: Some(Box::new(ImageInfo {
                        segments: 0,
                        media_size: 0,
                        volumes: Vec::new(),
                        integrity: Integrity {
                            status: IntegrityStatus::NotRead,
                            md5: None,
                            sha1: None,
                            stored_md5: None,
                            stored_sha1: None,
                            error: Some(why),
                        },
                    })),
                },
                members: Vec::new(),
            };
        }
    };
    // As the media was read.
    let format = match media.format {
        MediaFormat::Ewf => "ewf",
        MediaFormat::Raw => "raw",
    };
    // The files of a disk hold at most about its size: the budget is the image's, four
    // times its media at the least, not an archive's.
    let limits = Limits {
        bytes: settings.limits.bytes.max(media.size.saturating_mul(4)),
        members: settings.limits.members.max(10_000_000),
        ..settings.limits
    };
    let budget = Budget::new(limits, media.size);
    let single_raw = media.format == MediaFormat::Raw && media.segments.len() == 1;
    let reuse = (single_raw && file.md5.is_some() && file.sha1.is_some()).then_some(file);
    let mut members = Vec::new();
    let mut volumes = Vec::new();
    let (count, stopped, digested) = std::thread::scope(|scope| {
        let digesting = (options.verify && reuse.is_none())
            .then(|| scope.spawn(|| media.digest(cancel, &|_| {})));
        let mut reader = Reader::top(settings, cancel, &budget, &mut members, path);
        let stopped = walk_image(
            path,
            &media,
            exe,
            &budget,
            &mut reader,
            cancel,
            &mut volumes,
        );
        let digested = digesting.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(io::Error::other("the media's hashing failed")))
        });
        (reader.count, stopped, digested)
    });
    let stored = media.stored();
    let hex = crate::digest::to_hex;
    let mut integrity = Integrity {
        status: IntegrityStatus::Off,
        md5: None,
        sha1: None,
        stored_md5: stored.md5.map(|d| hex(&d)),
        stored_sha1: stored.sha1.map(|d| hex(&d)),
        error: None,
    };
    let computed = match (options.verify, reuse, digested) {
        (false, ..) => None,
        (true, Some(d), _) => Some(Ok(*d)),
        (true, None, Some(r)) => Some(r),
        (true, None, None) => None,
    };
    match computed {
        None => {}
        Some(Err(e)) => {
            integrity.status = IntegrityStatus::NotRead;
            integrity.error = Some(if e.kind() == io::ErrorKind::Interrupted {
                "the run was interrupted".to_owned()
            } else {
                format!("the media could not be read to its end: {e}")
            });
        }
        Some(Ok(d)) => {
            integrity.md5 = d.md5.map(|m| hex(&m.0));
            integrity.sha1 = d.sha1.map(|s| hex(&s.0));
            let differs =
                |stored: &Option<String>, got: &Option<String>| stored.is_some() && stored != got;
            integrity.status = if differs(&integrity.stored_md5, &integrity.md5)
                || differs(&integrity.stored_sha1, &integrity.sha1)
            {
                IntegrityStatus::Mismatch
            } else if integrity.stored_md5.is_some() || integrity.stored_sha1.is_some() {
                IntegrityStatus::Verified
            } else {
                IntegrityStatus::Computed
            };
        }
    }
    Expanded {
        archive: ArchiveInfo {
            format,
            members: count,
            stopped: stopped.err().map(|s| s.to_string()),
            image: Some(Box::new(ImageInfo {
                segments: media.segments.len() as u32,
                media_size: media.size,
                volumes,
                integrity,
            })),
        },
        members,
    }
}

/// Runs the image worker on `path` and hands what it lists to `reader`; why it stopped early.
fn walk_image(
    path: &std::path::Path,
    media: &crate::image::media::Media,
    exe: Result<&std::path::Path, &str>,
    budget: &Budget,
    reader: &mut Reader<'_>,
    cancel: &Cancel,
    volumes: &mut Vec<crate::record::VolumeInfo>,
) -> Result<(), Stop> {
    if !crate::image::WITH_TSK {
        return Err(Stop::Unreadable(
            "not opened: this hashsift was built without The Sleuth Kit (Debian's libtsk-dev)"
                .to_owned(),
        ));
    }
    let exe = exe.map_err(|e| {
        Stop::Unreadable(format!(
            "not opened: cannot find hashsift's own program: {e}"
        ))
    })?;
    let mut worker = crate::image::reader::Worker::start_watched(
        exe,
        path,
        crate::image::reader::SILENCE,
        cancel,
    )
    .map_err(|e| Stop::Unreadable(format!("not opened: cannot start the image reader: {e}")))?;
    let walked = {
        let mut next = || worker.next_frame();
        crate::image::items::walk(
            &mut next,
            media,
            crate::image::worker::content_cap(media.size),
            budget,
            reader,
            cancel,
            volumes,
        )
    };
    match walked {
        // The reader is done and ends: a crash on its way out still says the image is odd.
        Ok(()) => worker
            .end_within(std::time::Duration::from_secs(10))
            .map_err(Stop::Damaged),
        // Its output ended early or went wrong: how it ended says why.
        Err(Stop::Damaged(why)) => match worker.end_within(std::time::Duration::from_secs(2)) {
            Err(reason) => Err(Stop::Damaged(reason)),
            Ok(()) => Err(Stop::Damaged(why)),
        },
        // Stopped here (the budget, an interruption) or said why it read nothing: the reader
        // is ended if it still runs.
        Err(stop) => Err(stop),
    }
}
