//! Failback: return to the original Region without losing what was written
//! during the outage, and leave the original topology (original -> replica)
//! in place. Each pass observes both Regions, decides the next step
//! (`decide`, pure) and acts once, so a re-run after a crash resumes at the
//! right phase.

mod decide;
#[cfg(test)]
mod decide_tests;
pub mod preserve;
mod request;

pub use decide::{decide, Action, Observed, Phase};
pub use request::{resolve, FailbackRequest, FailbackTarget, Preserve, Strategy, TimeValue};

use crate::domain::config::Config;
use crate::domain::error::{Error, Refusal, Result};
use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::model::{BackupJobRequest, DeletionMode, FileSystem, MetricPoint, Protection};
use crate::domain::modes::Mode;
use crate::domain::ports::{
    finest_period_kept, Backup, CallBudget, Clock, CreateReplicationOutcome, DeleteOutcome, Efs,
    Metrics, Platform, SeriesQuery, Statistic,
};
use crate::domain::tags;
use crate::domain::time::iso8601;
use crate::run::report::{Location, Outcome, Preserved, Report, Status, Unpreserved};
use crate::run::runner::{drive, Pass, RunLimits, Workflow};
use crate::run::summary::{notify_and_measure, RunSummary};
use crate::workflows::mount_targets;
use preserve::WindowWrites;
use std::time::Duration;

pub struct Failback<'a, P: Platform> {
    platform: &'a P,
    t: FailbackTarget,
    original: P::Efs,
    replica: P::Efs,
    report: Report,
    checked: bool,
    /// The cutover mark fixed at the first pass that needed it.
    mark: Option<f64>,
    pub needs_completion_mark: bool,
}

impl<'a, P: Platform> Failback<'a, P> {
    pub fn new(platform: &'a P, t: FailbackTarget) -> Self {
        let now = platform.clock().now();
        let mut report = Report::new(
            "failback",
            t.mode,
            Location {
                file_system_id: Some(t.replica_id.clone()),
                region: t.replica_region.clone(),
            },
            Location {
                file_system_id: t.original_id.clone(),
                region: t.original_region.clone(),
            },
            now,
        );
        report.reason = t.reason.clone();
        Failback {
            original: platform.efs(&t.original_region, CallBudget::Normal),
            replica: platform.efs(&t.replica_region, CallBudget::Normal),
            platform,
            mark: t.cutover_mark,
            t,
            report,
            checked: false,
            needs_completion_mark: false,
        }
    }

    pub fn into_report(self) -> Report {
        self.report
    }

    fn now(&self) -> f64 {
        self.platform.clock().now()
    }

    fn refuse(&self, guardrail: &'static str, message: String, remedy: &str) -> Result<()> {
        if self.t.force {
            return Ok(());
        }
        Err(Error::Refused(Refusal {
            guardrail,
            message,
            remedy: remedy.to_string(),
        }))
    }

    fn step(&mut self, name: &str, outcome: Outcome, started: f64, detail: impl Into<String>) {
        let now = self.now();
        self.report.step(name, outcome, started, now, detail);
    }

    fn plan_or<'b>(&self, name: &'b str) -> Option<&'b str> {
        (self.t.mode == Mode::Plan).then_some(name)
    }

    /// One-time checks before any change: the original Region answers, no split brain.
    /// The original Region must answer: failback needs both. Checked before any read there.
    async fn probe_original(&mut self) -> Result<()> {
        if self.checked {
            return Ok(());
        }
        let started = self.now();
        let probe = self
            .platform
            .efs(&self.t.original_region, CallBudget::Short)
            .probe()
            .await;
        if let Some(e) = probe.err().filter(|e| e.kind.is_no_answer()) {
            self.refuse(
                "OriginalRegionUnreachable",
                format!(
                    "{} does not answer ({}): failback needs both Regions",
                    self.t.original_region, e.message
                ),
                "wait until the original Region is back, then run failback again",
            )?;
        }
        self.step(
            "probe original Region",
            Outcome::Checked,
            started,
            format!("{} answers", self.t.original_region),
        );
        Ok(())
    }

    async fn preflight(
        &mut self,
        original: Option<&FileSystem>,
        replica: &FileSystem,
    ) -> Result<()> {
        if self.checked {
            return Ok(());
        }
        // Clients on the original since the failover would be writing to a file system about to be overwritten.
        if let Some(o) = original {
            let since = replica
                .tag(tags::PROMOTED_AT)
                .and_then(|v| v.parse::<f64>().ok());
            if let Some(since) = since {
                let now = self.now();
                let dims = vec![("FileSystemId".to_string(), o.id.to_string())];
                let period_seconds = finest_period_kept(since, now);
                let seen = self
                    .platform
                    .metrics(&self.t.original_region)
                    .series(&SeriesQuery {
                        namespace: "AWS/EFS",
                        metric: "ClientConnections",
                        dimensions: &dims,
                        start: (since / f64::from(period_seconds)).floor()
                            * f64::from(period_seconds),
                        end: now + 60.0,
                        period_seconds,
                        statistic: Statistic::Maximum,
                    })
                    .await?;
                // A period that began before the failover still overlaps the time after it.
                let after_failover: Vec<&(f64, f64)> = seen
                    .iter()
                    .filter(|(t, _)| *t + f64::from(period_seconds) > since)
                    .collect();
                let connected: Vec<String> = after_failover
                    .iter()
                    .filter(|(_, v)| *v > 0.0)
                    .map(|(t, v)| format!("{v:.0} at {}", iso8601(*t)))
                    .collect();
                // Known only from a period wholly after the failover.
                let known = seen.iter().any(|(t, _)| *t >= since);
                let problem = if !known {
                    Some(format!(
                        "CloudWatch has no ClientConnections for {} since the failover ({}): whether clients wrote there is unknown",
                        o.id,
                        iso8601(since)
                    ))
                } else if !connected.is_empty() {
                    Some(format!(
                        "{} had client connections after the failover ({}): writes there would be lost or conflict",
                        o.id,
                        connected.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                    ))
                } else {
                    None
                };
                if let Some(message) = problem {
                    self.refuse(
                        "SplitBrain",
                        message.clone(),
                        "stop the clients still using the original, copy anything they wrote, then run again (or set force: true)",
                    )?;
                    self.report.warn(format!(
                        "guardrail SplitBrain overridden by force: {message}"
                    ));
                }
                self.step(
                    "check client connections",
                    Outcome::Checked,
                    now,
                    "no client connections on the original since the failover",
                );
            }
        }
        self.checked = true;
        Ok(())
    }

    async fn finish(&mut self, o: &FileSystem, r: &FileSystem) -> Result<Pass> {
        let started = self.now();
        let mts = mount_targets::ensure(
            &self.original,
            &o.id,
            &self.t.mount_targets,
            self.t.mode,
            false,
        )
        .await?;
        let now = self.now();
        mts.record(&mut self.report, Outcome::Done, started, now);
        if mts.pending && self.t.mode == Mode::Execute {
            self.report.phase = Phase::AwaitMountTargets.as_str().into();
            return Ok(Pass::Wait);
        }
        self.report.dns_name = Some(o.dns_name());
        let done_before = o.tag(tags::FAILBACK_COMPLETED_AT).is_some()
            && o.tag(tags::FAILBACK_CUTOVER_AT)
                .is_none_or(|v| v == tags::NONE)
            && o.tag(tags::ROLE) == Some(tags::ROLE_PRIMARY)
            && r.tag(tags::ROLE) == Some(tags::ROLE_REPLICA);
        if done_before {
            self.step(
                "finish",
                Outcome::AlreadyDone,
                started,
                "the original topology is in place",
            );
        } else {
            self.needs_completion_mark = true;
        }
        self.report.phase = Phase::Completed.as_str().into();
        self.report.next(format!(
            "point clients back at {} (mount {})",
            o.id,
            o.dns_name()
        ));
        Ok(Pass::Done)
    }

    async fn create(
        &mut self,
        from: &FileSystemId,
        from_region_is_replica: bool,
        into: Option<FileSystemId>,
        name: &str,
    ) -> Result<Pass> {
        let started = self.now();
        if let Some(p) = self.plan_or(name) {
            self.step(
                p,
                Outcome::Planned,
                started,
                "CreateReplicationConfiguration",
            );
            self.report.status = Status::Planned;
            return Ok(Pass::Done);
        }
        let (efs, dest_region) = if from_region_is_replica {
            (&self.replica, &self.t.original_region)
        } else {
            (&self.original, &self.t.replica_region)
        };
        match efs
            .create_replication(from, dest_region, into.as_ref())
            .await?
        {
            CreateReplicationOutcome::Created(r) => {
                if into.is_none() {
                    // new_file_system: this is the new original.
                    self.report.destination.file_system_id =
                        Some(r.destination_file_system_id.clone());
                }
                self.step(
                    name,
                    Outcome::Done,
                    started,
                    format!(
                        "{} -> {}",
                        r.source_file_system_id, r.destination_file_system_id
                    ),
                );
            }
            // Another run got there first: the next pass reads what exists.
            CreateReplicationOutcome::AlreadyExists(m) => {
                self.step(name, Outcome::AlreadyDone, started, m)
            }
        }
        Ok(Pass::Wait)
    }

    /// Refuses the cutover while clients still use the replica: what they write
    /// after the mark would end on neither side.
    async fn refuse_while_clients_write(&mut self, replica: &FileSystem) -> Result<()> {
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
    async fn preserve_before_overwrite(
        &mut self,
        fs: &FileSystem,
        region: &RegionName,
        since: Option<f64>,
    ) -> Result<Option<Pass>> {
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
                    .metrics(region)
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
                preserve::writes_in_window(&sums, start, now)
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
        let Some(role) = self.t.backup_role_arn.clone() else {
            return Err(Error::Refused(Refusal {
                guardrail: "PreservationNotConfigured",
                message: format!(
                    "{} may hold writes the other side lacks ({written} since {window_start}) and no backup role is configured to preserve them",
                    fs.id
                ),
                remedy: "set EFS_DR_BACKUP_ROLE_ARN (the template's BackupRole) and run again; nothing was overwritten. \
                         Or run with preserve: never and acknowledge_data_loss: true to overwrite without a copy"
                    .into(),
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
        let backup = self.platform.backup(region);
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
                    idempotency_token: preserve::idempotency_token(
                        &fs.id, window_key, &writes, attempt,
                    ),
                })
                .await?;
            let job = backup.describe_backup_job(&job_id).await?;
            let failed_before_this_run =
                job.has_failed() && job.completed_at.is_some_and(|t| t <= run_started);
            if failed_before_this_run && attempt < preserve::MAX_ATTEMPTS {
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
            .efs(region, CallBudget::Normal)
            .tag_file_system(
                &fs.id,
                &[(
                    tags::PRESERVED_RECOVERY_POINT.to_string(),
                    recovery_point_arn.clone(),
                )],
            )
            .await?;
        let restore_command = preserve::restore_command(region, &recovery_point_arn, &role, &fs.id);
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
    async fn open_for_overwrite(
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

    async fn set_protection(
        &mut self,
        region_is_original: bool,
        id: &FileSystemId,
        p: Protection,
        name: &str,
    ) -> Result<Pass> {
        let started = self.now();
        if let Some(n) = self.plan_or(name) {
            self.step(n, Outcome::Planned, started, format!("{id}: {p:?}"));
            self.report.status = Status::Planned;
            return Ok(Pass::Done);
        }
        let efs = if region_is_original {
            &self.original
        } else {
            &self.replica
        };
        efs.update_protection(id, p).await?;
        self.step(
            name,
            Outcome::Done,
            started,
            format!("{id}: overwrite protection {p:?}"),
        );
        Ok(Pass::Wait)
    }
}

impl<P: Platform> Failback<'_, P> {
    /// Reads both Regions (and runs the one-time checks) into a plain snapshot.
    async fn observe(&mut self) -> Result<Observed> {
        let replica_id = self.t.replica_id.clone();
        let replica = self.replica.describe_file_system(&replica_id).await;
        if self.report.timeline.is_empty() {
            let now = self.now();
            self.report.restart(now);
        }
        let replica = replica?.ok_or_else(|| {
            Error::InvalidInput(format!(
                "replica {replica_id} does not exist in {}: check replica_file_system_id and replica_region",
                self.t.replica_region
            ))
        })?;
        let replica_replication = self.replica.describe_replication(&replica_id).await?;
        self.probe_original().await?;
        // The original: named, or (new_file_system) the destination of the reverse replication.
        let original_id = match &replica_replication {
            Some(r)
                if r.source_file_system_id == replica_id
                    && r.destination_region == self.t.original_region =>
            {
                Some(r.destination_file_system_id.clone())
            }
            _ => self.report.destination.file_system_id.clone(),
        };
        self.report.destination.file_system_id = original_id.clone();
        let original = match &original_id {
            Some(id) => self.original.describe_file_system(id).await?,
            None => None,
        };
        if let (Some(id), None) = (&original_id, &original) {
            if self.t.strategy != Strategy::NewFileSystem {
                return Err(Error::InvalidInput(format!(
                    "original {id} does not exist in {}: if it is gone, use strategy new_file_system",
                    self.t.original_region
                )));
            }
        }
        self.preflight(original.as_ref(), &replica).await?;
        let original_replication = match &original {
            Some(o) => self.original.describe_replication(&o.id).await?,
            None => None,
        };
        Ok(Observed {
            replica,
            replica_replication,
            original,
            original_replication,
        })
    }

    /// A wait that plan mode reports instead of waiting out.
    fn wait_unless_planning(&self) -> Pass {
        if self.t.mode == Mode::Plan {
            Pass::Done
        } else {
            Pass::Wait
        }
    }

    /// Takes the one step `decide` chose.
    async fn act(&mut self, action: Action, seen: Observed) -> Result<Pass> {
        self.report.phase = action.phase().as_str().into();
        let first_step_of_overwrite = matches!(
            action,
            Action::AllowReplicaOverwrite | Action::AllowOriginalOverwrite
        );
        let replica_id = seen.replica.id.clone();
        let now = self.now();
        let Some(original) = seen.original else {
            return match action {
                Action::CreateNewOriginal => {
                    self.create(&replica_id, true, None, "replicate into a new file system")
                        .await
                }
                _ => Ok(Pass::Wait),
            };
        };
        let original_id = original.id.clone();
        match action {
            Action::AwaitNewOriginal | Action::CreateNewOriginal => Ok(Pass::Wait),
            Action::AwaitCleanup => {
                self.step("wait for the clean-up", Outcome::Waiting, now, "DELETING");
                Ok(self.wait_unless_planning())
            }
            Action::CleanUpLeftover => {
                if let Some(n) = self.plan_or("clean up") {
                    self.step(n, Outcome::Planned, now, "DeleteReplicationConfiguration LOCAL_CONFIGURATION_ONLY in the original Region");
                    self.report.status = Status::Planned;
                    return Ok(Pass::Done);
                }
                let outcome = self
                    .original
                    .delete_replication(&original_id, DeletionMode::LocalConfigurationOnly)
                    .await?;
                self.step(
                    "clean up",
                    done_or_already(outcome),
                    now,
                    "deleted the configuration a LOCAL_CONFIGURATION_ONLY failover left behind",
                );
                Ok(Pass::Wait)
            }
            Action::Finish => self.finish(&original, &seen.replica).await,
            Action::AwaitForwardSync {
                status,
                last_replicated,
            } => {
                self.step(
                    "wait for replication",
                    Outcome::Waiting,
                    now,
                    format!(
                        "{status:?}, last replicated {:?}",
                        last_replicated.map(iso8601)
                    ),
                );
                Ok(self.wait_unless_planning())
            }
            Action::AwaitOriginalWritableAtCutover => {
                self.step(
                    "wait until the original is writable",
                    Outcome::Waiting,
                    now,
                    "reverse replication DELETING",
                );
                Ok(Pass::Wait)
            }
            Action::AwaitReverseSync { status } => {
                self.step(
                    "wait for the reverse sync",
                    Outcome::Waiting,
                    now,
                    format!("{status:?}"),
                );
                Ok(self.wait_unless_planning())
            }
            Action::AwaitCutoverApproval { last_replicated } => {
                self.step(
                    "reverse replication in sync",
                    Outcome::Checked,
                    now,
                    format!("last replicated {}", iso8601(last_replicated)),
                );
                self.report.next(
                    "stop writes to the replica, then run again with cutover: true and cutover_mark set to when writes stopped \
                     (in Step Functions: approve the cutover)",
                );
                Ok(Pass::Paused)
            }
            Action::AwaitCutoverMark {
                last_replicated,
                mark,
            } => {
                self.mark = Some(mark);
                self.step(
                    "wait for the cutover mark",
                    Outcome::Waiting,
                    now,
                    format!(
                        "last replicated {} < mark {}",
                        iso8601(last_replicated),
                        iso8601(mark)
                    ),
                );
                Ok(self.wait_unless_planning())
            }
            Action::Cutover {
                last_replicated,
                mark,
            } => {
                self.mark = Some(mark);
                self.refuse_while_clients_write(&seen.replica).await?;
                if let Some(n) = self.plan_or("cutover") {
                    self.step(
                        n,
                        Outcome::Planned,
                        now,
                        "delete the reverse replication; the original becomes writable",
                    );
                    self.report.status = Status::Planned;
                    return Ok(Pass::Done);
                }
                // Marked first: after the deletion both file systems are writable, and only this tells a re-run where it is.
                self.original
                    .tag_file_system(
                        &original_id,
                        &[(tags::FAILBACK_CUTOVER_AT.to_string(), format!("{mark:.3}"))],
                    )
                    .await?;
                let outcome = self
                    .replica
                    .delete_replication(&replica_id, DeletionMode::AllConfigurations)
                    .await?;
                self.step(
                    "cutover",
                    done_or_already(outcome),
                    now,
                    format!(
                        "reverse replication deleted with everything up to {} on the original",
                        iso8601(last_replicated)
                    ),
                );
                Ok(Pass::Wait)
            }
            Action::AwaitOriginalWritable => Ok(self.wait_unless_planning()),
            Action::AllowReplicaOverwrite | Action::RestoreOriginalDirection => {
                // The replica's writes since the cutover mark (or, discarding, since the promotion)
                // exist nowhere else.
                let since = epoch_tag(&original, tags::FAILBACK_CUTOVER_AT)
                    .or_else(|| epoch_tag(&seen.replica, tags::PROMOTED_AT));
                let region = self.t.replica_region.clone();
                if let Some(pass) = self
                    .preserve_before_overwrite(&seen.replica, &region, since)
                    .await?
                {
                    return Ok(pass);
                }
                if first_step_of_overwrite {
                    self.open_for_overwrite(&replica_id, false).await?;
                    self.set_protection(
                        false,
                        &replica_id,
                        Protection::Disabled,
                        "allow the replica to be overwritten",
                    )
                    .await
                } else {
                    self.create(
                        &original_id,
                        false,
                        Some(replica_id),
                        "restore original -> replica",
                    )
                    .await
                }
            }
            Action::AllowOriginalOverwrite | Action::ReverseReplicate => {
                // The original's writes after the recovery point never reached the replica.
                let since = epoch_tag(&seen.replica, tags::RECOVERY_POINT);
                let region = self.t.original_region.clone();
                if let Some(pass) = self
                    .preserve_before_overwrite(&original, &region, since)
                    .await?
                {
                    return Ok(pass);
                }
                if first_step_of_overwrite {
                    self.open_for_overwrite(&original_id, true).await?;
                    self.set_protection(
                        true,
                        &original_id,
                        Protection::Disabled,
                        "allow the original to be overwritten",
                    )
                    .await
                } else {
                    self.create(
                        &replica_id,
                        true,
                        Some(original_id),
                        "replicate the replica back into the original",
                    )
                    .await
                }
            }
        }
    }
}

fn epoch_tag(fs: &FileSystem, key: &str) -> Option<f64> {
    fs.tag(key).and_then(|v| v.parse::<f64>().ok())
}

fn done_or_already(outcome: DeleteOutcome) -> Outcome {
    if outcome == DeleteOutcome::Accepted {
        Outcome::Done
    } else {
        Outcome::AlreadyDone
    }
}

impl<P: Platform> Workflow for Failback<'_, P> {
    fn report(&mut self) -> &mut Report {
        &mut self.report
    }

    async fn pass(&mut self) -> Result<Pass> {
        let seen = self.observe().await?;
        let now = self.now();
        let action = decide(&self.t, &seen, self.mark, now)?;
        self.act(action, seen).await
    }
}

pub async fn run<P: Platform>(
    platform: &P,
    config: &Config,
    request: &FailbackRequest,
    remaining: Option<Duration>,
) -> Result<RunSummary> {
    let target = resolve(request, config)?;
    let limits = RunLimits::for_run(request.run_mode, remaining, config);
    let mut wf = Failback::new(platform, target);
    drive(&mut wf, platform.clock(), &limits).await;
    let mark = wf.needs_completion_mark && wf.report.status == Status::Completed;
    let (original, replica) = (wf.report.destination.clone(), wf.report.source.clone());
    let summary = RunSummary::new("failback", vec![wf.into_report()]);
    let points = |r: &Report| {
        vec![MetricPoint {
            name: "FailbackDurationSeconds",
            value: r.duration_seconds,
            unit: "Seconds",
            dimensions: vec![(
                "FileSystemId".into(),
                r.destination
                    .file_system_id
                    .as_ref()
                    .map(|f| f.to_string())
                    .unwrap_or_default(),
            )],
        }]
    };
    let summary = notify_and_measure(platform, config, summary, points).await;
    if mark {
        let now = platform.clock().now();
        let stamp = format!("{now:.3}");
        if let Some(o) = &original.file_system_id {
            let t = [
                (tags::ROLE.to_string(), tags::ROLE_PRIMARY.to_string()),
                (tags::FAILBACK_COMPLETED_AT.to_string(), stamp.clone()),
                (
                    tags::FAILBACK_CUTOVER_AT.to_string(),
                    tags::NONE.to_string(),
                ),
            ];
            if let Err(e) = platform
                .efs(&original.region, CallBudget::Normal)
                .tag_file_system(o, &t)
                .await
            {
                tracing::warn!(error = %e, "could not tag the original; a re-run will");
            }
        }
        if let Some(r) = &replica.file_system_id {
            let t = [
                (tags::ROLE.to_string(), tags::ROLE_REPLICA.to_string()),
                (tags::FAILBACK_COMPLETED_AT.to_string(), stamp),
                (tags::SOURCE_CLEANUP_NEEDED.to_string(), "false".to_string()),
            ];
            if let Err(e) = platform
                .efs(&replica.region, CallBudget::Normal)
                .tag_file_system(r, &t)
                .await
            {
                tracing::warn!(error = %e, "could not tag the replica; a re-run will");
            }
        }
    }
    if summary.should_fail_invocation(limits.mode) {
        return Err(summary.first_error());
    }
    Ok(summary)
}

pub async fn handle_event<P: Platform>(
    platform: &P,
    config: &Config,
    event: serde_json::Value,
    remaining: Option<Duration>,
) -> Result<serde_json::Value> {
    crate::run::intake::run_all(
        "failback",
        event,
        FailbackRequest::from_json,
        |request| async move { run(platform, config, &request, remaining).await },
    )
    .await
}
