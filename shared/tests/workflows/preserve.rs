//! Nothing lost silently: before failback lets replication overwrite a file
//! system, whatever only that file system holds is copied to AWS Backup (or,
//! when the request says so, counted as destroyed). Judged by content: every
//! acknowledged write ends on the primary or in a recovery point that the
//! emulator shows holding it.

use crate::common;

use common::*;
use efs_dr_emulator::ReplicationFault;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::run::summary::RunSummary;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failback::{self, FailbackRequest};
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use efs_dr_testkit::FileCopy;
use serde_json::{json, Value};

/// A pair that failed over during an outage of us-east-1: the original took
/// `/late.txt` after its last sync (inside the recovery point window), the
/// promoted replica took `/outage.txt`; us-east-1 is back since three minutes.
async fn failed_over_with_writes_on_both_sides(w: &World, token: &str) -> (String, String) {
    let (src, dst) = w.replicated_pair(token).await;
    w.emu
        .shared
        .set_replication_fault(&src, ReplicationFault::Stalled)
        .expect("stall");
    w.advance(30.0);
    w.write(
        EAST,
        &src,
        "/late.txt",
        "acknowledged on the original, never replicated",
    );
    // CloudWatch has the minute of that write before the Region goes down.
    w.advance(90.0);
    w.faults(json!({"region": EAST, "outage": true}));
    let s = failover::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &FailoverRequest::from_json(json!({
            "source_file_system_id": src, "source_region": EAST,
            "destination_file_system_id": dst, "destination_region": WEST,
            "mode": "execute", "reason": "outage"
        }))
        .expect("request"),
        None,
    )
    .await
    .expect("failover runs");
    assert_eq!(s.status, Status::Completed, "{}", s.render_text());
    w.write(WEST, &dst, "/outage.txt", "written on the promoted replica");
    w.faults(json!({"region": EAST, "outage": false}));
    w.emu
        .shared
        .set_replication_fault(&src, ReplicationFault::Healthy)
        .ok();
    w.advance(180.0);
    (src, dst)
}

fn failback_request(src: &str, dst: &str, extra: Value) -> FailbackRequest {
    let mut v = json!({
        "original_file_system_id": src, "original_region": EAST,
        "replica_file_system_id": dst, "replica_region": WEST,
        "mode": "execute", "cutover": true, "reason": "test"
    });
    if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        v.extend(extra.clone());
    }
    FailbackRequest::from_json(v).expect("request")
}

async fn run_failback(w: &World, req: &FailbackRequest) -> RunSummary {
    failback::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        req,
        None,
    )
    .await
    .expect("failback runs")
}

/// Where each acknowledged write is now: (path, seq) -> "primary", a recovery point ARN, or "lost".
async fn whereabouts(
    w: &World,
    primary: (&str, &str),
    arns: &[String],
) -> Vec<(String, u64, String)> {
    let live = w
        .kit
        .file_system_files(primary.0, primary.1)
        .await
        .expect("files");
    let mut copies: Vec<(String, Vec<FileCopy>)> = Vec::new();
    for arn in arns {
        copies.push((
            arn.clone(),
            w.kit
                .recovery_point_files(arn)
                .await
                .expect("recovery point files"),
        ));
    }
    let writes = w.emu.shared.world().writes.clone();
    writes
        .iter()
        .map(|wr| {
            let held =
                |files: &[FileCopy]| files.iter().any(|f| f.path == wr.path && f.seq == wr.seq);
            let place = if held(&live) {
                "primary".to_string()
            } else {
                copies
                    .iter()
                    .find(|(_, files)| held(files))
                    .map(|(arn, _)| arn.clone())
                    .unwrap_or_else(|| "lost".into())
            };
            (wr.path.clone(), wr.seq, place)
        })
        .collect()
}

#[tokio::test]
async fn keep_changes_preserves_the_originals_own_writes_before_overwriting_it() {
    let w = world().await;
    let (src, dst) = failed_over_with_writes_on_both_sides(&w, "keep").await;
    let s = run_failback(&w, &failback_request(&src, &dst, json!({}))).await;
    let report = &s.results[0];
    assert_eq!(s.status, Status::Completed, "{}", s.render_text());

    // The original's own write was copied before the reverse replication overwrote it.
    let preserved: Vec<_> = report
        .preserved
        .iter()
        .filter(|p| p.file_system_id.as_str() == src)
        .collect();
    assert_eq!(preserved.len(), 1, "{}", s.render_text());
    let p = preserved[0];
    assert!(p.bytes_written.unwrap_or(1) > 0);
    assert!(p.restore_command.contains(&p.recovery_point_arn));
    assert!(p
        .restore_command
        .starts_with("aws backup start-restore-job"));
    let tags = w.tags(EAST, &src).await;
    assert!(tags
        .iter()
        .any(|(k, v)| k == "efs-dr:preserved-recovery-point" && v == &p.recovery_point_arn));

    // Every acknowledged write: on the original, or in a recovery point the emulator holds.
    let arns: Vec<String> = report
        .preserved
        .iter()
        .map(|p| p.recovery_point_arn.clone())
        .collect();
    let places = whereabouts(&w, (EAST, &src), &arns).await;
    let lost: Vec<_> = places.iter().filter(|(_, _, at)| at == "lost").collect();
    assert!(lost.is_empty(), "lost writes: {lost:?}");
    let late = places
        .iter()
        .find(|(path, _, _)| path == "/late.txt")
        .expect("late write");
    assert_eq!(late.2, p.recovery_point_arn, "{places:?}");
    let outage = places
        .iter()
        .find(|(path, _, _)| path == "/outage.txt")
        .expect("outage write");
    assert_eq!(outage.2, "primary");
}

#[tokio::test]
async fn preserve_never_overwrites_without_a_copy_and_states_the_bytes() {
    let w = world().await;
    let (src, dst) = failed_over_with_writes_on_both_sides(&w, "never").await;

    // Refused without the acknowledgement, before any AWS call.
    let refused = FailbackRequest::from_json(json!({
        "original_file_system_id": src, "original_region": EAST,
        "replica_file_system_id": dst, "replica_region": WEST,
        "mode": "execute", "preserve": "never"
    }));
    let refused = failback::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &refused.expect("parses"),
        None,
    )
    .await;
    assert!(
        matches!(refused, Err(efs_dr_shared::Error::InvalidInput(ref m)) if m.contains("acknowledge_data_loss"))
    );

    let before = w.call_count();
    let s = run_failback(
        &w,
        &failback_request(
            &src,
            &dst,
            json!({"preserve": "never", "acknowledge_data_loss": true}),
        ),
    )
    .await;
    assert_eq!(s.status, Status::Completed, "{}", s.render_text());
    let report = &s.results[0];
    assert!(report.preserved.is_empty());
    let destroyed = report
        .overwritten_without_copy
        .iter()
        .find(|u| u.file_system_id.as_str() == src)
        .expect("the original's overwrite is stated");
    // The Region's outage left minutes without data: the exact total is unknown,
    // and what was seen is stated.
    let late_bytes = "acknowledged on the original, never replicated".len() as u64;
    assert_eq!(destroyed.bytes_seen, late_bytes, "{destroyed:?}");
    assert!(destroyed.minutes_without_data > 0, "{destroyed:?}");
    assert_eq!(destroyed.bytes_written, None);
    assert!(destroyed.reason.contains("never"));
    let started_jobs = w
        .mutating_calls_since(before)
        .iter()
        .filter(|c| c.ends_with("StartBackupJob"))
        .count();
    assert_eq!(started_jobs, 0);
}

#[tokio::test]
async fn a_failed_backup_refuses_the_overwrite_and_changes_nothing() {
    let w = world().await;
    let (src, dst) = failed_over_with_writes_on_both_sides(&w, "failed").await;
    w.kit
        .control(
            "POST",
            "/_emulator/backup-fault",
            Some(&json!({"file_system_id": src, "outcome": "FAILED"})),
        )
        .await
        .expect("backup fault");
    let before = w.call_count();
    let s = run_failback(&w, &failback_request(&src, &dst, json!({}))).await;
    assert_eq!(s.status, Status::Refused, "{}", s.render_text());
    assert_eq!(
        s.results[0].error.as_ref().map(|e| e.error_type.as_str()),
        Some("Refused.PreservationFailed")
    );
    let overwriting: Vec<String> = w
        .mutating_calls_since(before)
        .into_iter()
        .filter(|c| {
            c.ends_with("CreateReplicationConfiguration")
                || c.ends_with("UpdateFileSystemProtection")
        })
        .collect();
    assert!(overwriting.is_empty(), "{overwriting:?}");
    let live = w.kit.file_system_files(EAST, &src).await.expect("files");
    assert!(live.iter().any(|f| f.path == "/late.txt"));

    // The cause is gone: the next run takes a new backup instead of the failed one.
    w.advance(60.0);
    let s = run_failback(&w, &failback_request(&src, &dst, json!({}))).await;
    assert_eq!(s.status, Status::Completed, "{}", s.render_text());
    assert!(s.results[0]
        .preserved
        .iter()
        .any(|p| p.file_system_id.as_str() == src));
}

#[tokio::test]
async fn without_a_backup_role_an_overwrite_that_needs_a_copy_is_refused() {
    let w = world().await;
    let (src, dst) = failed_over_with_writes_on_both_sides(&w, "norole").await;
    let mut config = w.config();
    config.backup_role_arn = None;
    let before = w.call_count();
    let s = failback::run(
        &w.platform(MutationBudget::default()),
        &config,
        &failback_request(&src, &dst, json!({})),
        None,
    )
    .await
    .expect("runs");
    assert_eq!(
        s.results[0].error.as_ref().map(|e| e.error_type.as_str()),
        Some("Refused.PreservationNotConfigured"),
        "{}",
        s.render_text()
    );
    // Only the clean-up of the configuration the local-only failover left behind.
    let mutations = w.mutating_calls_since(before);
    assert!(
        mutations
            .iter()
            .all(|c| c.ends_with("DeleteReplicationConfiguration")),
        "{mutations:?}"
    );
}

#[tokio::test]
async fn discard_changes_still_preserves_the_replicas_outage_writes() {
    let w = world().await;
    let (src, dst) = failed_over_with_writes_on_both_sides(&w, "discard").await;
    let s = run_failback(
        &w,
        &failback_request(
            &src,
            &dst,
            json!({"strategy": "discard_changes", "acknowledge_data_loss": true, "cutover": null}),
        ),
    )
    .await;
    assert_eq!(s.status, Status::Completed, "{}", s.render_text());
    let p = s.results[0]
        .preserved
        .iter()
        .find(|p| p.file_system_id.as_str() == dst)
        .expect("the replica's outage writes are preserved");
    let copy = w
        .kit
        .recovery_point_files(&p.recovery_point_arn)
        .await
        .expect("files");
    assert!(copy.iter().any(|f| f.path == "/outage.txt"), "{copy:?}");
}

#[tokio::test]
async fn the_cutover_waits_for_clients_to_leave_the_replica() {
    let w = world().await;
    let (src, dst) = failed_over_with_writes_on_both_sides(&w, "clients").await;
    // Sync the reverse direction first.
    let s = run_failback(&w, &failback_request(&src, &dst, json!({"cutover": false}))).await;
    assert_eq!(
        s.results[0].phase,
        "in sync, waiting for cutover",
        "{}",
        s.render_text()
    );
    w.kit
        .control(
            "POST",
            "/_emulator/clients",
            Some(&json!({"region": WEST, "file_system_id": dst, "connected": 2})),
        )
        .await
        .expect("clients");
    w.advance(120.0);
    let before = w.call_count();
    let s = run_failback(&w, &failback_request(&src, &dst, json!({}))).await;
    assert_eq!(
        s.results[0].error.as_ref().map(|e| e.error_type.as_str()),
        Some("Refused.ClientsStillConnected"),
        "{}",
        s.render_text()
    );
    assert!(w.mutating_calls_since(before).is_empty());
    w.kit
        .control(
            "POST",
            "/_emulator/clients",
            Some(&json!({"region": WEST, "file_system_id": dst, "connected": 0})),
        )
        .await
        .expect("clients");
    w.advance(120.0);
    let s = run_failback(&w, &failback_request(&src, &dst, json!({}))).await;
    assert_eq!(s.status, Status::Completed, "{}", s.render_text());
}

/// One cutover in step mode, from "in sync" to original -> replica restored,
/// with one client write to the replica just before pass `write_before`
/// (while the replica is still its own, writable file system). Returns the
/// phase after each pass and where that write ended.
async fn cutover_with_one_write(write_before: Option<usize>) -> (Vec<String>, Option<String>) {
    let w = world().await;
    let (src, dst) = failed_over_with_writes_on_both_sides(&w, "every-point").await;
    let s = run_failback(&w, &failback_request(&src, &dst, json!({"cutover": false}))).await;
    assert_eq!(
        s.results[0].phase,
        "in sync, waiting for cutover",
        "{}",
        s.render_text()
    );
    let mark = w.emu.shared.now();
    let request = failback_request(
        &src,
        &dst,
        json!({"cutover_mark": mark, "run_mode": "step"}),
    );
    let mut arns: Vec<String> = s.results[0]
        .preserved
        .iter()
        .map(|p| p.recovery_point_arn.clone())
        .collect();
    let mut written = None;
    let mut passes = 0;
    let mut phases = Vec::new();
    let mut last = String::new();
    while passes < 200 {
        if write_before == Some(passes) && w.protection(WEST, &dst).await == "ENABLED" {
            written = w
                .emu
                .shared
                .write(
                    WEST,
                    &dst,
                    "/after-the-mark.txt",
                    &format!("written before pass {passes}"),
                    None,
                )
                .ok()
                .map(|r| r.seq);
        }
        let s = failback::run(
            &w.platform(MutationBudget::default()),
            &w.config(),
            &request,
            None,
        )
        .await
        .expect("a pass");
        passes += 1;
        phases.push(s.results[0].phase.clone());
        arns.extend(
            s.results[0]
                .preserved
                .iter()
                .map(|p| p.recovery_point_arn.clone()),
        );
        last = s.render_text();
        if s.done {
            assert_eq!(s.status, Status::Completed, "{last}");
            break;
        }
        w.advance(s.wait_seconds.unwrap_or(10) as f64);
    }
    assert!(
        w.has_replication(EAST, &src).await,
        "original -> replica restored: {last}"
    );
    arns.sort();
    arns.dedup();
    let places = whereabouts(&w, (EAST, &src), &arns).await;
    let lost: Vec<_> = places.iter().filter(|(_, _, at)| at == "lost").collect();
    assert!(
        lost.is_empty(),
        "write before pass {write_before:?}: lost {lost:?}\n{last}"
    );
    let place = written.and_then(|seq| {
        places
            .iter()
            .find(|(_, s, _)| *s == seq)
            .map(|(_, _, at)| at.clone())
    });
    (phases, place)
}

#[tokio::test]
async fn a_write_to_the_replica_at_any_point_of_the_cutover_ends_on_the_primary_or_in_a_recovery_point(
) {
    let (phases, _) = cutover_with_one_write(None).await;
    // The points of the cutover: the first and the last pass of every phase, while
    // the replica is still writable (a client write needs it to be).
    let mut points: Vec<usize> = Vec::new();
    for (k, phase) in phases.iter().enumerate() {
        let starts = k == 0 || phases[k - 1] != *phase;
        let ends = phases.get(k + 1).is_none_or(|next| next != phase);
        if starts || ends {
            points.push(k);
        }
    }
    let mut outcomes = Vec::new();
    for k in points {
        let (_, place) = cutover_with_one_write(Some(k)).await;
        let Some(place) = place else {
            break; // the replica was opened for overwrite: clients can no longer be told apart
        };
        outcomes.push((k, phases[k].clone(), place));
    }
    println!(
        "cutover: {} passes, one write at each of {} points, every one kept: {outcomes:?}",
        phases.len(),
        outcomes.len()
    );
    assert!(outcomes.len() >= 4, "{outcomes:?}");
    assert!(
        outcomes.iter().any(|(_, _, p)| p.starts_with("arn:")),
        "some write after the last reverse sync needed a recovery point: {outcomes:?}"
    );
}
