//! The workflow branches written for an unkind AWS, each reached on the
//! emulator: a replica whose configuration is gone while protection is still
//! REPLICATING, a source side still DELETING when failback starts, a full
//! delete that hangs while the source Region is down, a lost create answer,
//! and a source Region that answers only with errors.

use crate::common;

use common::*;
use efs_dr_shared::domain::model::DeletionMode;
use efs_dr_shared::domain::modes::RunMode;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::run::summary::RunSummary;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failback::{self, FailbackRequest};
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use efs_dr_shared::workflows::mount_target_ensure::{self as readiness, ReadinessRequest};
use serde_json::{json, Value};

fn failover_request(src: &str, dst: &str, extra: Value) -> FailoverRequest {
    let mut v = json!({"source_file_system_id": src, "source_region": EAST, "destination_file_system_id": dst, "destination_region": WEST, "mode": "execute"});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    FailoverRequest::from_json(v).expect("request")
}

async fn failover(w: &World, req: &FailoverRequest) -> RunSummary {
    failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        req,
        None,
    )
    .await
    .expect("runs")
}

fn steps(s: &RunSummary) -> Vec<String> {
    s.results[0]
        .timeline
        .iter()
        .map(|t| format!("{}: {}", t.name, t.detail))
        .collect()
}

async fn set_variant(w: &World, v: Value) {
    w.kit
        .control("POST", "/_emulator/config", Some(&v))
        .await
        .expect("config");
}

#[tokio::test]
async fn a_replica_without_configuration_but_not_yet_writable_is_waited_for() {
    let w = world().await;
    set_variant(&w, json!({"delete_order": "destination_first"})).await;
    let (src, dst) = w.replicated_pair("non-atomic").await;
    let mut req = failover_request(&src, &dst, json!({}));
    req.run_mode = Some(RunMode::Step);
    let first = failover(&w, &req).await;
    assert_eq!(first.status, Status::InProgress);
    // The destination's side is gone after replication_delete; protection
    // follows protection_enable later. Step into that gap.
    w.advance(181.0);
    assert!(!w.has_replication(WEST, &dst).await);
    assert_eq!(w.protection(WEST, &dst).await, "REPLICATING");
    let gap = failover(&w, &req).await;
    assert_eq!(gap.status, Status::InProgress, "{:#?}", gap.results[0]);
    assert!(
        steps(&gap)
            .iter()
            .any(|s| s.contains("configuration gone, protection not yet ENABLED")),
        "{:#?}",
        steps(&gap)
    );
    w.advance(30.0);
    let done = failover(&w, &req).await;
    assert_eq!(done.status, Status::Completed, "{:#?}", done.results[0]);
    assert_eq!(w.protection(WEST, &dst).await, "ENABLED");
}

#[tokio::test]
async fn failback_waits_for_the_source_side_still_deleting_and_touches_nothing() {
    let w = world().await;
    set_variant(&w, json!({"delete_order": "destination_first"})).await;
    let (src, dst) = w.replicated_pair("skewed").await;
    let mut req = failover_request(&src, &dst, json!({}));
    req.run_mode = Some(RunMode::Step);
    failover(&w, &req).await;
    // Destination gone at 180 s, protection ENABLED at 200 s, the source's side at 210 s.
    w.advance(202.0);
    let done = failover(&w, &req).await;
    assert_eq!(done.status, Status::Completed, "{:#?}", done.results[0]);
    // The replica is writable; the original's side finishes deleting later.
    let at_source = w
        .efs(EAST)
        .describe_replication_configurations()
        .file_system_id(&src)
        .send()
        .await
        .expect("still there");
    assert_eq!(
        at_source.replications()[0].destinations()[0]
            .status()
            .as_str(),
        "DELETING"
    );
    let before = w.emu.shared.calls().len();
    let req = FailbackRequest::from_json(json!({"original_file_system_id": src, "original_region": EAST, "replica_file_system_id": dst, "replica_region": WEST, "mode": "execute", "run_mode": "step"})).expect("request");
    let s = failback::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &req,
        None,
    )
    .await
    .expect("runs");
    assert_eq!(s.status, Status::InProgress, "{:#?}", s.results[0]);
    let mutated: Vec<String> = w.emu.shared.calls()[before..]
        .iter()
        .filter(|c| c.mutating && c.service == "elasticfilesystem")
        .map(|c| format!("{} {}", c.region, c.operation))
        .collect();
    assert!(
        mutated.is_empty(),
        "nothing is changed while the source side is still DELETING: {mutated:?}"
    );
}

#[tokio::test]
async fn a_promotion_that_hangs_with_the_source_down_escalates_to_a_local_delete() {
    let w = world().await;
    set_variant(&w, json!({"delete_with_source_down": "accept_and_hang"})).await;
    let (src, dst) = w.replicated_pair("hang").await;
    w.faults(json!({"region": EAST, "outage": true, "outage_mode": "blackhole"}));
    let req = failover_request(&src, &dst, json!({"max_promotion_wait_seconds": 300}));
    // Without the escalation the run would wait for the source for ever.
    let s = tokio::time::timeout(std::time::Duration::from_secs(60), failover(&w, &req))
        .await
        .expect("the promotion escalates instead of hanging");
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    let r = &s.results[0];
    assert_eq!(r.deletion_mode, Some(DeletionMode::LocalConfigurationOnly));
    assert!(
        r.warnings
            .iter()
            .any(|x| x.starts_with("escalated: DELETING")),
        "{:#?}",
        r.warnings
    );
    assert_eq!(w.protection(WEST, &dst).await, "ENABLED");
    // The source's side, left behind, is failback's to clean up.
    let tags = w.tags(WEST, &dst).await;
    assert!(tags.contains(&("efs-dr:source-cleanup-needed".into(), "true".into())));
}

#[tokio::test]
async fn a_source_that_answers_only_with_errors_counts_as_unreachable() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("brownout").await;
    w.faults(json!({"region": EAST, "error_rate": 1.0}));
    let req = failover_request(
        &src,
        &dst,
        json!({"deletion_mode": "LOCAL_CONFIGURATION_ONLY"}),
    );
    let s = failover(&w, &req).await;
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    assert_eq!(s.results[0].source_region_reachable, Some(false));
    assert_eq!(
        s.results[0].deletion_mode,
        Some(DeletionMode::LocalConfigurationOnly)
    );
}

#[tokio::test]
async fn a_local_only_promotion_is_refused_while_the_source_answers_and_nothing_changes() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("answers").await;
    let before = w.emu.shared.calls().len();
    let req = failover_request(
        &src,
        &dst,
        json!({"deletion_mode": "LOCAL_CONFIGURATION_ONLY"}),
    );
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &req,
        None,
    )
    .await;
    let message = match s {
        Err(e) => e.to_string(),
        Ok(s) => format!("{:?}", s.results[0].error),
    };
    assert!(message.contains("SourceReachable"), "{message}");
    let mutated = w.emu.shared.calls()[before..]
        .iter()
        .filter(|c| c.mutating && c.service == "elasticfilesystem")
        .count();
    assert_eq!(mutated, 0);
    assert!(w.has_replication(WEST, &dst).await);
}

#[tokio::test]
async fn lost_create_answers_still_converge_on_one_mount_target_per_subnet() {
    let w = world().await;
    // Describe must show the first try's target when the retry meets its conflict.
    set_variant(&w, json!({"durations": {"describe_lag": 0}})).await;
    let (_src, dst) = w.replicated_pair("lost").await;
    w.advance(700.0);
    let subnets: Vec<String> = w
        .emu
        .shared
        .world()
        .region(WEST)
        .map(|r| r.subnets.iter().map(|s| s.id.clone()).collect())
        .unwrap_or_default();
    // Every successful create loses its answer: the SDK's retry meets
    // MountTargetConflict, which must be read as the target made by the first try.
    w.faults(json!({"region": WEST, "lost_response_rate": 1.0}));
    let req = ReadinessRequest::from_json(json!({
        "file_system_id": dst, "region": WEST, "mode": "execute",
        "mount_targets": subnets.iter().map(|s| json!({"subnet_id": s})).collect::<Vec<_>>(),
    }))
    .expect("request");
    let s = readiness::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &req,
        None,
    )
    .await
    .expect("runs");
    let lost = w
        .emu
        .shared
        .calls()
        .iter()
        .filter(|c| {
            c.operation == "CreateMountTarget" && c.error_code.as_deref() == Some("ResponseLost")
        })
        .count();
    assert_eq!(lost, subnets.len(), "every create's answer was lost");
    assert_eq!(s.results[0].ready, Some(true), "{:#?}", s.results[0]);
    let made = w.emu.shared.world().region(WEST).map(|r| {
        r.mount_targets
            .values()
            .filter(|m| m.file_system_id == dst)
            .count()
    });
    assert_eq!(made, Some(subnets.len()));
}
