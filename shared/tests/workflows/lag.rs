//! lag-alarm-handler against the emulator: the probe's metrics, the DR-side
//! alarm firing through SNS to a Lambda endpoint, and the decisions.

use crate::common;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
use common::*;
use efs_dr_shared::domain::config::{AlarmPolicy, Config, PairConfig, WitnessAlarm};
use efs_dr_shared::domain::ids::FileSystemRef;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failover;
use efs_dr_shared::workflows::lag_alarm::{self as lag, alarm_event as alarms};
use efs_dr_testkit::alarm_path;
use efs_dr_testkit::invoke_api::{function_name, serve_async_invokes};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// Records what the emulator's SNS hands to Lambda functions.
async fn lambda_endpoint(w: &World) -> Arc<Mutex<Vec<(String, Value)>>> {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let sink = seen.clone();
    let url = serve_async_invokes(move |path, body| {
        let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        sink.lock()
            .unwrap()
            .push((function_name(&path).to_string(), event));
    })
    .await
    .expect("invoke api");
    w.emu.shared.set_lambda_endpoint(Some(url));
    seen
}

fn take(seen: &Arc<Mutex<Vec<(String, Value)>>>, function: &str) -> Vec<Value> {
    let mut all = seen.lock().unwrap();
    let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(f, _)| f == function);
    *all = rest;
    mine.into_iter().map(|(_, e)| e).collect()
}

async fn wait_for(seen: &Arc<Mutex<Vec<(String, Value)>>>, function: &str) -> Vec<Value> {
    for _ in 0..200 {
        if seen.lock().unwrap().iter().any(|(f, _)| f == function) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    take(seen, function)
}

struct Setup {
    config: Config,
    src: String,
    dst: String,
    alerts: String,
    requests: String,
    lag_alarm: String,
}

async fn setup(w: &World, policy: AlarmPolicy) -> Setup {
    let (src, dst) = w.replicated_pair("lag").await;
    let account_id = w.emu.shared.world().account_id.clone();
    // The alarm path as the template deploys it: topics, subscriptions, the lag alarm.
    let topics = alarm_path::create_topics(&w.sdk, &region(WEST))
        .await
        .expect("topics");
    alarm_path::connect(&w.sdk, &region(WEST), &account_id, &topics, &src, &dst)
        .await
        .expect("subscriptions and alarm");
    let (alerts, requests) = (topics.alerts_topic_arn, topics.failover_topic_arn);
    let mut config = w.config();
    config.pairs = vec![PairConfig {
        source_file_system_id: FileSystemRef::parse(&src).expect("id"),
        source_region: Some(region(EAST)),
        destination_file_system_id: Some(FileSystemRef::parse(&dst).expect("id")),
        destination_region: None,
        mount_targets: None,
    }];
    config.alerts_topic_arn = Some(alerts.clone());
    config.failover_topic_arn = Some(requests.clone());
    config.alarm_policy = policy;
    config.alarm_min_seconds = 120.0;
    let witness = w.witness(EAST).await.expect("witness");
    config.witness_alarm = Some(WitnessAlarm::parse(&witness).expect("witness ARN"));
    // These suites test the alarm path alone (tests/detection.rs has the
    // region detector's suites, and the test below has both paths at once).
    config.detector.enabled = false;
    Setup {
        config,
        src,
        lag_alarm: alarm_path::lag_alarm_name(&dst),
        dst,
        alerts,
        requests,
    }
}

/// Runs the probe once per emulated minute for `minutes`.
async fn probe_for(w: &World, config: &Config, minutes: usize) {
    let platform = w.platform(MutationBudget::default());
    for _ in 0..minutes {
        lag::probe(&platform, config).await.expect("probe");
        w.advance(60.0);
    }
}

trait CloudWatchClient {
    fn cloudwatch_client(&self) -> aws_sdk_cloudwatch::Client;
}

impl CloudWatchClient for World {
    fn cloudwatch_client(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&self.sdk).build(),
        )
    }
}

fn published(w: &World, topic: &str) -> Vec<String> {
    w.emu
        .shared
        .world()
        .messages
        .iter()
        .filter(|m| m.topic_arn == topic)
        .map(|m| m.message.clone())
        .collect()
}

#[tokio::test]
async fn probe_metrics_appear_in_the_dr_region_and_the_reachability_alarm_fires_in_an_outage() {
    let w = world().await;
    let s = setup(&w, AlarmPolicy::Notify).await;
    let out = lag::probe(&w.platform(MutationBudget::default()), &s.config)
        .await
        .expect("probe");
    assert_eq!(out["pairs"][0]["healthy"], true);
    assert_eq!(out["pairs"][0]["source_region_reachable"], true);
    assert!(out["pairs"][0]["lag_seconds"]
        .as_f64()
        .is_some_and(|l| l < 120.0));
    let names: Vec<String> = w
        .emu
        .shared
        .world()
        .region(WEST)
        .map(|r| {
            r.metrics
                .datapoints()
                .into_iter()
                .filter(|d| d.namespace == "EfsDr")
                .map(|d| d.metric_name.clone())
                .collect()
        })
        .unwrap_or_default();
    for m in [lag::LAG_METRIC, lag::HEALTHY_METRIC, lag::REACHABLE_METRIC] {
        assert!(names.iter().any(|n| n == m), "{m} in {names:?}");
    }
    w.cloudwatch_client()
        .put_metric_alarm()
        .alarm_name("efs-dr-source-unreachable")
        .namespace(lag::NAMESPACE)
        .metric_name(lag::REACHABLE_METRIC)
        .dimensions(
            Dimension::builder()
                .name("SourceRegion")
                .value(EAST)
                .build(),
        )
        .statistic(Statistic::Minimum)
        .period(60)
        .evaluation_periods(2)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::LessThanThreshold)
        .treat_missing_data("breaching")
        .send()
        .await
        .expect("alarm");
    w.faults(json!({"region": EAST, "outage": true}));
    probe_for(&w, &s.config, 4).await;
    let state = w
        .cloudwatch_client()
        .describe_alarms()
        .alarm_names("efs-dr-source-unreachable")
        .send()
        .await
        .expect("describe");
    assert_eq!(
        state.metric_alarms()[0].state_value(),
        Some(&StateValue::Alarm)
    );
}

/// Stalls replication (and optionally takes the source Region down), probes
/// until the DR alarm fires, and returns the SNS events delivered to the handler.
async fn alarm_fires(
    w: &World,
    s: &Setup,
    outage: bool,
    seen: &Arc<Mutex<Vec<(String, Value)>>>,
) -> Vec<Value> {
    w.emu
        .shared
        .set_replication_fault(&s.src, efs_dr_emulator::ReplicationFault::Stalled)
        .expect("stall");
    if outage {
        w.faults(json!({"region": EAST, "outage": true}));
    }
    probe_for(w, &s.config, 20).await;
    // The alarm went OK first while the probe saw a healthy lag (OKActions, as deployed).
    let events: Vec<Value> = wait_for(seen, "lag-alarm-handler")
        .await
        .into_iter()
        .filter(|e| new_state(e).as_deref() == Some("ALARM"))
        .collect();
    assert!(
        !events.is_empty(),
        "the alarm reached the handler through SNS and the Lambda endpoint"
    );
    events
}

/// NewStateValue of an alarm notification delivered through SNS.
fn new_state(event: &Value) -> Option<String> {
    let message = event["Records"][0]["Sns"]["Message"].as_str()?;
    let alarm: Value = serde_json::from_str(message).ok()?;
    alarm["NewStateValue"].as_str().map(str::to_string)
}

#[tokio::test]
async fn policy_notify_tells_a_person_and_changes_nothing() {
    let w = world().await;
    let seen = lambda_endpoint(&w).await;
    let s = setup(&w, AlarmPolicy::Notify).await;
    let events = alarm_fires(&w, &s, true, &seen).await;
    let before = w.call_count();
    let platform = w.platform(MutationBudget::default());
    let out = lag::handle_event(&platform, &s.config, events[0].clone())
        .await
        .expect("handled");
    let d = &out["decisions"][0];
    assert_eq!(d["decision"], "notify", "{out:#}");
    assert!(d["recent_lag"].as_array().is_some_and(|r| !r.is_empty()));
    // Nothing changes but the mark that this state change was announced
    // (efs-dr:last-notified, so a held alarm is announced once).
    let efs_mutations: Vec<String> = w
        .mutating_calls_since(before)
        .into_iter()
        .filter(|c| !c.contains("Publish") && !c.ends_with("TagResource"))
        .collect();
    assert!(efs_mutations.is_empty(), "{efs_mutations:?}");
    let marked: Vec<String> = w
        .tags(WEST, &s.dst)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("efs-dr:"))
        .collect();
    assert_eq!(
        marked,
        vec!["efs-dr:last-notified".to_string()],
        "{marked:?}"
    );
    let alerts = published(&w, &s.alerts);
    let note = alerts
        .iter()
        .find(|m| m.contains("Decision: notify"))
        .expect("a notification a person can act on");
    assert!(
        note.contains(&s.dst)
            && note.contains("does NOT answer")
            && note.contains("\"mode\":\"plan\"")
            && note.contains("aws lambda invoke"),
        "{note}"
    );
    assert!(published(&w, &s.requests).is_empty());
    assert_eq!(w.protection(WEST, &s.dst).await, "REPLICATING");
}

#[tokio::test]
async fn auto_failover_with_the_source_down_promotes_once_however_often_the_alarm_arrives() {
    let w = world().await;
    let seen = lambda_endpoint(&w).await;
    let s = setup(&w, AlarmPolicy::AutoFailover).await;
    let events = alarm_fires(&w, &s, true, &seen).await;
    let platform = w.platform(MutationBudget::default());
    // The same delivery three times.
    let mut decisions = Vec::new();
    for _ in 0..3 {
        let out = lag::handle_event(&platform, &s.config, events[0].clone())
            .await
            .expect("handled");
        decisions.push(
            out["decisions"][0]["decision"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(decisions, vec!["failover_requested", "ignored", "ignored"]);
    assert_eq!(published(&w, &s.requests).len(), 1, "one failover request");

    // The request reaches the failover function through its subscription, which promotes the replica.
    let requests = wait_for(&seen, "failover").await;
    assert_eq!(requests.len(), 1);
    let mut failover_config = s.config.clone();
    failover_config.alerts_topic_arn = None;
    let out = failover::handle_event(&platform, &failover_config, requests[0].clone(), None)
        .await
        .expect("failover");
    assert_eq!(out["status"], "completed", "{out:#}");
    assert_eq!(w.protection(WEST, &s.dst).await, "ENABLED");

    // An old alarm delivered after the failover changes nothing.
    let out = lag::handle_event(&platform, &s.config, events[0].clone())
        .await
        .expect("handled");
    assert_eq!(out["decisions"][0]["decision"], "ignored");
    assert!(
        out["decisions"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("before the last failover")),
        "{out:#}"
    );
    assert_eq!(published(&w, &s.requests).len(), 1);
}

#[tokio::test]
async fn auto_failover_with_the_source_healthy_says_why_not() {
    let w = world().await;
    let seen = lambda_endpoint(&w).await;
    let s = setup(&w, AlarmPolicy::AutoFailover).await;
    let events = alarm_fires(&w, &s, false, &seen).await;
    let out = lag::handle_event(
        &w.platform(MutationBudget::default()),
        &s.config,
        events[0].clone(),
    )
    .await
    .expect("handled");
    let d = &out["decisions"][0];
    assert_eq!(d["decision"], "not_failing_over", "{out:#}");
    assert!(
        d["reason"].as_str().is_some_and(|r| r.contains("answers")),
        "{d}"
    );
    assert!(published(&w, &s.requests).is_empty());
    assert!(published(&w, &s.alerts)
        .iter()
        .any(|m| m.contains("not_failing_over") && m.contains("aws lambda invoke")));
}

fn sample(name: &str, src: &str, dst: &str) -> Value {
    let path = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../events/lag-alarm-handler")
        .join(name);
    let text = std::fs::read_to_string(path)
        .expect("sample")
        .replace("fs-0aaaaaaaaaaaaaaaa", src)
        .replace("fs-0bbbbbbbbbbbbbbbb", dst);
    serde_json::from_str(&text).expect("json")
}

#[tokio::test]
async fn every_sample_parses_and_runs() {
    let names = [
        "alarm-action.json",
        "scheduled-probe.json",
        "sns-alarm-metric-math.json",
        "sns-alarm-null-description.json",
        "sns-alarm.json",
    ];
    let mut on_disk: Vec<String> = std::fs::read_dir(
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("../events/lag-alarm-handler"),
    )
    .expect("dir")
    .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
    .collect();
    on_disk.sort();
    assert_eq!(on_disk, names.to_vec());
    let w = world().await;
    let s = setup(&w, AlarmPolicy::Notify).await;
    for name in names {
        let event = sample(name, &s.src, &s.dst);
        let parsed = alarms::parse(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.len(), 1, "{name}");
        let out = lag::handle_event(&w.platform(MutationBudget::default()), &s.config, event)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out["status"], "ok", "{name}: {out:#}");
        if name != "scheduled-probe.json" {
            // Every alarm sample names the configured pair, so each leads to a decision.
            assert!(
                out["decisions"][0]["decision"].is_string(),
                "{name}: {out:#}"
            );
        }
    }
}

#[tokio::test]
async fn not_an_alarm_is_rejected_without_side_effects() {
    let w = world().await;
    let s = setup(&w, AlarmPolicy::AutoFailover).await;
    let before = w.call_count();
    for bad in [
        json!({"hello": "world"}),
        json!({"Records": [{"Sns": {"Message": "{\"not\":\"an alarm\"}"}}]}),
        json!([1, 2]),
    ] {
        let err = lag::handle_event(
            &w.platform(MutationBudget::default()),
            &s.config,
            bad.clone(),
        )
        .await
        .expect_err("rejected");
        assert!(
            matches!(err, efs_dr_shared::Error::InvalidInput(_)),
            "{bad}: {err}"
        );
    }
    assert_eq!(w.call_count(), before, "no AWS call at all");
}

#[test]
fn fuzzed_alarm_messages_are_rejected_naming_the_broken_field_and_never_panic() {
    use efs_dr_shared::testing::{mutate_json_recorded, names, xorshift, PathStep};
    // Mutations of real samples: dropped, retyped and garbled fields, at every depth.
    let samples: Vec<Value> = [
        "alarm-action.json",
        "sns-alarm.json",
        "sns-alarm-metric-math.json",
        "sns-alarm-null-description.json",
        "scheduled-probe.json",
    ]
    .iter()
    .map(|n| sample(n, "fs-0123456789abcdef0", "fs-0fedcba9876543210"))
    .collect();
    // The fields that tell the triggers apart.
    let discriminators = ["detail-type", "source", "alarmData", "Records", "AlarmName"];
    let mut next = xorshift(0x5eed);
    let (mut parsed, mut named, mut unrecognised) = (0, 0, 0);
    for i in 0..4000 {
        let mut v = samples[i % samples.len()].clone();
        let mutations = mutate_json_recorded(&mut v, &mut next);
        let message = match alarms::parse(&v) {
            Ok(_) => {
                parsed += 1;
                continue;
            }
            Err(efs_dr_shared::Error::InvalidInput(message)) => message,
            Err(other) => panic!("bad input must be InvalidInput, got {other}"),
        };
        if message.starts_with("not an alarm or a probe request") {
            // Nothing left to say which trigger it was: a field that tells them apart was
            // broken at the top level, and the message names every such field.
            let broken = mutations.iter().find_map(|m| match m.path.as_slice() {
                [PathStep::Key(k)] if discriminators.contains(&k.as_str()) => Some(k),
                _ => None,
            });
            assert!(
                broken.is_some() && discriminators.iter().all(|d| names(&message, d)),
                "{message}\n{mutations:?}"
            );
            unrecognised += 1;
        } else {
            assert!(
                mutations
                    .iter()
                    .any(|m| m.key().is_some_and(|k| names(&message, k))),
                "the rejection names none of the fields the mutations broke\nmessage: {message}\nmutations: {mutations:?}\nevent: {v}"
            );
            named += 1;
        }
    }
    assert!(
        parsed > 0 && named > 0 && unrecognised > 0,
        "some survive, some are rejected: {parsed} parsed, {named} named the field, {unrecognised} unrecognised"
    );
}

#[tokio::test]
async fn the_probe_rechecks_a_held_alarm_until_it_has_lasted_long_enough() {
    let w = world().await;
    let seen = lambda_endpoint(&w).await;
    let mut s = setup(&w, AlarmPolicy::AutoFailover).await;
    s.config.alarm_min_seconds = 600.0;
    s.config.watched_alarms = vec![s.lag_alarm.clone()];
    w.emu
        .shared
        .set_replication_fault(&s.src, efs_dr_emulator::ReplicationFault::Stalled)
        .expect("stall");
    w.faults(json!({"region": EAST, "outage": true}));
    let platform = w.platform(MutationBudget::default());
    let mut handled_at_transition = None;
    for _ in 0..40 {
        lag::probe(&platform, &s.config).await.expect("probe");
        let alarms = take(&seen, "lag-alarm-handler")
            .into_iter()
            .filter(|e| new_state(e).as_deref() == Some("ALARM"));
        for event in alarms {
            let out = lag::handle_event(&platform, &s.config, event)
                .await
                .expect("handled");
            handled_at_transition.get_or_insert(
                out["decisions"][0]["decision"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        w.advance(60.0);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(
        handled_at_transition.as_deref(),
        Some("not_failing_over"),
        "too early when the notification arrives"
    );
    assert_eq!(
        published(&w, &s.requests).len(),
        1,
        "the probe asked once the alarm had lasted 600 s"
    );
}

#[tokio::test]
async fn alarms_on_other_metrics_never_lead_to_failover() {
    let w = world().await;
    let s = setup(&w, AlarmPolicy::AutoFailover).await;
    let mut event = sample("sns-alarm.json", &s.src, &s.dst);
    let message = event["Records"][0]["Sns"]["Message"]
        .as_str()
        .expect("message")
        .replace("ReplicationLagSeconds", "Ready");
    event["Records"][0]["Sns"]["Message"] = json!(message);
    let out = lag::handle_event(&w.platform(MutationBudget::default()), &s.config, event)
        .await
        .expect("handled");
    assert_eq!(out["decision"], "ignored", "{out:#}");
    assert!(published(&w, &s.requests).is_empty());
}

#[tokio::test]
async fn a_held_alarm_is_announced_once_not_every_probe_minute() {
    let w = world().await;
    let seen = lambda_endpoint(&w).await;
    let mut s = setup(&w, AlarmPolicy::AutoFailover).await;
    s.config.watched_alarms = vec![s.lag_alarm.clone()];
    // The source stays healthy: every re-check decides not_failing_over again.
    let events = alarm_fires(&w, &s, false, &seen).await;
    lag::handle_event(
        &w.platform(MutationBudget::default()),
        &s.config,
        events[0].clone(),
    )
    .await
    .expect("handled");
    let before = published(&w, &s.alerts).len();
    // An hour of held alarm, the probe re-checking it every minute.
    probe_for(&w, &s.config, 60).await;
    let about_this_state: Vec<String> = published(&w, &s.alerts)
        .into_iter()
        .skip(before)
        .filter(|m| m.contains("not_failing_over"))
        .collect();
    assert!(
        about_this_state.is_empty(),
        "{} repeated notifications for one alarm state change",
        about_this_state.len()
    );
    assert!(published(&w, &s.requests).is_empty());
}

#[tokio::test]
async fn one_unreadable_pair_does_not_silence_the_others_and_no_empty_dimension_is_published() {
    let w = world().await;
    let s = setup(&w, AlarmPolicy::Notify).await;
    let (orphan_src, _) = w.replicated_pair("orphan").await;
    let mut config = s.config.clone();
    // A pair whose replica does not exist, and one whose replication is not found.
    config.pairs.push(PairConfig {
        source_file_system_id: FileSystemRef::parse("fs-0123456789abcdef0").expect("id"),
        source_region: Some(region(EAST)),
        destination_file_system_id: Some(FileSystemRef::parse("fs-0fedcba9876543210").expect("id")),
        destination_region: None,
        mount_targets: None,
    });
    config.pairs.push(PairConfig {
        source_file_system_id: FileSystemRef::parse(&orphan_src).expect("id"),
        source_region: Some(region(EAST)),
        destination_file_system_id: None,
        destination_region: None,
        mount_targets: None,
    });
    w.efs(WEST)
        .delete_replication_configuration()
        .source_file_system_id(&orphan_src)
        .send()
        .await
        .ok();
    w.advance(600.0);
    let out = lag::probe(&w.platform(MutationBudget::default()), &config)
        .await
        .expect("the probe reports, it does not fail");
    assert_eq!(out["status"], "partial", "{out:#}");
    assert_eq!(out["errors"].as_array().map(Vec::len), Some(1), "{out:#}");
    let points = w
        .emu
        .shared
        .world()
        .region(WEST)
        .map(|r| r.metrics.datapoints())
        .unwrap_or_default();
    assert!(
        points.iter().any(|d| d.metric_name == lag::LAG_METRIC
            && d.dimensions
                .iter()
                .any(|(k, v)| k == "FileSystemId" && *v == s.dst)),
        "the readable pair's lag is published: {points:?}"
    );
    assert!(
        points
            .iter()
            .all(|d| d.dimensions.iter().all(|(_, v)| !v.is_empty())),
        "an empty dimension value: {points:?}"
    );
}

#[tokio::test]
async fn pairs_are_discovered_from_a_tag_on_the_replicas() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("tagged").await;
    let (_, untagged) = w.replicated_pair("untagged").await;
    w.efs(WEST)
        .tag_resource()
        .resource_id(&dst)
        .tags(
            aws_sdk_efs::types::Tag::builder()
                .key("efs-dr:protect")
                .value("yes")
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("tag");
    let mut config = w.config();
    config.discover_tag_key = Some("efs-dr:protect".into());
    let out = lag::handle_event(
        &w.platform(MutationBudget::default()),
        &config,
        json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
    )
    .await
    .expect("probe");
    let probed: Vec<(String, String)> = out["pairs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["source_file_system_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                p["destination_file_system_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        probed,
        vec![(src, dst)],
        "only the tagged replica, not {untagged}: {out:#}"
    );
}

#[tokio::test]
async fn an_alarm_path_failover_that_runs_out_of_time_resumes_itself_a_bounded_number_of_times() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("resume").await;
    let (src2, dst2) = w.replicated_pair("resume-bound").await;
    let topics = alarm_path::create_topics(&w.sdk, &region(WEST))
        .await
        .expect("topics");
    let mut config = w.config();
    config.failover_topic_arn = Some(topics.failover_topic_arn.clone());
    config.alerts_topic_arn = Some(topics.alerts_topic_arn.clone());
    let platform = w.platform(MutationBudget::default());
    let via_topic = |r: &Value| json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": r.to_string()}}]});
    let request = |s: &str, d: &str| {
        json!({"source_file_system_id": s, "source_region": EAST, "destination_file_system_id": d,
                                            "destination_region": WEST, "mode": "execute", "reason": "alarm path"})
    };
    // 30 s left: the promotion takes minutes, so the run ends in progress.
    let short = Some(std::time::Duration::from_secs(30));
    let out = failover::handle_event(&platform, &config, via_topic(&request(&src, &dst)), short)
        .await
        .expect("runs");
    assert_eq!(out["status"], "in_progress", "{out:#}");
    let again = published(&w, &topics.failover_topic_arn);
    assert_eq!(again.len(), 1, "published itself again: {again:?}");
    let next: Value = serde_json::from_str(&again[0]).expect("a request");
    assert_eq!(next["resumed"], 1);
    assert_eq!(next["source_file_system_id"], src.as_str());
    let out = failover::handle_event(&platform, &config, via_topic(&next), None)
        .await
        .expect("runs");
    assert_eq!(
        out["status"], "completed",
        "the resumed request finishes: {out:#}"
    );
    assert_eq!(
        published(&w, &topics.failover_topic_arn).len(),
        1,
        "a finished run does not resume"
    );

    // A direct invoke that ends in progress is the caller's to repeat.
    let out = failover::handle_event(&platform, &config, request(&src2, &dst2), short)
        .await
        .expect("runs");
    assert_eq!(out["status"], "in_progress");
    assert_eq!(published(&w, &topics.failover_topic_arn).len(), 1);
    // Past the bound, a person is told instead.
    let mut last = request(&src2, &dst2);
    last["resumed"] = json!(failover::MAX_RESUMES);
    let out = failover::handle_event(&platform, &config, via_topic(&last), short)
        .await
        .expect("runs");
    assert_eq!(out["status"], "in_progress");
    assert_eq!(
        published(&w, &topics.failover_topic_arn).len(),
        1,
        "no further resumption"
    );
    let told = w.emu.shared.world().messages.iter().any(|m| {
        m.topic_arn == topics.alerts_topic_arn
            && m.subject
                .as_deref()
                .is_some_and(|s| s.contains("needs a person"))
    });
    assert!(told, "the alerts topic says a person must take over");
}

#[tokio::test]
async fn the_region_detector_and_the_alarm_path_request_one_failover_between_them() {
    let w = world().await;
    let seen = lambda_endpoint(&w).await;
    let mut s = setup(&w, AlarmPolicy::AutoFailover).await;
    s.config.detector = Default::default();
    // Nobody runs the failover here: past the request timeout the detector
    // would rightly ask again (composite.rs proves that), which is not this claim.
    s.config.request_timeout_seconds = 3600.0;
    // Healthy minutes: the detector learns the pair's cadence.
    probe_for(&w, &s.config, 10).await;
    let events = alarm_fires(&w, &s, true, &seen).await;
    let platform = w.platform(MutationBudget::default());
    let out = lag::handle_event(&platform, &s.config, events[0].clone())
        .await
        .expect("handled");
    assert_eq!(
        out["decisions"][0]["decision"], "ignored",
        "the detector requested it minutes before the lag alarm: {out:#}"
    );
    assert!(out["decisions"][0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("already requested")));
    assert_eq!(published(&w, &s.requests).len(), 1, "one failover request");
}
