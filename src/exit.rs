//! The process exit codes, documented in `docs/usage.md`.

/// How a run ended, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The run completed and every item was read (`scan`: and no known csam, csem or cgi
    /// material was found).
    Clean,
    /// `db lookup`: some of the hashes asked for are not in the database.
    NotFound,
    /// `scan`: known csam, csem or cgi material was found (whether or not some items could
    /// not be read).
    KnownIllegal,
    /// `verify`: some report file does not match the manifest.
    ReportChanged,
    /// The run completed, but some items could not be read (their records say why).
    ItemErrors,
    /// Nothing useful was produced: bad settings, output not writable, and the like.
    Fatal,
    /// The command line could not be parsed.
    Usage,
    /// Interrupted (Ctrl-C): the output is marked incomplete.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::NotFound | ExitStatus::KnownIllegal | ExitStatus::ReportChanged => 1,
            ExitStatus::ItemErrors => 2,
            ExitStatus::Fatal => 3,
            ExitStatus::Usage => 64,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}
