//! The EFS API through the real aws-sdk-efs client: every operation, every
//! state transition, every enforced rule with its error code and HTTP status.

use crate::common;

use aws_sdk_efs::types::{
    CreationInfo, DeletionMode, DestinationToCreate, PosixUser, ReplicationOverwriteProtection,
    ReplicationStatus, RootDirectory, Tag,
};
use common::*;
use efs_dr_emulator::{ClockMode, EmulatorConfig, ReplicationFault, Seed};

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().expect("tag")
}

async fn out_region(emu: &efs_dr_emulator::EmulatorHandle, region: &str, id: &str) -> String {
    let r = efs(emu, region)
        .describe_replication_configurations()
        .file_system_id(id)
        .send()
        .await
        .expect("describe");
    r.replications()[0].destinations()[0].region().to_string()
}

async fn protection(emu: &efs_dr_emulator::EmulatorHandle, region: &str, id: &str) -> String {
    let out = efs(emu, region)
        .describe_file_systems()
        .file_system_id(id)
        .send()
        .await
        .expect("describe");
    out.file_systems()[0]
        .file_system_protection()
        .and_then(|p| p.replication_overwrite_protection())
        .map(|p| p.as_str().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn file_system_lifecycle_idempotency_and_pagination() {
    let emu = emulator().await;
    let client = efs(&emu, EAST);
    let created = client
        .create_file_system()
        .creation_token("tok-1")
        .tags(tag("Name", "primary"))
        .send()
        .await
        .expect("create");
    assert_eq!(created.life_cycle_state().as_str(), "creating");
    assert_eq!(created.name(), Some("primary"));
    let id = created.file_system_id().to_string();
    assert!(id.starts_with("fs-") && id.len() == 20, "{id}");

    // Same creation token: the existing file system is named in the error.
    let err = client
        .create_file_system()
        .creation_token("tok-1")
        .send()
        .await
        .expect_err("duplicate token");
    assert_eq!(
        code_and_status(&err),
        ("FileSystemAlreadyExists".into(), 409)
    );
    let svc = err.into_service_error();
    match svc {
        aws_sdk_efs::operation::create_file_system::CreateFileSystemError::FileSystemAlreadyExists(e) => {
            assert_eq!(e.file_system_id(), id)
        }
        other => panic!("unexpected {other:?}"),
    }

    emu.shared.advance(10.0);
    let fs = client
        .describe_file_systems()
        .file_system_id(&id)
        .send()
        .await
        .expect("describe");
    let fs = &fs.file_systems()[0];
    assert_eq!(fs.life_cycle_state().as_str(), "available");
    assert_eq!(
        fs.file_system_protection()
            .and_then(|p| p.replication_overwrite_protection()),
        Some(&ReplicationOverwriteProtection::Enabled)
    );
    // ARN works where an ID does.
    let arn = fs.file_system_arn().expect("arn").to_string();
    let by_arn = client
        .describe_file_systems()
        .file_system_id(&arn)
        .send()
        .await
        .expect("by arn");
    assert_eq!(by_arn.file_systems()[0].file_system_id(), id);

    for i in 2..=5 {
        client
            .create_file_system()
            .creation_token(format!("tok-{i}"))
            .send()
            .await
            .expect("create");
    }
    let page1 = client
        .describe_file_systems()
        .max_items(2)
        .send()
        .await
        .expect("page 1");
    assert_eq!(page1.file_systems().len(), 2);
    let next = page1.next_marker().expect("more pages").to_string();
    let page2 = client
        .describe_file_systems()
        .max_items(2)
        .marker(&next)
        .send()
        .await
        .expect("page 2");
    assert_eq!(page2.marker(), Some(next.as_str()));
    let all: Vec<String> = client
        .describe_file_systems()
        .max_items(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("paginate")
        .into_iter()
        .map(|f| f.file_system_id().to_string())
        .collect();
    assert_eq!(all.len(), 5);

    client
        .delete_file_system()
        .file_system_id(&id)
        .send()
        .await
        .expect("delete");
    let deleting = client
        .describe_file_systems()
        .file_system_id(&id)
        .send()
        .await
        .expect("still there");
    assert_eq!(
        deleting.file_systems()[0].life_cycle_state().as_str(),
        "deleting"
    );
    emu.shared.advance(10.0);
    let err = client
        .describe_file_systems()
        .file_system_id(&id)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code_and_status(&err), ("FileSystemNotFound".into(), 404));

    // Malformed IDs are a 400, not a 404.
    let err = client
        .describe_file_systems()
        .file_system_id("fs-XYZ")
        .send()
        .await
        .expect_err("bad id");
    assert_eq!(code_and_status(&err), ("BadRequest".into(), 400));
    // Regions are separate: the ID does not exist in us-west-2.
    let other = available_fs(&emu, EAST, "east-only").await;
    let err = efs(&emu, WEST)
        .describe_file_systems()
        .file_system_id(&other)
        .send()
        .await
        .expect_err("other region");
    assert_eq!(code_and_status(&err), ("FileSystemNotFound".into(), 404));
}

#[tokio::test]
async fn replication_to_new_destination_syncs_and_promotes() {
    let emu = emulator().await;
    let source = available_fs(&emu, EAST, "source").await;
    let east = efs(&emu, EAST);
    let west = efs(&emu, WEST);
    emu.shared
        .write(EAST, &source, "/a.txt", "one", None)
        .expect("write source");

    let created = east
        .create_replication_configuration()
        .source_file_system_id(&source)
        .destinations(DestinationToCreate::builder().region(WEST).build())
        .send()
        .await
        .expect("create replication");
    assert_eq!(created.source_file_system_region(), EAST);
    let dest_desc = &created.destinations()[0];
    assert_eq!(dest_desc.status(), &ReplicationStatus::Enabling);
    assert!(dest_desc.last_replicated_timestamp().is_none());
    let dest = dest_desc.file_system_id().to_string();

    // The new destination exists in us-west-2, encrypted and read-only.
    emu.shared.advance(10.0);
    let d = west
        .describe_file_systems()
        .file_system_id(&dest)
        .send()
        .await
        .expect("dest");
    assert_eq!(d.file_systems()[0].encrypted(), Some(true));
    assert_eq!(protection(&emu, WEST, &dest).await, "REPLICATING");
    assert!(
        emu.shared.write(WEST, &dest, "/x", "no", None).is_err(),
        "replica is read-only"
    );

    // ENABLED after a minute, but with no LastReplicatedTimestamp until the 600 s
    // initial sync completes: the status alone does not say the replica is complete.
    emu.shared.advance(300.0);
    let r = west
        .describe_replication_configurations()
        .file_system_id(&dest)
        .send()
        .await
        .expect("describe");
    let d0 = &r.replications()[0].destinations()[0];
    assert_eq!(d0.status(), &ReplicationStatus::Enabled);
    assert!(d0.last_replicated_timestamp().is_none());
    emu.shared.advance(400.0);
    let r = west
        .describe_replication_configurations()
        .file_system_id(&dest)
        .send()
        .await
        .expect("describe");
    let d0 = &r.replications()[0].destinations()[0];
    assert_eq!(d0.status(), &ReplicationStatus::Enabled);
    let last = d0
        .last_replicated_timestamp()
        .expect("recovery point")
        .secs();
    assert!(last > 0);
    // Seen from the source Region too.
    let r = east
        .describe_replication_configurations()
        .file_system_id(&source)
        .send()
        .await
        .expect("from source");
    assert_eq!(r.replications()[0].destinations()[0].file_system_id(), dest);
    assert_eq!(
        r.replications()[0].original_source_file_system_arn(),
        r.replications()[0].source_file_system_arn()
    );

    // A later write reaches the replica on a following sync (every 60 s, 30 s each).
    emu.shared
        .write(EAST, &source, "/b.txt", "two", None)
        .expect("write");
    emu.shared.advance(120.0);
    let files = emu
        .shared
        .world()
        .file_system(WEST, &dest)
        .map(|f| f.files.clone())
        .expect("dest files");
    assert_eq!(files.get("/b.txt").map(|f| f.content.as_str()), Some("two"));

    // Rules: one configuration per file system; a destination cannot be a source.
    let err = east
        .create_replication_configuration()
        .source_file_system_id(&source)
        .destinations(DestinationToCreate::builder().region("eu-west-1").build())
        .send()
        .await
        .expect_err("second config");
    assert_eq!(
        code_and_status(&err),
        ("ReplicationAlreadyExists".into(), 409)
    );
    let err = west
        .create_replication_configuration()
        .source_file_system_id(&dest)
        .destinations(DestinationToCreate::builder().region("eu-west-1").build())
        .send()
        .await
        .expect_err("destination as source");
    assert_eq!(
        code_and_status(&err),
        ("ReplicationAlreadyExists".into(), 409)
    );
    let err = east
        .delete_file_system()
        .file_system_id(&source)
        .send()
        .await
        .expect_err("in use");
    assert_eq!(code_and_status(&err), ("FileSystemInUse".into(), 409));
    let err = west
        .update_file_system_protection()
        .file_system_id(&dest)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Enabled)
        .send()
        .await
        .expect_err("protection locked while replicating");
    assert_eq!(
        code_and_status(&err),
        ("ReplicationAlreadyExists".into(), 409)
    );

    // Promote from the destination side: 204 at once, DELETING for minutes, then writable.
    west.delete_replication_configuration()
        .source_file_system_id(&source)
        .send()
        .await
        .expect("delete");
    let r = west
        .describe_replication_configurations()
        .file_system_id(&dest)
        .send()
        .await
        .expect("deleting");
    assert_eq!(
        r.replications()[0].destinations()[0].status(),
        &ReplicationStatus::Deleting
    );
    assert_eq!(protection(&emu, WEST, &dest).await, "REPLICATING");
    assert!(emu
        .shared
        .write(WEST, &dest, "/x", "still read-only", None)
        .is_err());
    // Deleting again while DELETING is accepted.
    west.delete_replication_configuration()
        .source_file_system_id(&source)
        .send()
        .await
        .expect("repeat");
    emu.shared.advance(180.0);
    let err = west
        .describe_replication_configurations()
        .file_system_id(&dest)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code_and_status(&err), ("ReplicationNotFound".into(), 404));
    // Not atomic: the configuration is gone, protection not yet ENABLED, and
    // the source's side finishes later.
    assert_eq!(protection(&emu, WEST, &dest).await, "REPLICATING");
    let at_source = east
        .describe_replication_configurations()
        .file_system_id(&source)
        .send()
        .await
        .expect("the source side is still there");
    assert_eq!(
        at_source.replications()[0].destinations()[0]
            .status()
            .as_str(),
        "DELETING"
    );
    emu.shared.advance(20.0);
    assert_eq!(protection(&emu, WEST, &dest).await, "ENABLED");
    emu.shared.advance(10.0);
    let err = east
        .describe_replication_configurations()
        .file_system_id(&source)
        .send()
        .await
        .expect_err("gone at source");
    assert_eq!(code_and_status(&err), ("ReplicationNotFound".into(), 404));
    emu.shared
        .write(WEST, &dest, "/after.txt", "writable", None)
        .expect("promoted replica takes writes");
    let err = west
        .delete_replication_configuration()
        .source_file_system_id(&source)
        .send()
        .await
        .expect_err("already gone");
    assert_eq!(code_and_status(&err), ("ReplicationNotFound".into(), 404));
    // A source ID that exists nowhere is a typo, not an already-deleted configuration.
    let err = west
        .delete_replication_configuration()
        .source_file_system_id("fs-0123456789abcdef0")
        .send()
        .await
        .expect_err("typo");
    assert_eq!(code_and_status(&err), ("FileSystemNotFound".into(), 404));
}

#[tokio::test]
async fn replication_into_existing_file_system_needs_protection_disabled() {
    let emu = emulator().await;
    let source = available_fs(&emu, EAST, "src").await;
    let target = available_fs(&emu, WEST, "existing").await;
    emu.shared
        .write(WEST, &target, "/stale.txt", "will be removed", None)
        .expect("write");
    emu.shared
        .write(EAST, &source, "/fresh.txt", "from source", None)
        .expect("write");
    let east = efs(&emu, EAST);
    let west = efs(&emu, WEST);
    let create = || {
        east.create_replication_configuration()
            .source_file_system_id(&source)
            .destinations(
                DestinationToCreate::builder()
                    .region(WEST)
                    .file_system_id(&target)
                    .build(),
            )
            .send()
    };
    let err = create().await.expect_err("protection ENABLED");
    assert_eq!(code_and_status(&err), ("BadRequest".into(), 400));
    assert!(err.into_service_error().to_string().contains("DISABLED"));

    let err = west
        .update_file_system_protection()
        .file_system_id(&target)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Replicating)
        .send()
        .await
        .expect_err("REPLICATING is not settable");
    assert_eq!(code_and_status(&err), ("BadRequest".into(), 400));
    let out = west
        .update_file_system_protection()
        .file_system_id(&target)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Disabled)
        .send()
        .await
        .expect("disable");
    assert_eq!(
        out.replication_overwrite_protection(),
        Some(&ReplicationOverwriteProtection::Disabled)
    );
    assert!(
        emu.shared.write(WEST, &target, "/x", "no", None).is_err(),
        "DISABLED is read-only"
    );

    create().await.expect("replicate into existing");
    assert_eq!(protection(&emu, WEST, &target).await, "REPLICATING");
    emu.shared.advance(700.0);
    let files = emu
        .shared
        .world()
        .file_system(WEST, &target)
        .map(|f| f.files.clone())
        .expect("files");
    assert!(files.contains_key("/fresh.txt"));
    assert!(
        !files.contains_key("/stale.txt"),
        "EFS makes the destination match the source"
    );

    // Same-Region replication cannot use LOCAL_CONFIGURATION_ONLY.
    let a = available_fs(&emu, "eu-west-1", "a").await;
    efs(&emu, "eu-west-1")
        .create_replication_configuration()
        .source_file_system_id(&a)
        .destinations(
            DestinationToCreate::builder()
                .availability_zone_name("eu-west-1a")
                .build(),
        )
        .send()
        .await
        .expect("same-region One Zone replication: the AZ names the Region");
    assert_eq!(out_region(&emu, "eu-west-1", &a).await, "eu-west-1");
    let err = efs(&emu, "eu-west-1")
        .delete_replication_configuration()
        .source_file_system_id(&a)
        .deletion_mode(DeletionMode::LocalConfigurationOnly)
        .send()
        .await
        .expect_err("local only within one region");
    assert_eq!(code_and_status(&err), ("BadRequest".into(), 400));
}

#[tokio::test]
async fn source_region_outage_needs_local_only_delete_and_leaves_an_orphan() {
    let emu = emulator().await;
    let (source, dest) = replicated_pair(&emu).await;
    let west = efs(&emu, WEST);
    emu.shared
        .set_faults(
            &serde_json::from_value(serde_json::json!({"region": EAST, "outage": true}))
                .expect("update"),
        )
        .expect("outage");

    // The full delete must reach the source Region, and cannot.
    let err = west
        .delete_replication_configuration()
        .source_file_system_id(&source)
        .send()
        .await
        .expect_err("peer down");
    assert_eq!(code_and_status(&err), ("InternalServerError".into(), 500));
    west.delete_replication_configuration()
        .source_file_system_id(&source)
        .deletion_mode(DeletionMode::LocalConfigurationOnly)
        .send()
        .await
        .expect("local only");
    emu.shared.advance(200.0);
    assert_eq!(protection(&emu, WEST, &dest).await, "ENABLED");

    // Calls to the failed Region do not get an answer at all.
    let err = efs(&emu, EAST)
        .describe_file_systems()
        .send()
        .await
        .expect_err("unreachable");
    assert!(
        matches!(err, aws_sdk_efs::error::SdkError::DispatchFailure(_)),
        "{err:?}"
    );

    // Back up: the source still carries its side of the configuration, in ERROR, until cleaned up.
    emu.shared
        .set_faults(
            &serde_json::from_value(serde_json::json!({"region": EAST, "outage": false}))
                .expect("update"),
        )
        .expect("recover");
    let east = efs(&emu, EAST);
    let r = east
        .describe_replication_configurations()
        .file_system_id(&source)
        .send()
        .await
        .expect("orphan");
    let d = &r.replications()[0].destinations()[0];
    assert_eq!(d.status(), &ReplicationStatus::Error);
    assert!(d
        .status_message()
        .unwrap_or_default()
        .contains("other Region"));
    let err = east
        .update_file_system_protection()
        .file_system_id(&source)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Disabled)
        .send()
        .await
        .expect_err("orphan blocks failback");
    assert_eq!(
        code_and_status(&err),
        ("ReplicationAlreadyExists".into(), 409)
    );
    east.delete_replication_configuration()
        .source_file_system_id(&source)
        .deletion_mode(DeletionMode::LocalConfigurationOnly)
        .send()
        .await
        .expect("clean up");
    emu.shared.advance(180.0);
    let err = east
        .describe_replication_configurations()
        .file_system_id(&source)
        .send()
        .await
        .expect_err("clean");
    assert_eq!(code_and_status(&err), ("ReplicationNotFound".into(), 404));
}

#[tokio::test]
async fn replication_faults_stall_pause_and_error() {
    let emu = emulator().await;
    let (source, dest) = replicated_pair(&emu).await;
    let west = efs(&emu, WEST);
    let last = || async {
        let r = efs(&emu, WEST)
            .describe_replication_configurations()
            .file_system_id(&dest)
            .send()
            .await
            .expect("describe");
        let d = r.replications()[0].destinations()[0].clone();
        (
            d.status().clone(),
            d.last_replicated_timestamp().map(|t| t.secs()),
            d.status_message().map(str::to_string),
        )
    };
    let (_, before, _) = last().await;
    emu.shared
        .set_replication_fault(&source, ReplicationFault::Stalled)
        .expect("stall");
    emu.shared
        .write(EAST, &source, "/late.txt", "not replicated", None)
        .expect("write");
    emu.shared.advance(1200.0);
    let (status, after, _) = last().await;
    assert_eq!(
        status,
        ReplicationStatus::Enabled,
        "a stall does not change the status"
    );
    assert!(
        after <= before.map(|b| b + 60),
        "no sync while stalled: {before:?} -> {after:?}"
    );
    assert!(emu
        .shared
        .world()
        .file_system(WEST, &dest)
        .is_some_and(|f| !f.files.contains_key("/late.txt")));

    emu.shared
        .set_replication_fault(&dest, ReplicationFault::Paused)
        .expect("pause");
    let (status, _, msg) = last().await;
    assert_eq!(status, ReplicationStatus::Paused);
    assert!(msg.is_some());
    emu.shared
        .set_replication_fault(&dest, ReplicationFault::Error)
        .expect("error");
    let (status, _, msg) = last().await;
    assert_eq!(status, ReplicationStatus::Error);
    assert!(msg.unwrap_or_default().contains("backup"));

    emu.shared
        .set_replication_fault(&dest, ReplicationFault::Healthy)
        .expect("heal");
    emu.shared.advance(120.0);
    let (status, healed, _) = last().await;
    assert_eq!(status, ReplicationStatus::Enabled);
    assert!(healed > after);
    assert!(emu
        .shared
        .world()
        .file_system(WEST, &dest)
        .is_some_and(|f| f.files.contains_key("/late.txt")));
    drop(west);
}

#[tokio::test]
async fn mount_target_rules_and_transitions() {
    let mut seed = Seed::default_topology();
    // A second VPC in us-east-1 to exercise the one-VPC-per-file-system rule.
    let east = seed.regions.get_mut(EAST).expect("east");
    east.subnets.push(efs_dr_emulator::config::SubnetSeed {
        id: "subnet-0ffff0000000000aa".into(),
        availability_zone: "us-east-1b".into(),
        vpc_id: "vpc-0other".into(),
        cidr_prefix: Some("10.9.1".into()),
    });
    east.security_groups
        .push(efs_dr_emulator::config::SecurityGroupSeed {
            id: "sg-0ffff0000000000aa".into(),
            vpc_id: "vpc-0other".into(),
        });
    let subnets: Vec<String> = east.subnets.iter().map(|s| s.id.clone()).collect();
    let groups: Vec<String> = east.security_groups.iter().map(|s| s.id.clone()).collect();
    let config = EmulatorConfig {
        seed,
        clock: ClockMode::Manual,
        start_time: Some(1_795_276_800.0),
        ..Default::default()
    };
    let emu = efs_dr_emulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start");
    let client = efs(&emu, EAST);
    let fs = available_fs(&emu, EAST, "mt").await;

    let mt = client
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id(&subnets[0])
        .security_groups(&groups[0])
        .send()
        .await
        .expect("create mount target");
    assert_eq!(mt.life_cycle_state().as_str(), "creating");
    assert_eq!(mt.availability_zone_name(), Some("us-east-1a"));
    assert!(mt.ip_address().is_some_and(|ip| ip.starts_with("10.0.1.")));
    let mt_id = mt.mount_target_id().to_string();

    let conflict = client
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id(&subnets[0])
        .send()
        .await
        .expect_err("same AZ");
    assert_eq!(
        code_and_status(&conflict),
        ("MountTargetConflict".into(), 409)
    );
    let other_vpc = client
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id("subnet-0ffff0000000000aa")
        .send()
        .await
        .expect_err("other VPC");
    assert_eq!(
        code_and_status(&other_vpc),
        ("MountTargetConflict".into(), 409)
    );
    let no_subnet = client
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id("subnet-0123456789abcdef9")
        .send()
        .await
        .expect_err("no subnet");
    assert_eq!(code_and_status(&no_subnet), ("SubnetNotFound".into(), 400));
    let wrong_sg = client
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id(&subnets[1])
        .security_groups("sg-0ffff0000000000aa")
        .send()
        .await
        .expect_err("SG in another VPC");
    assert_eq!(
        code_and_status(&wrong_sg),
        ("SecurityGroupNotFound".into(), 400)
    );
    let too_many = client
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id(&subnets[1])
        .set_security_groups(Some(vec![groups[0].clone(); 6]))
        .send()
        .await
        .expect_err("six groups");
    assert_eq!(
        code_and_status(&too_many),
        ("SecurityGroupLimitExceeded".into(), 400)
    );
    let missing_fs = client
        .create_mount_target()
        .file_system_id("fs-0123456789abcdef0")
        .subnet_id(&subnets[1])
        .send()
        .await
        .expect_err("no fs");
    assert_eq!(
        code_and_status(&missing_fs),
        ("FileSystemNotFound".into(), 404)
    );

    // Security groups can be read while creating, changed only once available.
    let sgs = client
        .describe_mount_target_security_groups()
        .mount_target_id(&mt_id)
        .send()
        .await
        .expect("sgs");
    assert_eq!(sgs.security_groups(), [groups[0].clone()]);
    // Security groups can change once the network interface exists, while still creating.
    client
        .modify_mount_target_security_groups()
        .mount_target_id(&mt_id)
        .security_groups(&groups[1])
        .send()
        .await
        .expect("modify while creating");
    let empty = client
        .modify_mount_target_security_groups()
        .mount_target_id(&mt_id)
        .send()
        .await
        .expect_err("no groups");
    assert_eq!(code_and_status(&empty), ("BadRequest".into(), 400));
    emu.shared.advance(90.0);
    let sgs = client
        .describe_mount_target_security_groups()
        .mount_target_id(&mt_id)
        .send()
        .await
        .expect("sgs");
    assert_eq!(sgs.security_groups(), [groups[1].clone()]);

    let listed = client
        .describe_mount_targets()
        .file_system_id(&fs)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.mount_targets().len(), 1);
    assert_eq!(
        listed.mount_targets()[0].life_cycle_state().as_str(),
        "available"
    );
    let fsd = client
        .describe_file_systems()
        .file_system_id(&fs)
        .send()
        .await
        .expect("fs");
    assert_eq!(fsd.file_systems()[0].number_of_mount_targets(), 1);
    let err = client
        .describe_mount_targets()
        .send()
        .await
        .expect_err("needs a filter");
    assert_eq!(code_and_status(&err), ("BadRequest".into(), 400));

    let in_use = client
        .delete_file_system()
        .file_system_id(&fs)
        .send()
        .await
        .expect_err("has mount targets");
    assert_eq!(code_and_status(&in_use), ("FileSystemInUse".into(), 409));
    client
        .delete_mount_target()
        .mount_target_id(&mt_id)
        .send()
        .await
        .expect("delete mt");
    let busy = client
        .modify_mount_target_security_groups()
        .mount_target_id(&mt_id)
        .security_groups(&groups[0])
        .send()
        .await
        .expect_err("deleting");
    assert_eq!(
        code_and_status(&busy),
        ("IncorrectMountTargetState".into(), 409)
    );
    let listed = client
        .describe_mount_targets()
        .mount_target_id(&mt_id)
        .send()
        .await
        .expect("deleting");
    assert_eq!(
        listed.mount_targets()[0].life_cycle_state().as_str(),
        "deleting"
    );
    emu.shared.advance(60.0);
    let gone = client
        .describe_mount_targets()
        .mount_target_id(&mt_id)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code_and_status(&gone), ("MountTargetNotFound".into(), 404));
    client
        .delete_file_system()
        .file_system_id(&fs)
        .send()
        .await
        .expect("now deletable");
}

#[tokio::test]
async fn access_points_are_idempotent_by_client_token() {
    let emu = emulator().await;
    let fs = available_fs(&emu, WEST, "ap").await;
    let client = efs(&emu, WEST);
    let make = |token: &str, path: &str| {
        client
            .create_access_point()
            .client_token(token)
            .file_system_id(&fs)
            .posix_user(
                PosixUser::builder()
                    .uid(1000)
                    .gid(1000)
                    .build()
                    .expect("posix"),
            )
            .root_directory(
                RootDirectory::builder()
                    .path(path)
                    .creation_info(
                        CreationInfo::builder()
                            .owner_uid(1000)
                            .owner_gid(1000)
                            .permissions("0755")
                            .build()
                            .expect("ci"),
                    )
                    .build(),
            )
            .tags(tag("Name", "app"))
            .send()
    };
    let first = make("tok-a", "/app").await.expect("create");
    assert_eq!(first.name(), Some("app"));
    assert_eq!(
        first.life_cycle_state().map(|s| s.as_str()),
        Some("creating")
    );
    // A reused client token names the access point it made, even for an identical retry.
    let retry = make("tok-a", "/app").await.expect_err("token already used");
    assert_eq!(
        code_and_status(&retry),
        ("AccessPointAlreadyExists".into(), 409)
    );
    match retry.into_service_error() {
        aws_sdk_efs::operation::create_access_point::CreateAccessPointError::AccessPointAlreadyExists(e) => {
            assert_eq!(Some(e.access_point_id()), first.access_point_id())
        }
        other => panic!("unexpected {other:?}"),
    }
    let bad = make("tok-b", "relative").await.expect_err("bad path");
    assert_eq!(code_and_status(&bad), ("BadRequest".into(), 400));
    for i in 0..3 {
        make(&format!("tok-{i}"), &format!("/d{i}"))
            .await
            .expect("more");
    }
    emu.shared.advance(5.0);
    let all = client
        .describe_access_points()
        .file_system_id(&fs)
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("paginate");
    assert_eq!(all.len(), 4);
    assert!(all
        .iter()
        .all(|a| a.life_cycle_state().map(|s| s.as_str()) == Some("available")));
    let ap_id = first.access_point_id().expect("id").to_string();
    let mts = client
        .describe_mount_targets()
        .access_point_id(&ap_id)
        .send()
        .await
        .expect("by access point");
    assert!(mts.mount_targets().is_empty());
    client
        .delete_access_point()
        .access_point_id(&ap_id)
        .send()
        .await
        .expect("delete");
    let err = client
        .describe_access_points()
        .access_point_id(&ap_id)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code_and_status(&err), ("AccessPointNotFound".into(), 404));
    let err = client
        .delete_access_point()
        .access_point_id(&ap_id)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code_and_status(&err), ("AccessPointNotFound".into(), 404));
}

#[tokio::test]
async fn tags_on_file_systems_and_access_points() {
    let emu = emulator().await;
    let fs = available_fs(&emu, EAST, "tags").await;
    let client = efs(&emu, EAST);
    let arn = client
        .describe_file_systems()
        .file_system_id(&fs)
        .send()
        .await
        .expect("fs")
        .file_systems()[0]
        .file_system_arn()
        .expect("arn")
        .to_string();
    client
        .tag_resource()
        .resource_id(&arn)
        .tags(tag("efs-dr:role", "primary"))
        .tags(tag("Name", "p"))
        .send()
        .await
        .expect("tag by arn");
    client
        .tag_resource()
        .resource_id(&fs)
        .tags(tag("efs-dr:role", "replica"))
        .send()
        .await
        .expect("overwrite");
    let tags = client
        .list_tags_for_resource()
        .resource_id(&fs)
        .send()
        .await
        .expect("list");
    let get = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_string())
    };
    assert_eq!(get("efs-dr:role").as_deref(), Some("replica"));
    let fsd = client
        .describe_file_systems()
        .file_system_id(&fs)
        .send()
        .await
        .expect("fs");
    assert_eq!(fsd.file_systems()[0].name(), Some("p"));
    client
        .untag_resource()
        .resource_id(&fs)
        .tag_keys("efs-dr:role")
        .send()
        .await
        .expect("untag");
    let tags = client
        .list_tags_for_resource()
        .resource_id(&fs)
        .send()
        .await
        .expect("list");
    assert_eq!(tags.tags().len(), 1);
    let err = client
        .tag_resource()
        .resource_id(&fs)
        .tags(tag("aws:reserved", "x"))
        .send()
        .await
        .expect_err("reserved");
    assert_eq!(code_and_status(&err), ("BadRequest".into(), 400));
    let err = client
        .list_tags_for_resource()
        .resource_id("fs-0123456789abcdef0")
        .send()
        .await
        .expect_err("none");
    assert_eq!(code_and_status(&err), ("FileSystemNotFound".into(), 404));
    let err = client
        .list_tags_for_resource()
        .resource_id("fsap-0123456789abcdef0")
        .send()
        .await
        .expect_err("none");
    assert_eq!(code_and_status(&err), ("AccessPointNotFound".into(), 404));

    let ap = client
        .create_access_point()
        .client_token("t")
        .file_system_id(&fs)
        .send()
        .await
        .expect("ap");
    let ap_id = ap.access_point_id().expect("id");
    client
        .tag_resource()
        .resource_id(ap_id)
        .tags(tag("team", "storage"))
        .send()
        .await
        .expect("tag ap");
    let tags = client
        .list_tags_for_resource()
        .resource_id(ap_id)
        .send()
        .await
        .expect("list ap");
    assert_eq!(tags.tags()[0].key(), "team");
}
