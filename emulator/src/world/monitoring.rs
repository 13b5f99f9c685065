//! The world's minute tick, CloudWatch's part of emulated time: each minute
//! the AWS/EFS metrics (TimeSinceLastSync, ClientConnections,
//! DataWriteIOBytes) are published and every alarm is evaluated; a state
//! change runs the alarm's actions, which publish to SNS topics.

use super::alarms::{alarm_message, compare, comparison_words, region_long_name};
use super::clock::iso8601_alarm;
use super::fanout::publish_internal;
use super::metrics::{data_write_io_bytes, single, Datapoint};
use super::model::{LifeCycle, SideState, World};

pub fn publish(world: &mut World, region: &str, d: Datapoint) {
    let now = world.now;
    world.region_mut(region).metrics.insert(d, now);
}

/// Every emulated minute: AWS/EFS metrics, then alarm evaluation.
pub fn on_minute(world: &mut World, t: f64) {
    let mut points = Vec::new();
    for rep in &world.replications {
        if rep.source_side != SideState::Present || !world.is_reachable(&rep.source_region) {
            continue;
        }
        if let Some(last) = rep.last_replicated {
            points.push((
                rep.source_region.clone(),
                single(
                    "AWS/EFS",
                    "TimeSinceLastSync",
                    vec![
                        ("FileSystemId".into(), rep.source_file_system_id.clone()),
                        (
                            "DestinationFileSystemId".into(),
                            rep.destination_file_system_id.clone(),
                        ),
                    ],
                    t,
                    (t - last).max(0.0),
                    "Seconds",
                ),
            ));
        }
    }
    let sparse = world.variants.sparse_io_metrics;
    for (name, region) in world.regions.iter_mut() {
        let up = !region.faults.region_down();
        for fs in region.file_systems.values_mut() {
            // The minute's writes are counted whether or not they can be published.
            let io = fs.write_io.take();
            if !up {
                continue;
            }
            if fs.life_cycle == LifeCycle::Available {
                // Stamped with the start of the minute the bytes were written in.
                if let Some(d) = data_write_io_bytes(&fs.id, t - 60.0, io, sparse) {
                    points.push((name.clone(), d));
                }
            }
            points.push((
                name.clone(),
                single(
                    "AWS/EFS",
                    "ClientConnections",
                    vec![("FileSystemId".into(), fs.id.clone())],
                    t,
                    fs.connected_clients as f64,
                    "Count",
                ),
            ));
        }
    }
    for (region, d) in points {
        publish(world, &region, d);
    }
    world.publish_witnesses(t);
    evaluate_alarms(world, t);
}

pub fn evaluate_alarms(world: &mut World, t: f64) {
    let regions: Vec<String> = world.regions.keys().cloned().collect();
    for region in regions {
        if !world.is_reachable(&region) {
            continue;
        }
        let names: Vec<String> = world.region_mut(&region).alarms.keys().cloned().collect();
        for name in names {
            let r = world.region_mut(&region);
            let Some(alarm) = r.alarms.get(&name) else {
                continue;
            };
            let Some((metric, stat, period)) = alarm.watched() else {
                continue;
            };
            let Some(threshold) = alarm.threshold else {
                continue;
            };
            let n = alarm.evaluation_periods.max(1) as usize;
            let m = alarm.datapoints_to_alarm.unwrap_or(n as i64).max(1) as usize;
            // Most recent complete period first: the one that ended at this minute.
            let values: Vec<Option<f64>> = (0..n)
                .map(|i| {
                    let to = t - i as f64 * period;
                    r.metrics
                        .aggregate(&metric, to - period, to)
                        .and_then(|a| a.stat(&stat))
                })
                .collect();
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let breaching_present = present
                .iter()
                .filter(|v| compare(&alarm.comparison, **v, threshold))
                .count();
            let missing = n - present.len();
            let new_state = match alarm.treat_missing_data.as_str() {
                "breaching" => Some(if breaching_present + missing >= m {
                    "ALARM"
                } else {
                    "OK"
                }),
                "notBreaching" => Some(if breaching_present >= m {
                    "ALARM"
                } else {
                    "OK"
                }),
                "ignore" if present.is_empty() => None,
                _ if present.is_empty() => Some("INSUFFICIENT_DATA"),
                // With fewer datapoints than M, CloudWatch alarms when every present one breaches.
                _ if present.len() < m => Some(if breaching_present == present.len() {
                    "ALARM"
                } else {
                    "OK"
                }),
                _ => Some(if breaching_present >= m {
                    "ALARM"
                } else {
                    "OK"
                }),
            };
            let Some(new_state) = new_state else { continue };
            if new_state == alarm.state {
                continue;
            }
            let shown: Vec<String> = present
                .iter()
                .take(m.max(1))
                .map(|v| format!("{v:.1}"))
                .collect();
            let reason = match new_state {
                "INSUFFICIENT_DATA" => format!("Insufficient Data: {n} datapoints were unknown."),
                "ALARM" => format!(
                    "Threshold Crossed: {} datapoint{} [{}] {} the threshold ({threshold:.1}).",
                    shown.len(),
                    if shown.len() == 1 { " was" } else { "s were" },
                    shown.join(", "),
                    comparison_words(&alarm.comparison)
                ),
                _ => format!(
                    "Threshold Crossed: {} datapoint{} [{}] not {} the threshold ({threshold:.1}).",
                    shown.len(),
                    if shown.len() == 1 { " was" } else { "s were" },
                    shown.join(", "),
                    comparison_words(&alarm.comparison)
                ),
            };
            let reason_data = serde_json::json!({
                "version": "1.0",
                "queryDate": iso8601_alarm(t),
                "statistic": stat,
                "period": period,
                "recentDatapoints": present,
                "threshold": threshold,
            })
            .to_string();
            transition(
                world,
                &region,
                &name,
                new_state,
                &reason,
                Some(reason_data),
                t,
            );
        }
    }
}

/// Changes an alarm's state and runs the actions for the new state.
pub fn transition(
    world: &mut World,
    region: &str,
    name: &str,
    new_state: &str,
    reason: &str,
    reason_data: Option<String>,
    t: f64,
) {
    let account = world.account_id.clone();
    let r = world.region_mut(region);
    let Some(alarm) = r.alarms.get_mut(name) else {
        return;
    };
    let old_state = std::mem::replace(&mut alarm.state, new_state.to_string());
    alarm.state_reason = reason.to_string();
    alarm.state_reason_data = reason_data;
    alarm.state_updated = t;
    if old_state != new_state {
        alarm.state_transitioned = t;
    }
    let alarm = alarm.clone();
    if !alarm.actions_enabled || old_state == new_state {
        return;
    }
    let actions = match new_state {
        "ALARM" => &alarm.alarm_actions,
        "OK" => &alarm.ok_actions,
        _ => &alarm.insufficient_data_actions,
    };
    let message = alarm_message(&alarm, &account, region, &old_state, t);
    let subject = format!(
        "{}: \"{}\" in {}",
        new_state,
        alarm.name,
        region_long_name(region)
    );
    // SNS caps subjects at 100 characters.
    let subject: String = subject.chars().take(100).collect();
    for action in actions {
        if crate::arn::is_service(action, "sns") {
            let _ = publish_internal(world, action, Some(&subject), &message);
        }
    }
}
