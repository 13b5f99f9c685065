//! The operator console (`efs-dr failover`, `failback`, `approve`, `reject`,
//! `status --watch`) against a stack as the template deploys it: the built
//! `efs-dr` binary finds the state machines in the stack's Outputs
//! (CloudFormation DescribeStacks on the Step Functions stand-in), starts
//! and follows the real definitions whose Lambda tasks run the built
//! functions, all against the emulator. Mostly no terminal: stdin is
//! closed, so a confirmation needs --yes. Where a person answers at a
//! prompt, a pseudo-terminal (tests/e2e/pty_run.py) gives the console, and the
//! test types into it or answers the approval elsewhere while it waits.

use crate::common;

use common::stack::*;
use common::*;
use efs_dr_harness::step_functions::{Execution, StepFunctions};
use efs_dr_harness::target_bin_dir;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One run of the console: its exit code and what it printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the built `efs-dr` with `vars` and no standard input, as a script would.
async fn efs_dr(vars: &[(String, String)], args: &[&str]) -> Run {
    let bin = target_bin_dir().join("efs-dr");
    assert!(
        bin.exists(),
        "{} is built (cargo build --workspace --bins)",
        bin.display()
    );
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.args(args)
        .env_remove("EFS_DR_STACK")
        .env_remove("AWS_PROFILE")
        .env_remove("COLUMNS")
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("efs-dr {args:?} did not end within 4 minutes"))
        .expect("efs-dr runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The request a start command of the stack's Outputs sends.
fn start_input(outputs: &Value, key: &str) -> Value {
    let command = outputs[key].as_str().unwrap_or_default();
    let json = command
        .split_once("--input '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(json, _)| json)
        .unwrap_or_else(|| panic!("no --input in {key}: {command}"));
    serde_json::from_str(json).expect("the input is JSON")
}

/// A Step Functions call as any client sends it (JSON 1.0): status and answer.
async fn sfn_call(url: &str, op: &str, body: &Value) -> (u16, Value) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let req = hyper::Request::post(url)
        .header("x-amz-target", format!("AWSStepFunctions.{op}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .expect("request");
    let resp = client
        .request(req)
        .await
        .unwrap_or_else(|e| panic!("{op} answers: {e}"));
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON answer"))
}

/// StartExecution; the execution's ARN.
async fn start_execution(url: &str, machine: &str, input: &Value) -> String {
    let body = json!({"stateMachineArn": machine, "input": input.to_string()});
    let (_, v) = sfn_call(url, "StartExecution", &body).await;
    v["executionArn"]
        .as_str()
        .unwrap_or_else(|| panic!("no executionArn in {v}"))
        .to_string()
}

/// The task token of the approval `e` asked for, from its notification.
fn approval_token(e: &Execution) -> String {
    e.published
        .iter()
        .filter_map(|p| p["message"].as_str())
        .find_map(|m| m.split_once("--task-token '"))
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(token, _)| token.to_string())
        .unwrap_or_else(|| panic!("no task token in {:#?}", e.published))
}

/// The lines a terminal shows: progress rewrites and \r\n line ends undone.
fn screen_lines(text: &str) -> Vec<String> {
    text.replace("\x1b[2K", "")
        .split(['\r', '\n'])
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// No line the console printed says it approved.
fn says_approved(text: &str) -> bool {
    screen_lines(text).iter().any(|l| l.starts_with("approved"))
}

/// The built `efs-dr` on a pseudo-terminal (`tests/e2e/pty_run.py`, with
/// the project's Python), as a person runs it: what it prints (stdout and
/// stderr, as the terminal shows them), and a keyboard.
struct Terminal {
    child: tokio::process::Child,
    keys: tokio::process::ChildStdin,
    screen: Arc<Mutex<String>>,
    what: String,
}

impl Terminal {
    fn start(vars: &[(String, String)], args: &[&str]) -> Terminal {
        let bin = target_bin_dir().join("efs-dr");
        assert!(bin.exists(), "{} is built", bin.display());
        let python = root().join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: scripts/test.sh sets up the venv",
            python.display()
        );
        let mut cmd = tokio::process::Command::new(python);
        cmd.arg(root().join("tests/e2e/pty_run.py"))
            .arg(&bin)
            .args(args)
            .env_remove("EFS_DR_STACK")
            .env_remove("AWS_PROFILE")
            .env_remove("COLUMNS")
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("the pseudo-terminal runs");
        let keys = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let screen = Arc::new(Mutex::new(String::new()));
        let sink = screen.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf).await {
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Terminal {
            child,
            keys,
            screen,
            what: format!("efs-dr {args:?} on a terminal"),
        }
    }

    fn screen(&self) -> String {
        self.screen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn shows(&self, text: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.screen().contains(text) {
            assert!(
                Instant::now() < deadline,
                "{}: {text:?} not shown within {secs} s:\n{}",
                self.what,
                self.screen()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn types(&mut self, line: &str) {
        self.keys
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("typing");
        self.keys.flush().await.expect("typing");
    }

    /// Waits for the console to exit (the keyboard stays: nothing more is typed).
    async fn ends(mut self, secs: u64) -> Run {
        let status = match tokio::time::timeout(Duration::from_secs(secs), self.child.wait()).await
        {
            Ok(status) => status.expect("the pseudo-terminal ends"),
            Err(_) => panic!(
                "{} did not end within {secs} s:\n{}",
                self.what,
                self.screen()
            ),
        };
        // What was still in the pipe.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut stderr).await;
        }
        Run {
            code: status.code(),
            stdout: self.screen(),
            stderr,
        }
    }
}

async fn waits_for_approval(sfn: &StepFunctions, arn: &str) {
    until("the execution's approval request", 60, async || {
        sfn.execution(arn).is_some_and(|e| {
            e.published.iter().any(|p| {
                p["subject"]
                    .as_str()
                    .is_some_and(|s| s.contains("needs approval"))
            })
        })
    })
    .await;
}

/// The newest execution of the stack's `name` state machine.
fn newest(sfn: &StepFunctions, name: &str) -> Execution {
    sfn.executions()
        .into_iter()
        .rev()
        .find(|e| e.machine_arn == machine_arn(name))
        .unwrap_or_else(|| panic!("no {name} execution"))
}

fn output_status(e: &Execution) -> Value {
    e.output
        .as_deref()
        .and_then(|o| serde_json::from_str::<Value>(o).ok())
        .map(|o| o["status"].clone())
        .unwrap_or(Value::Null)
}

fn replicating(env: &Env, dst: &str) -> bool {
    env.emu
        .shared
        .world()
        .replications
        .iter()
        .any(|r| r.destination_file_system_id == dst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_fails_over_and_back_with_what_the_stack_outputs_name() {
    let _serial = SERIAL.lock().await;
    let env = Env::new().await;
    let (src, dst) = env.pair("console").await;
    let (src2, dst2) = env.pair("console-approved").await;
    let (src3, dst3) = env.pair("console-rejected").await;
    // Answered on a terminal, and elsewhere while the console asks.
    let (src4, dst4) = env.pair("console-elsewhere").await;
    for s in [&src, &src2, &src3, &src4] {
        env.emu
            .shared
            .write("us-east-1", s, "/before.txt", "on the primary", None)
            .expect("write");
    }
    env.emu.shared.advance(120.0);
    let Deployed {
        topics,
        outputs,
        lambda,
        pairs,
        ..
    } = deploy(&env, &src, &dst).await;
    let sfn = step_functions(
        &lambda.url,
        &topics,
        Some(("efs-dr".into(), outputs.clone())),
    )
    .await;
    // The operator's shell: EFS and CloudWatch from the emulator, Step
    // Functions and CloudFormation from the stand-in, the pair for status.
    let vars = env.function_env(&[
        ("AWS_ENDPOINT_URL_SFN", sfn.url.clone()),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", sfn.url.clone()),
        ("EFS_DR_PAIRS", pairs),
    ]);

    // A wrong stack name says what to pass.
    let run = efs_dr(&vars, &["approve", "--stack", "no-such-stack"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr
            .contains("stack no-such-stack not found in us-west-2")
            && run.stderr.contains("--stack"),
        "{run}"
    );

    // A failback overwrites the original long before its cutover approval:
    // without a terminal and without --yes it is refused before it starts.
    let before = sfn.executions().len();
    let run = efs_dr(
        &vars,
        &["failback", "--stack", "efs-dr", "--poll-ms", "100"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains("the failback was not started") && run.stderr.contains("--yes"),
        "{run}"
    );
    assert!(
        run.stdout.contains("reverse replication into the original")
            && run.stdout.contains("preserved first"),
        "what it would do: {run}"
    );
    assert_eq!(
        sfn.executions().len(),
        before,
        "no execution started: {run}"
    );
    // On a terminal it asks first; anything but yes starts nothing.
    let mut terminal = Terminal::start(
        &vars,
        &["failback", "--stack", "efs-dr", "--poll-ms", "100"],
    );
    terminal.shows("Start the failback? type yes", 30).await;
    terminal.types("no").await;
    let run = terminal.ends(30).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout.contains("not started: nothing was changed"),
        "{run}"
    );
    assert_eq!(
        sfn.executions().len(),
        before,
        "no execution started: {run}"
    );

    // Healthy: the probe every emulated minute until the lag alarm is OK.
    let (ticker, _) = probe_every_minute(&lambda);
    until_lag_alarm_ok(&env, &dst).await;

    // 5. status --watch: two blocks, each with the pair, its replication,
    // the lag's history from the probe's metric, and the alarm states.
    let run = efs_dr(
        &vars,
        &["status", "--watch", "--count", "2", "--interval", "1"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    let blocks: Vec<&str> = run.stdout.split("=== efs-dr status at ").skip(1).collect();
    assert_eq!(blocks.len(), 2, "two refreshes: {run}");
    for block in &blocks {
        assert!(block.contains(&src) && block.contains(&dst), "{block}");
        assert!(block.contains("replication: "), "{block}");
        assert!(
            block
                .lines()
                .any(|l| l.trim_start().starts_with("lag ") && l.contains("ReplicationLagSeconds")),
            "the lag's history: {block}"
        );
        assert!(
            block.lines().any(|l| l.trim_start().starts_with("lag ")
                && l.contains(" (sample ")
                && l.contains(" old")),
            "the last lag sample's age: {block}"
        );
        assert!(block.contains("readiness: "), "{block}");
        assert!(block.contains("alarms: replication-lag OK"), "{block}");
    }
    ticker.abort();

    // The source Region fails.
    source_region_fails(&env, &[&src, &src2, &src3, &src4]);

    // 2. No terminal and no --yes: the plan is shown, the execution is
    // rejected (it ends in Rejected instead of waiting an hour), nothing
    // changes. The history cannot be read once it has ended: the outcome
    // comes from DescribeExecution.
    sfn.fail_history_after_end(true);
    let run = efs_dr(
        &vars,
        &["failover", "--stack", "efs-dr", "--poll-ms", "100"],
    )
    .await;
    sfn.fail_history_after_end(false);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout.contains("could not read the end of the history")
            && run
                .stdout
                .contains("Failover ended: rejected (execution SUCCEEDED")
            && run.stdout.contains("nothing was changed"),
        "{run}"
    );
    assert!(
        run.stderr.contains("no terminal to confirm on")
            && run.stderr.contains("run again with --yes"),
        "{run}"
    );
    assert!(
        run.stdout.contains("efs-dr failover plan: "),
        "the plan: {run}"
    );
    let rejected = newest(&sfn, "failover");
    assert_eq!(rejected.status, "SUCCEEDED", "{rejected:#?}");
    assert_eq!(output_status(&rejected), "rejected", "{rejected:#?}");
    assert_eq!(env.protection(&dst).await, "REPLICATING");
    assert!(replicating(&env, &dst), "the replication is still there");

    // 1. With --yes: plan, approval, the promotion followed, the report.
    let run = efs_dr(
        &vars,
        &["failover", "--stack", "efs-dr", "--yes", "--poll-ms", "100"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    for wanted in [
        "efs-dr failover plan: ",
        "approved (--yes)",
        "Failover ended: completed (execution SUCCEEDED",
        "efs-dr failover completed: ",
    ] {
        assert!(run.stdout.contains(wanted), "{wanted:?} in {run}");
    }
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with('[') && l.contains(": phase ")),
        "a progress line with a phase: {run}"
    );
    let promoted = newest(&sfn, "failover");
    assert_eq!(promoted.status, "SUCCEEDED", "{promoted:#?}");
    assert_ne!(output_status(&promoted), "rejected", "{promoted:#?}");
    assert_eq!(env.protection(&dst).await, "ENABLED");
    env.emu
        .shared
        .write(
            "us-west-2",
            &dst,
            "/outage.txt",
            "written during the outage",
            None,
        )
        .expect("the replica takes writes");

    // 3. approve and reject, for executions started by anyone.
    let run = efs_dr(&vars, &["approve", "--stack", "efs-dr", "--yes"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("nothing to approve"), "{run}");

    let (outputs2, _) = stack(&src2, &dst2, &topics);
    let approved = start_execution(
        &sfn.url,
        &machine_arn("failover"),
        &start_input(&outputs2, "StartFailoverCommand"),
    )
    .await;
    waits_for_approval(&sfn, &approved).await;
    // Approving needs a confirmation: without a terminal, --yes; it keeps waiting.
    let run = efs_dr(&vars, &["approve", "--stack", "efs-dr"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("--yes"), "{run}");
    assert!(run.stdout.contains("efs-dr failover plan: "), "{run}");
    assert_eq!(
        sfn.execution(&approved).map(|e| e.status),
        Some("RUNNING".to_string())
    );
    let run = efs_dr(&vars, &["approve", "--stack", "efs-dr", "--yes"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("approved: "), "{run}");
    let e = ended(&sfn, &approved).await;
    assert_eq!(e.status, "SUCCEEDED", "{e:#?}");
    assert_ne!(output_status(&e), "rejected", "{e:#?}");
    assert_eq!(env.protection(&dst2).await, "ENABLED");

    let (outputs3, _) = stack(&src3, &dst3, &topics);
    let input3 = start_input(&outputs3, "StartFailoverCommand");
    let first = start_execution(&sfn.url, &machine_arn("failover"), &input3).await;
    let second = start_execution(&sfn.url, &machine_arn("failover"), &input3).await;
    waits_for_approval(&sfn, &first).await;
    waits_for_approval(&sfn, &second).await;
    // Two wait: the console lists them and asks which.
    let run = efs_dr(&vars, &["reject", "--stack", "efs-dr"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("--execution"), "{run}");
    assert!(
        run.stdout.contains(&first) && run.stdout.contains(&second),
        "{run}"
    );
    for arn in [&first, &second] {
        let run = efs_dr(
            &vars,
            &["reject", "--stack", "efs-dr", "--execution", arn.as_str()],
        )
        .await;
        assert_eq!(run.code, Some(0), "{run}");
        assert!(run.stdout.contains("rejected: "), "{run}");
        let e = ended(&sfn, arn).await;
        assert_eq!(e.status, "SUCCEEDED", "{e:#?}");
        assert_eq!(output_status(&e), "rejected", "{e:#?}");
    }
    assert_eq!(env.protection(&dst3).await, "REPLICATING");
    assert!(replicating(&env, &dst3));

    // 6. Answered elsewhere. Without a terminal the console rejects, but a
    // colleague's approval lands first: the console's answer finds the task
    // gone, and the ending is the execution's (completed), not a rejection
    // nor a call for --yes, which would start a second failover.
    let request3 = input3.to_string();
    sfn.colleague_answers_first(true);
    let run = efs_dr(
        &vars,
        &[
            "failover",
            "--stack",
            "efs-dr",
            "--poll-ms",
            "100",
            "--input",
            &request3,
        ],
    )
    .await;
    assert!(!sfn.colleague_pending(), "the colleague answered: {run}");
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout.contains("this answer was not delivered")
            && run
                .stdout
                .contains("Failover ended: completed (execution SUCCEEDED"),
        "{run}"
    );
    assert!(
        !run.stdout.contains("nothing was changed") && !run.stderr.contains("--yes"),
        "{run}"
    );
    assert_eq!(env.protection(&dst3).await, "ENABLED");

    // On a terminal: "yes" typed, but a colleague's rejection lands first.
    // The console says approved only once its approval is in: here, never.
    let (outputs4, _) = stack(&src4, &dst4, &topics);
    let input4 = start_input(&outputs4, "StartFailoverCommand").to_string();

    // Another pair's source laid over this stack's request, with force: the
    // request would name file systems of two pairs. Refused before anything
    // starts: no execution, no promotion.
    let before = sfn.executions().len();
    let mixed = json!({"source_file_system_id": src3, "force": true}).to_string();
    let run = efs_dr(
        &vars,
        &["failover", "--stack", "efs-dr", "--yes", "--input", &mixed],
    )
    .await;
    assert_ne!(run.code, Some(0), "{run}");
    assert!(
        run.stderr.contains("two pairs") && run.stderr.contains(src3.as_str()),
        "{run}"
    );
    assert_eq!(sfn.executions().len(), before, "nothing started: {run}");
    assert_eq!(env.protection(&dst4).await, "REPLICATING");
    let args4 = [
        "failover",
        "--stack",
        "efs-dr",
        "--poll-ms",
        "100",
        "--input",
        &input4,
    ];
    sfn.colleague_answers_first(false);
    let mut terminal = Terminal::start(&vars, &args4);
    terminal.shows("Promote? type yes", 60).await;
    terminal.types("yes").await;
    let run = terminal.ends(60).await;
    assert!(!sfn.colleague_pending(), "the colleague answered: {run}");
    assert_eq!(run.code, Some(1), "{run}");
    assert!(!says_approved(&run.stdout), "{run}");
    assert!(
        run.stdout.contains("this answer was not delivered")
            && run
                .stdout
                .contains("Failover ended: rejected (execution SUCCEEDED")
            && run.stdout.contains("nothing was changed"),
        "{run}"
    );
    assert_eq!(env.protection(&dst4).await, "REPLICATING");

    // On a terminal, approved elsewhere while the console asks: it notices,
    // stops asking, and reports how the execution really ended.
    let terminal = Terminal::start(&vars, &args4);
    terminal.shows("Promote? type yes", 60).await;
    let asking = sfn
        .executions()
        .into_iter()
        .rev()
        .find(|e| e.status == "RUNNING" && e.input.contains(&dst4))
        .expect("the console's execution");
    let (code, answer) = sfn_call(
        &sfn.url,
        "SendTaskSuccess",
        &json!({"taskToken": approval_token(&asking), "output": "{}"}),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    let run = terminal.ends(120).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(!says_approved(&run.stdout), "{run}");
    assert!(
        run.stdout
            .contains("the approval was answered elsewhere: approved")
            && run.stdout.contains("not asking any more")
            && run
                .stdout
                .contains("Failover ended: completed (execution SUCCEEDED"),
        "{run}"
    );
    assert_eq!(env.protection(&dst4).await, "ENABLED");

    // 4. The Region is back: failback, its cutover approved with --yes,
    // followed to the end; the outage's write is home.
    env.emu
        .shared
        .set_faults(
            &serde_json::from_value(json!({"region": "us-east-1", "outage": false}))
                .expect("fault"),
        )
        .expect("outage over");
    // On a terminal: asked before it starts, and again at the cutover.
    // Rejected there, the reverse sync has run: the console does not say
    // that nothing was changed.
    let mut terminal = Terminal::start(
        &vars,
        &["failback", "--stack", "efs-dr", "--poll-ms", "100"],
    );
    terminal.shows("Start the failback? type yes", 30).await;
    terminal.types("yes").await;
    terminal.shows("Cut over? type yes", 180).await;
    terminal.types("no").await;
    let run = terminal.ends(60).await;
    assert_eq!(run.code, Some(1), "{run}");
    for wanted in [
        "Failback ended: rejected (execution SUCCEEDED",
        "the reverse sync ran",
        "the original direction was not restored",
        "efs-dr failback again",
    ] {
        assert!(run.stdout.contains(wanted), "{wanted:?} in {run}");
    }
    assert!(!run.stdout.contains("nothing was changed"), "{run}");
    assert!(!says_approved(&run.stdout), "{run}");
    let rejected = newest(&sfn, "failback");
    assert_eq!(output_status(&rejected), "rejected", "{rejected:#?}");
    // Started again with --yes: in sync already, the cutover approved at once.
    let run = efs_dr(
        &vars,
        &["failback", "--stack", "efs-dr", "--yes", "--poll-ms", "100"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run}");
    for wanted in [
        "waits for approval",
        "approved (--yes)",
        "Failback ended: completed (execution SUCCEEDED",
    ] {
        assert!(run.stdout.contains(wanted), "{wanted:?} in {run}");
    }
    let failback = newest(&sfn, "failback");
    assert_eq!(failback.status, "SUCCEEDED", "{failback:#?}");
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
    assert!(replicating(&env, &dst), "primary -> replica again");
}
