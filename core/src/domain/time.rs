//! Time as the workflows see it: epoch seconds (f64), with RFC 3339 (the
//! `date-time` of AWS's models) parsed and formatted here, free of any SDK.

use std::time::Duration;

/// `2026-11-21T20:01:00Z`, with the fraction of a second (to the microsecond)
/// only when there is one.
pub fn iso8601(epoch: f64) -> String {
    if !epoch.is_finite() {
        return format!("{epoch}");
    }
    // As the SDK writes it: nanoseconds truncated, printed to the microsecond.
    let whole = epoch.floor();
    let mut nanos = ((epoch - whole) * 1e9) as u64;
    let mut secs = whole as i64;
    if nanos >= 1_000_000_000 {
        secs += 1;
        nanos = 0;
    }
    let micros = nanos / 1000;
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
    if micros != 0 {
        let fraction = format!("{micros:06}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// `2026-11-21T20:01:00.000+0000`, `…Z` or `…+00:00`.
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some(utc) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return parse_local(utc);
    }
    // A numeric offset after the seconds: +HHMM or +HH:MM.
    let cut = s.rfind(['+', '-']).filter(|i| *i > 10)?;
    let (local, tz) = s.split_at(cut);
    let digits: String = tz[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: f64 = digits[..2].parse().ok()?;
    let minutes: f64 = digits[2..].parse().ok()?;
    let offset = (hours * 3600.0 + minutes * 60.0) * if tz.starts_with('-') { -1.0 } else { 1.0 };
    Some(parse_local(local)? - offset)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]` read as UTC.
fn parse_local(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59
    {
        return None;
    }
    let fraction = match &s[19..] {
        "" => 0.0,
        rest => {
            let digits = rest.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            format!("0.{digits}").parse::<f64>().ok()?
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
    Some(secs as f64 + fraction)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Poll intervals, growing from `initial` to `max`.
#[derive(Clone, Debug)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    pub fn nth(&self, n: u32) -> Duration {
        let grown = self.initial.as_secs_f64() * 1.5f64.powi(n.min(20) as i32);
        Duration::from_secs_f64(grown.min(self.max.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap() {
        let b = Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(10),
        };
        assert_eq!(b.nth(0), Duration::from_secs(2));
        assert_eq!(b.nth(1), Duration::from_secs(3));
        assert_eq!(b.nth(10), Duration::from_secs(10));
    }

    #[test]
    fn formats_and_parses_as_the_aws_sdk_does() {
        use aws_smithy_types::date_time::{DateTime, Format};
        let samples = [
            0.0,
            1.5,
            951_782_400.0,   // 2000-02-29
            1_732_219_260.0, // 2024-11-21T20:01:00
            1_795_291_260.125,
            1_795_291_260.000_001,
            4_102_444_799.999, // 2099-12-31T23:59:59.999
            -86_400.25,
        ];
        for epoch in samples {
            let sdk = DateTime::from_secs_f64(epoch)
                .fmt(Format::DateTime)
                .unwrap();
            assert_eq!(iso8601(epoch), sdk, "formatting {epoch}");
            let back = DateTime::from_str(&sdk, Format::DateTime)
                .unwrap()
                .as_secs_f64();
            assert_eq!(parse_time(&sdk), Some(back), "parsing {sdk}");
        }
        for minute in (0..2_000_000_i64).step_by(997) {
            let epoch = (minute * 61) as f64 + 0.5;
            let sdk = DateTime::from_secs_f64(epoch)
                .fmt(Format::DateTime)
                .unwrap();
            assert_eq!(iso8601(epoch), sdk);
            assert_eq!(parse_time(&sdk), Some(epoch));
        }
    }

    #[test]
    fn offsets_and_bad_dates() {
        assert_eq!(
            parse_time("2026-11-21T20:01:00.000+0000"),
            parse_time("2026-11-21T20:01:00Z")
        );
        assert_eq!(
            parse_time("2026-11-21T21:01:00+01:00"),
            parse_time("2026-11-21T20:01:00Z")
        );
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-21 20:01:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T20:01:00.Z",
            "yesterday",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}

/// A time given as epoch seconds or ISO 8601, as request fields take it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum TimeValue {
    Epoch(f64),
    Text(String),
}

impl TimeValue {
    /// Epoch seconds; `field` names the request field in the error.
    pub fn epoch(&self, field: &str) -> crate::domain::error::Result<f64> {
        match self {
            TimeValue::Epoch(e) if e.is_finite() => Ok(*e),
            TimeValue::Epoch(e) => Err(crate::domain::error::Error::InvalidInput(format!(
                "{field} {e} is not a time: give epoch seconds or ISO 8601 such as 2026-11-21T16:00:00Z"
            ))),
            TimeValue::Text(t) => parse_time(t).ok_or_else(|| {
                crate::domain::error::Error::InvalidInput(format!(
                    "{field} '{t}' is not a time: give epoch seconds or ISO 8601 such as 2026-11-21T16:00:00Z"
                ))
            }),
        }
    }
}
