//! The state machines under a real ASL interpreter (aws-local-stepfunctions),
//! their Lambda tasks invoking the built binaries under the Runtime API, all
//! against the emulator: failover with approval, failback with cutover
//! approval, and a fleet failover under throttling.

use crate::common;

use common::*;
use efs_dr_shared::domain::time::iso8601;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

/// ISO 8601 of an epoch time to the second, as the approver writes the cutover mark.
fn iso(epoch: f64) -> String {
    iso8601(epoch.floor())
}

fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("..")
}

fn substitutions() -> String {
    json!({
        "FailoverFunctionArn": "arn:aws:lambda:us-west-2:123456789012:function:failover",
        "FailbackFunctionArn": "arn:aws:lambda:us-west-2:123456789012:function:failback",
        "MountTargetEnsureFunctionArn": "arn:aws:lambda:us-west-2:123456789012:function:mount-target-ensure",
        "AlertsTopicArn": "arn:aws:sns:us-west-2:123456789012:efs-dr-alerts",
    })
    .to_string()
}

/// Runs one execution to its end; the interpreter needs `npm ci` (the test command does it).
async fn execute(machine: &str, input: Value, lambda_url: &str, approval: Value) -> Value {
    execute_with(
        machine,
        input,
        lambda_url,
        approval,
        &[("WAIT_MS", "40".into())],
    )
    .await
}

/// `execute`, with the runner's environment given (ADVANCE_URL: Waits move
/// the emulator's clock instead of sleeping).
async fn execute_with(
    machine: &str,
    input: Value,
    lambda_url: &str,
    approval: Value,
    env: &[(&str, String)],
) -> Value {
    let root = root();
    assert!(
        root.join("node_modules/aws-local-stepfunctions").exists(),
        "run `npm ci` first (scripts/test.sh does)"
    );
    let (url, machine) = (lambda_url.to_string(), machine.to_string());
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(&root)
            .arg("tests/e2e/run-state-machine.mjs")
            .arg(format!("statemachines/{machine}.asl.json"))
            .arg(input.to_string())
            .arg(url)
            .arg(substitutions())
            .env("APPROVAL_OUTPUT", approval.to_string())
            .envs(env)
            .output()
            .expect("node runs")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|_| {
        panic!(
            "no result from the interpreter:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn pair_env(src: &str, dst: &str) -> Vec<(&'static str, String)> {
    vec![("EFS_DR_PAIRS", json!([{"source_file_system_id": src, "source_region": "us-east-1", "destination_file_system_id": dst}]).to_string())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_with_approval_then_failback_with_cutover_approval() {
    let _serial = SERIAL.lock().await;
    let env = Env::new().await;
    let (src, dst) = env.pair("sfn").await;
    env.emu
        .shared
        .write("us-east-1", &src, "/before.txt", "on the original", None)
        .expect("write");
    env.emu.shared.advance(120.0);
    let lambda = functions(
        &env,
        &pair_env(&src, &dst)
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<Vec<_>>(),
    )
    .await;

    let run = execute(
        "failover",
        json!({"source_file_system_id": src, "source_region": "us-east-1", "destination_file_system_id": dst, "destination_region": "us-west-2",
               "max_rpo_seconds": 900, "force": false, "reason": "state machine e2e", "require_approval": true}),
        &lambda.url,
        json!({}),
    )
    .await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    let approvals: Vec<&Value> = run["published"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["state"] == "WaitForApproval")
        .collect();
    assert_eq!(
        approvals.len(),
        1,
        "the plan went out for approval: {run:#}"
    );
    assert_eq!(env.protection(&dst).await, "ENABLED");

    // The outage's writes, then the failback, approved with the time writes stopped.
    env.emu
        .shared
        .write("us-west-2", &dst, "/outage.txt", "on the replica", None)
        .expect("write");
    let stopped = env.emu.shared.now();
    let run = execute(
        "failback",
        json!({"original_file_system_id": src, "original_region": "us-east-1", "replica_file_system_id": dst, "replica_region": "us-west-2",
               "strategy": "keep_changes", "acknowledge_data_loss": false, "force": false, "original_mount_targets": [], "reason": "state machine e2e"}),
        &lambda.url,
        json!({"cutover_mark": iso(stopped)}),
    )
    .await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    assert!(run["published"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["state"] == "WaitForCutoverApproval"));
    let home = env
        .emu
        .shared
        .world()
        .file_system("us-east-1", &src)
        .map(|f| f.files.clone())
        .unwrap_or_default();
    assert!(
        home.contains_key("/before.txt") && home.contains_key("/outage.txt"),
        "{home:?}"
    );
    let r = env
        .efs("us-east-1")
        .describe_replication_configurations()
        .file_system_id(&src)
        .send()
        .await
        .expect("forward");
    assert_eq!(r.replications()[0].destinations()[0].file_system_id(), dst);
    assert_eq!(env.protection(&dst).await, "REPLICATING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_failover_of_twenty_under_throttling() {
    let _serial = SERIAL.lock().await;
    let env = Env::new().await;
    let mut pairs = Vec::new();
    for i in 0..20 {
        pairs.push(env.pair(&format!("fleet-{i}")).await);
    }
    env.emu
        .shared
        .set_faults(
            &serde_json::from_value(
                json!({"region": "us-west-2", "throttle": {"rate": 30.0, "burst": 10.0}}),
            )
            .expect("fault"),
        )
        .expect("throttle");
    let lambda = functions(&env, &[]).await;
    let run = execute(
        "fleet-failover",
        json!({"pairs": pairs.iter().map(|(s, d)| json!({"source_file_system_id": s, "source_region": "us-east-1", "destination_file_system_id": d, "destination_region": "us-west-2"})).collect::<Vec<_>>(),
               "max_rpo_seconds": 900, "force": false, "reason": "fleet e2e"}),
        &lambda.url,
        json!({}),
    )
    .await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    for (_, dst) in &pairs {
        assert_eq!(env.protection(dst).await, "ENABLED", "{dst}");
    }
    let throttled = env
        .emu
        .shared
        .calls()
        .iter()
        .filter(|c| c.error_code.as_deref() == Some("ThrottlingException"))
        .count();
    assert!(throttled > 0, "the fleet met throttling");
}

/// Step Functions keeps at most 25,000 events in one execution's history.
const HISTORY_LIMIT: u64 = 25_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failback_whose_sync_takes_a_day_stays_far_below_the_history_limit() {
    let _serial = SERIAL.lock().await;
    let env = Env::new().await;
    let (src, dst) = env.pair("day-long").await;
    // The functions' own poll intervals (5 s growing), not the suites' fast ones.
    let mut vars = pair_env(&src, &dst);
    vars.push(("EFS_DR_POLL_MS", "5000".into()));
    let lambda = functions(&env, &vars).await;
    let failover = lambda.function("failover").expect("failover");
    let promoted = failover
        .invoke(json!({"source_file_system_id": src, "source_region": "us-east-1", "destination_file_system_id": dst,
                       "destination_region": "us-west-2", "mode": "execute", "reason": "before a day-long failback"}))
        .await
        .expect("failover");
    assert_eq!(promoted["status"], "completed", "{promoted:#}");
    env.emu
        .shared
        .write("us-west-2", &dst, "/outage.txt", "on the replica", None)
        .expect("write");
    // The reverse replication's initial sync takes a day.
    const DAY: f64 = 86_400.0;
    env.emu.shared.world().durations.initial_sync = DAY;
    let started = env.emu.shared.now();
    let stopped = started;
    let run = execute_with(
        "failback",
        json!({"original_file_system_id": src, "original_region": "us-east-1", "replica_file_system_id": dst, "replica_region": "us-west-2",
               "strategy": "keep_changes", "acknowledge_data_loss": false, "force": false, "original_mount_targets": [], "reason": "a day-long sync"}),
        &lambda.url,
        json!({"cutover_mark": iso(stopped)}),
        &[("ADVANCE_URL", format!("{}/_emulator", env.emu.url()))],
    )
    .await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    let took = env.emu.shared.now() - started;
    assert!(
        took >= DAY,
        "the failback spanned the day-long sync: {took:.0} s"
    );
    let events = run["history"]["events"].as_u64().unwrap_or(u64::MAX);
    println!(
        "history: failback with a {:.0} h reverse sync ({took:.0} emulated s in all): {events} events (limit {HISTORY_LIMIT})",
        DAY / 3600.0
    );
    // Two day-long syncs (back home, then re-protection) in about 350 polls.
    assert!(events < HISTORY_LIMIT / 4, "{events} events: {run:#}");
}

/// A stand-in for the failover function in the fleet's per-pair loop: each
/// pair reports in progress for `polls` passes (with the growing waits the
/// function gives), then completed. The machine's shape, not the function,
/// is what the 500-pair history count measures; the real function runs the
/// fleet in `fleet_failover_of_twenty_under_throttling`.
async fn scripted_failover(polls: u32) -> String {
    use http_body_util::{BodyExt, Full};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| async move {
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes().to_vec())
                            .unwrap_or_default();
                        let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let poll = event["poll"].as_u64().unwrap_or(0) as u32;
                        let done = poll + 1 >= polls;
                        let fs = event["destination_file_system_id"].clone();
                        // Where the report says the pair is, as the real one does.
                        let places = json!({
                            "source": {"file_system_id": event["source_file_system_id"], "region": event["source_region"]},
                            "destination": {"file_system_id": fs, "region": event["destination_region"]},
                        });
                        let (status, phase) = if done {
                            ("completed", "completed")
                        } else {
                            ("in_progress", "promoting")
                        };
                        let mut report = json!({"status": status, "phase": phase});
                        report["source"] = places["source"].clone();
                        report["destination"] = places["destination"].clone();
                        let mut summary = json!({"workflow": "failover", "status": status, "done": done,
                                                 "summary": format!("{fs} {phase}"), "results": [report]});
                        if !done {
                            summary["wait_seconds"] =
                                json!((5.0 * 1.5f64.powi(poll as i32)).min(30.0).ceil() as u64);
                        }
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            bytes::Bytes::from(summary.to_string()),
                        )))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_500_pairs_keeps_each_history_bounded() {
    let _serial = SERIAL.lock().await;
    // About 3 minutes of promotion per pair: 12 polls of growing waits.
    const POLLS: u32 = 12;
    let lambda_url = scripted_failover(POLLS).await;
    let pairs: Vec<Value> = (0..500)
        .map(|i| {
            json!({"source_file_system_id": format!("fs-{:017x}", 0x1_0000 + i), "source_region": "us-east-1",
                   "destination_file_system_id": format!("fs-{:017x}", 0x2_0000 + i), "destination_region": "us-west-2"})
        })
        .collect();
    let run = execute_with(
        "fleet-failover",
        json!({"pairs": pairs, "max_rpo_seconds": 900, "force": false, "reason": "Region failover of 500"}),
        &lambda_url,
        json!({}),
        &[("WAIT_MS", "0".into())],
    )
    .await;
    assert_eq!(run["status"], "SUCCEEDED", "{}", run["error"]);
    let history = &run["history"];
    let (parent, child, children) = (
        history["events"].as_u64().unwrap_or(u64::MAX),
        history["max_child_events"].as_u64().unwrap_or(u64::MAX),
        history["child_executions"].as_u64().unwrap_or(0),
    );
    println!(
        "history: fleet failover of 500 pairs ({POLLS} polls each): parent execution {parent} events, largest child execution {child} events, {children} child executions (limit {HISTORY_LIMIT} each)"
    );
    assert_eq!(children, 500, "one child execution per pair");
    assert!(
        parent < 100,
        "the parent's history does not grow with the fleet: {parent}"
    );
    assert!(child < HISTORY_LIMIT / 50, "{child}");
}
