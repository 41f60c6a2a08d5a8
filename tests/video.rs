//! vPDQ of videos (`hashsift vpdq`) against the reference binding (PyPI's `vpdq`, Meta's C++
//! through libav, in `tests/support/vpdq_reference.py`), on videos FFmpeg generates from
//! synthetic sources; hostile videos each end with a reason within the time limit.
//!
//! Needs `ffmpeg` (Debian package ffmpeg) and, for the reference, the Python of
//! `HASHSIFT_PYTHON` with `vpdq` installed; skipped with a message without them (failed in CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Runs FFmpeg quietly with `args`, writing `out`.
fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg {args:?}");
}

/// The Python with the reference `vpdq` binding (it builds against libav*-dev), when FFmpeg is
/// there too (each says why not, and fails in CI).
fn ffmpeg_and_reference() -> Option<String> {
    if !have_tool("ffmpeg", "ffmpeg") {
        return None;
    }
    python_with("vpdq", "vpdq")
}

fn reference_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/vpdq_reference.py")
}

/// The reference's lines for `video`.
fn reference_hash(python: &str, video: &Path, seconds: &str) -> String {
    let out = Command::new(python)
        .arg(reference_script())
        .args(["hash".as_ref(), video.as_os_str(), seconds.as_ref()])
        .output()
        .unwrap();
    success_stdout(out)
}

/// The reference matcher's percentages of `query` against `target` (vPDQ files).
fn reference_match(python: &str, query: &Path, target: &Path) -> (f64, f64) {
    let out = Command::new(python)
        .arg(reference_script())
        .args(["match".as_ref(), query.as_os_str(), target.as_os_str()])
        .output()
        .unwrap();
    let text = success_stdout(out);
    let mut v = text.split_whitespace().map(|s| s.parse::<f64>().unwrap());
    (v.next().unwrap(), v.next().unwrap())
}

/// `hashsift vpdq ARGS... VIDEO` (exit 0 expected) and its stdout.
fn hashsift_vpdq(video: &Path, args: &[&str]) -> String {
    let out = hashsift()
        .arg("vpdq")
        .args(args)
        .arg(video)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    String::from_utf8(out.stdout).unwrap()
}

/// Frame number and time stamp of each line.
fn frames_and_times(lines: &str) -> Vec<(String, String)> {
    lines
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_owned(), f[3].to_owned())
        })
        .collect()
}

/// Synthetic videos of several codecs, containers, sizes and rates, written into `dir`.
fn generated_videos(dir: &Path) -> Vec<PathBuf> {
    let make = |name: &str, source: &str, codec: &[&str]| {
        let path = dir.join(name);
        let mut args = vec!["-f", "lavfi", "-i", source];
        args.extend_from_slice(codec);
        ffmpeg(&args, &path);
        path
    };
    vec![
        // H.264 in MP4 (index at the end, so FFmpeg must seek), 30 frames a second.
        make(
            "testsrc-720p.mp4",
            "testsrc2=size=1280x720:rate=30:duration=6",
            &[
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            ],
        ),
        // 29.97 frames a second: one frame in 29 is the reference's count.
        make(
            "mandelbrot-ntsc.mkv",
            "mandelbrot=size=640x360:rate=30000/1001,trim=duration=6",
            &[
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            ],
        ),
        // MPEG-4 part 2 in AVI, an odd size.
        make(
            "life.avi",
            "life=size=322x242:rate=25:mold=10:ratio=0.3:death_color=#204080,trim=duration=6",
            &["-c:v", "mpeg4", "-q:v", "3"],
        ),
        // VP9 in WebM.
        make(
            "cells.webm",
            "cellauto=size=320x240:rate=24:rule=110,trim=duration=5",
            &[
                "-c:v",
                "libvpx-vp9",
                "-b:v",
                "400k",
                "-deadline",
                "realtime",
            ],
        ),
    ]
}

#[test]
fn vpdq_matches_the_reference_binding_on_generated_videos_and_leaves_them_untouched() {
    let Some(python) = ffmpeg_and_reference() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let videos = generated_videos(dir.path());
    // hashsift first, alone: the reference opens the files as any program does.
    age_access_times(&videos);
    let before = stat_snapshot(&videos);
    let ours: Vec<String> = videos.iter().map(|v| hashsift_vpdq(v, &["-q"])).collect();
    let every_frame = hashsift_vpdq(&videos[2], &["-q", "--seconds-per-hash", "0"]);
    if records_access_times(dir.path()) {
        assert_eq!(stat_snapshot(&videos), before, "a video's times changed");
    }
    for (video, ours) in videos.iter().zip(&ours) {
        let theirs = reference_hash(&python, video, "1");
        // The sampling is the reference's: the same frames at the same times.
        assert_eq!(
            frames_and_times(ours),
            frames_and_times(&theirs),
            "{}",
            video.display()
        );
        let same = ours
            .lines()
            .zip(theirs.lines())
            .filter(|(a, b)| a == b)
            .count();
        eprintln!(
            "{}: {same} of {} lines identical",
            video.display(),
            theirs.lines().count()
        );
        let (q, t) = match_texts(&python, dir.path(), ours, &theirs);
        assert!(
            q >= 95.0 && t >= 95.0,
            "{}: {q}% / {t}% under the reference matcher",
            video.display()
        );
    }
    // Every frame, too (the AVI: 6 s at 25 frames a second).
    let theirs = reference_hash(&python, &videos[2], "0");
    assert_eq!(frames_and_times(&every_frame), frames_and_times(&theirs));
    assert_eq!(every_frame.lines().count(), 150);
    let (q, t) = match_texts(&python, dir.path(), &every_frame, &theirs);
    assert!(q >= 95.0 && t >= 95.0, "every frame: {q}% / {t}%");
}

/// The reference matcher's percentages of the vPDQ text `query` against `target`.
fn match_texts(python: &str, dir: &Path, query: &str, target: &str) -> (f64, f64) {
    let (q, t) = (dir.join("query.txt"), dir.join("target.txt"));
    std::fs::write(&q, query).unwrap();
    std::fs::write(&t, target).unwrap();
    reference_match(python, &q, &t)
}

#[test]
fn key_frames_agree_with_the_reference_sampling_under_its_matcher() {
    let Some(python) = ffmpeg_and_reference() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Scenes of a few seconds each, as a camera on a stand or a slideshow gives them (still
    // pictures under sensor noise): the encoder puts a key frame at each cut. Key frames agree
    // with the reference's sampling only where a scene holds still between them; a moving
    // scene drifts from its key frame within a second (docs/benchmarks.md).
    let stills = [
        "mandelbrot=size=640x360",
        "testsrc2=size=640x360",
        "cellauto=size=640x360:rule=30",
        "life=size=640x360:ratio=0.4",
    ];
    let mut args = Vec::new();
    for (i, s) in stills.iter().enumerate() {
        let still = dir.path().join(format!("still{i}.png"));
        ffmpeg(&["-f", "lavfi", "-i", s, "-frames:v", "1"], &still);
        let still = still.to_str().unwrap().to_owned();
        args.extend(["-loop", "1", "-framerate", "25", "-t", "3", "-i"].map(String::from));
        args.push(still);
    }
    let mut graph = String::new();
    for i in 0..stills.len() {
        graph += &format!("[{i}:v]noise=alls=6:allf=t[s{i}];");
    }
    graph += "[s0][s1][s2][s3]concat=n=4:v=1:a=0,format=yuv420p[v]";
    args.extend(["-filter_complex", &graph, "-map", "[v]", "-c:v", "libx264"].map(String::from));
    let video = dir.path().join("scenes.mp4");
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>(), &video);
    let ours = hashsift_vpdq(&video, &["-q", "--keyframes"]);
    let theirs = reference_hash(&python, &video, "1");
    let (q, t) = match_texts(&python, dir.path(), &ours, &theirs);
    assert!(q >= 80.0 && t >= 80.0, "{q}% / {t}%");
}

#[test]
fn hostile_videos_each_end_with_a_reason_within_the_time_limit() {
    if !have_tool("ffmpeg", "ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = d.join("good.mp4");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=4",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ],
        &good,
    );
    let bytes = std::fs::read(&good).unwrap();
    // Cut in half: the index at the end is gone.
    std::fs::write(d.join("truncated.mp4"), &bytes[..bytes.len() / 2]).unwrap();
    // An MP4's first box, then noise.
    let mut wrong = bytes[..32].to_vec();
    wrong.extend(pseudo_random(200_000, 7));
    std::fs::write(d.join("wrong-header.mp4"), wrong).unwrap();
    std::fs::write(d.join("empty.mp4"), b"").unwrap();
    // Raw video in Matroska declaring 16000 x 16000 pixels a frame (which FFmpeg's own size
    // check lets through): written at 256 x 256, whose PixelWidth (0xB0) and PixelHeight
    // (0xBA) elements take two bytes, then given 16000 (0x3E80) in the same two bytes.
    let huge = d.join("huge.mkv");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:size=256x256:rate=5:duration=2",
            "-c:v",
            "rawvideo",
            "-pix_fmt",
            "gray",
        ],
        &huge,
    );
    let mut mkv = std::fs::read(&huge).unwrap();
    for id in [0xB0u8, 0xBA] {
        let at = mkv
            .windows(4)
            .position(|w| w == [id, 0x82, 1, 0])
            .expect("pixel size element");
        mkv[at + 2..at + 4].copy_from_slice(&[0x3E, 0x80]);
    }
    std::fs::write(&huge, mkv).unwrap();
    // A transport stream (no declared length) far longer than the time limit allows.
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=60:duration=40",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "mpegts",
        ],
        &d.join("endless.ts"),
    );

    let limit = 3;
    for (name, says) in [
        ("truncated.mp4", "not read as a video"),
        ("wrong-header.mp4", "not read as a video"),
        ("empty.mp4", "not a video by its content"),
        ("huge.mkv", "max pixel count"),
        ("endless.ts", "time limit"),
    ] {
        let started = Instant::now();
        let mut cmd = hashsift();
        cmd.args(["vpdq", "--seconds-per-hash", "0", "--video-time-limit"])
            .arg(limit.to_string())
            .arg(d.join(name));
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_exit(&out, 2);
        assert!(
            took < Duration::from_secs(limit + 5),
            "{name}: {took:?} for a limit of {limit} s"
        );
        assert!(
            stderr.contains(&format!("{name}: ")) && stderr.contains(says),
            "{name}: {stderr}"
        );
        eprintln!("{name}: {}", stderr.trim());
    }
}

/// The `vpdq.frames` of a report item as vPDQ text lines.
fn frames_as_text(v: &serde_json::Value) -> String {
    v["vpdq"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no vpdq frames: {v}"))
        .iter()
        .map(|f| {
            let (hash, seconds) = (f[2].as_str().unwrap(), f[3].as_f64().unwrap());
            format!("{},{},{hash},{seconds:.3}\n", f[0], f[1])
        })
        .collect()
}

/// The items of a scan's `items.jsonl`, by path.
fn report_items(out: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    std::fs::read_to_string(out.join("items.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "item")
        .map(|v| (v["path"].as_str().unwrap().to_owned(), v))
        .collect()
}

#[test]
fn a_scan_hashes_every_video_members_too_and_says_when_ffmpeg_is_missing() {
    let Some(python) = ffmpeg_and_reference() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let videos = generated_videos(work.path());
    let ev = work.path().join("ev");
    std::fs::create_dir_all(&ev).unwrap();
    std::fs::copy(&videos[0], ev.join("clip.mp4")).unwrap();
    std::fs::write(ev.join("notes.txt"), b"minutes of the meeting\n").unwrap();
    // The AVI inside a ZIP, stored by Python.
    let status = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.write(sys.argv[2], 'chat/clip2.avi')",
        ])
        .arg(ev.join("export.zip"))
        .arg(&videos[2])
        .status()
        .unwrap();
    assert!(status.success());
    let set = work.path().join("set.txt");
    std::fs::write(
        &set,
        format!("{}\n", oracle_digest("md5sum", &ev.join("notes.txt"))),
    )
    .unwrap();
    let db = work.path().join("known.db");
    import_graded(&db, &set, "reference", "known_file");

    let out = work.path().join("report");
    assert_exit(&scan_quietly(&db, &out, &ev), 0);
    let items = report_items(&out);
    let member = format!("{}!/chat/clip2.avi", ev.join("export.zip").display());
    for (path, original) in [
        (ev.join("clip.mp4").display().to_string(), &videos[0]),
        (member.clone(), &videos[2]),
    ] {
        let ours = frames_as_text(&items[&path]);
        let theirs = reference_hash(&python, original, "1");
        assert_eq!(frames_and_times(&ours), frames_and_times(&theirs), "{path}");
        let (q, t) = match_texts(&python, work.path(), &ours, &theirs);
        assert!(q >= 95.0 && t >= 95.0, "{path}: {q}% / {t}%");
        assert_eq!(
            items[&path]["vpdq"]["every"],
            30 - 5 * u64::from(path == member)
        );
    }
    assert!(
        items[&ev.join("notes.txt").display().to_string()]
            .get("vpdq")
            .is_none()
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let v = &summary["videos"];
    assert!(
        v["ffmpeg"].as_str().unwrap().starts_with("ffmpeg version"),
        "{v}"
    );
    assert_eq!(
        (v["videos"].as_u64(), v["hashed"].as_u64()),
        (Some(2), Some(2)),
        "{v}"
    );
    let frames = [&ev.join("clip.mp4").display().to_string(), &member]
        .iter()
        .map(|p| items[*p]["vpdq"]["frames"].as_array().unwrap().len() as u64)
        .sum::<u64>();
    assert_eq!(v["frames"].as_u64(), Some(frames));
    common::summary_page::assert_page_shows_summary(&out);

    // Without FFmpeg: the scan runs, says so once, and counts the videos not hashed.
    let out = work.path().join("report-no-ffmpeg");
    let mut cmd = scan_cmd(&db, &out, &ev);
    cmd.env("HASHSIFT_FFMPEG", work.path().join("no-such-ffmpeg"));
    let done = run_with_timeout(cmd, Duration::from_secs(120));
    assert_exit(&done, 0);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(
        stderr.matches("2 videos not hashed perceptually").count(),
        1,
        "{stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["videos"]["not_hashed"].as_u64(),
        Some(2),
        "{summary}"
    );
    assert!(summary["videos"]["ffmpeg"].is_null());
    assert!(report_items(&out).values().all(|v| v.get("vpdq").is_none()));
}

/// `hashsift db --db DB ARGS...`.
fn db_command(db: &Path, args: &[&str]) -> std::process::Output {
    hashsift()
        .args(["db", "--db"])
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

/// The rows of `sql` in the database `db`, as Python's sqlite3 reads them (one line each,
/// fields joined by `,`).
fn sql_rows(db: &Path, sql: &str) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nfor r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print(','.join(str(v.hex() if isinstance(v, bytes) else v) for v in r))",
        ])
        .arg(db)
        .arg(sql)
        .output()
        .unwrap();
    success_stdout(out).lines().map(str::to_owned).collect()
}

/// The frames `db` holds, as `FRAME,QUALITY,HASH,MILLISECONDS`, of the media whose grade
/// matches `grade` (an SQL condition on `g`, the grade, and `s`, its set).
fn stored_frames(db: &Path, grade: &str) -> Vec<String> {
    sql_rows(
        db,
        &format!(
            "SELECT f.frame, f.quality, f.pdq, f.millis FROM video_frame f
             JOIN grade g ON g.media_id = f.media_id JOIN hash_set s ON s.id = g.set_id
             WHERE {grade} ORDER BY f.media_id, f.position"
        ),
    )
}

/// A vPDQ text's frames as [`stored_frames`] gives them: time stamps in milliseconds.
fn as_stored(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let millis = (f[3].parse::<f64>().unwrap() * 1000.0).round() as u64;
            format!("{},{},{},{millis}", f[0], f[1], f[2])
        })
        .collect()
}

#[test]
fn known_videos_are_imported_from_the_references_vpdq_files_and_removed_with_their_set() {
    let Some(python) = ffmpeg_and_reference() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let videos = generated_videos(work.path());
    // A folder of the reference's files, one per video, as a unit receives a known-video set.
    let folder = work.path().join("known-videos");
    std::fs::create_dir_all(&folder).unwrap();
    let mut written = Vec::new();
    for v in &videos[..3] {
        let text = reference_hash(&python, v, "1");
        let name = format!("{}.txt", v.file_stem().unwrap().to_str().unwrap());
        std::fs::write(folder.join(&name), &text).unwrap();
        written.push((name, text));
    }
    let db = work.path().join("known.db");
    let folder_arg = folder.to_str().unwrap();
    let args = [
        "import",
        folder_arg,
        "--category",
        "csam",
        "--set-version",
        "1",
    ];
    let out = db_command(&db, &args);
    assert_exit(&out, 0);
    // Each file is a known video of the set, graded csam, with every frame of its file.
    written.sort();
    let files = sql_rows(&db, "SELECT file_name FROM hash_set_file ORDER BY position");
    assert_eq!(
        files,
        written.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
    );
    for (i, (_, text)) in written.iter().enumerate() {
        let rows = stored_frames(&db, &format!("g.file = {i} AND g.category = 'csam'"));
        let expected = as_stored(text);
        assert_eq!(rows, expected, "file {i}");
    }
    // A line that is not a frame refuses the file, and the database is left as it was.
    let bad = work.path().join("bad.txt");
    std::fs::write(&bad, format!("{}0,100,xyz,1.000\n", written[0].1)).unwrap();
    let before = sql_rows(&db, "SELECT count(*) FROM video_frame");
    let out = db_command(
        &db,
        &["import", "--category", "csem", bad.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let lines = written[0].1.lines().count() + 1;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("line {lines}")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sql_rows(&db, "SELECT count(*) FROM video_frame"), before);
    // Removing the set removes its videos' frames.
    let out = db_command(&db, &["remove", "known-videos"]);
    assert_exit(&out, 0);
    assert_eq!(sql_rows(&db, "SELECT count(*) FROM video_frame"), ["0"]);
}

/// Writes `stills` (PNG paths) as one H.264 video of `seconds` each at 25 frames a second,
/// under light sensor noise, through the filter `extra` (after the concatenation).
fn slideshow(stills: &[PathBuf], seconds: u32, extra: &str, codec: &[&str], out: &Path) {
    let mut args: Vec<String> = Vec::new();
    for s in stills {
        args.extend(["-loop", "1", "-framerate", "25", "-t"].map(String::from));
        args.push(seconds.to_string());
        args.extend(["-i".to_owned(), s.to_str().unwrap().to_owned()]);
    }
    let mut graph = String::new();
    for i in 0..stills.len() {
        graph += &format!("[{i}:v]scale=640:360,setsar=1,noise=alls=4:allf=t[s{i}];");
    }
    for i in 0..stills.len() {
        graph += &format!("[s{i}]");
    }
    graph += &format!("concat=n={}:v=1:a=0,format=yuv420p{extra}[v]", stills.len());
    args.extend([
        "-filter_complex".to_owned(),
        graph,
        "-map".into(),
        "[v]".into(),
    ]);
    args.extend(codec.iter().map(|s| s.to_string()));
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>(), out);
}

#[test]
fn known_videos_are_found_in_new_copies_and_known_images_in_videos() {
    let Some(python) = ffmpeg_and_reference() else {
        return;
    };
    let Some(pdq_python) = pdq_python() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let ev = w.join("ev");
    std::fs::create_dir_all(&ev).unwrap();
    // Still pictures from FFmpeg's sources, each the scene of a few seconds (pictures, not
    // one-pixel patterns, which halving the size would destroy).
    let sources = [
        "mandelbrot=size=640x360",
        "testsrc2=size=640x360",
        "smptehdbars=size=640x360",
        "mandelbrot=size=640x360:start_x=-0.75:start_y=0.1:start_scale=0.3",
        "pal75bars=size=640x360",
        "testsrc=size=640x360",
    ];
    let mut stills = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let p = w.join(format!("still{i}.png"));
        ffmpeg(&["-f", "lavfi", "-i", s, "-frames:v", "1"], &p);
        stills.push(p);
    }
    let h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"];
    // The known video: four scenes of 3 s.
    let known = w.join("known.mp4");
    slideshow(&stills[..4], 3, "", &h264, &known);
    // Its copies on the evidence.
    let copy = |name: &str, args: &[&str]| {
        let mut a = vec!["-i", known.to_str().unwrap()];
        a.extend_from_slice(args);
        ffmpeg(&a, &ev.join(name));
    };
    copy("other-codec.avi", &["-c:v", "mpeg4", "-q:v", "6"]);
    copy("low-bitrate.mp4", &["-c:v", "libx264", "-b:v", "120k"]);
    copy(
        "half-size.mp4",
        &["-vf", "scale=320:180", "-c:v", "libx264"],
    );
    copy(
        "trimmed.mp4",
        &["-ss", "1.3", "-t", "9.4", "-c:v", "libx264"],
    );
    copy(
        "letterboxed.mp4",
        &[
            "-vf",
            "scale=640:270,pad=640:360:0:45:black",
            "-c:v",
            "libx264",
        ],
    );
    // A video showing the fifth still (a known image) for 3 of its 9 seconds.
    slideshow(
        &[stills[5].clone(), stills[4].clone()],
        3,
        "",
        &h264,
        &ev.join("holding-image.mp4"),
    );
    // Twenty unrelated videos.
    for i in 0..20u32 {
        let source = match i % 5 {
            0 => format!("testsrc2=size=320x240:rate=25:duration=3,hue=h={}", i * 17),
            1 => format!("mandelbrot=size=320x240:rate=25:start_x=-{}.{i}", i % 2),
            2 => format!("cellauto=size=320x240:rate=25:rule={}", 18 + i * 7),
            3 => format!("life=size=320x240:rate=25:seed={i}:ratio=0.3"),
            _ => format!("rgbtestsrc=size=320x240:rate=25,rotate={i}"),
        };
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                &source,
                "-t",
                "3",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ],
            &ev.join(format!("unrelated-{i:02}.mp4")),
        );
    }

    // The known video's set, from the reference binding; the known image's PDQ (the
    // reference's hash of its pixels), graded csem.
    let db = w.join("known.db");
    let vset = w.join("known-video.txt");
    std::fs::write(&vset, reference_hash(&python, &known, "1")).unwrap();
    import_graded(&db, &vset, "videos", "csam");
    let img = image::open(&stills[5]).unwrap().to_rgb8();
    let row = &pdq_reference_rows(&pdq_python, w, std::slice::from_ref(&img))[0];
    let iset = w.join("known-image.pdq");
    std::fs::write(&iset, format!("{},{}\n", row[1], row[2])).unwrap();
    import_graded(&db, &iset, "images", "csem");

    let out = w.join("report");
    assert_exit(&scan_quietly(&db, &out, &ev), 0);
    common::summary_page::assert_page_shows_summary(&out);
    let items = report_items(&out);
    let item = |name: &str| &items[&ev.join(name).display().to_string()];
    for name in [
        "other-codec.avi",
        "low-bitrate.mp4",
        "half-size.mp4",
        "trimmed.mp4",
        "letterboxed.mp4",
    ] {
        let v = item(name);
        assert_eq!(v["category"], "unknown", "{name}: no exact grade");
        assert_eq!(v["suggested_category"], "csam", "{name}: {v}");
        let m = &v["vpdq_matches"][0];
        let (q, c) = (
            m["query_percent"].as_f64().unwrap(),
            m["compared_percent"].as_f64().unwrap(),
        );
        assert!(q.max(c) >= 80.0, "{name}: {q}% / {c}%");
        assert_eq!(m["sets"][0]["set"], "videos", "{name}: {m}");
        eprintln!("{name}: {q:.1}% / {c:.1}%");
    }
    let v = item("holding-image.mp4");
    assert_eq!(v["suggested_category"], "csem", "{v}");
    let seconds = &v["frame_matches"][0]["seconds"][0];
    assert!(
        seconds[0].as_f64().unwrap() < 1.0 && seconds[1].as_f64().unwrap() >= 2.0,
        "the image is shown in the first three seconds: {v}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["videos"]["suggested"].as_u64(),
        Some(6),
        "{summary}"
    );
    // Searched: the one known video with the reference's frames; the 26 videos, all different.
    let search = &summary["videos"]["search"];
    assert_eq!(search["known_videos"], 1, "{search}");
    let frames = std::fs::read_to_string(&vset).unwrap().lines().count();
    assert_eq!(search["known_frames"].as_u64(), Some(frames as u64));
    assert_eq!(search["videos_searched"], 26, "{search}");
    for i in 0..20 {
        let v = item(&format!("unrelated-{i:02}.mp4"));
        assert!(v.get("suggested_category").is_none(), "{v}");
        assert!(v["vpdq"]["frames"].as_array().unwrap().len() >= 3);
    }
}

/// The `vPDQ` alternative hash of a VICS record.
fn vics_vpdq(record: &serde_json::Value) -> Option<String> {
    record["AlternativeHashes"]
        .as_array()?
        .iter()
        .find(|a| a["HashName"] == "vPDQ")
        .map(|a| a["HashValue"].as_str().unwrap().to_owned())
}

#[test]
fn known_videos_travel_in_vics_files_from_a_scan_to_a_set_to_another_unit() {
    let Some(python) = ffmpeg_and_reference() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let ev = w.join("ev");
    std::fs::create_dir_all(&ev).unwrap();
    let h264 = [
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
    ];
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=8",
    ];
    args.extend_from_slice(&h264);
    let scene = ev.join("scene.mp4");
    ffmpeg(&args, &scene);
    // The unit's database already knows another video.
    let other = w.join("other.mp4");
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "mandelbrot=size=320x240:rate=25,trim=duration=4",
    ];
    args.extend_from_slice(&h264);
    ffmpeg(&args, &other);
    let other_set = w.join("other.txt");
    std::fs::write(&other_set, reference_hash(&python, &other, "1")).unwrap();
    let db = w.join("unit.db");
    import_graded(&db, &other_set, "earlier", "csem");
    let reference = reference_hash(&python, &scene, "1");

    // A scan's vics.json carries the unknown video's frames, as the reference hashes them.
    let out = w.join("report");
    assert_exit(&scan_quietly(&db, &out, &ev), 0);
    let vics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("vics.json")).unwrap()).unwrap();
    let media = vics["value"][0]["Media"].as_array().unwrap();
    let record = media
        .iter()
        .find(|m| m["MediaFiles"][0]["FileName"] == "scene.mp4")
        .expect("the video is a record");
    assert!(record["Category"].is_null(), "{record}");
    assert_eq!(vics_vpdq(record).as_deref(), Some(reference.as_str()));

    // The examiner grades it: the report imported as a set...
    let out = db_command(
        &db,
        &[
            "import",
            out.join("vics.json").to_str().unwrap(),
            "--name",
            "reviewed",
            "--category",
            "csam",
        ],
    );
    assert_exit(&out, 0);
    let frames_of = |db: &Path, set: &str| {
        stored_frames(db, &format!("s.name = '{set}' AND g.category = 'csam'"))
    };
    let expected = as_stored(&reference);
    assert_eq!(frames_of(&db, "reviewed"), expected);

    // ...exported as VICS for the national database, which imports it with its frames.
    let exported = w.join("export.json");
    let to = exported.to_str().unwrap();
    let out = db_command(&db, &["export", "reviewed", "--format", "vics", "-o", to]);
    assert_exit(&out, 0);
    let export: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    let records = export["value"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["Category"], 1);
    assert_eq!(vics_vpdq(&records[0]).as_deref(), Some(reference.as_str()));
    let national = w.join("national.db");
    let out = db_command(
        &national,
        &["import", exported.to_str().unwrap(), "--name", "from-unit"],
    );
    assert_exit(&out, 0);
    assert_eq!(frames_of(&national, "from-unit"), expected);
    // The other unit finds a re-encode of it at half the size.
    let ev2 = w.join("ev2");
    std::fs::create_dir_all(&ev2).unwrap();
    ffmpeg(
        &[
            "-i",
            scene.to_str().unwrap(),
            "-vf",
            "scale=320:180",
            "-c:v",
            "libx264",
        ],
        &ev2.join("copy.mp4"),
    );
    let out = w.join("report2");
    assert_exit(&scan_quietly(&national, &out, &ev2), 0);
    let items = report_items(&out);
    let v = &items[&ev2.join("copy.mp4").display().to_string()];
    assert_eq!(v["suggested_category"], "csam", "{v}");
    assert_eq!(v["vpdq_matches"][0]["sets"][0]["set"], "from-unit", "{v}");

    // A VICS set of videos known by their frames alone (no MD5), a video's frames in two
    // entries; a frame line that does not read refuses the set at its record, the database
    // left as it was.
    let lines: Vec<&str> = reference.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let record = |number: u32, entries: &[String]| {
        serde_json::json!({
            "MediaID": number,
            "Category": 2,
            "AlternativeHashes": entries
                .iter()
                .map(|v| serde_json::json!({"HashName": "VPDQ", "HashValue": v}))
                .collect::<Vec<_>>(),
        })
    };
    let vics_file = |name: &str, records: Vec<serde_json::Value>| {
        let path = w.join(name);
        let doc = serde_json::json!({
            "@odata.context":
                "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
            "value": records,
        });
        std::fs::write(&path, doc.to_string()).unwrap();
        path
    };
    let split = vics_file(
        "split.json",
        vec![record(1, &[first.join("\n"), second.join("\r\n") + "\n"])],
    );
    let out = db_command(
        &national,
        &["import", split.to_str().unwrap(), "--name", "split"],
    );
    assert_exit(&out, 0);
    let rows = stored_frames(&national, "s.name = 'split' AND g.category = 'csem'");
    assert_eq!(rows, expected);
    // A CSV export has no column for frames: the video known by its frames alone is left out,
    // and said so; the one with an MD5 is written.
    let csv = w.join("export.csv");
    let to = csv.to_str().unwrap();
    let out = db_command(&national, &["export", "--all", "--format", "csv", "-o", to]);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("exported 1 media")
            && stderr.contains("(1 left out: videos known by their vPDQ frames alone"),
        "{stderr}"
    );
    let mut bad_line = lines.clone();
    let f: Vec<&str> = bad_line[1].split(',').collect();
    let broken = format!("{},101,{},{}", f[0], f[2], f[3]);
    bad_line[1] = &broken;
    let bad = vics_file(
        "bad.json",
        vec![
            record(1, std::slice::from_ref(&reference)),
            record(2, &[bad_line.join("\n")]),
        ],
    );
    let before = sql_rows(&national, "SELECT count(*) FROM video_frame");
    let sets_before = sql_rows(&national, "SELECT name FROM hash_set ORDER BY name");
    let out = db_command(
        &national,
        &["import", bad.to_str().unwrap(), "--name", "bad"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("record 2") && stderr.contains("vPDQ") && stderr.contains("line 2"),
        "{stderr}"
    );
    assert_eq!(
        sql_rows(&national, "SELECT count(*) FROM video_frame"),
        before
    );
    assert_eq!(
        sql_rows(&national, "SELECT name FROM hash_set ORDER BY name"),
        sets_before
    );
}

/// The processes whose parent is `pid`, and their state letter (`/proc/N/stat`).
fn children_of(pid: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(n) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            found.push((n, state));
        }
    }
    found
}

/// Whether process `n` is gone (or a zombie no one has reaped yet: it runs no more).
fn gone(n: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{n}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|s| s == "Z" || s == "X"),
    }
}

#[test]
fn operator_mistakes_are_refused_and_a_killed_hashsift_leaves_no_ffmpeg_behind() {
    if !have_tool("ffmpeg", "ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ev = d.join("ev");
    std::fs::create_dir_all(&ev).unwrap();
    let video = ev.join("a.mp4");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=60:duration=20",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
        &video,
    );
    // A second video whose name is the first one's output name (detected by content).
    let named_like_output = ev.join("a.mp4.txt");
    std::fs::copy(&video, &named_like_output).unwrap();
    let paths = all_paths(&ev);
    let contents = content_digests(&paths);
    age_access_times(&paths);
    let before = stat_snapshot(&paths);

    // Huge, negative or meaningless option values: refused before anything is read.
    for (option, value) in [
        ("--seconds-per-hash", "1e300"),
        ("--seconds-per-hash", "inf"),
        ("--seconds-per-hash", "nan"),
        ("--seconds-per-hash", "-1"),
        ("--seconds-per-hash", "3601"),
        ("--video-time-limit", "18446744073709551616"),
        ("--video-time-limit", "0"),
        ("--video-time-limit", "604801"),
        ("--video-time-limit", "1.5"),
    ] {
        let out = hashsift()
            .arg("vpdq")
            .arg(format!("{option}={value}"))
            .arg(&video)
            .output()
            .unwrap();
        assert_exit(&out, 64);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(option), "{option}={value}: {stderr}");
        // The scan's options too.
        let out = hashsift()
            .args(["scan", "--db"])
            .arg(d.join("none.db"))
            .arg("-o")
            .arg(d.join("report"))
            .arg(format!("{option}={value}"))
            .arg(&ev)
            .output()
            .unwrap();
        assert_exit(&out, 64);
    }
    // An output that is a video given, by name or because NAME.txt would replace one; a file
    // for several videos.
    for (output, videos, says) in [
        (&video, &[&video][..], "is the evidence file"),
        (&ev, &[&video, &named_like_output], "is the evidence file"),
        (&video, &[&video, &named_like_output], "not a directory"),
    ] {
        let out = hashsift()
            .arg("vpdq")
            .arg("-o")
            .arg(output)
            .args(videos)
            .output()
            .unwrap();
        assert_exit(&out, 64);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
    // A link planted where the output goes is replaced, not written through.
    let victim = d.join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    let planted = d.join("planted.txt");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let out = hashsift()
        .args(["vpdq", "-q", "-o"])
        .arg(&planted)
        .arg(&video)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    assert!(!std::fs::symlink_metadata(&planted).unwrap().is_symlink());
    assert!(std::fs::read_to_string(&planted).unwrap().lines().count() >= 20);

    // Killed while FFmpeg decodes for it: FFmpeg dies with it.
    let mut child = hashsift()
        .args(["vpdq", "--seconds-per-hash", "0"])
        .arg(&video)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    let decoders = loop {
        let running: Vec<u32> = children_of(child.id())
            .into_iter()
            .filter(|&(_, state)| state != 'Z')
            .map(|(n, _)| n)
            .collect();
        if !running.is_empty() {
            break running;
        }
        assert!(
            Instant::now() < until && child.try_wait().unwrap().is_none(),
            "no FFmpeg child seen"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let it decode a while, then kill -9 (no handler runs).
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while !decoders.iter().all(|&n| gone(n)) {
        assert!(
            Instant::now() < until,
            "FFmpeg still runs after hashsift was killed: {decoders:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_untouched(&ev, &paths, &before, &contents);
}
