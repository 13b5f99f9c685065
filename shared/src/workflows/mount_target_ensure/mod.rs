//! mount-target-ensure: keep mount targets and access points provisioned on
//! the replica at all times (it accepts both while read-only), so that at
//! failover they are a check, not a create.

mod decide;
#[cfg(test)]
mod decide_props;
#[cfg(test)]
mod decide_tests;
mod request;

pub use decide::{client_token, decide_access_points, AccessPointAction, AccessPointStep};
pub use request::{
    resolve, AccessPointSource, AccessPointsWanted, ReadinessRequest, ReadinessTarget,
};

use crate::domain::config::Config;
use crate::domain::error::{Error, Result};
use crate::domain::model::{AccessPointSpec, LifeCycle, MetricPoint};
use crate::domain::modes::Mode;
use crate::domain::ports::{CallBudget, Clock, CreateAccessPointOutcome, Efs, Metrics, Platform};
use crate::run::report::{AccessPointMapping, Location, Outcome, Report, Status};
use crate::run::runner::{drive, Pass, RunLimits, Workflow};
use crate::run::summary::{notify_and_measure, RunSummary};
use crate::workflows::mount_targets;
use futures_util::stream::{self, StreamExt};
use std::time::Duration;

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
                ..
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
                account,
            } => {
                let at = crate::domain::ids::Location::new(account.clone(), region.clone());
                let source = self.platform.efs(at, CallBudget::Short);
                match source.describe_access_points(file_system_id).await {
                    Ok(list) => Ok(Some(
                        list.into_iter().map(|a| (Some(a.id), a.spec)).collect(),
                    )),
                    // Another account's source shows its access points only as its policy allows.
                    Err(e)
                        if account.is_some()
                            && e.code.as_deref() == Some("AccessDeniedException") =>
                    {
                        self.report.warn(format!(
                            "access point parity cannot be checked: the file system policy of {file_system_id} (account {}) does not let this account DescribeAccessPoints; add it (deploy/source-account.yaml's SourceFileSystemPolicyCommand does), or give access_points; mount targets are still converged",
                            account.as_ref().map(|a| a.to_string()).unwrap_or_default()
                        ));
                        Ok(None)
                    }
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
        let existing = self.efs.describe_access_points(&fs).await?;
        let mut complete = true;
        let mut mapping = Vec::new();
        for step in decide_access_points(wanted, &existing) {
            let key = step.key;
            let (id, outcome) = match step.action {
                AccessPointAction::Keep { id } => (Some(id), Outcome::AlreadyDone),
                AccessPointAction::AddTags { id, missing } => {
                    if self.target.mode == Mode::Plan {
                        self.report
                            .drift
                            .push(format!("access point {id} lacks tags {missing:?}"));
                        (Some(id), Outcome::Planned)
                    } else {
                        self.efs.tag_access_point(&id, &missing).await?;
                        (Some(id), Outcome::Done)
                    }
                }
                AccessPointAction::Create { spec } => {
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
                source_access_point_id: step.source_access_point_id,
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
        let outcome = if self.target.mode == Mode::Plan {
            Outcome::Planned
        } else {
            Outcome::Done
        };
        let now = self.now();
        mts.record(&mut self.report, outcome, started, now);
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
        let unmountable = mts.targets.is_empty() && !self.target.no_mount_targets_wanted;
        if unmountable {
            self.report.warn(format!(
                "{} has no mount targets: clients could not mount it after a failover. Configure mount targets (DrSubnetIds, or mount_targets on the pair), or set mount_targets: [] on the pair if none are wanted",
                self.target.file_system_id
            ));
        }
        // In plan mode any drift means not ready; in execute mode drift was just fixed.
        self.ready = !unmountable
            && mts.conflicts.is_empty()
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
    let limits = RunLimits::for_run(request.run_mode, request.poll, remaining, config);
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
    let discovered = crate::workflows::discovery::with_discovered_pairs(platform, config).await?;
    let config: &Config = &discovered;
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
