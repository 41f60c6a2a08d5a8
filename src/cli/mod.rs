//! The command-line definition (clap derive). Nothing outside `main.rs` sees clap.

pub mod db;
pub mod demo;
pub mod hash;
mod progress;
pub mod scan;
pub mod vpdq;

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use hashsift::digest::Algorithm;
use hashsift::import::Format as SetFormat;
use hashsift::import::csvsets::Field;
use hashsift::knowndb::Category;
use hashsift::report::Format;

/// Hash seized media exactly and grade it against a known-material database.
///
/// hashsift never writes to the evidence: files are opened read-only without updating access
/// times, symlinks are recorded but not followed, and FIFOs and devices are never opened.
#[derive(Debug, Parser)]
#[command(name = "hashsift", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every file under PATH... with its MD5, SHA-1, SHA-256 and BLAKE3 digests.
    ///
    /// Exit codes: 0 every item read; 2 some items could not be read (see their records);
    /// 3 fatal error; 64 bad command line; 130 interrupted (output marked incomplete).
    Hash(HashArgs),
    /// Scan PATH... against the known-material database and write the categorised report into
    /// OUTDIR: every file hashed (MD5, SHA-1, SHA-256, BLAKE3), its type detected by content,
    /// every digest looked up, each file graded by the most severe match.
    ///
    /// Exit codes: 0 no known csam, csem or cgi material; 1 known csam, csem or cgi material
    /// found; 2 no such material found but some items could not be read; 3 fatal error;
    /// 64 bad command line; 130 interrupted.
    Scan(ScanArgs),
    /// Run the main job on built-in synthetic data: lay out a small evidence tree of generated
    /// images and other files, import three sample hash sets (VICS, a reference list, a unit's
    /// PDQ list) into a new database, scan, and say where the report is. Exits 0 when every
    /// step worked.
    Demo {
        /// The directory to work in (must not exist, or be empty)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Check a scan's report in DIR against its manifest.json: every file's size and SHA-256.
    ///
    /// Exit codes: 0 every file matches; 1 some file changed or is missing; 3 the manifest
    /// cannot be read.
    Verify {
        /// The report directory of a scan
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Manage the known-material database: import hash sets, list, look up, export.
    ///
    /// Every subcommand uses the database given by --db, else $HASHSIFT_DB, else
    /// $XDG_DATA_HOME/hashsift/known.db (~/.local/share/hashsift/known.db).
    Db(DbArgs),
    /// The child process that reads a disk image for hashsift (not for use by hand).
    #[command(name = "__image-worker", hide = true)]
    ImageWorker {
        #[arg(value_name = "IMAGE")]
        image: PathBuf,
    },
    /// Hash each VIDEO with vPDQ, Meta's video PDQ: the PDQ hash of frames sampled over time,
    /// one line per frame (FRAME,QUALITY,HASH,SECONDS) in the format of ThreatExchange's tools.
    /// FFmpeg decodes (Debian's ffmpeg package; HASHSIFT_FFMPEG names another).
    ///
    /// Exit codes: 0 every video hashed to its end; 2 some video not hashed or not to its end
    /// (said on stderr; the frames hashed are written); 3 fatal error (no FFmpeg); 64 bad
    /// command line; 130 interrupted.
    Vpdq(VpdqArgs),
}

#[derive(Debug, Args)]
pub struct VpdqArgs {
    /// The videos to hash
    #[arg(value_name = "VIDEO", required = true)]
    pub videos: Vec<PathBuf>,

    /// Write to this file (one video) or directory (each video as NAME.txt) instead of stdout
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub video: VideoArgs,

    /// Nothing on stderr but errors
    #[arg(short, long)]
    pub quiet: bool,
}

/// How videos are sampled (vpdq, hash --pdq, scan).
#[derive(Debug, Args)]
pub struct VideoArgs {
    /// Hash one frame every SECONDS of video, counted in frames at the stream's average rate
    /// as the reference counts them (0: every frame)
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = parse_seconds_per_hash)]
    pub seconds_per_hash: f64,

    /// Hash key frames only, decoding nothing else: several times faster, and not the
    /// reference's sampling (frames where the encoder put key frames, usually scene changes)
    #[arg(long)]
    pub keyframes: bool,

    /// The most time one video may take, in seconds; frames hashed until then are kept and the
    /// video is marked as not read to its end
    #[arg(long, value_name = "SECONDS", default_value_t = 1800,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub video_time_limit: u64,
}

impl VideoArgs {
    pub fn config(&self) -> hashsift::media::video::VideoConfig {
        hashsift::media::video::VideoConfig {
            seconds_per_hash: self.seconds_per_hash,
            keyframes: self.keyframes,
            time_limit: std::time::Duration::from_secs(self.video_time_limit),
            threads: 0,
        }
    }
}

/// Says once, on stderr, that the videos among `items` were not hashed with vPDQ when
/// FFmpeg was not there (`ffmpeg` as a run gives it).
pub fn warn_videos_unhashed<'a>(
    ffmpeg: &Option<Result<String, String>>,
    items: impl Iterator<Item = &'a hashsift::record::Item>,
) {
    let Some(Err(why)) = ffmpeg else { return };
    let videos = items
        .filter(|i| {
            i.content
                .is_some_and(|c| c.class == hashsift::media::sniff::Class::Video)
        })
        .count();
    if videos > 0 {
        eprintln!("hashsift: warning: {videos} videos not hashed perceptually (vPDQ): {why}");
    }
}

fn parse_seconds_per_hash(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err("give a number of seconds from 0 (every frame) to 3600".to_owned()),
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Evidence files or directories (a mounted image, an evidence folder).
    #[arg(required_unless_present = "resume", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The directory to write the report into (created if missing; never inside the
    /// evidence; refused if it already holds a report)
    #[arg(
        short = 'o',
        long = "out",
        value_name = "OUTDIR",
        required_unless_present = "resume"
    )]
    pub out: Option<PathBuf>,

    /// Resume the interrupted scan whose report directory is OUTDIR (Ctrl-C, a kill, a power
    /// cut): its evidence, database and settings are the journal's; what was hashed before is
    /// not read again. Only -j, -q and --db (the database moved since) may be given with it.
    #[arg(
        long,
        value_name = "OUTDIR",
        conflicts_with_all = ["paths", "out", "case", "evidence_id", "examiner",
                              "lookup", "no_pdq", "pdq_decode", "pdq_distance", "pdq_quality",
                              "no_archives", "no_image_verify", "open_images", "no_images"]
    )]
    pub resume: Option<PathBuf>,

    /// The known-material database file [default: $HASHSIFT_DB, else
    /// $XDG_DATA_HOME/hashsift/known.db]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Case number, recorded in the report
    #[arg(long, value_name = "NUMBER")]
    pub case: Option<String>,

    /// Identifier of the evidence item (exhibit), recorded in the report
    #[arg(long, value_name = "ID")]
    pub evidence_id: Option<String>,

    /// Examiner's name, recorded in the report
    #[arg(long, value_name = "NAME")]
    pub examiner: Option<String>,

    /// Worker threads, 1 to 256 [default: one per core]
    #[arg(short = 'j', long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<NonZeroUsize>,

    /// How digests are looked up: auto (whichever costs less), index (load every known hash
    /// into memory first), direct (ask the database about each file)
    #[arg(long, value_enum, default_value_t = LookupArg::Auto)]
    pub lookup: LookupArg,

    /// Hash no image with PDQ (and suggest nothing from near matches)
    #[arg(long)]
    pub no_pdq: bool,

    /// Hash no video with vPDQ (by default every video is, when FFmpeg is installed)
    #[arg(long)]
    pub no_vpdq: bool,

    #[command(flatten)]
    pub video: VideoArgs,

    /// Open no archive or compressed file: hash and grade each as one file only (by default
    /// every member of every container is graded too: docs/usage.md)
    #[arg(long)]
    pub no_archives: bool,

    #[command(flatten)]
    pub images: ImageArgs,

    /// How images are decoded for PDQ: full (every pixel, as the reference pipeline: its
    /// hashes) or fast (large JPEGs at a reduced scale, luma only: 2-3x faster, a few bits
    /// from the reference's hash)
    #[arg(long, value_enum, default_value_t = PdqDecodeArg::Full, value_name = "MODE")]
    pub pdq_decode: PdqDecodeArg,

    /// The farthest a known PDQ hash may be (bits of 256, at most 64) from one of an image's
    /// eight rotations and mirror images to be suggested
    #[arg(long, value_name = "BITS", default_value_t = 31,
          value_parser = clap::value_parser!(u32).range(0..=64))]
    pub pdq_distance: u32,

    /// The lowest PDQ quality (0-100) of an image searched for near matches
    #[arg(long, value_name = "Q", default_value_t = 50,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub pdq_quality: u8,

    /// No progress bar and no summary on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LookupArg {
    Auto,
    Index,
    Direct,
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// The known-material database file
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create a new, empty database (readable by its owner only)
    Init,
    /// Import one hash set from FILE... (several files make one set), in one transaction:
    /// a malformed record rejects the whole import and leaves the database unchanged
    Import(ImportArgs),
    /// List the hash sets with their provenance
    List {
        /// JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Remove a hash set, with the media no other set knows
    Remove {
        /// The set's name (see `db list`)
        name: String,
    },
    /// Counts per set and per category, and the conflicts between sets
    Stats {
        /// JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Every set's view of each HASH (MD5, SHA-1, SHA-256, BLAKE3 or PDQ, in hex).
    /// Exit code 0 if every hash is known, 1 if some are not.
    Lookup {
        #[arg(required = true, value_name = "HASH")]
        hashes: Vec<String>,
        /// JSON instead of text
        #[arg(long)]
        json: bool,
        /// Each HASH is a PDQ hash: list the known media within --pdq-distance bits of it,
        /// nearest first, with their distances (exit code 1 if some HASH has none)
        #[arg(long)]
        pdq: bool,
        /// With --pdq: the farthest a known hash may be (bits of 256, at most 64)
        #[arg(long, value_name = "BITS", default_value_t = 31, requires = "pdq",
              value_parser = clap::value_parser!(u32).range(0..=64))]
        pdq_distance: u32,
    },
    /// Write one set, or every medium with its triage grade (--all), as VICS 2.0 JSON, a
    /// hashdeep listing, or CSV (VICS and CSV exports import back)
    Export(ExportArgs),
    /// Show a category profile (how a source's codes map to hashsift's categories), or list
    /// the built-in ones
    Profile {
        /// A built-in profile's name or the path of a profile file
        name: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The set to export
    #[arg(
        required_unless_present = "all",
        conflicts_with = "all",
        value_name = "NAME"
    )]
    pub name: Option<String>,

    /// Every medium once, graded by the most severe category any set gives it
    #[arg(long)]
    pub all: bool,

    /// Output format
    #[arg(long, value_enum)]
    pub format: ExportFormatArg,

    /// The file to write (written under a temporary name, then renamed)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    /// VICS 2.0 JSON (#Media, US numbering)
    Vics,
    /// hashdeep listing (media with MD5, SHA-1, SHA-256 and a size only)
    Hashdeep,
    /// CSV with one row per medium
    Csv,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Hash-set files; the format of each is told from its content
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The set's name [default: the first file's name without its extension]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// The set's version, as its publisher numbers it
    #[arg(long = "set-version", value_name = "VERSION")]
    pub set_version: Option<String>,

    /// Who published the set (e.g. "Project VIC", "NIST", the unit's name)
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,

    /// Category profile: a built-in name (vics-us, caid-uk, vics-ca, icse, nsrl) or a .toml
    /// file [default: vics-us for VICS, nsrl for NSRL, icse for ICSE, none otherwise]
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// The format, instead of telling it from the content
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub format: Option<SetFormat>,

    /// The category of records that carry none (e.g. a unit's own md5sum list of CSAM);
    /// without it they are `uncategorised` (or the profile's default)
    #[arg(long, value_name = "CATEGORY", value_parser = parse_category)]
    pub category: Option<Category>,

    /// Replace the set of the same name, atomically (without it, an existing name is refused)
    #[arg(long)]
    pub replace: bool,

    /// CSV: the column named HEADER holds FIELD (md5, sha1, sha256, blake3, pdq,
    /// pdq_quality, photodna, size, category, label, series, tags, baseline,
    /// victim_identified, offender_identified, distributed)
    #[arg(long = "map-column", value_name = "FIELD=HEADER", value_parser = parse_map_column)]
    pub map_column: Vec<(Field, String)>,

    /// The category code CODE means CATEGORY (before the profile is consulted)
    #[arg(long = "map-value", value_name = "CODE=CATEGORY", value_parser = parse_map_value)]
    pub map_value: Vec<(String, Category)>,

    /// Refuse the set at the first category code that neither the profile nor --map-value
    /// maps [default: such records are imported as uncategorised, their code kept, and the
    /// codes are listed after the import and in `db stats`]
    #[arg(long)]
    pub strict_codes: bool,

    /// Leave malformed records out instead of refusing the set: they are counted (rejected
    /// in `db list`) and listed with their line or record numbers and reasons in a rejects
    /// file (see --rejects)
    #[arg(long)]
    pub skip_invalid: bool,

    /// With --skip-invalid: the rejects file to create (it must not exist) [default: beside
    /// the database, `<set>-rejects-<UTC time>.txt`, written when a record is rejected]
    #[arg(long, value_name = "FILE", requires = "skip_invalid")]
    pub rejects: Option<PathBuf>,

    /// Digest lists: untagged lines of 64 hex digits are BLAKE3 (b3sum output), not SHA-256
    #[arg(long)]
    pub blake3: bool,

    /// No progress bar and no summary on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_format(s: &str) -> Result<SetFormat, String> {
    SetFormat::parse(s)
}

fn parse_category(s: &str) -> Result<Category, String> {
    s.parse()
        .map_err(|e: hashsift::knowndb::category::UnknownCategory| e.to_string())
}

fn parse_map_column(s: &str) -> Result<(Field, String), String> {
    let (field, header) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not FIELD=HEADER"))?;
    let f = Field::parse(field.trim()).ok_or_else(|| {
        let names: Vec<&str> = Field::NAMES.iter().map(|(n, _)| *n).collect();
        format!("unknown field '{field}' (known: {})", names.join(", "))
    })?;
    Ok((f, header.to_owned()))
}

fn parse_map_value(s: &str) -> Result<(String, Category), String> {
    let (code, category) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("'{s}' is not CODE=CATEGORY"))?;
    Ok((code.trim().to_owned(), parse_category(category.trim())?))
}

fn parse_threads(s: &str) -> Result<NonZeroUsize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of threads"))?;
    hashsift::config::check_threads(n).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Evidence files or directories (a mounted image, an evidence folder).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Digest algorithms, comma-separated, from md5, sha1, sha256, blake3
    /// [default: all the format can carry: md5,sha1,sha256 for hashdeep, all four otherwise]
    #[arg(short = 'c', long, value_name = "LIST", value_delimiter = ',')]
    pub algorithms: Option<Vec<Algorithm>>,

    /// Worker threads, 1 to 256 [default: one per core]
    #[arg(short = 'j', long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<NonZeroUsize>,

    /// Write the listing to FILE instead of stdout (written under a temporary name, then
    /// renamed, so an existing FILE is replaced only by a finished listing)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = FormatArg::Hashdeep)]
    pub format: FormatArg,

    /// No progress bar and no summary on stderr
    #[arg(short, long)]
    pub quiet: bool,

    /// Also decode every image (JPEG, PNG, GIF, BMP, WebP, TIFF, by content) and give its
    /// PDQ perceptual hash and quality, and every video its vPDQ (jsonl and csv only; videos
    /// need FFmpeg)
    #[arg(long)]
    pub pdq: bool,

    #[command(flatten)]
    pub video: VideoArgs,

    /// How --pdq decodes large JPEGs: full (every pixel, as the reference pipeline: its
    /// hashes) or fast (at a reduced scale keeping the shorter side at 1024 px or more, luma
    /// only: 2-3x faster, a few bits from the reference's hash)
    #[arg(long, value_enum, default_value_t = PdqDecodeArg::Full, value_name = "MODE")]
    pub pdq_decode: PdqDecodeArg,

    /// Also list the members of every archive and compressed file (ZIP and the formats built
    /// on it, tar, 7z, gzip, bzip2, xz, zstd; nested ones too), each as
    /// CONTAINER!/NAME with its digests, read in memory: nothing is extracted to disk
    #[arg(long)]
    pub archives: bool,

    #[command(flatten)]
    pub images: ImageArgs,
}

/// How disk images are read (`hash` and `scan`).
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Do not read each disk image's whole media for its MD5 and SHA-1 (nor check those an
    /// E01 stores, nor hash the image file itself): faster, but the report then says nothing
    /// of the image's integrity
    #[arg(long)]
    pub no_image_verify: bool,

    /// Also open the disk images met while walking a folder (by content: EWF, or a partition
    /// table or file system at the start); by default only the images given as PATH are
    /// opened, and an image inside a folder is hashed as a file
    #[arg(long, conflicts_with = "no_images")]
    pub open_images: bool,

    /// Open no disk image: hash each as a file only, even when given as PATH
    #[arg(long)]
    pub no_images: bool,
}

impl ImageArgs {
    pub fn options(&self) -> Option<hashsift::expand::ImageOptions> {
        (!self.no_images).then_some(hashsift::expand::ImageOptions {
            verify: !self.no_image_verify,
            open_all: self.open_images,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PdqDecodeArg {
    Fast,
    Full,
}

impl From<PdqDecodeArg> for hashsift::media::decode::JpegScale {
    fn from(a: PdqDecodeArg) -> Self {
        match a {
            PdqDecodeArg::Fast => hashsift::media::decode::JpegScale::Fast,
            PdqDecodeArg::Full => hashsift::media::decode::JpegScale::Full,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// hashdeep 4.4 listing, accepted by `hashdeep -a -k` (MD5, SHA-1, SHA-256 only)
    Hashdeep,
    /// JSON Lines: a header, one object per item, an end record
    Jsonl,
    /// CSV with one row per item, safe to open in a spreadsheet
    Csv,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Hashdeep => Format::Hashdeep,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Csv => Format::Csv,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn algorithms_parse_comma_separated() {
        let cli = Cli::try_parse_from(["hashsift", "hash", "-c", "md5,blake3", "x"]).unwrap();
        let Command::Hash(args) = cli.command else {
            panic!("parsed as hash");
        };
        assert_eq!(
            args.algorithms.unwrap(),
            vec![Algorithm::Md5, Algorithm::Blake3]
        );
        assert!(Cli::try_parse_from(["hashsift", "hash", "-c", "crc32", "x"]).is_err());
    }

    #[test]
    fn import_options_parse() {
        let cli = Cli::try_parse_from([
            "hashsift",
            "db",
            "--db",
            "k.db",
            "import",
            "a.csv",
            "--map-column",
            "md5=Hash Value",
            "--map-value",
            "Cat A=csam",
            "--category",
            "csem",
            "--format",
            "csv",
        ])
        .unwrap();
        let Command::Db(db) = cli.command else {
            panic!("parsed as db");
        };
        assert_eq!(db.db.as_deref(), Some(std::path::Path::new("k.db")));
        let DbCommand::Import(args) = db.command else {
            panic!("parsed as import");
        };
        assert_eq!(
            args.map_column,
            vec![(Field::Md5, "Hash Value".to_string())]
        );
        assert_eq!(args.map_value, vec![("Cat A".to_string(), Category::Csam)]);
        assert_eq!(args.category, Some(Category::Csem));
        assert_eq!(args.format, Some(SetFormat::Csv));
        assert!(
            Cli::try_parse_from(["hashsift", "db", "import", "a", "--category", "bad"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["hashsift", "db", "import", "a", "--map-column", "colour=x"])
                .is_err()
        );
    }
}
