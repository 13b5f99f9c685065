//! Before replication overwrites a file system, whatever it alone holds is
//! copied (an AWS Backup recovery point) or, when asked, counted as lost.
//! The pure pieces: what CloudWatch says was written in the window, the
//! idempotency token of the backup job, and the command that restores it.

use crate::domain::ids::{FileSystemId, RegionName};

/// Bytes written to a file system in a window, as `DataWriteIOBytes` tells it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowWrites {
    /// Sum over the minutes that have a datapoint.
    pub bytes: u64,
    /// Fully elapsed minutes of the window without a datapoint: unknown.
    pub missing_minutes: u32,
}

impl WindowWrites {
    /// Nothing to preserve only when every minute is known and all are zero.
    pub fn nothing_written(&self) -> bool {
        self.bytes == 0 && self.missing_minutes == 0
    }

    /// For the report: the bytes, or `None` when some minute is unknown.
    pub fn known_bytes(&self) -> Option<u64> {
        (self.missing_minutes == 0).then_some(self.bytes)
    }
}

/// `sums`: (minute start, bytes) per 60 s, as GetMetricData answers for
/// `DataWriteIOBytes` Sum. The window covers the minute holding `start` up to
/// the last minute that ended by `now`: the current minute is not over.
pub fn writes_in_window(sums: &[(f64, f64)], start: f64, now: f64) -> WindowWrites {
    let first = (start / 60.0).floor() as i64;
    let end = (now / 60.0).floor() as i64;
    let mut bytes = 0u64;
    let mut missing = 0u32;
    for minute in first..end {
        let at = (minute * 60) as f64;
        match sums.iter().find(|(t, _)| (t - at).abs() < 0.5) {
            Some((_, v)) => bytes += v.max(0.0).round() as u64,
            None => missing += 1,
        }
    }
    WindowWrites {
        bytes,
        missing_minutes: missing,
    }
}

/// Jobs that failed before a run are skipped at most this many times.
pub const MAX_ATTEMPTS: u32 = 10;

/// The same file system, window, observed writes and attempt always name the same job:
/// a re-run or a duplicate invocation finds it instead of starting another,
/// and anything written after it ran changes the writes and so takes a new one.
pub fn idempotency_token(
    fs: &FileSystemId,
    start: f64,
    writes: &WindowWrites,
    attempt: u32,
) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let text = format!(
        "{fs}|{start:.3}|{}|{}|{attempt}",
        writes.bytes, writes.missing_minutes
    );
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("efs-dr-preserve-{h:016x}")
}

/// The command that restores a preserved recovery point into a new directory
/// (`aws-backup-restore_<time>`) at the root of the same file system, beside
/// the live data.
pub fn restore_command(
    region: &RegionName,
    recovery_point_arn: &str,
    role_arn: &str,
    fs: &FileSystemId,
) -> String {
    format!(
        "aws backup start-restore-job --region {region} --recovery-point-arn {recovery_point_arn} \
         --iam-role-arn {role_arn} --resource-type EFS \
         --metadata '{{\"file-system-id\":\"{fs}\",\"newFileSystem\":\"false\",\"Encrypted\":\"true\"}}'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(s: &str) -> FileSystemId {
        FileSystemId::parse(s).unwrap()
    }

    #[test]
    fn the_window_needs_every_elapsed_minute_known_and_zero() {
        // Window from 00:01:30 to 00:05:10: minutes 1, 2, 3 and 4 have ended.
        let (start, now) = (90.0, 310.0);
        let zeros = [(60.0, 0.0), (120.0, 0.0), (180.0, 0.0), (240.0, 0.0)];
        let w = writes_in_window(&zeros, start, now);
        assert!(w.nothing_written(), "{w:?}");
        assert_eq!(w.known_bytes(), Some(0));

        let one_write = [(60.0, 0.0), (120.0, 42.0), (180.0, 0.0), (240.0, 0.0)];
        let w = writes_in_window(&one_write, start, now);
        assert!(!w.nothing_written());
        assert_eq!(w.known_bytes(), Some(42));

        let gap = [(60.0, 0.0), (180.0, 0.0), (240.0, 0.0)];
        let w = writes_in_window(&gap, start, now);
        assert!(!w.nothing_written(), "a minute without data is not zero");
        assert_eq!((w.missing_minutes, w.known_bytes()), (1, None));

        // Datapoints outside the window do not count; the current minute is not over.
        let outside = [
            (0.0, 9.0),
            (60.0, 0.0),
            (120.0, 0.0),
            (180.0, 0.0),
            (240.0, 0.0),
            (300.0, 7.0),
        ];
        assert!(writes_in_window(&outside, start, now).nothing_written());
    }

    #[test]
    fn an_empty_window_has_nothing_to_preserve() {
        assert!(writes_in_window(&[], 125.0, 170.0).nothing_written());
    }

    #[test]
    fn the_token_is_stable_and_changes_with_new_writes() {
        let a = fs("fs-0000000000000000a");
        let w = WindowWrites {
            bytes: 10,
            missing_minutes: 0,
        };
        let more = WindowWrites {
            bytes: 11,
            missing_minutes: 0,
        };
        assert_eq!(
            idempotency_token(&a, 100.0, &w, 0),
            idempotency_token(&a, 100.0, &w, 0)
        );
        assert_ne!(
            idempotency_token(&a, 100.0, &w, 0),
            idempotency_token(&a, 100.0, &more, 0)
        );
        assert_ne!(
            idempotency_token(&a, 100.0, &w, 0),
            idempotency_token(&a, 160.0, &w, 0)
        );
        assert_ne!(
            idempotency_token(&a, 100.0, &w, 0),
            idempotency_token(&a, 100.0, &w, 1)
        );
        assert_ne!(
            idempotency_token(&a, 100.0, &w, 0),
            idempotency_token(&fs("fs-0000000000000000b"), 100.0, &w, 0)
        );
    }

    #[test]
    fn the_restore_command_names_the_recovery_point_and_the_file_system() {
        let c = restore_command(
            &RegionName::parse("us-east-1").unwrap(),
            "arn:aws:backup:us-east-1:123456789012:recovery-point:abc",
            "arn:aws:iam::123456789012:role/efs-dr-backup",
            &fs("fs-0000000000000000a"),
        );
        assert!(c.starts_with("aws backup start-restore-job --region us-east-1 "));
        assert!(c.contains(
            "--recovery-point-arn arn:aws:backup:us-east-1:123456789012:recovery-point:abc"
        ));
        assert!(c.contains("\"file-system-id\":\"fs-0000000000000000a\""));
        assert!(c.contains("\"newFileSystem\":\"false\""));
    }
}
