//! The alarm path: an alarm's state change (or a probe re-reading a held
//! alarm) observed, decided by `decide`, and acted on: a page or a failover
//! request, once per alarm state.

use super::*;

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
pub(super) fn failover_command(config: &Config, h: &PairHealth, mode: &str) -> String {
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
pub(super) fn pairs_for<'a>(alarm: &AlarmEvent, config: &'a Config) -> Vec<&'a PairConfig> {
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
pub(super) async fn observe_and_decide<P: Platform>(
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
pub(super) fn outstanding_request(h: &PairHealth, config: &Config, now: f64) -> bool {
    h.failover_request_sent_at.is_some_and(|t| {
        now - t < config.request_timeout_seconds && h.last_dr_event.is_none_or(|e| t > e)
    })
}

pub(super) async fn publish<P: Platform>(
    platform: &P,
    topic: &Option<String>,
    subject: &str,
    body: &str,
) -> Result<()> {
    if let Some(topic) = topic {
        let to = Recipient::sns_topic(topic)
            .ok_or_else(|| Error::InvalidInput(format!("'{topic}' is not an SNS topic ARN")))?;
        platform
            .notifier()
            .send(Notification {
                to: &to,
                subject,
                body,
            })
            .await?;
    }
    Ok(())
}

/// What one notification is about: an alarm's state change and what was decided.
/// The probe re-decides every minute while an alarm is held; people are told once.
pub(super) fn notification_key(d: &Decision) -> String {
    format!("{} {:.3} {}", d.alarm.name, d.alarm.changed_at, d.decision)
}

pub(super) async fn act<P: Platform>(platform: &P, config: &Config, d: &Decision) -> Result<()> {
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

pub(super) async fn notify<P: Platform>(
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

pub(super) async fn decide_and_act<P: Platform>(
    platform: &P,
    config: &Config,
    alarm: &AlarmEvent,
    pairs: Vec<&PairConfig>,
    alarm_region: &RegionName,
    witness: &detector::WitnessSignal,
) -> Result<Vec<Decision>> {
    let mut reachability = BTreeMap::new();
    let mut decisions = Vec::new();
    for p in pairs {
        let mut h = observe(platform, config, p, &mut reachability).await?;
        h.witness = witness.clone();
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
pub(super) async fn recheck_watched_alarms<P: Platform>(
    platform: &P,
    config: &Config,
    region: &RegionName,
    witness: &detector::WitnessSignal,
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
        out.extend(decide_and_act(platform, config, &alarm, pairs, region, witness).await?);
    }
    Ok(out)
}
