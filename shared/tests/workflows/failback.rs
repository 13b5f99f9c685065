//! Failback against the emulator, through the real SDK, with virtual time.

use crate::common;

use common::*;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failback::{self, FailbackRequest};
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use serde_json::{json, Value};

/// Writes on the original, fails over (source healthy or down), writes on the promoted replica.
async fn failed_over(w: &World, token: &str, outage: bool) -> (String, String) {
    let (src, dst) = w.replicated_pair(token).await;
    w.write(EAST, &src, "/period1.txt", "written on the original");
    w.advance(120.0);
    if outage {
        w.faults(json!({"region": EAST, "outage": true}));
    }
    let req = FailoverRequest::from_json(json!({"source_file_system_id": src, "source_region": EAST, "destination_file_system_id": dst, "destination_region": WEST, "mode": "execute"})).expect("request");
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &req,
        None,
    )
    .await
    .expect("failover");
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    w.write(WEST, &dst, "/outage.txt", "written on the promoted replica");
    if outage {
        w.faults(json!({"region": EAST, "outage": false}));
        // Failback judges the original by its CloudWatch metrics since the
        // failover: they exist again a few minutes after the Region returns.
        w.advance(180.0);
    }
    (src, dst)
}

fn request(src: &str, dst: &str, extra: Value) -> FailbackRequest {
    let mut v = json!({"original_file_system_id": src, "original_region": EAST, "replica_file_system_id": dst, "replica_region": WEST, "mode": "execute"});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in e {
            o.insert(k.clone(), val.clone());
        }
    }
    FailbackRequest::from_json(v).expect("request")
}

async fn run(w: &World, req: &FailbackRequest) -> efs_dr_shared::run::summary::RunSummary {
    failback::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        req,
        None,
    )
    .await
    .expect("runs")
}

fn files(w: &World, region: &str, fs: &str) -> Vec<String> {
    w.emu
        .shared
        .world()
        .file_system(region, fs)
        .map(|f| f.files.keys().cloned().collect())
        .unwrap_or_default()
}

async fn topology_restored(w: &World, src: &str, dst: &str) {
    let r = w
        .efs(EAST)
        .describe_replication_configurations()
        .file_system_id(src)
        .send()
        .await
        .expect("forward replication");
    let d = &r.replications()[0];
    assert_eq!(d.source_file_system_id(), src);
    assert_eq!(d.destinations()[0].file_system_id(), dst);
    assert_eq!(w.protection(WEST, dst).await, "REPLICATING");
    assert_eq!(w.protection(EAST, src).await, "ENABLED");
    let tags = w.tags(EAST, src).await;
    assert!(
        tags.contains(&("efs-dr:role".into(), "primary".into())),
        "{tags:?}"
    );
    assert!(w
        .tags(WEST, dst)
        .await
        .contains(&("efs-dr:role".into(), "replica".into())));
}

#[tokio::test]
async fn keep_changes_brings_every_write_home_and_restores_the_topology() {
    let w = world().await;
    let (src, dst) = failed_over(&w, "keep", true).await;
    // Without cutover it stops once in sync and says what to do.
    let s = run(&w, &request(&src, &dst, json!({}))).await;
    let r = &s.results[0];
    assert_eq!(s.status, Status::InProgress, "{r:#?}");
    assert_eq!(r.phase, "in sync, waiting for cutover");
    assert!(r.next_steps.iter().any(|n| n.contains("cutover: true")));
    let s = run(&w, &request(&src, &dst, json!({"cutover": true}))).await;
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    let home = files(&w, EAST, &src);
    assert!(
        home.contains(&"/period1.txt".to_string()) && home.contains(&"/outage.txt".to_string()),
        "{home:?}"
    );
    assert!(home.contains(&"/before.txt".to_string()));
    topology_restored(&w, &src, &dst).await;
    assert!(
        emu_refuses_write(&w, WEST, &dst),
        "the replica is read-only again"
    );
    // Run again: nothing to do.
    let before = w.call_count();
    let again = run(&w, &request(&src, &dst, json!({"cutover": true}))).await;
    assert_eq!(again.status, Status::Completed, "{:#?}", again.results[0]);
    assert!(
        w.mutating_calls_since(before).is_empty(),
        "{:?}",
        w.mutating_calls_since(before)
    );
}

fn emu_refuses_write(w: &World, region: &str, fs: &str) -> bool {
    w.emu.shared.write(region, fs, "/probe", "x", None).is_err()
}

#[tokio::test]
async fn discard_changes_needs_the_acknowledgement_and_then_drops_outage_writes() {
    let w = world().await;
    let (src, dst) = failed_over(&w, "discard", false).await;
    let before = w.call_count();
    let err = failback::run(&w.platform(MutationBudget::default()), &w.config(), &FailbackRequest::from_json(json!({
        "original_file_system_id": src, "original_region": EAST, "replica_file_system_id": dst, "replica_region": WEST,
        "strategy": "discard_changes", "mode": "execute"})).expect("parse"), None).await.expect_err("refused");
    assert!(err.to_string().contains("acknowledge_data_loss"), "{err}");
    assert_eq!(w.call_count(), before, "no call at all");
    let s = run(
        &w,
        &request(
            &src,
            &dst,
            json!({"strategy": "discard_changes", "acknowledge_data_loss": true}),
        ),
    )
    .await;
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    assert!(
        !files(&w, WEST, &dst).contains(&"/outage.txt".to_string()),
        "outage writes overwritten, as documented"
    );
    topology_restored(&w, &src, &dst).await;
}

#[tokio::test]
async fn new_file_system_replaces_a_lost_original() {
    let w = world().await;
    let (src, dst) = failed_over(&w, "lost", false).await;
    w.efs(EAST)
        .delete_file_system()
        .file_system_id(&src)
        .send()
        .await
        .expect("the original is lost");
    w.advance(30.0);
    let s = run(
        &w,
        &request(
            &src,
            &dst,
            json!({"strategy": "new_file_system", "cutover": true}),
        ),
    )
    .await;
    let r = &s.results[0];
    assert_eq!(s.status, Status::Completed, "{r:#?}");
    let new = r
        .destination
        .file_system_id
        .as_ref()
        .expect("new original")
        .to_string();
    assert_ne!(new, src);
    let home = files(&w, EAST, &new);
    assert!(
        home.contains(&"/period1.txt".to_string()) && home.contains(&"/outage.txt".to_string()),
        "{home:?}"
    );
    topology_restored(&w, &new, &dst).await;
}

#[tokio::test]
async fn after_a_local_only_failover_the_leftover_configuration_is_cleaned_up() {
    let w = world().await;
    let (src, dst) = failed_over(&w, "orphan", true).await;
    let r = w
        .efs(EAST)
        .describe_replication_configurations()
        .file_system_id(&src)
        .send()
        .await
        .expect("orphan there");
    assert_eq!(
        r.replications()[0].destinations()[0].status().as_str(),
        "ERROR"
    );
    let s = run(&w, &request(&src, &dst, json!({"cutover": true}))).await;
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    assert!(s.results[0].timeline.iter().any(|t| t.name == "clean up"));
    topology_restored(&w, &src, &dst).await;
}

#[tokio::test]
async fn guardrails_refuse_without_mutation() {
    let w = world().await;
    // Never failed over: the replica is still read-only.
    let (src, dst) = w.replicated_pair("never").await;
    let before = w.call_count();
    let s = run(&w, &request(&src, &dst, json!({}))).await;
    assert_eq!(
        s.results[0].error.as_ref().map(|e| e.error_type.as_str()),
        Some("Refused.ReplicaNotPromoted"),
        "{:#?}",
        s.results[0]
    );
    assert!(w.mutating_calls_since(before).is_empty());

    // The original Region is down.
    let (src, dst) = failed_over(&w, "down", false).await;
    w.faults(json!({"region": EAST, "outage": true}));
    let before = w.call_count();
    let s = run(&w, &request(&src, &dst, json!({}))).await;
    assert_eq!(s.status, Status::Refused, "{:#?}", s.results[0]);
    assert!(w.mutating_calls_since(before).is_empty());
    w.faults(json!({"region": EAST, "outage": false}));

    // Clients connected to the original since the failover: a possible split brain.
    w.emu
        .shared
        .world()
        .region_mut(EAST)
        .file_systems
        .get_mut(&src)
        .expect("fs")
        .connected_clients = 3;
    w.advance(180.0);
    let before = w.call_count();
    let s = run(&w, &request(&src, &dst, json!({}))).await;
    assert_eq!(
        s.results[0].error.as_ref().map(|e| e.error_type.as_str()),
        Some("Refused.SplitBrain"),
        "{:#?}",
        s.results[0]
    );
    assert!(w.mutating_calls_since(before).is_empty());
}

#[tokio::test]
async fn plan_mode_names_the_next_phase_and_changes_nothing() {
    let w = world().await;
    let (src, dst) = failed_over(&w, "plan", false).await;
    let before = w.call_count();
    let s = run(&w, &request(&src, &dst, json!({"mode": "plan"}))).await;
    assert_eq!(s.status, Status::Planned, "{:#?}", s.results[0]);
    assert!(s.results[0]
        .timeline
        .iter()
        .any(|t| format!("{:?}", t.outcome) == "Planned"));
    assert!(w.mutating_calls_since(before).is_empty());
}

#[tokio::test]
async fn a_crash_after_any_mutating_call_converges_on_rerun() {
    let w = world().await;
    let (src, dst) = failed_over(&w, "clean", false).await;
    let clean = w.platform(MutationBudget::default());
    let s = failback::run(
        &clean,
        &w.config(),
        &request(&src, &dst, json!({"cutover": true})),
        None,
    )
    .await
    .expect("clean");
    assert_eq!(s.status, Status::Completed);
    let total = clean.budget.count();
    assert!(total >= 5, "{total}");
    for k in 1..=total {
        let w = world().await;
        let (src, dst) = failed_over(&w, &format!("crash-{k}"), false).await;
        let _ = failback::run(
            &w.platform(MutationBudget::crash_after(k)),
            &w.config(),
            &request(&src, &dst, json!({"cutover": true})),
            None,
        )
        .await;
        let s = run(&w, &request(&src, &dst, json!({"cutover": true}))).await;
        assert_eq!(s.status, Status::Completed, "k={k}: {:#?}", s.results[0]);
        topology_restored(&w, &src, &dst).await;
        let home = files(&w, EAST, &src);
        assert!(home.contains(&"/outage.txt".to_string()), "k={k}: {home:?}");
    }
}

#[tokio::test]
async fn two_failbacks_at_once_never_make_two_configurations() {
    let w = world().await;
    let (src, dst) = failed_over(&w, "twice", false).await;
    let req = request(&src, &dst, json!({"cutover": true}));
    let (p1, p2) = (
        w.platform(MutationBudget::default()),
        w.platform(MutationBudget::default()),
    );
    let config = w.config();
    let (a, b) = tokio::join!(
        failback::run(&p1, &config, &req, None),
        failback::run(&p2, &config, &req, None)
    );
    let statuses: Vec<Status> = [a, b]
        .into_iter()
        .map(|r| r.map(|s| s.status).unwrap_or(Status::Failed))
        .collect();
    assert!(statuses.contains(&Status::Completed), "{statuses:?}");
    let s = run(&w, &req).await;
    assert_eq!(s.status, Status::Completed);
    topology_restored(&w, &src, &dst).await;
    let configs = w.emu.shared.world().replications.len();
    assert_eq!(configs, 1, "exactly one configuration");
}
