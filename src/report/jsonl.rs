//! JSON Lines: one JSON object per line, each with a `type`.
//!
//! The first line is the `header` (tool, command line, roots, algorithms, start time), then one
//! `item` per path in path order, then an `end` line with `complete` and the counts. A reader
//! that finds no `end` line, or `"complete": false`, holds a partial listing.
//!
//! Paths, symlink targets, the working directory and the roots are JSON strings when they are
//! valid UTF-8. Otherwise the string is a lossy rendering (invalid bytes as U+FFFD) and
//! `path_hex`, `target_hex`, `cwd_hex` or `roots_hex` (one entry per root, `null` when exact) hold
//! the exact bytes. Command-line arguments are written lossily.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

use serde_json::{Map, Value, json};

use super::ListingHeader;
use super::text::Text;
use crate::record::Item;

pub fn write(p: &ListingHeader, items: &[Item], out: &mut dyn Write) -> io::Result<()> {
    let command: Vec<String> = p
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let roots: Vec<String> = p
        .roots
        .iter()
        .map(|r| Text::of(r.as_os_str()).text)
        .collect();
    let algorithms: Vec<&str> = p.algorithms.iter().map(|a| a.name()).collect();
    let header = json!({
        "type": "header",
        "tool": "hashsift",
        "tool_version": p.tool_version,
        "command": command,
        "cwd": Text::of(p.cwd.as_os_str()).text,
        "roots": roots,
        "algorithms": algorithms,
        "started": p.started.to_string(),
    });
    write_line(out, &header)?;
    for item in items {
        write_line(out, &Value::Object(item_object(p, item)))?;
    }
    let end = json!({
        "type": "end",
        "complete": p.complete,
        "finished": p.finished.to_string(),
        "items": items.len(),
        "files_hashed": p.files_hashed,
        "bytes_hashed": p.bytes_hashed,
        "errors": p.errors,
    });
    write_line(out, &end)?;
    out.flush()
}

fn write_line(out: &mut dyn Write, value: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

pub(crate) fn put_text(obj: &mut Map<String, Value>, key: &str, name: &std::ffi::OsStr) {
    let t = Text::of(name);
    obj.insert(key.into(), t.text.into());
    if let Some(hex) = t.hex {
        obj.insert(format!("{key}_hex"), hex.into());
    }
}

/// A video's vPDQ: how it was sampled, what FFmpeg said of it, why it was not read to its end,
/// and its frames as `[FRAME, QUALITY, HASH, SECONDS]`, the fields of a vPDQ file's lines.
fn video_object(v: &crate::media::video::VideoHash) -> Value {
    let mut o = Map::new();
    match v.every {
        Some(n) => o.insert("every".into(), n.into()),
        None => o.insert("keyframes".into(), true.into()),
    };
    if let Some(p) = &v.probe {
        o.insert("codec".into(), p.codec.clone().into());
        o.insert("width".into(), p.width.into());
        o.insert("height".into(), p.height.into());
        if let Some(r) = p.frame_rate {
            o.insert("frame_rate".into(), r.into());
        }
        if let Some(d) = p.duration {
            o.insert("duration".into(), d.into());
        }
    }
    if let Some(s) = &v.stopped {
        o.insert("stopped".into(), s.clone().into());
    }
    let frames: Vec<Value> = v
        .frames
        .iter()
        .map(|f| {
            serde_json::json!([
                f.number,
                f.pdq.quality,
                f.pdq.hash.to_string(),
                // The text format's three decimals.
                (f.timestamp * 1000.0).round() / 1000.0
            ])
        })
        .collect();
    o.insert("frames".into(), frames.into());
    Value::Object(o)
}

/// What a file system says of a file read from a disk image.
fn fs_object(f: &crate::record::FsInfo) -> Value {
    let mut o = Map::new();
    if let Some(p) = f.partition {
        o.insert("partition".into(), format!("p{p}").into());
    }
    o.insert("inode".into(), f.inode.into());
    if let Some((t, i)) = f.stream {
        o.insert("stream".into(), format!("{t}-{i}").into());
    }
    o.insert("deleted".into(), f.deleted.into());
    if f.reallocated {
        o.insert("reallocated".into(), true.into());
    }
    for (key, t) in [
        ("atime", f.atime),
        ("ctime", f.ctime),
        ("crtime", f.crtime),
        ("dtime", f.dtime),
    ] {
        if let Some(t) = t {
            o.insert(key.into(), t.to_string().into());
        }
    }
    Value::Object(o)
}

/// A disk image: its segments, media, partitions and integrity.
pub(crate) fn image_object(d: &crate::record::ImageInfo) -> Value {
    let volumes: Vec<Value> = d
        .volumes
        .iter()
        .map(|v| {
            let mut o = Map::new();
            if !v.name.is_empty() {
                o.insert("name".into(), v.name.clone().into());
            }
            o.insert("start".into(), v.start.into());
            o.insert("length".into(), v.length.into());
            if !v.description.is_empty() {
                o.insert("description".into(), v.description.clone().into());
            }
            match &v.file_system {
                Ok(t) => o.insert("file_system".into(), t.clone().into()),
                Err(e) => o.insert("file_system_error".into(), e.clone().into()),
            };
            if let Some(b) = &v.broken {
                o.insert("walk_broken".into(), b.clone().into());
            }
            Value::Object(o)
        })
        .collect();
    let i = &d.integrity;
    let mut integrity = Map::new();
    integrity.insert("status".into(), i.status.name().into());
    integrity.insert("text".into(), i.describe().into());
    for (key, v) in [
        ("md5", &i.md5),
        ("sha1", &i.sha1),
        ("stored_md5", &i.stored_md5),
        ("stored_sha1", &i.stored_sha1),
        ("error", &i.error),
    ] {
        if let Some(v) = v {
            integrity.insert(key.into(), v.clone().into());
        }
    }
    serde_json::json!({
        "segments": d.segments,
        "media_size": d.media_size,
        "volumes": volumes,
        "integrity": integrity,
    })
}

fn item_object(p: &ListingHeader, item: &Item) -> Map<String, Value> {
    item_fields(p.algorithms, item)
}

/// The fields of an item every JSON listing shares: path, kind, size, times, digests of
/// `algorithms`, error.
pub(crate) fn item_fields(
    algorithms: crate::digest::AlgorithmSet,
    item: &Item,
) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("type".into(), "item".into());
    put_text(&mut obj, "path", item.path.as_os_str());
    obj.insert("kind".into(), item.kind.name().into());
    obj.insert("size".into(), item.size.into());
    if let Some(m) = item.mtime {
        obj.insert("mtime".into(), m.to_string().into());
    }
    if item.nlink > 1 && item.kind != crate::record::Kind::Dir {
        obj.insert("nlink".into(), item.nlink.into());
    }
    if let Some(t) = &item.target {
        put_text(&mut obj, "target", t.as_os_str());
    }
    if let Some(n) = &item.note {
        obj.insert("note".into(), n.clone().into());
    }
    if item.kind == crate::record::Kind::Member
        && let Some(container) = crate::record::container_of(item.path.as_os_str().as_bytes())
    {
        put_text(
            &mut obj,
            "container",
            std::ffi::OsStr::from_bytes(container),
        );
    }
    if let Some(a) = &item.archive {
        let mut archive = Map::new();
        archive.insert("format".into(), a.format.into());
        archive.insert("members".into(), a.members.into());
        if let Some(s) = &a.stopped {
            archive.insert("stopped".into(), s.clone().into());
        }
        if let Some(i) = &a.image {
            archive.insert("image".into(), image_object(i));
        }
        obj.insert("archive".into(), Value::Object(archive));
    }
    if let Some(f) = &item.fs {
        obj.insert("fs".into(), fs_object(f));
    }
    if let Some(d) = &item.digests {
        for alg in algorithms.iter() {
            if let Some(hex) = d.hex(alg) {
                obj.insert(alg.name().into(), hex.into());
            }
        }
    }
    if let Some(image) = &item.image {
        match &image.pdq {
            Ok(p) => {
                obj.insert("pdq".into(), p.hash.to_string().into());
                obj.insert("pdq_quality".into(), p.quality.into());
            }
            Err(e) => {
                obj.insert("pdq_error".into(), e.to_string().into());
            }
        }
        if let Some(d) = image.decoder {
            obj.insert("pdq_decoder".into(), d.into());
        }
    }
    if let Some(v) = &item.video {
        obj.insert("vpdq".into(), video_object(v));
    }
    if let Some(e) = &item.error {
        let mut err = Map::new();
        err.insert("stage".into(), e.stage.name().into());
        if let Some(code) = e.os_code {
            err.insert("os_code".into(), code.into());
        }
        err.insert("message".into(), e.message.clone().into());
        obj.insert("error".into(), Value::Object(err));
    }
    obj
}
