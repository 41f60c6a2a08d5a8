//! The commands as the library runs them: settings in, an outcome and an exit status out. The
//! binary (`src/cli/`) parses the command line into settings and says what happened; every
//! decision (which journal, when it goes, what the exit status is) is made here.

pub mod scan;
