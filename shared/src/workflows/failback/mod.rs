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

mod accounts;
mod act;
mod observe;

pub use decide::{decide, Action, Observed, Phase};

/// The longest step-mode wait in a phase that can last hours.
pub const LONG_PHASE_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
pub use request::{resolve, FailbackRequest, FailbackTarget, Preserve, Strategy, TimeValue};

use crate::domain::config::Config;
use crate::domain::error::{Error, Refusal, Result};
use crate::domain::ids::FileSystemId;
use crate::domain::ids::Location;
use crate::domain::model::{DeletionMode, FileSystem, MetricPoint, Protection};
use crate::domain::modes::Mode;
use crate::domain::ports::{
    finest_period_kept, CallBudget, Clock, CreateReplicationOutcome, DeleteOutcome, Efs, Metrics,
    Platform, ReplicationDestination, SeriesQuery, Statistic,
};
use crate::domain::tags;
use crate::domain::time::iso8601;
use crate::run::report::{Location as Side, Outcome, Report, Status};
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
    /// The functions' own account, read from the replica's ARN, when the
    /// original is in another one (see `accounts`).
    cross_account: Option<accounts::Accounts>,
}

impl<'a, P: Platform> Failback<'a, P> {
    pub fn new(platform: &'a P, t: FailbackTarget) -> Self {
        let now = platform.clock().now();
        let mut report = Report::new(
            "failback",
            t.mode,
            Side {
                file_system_id: Some(t.replica_id.clone()),
                region: t.replica_region.clone(),
            },
            Side {
                file_system_id: t.original_id.clone(),
                region: t.original_region.clone(),
            },
            now,
        );
        report.reason = t.reason.clone();
        Failback {
            original: platform.efs(
                Location::new(t.original_account.clone(), t.original_region.clone()),
                CallBudget::Normal,
            ),
            replica: platform.efs(&t.replica_region, CallBudget::Normal),
            platform,
            mark: t.cutover_mark,
            t,
            report,
            checked: false,
            needs_completion_mark: false,
            cross_account: None,
        }
    }

    /// Where the original is: its Region, in its account.
    fn original_at(&self) -> Location {
        Location::new(
            self.t.original_account.clone(),
            self.t.original_region.clone(),
        )
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
}

impl<P: Platform> Failback<'_, P> {}

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
        if let Some(x) = &self.t.region_switch {
            crate::workflows::region_switch::still_running(self.platform, x).await?;
        }
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
    let original_at = Location::new(
        target.original_account.clone(),
        target.original_region.clone(),
    );
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
                .efs(&original_at, CallBudget::Normal)
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
