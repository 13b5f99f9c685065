//! `efs-dr status --watch`: the status of the configured pairs, refreshed,
//! with what the stack's alarms watch: the replication lag's recent history
//! (the probe's EfsDr/ReplicationLagSeconds, else AWS/EFS TimeSinceLastSync),
//! the replica's readiness (EfsDr/Ready) and the states of the stack's alarms
//! on the pair (named efs-dr-<what>-<replica id> by template.yaml). Like
//! `efs-dr status`, it reads the configured pairs (EFS_DR_PAIRS), not a stack.

use super::human;
use crate::error::{CliError, CliResult};
use crate::status;
use efs_dr_aws::{AwsContext, CloudWatchMetrics};
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::domain::ids::RegionName;
use efs_dr_shared::domain::ports::{Clock, Metrics};
use efs_dr_shared::domain::time::iso8601;
use efs_dr_shared::workflows::lag_alarm::{LAG_METRIC, NAMESPACE};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The template names every alarm of a pair `efs-dr-<what>-<replica id>`.
const ALARM_PREFIX: &str = "efs-dr-";
/// The probe publishes the lag once a minute: ten samples.
const LAG_WINDOW_SECONDS: f64 = 600.0;
/// The readiness check runs every 15 minutes: the last two.
const READY_WINDOW_SECONDS: f64 = 1800.0;
/// A lag sample older than this (three of the probe's minutes) is stale.
const STALE_LAG_SECONDS: f64 = 180.0;

#[derive(Clone, Debug)]
pub struct WatchOptions {
    pub interval: Duration,
    /// Stop after this many refreshes; none: until interrupted.
    pub count: Option<u64>,
    pub json: bool,
}

pub async fn watch(aws: &AwsContext, config: &Config, opts: WatchOptions) -> CliResult<bool> {
    let tty = std::io::stdout().is_terminal();
    let mut refresh: u64 = 0;
    loop {
        refresh += 1;
        let at = iso8601(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default() as f64,
        );
        let of = opts.count.map(|n| format!(" of {n}")).unwrap_or_default();
        let collected = match status::collect(aws, config).await {
            // A missing configuration will not fix itself: say so once.
            Err(e @ CliError::Config(_)) => return Err(e),
            Err(e) => Err(e),
            Ok((mut rows, ok)) => {
                for row in rows.iter_mut() {
                    extend(aws, row).await;
                }
                Ok((rows, ok))
            }
        };
        if opts.json {
            let line = match &collected {
                Ok((rows, ok)) => {
                    json!({"at": at, "refresh": refresh, "healthy": ok, "pairs": rows})
                }
                Err(e) => json!({"at": at, "refresh": refresh, "error": e.to_string()}),
            };
            println!("{line}");
        } else {
            if tty {
                // Clear the screen and draw from the top.
                print!("\x1b[2J\x1b[H");
                println!(
                    "efs-dr status at {at} (every {} s, refresh {refresh}{of}; Ctrl-C to stop)",
                    opts.interval.as_secs()
                );
            } else {
                println!("=== efs-dr status at {at} (refresh {refresh}{of}) ===");
            }
            match &collected {
                Ok((rows, _)) => status::print_rows(rows, false, &extra_lines),
                Err(e) => println!("refresh failed: {e}"),
            }
        }
        if opts.count.is_some_and(|n| refresh >= n) {
            return Ok(collected.is_ok_and(|(_, ok)| ok));
        }
        tokio::time::sleep(opts.interval).await;
    }
}

/// Adds lag history, readiness and alarm states to a status row; what cannot
/// be read is recorded as such rather than failing the refresh.
async fn extend(aws: &AwsContext, row: &mut Value) {
    let (Some(src), Some(dst), Some(region)) = (
        row["source"].as_str().map(str::to_string),
        row["destination"].as_str().map(str::to_string),
        row["destination_region"]
            .as_str()
            .and_then(|r| RegionName::parse(r).ok()),
    ) else {
        return;
    };
    let metrics = aws.metrics(&region);
    // After the status calls the clock follows the service's: the window is the service's too.
    let now = aws.clock().now();
    let pair_dims = vec![
        ("FileSystemId".to_string(), dst.clone()),
        ("SourceFileSystemId".to_string(), src.clone()),
    ];
    let mut lag = match metrics
        .recent(NAMESPACE, LAG_METRIC, &pair_dims, LAG_WINDOW_SECONDS, now)
        .await
    {
        Ok(points) => json!({"metric": format!("{NAMESPACE}/{LAG_METRIC}"), "points": points}),
        Err(e) => json!({"error": e.to_string()}),
    };
    if lag["points"].as_array().is_some_and(Vec::is_empty) {
        // The probe is not running: EFS's own metric, on the dimensions the template's alarm uses.
        let efs_dims = vec![
            ("FileSystemId".to_string(), src.clone()),
            ("DestinationFileSystemId".to_string(), dst.clone()),
        ];
        if let Ok(points) = metrics
            .recent(
                "AWS/EFS",
                "TimeSinceLastSync",
                &efs_dims,
                LAG_WINDOW_SECONDS,
                now,
            )
            .await
        {
            if !points.is_empty() {
                lag = json!({"metric": "AWS/EFS/TimeSinceLastSync", "points": points});
            }
        }
    }
    // How old the last sample is: a stopped probe leaves the last value standing.
    if let Some(t) = lag["points"]
        .as_array()
        .and_then(|p| p.last())
        .and_then(|p| p[0].as_f64())
    {
        lag["age_seconds"] = json!((now - t).max(0.0).round());
    }
    row["lag_history"] = lag;
    let ready_dims = vec![("FileSystemId".to_string(), dst.clone())];
    row["readiness"] = match metrics
        .recent(NAMESPACE, "Ready", &ready_dims, READY_WINDOW_SECONDS, now)
        .await
    {
        Ok(points) => {
            json!({"ready": points.last().map(|(_, v)| *v >= 1.0), "at": points.last().map(|(t, _)| iso8601(*t))})
        }
        Err(e) => json!({"error": e.to_string()}),
    };
    row["alarms"] = match alarms(&metrics, &dst).await {
        Ok(list) => json!(list),
        Err(e) => json!({"error": e}),
    };
}

/// The stack's alarms on the pair of replica `dst`: (short name, state).
async fn alarms(metrics: &CloudWatchMetrics, dst: &str) -> Result<Vec<(String, String)>, String> {
    let suffix = format!("-{dst}");
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = metrics
            .sdk()
            .describe_alarms()
            .alarm_name_prefix(ALARM_PREFIX)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DescribeAlarms: {}",
                    aws_sdk_cloudwatch::error::DisplayErrorContext(&e)
                )
            })?;
        for a in page.metric_alarms() {
            let Some(name) = a.alarm_name().filter(|n| n.ends_with(&suffix)) else {
                continue;
            };
            let short = name
                .trim_start_matches(ALARM_PREFIX)
                .trim_end_matches(&suffix)
                .to_string();
            let state = a
                .state_value()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "?".into());
            found.push((short, state));
        }
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    Ok(found)
}

/// Eight levels, lowest first; scaled to the window's largest value.
fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|v| {
            let level = if max > 0.0 {
                (v.max(0.0) / max * 7.0).round() as usize
            } else {
                0
            };
            BARS[level.min(7)]
        })
        .collect()
}

/// The lines `extend` added, for a person.
fn extra_lines(row: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let lag = &row["lag_history"];
    if let Some(e) = lag["error"].as_str() {
        lines.push(format!("lag history: unavailable ({e})"));
    } else if let Some(points) = lag["points"].as_array() {
        let values: Vec<f64> = points.iter().filter_map(|p| p[1].as_f64()).collect();
        match values.last() {
            Some(last) => {
                let max = values.iter().copied().fold(0.0_f64, f64::max);
                let samples = match values.len() {
                    1 => "the last sample".to_string(),
                    n => format!("the last {n} samples"),
                };
                let age = match lag["age_seconds"].as_f64() {
                    Some(a) if a > STALE_LAG_SECONDS => {
                        format!(" (sample {} old: stale)", human(a))
                    }
                    Some(a) => format!(" (sample {} old)", human(a)),
                    None => String::new(),
                };
                lines.push(format!(
                    "lag {last:.0} s{age}  {}  ({samples} of {}, per minute; highest {max:.0} s)",
                    sparkline(&values),
                    lag["metric"].as_str().unwrap_or("?")
                ));
            }
            None => lines.push(format!(
                "lag history: no data in the last {} min (the lag-alarm-handler probe publishes {NAMESPACE}/{LAG_METRIC} every minute)",
                LAG_WINDOW_SECONDS / 60.0
            )),
        }
    }
    let readiness = &row["readiness"];
    if let Some(e) = readiness["error"].as_str() {
        lines.push(format!("readiness: unavailable ({e})"));
    } else if readiness.is_object() {
        lines.push(match readiness["ready"].as_bool() {
            Some(true) => format!("readiness: ready (checked {})", readiness["at"].as_str().unwrap_or("?")),
            Some(false) => format!("readiness: NOT READY (checked {}): run the readiness check (CheckReadinessCommand) for the drift", readiness["at"].as_str().unwrap_or("?")),
            None => format!("readiness: no {NAMESPACE}/Ready data in the last {} min (the readiness check runs every 15 min)", READY_WINDOW_SECONDS / 60.0),
        });
    }
    let alarms = &row["alarms"];
    if let Some(e) = alarms["error"].as_str() {
        lines.push(format!("alarms: unavailable ({e})"));
    } else if let Some(list) = alarms.as_array() {
        if list.is_empty() {
            lines.push(format!(
                "alarms: none named {ALARM_PREFIX}*-{} (is the stack deployed for this pair?)",
                row["destination"].as_str().unwrap_or("?")
            ));
        } else {
            let states: Vec<String> = list
                .iter()
                .map(|a| {
                    format!(
                        "{} {}",
                        a[0].as_str().unwrap_or("?"),
                        a[1].as_str().unwrap_or("?")
                    )
                })
                .collect();
            lines.push(format!("alarms: {}", states.join(", ")));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_largest_value() {
        assert_eq!(sparkline(&[0.0, 35.0, 70.0]), "▁▅█");
        assert_eq!(sparkline(&[0.0, 0.0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn extra_lines_show_lag_readiness_and_alarms() {
        let row = json!({
            "destination": "fs-2",
            "lag_history": {"metric": "EfsDr/ReplicationLagSeconds", "points": [[0.0, 30.0], [60.0, 42.0]], "age_seconds": 65.0},
            "readiness": {"ready": null, "at": null},
            "alarms": [["replication-lag", "OK"], ["not-ready", "ALARM"]],
        });
        let lines = extra_lines(&row);
        assert!(
            lines[0].starts_with("lag 42 s (sample 1 min 05 s old)  ▆█  (the last 2 samples"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("readiness: no EfsDr/Ready data"),
            "{lines:?}"
        );
        assert_eq!(lines[2], "alarms: replication-lag OK, not-ready ALARM");
        // A probe that stopped leaves its last value: said to be stale.
        let stale =
            json!({"lag_history": {"metric": "m", "points": [[0.0, 42.0]], "age_seconds": 600.0}});
        assert!(
            extra_lines(&stale)[0].starts_with("lag 42 s (sample 10 min 00 s old: stale)"),
            "{:?}",
            extra_lines(&stale)
        );
    }
}
