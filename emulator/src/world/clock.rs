//! Emulated time. Either real time scaled by a factor (so minutes of AWS
//! behaviour pass in seconds), or a manual clock that only moves when told to,
//! for deterministic tests.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub enum ClockMode {
    Scaled { scale: f64 },
    Manual,
}

#[derive(Debug, Clone)]
pub struct Clock {
    mode: ClockMode,
    origin_real: Instant,
    origin_emulated: f64,
    /// Jumps made by hand (both modes allow skipping ahead).
    offset: f64,
}

pub fn wall_clock_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Clock {
    pub fn new(mode: ClockMode, start: f64) -> Self {
        Clock {
            mode,
            origin_real: Instant::now(),
            origin_emulated: start,
            offset: 0.0,
        }
    }

    /// Emulated seconds since the Unix epoch.
    pub fn now(&self) -> f64 {
        let elapsed = match self.mode {
            ClockMode::Scaled { scale } => self.origin_real.elapsed().as_secs_f64() * scale,
            ClockMode::Manual => 0.0,
        };
        self.origin_emulated + elapsed + self.offset
    }

    pub fn advance(&mut self, seconds: f64) {
        if seconds > 0.0 {
            self.offset += seconds;
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(self.mode, ClockMode::Manual)
    }

    pub fn scale(&self) -> Option<f64> {
        match self.mode {
            ClockMode::Scaled { scale } => Some(scale),
            ClockMode::Manual => None,
        }
    }
}

/// ISO 8601 with milliseconds and `Z`, as SNS and the alarm payloads print times.
pub fn iso8601(epoch: f64) -> String {
    let (date, h, m, s, ms) = split(epoch);
    format!("{date}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// The `+0000` form CloudWatch uses inside alarm notifications.
pub fn iso8601_alarm(epoch: f64) -> String {
    let (date, h, m, s, ms) = split(epoch);
    format!("{date}T{h:02}:{m:02}:{s:02}.{ms:03}+0000")
}

fn split(epoch: f64) -> (String, u64, u64, u64, u64) {
    let total_ms = (epoch.max(0.0) * 1000.0).round() as u64;
    let ms = total_ms % 1000;
    let secs = total_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, mo, d) = civil_from_days(days);
    (
        format!("{y:04}-{mo:02}-{d:02}"),
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms,
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses the ISO 8601 forms the query protocol sends (`2026-11-21T20:00:00Z`,
/// optional fraction, `Z` or `+00:00`).
pub fn parse_iso8601(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok());
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut frac = 0.0;
    let rest = &s[19..];
    let mut tz = rest;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
        frac = format!("0.{digits}").parse().unwrap_or(0.0);
        tz = &r[digits.len()..];
    }
    let offset = match tz {
        "" | "Z" | "z" => 0,
        t if t.len() >= 6 => {
            let sign = if t.starts_with('-') { -1 } else { 1 };
            let oh: i64 = t.get(1..3)?.parse().ok()?;
            let om: i64 = t.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset) as f64 + frac)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u64;
    let mp = if m > 2 { m - 3 } else { m + 9 } as u64;
    let doy = (153 * mp + 2) / 5 + d as u64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i64 - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let t = 1_795_276_800.5; // 2026-11-21T16:00:00.500Z
        assert_eq!(iso8601(t), "2026-11-21T16:00:00.500Z");
        assert_eq!(parse_iso8601("2026-11-21T16:00:00.500Z"), Some(t));
        assert_eq!(
            parse_iso8601("2026-11-21T18:00:00+02:00"),
            Some(1_795_276_800.0)
        );
        assert_eq!(parse_iso8601("garbage"), None);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let mut c = Clock::new(ClockMode::Manual, 100.0);
        assert_eq!(c.now(), 100.0);
        c.advance(60.0);
        assert_eq!(c.now(), 160.0);
    }
}
