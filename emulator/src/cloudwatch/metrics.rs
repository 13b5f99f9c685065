//! The metric operations: PutMetricData, GetMetricStatistics and
//! GetMetricData, over the Region's `world::metrics::MetricStore`.

use super::protocol::{invalid, missing, ok};
use crate::cbor::{self, Fields};
use crate::error::ApiError;
use crate::http::Reply;
use crate::world::metrics::{parse_dimensions, parse_metric, Aggregate, Datapoint};
use crate::world::model::World;
use crate::world::monitoring::publish;
use ciborium::value::Value;

pub(super) fn put_metric_data(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
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

pub(super) fn get_metric_statistics(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
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

/// GetMetricData's limit on queries per call.
const MAX_QUERIES: usize = 500;

pub(super) fn get_metric_data(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let f = Fields::of(body);
    let (start, end) = time_range(&f)?;
    let queries = f.list("MetricDataQueries");
    if queries.is_empty() {
        return Err(missing("MetricDataQueries"));
    }
    if queries.len() > MAX_QUERIES {
        return Err(ApiError::new(
            "ValidationError",
            400,
            format!(
                "The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
            ),
        ));
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
