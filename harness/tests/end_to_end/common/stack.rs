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

/// The stack as deployed with the template's defaults for `src` -> `dst`:
/// its topics, its Outputs and parameters, the four functions with the
/// environment the template gives them, and the alarm path connected.
pub struct Deployed {
    pub topics: alarm_path::Topics,
    pub outputs: Value,
    pub parameters: Value,
    pub lambda: efs_dr_harness::Lambda,
    /// `EFS_DR_PAIRS` as the functions have it.
    pub pairs: String,
}

/// A parameter's value as the template would pass it to an environment variable.
pub fn param(parameters: &Value, key: &str) -> String {
    parameters[key]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| parameters[key].to_string())
}

pub async fn deploy(env: &super::Env, src: &str, dst: &str) -> Deployed {
    let west = efs_dr_shared::domain::ids::RegionName::parse("us-west-2").expect("region");
    let topics = alarm_path::create_topics(&env.sdk, &west)
        .await
        .expect("topics");
    let (outputs, parameters) = stack(src, dst, &topics);
    let param = |key: &str| param(&parameters, key);
    let pairs = json!([{"source_file_system_id": src, "source_region": "us-east-1", "destination_file_system_id": dst}]).to_string();
    let lambda = super::functions(
        env,
        &[
            ("EFS_DR_PAIRS", pairs.clone()),
            ("EFS_DR_ALERTS_TOPIC_ARN", topics.alerts_topic_arn.clone()),
            (
                "EFS_DR_FAILOVER_TOPIC_ARN",
                topics.failover_topic_arn.clone(),
            ),
            ("EFS_DR_ALARM_POLICY", param("AlarmPolicy")),
            ("EFS_DR_ALARM_MIN_SECONDS", param("AlarmMinSeconds")),
            ("EFS_DR_COOLDOWN_SECONDS", param("CooldownSeconds")),
            ("EFS_DR_MAX_RPO_SECONDS", param("MaxRpoSeconds")),
            (
                "EFS_DR_AUTO_FAILOVER_MAX_RPO_SECONDS",
                param("AutoFailoverMaxRpoSeconds"),
            ),
            ("EFS_DR_WATCHED_ALARMS", alarm_path::lag_alarm_name(dst)),
            ("EFS_DR_FAILOVER_FUNCTION_NAME", "failover".into()),
        ],
    )
    .await;
    let account_id = env.emu.shared.world().account_id.clone();
    alarm_path::connect(&env.sdk, &west, &account_id, &topics, src, dst)
        .await
        .expect("subscriptions and alarm");
    Deployed {
        topics,
        outputs,
        parameters,
        lambda,
        pairs,
    }
}
