//! Fault injection, path by path. Each path (failover with the source up or
//! down, under each deletion variant; failback after a full and after a
//! local-only failover, and with divergent writes; mount-target-ensure) is
//! killed after its k-th mutating call, for every k the path reaches under
//! that fault profile (enumerated by crashing until a run gets through, not
//! counted from one clean run), then run again. Every scenario must converge,
//! and the invariants are checked by content in both directions:
//! - every acknowledged write ends on the primary, in a preserved recovery
//!   point, or inside the recovery point window the failover stated;
//! - no file on the primary holds an older version than one acknowledged there;
//! - never two primaries of one pair;
//! - never a call on a file system outside the pair.
//!
//! The figures per path are written to target/tmp/fault-matrix.txt and
//! printed by the test command. EFS_DR_FAULT_MATRIX=full runs every crash
//! point under every profile (slower: throttling refills and latency pass in
//! real time).

use crate::common;

use common::*;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::run::summary::RunSummary;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failback::{self, FailbackRequest};
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use efs_dr_shared::workflows::mount_target_ensure::{self as readiness, ReadinessRequest};
use efs_dr_shared::Error;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Profile {
    Clean,
    Throttled,
    ServerErrors,
    Latency,
    LostResponses,
    SourceDownMidway,
}

const PROFILES: [Profile; 6] = [
    Profile::Clean,
    Profile::Throttled,
    Profile::ServerErrors,
    Profile::Latency,
    Profile::LostResponses,
    Profile::SourceDownMidway,
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    FailoverSourceUp,
    FailoverSourceDown,
    FailoverHangingDelete,
    FailoverSourceSideFirst,
    FailbackAfterFull,
    FailbackAfterLocal,
    FailbackDivergent,
    MountTargetEnsure,
}

const PATHS: [Path; 8] = [
    Path::FailoverSourceUp,
    Path::FailoverSourceDown,
    Path::FailoverHangingDelete,
    Path::FailoverSourceSideFirst,
    Path::FailbackAfterFull,
    Path::FailbackAfterLocal,
    Path::FailbackDivergent,
    Path::MountTargetEnsure,
];

impl Path {
    fn is_failback(self) -> bool {
        matches!(
            self,
            Path::FailbackAfterFull | Path::FailbackAfterLocal | Path::FailbackDivergent
        )
    }

    fn is_failover(self) -> bool {
        matches!(
            self,
            Path::FailoverSourceUp
                | Path::FailoverSourceDown
                | Path::FailoverHangingDelete
                | Path::FailoverSourceSideFirst
        )
    }
}

fn full() -> bool {
    std::env::var("EFS_DR_FAULT_MATRIX").is_ok_and(|v| v == "full")
}

/// Which crash points a profile visits by default; every one with `full`.
fn stride(profile: Profile) -> usize {
    match profile {
        _ if full() => 1,
        Profile::Clean | Profile::SourceDownMidway | Profile::LostResponses => 1,
        _ => 3,
    }
}

fn apply(w: &World, p: Profile) {
    let v = match p {
        Profile::Clean | Profile::SourceDownMidway => return,
        Profile::Throttled => json!({"throttle": {"rate": 20.0, "burst": 5.0}}),
        Profile::ServerErrors => json!({"error_rate": 0.05}),
        // 50-500 ms per call is what the full matrix waits; by default a tenth of
        // it, since a failback makes ~100 calls and each waits in real time.
        Profile::Latency if full() => json!({"latency_ms": 50, "latency_jitter_ms": 450}),
        Profile::Latency => json!({"latency_ms": 5, "latency_jitter_ms": 45}),
        Profile::LostResponses => json!({"lost_response_rate": 0.2}),
    };
    for region in [EAST, WEST] {
        let mut update = v.clone();
        update["region"] = json!(region);
        w.faults(update);
    }
}

/// Lifts every fault before the end state is judged: a verifying read that
/// was throttled or lost must not read as "no replication" (which would fail
/// a converged run, or pass one that is not).
fn clear_faults(w: &World) {
    for region in [EAST, WEST] {
        w.faults(json!({
            "region": region, "outage": false, "throttle": null, "error_rate": 0.0,
            "latency_ms": 0, "latency_jitter_ms": 0, "lost_response_rate": 0.0,
        }));
    }
}

/// What a scenario starts from.
struct Setup {
    src: String,
    dst: String,
    /// The recovery point the failover before a failback stated.
    failover_recovery_point: Option<f64>,
    subnets: Vec<String>,
    /// Calls before the scenario: the set-up's own do not count.
    calls_before: usize,
}

async fn set_variant(w: &World, v: Value) {
    w.kit
        .control("POST", "/_emulator/config", Some(&v))
        .await
        .expect("config");
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

fn failover_request(src: &str, dst: &str) -> FailoverRequest {
    FailoverRequest::from_json(json!({"source_file_system_id": src, "source_region": EAST, "destination_file_system_id": dst, "destination_region": WEST, "mode": "execute", "max_promotion_wait_seconds": 300})).expect("request")
}

fn failback_request(src: &str, dst: &str) -> FailbackRequest {
    FailbackRequest::from_json(json!({"original_file_system_id": src, "original_region": EAST, "replica_file_system_id": dst, "replica_region": WEST, "mode": "execute", "cutover": true})).expect("request")
}

fn readiness_request(src: &str, dst: &str, subnets: &[String]) -> ReadinessRequest {
    ReadinessRequest::from_json(json!({
        "file_system_id": dst, "region": WEST, "mode": "execute",
        "mount_targets": subnets.iter().map(|s| json!({"subnet_id": s})).collect::<Vec<_>>(),
        "access_points_from": {"file_system_id": src, "region": EAST}
    }))
    .expect("request")
}

async fn setup(w: &World, path: Path, token: &str) -> Setup {
    // Preservation backups as fast as the emulator allows: the matrix is about crash points.
    set_variant(
        w,
        json!({"durations": {"backup_job_start": 5, "backup_job": 30}}),
    )
    .await;
    match path {
        Path::FailoverHangingDelete => {
            set_variant(w, json!({"delete_with_source_down": "accept_and_hang"})).await
        }
        Path::FailoverSourceSideFirst => {
            set_variant(w, json!({"delete_order": "source_first"})).await
        }
        _ => {}
    }
    let (src, dst) = prepared_pair(w, token).await;
    if matches!(path, Path::FailoverSourceDown | Path::FailoverHangingDelete) {
        w.faults(json!({"region": EAST, "outage": true}));
    }
    let mut failover_recovery_point = None;
    if path.is_failback() {
        let local = path == Path::FailbackAfterLocal;
        if local {
            w.faults(json!({"region": EAST, "outage": true}));
        }
        let s = failover::run(
            &w.platform(MutationBudget::default()),
            &w.config(),
            &failover_request(&src, &dst),
            None,
        )
        .await
        .expect("failover");
        failover_recovery_point = s.results[0]
            .recovery_point
            .as_ref()
            .map(|r| r.last_replicated_epoch);
        w.write(WEST, &dst, "/outage", "written during the outage");
        if local {
            w.faults(json!({"region": EAST, "outage": false}));
        }
        if path == Path::FailbackDivergent {
            // The original took writes too, after the failover: they must be preserved.
            w.write(
                EAST,
                &src,
                "/divergent",
                "written on the original after failover",
            );
            w.write(EAST, &src, "/f0", "changed on the original after failover");
        }
        // Failback judges the original by CloudWatch data since the failover.
        w.advance(180.0);
    }
    let mut subnets = Vec::new();
    if path == Path::MountTargetEnsure {
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
        w.advance(10.0);
        subnets = w
            .emu
            .shared
            .world()
            .region(WEST)
            .map(|r| r.subnets.iter().map(|s| s.id.clone()).collect())
            .unwrap_or_default();
    }
    Setup {
        src,
        dst,
        failover_recovery_point,
        subnets,
        calls_before: w.emu.shared.calls().len(),
    }
}

async fn run_path(
    w: &World,
    path: Path,
    s: &Setup,
    budget: MutationBudget,
) -> Result<RunSummary, Error> {
    let platform = w.platform(budget);
    let config = w.config();
    match path {
        p if p.is_failover() => {
            failover::run(&platform, &config, &failover_request(&s.src, &s.dst), None).await
        }
        p if p.is_failback() => {
            failback::run(&platform, &config, &failback_request(&s.src, &s.dst), None).await
        }
        _ => {
            readiness::run(
                &platform,
                &config,
                &readiness_request(&s.src, &s.dst, &s.subnets),
                None,
            )
            .await
        }
    }
}

/// The end state a clean run of `path` reaches, or what differs from it.
async fn converged(
    w: &World,
    path: Path,
    s: &Setup,
    last: &Result<RunSummary, Error>,
) -> Result<(), String> {
    let summary = last
        .as_ref()
        .map_err(|e| format!("the last run errored: {e}"))?;
    let r = &summary.results[0];
    match path {
        Path::MountTargetEnsure => {
            let aps = w.emu.shared.world().region(WEST).map(|r| {
                r.access_points
                    .values()
                    .filter(|a| a.file_system_id == s.dst)
                    .count()
            });
            let mts = w.emu.shared.world().region(WEST).map(|r| {
                r.mount_targets
                    .values()
                    .filter(|m| m.file_system_id == s.dst)
                    .count()
            });
            if r.ready == Some(true) && aps == Some(2) && mts == Some(3) {
                Ok(())
            } else {
                Err(format!(
                    "ready {:?}, {aps:?} access points, {mts:?} mount targets",
                    r.ready
                ))
            }
        }
        p if p.is_failover() => {
            let ok = summary.status == Status::Completed
                && w.protection(WEST, &s.dst).await == "ENABLED"
                && !w.has_replication(WEST, &s.dst).await
                && w.tags(WEST, &s.dst)
                    .await
                    .contains(&("efs-dr:role".into(), "primary".into()));
            if ok {
                Ok(())
            } else {
                Err(format!("{:?} {:?}", summary.status, r.error))
            }
        }
        _ => {
            let forward = w
                .efs(EAST)
                .describe_replication_configurations()
                .file_system_id(&s.src)
                .send()
                .await
                .map(|o| {
                    o.replications()
                        .first()
                        .is_some_and(|c| c.source_file_system_id() == s.src)
                })
                .unwrap_or(false);
            let ok = summary.status == Status::Completed
                && forward
                && w.protection(WEST, &s.dst).await == "REPLICATING";
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "{:?}, forward replication {forward}: {:?}",
                    summary.status, r.error
                ))
            }
        }
    }
}

/// The invariants, by content. Returns (violations, writes lost beyond the
/// stated recovery point).
fn invariants(
    w: &World,
    path: Path,
    s: &Setup,
    last: &Result<RunSummary, Error>,
) -> (Vec<String>, usize) {
    let world = w.emu.shared.world();
    let mut violations = Vec::new();
    let (primary_region, primary) = if path.is_failback() {
        (EAST, s.src.as_str())
    } else {
        (WEST, s.dst.as_str())
    };
    let files = world
        .file_system(primary_region, primary)
        .map(|f| f.files.clone())
        .unwrap_or_default();
    let preserved: Vec<BTreeMap<String, u64>> = world
        .regions
        .values()
        .flat_map(|r| r.backup.recovery_points.values())
        .map(|p| p.files.iter().map(|(k, f)| (k.clone(), f.seq)).collect())
        .collect();
    let recovery_point = if path.is_failback() {
        s.failover_recovery_point
    } else {
        last.as_ref()
            .ok()
            .and_then(|sum| sum.results[0].recovery_point.as_ref())
            .map(|r| r.last_replicated_epoch)
    };
    let on_primary = |path: &str, seq: u64| files.get(path).is_some_and(|f| f.seq >= seq);
    let in_preserved = |path: &str, seq: u64| {
        preserved
            .iter()
            .any(|p| p.get(path).is_some_and(|s| *s >= seq))
    };
    let mut lost = 0;
    if path != Path::MountTargetEnsure {
        for x in world
            .writes
            .iter()
            .filter(|x| x.file_system_id == s.src || x.file_system_id == s.dst)
        {
            let kept = on_primary(&x.path, x.seq) || in_preserved(&x.path, x.seq);
            // A failover may lose what the source took after its last sync, as it
            // states; a failback may lose nothing: the original's own writes are preserved.
            let exempt = path.is_failover()
                && x.file_system_id == s.src
                && recovery_point.is_some_and(|rp| x.time >= rp);
            if !kept && !exempt {
                lost += 1;
                violations.push(format!(
                    "write {} ({}) is neither on the primary nor preserved",
                    x.seq, x.path
                ));
            }
            if x.file_system_id == primary
                && files.get(&x.path).is_some_and(|f| f.seq < x.seq)
                && !in_preserved(&x.path, x.seq)
            {
                violations.push(format!(
                    "{} on the primary is older than write {} acknowledged there",
                    x.path, x.seq
                ));
            }
        }
    }
    let primaries = [(EAST, &s.src), (WEST, &s.dst)]
        .iter()
        .filter(|(r, fs)| {
            world.file_system(r, fs).is_some_and(|f| {
                f.tags
                    .iter()
                    .any(|(k, v)| k == "efs-dr:role" && v == "primary")
            })
        })
        .count();
    if primaries > 1 {
        violations.push("two primaries of one pair".into());
    }
    for c in &world.calls[s.calls_before..] {
        if let Some(fs) = &c.file_system_id {
            if fs != &s.src && fs != &s.dst {
                violations.push(format!(
                    "{} {} named {fs}, outside the pair",
                    c.region, c.operation
                ));
            }
        }
    }
    (violations, lost)
}

#[derive(Default)]
struct PathFigures {
    scenarios: usize,
    converged: usize,
    violations: Vec<String>,
    lost_beyond_rpo: usize,
}

async fn scenarios_of(path: Path, fig: &mut PathFigures) {
    let only = std::env::var("EFS_DR_FAULT_MATRIX_ONLY").unwrap_or_default();
    for profile in PROFILES {
        if only.contains(':') && !only.ends_with(&format!(":{profile:?}")) {
            continue;
        }
        let step = stride(profile);
        let mut k = 1;
        loop {
            fig.scenarios += 1;
            let w = world().await;
            let s = setup(&w, path, &format!("{path:?}-{profile:?}-{k}")).await;
            apply(&w, profile);
            let budget = MutationBudget::crash_after(k);
            let probe = budget.clone();
            let name = format!("{path:?} {profile:?} k={k}");
            let scenario_started = std::time::Instant::now();
            let first =
                tokio::time::timeout(Duration::from_secs(120), run_path(&w, path, &s, budget))
                    .await;
            // The path ends before its k-th mutating call: every point is visited.
            let reached_the_end = probe.count() < k;
            if matches!(profile, Profile::SourceDownMidway) && !reached_the_end {
                w.faults(json!({"region": EAST, "outage": true}));
                if !path.is_failover() {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(120),
                        run_path(&w, path, &s, MutationBudget::default()),
                    )
                    .await;
                    w.faults(json!({"region": EAST, "outage": false}));
                    w.advance(180.0);
                }
            }
            let last = if reached_the_end {
                first.ok()
            } else {
                tokio::time::timeout(
                    Duration::from_secs(120),
                    run_path(&w, path, &s, MutationBudget::default()),
                )
                .await
                .ok()
            };
            match last {
                None => fig
                    .violations
                    .push(format!("{name}: did not finish in 120 s")),
                Some(last) => {
                    clear_faults(&w);
                    let (violations, lost) = invariants(&w, path, &s, &last);
                    fig.lost_beyond_rpo += lost;
                    let ok = converged(&w, path, &s, &last).await;
                    match (&ok, violations.is_empty()) {
                        (Ok(()), true) => fig.converged += 1,
                        _ => {
                            if let Err(e) = ok {
                                fig.violations.push(format!("{name}: {e}"));
                            }
                            fig.violations
                                .extend(violations.into_iter().map(|v| format!("{name}: {v}")));
                        }
                    }
                }
            }
            if std::env::var_os("EFS_DR_FAULT_MATRIX_TRACE").is_some() {
                eprintln!("{name}: {:.1} s", scenario_started.elapsed().as_secs_f64());
            }
            if reached_the_end || k > 80 {
                break;
            }
            k += step;
        }
    }
}

/// Two failovers of one pair at once: whatever each reports must be true of
/// the world, and the world must end promoted with no configuration left.
async fn concurrent_duplicates(fig: &mut PathFigures) {
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
        let (a, b) = tokio::join!(
            failover::run(&p1, &config, &req, None),
            failover::run(&p2, &config, &req, None)
        );
        let configs = w.emu.shared.world().replications.len();
        let promoted = w.protection(WEST, &dst).await == "ENABLED";
        let mut problems = Vec::new();
        for (who, r) in [("first", &a), ("second", &b)] {
            match r {
                Ok(s) if s.status == Status::Completed && !(promoted && configs == 0) => problems
                    .push(format!(
                        "{who} reports completed, but {configs} configurations are left"
                    )),
                Ok(s) if s.status == Status::Completed || s.status == Status::InProgress => {}
                Ok(s) => problems.push(format!(
                    "{who} ended {:?}: {:?}",
                    s.status, s.results[0].error
                )),
                Err(e) => problems.push(format!("{who} failed: {e}")),
            }
        }
        if configs != 0 || !promoted {
            problems.push(format!(
                "{configs} configurations left, promoted {promoted}"
            ));
        }
        if problems.is_empty() {
            fig.converged += 1;
        } else {
            fig.violations.extend(
                problems
                    .into_iter()
                    .map(|p| format!("concurrent failovers round {round}: {p}")),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_under_every_fault_converges() {
    let started = std::time::Instant::now();
    let mut out = String::new();
    let mut total = PathFigures::default();
    let _ = writeln!(
        out,
        "{:<26} {:>9} {:>9} {:>10} {:>14}",
        "path", "scenarios", "converged", "violations", "lost beyond RP"
    );
    let mut rows: Vec<(String, PathFigures)> = Vec::new();
    // EFS_DR_FAULT_MATRIX_ONLY=Path[:Profile] runs one cell, to watch a deliberate break get caught.
    let only = std::env::var("EFS_DR_FAULT_MATRIX_ONLY").unwrap_or_default();
    for path in PATHS {
        if !only.is_empty() && !only.starts_with(&format!("{path:?}")) {
            continue;
        }
        let mut fig = PathFigures::default();
        scenarios_of(path, &mut fig).await;
        rows.push((format!("{path:?}"), fig));
    }
    if only.is_empty() {
        let mut dup = PathFigures::default();
        concurrent_duplicates(&mut dup).await;
        rows.push(("ConcurrentDuplicates".into(), dup));
    }
    for (name, fig) in &rows {
        let _ = writeln!(
            out,
            "{name:<26} {:>9} {:>9} {:>10} {:>14}",
            fig.scenarios,
            fig.converged,
            fig.violations.len(),
            fig.lost_beyond_rpo
        );
        total.scenarios += fig.scenarios;
        total.converged += fig.converged;
        total.lost_beyond_rpo += fig.lost_beyond_rpo;
        total.violations.extend(fig.violations.iter().cloned());
    }
    let _ = writeln!(out, "fault injection: {} scenarios run, {} converged, {} invariant violations, {} writes lost beyond the stated recovery point ({:.1} s{})",
        total.scenarios, total.converged, total.violations.len(), total.lost_beyond_rpo, started.elapsed().as_secs_f64(),
        if full() { ", full" } else { "" });
    for v in &total.violations {
        let _ = writeln!(out, "  violation: {v}");
    }
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-matrix.txt");
    let _ = std::fs::write(&path, &out);
    println!("{out}");
    assert!(total.violations.is_empty(), "{out}");
    assert_eq!(total.lost_beyond_rpo, 0, "{out}");
    assert_eq!(total.converged, total.scenarios, "{out}");
}
