//! Every sample event in events/ runs through the function handlers.

use crate::common;

use common::*;
use efs_dr_shared::domain::config::PairConfig;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::{failback, failover, mount_target_ensure as readiness};
use std::path::PathBuf;

fn events_dir(function: &str) -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../events")
        .join(function)
}

/// Reads a sample and puts the emulator's file system IDs in place of the placeholders.
fn load(function: &str, name: &str, src: &str, dst: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(events_dir(function).join(name)).expect("sample event");
    let text = text
        .replace("fs-0aaaaaaaaaaaaaaaa", src)
        .replace("fs-0bbbbbbbbbbbbbbbb", dst);
    serde_json::from_str(&text).expect("sample is JSON")
}

#[tokio::test]
async fn every_failover_sample_runs() {
    let expected = [
        ("direct-plan.json", "planned"),
        ("direct-execute.json", "completed"),
        ("configured-defaults.json", "planned"),
        ("sns-failover-request.json", "completed"),
        ("step-functions-step.json", "in_progress"),
        ("fleet.json", "completed"),
        ("region-switch.json", "completed"),
    ];
    let mut on_disk: Vec<String> = std::fs::read_dir(events_dir("failover"))
        .expect("events/failover")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut covered: Vec<String> = expected.iter().map(|(n, _)| n.to_string()).collect();
    covered.sort();
    assert_eq!(on_disk, covered, "every sample has an expectation here");

    for (name, status) in expected {
        let w = world().await;
        let (src, dst) = w.replicated_pair(name).await;
        let mut config = w.config();
        config.pairs = vec![PairConfig {
            source_file_system_id: efs_dr_shared::domain::ids::FileSystemRef::parse(&src)
                .expect("id"),
            source_region: Some(region(EAST)),
            destination_file_system_id: Some(
                efs_dr_shared::domain::ids::FileSystemRef::parse(&dst).expect("id"),
            ),
            destination_region: None,
            mount_targets: None,
        }];
        let event = region_switch(&w, load("failover", name, &src, &dst), WEST).await;
        let out =
            failover::handle_event(&w.platform(MutationBudget::default()), &config, event, None)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out["status"], status, "{name}: {out:#}");
        assert_eq!(
            out["results"][0]["destination"]["file_system_id"],
            dst.as_str(),
            "{name}"
        );
        if name == "direct-execute.json" {
            assert_eq!(
                out["results"][0]["mount_targets"].as_array().map(Vec::len),
                Some(2)
            );
        }
    }
}

#[tokio::test]
async fn every_mount_target_ensure_sample_runs() {
    let expected = ["direct-execute.json", "scheduled.json"];
    let mut on_disk: Vec<String> = std::fs::read_dir(events_dir("mount-target-ensure"))
        .expect("events/mount-target-ensure")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk,
        expected.to_vec(),
        "every sample has an expectation here"
    );
    for name in expected {
        let w = world().await;
        let (src, dst) = w.replicated_pair(name).await;
        let mut config = w.config();
        config.default_mode = efs_dr_shared::domain::modes::Mode::Execute;
        config.pairs = vec![PairConfig {
            source_file_system_id: efs_dr_shared::domain::ids::FileSystemRef::parse(&src)
                .expect("id"),
            source_region: Some(region(EAST)),
            destination_file_system_id: Some(
                efs_dr_shared::domain::ids::FileSystemRef::parse(&dst).expect("id"),
            ),
            destination_region: None,
            mount_targets: Some(vec![serde_json::from_value(
                serde_json::json!({"subnet_id": "subnet-05372a00000000001"}),
            )
            .expect("spec")]),
        }];
        let event = load("mount-target-ensure", name, &src, &dst);
        let out =
            readiness::handle_event(&w.platform(MutationBudget::default()), &config, event, None)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out["status"], "completed", "{name}: {out:#}");
        assert_eq!(out["results"][0]["ready"], true, "{name}: {out:#}");
        assert_eq!(
            out["results"][0]["destination"]["file_system_id"],
            dst.as_str(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn every_failback_sample_runs() {
    let expected = [
        ("discard-changes.json", "completed"),
        ("keep-changes-cutover.json", "completed"),
        ("keep-changes-sync.json", "in_progress"),
        ("new-file-system.json", "completed"),
        ("region-switch.json", "completed"),
        ("sns-failback-request.json", "completed"),
        ("step-functions-step.json", "in_progress"),
    ];
    let mut on_disk: Vec<String> = std::fs::read_dir(events_dir("failback"))
        .expect("events/failback")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk,
        expected
            .iter()
            .map(|(n, _)| n.to_string())
            .collect::<Vec<_>>()
    );
    for (name, status) in expected {
        let w = world().await;
        let (src, dst) = w.replicated_pair(name).await;
        let req = failover::FailoverRequest::from_json(serde_json::json!({
            "source_file_system_id": src, "source_region": EAST, "destination_file_system_id": dst, "destination_region": WEST, "mode": "execute"
        }))
        .expect("request");
        failover::run(
            &w.platform(MutationBudget::default()),
            &w.config(),
            &req,
            None,
        )
        .await
        .expect("failover");
        if name == "new-file-system.json" {
            w.efs(EAST)
                .delete_file_system()
                .file_system_id(&src)
                .send()
                .await
                .expect("lose the original");
            w.advance(30.0);
        }
        let event = region_switch(&w, load("failback", name, &src, &dst), EAST).await;
        let out = failback::handle_event(
            &w.platform(MutationBudget::default()),
            &w.config(),
            event,
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out["status"], status, "{name}: {out:#}");
    }
}

/// A Region switch sample names a plan and an execution: they are created in
/// the emulator (activating `target`) and their identifiers put in place.
async fn region_switch(w: &World, event: serde_json::Value, target: &str) -> serde_json::Value {
    use aws_sdk_arcregionswitch as arc;
    let Some(plan_arn) = event["PlanArn"].as_str() else {
        return event;
    };
    let client = arc::Client::new(&w.sdk);
    let plan = client
        .create_plan()
        .name("efs-dr")
        .execution_role("arn:aws:iam::123456789012:role/efs-dr-region-switch")
        .recovery_approach(arc::types::RecoveryApproach::ActivePassive)
        .regions(EAST)
        .regions(WEST)
        .primary_region(EAST)
        .workflows(
            arc::types::Workflow::builder()
                .workflow_target_action(arc::types::WorkflowTargetAction::Activate)
                .build()
                .expect("workflow"),
        )
        .send()
        .await
        .expect("plan")
        .plan()
        .map(|p| p.arn().to_string())
        .unwrap_or_default();
    let execution = client
        .start_plan_execution()
        .plan_arn(&plan)
        .target_region(target)
        .action(arc::types::ExecutionAction::Activate)
        .send()
        .await
        .expect("execution")
        .execution_id()
        .unwrap_or_default()
        .to_string();
    let text = event
        .to_string()
        .replace(plan_arn, &plan)
        .replace(event["ExecutionId"].as_str().unwrap_or("-"), &execution);
    serde_json::from_str(&text).expect("JSON")
}
