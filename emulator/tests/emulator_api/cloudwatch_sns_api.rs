//! CloudWatch (RPC v2 CBOR) and SNS (Query) through the real SDK clients,
//! and the alarm -> SNS -> Lambda path.

use crate::common;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StateValue,
    Statistic,
};
use aws_sdk_efs::error::ProvideErrorMetadata;
use common::*;
use efs_dr_emulator::ReplicationFault;

fn dim(n: &str, v: &str) -> Dimension {
    Dimension::builder().name(n).value(v).build()
}

#[tokio::test]
async fn metrics_round_trip_through_statistics_and_metric_data() {
    let emu = emulator().await;
    let cw = cloudwatch(&emu, WEST);
    let now = emu.shared.now();
    let t0 = (now / 60.0).floor() * 60.0 - 600.0;
    for i in 0..5 {
        cw.put_metric_data()
            .namespace("EfsDr")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("ReplicationLagSeconds")
                    .dimensions(dim("FileSystemId", "fs-0123456789abcdef0"))
                    .timestamp(DateTime::from_secs_f64(t0 + 60.0 * i as f64))
                    .value(10.0 * (i + 1) as f64)
                    .build(),
            )
            .send()
            .await
            .expect("put");
    }
    let stats = cw
        .get_metric_statistics()
        .namespace("EfsDr")
        .metric_name("ReplicationLagSeconds")
        .dimensions(dim("FileSystemId", "fs-0123456789abcdef0"))
        .start_time(DateTime::from_secs_f64(t0))
        .end_time(DateTime::from_secs_f64(t0 + 300.0))
        .period(120)
        .statistics(Statistic::Maximum)
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .expect("statistics");
    let mut points: Vec<(f64, f64)> = stats
        .datapoints()
        .iter()
        .map(|d| {
            (
                d.maximum().unwrap_or_default(),
                d.sample_count().unwrap_or_default(),
            )
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(points, vec![(20.0, 2.0), (40.0, 2.0), (50.0, 1.0)]);

    let data = cw
        .get_metric_data()
        .start_time(DateTime::from_secs_f64(t0))
        .end_time(DateTime::from_secs_f64(t0 + 300.0))
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("lag")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("EfsDr")
                                .metric_name("ReplicationLagSeconds")
                                .dimensions(dim("FileSystemId", "fs-0123456789abcdef0"))
                                .build(),
                        )
                        .period(60)
                        .stat("Average")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("metric data");
    let r = &data.metric_data_results()[0];
    assert_eq!(r.id(), Some("lag"));
    assert_eq!(
        r.values(),
        [50.0, 40.0, 30.0, 20.0, 10.0],
        "newest first by default"
    );
    assert_eq!(r.timestamps().len(), 5);
    assert_eq!(r.status_code().map(|s| s.as_str()), Some("Complete"));

    // Dimensions must match exactly.
    let none = cw
        .get_metric_statistics()
        .namespace("EfsDr")
        .metric_name("ReplicationLagSeconds")
        .start_time(DateTime::from_secs_f64(t0))
        .end_time(DateTime::from_secs_f64(t0 + 300.0))
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .expect("statistics");
    assert!(none.datapoints().is_empty());

    let err = cw
        .put_metric_data()
        .namespace("AWS/EFS")
        .metric_data(MetricDatum::builder().metric_name("x").value(1.0).build())
        .send()
        .await
        .expect_err("reserved namespace");
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));

    // Large requests arrive gzip-compressed; they are decoded all the same.
    let mut big = cw.put_metric_data().namespace("EfsDr");
    for i in 0..300 {
        big = big.metric_data(
            MetricDatum::builder()
                .metric_name("Bulk")
                .dimensions(dim("FileSystemId", &format!("fs-{i:017x}")))
                .value(i as f64)
                .build(),
        );
    }
    big.send().await.expect("compressed put");
    let bulk = emu.shared.world().region(WEST).map(|r| {
        r.metrics
            .datapoints()
            .iter()
            .filter(|d| d.metric_name == "Bulk")
            .count()
    });
    assert_eq!(bulk, Some(300));
}

#[tokio::test]
async fn alarm_on_time_since_last_sync_fires_and_invokes_lambda_through_sns() {
    let emu = emulator().await;
    let lambda = fake_lambda().await;
    emu.shared.set_lambda_endpoint(Some(lambda.url.clone()));
    let (source, dest) = replicated_pair(&emu).await;

    // TimeSinceLastSync is published every minute in the source Region, with both dimensions.
    emu.shared.advance(120.0);
    let published = emu
        .shared
        .world()
        .region(EAST)
        .map(|r| {
            r.metrics
                .datapoints()
                .into_iter()
                .filter(|d| d.metric_name == "TimeSinceLastSync")
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let last = published.last().expect("metric published");
    assert_eq!(
        last.dimensions,
        vec![
            ("DestinationFileSystemId".to_string(), dest.clone()),
            ("FileSystemId".to_string(), source.clone())
        ]
    );
    assert!(last.max <= 120.0, "healthy lag is small: {}", last.max);

    let sns_east = sns(&emu, EAST);
    let topic = sns_east
        .create_topic()
        .name("dr-alerts")
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_string();
    let again = sns_east
        .create_topic()
        .name("dr-alerts")
        .send()
        .await
        .expect("idempotent");
    assert_eq!(again.topic_arn(), Some(topic.as_str()));
    sns_east
        .subscribe()
        .topic_arn(&topic)
        .protocol("lambda")
        .endpoint("arn:aws:lambda:us-east-1:123456789012:function:lag-alarm-handler")
        .send()
        .await
        .expect("subscribe");
    let subs = sns_east
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .expect("list");
    assert_eq!(subs.subscriptions()[0].protocol(), Some("lambda"));

    let cw = cloudwatch(&emu, EAST);
    cw.put_metric_alarm()
        .alarm_name("efs-replication-lag-high")
        .alarm_description("EFS replication lag exceeds 15 minutes")
        .namespace("AWS/EFS")
        .metric_name("TimeSinceLastSync")
        .dimensions(dim("FileSystemId", &source))
        .dimensions(dim("DestinationFileSystemId", &dest))
        .statistic(Statistic::Maximum)
        .period(60)
        .evaluation_periods(3)
        .threshold(900.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("breaching")
        .alarm_actions(&topic)
        .ok_actions(&topic)
        .send()
        .await
        .expect("alarm");
    let state = |cw: aws_sdk_cloudwatch::Client| async move {
        let out = cw
            .describe_alarms()
            .alarm_names("efs-replication-lag-high")
            .send()
            .await
            .expect("describe");
        out.metric_alarms()[0].state_value().cloned()
    };
    assert_eq!(state(cw.clone()).await, Some(StateValue::InsufficientData));
    emu.shared.advance(60.0);
    assert_eq!(state(cw.clone()).await, Some(StateValue::Ok));

    emu.shared
        .set_replication_fault(&source, ReplicationFault::Stalled)
        .expect("stall");
    emu.shared.advance(900.0);
    assert_eq!(
        state(cw.clone()).await,
        Some(StateValue::Ok),
        "not yet 3 periods over 900 s"
    );
    emu.shared.advance(240.0);
    assert_eq!(state(cw.clone()).await, Some(StateValue::Alarm));

    let messages = emu.shared.world().messages.clone();
    let alarm_msg = messages
        .iter()
        .find(|m| m.message.contains("\"NewStateValue\":\"ALARM\""))
        .expect("alarm message");
    assert_eq!(
        alarm_msg.subject.as_deref(),
        Some("ALARM: \"efs-replication-lag-high\" in US East (N. Virginia)")
    );
    let body: serde_json::Value = serde_json::from_str(&alarm_msg.message).expect("json");
    assert_eq!(body["OldStateValue"], "OK");
    assert_eq!(body["Trigger"]["MetricName"], "TimeSinceLastSync");
    assert_eq!(body["Trigger"]["Namespace"], "AWS/EFS");
    assert_eq!(body["Trigger"]["Statistic"], "MAXIMUM");
    assert_eq!(
        body["Trigger"]["Dimensions"].as_array().map(|d| d.len()),
        Some(2)
    );
    assert!(body["StateChangeTime"]
        .as_str()
        .is_some_and(|t| t.ends_with("+0000")));
    assert!(body["NewStateReason"]
        .as_str()
        .is_some_and(|r| r.starts_with("Threshold Crossed")));

    let delivered = eventually(|| {
        lambda
            .invocations
            .lock()
            .unwrap()
            .iter()
            .any(|(_, b)| b.contains("ALARM"))
    })
    .await;
    assert!(delivered, "the Lambda endpoint got the SNS event");
    let invocations = lambda.invocations.lock().unwrap().clone();
    let (path, payload) = invocations
        .iter()
        .find(|(_, b)| b.contains("ALARM"))
        .expect("alarm delivery");
    assert_eq!(path, "/2015-03-31/functions/lag-alarm-handler/invocations");
    let event: serde_json::Value = serde_json::from_str(payload).expect("event json");
    assert_eq!(event["Records"][0]["EventSource"], "aws:sns");
    assert_eq!(event["Records"][0]["Sns"]["TopicArn"], topic.as_str());

    // SetAlarmState changes the state and runs the OK actions.
    cw.set_alarm_state()
        .alarm_name("efs-replication-lag-high")
        .state_value(StateValue::Ok)
        .state_reason("manual reset")
        .send()
        .await
        .expect("set state");
    assert_eq!(state(cw.clone()).await, Some(StateValue::Ok));
    assert!(emu
        .shared
        .world()
        .messages
        .iter()
        .any(|m| m.subject.as_deref().is_some_and(|s| s.starts_with("OK:"))));
    let err = cw
        .set_alarm_state()
        .alarm_name("no-such-alarm")
        .state_value(StateValue::Ok)
        .state_reason("x")
        .send()
        .await
        .expect_err("unknown alarm");
    assert_eq!(err.code(), Some("ResourceNotFound"));
    assert!(matches!(
        err.into_service_error(),
        aws_sdk_cloudwatch::operation::set_alarm_state::SetAlarmStateError::ResourceNotFound(_)
    ));
}

#[tokio::test]
async fn alarms_in_a_failed_region_stop_and_missing_data_is_insufficient() {
    let emu = emulator().await;
    let cw = cloudwatch(&emu, WEST);
    cw.put_metric_alarm()
        .alarm_name("probe-missing")
        .namespace("EfsDr")
        .metric_name("SourceRegionReachable")
        .statistic(Statistic::Minimum)
        .period(60)
        .evaluation_periods(2)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::LessThanThreshold)
        .send()
        .await
        .expect("alarm");
    emu.shared.advance(180.0);
    let out = cw
        .describe_alarms()
        .state_value(StateValue::InsufficientData)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        out.metric_alarms().len(),
        1,
        "treat missing data as missing: INSUFFICIENT_DATA"
    );
    cw.put_metric_data()
        .namespace("EfsDr")
        .metric_data(
            MetricDatum::builder()
                .metric_name("SourceRegionReachable")
                .value(0.0)
                .build(),
        )
        .send()
        .await
        .expect("put");
    emu.shared.advance(60.0);
    let out = cw
        .describe_alarms()
        .alarm_name_prefix("probe")
        .send()
        .await
        .expect("describe");
    assert_eq!(
        out.metric_alarms()[0].state_value(),
        Some(&StateValue::Alarm)
    );
}

#[tokio::test]
async fn sns_publish_rules_and_message_log() {
    let emu = emulator().await;
    let client = sns(&emu, WEST);
    let topic = client
        .create_topic()
        .name("failover-requests")
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_string();
    assert_eq!(
        topic,
        "arn:aws:sns:us-west-2:123456789012:failover-requests"
    );
    let id = client
        .publish()
        .topic_arn(&topic)
        .subject("Failover request")
        .message("{\"mode\":\"plan\"}")
        .send()
        .await
        .expect("publish");
    assert!(id.message_id().is_some());
    let logged = emu.shared.world().messages.clone();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].message, "{\"mode\":\"plan\"}");
    assert_eq!(logged[0].subject.as_deref(), Some("Failover request"));

    let err = client
        .publish()
        .topic_arn("arn:aws:sns:us-west-2:123456789012:nope")
        .message("x")
        .send()
        .await
        .expect_err("missing topic");
    assert_eq!(err.code(), Some("NotFound"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = client
        .publish()
        .topic_arn(&topic)
        .subject("two\nlines")
        .message("x")
        .send()
        .await
        .expect_err("bad subject");
    assert_eq!(err.code(), Some("InvalidParameter"));
    let err = client
        .create_topic()
        .name("bad name!")
        .send()
        .await
        .expect_err("bad name");
    assert_eq!(err.code(), Some("InvalidParameter"));
    let err = client
        .subscribe()
        .topic_arn(&topic)
        .protocol("lambda")
        .endpoint("not-an-arn")
        .send()
        .await
        .expect_err("bad endpoint");
    assert_eq!(err.code(), Some("InvalidParameter"));
    let pending = client
        .subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("oncall@example.com")
        .send()
        .await
        .expect("email");
    assert_eq!(pending.subscription_arn(), Some("pending confirmation"));
}
