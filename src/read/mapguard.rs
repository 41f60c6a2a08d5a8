//! Survives a memory-mapped file being truncated while it is read.
//!
//! Reading a mapped page past the current end of a file raises `SIGBUS`, which would kill the
//! whole run. While a thread reads a mapping inside [`guarded`], a `SIGBUS` whose address lies in
//! that mapping is absorbed: the rest of the mapping is replaced by zero pages, a per-thread flag
//! is set, and the read goes on to its end. The caller then reports the file as changed instead
//! of returning its digest. A `SIGBUS` anywhere else is handed to the handler that was installed
//! before (Rust's own, or the default action).

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{Ordering, compiler_fence};

thread_local! {
    /// The address range `[start, end)` this thread is reading, page-rounded; `(0, 0)` when none.
    static RANGE: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Set by the handler when a fault inside `RANGE` was absorbed.
    static FAULTED: Cell<bool> = const { Cell::new(false) };
}

struct Previous(libc::sigaction);
// SAFETY: a `sigaction` is plain data (a handler address, a mask and flags).
unsafe impl Sync for Previous {}
unsafe impl Send for Previous {}

static PREVIOUS: OnceLock<Previous> = OnceLock::new();
static PAGE: OnceLock<usize> = OnceLock::new();

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| {
        usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
    })
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for a SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    // SAFETY: volatile access to this thread's own cells; see `guarded`.
    let (start, end) = RANGE.with(|r| unsafe { std::ptr::read_volatile(r.as_ptr()) });
    if start <= addr && addr < end {
        let page = *PAGE.get().unwrap_or(&4096);
        let from = addr & !(page - 1);
        // SAFETY: [from, end) lies inside the mapping this thread is reading; replacing it with
        // anonymous zero pages keeps the address range valid until the caller unmaps it.
        let p = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                end - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            // SAFETY: as above.
            FAULTED.with(|f| unsafe { std::ptr::write_volatile(f.as_ptr(), true) });
            return;
        }
    }
    // Not ours: behave as if this handler were not installed.
    match PREVIOUS.get() {
        Some(Previous(prev))
            if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN =>
        {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this type.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig, info, ctx);
            } else {
                // SAFETY: a handler installed without SA_SIGINFO takes only the signal number.
                let f: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig);
            }
        }
        _ => {
            // Restore the default action; returning re-executes the access, which then kills
            // the process as it would have without hashsift's handler.
            // SAFETY: signal() with SIG_DFL is async-signal-safe.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
}

fn install() {
    PREVIOUS.get_or_init(|| {
        page_size();
        // SAFETY: zeroed sigaction structs are valid; the handler has the SA_SIGINFO signature.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGBUS, &action, &mut previous);
            Previous(previous)
        }
    });
}

/// Runs `read` over `map` (a memory-mapped file) so that a truncation of the file during the
/// read cannot kill the process. Returns whether a truncation was absorbed; when it was, the
/// bytes `read` saw past the new end of the file were zeros and must not be trusted.
///
/// # Errors
/// Whatever `read` returns.
pub fn guarded<E>(map: &[u8], read: impl FnOnce(&[u8]) -> Result<(), E>) -> Result<bool, E> {
    install();
    let page = page_size();
    let start = map.as_ptr() as usize;
    let end = (start + map.len()).div_ceil(page) * page;
    // The handler reads and writes these cells behind the compiler's back: volatile accesses
    // and fences keep the stores before the read and the load after it. `Reset` clears the range
    // even if `read` panics, so a later fault elsewhere is never taken for this mapping's.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            compiler_fence(Ordering::SeqCst);
            // SAFETY: the pointer comes from this thread's own cell.
            RANGE.with(|r| unsafe { std::ptr::write_volatile(r.as_ptr(), (0, 0)) });
        }
    }
    // SAFETY: the pointers come from this thread's own cells.
    unsafe {
        FAULTED.with(|f| std::ptr::write_volatile(f.as_ptr(), false));
        RANGE.with(|r| std::ptr::write_volatile(r.as_ptr(), (start, end)));
    }
    compiler_fence(Ordering::SeqCst);
    let reset = Reset;
    let result = read(map);
    drop(reset);
    // SAFETY: as above.
    let faulted = FAULTED.with(|f| unsafe { std::ptr::read_volatile(f.as_ptr()) });
    result.map(|()| faulted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn regression_truncated_while_mapped_is_reported_not_fatal() {
        let mut file = tempfile::tempfile().unwrap();
        let page = page_size();
        file.write_all(&vec![0xAB; 8 * page]).unwrap();
        // SAFETY: test-owned file.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        file.set_len(2 * page as u64).unwrap();
        let mut seen = 0usize;
        let faulted = guarded::<()>(&map, |bytes| {
            seen = bytes.iter().filter(|&&b| b == 0xAB).count();
            Ok(())
        })
        .unwrap();
        assert!(faulted);
        assert_eq!(seen, 2 * page, "bytes past the new end read as zeros");
    }

    #[test]
    fn untouched_mapping_reports_no_fault() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"hello").unwrap();
        // SAFETY: test-owned file.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let faulted = guarded::<()>(&map, |b| {
            assert_eq!(b, b"hello");
            Ok(())
        })
        .unwrap();
        assert!(!faulted);
    }
}
