//! The Region switch block's invocation contract against the emulator: the
//! emulator's Region switch API holds the plan and its executions, and the
//! test plays Region switch itself, invoking the functions' handlers as the
//! block would (metadata merged into the payload, re-invoked after the retry
//! interval while they raise), under both readings of what an error means.

mod common;

use aws_sdk_arcregionswitch as arc;
use common::*;
use efs_dr_shared::domain::config::{Config, PairConfig};
use efs_dr_shared::domain::ids::FileSystemRef;
use efs_dr_shared::testing::{MutationBudget, TestPlatform};
use efs_dr_shared::workflows::{failback, failover};
use serde_json::{json, Value};
use std::time::Duration;

const RETRY_MINUTES: f64 = 2.0;
const TIMEOUT_MINUTES: f64 = 60.0;
/// Each invocation gets this much time: shorter than a promotion, so that the
/// block needs several invocations, as a slow AWS day would.
const INVOCATION: Duration = Duration::from_secs(90);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Reading {
    /// An error is "not yet": invoked again after the retry interval.
    RetryOnError,
    /// An error fails the step: the execution pauses for the operator, who resumes it.
    PauseOnError,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Failover,
    Failback,
}

struct Block<'a> {
    w: &'a World,
    client: arc::Client,
    plan: String,
}

impl Block<'_> {
    async fn start(&self, region: &str, action: &str, mode: &str) -> String {
        self.client
            .start_plan_execution()
            .plan_arn(&self.plan)
            .target_region(region)
            .action(action.into())
            .mode(mode.into())
            .send()
            .await
            .expect("start")
            .execution_id()
            .unwrap_or_default()
            .to_string()
    }

    async fn state(&self, execution: &str) -> String {
        self.client
            .get_plan_execution()
            .plan_arn(&self.plan)
            .execution_id(execution)
            .send()
            .await
            .expect("get")
            .execution_state()
            .as_str()
            .to_string()
    }

    async fn update(&self, execution: &str, action: &str) {
        self.client
            .update_plan_execution()
            .plan_arn(&self.plan)
            .execution_id(execution)
            .action(action.into())
            .send()
            .await
            .expect("update");
    }

    fn event(&self, execution: &str, step: &str, payload: &Value) -> Value {
        let mut e = json!({
            "InvokedBy": "ARC Region switch",
            "PlanArn": self.plan,
            "ExecutionId": execution,
            "StepName": step,
        });
        if let (Some(e), Some(p)) = (e.as_object_mut(), payload.as_object()) {
            for (k, v) in p {
                e.entry(k.clone()).or_insert(v.clone());
            }
        }
        e
    }

    async fn invoke(
        &self,
        platform: &TestPlatform<efs_dr_shared::aws::AwsContext>,
        config: &Config,
        role: Role,
        event: Value,
    ) -> Result<Value, String> {
        let r = match role {
            Role::Failover => {
                failover::handle_event(platform, config, event, Some(INVOCATION)).await
            }
            Role::Failback => {
                failback::handle_event(platform, config, event, Some(INVOCATION)).await
            }
        };
        r.map_err(|e| format!("{}: {e}", e.error_type()))
    }

    /// Runs one Lambda step as Region switch would; returns the invocations made
    /// and the final result.
    async fn run_step(
        &self,
        config: &Config,
        role: Role,
        execution: &str,
        payload: &Value,
        reading: Reading,
    ) -> (u32, Result<Value, String>) {
        let platform = self.w.platform(MutationBudget::default());
        let event = self.event(execution, "efs-dr", payload);
        let started = self.w.emu.shared.now();
        let mut invocations = 0;
        loop {
            invocations += 1;
            let result = self.invoke(&platform, config, role, event.clone()).await;
            let in_progress = matches!(&result, Err(e) if e.starts_with("InProgress"));
            let timed_out = self.w.emu.shared.now() - started > TIMEOUT_MINUTES * 60.0;
            if !in_progress || timed_out {
                if result.is_ok() {
                    self.update(execution, "emulatorComplete").await;
                }
                return (invocations, result);
            }
            if reading == Reading::PauseOnError {
                self.update(execution, "emulatorStepFailed").await;
                assert_eq!(self.state(execution).await, "pausedByFailedStep");
                // The operator reads the error and resumes the execution.
                self.update(execution, "resume").await;
            }
            self.w.advance(RETRY_MINUTES * 60.0);
        }
    }
}

async fn plan(w: &World) -> Block<'_> {
    let client = arc::Client::new(&w.sdk);
    let out = client
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
                .workflow_target_region(WEST)
                .build()
                .expect("workflow"),
        )
        .send()
        .await
        .expect("create plan");
    let plan = out.plan().map(|p| p.arn().to_string()).unwrap_or_default();
    assert!(plan.starts_with("arn:aws:arc-region-switch::"), "{plan}");
    Block { w, client, plan }
}

fn config(w: &World, src: &str, dst: &str) -> Config {
    Config {
        pairs: vec![PairConfig {
            source_file_system_id: FileSystemRef::parse(src).expect("id"),
            source_region: Some(region(EAST)),
            destination_file_system_id: Some(FileSystemRef::parse(dst).expect("id")),
            destination_region: Some(region(WEST)),
            mount_targets: Some(vec![]),
        }],
        source_region: Some(region(EAST)),
        ..w.config()
    }
}

#[tokio::test]
async fn activating_the_dr_region_fails_over_and_activating_the_primary_fails_back() {
    for reading in [Reading::RetryOnError, Reading::PauseOnError] {
        let w = world().await;
        let (src, dst) = w.replicated_pair("arc").await;
        w.write(EAST, &src, "/before.txt", "on the primary");
        w.advance(120.0);
        let block = plan(&w).await;
        let config = config(&w, &src, &dst);

        // The failback function in the failover's workflow changes nothing.
        let execution = block.start(WEST, "activate", "graceful").await;
        let seq = w.call_count();
        let (_, wrong) = block
            .run_step(&config, Role::Failback, &execution, &json!({}), reading)
            .await;
        let wrong = wrong.expect_err("refused");
        assert!(
            wrong.starts_with("InvalidInput") && wrong.contains("activate us-west-2"),
            "{wrong}"
        );
        assert_eq!(w.mutating_calls_since(seq), Vec::<String>::new());

        let (invocations, result) = block
            .run_step(&config, Role::Failover, &execution, &json!({}), reading)
            .await;
        let result = result.unwrap_or_else(|e| panic!("{reading:?}: {e}"));
        assert!(
            invocations > 1,
            "a promotion outlasts one {INVOCATION:?} invocation"
        );
        assert_eq!(result["status"], "completed", "{result:#}");
        assert_eq!(w.protection(WEST, &dst).await, "ENABLED");
        assert!(
            !w.has_replication(WEST, &dst).await,
            "the replica is writable"
        );
        assert!(result["results"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&execution)));
        assert_eq!(block.state(&execution).await, "completed");

        // Invoked again (Region switch may): an idempotent pass, nothing changed.
        let seq = w.call_count();
        let platform = w.platform(MutationBudget::default());
        let again = block
            .invoke(
                &platform,
                &config,
                Role::Failover,
                block.event(&execution, "efs-dr", &json!({})),
            )
            .await;
        assert!(
            again.is_err_and(|e| e.contains("completed")),
            "a finished execution asks nothing more"
        );
        assert_eq!(w.mutating_calls_since(seq), Vec::<String>::new());

        // Back to the primary: the outage's write comes home.
        w.write(WEST, &dst, "/outage.txt", "written in the DR Region");
        w.advance(300.0);
        let back = block.start(EAST, "activate", "graceful").await;
        let (_, result) = block
            .run_step(&config, Role::Failback, &back, &json!({}), reading)
            .await;
        let result = result.unwrap_or_else(|e| panic!("{reading:?} failback: {e}"));
        assert_eq!(result["status"], "completed", "{result:#}");
        let home = w
            .emu
            .shared
            .world()
            .file_system(EAST, &src)
            .map(|f| f.files.contains_key("/outage.txt"))
            .unwrap_or(false);
        assert!(home, "{reading:?}: the outage's write is on the original");
        assert!(w.has_replication(WEST, &dst).await, "protected again");
    }
}

#[tokio::test]
async fn a_bad_payload_or_a_canceled_execution_changes_nothing() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("arc-bad").await;
    let block = plan(&w).await;
    let config = config(&w, &src, &dst);
    let platform = w.platform(MutationBudget::default());
    let execution = block.start(WEST, "activate", "graceful").await;
    let seq = w.call_count();
    let bad = block
        .invoke(
            &platform,
            &config,
            Role::Failover,
            block.event(&execution, "efs-dr", &json!({"strategy": "keep_changes"})),
        )
        .await
        .expect_err("failover has no strategy");
    assert!(
        bad.starts_with("InvalidInput") && bad.contains("strategy"),
        "{bad}"
    );
    let missing = block
        .invoke(
            &platform,
            &config,
            Role::Failover,
            json!({"PlanArn": block.plan}),
        )
        .await
        .expect_err("no execution id");
    assert!(missing.contains("ExecutionId"), "{missing}");
    let unknown = block
        .invoke(
            &platform,
            &config,
            Role::Failover,
            block.event("no-such-execution", "efs-dr", &json!({})),
        )
        .await
        .expect_err("unknown execution");
    assert!(unknown.contains("ResourceNotFound"), "{unknown}");
    // A refusal is not done: the step must not succeed.
    w.advance(600.0);
    let refused = block
        .invoke(
            &platform,
            &config,
            Role::Failover,
            block.event(&execution, "efs-dr", &json!({"max_rpo_seconds": 1})),
        )
        .await
        .expect_err("refused while the source answers");
    assert!(
        refused.starts_with("Refused.RecoveryPointTooOld"),
        "{refused}"
    );
    block.update(&execution, "cancel").await;
    let canceled = block
        .invoke(
            &platform,
            &config,
            Role::Failover,
            block.event(&execution, "efs-dr", &json!({})),
        )
        .await
        .expect_err("canceled");
    assert!(canceled.contains("canceled"), "{canceled}");
    let changed: Vec<String> = w
        .mutating_calls_since(seq)
        .into_iter()
        .filter(|c| !c.ends_with("UpdatePlanExecution"))
        .collect();
    assert_eq!(changed, Vec::<String>::new());
    assert!(w.has_replication(WEST, &dst).await);
}

#[tokio::test]
async fn if_aws_ran_the_block_in_an_ungraceful_switch_the_guards_still_hold() {
    // AWS documents that ungraceful executions skip Lambda blocks, and the
    // template asks for it. Were the block run anyway, during a real outage:
    let w = world().await;
    let (src, dst) = w.replicated_pair("arc-ungraceful").await;
    w.advance(120.0);
    let block = plan(&w).await;
    let config = config(&w, &src, &dst);
    w.faults(json!({"region": EAST, "outage": true}));
    let execution = block.start(WEST, "activate", "ungraceful").await;
    let (_, result) = block
        .run_step(
            &config,
            Role::Failover,
            &execution,
            &json!({}),
            Reading::RetryOnError,
        )
        .await;
    let result = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(result["status"], "completed", "{result:#}");
    assert_eq!(
        result["results"][0]["deletion_mode"],
        "LOCAL_CONFIGURATION_ONLY"
    );
    assert_eq!(w.protection(WEST, &dst).await, "ENABLED");
}
