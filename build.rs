//! Builds the shim over The Sleuth Kit (`csrc/tsk_walk.c`) when libtsk is installed (Debian's
//! `libtsk-dev`), and tells the code so (`cfg(tsk)`). Without it hashsift builds and runs all the
//! same, and refuses disk images as roots, saying what to install.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tsk)");
    println!("cargo::rerun-if-changed=csrc/tsk_walk.c");
    println!("cargo::rerun-if-env-changed=HASHSIFT_NO_TSK");
    if std::env::var_os("HASHSIFT_NO_TSK").is_some() {
        return;
    }
    let tsk = match pkg_config::Config::new().probe("tsk") {
        Ok(lib) => lib,
        Err(e) => {
            println!(
                "cargo::warning=The Sleuth Kit not found ({e}): disk images will not be read \
                 (install libtsk-dev and rebuild)"
            );
            return;
        }
    };
    let mut build = cc::Build::new();
    build
        .file("csrc/tsk_walk.c")
        .warnings(true)
        .extra_warnings(true);
    for dir in &tsk.include_paths {
        build.include(dir);
    }
    build.compile("hashsift_tsk");
    println!("cargo::rustc-cfg=tsk");
}
