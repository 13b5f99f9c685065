//! Fault injection: for failover, mount-target-ensure and failback, kill the
//! run after the k-th mutating call (every k a clean run makes), under each
//! fault profile, then run again: the end state must be the clean one and no
//! acknowledged write may be lost beyond the recovery point the report states.
//! The figures are written to target/tmp/fault-matrix.txt and printed by the
//! test command.

mod common;

use common::*;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failback::{self, FailbackRequest};
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use efs_dr_shared::workflows::mount_target_ensure::{self as readiness, ReadinessRequest};
use serde_json::{json, Value};
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug)]
enum Profile {
    Clean,
    Throttled,
    ServerErrors,
    Latency,
    SourceDownMidway,
}

const PROFILES: [Profile; 5] = [
    Profile::Clean,
    Profile::Throttled,
    Profile::ServerErrors,
    Profile::Latency,
    Profile::SourceDownMidway,
];

fn apply(w: &World, p: Profile) {
    let v = match p {
        Profile::Clean | Profile::SourceDownMidway => return,
        Profile::Throttled => json!({"region": WEST, "throttle": {"rate": 20.0, "burst": 5.0}}),
        Profile::ServerErrors => json!({"region": WEST, "error_rate": 0.05}),
        Profile::Latency => json!({"region": WEST, "latency_ms": 5}),
    };
    w.faults(v.clone());
    if let Some(o) = v.as_object() {
        let mut east = o.clone();
        east.insert("region".into(), json!(EAST));
        w.faults(Value::Object(east));
    }
}

#[derive(Default)]
struct Figures {
    scenarios: usize,
    converged: usize,
    violations: Vec<String>,
    lost_beyond_rpo: usize,
}

fn failover_request(src: &str, dst: &str) -> FailoverRequest {
    FailoverRequest::from_json(json!({"source_file_system_id": src, "source_region": EAST, "destination_file_system_id": dst, "destination_region": WEST, "mode": "execute"})).expect("request")
}

async fn prepared_pair(w: &World, token: &str) -> (String, String) {
    let (src, dst) = w.replicated_pair(token).await;
    for i in 0..3 {
        w.write(EAST, &src, &format!("/f{i}"), "data");
        w.advance(40.0);
    }
    w.write(EAST, &src, "/last", "may be lost within the recovery point");
    (src, dst)
}

/// Failback's crash points (over twice failover's, with preservation): every one
/// without faults and with the source Region failing midway; under throttling,
/// 5xx and latency every third, unless EFS_DR_FAULT_MATRIX=full (the
/// exhaustive matrix: slower, since the throttle refills in real time).
fn crash_points(profile: Profile, total: usize) -> impl Iterator<Item = usize> {
    let full = std::env::var("EFS_DR_FAULT_MATRIX").is_ok_and(|v| v == "full");
    let stride = match profile {
        Profile::Clean | Profile::SourceDownMidway => 1,
        _ if full => 1,
        _ => 3,
    };
    (1..=total).step_by(stride)
}

/// Runs a workflow that crashes after its k-th mutating call, then re-runs it
/// and returns what the last run returns. In SourceDownMidway the source
/// Region fails after the crash; with `source_returns` one re-run meets the
/// outage and the Region is back for the last one, otherwise it stays down.
async fn crash_then_rerun<T>(
    w: &World,
    profile: Profile,
    k: usize,
    source_returns: bool,
    run: impl AsyncFn(MutationBudget) -> T,
) -> T {
    let _ = run(MutationBudget::crash_after(k)).await;
    if matches!(profile, Profile::SourceDownMidway) {
        w.faults(json!({"region": EAST, "outage": true}));
        if source_returns {
            let _ = run(MutationBudget::default()).await;
            w.faults(json!({"region": EAST, "outage": false}));
        }
    }
    run(MutationBudget::default()).await
}

/// Failover: crash after k, then re-run (with the source Region gone for the
/// re-run in the SourceDownMidway profile).
async fn failover_scenarios(fig: &mut Figures) {
    let probe = world().await;
    let (src, dst) = prepared_pair(&probe, "count").await;
    let clean = probe.platform(MutationBudget::default());
    failover::run(&clean, &probe.config(), &failover_request(&src, &dst), None)
        .await
        .expect("clean run");
    let total = clean.budget.count();
    for profile in PROFILES {
        for k in 1..=total {
            fig.scenarios += 1;
            let w = world().await;
            let (src, dst) = prepared_pair(&w, &format!("fo-{k}")).await;
            apply(&w, profile);
            let req = failover_request(&src, &dst);
            let s = crash_then_rerun(&w, profile, k, false, async |budget| {
                failover::run(&w.platform(budget), &w.config(), &req, None).await
            })
            .await;
            let name = format!("failover {profile:?} k={k}");
            let Ok(s) = s else {
                fig.violations.push(format!("{name}: re-run errored"));
                continue;
            };
            if s.status != Status::Completed {
                fig.violations
                    .push(format!("{name}: {:?} {:?}", s.status, s.results[0].error));
                continue;
            }
            let mut ok =
                w.protection(WEST, &dst).await == "ENABLED" && !w.has_replication(WEST, &dst).await;
            // Nothing written before the reported recovery point may be missing.
            let lrt = s.results[0]
                .recovery_point
                .as_ref()
                .map(|r| r.last_replicated_epoch)
                .unwrap_or(f64::MAX);
            let files = w
                .emu
                .shared
                .world()
                .file_system(WEST, &dst)
                .map(|f| f.files.clone())
                .unwrap_or_default();
            let lost = w
                .emu
                .shared
                .world()
                .writes
                .iter()
                .filter(|x| x.file_system_id == src && x.time < lrt && !files.contains_key(&x.path))
                .count();
            fig.lost_beyond_rpo += lost;
            ok &= lost == 0
                && w.tags(WEST, &dst)
                    .await
                    .contains(&("efs-dr:role".into(), "primary".into()));
            if ok {
                fig.converged += 1;
            } else {
                fig.violations
                    .push(format!("{name}: end state differs from a clean run"));
            }
        }
    }
}

fn readiness_request(src: &str, dst: &str, subnets: &[String]) -> ReadinessRequest {
    ReadinessRequest::from_json(json!({
        "file_system_id": dst, "region": WEST, "mode": "execute",
        "mount_targets": subnets.iter().map(|s| json!({"subnet_id": s})).collect::<Vec<_>>(),
        "access_points_from": {"file_system_id": src, "region": EAST}
    }))
    .expect("request")
}

async fn readiness_world(w: &World, token: &str) -> (String, String, Vec<String>) {
    let (src, dst) = w.replicated_pair(token).await;
    for (i, name) in ["app", "logs"].iter().enumerate() {
        w.efs(EAST)
            .create_access_point()
            .client_token(format!("src-{i}"))
            .file_system_id(&src)
            .tags(
                aws_sdk_efs::types::Tag::builder()
                    .key("Name")
                    .value(*name)
                    .build()
                    .expect("tag"),
            )
            .send()
            .await
            .expect("ap");
    }
    let subnets = w
        .emu
        .shared
        .world()
        .region(WEST)
        .map(|r| r.subnets.iter().map(|s| s.id.clone()).collect())
        .unwrap_or_default();
    (src, dst, subnets)
}

async fn readiness_scenarios(fig: &mut Figures) {
    let probe = world().await;
    let (src, dst, subnets) = readiness_world(&probe, "count").await;
    let clean = probe.platform(MutationBudget::default());
    readiness::run(
        &clean,
        &probe.config(),
        &readiness_request(&src, &dst, &subnets),
        None,
    )
    .await
    .expect("clean");
    let total = clean.budget.count();
    for profile in PROFILES {
        for k in 1..=total {
            fig.scenarios += 1;
            let w = world().await;
            let (src, dst, subnets) = readiness_world(&w, &format!("mt-{k}")).await;
            apply(&w, profile);
            let req = readiness_request(&src, &dst, &subnets);
            // With the source down, parity cannot be read; the mount targets still converge.
            let s = crash_then_rerun(&w, profile, k, true, async |budget| {
                readiness::run(&w.platform(budget), &w.config(), &req, None).await
            })
            .await;
            let name = format!("mount-target-ensure {profile:?} k={k}");
            let ready = s
                .as_ref()
                .map(|s| s.results[0].ready == Some(true))
                .unwrap_or(false);
            let aps = w
                .efs(WEST)
                .describe_access_points()
                .file_system_id(&dst)
                .send()
                .await
                .map(|o| o.access_points().len())
                .unwrap_or(0);
            let mts = w
                .efs(WEST)
                .describe_mount_targets()
                .file_system_id(&dst)
                .send()
                .await
                .map(|o| o.mount_targets().len())
                .unwrap_or(0);
            if ready && aps == 2 && mts == 3 {
                fig.converged += 1;
            } else {
                fig.violations.push(format!(
                    "{name}: ready {ready}, {aps} access points, {mts} mount targets"
                ));
            }
        }
    }
}

async fn failed_over(w: &World, token: &str) -> (String, String) {
    // Preservation backups as fast as the emulator allows: the matrix is about crash points.
    w.kit
        .control(
            "POST",
            "/_emulator/config",
            Some(&json!({"durations": {"backup_job_start": 5, "backup_job": 30}})),
        )
        .await
        .expect("durations");
    let (src, dst) = prepared_pair(w, token).await;
    failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &failover_request(&src, &dst),
        None,
    )
    .await
    .expect("failover");
    w.write(WEST, &dst, "/outage", "written during the outage");
    (src, dst)
}

fn failback_request(src: &str, dst: &str) -> FailbackRequest {
    FailbackRequest::from_json(json!({"original_file_system_id": src, "original_region": EAST, "replica_file_system_id": dst, "replica_region": WEST, "mode": "execute", "cutover": true})).expect("request")
}

async fn failback_scenarios(fig: &mut Figures) {
    let probe = world().await;
    let (src, dst) = failed_over(&probe, "count").await;
    let clean = probe.platform(MutationBudget::default());
    failback::run(&clean, &probe.config(), &failback_request(&src, &dst), None)
        .await
        .expect("clean");
    let total = clean.budget.count();
    for profile in PROFILES {
        for k in crash_points(profile, total) {
            fig.scenarios += 1;
            let w = world().await;
            let (src, dst) = failed_over(&w, &format!("fb-{k}")).await;
            apply(&w, profile);
            let req = failback_request(&src, &dst);
            // The original Region fails again mid-failback: refused, nothing changes.
            let name = format!("failback {profile:?} k={k}");
            let s = tokio::time::timeout(
                std::time::Duration::from_secs(120),
                crash_then_rerun(&w, profile, k, true, async |budget| {
                    failback::run(&w.platform(budget), &w.config(), &req, None).await
                }),
            )
            .await;

            let Ok(s) = s else {
                fig.violations
                    .push(format!("{name}: did not finish in 120 s"));
                continue;
            };

            let completed = s
                .as_ref()
                .map(|s| s.status == Status::Completed)
                .unwrap_or(false);
            let home = w
                .emu
                .shared
                .world()
                .file_system(EAST, &src)
                .map(|f| f.files.clone())
                .unwrap_or_default();
            let lost = usize::from(!home.contains_key("/outage"));
            fig.lost_beyond_rpo += lost;
            let forward = w
                .efs(EAST)
                .describe_replication_configurations()
                .file_system_id(&src)
                .send()
                .await
                .map(|o| {
                    o.replications()
                        .first()
                        .is_some_and(|r| r.source_file_system_id() == src)
                })
                .unwrap_or(false);
            if completed && lost == 0 && forward && w.protection(WEST, &dst).await == "REPLICATING"
            {
                fig.converged += 1;
            } else {
                fig.violations.push(format!(
                    "{name}: completed {completed}, outage write home {}, forward {forward}",
                    lost == 0
                ));
            }
        }
    }
}

async fn concurrent_duplicates(fig: &mut Figures) {
    for round in 0..3 {
        fig.scenarios += 1;
        let w = world().await;
        let (src, dst) = prepared_pair(&w, &format!("dup-{round}")).await;
        let req = failover_request(&src, &dst);
        let (p1, p2) = (
            w.platform(MutationBudget::default()),
            w.platform(MutationBudget::default()),
        );
        let config = w.config();
        let _ = tokio::join!(
            failover::run(&p1, &config, &req, None),
            failover::run(&p2, &config, &req, None)
        );
        let configs = w.emu.shared.world().replications.len();
        if configs == 0 && w.protection(WEST, &dst).await == "ENABLED" {
            fig.converged += 1;
        } else {
            fig.violations.push(format!(
                "concurrent failovers round {round}: {configs} configurations left"
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_under_every_fault_converges() {
    let started = std::time::Instant::now();
    let mut fig = Figures::default();
    failover_scenarios(&mut fig).await;
    readiness_scenarios(&mut fig).await;
    failback_scenarios(&mut fig).await;
    concurrent_duplicates(&mut fig).await;
    let mut out = String::new();
    let _ = writeln!(out, "fault injection: {} scenarios run, {} converged, {} invariant violations, {} writes lost beyond the stated recovery point ({:.1} s)",
        fig.scenarios, fig.converged, fig.violations.len(), fig.lost_beyond_rpo, started.elapsed().as_secs_f64());
    for v in &fig.violations {
        let _ = writeln!(out, "  violation: {v}");
    }
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-matrix.txt");
    let _ = std::fs::write(&path, &out);
    println!("{out}");
    assert!(fig.violations.is_empty(), "{out}");
    assert_eq!(fig.lost_beyond_rpo, 0, "{out}");
    assert_eq!(fig.converged, fig.scenarios);
}
