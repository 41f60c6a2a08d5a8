//! The command-line definition (clap derive). Nothing outside `main.rs` sees clap.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use hashsift::digest::Algorithm;
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

    /// Worker threads [default: one per core]
    #[arg(short = 'j', long, value_name = "N")]
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
        let Command::Hash(args) = cli.command;
        assert_eq!(
            args.algorithms.unwrap(),
            vec![Algorithm::Md5, Algorithm::Blake3]
        );
        assert!(Cli::try_parse_from(["hashsift", "hash", "-c", "crc32", "x"]).is_err());
    }
}
