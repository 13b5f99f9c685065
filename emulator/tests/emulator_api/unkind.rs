//! The emulator as unkind as AWS can be: promotion that is not atomic, a full
//! delete that hangs while the source Region is down, answers lost after the
//! change was made, Describe calls that lag behind creates, PAUSING before
//! PAUSED, syncs that take time in proportion to the bytes, and what a
//! configuration deleted mid-sync leaves behind.

use crate::common;

use aws_sdk_efs::types::DeletionMode;
use common::*;
use efs_dr_emulator::config::{Profile, SourceDownDelete, Variants};
use efs_dr_emulator::{EmulatorHandle, ReplicationFault};
use serde_json::json;

fn faults(emu: &EmulatorHandle, v: serde_json::Value) {
    emu.shared
        .set_faults(&serde_json::from_value(v).expect("update"))
        .expect("faults apply");
}

async fn status(emu: &EmulatorHandle, region: &str, fs: &str) -> Option<String> {
    efs(emu, region)
        .describe_replication_configurations()
        .file_system_id(fs)
        .send()
        .await
        .ok()
        .map(|o| {
            o.replications()[0].destinations()[0]
                .status()
                .as_str()
                .to_string()
        })
}

async fn protection(emu: &EmulatorHandle, fs: &str) -> String {
    let fs = emu
        .shared
        .world()
        .file_system(WEST, fs)
        .map(|f| f.protection);
    fs.map(|p| p.as_str().to_string()).unwrap_or_default()
}

#[tokio::test]
async fn a_full_delete_with_the_source_down_hangs_until_it_returns_under_accept_and_hang() {
    let emu = emulator().await;
    emu.shared.world().variants.delete_with_source_down = SourceDownDelete::AcceptAndHang;
    let (source, dest) = replicated_pair(&emu).await;
    faults(&emu, json!({"region": EAST, "outage": true}));
    efs(&emu, WEST)
        .delete_replication_configuration()
        .source_file_system_id(&source)
        .send()
        .await
        .expect("accepted although the source cannot be reached");
    emu.shared.advance(3_600.0);
    assert_eq!(status(&emu, WEST, &dest).await.as_deref(), Some("DELETING"));
    assert_eq!(
        protection(&emu, &dest).await,
        "REPLICATING",
        "still a replica"
    );

    // The source comes back: the delete goes on, on both sides.
    faults(&emu, json!({"region": EAST, "outage": false}));
    emu.shared.advance(250.0);
    assert_eq!(status(&emu, WEST, &dest).await, None);
    assert_eq!(status(&emu, EAST, &source).await, None);
    assert_eq!(protection(&emu, &dest).await, "ENABLED");
}

#[tokio::test]
async fn a_local_delete_frees_a_side_that_hangs_on_its_peer() {
    let emu = emulator().await;
    emu.shared.world().variants.delete_with_source_down = SourceDownDelete::AcceptAndHang;
    let (source, dest) = replicated_pair(&emu).await;
    faults(&emu, json!({"region": EAST, "outage": true}));
    let west = efs(&emu, WEST);
    west.delete_replication_configuration()
        .source_file_system_id(&source)
        .send()
        .await
        .expect("hangs");
    emu.shared.advance(600.0);
    west.delete_replication_configuration()
        .source_file_system_id(&source)
        .deletion_mode(DeletionMode::LocalConfigurationOnly)
        .send()
        .await
        .expect("local only");
    emu.shared.advance(200.0);
    assert_eq!(status(&emu, WEST, &dest).await, None);
    assert_eq!(protection(&emu, &dest).await, "ENABLED");
    // The source's side, once back, is an orphan in ERROR.
    faults(&emu, json!({"region": EAST, "outage": false}));
    assert_eq!(status(&emu, EAST, &source).await.as_deref(), Some("ERROR"));
}

#[tokio::test]
async fn fail_fast_refuses_a_full_delete_with_the_source_down_and_changes_nothing() {
    let emu = emulator().await;
    let (source, dest) = replicated_pair(&emu).await;
    faults(&emu, json!({"region": EAST, "outage": true}));
    let err = efs(&emu, WEST)
        .delete_replication_configuration()
        .source_file_system_id(&source)
        .send()
        .await
        .expect_err("fails at once");
    assert_eq!(code_and_status(&err), ("InternalServerError".into(), 500));
    assert_eq!(status(&emu, WEST, &dest).await.as_deref(), Some("ENABLED"));
}

#[tokio::test]
async fn a_lost_answer_leaves_the_change_made_and_a_retry_with_the_token_finds_it() {
    let emu = emulator().await;
    let id = efs_dr_testkit::create_file_system(&efs(&emu, WEST), "fs-lost")
        .await
        .expect("fs");
    emu.shared.advance(20.0);
    faults(&emu, json!({"region": WEST, "lost_response_rate": 1.0}));
    // The first answer is lost after the create; the SDK's retry meets the
    // access point that create made, as AWS answers a repeated client token.
    let err = efs_with(&emu, WEST, 3, None)
        .create_access_point()
        .file_system_id(&id)
        .client_token("ap-token")
        .send()
        .await
        .expect_err("the retry finds it made");
    let made: Vec<String> = emu
        .shared
        .world()
        .region(WEST)
        .map(|r| r.access_points.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(made.len(), 1, "applied once, whatever the retries");
    assert_eq!(
        code_and_status(&err),
        ("AccessPointAlreadyExists".into(), 409)
    );
    let named = err
        .as_service_error()
        .and_then(|e| match e {
            aws_sdk_efs::operation::create_access_point::CreateAccessPointError::AccessPointAlreadyExists(x) => {
                Some(x.access_point_id().to_string())
            }
            _ => None,
        });
    assert_eq!(named.as_deref(), Some(made[0].as_str()));
    let calls = emu.shared.calls();
    let outcomes: Vec<_> = calls
        .iter()
        .filter(|c| c.operation == "CreateAccessPoint")
        .map(|c| c.error_code.clone().unwrap_or_default())
        .collect();
    assert_eq!(outcomes, ["ResponseLost", "AccessPointAlreadyExists"]);
}

#[tokio::test]
async fn describe_lags_behind_a_create_when_eventual_consistency_is_on() {
    let emu = emulator().await;
    emu.shared.world().durations.describe_lag = 5.0;
    let west = efs(&emu, WEST);
    let id = efs_dr_testkit::create_file_system(&west, "fs-lag")
        .await
        .expect("fs");
    let err = west
        .describe_file_systems()
        .file_system_id(&id)
        .send()
        .await
        .expect_err("not visible yet");
    assert_eq!(code_and_status(&err), ("FileSystemNotFound".into(), 404));
    emu.shared.advance(20.0);
    let subnet = emu
        .shared
        .world()
        .region(WEST)
        .map(|r| r.subnets[0].id.clone());
    west.create_mount_target()
        .file_system_id(&id)
        .subnet_id(subnet.unwrap_or_default())
        .send()
        .await
        .expect("mount target");
    let listed = west
        .describe_mount_targets()
        .file_system_id(&id)
        .send()
        .await
        .expect("list");
    assert!(listed.mount_targets().is_empty(), "not listed yet");
    emu.shared.advance(5.0);
    let listed = west
        .describe_mount_targets()
        .file_system_id(&id)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.mount_targets().len(), 1);
}

#[tokio::test]
async fn a_disabled_source_key_pauses_replication_through_pausing() {
    let emu = emulator().await;
    let (source, dest) = replicated_pair(&emu).await;
    emu.shared
        .set_replication_fault(&source, ReplicationFault::SourceKeyDisabled)
        .expect("fault");
    assert_eq!(status(&emu, WEST, &dest).await.as_deref(), Some("PAUSING"));
    emu.shared.advance(61.0);
    assert_eq!(status(&emu, WEST, &dest).await.as_deref(), Some("PAUSED"));
}

#[tokio::test]
async fn a_sync_takes_time_in_proportion_to_the_bytes_changed() {
    let emu = emulator().await;
    let (source, dest) = replicated_pair(&emu).await;
    let lrt = || {
        let w = emu.shared.world();
        w.replications[0].last_replicated
    };
    // 200 MiB at 0.5 s per MiB: 100 s on top of the 30 s an incremental sync takes.
    emu.shared.advance(60.0);
    emu.shared
        .write(EAST, &source, "/big", "x", Some(200 * 1024 * 1024))
        .expect("write");
    emu.shared.advance(60.0);
    let started = lrt();
    emu.shared.advance(60.0);
    let in_flight = emu.shared.world().replications[0]
        .sync
        .as_ref()
        .map(|s| s.completes_at - s.started_at);
    assert_eq!(in_flight, Some(130.0));
    emu.shared.advance(200.0);
    assert!(lrt() > started);
    let has = |path: &str| {
        emu.shared
            .world()
            .file_system(WEST, &dest)
            .is_some_and(|f| f.files.contains_key(path))
    };
    assert!(has("/big"));
}

#[tokio::test]
async fn a_configuration_deleted_mid_sync_leaves_what_had_moved_in_lost_and_found() {
    let emu = emulator().await;
    let (source, dest) = replicated_pair(&emu).await;
    for i in 0..4 {
        emu.shared
            .write(
                EAST,
                &source,
                &format!("/f{i}"),
                "data",
                Some(50 * 1024 * 1024),
            )
            .expect("write");
    }
    // Let a long sync start, then delete the configuration in its middle.
    emu.shared.advance(61.0);
    assert!(emu.shared.world().replications[0].sync.is_some());
    efs(&emu, WEST)
        .delete_replication_configuration()
        .source_file_system_id(&source)
        .send()
        .await
        .expect("delete");
    emu.shared.advance(300.0);
    let files: Vec<String> = emu
        .shared
        .world()
        .file_system(WEST, &dest)
        .map(|f| f.files.keys().cloned().collect())
        .unwrap_or_default();
    let prefix = format!("/efs-replication-lost+found-{source}-");
    let lost_found = files.iter().filter(|p| p.starts_with(&prefix)).count();
    assert_eq!(lost_found, 2, "{files:?}");
    assert!(!files.contains(&"/f0".to_string()), "not applied in place");
}

#[tokio::test]
async fn the_unkind_profile_sets_every_uncertain_variant_through_the_control_api() {
    let emu = emulator().await;
    let client = reqwest_free_post(&emu, "/_emulator/config", json!({"profile": "unkind"})).await;
    assert_eq!(client["delete_with_source_down"], "accept_and_hang");
    assert_eq!(client["delete_order"], "source_first");
    assert_eq!(client["durations"]["describe_lag"], 5.0);
    assert_eq!(emu.shared.world().variants, Variants::of(Profile::Unkind));
    let back = reqwest_free_post(&emu, "/_emulator/config", json!({"profile": "kind"})).await;
    assert_eq!(back["delete_with_source_down"], "fail_fast");
    assert_eq!(back["durations"]["describe_lag"], 0.0);
}

/// POST to the control API with the test kit's client.
async fn reqwest_free_post(
    emu: &EmulatorHandle,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    efs_dr_testkit::control_at(emu.addr, "POST", path, Some(&body))
        .await
        .expect("control API")
}
