//! Before replication overwrites a file system, whatever it alone holds is
//! copied (an AWS Backup recovery point) or, when asked, counted as lost.
//! The pure pieces: what CloudWatch says was written in the window, the
//! idempotency token of the backup job, and the command that restores it.

use super::request::Preserve;
use super::{epoch_tag, Failback};
use crate::domain::error::{Error, Refusal, Result};
use crate::domain::ids::{FileSystemId, Location, RegionName};
use crate::domain::model::{BackupJobRequest, FileSystem};
use crate::domain::modes::Mode;
use crate::domain::ports::{Backup, CallBudget, Efs, Metrics, Platform, SeriesQuery, Statistic};
use crate::domain::tags;
use crate::domain::time::iso8601;
use crate::run::report::{Outcome, Preserved, Unpreserved};
use crate::run::runner::Pass;

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

/// The same file system, window, bytes seen and attempt always name the same job:
/// a re-run or a duplicate invocation finds it instead of starting another,
/// and anything written after it ran changes the bytes and so takes a new one.
/// Minutes without data stay out: where CloudWatch publishes nothing for an
/// idle minute, their count grows with time alone, and a token that followed
/// it would start a new backup every minute and never finish.
pub fn idempotency_token(
    fs: &FileSystemId,
    start: f64,
    writes: &WindowWrites,
    attempt: u32,
) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let text = format!("{fs}|{start:.3}|{}|{attempt}", writes.bytes);
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

/// The guards of an overwrite, as steps of a failback pass.
impl<P: Platform> Failback<'_, P> {
    /// Refuses the cutover while clients still use the replica: what they write
    /// after the mark would end on neither side.
    pub(super) async fn refuse_while_clients_write(&mut self, replica: &FileSystem) -> Result<()> {
        let now = self.now();
        let dims = vec![("FileSystemId".to_string(), replica.id.to_string())];
        let seen = self
            .platform
            .metrics(&self.t.replica_region)
            .recent("AWS/EFS", "ClientConnections", &dims, 180.0, now)
            .await?;
        let problem = match seen.last() {
            None => Some(format!(
                "CloudWatch has no ClientConnections for {} in the last 3 minutes: whether clients still write there is unknown",
                replica.id
            )),
            Some((t, v)) if *v > 0.0 => Some(format!(
                "{} still has {v:.0} client connections (at {})",
                replica.id,
                iso8601(*t)
            )),
            Some(_) => None,
        };
        if let Some(message) = problem {
            self.refuse(
                "ClientsStillConnected",
                message.clone(),
                "unmount the replica everywhere (writes after the cutover mark would be lost), then run again; or set force: true",
            )?;
            self.report.warn(format!(
                "guardrail ClientsStillConnected overridden by force: {message}"
            ));
        }
        Ok(())
    }

    /// Before replication overwrites `fs`: what it alone holds since `since`
    /// (when the two last matched) is copied to AWS Backup first, or counted
    /// as lost when the request says `preserve: never`. `Some(pass)` while a
    /// backup job runs; `None` once the overwrite may go ahead.
    pub(super) async fn preserve_before_overwrite(
        &mut self,
        fs: &FileSystem,
        at: &Location,
        since: Option<f64>,
    ) -> Result<Option<Pass>> {
        let region = &at.region;
        let now = self.now();
        if let Some(opened) = epoch_tag(fs, tags::OPENED_FOR_OVERWRITE_AT) {
            let covered_until = (now / 60.0).floor() * 60.0;
            if covered_until <= opened
                && self.t.mode == Mode::Execute
                && self.t.preserve != Preserve::Never
            {
                self.step(
                    "preserve",
                    Outcome::Waiting,
                    now,
                    format!(
                        "{} was opened for overwrite at {}: waiting until CloudWatch has covered that minute",
                        fs.id,
                        iso8601(opened)
                    ),
                );
                return Ok(Some(Pass::Wait));
            }
        }
        let writes = match since {
            Some(start) => {
                let dims = vec![("FileSystemId".to_string(), fs.id.to_string())];
                let sums = self
                    .platform
                    .metrics(at)
                    .series(&SeriesQuery {
                        namespace: "AWS/EFS",
                        metric: "DataWriteIOBytes",
                        dimensions: &dims,
                        start: (start / 60.0).floor() * 60.0,
                        end: now,
                        period_seconds: 60,
                        statistic: Statistic::Sum,
                    })
                    .await?;
                writes_in_window(&sums, start, now)
            }
            // No record of when the two last matched: assume it holds writes.
            None => WindowWrites {
                bytes: 0,
                missing_minutes: 1,
            },
        };
        let window_start = since.map(iso8601).unwrap_or_else(|| "unknown".into());
        let unpreserved = |reason: String| Unpreserved {
            file_system_id: fs.id.clone(),
            region: region.clone(),
            window_start: window_start.clone(),
            window_end: iso8601(now),
            bytes_written: writes.known_bytes(),
            bytes_seen: writes.bytes,
            minutes_without_data: writes.missing_minutes,
            reason,
        };
        let written = match writes.known_bytes() {
            Some(b) => format!("{b} bytes written"),
            None => format!(
                "at least {} bytes written, {} minutes without data",
                writes.bytes, writes.missing_minutes
            ),
        };
        let copy_needed = match self.t.preserve {
            Preserve::Never => {
                let u = unpreserved("preserve: never, with acknowledge_data_loss".into());
                self.report.warn(format!(
                    "{} is overwritten without a copy: {written} since {window_start} are destroyed (preserve: never)",
                    fs.id
                ));
                self.note_unpreserved(u);
                false
            }
            Preserve::Auto if writes.nothing_written() => {
                self.note_unpreserved(unpreserved(
                    "nothing to preserve: DataWriteIOBytes was 0 in every minute of the window"
                        .into(),
                ));
                false
            }
            Preserve::Auto | Preserve::Always => true,
        };
        if !copy_needed {
            self.step(
                "check for writes to preserve",
                Outcome::Checked,
                now,
                format!("{}: {written} since {window_start}; no copy taken", fs.id),
            );
            return Ok(None);
        }
        // AWS Backup backs up a file system in its own account, with a role of that account.
        let (role, variable) = if self.is_foreign(at) {
            (
                self.t.source_backup_role_arn.clone(),
                "EFS_DR_SOURCE_BACKUP_ROLE_ARN (SourceAccountBackupRoleArn: the BackupRole output of deploy/source-account.yaml)",
            )
        } else {
            (
                self.t.backup_role_arn.clone(),
                "EFS_DR_BACKUP_ROLE_ARN (the template's BackupRole)",
            )
        };
        let Some(role) = role else {
            return Err(Error::Refused(Refusal {
                guardrail: "PreservationNotConfigured",
                message: format!(
                    "{} may hold writes the other side lacks ({written} since {window_start}) and no backup role is configured to preserve them",
                    fs.id
                ),
                remedy: format!(
                    "set {variable} and run again; nothing was overwritten. \
                     Or run with preserve: never and acknowledge_data_loss: true to overwrite without a copy"
                ),
            }));
        };
        if let Some(n) = self.plan_or("preserve") {
            self.step(
                n,
                Outcome::Planned,
                now,
                format!(
                    "back up {} ({written} since {window_start}) to vault {} before it is overwritten",
                    fs.id, self.t.backup_vault
                ),
            );
            return Ok(None);
        }
        self.report.phase = "preserve: back up before overwriting".into();
        let backup = self.platform.backup(at);
        let window_key = since.unwrap_or(0.0);
        let run_started = self.report.started_epoch;
        // A job that failed before this run (its cause since fixed, one hopes) is
        // not this run's answer: the next attempt gets a token of its own. The
        // tokens are tried in order, so duplicate invocations find the same job.
        let mut attempt = 0;
        let (job_id, job) = loop {
            let job_id = backup
                .start_backup_job(&BackupJobRequest {
                    resource_arn: fs.arn.clone(),
                    vault: self.t.backup_vault.clone(),
                    iam_role_arn: role.clone(),
                    idempotency_token: idempotency_token(&fs.id, window_key, &writes, attempt),
                })
                .await?;
            let job = backup.describe_backup_job(&job_id).await?;
            let failed_before_this_run =
                job.has_failed() && job.completed_at.is_some_and(|t| t <= run_started);
            if failed_before_this_run && attempt < MAX_ATTEMPTS {
                attempt += 1;
                continue;
            }
            break (job_id, job);
        };
        if job.has_failed() {
            return Err(Error::Refused(Refusal {
                guardrail: "PreservationFailed",
                message: format!(
                    "backup job {job_id} of {} ended {}{}: nothing was overwritten",
                    fs.id,
                    job.state,
                    job.status_message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                ),
                remedy: format!(
                    "fix the cause (vault {} in {region}, role {role}), then run again; or run with preserve: never and acknowledge_data_loss: true",
                    self.t.backup_vault
                ),
            }));
        }
        let Some(recovery_point_arn) = job
            .recovery_point_arn
            .clone()
            .filter(|_| job.is_completed())
        else {
            self.step(
                "preserve",
                Outcome::Waiting,
                now,
                format!("backup job {job_id} of {} is {}", fs.id, job.state),
            );
            return Ok(Some(Pass::Wait));
        };
        self.platform
            .efs(at, CallBudget::Normal)
            .tag_file_system(
                &fs.id,
                &[(
                    tags::PRESERVED_RECOVERY_POINT.to_string(),
                    recovery_point_arn.clone(),
                )],
            )
            .await?;
        let restore_command = restore_command(region, &recovery_point_arn, &role, &fs.id);
        self.step(
            "preserve",
            Outcome::Done,
            now,
            format!(
                "{} ({written} since {window_start}) is in recovery point {recovery_point_arn}",
                fs.id
            ),
        );
        self.report.next(format!(
            "what {} alone held before it was overwritten is in {recovery_point_arn}; to restore it beside the live data: {restore_command}",
            fs.id
        ));
        if !self
            .report
            .preserved
            .iter()
            .any(|p| p.backup_job_id == job_id)
        {
            self.report.preserved.push(Preserved {
                file_system_id: fs.id.clone(),
                region: region.clone(),
                window_start,
                window_end: iso8601(now),
                bytes_written: writes.known_bytes(),
                bytes_seen: writes.bytes,
                minutes_without_data: writes.missing_minutes,
                backup_job_id: job_id,
                recovery_point_arn,
                completed_at: job.completed_at.map(iso8601),
                restore_command,
            });
        }
        Ok(None)
    }

    /// Records when a file system was opened for overwrite, before opening it:
    /// the overwrite waits until CloudWatch has covered that minute, so every
    /// write made until then is seen (and preserved) first.
    pub(super) async fn open_for_overwrite(
        &mut self,
        id: &FileSystemId,
        in_original_region: bool,
    ) -> Result<()> {
        if self.t.mode == Mode::Plan {
            return Ok(());
        }
        let now = self.now();
        let efs = if in_original_region {
            &self.original
        } else {
            &self.replica
        };
        efs.tag_file_system(
            id,
            &[(
                tags::OPENED_FOR_OVERWRITE_AT.to_string(),
                format!("{now:.3}"),
            )],
        )
        .await?;
        Ok(())
    }

    fn note_unpreserved(&mut self, u: Unpreserved) {
        let seen = self
            .report
            .overwritten_without_copy
            .iter()
            .any(|x| x.file_system_id == u.file_system_id && x.window_start == u.window_start);
        if !seen {
            self.report.overwritten_without_copy.push(u);
        }
    }
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
