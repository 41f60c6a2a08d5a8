//! The `hash` pipeline: walk the evidence, then read every regular file once and compute the
//! selected digests, largest files first, spread across a rayon pool.
//!
//! Hard links are hashed once (by device and inode) and every path gets the digests. A file
//! that fails gets its error on its record; the run goes on. On cancellation the files not yet
//! read keep a record whose error says so, and the run is marked incomplete.

use std::collections::HashMap;
use std::path::PathBuf;

use std::sync::{Arc, OnceLock};

use crate::cancel::Cancel;
use crate::container::Stop;
use crate::digest::AlgorithmSet;
use crate::digest::Digests;
use crate::media::decode::DecodeError;
use crate::media::sniff::{self, Class, ContentType};
use crate::media::{ImageHash, PdqConfig};
use crate::progress::{Counters, Phase};
use crate::read::evidence::{self, FileId};
use crate::read::file::{self, HashFailure};
use crate::read::prefetch::{OpenAhead, WorkQueue};
use crate::read::{ItemError, Stage};
use crate::record::{Item, Kind};
use crate::utc::Timestamp;
use crate::walk;

/// Validated settings of a `hash` run.
#[derive(Clone, Debug)]
pub struct HashConfig {
    /// Evidence roots, absolute.
    pub roots: Vec<PathBuf>,
    pub algorithms: AlgorithmSet,
    /// Worker threads for walking and hashing.
    pub threads: usize,
    /// Also detect each file's content type from its first bytes ([`sniff`]).
    pub sniff: bool,
    /// Also decode each image (by content type; implies `sniff`) and compute its PDQ hash.
    pub pdq: Option<PdqConfig>,
    /// Also read the members of every container (archive, compressed file) found, within
    /// these limits; `None` hashes a container as one file only.
    pub archives: Option<crate::container::Limits>,
    /// Also hash every video (by content type; implies `sniff`) with vPDQ, as configured.
    pub video: Option<crate::media::video::VideoConfig>,
    /// Open disk images (raw, split raw, EWF) given as roots, and with `open_all` those met
    /// in folders too, and read their files as members; `None` hashes each as a file only.
    pub images: Option<crate::expand::ImageOptions>,
}

/// What a `hash` run found.
#[derive(Debug)]
pub struct HashRun {
    /// Every item, sorted by path.
    pub items: Vec<Item>,
    pub started: Timestamp,
    pub finished: Timestamp,
    /// False when the run was interrupted: some paths were not listed or not read.
    pub complete: bool,
    /// Roots not walked because another root covers them: (root, covering root).
    pub nested_roots: Vec<(PathBuf, PathBuf)>,
    /// Distinct contents read (hard links count once) and their bytes.
    pub files_hashed: u64,
    pub bytes_hashed: u64,
    /// When videos were to be hashed: the FFmpeg that decoded them (its version line), or
    /// why there was none (then no video has a vPDQ).
    pub ffmpeg: Option<Result<String, String>>,
}

impl HashRun {
    /// Interrupted, then items not read, else clean.
    pub fn exit_status(&self) -> crate::exit::ExitStatus {
        use crate::exit::ExitStatus;
        if !self.complete {
            ExitStatus::Interrupted
        } else if self.error_count() > 0 {
            ExitStatus::ItemErrors
        } else {
            ExitStatus::Clean
        }
    }

    /// Items carrying an error (interruptions excluded).
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|i| matches!(&i.error, Some(e) if e.stage != Stage::Interrupted))
            .count()
    }
}

/// Error setting up a run (per-file failures are not errors: they are records).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("cannot start {threads} worker threads: {source}")]
    ThreadPool {
        threads: usize,
        source: rayon::ThreadPoolBuildError,
    },
    /// Resuming: files the journal records as read are not in the evidence any more.
    #[error(
        "{gone} of the {recorded} files the scan's journal records are not in the evidence now ({} is one): is it mounted as it was when the scan began? Nothing was resumed and the journal is kept (to scan the evidence as it is now, start a new scan into a new directory)",
        one.display()
    )]
    EvidenceGone {
        gone: usize,
        recorded: usize,
        one: std::path::PathBuf,
    },
}

/// What hashing found of one content: its digests, and its content type and image hash when
/// asked for.
pub(crate) type Hashed = (Digests, Option<ContentType>, Option<Arc<ImageHash>>);

/// What hashing found of one content: what [`Hashed`] holds, or the error reading it.
pub(crate) type Outcome = Result<Hashed, ItemError>;

/// What a run found of a content's members: `None` when it was not looked at for them
/// (containers not opened, or the run interrupted while it read them), `Some(None)` when it
/// is no container, else its members.
pub(crate) type Examined<'a> = Option<Option<&'a crate::expand::Expanded>>;

/// What the record of an earlier session says of a content the walk found.
#[derive(Debug)]
pub(crate) enum Carried {
    /// Recorded, with the same inode, size, and modification and change times; with its
    /// members when it was looked at for them ([`Examined`]).
    Same(Outcome, Option<Option<Box<crate::expand::Expanded>>>),
    /// Recorded, and changed since.
    Changed,
    /// Not recorded.
    New,
}

/// Where a run records what it hashes as it goes, so that an interrupted run is resumed
/// without reading again what it had read (the scan's journal, `crate::scan::journal`).
pub(crate) trait Recorder: Sync {
    /// What an earlier session recorded of each of `n` contents, content `i` being the one
    /// `item(i)` (its first path) points to: `each(i, what)` is called once for every `i`.
    /// Returns what was recorded as read and is not among them.
    fn carry_over<'a>(
        &self,
        n: usize,
        item: &dyn Fn(usize) -> &'a Item,
        each: &mut dyn FnMut(usize, Carried),
    ) -> Missing;

    /// This session begins, having carried `carried` contents over and found `changed` of the
    /// recorded ones changed since.
    fn begin(&self, carried: u64, changed: u64);

    /// What one hashing thread records through.
    fn thread(&self) -> Box<dyn ThreadRecorder + '_>;
}

/// One hashing thread's side of a [`Recorder`].
pub(crate) trait ThreadRecorder {
    /// Called before a content of `size` bytes is read: what is held may have to go first.
    fn before_read(&mut self, size: u64);

    /// Records what hashing found of the content `item` (its first path) points to, and
    /// what it held.
    fn record(&mut self, item: &Item, outcome: Result<&Hashed, &ItemError>, members: Examined<'_>);
}

/// The contents a [`Recorder`] holds records of, and those recorded as read whose path the
/// walk did not find (how many, and one of them).
#[derive(Debug, Default)]
pub(crate) struct Missing {
    pub recorded: usize,
    pub gone: usize,
    pub one_gone: Option<PathBuf>,
}

/// One distinct content to read: its identity, a path to it, and its size.
#[derive(Clone, Copy)]
struct Work {
    id: FileId,
    path_index: usize,
    size: u64,
}

/// Runs the walk and the hashing.
///
/// # Errors
/// [`HashError::ThreadPool`] when the worker pool cannot be started.
pub fn run(
    config: &HashConfig,
    cancel: &Cancel,
    counters: &Counters,
) -> Result<HashRun, HashError> {
    run_journaled(config, cancel, counters, None, &|_| {})
}

/// [`run`], recording what each content gave in `journal`, and taking from it what an earlier
/// session of the same run recorded of the contents that have not changed since; `planned`
/// is told, once the walk is done and planned, how many distinct contents there are (read
/// now or carried over), before any is read.
///
/// # Errors
/// [`HashError::ThreadPool`] when the worker pool cannot be started;
/// [`HashError::EvidenceGone`] when resuming, files the journal records are not there.
pub(crate) fn run_journaled(
    config: &HashConfig,
    cancel: &Cancel,
    counters: &Counters,
    journal: Option<&dyn Recorder>,
    planned: &(dyn Fn(u64) + Sync),
) -> Result<HashRun, HashError> {
    let started = Timestamp::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .thread_name(|i| format!("hashsift-{i}"))
        .build()
        .map_err(|source| HashError::ThreadPool {
            threads: config.threads,
            source,
        })?;

    // FFmpeg is looked for (and asked its version, ~0.1 s) while the evidence is walked.
    let finding = config
        .video
        .map(|_| std::thread::spawn(crate::media::video::Tools::find));
    counters.set_phase(Phase::Walking);
    let walked = pool.install(|| walk::walk(&config.roots, cancel, counters));
    let mut items = walked.items;

    let (work, work_of) = plan(&items);
    let slots: Vec<OnceLock<Result<Hashed, HashFailure>>> =
        work.iter().map(|_| OnceLock::new()).collect();
    let expansions: Vec<OnceLock<crate::expand::Expanded>> =
        work.iter().map(|_| OnceLock::new()).collect();
    let tools = finding.map(|f| {
        f.join()
            .unwrap_or_else(|_| Err("looking for FFmpeg failed".to_owned()))
    });
    let videos = match (&tools, config.video) {
        (Some(Ok(tools)), Some(c)) => Some(crate::media::video::Videos { config: c, tools }),
        _ => None,
    };
    let video_slots: Vec<OnceLock<Arc<crate::media::video::VideoHash>>> =
        work.iter().map(|_| OnceLock::new()).collect();
    let expand_settings = config.archives.map(|limits| crate::expand::Settings {
        algorithms: config.algorithms,
        pdq: config.pdq,
        video: videos,
        limits,
    });
    // A disk image's files are read however containers are: nested containers among them
    // are opened only when containers are (a depth of 1 opens none).
    let image_settings = config.images.map(|options| {
        let settings = expand_settings.unwrap_or(crate::expand::Settings {
            algorithms: config.algorithms,
            pdq: config.pdq,
            video: videos,
            limits: crate::container::Limits {
                depth: 1,
                ..crate::container::Limits::default()
            },
        });
        (options, settings)
    });
    let exe = std::env::current_exe().map_err(|e| e.to_string());
    // Whether a content is looked at for members (and its record says what it held).
    let expanding = expand_settings.is_some() || image_settings.is_some();
    // The contents to read: all, or those the journal has no record of as they are now.
    let (mut carried, mut changed) = (0, 0);
    if let Some(journal) = journal {
        let missing = journal.carry_over(
            work.len(),
            &|i| &items[work[i].path_index],
            &mut |i, what| match what {
                // Not looked at for members (interrupted while they were read): read again.
                Carried::Same(Ok(_), None) if expanding => {}
                // The journal keeps no vPDQ: a video is read again.
                Carried::Same(Ok((_, Some(c), _)), _)
                    if c.class == Class::Video && videos.is_some() => {}
                Carried::Same(outcome, members) => {
                    carried += 1;
                    if let Some(Some(expanded)) = members.filter(|_| expanding) {
                        let _ = expansions[i].set(*expanded);
                    }
                    let _ = slots[i].set(outcome.map_err(HashFailure::Item));
                }
                Carried::Changed => changed += 1,
                Carried::New => {}
            },
        );
        // Files read earlier are gone: the evidence is not as it was (not mounted, a part of
        // it not mounted, another exhibit there). Going on would report it without them and
        // drop the journal's work.
        if let Some(one) = missing.one_gone.filter(|_| !cancel.is_cancelled()) {
            return Err(HashError::EvidenceGone {
                gone: missing.gone,
                recorded: missing.recorded,
                one,
            });
        }
    }
    // In the work's order (largest first): what was not carried over.
    let pending: Vec<usize> = (0..work.len())
        .filter(|&i| slots[i].get().is_none())
        .collect();
    if let Some(journal) = journal {
        journal.begin(carried, changed);
    }
    counters.set_contents(work.len() as u64);
    planned(work.len() as u64);
    let bytes_total: u64 = pending.iter().map(|&i| work[i].size).sum();
    counters.set_totals(pending.len() as u64, bytes_total);
    counters.set_phase(Phase::Hashing);

    let on_bytes = |n: u64| counters.add_bytes(n);
    let queue = WorkQueue::new(pending.len());
    let ahead = OpenAhead::new(pending.len());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            ahead.run(&queue, |p| {
                let w = &work[pending[p]];
                (items[w.path_index].path.as_path(), w.id, w.size)
            });
        });
        // Every worker takes files in queue order, so the largest start first and no thread is
        // left alone with a big file at the end.
        pool.broadcast(|_| {
            let mut journaled = journal.map(|j| j.thread());
            while let Some(p) = queue.take() {
                let i = pending[p];
                let w = &work[i];
                if let Some(j) = journaled.as_mut() {
                    j.before_read(w.size);
                }
                let outcome = if cancel.is_cancelled() {
                    Err(HashFailure::Cancelled)
                } else {
                    ahead
                        .take(p)
                        .unwrap_or_else(|| {
                            evidence::open_regular(&items[w.path_index].path, w.id, w.size)
                        })
                        .map_err(HashFailure::Item)
                        .and_then(|file| {
                            let path = &items[w.path_index].path;
                            if let Some((options, settings)) = &image_settings
                                && (options.open_all || config.roots.contains(path))
                                && let Some(format) = image_format(&file)
                            {
                                // A disk image: its own digests when verified (for a raw
                                // image they are its media's), then its files.
                                let digests = if options.verify {
                                    file::hash_file(
                                        &file,
                                        w.size,
                                        config.algorithms,
                                        cancel,
                                        &on_bytes,
                                    )?
                                } else {
                                    on_bytes(w.size);
                                    Digests::default()
                                };
                                let found = crate::expand::expand_image(
                                    format,
                                    path,
                                    &digests,
                                    exe.as_deref().map_err(String::as_str),
                                    *options,
                                    settings,
                                    cancel,
                                );
                                let _ = expansions[i].set(found);
                                return Ok((digests, None, None));
                            }
                            let sniff =
                                config.sniff || config.pdq.is_some() || config.video.is_some();
                            // One read of the first bytes serves the type and the container
                            // check.
                            let head =
                                (sniff || expand_settings.is_some()).then(|| read_head(&file));
                            let content = head
                                .as_ref()
                                .filter(|_| sniff)
                                .map(|h| sniff::sniff(h.bytes(), w.size));
                            let digests = file::hash_file(
                                &file,
                                w.size,
                                config.algorithms,
                                cancel,
                                &on_bytes,
                            )?;
                            let image = match (config.pdq, content) {
                                (Some(pdq), Some(c)) if c.class == Class::Image => {
                                    Some(image_hash(&file, w.size, pdq))
                                }
                                _ => None,
                            };
                            if let (Some(v), Some(c)) = (&videos, content)
                                && c.class == Class::Video
                            {
                                let hashed = crate::media::video::hash_video(
                                    v.tools, &file, w.size, c.mime, &v.config, cancel,
                                );
                                let _ = video_slots[i].set(Arc::new(hashed));
                            }
                            if let Some(settings) = &expand_settings {
                                let head = head.as_ref().map_or(&[][..], |h| h.bytes());
                                if let Some(found) = crate::expand::expand_file(
                                    &file, head, path, w.size, settings, cancel,
                                ) {
                                    let _ = expansions[i].set(found);
                                }
                            }
                            Ok((digests, content, image))
                        })
                };
                if let Some(j) = &mut journaled {
                    // Members read to their end, or the run was interrupted among them.
                    let examined =
                        (expanding && !cancel.is_cancelled()).then(|| expansions[i].get());
                    match &outcome {
                        Ok(hashed) => j.record(&items[w.path_index], Ok(hashed), examined),
                        Err(HashFailure::Item(e)) => {
                            j.record(&items[w.path_index], Err(e), None);
                        }
                        Err(HashFailure::Cancelled) => {}
                    }
                }
                counters.add_file();
                let _ = slots[i].set(outcome);
            }
        });
    });
    let mut files_hashed = 0;
    let mut bytes_hashed = 0;
    let outcomes: Vec<Option<Result<Hashed, HashFailure>>> =
        slots.into_iter().map(OnceLock::into_inner).collect();
    for (w, outcome) in work.iter().zip(&outcomes) {
        if let Some(Ok(_)) = outcome {
            files_hashed += 1;
            bytes_hashed += w.size;
        }
    }
    let mut interrupted = walked.interrupted;
    let video_hashes: Vec<Option<Arc<crate::media::video::VideoHash>>> =
        video_slots.into_iter().map(OnceLock::into_inner).collect();
    for (item, &w) in items.iter_mut().zip(&work_of) {
        let Some(outcome) = outcomes.get(w as usize) else {
            continue;
        };
        match outcome {
            Some(Ok((d, content, image))) => {
                // None at all: a disk image not hashed as a file (`--no-image-verify`).
                item.digests = (*d != Digests::default()).then_some(*d);
                item.content = *content;
                item.image = image.clone();
                item.video = video_hashes[w as usize].clone();
            }
            Some(Err(HashFailure::Item(e))) => item.error = Some(e.clone()),
            Some(Err(HashFailure::Cancelled)) | None => {
                interrupted = true;
                item.error = Some(ItemError::new(
                    Stage::Interrupted,
                    "not read: the run was interrupted".into(),
                ));
            }
        }
    }
    let items = with_members(items, &work, expansions);
    Ok(HashRun {
        items,
        started,
        finished: Timestamp::now(),
        complete: !interrupted && !cancel.is_cancelled(),
        nested_roots: walked.nested_roots,
        files_hashed,
        bytes_hashed,
        ffmpeg: tools.map(|t| t.map(|t| t.version)),
    })
}

/// `items` with the members of each container read right after it (its first path: a hard
/// link's other paths list the container only), their `parent` the container's index.
fn with_members(
    items: Vec<Item>,
    work: &[Work],
    expansions: Vec<OnceLock<crate::expand::Expanded>>,
) -> Vec<Item> {
    let mut found: HashMap<usize, crate::expand::Expanded> = work
        .iter()
        .zip(expansions)
        .filter_map(|(w, e)| e.into_inner().map(|e| (w.path_index, e)))
        .collect();
    if found.is_empty() {
        return items;
    }
    let extra: usize = found.values().map(|e| e.members.len()).sum();
    let mut all = Vec::with_capacity(items.len() + extra);
    for (i, mut item) in items.into_iter().enumerate() {
        let Some(expanded) = found.remove(&i) else {
            all.push(item);
            continue;
        };
        // A disk image not read to its end is an error of its record (its files read before
        // stand): an archive's damage is what the archive holds, an image's is evidence
        // unread.
        if expanded.archive.image.is_some()
            && item.error.is_none()
            && let Some(why) = &expanded.archive.stopped
        {
            item.error = Some(if why == &Stop::Cancelled.to_string() {
                ItemError::new(
                    Stage::Interrupted,
                    "not read: the run was interrupted".into(),
                )
            } else {
                ItemError::new(
                    Stage::Read,
                    format!("the disk image was not read to its end: {why}"),
                )
            });
        }
        item.archive = Some(Arc::new(expanded.archive));
        let base = all.len();
        all.push(item);
        for mut member in expanded.members {
            let parent = member.parent.map_or(base, |p| base + 1 + p as usize);
            member.parent = Some(parent as u32);
            all.push(member);
        }
    }
    all
}

/// Reads a whole image file (just hashed: its pages are in the cache) and hashes its pixels.
fn image_hash(file: &std::fs::File, size: u64, pdq: PdqConfig) -> Arc<ImageHash> {
    let failed = ImageHash::failed_shared;
    if size > crate::media::MAX_IMAGE_FILE {
        return failed(DecodeError::FileTooLarge(size));
    }
    let mut bytes = vec![0u8; size as usize];
    let filled = match read_start(file, &mut bytes) {
        (_, Some(e)) => return failed(DecodeError::Read(e.to_string().into())),
        (n, None) => n,
    };
    bytes.truncate(filled);
    ImageHash::of_shared(&bytes, pdq.scale, pdq.dihedral)
}

/// The format (`ewf`, `raw`) of the disk image `file` is the first segment of, if it is one.
fn image_format(file: &std::fs::File) -> Option<&'static str> {
    use crate::image::detect::{self, Found};
    let mut head = [0u8; detect::HEAD];
    let (filled, _) = read_start(file, &mut head);
    match detect::detect(&head[..filled])? {
        Found::Ewf => Some("ewf"),
        Found::Raw(_) => Some("raw"),
        Found::EwfLater => None,
    }
}

/// A file's first bytes, enough for its content type and for knowing a container.
struct Head {
    buf: [u8; sniff::HEAD],
    filled: usize,
}

impl Head {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.filled]
    }
}

const _: () = assert!(sniff::HEAD >= crate::container::HEAD);

/// The file's first bytes, read with `pread` before hashing reads the whole (the pages stay
/// in the cache for it). A failed read is left to the hashing, which reports it.
fn read_head(file: &std::fs::File) -> Head {
    let mut buf = [0u8; sniff::HEAD];
    let (filled, _) = read_start(file, &mut buf);
    Head { buf, filled }
}

/// Fills `buf` from the start of `file` with `pread` (the file offset is untouched): the bytes
/// read, fewer at the end of the file, and the error that stopped the reading, if one did.
fn read_start(file: &std::fs::File, buf: &mut [u8]) -> (usize, Option<std::io::Error>) {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

fn is_hashable(item: &Item) -> bool {
    item.kind == Kind::File && item.error.is_none() && item.id.is_some()
}

/// The distinct contents to read, largest first (ties by path, for a reproducible order), and
/// for each item the index in that list of the content it shares ([`NO_WORK`] when it is not
/// read). The index, not a map from file identity, ties results back to items: 4 bytes an
/// item, where a map would hold a second copy of every result.
fn plan(items: &[Item]) -> (Vec<Work>, Vec<u32>) {
    let mut first: HashMap<FileId, usize> = HashMap::new();
    let mut work: Vec<Work> = Vec::new();
    let mut content_of = vec![NO_WORK; items.len()];
    for (i, item) in items.iter().enumerate() {
        let Some(id) = item.id.filter(|_| is_hashable(item)) else {
            continue;
        };
        let n = *first.entry(id).or_insert_with(|| {
            work.push(Work {
                id,
                path_index: i,
                size: item.size,
            });
            work.len() - 1
        });
        content_of[i] = n as u32;
    }
    // Largest first; each item's content index follows its content to its new place.
    let mut order: Vec<u32> = (0..work.len() as u32).collect();
    order.sort_by_key(|&n| {
        let w = &work[n as usize];
        (std::cmp::Reverse(w.size), w.path_index)
    });
    let mut place = vec![0u32; work.len()];
    for (to, &from) in order.iter().enumerate() {
        place[from as usize] = to as u32;
    }
    for c in content_of.iter_mut().filter(|c| **c != NO_WORK) {
        *c = place[*c as usize];
    }
    let work = order.iter().map(|&from| work[from as usize]).collect();
    (work, content_of)
}

/// The content index of an item that is not read.
const NO_WORK: u32 = u32::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, ino: u64, size: u64) -> Item {
        let mut item = Item::failed(
            PathBuf::from(path),
            Kind::File,
            ItemError::new(Stage::Stat, String::new()),
        );
        item.error = None;
        item.id = Some(FileId { dev: 1, ino });
        item.size = size;
        item
    }

    /// The plan's contents as (first path, size) in order, and each item's content as a path.
    fn as_paths(items: &[Item]) -> (Vec<(&str, u64)>, Vec<Option<&str>>) {
        let (work, content_of) = plan(items);
        let path = |w: &Work| items[w.path_index].path.to_str().unwrap();
        let order = work.iter().map(|w| (path(w), w.size)).collect();
        let of = content_of
            .iter()
            .map(|&c| (c != NO_WORK).then(|| path(&work[c as usize])))
            .collect();
        (order, of)
    }

    #[test]
    fn each_content_is_read_once_largest_first_ties_in_path_order() {
        let mut items = vec![
            file("/e/a", 1, 10),
            file("/e/b", 2, 500),
            // A hard link to /e/a: read once, through the first path.
            file("/e/c", 1, 10),
            file("/e/d", 3, 500),
            file("/e/e", 4, 0),
            file("/e/f", 5, 70),
        ];
        // Not read: a directory, a file that failed to be listed, one without identity.
        items.push(Item {
            kind: Kind::Dir,
            ..file("/e/g", 6, 4096)
        });
        let mut failed = file("/e/h", 7, 99);
        failed.error = Some(ItemError::new(Stage::Stat, "gone".into()));
        items.push(failed);
        let mut anonymous = file("/e/i", 8, 99);
        anonymous.id = None;
        items.push(anonymous);

        let (order, of) = as_paths(&items);
        assert_eq!(
            order,
            [
                ("/e/b", 500),
                ("/e/d", 500),
                ("/e/f", 70),
                ("/e/a", 10),
                ("/e/e", 0)
            ]
        );
        assert_eq!(
            of,
            [
                Some("/e/a"),
                Some("/e/b"),
                Some("/e/a"),
                Some("/e/d"),
                Some("/e/e"),
                Some("/e/f"),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn a_plan_of_many_contents_agrees_with_sorting_them() {
        // Pseudo-random sizes and shared inodes; the expected order from a plain sort.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut items = Vec::new();
        for i in 0..2000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            items.push(file(&format!("/e/{i:05}"), x % 1500, (x >> 20) % 50));
        }
        // A hard link has the size of its inode's first path (as the walk would list it).
        let mut size_of = HashMap::new();
        for item in &mut items {
            let ino = item.id.unwrap().ino;
            item.size = *size_of.entry(ino).or_insert(item.size);
        }
        let (work, content_of) = plan(&items);
        let mut firsts: Vec<(u64, usize)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, item) in items.iter().enumerate() {
            if seen.insert(item.id.unwrap().ino) {
                firsts.push((item.size, i));
            }
        }
        firsts.sort_by_key(|&(size, i)| (std::cmp::Reverse(size), i));
        let got: Vec<(u64, usize)> = work.iter().map(|w| (w.size, w.path_index)).collect();
        assert_eq!(got, firsts);
        for (i, item) in items.iter().enumerate() {
            let w = &work[content_of[i] as usize];
            assert_eq!(
                items[w.path_index].id, item.id,
                "item {i} points to its content"
            );
        }
    }
}
