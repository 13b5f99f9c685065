//! The operator's worst day, as printed: the source Region fails, the lag
//! alarm fires through the alarm path the template deploys, and every
//! command the notification and the template's Outputs print is run by the
//! real AWS CLI, unedited, against the built functions (Lambda Invoke API)
//! and the state machines (a Step Functions stand-in), with the template's
//! defaults. Nothing is retyped: the commands are parsed from the
//! notification body and rendered from template.yaml.

use crate::common;

use common::stack::*;
use common::*;
use efs_dr_harness::step_functions::StepFunctions;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// Runs one printed command as an operator's shell would, the AWS CLI pointed
/// at the stand-ins by the endpoint variables only.
fn run_printed(command: &str, lambda_url: &str, sfn_url: &str, workdir: &Path) -> (bool, String) {
    let venv_bin = root().join(".venv/bin");
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(command)
        .current_dir(workdir)
        .env("PATH", path)
        .env("AWS_ACCESS_KEY_ID", "AKIDOPERATOR")
        .env("AWS_SECRET_ACCESS_KEY", "operator-secret")
        .env("AWS_ENDPOINT_URL_LAMBDA", lambda_url)
        .env("AWS_ENDPOINT_URL_SFN", sfn_url)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The function's result that `&& cat FILE` printed last.
fn printed_result(output: &str) -> Value {
    output
        .lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l.trim())
                .ok()
                .filter(|v| v.get("status").is_some())
        })
        .unwrap_or_else(|| panic!("no function result in:\n{output}"))
}

/// The command lines of a text: those that run the AWS CLI.
fn aws_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("aws ") || (l.starts_with("echo '") && l.contains("| aws ")))
        .map(str::to_string)
        .collect()
}

/// Starts `StartFailoverCommand` for a pair, finds the waiting approval with
/// `PendingApprovalsCommand`, and answers it with the printed command that
/// starts with `answer`.
async fn failover_by_approval(
    outputs: &Value,
    answer: &str,
    lambda_url: &str,
    sfn: &StepFunctions,
    workdir: &Path,
) -> efs_dr_harness::step_functions::Execution {
    let start = outputs["StartFailoverCommand"].as_str().unwrap_or_default();
    let (ok, text) = run_printed(start, lambda_url, &sfn.url, workdir);
    assert!(ok, "{start}\n{text}");
    let started: Value = serde_json::from_str(text.trim()).expect("start-execution JSON");
    let arn = started["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pending = outputs["PendingApprovalsCommand"]
        .as_str()
        .unwrap_or_default();
    let mut listing = String::new();
    for _ in 0..300 {
        let (ok, text) = run_printed(pending, lambda_url, &sfn.url, workdir);
        assert!(ok, "{pending}\n{text}");
        if text.contains(&arn) && text.contains("send-task-success") {
            listing = text;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !listing.is_empty(),
        "the approval never showed up for {arn}"
    );
    // The listing names the execution, then its plan and the two commands.
    let section = listing
        .split("== ")
        .find(|s| s.starts_with(&arn))
        .unwrap_or_default();
    assert!(
        section.contains("Plan (JSON)") || section.contains("plan"),
        "{section}"
    );
    let command = aws_lines(section)
        .into_iter()
        .find(|l| l.starts_with(answer))
        .unwrap_or_else(|| panic!("no `{answer}` line in:\n{section}"));
    assert!(command.contains("--region us-west-2"), "{command}");
    let (ok, text) = run_printed(&command, lambda_url, &sfn.url, workdir);
    assert!(ok, "{command}\n{text}");
    ended(sfn, &arn).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_printed_command_works_during_the_outage_that_raised_the_alarm() {
    let _serial = SERIAL.lock().await;
    let env = Env::new().await;
    let (src, dst) = env.pair("stack").await;
    let (src2, dst2) = env.pair("approved").await;
    let (src3, dst3) = env.pair("rejected").await;
    for (s, _) in [(&src, &dst), (&src2, &dst2), (&src3, &dst3)] {
        env.emu
            .shared
            .write("us-east-1", s, "/before.txt", "on the primary", None)
            .expect("write");
    }
    env.emu.shared.advance(120.0);
    // The functions' environment as the template sets it, from its defaults.
    let Deployed {
        topics,
        outputs,
        parameters,
        lambda,
        ..
    } = deploy(&env, &src, &dst).await;
    let param = |k: &str| param(&parameters, k);
    let sfn = step_functions(&lambda.url, &topics, None).await;
    let workdir = std::env::temp_dir().join(format!("efs-dr-operator-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).expect("workdir");

    // The stack runs healthy first: the probe every minute, until the lag
    // alarm has data and is OK (a new alarm on a metric without data starts
    // in breach), so that the page below is the outage's.
    let (ticker, _) = probe_every_minute(&lambda);
    until_lag_alarm_ok(&env, &dst).await;
    let before_outage = env.emu.shared.world().messages.len();

    // The source Region fails.
    source_region_fails(&env, &[&src, &src2, &src3]);
    // Two pages, as the template's defaults send them: the region detector's
    // within minutes, then the lag alarm's once the replica is more than
    // LagThresholdSeconds behind (and beyond the default max_rpo_seconds).
    let alerts = topics.alerts_topic_arn.clone();
    let pages: Arc<std::sync::Mutex<(String, String)>> = Arc::default();
    until(
        "the detector's page and the lag alarm's, each with the failover commands",
        120,
        async || {
            let w = env.emu.shared.world();
            let after: Vec<_> = w
                .messages
                .iter()
                .skip(before_outage)
                .filter(|m| m.topic_arn == alerts && m.message.contains("To fail over, plan first"))
                .collect();
            let detector = after.iter().find(|m| {
                m.subject
                    .as_deref()
                    .is_some_and(|s| s.contains("looks lost"))
            });
            let alarm = after.iter().find(|m| {
                m.subject
                    .as_deref()
                    .is_some_and(|s| s.contains("replication alarm"))
            });
            match (detector, alarm) {
                (Some(d), Some(a)) => {
                    *pages.lock().unwrap() = (d.message.clone(), a.message.clone());
                    true
                }
                _ => false,
            }
        },
    )
    .await;
    ticker.abort();
    let (detector_page, alarm_page) = pages.lock().unwrap().clone();
    let lag_now = env
        .emu
        .shared
        .world()
        .replications
        .iter()
        .find(|r| r.destination_file_system_id == dst)
        .and_then(|r| r.last_replicated)
        .map(|t| env.emu.shared.now() - t)
        .unwrap_or_default();
    let max_rpo: f64 = param("MaxRpoSeconds").parse().expect("MaxRpoSeconds");
    assert!(
        lag_now > max_rpo,
        "by the lag alarm's page the replica is {lag_now:.0} s behind, beyond the default max_rpo_seconds {max_rpo}: the commands must work anyway"
    );

    // 1. The template's plan command, then each page's plan and execute, as printed.
    let plan = outputs["PlanFailoverCommand"].as_str().unwrap_or_default();
    let (ok, text) = run_printed(plan, &lambda.url, &sfn.url, &workdir);
    assert!(ok, "{plan}\n{text}");
    assert_eq!(printed_result(&text)["status"], "planned", "{text}");
    for (page, first_execute) in [(&alarm_page, true), (&detector_page, false)] {
        let commands = aws_lines(page);
        assert_eq!(commands.len(), 2, "plan and execute in:\n{page}");
        for (command, status) in commands.iter().zip(["planned", "completed"]) {
            assert!(
                command.contains("--region us-west-2") && command.contains("--cli-read-timeout"),
                "{command}"
            );
            let (ok, text) = run_printed(command, &lambda.url, &sfn.url, &workdir);
            assert!(ok, "{command}\n{text}");
            let result = printed_result(&text);
            assert_eq!(result["status"], status, "{command}\n{text}");
            if status == "completed" && first_execute {
                let warned = result["results"][0]["warnings"].to_string();
                assert!(
                    warned.contains("waiting cannot bring the replica closer"),
                    "the report says why an old recovery point was accepted: {warned}"
                );
            }
        }
    }
    assert_eq!(env.protection(&dst).await, "ENABLED");

    // 2. The template's other Lambda commands: each runs and reports.
    for (key, want) in [
        ("ExecuteFailoverCommand", "completed"),
        ("CheckReadinessCommand", ""),
        ("ProbeReplicationCommand", ""),
        ("PlanFailbackCommand", ""),
    ] {
        let command = outputs[key].as_str().unwrap_or_default();
        let (ok, text) = run_printed(command, &lambda.url, &sfn.url, &workdir);
        assert!(ok, "{key}: {command}\n{text}");
        let result = printed_result(&text);
        if !want.is_empty() {
            assert_eq!(result["status"], want, "{key}\n{text}");
        }
        assert_ne!(result["status"], "failed", "{key}\n{text}");
    }

    // 3. The state machine, approved by the printed commands, no e-mail involved.
    let (outputs2, _) = stack(&src2, &dst2, &topics);
    let run = failover_by_approval(
        &outputs2,
        "aws stepfunctions send-task-success",
        &lambda.url,
        &sfn,
        &workdir,
    )
    .await;
    assert_eq!(run.status, "SUCCEEDED", "{run:#?}");
    assert_eq!(env.protection(&dst2).await, "ENABLED");

    // 4. Rejected: reported as rejected, nothing changed.
    let (outputs3, _) = stack(&src3, &dst3, &topics);
    let run = failover_by_approval(
        &outputs3,
        "aws stepfunctions send-task-failure",
        &lambda.url,
        &sfn,
        &workdir,
    )
    .await;
    assert_eq!(
        run.status, "SUCCEEDED",
        "a rejection is not a failure: {run:#?}"
    );
    let told: Vec<String> = run
        .published
        .iter()
        .filter_map(|p| p["subject"].as_str().map(str::to_string))
        .collect();
    assert!(told.iter().any(|s| s.contains("rejected")), "{told:?}");
    assert!(!told.iter().any(|s| s.contains("failed")), "{told:?}");
    assert_eq!(env.protection(&dst3).await, "REPLICATING");

    // 5. The fleet command, for the stack's pair (already promoted: an idempotent pass).
    let fleet = outputs["StartFleetFailoverCommand"]
        .as_str()
        .unwrap_or_default();
    let (ok, text) = run_printed(fleet, &lambda.url, &sfn.url, &workdir);
    assert!(ok, "{fleet}\n{text}");
    let started: Value = serde_json::from_str(text.trim()).expect("start-execution JSON");
    let run = ended(&sfn, started["executionArn"].as_str().unwrap_or_default()).await;
    assert_eq!(run.status, "SUCCEEDED", "{run:#?}");

    // 6. The Region is back: the failback command, its cutover approved as printed.
    env.emu
        .shared
        .set_faults(
            &serde_json::from_value(json!({"region": "us-east-1", "outage": false}))
                .expect("fault"),
        )
        .expect("outage over");
    env.emu
        .shared
        .write(
            "us-west-2",
            &dst,
            "/outage.txt",
            "written during the outage",
            None,
        )
        .expect("write");
    let start = outputs["StartFailbackCommand"].as_str().unwrap_or_default();
    let (ok, text) = run_printed(start, &lambda.url, &sfn.url, &workdir);
    assert!(ok, "{start}\n{text}");
    let started: Value = serde_json::from_str(text.trim()).expect("start-execution JSON");
    let arn = started["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pending = outputs["PendingApprovalsCommand"]
        .as_str()
        .unwrap_or_default();
    let mut approve = None;
    for _ in 0..600 {
        let (ok, text) = run_printed(pending, &lambda.url, &sfn.url, &workdir);
        assert!(ok, "{pending}\n{text}");
        if let Some(section) = text.split("== ").find(|s| s.starts_with(&arn)) {
            approve = aws_lines(section)
                .into_iter()
                .find(|l| l.starts_with("aws stepfunctions send-task-success"));
            if approve.is_some() {
                break;
            }
        }
        if sfn.execution(&arn).is_some_and(|e| e.status != "RUNNING") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let approve =
        approve.unwrap_or_else(|| panic!("no cutover approval: {:#?}", sfn.execution(&arn)));
    let (ok, text) = run_printed(&approve, &lambda.url, &sfn.url, &workdir);
    assert!(ok, "{approve}\n{text}");
    let run = ended(&sfn, &arn).await;
    assert_eq!(run.status, "SUCCEEDED", "{run:#?}");
    let home = env
        .emu
        .shared
        .world()
        .file_system("us-east-1", &src)
        .map(|f| f.files.clone())
        .unwrap_or_default();
    assert!(
        home.contains_key("/outage.txt"),
        "the outage's write is home: {home:?}"
    );
    let _ = std::fs::remove_dir_all(workdir);
}
