//! lag-alarm-handler: replication health seen from the DR Region, and
//! alarm-driven failover that needs several signals to agree.

pub mod alarm_event;
#[cfg(test)]
mod decide_props;
#[cfg(test)]
mod decide_tests;

use crate::domain::config::{AlarmPolicy, Config, PairConfig};
use crate::domain::error::{Error, Result};
use crate::domain::ids::topic_region;
use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::model::{MetricPoint, ReplicationStatus};
use crate::domain::ports::{AlarmStatus, CallBudget, Clock, Efs, Metrics, Notifier, Platform};
use crate::domain::tags;
use crate::domain::time::iso8601;
use alarm_event::{AlarmEvent, Trigger};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Our namespace; the DR-side alarms in the SAM template watch these.
pub const NAMESPACE: &str = "EfsDr";
pub const LAG_METRIC: &str = "ReplicationLagSeconds";
pub const HEALTHY_METRIC: &str = "ReplicationHealthy";
pub const REACHABLE_METRIC: &str = "SourceRegionReachable";

/// One protected pair as seen from the DR Region.
#[derive(Clone, Debug, Serialize)]
pub struct PairHealth {
    pub source_file_system_id: FileSystemId,
    pub source_region: RegionName,
    pub destination_file_system_id: Option<FileSystemId>,
    pub destination_region: RegionName,
    /// Replication status as the DR Region reports it, or `NONE`.
    pub status: String,
    pub lag_seconds: Option<f64>,
    pub last_replicated: Option<String>,
    pub healthy: bool,
    pub source_region_reachable: bool,
    /// Last failover or failback recorded in the replica's tags (epoch seconds).
    #[serde(skip)]
    pub last_dr_event: Option<f64>,
    #[serde(skip)]
    pub failover_requested_at: Option<f64>,
    /// The alarm state change and decision the alerts topic was last told about.
    #[serde(skip)]
    pub last_notified: Option<String>,
}

fn pair_regions(p: &PairConfig, config: &Config) -> Result<(RegionName, RegionName)> {
    let source = p
        .source_file_system_id
        .arn_region
        .clone()
        .or_else(|| p.source_region.clone())
        .or_else(|| config.source_region.clone())
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "the configured pair of {} has no source_region",
                p.source_file_system_id.id
            ))
        })?;
    let dest = p
        .destination_region
        .clone()
        .or_else(|| config.destination_region.clone())
        .ok_or_else(|| {
            Error::InvalidInput(
                "the DR Region is not configured (EFS_DR_DESTINATION_REGION or AWS_REGION)".into(),
            )
        })?;
    Ok((source, dest))
}

/// Reads one pair's replication from the DR Region and probes the source Region.
async fn observe<P: Platform>(
    platform: &P,
    config: &Config,
    p: &PairConfig,
    reachability: &mut BTreeMap<String, bool>,
) -> Result<PairHealth> {
    let (source_region, dest_region) = pair_regions(p, config)?;
    let efs = platform.efs(&dest_region, CallBudget::Normal);
    let now = platform.clock().now();
    let mut dest = p.destination_file_system_id.as_ref().map(|d| d.id.clone());
    if dest.is_none() {
        dest = efs
            .list_replications()
            .await?
            .into_iter()
            .find(|r| {
                r.source_file_system_id == p.source_file_system_id.id
                    && r.source_region == source_region
            })
            .map(|r| r.destination_file_system_id);
    }
    let (replication, fs) = match &dest {
        Some(d) => (
            efs.describe_replication(d).await?,
            efs.describe_file_system(d).await?,
        ),
        None => (None, None),
    };
    let reachable = match reachability.get(source_region.as_str()) {
        Some(r) => *r,
        None => {
            let r =
                crate::domain::ports::reachable(&platform.efs(&source_region, CallBudget::Short))
                    .await;
            reachability.insert(source_region.to_string(), r);
            r
        }
    };
    let num = |k: &str| {
        fs.as_ref()
            .and_then(|f| f.tag(k))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let last_dr_event = [
        tags::PROMOTED_AT,
        tags::FAILOVER_COMPLETED_AT,
        tags::FAILBACK_COMPLETED_AT,
    ]
    .iter()
    .filter_map(|k| num(k))
    .reduce(f64::max);
    let (status, lrt) = match &replication {
        Some(r) => (
            match &r.status {
                ReplicationStatus::Other(s) => s.clone(),
                s => serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            },
            r.last_replicated,
        ),
        None => ("NONE".to_string(), None),
    };
    Ok(PairHealth {
        source_file_system_id: p.source_file_system_id.id.clone(),
        source_region,
        destination_file_system_id: dest,
        destination_region: dest_region,
        healthy: status == "ENABLED" && lrt.is_some(),
        lag_seconds: lrt.map(|t| ((now - t).max(0.0) * 10.0).round() / 10.0),
        last_replicated: lrt.map(iso8601),
        status,
        source_region_reachable: reachable,
        last_dr_event,
        failover_requested_at: num(tags::FAILOVER_REQUESTED_AT),
        last_notified: fs
            .as_ref()
            .and_then(|f| f.tag(tags::LAST_NOTIFIED))
            .map(str::to_string),
    })
}

fn health_points(h: &PairHealth) -> Vec<MetricPoint> {
    let mut points = vec![MetricPoint {
        name: REACHABLE_METRIC,
        value: if h.source_region_reachable { 1.0 } else { 0.0 },
        unit: "None",
        dimensions: vec![("SourceRegion".to_string(), h.source_region.to_string())],
    }];
    // Without a replica there is no FileSystemId to publish under; an empty
    // dimension value would be a metric that no alarm watches, or worse.
    let Some(dest) = &h.destination_file_system_id else {
        return points;
    };
    let dims = vec![
        ("FileSystemId".to_string(), dest.to_string()),
        (
            "SourceFileSystemId".to_string(),
            h.source_file_system_id.to_string(),
        ),
    ];
    points.push(MetricPoint {
        name: HEALTHY_METRIC,
        value: if h.healthy { 1.0 } else { 0.0 },
        unit: "None",
        dimensions: dims.clone(),
    });
    if let Some(lag) = h.lag_seconds {
        points.push(MetricPoint {
            name: LAG_METRIC,
            value: lag,
            unit: "Seconds",
            dimensions: dims,
        });
    }
    points
}

/// The scheduled probe: observe every configured pair, publish the metrics.
pub async fn probe<P: Platform>(platform: &P, config: &Config) -> Result<Value> {
    if config.pairs.is_empty() {
        return Err(Error::InvalidInput(
            "no protected pairs configured (EFS_DR_PAIRS): nothing to probe".into(),
        ));
    }
    let mut reachability = BTreeMap::new();
    let mut results = Vec::new();
    let mut points = Vec::new();
    let mut errors = Vec::new();
    let mut first_error = None;
    for p in &config.pairs {
        // One pair that cannot be read must not silence the others: their
        // alarms treat missing data as breaching.
        match observe(platform, config, p, &mut reachability).await {
            Ok(h) => {
                points.extend(health_points(&h));
                results.push(h);
            }
            Err(e) => {
                tracing::error!(source_file_system_id = %p.source_file_system_id.id, error = %e, "probe of one pair failed");
                errors.push(json!({
                    "source_file_system_id": p.source_file_system_id.id,
                    "error": e.error_type(),
                    "message": e.to_string(),
                }));
                first_error.get_or_insert(e);
            }
        }
    }
    if results.is_empty() {
        if let Some(e) = first_error {
            // Nothing could be read at all (this Region's own API failing?): an
            // error, so that the invocation is retried and its failure counted.
            return Err(e);
        }
    }
    // One SourceRegionReachable datapoint per Region.
    let mut seen = std::collections::BTreeSet::new();
    points.retain(|p| p.name != REACHABLE_METRIC || seen.insert(p.dimensions.clone()));
    let region = config
        .destination_region
        .clone()
        .or_else(|| results.first().map(|r| r.destination_region.clone()));
    if let Some(region) = region {
        platform.metrics(&region).put(&points).await?;
    }
    let rechecked = match &config.destination_region {
        Some(region) => recheck_watched_alarms(platform, config, region).await?,
        None => Vec::new(),
    };
    let status = if errors.is_empty() { "ok" } else { "partial" };
    let out = json!({"trigger": "probe", "status": status, "pairs": results, "errors": errors, "decisions": rechecked});
    tracing::info!(record = %out, "replication probe");
    Ok(out)
}

/// The decision record: what came in, what was seen, what was decided and why.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    pub alarm: AlarmEvent,
    pub policy: AlarmPolicy,
    pub pair: Option<PairHealth>,
    pub alarm_state_now: Option<String>,
    pub alarm_state_since: Option<String>,
    pub recent_lag: Vec<(String, f64)>,
    /// notify | failover_requested | not_failing_over | resolved | warning | ignored
    pub decision: &'static str,
    pub reason: String,
}

/// A command that works as printed: the Region named, a read timeout longer
/// than the function's own 900 s (so that the CLI neither gives up at its
/// 60 s default nor retries a failover that is still running), and the
/// payload as raw bytes on standard input, read alike by AWS CLI v1 and v2.
fn failover_command(config: &Config, h: &PairHealth, mode: &str) -> String {
    let event = json!({
        "source_file_system_id": h.source_file_system_id,
        "source_region": h.source_region,
        "destination_file_system_id": h.destination_file_system_id,
        "destination_region": h.destination_region,
        "mode": mode,
        "reason": format!("{mode} after alarm"),
    });
    format!(
        "echo '{}' | aws lambda invoke --region {} --function-name {} --cli-read-timeout 910 --payload fileb:///dev/stdin failover-{mode}.json && cat failover-{mode}.json",
        event, h.destination_region, config.failover_function_name
    )
}

/// Which configured pairs an alarm is about, from its metrics' dimensions.
fn pairs_for<'a>(alarm: &AlarmEvent, config: &'a Config) -> Vec<&'a PairConfig> {
    let ids: Vec<&str> = [
        "FileSystemId",
        "DestinationFileSystemId",
        "SourceFileSystemId",
    ]
    .iter()
    .flat_map(|d| alarm.dimension(d))
    .collect();
    let regions = alarm.dimension("SourceRegion");
    config
        .pairs
        .iter()
        .filter(|p| {
            ids.contains(&p.source_file_system_id.id.as_str())
                || p.destination_file_system_id
                    .as_ref()
                    .is_some_and(|d| ids.contains(&d.id.as_str()))
                || p.source_region
                    .as_ref()
                    .or(config.source_region.as_ref())
                    .is_some_and(|r| regions.contains(&r.as_str()))
        })
        .collect()
}

/// Reads the alarm's state now and the pair's recent lag, then decides.
async fn observe_and_decide<P: Platform>(
    platform: &P,
    config: &Config,
    alarm: &AlarmEvent,
    h: PairHealth,
    alarm_region: &RegionName,
) -> Result<Decision> {
    let now = platform.clock().now();
    let metrics = platform.metrics(alarm_region);
    let status = metrics.alarm(&alarm.name).await?;
    let mut recent_lag = Vec::new();
    if let Some(dest) = &h.destination_file_system_id {
        let dims = vec![
            ("FileSystemId".to_string(), dest.to_string()),
            (
                "SourceFileSystemId".to_string(),
                h.source_file_system_id.to_string(),
            ),
        ];
        recent_lag = metrics
            .recent(NAMESPACE, LAG_METRIC, &dims, 1800.0, now)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(t, v)| (iso8601(t), v))
            .collect();
    }
    let (decision, reason) = decide(config, alarm, &h, status.as_ref(), alarm_region, now);
    Ok(Decision {
        alarm: alarm.clone(),
        policy: config.alarm_policy,
        alarm_state_now: status.as_ref().map(|s| s.state.clone()),
        alarm_state_since: status.as_ref().map(|s| iso8601(s.since)),
        recent_lag,
        pair: Some(h),
        decision,
        reason,
    })
}

/// What an alarm state change means for one pair, and why. Pure: the alarm's
/// state now (`status`) and the pair's health were read before.
pub fn decide(
    config: &Config,
    alarm: &AlarmEvent,
    h: &PairHealth,
    status: Option<&AlarmStatus>,
    alarm_region: &RegionName,
    now: f64,
) -> (&'static str, String) {
    // Stale or repeated deliveries never start anything.
    if let Some(event) = h.last_dr_event {
        if alarm.changed_at < event {
            return (
                "ignored",
                format!(
                    "the alarm changed state at {}, before the last failover/failback at {}",
                    iso8601(alarm.changed_at),
                    iso8601(event)
                ),
            );
        }
    }
    if h.failover_requested_at
        .is_some_and(|t| alarm.changed_at <= t)
    {
        return (
            "ignored",
            format!(
                "a failover was already requested for this alarm state change ({})",
                iso8601(alarm.changed_at)
            ),
        );
    }
    match alarm.new_state.as_str() {
        "OK" => ("resolved", format!("alarm {} is OK again", alarm.name)),
        "INSUFFICIENT_DATA" => (
            "warning",
            format!(
                "alarm {} has insufficient data: the metric stops when replication or the Region is gone. Replication {}, lag {}, source Region {}",
                alarm.name,
                h.status,
                h.lag_seconds.map(|l| format!("{l:.0} s")).unwrap_or_else(|| "unknown".into()),
                if h.source_region_reachable { "answers" } else { "does not answer" }
            ),
        ),
        "ALARM" if config.alarm_policy == AlarmPolicy::Notify => (
            "notify",
            "policy notify: a person decides; plan first, then execute".into(),
        ),
        "ALARM" => {
            let mut blockers = Vec::new();
            match status {
                Some(s) if s.state == "ALARM" => {
                    if now - s.since < config.alarm_min_seconds {
                        blockers.push(format!(
                            "in ALARM for {:.0} s, less than the {:.0} s required",
                            now - s.since,
                            config.alarm_min_seconds
                        ));
                    }
                }
                Some(s) => blockers.push(format!(
                    "the alarm is {} now (the message was late or repeated)",
                    s.state
                )),
                None => blockers.push(format!("alarm {} not found in {alarm_region}", alarm.name)),
            }
            if h.source_region_reachable {
                blockers.push(format!(
                    "{} answers: lag alone can be a paused or throttled replication",
                    h.source_region
                ));
            }
            if config.auto_failover_max_rpo_seconds > 0 {
                if let Some(lag) = h
                    .lag_seconds
                    .filter(|l| *l > config.auto_failover_max_rpo_seconds as f64)
                {
                    blockers.push(format!(
                        "the replica is {lag:.0} s behind, beyond the {} s an automatic failover may lose (AutoFailoverMaxRpoSeconds): a person decides",
                        config.auto_failover_max_rpo_seconds
                    ));
                }
            }
            if h.status == "ENABLING" || (h.status == "ENABLED" && h.last_replicated.is_none()) {
                blockers
                    .push("replication is in its initial sync: the replica is incomplete".into());
            }
            if h.destination_file_system_id.is_none() || h.status == "NONE" {
                blockers
                    .push("no replication configuration to promote (already failed over?)".into());
            }
            if let Some(event) = h.last_dr_event {
                if now - event < config.cooldown_seconds {
                    blockers.push(format!(
                        "a failover or failback happened {:.0} s ago, within the {:.0} s cool-down",
                        now - event,
                        config.cooldown_seconds
                    ));
                }
            }
            if blockers.is_empty() {
                (
                    "failover_requested",
                    "every signal agrees: alarm held, source Region unreachable, replica complete, no recent failover".into(),
                )
            } else {
                ("not_failing_over", blockers.join("; "))
            }
        }
        other => ("ignored", format!("unknown alarm state {other}")),
    }
}

async fn publish<P: Platform>(
    platform: &P,
    topic: &Option<String>,
    subject: &str,
    body: &str,
) -> Result<()> {
    if let Some(topic) = topic {
        let region = topic_region(topic)
            .ok_or_else(|| Error::InvalidInput(format!("'{topic}' is not an SNS topic ARN")))?;
        platform
            .notifier(&region)
            .publish(topic, subject, body)
            .await?;
    }
    Ok(())
}

/// What one notification is about: an alarm's state change and what was decided.
/// The probe re-decides every minute while an alarm is held; people are told once.
fn notification_key(d: &Decision) -> String {
    format!("{} {:.3} {}", d.alarm.name, d.alarm.changed_at, d.decision)
}

async fn act<P: Platform>(platform: &P, config: &Config, d: &Decision) -> Result<()> {
    let Some(h) = &d.pair else { return Ok(()) };
    let key = notification_key(d);
    if d.decision != "failover_requested" && h.last_notified.as_deref() == Some(key.as_str()) {
        return Ok(());
    }
    notify(platform, config, d, h).await?;
    // Marked after publishing: a crash in between repeats the message rather than losing it.
    if let Some(dest) = &h.destination_file_system_id {
        if matches!(
            d.decision,
            "notify" | "not_failing_over" | "resolved" | "warning"
        ) {
            platform
                .efs(&h.destination_region, CallBudget::Normal)
                .tag_file_system(dest, &[(tags::LAST_NOTIFIED.to_string(), key)])
                .await?;
        }
    }
    Ok(())
}

async fn notify<P: Platform>(
    platform: &P,
    config: &Config,
    d: &Decision,
    h: &PairHealth,
) -> Result<()> {
    let fs = h
        .destination_file_system_id
        .as_ref()
        .map(|f| f.to_string())
        .unwrap_or_else(|| "?".into());
    let mut body = format!(
        "Alarm {} is {} (changed {}).\nReplica {fs} ({}) of {} ({}): replication {}, lag {}, last replicated {}.\nSource Region {}: {}.\n",
        d.alarm.name,
        d.alarm.new_state,
        iso8601(d.alarm.changed_at),
        h.destination_region,
        h.source_file_system_id,
        h.source_region,
        h.status,
        h.lag_seconds.map(|l| format!("{l:.0} s")).unwrap_or_else(|| "unknown".into()),
        h.last_replicated.clone().unwrap_or_else(|| "never".into()),
        h.source_region,
        if h.source_region_reachable { "answers" } else { "does NOT answer" },
    );
    if !d.recent_lag.is_empty() {
        let recent: Vec<String> = d
            .recent_lag
            .iter()
            .rev()
            .take(10)
            .map(|(t, v)| format!("{t} {v:.0}s"))
            .collect();
        body.push_str(&format!(
            "Recent lag (newest first): {}\n",
            recent.join(", ")
        ));
    }
    body.push_str(&format!("Decision: {} - {}\n", d.decision, d.reason));
    match d.decision {
        "failover_requested" => {
            let topic = config.failover_topic_arn.clone().ok_or_else(|| {
                Error::InvalidInput("policy auto_failover needs EFS_DR_FAILOVER_TOPIC_ARN (the failover-requests topic)".into())
            })?;
            // Marked first: a duplicate delivery sees the mark and stops, even if this run dies after publishing.
            if let Some(dest) = &h.destination_file_system_id {
                platform
                    .efs(&h.destination_region, CallBudget::Normal)
                    .tag_file_system(
                        dest,
                        &[(
                            tags::FAILOVER_REQUESTED_AT.to_string(),
                            format!("{:.3}", d.alarm.changed_at),
                        )],
                    )
                    .await?;
            }
            let request = json!({
                "source_file_system_id": h.source_file_system_id,
                "source_region": h.source_region,
                "destination_file_system_id": h.destination_file_system_id,
                "destination_region": h.destination_region,
                "mode": "execute",
                "reason": format!("lag-alarm-handler: alarm {} in ALARM since {}; {}", d.alarm.name, iso8601(d.alarm.changed_at), d.reason),
            });
            publish(
                platform,
                &Some(topic),
                "efs-dr failover request",
                &request.to_string(),
            )
            .await?;
            body.push_str(
                "A failover request was published; the failover function is running it.\n",
            );
            publish(
                platform,
                &config.alerts_topic_arn,
                &format!("efs-dr: automatic failover of {fs} started"),
                &body,
            )
            .await
        }
        "notify" | "not_failing_over" => {
            body.push_str(&format!(
                "\nTo fail over, plan first:\n  {}\nthen execute:\n  {}\n",
                failover_command(config, h, "plan"),
                failover_command(config, h, "execute")
            ));
            let subject = if d.decision == "notify" {
                format!("efs-dr: replication alarm for {fs}, failover needs a decision")
            } else {
                format!("efs-dr: alarm for {fs}, not failing over automatically")
            };
            publish(platform, &config.alerts_topic_arn, &subject, &body).await
        }
        "resolved" => {
            publish(
                platform,
                &config.alerts_topic_arn,
                &format!("efs-dr: replication alarm for {fs} resolved"),
                &body,
            )
            .await
        }
        "warning" => {
            publish(
                platform,
                &config.alerts_topic_arn,
                &format!("efs-dr: replication alarm for {fs} has no data"),
                &body,
            )
            .await
        }
        _ => Ok(()),
    }
}

async fn decide_and_act<P: Platform>(
    platform: &P,
    config: &Config,
    alarm: &AlarmEvent,
    pairs: Vec<&PairConfig>,
    alarm_region: &RegionName,
) -> Result<Vec<Decision>> {
    let mut reachability = BTreeMap::new();
    let mut decisions = Vec::new();
    for p in pairs {
        let h = observe(platform, config, p, &mut reachability).await?;
        let d = observe_and_decide(platform, config, alarm, h, alarm_region).await?;
        act(platform, config, &d).await?;
        tracing::info!(record = %serde_json::to_string(&d).unwrap_or_default(), "alarm decision");
        decisions.push(d);
    }
    Ok(decisions)
}

/// An alarm notification comes once, when the state changes; the required time
/// in ALARM has not passed yet then. So each probe re-reads the watched alarms
/// and decides again while one stays in ALARM (marks make that idempotent).
async fn recheck_watched_alarms<P: Platform>(
    platform: &P,
    config: &Config,
    region: &RegionName,
) -> Result<Vec<Decision>> {
    let mut out = Vec::new();
    if config.alarm_policy != AlarmPolicy::AutoFailover {
        return Ok(out);
    }
    let metrics = platform.metrics(region);
    for name in &config.watched_alarms {
        let Some(status) = metrics.alarm(name).await? else {
            continue;
        };
        if status.state != "ALARM" {
            continue;
        }
        let alarm = AlarmEvent {
            name: name.clone(),
            new_state: status.state.clone(),
            old_state: None,
            changed_at: status.since,
            reason: Some("re-checked by the probe while in ALARM".into()),
            description: None,
            metrics: Vec::new(),
            delivery: "probe",
        };
        // Watched alarm names carry the replica's ID; with one pair, it is that one.
        let pairs: Vec<&PairConfig> = config
            .pairs
            .iter()
            .filter(|p| {
                config.pairs.len() == 1
                    || p.destination_file_system_id
                        .as_ref()
                        .is_some_and(|d| name.contains(d.id.as_str()))
            })
            .collect();
        out.extend(decide_and_act(platform, config, &alarm, pairs, region).await?);
    }
    Ok(out)
}

/// The lag-alarm-handler's entry point for all three triggers.
pub async fn handle_event<P: Platform>(
    platform: &P,
    config: &Config,
    event: Value,
) -> Result<Value> {
    let discovered = crate::workflows::discovery::with_discovered_pairs(platform, config).await?;
    let config: &Config = &discovered;
    let mut outputs = Vec::new();
    for trigger in alarm_event::parse(&event)? {
        match trigger {
            Trigger::Probe => outputs.push(probe(platform, config).await?),
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
                let decisions =
                    decide_and_act(platform, config, &alarm, pairs, &alarm_region).await?;
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
