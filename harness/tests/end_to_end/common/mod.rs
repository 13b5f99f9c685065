#![allow(dead_code)]
//! Shared by the end-to-end suites: a time-scaled emulator and the built
//! function binaries behind the Lambda Invoke API.

pub mod stack;

use efs_dr_harness::{scaled_emulator, target_bin_dir, FunctionRuntime, Lambda};
use efs_dr_testkit::Kit;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SCALE: f64 = 300.0;

/// The suites time real processes against a time-scaled emulator: run them one
/// at a time so that they do not starve each other of the two cores.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The scaled emulator, with what the suites ask of it.
pub struct Env(Kit);

impl std::ops::Deref for Env {
    type Target = Kit;
    fn deref(&self) -> &Kit {
        &self.0
    }
}

impl Env {
    pub async fn new() -> Env {
        Env(scaled_emulator(SCALE).await.expect("emulator"))
    }

    pub async fn pair(&self, token: &str) -> (String, String) {
        self.replicated_pair(token)
            .await
            .expect("a replicated pair")
    }

    pub async fn protection(&self, fs: &str) -> String {
        self.0.protection("us-west-2", fs).await.unwrap_or_default()
    }
}

pub async fn functions(env: &Env, extra: &[(&str, String)]) -> Lambda {
    let bin = target_bin_dir();
    let mut vars = env.function_env(&[
        ("EFS_DR_SOURCE_REGION", "us-east-1".into()),
        // 20 emulated seconds between polls.
        ("EFS_DR_POLL_MS", "20000".into()),
        // Every other wait of the functions (the detector's probe spacing,
        // the failover's probe window) on the emulator's clock.
        ("EFS_DR_TIME_SCALE", format!("{SCALE}")),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let mut map = HashMap::new();
    for name in [
        "failover",
        "failback",
        "mount-target-ensure",
        "lag-alarm-handler",
    ] {
        let path = bin.join(name);
        assert!(
            path.exists(),
            "{} is built (cargo build --workspace --bins)",
            path.display()
        );
        map.insert(
            name.to_string(),
            Arc::new(
                FunctionRuntime::start(name, &path, &[], &vars)
                    .await
                    .expect("start function"),
            ),
        );
    }
    let lambda = Lambda::serve(map).await.expect("invoke api");
    env.emu.shared.set_lambda_endpoint(Some(lambda.url.clone()));
    lambda
}

pub async fn until(what: &str, secs: u64, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The probe on its schedule: the lag-alarm-handler every emulated minute,
/// its results kept, until the returned task is aborted.
pub fn probe_every_minute(
    lambda: &Lambda,
) -> (
    tokio::task::JoinHandle<()>,
    Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    let probe = lambda.function("lag-alarm-handler").expect("handler");
    let scheduled = serde_json::json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let probed: Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Arc::default();
    let kept = probed.clone();
    let ticker = tokio::spawn(async move {
        loop {
            if let Ok(v) = probe.invoke(scheduled.clone()).await {
                if let Ok(mut p) = kept.lock() {
                    p.push(v);
                }
            }
            tokio::time::sleep(Duration::from_secs_f64(60.0 / SCALE)).await;
        }
    });
    (ticker, probed)
}

/// Until the replica's lag alarm is OK: a new alarm on a metric without data
/// starts in breach, so a page after this is the outage's.
pub async fn until_lag_alarm_ok(env: &Env, replica: &str) {
    let lag_alarm = efs_dr_testkit::alarm_path::lag_alarm_name(replica);
    until(
        "the lag alarm OK while replication is healthy",
        120,
        async || {
            env.emu
                .shared
                .world()
                .region("us-west-2")
                .and_then(|r| r.alarms.get(&lag_alarm))
                .is_some_and(|a| a.state == "OK")
        },
    )
    .await;
}

/// us-east-1 fails: its API unreachable, the named sources' replication stalled.
pub fn source_region_fails(env: &Env, sources: &[&str]) {
    for s in sources {
        env.emu
            .shared
            .set_replication_fault(s, efs_dr_emulator::ReplicationFault::Stalled)
            .expect("stall");
    }
    env.emu
        .shared
        .set_faults(
            &serde_json::from_value(serde_json::json!({"region": "us-east-1", "outage": true}))
                .expect("fault"),
        )
        .expect("outage");
}
