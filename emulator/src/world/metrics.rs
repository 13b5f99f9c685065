//! A Region's CloudWatch metrics as the world keeps them: the datapoints
//! published, the `MetricStore` that holds them as time-ordered series, and
//! `MetricId`, the namespace, name and dimensions that identify a metric (and
//! how a request spells one). The metric API is in `cloudwatch::metrics`.

use crate::cbor::{self, Fields};
use crate::error::ApiError;
use ciborium::value::Value;
use serde::Serialize;
use std::collections::BTreeMap;

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
    pub fn dimensions_cbor(&self) -> Value {
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

    pub fn dimensions_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.dimensions
                .iter()
                .map(|(n, v)| serde_json::json!({"value": v, "name": n}))
                .collect(),
        )
    }
}

pub fn parse_dimensions(list: &[Value]) -> Result<Vec<(String, String)>, ApiError> {
    let mut dims = Vec::new();
    for d in list {
        let f = Fields::of(d);
        let name = f
            .str("Name")
            .ok_or_else(|| ApiError::missing_parameter("Dimensions.member.N.Name"))?;
        let value = f
            .str("Value")
            .ok_or_else(|| ApiError::missing_parameter("Dimensions.member.N.Value"))?;
        dims.push((name.to_string(), value.to_string()));
    }
    if dims.len() > 30 {
        return Err(ApiError::invalid_parameter_value(
            "A metric can have at most 30 dimensions.",
        ));
    }
    dims.sort();
    Ok(dims)
}

pub fn parse_metric(v: &Value) -> Result<MetricId, ApiError> {
    let f = Fields::of(v);
    Ok(MetricId {
        namespace: f
            .str("Namespace")
            .ok_or_else(|| ApiError::missing_parameter("Namespace"))?
            .to_string(),
        metric_name: f
            .str("MetricName")
            .ok_or_else(|| ApiError::missing_parameter("MetricName"))?
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

pub fn single(
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

/// The writes a file system took in the current minute, for `DataWriteIOBytes`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WriteIo {
    pub count: u64,
    pub bytes: u64,
    pub min: u64,
    pub max: u64,
}

impl WriteIo {
    /// One write of `len` bytes (an empty write still counts one byte).
    pub fn record(&mut self, len: u64) {
        let len = len.max(1);
        self.min = if self.count == 0 {
            len
        } else {
            self.min.min(len)
        };
        self.max = self.max.max(len);
        self.count += 1;
        self.bytes += len;
    }

    /// This minute's writes, leaving none.
    pub fn take(&mut self) -> WriteIo {
        std::mem::take(self)
    }
}

/// `AWS/EFS` `DataWriteIOBytes` of one file system for the minute starting at
/// `minute_start`: one sample per write (Sum = bytes written, SampleCount =
/// writes, Minimum/Maximum = smallest/largest write), or a single 0 for an
/// idle minute; with `sparse`, an idle minute publishes nothing.
pub fn data_write_io_bytes(
    file_system_id: &str,
    minute_start: f64,
    io: WriteIo,
    sparse: bool,
) -> Option<Datapoint> {
    let dims = vec![("FileSystemId".to_string(), file_system_id.to_string())];
    if io.count == 0 {
        return (!sparse).then(|| {
            single(
                "AWS/EFS",
                "DataWriteIOBytes",
                dims,
                minute_start,
                0.0,
                "Bytes",
            )
        });
    }
    Some(Datapoint {
        namespace: "AWS/EFS".to_string(),
        metric_name: "DataWriteIOBytes".to_string(),
        dimensions: dims,
        timestamp: minute_start,
        count: io.count as f64,
        sum: io.bytes as f64,
        min: io.min as f64,
        max: io.max as f64,
        unit: Some("Bytes".to_string()),
    })
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
    #[test]
    fn data_write_io_bytes_sums_the_minute_and_idles_at_zero_or_nothing() {
        let mut io = WriteIo::default();
        for len in [5, 0, 100] {
            io.record(len);
        }
        let taken = io.take();
        assert_eq!(io, WriteIo::default());
        assert_eq!(
            (taken.count, taken.bytes, taken.min, taken.max),
            (3, 106, 1, 100)
        );
        let busy = data_write_io_bytes("fs-1", 120.0, taken, true).unwrap();
        assert_eq!(
            (busy.timestamp, busy.count, busy.sum, busy.min, busy.max),
            (120.0, 3.0, 106.0, 1.0, 100.0)
        );
        assert_eq!(
            busy.dimensions,
            vec![("FileSystemId".into(), "fs-1".into())]
        );
        let idle = data_write_io_bytes("fs-1", 180.0, WriteIo::default(), false).unwrap();
        assert_eq!((idle.sum, idle.count), (0.0, 1.0));
        assert!(data_write_io_bytes("fs-1", 180.0, WriteIo::default(), true).is_none());
    }
}
