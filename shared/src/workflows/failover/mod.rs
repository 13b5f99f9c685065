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

mod act;
mod observe;

pub use decide::{decide, Action, Decision, Observed, Phase, Source};
pub use request::{resolve, FailoverRequest, FailoverTarget, MAX_RESUMES};

use crate::domain::config::Config;
use crate::domain::error::{Error, Result};
use crate::domain::ids::FileSystemId;
use crate::domain::model::{DeletionMode, FileSystem, MetricPoint, ReplicationStatus};
use crate::domain::ports::{
    CallBudget, Clock, DeleteOutcome, Efs, Notification, Notifier, Platform, Recipient,
};
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
    /// The source Regions as this run probed them, shared by its pairs.
    windows: Option<&'a SourceWindows>,
    /// The functions' account, from the replica's ARN.
    own_account: Option<crate::domain::ids::AccountId>,
}

/// Probe windows of one run, by source Region, with when they were taken:
/// a Region's worth of pairs probes it once, not once per pair.
pub type SourceWindows =
    tokio::sync::Mutex<std::collections::BTreeMap<String, (f64, crate::domain::ports::Window)>>;

/// A window this young stands for the source Region now.
const SHARED_WINDOW_SECONDS: f64 = 20.0;

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
            windows: None,
            own_account: None,
        }
    }

    /// Shares the run's probe windows with the other pairs of the run.
    pub fn sharing(mut self, windows: &'a SourceWindows) -> Self {
        self.windows = Some(windows);
        self
    }

    pub fn into_report(self) -> Report {
        self.report
    }

    fn now(&self) -> f64 {
        self.platform.clock().now()
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
}

impl<P: Platform> Failover<'_, P> {
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
        if let Some(x) = &self.target.region_switch {
            region_switch::still_running(self.platform, x).await?;
        }
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
    let in_flight = targets.len().max(1);
    let limits = RunLimits {
        passes: Some(std::sync::Arc::new(tokio::sync::Semaphore::new(
            config.concurrency.max(1),
        ))),
        ..RunLimits::for_run(request.run_mode, request.poll, remaining, config)
    };
    let windows = SourceWindows::default();
    let finished: Vec<Failover<P>> = stream::iter(targets)
        .map(|t| {
            let (limits, windows) = (&limits, &windows);
            async move {
                let mut wf = Failover::new(platform, t).sharing(windows);
                drive(&mut wf, platform.clock(), limits).await;
                wf
            }
        })
        .buffer_unordered(in_flight)
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
    let to = Recipient::sns_topic(&topic)
        .ok_or_else(|| Error::InvalidInput(format!("'{topic}' is not an SNS topic ARN")))?;
    platform
        .notifier()
        .send(Notification {
            to: &to,
            subject: &subject,
            body: &body,
        })
        .await?;
    Ok(())
}
