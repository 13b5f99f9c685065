//! What an alarm state change means for one pair. Pure: the alarm's state
//! and the pair's health were read before.

use super::*;

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
            match &h.witness {
                detector::WitnessSignal::Down { .. } => {}
                detector::WitnessSignal::NotConfigured => blockers.push(
                    "no witness is configured (EFS_DR_WITNESS_ALARM_ARN): from this Region alone a lost Region cannot be told from a partition".into(),
                ),
                detector::WitnessSignal::Serving { detail } => blockers.push(format!(
                    "the witness sees the source serve ({detail}): a partition or an API outage, not a lost Region"
                )),
                detector::WitnessSignal::Unknown { detail } => {
                    blockers.push(format!("the witness cannot confirm the loss: {detail}"))
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
