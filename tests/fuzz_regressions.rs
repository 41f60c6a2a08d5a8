//! Replays every input under `fuzz/regressions/TARGET/` through what that fuzz target calls
//! (`fuzz/fuzz_targets/`): inputs that once crashed a parser or the decoder, kept so the crash
//! stays fixed. Each must now give a result or an error, never a panic. Files are named after
//! what they found.

use std::path::Path;

include!("support/fuzz_replay.rs");

#[test]
fn inputs_that_once_crashed_a_fuzz_target_are_handled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for target in std::fs::read_dir(&root).expect("fuzz/regressions") {
        let target = target.unwrap();
        if !target.file_type().unwrap().is_dir() {
            continue;
        }
        let name = target.file_name().into_string().unwrap();
        for input in std::fs::read_dir(target.path()).unwrap() {
            let input = input.unwrap().path();
            let data = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| replay(&name, &data));
            assert!(outcome.is_ok(), "{} panics again", input.display());
            replayed += 1;
        }
    }
    eprintln!("{replayed} regression inputs replayed");
}
