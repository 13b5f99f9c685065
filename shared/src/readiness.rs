//! mount-target-ensure: keep mount targets and access points provisioned on
//! the replica at all times (it accepts both while read-only), so that at
//! failover they are a check, not a create.

use crate::config::{region_of, Config};
use crate::error::{Error, Result};
use crate::ids::{FileSystemId, FileSystemRef, RegionName};
use crate::model::{AccessPoint, AccessPointSpec, LifeCycle, MetricPoint, MountTargetSpec};
use crate::mount_targets;
use crate::ports::{CallBudget, Clock, CreateAccessPointOutcome, Efs, Metrics, Platform};
use crate::report::{Location, Mode, Outcome, Report, Status};
use crate::runner::{drive, Pass, RunLimits, RunMode, Workflow};
use crate::summary::{notify_and_measure, RunSummary};
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where to copy access points from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPointSource {
    pub file_system_id: FileSystemRef,
    pub region: RegionName,
}

/// The mount-target-ensure event (direct invoke or Step Functions).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_targets: Option<Vec<MountTargetSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_points_from: Option<AccessPointSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_points: Option<Vec<AccessPointSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
}

impl ReadinessRequest {
    pub fn from_json(value: serde_json::Value) -> Result<ReadinessRequest> {
        serde_json::from_value(value).map_err(|e| {
            Error::InvalidInput(format!(
                "mount-target-ensure request: {e}. Fields: file_system_id, region, mount_targets, \
                 access_points_from {{file_system_id, region}}, access_points, prune, mode (plan|execute), wait, run_mode"
            ))
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum AccessPointsWanted {
    None,
    CopyFrom {
        file_system_id: FileSystemId,
        region: RegionName,
    },
    Explicit(Vec<AccessPointSpec>),
}

/// One file system to make ready, fully resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadinessTarget {
    pub file_system_id: FileSystemId,
    pub region: RegionName,
    pub mount_targets: Vec<MountTargetSpec>,
    pub access_points: AccessPointsWanted,
    pub prune: bool,
    pub mode: Mode,
    pub wait: bool,
}

/// Merges the request with the configured pairs: by default every configured
/// replica, with the configured mount targets and its source's access points.
pub fn resolve(request: &ReadinessRequest, config: &Config) -> Result<Vec<ReadinessTarget>> {
    if request.access_points_from.is_some() && request.access_points.is_some() {
        return Err(Error::InvalidInput(
            "give access_points_from or access_points, not both".into(),
        ));
    }
    let mode = request.mode.unwrap_or(config.default_mode);
    let prune = request.prune.unwrap_or(false);
    let wait = request.wait.unwrap_or(true);
    let explicit_aps = || match (&request.access_points_from, &request.access_points) {
        (Some(from), _) => AccessPointsWanted::CopyFrom {
            file_system_id: from.file_system_id.id.clone(),
            region: from
                .file_system_id
                .arn_region
                .clone()
                .unwrap_or_else(|| from.region.clone()),
        },
        (None, Some(list)) => AccessPointsWanted::Explicit(list.clone()),
        (None, None) => AccessPointsWanted::None,
    };
    let mut targets = Vec::new();
    if let Some(fs) = &request.file_system_id {
        let region = region_of(fs, request.region.as_ref(), "file_system_id")?
            .or_else(|| config.destination_region.clone())
            .ok_or_else(|| {
                Error::InvalidInput("region is required (the Region of file_system_id)".into())
            })?;
        targets.push(ReadinessTarget {
            file_system_id: fs.id.clone(),
            region,
            mount_targets: request
                .mount_targets
                .clone()
                .unwrap_or_else(|| config.mount_targets.clone()),
            access_points: explicit_aps(),
            prune,
            mode,
            wait,
        });
    } else {
        if config.pairs.is_empty() {
            return Err(Error::InvalidInput(
                "no file system named: give file_system_id and region in the event, or configure EFS_DR_PAIRS".into(),
            ));
        }
        for p in &config.pairs {
            let dest = p.destination_file_system_id.as_ref().ok_or_else(|| {
                Error::InvalidInput(format!(
                    "the configured pair of {} has no destination_file_system_id: the readiness check needs the replica's ID",
                    p.source_file_system_id.id
                ))
            })?;
            let region = dest
                .arn_region
                .clone()
                .or_else(|| p.destination_region.clone())
                .or_else(|| config.destination_region.clone())
                .ok_or_else(|| {
                    Error::InvalidInput(
                        "the DR Region is not configured (EFS_DR_DESTINATION_REGION or AWS_REGION)"
                            .into(),
                    )
                })?;
            let source_region = p
                .source_file_system_id
                .arn_region
                .clone()
                .or_else(|| p.source_region.clone())
                .or_else(|| config.source_region.clone());
            let access_points = match (explicit_aps(), source_region) {
                (AccessPointsWanted::None, Some(sr)) => AccessPointsWanted::CopyFrom {
                    file_system_id: p.source_file_system_id.id.clone(),
                    region: sr,
                },
                (other, _) => other,
            };
            targets.push(ReadinessTarget {
                file_system_id: dest.id.clone(),
                region,
                mount_targets: request
                    .mount_targets
                    .clone()
                    .or_else(|| p.mount_targets.clone())
                    .unwrap_or_else(|| config.mount_targets.clone()),
                access_points,
                prune,
                mode,
                wait,
            });
        }
    }
    for t in &targets {
        if t.prune && t.mount_targets.is_empty() {
            return Err(Error::InvalidInput(format!(
                "prune needs the list of mount targets to keep for {}; with none given it would delete them all",
                t.file_system_id
            )));
        }
    }
    Ok(targets)
}

/// A client token that is the same for the same access point on the same
/// file system, so retries and re-runs never create a second one.
pub fn client_token(file_system: &FileSystemId, key: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file_system
        .as_str()
        .bytes()
        .chain([b'|'])
        .chain(key.bytes())
    {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("efs-dr-{h:016x}")
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccessPointMapping {
    pub key: String,
    /// The access point on the source (absent for an explicit list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_access_point_id: Option<String>,
    pub access_point_id: Option<String>,
    pub outcome: Outcome,
}

pub struct Readiness<'a, P: Platform> {
    platform: &'a P,
    target: ReadinessTarget,
    efs: P::Efs,
    report: Report,
    pub ready: bool,
    pub mapping: Vec<AccessPointMapping>,
    access_points_done: bool,
}

impl<'a, P: Platform> Readiness<'a, P> {
    pub fn new(platform: &'a P, target: ReadinessTarget) -> Self {
        let now = platform.clock().now();
        let source = match &target.access_points {
            AccessPointsWanted::CopyFrom {
                file_system_id,
                region,
            } => Location {
                file_system_id: Some(file_system_id.clone()),
                region: region.clone(),
            },
            _ => Location {
                file_system_id: None,
                region: target.region.clone(),
            },
        };
        let dest = Location {
            file_system_id: Some(target.file_system_id.clone()),
            region: target.region.clone(),
        };
        Readiness {
            efs: platform.efs(&target.region, CallBudget::Normal),
            report: Report::new("mount-target-ensure", target.mode, source, dest, now),
            platform,
            target,
            ready: false,
            mapping: Vec::new(),
            access_points_done: false,
        }
    }

    fn now(&self) -> f64 {
        self.platform.clock().now()
    }

    /// What access points are wanted: `None` when the source cannot be read.
    async fn wanted_access_points(
        &mut self,
    ) -> Result<Option<Vec<(Option<String>, AccessPointSpec)>>> {
        match &self.target.access_points {
            AccessPointsWanted::None => Ok(Some(Vec::new())),
            AccessPointsWanted::Explicit(list) => {
                Ok(Some(list.iter().map(|s| (None, s.clone())).collect()))
            }
            AccessPointsWanted::CopyFrom {
                file_system_id,
                region,
            } => {
                let source = self.platform.efs(region, CallBudget::Short);
                match source.describe_access_points(file_system_id).await {
                    Ok(list) => Ok(Some(
                        list.into_iter().map(|a| (Some(a.id), a.spec)).collect(),
                    )),
                    Err(e) if e.kind.is_transient() => {
                        self.report.warn(format!(
                            "access point parity cannot be checked: {region} does not answer ({}); mount targets are still converged",
                            e.message
                        ));
                        Ok(None)
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    async fn converge_access_points(&mut self) -> Result<bool> {
        let started = self.now();
        let Some(wanted) = self.wanted_access_points().await? else {
            return Ok(false);
        };
        let fs = self.target.file_system_id.clone();
        let existing: Vec<AccessPoint> = self.efs.describe_access_points(&fs).await?;
        let mut complete = true;
        let mut mapping = Vec::new();
        for (source_id, spec) in wanted {
            let key = spec.key();
            let found = existing
                .iter()
                .find(|a| a.spec.key() == key && a.life_cycle != LifeCycle::Deleting);
            let (id, outcome) = match found {
                Some(a) => {
                    let missing: Vec<(String, String)> = spec
                        .all_tags()
                        .into_iter()
                        .filter(|t| !a.spec.all_tags().contains(t))
                        .collect();
                    if missing.is_empty() {
                        (Some(a.id.clone()), Outcome::AlreadyDone)
                    } else if self.target.mode == Mode::Plan {
                        self.report
                            .drift
                            .push(format!("access point {} lacks tags {:?}", a.id, missing));
                        (Some(a.id.clone()), Outcome::Planned)
                    } else {
                        self.efs.tag_access_point(&a.id, &missing).await?;
                        (Some(a.id.clone()), Outcome::Done)
                    }
                }
                None => {
                    self.report
                        .drift
                        .push(format!("missing access point {key}"));
                    if self.target.mode == Mode::Plan {
                        complete = false;
                        (None, Outcome::Planned)
                    } else {
                        let token = client_token(&fs, &key);
                        match self.efs.create_access_point(&fs, &spec, &token).await? {
                            CreateAccessPointOutcome::Created(ap) => (Some(ap.id), Outcome::Done),
                            // Made by an earlier, interrupted run: the token names it; make sure of its tags.
                            CreateAccessPointOutcome::AlreadyExists(id) => {
                                self.efs.tag_access_point(&id, &spec.all_tags()).await?;
                                (Some(id), Outcome::Done)
                            }
                        }
                    }
                }
            };
            mapping.push(AccessPointMapping {
                key,
                source_access_point_id: source_id,
                access_point_id: id,
                outcome,
            });
        }
        let changed = mapping
            .iter()
            .filter(|m| m.outcome == Outcome::Done)
            .count();
        if !mapping.is_empty() {
            self.report.step(
                "access points",
                if changed > 0 {
                    Outcome::Done
                } else if self.target.mode == Mode::Plan && !complete {
                    Outcome::Planned
                } else {
                    Outcome::AlreadyDone
                },
                started,
                self.now(),
                format!("{} wanted, {changed} created or re-tagged", mapping.len()),
            );
        }
        self.mapping = mapping;
        Ok(complete)
    }
}

impl<P: Platform> Workflow for Readiness<'_, P> {
    fn report(&mut self) -> &mut Report {
        &mut self.report
    }

    async fn pass(&mut self) -> Result<Pass> {
        let fs_id = self.target.file_system_id.clone();
        let region = self.target.region.clone();
        let fs = self.efs.describe_file_system(&fs_id).await;
        if self.report.timeline.is_empty() {
            let now = self.now();
            self.report.restart(now);
        }
        let fs = fs?.ok_or_else(|| {
            Error::InvalidInput(format!(
                "file system {fs_id} does not exist in {region}: check file_system_id and region"
            ))
        })?;
        self.report.dns_name = Some(fs.dns_name());
        if fs.life_cycle != LifeCycle::Available {
            self.report.phase = format!(
                "file system {}",
                serde_json::to_string(&fs.life_cycle).unwrap_or_default()
            );
            if self.target.mode == Mode::Execute && self.target.wait {
                return Ok(Pass::Wait);
            }
        }
        let started = self.now();
        let mts = mount_targets::ensure(
            &self.efs,
            &fs_id,
            &self.target.mount_targets,
            self.target.mode,
            self.target.prune,
        )
        .await?;
        self.report.drift.extend(
            mts.drift
                .iter()
                .filter(|d| !self.report.drift.contains(d))
                .cloned()
                .collect::<Vec<_>>(),
        );
        for c in &mts.conflicts {
            self.report.warn(format!("mount target conflict: {c}"));
        }
        self.report.mount_targets = mts.targets.clone();
        if !mts.actions.is_empty() {
            let outcome = if self.target.mode == Mode::Plan {
                Outcome::Planned
            } else {
                Outcome::Done
            };
            self.report.step(
                "mount targets",
                outcome,
                started,
                self.now(),
                mts.actions.join("; "),
            );
        }
        let aps_complete = if self.access_points_done {
            true
        } else {
            let c = self.converge_access_points().await?;
            self.access_points_done = self.target.mode == Mode::Execute;
            c
        };
        let parity_known = !self
            .report
            .warnings
            .iter()
            .any(|w| w.starts_with("access point parity"));
        // In plan mode any drift means not ready; in execute mode drift was just fixed.
        self.ready = mts.conflicts.is_empty()
            && !mts.pending
            && aps_complete
            && parity_known
            && (self.target.mode == Mode::Execute || self.report.drift.is_empty());
        if self.target.mode == Mode::Execute && self.target.wait && mts.pending {
            self.report.phase = "waiting for mount targets".into();
            self.report.step(
                "wait for mount targets",
                Outcome::Waiting,
                started,
                self.now(),
                "not all available yet",
            );
            return Ok(Pass::Wait);
        }
        self.report.phase = if self.ready {
            "ready".into()
        } else {
            "not ready".into()
        };
        if self.target.mode == Mode::Plan {
            self.report.status = Status::Planned;
        }
        Ok(Pass::Done)
    }
}

/// Runs the readiness check for every named file system, publishes the
/// `Ready` metric (1 or 0) for each, and notifies when something changed.
pub async fn run<P: Platform>(
    platform: &P,
    config: &Config,
    request: &ReadinessRequest,
    remaining: Option<Duration>,
) -> Result<RunSummary> {
    let targets = resolve(request, config)?;
    let limits = RunLimits {
        mode: request.run_mode.unwrap_or_default(),
        remaining,
        margin: config.margin,
        backoff: config.backoff.clone(),
    };
    let finished: Vec<(Report, bool)> = stream::iter(targets)
        .map(|t| {
            let limits = &limits;
            async move {
                let mut wf = Readiness::new(platform, t);
                drive(&mut wf, platform.clock(), limits).await;
                let ready = wf.ready;
                let mut report = wf.report;
                report.access_points = wf.mapping;
                report.ready = Some(ready);
                (report, ready)
            }
        })
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;
    let mut points = Vec::new();
    for (r, ready) in &finished {
        if let Some(fs) = &r.destination.file_system_id {
            points.push((
                r.destination.region.clone(),
                MetricPoint {
                    name: "Ready",
                    value: if *ready { 1.0 } else { 0.0 },
                    unit: "None",
                    dimensions: vec![("FileSystemId".to_string(), fs.to_string())],
                },
            ));
        }
    }
    // Readiness is published on every run, changed or not: it is what the alarms watch.
    for (region, p) in points {
        if let Err(e) = platform
            .metrics(&region)
            .put(std::slice::from_ref(&p))
            .await
        {
            tracing::warn!(error = %e, "Ready metric not published");
        }
    }
    let summary = RunSummary::new(
        "mount-target-ensure",
        finished.into_iter().map(|(r, _)| r).collect(),
    );
    let summary = notify_and_measure(platform, config, summary, |_| Vec::new()).await;
    if summary.should_fail_invocation(limits.mode) {
        return Err(summary.first_error());
    }
    Ok(summary)
}

/// Is this an EventBridge scheduled event (the readiness schedule)?
pub fn is_scheduled_event(event: &serde_json::Value) -> bool {
    event.get("detail-type").and_then(|v| v.as_str()) == Some("Scheduled Event")
        || event.get("source").and_then(|v| v.as_str()) == Some("aws.events")
}

/// The mount-target-ensure function's handler.
pub async fn handle_event<P: Platform>(
    platform: &P,
    config: &Config,
    event: serde_json::Value,
    remaining: Option<Duration>,
) -> Result<serde_json::Value> {
    let request = if is_scheduled_event(&event) {
        // The schedule carries no parameters: check every configured replica.
        ReadinessRequest::default()
    } else {
        ReadinessRequest::from_json(event)?
    };
    let summary = run(platform, config, &request, remaining).await?;
    serde_json::to_value(&summary)
        .map_err(|e| Error::Topology(format!("cannot render the result: {e}")))
}
