//! The result of a function run over one or many file systems, and the one
//! notification and metrics that go with it.

use crate::domain::config::Config;
use crate::domain::error::Error;
use crate::domain::model::MetricPoint;
use crate::domain::modes::RunMode;
use crate::domain::ports::{Metrics, Notification, Notifier, Platform, Recipient};
use crate::run::report::{Report, Status};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub workflow: &'static str,
    /// The worst status over all file systems.
    pub status: Status,
    /// Nothing left to do (Step Functions stops looping).
    pub done: bool,
    /// Whole seconds, as a Step Functions Wait state takes them (SecondsPath).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u64>,
    pub summary: String,
    pub results: Vec<Report>,
}

fn rank(s: Status) -> u8 {
    match s {
        Status::Completed => 0,
        Status::Planned => 1,
        Status::InProgress => 2,
        Status::Refused => 3,
        Status::Failed => 4,
    }
}

impl RunSummary {
    pub fn new(workflow: &'static str, results: Vec<Report>) -> RunSummary {
        let status = results
            .iter()
            .map(|r| r.status)
            .max_by_key(|s| rank(*s))
            .unwrap_or(Status::Completed);
        let done = results.iter().all(|r| r.status != Status::InProgress);
        // Whole seconds: a Step Functions Wait state takes nothing finer.
        let wait_seconds = results
            .iter()
            .filter_map(|r| r.wait_seconds)
            .reduce(f64::min)
            .map(|w| w.ceil().max(1.0) as u64);
        let count = |s: Status| results.iter().filter(|r| r.status == s).count();
        let summary = if results.len() == 1 {
            results[0].headline()
        } else {
            format!(
                "efs-dr {workflow}: {} file systems: {} completed, {} planned, {} in progress, {} refused, {} failed",
                results.len(),
                count(Status::Completed),
                count(Status::Planned),
                count(Status::InProgress),
                count(Status::Refused),
                count(Status::Failed)
            )
        };
        RunSummary {
            workflow,
            status,
            done,
            wait_seconds,
            summary,
            results,
        }
    }

    /// Step Functions retries a step that hit a transient AWS failure: that needs a Lambda error.
    pub fn should_fail_invocation(&self, mode: RunMode) -> bool {
        mode == RunMode::Step
            && self.results.iter().any(|r| {
                r.status == Status::Failed
                    && r.error.as_ref().is_some_and(|e| {
                        matches!(
                            e.error_type.as_str(),
                            "AwsThrottled" | "AwsUnreachable" | "AwsServerError"
                        )
                    })
            })
    }

    pub fn first_error(&self) -> Error {
        let e = self.results.iter().find_map(|r| r.error.clone());
        match e {
            Some(e) => Error::Reported {
                error_type: e.error_type,
                message: e.message,
            },
            None => Error::Topology("failed without an error".into()),
        }
    }

    /// Whether people should hear about this run.
    fn worth_notifying(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.changed || matches!(r.status, Status::Refused | Status::Failed))
    }

    pub fn render_text(&self) -> String {
        if self.results.len() == 1 {
            return self.results[0].render_text();
        }
        let mut out = format!("{}\n\n", self.summary);
        for r in &self.results {
            out.push_str(&format!("- {}\n", r.headline()));
        }
        out.push_str("\nReports (JSON):\n");
        out.push_str(&serde_json::to_string_pretty(&self.results).unwrap_or_default());
        out
    }
}

/// Publishes the run's notification (if anything happened) and metrics, and
/// logs the summary as one structured line. Failures here become warnings.
pub async fn notify_and_measure<P: Platform>(
    platform: &P,
    config: &Config,
    mut summary: RunSummary,
    points: impl Fn(&Report) -> Vec<MetricPoint>,
) -> RunSummary {
    let mut warnings = Vec::new();
    if let Some(region) = config.destination_region.as_ref() {
        let all: Vec<MetricPoint> = summary
            .results
            .iter()
            .filter(|r| r.status == Status::Completed && r.changed)
            .flat_map(&points)
            .collect();
        if !all.is_empty() {
            let m = platform.metrics(region);
            if let Some(w) = put_best_effort(&m, &all).await {
                warnings.push(w);
            }
        }
    }
    if summary.worth_notifying() {
        if let Some(topic) = &config.alerts_topic_arn {
            match Recipient::sns_topic(topic) {
                Some(to) => {
                    let body = summary.render_text();
                    let n = Notification {
                        to: &to,
                        subject: &summary.summary,
                        body: &body,
                    };
                    if let Some(w) = send_best_effort(&platform.notifier(), n).await {
                        warnings.push(w);
                    }
                }
                None => warnings.push(format!("EFS_DR_ALERTS_TOPIC_ARN '{topic}' is not an SNS topic ARN; no notification sent")),
            }
        }
    }
    for w in warnings {
        for r in summary.results.iter_mut() {
            r.warn(w.clone());
        }
    }
    tracing::info!(
        workflow = summary.workflow,
        status = ?summary.status,
        report = %serde_json::to_string(&summary).unwrap_or_default(),
        "{}",
        summary.summary
    );
    summary
}

async fn send_best_effort<N: Notifier>(notifier: &N, n: Notification<'_>) -> Option<String> {
    match notifier.send(n).await {
        Ok(()) => None,
        Err(e) => Some(format!("notification to {} failed: {e}", n.to.address())),
    }
}

async fn put_best_effort<M: Metrics>(m: &M, points: &[MetricPoint]) -> Option<String> {
    match m.put(points).await {
        Ok(()) => None,
        Err(e) => Some(format!("metrics not published: {e}")),
    }
}
