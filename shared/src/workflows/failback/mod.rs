//! Failback: return to the original Region without losing what was written
//! during the outage, and leave the original topology (original -> replica)
//! in place. Each pass observes both Regions, decides the next step
//! (`decide`, pure) and acts once, so a re-run after a crash resumes at the
//! right phase.

mod decide;
#[cfg(test)]
mod decide_props;
#[cfg(test)]
mod decide_tests;
pub mod preserve;
mod request;

pub use decide::{decide, Action, Observed, Phase};

/// The longest step-mode wait in a phase that can last hours.
pub const LONG_PHASE_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
pub use request::{resolve, FailbackRequest, FailbackTarget, Preserve, Strategy, TimeValue};

use crate::domain::config::Config;
use crate::domain::error::{Error, Refusal, Result};
use crate::domain::ids::FileSystemId;
use crate::domain::model::{DeletionMode, FileSystem, MetricPoint, Protection};
use crate::domain::modes::Mode;
use crate::domain::ports::{
    finest_period_kept, CallBudget, Clock, CreateReplicationOutcome, DeleteOutcome, Efs, Metrics,
    Platform, SeriesQuery, Statistic,
};
use crate::domain::tags;
use crate::domain::time::iso8601;
use crate::run::report::{Location, Outcome, Report, Status};
use crate::run::runner::{drive, Pass, RunLimits, Workflow};
use crate::run::summary::{notify_and_measure, RunSummary};
use crate::workflows::mount_targets;
use crate::workflows::region_switch;
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

    /// A full sync in either direction, or the preservation backup before one,
    /// can take a day for a large file system: poll those every 10 minutes at
    /// most. The cutover phases keep short waits: clients are stopped then.
    fn max_wait(&self) -> Option<std::time::Duration> {
        const LONG: [Phase; 4] = [
            Phase::AwaitReverseSync,
            Phase::AwaitForwardSync,
            Phase::ReverseReplication,
            Phase::Reprotect,
        ];
        LONG.iter()
            .any(|p| self.report.phase == p.as_str())
            .then_some(LONG_PHASE_MAX_WAIT)
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
    let limits = RunLimits::for_run(request.run_mode, request.poll, remaining, config);
    let mut wf = Failback::new(platform, target);
    drive(&mut wf, platform.clock(), &limits).await;
    let mark = wf.needs_completion_mark && wf.report.status == Status::Completed;
    let advice_deadline = crate::workflows::iac::advice_deadline();
    crate::workflows::iac::attach(platform, &mut wf.report, false, advice_deadline).await;
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
    let discovered = crate::workflows::discovery::with_discovered_pairs(platform, config).await?;
    let config: &Config = &discovered;
    let (event, from_region_switch) =
        region_switch::request_for(platform, region_switch::Role::Failback, config, event).await?;
    crate::run::intake::run_all(
        "failback",
        event,
        FailbackRequest::from_json,
        |request| async move {
            let summary = run(platform, config, &request, remaining).await?;
            if from_region_switch {
                region_switch::finished(&summary)?;
            }
            Ok(summary)
        },
    )
    .await
}
