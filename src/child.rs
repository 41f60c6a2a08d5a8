//! Child processes hashsift runs on hostile input (FFmpeg on videos, the image worker on disk
//! images), contained: no environment (no proxy or library path taken from the user's), the
//! working directory `/`, no core dumps (a crash writes nothing to disk), a bound on their
//! address space, their own process group (the terminal's Ctrl-C is hashsift's to handle), and
//! killed if hashsift dies (also if it died before that was arranged).

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

/// A command for `program`, contained as the module says, with at most `memory` bytes of
/// address space, its stdin empty and its stdout and stderr piped.
pub fn contained(program: &Path, memory: libc::rlim_t) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(program);
    c.env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let parent = std::process::id();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            let memory = libc::rlimit {
                rlim_cur: memory,
                rlim_max: memory,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &none) != 0
                || libc::setrlimit(libc::RLIMIT_AS, &memory) != 0
                || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // hashsift died before the request took effect: nothing would kill this child.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    c
}
