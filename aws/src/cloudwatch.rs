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
        let query = MetricDataQuery::builder()
            .id("recent")
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
            .build();
        let out = self
            .client
            .get_metric_data()
            .metric_data_queries(query)
            .start_time(DateTime::from_secs_f64(q.start))
            .end_time(DateTime::from_secs_f64(q.end))
            .scan_by(ScanBy::TimestampAscending)
            .send()
            .await
            .map_err(|e| aws_error("GetMetricData", &self.region, &e))?;
        Ok(out
            .metric_data_results()
            .first()
            .map(|r| {
                r.timestamps()
                    .iter()
                    .map(|t| t.as_secs_f64())
                    .zip(r.values().iter().copied())
                    .collect()
            })
            .unwrap_or_default())
    }
}
