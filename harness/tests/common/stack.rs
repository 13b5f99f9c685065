//! The deployed stack as the operator's tools see it: the template's Outputs
//! rendered for a pair, and the Step Functions stand-in running the real
//! state machine definitions under those Outputs' ARNs.

use efs_dr_harness::step_functions::{Execution, StandInConfig, StepFunctions};
use efs_dr_testkit::alarm_path;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub const ACCOUNT: &str = "123456789012";

pub fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("..")
}

pub fn machine_arn(name: &str) -> String {
    format!("arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:efs-dr-{name}")
}

/// The template's Outputs for a stack protecting `src` -> `dst`, and its
/// parameters with their defaults, as CloudFormation would render them.
pub fn stack(src: &str, dst: &str, topics: &alarm_path::Topics) -> (Value, Value) {
    let arn = |kind: &str, name: &str| format!("arn:aws:{kind}:us-west-2:{ACCOUNT}:{name}");
    let names = json!({
        "AWS::Region": "us-west-2",
        "AWS::AccountId": ACCOUNT,
        "AWS::Partition": "aws",
        "PrimaryFileSystemId": src,
        "PrimaryRegion": "us-east-1",
        "ReplicaFileSystemId": dst,
        "FailoverFunction": "failover",
        "FailbackFunction": "failback",
        "MountTargetEnsureFunction": "mount-target-ensure",
        "LagAlarmHandlerFunction": "lag-alarm-handler",
        "FailoverFunction.Arn": arn("lambda", "function:failover"),
        "FailbackFunction.Arn": arn("lambda", "function:failback"),
        "MountTargetEnsureFunction.Arn": arn("lambda", "function:mount-target-ensure"),
        "LagAlarmHandlerFunction.Arn": arn("lambda", "function:lag-alarm-handler"),
        "FailoverStateMachine": machine_arn("failover"),
        "FailbackStateMachine": machine_arn("failback"),
        "FleetFailoverStateMachine": machine_arn("fleet-failover"),
        "AlertsTopic": topics.alerts_topic_arn,
        "FailoverRequestsTopic": topics.failover_topic_arn,
        "AsyncFailureQueue": format!("https://sqs.us-west-2.amazonaws.com/{ACCOUNT}/efs-dr-dlq"),
        "Dashboard": "efs-dr",
    });
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: scripts/test.sh sets up the venv with the AWS CLI",
        python.display()
    );
    let out = Command::new(python)
        .current_dir(root())
        .arg("tests/e2e/stack_outputs.py")
        .arg("template.yaml")
        .arg(names.to_string())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "rendering the Outputs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("outputs JSON");
    (v["outputs"].clone(), v["parameters"].clone())
}

/// The stand-in with the three state machines under the template's ARNs,
/// their Lambda tasks sent to `lambda_url`; DescribeStacks answers for `stack`
/// (its name and Outputs) when given.
pub async fn step_functions(
    lambda_url: &str,
    topics: &alarm_path::Topics,
    stack: Option<(String, Value)>,
) -> StepFunctions {
    StepFunctions::serve(StandInConfig {
        root: root(),
        lambda_url: lambda_url.to_string(),
        substitutions: json!({
            "FailoverFunctionArn": format!("arn:aws:lambda:us-west-2:{ACCOUNT}:function:failover"),
            "FailbackFunctionArn": format!("arn:aws:lambda:us-west-2:{ACCOUNT}:function:failback"),
            "MountTargetEnsureFunctionArn": format!("arn:aws:lambda:us-west-2:{ACCOUNT}:function:mount-target-ensure"),
            "AlertsTopicArn": topics.alerts_topic_arn,
            "Region": "us-west-2",
        }),
        machines: ["failover", "failback", "fleet-failover"]
            .iter()
            .map(|m| (machine_arn(m), format!("statemachines/{m}.asl.json")))
            .collect(),
        env: vec![("WAIT_MS".into(), "40".into())],
        stack,
    })
    .await
    .expect("step functions stand-in")
}

/// The execution once it has ended (at most a minute).
pub async fn ended(sfn: &StepFunctions, arn: &str) -> Execution {
    for _ in 0..600 {
        if let Some(e) = sfn.execution(arn).filter(|e| e.status != "RUNNING") {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{arn} did not end: {:?}", sfn.execution(arn));
}
