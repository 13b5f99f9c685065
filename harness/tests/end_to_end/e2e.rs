//! End to end, as AWS runs it: the built function binaries under the Lambda
//! Runtime API, invoked by the emulator's SNS through the Lambda Invoke API.

use crate::common;

use common::*;
use efs_dr_shared::domain::ids::RegionName;
use efs_dr_testkit::alarm_path;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_invoke_failover_runs_the_binary_under_the_runtime_api() {
    let _serial = SERIAL.lock().await;
    let env = Env::new().await;
    let (src, dst) = env.pair("manual").await;
    let lambda = functions(&env, &[]).await;
    let event = json!({"source_file_system_id": src, "source_region": "us-east-1", "destination_region": "us-west-2", "mode": "execute", "reason": "manual e2e"});
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let req = hyper::Request::post(format!(
        "{}/2015-03-31/functions/failover/invocations",
        lambda.url
    ))
    .body(http_body_util::Full::new(bytes::Bytes::from(
        event.to_string(),
    )))
    .expect("request");
    let resp = client.request(req).await.expect("invoke");
    assert!(resp.headers().get("x-amz-function-error").is_none());
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let out: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(out["status"], "completed", "{out:#}");
    assert_eq!(env.protection(&dst).await, "ENABLED");
    let f = lambda.function("failover").expect("failover");
    let t = f.timings();
    assert!(t.first_next.is_some() && t.first_response.is_some() && t.invocations == 1);
    // Bad input comes back as a Lambda error document with errorType.
    let err = f
        .invoke(json!({"source_file_system_id": "fs-nope"}))
        .await
        .expect_err("bad input");
    assert_eq!(err["errorType"], "InvalidInput", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_triggered_failover_from_stall_to_promotion() {
    let _serial = SERIAL.lock().await;
    let env = Env::new().await;
    let (src, dst) = env.pair("alarmed").await;
    let west = RegionName::parse("us-west-2").expect("region");
    let topics = alarm_path::create_topics(&env.sdk, &west)
        .await
        .expect("topics");
    let (alerts, requests) = (
        topics.alerts_topic_arn.clone(),
        topics.failover_topic_arn.clone(),
    );
    let alarm = alarm_path::lag_alarm_name(&dst);
    let witness = env.witness("us-east-1").await.expect("witness");
    let pairs = json!([{"source_file_system_id": src, "source_region": "us-east-1", "destination_file_system_id": dst}]).to_string();
    let lambda = functions(
        &env,
        &[
            ("EFS_DR_PAIRS", pairs),
            ("EFS_DR_ALERTS_TOPIC_ARN", alerts.clone()),
            ("EFS_DR_FAILOVER_TOPIC_ARN", requests.clone()),
            ("EFS_DR_ALARM_POLICY", "auto_failover".into()),
            ("EFS_DR_WITNESS_ALARM_ARN", witness),
            ("EFS_DR_ALARM_MIN_SECONDS", "120".into()),
            ("EFS_DR_WATCHED_ALARMS", alarm.clone()),
        ],
    )
    .await;
    // Subscriptions and the lag alarm, as the template deploys them, once the functions run.
    let account_id = env.emu.shared.world().account_id.clone();
    alarm_path::connect(&env.sdk, &west, &account_id, &topics, &src, &dst)
        .await
        .expect("subscriptions and alarm");
    // The Region fails; the schedule keeps invoking the probe every emulated minute.
    source_region_fails(&env, &[&src]);
    let (ticker, probed) = probe_every_minute(&lambda);
    until("the replica promoted by the alarm path", 120, async || {
        env.protection(&dst).await == "ENABLED"
            && lambda
                .results("failover")
                .iter()
                .any(|r| r.as_ref().is_ok_and(|v| v["status"] == "completed"))
    })
    .await;
    ticker.abort();
    // Decisions from alarm notifications (through SNS) and from the probe's re-checks.
    let mut outputs: Vec<Value> = lambda
        .results("lag-alarm-handler")
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    outputs.extend(probed.lock().unwrap().iter().cloned());
    // The region detector in the probe decides first; the alarm path, later,
    // finds the request already made.
    let decisions: Vec<String> = outputs
        .iter()
        .flat_map(|v| {
            let mut all = v["decisions"].as_array().cloned().unwrap_or_default();
            all.extend(v["detections"].as_array().cloned().unwrap_or_default());
            all
        })
        .filter_map(|d| d["decision"].as_str().map(str::to_string))
        .collect();
    assert!(
        decisions.iter().any(|d| d == "failover_requested"),
        "{decisions:?}"
    );
    let sent: Vec<String> = env
        .emu
        .shared
        .world()
        .messages
        .iter()
        .filter(|m| m.topic_arn == requests)
        .map(|m| {
            format!(
                "{} at {:.0}: {}",
                m.subject.clone().unwrap_or_default(),
                m.time,
                m.message
            )
        })
        .collect();
    assert_eq!(sent.len(), 1, "one failover request: {sent:#?}");
}
