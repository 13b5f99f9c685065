//! Failover: promote the replica in the DR Region, safely and idempotently.
//!
//! Every pass observes the real state from the destination Region, decides
//! the next step (`decide`, pure) and acts once; a re-run after a crash at any
//! point resumes where the world is. The source Region is probed as a signal,
//! never required.

mod decide;
#[cfg(test)]
mod decide_props;
#[cfg(test)]
mod decide_tests;
mod request;

pub use decide::{decide, Action, Decision, Observed, Phase, Source};
pub use request::{resolve, FailoverRequest, FailoverTarget, MAX_RESUMES};

use crate::domain::config::Config;
use crate::domain::error::{Error, Result};
use crate::domain::ids::FileSystemId;
use crate::domain::model::{DeletionMode, FileSystem, MetricPoint, ReplicationStatus};
use crate::domain::ports::{CallBudget, Clock, DeleteOutcome, Efs, Notifier, Platform};
use crate::domain::tags;
use crate::domain::time::iso8601;
use crate::run::report::{Location, Outcome, RecoveryPoint, Report, Status};
use crate::run::runner::{drive, Pass, RunLimits, Workflow};
use crate::run::summary::{notify_and_measure, RunSummary};
use crate::workflows::mount_targets;
use crate::workflows::region_switch;
use futures_util::stream::{self, StreamExt};
use std::time::Duration;

/// The source is judged from this many probes, this far apart: one lost
/// packet or one 5xx must not decide the deletion mode.
const SOURCE_PROBES: u32 = 3;
const SOURCE_PROBE_SPACING: Duration = Duration::from_secs(2);

/// The failover of one file system, as a reconcile loop.
pub struct Failover<'a, P: Platform> {
    platform: &'a P,
    target: FailoverTarget,
    dest: P::Efs,
    source: P::Efs,
    report: Report,
    waiting_since: Option<f64>,
    /// Whether the last probe window got no answer at all from the source.
    source_silent: Option<bool>,
    /// Set once the promoted file system is ready and not yet marked complete.
    pub needs_completion_mark: bool,
    pub destination_fs: Option<FileSystem>,
}

impl<'a, P: Platform> Failover<'a, P> {
    pub fn new(platform: &'a P, target: FailoverTarget) -> Self {
        let now = platform.clock().now();
        let mut report = Report::new(
            "failover",
            target.mode,
            Location {
                file_system_id: Some(target.source_id.clone()),
                region: target.source_region.clone(),
            },
            Location {
                file_system_id: target.destination_id.clone(),
                region: target.destination_region.clone(),
            },
            now,
        );
        report.reason = target.reason.clone();
        Failover {
            dest: platform.efs(&target.destination_region, CallBudget::Normal),
            source: platform.efs(&target.source_region, CallBudget::Short),
            platform,
            target,
            report,
            waiting_since: None,
            source_silent: None,
            needs_completion_mark: false,
            destination_fs: None,
        }
    }

    pub fn into_report(self) -> Report {
        self.report
    }

    fn now(&self) -> f64 {
        self.platform.clock().now()
    }

    async fn probe_source(&mut self) -> bool {
        let started = self.now();
        let window = crate::domain::ports::answers_within_window(
            &self.source,
            self.platform.clock(),
            SOURCE_PROBES,
            SOURCE_PROBE_SPACING,
        )
        .await;
        let reachable = window.working;
        self.source_silent = Some(!window.answered);
        let now = self.now();
        self.report.source_region_reachable = Some(reachable);
        self.report.step(
            "probe source Region",
            Outcome::Checked,
            started,
            now,
            if reachable {
                format!("{} answers", self.target.source_region)
            } else {
                format!(
                    "{} gave no working answer in {SOURCE_PROBES} probes (silence, throttling or 5xx; a signal only, failover does not need it)",
                    self.target.source_region
                )
            },
        );
        reachable
    }

    /// Finds the replica when only the source was named: from the replication
    /// configuration, or after promotion from the tag an earlier run left.
    async fn discover(&mut self) -> Result<FileSystemId> {
        let region = &self.target.destination_region;
        let found = crate::workflows::discovery::replica_of(
            &self.dest,
            &self.target.source_id,
            &self.target.source_region,
            false,
        )
        .await?;
        if let Some(id) = found {
            return Ok(id);
        }
        Err(Error::InvalidInput(format!(
            "no replication of {} ({}) is visible in {region}, and no file system there carries the tag of an \
             earlier failover. Give destination_file_system_id, or check source_region and destination_region.",
            self.target.source_id, self.target.source_region
        )))
    }

    /// Deletes only the destination's side, recording first that the source's
    /// side is left behind so that a re-run and failback clean it up.
    async fn delete_local_side(
        &mut self,
        dest_id: &FileSystemId,
        source: &Source,
        started: f64,
        why: String,
    ) -> Result<()> {
        self.dest
            .tag_file_system(
                dest_id,
                &[(tags::SOURCE_CLEANUP_NEEDED.to_string(), "true".to_string())],
            )
            .await?;
        let outcome = self
            .dest
            .delete_replication(&source.file_system_id, DeletionMode::LocalConfigurationOnly)
            .await?;
        self.report.deletion_mode = Some(DeletionMode::LocalConfigurationOnly);
        self.report.step(
            "promote",
            if outcome == DeleteOutcome::Accepted {
                Outcome::Done
            } else {
                Outcome::AlreadyDone
            },
            started,
            self.now(),
            why,
        );
        self.report.warn(format!(
            "the replication configuration in {} was left behind (LOCAL_CONFIGURATION_ONLY): it must be deleted there before failback",
            source.region
        ));
        self.report.next(format!(
            "when {} is back: aws efs delete-replication-configuration --region {} --source-file-system-id {} --deletion-mode LOCAL_CONFIGURATION_ONLY (failback does this for you)",
            source.region, source.region, source.file_system_id
        ));
        Ok(())
    }

    async fn promote(
        &mut self,
        last_replicated: Option<f64>,
        source: &Source,
        deletion_mode: DeletionMode,
    ) -> Result<()> {
        let dest_id = self
            .report
            .destination
            .file_system_id
            .clone()
            .ok_or_else(|| Error::Topology("destination unknown".into()))?;
        let started = self.now();
        // The recovery point disappears with the configuration: keep it on the file system first.
        // A replica forced through before its first sync has no recovery point: say so,
        // over whatever an earlier failover of this file system recorded.
        let recovery_point = last_replicated
            .map(|lrt| format!("{lrt:.3}"))
            .unwrap_or_else(|| tags::NONE.to_string());
        let marks = vec![
            (
                tags::FAILOVER_SOURCE.to_string(),
                crate::workflows::discovery::failover_source_tag(
                    &source.file_system_id,
                    &source.region,
                ),
            ),
            (tags::PROMOTED_AT.to_string(), format!("{started:.3}")),
            (tags::RECOVERY_POINT.to_string(), recovery_point),
        ];
        self.dest.tag_file_system(&dest_id, &marks).await?;
        self.report.step(
            "record recovery point",
            Outcome::Done,
            started,
            self.now(),
            match last_replicated {
                Some(lrt) => format!("last replicated {}", iso8601(lrt)),
                None => "the replica never completed a sync: no recovery point".to_string(),
            },
        );
        let started = self.now();
        if deletion_mode == DeletionMode::LocalConfigurationOnly {
            let why = "deleted the destination side only (LOCAL_CONFIGURATION_ONLY), as asked"
                .to_string();
            return self.delete_local_side(&dest_id, source, started, why).await;
        }
        match self
            .dest
            .delete_replication(&source.file_system_id, DeletionMode::AllConfigurations)
            .await
        {
            Ok(outcome) => {
                self.report.deletion_mode = Some(DeletionMode::AllConfigurations);
                let (o, d) = match outcome {
                    DeleteOutcome::Accepted => (Outcome::Done, "DeleteReplicationConfiguration accepted; the replica becomes writable in a few minutes"),
                    DeleteOutcome::NotFound => (Outcome::AlreadyDone, "the configuration was already gone"),
                };
                self.report.step("promote", o, started, self.now(), d);
                Ok(())
            }
            Err(full) => {
                // Only an unreachable source side justifies leaving its configuration behind.
                let reachable = self.probe_source().await;
                if reachable {
                    return Err(full.into());
                }
                let why = format!(
                    "full delete failed ({}); deleted the destination side only (LOCAL_CONFIGURATION_ONLY)",
                    full.message
                );
                self.delete_local_side(&dest_id, source, started, why).await
            }
        }
    }

    /// Mount targets can be created on a read-only replica: start them while the
    /// promotion runs, so that the two waits overlap instead of adding up.
    async fn prepare_mount_targets(&mut self, dest_id: &FileSystemId) -> Result<()> {
        if self.target.mount_targets.is_empty() {
            return Ok(());
        }
        let started = self.now();
        let mts = mount_targets::ensure(
            &self.dest,
            dest_id,
            &self.target.mount_targets,
            self.target.mode,
            false,
        )
        .await?;
        if !mts.actions.is_empty() {
            self.report.step(
                "mount targets",
                Outcome::Done,
                started,
                self.now(),
                mts.actions.join("; "),
            );
        }
        Ok(())
    }

    fn recovery_point_from_tags(&mut self, fs: &FileSystem) {
        if fs.tag(tags::SOURCE_CLEANUP_NEEDED) == Some("true") {
            self.report.deletion_mode = Some(DeletionMode::LocalConfigurationOnly);
            self.report.warn(format!(
                "the replication configuration in {} was left behind (LOCAL_CONFIGURATION_ONLY): it must be deleted there before failback",
                self.target.source_region
            ));
        }
        if fs.tag(tags::RECOVERY_POINT) == Some(tags::NONE) {
            self.report.warn(format!(
                "no recovery point: {} was promoted before it completed a sync, so it holds an incomplete copy",
                fs.id
            ));
        }
        let num = |k: &str| fs.tag(k).and_then(|v| v.parse::<f64>().ok());
        if let (Some(lrt), Some(promoted)) = (num(tags::RECOVERY_POINT), num(tags::PROMOTED_AT)) {
            self.report.recovery_point = Some(RecoveryPoint {
                last_replicated_timestamp: iso8601(lrt),
                last_replicated_epoch: lrt,
                promoted_at: iso8601(promoted),
                recovery_point_seconds: ((promoted - lrt).max(0.0) * 1000.0).round() / 1000.0,
            });
        }
    }

    fn plan(&mut self, source_reachable: bool, last_replicated: Option<f64>) {
        let now = self.now();
        let mode = if source_reachable {
            "ALL_CONFIGURATIONS"
        } else {
            "ALL_CONFIGURATIONS, then LOCAL_CONFIGURATION_ONLY if the source Region still does not answer"
        };
        let lrt = last_replicated
            .map(iso8601)
            .unwrap_or_else(|| "never".into());
        for (name, detail) in [
            (
                "record recovery point",
                format!("tag the replica with its last replicated time ({lrt})"),
            ),
            (
                "promote",
                format!(
                    "DeleteReplicationConfiguration from {} ({mode})",
                    self.target.destination_region
                ),
            ),
            (
                "wait until writable",
                "until no configuration is left and overwrite protection is ENABLED".to_string(),
            ),
            (
                "mount targets",
                format!("{} configured", self.target.mount_targets.len()),
            ),
            ("finish", "tag, metrics and notification".to_string()),
        ] {
            self.report.step(name, Outcome::Planned, now, now, detail);
        }
        if let Some(lrt) = last_replicated {
            self.report.recovery_point = Some(RecoveryPoint {
                last_replicated_timestamp: iso8601(lrt),
                last_replicated_epoch: lrt,
                promoted_at: iso8601(now),
                recovery_point_seconds: ((now - lrt).max(0.0) * 1000.0).round() / 1000.0,
            });
        }
        self.report.status = Status::Planned;
        self.set_phase(Phase::Planned);
        self.report
            .next("run again with mode: execute to fail over");
    }

    async fn after_promotion(&mut self, fs: FileSystem) -> Result<Pass> {
        let now = self.now();
        if let Some(since) = self.waiting_since.take() {
            self.report.step(
                "wait until writable",
                Outcome::Done,
                since,
                now,
                "no configuration left, overwrite protection ENABLED",
            );
        }
        self.recovery_point_from_tags(&fs);
        self.set_phase(Phase::MountTargets);
        let started = self.now();
        let mts = mount_targets::ensure(
            &self.dest,
            &fs.id,
            &self.target.mount_targets,
            self.target.mode,
            false,
        )
        .await?;
        let now = self.now();
        mts.record(&mut self.report, Outcome::Done, started, now);
        if mts.pending {
            self.report.step(
                "wait for mount targets",
                Outcome::Waiting,
                started,
                self.now(),
                "mount targets not yet available",
            );
            return Ok(Pass::Wait);
        }
        if self.target.mount_targets.is_empty() && mts.targets.is_empty() {
            self.report.warn(format!(
                "{} has no mount targets: clients cannot mount it until some are created",
                fs.id
            ));
        }
        let completed = fs.tag(tags::FAILOVER_COMPLETED_AT).is_some()
            && fs.tag(tags::ROLE) == Some(tags::ROLE_PRIMARY);
        if completed {
            self.report.step(
                "finish",
                Outcome::AlreadyDone,
                started,
                self.now(),
                format!(
                    "failover already completed at {}",
                    fs.tag(tags::FAILOVER_COMPLETED_AT).unwrap_or("?")
                ),
            );
        } else {
            self.needs_completion_mark = true;
        }
        self.set_phase(Phase::Completed);
        self.report.next(format!(
            "point clients at {} (mount {}); access point IDs differ on the replica",
            fs.id,
            fs.dns_name()
        ));
        self.destination_fs = Some(fs);
        Ok(Pass::Done)
    }
}

impl<P: Platform> Failover<'_, P> {
    /// Reads the destination from the DR Region, and probes the source Region once.
    async fn observe(&mut self) -> Result<Observed> {
        let dest_id = match &self.report.destination.file_system_id {
            Some(id) => id.clone(),
            None => {
                let id = self.discover().await?;
                self.report.destination.file_system_id = Some(id.clone());
                id
            }
        };
        let fs = self.dest.describe_file_system(&dest_id).await;
        if self.report.timeline.is_empty() {
            // The clock follows the AWS side's answers: start timing once the first one is in.
            let now = self.now();
            self.report.restart(now);
        }
        let destination = fs?.ok_or_else(|| {
            Error::InvalidInput(format!(
                "destination file system {dest_id} does not exist in {}: check destination_file_system_id and destination_region",
                self.target.destination_region
            ))
        })?;
        self.report.dns_name = Some(destination.dns_name());
        let replication = self.dest.describe_replication(&dest_id).await?;
        // Probe once, and again while a promotion hangs past its bound: the
        // escalation needs the source's state now, not at the start.
        let hanging = replication
            .as_ref()
            .is_some_and(|r| r.status == ReplicationStatus::Deleting)
            && destination
                .tag(tags::PROMOTED_AT)
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|p| self.now() - p >= self.target.max_promotion_wait_seconds as f64);
        if self.report.source_region_reachable.is_none() || hanging {
            self.probe_source().await;
        }
        Ok(Observed {
            destination,
            replication,
            source_reachable: self.report.source_region_reachable,
            source_silent: self.source_silent,
        })
    }

    /// Takes the one step `decide` chose.
    async fn act(&mut self, decision: Decision, seen: Observed) -> Result<Pass> {
        for w in decision.warnings {
            self.report.warn(w);
        }
        let dest_id = seen.destination.id.clone();
        let now = self.now();
        match decision.action {
            Action::AwaitWritable => {
                self.report.step(
                    "wait until writable",
                    Outcome::Waiting,
                    now,
                    now,
                    "configuration gone, protection not yet ENABLED",
                );
                Ok(Pass::Wait)
            }
            Action::ReportAlreadyWritable => {
                self.report.step(
                    "promote",
                    Outcome::AlreadyDone,
                    now,
                    now,
                    format!("{dest_id} is already writable"),
                );
                self.report.status = Status::Planned;
                self.set_phase(Phase::AlreadyPromoted);
                Ok(Pass::Done)
            }
            Action::FinishPromoted => self.after_promotion(seen.destination).await,
            Action::ReportPromotionUnderWay => {
                self.report.step(
                    "promote",
                    Outcome::AlreadyDone,
                    now,
                    now,
                    "promotion already under way (DELETING)",
                );
                self.report.status = Status::Planned;
                Ok(Pass::Done)
            }
            Action::AwaitDeletion => {
                self.prepare_mount_targets(&dest_id).await?;
                let now = self.now();
                self.waiting_since.get_or_insert(now);
                self.set_phase(Phase::Promoting);
                self.report.step(
                    "wait until writable",
                    Outcome::Waiting,
                    now,
                    now,
                    "replication configuration DELETING",
                );
                Ok(Pass::Wait)
            }
            Action::AwaitSync {
                mark,
                last_replicated,
            } => {
                self.set_phase(Phase::AwaitingSync);
                self.report.step(
                    "wait for a final sync",
                    Outcome::Waiting,
                    now,
                    now,
                    format!(
                        "the last sync completed {}, before synced_after {}: what was written before it may not be on the replica yet",
                        last_replicated.map(iso8601).unwrap_or_else(|| "never".into()),
                        iso8601(mark)
                    ),
                );
                Ok(Pass::Wait)
            }
            Action::Plan { last_replicated } => {
                let reachable = self.report.source_region_reachable.unwrap_or(false);
                self.plan(reachable, last_replicated);
                Ok(Pass::Done)
            }
            Action::Escalate {
                source,
                waited_seconds,
            } => {
                let why = format!(
                    "escalated: DELETING for {waited_seconds:.0} s (max_promotion_wait_seconds {}) with {} unreachable; deleted the destination side only (LOCAL_CONFIGURATION_ONLY)",
                    self.target.max_promotion_wait_seconds, source.region
                );
                self.report.warn(why.clone());
                self.delete_local_side(&dest_id, &source, now, why).await?;
                Ok(Pass::Wait)
            }
            Action::Promote {
                last_replicated,
                source,
                deletion_mode,
            } => {
                self.set_phase(Phase::Promoting);
                self.promote(last_replicated, &source, deletion_mode)
                    .await?;
                self.prepare_mount_targets(&dest_id).await?;
                self.waiting_since.get_or_insert(self.now());
                Ok(Pass::Wait)
            }
        }
    }

    fn set_phase(&mut self, phase: Phase) {
        self.report.phase = phase.as_str().into();
    }
}

impl<P: Platform> Workflow for Failover<'_, P> {
    fn report(&mut self) -> &mut Report {
        &mut self.report
    }

    async fn pass(&mut self) -> Result<Pass> {
        let seen = self.observe().await?;
        let now = self.now();
        let decision = decide(&self.target, &seen, now)?;
        self.act(decision, seen).await
    }
}

/// Runs the failover of every named file system, with bounded concurrency,
/// then one notification and the metrics.
pub async fn run<P: Platform>(
    platform: &P,
    config: &Config,
    request: &FailoverRequest,
    remaining: Option<Duration>,
) -> Result<RunSummary> {
    let targets = resolve(request, config)?;
    let limits = RunLimits::for_run(request.run_mode, request.poll, remaining, config);
    let finished: Vec<Failover<P>> = stream::iter(targets)
        .map(|t| {
            let limits = &limits;
            async move {
                let mut wf = Failover::new(platform, t);
                drive(&mut wf, platform.clock(), limits).await;
                wf
            }
        })
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;
    let mut marks = Vec::new();
    let mut reports = Vec::new();
    let advice_deadline = crate::workflows::iac::advice_deadline();
    for mut wf in finished {
        crate::workflows::iac::attach(platform, &mut wf.report, true, advice_deadline).await;
        if wf.needs_completion_mark && wf.report.status == Status::Completed {
            if let Some(fs) = &wf.destination_fs {
                marks.push((fs.id.clone(), wf.target.destination_region.clone()));
            }
        }
        reports.push(wf.report);
    }
    let summary = RunSummary::new("failover", reports);
    let points = |r: &Report| -> Vec<MetricPoint> {
        let dims = vec![(
            "FileSystemId".to_string(),
            r.destination
                .file_system_id
                .as_ref()
                .map(|f| f.to_string())
                .unwrap_or_default(),
        )];
        let mut p = vec![MetricPoint {
            name: "FailoverDurationSeconds",
            value: r.duration_seconds,
            unit: "Seconds",
            dimensions: dims.clone(),
        }];
        if let Some(rp) = &r.recovery_point {
            p.push(MetricPoint {
                name: "RecoveryPointSeconds",
                value: rp.recovery_point_seconds,
                unit: "Seconds",
                dimensions: dims,
            });
        }
        p
    };
    let summary = notify_and_measure(platform, config, summary, points).await;
    // Marked only after the notification: a crash in between repeats the notification rather than losing it.
    let now = platform.clock().now();
    for (id, region) in marks {
        let efs = platform.efs(&region, CallBudget::Normal);
        let t = vec![
            (tags::ROLE.to_string(), tags::ROLE_PRIMARY.to_string()),
            (tags::FAILOVER_COMPLETED_AT.to_string(), format!("{now:.3}")),
        ];
        if let Err(e) = efs.tag_file_system(&id, &t).await {
            tracing::warn!(error = %e, file_system_id = %id, "could not mark the failover complete; a re-run will do it");
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
        region_switch::request_for(platform, region_switch::Role::Failover, config, event).await?;
    // A request from the failover-requests topic (the alarm path) has no one
    // to call it again: when its run ends in progress, it publishes itself anew.
    let from_topic = event.get("Records").is_some();
    crate::run::intake::run_all(
        "failover",
        event,
        FailoverRequest::from_json,
        |request| async move {
            let summary = run(platform, config, &request, remaining).await?;
            if from_topic && summary.status == Status::InProgress {
                resume(platform, config, &request, &summary).await?;
            }
            if from_region_switch {
                region_switch::finished(&summary)?;
            }
            Ok(summary)
        },
    )
    .await
}

/// Publishes `request` to the failover-requests topic again, or, past
/// `MAX_RESUMES`, tells the alerts topic that a person must take over.
async fn resume<P: Platform>(
    platform: &P,
    config: &Config,
    request: &FailoverRequest,
    summary: &RunSummary,
) -> Result<()> {
    let resumed = request.resumed.unwrap_or(0);
    let (topic, subject, body) = match &config.failover_topic_arn {
        Some(topic) if resumed < MAX_RESUMES => {
            // IDs are published as IDs: a Region an ARN gave goes along explicitly.
            let first = summary.results.first();
            // Pairs given by ARN keep their Regions, written out.
            let pairs = request.pairs.as_ref().map(|pairs| {
                pairs
                    .iter()
                    .map(|p| crate::domain::config::PairConfig {
                        source_region: p
                            .source_region
                            .clone()
                            .or_else(|| p.source_file_system_id.arn_region.clone()),
                        destination_region: p.destination_region.clone().or_else(|| {
                            p.destination_file_system_id
                                .as_ref()
                                .and_then(|d| d.arn_region.clone())
                        }),
                        ..p.clone()
                    })
                    .collect()
            });
            let next = FailoverRequest {
                resumed: Some(resumed + 1),
                pairs,
                // A run to completion: nothing waits between topic deliveries.
                run_mode: None,
                poll: None,
                source_region: request
                    .source_region
                    .clone()
                    .or_else(|| first.map(|r| r.source.region.clone()))
                    .filter(|_| request.pairs.is_none()),
                destination_region: request
                    .destination_region
                    .clone()
                    .or_else(|| first.map(|r| r.destination.region.clone()))
                    .filter(|_| request.pairs.is_none()),
                ..request.clone()
            };
            let body = serde_json::to_string(&next)
                .map_err(|e| Error::Topology(format!("cannot render the request: {e}")))?;
            (
                topic.clone(),
                "efs-dr failover request (resumed)".to_string(),
                body,
            )
        }
        _ => {
            let Some(alerts) = config.alerts_topic_arn.clone() else {
                return Ok(());
            };
            let body = format!(
                "An automatic failover is still in progress after {} runs and is no longer resumed by itself.\n{}\n\nLook at the report below, then run the failover again by hand (it continues from the observed state).\n\n{}",
                resumed + 1,
                summary.summary,
                serde_json::to_string_pretty(summary).unwrap_or_default()
            );
            (
                alerts,
                "efs-dr: automatic failover needs a person".to_string(),
                body,
            )
        }
    };
    let region = crate::domain::ids::topic_region(&topic)
        .ok_or_else(|| Error::InvalidInput(format!("'{topic}' is not an SNS topic ARN")))?;
    platform
        .notifier(&region)
        .publish(&topic, &subject, &body)
        .await?;
    Ok(())
}
