//! mount-target-ensure against the emulator, through the real SDK.

use crate::common;

use aws_sdk_efs::types::{PosixUser, RootDirectory, Tag};
use common::*;
use efs_dr_emulator::config::SubnetSeed;
use efs_dr_emulator::{EmulatorConfig, Seed};
use efs_dr_shared::run::report::Status;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::mount_target_ensure::{self as readiness, ReadinessRequest};
use serde_json::json;

struct Net {
    subnets: Vec<String>,
    groups: Vec<String>,
}

fn net(w: &World) -> Net {
    let state = w.emu.shared.world();
    let r = state.region(WEST).expect("west");
    Net {
        subnets: r.subnets.iter().map(|s| s.id.clone()).collect(),
        groups: r.security_groups.iter().map(|g| g.id.clone()).collect(),
    }
}

/// Two access points on the source: one named, one known by root directory and user.
async fn source_access_points(w: &World, src: &str) -> Vec<String> {
    let east = w.efs(EAST);
    let a = east
        .create_access_point()
        .client_token("src-app")
        .file_system_id(src)
        .posix_user(
            PosixUser::builder()
                .uid(1000)
                .gid(1000)
                .build()
                .expect("posix"),
        )
        .root_directory(RootDirectory::builder().path("/app").build())
        .tags(
            Tag::builder()
                .key("Name")
                .value("app")
                .build()
                .expect("tag"),
        )
        .tags(
            Tag::builder()
                .key("team")
                .value("payments")
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("ap");
    let b = east
        .create_access_point()
        .client_token("src-logs")
        .file_system_id(src)
        .posix_user(
            PosixUser::builder()
                .uid(2000)
                .gid(2000)
                .build()
                .expect("posix"),
        )
        .root_directory(RootDirectory::builder().path("/logs").build())
        .send()
        .await
        .expect("ap");
    // Let them settle and, under eventual consistency, show in Describe.
    w.advance(10.0);
    vec![
        a.access_point_id().expect("id").to_string(),
        b.access_point_id().expect("id").to_string(),
    ]
}

fn request(dst: &str, src: &str, net: &Net, extra: serde_json::Value) -> ReadinessRequest {
    let mut v = json!({
        "file_system_id": dst,
        "region": WEST,
        "mode": "execute",
        "mount_targets": net.subnets.iter().map(|s| json!({"subnet_id": s, "security_groups": [net.groups[0]]})).collect::<Vec<_>>(),
        "access_points_from": {"file_system_id": src, "region": EAST},
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in e {
            o.insert(k.clone(), val.clone());
        }
    }
    ReadinessRequest::from_json(v).expect("request")
}

async fn run(w: &World, req: &ReadinessRequest) -> efs_dr_shared::run::summary::RunSummary {
    readiness::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        req,
        None,
    )
    .await
    .expect("runs")
}

async fn replica_access_points(w: &World, dst: &str) -> usize {
    w.efs(WEST)
        .describe_access_points()
        .file_system_id(dst)
        .send()
        .await
        .expect("aps")
        .access_points()
        .len()
}

#[tokio::test]
async fn empty_replica_converges_then_a_rerun_changes_nothing() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("ready").await;
    let source_ids = source_access_points(&w, &src).await;
    let net = net(&w);
    let s = run(&w, &request(&dst, &src, &net, json!({}))).await;
    let r = &s.results[0];
    assert_eq!(s.status, Status::Completed, "{r:#?}");
    assert_eq!(r.ready, Some(true));
    assert_eq!(r.mount_targets.len(), 3);
    assert!(r
        .mount_targets
        .iter()
        .all(|m| format!("{:?}", m.life_cycle) == "Available"
            && m.ip_address.is_some()
            && m.availability_zone.is_some()));
    assert!(r.dns_name.as_deref().is_some_and(|d| d.starts_with(&dst)));
    // Each source access point maps to its replica twin.
    assert_eq!(r.access_points.len(), 2);
    for m in &r.access_points {
        assert!(source_ids.contains(m.source_access_point_id.as_ref().expect("source id")));
        assert!(
            m.access_point_id
                .as_ref()
                .is_some_and(|id| !source_ids.contains(id)),
            "replica IDs differ"
        );
    }
    let named = w
        .efs(WEST)
        .describe_access_points()
        .file_system_id(&dst)
        .send()
        .await
        .expect("aps")
        .access_points()
        .iter()
        .find(|a| a.name() == Some("app"))
        .map(|a| {
            (
                a.root_directory()
                    .and_then(|r| r.path())
                    .map(str::to_string),
                a.tags().len(),
            )
        })
        .expect("named access point copied");
    assert_eq!(
        named,
        (Some("/app".to_string()), 2),
        "root directory and tags copied"
    );
    let ready_metric = w.emu.shared.world().region(WEST).map(|r| {
        r.metrics
            .datapoints()
            .into_iter()
            .filter(|d| d.metric_name == "Ready")
            .map(|d| d.max)
            .collect::<Vec<_>>()
    });
    assert_eq!(ready_metric, Some(vec![1.0]));

    let before = w.call_count();
    let again = run(&w, &request(&dst, &src, &net, json!({}))).await;
    assert_eq!(again.results[0].ready, Some(true));
    assert!(!again.results[0].changed);
    assert_eq!(
        w.mutating_calls_since(before),
        vec!["us-west-2 PutMetricData".to_string()],
        "only the readiness metric"
    );
    assert_eq!(replica_access_points(&w, &dst).await, 2);
}

#[tokio::test]
async fn wrong_security_groups_are_fixed_and_prune_is_opt_in() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("sgs").await;
    let net = net(&w);
    let west = w.efs(WEST);
    let mt = west
        .create_mount_target()
        .file_system_id(&dst)
        .subnet_id(&net.subnets[0])
        .security_groups(&net.groups[1])
        .send()
        .await
        .expect("mt");
    w.advance(90.0);
    let only_two = json!({"mount_targets": [
        {"subnet_id": net.subnets[0], "security_groups": [net.groups[0]]},
        {"subnet_id": net.subnets[1], "security_groups": [net.groups[0]]}
    ]});
    // Plan first: drift reported, nothing changed.
    let before = w.call_count();
    let mut plan = request(&dst, &src, &net, only_two.clone());
    plan.mode = Some(efs_dr_shared::domain::modes::Mode::Plan);
    let s = run(&w, &plan).await;
    assert_eq!(s.status, Status::Planned);
    assert_eq!(s.results[0].ready, Some(false));
    assert!(
        s.results[0]
            .drift
            .iter()
            .any(|d| d.contains("security groups")),
        "{:?}",
        s.results[0].drift
    );
    assert_eq!(
        w.mutating_calls_since(before),
        vec!["us-west-2 PutMetricData".to_string()]
    );

    let s = run(&w, &request(&dst, &src, &net, only_two.clone())).await;
    assert_eq!(s.results[0].ready, Some(true), "{:#?}", s.results[0]);
    let sgs = west
        .describe_mount_target_security_groups()
        .mount_target_id(mt.mount_target_id())
        .send()
        .await
        .expect("sgs");
    assert_eq!(sgs.security_groups(), [net.groups[0].clone()]);

    // A target nobody asked for is left alone, unless prune.
    west.create_mount_target()
        .file_system_id(&dst)
        .subnet_id(&net.subnets[2])
        .send()
        .await
        .expect("extra");
    w.advance(90.0);
    run(&w, &request(&dst, &src, &net, only_two.clone())).await;
    assert_eq!(
        west.describe_mount_targets()
            .file_system_id(&dst)
            .send()
            .await
            .expect("mts")
            .mount_targets()
            .len(),
        3
    );
    let mut pruned = only_two.clone();
    pruned["prune"] = json!(true);
    run(&w, &request(&dst, &src, &net, pruned)).await;
    w.advance(60.0);
    assert_eq!(
        west.describe_mount_targets()
            .file_system_id(&dst)
            .send()
            .await
            .expect("mts")
            .mount_targets()
            .len(),
        2
    );
    let err = readiness::resolve(
        &ReadinessRequest::from_json(json!({"file_system_id": dst, "region": WEST, "prune": true}))
            .expect("parse"),
        &w.config(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("prune needs"), "{err}");
}

#[tokio::test]
async fn a_subnet_in_an_occupied_az_is_a_conflict_and_the_rest_converge() {
    let mut seed = Seed::default_topology();
    let west = seed.regions.get_mut(WEST).expect("west");
    let vpc = west.subnets[0].vpc_id.clone();
    west.subnets.push(SubnetSeed {
        id: "subnet-0ffff0000000000bb".into(),
        availability_zone: "us-west-2a".into(),
        vpc_id: vpc,
        cidr_prefix: Some("10.0.9".into()),
    });
    let w = world_with(EmulatorConfig {
        seed,
        ..EmulatorConfig::manual()
    })
    .await;
    let (src, dst) = w.replicated_pair("conflict").await;
    let net = net(&w);
    let wanted = json!({"mount_targets": [
        {"subnet_id": net.subnets[0]},
        {"subnet_id": "subnet-0ffff0000000000bb"},
        {"subnet_id": net.subnets[1]}
    ]});
    let s = run(&w, &request(&dst, &src, &net, wanted)).await;
    let r = &s.results[0];
    assert!(
        r.warnings
            .iter()
            .any(|x| x.contains("conflict") && x.contains("subnet-0ffff0000000000bb")),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.mount_targets.len(), 2, "the other two converged");
    assert_eq!(r.ready, Some(false), "a conflict is not ready");
}

#[tokio::test]
async fn source_region_down_still_converges_mount_targets_and_says_so() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("down").await;
    source_access_points(&w, &src).await;
    let net = net(&w);
    w.faults(json!({"region": EAST, "outage": true}));
    let s = run(&w, &request(&dst, &src, &net, json!({}))).await;
    let r = &s.results[0];
    assert!(
        r.warnings
            .iter()
            .any(|x| x.contains("access point parity cannot be checked")),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.mount_targets.len(), 3);
    assert_eq!(r.ready, Some(false));
    assert_eq!(replica_access_points(&w, &dst).await, 0);
}

#[tokio::test]
async fn crashes_at_every_mutating_call_never_duplicate_access_points() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("clean").await;
    source_access_points(&w, &src).await;
    let net = net(&w);
    let clean = w.platform(MutationBudget::default());
    readiness::run(
        &clean,
        &w.config(),
        &request(&dst, &src, &net, json!({})),
        None,
    )
    .await
    .expect("clean");
    let total = clean.budget.count();
    assert!(
        total >= 5,
        "3 mount targets, 2 access points, a metric: {total}"
    );
    for k in 1..=total {
        let w = world().await;
        let (src, dst) = w.replicated_pair(&format!("crash-{k}")).await;
        source_access_points(&w, &src).await;
        let _ = readiness::run(
            &w.platform(MutationBudget::crash_after(k)),
            &w.config(),
            &request(&dst, &src, &net, json!({})),
            None,
        )
        .await;
        let s = run(&w, &request(&dst, &src, &net, json!({}))).await;
        assert_eq!(s.results[0].ready, Some(true), "k={k}: {:#?}", s.results[0]);
        assert_eq!(
            replica_access_points(&w, &dst).await,
            2,
            "k={k}: no duplicates"
        );
        let mts = w
            .efs(WEST)
            .describe_mount_targets()
            .file_system_id(&dst)
            .send()
            .await
            .expect("mts");
        assert_eq!(mts.mount_targets().len(), 3, "k={k}");
    }
}

#[tokio::test]
async fn throttling_does_not_stop_convergence() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("throttled").await;
    source_access_points(&w, &src).await;
    let net = net(&w);
    w.faults(json!({"region": WEST, "throttle": {"rate": 4.0, "burst": 2.0}}));
    let s = run(&w, &request(&dst, &src, &net, json!({}))).await;
    assert_eq!(s.results[0].ready, Some(true), "{:#?}", s.results[0]);
    assert!(w
        .emu
        .shared
        .calls()
        .iter()
        .any(|c| c.error_code.as_deref() == Some("ThrottlingException")));
}

#[tokio::test]
async fn explicit_access_points_and_bad_input() {
    let w = world().await;
    let (_src, dst) = w.replicated_pair("explicit").await;
    let req = ReadinessRequest::from_json(json!({
        "file_system_id": dst, "region": WEST, "mode": "execute",
        "access_points": [{"name": "reports", "posix_user": {"uid": 3000, "gid": 3000}, "root_directory": {"path": "/reports", "creation_info": {"owner_uid": 3000, "owner_gid": 3000, "permissions": "0750"}}}]
    }))
    .expect("request");
    let s = run(&w, &req).await;
    assert_eq!(s.results[0].access_points.len(), 1);
    w.advance(10.0);
    assert_eq!(replica_access_points(&w, &dst).await, 1);
    for bad in [
        json!({"file_system_id": "fs-1", "region": WEST}),
        json!({"file_system_id": dst, "region": WEST, "mount_targets": [{"subnet": "subnet-0123456789abcdef0"}]}),
        json!({"file_system_id": dst, "region": WEST, "waits": true}),
    ] {
        assert!(ReadinessRequest::from_json(bad.clone()).is_err(), "{bad}");
    }
    let both = ReadinessRequest::from_json(json!({"file_system_id": dst, "region": WEST, "access_points": [], "access_points_from": {"file_system_id": dst, "region": EAST}})).expect("parse");
    assert!(readiness::resolve(&both, &w.config()).is_err());
    let before = w.call_count();
    let s = readiness::run(
        &w.platform(MutationBudget::default()),
        &w.config(),
        &ReadinessRequest::from_json(
            json!({"file_system_id": "fs-0123456789abcdef0", "region": WEST, "mode": "execute"}),
        )
        .expect("parse"),
        None,
    )
    .await
    .expect("runs");
    assert_eq!(s.status, Status::Failed);
    assert!(s.results[0]
        .error
        .as_ref()
        .is_some_and(|e| e.message.contains("does not exist in us-west-2")));
    assert_eq!(
        w.mutating_calls_since(before),
        vec!["us-west-2 PutMetricData".to_string()],
        "only the (not ready) metric"
    );
}

#[tokio::test]
async fn a_replica_without_mount_targets_is_ready_only_when_none_are_wanted() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("bare").await;
    let net = net(&w);
    let mut unconfigured = request(&dst, &src, &net, json!({}));
    unconfigured.mount_targets = None;
    let s = run(&w, &unconfigured).await;
    let r = &s.results[0];
    assert_eq!(
        r.ready,
        Some(false),
        "nothing configured, nothing to mount: {r:#?}"
    );
    assert!(
        r.warnings.iter().any(|x| x.contains("no mount targets")),
        "{:?}",
        r.warnings
    );
    let none_wanted = run(&w, &request(&dst, &src, &net, json!({"mount_targets": []}))).await;
    assert_eq!(
        none_wanted.results[0].ready,
        Some(true),
        "mount_targets: [] says none are wanted: {:#?}",
        none_wanted.results[0]
    );
}
