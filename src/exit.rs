//! The process exit codes, documented in `docs/usage.md`.

/// How a run ended, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// The run completed and every item was read.
    Clean = 0,
    /// `db lookup`: some of the hashes asked for are not in the database.
    NotFound = 1,
    /// The run completed, but some items could not be read (their records say why).
    ItemErrors = 2,
    /// Nothing useful was produced: bad settings, output not writable, and the like.
    Fatal = 3,
    /// The command line could not be parsed.
    Usage = 64,
    /// Interrupted (Ctrl-C): the output is marked incomplete.
    Interrupted = 130,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}
