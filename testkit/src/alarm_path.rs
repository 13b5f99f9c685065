//! The DR Region's alarm path as template.yaml deploys it, for places that
//! build it themselves against the emulator (the drill, end-to-end tests):
//! the alerts and failover-request topics, their Lambda subscriptions, and the
//! replication-lag alarm on the probe's metric. Keep it in step with the template.

use crate::{KitError, Result};
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use efs_dr_shared::domain::ids::RegionName;
use efs_dr_shared::workflows::lag_alarm;

pub const ALERTS_TOPIC: &str = "efs-dr-alerts";
pub const FAILOVER_REQUESTS_TOPIC: &str = "efs-dr-failover-requests";
/// The template's LagThresholdSeconds default.
pub const LAG_THRESHOLD_SECONDS: f64 = 900.0;

#[derive(Clone, Debug)]
pub struct Topics {
    pub alerts_topic_arn: String,
    pub failover_topic_arn: String,
}

fn sns_client(sdk: &SdkConfig, region: &RegionName) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(sdk)
            .region(aws_sdk_sns::config::Region::new(region.to_string()))
            .build(),
    )
}

/// The template's name for the lag alarm of the pair replicating to `replica_file_system_id`.
pub fn lag_alarm_name(replica_file_system_id: &str) -> String {
    format!("efs-dr-replication-lag-{replica_file_system_id}")
}

/// The two topics, which the functions' configuration names.
pub async fn create_topics(sdk: &SdkConfig, region: &RegionName) -> Result<Topics> {
    let sns = sns_client(sdk, region);
    Ok(Topics {
        alerts_topic_arn: create_topic(&sns, ALERTS_TOPIC).await?,
        failover_topic_arn: create_topic(&sns, FAILOVER_REQUESTS_TOPIC).await?,
    })
}

/// Subscribes the functions (`arn:aws:lambda:{region}:{account_id}:function:{name}`)
/// and creates the lag alarm of one pair (`lag_alarm_name`). Do it once
/// the functions can be invoked: the alarm may fire within minutes.
pub async fn connect(
    sdk: &SdkConfig,
    region: &RegionName,
    account_id: &str,
    topics: &Topics,
    source_file_system_id: &str,
    replica_file_system_id: &str,
) -> Result<()> {
    let sns = sns_client(sdk, region);
    let (alerts, requests) = (&topics.alerts_topic_arn, &topics.failover_topic_arn);
    for (topic, function) in [(alerts, "lag-alarm-handler"), (requests, "failover")] {
        let mut subscribe = sns
            .subscribe()
            .topic_arn(topic)
            .protocol("lambda")
            .endpoint(format!(
                "arn:aws:lambda:{region}:{account_id}:function:{function}"
            ));
        if function == "lag-alarm-handler" {
            // The handler's own notifications go to the same topic: only alarms reach it.
            subscribe = subscribe
                .attributes("FilterPolicy", r#"{"AlarmName": [{"exists": true}]}"#)
                .attributes("FilterPolicyScope", "MessageBody");
        }
        subscribe
            .send()
            .await
            .map_err(|e| KitError::sdk("Subscribe", e))?;
    }
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(sdk)
            .region(aws_sdk_cloudwatch::config::Region::new(region.to_string()))
            .build(),
    )
    .put_metric_alarm()
    .alarm_name(lag_alarm_name(replica_file_system_id))
    .namespace(lag_alarm::NAMESPACE)
    .metric_name(lag_alarm::LAG_METRIC)
    .dimensions(dimension("FileSystemId", replica_file_system_id))
    .dimensions(dimension("SourceFileSystemId", source_file_system_id))
    .statistic(Statistic::Maximum)
    .period(60)
    .evaluation_periods(3)
    .threshold(LAG_THRESHOLD_SECONDS)
    .comparison_operator(ComparisonOperator::GreaterThanThreshold)
    .treat_missing_data("breaching")
    .alarm_actions(alerts)
    .ok_actions(alerts)
    .send()
    .await
    .map_err(|e| KitError::sdk("PutMetricAlarm", e))?;
    Ok(())
}

async fn create_topic(sns: &aws_sdk_sns::Client, name: &str) -> Result<String> {
    let created = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| KitError::sdk("CreateTopic", e))?;
    Ok(created.topic_arn().unwrap_or_default().to_string())
}
