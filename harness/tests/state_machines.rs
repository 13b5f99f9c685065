//! The state machines under a real ASL interpreter (aws-local-stepfunctions),
//! their Lambda tasks invoking the built binaries under the Runtime API, all
//! against the emulator: failover with approval, failback with cutover
//! approval, and a fleet failover under throttling.

mod common;

use common::*;
use efs_dr_shared_free::iso;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

mod efs_dr_shared_free {
    /// ISO 8601 of an epoch time, as the approver writes the cutover mark.
    pub fn iso(epoch: f64) -> String {
        let secs = epoch as i64;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
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
    let root = root();
    assert!(
        root.join("node_modules/aws-local-stepfunctions").exists(),
        "run `npm ci` first (scripts/test.sh does)"
    );
    let (url, machine) = (lambda_url.to_string(), machine.to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(&root)
            .arg("tests/e2e/run-state-machine.mjs")
            .arg(format!("statemachines/{machine}.asl.json"))
            .arg(input.to_string())
            .arg(url)
            .arg(substitutions())
            .env("APPROVAL_OUTPUT", approval.to_string())
            .env("WAIT_MS", "40")
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
