//! The failover workflow against the emulator, through the real SDK, with
//! virtual time: guardrails, promotion paths, idempotency, crashes, faults.

use crate::common;

use common::*;
use efs_dr_shared::domain::modes::RunMode;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::run::summary::RunSummary;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use efs_dr_shared::Error;
use efs_dr_testkit::{create_file_system, replicate_to_new};
use serde_json::json;

fn request(v: serde_json::Value) -> FailoverRequest {
    FailoverRequest::from_json(v).expect("valid request")
}

async fn run(
    w: &World,
    req: &FailoverRequest,
    config: &efs_dr_shared::domain::config::Config,
) -> Result<RunSummary, Error> {
    failover::run(&w.platform(MutationBudget::default()), config, req, None).await
}

fn execute(src: &str, dst: Option<&str>) -> FailoverRequest {
    let mut v = json!({"source_file_system_id": src, "source_region": EAST, "destination_region": WEST, "mode": "execute", "reason": "drill"});
    if let Some(d) = dst {
        v["destination_file_system_id"] = json!(d);
    }
    request(v)
}

#[tokio::test]
async fn source_outage_failover_promotes_with_local_delete_and_reports_the_recovery_point() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("outage").await;
    let t1 = w.write(EAST, &src, "/a.txt", "replicated soon");
    w.advance(120.0);
    let t2 = w.write(EAST, &src, "/late.txt", "written just before the outage");
    w.faults(json!({"region": EAST, "outage": true}));
    let topic = w.alerts_topic().await;
    let mut config = w.config();
    config.alerts_topic_arn = Some(topic.clone());

    // Only the source is named: the replica is found from the configuration in us-west-2.
    let summary = run(&w, &execute(&src, None), &config).await.expect("runs");
    let r = &summary.results[0];
    assert_eq!(summary.status, Status::Completed, "{:#?}", r);
    assert_eq!(
        r.destination.file_system_id.as_ref().map(|f| f.to_string()),
        Some(dst.clone())
    );
    assert_eq!(r.source_region_reachable, Some(false));
    assert_eq!(
        serde_json::to_value(r.deletion_mode).unwrap(),
        json!("LOCAL_CONFIGURATION_ONLY")
    );
    assert!(
        r.warnings.iter().any(|x| x.contains("left behind")),
        "{:?}",
        r.warnings
    );
    assert_eq!(w.protection(WEST, &dst).await, "ENABLED");
    assert!(!w.has_replication(WEST, &dst).await);

    // The recovery point is what reached the replica: everything written before
    // LastReplicatedTimestamp is there, the rest is not.
    let rp = r.recovery_point.as_ref().expect("recovery point");
    let files = w
        .emu
        .shared
        .world()
        .file_system(WEST, &dst)
        .map(|f| f.files.clone())
        .expect("replica");
    assert!(t1 < rp.last_replicated_epoch, "a.txt was synced");
    assert!(files.contains_key("/a.txt") && files.contains_key("/before.txt"));
    assert!(t2 >= rp.last_replicated_epoch);
    assert!(
        !files.contains_key("/late.txt"),
        "written after the last sync: lost, within the stated recovery point"
    );
    assert!(rp.recovery_point_seconds > 0.0);
    for write in w
        .emu
        .shared
        .world()
        .writes
        .iter()
        .filter(|x| x.file_system_id == src)
    {
        assert_eq!(
            files.contains_key(&write.path),
            write.time < rp.last_replicated_epoch,
            "{}",
            write.path
        );
    }

    // Told and recorded: one notification, tags on the new primary, metrics.
    let messages = w.emu.shared.world().messages.clone();
    assert_eq!(messages.len(), 1);
    assert!(messages[0]
        .subject
        .as_deref()
        .is_some_and(|s| s.contains("failover completed") && s.len() <= 100));
    assert!(messages[0].message.contains("\"recovery_point_seconds\""));
    let tags = w.tags(WEST, &dst).await;
    assert!(tags.contains(&("efs-dr:role".into(), "primary".into())));
    assert!(tags
        .iter()
        .any(|(k, _)| k == "efs-dr:failover-completed-at"));
    let metric_names: Vec<String> = w
        .emu
        .shared
        .world()
        .region(WEST)
        .map(|r| {
            r.metrics
                .datapoints()
                .into_iter()
                .map(|d| d.metric_name.clone())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        metric_names.contains(&"FailoverDurationSeconds".to_string())
            && metric_names.contains(&"RecoveryPointSeconds".to_string())
    );

    // A second invocation changes nothing and says so.
    let before = w.call_count();
    let again = run(&w, &execute(&src, None), &config)
        .await
        .expect("re-run");
    assert_eq!(again.status, Status::Completed);
    assert!(!again.results[0].changed);
    assert_eq!(w.mutating_calls_since(before), Vec::<String>::new());
    assert_eq!(
        again.results[0].recovery_point, r.recovery_point,
        "recovered from the tags"
    );
    // The cleanup owed to the source Region is remembered across runs.
    assert_eq!(
        serde_json::to_value(again.results[0].deletion_mode).unwrap(),
        json!("LOCAL_CONFIGURATION_ONLY")
    );
    assert!(again.results[0]
        .warnings
        .iter()
        .any(|x| x.contains("left behind")));
    assert_eq!(
        w.emu.shared.world().messages.len(),
        1,
        "nothing new to tell"
    );
}

#[tokio::test]
async fn healthy_source_uses_the_full_delete() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("healthy").await;
    let summary = run(&w, &execute(&src, Some(&dst)), &w.config())
        .await
        .expect("runs");
    let r = &summary.results[0];
    assert_eq!(r.status, Status::Completed, "{r:#?}");
    assert_eq!(
        serde_json::to_value(r.deletion_mode).unwrap(),
        json!("ALL_CONFIGURATIONS")
    );
    assert_eq!(r.source_region_reachable, Some(true));
    assert!(!w.has_replication(EAST, &src).await, "both sides gone");
    assert!(
        !r.warnings.iter().any(|x| x.contains("left behind")),
        "{:?}",
        r.warnings
    );
    let names: Vec<&str> = r.timeline.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"promote") && names.contains(&"wait until writable"),
        "{names:?}"
    );
}

#[tokio::test]
async fn guardrails_refuse_without_mutation_and_force_overrides() {
    let w = world().await;
    // Initial sync: a replica that is still ENABLING is incomplete.
    let east = w.efs(EAST);
    let src = create_file_system(&east, "young").await.expect("fs");
    w.advance(15.0);
    let young = replicate_to_new(&east, &src, WEST)
        .await
        .expect("replicate");
    w.advance(60.0);
    let before = w.call_count();
    let s = run(&w, &execute(&src, Some(&young)), &w.config())
        .await
        .expect("runs");
    assert_eq!(s.status, Status::Refused);
    let e = s.results[0].error.as_ref().expect("error");
    assert_eq!(e.error_type, "Refused.InitialSync");
    assert!(!s.results[0].next_steps.is_empty());
    assert!(w.mutating_calls_since(before).is_empty());

    // Recovery point too old: replication stalled for 20 minutes.
    let (src2, dst2) = w.replicated_pair("stale").await;
    w.emu
        .shared
        .set_replication_fault(&src2, efs_dr_emulator::ReplicationFault::Stalled)
        .expect("stall");
    w.advance(1200.0);
    let before = w.call_count();
    let s = run(&w, &execute(&src2, Some(&dst2)), &w.config())
        .await
        .expect("runs");
    assert_eq!(
        s.results[0].error.as_ref().map(|e| e.error_type.as_str()),
        Some("Refused.RecoveryPointTooOld")
    );
    assert!(w.mutating_calls_since(before).is_empty());
    let mut forced = execute(&src2, Some(&dst2));
    forced.force = Some(true);
    let s = run(&w, &forced, &w.config()).await.expect("runs");
    assert_eq!(s.status, Status::Completed);
    assert!(s.results[0]
        .warnings
        .iter()
        .any(|x| x.contains("RecoveryPointTooOld")));

    // ERROR: unrecoverable; the refusal says to restore from backup.
    let (src3, dst3) = w.replicated_pair("broken").await;
    w.emu
        .shared
        .set_replication_fault(&src3, efs_dr_emulator::ReplicationFault::Error)
        .expect("error");
    let s = run(&w, &execute(&src3, Some(&dst3)), &w.config())
        .await
        .expect("runs");
    let e = s.results[0].error.as_ref().expect("error");
    assert_eq!(e.error_type, "Refused.ReplicationError");
    assert!(s.results[0].next_steps.iter().any(|n| n.contains("backup")));

    // A replica of another source.
    let (_other_src, other_dst) = w.replicated_pair("other").await;
    let before = w.call_count();
    let s = run(&w, &execute(&src3, Some(&other_dst)), &w.config())
        .await
        .expect("runs");
    assert_eq!(
        s.results[0].error.as_ref().map(|e| e.error_type.as_str()),
        Some("Refused.WrongSource")
    );
    assert!(w.mutating_calls_since(before).is_empty());
}

#[tokio::test]
async fn plan_mode_reports_phases_and_changes_nothing() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("plan").await;
    let before = w.call_count();
    let s = run(&w, &request(json!({"source_file_system_id": src, "source_region": EAST, "destination_file_system_id": dst})), &w.config()).await.expect("runs");
    assert_eq!(s.status, Status::Planned, "plan is the default mode");
    let names: Vec<&str> = s.results[0]
        .timeline
        .iter()
        .filter(|t| format!("{:?}", t.outcome) == "Planned")
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "record recovery point",
            "promote",
            "wait until writable",
            "mount targets",
            "finish"
        ]
    );
    assert!(s.results[0].recovery_point.is_some());
    assert!(w.mutating_calls_since(before).is_empty());
    assert_eq!(w.protection(WEST, &dst).await, "REPLICATING");
}

#[tokio::test]
async fn bad_input_is_rejected_before_any_mutation() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("bad").await;
    let malformed = [
        json!({"source_file_system_id": "fs-XYZ", "source_region": EAST}),
        json!({"source_file_system_id": src, "source_region": "us_east_1"}),
        json!({"source_file_system_id": src, "source_region": EAST, "destination_file_system_id": dst, "mod": "execute"}),
        json!({"source_file_system_id": src, "source_region": EAST, "mount_targets": [{"subnet_id": "sub-1"}]}),
        json!({"source_file_system_id": src, "mode": "now"}),
    ];
    for m in malformed {
        let err = FailoverRequest::from_json(m.clone()).expect_err("rejected");
        assert!(matches!(err, Error::InvalidInput(_)), "{m}: {err}");
    }
    let unknown = FailoverRequest::from_json(
        json!({"source_file_system_id": src, "source_region": EAST, "mod": "execute"}),
    )
    .unwrap_err();
    assert!(
        unknown.to_string().contains("unknown field `mod`"),
        "{unknown}"
    );

    let before = w.call_count();
    // No source anywhere.
    let err = run(&w, &request(json!({"mode": "execute"})), &w.config())
        .await
        .expect_err("nothing named");
    assert!(err.to_string().contains("source_file_system_id"), "{err}");
    // An ARN whose Region contradicts the one given.
    let arn = format!("arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/{src}");
    let err = run(
        &w,
        &request(json!({"source_file_system_id": arn, "source_region": EAST, "mode": "execute"})),
        &w.config(),
    )
    .await
    .expect_err("arn region");
    assert!(err.to_string().contains("must agree"), "{err}");
    assert_eq!(
        w.call_count(),
        before,
        "no AWS call at all for input errors"
    );

    // The wrong destination Region: the file system is not there; only reads happened.
    let s = run(&w, &request(json!({"source_file_system_id": src, "source_region": EAST, "destination_file_system_id": dst, "destination_region": "eu-west-1", "mode": "execute"})), &w.config()).await.expect("runs");
    let e = s.results[0].error.as_ref().expect("error");
    assert_eq!(e.error_type, "InvalidInput");
    assert!(
        e.message.contains("does not exist in eu-west-1"),
        "{}",
        e.message
    );
    // A file system that is not a replica (source and destination swapped).
    let s = run(&w, &request(json!({"source_file_system_id": dst, "source_region": WEST, "destination_file_system_id": src, "destination_region": EAST, "mode": "execute"})), &w.config()).await.expect("runs");
    assert!(
        s.results[0]
            .error
            .as_ref()
            .is_some_and(|e| e.message.contains("swapped")),
        "{:?}",
        s.results[0].error
    );
    assert!(w.mutating_calls_since(before).is_empty());
}

/// End state that matters: topology, protection and tags.
async fn end_state(w: &World, src: &str, dst: &str) -> (bool, bool, String, Option<String>) {
    let tags = w.tags(WEST, dst).await;
    let role = tags
        .iter()
        .find(|(k, _)| k == "efs-dr:role")
        .map(|(_, v)| v.clone());
    (
        w.has_replication(EAST, src).await,
        w.has_replication(WEST, dst).await,
        w.protection(WEST, dst).await,
        role,
    )
}

#[tokio::test]
async fn a_crash_after_any_mutating_call_converges_on_rerun() {
    // The clean run's mutating calls, to know every k.
    let w = world().await;
    let (src, dst) = w.replicated_pair("clean").await;
    let clean = w.platform(MutationBudget::default());
    let mut config = w.config();
    config.alerts_topic_arn = Some(w.alerts_topic().await);
    let s = failover::run(&clean, &config, &execute(&src, Some(&dst)), None)
        .await
        .expect("clean run");
    assert_eq!(s.status, Status::Completed);
    let total = clean.budget.count();
    assert!(total >= 3, "tag, delete, final tag: {total}");
    let want = end_state(&w, &src, &dst).await;
    assert_eq!(
        want,
        (
            false,
            false,
            "ENABLED".to_string(),
            Some("primary".to_string())
        )
    );

    for k in 1..=total {
        let w = world().await;
        let (src, dst) = w.replicated_pair(&format!("crash-{k}")).await;
        let crashed = w.platform(MutationBudget::crash_after(k));
        let s = failover::run(&crashed, &config, &execute(&src, Some(&dst)), None).await;
        let crashed_ok = s
            .as_ref()
            .map(|s| s.status == Status::Completed)
            .unwrap_or(false);
        assert!(!crashed_ok || k == total, "k={k}: the crash stops the run");
        let s = failover::run(
            &w.platform(MutationBudget::default()),
            &config,
            &execute(&src, Some(&dst)),
            None,
        )
        .await
        .expect("re-run");
        assert_eq!(s.status, Status::Completed, "k={k}: {:#?}", s.results[0]);
        assert_eq!(end_state(&w, &src, &dst).await, want, "k={k}");
        assert!(
            s.results[0].recovery_point.is_some(),
            "k={k}: recovery point survives the crash"
        );
    }
}

#[tokio::test]
async fn throttling_and_server_errors_at_a_high_rate_do_not_stop_it() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("noisy").await;
    w.faults(json!({"region": WEST, "throttle": {"rate": 5.0, "burst": 3.0}, "error_rate": 0.3}));
    let s = run(&w, &execute(&src, Some(&dst)), &w.config())
        .await
        .expect("runs");
    assert_eq!(s.status, Status::Completed, "{:#?}", s.results[0]);
    // The read-back must not itself be throttled or it reads as "no protection".
    w.faults(json!({"region": WEST, "throttle": null, "error_rate": 0.0}));
    assert_eq!(w.protection(WEST, &dst).await, "ENABLED");
    let faults_seen = w
        .emu
        .shared
        .calls()
        .iter()
        .filter(|c| matches!(c.status, 400 | 500) && c.region == WEST)
        .count();
    assert!(faults_seen > 0, "faults were injected");
}

#[tokio::test]
async fn step_mode_returns_after_one_pass_and_run_mode_honours_the_deadline() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("steps").await;
    let mut req = execute(&src, Some(&dst));
    req.run_mode = Some(RunMode::Step);
    let platform = w.platform(MutationBudget::default());
    let first = failover::run(&platform, &w.config(), &req, None)
        .await
        .expect("step 1");
    assert_eq!(first.status, Status::InProgress);
    assert!(!first.done);
    let wait = first.wait_seconds.expect("suggested wait");
    assert!(wait > 0);
    let mut steps = 1;
    loop {
        w.advance(wait as f64);
        let s = failover::run(&platform, &w.config(), &req, None)
            .await
            .expect("step");
        steps += 1;
        if s.done {
            assert_eq!(s.status, Status::Completed);
            break;
        }
        assert!(steps < 100, "converges");
    }
    assert!(steps > 2, "promotion takes minutes: several steps");

    // To completion with 60 s left: returns in progress, and the next invocation finishes.
    let (src2, dst2) = w.replicated_pair("deadline").await;
    let s = failover::run(
        &platform,
        &w.config(),
        &execute(&src2, Some(&dst2)),
        Some(std::time::Duration::from_secs(60)),
    )
    .await
    .expect("runs");
    assert_eq!(s.status, Status::InProgress);
    assert!(s.results[0]
        .next_steps
        .iter()
        .any(|n| n.contains("invoke again")));
    let s = failover::run(&platform, &w.config(), &execute(&src2, Some(&dst2)), None)
        .await
        .expect("continues");
    assert_eq!(s.status, Status::Completed);
}

#[tokio::test]
async fn fleet_failover_reports_partial_success_with_one_notification() {
    let w = world().await;
    let (a, _) = w.replicated_pair("fleet-a").await;
    let (b, _) = w.replicated_pair("fleet-b").await;
    let east = w.efs(EAST);
    let young = create_file_system(&east, "fleet-young").await.expect("fs");
    w.advance(15.0);
    replicate_to_new(&east, &young, WEST)
        .await
        .expect("replicate");
    w.advance(30.0);
    let mut config = w.config();
    config.alerts_topic_arn = Some(w.alerts_topic().await);
    let req = request(json!({
        "mode": "execute",
        "source_region": EAST,
        "pairs": [{"source_file_system_id": a}, {"source_file_system_id": b}, {"source_file_system_id": young}]
    }));
    let s = run(&w, &req, &config).await.expect("runs");
    assert_eq!(s.results.len(), 3);
    let completed = s
        .results
        .iter()
        .filter(|r| r.status == Status::Completed)
        .count();
    let refused = s
        .results
        .iter()
        .filter(|r| r.status == Status::Refused)
        .count();
    assert_eq!((completed, refused), (2, 1));
    assert_eq!(
        s.status,
        Status::Refused,
        "the summary shows the worst outcome"
    );
    assert!(
        s.summary.contains("2 completed") && s.summary.contains("1 refused"),
        "{}",
        s.summary
    );
    assert_eq!(
        w.emu.shared.world().messages.len(),
        1,
        "one summary notification"
    );
}

#[tokio::test]
async fn configured_mount_targets_are_ready_before_completion() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("mounts").await;
    let (subnets, sg) = {
        let state = w.emu.shared.world();
        let r = state.region(WEST).expect("west");
        let subnets: Vec<String> = r.subnets.iter().map(|s| s.id.clone()).collect();
        (subnets, r.security_groups[0].id.clone())
    };
    let mut req = execute(&src, Some(&dst));
    req.mount_targets = Some(
        subnets[..2]
            .iter()
            .map(|s| {
                serde_json::from_value(json!({"subnet_id": s, "security_groups": [sg]}))
                    .expect("spec")
            })
            .collect(),
    );
    let s = run(&w, &req, &w.config()).await.expect("runs");
    let r = &s.results[0];
    assert_eq!(r.status, Status::Completed, "{r:#?}");
    assert_eq!(r.mount_targets.len(), 2);
    assert!(r
        .mount_targets
        .iter()
        .all(|m| format!("{:?}", m.life_cycle) == "Available"));
    assert!(r
        .dns_name
        .as_deref()
        .is_some_and(|d| d.starts_with(&dst) && d.ends_with(".efs.us-west-2.amazonaws.com")));
}
