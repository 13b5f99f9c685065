//! Failover: promote the replica in the DR Region, safely and idempotently.
//!
//! Every pass observes the real state from the destination Region and takes
//! the next step; a re-run after a crash at any point resumes where the world
//! is. The source Region is probed as a signal, never required.

use crate::config::{region_of, Config, PairConfig};
use crate::error::{Error, Refusal, Result};
use crate::ids::{FileSystemId, FileSystemRef, RegionName};
use crate::model::{
    DeletionMode, FileSystem, MetricPoint, MountTargetSpec, Protection, ReplicationStatus,
};
use crate::mount_targets;
use crate::ports::{CallBudget, Clock, DeleteOutcome, Efs, Platform};
use crate::report::{iso8601, Location, Mode, Outcome, RecoveryPoint, Report, Status};
use crate::runner::{drive, Pass, RunLimits, RunMode, Workflow};
use crate::summary::{notify_and_measure, RunSummary};
use crate::tags;
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The failover event (direct invoke, SNS message, Step Functions input).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rpo_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_targets: Option<Vec<MountTargetSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Many file systems at once (a Region failover means all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Vec<PairConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
}

impl FailoverRequest {
    /// Parses a request; unknown fields and malformed IDs are errors that name the field.
    pub fn from_json(value: serde_json::Value) -> Result<FailoverRequest> {
        serde_json::from_value(value).map_err(|e| {
            Error::InvalidInput(format!(
                "failover request: {e}. Fields: source_file_system_id, source_region, destination_file_system_id, \
                 destination_region, mode (plan|execute), max_rpo_seconds, force, mount_targets, reason, pairs, run_mode"
            ))
        })
    }
}

/// One file system to fail over, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailoverTarget {
    pub source_id: FileSystemId,
    pub source_region: RegionName,
    pub destination_id: Option<FileSystemId>,
    pub destination_region: RegionName,
    pub mode: Mode,
    pub max_rpo_seconds: u64,
    pub force: bool,
    pub mount_targets: Vec<MountTargetSpec>,
    pub reason: Option<String>,
}

/// Merges the request with the configured pairs and defaults. Fails with a
/// message that says what to give, before any AWS call.
pub fn resolve(request: &FailoverRequest, config: &Config) -> Result<Vec<FailoverTarget>> {
    let pairs: Vec<PairConfig> = if let Some(pairs) = &request.pairs {
        if request.source_file_system_id.is_some() {
            return Err(Error::InvalidInput(
                "give either pairs or source_file_system_id, not both".into(),
            ));
        }
        if pairs.is_empty() {
            return Err(Error::InvalidInput(
                "pairs is empty: name at least one file system".into(),
            ));
        }
        pairs.clone()
    } else if let Some(src) = &request.source_file_system_id {
        let configured = config
            .pairs
            .iter()
            .find(|p| p.source_file_system_id.id == src.id);
        vec![PairConfig {
            source_file_system_id: src.clone(),
            source_region: request
                .source_region
                .clone()
                .or_else(|| configured.and_then(|p| p.source_region.clone())),
            destination_file_system_id: request
                .destination_file_system_id
                .clone()
                .or_else(|| configured.and_then(|p| p.destination_file_system_id.clone())),
            destination_region: request
                .destination_region
                .clone()
                .or_else(|| configured.and_then(|p| p.destination_region.clone())),
            mount_targets: request
                .mount_targets
                .clone()
                .or_else(|| configured.and_then(|p| p.mount_targets.clone())),
        }]
    } else if !config.pairs.is_empty() {
        config.pairs.clone()
    } else {
        return Err(Error::InvalidInput(
            "no file system named: give source_file_system_id and source_region (and optionally \
             destination_file_system_id) in the event, or configure EFS_DR_PAIRS for this function"
                .into(),
        ));
    };
    let mode = request.mode.unwrap_or(config.default_mode);
    let max_rpo_seconds = request.max_rpo_seconds.unwrap_or(config.max_rpo_seconds);
    if max_rpo_seconds == 0 {
        return Err(Error::InvalidInput(
            "max_rpo_seconds must be at least 1".into(),
        ));
    }
    let mut targets = Vec::new();
    for p in pairs {
        let source_region = region_of(
            &p.source_file_system_id,
            p.source_region
                .as_ref()
                .or(request.source_region.as_ref())
                .or(config.source_region.as_ref()),
            "source_file_system_id",
        )?
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "source_region is required for {} (or give the file system's ARN)",
                p.source_file_system_id.id
            ))
        })?;
        let dest_ref = p.destination_file_system_id.clone().or_else(|| {
            request
                .destination_file_system_id
                .clone()
                .filter(|_| request.pairs.is_none())
        });
        let given_dest_region = p
            .destination_region
            .as_ref()
            .or(request.destination_region.as_ref())
            .or(config.destination_region.as_ref());
        let destination_region = match &dest_ref {
            Some(d) => region_of(d, given_dest_region, "destination_file_system_id")?,
            None => given_dest_region.cloned(),
        }
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "destination_region is required for {} (the DR Region; the functions default to AWS_REGION)",
                p.source_file_system_id.id
            ))
        })?;
        let destination_id = dest_ref.map(|d| d.id);
        if destination_id.as_ref() == Some(&p.source_file_system_id.id)
            && destination_region == source_region
        {
            return Err(Error::InvalidInput(format!(
                "source and destination are the same file system ({} in {source_region})",
                p.source_file_system_id.id
            )));
        }
        if targets.iter().any(|t: &FailoverTarget| {
            t.source_id == p.source_file_system_id.id && t.source_region == source_region
        }) {
            return Err(Error::InvalidInput(format!(
                "{} is named twice",
                p.source_file_system_id.id
            )));
        }
        targets.push(FailoverTarget {
            source_id: p.source_file_system_id.id.clone(),
            source_region,
            destination_id,
            destination_region,
            mode,
            max_rpo_seconds,
            force: request.force.unwrap_or(false),
            mount_targets: p
                .mount_targets
                .clone()
                .or_else(|| request.mount_targets.clone())
                .unwrap_or_else(|| config.mount_targets.clone()),
            reason: request.reason.clone(),
        });
    }
    Ok(targets)
}

/// The failover of one file system, as a reconcile loop.
pub struct Failover<'a, P: Platform> {
    platform: &'a P,
    target: FailoverTarget,
    dest: P::Efs,
    source: P::Efs,
    report: Report,
    waiting_since: Option<f64>,
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

    fn guard(&mut self, guardrail: &'static str, message: String, remedy: String) -> Result<()> {
        if self.target.force {
            self.report.warn(format!(
                "guardrail {guardrail} overridden by force: {message}"
            ));
            return Ok(());
        }
        Err(Error::Refused(Refusal {
            guardrail,
            message,
            remedy,
        }))
    }

    fn source_tag(&self) -> String {
        format!("{}@{}", self.target.source_id, self.target.source_region)
    }

    async fn probe_source(&mut self) -> bool {
        let started = self.now();
        let reachable = crate::ports::reachable(&self.source).await;
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
                    "{} does not answer (a signal only; failover does not need it)",
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
        for r in self.dest.list_replications().await? {
            if r.source_file_system_id == self.target.source_id
                && r.source_region == self.target.source_region
                && &r.destination_region == region
            {
                return Ok(r.destination_file_system_id);
            }
        }
        let wanted = self.source_tag();
        for fs in self.dest.list_file_systems().await? {
            if fs.tag(tags::FAILOVER_SOURCE) == Some(wanted.as_str()) {
                return Ok(fs.id);
            }
        }
        Err(Error::InvalidInput(format!(
            "no replication of {} ({}) is visible in {region}, and no file system there carries the tag of an \
             earlier failover. Give destination_file_system_id, or check source_region and destination_region.",
            self.target.source_id, self.target.source_region
        )))
    }

    async fn promote(&mut self, last_replicated: Option<f64>) -> Result<()> {
        let dest_id = self
            .report
            .destination
            .file_system_id
            .clone()
            .ok_or_else(|| Error::Topology("destination unknown".into()))?;
        let started = self.now();
        // The recovery point disappears with the configuration: keep it on the file system first.
        let mut marks = vec![
            (tags::FAILOVER_SOURCE.to_string(), self.source_tag()),
            (tags::PROMOTED_AT.to_string(), format!("{started:.3}")),
        ];
        // A replica forced through before its first sync has no recovery point to record.
        if let Some(lrt) = last_replicated {
            marks.push((tags::RECOVERY_POINT.to_string(), format!("{lrt:.3}")));
        }
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
        match self
            .dest
            .delete_replication(&self.target.source_id, DeletionMode::AllConfigurations)
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
                // Recorded before the local delete, so a re-run and failback know the source side needs cleanup.
                self.dest
                    .tag_file_system(
                        &dest_id,
                        &[(tags::SOURCE_CLEANUP_NEEDED.to_string(), "true".to_string())],
                    )
                    .await?;
                let outcome = self
                    .dest
                    .delete_replication(
                        &self.target.source_id,
                        DeletionMode::LocalConfigurationOnly,
                    )
                    .await?;
                self.report.deletion_mode = Some(DeletionMode::LocalConfigurationOnly);
                self.report.step(
                    "promote",
                    if outcome == DeleteOutcome::Accepted { Outcome::Done } else { Outcome::AlreadyDone },
                    started,
                    self.now(),
                    format!("full delete failed ({}); deleted the destination side only (LOCAL_CONFIGURATION_ONLY)", full.message),
                );
                self.report.warn(format!(
                    "the replication configuration in {} was left behind (LOCAL_CONFIGURATION_ONLY): it must be deleted there before failback",
                    self.target.source_region
                ));
                self.report.next(format!(
                    "when {} is back: aws efs delete-replication-configuration --region {} --source-file-system-id {} --deletion-mode LOCAL_CONFIGURATION_ONLY (failback does this for you)",
                    self.target.source_region, self.target.source_region, self.target.source_id
                ));
                Ok(())
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
        self.report.phase = "planned".into();
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
        let ours = fs.tag(tags::FAILOVER_SOURCE) == Some(self.source_tag().as_str());
        if !ours {
            self.report.warn(format!(
                "{} is writable and not replicating, without efs-dr's failover tags: it was promoted outside efs-dr, or was never a replica of {}",
                fs.id, self.target.source_id
            ));
        }
        self.recovery_point_from_tags(&fs);
        self.report.phase = "mount targets".into();
        let started = self.now();
        let mts = mount_targets::ensure(
            &self.dest,
            &fs.id,
            &self.target.mount_targets,
            self.target.mode,
            false,
        )
        .await?;
        for c in &mts.conflicts {
            self.report.warn(format!("mount target conflict: {c}"));
        }
        self.report.mount_targets = mts.targets.clone();
        if !mts.actions.is_empty() {
            self.report.step(
                "mount targets",
                Outcome::Done,
                started,
                self.now(),
                mts.actions.join("; "),
            );
        }
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
        self.report.phase = "completed".into();
        self.report.next(format!(
            "point clients at {} (mount {}); access point IDs differ on the replica",
            fs.id,
            fs.dns_name()
        ));
        self.destination_fs = Some(fs);
        Ok(Pass::Done)
    }
}

impl<P: Platform> Workflow for Failover<'_, P> {
    fn report(&mut self) -> &mut Report {
        &mut self.report
    }

    async fn pass(&mut self) -> Result<Pass> {
        let dest_id = match &self.report.destination.file_system_id {
            Some(id) => id.clone(),
            None => {
                let id = self.discover().await?;
                self.report.destination.file_system_id = Some(id.clone());
                id
            }
        };
        let region = self.target.destination_region.clone();
        let fs = self.dest.describe_file_system(&dest_id).await;
        if self.report.timeline.is_empty() {
            // The clock follows the AWS side's answers: start timing once the first one is in.
            let now = self.now();
            self.report.restart(now);
        }
        let fs = fs?.ok_or_else(|| {
            Error::InvalidInput(format!(
                "destination file system {dest_id} does not exist in {region}: check destination_file_system_id and destination_region"
            ))
        })?;
        self.report.dns_name = Some(fs.dns_name());
        let replication = self.dest.describe_replication(&dest_id).await?;
        let reachable = match self.report.source_region_reachable {
            Some(r) => r,
            None => self.probe_source().await,
        };
        let Some(r) = replication else {
            // The two reads are not atomic: a configuration that finished deleting between
            // them leaves REPLICATING on the first read. Look again.
            if fs.protection == Protection::Replicating && self.target.mode == Mode::Execute {
                let now = self.now();
                self.report.step(
                    "wait until writable",
                    Outcome::Waiting,
                    now,
                    now,
                    "configuration gone, protection not yet ENABLED",
                );
                return Ok(Pass::Wait);
            }
            if fs.protection != Protection::Enabled {
                return Err(Error::Topology(format!(
                    "{dest_id} has overwrite protection {:?} but no replication configuration: it is neither a replica nor writable",
                    fs.protection
                )));
            }
            if self.target.mode == Mode::Plan {
                let now = self.now();
                self.report.step(
                    "promote",
                    Outcome::AlreadyDone,
                    now,
                    now,
                    format!("{dest_id} is already writable"),
                );
                self.report.status = Status::Planned;
                self.report.phase = "already promoted".into();
                return Ok(Pass::Done);
            }
            return self.after_promotion(fs).await;
        };
        if r.destination_file_system_id != dest_id {
            return Err(Error::InvalidInput(format!(
                "{dest_id} in {region} is the source of a replication to {} in {}, not a replica: are source and destination swapped?",
                r.destination_file_system_id, r.destination_region
            )));
        }
        if r.source_file_system_id != self.target.source_id
            || r.source_region != self.target.source_region
        {
            self.guard(
                "WrongSource",
                format!(
                    "{dest_id} is a replica of {} in {}, not of {} in {}",
                    r.source_file_system_id, r.source_region, self.target.source_id, self.target.source_region
                ),
                "check source_file_system_id and source_region, or set force: true to promote it anyway".into(),
            )?;
        }
        if r.status == ReplicationStatus::Deleting {
            if self.target.mode == Mode::Plan {
                let now = self.now();
                self.report.step(
                    "promote",
                    Outcome::AlreadyDone,
                    now,
                    now,
                    "promotion already under way (DELETING)",
                );
                self.report.status = Status::Planned;
                return Ok(Pass::Done);
            }
            self.prepare_mount_targets(&dest_id).await?;
            let now = self.now();
            self.waiting_since.get_or_insert(now);
            self.report.phase = "promoting".into();
            self.report.step(
                "wait until writable",
                Outcome::Waiting,
                now,
                now,
                "replication configuration DELETING",
            );
            return Ok(Pass::Wait);
        }
        if r.status == ReplicationStatus::Enabling || r.last_replicated.is_none() {
            self.guard(
                "InitialSync",
                format!("replication {} -> {dest_id} is still in its initial sync: the replica is incomplete", r.source_file_system_id),
                "wait until the status is ENABLED with a last replicated time, or set force: true to promote an incomplete copy".into(),
            )?;
        }
        if r.status == ReplicationStatus::Error {
            self.guard(
                "ReplicationError",
                format!(
                    "replication is in ERROR ({}): the configuration is unrecoverable and the replica holds data as of its last sync",
                    r.status_message.clone().unwrap_or_default()
                ),
                "restore the most recent backup of the failed file system to a new file system, or set force: true to promote the replica as it is".into(),
            )?;
        }
        if matches!(
            r.status,
            ReplicationStatus::Paused | ReplicationStatus::Pausing
        ) {
            self.report.warn(format!(
                "replication is {:?}: {}",
                r.status,
                r.status_message.clone().unwrap_or_default()
            ));
        }
        let now = self.now();
        if let Some(lrt) = r.last_replicated {
            let age = (now - lrt).max(0.0);
            if age > self.target.max_rpo_seconds as f64 {
                self.guard(
                    "RecoveryPointTooOld",
                    format!(
                        "the last sync completed {age:.0} s ago ({}), beyond max_rpo_seconds {}",
                        iso8601(lrt),
                        self.target.max_rpo_seconds
                    ),
                    format!("raise max_rpo_seconds, or set force: true to accept losing up to {age:.0} s of writes"),
                )?;
            }
        }
        if self.target.mode == Mode::Plan {
            self.plan(reachable, r.last_replicated);
            return Ok(Pass::Done);
        }
        self.report.phase = "promoting".into();
        self.promote(r.last_replicated).await?;
        self.prepare_mount_targets(&dest_id).await?;
        self.waiting_since.get_or_insert(self.now());
        Ok(Pass::Wait)
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
    let limits = RunLimits {
        mode: request.run_mode.unwrap_or_default(),
        remaining,
        margin: config.margin,
        backoff: config.backoff.clone(),
    };
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
    for wf in finished {
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
    crate::summary::run_all(
        "failover",
        event,
        FailoverRequest::from_json,
        |request| async move { run(platform, config, &request, remaining).await },
    )
    .await
}
