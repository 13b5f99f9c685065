//! Time as the workflows see it: epoch seconds (f64). Parsing and
//! formatting live here, the one place that knows `aws_smithy_types`.

use aws_smithy_types::date_time::{DateTime, Format};
use std::time::Duration;

pub fn iso8601(epoch: f64) -> String {
    DateTime::from_secs_f64(epoch)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| format!("{epoch}"))
}

/// `2026-11-21T20:01:00.000+0000`, `…Z` or `…+00:00`.
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some(utc) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return DateTime::from_str(&format!("{utc}Z"), Format::DateTime)
            .ok()
            .map(|d| d.as_secs_f64());
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
    let utc = DateTime::from_str(&format!("{local}Z"), Format::DateTime)
        .ok()?
        .as_secs_f64();
    Some(utc - offset)
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
