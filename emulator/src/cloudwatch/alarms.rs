//! The alarm operations: PutMetricAlarm, DescribeAlarms, SetAlarmState and
//! DeleteAlarms, over the Region's `world::alarms::Alarm`s. Evaluation each
//! minute is the world's (`world::monitoring`).

use super::protocol::{invalid, missing, ok};
use crate::cbor::{self, Fields};
use crate::error::ApiError;
use crate::http::Reply;
use crate::world::alarms::Alarm;
use crate::world::metrics::parse_metric;
use crate::world::model::World;
use crate::world::monitoring::transition;
use ciborium::value::Value;

const COMPARISONS: [&str; 4] = [
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];

pub(super) fn put_metric_alarm(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
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
        if crate::arn::parse(a).is_none() {
            return Err(invalid(format!("Invalid action ARN '{a}'.")));
        }
    }
    let [ok_actions, alarm_actions, insufficient_data_actions] = all_actions;
    let now = world.now;
    let arn = crate::arn::make(
        "cloudwatch",
        region,
        &world.account_id,
        &format!("alarm:{name}"),
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

pub(super) fn describe_alarms(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
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

pub(super) fn set_alarm_state(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
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

pub(super) fn delete_alarms(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
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
