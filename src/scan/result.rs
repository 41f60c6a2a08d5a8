//! What a scan found: each item and what the database says of it, held compactly (each
//! distinct known content's matches once), read through [`ScanItem`] views.

use std::time::Duration;

use crate::digest::Algorithm;
use crate::knowndb::Category;
use crate::knowndb::read::{MediaView, SetGrade, SetInfo};
use crate::media::pdq::Transform;
use crate::read::Stage;
use crate::record::Item;
use crate::utc::Timestamp;

use super::journal::Session;
use super::options::PdqMatching;

/// How a known medium's hashes compare with a file's digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchStatus {
    /// Every algorithm both sides have agrees, and so does the size when both have one.
    AllAgree,
    /// One algorithm matches and another that both sides have differs (as hashdeep's
    /// "partial match"): a collision, a forged entry or a damaged set.
    Contradicts,
    /// The hashes agree and the sizes differ.
    SizeMismatch,
}

impl MatchStatus {
    pub fn name(self) -> &'static str {
        match self {
            MatchStatus::AllAgree => "all_agree",
            MatchStatus::Contradicts => "contradicts",
            MatchStatus::SizeMismatch => "size_mismatch",
        }
    }
}

/// A known medium a file matched, with every set's grade of it.
#[derive(Clone, Debug)]
pub struct Match {
    /// The algorithms whose hashes are equal.
    pub matched: Vec<Algorithm>,
    /// The algorithms both sides have and whose hashes differ.
    pub contradicted: Vec<Algorithm>,
    pub status: MatchStatus,
    pub grades: Vec<SetGrade>,
}

/// A known image whose PDQ hash is near one of an image's dihedral hashes: a suggestion,
/// for the examiner to confirm, never a grade.
#[derive(Clone, Debug)]
pub struct PdqMatch {
    /// Bits of 256 that differ.
    pub distance: u32,
    /// The transform of the image whose hash is the nearest (`rot90`: the evidence image,
    /// turned 90 degrees counter-clockwise, looks like the known one).
    pub transform: Transform,
    /// The known medium: its hashes and every set's grade of it.
    pub medium: MediaView,
}

/// One item of the evidence and what the database says of it: a view into a [`ScanRun`].
#[derive(Clone, Copy, Debug)]
pub struct ScanItem<'a> {
    pub item: &'a Item,
    pub matches: &'a [Match],
    /// The most severe grade of any match; `None` is "unknown" (no match).
    pub category: Option<Category>,
    /// Whether the sets that grade it disagree.
    pub conflict: bool,
    /// Known images near this one by PDQ, nearest first (an image no exact hash grades).
    pub suggestions: &'a [PdqMatch],
    /// The category the suggestions propose (the most severe grade of any of them), to
    /// confirm.
    pub suggested: Option<Category>,
    /// For a container: what its members, at any depth, were found to be.
    pub contents: Option<&'a Contents>,
    /// For a video no exact hash graded: the known videos and images its frames match.
    pub videos: Option<&'a VideoFindings>,
}

/// What the members of one container, at every depth, were found to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Contents {
    /// Members listed (directories are not members; links and unreadable members are).
    pub members: u64,
    /// Members graded by an exact hash.
    pub graded: u64,
    /// Members not graded that PDQ suggests a category for.
    pub suggested: u64,
    /// The most severe grade of any member: the container "contains csam".
    pub contains: Option<Category>,
    /// The most severe category suggested for any member.
    pub suggests: Option<Category>,
}

impl ScanItem<'_> {
    /// Whether the item's digests were looked up: it was read and the scan not interrupted
    /// before its turn. Only then do its category (`unknown` included) and matches mean
    /// anything.
    pub fn looked_up(&self) -> bool {
        self.item.digests.is_some()
            && self
                .item
                .error
                .as_ref()
                .is_none_or(|e| e.stage != Stage::Interrupted)
    }
}

/// What the database says of one item, beside the item: 12 bytes, with the matches of each
/// distinct known content (and the suggestions of each distinct PDQ hash) held once however
/// many copies the evidence has.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Grading {
    /// Index into [`ScanRun::match_lists`]; 0 is the empty list.
    pub(super) matches: u32,
    /// Index into [`ScanRun::suggestion_lists`]; 0 is the empty list.
    pub(super) suggestions: u32,
    pub(super) category: Option<Category>,
    pub(super) suggested: Option<Category>,
    pub(super) conflict: bool,
}

/// What a scan found.
#[derive(Debug)]
pub struct ScanRun {
    /// Every item, sorted by path, and its grading at the same index.
    pub(super) items: Vec<Item>,
    pub(super) gradings: Vec<Grading>,
    pub(super) match_lists: Vec<Vec<Match>>,
    pub(super) suggestion_lists: Vec<Vec<PdqMatch>>,
    /// The containers opened, by index, with what their members were found to be.
    pub(super) containers: Vec<(u32, Contents)>,
    /// The videos whose frames match known videos or images, by index.
    pub(super) videos: Vec<(u32, VideoFindings)>,
    /// What the search of the videos covered; `None` when no video was searched (none hashed,
    /// all graded exactly, or the scan interrupted before).
    pub video_search: Option<VideoSearch>,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub complete: bool,
    /// Whether containers were opened.
    pub archives: bool,
    /// When videos were to be hashed: the FFmpeg that decoded them (its version line), or why
    /// there was none.
    pub ffmpeg: Option<Result<String, String>>,
    pub files_hashed: u64,
    pub bytes_hashed: u64,
    /// Known hashes loaded per algorithm, and how long loading took (while the walk and the
    /// hashing went on); `None` when the database was asked about each file instead.
    pub known: Option<Vec<(Algorithm, usize)>>,
    pub index_time: Duration,
    /// The database's sets when the scan began, with their provenance.
    pub sets: Vec<SetInfo>,
    /// What PDQ matching was asked for, how many known PDQ hashes were loaded and how long
    /// that took; `None` when images were not hashed.
    pub pdq: Option<PdqRun>,
    /// The sessions that resumed this scan after an interruption, this one last if it is one.
    pub resumed: Vec<Session>,
}

/// The PDQ side of a scan.
#[derive(Clone, Copy, Debug)]
pub struct PdqRun {
    pub settings: PdqMatching,
    pub known: usize,
    pub load_time: Duration,
    /// Images searched (no exact grade, quality high enough), and how many distinct hashes
    /// they had (copies are searched once); 0 when the search did not run to its end.
    pub searched: u64,
    pub distinct: u64,
    /// Whether every image to search was searched (not interrupted).
    pub completed: bool,
}

impl ScanRun {
    /// Every item, sorted by path, with what the database says of it.
    pub fn items(&self) -> impl ExactSizeIterator<Item = ScanItem<'_>> + Clone + '_ {
        (0..self.items.len()).map(|i| self.item(i))
    }

    /// The item at `index` of the path order.
    ///
    /// # Panics
    /// When `index` is not below [`ScanRun::len`].
    pub fn item(&self, index: usize) -> ScanItem<'_> {
        let g = self.gradings[index];
        ScanItem {
            item: &self.items[index],
            matches: &self.match_lists[g.matches as usize],
            category: g.category,
            conflict: g.conflict,
            suggestions: &self.suggestion_lists[g.suggestions as usize],
            suggested: g.suggested,
            contents: self
                .containers
                .binary_search_by_key(&(index as u32), |(i, _)| *i)
                .ok()
                .map(|at| &self.containers[at].1),
            videos: self
                .videos
                .binary_search_by_key(&(index as u32), |(i, _)| *i)
                .ok()
                .map(|at| &self.videos[at].1),
        }
    }

    /// How many items the evidence has.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every container opened (a file or member whose members were read), in item order.
    pub fn containers(&self) -> impl Iterator<Item = (ScanItem<'_>, &Contents)> + '_ {
        self.containers
            .iter()
            .map(|(i, c)| (self.item(*i as usize), c))
    }
}

/// The known media one video's frames match.
#[derive(Clone, Debug)]
pub struct VideoFindings {
    /// Known videos, with the percentages and the stretches of the video that match.
    pub videos: Vec<(
        super::video_match::VideoMatch,
        crate::knowndb::read::MediaView,
    )>,
    /// Known images some frames are near, with where in the video.
    pub images: Vec<(
        super::video_match::ImageMatch,
        crate::knowndb::read::MediaView,
    )>,
}

/// What the search of a scan's videos covered, and how long it took.
#[derive(Clone, Copy, Debug)]
pub struct VideoSearch {
    /// The known videos and their frames, loaded from the database.
    pub known_videos: u64,
    pub known_frames: u64,
    /// The distinct vPDQs searched (copies of one content count once).
    pub distinct_videos: u64,
    /// Loading the known frames, indexing them and searching.
    pub time: std::time::Duration,
}
