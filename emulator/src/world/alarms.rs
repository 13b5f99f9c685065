//! CloudWatch alarms as the world keeps them: the `Alarm` record, the one
//! metric it watches, how a value compares with its threshold, and the
//! message CloudWatch publishes to SNS on a state change. Evaluation each
//! minute is in `monitoring`; the alarm API is in `cloudwatch::alarms`.

use super::clock::iso8601_alarm;
use super::metrics::{parse_metric, MetricId};
use crate::cbor::{self, Fields};
use ciborium::value::Value;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Alarm {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub state: String,
    pub state_reason: String,
    pub state_reason_data: Option<String>,
    pub state_updated: f64,
    pub state_transitioned: f64,
    pub configuration_updated: f64,
    pub metric: Option<MetricId>,
    pub statistic: Option<String>,
    pub period: Option<i64>,
    pub unit: Option<String>,
    /// Metric-math queries as given (echoed by DescribeAlarms).
    #[serde(skip)]
    pub metrics: Option<Value>,
    pub evaluation_periods: i64,
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: Option<f64>,
    pub comparison: String,
    pub treat_missing_data: String,
}

impl Alarm {
    /// The one metric the alarm watches: its own, or the single MetricStat of a metric-math alarm.
    pub fn watched(&self) -> Option<(MetricId, String, f64)> {
        if let (Some(m), Some(s), Some(p)) = (&self.metric, &self.statistic, self.period) {
            return Some((m.clone(), s.clone(), p as f64));
        }
        let queries = match &self.metrics {
            Some(Value::Array(q)) => q,
            _ => return None,
        };
        let returned: Vec<&Value> = queries
            .iter()
            .filter(|q| Fields::of(q).bool("ReturnData").unwrap_or(true))
            .collect();
        if returned.len() != 1 {
            return None;
        }
        let q = Fields::of(returned[0]);
        let stat = Fields::of(q.get("MetricStat")?);
        let metric = parse_metric(stat.get("Metric")?).ok()?;
        Some((
            metric,
            stat.str("Stat")?.to_string(),
            stat.i64("Period")? as f64,
        ))
    }
}

pub fn compare(op: &str, value: f64, threshold: f64) -> bool {
    match op {
        "GreaterThanOrEqualToThreshold" => value >= threshold,
        "GreaterThanThreshold" => value > threshold,
        "LessThanThreshold" => value < threshold,
        "LessThanOrEqualToThreshold" => value <= threshold,
        _ => false,
    }
}

pub fn comparison_words(op: &str) -> &'static str {
    match op {
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "GreaterThanThreshold" => "greater than",
        "LessThanThreshold" => "less than",
        "LessThanOrEqualToThreshold" => "less than or equal to",
        _ => "compared with",
    }
}

pub fn region_long_name(region: &str) -> String {
    match region {
        "us-east-1" => "US East (N. Virginia)",
        "us-east-2" => "US East (Ohio)",
        "us-west-1" => "US West (N. California)",
        "us-west-2" => "US West (Oregon)",
        "eu-west-1" => "EU (Ireland)",
        "eu-central-1" => "EU (Frankfurt)",
        "ap-southeast-2" => "Asia Pacific (Sydney)",
        other => other,
    }
    .to_string()
}

/// The JSON CloudWatch publishes to SNS on a state change.
pub fn alarm_message(
    alarm: &Alarm,
    account: &str,
    region: &str,
    old_state: &str,
    t: f64,
) -> String {
    let mut trigger = serde_json::json!({
        "Period": alarm.period.unwrap_or(60),
        "EvaluationPeriods": alarm.evaluation_periods,
        "ComparisonOperator": alarm.comparison,
        "Threshold": alarm.threshold,
        "TreatMissingData": alarm.treat_missing_data,
        "EvaluateLowSampleCountPercentile": "",
    });
    if let Some(m) = alarm.datapoints_to_alarm {
        trigger["DatapointsToAlarm"] = serde_json::json!(m);
    }
    match (&alarm.metric, &alarm.metrics) {
        (Some(metric), _) => {
            trigger["MetricName"] = serde_json::json!(metric.metric_name);
            trigger["Namespace"] = serde_json::json!(metric.namespace);
            trigger["StatisticType"] = serde_json::json!("Statistic");
            trigger["Statistic"] =
                serde_json::json!(alarm.statistic.clone().unwrap_or_default().to_uppercase());
            trigger["Unit"] = serde_json::json!(alarm.unit);
            trigger["Dimensions"] = metric.dimensions_json();
        }
        (None, Some(metrics)) => {
            // Alarm notifications spell dimension members in lower case.
            let mut m = cbor::to_json(metrics);
            lower_dimension_keys(&mut m);
            trigger["Metrics"] = m;
        }
        _ => {}
    }
    serde_json::json!({
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": iso8601_alarm(alarm.configuration_updated),
        "NewStateValue": alarm.state,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": iso8601_alarm(t),
        "Region": region_long_name(region),
        "AlarmArn": alarm.arn,
        "OldStateValue": old_state,
        "OKActions": alarm.ok_actions,
        "AlarmActions": alarm.alarm_actions,
        "InsufficientDataActions": alarm.insufficient_data_actions,
        "Trigger": trigger,
    })
    .to_string()
}

fn lower_dimension_keys(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Array(dims)) = map.get_mut("Dimensions") {
                for d in dims.iter_mut() {
                    if let serde_json::Value::Object(o) = d {
                        let name = o.remove("Name");
                        let value = o.remove("Value");
                        if let Some(vv) = value {
                            o.insert("value".into(), vv);
                        }
                        if let Some(n) = name {
                            o.insert("name".into(), n);
                        }
                    }
                }
            }
            for (_, child) in map.iter_mut() {
                lower_dimension_keys(child);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(lower_dimension_keys),
        _ => {}
    }
}
