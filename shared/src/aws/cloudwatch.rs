//! The `Metrics` port over aws-sdk-cloudwatch.

use super::aws_error;
use crate::ids::RegionName;
use crate::model::MetricPoint;
use crate::ports::{AwsResult, Metrics};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

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
}
