//! Emulated time: transitions fire at their own instants, however the clock
//! is moved.

use crate::common;

use common::*;
use efs_dr_emulator::EmulatorHandle;
use serde_json::{json, Value};

/// Replications syncing, one being deleted, one left orphaned, a mount target
/// and an access point being created, and client writes: then `advance`.
async fn busy_world(emu: &EmulatorHandle) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for i in 0..3 {
        let source = available_fs(emu, EAST, &format!("source{i}")).await;
        let replica = efs_dr_testkit::replicate_to_new(&efs(emu, EAST), &source, WEST)
            .await
            .expect("create replication");
        pairs.push((source, replica));
        // Staggered: each pair syncs at its own instants.
        emu.shared.advance(17.0);
    }
    emu.shared.advance(700.0);
    for (i, (source, _)) in pairs.iter().enumerate() {
        emu.shared
            .write(EAST, source, &format!("/f{i}"), "v1", None)
            .expect("write");
    }
    let west = efs(emu, WEST);
    west.delete_replication_configuration()
        .source_file_system_id(&pairs[0].0)
        .send()
        .await
        .expect("full delete");
    west.delete_replication_configuration()
        .source_file_system_id(&pairs[1].0)
        .deletion_mode(aws_sdk_efs::types::DeletionMode::LocalConfigurationOnly)
        .send()
        .await
        .expect("local delete");
    let subnet = emu
        .shared
        .world()
        .region(WEST)
        .map(|r| r.subnets[0].id.clone())
        .expect("subnets");
    west.create_mount_target()
        .file_system_id(&pairs[2].1)
        .subnet_id(subnet)
        .send()
        .await
        .expect("mount target");
    efs(emu, EAST)
        .create_access_point()
        .file_system_id(&pairs[2].0)
        .client_token("ap")
        .send()
        .await
        .expect("access point");
    pairs
}

fn snapshot(emu: &EmulatorHandle) -> Value {
    let w = emu.shared.world();
    let metrics: Vec<Value> = w
        .regions
        .values()
        .flat_map(|r| r.metrics.datapoints())
        .map(|d| json!(d))
        .collect();
    json!({
        "now": w.now,
        "regions": w.regions,
        "replications": w.replications,
        "metrics": metrics,
    })
}

#[tokio::test]
async fn one_long_advance_leaves_the_world_that_many_short_ones_do() {
    let (jump, steps) = (emulator().await, emulator().await);
    let pairs = busy_world(&jump).await;
    assert_eq!(busy_world(&steps).await, pairs, "same IDs in both");
    jump.shared.advance(3600.0);
    for _ in 0..3600 {
        steps.shared.advance(1.0);
    }
    let (a, b) = (snapshot(&jump), snapshot(&steps));
    assert_eq!(a, b);

    // And the hour did what it should have.
    let w = jump.shared.world();
    assert_eq!(
        w.replications.len(),
        2,
        "the fully deleted configuration is gone: {:?}",
        w.replications
    );
    assert!(w.replications.iter().any(|r| r.orphaned));
    let kept = w
        .replications
        .iter()
        .find(|r| r.source_file_system_id == pairs[2].0)
        .expect("the untouched pair");
    assert!(
        kept.last_replicated.is_some_and(|t| t > w.now - 120.0),
        "syncs went on every minute"
    );
    let replica = w.file_system(WEST, &pairs[2].1).expect("replica");
    assert!(
        replica.files.contains_key("/f2"),
        "the write was replicated"
    );
    let west = w.region(WEST).expect("west");
    assert!(west
        .mount_targets
        .values()
        .all(|m| m.life_cycle == efs_dr_emulator::model::LifeCycle::Available));
    assert!(a["metrics"].as_array().is_some_and(|m| m.len() > 60));
}
