//! lag-alarm-handler: replication health seen from the DR Region, and
//! alarm-driven failover that needs several signals to agree.

pub mod alarm_event;
#[cfg(test)]
mod decide_props;
#[cfg(test)]
mod decide_tests;
pub mod detector;

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
    /// The detector's memory, from the replica's tag: (since, failed probes).
    #[serde(skip)]
    pub unreachable_mark: Option<(f64, u32)>,
    /// `efs-dr:maintenance` on the replica.
    #[serde(skip)]
    pub maintenance: bool,
    /// LastReplicatedTimestamp as read (epoch seconds): the detector judges
    /// the stall from it, not from a lag measured earlier in the run.
    #[serde(skip)]
    pub last_replicated_epoch: Option<f64>,
    /// When a failover request was sent for the failure the mark names.
    #[serde(skip)]
    pub failover_request_sent_at: Option<f64>,
    /// The detector's last page: `SOURCE_REGION SINCE DECISION`.
    #[serde(skip)]
    pub detector_notified: Option<String>,
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
        // Only a configuration into the replica: after a failback the replica
        // may be the source of one, which is not this pair's protection.
        Some(d) => (
            efs.describe_replication(d)
                .await?
                .filter(|r| &r.destination_file_system_id == d),
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
    // `FAILURE_START [SENT_AT]`: which failure a request was for, and when it went out.
    let requested = fs
        .as_ref()
        .and_then(|f| f.tag(tags::FAILOVER_REQUESTED_AT))
        .and_then(parse_requested_mark);
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
        failover_requested_at: requested.map(|(since, _)| since),
        failover_request_sent_at: requested.map(|(since, sent)| sent.unwrap_or(since)),
        last_replicated_epoch: lrt,
        detector_notified: fs
            .as_ref()
            .and_then(|f| f.tag(tags::DETECTOR_NOTIFIED))
            .map(str::to_string),
        last_notified: fs
            .as_ref()
            .and_then(|f| f.tag(tags::LAST_NOTIFIED))
            .map(str::to_string),
        unreachable_mark: fs
            .as_ref()
            .and_then(|f| f.tag(tags::SOURCE_UNREACHABLE_SINCE))
            .and_then(parse_unreachable_mark),
        maintenance: fs
            .as_ref()
            .is_some_and(|f| f.tag(tags::MAINTENANCE).is_some()),
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

fn parse_requested_mark(v: &str) -> Option<(f64, Option<f64>)> {
    let mut parts = v.split_whitespace();
    let since = parts.next()?.parse().ok()?;
    Some((since, parts.next().and_then(|t| t.parse().ok())))
}

fn requested_mark_value(since: f64, sent_at: f64) -> String {
    format!("{since:.3} {sent_at:.3}")
}

fn parse_unreachable_mark(v: &str) -> Option<(f64, u32)> {
    let (since, count) = v.split_once(' ')?;
    Some((since.parse().ok()?, count.parse().ok()?))
}

fn unreachable_mark_value(s: &detector::SourceSignal) -> String {
    match s.unreachable_since {
        Some(since) => format!("{since:.3} {}", s.failed_probes),
        None => tags::NONE.to_string(),
    }
}

/// Folds this run's probes (in time order) into what earlier runs saw.
fn fold_samples(previous: Option<(f64, u32)>, samples: &[(f64, bool)]) -> detector::SourceSignal {
    let (mut since, mut failed) = match previous {
        Some((s, n)) => (Some(s), n),
        None => (None, 0),
    };
    for (at, answered) in samples {
        if *answered {
            since = None;
            failed = 0;
        } else {
            since.get_or_insert(*at);
            failed += 1;
        }
    }
    detector::SourceSignal {
        unreachable_since: since,
        failed_probes: failed,
    }
}

/// Our own Region's EFS API must answer cleanly: a throttled or failing DR
/// side says nothing about the source.
async fn dr_health<P: Platform>(
    platform: &P,
    region: &RegionName,
) -> std::result::Result<(), String> {
    platform
        .efs(region, CallBudget::Short)
        .probe()
        .await
        .map_err(|e| e.to_string())
}

/// The longest lag the pair showed in the 3 hours before `until`: its own
/// cadence of syncs, as this probe has been publishing it.
async fn learned_sync_gap<P: Platform>(
    platform: &P,
    region: &RegionName,
    h: &PairHealth,
    until: f64,
) -> Option<f64> {
    let dest = h.destination_file_system_id.as_ref()?;
    let dims = vec![
        ("FileSystemId".to_string(), dest.to_string()),
        (
            "SourceFileSystemId".to_string(),
            h.source_file_system_id.to_string(),
        ),
    ];
    let points = platform
        .metrics(region)
        .recent(NAMESPACE, LAG_METRIC, &dims, 3.0 * 3600.0, until)
        .await
        .ok()?;
    // Minutes that ended before the failure: a later one may hold lag taken after it.
    points
        .into_iter()
        .filter(|(t, _)| *t + 60.0 <= until)
        .map(|(_, v)| v)
        .reduce(f64::max)
}

/// One detector record: a pair, its verdict, the signals and what was done.
#[derive(Clone, Debug, Serialize)]
pub struct Detection {
    pub source_file_system_id: FileSystemId,
    pub source_region: RegionName,
    pub destination_file_system_id: Option<FileSystemId>,
    #[serde(flatten)]
    pub judgement: detector::Judgement,
    /// failover_requested | notify | suppressed | none
    pub decision: &'static str,
}

/// Publishes one failover request for the failure that began at
/// `failure_start`, unless one is already out for it: the replica's mark is
/// read again just before (another probe run, or the other path, may have
/// sent one since this run read it), set first, and restored if the publish
/// fails, so that a lost request never blocks the next attempt. Returns
/// whether a request went out.
async fn request_failover<P: Platform>(
    platform: &P,
    config: &Config,
    h: &PairHealth,
    failure_start: f64,
    reason: &str,
) -> Result<bool> {
    let Some(dest) = &h.destination_file_system_id else {
        return Ok(false);
    };
    let topic = config.failover_topic_arn.clone().ok_or_else(|| {
        Error::InvalidInput(
            "policy auto_failover needs EFS_DR_FAILOVER_TOPIC_ARN (the failover-requests topic)"
                .into(),
        )
    })?;
    let efs = platform.efs(&h.destination_region, CallBudget::Normal);
    let now = platform.clock().now();
    let previous = efs
        .describe_file_system(dest)
        .await?
        .and_then(|f| f.tag(tags::FAILOVER_REQUESTED_AT).map(str::to_string));
    let fresh = PairHealth {
        failover_requested_at: previous
            .as_deref()
            .and_then(parse_requested_mark)
            .map(|(since, _)| since),
        failover_request_sent_at: previous
            .as_deref()
            .and_then(parse_requested_mark)
            .map(|(since, sent)| sent.unwrap_or(since)),
        ..h.clone()
    };
    if fresh
        .failover_requested_at
        .is_some_and(|t| failure_start <= t)
        || outstanding_request(&fresh, config, now)
    {
        return Ok(false);
    }
    efs.tag_file_system(
        dest,
        &[(
            tags::FAILOVER_REQUESTED_AT.to_string(),
            requested_mark_value(failure_start, now),
        )],
    )
    .await?;
    let mut request = json!({
        "source_file_system_id": h.source_file_system_id,
        "source_region": h.source_region,
        "destination_file_system_id": dest,
        "destination_region": h.destination_region,
        "mode": "execute",
        "reason": reason,
    });
    // The region detector has confirmed the source silent: a full delete
    // would fail, or (as AWS may do) be accepted and hang until the Region
    // returns, and end in a local-only delete either way, minutes later.
    // Ask for the local-only delete at once; the failover still refuses it
    // (SourceReachable) if the source answers by then, and failback cleans
    // up the side left behind.
    if config.detector.enabled {
        request["deletion_mode"] = json!("LOCAL_CONFIGURATION_ONLY");
    }
    if let Err(e) = publish(
        platform,
        &Some(topic),
        "efs-dr failover request",
        &request.to_string(),
    )
    .await
    {
        let restore = previous.unwrap_or_else(|| tags::NONE.to_string());
        if let Err(e2) = efs
            .tag_file_system(dest, &[(tags::FAILOVER_REQUESTED_AT.to_string(), restore)])
            .await
        {
            tracing::error!(error = %e2, "could not take back the failover-requested mark after a failed publish");
        }
        return Err(e);
    }
    Ok(true)
}

/// Judges every observed pair from this run's probes, and acts on a verdict
/// of a lost Region once per failure.
async fn detect<P: Platform>(
    platform: &P,
    config: &Config,
    results: &[PairHealth],
    samples: &BTreeMap<String, Vec<(f64, bool)>>,
    dr_region: &RegionName,
) -> Result<Vec<Detection>> {
    let dr = dr_health(platform, dr_region).await;
    let now = platform.clock().now();
    let mut out = Vec::new();
    let mut plans_left = MAX_PLANS_PER_RUN;
    for h in results {
        let mut source = fold_samples(
            h.unreachable_mark,
            samples
                .get(h.source_region.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default(),
        );
        // Past the confirmation count, more failures change nothing: the
        // mark stops changing, so an outage does not cost a tag write per
        // pair per minute.
        source.failed_probes = source.failed_probes.min(config.detector.min_failed_probes);
        let (judgement, decision) = match judge_and_act(
            platform,
            config,
            h,
            &mut source,
            dr.clone(),
            dr_region,
            now,
            &mut plans_left,
        )
        .await
        {
            Ok(done) => done,
            // One pair that cannot be judged must not stop the others.
            Err(e) => {
                tracing::error!(source_file_system_id = %h.source_file_system_id, error = %e, "region detector: one pair failed");
                (
                    detector::Judgement {
                        verdict: detector::Verdict::Suspected,
                        signals: Vec::new(),
                        reason: format!("could not be judged this run: {e}"),
                        since: source.unreachable_since,
                    },
                    "error",
                )
            }
        };
        let d = Detection {
            source_file_system_id: h.source_file_system_id.clone(),
            source_region: h.source_region.clone(),
            destination_file_system_id: h.destination_file_system_id.clone(),
            judgement,
            decision,
        };
        if d.judgement.verdict != detector::Verdict::Healthy {
            tracing::info!(record = %serde_json::to_string(&d).unwrap_or_default(), "region detector");
        }
        out.push(d);
    }
    Ok(out)
}

/// A failover plan per page makes a probe run longer (it probes the silent
/// source): in a large fleet, the first pages carry one, the rest the commands.
const MAX_PLANS_PER_RUN: usize = 10;

#[allow(clippy::too_many_arguments)]
async fn judge_and_act<P: Platform>(
    platform: &P,
    config: &Config,
    h: &PairHealth,
    source: &mut detector::SourceSignal,
    dr: std::result::Result<(), String>,
    dr_region: &RegionName,
    now: f64,
    plans_left: &mut usize,
) -> Result<(detector::Judgement, &'static str)> {
    let stored = h
        .unreachable_mark
        .map(|(s, n)| format!("{s:.3} {n}"))
        .unwrap_or_else(|| tags::NONE.to_string());
    // With our own side unhealthy, new failures are not counted (they may be
    // ours), but a source that answered is always remembered.
    if dr.is_err() && source.unreachable_since.is_some() {
        *source = match h.unreachable_mark {
            Some((since, n)) => detector::SourceSignal {
                unreachable_since: Some(since),
                failed_probes: n,
            },
            None => detector::SourceSignal {
                unreachable_since: None,
                failed_probes: 0,
            },
        };
    }
    let value = unreachable_mark_value(source);
    if let Some(dest) = &h.destination_file_system_id {
        // Written when it changes only.
        if value != stored && (h.unreachable_mark.is_some() || source.unreachable_since.is_some()) {
            platform
                .efs(&h.destination_region, CallBudget::Normal)
                .tag_file_system(dest, &[(tags::SOURCE_UNREACHABLE_SINCE.to_string(), value)])
                .await?;
        }
    }
    let learned = match source.unreachable_since {
        Some(since) => learned_sync_gap(platform, dr_region, h, since).await,
        None => None,
    };
    let pair = detector::PairSignal {
        status: h.status.clone(),
        last_replicated: h.last_replicated_epoch,
        learned_sync_gap: learned,
        maintenance: h.maintenance,
    };
    let judgement = detector::judge(now, dr, source, &pair, &config.detector);
    let decision = act_on_detection(platform, config, h, &judgement, now, plans_left).await?;
    Ok((judgement, decision))
}

fn signals_text(j: &detector::Judgement) -> String {
    j.signals
        .iter()
        .map(|s| {
            format!(
                "  [{}] {}{}: {}",
                if s.agrees { "x" } else { " " },
                s.name,
                s.since
                    .map(|t| format!(" (since {})", iso8601(t)))
                    .unwrap_or_default(),
                s.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A lost Region: request the failover (auto_failover) or tell a person with
/// the plan (notify); a suppressed one is told once. Marks make each happen
/// once per failure, however many probe runs see it.
async fn act_on_detection<P: Platform>(
    platform: &P,
    config: &Config,
    h: &PairHealth,
    j: &detector::Judgement,
    now: f64,
    plans_left: &mut usize,
) -> Result<&'static str> {
    use detector::Verdict;
    let (Some(dest), Some(since)) = (&h.destination_file_system_id, j.since) else {
        return Ok("none");
    };
    if !matches!(j.verdict, Verdict::RegionLost | Verdict::Suppressed) {
        return Ok("none");
    }
    // Already failed over (or back) since this failure began: nothing to do.
    if h.last_dr_event.is_some_and(|e| e >= since) {
        return Ok("none");
    }
    let fs = dest.to_string();
    let efs = platform.efs(&h.destination_region, CallBudget::Normal);
    let mut body = format!(
        "The source Region {} of {} looks lost, as seen from {} at {}.\n{}\n\nSignals:\n{}\n",
        h.source_region,
        h.source_file_system_id,
        h.destination_region,
        iso8601(now),
        j.reason,
        signals_text(j)
    );
    let in_cooldown = h
        .last_dr_event
        .is_some_and(|e| now - e < config.cooldown_seconds);
    let lag = h.last_replicated_epoch.map(|t| now - t);
    let beyond_cap = config.auto_failover_max_rpo_seconds > 0
        && lag.is_some_and(|l| l > config.auto_failover_max_rpo_seconds as f64);
    let auto = config.alarm_policy == AlarmPolicy::AutoFailover
        && j.verdict == Verdict::RegionLost
        && !in_cooldown
        && !beyond_cap;
    if auto {
        if h.failover_requested_at.is_some_and(|t| t >= since)
            || outstanding_request(h, config, now)
        {
            return Ok("none");
        }
        let reason = format!("region detector: {}", j.reason);
        if !request_failover(platform, config, h, since, &reason).await? {
            return Ok("none");
        }
        body.push_str("\nPolicy auto_failover: a failover request was published; the failover function is running it.\n");
        publish(
            platform,
            &config.alerts_topic_arn,
            &format!(
                "efs-dr: {} looks lost, automatic failover of {fs} started",
                h.source_region
            ),
            &body,
        )
        .await?;
        return Ok("failover_requested");
    }
    let decision = if j.verdict == Verdict::Suppressed {
        "suppressed"
    } else {
        "notify"
    };
    let key = format!("{} {since:.3} {decision}", h.source_region);
    if h.detector_notified.as_deref() == Some(key.as_str()) {
        return Ok("none");
    }
    if j.verdict == Verdict::RegionLost && config.alarm_policy == AlarmPolicy::AutoFailover {
        if in_cooldown {
            body.push_str(
                "\nNo automatic failover: a failover or failback happened within the cool-down.\n",
            );
        }
        if beyond_cap {
            body.push_str(&format!(
                "\nNo automatic failover: the replica is {:.0} s behind, beyond the {} s an automatic failover may lose (AutoFailoverMaxRpoSeconds); a person decides.\n",
                lag.unwrap_or_default(),
                config.auto_failover_max_rpo_seconds
            ));
        }
    }
    // The plan, as a person would get it by running the first command below.
    let with_plan = *plans_left > 0;
    *plans_left = plans_left.saturating_sub(1);
    let plan_request = crate::workflows::failover::FailoverRequest {
        source_file_system_id: Some(crate::domain::ids::FileSystemRef {
            id: h.source_file_system_id.clone(),
            arn_region: None,
        }),
        source_region: Some(h.source_region.clone()),
        destination_file_system_id: Some(crate::domain::ids::FileSystemRef {
            id: dest.clone(),
            arn_region: None,
        }),
        destination_region: Some(h.destination_region.clone()),
        mode: Some(crate::domain::modes::Mode::Plan),
        reason: Some("region detector".into()),
        ..Default::default()
    };
    let plan = if with_plan {
        let quiet = Config {
            alerts_topic_arn: None,
            ..config.clone()
        };
        Some(crate::workflows::failover::run(platform, &quiet, &plan_request, None).await)
    } else {
        None
    };
    match plan {
        None => body.push_str(
            "\nNo plan attached (many pairs paged in this run): run the plan command below.\n",
        ),
        Some(Ok(plan)) => {
            body.push_str(&format!("\nThe failover plan: {}\n", plan.summary));
            if let Some(rp) = plan.results.first().and_then(|r| r.recovery_point.as_ref()) {
                body.push_str(&format!(
                    "Recovery point: writes after {} ({:.0} s) are not on the replica.\n",
                    rp.last_replicated_timestamp, rp.recovery_point_seconds
                ));
            }
            for w in plan.results.iter().flat_map(|r| r.warnings.iter()) {
                body.push_str(&format!("  warning: {w}\n"));
            }
        }
        Some(Err(e)) => body.push_str(&format!("\nThe failover plan could not be made: {e}\n")),
    }
    body.push_str(&format!(
        "\nTo fail over, plan first:\n  {}\nthen execute:\n  {}\n",
        failover_command(config, h, "plan"),
        failover_command(config, h, "execute")
    ));
    let subject = if decision == "suppressed" {
        format!(
            "efs-dr: {} looks lost, no automatic failover of {fs} (a person decides)",
            h.source_region
        )
    } else {
        format!(
            "efs-dr: {} looks lost, failover of {fs} needs a decision",
            h.source_region
        )
    };
    publish(platform, &config.alerts_topic_arn, &subject, &body).await?;
    efs.tag_file_system(dest, &[(tags::DETECTOR_NOTIFIED.to_string(), key)])
        .await?;
    Ok(decision)
}

/// The scheduled probe: observe every configured pair, publish the metrics.
pub async fn probe<P: Platform>(platform: &P, config: &Config) -> Result<Value> {
    if config.pairs.is_empty() {
        return Err(Error::InvalidInput(
            "no protected pairs configured (EFS_DR_PAIRS): nothing to probe".into(),
        ));
    }
    let started = platform.clock().now();
    let mut reachability = BTreeMap::new();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let mut first_error = None;
    for p in &config.pairs {
        // One pair that cannot be read must not silence the others: their
        // alarms treat missing data as breaching.
        match observe(platform, config, p, &mut reachability).await {
            Ok(h) => results.push(h),
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
    let region = config
        .destination_region
        .clone()
        .or_else(|| results.first().map(|r| r.destination_region.clone()));
    let mut points: Vec<MetricPoint> = results
        .iter()
        .flat_map(health_points)
        .filter(|p| p.name != REACHABLE_METRIC)
        .collect();
    if let Some(region) = &region {
        if let Err(e) = platform.metrics(region).put(&points).await {
            tracing::error!(error = %e, "replication metrics not published");
        }
    }
    // Several probes a minute: the schedule runs once a minute, so the run
    // itself probes the source Regions again, spaced, before judging.
    let mut samples: BTreeMap<String, Vec<(f64, bool)>> = reachability
        .iter()
        .map(|(r, ok)| (r.clone(), vec![(started, *ok)]))
        .collect();
    for _ in 1..config.detector.probes_per_run.max(1) {
        platform.clock().sleep(config.detector.probe_spacing).await;
        for (source_region, seen) in samples.iter_mut() {
            let Ok(r) = RegionName::parse(source_region) else {
                continue;
            };
            let ok = crate::domain::ports::reachable(&platform.efs(&r, CallBudget::Short)).await;
            seen.push((platform.clock().now(), ok));
        }
    }
    // One SourceRegionReachable datapoint per Region and run: 1 when any probe answered.
    points = samples
        .iter()
        .map(|(r, seen)| MetricPoint {
            name: REACHABLE_METRIC,
            value: if seen.iter().any(|(_, ok)| *ok) {
                1.0
            } else {
                0.0
            },
            unit: "None",
            dimensions: vec![("SourceRegion".to_string(), r.clone())],
        })
        .collect();
    for h in results.iter_mut() {
        h.source_region_reachable = samples
            .get(h.source_region.as_str())
            .is_some_and(|seen| seen.iter().any(|(_, ok)| *ok));
    }
    let detections = match &region {
        Some(region) => {
            // A metric that cannot be published must not stop the judgement.
            if let Err(e) = platform.metrics(region).put(&points).await {
                tracing::error!(error = %e, "SourceRegionReachable not published");
            }
            if config.detector.enabled {
                detect(platform, config, &results, &samples, region).await?
            } else {
                Vec::new()
            }
        }
        None => Vec::new(),
    };
    let rechecked = match &config.destination_region {
        Some(region) => recheck_watched_alarms(platform, config, region).await?,
        None => Vec::new(),
    };
    let status = if errors.is_empty() { "ok" } else { "partial" };
    let out = json!({"trigger": "probe", "status": status, "pairs": results, "errors": errors,
                     "detections": detections, "decisions": rechecked});
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

/// A failover request (by the alarm path or the region detector) that no
/// failover has answered yet and that is younger than the cool-down: the
/// other path must not request a second one for the same failure.
fn outstanding_request(h: &PairHealth, config: &Config, now: f64) -> bool {
    h.failover_request_sent_at
        .is_some_and(|t| now - t < config.cooldown_seconds && h.last_dr_event.is_none_or(|e| t > e))
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
        .is_some_and(|t| alarm.changed_at <= t || outstanding_request(h, config, now))
    {
        return (
            "ignored",
            format!(
                "a failover was already requested for this failure ({})",
                iso8601(h.failover_requested_at.unwrap_or(alarm.changed_at))
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
            } else if config.detector.enabled {
                // "Unreachable" as the region detector confirms it, not one
                // run's probes: a blip while the alarm is held is not a loss.
                let d = &config.detector;
                let confirmed = h
                    .unreachable_mark
                    .is_some_and(|(since, n)| now - since >= d.confirm_seconds && n >= d.min_failed_probes);
                if !confirmed {
                    blockers.push(format!(
                        "{} has not been silent long enough to count as lost ({}; the region detector needs {:.0} s and {} probes)",
                        h.source_region,
                        h.unreachable_mark
                            .map(|(since, n)| format!("{:.0} s, {n} probes", now - since))
                            .unwrap_or_else(|| "this run only".into()),
                        d.confirm_seconds,
                        d.min_failed_probes
                    ));
                }
            }
            if h.maintenance {
                blockers.push(
                    "the pair is in a maintenance window (efs-dr:maintenance on the replica)"
                        .into(),
                );
            }
            if matches!(h.status.as_str(), "PAUSED" | "PAUSING" | "ERROR" | "DELETING") {
                blockers.push(format!("replication is {}: a person decides", h.status));
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
            let reason = format!(
                "lag-alarm-handler: alarm {} in ALARM since {}; {}",
                d.alarm.name,
                iso8601(d.alarm.changed_at),
                d.reason
            );
            if !request_failover(platform, config, h, d.alarm.changed_at, &reason).await? {
                return Ok(());
            }
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
