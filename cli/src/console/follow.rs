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
    aws_failure, confirm, human, stamp, stdin_is_terminal, Console, Out, Target, Workflow,
};
use crate::error::{CliError, CliResult};
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// `efs-dr failover` / `efs-dr failback`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub target: Target,
    /// Approve every approval step without asking.
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

/// How the execution ended.
struct Outcome {
    arn: String,
    /// The execution's status: SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
    status: String,
    /// completed, rejected, or the status in lower case.
    result: String,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    seconds: f64,
    /// The last pass's report, for an execution that ended without output.
    last: Option<Value>,
    unconfirmed: bool,
    declined: bool,
}

pub async fn run(workflow: Workflow, opts: RunOptions) -> CliResult<bool> {
    // Bad input is refused before anything is started.
    let extra = extra_fields(opts.input.as_deref())?;
    let console = Console::connect(&opts.target).await?;
    let machine = console.stack.machine(workflow)?.to_string();
    let mut input = console.stack.start_input(workflow);
    if let Some(reason) = &opts.reason {
        input.insert("reason".into(), json!(reason));
    }
    input.extend(extra);
    let pair = pair_text(&input);
    let started = console
        .sfn
        .start_execution()
        .state_machine_arn(&machine)
        .input(Value::Object(input).to_string())
        .send()
        .await
        .map_err(|e| aws_failure("Step Functions StartExecution", &e))?;
    let arn = started.execution_arn().to_string();
    let mut out = Out::new(opts.json);
    out.line(format!(
        "{} of {pair} started (stack {}, {}): {arn}",
        workflow.title(),
        console.stack.name,
        console.stack.region
    ));
    out.line("Ctrl-C stops this console, not the execution.");
    let policy = if opts.yes {
        Policy::Yes
    } else if stdin_is_terminal() {
        Policy::Ask
    } else {
        Policy::NoTerminal
    };
    let poll = Duration::from_millis(opts.poll_ms.max(10));
    let outcome = follow(&console, &mut out, workflow, &arn, policy, poll).await?;
    report(&mut out, workflow, &outcome, opts.json);
    if outcome.unconfirmed {
        return Err(CliError::Console(NO_TERMINAL.into()));
    }
    if outcome.declined {
        out.line("not approved: the execution was rejected, nothing was changed");
    }
    Ok(outcome.result == "completed")
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
    let (mut unconfirmed, mut declined) = (false, false);
    let mut failures = 0;
    loop {
        let after = events.last().map_or(0, |e| e.id);
        let fresh = match history::events_after(&console.sfn, arn, after).await {
            Ok(fresh) => fresh,
            Err(e) => {
                tolerate(out, &mut failures, e)?;
                tokio::time::sleep(poll.max(RETRY_PAUSE)).await;
                continue;
            }
        };
        for e in fresh {
            if let Some(note) = progress.apply(&e) {
                out.line(note);
            }
            events.push(e);
        }
        match approval::request(workflow, arn, &events) {
            Some(Ok(r)) if answered.insert(r.event_id) => {
                let approved = decide(console, out, &r, policy).await?;
                unconfirmed |= policy == Policy::NoTerminal;
                declined |= !approved && policy == Policy::Ask;
                // The answer moves the execution on: look again at once.
                continue;
            }
            // One the console cannot answer would keep it waiting for nothing.
            Some(Err(why)) => return Err(CliError::Console(why)),
            _ => {}
        }
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
        failures = 0;
        if *d.status() != ExecutionStatus::Running {
            let after = events.last().map_or(0, |e| e.id);
            for e in history::events_after(&console.sfn, arn, after).await? {
                if let Some(note) = progress.apply(&e) {
                    out.line(note);
                }
            }
            out.close();
            let status = d.status().as_str().to_string();
            let output: Option<Value> = d.output().and_then(|o| serde_json::from_str(o).ok());
            let result = match (&output, status.as_str()) {
                (Some(o), "SUCCEEDED") if o["status"] == "rejected" => "rejected".to_string(),
                (Some(o), "SUCCEEDED") => o["step"]["summary"]["status"]
                    .as_str()
                    .unwrap_or("completed")
                    .to_string(),
                (None, "SUCCEEDED") => "completed".to_string(),
                (_, other) => other.to_lowercase(),
            };
            let seconds = d
                .stop_date()
                .map(|s| s.as_secs_f64() - d.start_date().as_secs_f64())
                .unwrap_or_else(|| begun.elapsed().as_secs_f64());
            return Ok(Outcome {
                arn: arn.to_string(),
                status,
                result,
                output,
                error: d.error().map(str::to_string),
                cause: d.cause().map(str::to_string),
                seconds,
                last: progress.take_last(),
                unconfirmed,
                declined,
            });
        }
        let (live, stable) = progress.line();
        out.progress(&stamp(begun.elapsed().as_secs_f64()), &live, &stable);
        tokio::time::sleep(poll).await;
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

/// Shows the plan, gets the answer the policy gives, and sends it; true when approved.
async fn decide(console: &Console, out: &mut Out, r: &Request, policy: Policy) -> CliResult<bool> {
    approval::show(out, r);
    let approve = match policy {
        Policy::Yes => {
            out.line(match r.workflow {
                Workflow::Failover => "approved (--yes)",
                Workflow::Failback => "approved (--yes): the cutover mark is now; stop writes to the replica if they have not stopped",
            });
            true
        }
        Policy::Ask => {
            out.close();
            let yes = confirm(r.workflow.question()).await?;
            out.line(if yes {
                "approved"
            } else {
                "not approved: rejecting, nothing is changed"
            });
            yes
        }
        Policy::NoTerminal => {
            out.line("no terminal to confirm on and no --yes: rejecting, so that the execution does not wait (nothing is changed)");
            false
        }
    };
    if let Sent::Gone(why) = approval::send(console, r, approve, "rejected by an operator").await? {
        out.line(format!(
            "this approval was already answered or has expired ({why}); following on"
        ));
    }
    Ok(approve)
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
    let lines: Vec<String> = if o.result == "rejected" {
        vec!["nothing was changed: rejected at the approval step".to_string()]
    } else if reports.is_empty() {
        // Ended without output (failed): what the last pass reported.
        o.last
            .iter()
            .flat_map(|s| report::lines(s, false))
            .collect()
    } else {
        reports
            .iter()
            .flat_map(|s| report::lines(s, false))
            .collect()
    };
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
}
