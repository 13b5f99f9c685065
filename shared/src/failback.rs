//! Failback: return to the original Region without losing what was written
//! during the outage, and leave the original topology (original -> replica)
//! in place. Each pass reads both Regions and takes the next step, so a
//! re-run after a crash resumes at the right phase.

use crate::alarms::parse_time;
use crate::config::{region_of, Config, PairConfig};
use crate::error::{Error, Refusal, Result};
use crate::ids::{FileSystemId, FileSystemRef, RegionName};
use crate::model::{
    DeletionMode, FileSystem, MetricPoint, MountTargetSpec, Protection, Replication,
    ReplicationStatus,
};
use crate::mount_targets;
use crate::ports::{
    CallBudget, Clock, CreateReplicationOutcome, DeleteOutcome, Efs, Metrics, Platform,
};
use crate::report::{iso8601, Location, Mode, Outcome, Report, Status};
use crate::runner::{drive, Pass, RunLimits, RunMode, Workflow};
use crate::summary::{notify_and_measure, RunSummary};
use crate::tags;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Reverse-replicate the outage's writes into the original, then restore the original direction.
    #[default]
    KeepChanges,
    /// Re-create original -> replica, overwriting what was written on the replica.
    DiscardChanges,
    /// The original is gone: replicate into a new file system in the original Region, then as keep_changes.
    NewFileSystem,
}

/// A time given as epoch seconds or ISO 8601.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TimeValue {
    Epoch(f64),
    Text(String),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailbackRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Go on past "in sync" and switch back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutover: Option<bool>,
    /// When writes to the promoted replica stopped (epoch seconds or ISO 8601); default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutover_mark: Option<TimeValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge_data_loss: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Mount targets the original must have in its Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_mount_targets: Option<Vec<MountTargetSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl FailbackRequest {
    pub fn from_json(value: serde_json::Value) -> Result<FailbackRequest> {
        serde_json::from_value(value).map_err(|e| {
            Error::InvalidInput(format!(
                "failback request: {e}. Fields: original_file_system_id, original_region, replica_file_system_id, replica_region, \
                 strategy (keep_changes|discard_changes|new_file_system), mode (plan|execute), cutover, cutover_mark, \
                 acknowledge_data_loss, force, original_mount_targets, run_mode, reason"
            ))
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FailbackTarget {
    pub original_id: Option<FileSystemId>,
    pub original_region: RegionName,
    pub replica_id: FileSystemId,
    pub replica_region: RegionName,
    pub strategy: Strategy,
    pub mode: Mode,
    pub cutover: bool,
    pub cutover_mark: Option<f64>,
    pub force: bool,
    pub mount_targets: Vec<MountTargetSpec>,
    pub reason: Option<String>,
}

pub fn resolve(request: &FailbackRequest, config: &Config) -> Result<FailbackTarget> {
    let strategy = request.strategy.unwrap_or_default();
    if strategy == Strategy::DiscardChanges && request.acknowledge_data_loss != Some(true) {
        return Err(Error::InvalidInput(
            "strategy discard_changes overwrites everything written on the replica since the failover: \
             set acknowledge_data_loss: true to confirm, or use keep_changes (the default)"
                .into(),
        ));
    }
    let configured: Option<&PairConfig> = match (&request.original_file_system_id, &request.replica_file_system_id) {
        (Some(o), _) => config.pairs.iter().find(|p| p.source_file_system_id.id == o.id),
        (None, Some(r)) => config.pairs.iter().find(|p| p.destination_file_system_id.as_ref().is_some_and(|d| d.id == r.id)),
        (None, None) if config.pairs.len() == 1 => config.pairs.first(),
        (None, None) if config.pairs.is_empty() => {
            return Err(Error::InvalidInput(
                "no file system named: give original_file_system_id, original_region, replica_file_system_id and replica_region, or configure EFS_DR_PAIRS".into(),
            ))
        }
        (None, None) => {
            return Err(Error::InvalidInput(format!(
                "{} pairs are configured: name the one to fail back (original_file_system_id or replica_file_system_id)",
                config.pairs.len()
            )))
        }
    };
    let original = request
        .original_file_system_id
        .clone()
        .or_else(|| configured.map(|p| p.source_file_system_id.clone()));
    let replica = request
        .replica_file_system_id
        .clone()
        .or_else(|| configured.and_then(|p| p.destination_file_system_id.clone()))
        .ok_or_else(|| {
            Error::InvalidInput(
                "replica_file_system_id is required (the file system promoted by the failover)"
                    .into(),
            )
        })?;
    let original_region = match &original {
        Some(o) => region_of(
            o,
            request
                .original_region
                .as_ref()
                .or(configured.and_then(|p| p.source_region.as_ref()))
                .or(config.source_region.as_ref()),
            "original_file_system_id",
        )?,
        None => request
            .original_region
            .clone()
            .or_else(|| config.source_region.clone()),
    }
    .ok_or_else(|| Error::InvalidInput("original_region is required".into()))?;
    let replica_region = region_of(
        &replica,
        request
            .replica_region
            .as_ref()
            .or(configured.and_then(|p| p.destination_region.as_ref()))
            .or(config.destination_region.as_ref()),
        "replica_file_system_id",
    )?
    .ok_or_else(|| Error::InvalidInput("replica_region is required".into()))?;
    if original.is_none() && strategy != Strategy::NewFileSystem {
        return Err(Error::InvalidInput(
            "original_file_system_id is required, unless strategy is new_file_system (the original is gone)".into(),
        ));
    }
    let cutover_mark = match &request.cutover_mark {
        None => None,
        Some(TimeValue::Epoch(e)) => Some(*e),
        Some(TimeValue::Text(t)) => Some(parse_time(t).ok_or_else(|| {
            Error::InvalidInput(format!("cutover_mark '{t}' is not a time: give epoch seconds or ISO 8601 such as 2026-11-21T16:00:00Z"))
        })?),
    };
    if request.cutover == Some(true)
        && cutover_mark.is_none()
        && request.run_mode == Some(RunMode::Step)
    {
        return Err(Error::InvalidInput(
            "cutover in step mode needs cutover_mark (when writes to the replica stopped): each step is a new invocation, \
             so \"now\" would move with every step"
                .into(),
        ));
    }
    if cutover_mark.is_some() && request.cutover != Some(true) {
        return Err(Error::InvalidInput(
            "cutover_mark is only used with cutover: true".into(),
        ));
    }
    Ok(FailbackTarget {
        original_id: original.map(|o| o.id),
        original_region,
        replica_id: replica.id,
        replica_region,
        strategy,
        mode: request.mode.unwrap_or(config.default_mode),
        cutover: request.cutover.unwrap_or(false),
        cutover_mark,
        force: request.force.unwrap_or(false),
        mount_targets: request.original_mount_targets.clone().unwrap_or_default(),
        reason: request.reason.clone(),
    })
}

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

fn is_pair(r: &Replication, source: &FileSystemId, dest: &FileSystemId) -> bool {
    &r.source_file_system_id == source && &r.destination_file_system_id == dest
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
                let seen = self
                    .platform
                    .metrics(&self.t.original_region)
                    .recent(
                        "AWS/EFS",
                        "ClientConnections",
                        &dims,
                        (now - since).max(60.0),
                        now,
                    )
                    .await?;
                let connected: Vec<String> = seen
                    .iter()
                    .filter(|(t, v)| *t >= since && *v > 0.0)
                    .map(|(t, v)| format!("{v:.0} at {}", iso8601(*t)))
                    .collect();
                if !connected.is_empty() {
                    self.refuse(
                        "SplitBrain",
                        format!(
                            "{} had client connections after the failover ({}): writes there would be lost or conflict",
                            o.id,
                            connected.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                        ),
                        "stop the clients still using the original, copy anything they wrote, then run again (or set force: true)",
                    )?;
                    self.report.warn("guardrail SplitBrain overridden by force");
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
        for c in &mts.conflicts {
            self.report.warn(format!("mount target conflict: {c}"));
        }
        self.report.mount_targets = mts.targets.clone();
        if !mts.actions.is_empty() {
            self.step(
                "mount targets",
                Outcome::Done,
                started,
                mts.actions.join("; "),
            );
        }
        if mts.pending && self.t.mode == Mode::Execute {
            self.report.phase = "waiting for mount targets".into();
            return Ok(Pass::Wait);
        }
        self.report.dns_name = Some(o.dns_name());
        let done_before = o.tag(tags::FAILBACK_COMPLETED_AT).is_some()
            && o.tag(tags::FAILBACK_CUTOVER_AT).is_none_or(|v| v == "none")
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
        self.report.phase = "completed".into();
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

impl<P: Platform> Workflow for Failback<'_, P> {
    fn report(&mut self) -> &mut Report {
        &mut self.report
    }

    async fn pass(&mut self) -> Result<Pass> {
        let r_id = self.t.replica_id.clone();
        let replica = self.replica.describe_file_system(&r_id).await;
        if self.report.timeline.is_empty() {
            let now = self.now();
            self.report.restart(now);
        }
        let replica = replica?.ok_or_else(|| {
            Error::InvalidInput(format!("replica {r_id} does not exist in {}: check replica_file_system_id and replica_region", self.t.replica_region))
        })?;
        let rep_r = self.replica.describe_replication(&r_id).await?;
        self.probe_original().await?;
        // The original: named, or (new_file_system) the destination of the reverse replication.
        let o_id = match &rep_r {
            Some(r)
                if r.source_file_system_id == r_id
                    && r.destination_region == self.t.original_region =>
            {
                Some(r.destination_file_system_id.clone())
            }
            _ => self.report.destination.file_system_id.clone(),
        };
        self.report.destination.file_system_id = o_id.clone();
        let original = match &o_id {
            Some(id) => self.original.describe_file_system(id).await?,
            None => None,
        };
        if o_id.is_some() && original.is_none() && self.t.strategy != Strategy::NewFileSystem {
            return Err(Error::InvalidInput(format!(
                "original {} does not exist in {}: if it is gone, use strategy new_file_system",
                o_id.as_ref().map(|i| i.to_string()).unwrap_or_default(),
                self.t.original_region
            )));
        }
        self.preflight(original.as_ref(), &replica).await?;

        // new_file_system: make the new original by replicating the replica into the original Region.
        let Some(o) = original else {
            let reverse_exists = rep_r
                .as_ref()
                .is_some_and(|r| r.source_file_system_id == r_id);
            if reverse_exists {
                return Ok(Pass::Wait);
            }
            self.report.phase = "create a new original".into();
            return self
                .create(&r_id, true, None, "replicate into a new file system")
                .await;
        };
        let o_id = o.id.clone();
        let rep_o = self.original.describe_replication(&o_id).await?;

        // The original may not take part in any other replication.
        if let Some(r) = &rep_o {
            let ours = is_pair(r, &o_id, &r_id) || is_pair(r, &r_id, &o_id);
            if !ours {
                return Err(Error::Refused(Refusal {
                    guardrail: "OriginalInOtherReplication",
                    message: format!(
                        "{o_id} takes part in a replication with {} (not with {r_id})",
                        if r.source_file_system_id == o_id {
                            r.destination_file_system_id.to_string()
                        } else {
                            r.source_file_system_id.to_string()
                        }
                    ),
                    remedy: "delete that replication first, or name the right file systems".into(),
                }));
            }
        }

        // Forward configuration (original -> replica): the end state, the orphan of a local-only failover, or discard_changes in progress.
        if let Some(r) = rep_o.as_ref().filter(|r| is_pair(r, &o_id, &r_id)) {
            let orphan = rep_r.is_none() && replica.protection == Protection::Enabled;
            if (orphan || r.status == ReplicationStatus::Error && rep_r.is_none())
                && r.status == ReplicationStatus::Deleting
            {
                self.report.phase = "clean up: wait for the leftover configuration to go".into();
                let now = self.now();
                self.step("wait for the clean-up", Outcome::Waiting, now, "DELETING");
                return if self.t.mode == Mode::Plan {
                    Ok(Pass::Done)
                } else {
                    Ok(Pass::Wait)
                };
            }
            if orphan || r.status == ReplicationStatus::Error && rep_r.is_none() {
                self.report.phase = "clean up the configuration left in the original Region".into();
                let started = self.now();
                if let Some(n) = self.plan_or("clean up") {
                    self.step(n, Outcome::Planned, started, "DeleteReplicationConfiguration LOCAL_CONFIGURATION_ONLY in the original Region");
                    self.report.status = Status::Planned;
                    return Ok(Pass::Done);
                }
                let outcome = self
                    .original
                    .delete_replication(&o_id, DeletionMode::LocalConfigurationOnly)
                    .await?;
                self.step(
                    "clean up",
                    if outcome == DeleteOutcome::Accepted {
                        Outcome::Done
                    } else {
                        Outcome::AlreadyDone
                    },
                    started,
                    "deleted the configuration a LOCAL_CONFIGURATION_ONLY failover left behind",
                );
                return Ok(Pass::Wait);
            }
            match (&r.status, r.last_replicated) {
                (ReplicationStatus::Enabled, Some(_))
                    if replica.protection == Protection::Replicating =>
                {
                    let failed_over = replica
                        .tag(tags::FAILOVER_COMPLETED_AT)
                        .and_then(|v| v.parse::<f64>().ok());
                    let failed_back = o
                        .tag(tags::FAILBACK_COMPLETED_AT)
                        .and_then(|v| v.parse::<f64>().ok());
                    let cutover_begun = o
                        .tag(tags::FAILBACK_CUTOVER_AT)
                        .is_some_and(|v| v != "none");
                    let discarded = self.t.strategy == Strategy::DiscardChanges;
                    if failed_over.is_some_and(|fo| failed_back.is_none_or(|fb| fb < fo))
                        || cutover_begun
                        || discarded
                        || failed_back.is_some()
                    {
                        self.report.phase = "restore mount targets and finish".into();
                        return self.finish(&o, &replica).await;
                    }
                    return Err(Error::Refused(Refusal {
                        guardrail: "ReplicaNotPromoted",
                        message: format!("{r_id} is still a read-only replica of {o_id}: there was no failover to fail back from"),
                        remedy: "nothing to do; run failover first if that was the intent".into(),
                    }));
                }
                _ => {
                    self.report.phase = "wait for the original direction to be replicating".into();
                    let now = self.now();
                    self.step(
                        "wait for replication",
                        Outcome::Waiting,
                        now,
                        format!(
                            "{:?}, last replicated {:?}",
                            r.status,
                            r.last_replicated.map(iso8601)
                        ),
                    );
                    return if self.t.mode == Mode::Plan {
                        Ok(Pass::Done)
                    } else {
                        Ok(Pass::Wait)
                    };
                }
            }
        }

        // Reverse configuration (replica -> original): syncing, in sync, or being deleted at cutover.
        if let Some(r) = rep_r.as_ref().filter(|r| is_pair(r, &r_id, &o_id)) {
            let now = self.now();
            if r.status == ReplicationStatus::Deleting {
                self.report.phase = "cutover: wait until the original is writable".into();
                self.step(
                    "wait until the original is writable",
                    Outcome::Waiting,
                    now,
                    "reverse replication DELETING",
                );
                return Ok(Pass::Wait);
            }
            let Some(lrt) = r
                .last_replicated
                .filter(|_| r.status == ReplicationStatus::Enabled)
            else {
                self.report.phase = "reverse replication: initial sync".into();
                self.step(
                    "wait for the reverse sync",
                    Outcome::Waiting,
                    now,
                    format!("{:?}", r.status),
                );
                return if self.t.mode == Mode::Plan {
                    Ok(Pass::Done)
                } else {
                    Ok(Pass::Wait)
                };
            };
            if !self.t.cutover {
                self.report.phase = "in sync, waiting for cutover".into();
                self.step(
                    "reverse replication in sync",
                    Outcome::Checked,
                    now,
                    format!("last replicated {}", iso8601(lrt)),
                );
                self.report.next(
                    "stop writes to the replica, then run again with cutover: true and cutover_mark set to when writes stopped \
                     (in Step Functions: approve the cutover)",
                );
                return Ok(Pass::Paused);
            }
            let mark = *self.mark.get_or_insert(now);
            if lrt < mark {
                self.report.phase =
                    "wait until the reverse replication passes the cutover mark".into();
                self.step(
                    "wait for the cutover mark",
                    Outcome::Waiting,
                    now,
                    format!("last replicated {} < mark {}", iso8601(lrt), iso8601(mark)),
                );
                return if self.t.mode == Mode::Plan {
                    Ok(Pass::Done)
                } else {
                    Ok(Pass::Wait)
                };
            }
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
            self.report.phase = "cutover".into();
            // Marked first: after the deletion both file systems are writable, and only this tells a re-run where it is.
            self.original
                .tag_file_system(
                    &o_id,
                    &[(tags::FAILBACK_CUTOVER_AT.to_string(), format!("{mark:.3}"))],
                )
                .await?;
            let outcome = self
                .replica
                .delete_replication(&r_id, DeletionMode::AllConfigurations)
                .await?;
            self.step(
                "cutover",
                if outcome == DeleteOutcome::Accepted {
                    Outcome::Done
                } else {
                    Outcome::AlreadyDone
                },
                now,
                format!(
                    "reverse replication deleted with everything up to {} on the original",
                    iso8601(lrt)
                ),
            );
            return Ok(Pass::Wait);
        }
        if rep_r.is_some() || rep_o.is_some() {
            return Err(Error::Topology("a replication configuration in an unexpected direction; read the state and fix it by hand".into()));
        }

        // No configuration at all: where are we?
        let cutover_done = o
            .tag(tags::FAILBACK_CUTOVER_AT)
            .is_some_and(|v| v != "none");
        if self.t.strategy == Strategy::DiscardChanges
            || cutover_done
            || replica.protection == Protection::Disabled
        {
            // Re-protect: original -> replica into the existing replica.
            if o.protection != Protection::Enabled {
                self.report.phase = "wait until the original is writable".into();
                return if self.t.mode == Mode::Plan {
                    Ok(Pass::Done)
                } else {
                    Ok(Pass::Wait)
                };
            }
            self.report.phase = "re-protect".into();
            if replica.protection == Protection::Enabled {
                return self
                    .set_protection(
                        false,
                        &r_id,
                        Protection::Disabled,
                        "allow the replica to be overwritten",
                    )
                    .await;
            }
            return self
                .create(
                    &o_id,
                    false,
                    Some(r_id.clone()),
                    "restore original -> replica",
                )
                .await;
        }
        if replica.protection != Protection::Enabled {
            return Err(Error::Refused(Refusal {
                guardrail: "ReplicaNotPromoted",
                message: format!(
                    "{r_id} is read-only ({:?}) and not replicating: it was not promoted",
                    replica.protection
                ),
                remedy: "run failover first, or check the file system IDs".into(),
            }));
        }
        // keep_changes: reverse-replicate the replica into the original.
        self.report.phase = "reverse replication".into();
        if o.protection == Protection::Enabled {
            return self
                .set_protection(
                    true,
                    &o_id,
                    Protection::Disabled,
                    "allow the original to be overwritten",
                )
                .await;
        }
        self.create(
            &r_id,
            true,
            Some(o_id.clone()),
            "replicate the replica back into the original",
        )
        .await
    }
}

pub async fn run<P: Platform>(
    platform: &P,
    config: &Config,
    request: &FailbackRequest,
    remaining: Option<Duration>,
) -> Result<RunSummary> {
    let target = resolve(request, config)?;
    let limits = RunLimits {
        mode: request.run_mode.unwrap_or_default(),
        remaining,
        margin: config.margin,
        backoff: config.backoff.clone(),
    };
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
                (tags::FAILBACK_CUTOVER_AT.to_string(), "none".to_string()),
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
    crate::summary::run_all(
        "failback",
        event,
        FailbackRequest::from_json,
        |request| async move { run(platform, config, &request, remaining).await },
    )
    .await
}
