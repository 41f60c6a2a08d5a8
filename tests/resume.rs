//! Resuming an interrupted scan (`scan --resume OUTDIR`) from its journal: killed (SIGKILL, gone
//! at once as in a crash) at random points five times in a row, interrupted with Ctrl-C, with
//! the journal's end torn or damaged, with the evidence changed between sessions: each time the
//! resumed report equals an uninterrupted run's item for item (times aside), only what was not
//! committed is read again, and `manifest.json` says when the scan was resumed.
//!
//! The oracle is an uninterrupted scan of the same evidence against the same database; the
//! digests of a file changed between sessions come from coreutils.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// xorshift64*: the kill points, from a seed the test prints (set `HASHSIFT_TEST_SEED` to
/// replay one).
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("HASHSIFT_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("kill points from HASHSIFT_TEST_SEED={seed}");
        Rng(seed | 1)
    }

    /// Uniform in `[lo, hi)`.
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let unit = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        lo + unit * (hi - lo)
    }
}

/// A picture with some structure (so that its PDQ quality is high), different for each seed.
fn scene(seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(480, 360, |x, y| {
        let (cx, cy) = (120 + (seed * 37) % 240, 90 + (seed * 53) % 180);
        let d = ((x as i32 - cx as i32).pow(2) + (y as i32 - cy as i32).pow(2)) as u32;
        let ring = ((d / (400 + seed * 7)) % 2) as u8 * 160;
        image::Rgb([
            ring.wrapping_add((x * 255 / 480) as u8),
            ((y * seed) % 256) as u8,
            ring ^ ((x + y + seed) % 256) as u8,
        ])
    })
}

/// The evidence: small files in nested folders, large files, generated pictures (JPEG and
/// PNG), a damaged JPEG, hard links, a symlink, an empty file, the sample images a sample VICS
/// set grades, the mirror image of a picture the database knows by PDQ only, archives, and
/// (with FFmpeg) a copy of a video the database knows by vPDQ only.
fn evidence(root: &Path) {
    for i in 0..400u64 {
        let len = 1 + (i as usize * 7919) % 65_536;
        common::write_file(&root.join(format!("docs/{}/{i}.bin", i % 13)), len, i);
    }
    for i in 0..6u64 {
        common::write_file(&root.join(format!("big/{i}.raw")), 24 << 20, 1000 + i);
    }
    std::fs::create_dir_all(root.join("pictures")).unwrap();
    for i in 0..240u32 {
        let img = scene(i);
        if i % 2 == 0 {
            img.save(root.join(format!("pictures/{i}.png"))).unwrap();
        } else {
            let mut out = std::fs::File::create(root.join(format!("pictures/{i}.jpg"))).unwrap();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
                .encode_image(&img)
                .unwrap();
        }
    }
    let jpeg = std::fs::read(root.join("pictures/1.jpg")).unwrap();
    std::fs::write(root.join("pictures/damaged.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    image::imageops::flip_horizontal(&scene(500))
        .save(root.join("pictures/mirrored.png"))
        .unwrap();
    std::fs::hard_link(root.join("big/0.raw"), root.join("big/0-link.raw")).unwrap();
    std::fs::hard_link(root.join("pictures/3.jpg"), root.join("docs/3-again.jpg")).unwrap();
    std::os::unix::fs::symlink("../big/1.raw", root.join("docs/link")).unwrap();
    std::fs::write(root.join("docs/empty"), b"").unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("hashsets/samples/images");
    std::fs::create_dir_all(root.join("samples")).unwrap();
    let mut images = Vec::new();
    for e in std::fs::read_dir(samples).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), root.join("samples").join(e.file_name())).unwrap();
        images.push(e.path());
    }
    // Archives of every format, nested, and a ZIP of the sample images (members graded).
    let images: Vec<&Path> = images.iter().map(PathBuf::as_path).collect();
    common::make_archives(&root.join("archives"), &images);
    std::fs::remove_file(root.join("archives/expected.json")).unwrap();
    // Videos (with FFmpeg): a copy of the known video of [`database`] at another bitrate, and
    // an unrelated one.
    if have_ffmpeg() {
        std::fs::create_dir_all(root.join("videos")).unwrap();
        ffmpeg(&[VIDEO, "-b:v", "150k"], &root.join("videos/copy.mp4"));
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "mandelbrot=size=320x240:rate=25,trim=duration=4",
            ],
            &root.join("videos/other.mp4"),
        );
    }
}

/// The known video's source: six seconds of FFmpeg's test pattern.
const VIDEO: &str = "testsrc2=size=480x270:rate=25:duration=6";

/// Whether FFmpeg runs: without it the evidence has no videos (the scan's own warning aside,
/// the comparison holds the same).
fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// FFmpeg's lavfi source `args[0]` (or plain arguments) written as H.264 to `out`.
fn ffmpeg(args: &[&str], out: &Path) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"]);
    if args[0].contains('=') {
        cmd.args(["-f", "lavfi", "-i"]);
    }
    let status = cmd
        .args(args)
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The database: the sample VICS set, and a unit's PDQ list knowing the picture whose mirror
/// image the evidence holds (its hash from `hash --pdq` of the picture itself, kept outside
/// the evidence).
fn database(work: &Path) -> PathBuf {
    let db = work.join("known.db");
    let vics = Path::new(env!("CARGO_MANIFEST_DIR")).join("hashsets/samples/vics-1.3-media.json");
    let out = common::hashsift()
        .args(["db", "--db"])
        .arg(&db)
        .arg("import")
        .arg(vics)
        .args(["--name", "sample-vics", "--set-version", "1"])
        .output()
        .unwrap();
    common::assert_exit(&out, 0);
    let original = work.join("original");
    std::fs::create_dir_all(&original).unwrap();
    scene(500).save(original.join("picture.png")).unwrap();
    let listing = work.join("original.jsonl");
    let mut cmd = common::hashsift();
    cmd.args(["hash", "--pdq", "-q", "--format", "jsonl", "-o"])
        .arg(&listing)
        .arg(&original);
    common::assert_exit(&common::run_with_timeout(cmd, Duration::from_secs(60)), 0);
    let (_, items, _) = common::parse_jsonl(&std::fs::read_to_string(&listing).unwrap());
    let picture = items.values().find(|v| v["kind"] == "file").unwrap();
    let set = work.join("unit.pdq");
    std::fs::write(
        &set,
        format!(
            "{},{}\n",
            picture["pdq"].as_str().unwrap(),
            picture["pdq_quality"]
        ),
    )
    .unwrap();
    common::import_graded(&db, &set, "unit-pdq", "csam");
    // A known video (its vPDQ from `hashsift vpdq` of the original, kept outside the evidence).
    if have_ffmpeg() {
        let video = original.join("video.mp4");
        ffmpeg(&[VIDEO], &video);
        let out = common::hashsift().arg("vpdq").arg(&video).output().unwrap();
        common::assert_exit(&out, 0);
        let set = work.join("unit-videos.txt");
        std::fs::write(&set, out.stdout).unwrap();
        common::import_graded(&db, &set, "unit-videos", "csem");
    }
    db
}

fn scan_command(db: &Path, out: &Path, root: &Path) -> Command {
    let mut cmd = common::hashsift();
    cmd.args(["scan", "-q", "-j", "1", "--db"])
        .arg(db)
        .arg("-o")
        .arg(out)
        .arg(root);
    cmd
}

fn resume_command(out: &Path) -> Command {
    let mut cmd = common::hashsift();
    cmd.args(["scan", "-q", "-j", "1", "--resume"]).arg(out);
    cmd
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hashsift")
}

/// Kills `child`, a scan into `out`, with SIGKILL `wait` after its journal appeared (before
/// that there is nothing to resume: the scan is simply run again); false when it finished
/// first.
fn kill_after(mut child: Child, out: &Path, wait: Duration) -> bool {
    while !out.join("journal.hsj").exists() {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    status.signal() == Some(libc::SIGKILL)
}

/// The report files of a scan, in the order it writes them.
const REPORT: [&str; 6] = [
    "items.jsonl",
    "items.csv",
    "vics.json",
    "summary.json",
    "summary.html",
    "manifest.json",
];

/// What a report says, with what differs between two runs of the same scan left out: times,
/// the command line (the report directories differ), the database's path (a resume may name
/// a moved one) and the resumed sessions. `items.csv`
/// and `vics.json` hold none of these: they are compared byte for byte.
struct Report {
    items: Vec<Value>,
    csv: String,
    summary: Value,
    vics: String,
    manifest: Value,
}

fn read_report(dir: &Path) -> Report {
    let text = std::fs::read_to_string(dir.join("items.jsonl")).unwrap();
    let mut items = Vec::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if v["type"] != "item" {
            for key in ["started", "finished", "command", "database", "resumed"] {
                v.as_object_mut().unwrap().remove(key);
            }
        }
        items.push(v);
    }
    let mut summary: Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    for key in [
        "started",
        "finished",
        "duration_seconds",
        "throughput_bytes_per_second",
        "resumed",
    ] {
        summary.as_object_mut().unwrap().remove(key);
    }
    summary
        .as_object_mut()
        .unwrap()
        .remove("index_load_seconds");
    summary["pdq"]
        .as_object_mut()
        .unwrap()
        .remove("load_seconds");
    if let Some(search) = summary["videos"]["search"].as_object_mut() {
        search.remove("seconds");
    }
    Report {
        items,
        csv: std::fs::read_to_string(dir.join("items.csv")).unwrap(),
        summary,
        vics: std::fs::read_to_string(dir.join("vics.json")).unwrap(),
        manifest: manifest(dir),
    }
}

#[track_caller]
fn assert_same_report(resumed: &Path, reference: &Report) {
    let got = read_report(resumed);
    assert_eq!(
        got.items.len(),
        reference.items.len(),
        "records in items.jsonl"
    );
    for (g, r) in got.items.iter().zip(&reference.items) {
        assert_eq!(g, r, "items.jsonl differs from the uninterrupted run's");
    }
    assert_eq!(got.csv, reference.csv, "items.csv");
    assert_eq!(got.summary, reference.summary, "summary.json");
    assert_eq!(got.vics, reference.vics, "vics.json");
    assert_eq!(got.manifest["complete"], true);
    assert!(
        !resumed.join("journal.hsj").exists(),
        "a complete scan's journal is removed"
    );
    let out = common::hashsift()
        .arg("verify")
        .arg(resumed)
        .output()
        .unwrap();
    common::assert_exit(&out, 0);
}

/// Scans `root` without interruption into `out`: the reference report, and how long it took.
fn reference_scan(db: &Path, out: &Path, root: &Path) -> (Report, Duration) {
    let began = Instant::now();
    let o = common::run_with_timeout(scan_command(db, out, root), Duration::from_secs(300));
    let took = began.elapsed();
    eprintln!("uninterrupted scan of {}: {took:?}", root.display());
    // Known csam (the sample set's and the suggestion aside, which changes no exit code).
    common::assert_exit(&o, 1);
    let report = read_report(out);
    assert_eq!(report.manifest["resumed"], Value::Array(vec![]));
    // The corpus holds what the comparison is meant to cover.
    let items = &report.items;
    let has = |f: &dyn Fn(&Value) -> bool| items.iter().any(f);
    assert!(has(&|v| v["category"] == "csam"), "an exactly graded file");
    assert!(
        has(&|v| v["suggested_category"] == "csam"),
        "a PDQ suggestion"
    );
    assert!(
        has(&|v| v.get("pdq_error").is_some()),
        "an image not decoded"
    );
    assert!(has(&|v| v["nlink"] == 2), "hard links");
    assert!(
        has(&|v| v["kind"] == "member" && v["category"] == "csam"),
        "a graded member"
    );
    assert!(has(&|v| v["contains"] == "csam"), "a container of csam");
    if have_ffmpeg() {
        assert!(
            has(&|v| v["suggested_category"] == "csem" && v.get("vpdq_matches").is_some()),
            "a video suggested by vPDQ"
        );
    }
    (report, took)
}

/// Files under the report directory other than the journal, with their sizes.
fn report_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "journal.hsj")
        .collect();
    names.sort();
    names
}

/// What the last resumed session of the scan in `dir` took from the journal.
fn last_carried(dir: &Path) -> u64 {
    let sessions = manifest_sessions(dir);
    sessions.last().unwrap()["contents_carried_over"]
        .as_u64()
        .unwrap()
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn manifest_sessions(dir: &Path) -> Vec<Value> {
    manifest(dir)["resumed"].as_array().unwrap().clone()
}

#[test]
fn killed_five_times_then_resumed_the_report_equals_an_uninterrupted_scan() {
    let (_serial, f) = fixture();
    let (work, root, db, reference, took) = (&f.work, &f.root, &f.db, &f.reference, f.took);

    let out = work.path().join("killed");
    let mut rng = Rng::from_env();
    let mut journal_records = Vec::new();
    for k in 0..5 {
        let cmd = if k == 0 {
            scan_command(db, &out, root)
        } else {
            resume_command(&out)
        };
        // Each session does less than a fifth of the scan before its kill, so all five land.
        let wait = took.mul_f64(rng.between(0.04, 0.18));
        assert!(
            kill_after(spawn(cmd), &out, wait),
            "session {k} finished within {wait:?}, before its kill (the whole scan took {took:?})"
        );
        assert_eq!(
            report_files(&out),
            Vec::<String>::new(),
            "a scan killed while hashing leaves its journal only"
        );
        let bytes = std::fs::read(out.join("journal.hsj")).unwrap();
        let records = hashsift::scan::journal::check(&bytes).unwrap();
        journal_records.push(records);
        let size = bytes.len();
        eprintln!("session {k} killed after {wait:?}: journal {size} bytes, {records} records");
    }
    assert!(
        journal_records.windows(2).all(|w| w[0] <= w[1]),
        "no session loses records an earlier one committed: {journal_records:?}"
    );
    let o = common::run_with_timeout(resume_command(&out), Duration::from_secs(300));
    common::assert_exit(&o, 1);
    assert_same_report(&out, reference);

    // The manifest lists every resumed session that got as far as hashing, this one last,
    // with what each took over from the journal.
    let sessions = manifest_sessions(&out);
    assert!(
        (1..=5).contains(&sessions.len()),
        "resumed sessions: {sessions:?}"
    );
    let last = sessions.last().unwrap();
    assert_eq!(
        last["command"].as_array().unwrap().last().unwrap(),
        &Value::from(out.to_str().unwrap())
    );
    let carried = last["contents_carried_over"].as_u64().unwrap();
    let contents = reference.summary["files"].as_u64().unwrap();
    assert!(
        carried > 0 && carried < contents,
        "the last session took some contents from the journal ({carried} of {contents})"
    );
    assert_eq!(last["contents_changed_since"], 0);
    let times: Vec<&str> = sessions.iter().map(|s| s["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "in order: {times:?}");
    // items.jsonl says so too, in its end line; and summary.json.
    let (_, _, end) =
        common::parse_jsonl(&std::fs::read_to_string(out.join("items.jsonl")).unwrap());
    assert_eq!(end["resumed"], serde_json::json!(times));
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["resumed"], serde_json::json!(times));
    assert!(reference_started(&out).as_str() < times[0]);
    // The page lists each resumed session as summary.json does.
    common::summary_page::assert_page_shows_summary(&out);
}

/// The evidence, its database and its uninterrupted scan, made once for the tests that share
/// them; the tests run one at a time, as each times its kills by the reference scan's length.
struct Fixture {
    work: Work,
    root: PathBuf,
    db: PathBuf,
    reference: Report,
    took: Duration,
}

/// The fixture's directory.
struct Work(PathBuf);

impl Work {
    fn path(&self) -> &Path {
        &self.0
    }
}

fn fixture() -> (std::sync::MutexGuard<'static, ()>, &'static Fixture) {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    let serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let f = FIXTURE.get_or_init(|| {
        // Under Cargo's directory for test files, replaced at each run: a static is never
        // dropped, so a temporary directory would outlive the run.
        let work = Work(Path::new(env!("CARGO_TARGET_TMPDIR")).join("resume"));
        let _ = std::fs::remove_dir_all(&work.0);
        std::fs::create_dir_all(&work.0).unwrap();
        let root = work.path().join("evidence");
        evidence(&root);
        let db = database(work.path());
        let (reference, took) = reference_scan(&db, &work.path().join("reference"), &root);
        Fixture {
            work,
            root,
            db,
            reference,
            took,
        }
    });
    (serial, f)
}

fn reference_started(dir: &Path) -> String {
    manifest(dir)["started"].as_str().unwrap().to_owned()
}

#[test]
fn interrupted_with_ctrl_c_then_resumed_and_refusals() {
    let (_serial, f) = fixture();
    let (work, root, db, reference, took) = (&f.work, &f.root, &f.db, &f.reference, f.took);

    let out = work.path().join("interrupted");
    let (o, _) = common::interrupt_after(scan_command(db, &out, root), took.mul_f64(0.3));
    common::assert_exit(&o, 130);
    assert_eq!(read_report(&out).manifest["complete"], false);
    assert!(
        out.join("journal.hsj").exists(),
        "an incomplete scan keeps its journal"
    );

    // A new scan into that directory is refused, pointing at --resume.
    let o = common::run_with_timeout(scan_command(db, &out, root), Duration::from_secs(60));
    common::assert_exit(&o, 64);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--resume"),
        "{o:?}"
    );
    // --resume takes nothing but -j, -q and --db: the journal has the rest.
    for extra in [
        &["--case", "other"][..],
        &["--no-pdq"],
        &["-o", "/tmp/elsewhere"],
    ] {
        let o = common::hashsift()
            .args(["scan", "--resume"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        common::assert_exit(&o, 64);
    }
    // The database moved since the scan began: the resume names it, and the manifest too.
    let moved = work.path().join("moved.db");
    std::fs::copy(db, &moved).unwrap();
    let mut cmd = resume_command(&out);
    cmd.arg("--db").arg(&moved);
    let o = common::run_with_timeout(cmd, Duration::from_secs(300));
    common::assert_exit(&o, 1);
    assert_same_report(&out, reference);
    assert!(last_carried(&out) > 0, "the journal was used");
    assert_eq!(manifest_sessions(&out).len(), 1);
    assert_eq!(
        read_report(&out).manifest["database"]["path"],
        moved.to_str().unwrap()
    );

    // A complete scan has nothing to resume; a directory with no journal neither.
    for dir in [
        &out,
        &work.path().join("reference"),
        &work.path().join("none"),
    ] {
        let o = common::run_with_timeout(resume_command(dir), Duration::from_secs(60));
        common::assert_exit(&o, 64);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("nothing to resume") || err.contains("no scan journal"),
            "{err}"
        );
    }
}

#[test]
fn a_torn_or_damaged_journal_and_changed_evidence_are_read_again() {
    let (_serial, f) = fixture();
    let (work, root, db, reference, took) = (&f.work, &f.root, &f.db, &f.reference, f.took);

    // A kill late enough that the journal holds many records, then its last record cut short.
    let out = work.path().join("torn");
    assert!(kill_after(
        spawn(scan_command(db, &out, root)),
        &out,
        took.mul_f64(0.5)
    ));
    let journal = out.join("journal.hsj");
    let bytes = std::fs::read(&journal).unwrap();
    assert!(
        bytes.len() > 4096,
        "the kill came late enough: {} bytes",
        bytes.len()
    );
    std::fs::write(&journal, &bytes[..bytes.len() - 7]).unwrap();
    let o = common::run_with_timeout(resume_command(&out), Duration::from_secs(300));
    common::assert_exit(&o, 1);
    assert_same_report(&out, reference);
    assert!(last_carried(&out) > 0, "the journal was used");

    // A byte changed in the middle: the records from there on are read again.
    let out = work.path().join("damaged");
    assert!(kill_after(
        spawn(scan_command(db, &out, root)),
        &out,
        took.mul_f64(0.5)
    ));
    let journal = out.join("journal.hsj");
    let mut bytes = std::fs::read(&journal).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&journal, &bytes).unwrap();
    let o = common::run_with_timeout(resume_command(&out), Duration::from_secs(300));
    common::assert_exit(&o, 1);
    assert_same_report(&out, reference);
    assert!(
        last_carried(&out) > 0,
        "the records before the damage were used"
    );

    // The evidence changed between sessions (it should not, but a resumed scan must not
    // report the old content): the changed file is read again and the session says so.
    let out = work.path().join("changed");
    let copy = work.path().join("copy");
    copy_tree(root, &copy);
    let (_, took_copy) = reference_scan(db, &work.path().join("reference-copy"), &copy);
    // Half way, the large files (read first) are in the journal.
    assert!(kill_after(
        spawn(scan_command(db, &out, &copy)),
        &out,
        took_copy.mul_f64(0.5)
    ));
    let changed = copy.join("big/2.raw");
    std::fs::write(&changed, b"changed after the first session").unwrap();
    // Rewritten in place, same size, its modification time put back (as `cp -p` or
    // `touch -r` would): only the change time moved.
    let rewritten = copy.join("big/3.raw");
    let times = work.path().join("times-of-3");
    let touch = |args: &[&std::ffi::OsStr]| {
        assert!(Command::new("touch").args(args).status().unwrap().success());
    };
    touch(&["-r".as_ref(), rewritten.as_os_str(), times.as_os_str()]);
    common::write_file(&rewritten, 24 << 20, 77);
    touch(&["-r".as_ref(), times.as_os_str(), rewritten.as_os_str()]);
    let o = common::run_with_timeout(resume_command(&out), Duration::from_secs(300));
    common::assert_exit(&o, 1);
    let (_, items, _) =
        common::parse_jsonl(&std::fs::read_to_string(out.join("items.jsonl")).unwrap());
    let item = &items[&common::bytes_of(&changed)];
    assert_eq!(item["sha256"], common::oracle_digest("sha256sum", &changed));
    assert_eq!(item["size"], 31);
    let sessions = manifest_sessions(&out);
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        sessions[0]["contents_changed_since"], 2,
        "only those two files changed since they were recorded"
    );
    // Evidence does not change between sessions: the examiner is told, even with -q.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: 2 files the journal records had changed since"),
        "{err}"
    );
    let item = &items[&common::bytes_of(&rewritten)];
    assert_eq!(
        item["sha256"],
        common::oracle_digest("sha256sum", &rewritten)
    );
}

#[test]
fn a_resume_without_the_evidence_is_refused_and_keeps_the_journal() {
    let (_serial, f) = fixture();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("evidence");
    copy_tree(&f.root, &root);
    let out = work.path().join("out");
    assert!(kill_after(
        spawn(scan_command(&f.db, &out, &root)),
        &out,
        f.took.mul_f64(0.5)
    ));
    let journal = std::fs::read(out.join("journal.hsj")).unwrap();
    // The largest files are read first: the kill came after them.
    assert!(
        journal.windows(9).any(|w| w == b"big/1.raw"),
        "big/1.raw is in the journal"
    );
    let files = report_files(&out);
    let refused = |code: i32, says: &str| {
        let o = common::run_with_timeout(resume_command(&out), Duration::from_secs(120));
        common::assert_exit(&o, code);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{err}");
        assert_eq!(
            std::fs::read(out.join("journal.hsj")).unwrap(),
            journal,
            "the journal is kept as it was"
        );
        assert_eq!(report_files(&out), files, "no report is written");
    };
    // The evidence not mounted: its root gone, then an empty directory in its place.
    let away = work.path().join("unmounted");
    std::fs::rename(&root, &away).unwrap();
    refused(64, "is not there");
    std::fs::create_dir(&root).unwrap();
    refused(3, "are not in the evidence now");
    // Mounted again, but a part of it not (a folder that is a mount point of its own): the
    // other files are there, the recorded ones under it are not.
    std::fs::remove_dir(&root).unwrap();
    std::fs::rename(&away, &root).unwrap();
    let part = work.path().join("big-unmounted");
    std::fs::rename(root.join("big"), &part).unwrap();
    refused(3, "/big/");
    // All of it mounted again: the resume goes on from the journal.
    std::fs::rename(&part, root.join("big")).unwrap();
    let o = common::run_with_timeout(resume_command(&out), Duration::from_secs(300));
    common::assert_exit(&o, 1);
    assert!(last_carried(&out) > 0, "the journal was used");
    assert_eq!(
        manifest_sessions(&out).len(),
        1,
        "the refusals left no session"
    );
    let report = read_report(&out);
    assert_eq!(report.items.len(), f.reference.items.len());
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn killed_while_writing_the_report_leaves_no_half_file_and_resumes() {
    let (_serial, _) = fixture();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("evidence");
    // Many small files: a report that takes a while to write, and a scan that is quick.
    for i in 0..6000u64 {
        common::write_file(&root.join(format!("{}/{i}", i % 40)), 64, i);
    }
    // And archives: a container whose members were recorded is carried over with them.
    let archives = common::make_archives(&root.join("archives"), &[]);
    std::fs::remove_file(root.join("archives/expected.json")).unwrap();
    let contents = 6000 + archives["archives"].as_object().unwrap().len() as u64;
    let db = database(work.path());
    let reference_dir = work.path().join("reference");
    let o = common::run_with_timeout(
        scan_command(&db, &reference_dir, &root),
        Duration::from_secs(300),
    );
    common::assert_exit(&o, 0);
    let reference = read_report(&reference_dir);

    // The journal of a scan hashed to the end and killed before its report: each attempt
    // resumes a copy of it, killed as soon as the first report file is being written.
    let hashed = work.path().join("hashed");
    let mut attempts = 0;
    let landed = loop {
        attempts += 1;
        assert!(
            attempts <= 30,
            "no kill landed while the report was written"
        );
        let _ = std::fs::remove_dir_all(&hashed);
        let mut child = spawn(scan_command(&db, &hashed, &root));
        if !kill_when_writing(&mut child, &hashed) {
            continue;
        }
        // No report file under its own name is half written: each that exists is whole.
        let present: Vec<String> = report_files(&hashed)
            .into_iter()
            .filter(|n| REPORT.contains(&n.as_str()))
            .collect();
        for name in &present {
            let bytes = std::fs::read(hashed.join(name)).unwrap();
            match name.as_str() {
                "items.jsonl" => {
                    let last = bytes.split(|&b| b == b'\n').rev().nth(1).unwrap();
                    let end: Value = serde_json::from_slice(last).unwrap();
                    assert_eq!(end["type"], "end", "{name} is whole");
                }
                "items.csv" => assert_eq!(String::from_utf8(bytes).unwrap(), reference.csv),
                "summary.html" => assert!(bytes.ends_with(b"</html>\n"), "{name} is whole"),
                _ => {
                    serde_json::from_slice::<Value>(&bytes)
                        .unwrap_or_else(|e| panic!("{name} is whole: {e}"));
                }
            }
        }
        break present;
    };
    eprintln!("killed while writing after {attempts} attempts; whole files present: {landed:?}");
    let o = common::run_with_timeout(resume_command(&hashed), Duration::from_secs(300));
    common::assert_exit(&o, 0);
    let mut whole: Vec<String> = REPORT.iter().map(|s| s.to_string()).collect();
    whole.sort();
    assert_eq!(report_files(&hashed), whole, "no temporary file is left");
    assert_same_report(&hashed, &reference);
    assert_eq!(
        last_carried(&hashed),
        contents,
        "every content was in the journal before the report was begun"
    );
}

/// Kills `child` with SIGKILL the moment a temporary report file appears in `dir`; false when
/// the scan finished first.
fn kill_when_writing(child: &mut Child, dir: &Path) -> bool {
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        // The journal is made through a temporary name too: only once it is there does a
        // temporary file mean a report file.
        let writing = dir.join("journal.hsj").exists()
            && std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".partial")));
        if writing {
            child.kill().unwrap();
            return child.wait().unwrap().signal() == Some(libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}
