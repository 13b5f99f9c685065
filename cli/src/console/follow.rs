//! `efs-dr failover` and `efs-dr failback`: start the stack's state machine
//! with the configured pair's request, answer each approval it asks for
//! (after showing its plan), and follow the execution to its end from its
//! history: the task it runs, the phase the last pass reported, the wait
//! before the next pass, the time elapsed. Then the final report.

use super::approval::{self, Request, Sent, NO_TERMINAL};
use super::history::{self, Event};
use super::progress::Progress;
use super::report;
use super::{
    ask, aws_failure, human, stamp, stdin_is_terminal, Asked, Console, Out, Target, Workflow,
};
use crate::error::{CliError, CliResult};
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// `efs-dr failover` / `efs-dr failback`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub target: Target,
    /// Approve every approval step without asking (a failback: start it too).
    pub yes: bool,
    pub reason: Option<String>,
    /// Request fields (a JSON object) over the stack's configured request.
    pub input: Option<String>,
    /// Only the final result, as JSON, on stdout.
    pub json: bool,
    pub poll_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    Yes,
    Ask,
    /// Nobody can be asked: reject, so that the execution does not wait for an hour.
    NoTerminal,
}

/// What became of the console's answer to one approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// Delivered: approved (true) or rejected (false).
    Delivered(bool),
    /// Not given, or not delivered: answered elsewhere, expired, or the execution ended.
    NotDelivered,
}

/// How the execution ended.
struct Outcome {
    arn: String,
    /// The execution's status: SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
    status: String,
    /// completed, rejected, unknown, or the status in lower case.
    result: String,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    seconds: f64,
    /// The last pass's report, for an execution that ended without output.
    last: Option<Value>,
    /// The console itself rejected, for want of a terminal.
    unconfirmed: bool,
}

impl Outcome {
    /// Only a SUCCEEDED execution whose report says completed counts.
    fn completed(&self) -> bool {
        self.status == "SUCCEEDED" && self.result == "completed"
    }
}

/// The question before a failback starts.
const START_FAILBACK: &str = "Start the failback? type yes: ";

const NO_TERMINAL_FAILBACK: &str = "no terminal to confirm on and no --yes: the failback was not started, nothing was changed. It overwrites the original (after preserving what only it holds) long before its cutover approval, so it starts only when confirmed: read the above, plan it with the stack's PlanFailbackCommand, and run again with --yes";

pub async fn run(workflow: Workflow, opts: RunOptions) -> CliResult<bool> {
    // Bad input is refused before anything is started.
    let extra = extra_fields(opts.input.as_deref())?;
    let console = Console::connect(&opts.target).await?;
    let machine = console.stack.machine(workflow)?.to_string();
    let mut input = console.stack.start_input(workflow);
    if let Some(mixed) = mixed_pairs(&input, &extra) {
        return Err(CliError::Console(mixed));
    }
    if let Some(reason) = &opts.reason {
        input.insert("reason".into(), json!(reason));
    }
    input.extend(extra);
    let pair = pair_text(&input);
    let mut out = Out::new(opts.json);
    let policy = if opts.yes {
        Policy::Yes
    } else if stdin_is_terminal() {
        Policy::Ask
    } else {
        Policy::NoTerminal
    };
    if workflow == Workflow::Failback
        && !failback_confirmed(&mut out, &input, &pair, policy).await?
    {
        out.line("not started: nothing was changed");
        return Ok(false);
    }
    let started = console
        .sfn
        .start_execution()
        .state_machine_arn(&machine)
        .input(Value::Object(input).to_string())
        .send()
        .await
        .map_err(|e| aws_failure("Step Functions StartExecution", &e))?;
    let arn = started.execution_arn().to_string();
    out.line(format!(
        "{} of {pair} started (stack {}, {}): {arn}",
        workflow.title(),
        console.stack.name,
        console.stack.region
    ));
    out.line("Ctrl-C stops this console, not the execution.");
    let poll = Duration::from_millis(opts.poll_ms.max(10));
    let outcome = follow(&console, &mut out, workflow, &arn, policy, poll).await?;
    report(&mut out, workflow, &outcome, opts.json);
    // Worded from how it ended: a rejection the console sent for want of a
    // terminal asks for --yes; an answer given elsewhere is reported as such.
    if outcome.unconfirmed && outcome.result == "rejected" {
        return Err(CliError::Console(NO_TERMINAL.into()));
    }
    Ok(outcome.completed())
}

/// What a failback will do before its only approval, the cutover, as the
/// request's strategy has it.
fn failback_preview(input: &Map<String, Value>, pair: &str) -> Vec<String> {
    let field = |k: &str, default: &str| {
        input
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let original = field("original_file_system_id", "(the stack's original)");
    let replica = field("replica_file_system_id", "(the stack's replica)");
    let mut lines = vec![format!("Failback of {pair}, in this order:")];
    match field("strategy", "keep_changes").as_str() {
        "discard_changes" => lines.extend([
            format!("  1. the original {original} is replicated into the replica {replica} at once: what the replica took since the failover is overwritten (preserved first, unless preserve is never)"),
            "  2. no cutover approval: this is the only confirmation".to_string(),
        ]),
        "new_file_system" => lines.extend([
            format!("  1. the replica {replica} is replicated into a new file system in the original's Region and kept in sync: minutes for little data, hours for a lot; the replica stays the writable primary"),
            "  2. the cutover approval, asked again once in sync: approving switches the pair to the new original".to_string(),
        ]),
        _ => lines.extend([
            format!("  1. the reverse replication into the original {original}: what only the original holds is preserved first, then it is overwritten with the replica's data and kept in sync; this starts at once and lasts minutes for little data, hours for a lot, while the replica {replica} stays the writable primary"),
            "  2. the cutover approval, asked again once in sync: approving switches the pair back to the original; rejecting leaves the original a read-only copy of the replica".to_string(),
        ]),
    }
    lines
}

/// A failback overwrites the original (after preserving what only it holds)
/// long before its only approval, the cutover: it starts only when confirmed.
async fn failback_confirmed(
    out: &mut Out,
    input: &Map<String, Value>,
    pair: &str,
    policy: Policy,
) -> CliResult<bool> {
    for line in failback_preview(input, pair) {
        out.line(line);
    }
    match policy {
        Policy::Yes => {
            out.line("starting (--yes)");
            Ok(true)
        }
        Policy::NoTerminal => Err(CliError::Console(NO_TERMINAL_FAILBACK.into())),
        Policy::Ask => {
            out.close();
            Ok(ask(START_FAILBACK, std::future::pending::<String>()).await? == Asked::Yes)
        }
    }
}

fn extra_fields(input: Option<&str>) -> CliResult<Map<String, Value>> {
    let example = r#"e.g. --input '{"force": true}'"#;
    match input.map(serde_json::from_str::<Value>) {
        None => Ok(Map::new()),
        Some(Ok(Value::Object(m))) => Ok(m),
        Some(Ok(_)) => Err(CliError::Console(format!(
            "--input must be a JSON object of request fields, {example}"
        ))),
        Some(Err(e)) => Err(CliError::Console(format!(
            "--input is not JSON ({e}): give an object of request fields, {example}"
        ))),
    }
}

/// The two sides of a pair, as failover and failback requests name them.
const PAIR_SIDES: [[&str; 2]; 2] = [
    ["source_file_system_id", "original_file_system_id"],
    ["destination_file_system_id", "replica_file_system_id"],
];

/// The field naming `side` of a pair in `m`, and its value.
fn named(m: &Map<String, Value>, side: [&'static str; 2]) -> Option<(&'static str, String)> {
    side.iter().find_map(|k| {
        m.get(*k)
            .and_then(Value::as_str)
            .map(|v| (*k, v.to_string()))
    })
}

/// `--input` that names one side of a pair other than the stack's, over the
/// stack's request that names the other side: the request would name
/// file systems of two pairs. Refused before anything starts.
fn mixed_pairs(stack: &Map<String, Value>, extra: &Map<String, Value>) -> Option<String> {
    let [src, dst] = PAIR_SIDES;
    for (given, other) in [(src, dst), (dst, src)] {
        let (Some((key, value)), None, Some((kept_key, kept))) = (
            named(extra, given),
            named(extra, other),
            named(stack, other),
        ) else {
            continue;
        };
        if named(stack, given).is_some_and(|(_, v)| v == value) {
            continue;
        }
        return Some(format!(
            "--input sets {key} {value} but keeps the stack's {kept_key} {kept}: that request would name file systems of two pairs. Nothing was started. Give both sides of one pair in --input ({} and {}), or neither",
            given[0], other[0]
        ));
    }
    None
}

/// The pair a request names, failover or failback fields alike.
fn pair_text(input: &Map<String, Value>) -> String {
    let field = |keys: [&str; 2]| {
        keys.iter()
            .find_map(|k| input.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    };
    match (
        field(["source_file_system_id", "original_file_system_id"]),
        field(["destination_file_system_id", "replica_file_system_id"]),
    ) {
        (Some(s), Some(d)) => format!("{s} -> {d}"),
        (Some(s), None) => s,
        _ => "the configured pair".to_string(),
    }
}

async fn follow(
    console: &Console,
    out: &mut Out,
    workflow: Workflow,
    arn: &str,
    policy: Policy,
    poll: Duration,
) -> CliResult<Outcome> {
    let begun = Instant::now();
    let mut events: Vec<Event> = Vec::new();
    let mut progress = Progress::new(workflow);
    let mut answered: HashSet<i64> = HashSet::new();
    let mut unconfirmed = false;
    let mut failures = 0;
    loop {
        let after = events.last().map_or(0, |e| e.id);
        let unread = match history::events_after(&console.sfn, arn, after).await {
            Ok(fresh) => {
                for e in fresh {
                    if let Some(note) = progress.apply(&e) {
                        out.line(note);
                    }
                    events.push(e);
                }
                match approval::request(workflow, arn, &events) {
                    Some(Ok(r)) if answered.insert(r.event_id) => {
                        let answer = decide(console, out, &r, policy, poll).await?;
                        unconfirmed |=
                            answer == Answer::Delivered(false) && policy == Policy::NoTerminal;
                        // The answer moves the execution on: look again at once.
                        continue;
                    }
                    // One the console cannot answer would keep it waiting for nothing.
                    Some(Err(why)) => return Err(CliError::Console(why)),
                    _ => {}
                }
                None
            }
            // Counted below, after DescribeExecution: an execution that has
            // ended is reported even when its history cannot be read.
            Err(e) => Some(e),
        };
        let d = match console
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e) => {
                let e = aws_failure("Step Functions DescribeExecution", &e);
                tolerate(out, &mut failures, e)?;
                tokio::time::sleep(poll.max(RETRY_PAUSE)).await;
                continue;
            }
        };
        if *d.status() != ExecutionStatus::Running {
            return Ok(finish(console, out, &mut progress, &events, &d, begun, unconfirmed).await);
        }
        if let Some(e) = unread {
            tolerate(out, &mut failures, e)?;
            tokio::time::sleep(poll.max(RETRY_PAUSE)).await;
            continue;
        }
        failures = 0;
        let (live, stable) = progress.line();
        out.progress(&stamp(begun.elapsed().as_secs_f64()), &live, &stable);
        tokio::time::sleep(poll).await;
    }
}

/// The outcome of an execution that has ended: the rest of its history for
/// the last notes when it can be read, the result from DescribeExecution.
async fn finish(
    console: &Console,
    out: &mut Out,
    progress: &mut Progress,
    events: &[Event],
    d: &DescribeExecutionOutput,
    begun: Instant,
    unconfirmed: bool,
) -> Outcome {
    let arn = d.execution_arn();
    let after = events.last().map_or(0, |e| e.id);
    match history::events_after(&console.sfn, arn, after).await {
        Ok(rest) => {
            for e in rest {
                if let Some(note) = progress.apply(&e) {
                    out.line(note);
                }
            }
        }
        Err(e) => out.line(format!(
            "could not read the end of the history ({e}): the outcome below is DescribeExecution's"
        )),
    }
    out.close();
    let status = d.status().as_str().to_string();
    let output: Option<Value> = d.output().and_then(|o| serde_json::from_str(o).ok());
    let seconds = d
        .stop_date()
        .map(|s| s.as_secs_f64() - d.start_date().as_secs_f64())
        .unwrap_or_else(|| begun.elapsed().as_secs_f64());
    Outcome {
        arn: arn.to_string(),
        result: result_of(&status, output.as_ref()),
        status,
        output,
        error: d.error().map(str::to_string),
        cause: d.cause().map(str::to_string),
        seconds,
        last: progress.take_last(),
        unconfirmed,
    }
}

/// The result an ended execution reports: rejected, its report's status
/// (completed, ...), `unknown` when a SUCCEEDED execution's output has no
/// report status (or is not JSON), else its status in lower case.
fn result_of(status: &str, output: Option<&Value>) -> String {
    match (status, output) {
        ("SUCCEEDED", Some(o)) if o["status"] == "rejected" => "rejected".to_string(),
        ("SUCCEEDED", Some(o)) => o["step"]["summary"]["status"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
        ("SUCCEEDED", None) => "unknown".to_string(),
        (other, _) => other.to_lowercase(),
    }
}

/// Reads in a row that may fail before the console gives up following: the
/// SDK has already retried each, and the execution goes on without us.
const MAX_FAILURES: u32 = 5;
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// A failed read while following: noted and tried again, up to MAX_FAILURES in a row.
fn tolerate(out: &mut Out, failures: &mut u32, e: CliError) -> CliResult<()> {
    *failures += 1;
    if *failures >= MAX_FAILURES {
        return Err(CliError::Console(format!(
            "{e} ({MAX_FAILURES} times in a row: stopped following; the execution goes on)"
        )));
    }
    out.line(format!("could not read the execution ({e}); trying again"));
    Ok(())
}

/// Shows the plan, gets the answer the policy gives (on a terminal: until
/// it is typed, or the approval no longer waits) and sends it.
async fn decide(
    console: &Console,
    out: &mut Out,
    r: &Request,
    policy: Policy,
    poll: Duration,
) -> CliResult<Answer> {
    approval::show(out, r);
    let approve = match policy {
        Policy::Yes => true,
        Policy::Ask => {
            out.close();
            match ask(r.workflow.question(), approval::gone(console, r, poll)).await? {
                Asked::Yes => true,
                Asked::No => false,
                Asked::Gone(why) => {
                    out.line(format!(
                        "{why}: not asking any more; following the execution to its end"
                    ));
                    return Ok(Answer::NotDelivered);
                }
            }
        }
        Policy::NoTerminal => {
            out.line(
                "no terminal to confirm on and no --yes: rejecting, so that the execution does not wait",
            );
            false
        }
    };
    match approval::send(console, r, approve, "rejected by an operator").await? {
        // Said only once the answer is in.
        Sent::Done => {
            out.line(match (approve, policy, r.workflow) {
                (true, Policy::Yes, Workflow::Failover) => "approved (--yes)",
                (true, Policy::Yes, Workflow::Failback) => "approved (--yes): the cutover mark is now; stop writes to the replica if they have not stopped",
                (true, _, Workflow::Failover) => "approved",
                (true, _, Workflow::Failback) => "approved: the cutover mark is now",
                (false, _, Workflow::Failover) => "rejected",
                (false, _, Workflow::Failback) => "rejected: the cutover will not be made",
            });
            Ok(Answer::Delivered(approve))
        }
        Sent::Gone(why) => {
            out.line(format!(
                "this answer was not delivered: the approval was already answered elsewhere or has expired ({why}); following the execution to its end"
            ));
            Ok(Answer::NotDelivered)
        }
    }
}

fn report(out: &mut Out, workflow: Workflow, o: &Outcome, as_json: bool) {
    out.line(format!(
        "{} ended: {} (execution {}, {})",
        workflow.title(),
        o.result,
        o.status,
        human(o.seconds)
    ));
    let reports: Vec<&Value> = ["step", "readiness"]
        .iter()
        .filter_map(|k| o.output.as_ref().map(|v| &v[*k]["summary"]))
        .filter(|s| s.is_object())
        .collect();
    let mut lines: Vec<String> = Vec::new();
    if o.result == "rejected" {
        lines.extend(
            approval::rejection_leaves(workflow)
                .iter()
                .map(|l| l.to_string()),
        );
    }
    if o.result == "unknown" {
        lines.push(format!(
            "the execution SUCCEEDED but its output carries no report status (step.summary.status): read it (aws stepfunctions describe-execution --execution-arn {}) and the alerts topic before relying on it",
            o.arn
        ));
    }
    if o.result == "rejected" && workflow == Workflow::Failover {
        // Nothing ran after the plan: no report to show.
    } else if reports.is_empty() {
        // Ended without output (failed): what the last pass reported.
        lines.extend(o.last.iter().flat_map(|s| report::lines(s, false)));
    } else {
        lines.extend(reports.iter().flat_map(|s| report::lines(s, false)));
    }
    for line in lines {
        out.line(format!("  {line}"));
    }
    if let Some(error) = &o.error {
        out.line(format!(
            "  error: {error}: {}",
            o.cause.as_deref().unwrap_or("no cause given")
        ));
    }
    if as_json {
        let result = json!({
            "workflow": workflow.title().to_lowercase(),
            "execution_arn": o.arn,
            "status": o.status,
            "result": o.result,
            "seconds": (o.seconds * 10.0).round() / 10.0,
            "output": o.output,
            "error": o.error,
            "cause": o.cause,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_that_names_another_pair_s_side_is_refused() {
        let obj = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let stack =
            obj(json!({"source_file_system_id": "fs-a", "destination_file_system_id": "fs-a2"}));
        let refused = mixed_pairs(
            &stack,
            &obj(json!({"source_file_system_id": "fs-b", "force": true})),
        );
        assert!(
            refused
                .as_deref()
                .is_some_and(|m| m.contains("fs-b") && m.contains("fs-a2")),
            "{refused:?}"
        );
        assert!(
            mixed_pairs(&stack, &obj(json!({"destination_file_system_id": "fs-b2"}))).is_some()
        );
        // Both sides given, the same side repeated, or no pair fields: one pair.
        assert!(mixed_pairs(
            &stack,
            &obj(json!({"source_file_system_id": "fs-b", "destination_file_system_id": "fs-b2"}))
        )
        .is_none());
        assert!(mixed_pairs(&stack, &obj(json!({"source_file_system_id": "fs-a"}))).is_none());
        assert!(mixed_pairs(&stack, &obj(json!({"force": true}))).is_none());
        assert!(mixed_pairs(&Map::new(), &obj(json!({"source_file_system_id": "fs-b"}))).is_none());
        let failback =
            obj(json!({"original_file_system_id": "fs-a", "replica_file_system_id": "fs-a2"}));
        assert!(mixed_pairs(&failback, &obj(json!({"original_file_system_id": "fs-b"}))).is_some());
    }

    #[test]
    fn input_must_be_an_object() {
        assert!(extra_fields(Some("[1]")).is_err());
        assert!(extra_fields(Some("{")).is_err());
        assert_eq!(
            extra_fields(Some(r#"{"force": true}"#)).unwrap_or_default()["force"],
            true
        );
        let pair: Map<String, Value> = serde_json::from_str(
            r#"{"original_file_system_id": "fs-1", "replica_file_system_id": "fs-2"}"#,
        )
        .unwrap_or_default();
        assert_eq!(pair_text(&pair), "fs-1 -> fs-2");
    }

    #[test]
    fn only_a_completed_report_is_completed() {
        let report = |status: &str| json!({"step": {"summary": {"status": status}}});
        assert_eq!(
            result_of("SUCCEEDED", Some(&report("completed"))),
            "completed"
        );
        assert_eq!(
            result_of("SUCCEEDED", Some(&json!({"status": "rejected"}))),
            "rejected"
        );
        // No report status, or no JSON output: not a success.
        assert_eq!(
            result_of("SUCCEEDED", Some(&json!({"step": {}}))),
            "unknown"
        );
        assert_eq!(result_of("SUCCEEDED", None), "unknown");
        assert_eq!(result_of("FAILED", None), "failed");
        let outcome = |status: &str, result: &str| Outcome {
            arn: "arn".into(),
            status: status.into(),
            result: result.into(),
            output: None,
            error: None,
            cause: None,
            seconds: 1.0,
            last: None,
            unconfirmed: false,
        };
        assert!(outcome("SUCCEEDED", "completed").completed());
        assert!(!outcome("SUCCEEDED", "unknown").completed());
        assert!(!outcome("FAILED", "completed").completed());
    }

    #[test]
    fn a_failback_says_what_it_overwrites_before_it_starts() {
        let input: Map<String, Value> = serde_json::from_str(
            r#"{"original_file_system_id": "fs-1", "replica_file_system_id": "fs-2"}"#,
        )
        .unwrap_or_default();
        let lines = failback_preview(&input, "fs-1 -> fs-2").join("\n");
        assert!(
            lines.contains("reverse replication into the original fs-1")
                && lines.contains("preserved first")
                && lines.contains("cutover approval, asked again"),
            "{lines}"
        );
        let mut discard = input.clone();
        discard.insert("strategy".into(), json!("discard_changes"));
        assert!(failback_preview(&discard, "p")
            .join("\n")
            .contains("no cutover approval"));
    }
}
