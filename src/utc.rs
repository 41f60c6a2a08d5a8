//! UTC timestamps written as RFC 3339 (`2026-11-23T13:15:20.123456789Z`), without a time-zone
//! database: reports always speak UTC.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds and nanoseconds since the Unix epoch (negative for times before 1970).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    /// Seconds from `earlier` to this time (negative when `earlier` is later).
    pub fn seconds_since(&self, earlier: &Timestamp) -> f64 {
        // In floating point: times read from a damaged journal may be far apart.
        (self.secs as f64 - earlier.secs as f64)
            + (f64::from(self.nanos) - f64::from(earlier.nanos)) / 1e9
    }

    pub fn from_system(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(e) => {
                let d = e.duration();
                let mut secs = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                let mut nanos = d.subsec_nanos();
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                Timestamp { secs, nanos }
            }
        }
    }
}

impl Timestamp {
    /// The time at a civil date and time of day (proleptic Gregorian, read as UTC); `None`
    /// for a month, day or time of day out of range.
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        min: u32,
        sec: u32,
    ) -> Option<Self> {
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || min > 59
            || sec > 60
        {
            return None;
        }
        // Days from 1970-01-01 (the inverse of `civil_from_days`).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = i64::from((month + 9) % 12);
        let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        if civil_from_days(days) != (year, month, day) {
            return None; // 31 April and the like
        }
        Some(Timestamp {
            secs: days * 86_400 + i64::from(hour * 3600 + min * 60 + sec),
            nanos: 0,
        })
    }
}

/// Civil date (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    /// Whole seconds print without a fraction; otherwise nanoseconds are printed in full.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        )?;
        if self.nanos != 0 {
            write!(f, ".{:09}", self.nanos)?;
        }
        f.write_str("Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_coreutils_date() {
        // Oracle: GNU date, when present.
        for secs in [
            0i64,
            951_782_400,
            1_700_000_000,
            -86_401,
            4_102_444_800,
            1_234_567_890,
        ] {
            let Ok(out) = std::process::Command::new("date")
                .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
                .output()
            else {
                eprintln!("skipping: no `date` command");
                return;
            };
            let expected = String::from_utf8(out.stdout).unwrap();
            let ts = Timestamp { secs, nanos: 0 };
            assert_eq!(ts.to_string(), expected.trim(), "secs={secs}");
        }
    }

    #[test]
    fn civil_times_match_coreutils_date() {
        // Oracle: GNU date reading the civil time as UTC.
        for (y, mo, d, h, mi, s) in [
            (1970, 1, 1, 0, 0, 0),
            (1980, 1, 1, 0, 0, 0),
            (2000, 2, 29, 23, 59, 58),
            (2107, 12, 31, 23, 59, 58),
            (1969, 12, 31, 12, 0, 0),
            (2026, 12, 7, 6, 45, 1),
        ] {
            let Ok(out) = std::process::Command::new("date")
                .args([
                    "-u",
                    "-d",
                    &format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC"),
                    "+%s",
                ])
                .output()
            else {
                eprintln!("skipping: no `date` command");
                return;
            };
            let expected: i64 = String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let got = Timestamp::from_civil(y, mo, d, h, mi, s).unwrap();
            assert_eq!(got.secs, expected, "{y}-{mo}-{d} {h}:{mi}:{s}");
        }
        assert_eq!(Timestamp::from_civil(2026, 4, 31, 0, 0, 0), None);
        assert_eq!(Timestamp::from_civil(2026, 13, 1, 0, 0, 0), None);
        assert_eq!(Timestamp::from_civil(2025, 2, 29, 0, 0, 0), None);
    }

    #[test]
    fn fraction_is_nanoseconds() {
        let ts = Timestamp { secs: 0, nanos: 5 };
        assert_eq!(ts.to_string(), "1970-01-01T00:00:00.000000005Z");
    }
}
