//! What failover never does, even when forced: act on a pair it was not asked
//! to touch, call a file system nobody promoted a completed failover, or
//! report a recovery point that belongs to another failover.

use crate::common;

use common::*;
use efs_dr_shared::domain::ids::FileSystemRef;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use efs_dr_testkit::create_file_system;
use serde_json::json;

fn execute(src: &str, dst: &str, force: bool) -> FailoverRequest {
    FailoverRequest::from_json(json!({
        "source_file_system_id": src, "source_region": EAST,
        "destination_file_system_id": dst, "destination_region": WEST,
        "mode": "execute", "force": force, "reason": "test"
    }))
    .expect("valid request")
}

async fn replication_status(w: &World, region: &str, fs: &str) -> Option<String> {
    let out = w
        .efs(region)
        .describe_replication_configurations()
        .file_system_id(fs)
        .send()
        .await
        .ok()?;
    out.replications()
        .first()?
        .destinations()
        .first()
        .map(|d| d.status().as_str().to_string())
}

#[tokio::test]
async fn force_never_promotes_another_pair_s_replica() {
    let w = world().await;
    let (a_src, a_dst) = w.replicated_pair("pair-a").await;
    let (b_src, b_dst) = w.replicated_pair("pair-b").await;
    let (a_tags, b_tags) = (w.tags(WEST, &a_dst).await, w.tags(WEST, &b_dst).await);
    let before = w.call_count();

    // The event names pair a's source but pair b's replica, with force.
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &execute(&a_src, &b_dst, true),
        None,
    )
    .await
    .expect("runs");
    assert_eq!(s.status, Status::Refused, "{}", s.render_text());
    let text = s.render_text();
    assert!(text.contains("WrongSource"), "{text}");
    assert!(
        text.contains(&b_src) && text.contains(&a_src),
        "names both pairs: {text}"
    );
    assert_eq!(
        w.mutating_calls_since(before),
        Vec::<String>::new(),
        "nothing changed"
    );

    // Both pairs untouched: still replicating, replicas read-only, tags as before.
    for (src, dst, tags) in [(&a_src, &a_dst, &a_tags), (&b_src, &b_dst, &b_tags)] {
        assert_eq!(
            replication_status(&w, EAST, src).await.as_deref(),
            Some("ENABLED")
        );
        assert_eq!(w.protection(WEST, dst).await, "REPLICATING");
        assert_eq!(&w.tags(WEST, dst).await, tags);
    }
}

#[tokio::test]
async fn a_request_naming_two_configured_pairs_is_refused_before_anything_starts() {
    let w = world().await;
    let (a_src, a_dst) = w.replicated_pair("pair-a").await;
    let (b_src, b_dst) = w.replicated_pair("pair-b").await;
    let mut config = w.config();
    config.pairs = [(&a_src, &a_dst), (&b_src, &b_dst)]
        .into_iter()
        .map(|(s, d)| efs_dr_shared::domain::config::PairConfig {
            source_file_system_id: efs_dr_shared::domain::ids::FileSystemRef::parse(s).expect("id"),
            source_region: Some(region(EAST)),
            destination_file_system_id: Some(
                efs_dr_shared::domain::ids::FileSystemRef::parse(d).expect("id"),
            ),
            destination_region: None,
            mount_targets: None,
        })
        .collect();
    let before = w.call_count();
    let err = failover::run(
        &w.platform(MutationBudget::default()),
        &config,
        &execute(&b_src, &a_dst, true),
        None,
    )
    .await
    .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("two pairs"), "{text}");
    assert!(
        [&a_src, &a_dst, &b_src, &b_dst]
            .iter()
            .all(|id| text.contains(id.as_str())),
        "names both pairs: {text}"
    );
    assert_eq!(w.call_count(), before, "not one AWS call");
}

#[tokio::test]
async fn a_writable_file_system_nobody_promoted_is_not_a_completed_failover() {
    let w = world().await;
    let (src, _dst) = w.replicated_pair("pair").await;
    let stranger = create_file_system(&w.efs(WEST), "stranger")
        .await
        .expect("fs");
    w.advance(15.0);
    let before = w.call_count();
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &execute(&src, &stranger, false),
        None,
    )
    .await
    .expect("runs");
    assert_eq!(s.status, Status::Refused, "{}", s.render_text());
    assert_eq!(
        s.results[0].error.as_ref().map(|e| e.error_type.as_str()),
        Some("Refused.NotAReplica")
    );
    assert!(w.mutating_calls_since(before).is_empty());

    // force: the operator says it is the one; it is adopted and reported complete.
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &execute(&src, &stranger, true),
        None,
    )
    .await
    .expect("runs");
    assert_eq!(s.status, Status::Completed, "{}", s.render_text());
    assert!(s.results[0]
        .warnings
        .iter()
        .any(|x| x.contains("NotAReplica")));
}

#[tokio::test]
async fn a_forced_failover_before_the_first_sync_reports_no_recovery_point() {
    let w = world().await;
    // A replica that failed over once (it carries a recovery point tag) ...
    let (src, dst) = w.replicated_pair("first").await;
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &execute(&src, &dst, false),
        None,
    )
    .await
    .expect("runs");
    assert!(s.results[0].recovery_point.is_some());
    // ... is made the destination of a new replication, and forced over before its first sync.
    let east = w.efs(EAST);
    let src2 = create_file_system(&east, "second").await.expect("fs");
    w.advance(15.0);
    w.efs(WEST)
        .update_file_system_protection()
        .file_system_id(&dst)
        .replication_overwrite_protection(
            aws_sdk_efs::types::ReplicationOverwriteProtection::Disabled,
        )
        .send()
        .await
        .expect("open the old replica");
    east.create_replication_configuration()
        .source_file_system_id(&src2)
        .destinations(
            aws_sdk_efs::types::DestinationToCreate::builder()
                .region(WEST)
                .file_system_id(&dst)
                .build(),
        )
        .send()
        .await
        .expect("replicate into it");
    w.advance(5.0);
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &execute(&src2, &dst, true),
        None,
    )
    .await
    .expect("runs");
    let report = &s.results[0];
    assert_eq!(s.status, Status::Completed, "{}", s.render_text());
    assert!(
        report.recovery_point.is_none(),
        "a recovery point from the earlier failover: {:?}",
        report.recovery_point
    );
    assert!(report
        .warnings
        .iter()
        .chain(report.next_steps.iter())
        .any(|x| x.contains("no recovery point")));
}

#[tokio::test]
async fn arns_of_every_partition_name_their_file_system_and_region() {
    for (arn, region) in [
        (
            "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0",
            "us-east-1",
        ),
        (
            "arn:aws-cn:elasticfilesystem:cn-north-1:123456789012:file-system/fs-0123456789abcdef0",
            "cn-north-1",
        ),
        (
            "arn:aws-us-gov:elasticfilesystem:us-gov-west-1:123456789012:file-system/fs-0123456789abcdef0",
            "us-gov-west-1",
        ),
    ] {
        let r = FileSystemRef::parse(arn).unwrap_or_else(|e| panic!("{arn}: {e}"));
        assert_eq!(r.id.as_str(), "fs-0123456789abcdef0");
        assert_eq!(r.arn_region.as_ref().map(|r| r.as_str()), Some(region));
        let req = FailoverRequest::from_json(json!({"source_file_system_id": arn}));
        assert!(req.is_ok(), "{arn}: {:?}", req.err());
    }
    assert!(FileSystemRef::parse(
        "arn:aws-xx:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0"
    )
    .is_err());
}

#[tokio::test]
async fn failback_refuses_when_cloudwatch_cannot_tell_whether_clients_used_the_original() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("unknown").await;
    // The failover happens while us-east-1 is down: its CloudWatch has nothing since.
    w.faults(json!({"region": EAST, "outage": true}));
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &execute(&src, &dst, false),
        None,
    )
    .await
    .expect("runs");
    assert_eq!(s.status, Status::Completed, "{}", s.render_text());
    w.faults(json!({"region": EAST, "outage": false}));
    // Failback in the same minute the Region came back: no ClientConnections datapoint yet.
    let request = efs_dr_shared::workflows::failback::FailbackRequest::from_json(json!({
        "original_file_system_id": src, "original_region": EAST,
        "replica_file_system_id": dst, "replica_region": WEST, "mode": "execute"
    }))
    .expect("request");
    let before = w.call_count();
    let s = efs_dr_shared::workflows::failback::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &request,
        None,
    )
    .await
    .expect("runs");
    let e = s.results[0].error.as_ref().expect("refused");
    assert_eq!(e.error_type, "Refused.SplitBrain", "{}", s.render_text());
    assert!(e.message.contains("unknown"), "{}", e.message);
    assert!(w.mutating_calls_since(before).is_empty());
}
