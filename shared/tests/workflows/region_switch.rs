//! The Region switch block's invocation contract against the emulator. The
//! plan is the template's own (rendered from template.yaml and created with
//! the AWS CLI); the emulator holds it and its executions; the test kit plays
//! Region switch over it (`efs_dr_testkit::region_switch`), invoking the
//! functions' handlers as the block would, under each reading of what AWS
//! leaves undocumented.

use crate::common;

use aws_sdk_arcregionswitch as arc;
use common::*;
use efs_dr_shared::domain::config::{Config, PairConfig};
use efs_dr_shared::domain::ids::FileSystemRef;
use efs_dr_shared::testing::MutationBudget;
use efs_dr_shared::workflows::{failback, failover};
use efs_dr_testkit::region_switch::{
    play, Clock, ErrorReading, StepOutcome, StepRun, UngracefulReading,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const ACCOUNT: &str = "123456789012";
/// Each invocation gets this much time: shorter than a promotion, so that the
/// block needs several invocations, as a slow AWS day would.
const INVOCATION: Duration = Duration::from_secs(90);

fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("..")
}

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{WEST}:{ACCOUNT}:function:{name}")
}

/// The template's plan, with RegionSwitchPlan create, created in the
/// emulator by the AWS CLI; returns its ARN.
fn create_template_plan(w: &World) -> String {
    let names = json!({
        "AWS::Region": WEST, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
        "AWS::StackName": "efs-dr", "PrimaryRegion": EAST,
        "PrimaryFileSystemId": "fs-0aaaaaaaaaaaaaaaa", "ReplicaFileSystemId": "fs-0bbbbbbbbbbbbbbbb",
        "RegionSwitchPlan": "create",
        "RegionSwitchExecutionRole.Arn": format!("arn:aws:iam::{ACCOUNT}:role/efs-dr-region-switch"),
        "FailoverFunction.Arn": function_arn("failover"),
        "FailbackFunction.Arn": function_arn("failback"),
    });
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: scripts/test.sh sets up the venv with the AWS CLI",
        python.display()
    );
    let rendered = Command::new(&python)
        .current_dir(root().join("tests/e2e"))
        .args(["region_switch_plan.py", "../../template.yaml"])
        .arg(names.to_string())
        .output()
        .expect("python runs");
    assert!(
        rendered.status.success(),
        "rendering the plan: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let input = std::env::temp_dir().join(format!("efs-dr-plan-{}.json", std::process::id()));
    std::fs::write(&input, &rendered.stdout).expect("plan file");
    let out = Command::new(root().join(".venv/bin/aws"))
        .args([
            "arc-region-switch",
            "create-plan",
            "--region",
            WEST,
            "--output",
            "json",
        ])
        .arg("--endpoint-url")
        .arg(w.emu.url())
        .arg("--cli-input-json")
        .arg(format!("file://{}", input.display()))
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("aws runs");
    assert!(
        out.status.success(),
        "create-plan: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    plan["plan"]["arn"].as_str().expect("plan ARN").to_string()
}

struct EmulatedClock<'a>(&'a World);

impl Clock for EmulatedClock<'_> {
    fn now(&self) -> f64 {
        self.0.emu.shared.now()
    }
    fn advance(&self, seconds: f64) {
        self.0.advance(seconds);
    }
}

struct Switch<'a> {
    w: &'a World,
    /// Signed for the DR Region.
    client: arc::Client,
    plan: String,
    config: Config,
}

impl Switch<'_> {
    /// A client signed for `region`: an operator starts an execution in the
    /// Region it activates, and Region switch runs it from there.
    fn client_in(&self, region: &str) -> arc::Client {
        arc::Client::from_conf(
            arc::config::Builder::from(&self.w.sdk)
                .region(arc::config::Region::new(region.to_string()))
                .build(),
        )
    }

    async fn start(&self, region: &str, mode: &str) -> String {
        self.client_in(region)
            .start_plan_execution()
            .plan_arn(&self.plan)
            .target_region(region)
            .action(arc::types::ExecutionAction::Activate)
            .mode(mode.into())
            .send()
            .await
            .expect("start")
            .execution_id()
            .unwrap_or_default()
            .to_string()
    }

    async fn cancel(&self, execution: &str) {
        self.client
            .cancel_plan_execution()
            .plan_arn(&self.plan)
            .execution_id(execution)
            .send()
            .await
            .expect("cancel");
    }

    async fn state(&self, region: &str, execution: &str) -> String {
        self.client_in(region)
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

    async fn invoke(&self, arn: &str, event: Value) -> Result<Value, String> {
        let platform = self.w.platform(MutationBudget::default());
        let r = if arn == function_arn("failover") {
            failover::handle_event(&platform, &self.config, event, Some(INVOCATION)).await
        } else if arn == function_arn("failback") {
            failback::handle_event(&platform, &self.config, event, Some(INVOCATION)).await
        } else {
            return Err(format!("no function {arn}"));
        };
        r.map_err(|e| format!("{}: {e}", e.error_type()))
    }

    /// Region switch runs the execution's workflow.
    async fn play(
        &self,
        region: &str,
        execution: &str,
        errors: ErrorReading,
        ungraceful: UngracefulReading,
    ) -> Vec<StepRun> {
        play(
            &self.client_in(region),
            &self.plan,
            execution,
            errors,
            ungraceful,
            &EmulatedClock(self.w),
            |arn, event| async move { self.invoke(&arn, event).await },
        )
        .await
        .expect("Region switch plays the plan")
    }

    /// Invokes a function directly with a Region switch event (as a
    /// misconfigured plan, or a late retry, would).
    async fn invoke_as_block(
        &self,
        function: &str,
        execution: &str,
        payload: Value,
    ) -> Result<Value, String> {
        let mut event = json!({"InvokedBy": "ARC Region switch", "PlanArn": self.plan, "ExecutionId": execution, "StepName": "efs-dr"});
        if let (Some(e), Some(p)) = (event.as_object_mut(), payload.as_object()) {
            e.extend(p.clone());
        }
        self.invoke(&function_arn(function), event).await
    }
}

async fn switch<'a>(w: &'a World, src: &str, dst: &str) -> Switch<'a> {
    let plan = create_template_plan(w);
    assert!(plan.starts_with("arn:aws:arc-region-switch::"), "{plan}");
    Switch {
        w,
        client: arc::Client::new(&w.sdk),
        plan,
        config: config(w, src, dst),
    }
}

fn completed(runs: &[StepRun]) -> &Value {
    assert_eq!(runs.len(), 1, "{runs:#?}");
    match &runs[0].outcome {
        StepOutcome::Completed(v) => v,
        other => panic!("{}: {other:?} after {:?}", runs[0].name, runs[0].errors),
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activating_the_dr_region_fails_over_and_activating_the_primary_fails_back() {
    for errors in [
        ErrorReading::RetryAfterInterval,
        ErrorReading::PauseForOperator,
    ] {
        let w = world().await;
        let (src, dst) = w.replicated_pair("arc").await;
        w.write(EAST, &src, "/before.txt", "on the primary");
        w.advance(120.0);
        let rs = switch(&w, &src, &dst).await;

        // Written after the last sync, as the switch starts: a graceful
        // switch promotes only once a sync has carried it over.
        w.write(EAST, &src, "/last.txt", "written as the switch starts");
        // The failback function in the failover's workflow changes nothing.
        let execution = rs.start(WEST, "graceful").await;
        let seq = w.call_count();
        let wrong = rs
            .invoke_as_block("failback", &execution, json!({}))
            .await
            .expect_err("refused");
        assert!(
            wrong.starts_with("InvalidInput") && wrong.contains("activate us-west-2"),
            "{wrong}"
        );
        assert_eq!(w.mutating_calls_since(seq), Vec::<String>::new());

        let runs = rs
            .play(
                WEST,
                &execution,
                errors,
                UngracefulReading::SkipEveryLambdaBlock,
            )
            .await;
        assert_eq!(runs[0].name, "efs-dr-failover");
        println!(
            "{errors:?}: failover step: {} invocations of {INVOCATION:?}",
            runs[0].invocations
        );
        assert_eq!(
            runs[0].function_arn.as_deref(),
            Some(function_arn("failover").as_str())
        );
        assert!(
            runs[0].invocations > 1 && runs[0].errors.iter().all(|e| e.starts_with("InProgress")),
            "a promotion outlasts one {INVOCATION:?} invocation: {runs:#?}"
        );
        let result = completed(&runs);
        assert_eq!(result["status"], "completed", "{result:#}");
        let carried = w
            .emu
            .shared
            .world()
            .file_system(WEST, &dst)
            .map(|f| f.files.contains_key("/last.txt"))
            .unwrap_or(false);
        assert!(
            carried,
            "{errors:?}: the write made as the switch started is on the promoted replica"
        );
        assert_eq!(w.protection(WEST, &dst).await, "ENABLED");
        assert!(
            !w.has_replication(WEST, &dst).await,
            "the replica is writable"
        );
        assert!(result["results"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&execution)));
        assert_eq!(rs.state(WEST, &execution).await, "completed");

        // Invoked again after the execution ended: nothing more is asked.
        let seq = w.call_count();
        let again = rs.invoke_as_block("failover", &execution, json!({})).await;
        assert!(again.is_err_and(|e| e.contains("completed")));
        assert_eq!(w.mutating_calls_since(seq), Vec::<String>::new());

        // Back to the primary: the outage's write comes home.
        w.write(WEST, &dst, "/outage.txt", "written in the DR Region");
        w.advance(300.0);
        let back = rs.start(EAST, "graceful").await;
        let runs = rs
            .play(EAST, &back, errors, UngracefulReading::SkipEveryLambdaBlock)
            .await;
        assert_eq!(runs[0].name, "efs-dr-failback");
        println!(
            "{errors:?}: failback step: {} invocations of {INVOCATION:?}",
            runs[0].invocations
        );
        assert_eq!(
            runs[0].function_arn.as_deref(),
            Some(function_arn("failback").as_str())
        );
        let result = completed(&runs);
        assert_eq!(result["status"], "completed", "{result:#}");
        let home = w
            .emu
            .shared
            .world()
            .file_system(EAST, &src)
            .map(|f| f.files.contains_key("/outage.txt"))
            .unwrap_or(false);
        assert!(home, "{errors:?}: the outage's write is on the original");
        assert!(w.has_replication(WEST, &dst).await, "protected again");
        assert_eq!(rs.state(EAST, &back).await, "completed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_payload_a_refusal_or_a_canceled_execution_changes_nothing() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("arc-bad").await;
    let rs = switch(&w, &src, &dst).await;
    let execution = rs.start(WEST, "graceful").await;
    let seq = w.call_count();
    let bad = rs
        .invoke_as_block("failover", &execution, json!({"strategy": "keep_changes"}))
        .await
        .expect_err("failover has no strategy");
    assert!(
        bad.starts_with("InvalidInput") && bad.contains("strategy"),
        "{bad}"
    );
    let missing = rs
        .invoke(&function_arn("failover"), json!({"PlanArn": rs.plan}))
        .await
        .expect_err("no execution id");
    assert!(missing.contains("ExecutionId"), "{missing}");
    let unknown = rs
        .invoke_as_block("failover", "no-such-execution", json!({}))
        .await
        .expect_err("unknown execution");
    assert!(unknown.contains("ResourceNotFound"), "{unknown}");
    // A refusal is not done: the step must not succeed.
    w.advance(600.0);
    let refused = rs
        .invoke_as_block("failover", &execution, json!({"max_rpo_seconds": 1}))
        .await
        .expect_err("refused while the source answers");
    assert!(
        refused.starts_with("Refused.RecoveryPointTooOld"),
        "{refused}"
    );
    rs.cancel(&execution).await;
    let canceled = rs
        .invoke_as_block("failover", &execution, json!({}))
        .await
        .expect_err("canceled");
    assert!(canceled.contains("canceled"), "{canceled}");
    let changed: Vec<String> = w
        .mutating_calls_since(seq)
        .into_iter()
        .filter(|c| !c.ends_with("PlanExecution"))
        .collect();
    assert_eq!(changed, Vec::<String>::new());
    assert!(w.has_replication(WEST, &dst).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ungraceful_switch_skips_the_block_under_both_readings() {
    for reading in [
        UngracefulReading::SkipEveryLambdaBlock,
        UngracefulReading::SkipWhenConfigured,
    ] {
        let w = world().await;
        let (src, dst) = w.replicated_pair("arc-ungraceful").await;
        w.advance(120.0);
        let rs = switch(&w, &src, &dst).await;
        w.faults(json!({"region": EAST, "outage": true}));
        let execution = rs.start(WEST, "ungraceful").await;
        let seq = w.call_count();
        let runs = rs
            .play(WEST, &execution, ErrorReading::RetryAfterInterval, reading)
            .await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].outcome, StepOutcome::Skipped, "{reading:?}");
        // The replica stays read-only: efs-dr's own path (the region detector,
        // or an operator) must promote it, as docs/region-switch.md says.
        assert_eq!(
            w.mutating_calls_since(seq)
                .iter()
                .filter(|c| !c.contains("PlanExecution"))
                .count(),
            0
        );
        assert!(w.has_replication(WEST, &dst).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_aws_ran_the_block_in_an_ungraceful_switch_the_guards_still_hold() {
    // Were the block run during a real outage (a block without the template's
    // ungraceful skip, under the API model's reading):
    let w = world().await;
    let (src, dst) = w.replicated_pair("arc-ungraceful-run").await;
    w.advance(120.0);
    let rs = switch(&w, &src, &dst).await;
    w.faults(json!({"region": EAST, "outage": true}));
    let execution = rs.start(WEST, "ungraceful").await;
    let mut last = Err(String::new());
    for _ in 0..20 {
        last = rs.invoke_as_block("failover", &execution, json!({})).await;
        if !matches!(&last, Err(e) if e.starts_with("InProgress")) {
            break;
        }
        w.advance(120.0);
    }
    let result = last.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(result["status"], "completed", "{result:#}");
    assert_eq!(
        result["results"][0]["deletion_mode"],
        "LOCAL_CONFIGURATION_ONLY"
    );
    assert_eq!(w.protection(WEST, &dst).await, "ENABLED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_graceful_wait_stops_the_failover_within_one_pass() {
    let w = world().await;
    let (src, dst) = w.replicated_pair("arc-cancel-wait").await;
    let rs = switch(&w, &src, &dst).await;
    // A large write just before the switch: the final sync the graceful
    // failover waits for takes minutes.
    w.emu
        .shared
        .write(
            EAST,
            &src,
            "/big.bin",
            "written as the switch starts",
            Some(600 << 20),
        )
        .expect("write");
    let execution = rs.start(WEST, "graceful").await;
    let started = w.emu.shared.now();
    let cancel_after = 20.0;
    let canceled_at = std::sync::Mutex::new(None);
    // The function's whole 15 minutes, as the template gives it.
    let platform = w.platform(MutationBudget::default());
    let event = json!({"InvokedBy": "ARC Region switch", "PlanArn": rs.plan, "ExecutionId": execution, "StepName": "efs-dr"});
    let invocation = async {
        failover::handle_event(&platform, &rs.config, event, Some(Duration::from_secs(900)))
            .await
            .map_err(|e| format!("{}: {e}", e.error_type()))
    };
    let canceller = async {
        while w.emu.shared.now() < started + cancel_after {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        rs.cancel(&execution).await;
        if let Ok(mut c) = canceled_at.lock() {
            *c = Some(w.emu.shared.now());
        }
    };
    let (result, ()) = tokio::join!(invocation, canceller);
    let ended = w.emu.shared.now();
    let canceled = canceled_at.lock().ok().and_then(|c| *c).expect("canceled");
    let refused = result.expect_err("a cancelled execution's step does not succeed");
    assert!(
        refused.starts_with("Refused.RegionSwitchStopped"),
        "{refused}"
    );
    assert!(refused.contains("canceled"), "{refused}");
    // One pass at most: the longest wait between two passes is 30 s.
    assert!(
        ended - canceled <= 31.0,
        "the wait outlasted the cancel by {:.0} s",
        ended - canceled
    );
    assert!(
        w.has_replication(WEST, &dst).await,
        "nothing was promoted after the cancel"
    );
    assert_eq!(w.protection(WEST, &dst).await, "REPLICATING");
}
