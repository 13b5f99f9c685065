//! Amazon CloudWatch in the smithy RPC v2 CBOR protocol the Rust SDK speaks:
//! metrics, static-threshold alarms and their SNS actions, and the AWS/EFS
//! metrics the emulated file systems publish.

use crate::cbor::{self, Fields};
use crate::clock::iso8601_alarm;
use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::model::{SideState, World};
use ciborium::value::Value;
use serde::Serialize;
use std::collections::BTreeMap;

const PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

/// The two wire protocols clients use for CloudWatch: the Rust SDK speaks
/// RPC v2 CBOR, botocore picks awsJson1_0 (`X-Amz-Target`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Cbor,
    Json,
}

pub fn protocol(headers: &[(String, String)]) -> Protocol {
    let json = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("x-amz-target")
            || (k.eq_ignore_ascii_case("content-type") && v.contains("amz-json"))
    });
    if json {
        Protocol::Json
    } else {
        Protocol::Cbor
    }
}

pub fn operation(path: &str, headers: &[(String, String)]) -> (String, bool) {
    let target = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
        .and_then(|(_, v)| v.rsplit('.').next());
    let op = match target {
        Some(t) => t.to_string(),
        None => path
            .strip_prefix(PATH_PREFIX)
            .unwrap_or("Unknown")
            .to_string(),
    };
    let mutating = matches!(
        op.as_str(),
        "PutMetricData" | "PutMetricAlarm" | "SetAlarmState" | "DeleteAlarms"
    );
    (op, mutating)
}

fn query_code(code: &str) -> (&'static str, &str) {
    // (fault type, query-compatible code) as the x-amzn-query-error header carries them.
    match code {
        "InternalServiceError" | "InternalFailure" => ("Receiver", code),
        _ => ("Sender", code),
    }
}

pub fn error_reply(err: &ApiError, protocol: Protocol) -> Reply {
    let (fault, code) = query_code(&err.code);
    let body = cbor::map(vec![
        (
            "__type",
            cbor::text(format!("com.amazonaws.cloudwatch#{code}")),
        ),
        ("message", cbor::text(err.message.clone())),
    ]);
    let reply = Reply {
        status: err.status,
        headers: vec![
            ("content-type".into(), "application/cbor".into()),
            ("smithy-protocol".into(), "rpc-v2-cbor".into()),
            ("x-amzn-query-error".into(), format!("{code};{fault}")),
        ],
        body: cbor::encode(&body),
    };
    match protocol {
        Protocol::Json => to_json_reply(reply),
        Protocol::Cbor => reply,
    }
}

/// Re-encodes a CBOR reply as awsJson1_0 (timestamps become epoch seconds).
fn to_json_reply(reply: Reply) -> Reply {
    let value = cbor::decode(&reply.body)
        .map(|v| cbor_to_json(&v))
        .unwrap_or(serde_json::Value::Null);
    let mut headers: Vec<(String, String)> = reply
        .headers
        .into_iter()
        .filter(|(k, _)| k != "content-type" && k != "smithy-protocol")
        .collect();
    headers.push(("content-type".into(), "application/x-amz-json-1.0".into()));
    Reply {
        status: reply.status,
        headers,
        body: serde_json::to_vec(&value).unwrap_or_default(),
    }
}

fn json_to_cbor(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => cbor::int(i),
            None => cbor::double(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => cbor::text(s.clone()),
        J::Array(a) => Value::Array(a.iter().map(json_to_cbor).collect()),
        J::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (cbor::text(k.clone()), json_to_cbor(v)))
                .collect(),
        ),
    }
}

fn ok(value: Value) -> Reply {
    Reply {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/cbor".into()),
            ("smithy-protocol".into(), "rpc-v2-cbor".into()),
        ],
        body: cbor::encode(&value),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterValue", 400, message)
}

fn missing(name: &str) -> ApiError {
    ApiError::new(
        "MissingParameter",
        400,
        format!("The parameter {name} is required."),
    )
}

// ---- metric store ------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize)]
pub struct Datapoint {
    pub namespace: String,
    pub metric_name: String,
    /// Sorted by name: CloudWatch matches dimension sets exactly.
    pub dimensions: Vec<(String, String)>,
    pub timestamp: f64,
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub unit: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MetricId {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
}

impl MetricId {
    fn dimensions_cbor(&self) -> Value {
        Value::Array(
            self.dimensions
                .iter()
                .map(|(n, v)| {
                    cbor::map(vec![
                        ("Name", cbor::text(n.clone())),
                        ("Value", cbor::text(v.clone())),
                    ])
                })
                .collect(),
        )
    }

    fn dimensions_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.dimensions
                .iter()
                .map(|(n, v)| serde_json::json!({"value": v, "name": n}))
                .collect(),
        )
    }
}

fn parse_dimensions(list: &[Value]) -> Result<Vec<(String, String)>, ApiError> {
    let mut dims = Vec::new();
    for d in list {
        let f = Fields::of(d);
        let name = f
            .str("Name")
            .ok_or_else(|| missing("Dimensions.member.N.Name"))?;
        let value = f
            .str("Value")
            .ok_or_else(|| missing("Dimensions.member.N.Value"))?;
        dims.push((name.to_string(), value.to_string()));
    }
    if dims.len() > 30 {
        return Err(invalid("A metric can have at most 30 dimensions."));
    }
    dims.sort();
    Ok(dims)
}

fn parse_metric(v: &Value) -> Result<MetricId, ApiError> {
    let f = Fields::of(v);
    Ok(MetricId {
        namespace: f
            .str("Namespace")
            .ok_or_else(|| missing("Namespace"))?
            .to_string(),
        metric_name: f
            .str("MetricName")
            .ok_or_else(|| missing("MetricName"))?
            .to_string(),
        dimensions: parse_dimensions(f.list("Dimensions"))?,
    })
}

/// Aggregated statistics of the datapoints of one period.
#[derive(Clone, Copy, Debug)]
pub struct Aggregate {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Aggregate {
    fn merge(self, other: Aggregate) -> Aggregate {
        Aggregate {
            count: self.count + other.count,
            sum: self.sum + other.sum,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }

    pub fn stat(&self, statistic: &str) -> Option<f64> {
        match statistic {
            "SampleCount" => Some(self.count),
            "Sum" => Some(self.sum),
            "Minimum" => Some(self.min),
            "Maximum" => Some(self.max),
            "Average" => Some(if self.count > 0.0 {
                self.sum / self.count
            } else {
                0.0
            }),
            _ => None,
        }
    }
}

/// One published value (or statistic set) of a series.
#[derive(Clone, Copy, Debug)]
struct Sample {
    t: f64,
    agg: Aggregate,
}

#[derive(Debug, Default)]
struct Series {
    unit: Option<String>,
    /// In time order.
    samples: Vec<Sample>,
}

impl Series {
    /// Samples with `from <= t < to`.
    fn between(&self, from: f64, to: f64) -> &[Sample] {
        let lo = self.samples.partition_point(|s| s.t < from);
        let hi = self.samples.partition_point(|s| s.t < to);
        &self.samples[lo..hi.max(lo)]
    }
}

/// A Region's metrics, one time-ordered series per metric: alarms and
/// queries look up their series and binary-search the period instead of
/// scanning every datapoint, and a sample costs 40 bytes, not a copy of its
/// names. Kept for two weeks of emulated time.
#[derive(Debug, Default)]
pub struct MetricStore {
    series: BTreeMap<MetricId, Series>,
}

const RETENTION_SECONDS: f64 = 14.0 * 86_400.0;

impl MetricStore {
    pub fn insert(&mut self, d: Datapoint, now: f64) {
        let metric = MetricId {
            namespace: d.namespace,
            metric_name: d.metric_name,
            dimensions: d.dimensions,
        };
        let series = self.series.entry(metric).or_default();
        if series.unit.is_none() {
            series.unit = d.unit;
        }
        let sample = Sample {
            t: d.timestamp,
            agg: Aggregate {
                count: d.count,
                sum: d.sum,
                min: d.min,
                max: d.max,
            },
        };
        let at = series.samples.partition_point(|s| s.t <= sample.t);
        series.samples.insert(at, sample);
        let horizon = now - RETENTION_SECONDS;
        if series.samples.first().is_some_and(|s| s.t < horizon) {
            let keep = series.samples.partition_point(|s| s.t < horizon);
            series.samples.drain(..keep);
        }
    }

    /// Datapoints of `metric` in `[from, to)`, aggregated.
    pub fn aggregate(&self, metric: &MetricId, from: f64, to: f64) -> Option<Aggregate> {
        let samples = self.series.get(metric)?.between(from, to);
        samples.iter().map(|s| s.agg).reduce(Aggregate::merge)
    }

    /// Period buckets `[t, t + period)` aligned to the period, the first
    /// holding `start` and the last starting before `end`; empty ones left out.
    pub fn buckets(
        &self,
        metric: &MetricId,
        start: f64,
        end: f64,
        period: f64,
    ) -> Vec<(f64, Aggregate)> {
        let first = (start / period).floor() * period;
        let last = ((end / period).ceil() - 1.0) * period;
        let mut out: Vec<(f64, Aggregate)> = Vec::new();
        let Some(series) = self.series.get(metric) else {
            return out;
        };
        for s in series.between(first, last + period) {
            let bucket = (s.t / period).floor() * period;
            match out.last_mut() {
                Some((t, a)) if *t == bucket => *a = a.merge(s.agg),
                _ => out.push((bucket, s.agg)),
            }
        }
        out
    }

    pub fn unit(&self, metric: &MetricId) -> Option<&str> {
        self.series.get(metric)?.unit.as_deref()
    }

    /// Every datapoint, series by series in time order (for the control API).
    pub fn datapoints(&self) -> Vec<Datapoint> {
        self.series
            .iter()
            .flat_map(|(m, series)| {
                series.samples.iter().map(move |s| Datapoint {
                    namespace: m.namespace.clone(),
                    metric_name: m.metric_name.clone(),
                    dimensions: m.dimensions.clone(),
                    timestamp: s.t,
                    count: s.agg.count,
                    sum: s.agg.sum,
                    min: s.agg.min,
                    max: s.agg.max,
                    unit: series.unit.clone(),
                })
            })
            .collect()
    }
}

pub fn publish(world: &mut World, region: &str, d: Datapoint) {
    let now = world.now;
    world.region_mut(region).metrics.insert(d, now);
}

fn single(
    namespace: &str,
    name: &str,
    dims: Vec<(String, String)>,
    t: f64,
    value: f64,
    unit: &str,
) -> Datapoint {
    let mut dimensions = dims;
    dimensions.sort();
    Datapoint {
        namespace: namespace.to_string(),
        metric_name: name.to_string(),
        dimensions,
        timestamp: t,
        count: 1.0,
        sum: value,
        min: value,
        max: value,
        unit: Some(unit.to_string()),
    }
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
    for (name, region) in &world.regions {
        if region.faults.outage {
            continue;
        }
        for fs in region.file_systems.values() {
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
    evaluate_alarms(world, t);
}

// ---- alarms ----------------------------------------------------------------------------------

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
    fn watched(&self) -> Option<(MetricId, String, f64)> {
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

fn compare(op: &str, value: f64, threshold: f64) -> bool {
    match op {
        "GreaterThanOrEqualToThreshold" => value >= threshold,
        "GreaterThanThreshold" => value > threshold,
        "LessThanThreshold" => value < threshold,
        "LessThanOrEqualToThreshold" => value <= threshold,
        _ => false,
    }
}

fn comparison_words(op: &str) -> &'static str {
    match op {
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "GreaterThanThreshold" => "greater than",
        "LessThanThreshold" => "less than",
        "LessThanOrEqualToThreshold" => "less than or equal to",
        _ => "compared with",
    }
}

fn evaluate_alarms(world: &mut World, t: f64) {
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
fn transition(
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
        if action.starts_with("arn:aws:sns:") {
            let _ = crate::sns::publish_internal(world, action, Some(&subject), &message);
        }
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

fn cbor_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Integer(i) => i64::try_from(*i).map(J::from).unwrap_or(J::Null),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::Text(s) => J::String(s.clone()),
        Value::Bool(b) => J::Bool(*b),
        Value::Array(a) => J::Array(a.iter().map(cbor_to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .filter_map(|(k, v)| match k {
                    Value::Text(k) => Some((k.clone(), cbor_to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        Value::Tag(_, inner) => cbor_to_json(inner),
        _ => J::Null,
    }
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
            let mut m = cbor_to_json(metrics);
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

// ---- operations -----------------------------------------------------------------------------

pub fn handle(world: &mut World, region: &str, req: &ServiceRequest) -> Result<Reply, ApiError> {
    let reply = dispatch(world, region, req)?;
    Ok(match protocol(req.headers) {
        Protocol::Json => to_json_reply(reply),
        Protocol::Cbor => reply,
    })
}

fn dispatch(world: &mut World, region: &str, req: &ServiceRequest) -> Result<Reply, ApiError> {
    let (op, _) = operation(req.path, req.headers);
    let body = decode_body(req)?;
    match op.as_str() {
        "PutMetricData" => put_metric_data(world, region, &body),
        "GetMetricStatistics" => get_metric_statistics(world, region, &body),
        "GetMetricData" => get_metric_data(world, region, &body),
        "PutMetricAlarm" => put_metric_alarm(world, region, &body),
        "DescribeAlarms" => describe_alarms(world, region, &body),
        "SetAlarmState" => set_alarm_state(world, region, &body),
        "DeleteAlarms" => delete_alarms(world, region, &body),
        other => Err(ApiError::new(
            "InvalidAction",
            400,
            format!("The emulator does not implement CloudWatch operation {other}."),
        )),
    }
}

fn decode_body(req: &ServiceRequest) -> Result<Value, ApiError> {
    let gzipped = req
        .header("content-encoding")
        .is_some_and(|e| e.contains("gzip"));
    let raw: std::borrow::Cow<[u8]> = if gzipped {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(req.body)
            .read_to_end(&mut out)
            .map_err(|e| {
                ApiError::new(
                    "InvalidParameterValue",
                    400,
                    format!("The gzip request body is corrupt: {e}"),
                )
            })?;
        out.into()
    } else {
        req.body.into()
    };
    if protocol(req.headers) == Protocol::Json {
        let json: serde_json::Value = if raw.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_slice(&raw).map_err(|e| {
                ApiError::new(
                    "SerializationException",
                    400,
                    format!("malformed JSON body: {e}"),
                )
            })?
        };
        return Ok(json_to_cbor(&json));
    }
    cbor::decode(&raw).map_err(|e| ApiError::new("SerializationException", 400, e))
}

fn put_metric_data(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
    let f = Fields::of(body);
    let namespace = f
        .str("Namespace")
        .ok_or_else(|| missing("Namespace"))?
        .to_string();
    if namespace.starts_with("AWS/") {
        return Err(invalid(format!(
            "The value {namespace} for parameter Namespace is invalid: the AWS/ prefix is reserved for AWS services."
        )));
    }
    let data = f.list("MetricData");
    if data.is_empty() {
        return Err(missing("MetricData"));
    }
    if data.len() > 1000 {
        return Err(invalid("At most 1000 MetricData items per request."));
    }
    let mut points = Vec::new();
    for item in data {
        let d = Fields::of(item);
        let name = d
            .str("MetricName")
            .ok_or_else(|| missing("MetricData.member.N.MetricName"))?;
        let dims = parse_dimensions(d.list("Dimensions"))?;
        let t = d.timestamp("Timestamp").unwrap_or(world.now);
        let unit = d.str("Unit").map(str::to_string);
        let mut push = |count: f64, sum: f64, min: f64, max: f64| {
            points.push(Datapoint {
                namespace: namespace.clone(),
                metric_name: name.to_string(),
                dimensions: dims.clone(),
                timestamp: t,
                count,
                sum,
                min,
                max,
                unit: unit.clone(),
            })
        };
        if let Some(v) = d.f64("Value") {
            if !v.is_finite() {
                return Err(invalid(format!(
                    "The value {v} for MetricData Value is not a finite number."
                )));
            }
            push(1.0, v, v, v);
        } else if let Some(s) = d.get("StatisticValues") {
            let s = Fields::of(s);
            match (
                s.f64("SampleCount"),
                s.f64("Sum"),
                s.f64("Minimum"),
                s.f64("Maximum"),
            ) {
                (Some(c), Some(sum), Some(min), Some(max)) => push(c, sum, min, max),
                _ => {
                    return Err(missing(
                        "StatisticValues.SampleCount, Sum, Minimum and Maximum",
                    ))
                }
            }
        } else if !d.list("Values").is_empty() {
            let counts: Vec<f64> = d.list("Counts").iter().filter_map(cbor::as_f64).collect();
            for (i, v) in d.list("Values").iter().filter_map(cbor::as_f64).enumerate() {
                let c = counts.get(i).copied().unwrap_or(1.0);
                push(c, v * c, v, v);
            }
        } else {
            return Err(invalid(format!(
                "MetricData item {name} needs Value, Values or StatisticValues."
            )));
        }
    }
    for p in points {
        publish(world, region, p);
    }
    Ok(ok(cbor::map(vec![])))
}

fn statistic_cbor(name: &str, agg: &Aggregate) -> Option<(&'static str, Value)> {
    let key = match name {
        "SampleCount" => "SampleCount",
        "Sum" => "Sum",
        "Minimum" => "Minimum",
        "Maximum" => "Maximum",
        "Average" => "Average",
        _ => return None,
    };
    agg.stat(name).map(|v| (key, cbor::double(v)))
}

fn time_range(f: &Fields) -> Result<(f64, f64), ApiError> {
    let start = f
        .timestamp("StartTime")
        .ok_or_else(|| missing("StartTime"))?;
    let end = f.timestamp("EndTime").ok_or_else(|| missing("EndTime"))?;
    if end <= start {
        return Err(ApiError::new(
            "InvalidParameterCombination",
            400,
            "The parameter StartTime must be before EndTime.",
        ));
    }
    Ok((start, end))
}

fn get_metric_statistics(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
    let f = Fields::of(body);
    let metric = parse_metric(body)?;
    let (start, end) = time_range(&f)?;
    let period = f.i64("Period").ok_or_else(|| missing("Period"))?;
    if period < 1 || (period >= 60 && period % 60 != 0) {
        return Err(invalid(format!(
            "The parameter Period ({period}) must be 1, 5, 10, 30 or a multiple of 60."
        )));
    }
    let stats = f.strings("Statistics");
    if stats.is_empty() && f.list("ExtendedStatistics").is_empty() {
        return Err(missing("Statistics"));
    }
    let r = world.region_mut(region);
    let points: Vec<Value> = r
        .metrics
        .buckets(&metric, start, end, period as f64)
        .into_iter()
        .map(|(t, agg)| {
            let mut entries = vec![("Timestamp", cbor::timestamp(t))];
            entries.extend(stats.iter().filter_map(|s| statistic_cbor(s, &agg)));
            if let Some(u) = r.metrics.unit(&metric) {
                entries.push(("Unit", cbor::text(u)));
            }
            cbor::map(entries)
        })
        .collect();
    Ok(ok(cbor::map(vec![
        ("Label", cbor::text(metric.metric_name)),
        ("Datapoints", Value::Array(points)),
    ])))
}

fn get_metric_data(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
    let f = Fields::of(body);
    let (start, end) = time_range(&f)?;
    let queries = f.list("MetricDataQueries");
    if queries.is_empty() {
        return Err(missing("MetricDataQueries"));
    }
    let ascending = f.str("ScanBy") == Some("TimestampAscending");
    let r = world.region_mut(region);
    let mut results = Vec::new();
    for q in queries {
        let q = Fields::of(q);
        let id = q
            .str("Id")
            .ok_or_else(|| missing("MetricDataQueries.member.N.Id"))?
            .to_string();
        if !q.bool("ReturnData").unwrap_or(true) {
            continue;
        }
        let Some(stat) = q.get("MetricStat") else {
            results.push(cbor::map(vec![
                ("Id", cbor::text(id)),
                ("Timestamps", Value::Array(vec![])),
                ("Values", Value::Array(vec![])),
                ("StatusCode", cbor::text("InternalError")),
                (
                    "Messages",
                    Value::Array(vec![cbor::map(vec![
                        ("Code", cbor::text("Unsupported")),
                        (
                            "Value",
                            cbor::text(
                                "The emulator evaluates MetricStat queries only, not expressions.",
                            ),
                        ),
                    ])]),
                ),
            ]));
            continue;
        };
        let s = Fields::of(stat);
        let metric = parse_metric(
            s.get("Metric")
                .ok_or_else(|| missing("MetricStat.Metric"))?,
        )?;
        let period = s
            .i64("Period")
            .ok_or_else(|| missing("MetricStat.Period"))? as f64;
        let statistic = s
            .str("Stat")
            .ok_or_else(|| missing("MetricStat.Stat"))?
            .to_string();
        let mut series: Vec<(f64, f64)> = r
            .metrics
            .buckets(&metric, start, end, period)
            .into_iter()
            .filter_map(|(t, a)| a.stat(&statistic).map(|v| (t, v)))
            .collect();
        if !ascending {
            series.reverse();
        }
        let label = q
            .str("Label")
            .map(str::to_string)
            .unwrap_or_else(|| metric.metric_name.clone());
        results.push(cbor::map(vec![
            ("Id", cbor::text(id)),
            ("Label", cbor::text(label)),
            (
                "Timestamps",
                Value::Array(series.iter().map(|(t, _)| cbor::timestamp(*t)).collect()),
            ),
            (
                "Values",
                Value::Array(series.iter().map(|(_, v)| cbor::double(*v)).collect()),
            ),
            ("StatusCode", cbor::text("Complete")),
        ]));
    }
    Ok(ok(cbor::map(vec![
        ("MetricDataResults", Value::Array(results)),
        ("Messages", Value::Array(vec![])),
    ])))
}

const COMPARISONS: [&str; 4] = [
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];

fn put_metric_alarm(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
    let f = Fields::of(body);
    let name = f
        .str("AlarmName")
        .ok_or_else(|| missing("AlarmName"))?
        .to_string();
    if name.is_empty() || name.len() > 255 {
        return Err(invalid("AlarmName must be 1 to 255 characters."));
    }
    let evaluation_periods = f
        .i64("EvaluationPeriods")
        .ok_or_else(|| missing("EvaluationPeriods"))?;
    if evaluation_periods < 1 {
        return Err(invalid("EvaluationPeriods must be at least 1."));
    }
    let datapoints_to_alarm = f.i64("DatapointsToAlarm");
    if datapoints_to_alarm.is_some_and(|m| m < 1 || m > evaluation_periods) {
        return Err(invalid(
            "DatapointsToAlarm must be between 1 and EvaluationPeriods.",
        ));
    }
    let comparison = f
        .str("ComparisonOperator")
        .ok_or_else(|| missing("ComparisonOperator"))?
        .to_string();
    if !COMPARISONS.contains(&comparison.as_str()) {
        return Err(invalid(format!(
            "ComparisonOperator {comparison} is not supported by the emulator (static thresholds only: {}).",
            COMPARISONS.join(", ")
        )));
    }
    let treat_missing = f.str("TreatMissingData").unwrap_or("missing").to_string();
    if !matches!(
        treat_missing.as_str(),
        "missing" | "ignore" | "breaching" | "notBreaching"
    ) {
        return Err(invalid(format!(
            "TreatMissingData {treat_missing} is not one of breaching, notBreaching, ignore, missing."
        )));
    }
    let threshold = f.f64("Threshold");
    if threshold.is_none() {
        return Err(missing("Threshold"));
    }
    let metrics = f.get("Metrics").cloned();
    let (metric, statistic, period) = if metrics.is_some() {
        if f.str("MetricName").is_some() {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                400,
                "Use either MetricName (with Namespace, Statistic, Period) or Metrics, not both.",
            ));
        }
        (None, None, None)
    } else {
        let metric = parse_metric(body)?;
        let statistic = f
            .str("Statistic")
            .ok_or_else(|| missing("Statistic"))?
            .to_string();
        if !matches!(
            statistic.as_str(),
            "SampleCount" | "Average" | "Sum" | "Minimum" | "Maximum"
        ) {
            return Err(invalid(format!(
                "Statistic {statistic} is not one of SampleCount, Average, Sum, Minimum, Maximum."
            )));
        }
        let period = f.i64("Period").ok_or_else(|| missing("Period"))?;
        if period < 10 || (period >= 60 && period % 60 != 0) {
            return Err(invalid(format!(
                "Period {period} must be 10, 30 or a multiple of 60."
            )));
        }
        (Some(metric), Some(statistic), Some(period))
    };
    let all_actions = [
        f.strings("OKActions"),
        f.strings("AlarmActions"),
        f.strings("InsufficientDataActions"),
    ];
    for a in all_actions.iter().flatten() {
        if !a.starts_with("arn:aws:") {
            return Err(invalid(format!("Invalid action ARN '{a}'.")));
        }
    }
    let [ok_actions, alarm_actions, insufficient_data_actions] = all_actions;
    let now = world.now;
    let arn = format!(
        "arn:aws:cloudwatch:{region}:{}:alarm:{name}",
        world.account_id
    );
    let r = world.region_mut(region);
    let previous = r.alarms.get(&name).cloned();
    let alarm = Alarm {
        name: name.clone(),
        arn,
        description: f.str("AlarmDescription").map(str::to_string),
        actions_enabled: f.bool("ActionsEnabled").unwrap_or(true),
        ok_actions,
        alarm_actions,
        insufficient_data_actions,
        // Updating an alarm keeps its state; a new one starts with no data.
        state: previous
            .as_ref()
            .map(|p| p.state.clone())
            .unwrap_or_else(|| "INSUFFICIENT_DATA".into()),
        state_reason: previous
            .as_ref()
            .map(|p| p.state_reason.clone())
            .unwrap_or_else(|| "Unchecked: Initial alarm creation".into()),
        state_reason_data: previous.as_ref().and_then(|p| p.state_reason_data.clone()),
        state_updated: previous.as_ref().map(|p| p.state_updated).unwrap_or(now),
        state_transitioned: previous
            .as_ref()
            .map(|p| p.state_transitioned)
            .unwrap_or(now),
        configuration_updated: now,
        metric,
        statistic,
        period,
        unit: f.str("Unit").map(str::to_string),
        metrics,
        evaluation_periods,
        datapoints_to_alarm,
        threshold,
        comparison,
        treat_missing_data: treat_missing,
    };
    r.alarms.insert(name, alarm);
    Ok(ok(cbor::map(vec![])))
}

fn strings_cbor(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| cbor::text(s.clone())).collect())
}

fn alarm_cbor(a: &Alarm) -> Value {
    let mut e = vec![
        ("AlarmName", cbor::text(a.name.clone())),
        ("AlarmArn", cbor::text(a.arn.clone())),
        (
            "AlarmConfigurationUpdatedTimestamp",
            cbor::timestamp(a.configuration_updated),
        ),
        ("ActionsEnabled", Value::Bool(a.actions_enabled)),
        ("OKActions", strings_cbor(&a.ok_actions)),
        ("AlarmActions", strings_cbor(&a.alarm_actions)),
        (
            "InsufficientDataActions",
            strings_cbor(&a.insufficient_data_actions),
        ),
        ("StateValue", cbor::text(a.state.clone())),
        ("StateReason", cbor::text(a.state_reason.clone())),
        ("StateUpdatedTimestamp", cbor::timestamp(a.state_updated)),
        (
            "StateTransitionedTimestamp",
            cbor::timestamp(a.state_transitioned),
        ),
        ("EvaluationPeriods", cbor::int(a.evaluation_periods)),
        ("ComparisonOperator", cbor::text(a.comparison.clone())),
        ("TreatMissingData", cbor::text(a.treat_missing_data.clone())),
    ];
    if let Some(d) = &a.description {
        e.push(("AlarmDescription", cbor::text(d.clone())));
    }
    if let Some(d) = &a.state_reason_data {
        e.push(("StateReasonData", cbor::text(d.clone())));
    }
    if let Some(t) = a.threshold {
        e.push(("Threshold", cbor::double(t)));
    }
    if let Some(m) = a.datapoints_to_alarm {
        e.push(("DatapointsToAlarm", cbor::int(m)));
    }
    if let Some(m) = &a.metric {
        e.push(("Namespace", cbor::text(m.namespace.clone())));
        e.push(("MetricName", cbor::text(m.metric_name.clone())));
        e.push(("Dimensions", m.dimensions_cbor()));
    }
    if let Some(s) = &a.statistic {
        e.push(("Statistic", cbor::text(s.clone())));
    }
    if let Some(p) = a.period {
        e.push(("Period", cbor::int(p)));
    }
    if let Some(u) = &a.unit {
        e.push(("Unit", cbor::text(u.clone())));
    }
    if let Some(m) = &a.metrics {
        e.push(("Metrics", m.clone()));
    }
    cbor::map(e)
}

fn describe_alarms(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
    let f = Fields::of(body);
    let names = f.strings("AlarmNames");
    let prefix = f.str("AlarmNamePrefix");
    if !names.is_empty() && prefix.is_some() {
        return Err(ApiError::new(
            "InvalidParameterCombination",
            400,
            "AlarmNames and AlarmNamePrefix cannot be used together.",
        ));
    }
    let state = f.str("StateValue");
    let action_prefix = f.str("ActionPrefix");
    let max = f.i64("MaxRecords").unwrap_or(50).clamp(1, 100) as usize;
    let r = world.region_mut(region);
    let matching: Vec<&Alarm> = r
        .alarms
        .values()
        .filter(|a| names.is_empty() || names.contains(&a.name))
        .filter(|a| prefix.is_none_or(|p| a.name.starts_with(p)))
        .filter(|a| state.is_none_or(|s| a.state == s))
        .filter(|a| {
            action_prefix.is_none_or(|p| {
                a.alarm_actions
                    .iter()
                    .chain(&a.ok_actions)
                    .chain(&a.insufficient_data_actions)
                    .any(|x| x.starts_with(p))
            })
        })
        .collect();
    let start = match f.str("NextToken") {
        None => 0,
        Some(token) => matching
            .iter()
            .position(|a| a.name == token)
            .ok_or_else(|| ApiError::new("InvalidNextToken", 400, "The NextToken is not valid."))?,
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(max)
        .map(|a| alarm_cbor(a))
        .collect();
    let mut out = vec![
        ("MetricAlarms", Value::Array(page)),
        ("CompositeAlarms", Value::Array(vec![])),
    ];
    if let Some(next) = matching.get(start + max) {
        out.push(("NextToken", cbor::text(next.name.clone())));
    }
    Ok(ok(cbor::map(out)))
}

fn set_alarm_state(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
    let f = Fields::of(body);
    let name = f
        .str("AlarmName")
        .ok_or_else(|| missing("AlarmName"))?
        .to_string();
    let state = f
        .str("StateValue")
        .ok_or_else(|| missing("StateValue"))?
        .to_string();
    if !matches!(state.as_str(), "OK" | "ALARM" | "INSUFFICIENT_DATA") {
        return Err(invalid(format!(
            "StateValue {state} is not one of OK, ALARM, INSUFFICIENT_DATA."
        )));
    }
    let reason = f
        .str("StateReason")
        .ok_or_else(|| missing("StateReason"))?
        .to_string();
    let reason_data = f.str("StateReasonData").map(str::to_string);
    if let Some(d) = &reason_data {
        if serde_json::from_str::<serde_json::Value>(d).is_err() {
            return Err(ApiError::new(
                "InvalidFormat",
                400,
                "StateReasonData must be valid JSON.",
            ));
        }
    }
    if !world.region_mut(region).alarms.contains_key(&name) {
        return Err(ApiError::new(
            "ResourceNotFound",
            404,
            format!("Alarm {name} does not exist."),
        ));
    }
    let now = world.now;
    // The state holds until the next evaluation, and its actions run now.
    transition(world, region, &name, &state, &reason, reason_data, now);
    Ok(ok(cbor::map(vec![])))
}

fn delete_alarms(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
    let names = Fields::of(body).strings("AlarmNames");
    let r = world.region_mut(region);
    if let Some(missing_name) = names.iter().find(|n| !r.alarms.contains_key(*n)) {
        return Err(ApiError::new(
            "ResourceNotFound",
            404,
            format!("Alarm {missing_name} does not exist."),
        ));
    }
    for n in names {
        r.alarms.remove(&n);
    }
    Ok(ok(cbor::map(vec![])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(name: &str, t: f64, v: f64) -> Datapoint {
        single(
            "Custom",
            name,
            vec![("K".into(), "v".into())],
            t,
            v,
            "Count",
        )
    }

    fn id(name: &str) -> MetricId {
        MetricId {
            namespace: "Custom".into(),
            metric_name: name.into(),
            dimensions: vec![("K".into(), "v".into())],
        }
    }

    #[test]
    fn samples_arriving_out_of_order_land_in_their_period() {
        let mut store = MetricStore::default();
        for (t, v) in [(130.0, 3.0), (70.0, 1.0), (100.0, 2.0), (10.0, 9.0)] {
            store.insert(point("M", t, v), 200.0);
        }
        store.insert(point("Other", 75.0, 100.0), 200.0);
        let b = store.buckets(&id("M"), 60.0, 180.0, 60.0);
        let got: Vec<(f64, f64, f64)> = b.iter().map(|(t, a)| (*t, a.count, a.sum)).collect();
        assert_eq!(got, vec![(60.0, 2.0, 3.0), (120.0, 1.0, 3.0)]);
        let a = store
            .aggregate(&id("M"), 0.0, 120.0)
            .map(|a| (a.min, a.max));
        assert_eq!(a, Some((1.0, 9.0)));
        assert!(store.aggregate(&id("M"), 140.0, 200.0).is_none());
        assert_eq!(store.unit(&id("M")), Some("Count"));
    }

    #[test]
    fn a_period_starting_before_end_is_reported_whole() {
        let mut store = MetricStore::default();
        store.insert(point("M", 50.0, 1.0), 100.0);
        store.insert(point("M", 65.0, 2.0), 100.0);
        // An unaligned window covers its first and last periods entirely.
        let b = store.buckets(&id("M"), 55.0, 61.0, 60.0);
        let got: Vec<(f64, f64)> = b.iter().map(|(t, a)| (*t, a.sum)).collect();
        assert_eq!(got, vec![(0.0, 1.0), (60.0, 2.0)]);
    }

    #[test]
    fn samples_older_than_two_weeks_are_dropped() {
        let mut store = MetricStore::default();
        store.insert(point("M", 0.0, 1.0), 0.0);
        store.insert(point("M", 60.0, 1.0), 60.0);
        let later = RETENTION_SECONDS + 30.0;
        store.insert(point("M", later, 1.0), later);
        let kept: Vec<f64> = store.datapoints().iter().map(|d| d.timestamp).collect();
        assert_eq!(kept, vec![60.0, later]);
    }
}
