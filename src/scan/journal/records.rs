//! The scan's start record and the resumed sessions' records: JSON, as they are few and read
//! by people inspecting a journal.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::media::decode::JpegScale;
use crate::scan::options::{LookupChoice, PdqMatching};
use crate::scan::provenance::Provenance;
use crate::utc::Timestamp;

use super::format::{NANOS, SESSION, START};

/// What the scan is: everything a resumed session needs to go on as the first would have.
#[derive(Clone, Debug, PartialEq)]
pub struct Start {
    pub provenance: Provenance,
    pub lookup: LookupChoice,
    pub pdq: Option<PdqMatching>,
    /// Whether containers are opened (absent in journals of 0.1.0, which never opened them).
    pub archives: bool,
    /// How videos are sampled (absent in journals that hashed no video).
    pub video: Option<crate::media::video::VideoConfig>,
    /// How disk images are opened (absent in journals of scans that opened none).
    pub images: Option<crate::expand::ImageOptions>,
}

/// A resumed session: when, by which command, and how many contents it carried over from the
/// journal or found changed since they were recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub at: Timestamp,
    pub command: Vec<OsString>,
    pub carried: u64,
    pub changed: u64,
}

// The scan and session records: JSON, as they are few and read by people inspecting a journal.
// Paths and arguments are kept as bytes (hex), as they need not be UTF-8.

fn hex_os(s: &std::ffi::OsStr) -> Value {
    crate::digest::to_hex(s.as_bytes()).into()
}

fn os_hex(v: &Value) -> Option<OsString> {
    let bytes = crate::digest::from_hex(v.as_str()?.as_bytes()).ok()?;
    Some(OsString::from_vec(bytes))
}

fn time_value(t: Timestamp) -> Value {
    json!([t.secs, t.nanos])
}

fn value_time(v: &Value) -> Option<Timestamp> {
    Some(Timestamp {
        secs: v.get(0)?.as_i64()?,
        nanos: u32::try_from(v.get(1)?.as_u64()?)
            .ok()
            .filter(|&n| n < NANOS)?,
    })
}

pub(super) fn start_record(s: &Start) -> Vec<u8> {
    let p = &s.provenance;
    let v = json!({
        "tool_version": p.tool_version,
        "started": time_value(p.started),
        "command": p.command.iter().map(|a| hex_os(a)).collect::<Vec<_>>(),
        "cwd": hex_os(p.cwd.as_os_str()),
        "roots": p.roots.iter().map(|r| hex_os(r.as_os_str())).collect::<Vec<_>>(),
        "db": hex_os(p.db.as_os_str()),
        "case": p.case,
        "evidence_id": p.evidence_id,
        "examiner": p.examiner,
        "lookup": match s.lookup {
            LookupChoice::Auto => "auto",
            LookupChoice::Index => "index",
            LookupChoice::Direct => "direct",
        },
        "pdq": s.pdq.map(|p| json!({
            "decode": p.scale.name(),
            "min_quality": p.min_quality,
            "max_distance": p.max_distance,
        })),
        "archives": s.archives,
        "video": s.video.map(|v| json!({
            "seconds_per_hash": v.seconds_per_hash,
            "keyframes": v.keyframes,
            "time_limit": v.time_limit.as_secs(),
        })),
        "images": s.images.map(|i| json!({
            "verify": i.verify,
            "open_all": i.open_all,
        })),
    });
    let mut r = vec![START];
    r.extend(serde_json::to_vec(&v).expect("a JSON value serialises"));
    r
}

pub(super) fn parse_start(payload: &[u8]) -> Option<Start> {
    let (&kind, json) = payload.split_first()?;
    if kind != START {
        return None;
    }
    let v: Value = serde_json::from_slice(json).ok()?;
    let os_list = |key: &str| -> Option<Vec<OsString>> {
        v.get(key)?.as_array()?.iter().map(os_hex).collect()
    };
    let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let pdq = match v.get("pdq")? {
        Value::Null => None,
        p => Some(PdqMatching {
            scale: match p.get("decode")?.as_str()? {
                "fast" => JpegScale::Fast,
                "full" => JpegScale::Full,
                _ => return None,
            },
            min_quality: u8::try_from(p.get("min_quality")?.as_u64()?).ok()?,
            max_distance: u32::try_from(p.get("max_distance")?.as_u64()?).ok()?,
        }),
    };
    Some(Start {
        provenance: Provenance {
            tool_version: text("tool_version")?,
            started: value_time(v.get("started")?)?,
            command: os_list("command")?,
            cwd: os_hex(v.get("cwd")?)?.into(),
            roots: os_list("roots")?.into_iter().map(PathBuf::from).collect(),
            db: os_hex(v.get("db")?)?.into(),
            case: text("case"),
            evidence_id: text("evidence_id"),
            examiner: text("examiner"),
        },
        lookup: match v.get("lookup")?.as_str()? {
            "auto" => LookupChoice::Auto,
            "index" => LookupChoice::Index,
            "direct" => LookupChoice::Direct,
            _ => return None,
        },
        pdq,
        archives: match v.get("archives") {
            None => false,
            Some(a) => a.as_bool()?,
        },
        video: match v.get("video") {
            None | Some(Value::Null) => None,
            Some(p) => Some(crate::media::video::VideoConfig {
                seconds_per_hash: p.get("seconds_per_hash")?.as_f64()?,
                keyframes: p.get("keyframes")?.as_bool()?,
                time_limit: std::time::Duration::from_secs(p.get("time_limit")?.as_u64()?),
                threads: 0,
            }),
        },
        images: match v.get("images") {
            None | Some(Value::Null) => None,
            Some(i) => Some(crate::expand::ImageOptions {
                verify: i.get("verify")?.as_bool()?,
                open_all: i.get("open_all")?.as_bool()?,
            }),
        },
    })
}

pub(super) fn session_record(s: &Session) -> Vec<u8> {
    let v = json!({
        "at": time_value(s.at),
        "command": s.command.iter().map(|a| hex_os(a)).collect::<Vec<_>>(),
        "carried": s.carried,
        "changed": s.changed,
    });
    let mut r = vec![SESSION];
    r.extend(serde_json::to_vec(&v).expect("a JSON value serialises"));
    r
}

pub(super) fn parse_session(payload: &[u8]) -> Option<Session> {
    let v: Value = serde_json::from_slice(payload.get(1..)?).ok()?;
    Some(Session {
        at: value_time(v.get("at")?)?,
        command: v
            .get("command")?
            .as_array()?
            .iter()
            .map(os_hex)
            .collect::<Option<_>>()?,
        carried: v.get("carried")?.as_u64()?,
        changed: v.get("changed")?.as_u64()?,
    })
}
