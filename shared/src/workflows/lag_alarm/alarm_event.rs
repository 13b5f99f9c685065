//! The lag-alarm-handler's triggers, parsed tolerantly: the scheduled probe,
//! a CloudWatch alarm notification through SNS (real ones carry
//! `"AlarmDescription": null`), and a CloudWatch alarm action invoking the
//! function directly.

use crate::domain::error::{Error, Result};
use crate::domain::time::parse_time;
use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricRef {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub dimensions: Vec<(String, String)>,
}

impl std::fmt::Display for MetricRef {
    /// `AWS/SQS ApproximateNumberOfMessagesVisible (QueueName=dlq)`, as a person reads it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.namespace.as_deref().unwrap_or("(no namespace)"),
            self.name.as_deref().unwrap_or("(metric math)")
        )?;
        if !self.dimensions.is_empty() {
            let dims: Vec<String> = self
                .dimensions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(f, " ({})", dims.join(", "))?;
        }
        Ok(())
    }
}

/// The metrics of an alarm, as a person reads them.
pub fn describe_metrics(metrics: &[MetricRef]) -> String {
    if metrics.is_empty() {
        return "no metric".into();
    }
    metrics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlarmEvent {
    pub name: String,
    pub new_state: String,
    pub old_state: Option<String>,
    /// When the state changed (epoch seconds): identifies this state change.
    pub changed_at: f64,
    pub reason: Option<String>,
    pub description: Option<String>,
    pub metrics: Vec<MetricRef>,
    /// `sns` or `alarm_action`.
    pub delivery: &'static str,
}

impl AlarmEvent {
    /// Every dimension value named `name` across the alarm's metrics.
    pub fn dimension(&self, name: &str) -> Vec<&str> {
        self.metrics
            .iter()
            .flat_map(|m| m.dimensions.iter())
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    Probe,
    Alarm(AlarmEvent),
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Dimensions as alarm notifications spell them: `[{"name", "value"}]` (any
/// case), or the alarm action's `{"Name": "value"}` map.
fn dimensions(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|d| {
                let name = d
                    .get("name")
                    .or_else(|| d.get("Name"))
                    .and_then(Value::as_str)?;
                let value = d
                    .get("value")
                    .or_else(|| d.get("Value"))
                    .and_then(Value::as_str)?;
                Some((name.to_string(), value.to_string()))
            })
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect(),
        _ => Vec::new(),
    }
}

fn metric_math(queries: Option<&Value>) -> Vec<MetricRef> {
    let Some(Value::Array(queries)) = queries else {
        return Vec::new();
    };
    queries
        .iter()
        .filter_map(|q| {
            let stat = q.get("MetricStat").or_else(|| q.get("metricStat"))?;
            let metric = stat.get("Metric").or_else(|| stat.get("metric"))?;
            Some(MetricRef {
                namespace: text(metric, "Namespace").or_else(|| text(metric, "namespace")),
                name: text(metric, "MetricName").or_else(|| text(metric, "name")),
                dimensions: dimensions(
                    metric
                        .get("Dimensions")
                        .or_else(|| metric.get("dimensions")),
                ),
            })
        })
        .collect()
}

fn from_sns_message(m: &Value) -> Result<AlarmEvent> {
    let name = text(m, "AlarmName").ok_or_else(|| {
        Error::InvalidInput("the SNS message is not an alarm notification (no AlarmName)".into())
    })?;
    let new_state = text(m, "NewStateValue")
        .ok_or_else(|| Error::InvalidInput(format!("alarm {name}: no NewStateValue")))?;
    let changed = text(m, "StateChangeTime")
        .ok_or_else(|| Error::InvalidInput(format!("alarm {name}: no StateChangeTime")))?;
    let changed_at = parse_time(&changed).ok_or_else(|| {
        Error::InvalidInput(format!(
            "alarm {name}: StateChangeTime '{changed}' is not a time"
        ))
    })?;
    let trigger = m.get("Trigger");
    let mut metrics = metric_math(trigger.and_then(|t| t.get("Metrics")));
    if let Some(t) = trigger {
        if t.get("MetricName").is_some() {
            metrics.push(MetricRef {
                namespace: text(t, "Namespace"),
                name: text(t, "MetricName"),
                dimensions: dimensions(t.get("Dimensions")),
            });
        }
    }
    Ok(AlarmEvent {
        name,
        new_state,
        old_state: text(m, "OldStateValue"),
        changed_at,
        reason: text(m, "NewStateReason"),
        description: text(m, "AlarmDescription"),
        metrics,
        delivery: "sns",
    })
}

fn from_alarm_action(v: &Value) -> Result<AlarmEvent> {
    let data = v
        .get("alarmData")
        .ok_or_else(|| Error::InvalidInput("alarm action without alarmData".into()))?;
    let name = text(data, "alarmName")
        .ok_or_else(|| Error::InvalidInput("alarm action without alarmData.alarmName".into()))?;
    let state = data
        .get("state")
        .ok_or_else(|| Error::InvalidInput(format!("alarm {name}: no state")))?;
    let new_state = text(state, "value")
        .ok_or_else(|| Error::InvalidInput(format!("alarm {name}: no state.value")))?;
    // The state's own timestamp, else the event's time: the error names the one it read.
    let (field, changed) = text(state, "timestamp")
        .map(|t| ("state.timestamp", t))
        .or_else(|| text(v, "time").map(|t| ("time", t)))
        .ok_or_else(|| Error::InvalidInput(format!("alarm {name}: no state.timestamp")))?;
    let changed_at = parse_time(&changed).ok_or_else(|| {
        Error::InvalidInput(format!("alarm {name}: {field} '{changed}' is not a time"))
    })?;
    let config = data.get("configuration");
    Ok(AlarmEvent {
        name,
        new_state,
        old_state: data.get("previousState").and_then(|p| text(p, "value")),
        changed_at,
        reason: text(state, "reason"),
        description: config.and_then(|c| text(c, "description")),
        metrics: metric_math(config.and_then(|c| c.get("metrics"))),
        delivery: "alarm_action",
    })
}

/// Tells the trigger apart. Anything else is rejected with what was expected.
pub fn parse(event: &Value) -> Result<Vec<Trigger>> {
    if event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
        return Ok(vec![Trigger::Probe]);
    }
    if event.get("source").and_then(Value::as_str) == Some("aws.cloudwatch")
        || event.get("alarmData").is_some()
    {
        return Ok(vec![Trigger::Alarm(from_alarm_action(event)?)]);
    }
    if event.get("Records").is_some() {
        return crate::run::intake::unwrap_sns(event.clone())?
            .iter()
            .map(|m| from_sns_message(m).map(Trigger::Alarm))
            .collect();
    }
    if event.get("AlarmName").is_some() {
        return Ok(vec![Trigger::Alarm(from_sns_message(event)?)]);
    }
    Err(Error::InvalidInput(
        "not an alarm or a probe request: expected an EventBridge scheduled event (detail-type \"Scheduled Event\"), \
         an SNS alarm notification (Records[].Sns.Message with AlarmName, NewStateValue, StateChangeTime), \
         or a CloudWatch alarm action (source \"aws.cloudwatch\", alarmData)"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_time_forms_alarms_use() {
        let t = parse_time("2026-11-21T16:00:00.000+0000").unwrap();
        assert_eq!(t, 1_795_276_800.0);
        assert_eq!(parse_time("2026-11-21T16:00:00Z"), Some(t));
        assert_eq!(parse_time("2026-11-21T18:00:00.000+0200"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn null_description_and_lowercase_dimensions() {
        let msg = json!({"AlarmName": "lag", "AlarmDescription": null, "NewStateValue": "ALARM", "OldStateValue": "OK",
            "StateChangeTime": "2026-11-21T16:00:00.000+0000",
            "Trigger": {"MetricName": "TimeSinceLastSync", "Namespace": "AWS/EFS", "Dimensions": [{"value": "fs-0123456789abcdef0", "name": "FileSystemId"}]}});
        let sns = json!({"Records": [{"Sns": {"Message": msg.to_string()}}]});
        let t = parse(&sns).unwrap();
        let Trigger::Alarm(a) = &t[0] else {
            panic!("alarm")
        };
        assert_eq!(a.description, None);
        assert_eq!(a.dimension("FileSystemId"), vec!["fs-0123456789abcdef0"]);
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        for v in [
            json!(null),
            json!(42),
            json!({}),
            json!({"Records": []}),
            json!({"alarmData": {}}),
            json!({"AlarmName": 1}),
        ] {
            assert!(parse(&v).is_err(), "{v}");
        }
    }
}
