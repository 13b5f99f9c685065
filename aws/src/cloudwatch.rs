//! The `Metrics` port over aws-sdk-cloudwatch.

use super::aws_error;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, ScanBy, StandardUnit,
};
use efs_dr_core::domain::ids::RegionName;
use efs_dr_core::domain::model::MetricPoint;
use efs_dr_core::domain::ports::{AlarmStatus, AwsResult, Metrics, SeriesQuery};

pub const NAMESPACE: &str = "EfsDr";

#[derive(Clone)]
pub struct CloudWatchMetrics {
    client: aws_sdk_cloudwatch::Client,
    region: RegionName,
}

impl CloudWatchMetrics {
    pub fn new(client: aws_sdk_cloudwatch::Client, region: RegionName) -> Self {
        CloudWatchMetrics { client, region }
    }

    pub fn sdk(&self) -> &aws_sdk_cloudwatch::Client {
        &self.client
    }
}

impl Metrics for CloudWatchMetrics {
    async fn put(&self, points: &[MetricPoint]) -> AwsResult<()> {
        if points.is_empty() {
            return Ok(());
        }
        let data: Vec<MetricDatum> = points
            .iter()
            .map(|p| {
                MetricDatum::builder()
                    .metric_name(p.name)
                    .value(p.value)
                    .unit(StandardUnit::from(p.unit))
                    .set_dimensions(Some(
                        p.dimensions
                            .iter()
                            .map(|(n, v)| Dimension::builder().name(n).value(v).build())
                            .collect(),
                    ))
                    .build()
            })
            .collect();
        self.client
            .put_metric_data()
            .namespace(NAMESPACE)
            .set_metric_data(Some(data))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("PutMetricData", &self.region, &e))
    }

    async fn alarm(&self, name: &str) -> AwsResult<Option<AlarmStatus>> {
        let out = self
            .client
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .map_err(|e| aws_error("DescribeAlarms", &self.region, &e))?;
        Ok(out.metric_alarms().first().map(|a| AlarmStatus {
            state: a
                .state_value()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            since: a
                .state_transitioned_timestamp()
                .or(a.state_updated_timestamp())
                .map(|t| t.as_secs_f64())
                .unwrap_or(0.0),
            treat_missing_data: a.treat_missing_data().map(str::to_string),
        }))
    }

    async fn series(&self, q: &SeriesQuery<'_>) -> AwsResult<Vec<(f64, f64)>> {
        Ok(self
            .series_many(std::slice::from_ref(q))
            .await?
            .pop()
            .unwrap_or_default())
    }

    async fn series_many(&self, queries: &[SeriesQuery<'_>]) -> AwsResult<Vec<Vec<(f64, f64)>>> {
        let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new(); queries.len()];
        for (chunk_index, chunk) in queries.chunks(MAX_QUERIES).enumerate() {
            let base = chunk_index * MAX_QUERIES;
            let start = chunk.iter().map(|q| q.start).fold(f64::INFINITY, f64::min);
            let end = chunk
                .iter()
                .map(|q| q.end)
                .fold(f64::NEG_INFINITY, f64::max);
            let built: Vec<MetricDataQuery> = chunk
                .iter()
                .enumerate()
                .map(|(i, q)| metric_query(&format!("q{}", base + i), q))
                .collect();
            let mut next: Option<String> = None;
            loop {
                let page = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(built.clone()))
                    .start_time(DateTime::from_secs_f64(start))
                    .end_time(DateTime::from_secs_f64(end))
                    .scan_by(ScanBy::TimestampAscending)
                    .set_next_token(next.take())
                    .send()
                    .await
                    .map_err(|e| aws_error("GetMetricData", &self.region, &e))?;
                for r in page.metric_data_results() {
                    let Some(i) = r
                        .id()
                        .and_then(|id| id.strip_prefix('q'))
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|i| *i < queries.len())
                    else {
                        continue;
                    };
                    let q = &queries[i];
                    out[i].extend(
                        r.timestamps()
                            .iter()
                            .map(|t| t.as_secs_f64())
                            .zip(r.values().iter().copied())
                            // One call spans every query's window: each keeps its own.
                            .filter(|(t, _)| *t >= q.start && *t < q.end),
                    );
                }
                match page.next_token() {
                    Some(t) if !t.is_empty() => next = Some(t.to_string()),
                    _ => break,
                }
            }
        }
        for series in out.iter_mut() {
            series.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        Ok(out)
    }
}

/// GetMetricData's limit on queries per call.
const MAX_QUERIES: usize = 500;

fn metric_query(id: &str, q: &SeriesQuery<'_>) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(q.namespace)
                        .metric_name(q.metric)
                        .set_dimensions(Some(
                            q.dimensions
                                .iter()
                                .map(|(n, v)| Dimension::builder().name(n).value(v).build())
                                .collect(),
                        ))
                        .build(),
                )
                .period(q.period_seconds as i32)
                .stat(q.statistic.as_str())
                .build(),
        )
        .build()
}
