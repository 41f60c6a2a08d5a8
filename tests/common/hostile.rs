//! A hostile evidence tree, generated in a temporary directory: damaged and malicious images,
//! decompression bombs, odd file kinds, link loops, a tree deeper and paths longer than the
//! system's limits, and names built to break reports. Each entry comes with what a scan must
//! say of it.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::pseudo_random;

/// What a scan must report of one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A regular file read whole: digests, no error.
    Read,
    /// A file read whole whose content is an image no decoder accepts: digests and a
    /// `pdq_error` starting with this.
    Undecodable(&'static str),
    /// A file read whole whose image is hashed (its first frame).
    Hashed,
    /// An item of this kind, never opened (no digests, no error).
    Kind(&'static str),
    /// An item with an error of this stage.
    Error(&'static str),
    /// Changed by [`disturb`] while the scan runs: listed or not (a directory removed), read
    /// or an error with a reason, whichever the timing gives.
    Racy,
}

/// One path of the tree, as bytes, and what must be said of it.
pub struct Entry {
    pub path: PathBuf,
    pub expect: Expect,
}

/// A 300x200 synthetic picture in `format`, by the `image` crate's encoder.
pub fn encoded(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(300, 200, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// CRC-32 as PNG uses it, bit by bit.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The first half of `bytes`: a file cut short.
pub fn half(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len() / 2].to_vec()
}

/// `jpeg` with its frame header (SOF0) saying 65,000 x 65,000 pixels (4.2 gigapixels).
pub fn jpeg_bomb(jpeg: &[u8]) -> Vec<u8> {
    let mut bomb = jpeg.to_vec();
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bomb[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
    bomb
}

/// `png` with its IHDR saying 100,000 x 100,000 pixels, its CRC made right so that only the
/// size is wrong.
pub fn png_bomb(png: &[u8]) -> Vec<u8> {
    let mut bomb = png.to_vec();
    bomb[16..24].copy_from_slice(&[0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0]);
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    bomb
}

/// A GIF of `frames` frames of 16x16 (only the first is hashed).
fn many_frames(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        for k in 0..frames {
            let img = image::RgbaImage::from_fn(16, 16, |x, y| {
                image::Rgba([(x * 16) as u8, (y * 16) as u8, (k % 256) as u8, 255])
            });
            enc.encode_frame(image::Frame::new(img)).expect("gif frame");
        }
    }
    out
}

/// Creates `depth` nested directories named `name` under `dir`, with a file `leaf` at the
/// bottom, through directory descriptors (the whole path may exceed PATH_MAX), and returns
/// every path made, the deepest last.
pub fn nest(dir: &Path, name: &str, depth: usize, leaf: &str) -> Vec<PathBuf> {
    let cname = CString::new(name).unwrap();
    let mut made = Vec::new();
    let mut path = dir.to_path_buf();
    let top = CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: plain descriptor calls on NUL-terminated names; every descriptor is closed.
    unsafe {
        let mut fd = libc::open(top.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        assert!(fd >= 0, "open {}", dir.display());
        for _ in 0..depth {
            assert_eq!(libc::mkdirat(fd, cname.as_ptr(), 0o755), 0, "mkdirat");
            let next = libc::openat(fd, cname.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            assert!(next >= 0, "openat");
            libc::close(fd);
            fd = next;
            path.push(name);
            made.push(path.clone());
        }
        let cleaf = CString::new(leaf).unwrap();
        let f = libc::openat(fd, cleaf.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o644);
        assert!(f >= 0, "create the leaf");
        assert_eq!(libc::write(f, b"deep".as_ptr().cast(), 4), 4);
        libc::close(f);
        libc::close(fd);
    }
    made.push(path.join(leaf));
    made
}

/// The directory `top` under `root`, [`nest`]ed `depth` deep with `leaf` at the bottom: every
/// directory an item of its kind, the leaf a file read.
fn nested_tree(root: &Path, top: &str, name: &str, depth: usize, leaf: &str) -> Vec<Entry> {
    let top = root.join(top);
    std::fs::create_dir(&top).unwrap();
    let mut entries = vec![Entry {
        path: top.clone(),
        expect: Expect::Kind("dir"),
    }];
    let mut made = nest(&top, name, depth, leaf);
    let bottom = made.pop().expect("the leaf comes last");
    entries.extend(made.into_iter().map(|path| Entry {
        path,
        expect: Expect::Kind("dir"),
    }));
    entries.push(Entry {
        path: bottom,
        expect: Expect::Read,
    });
    entries
}

/// Builds the tree under `root` (which must exist) and returns its entries (not `root`).
pub fn build(root: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut put = |name: &[u8], bytes: &[u8], expect: Expect| {
        let path = root.join(OsStr::from_bytes(name));
        std::fs::write(&path, bytes).unwrap();
        entries.push(Entry { path, expect });
    };
    let jpeg = encoded(image::ImageFormat::Jpeg);
    let png = encoded(image::ImageFormat::Png);
    const BAD: &str = "cannot be decoded: ";
    put(b"truncated.jpg", &half(&jpeg), Expect::Undecodable(BAD));
    put(b"truncated.png", &half(&png), Expect::Undecodable(BAD));
    put(
        b"truncated.gif",
        &half(&encoded(image::ImageFormat::Gif)),
        Expect::Undecodable(BAD),
    );
    put(
        b"truncated.webp",
        &half(&encoded(image::ImageFormat::WebP)),
        Expect::Undecodable(BAD),
    );
    put(
        b"truncated.tiff",
        &half(&encoded(image::ImageFormat::Tiff)),
        Expect::Undecodable(BAD),
    );
    put(
        b"bomb.jpg",
        &jpeg_bomb(&jpeg),
        Expect::Undecodable("declares 65000x65000"),
    );
    put(
        b"bomb.png",
        &png_bomb(&png),
        Expect::Undecodable("declares 100000x100000"),
    );
    put(b"frames.gif", &many_frames(2000), Expect::Hashed);
    let mut noise = vec![0xFF, 0xD8, 0xFF, 0xE0];
    noise.extend(pseudo_random(20_000, 5));
    put(b"noise.jpg", &noise, Expect::Undecodable(BAD));
    put(b"random.jpg", &pseudo_random(10_000, 7), Expect::Read);
    put(b"random.png", &pseudo_random(3_000, 8), Expect::Read);
    put(b"zero.jpg", b"", Expect::Read);
    put(b"one-byte", b"x", Expect::Read);
    // Names made to break reports: not UTF-8, a newline, quotes and commas, markup, formulas.
    put(b"not-utf8-\xff\xfe.jpg", b"not utf-8", Expect::Read);
    put(b"line\nbreak.txt", b"newline", Expect::Read);
    put(b"quote\"s, and, commas.csv", b"quotes", Expect::Read);
    put(b"<img src=x onerror=alert(1)>.jpg", b"markup", Expect::Read);
    // Extensions a spreadsheet would run as formulas (the path cell starts with '/').
    put(b"invoice.=HYPERLINK(\"x\")", b"formula", Expect::Read);
    put(b"sum.+1-2", b"formula", Expect::Read);

    // A large sparse file (1 GiB of holes).
    let sparse = root.join("sparse.img");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    entries.push(Entry {
        path: sparse,
        expect: Expect::Read,
    });
    let fifo = root.join("fifo");
    super::mkfifo(&fifo);
    entries.push(Entry {
        path: fifo,
        expect: Expect::Kind("fifo"),
    });
    let socket = root.join("socket");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    entries.push(Entry {
        path: socket,
        expect: Expect::Kind("socket"),
    });
    for (link, target) in [
        ("loop-a", "loop-b"),
        ("loop-b", "loop-a"),
        ("self", "self"),
        ("root-link", "/"),
        ("dangling", "nowhere/at/all"),
    ] {
        let path = root.join(link);
        std::os::unix::fs::symlink(target, &path).unwrap();
        entries.push(Entry {
            path,
            expect: Expect::Kind("symlink"),
        });
    }
    // 2,100 directories deep, two bytes a level: past PATH_MAX (4096) about halfway down.
    entries.extend(nested_tree(root, "deep", "d", 2100, "bottom.txt"));
    // One path longer than 4096 bytes in few levels: 200-byte names.
    entries.extend(nested_tree(root, "long", &"n".repeat(200), 22, "leaf.txt"));
    // Unreadable: mode 000 (the test drops root's power to override it; see `deny_root`). The
    // file is named as markup: the report's error list shows it.
    let file = root.join(UNREADABLE_FILE);
    std::fs::write(&file, b"secret").unwrap();
    let dir = root.join("unreadable-dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("inside"), b"never listed").unwrap();
    for p in [&file, &dir] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    }
    entries.push(Entry {
        path: file,
        expect: Expect::Error("open"),
    });
    entries.push(Entry {
        path: dir,
        expect: Expect::Error("list_dir"),
    });
    // Changed while the scan runs (see `disturb`).
    let growing = root.join("growing.log");
    std::fs::write(&growing, pseudo_random(1 << 20, 11)).unwrap();
    let shrinking = root.join("shrinking.bin");
    std::fs::write(&shrinking, pseudo_random(64 << 20, 12)).unwrap();
    let vanishing = root.join("vanishing");
    std::fs::create_dir(&vanishing).unwrap();
    for k in 0..200 {
        std::fs::write(vanishing.join(format!("f{k}")), b"soon gone").unwrap();
    }
    for path in [growing, shrinking, vanishing] {
        entries.push(Entry {
            path,
            expect: Expect::Racy,
        });
    }
    entries
}

/// The unreadable file's name.
pub const UNREADABLE_FILE: &str = "<b onmouseover=alert(2)>unreadable";

/// Gives back the permissions [`build`] took away, so the tree can be removed.
pub fn restore(root: &Path) {
    for name in [UNREADABLE_FILE, "unreadable-dir"] {
        let _ = std::fs::set_permissions(
            root.join(name),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        );
    }
}

/// While a scan of [`build`]'s tree runs: appends to `growing.log` for three seconds, cuts
/// `shrinking.bin` to 4 KiB after 150 ms, and removes `vanishing/` after 20 ms. The thread
/// ends by itself.
pub fn disturb(root: &Path) -> std::thread::JoinHandle<()> {
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        use std::io::Write;
        let start = std::time::Instant::now();
        let mut growing = std::fs::OpenOptions::new()
            .append(true)
            .open(root.join("growing.log"))
            .unwrap();
        let (mut cut, mut removed) = (false, false);
        let chunk = pseudo_random(64 << 10, 13);
        while start.elapsed() < std::time::Duration::from_secs(3) {
            growing.write_all(&chunk).unwrap();
            let t = start.elapsed().as_millis();
            if !removed && t >= 20 {
                std::fs::remove_dir_all(root.join("vanishing")).unwrap();
                removed = true;
            }
            if !cut && t >= 150 {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(root.join("shrinking.bin"))
                    .unwrap()
                    .set_len(4096)
                    .unwrap();
                cut = true;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    })
}

/// The command that runs `hashsift`, unable to read what its mode forbids even as root: as
/// root, through `setpriv` with the capabilities that override file modes dropped from the
/// bounding set. `None` (with a message) when that is needed and `setpriv` is missing.
pub fn deny_root() -> Option<std::process::Command> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(super::hashsift());
    }
    if !super::have_tool("setpriv", "util-linux") {
        return None;
    }
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--bounding-set=-dac_override,-dac_read_search", "--"])
        .arg(env!("CARGO_BIN_EXE_hashsift"));
    Some(cmd)
}
