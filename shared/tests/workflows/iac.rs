//! The `iac` advice of failover and failback reports, parsed with a real HCL
//! parser, and every ID in it checked against the emulator's state.

use crate::common;

use common::*;
use efs_dr_shared::domain::ids::FileSystemId;
use efs_dr_shared::run::report::Status;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::failback::{self, FailbackRequest};
use efs_dr_shared::workflows::failover::{self, FailoverRequest};
use efs_dr_shared::workflows::iac::{self, Iac, Topology};
use efs_dr_testkit::hcl::{attr, imports, resource};
use hcl::Body;
use serde_json::json;

fn parsed(iac: &Iac) -> (Body, Body) {
    let tf = hcl::parse(&iac.terraform)
        .unwrap_or_else(|e| panic!("terraform does not parse: {e}\n{}", iac.terraform));
    let vars = hcl::parse(&iac.terraform_tfvars)
        .unwrap_or_else(|e| panic!("tfvars do not parse: {e}\n{}", iac.terraform_tfvars));
    (tf, vars)
}

#[tokio::test]
async fn the_advice_follows_the_pair_through_failover_and_failback() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("iac").await;
    w.write(EAST, &src, "/a.txt", "before");
    w.advance(120.0);
    let platform = w.platform(MutationBudget::default());
    let failover = FailoverRequest::from_json(json!({"source_file_system_id": src, "source_region": EAST, "destination_file_system_id": dst, "destination_region": WEST, "mode": "execute"})).expect("request");
    let s = failover::run(&platform, &w.config(), &failover, None)
        .await
        .expect("failover");
    assert_eq!(s.status, Status::Completed);
    let iac = s.results[0]
        .iac
        .clone()
        .expect("a failover report carries iac");

    // After the failover: the replica stands alone, writable.
    assert_eq!(iac.topology, Topology::Standalone);
    assert!(!w.has_replication(WEST, &dst).await);
    let (tf, vars) = parsed(&iac);
    assert_eq!(attr(&vars, "efs_source_file_system_id"), Some(dst.clone()));
    assert_eq!(attr(&vars, "efs_source_region"), Some(WEST.to_string()));
    assert_eq!(attr(&vars, "efs_replication_enabled"), Some("false".into()));
    let removed: Vec<_> = tf
        .blocks()
        .filter(|b| b.identifier() == "removed")
        .collect();
    assert_eq!(removed.len(), 1, "{}", iac.terraform);
    assert_eq!(
        attr(removed[0].body(), "from").as_deref(),
        Some("aws_efs_replication_configuration.replica")
    );
    let mut ids = imports(&tf);
    ids.sort();
    assert_eq!(
        ids,
        vec![
            ("aws_efs_file_system.primary".into(), src.clone()),
            ("aws_efs_file_system.replica".into(), dst.clone()),
        ]
    );
    let replica = resource(&tf, "aws_efs_file_system", "replica").expect("replica block");
    let protection = replica.blocks().find(|b| b.identifier() == "protection");
    assert_eq!(
        protection.and_then(|p| attr(p.body(), "replication_overwrite")),
        Some(w.protection(WEST, &dst).await),
        "the declared protection is the observed one"
    );
    // The original is left to the failback: declaring its protection would
    // undo the DISABLED the reverse sync needs.
    let primary = resource(&tf, "aws_efs_file_system", "primary").expect("primary block");
    assert!(primary.blocks().all(|b| b.identifier() != "protection"));
    assert!(primary.blocks().any(|b| b.identifier() == "lifecycle"));
    assert!(iac.cloudformation.contains(&src) && iac.cloudformation.contains(&dst));

    // After the failback: the original direction again, under a new configuration.
    w.write(WEST, &dst, "/outage.txt", "during the outage");
    let failback = |extra: serde_json::Value| {
        let mut v = json!({"original_file_system_id": src, "original_region": EAST, "replica_file_system_id": dst, "replica_region": WEST, "mode": "execute"});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        FailbackRequest::from_json(v).expect("request")
    };
    let mid = failback::run(&platform, &w.config(), &failback(json!({})), None)
        .await
        .expect("failback, reverse sync");
    assert!(
        mid.results[0].iac.is_none(),
        "a run in transition carries no advice"
    );
    // What efs-dr iac prints meanwhile.
    let now = iac::observe(
        &platform,
        iac::FsAt {
            id: FileSystemId::parse(&src).expect("id"),
            region: region(EAST),
        },
        iac::FsAt {
            id: FileSystemId::parse(&dst).expect("id"),
            region: region(WEST),
        },
        true,
    )
    .await
    .expect("observe");
    let reversed = iac::render(&now, &iac::Addresses::for_pair(0, 1));
    assert_eq!(
        reversed.topology,
        Topology::Reversed,
        "{}",
        reversed.summary
    );
    // Anything applied now would be replaced when the direction is restored,
    // and a replacement deletes a replication: no block, no variable.
    let (tf, vars) = parsed(&reversed);
    assert_eq!(
        tf.blocks().count() + tf.attributes().count(),
        0,
        "{}",
        reversed.terraform
    );
    assert_eq!(vars.blocks().count() + vars.attributes().count(), 0);
    assert!(reversed.terraform.contains("A failback is under way"));

    let done = failback::run(
        &platform,
        &w.config(),
        &failback(json!({"cutover": true})),
        None,
    )
    .await
    .expect("failback");
    assert_eq!(done.status, Status::Completed, "{:#?}", done.results[0]);
    let iac = done.results[0].iac.clone().expect("iac after failback");
    assert_eq!(iac.topology, Topology::Protected, "{}", iac.summary);
    let (tf, vars) = parsed(&iac);
    let observed = w
        .emu
        .shared
        .world()
        .replications
        .iter()
        .find(|r| r.destination_file_system_id == dst)
        .map(|r| {
            (
                r.source_file_system_id.clone(),
                r.destination_region.clone(),
            )
        })
        .expect("the emulator has the restored replication");
    assert_eq!(observed.0, src);
    assert_eq!(attr(&vars, "efs_source_file_system_id"), Some(src.clone()));
    assert_eq!(
        attr(&vars, "efs_destination_file_system_id"),
        Some(dst.clone())
    );
    assert_eq!(
        attr(&vars, "efs_destination_region"),
        Some(observed.1.clone())
    );
    assert!(imports(&tf).contains(&(
        "aws_efs_replication_configuration.replica".into(),
        src.clone()
    )));
    let rep = resource(&tf, "aws_efs_replication_configuration", "replica").expect("block");
    assert_eq!(attr(rep, "source_file_system_id"), Some(src.clone()));
    let dest = rep
        .blocks()
        .find(|b| b.identifier() == "destination")
        .expect("destination");
    assert_eq!(attr(dest.body(), "file_system_id"), Some(dst.clone()));
    assert_eq!(attr(dest.body(), "region"), Some(observed.1));
    // The replica is a destination again: Terraform must not fight REPLICATING.
    let replica = resource(&tf, "aws_efs_file_system", "replica").expect("replica block");
    let lifecycle = replica
        .blocks()
        .find(|b| b.identifier() == "lifecycle")
        .expect("lifecycle");
    let ignored: String = attr(lifecycle.body(), "ignore_changes")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(ignored, "[protection]");
}
