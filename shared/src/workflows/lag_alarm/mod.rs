//! lag-alarm-handler: replication health seen from the DR Region, and
//! alarm-driven failover that needs several signals to agree. Its rooms:
//! - `probe`: the scheduled probe (observe each pair, publish the metrics);
//! - `detector` (the pure judgement and learned cadence) and `detection`
//!   (its marks and what a lost Region leads to): the region detector;
//! - `alarm_event`, `decide` (pure) and `alarm_path`: the alarm path.

pub mod alarm_event;
#[cfg(test)]
mod decide_props;
#[cfg(test)]
mod decide_tests;
pub mod detector;

mod alarm_path;
mod decide;
mod detection;
mod probe;

pub use alarm_path::*;
pub use decide::*;
pub use detection::*;
pub use probe::*;

use crate::domain::config::{AlarmPolicy, Config, PairConfig};
use crate::domain::error::{Error, Result};
use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::model::{MetricPoint, ReplicationStatus};
use crate::domain::ports::{
    AlarmStatus, CallBudget, Clock, Efs, Metrics, Notification, Notifier, Platform, Recipient,
    SeriesQuery, Statistic,
};
use crate::domain::tags;
use crate::domain::time::iso8601;
use alarm_event::{AlarmEvent, Trigger};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Our namespace; the DR-side alarms in the SAM template watch these.
pub const NAMESPACE: &str = "EfsDr";
pub const LAG_METRIC: &str = "ReplicationLagSeconds";
pub const HEALTHY_METRIC: &str = "ReplicationHealthy";
pub const REACHABLE_METRIC: &str = "SourceRegionReachable";

/// The lag-alarm-handler's entry point for all three triggers, without a deadline.
pub async fn handle_event<P: Platform>(
    platform: &P,
    config: &Config,
    event: Value,
) -> Result<Value> {
    handle_event_within(platform, config, event, None).await
}

/// `handle_event` with the invocation's time left: a probe run stops in time.
pub async fn handle_event_within<P: Platform>(
    platform: &P,
    config: &Config,
    event: Value,
    remaining: Option<Duration>,
) -> Result<Value> {
    let discovered = crate::workflows::discovery::with_discovered_pairs(platform, config).await?;
    let config: &Config = &discovered;
    let mut outputs = Vec::new();
    for trigger in alarm_event::parse(&event)? {
        match trigger {
            Trigger::Probe => outputs.push(probe_within(platform, config, remaining).await?),
            Trigger::Alarm(alarm) => {
                let alarm_region = config.destination_region.clone().ok_or_else(|| {
                    Error::InvalidInput(
                        "the DR Region is not configured (EFS_DR_DESTINATION_REGION or AWS_REGION)"
                            .into(),
                    )
                })?;
                // Only replication-health alarms can lead to a failover; others (readiness,
                // dead-letter queue) are someone else's business.
                let replication_alarm = alarm.metrics.is_empty()
                    || alarm.metrics.iter().any(|m| {
                        matches!(
                            (m.namespace.as_deref(), m.name.as_deref()),
                            (
                                Some(NAMESPACE),
                                Some(LAG_METRIC | HEALTHY_METRIC | REACHABLE_METRIC)
                            ) | (Some("AWS/EFS"), Some("TimeSinceLastSync"))
                        )
                    });
                if !replication_alarm {
                    let out = json!({"trigger": "alarm", "status": "ok", "decision": "ignored",
                        "reason": format!("alarm {} does not watch replication health (it watches {})", alarm.name, alarm_event::describe_metrics(&alarm.metrics)), "alarm": alarm});
                    tracing::info!(record = %out, "alarm decision");
                    outputs.push(out);
                    continue;
                }
                let pairs = pairs_for(&alarm, config);
                if pairs.is_empty() {
                    let out = json!({"trigger": "alarm", "status": "ok", "decision": "ignored",
                        "reason": format!("alarm {} names no configured file system (it watches {})", alarm.name, alarm_event::describe_metrics(&alarm.metrics)), "alarm": alarm});
                    tracing::info!(record = %out, "alarm decision");
                    outputs.push(out);
                    continue;
                }
                let witness = witness_signal(platform, config).await;
                let decisions =
                    decide_and_act(platform, config, &alarm, pairs, &alarm_region, &witness)
                        .await?;
                outputs.push(json!({"trigger": "alarm", "status": "ok", "decisions": decisions}));
            }
        }
    }
    Ok(if outputs.len() == 1 {
        outputs.remove(0)
    } else {
        json!({"status": "ok", "results": outputs})
    })
}
