//! Approvals: the task-token requests the Failover and Failback state
//! machines publish (`sns:publish.waitForTaskToken`), read back from the
//! execution history as the stack's PendingApprovalsCommand reads them, their
//! plans shown, and answered: approve is SendTaskSuccess with output `{}`,
//! reject is SendTaskFailure with error `Rejected`, which the machines catch
//! and end in their Rejected state: a failover before anything is changed, a
//! failback before its cutover (after the reverse sync has run).

use super::history::{self, Event};
use super::report;
use super::{ask, aws_failure, stdin_is_terminal, Asked, Console, Out, Target, Workflow};
use crate::error::{CliError, CliResult};
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;
use std::time::Duration;

pub(crate) const NO_TERMINAL: &str =
    "no terminal to confirm on: read the plan above and run again with --yes";

/// One request for approval, as its notification carries it.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub execution_arn: String,
    pub workflow: Workflow,
    pub event_id: i64,
    /// When it was asked (epoch seconds).
    pub since: f64,
    pub state: Option<String>,
    pub subject: String,
    pub token: String,
    /// The report the approver judges: the preflight plan (failover) or the
    /// in-sync report (failback).
    pub plan: Option<Value>,
}

/// The approval `events` wait for: none, or one that is readable or not.
pub(crate) fn request(
    workflow: Workflow,
    execution_arn: &str,
    events: &[Event],
) -> Option<Result<Request, String>> {
    let e = history::waiting(events)?;
    let unreadable = |why: &str| {
        Err(format!(
            "{} {} waits for an approval the console cannot read ({why}): answer it with the commands of its notification on the alerts topic",
            workflow.title(),
            short_name(execution_arn)
        ))
    };
    let Some(parameters) = e
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
    else {
        return Some(unreadable("its parameters are not JSON"));
    };
    let message = parameters["Message"].as_str().unwrap_or_default();
    let Some(token) = token_in(message) else {
        return Some(unreadable("no --task-token in its message"));
    };
    Some(Ok(Request {
        execution_arn: execution_arn.to_string(),
        workflow,
        event_id: e.id,
        since: e.at,
        state: history::state_of(events, e).map(str::to_string),
        subject: parameters["Subject"]
            .as_str()
            .unwrap_or("approval requested")
            .to_string(),
        token,
        plan: plan_in(message),
    }))
}

/// The token the printed commands pass: `--task-token '<TOKEN>'`.
fn token_in(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("--task-token '")?;
    let (token, _) = rest.split_once('\'')?;
    (!token.is_empty()).then(|| token.to_string())
}

/// The JSON report after "Plan (JSON):" (failover) or "Report (JSON):" (failback).
fn plan_in(message: &str) -> Option<Value> {
    let (_, rest) = message
        .split_once("Plan (JSON):\n")
        .or_else(|| message.split_once("Report (JSON):\n"))?;
    serde_json::Deserializer::from_str(rest)
        .into_iter::<Value>()
        .next()?
        .ok()
}

/// The last segment of an execution ARN: its name.
pub(crate) fn short_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

pub(crate) fn show(out: &mut Out, r: &Request) {
    out.line(format!(
        "{} {} waits for approval ({}): {}",
        r.workflow.title(),
        short_name(&r.execution_arn),
        r.state.as_deref().unwrap_or("approval step"),
        r.subject
    ));
    match &r.plan {
        Some(plan) => {
            for line in report::lines(plan, true) {
                out.line(format!("  {line}"));
            }
        }
        None => out.line("  (no report in the request: read its notification on the alerts topic)"),
    }
    if r.workflow == Workflow::Failback {
        // In a failback report the source is the replica, written to during the outage.
        let replica = r.plan.as_ref().and_then(|p| {
            p["results"][0]["source"]["file_system_id"]
                .as_str()
                .map(str::to_string)
        });
        out.line(format!(
            "  Before approving: stop all writes to the replica {}. The approval time is the cutover mark: the cutover waits until everything written before it is on the original.",
            replica.as_deref().unwrap_or("(see the report)")
        ));
    }
}

/// What became of an answer.
pub(crate) enum Sent {
    Done,
    /// Someone answered first, or the request expired: nothing to do.
    Gone(String),
}

pub(crate) async fn send(
    console: &Console,
    r: &Request,
    approve: bool,
    cause: &str,
) -> CliResult<Sent> {
    if approve {
        let sent = console
            .sfn
            .send_task_success()
            .task_token(&r.token)
            .output("{}")
            .send()
            .await
            .map(|_| ());
        settle("Step Functions SendTaskSuccess", sent)
    } else {
        let sent = console
            .sfn
            .send_task_failure()
            .task_token(&r.token)
            .error("Rejected")
            .cause(cause)
            .send()
            .await
            .map(|_| ());
        settle("Step Functions SendTaskFailure", sent)
    }
}

fn settle<E, R>(call: &str, sent: Result<(), SdkError<E, R>>) -> CliResult<Sent>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match sent {
        Ok(()) => Ok(Sent::Done),
        Err(e)
            if matches!(
                e.code(),
                Some("TaskDoesNotExist" | "TaskTimedOut" | "InvalidToken")
            ) =>
        {
            Ok(Sent::Gone(
                e.message()
                    .or(e.code())
                    .unwrap_or("the task is gone")
                    .to_string(),
            ))
        }
        Err(e) => Err(aws_failure(call, &e)),
    }
}

/// Resolves, with the reason, once `r` no longer waits: answered elsewhere,
/// expired, or its execution ended. Looks every `poll`; a look that fails is
/// no answer, and the question stays.
pub(crate) async fn gone(console: &Console, r: &Request, poll: Duration) -> String {
    loop {
        tokio::time::sleep(poll).await;
        if let Ok(after) = history::events_after(&console.sfn, &r.execution_arn, r.event_id).await {
            if let Some(why) = history::answer_after(&after, r.event_id) {
                return why;
            }
        }
        // An end the history does not show (yet) is an end too.
        if let Ok(d) = console
            .sfn
            .describe_execution()
            .execution_arn(&r.execution_arn)
            .send()
            .await
        {
            if *d.status() != ExecutionStatus::Running {
                return format!(
                    "the execution ended ({})",
                    d.status().as_str().to_lowercase()
                );
            }
        }
    }
}

/// What a rejection of `workflow` at its approval leaves, for a person.
pub(crate) fn rejection_leaves(workflow: Workflow) -> &'static [&'static str] {
    match workflow {
        Workflow::Failover => &["nothing was changed: rejected at the approval step, before the promotion"],
        Workflow::Failback => &[
            "rejected at the cutover approval: the cutover was not made, but the reverse sync ran",
            "the original is a read-only destination of the reverse replication, kept in sync with the replica (anything only it held was preserved before it was overwritten)",
            "the original direction was not restored: the replica stays the writable primary; keep clients on it",
            "to fail back later: efs-dr failback again (it finds the pair in sync and asks for the cutover again)",
        ],
    }
}

/// How long `efs-dr approve` waits between looks at the execution it asks about.
const APPROVE_POLL: Duration = Duration::from_secs(2);

/// `efs-dr approve` / `efs-dr reject`.
#[derive(Clone, Debug, Default)]
pub struct AnswerOptions {
    pub target: Target,
    /// The execution to answer (its ARN or name) when several wait.
    pub execution: Option<String>,
    /// Approve without asking.
    pub yes: bool,
    /// Added to a rejection's cause.
    pub reason: Option<String>,
}

/// Every RUNNING Failover or Failback execution of the stack that waits for
/// approval; the unreadable ones as messages.
async fn waiting_requests(console: &Console) -> CliResult<(Vec<Request>, Vec<String>, usize)> {
    let (mut requests, mut unreadable, mut running) = (Vec::new(), Vec::new(), 0);
    for workflow in Workflow::ALL {
        let machine = console.stack.machine(workflow)?.to_string();
        let mut token: Option<String> = None;
        loop {
            let page = console
                .sfn
                .list_executions()
                .state_machine_arn(&machine)
                .status_filter(ExecutionStatus::Running)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_failure("Step Functions ListExecutions", &e))?;
            for x in page.executions() {
                running += 1;
                let events = history::events_after(&console.sfn, x.execution_arn(), 0).await?;
                match request(workflow, x.execution_arn(), &events) {
                    Some(Ok(r)) => requests.push(r),
                    Some(Err(why)) => unreadable.push(why),
                    None => {}
                }
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
    }
    Ok((requests, unreadable, running))
}

/// Answers the one request that waits (or the one `--execution` names).
pub async fn answer(approve: bool, opts: AnswerOptions) -> CliResult<bool> {
    let console = Console::connect(&opts.target).await?;
    let mut out = Out::new(false);
    let (requests, unreadable, running) = waiting_requests(&console).await?;
    for why in &unreadable {
        out.line(format!("note: {why}"));
    }
    let chosen: Vec<&Request> = match &opts.execution {
        Some(x) => requests
            .iter()
            .filter(|r| r.execution_arn == *x || short_name(&r.execution_arn) == x.as_str())
            .collect(),
        None => requests.iter().collect(),
    };
    let r = match chosen.as_slice() {
        [one] => *one,
        [] => {
            return Err(CliError::Console(match &opts.execution {
                Some(x) => format!(
                    "execution {x} is not a Failover or Failback execution of stack {} waiting for approval ({} waiting): run without --execution to list them",
                    console.stack.name,
                    requests.len()
                ),
                None => format!(
                    "nothing to {}: no Failover or Failback execution of stack {} in {} waits for approval ({running} running)",
                    if approve { "approve" } else { "reject" },
                    console.stack.name,
                    console.stack.region
                ),
            }))
        }
        several => {
            for r in several {
                out.line(format!(
                    "{} {} ({}), waiting since {}: {}",
                    r.workflow.title(),
                    short_name(&r.execution_arn),
                    r.execution_arn,
                    efs_dr_shared::domain::time::iso8601(r.since),
                    r.subject
                ));
            }
            return Err(CliError::Console(format!(
                "{} executions wait for approval: pick one with --execution ARN (or its name)",
                several.len()
            )));
        }
    };
    show(&mut out, r);
    if approve && !opts.yes {
        if !stdin_is_terminal() {
            return Err(CliError::Console(NO_TERMINAL.into()));
        }
        match ask(r.workflow.question(), gone(&console, r, APPROVE_POLL)).await? {
            Asked::Yes => {}
            Asked::No => {
                out.line("not approved: the execution still waits (efs-dr reject to end it)");
                return Ok(false);
            }
            Asked::Gone(why) => {
                out.line(format!(
                    "{why}: not asking any more, nothing was sent (follow it in the Step Functions console)"
                ));
                return Ok(false);
            }
        }
    }
    let cause = match &opts.reason {
        Some(reason) => format!("rejected by an operator: {reason}"),
        None => "rejected by an operator".to_string(),
    };
    let name = short_name(&r.execution_arn);
    match send(&console, r, approve, &cause).await? {
        Sent::Done if approve => {
            out.line(format!(
                "approved: {name} goes on; its report goes to the alerts topic ({})",
                r.workflow.title()
            ));
            Ok(true)
        }
        Sent::Done => {
            out.line(format!(
                "rejected: {name} ends in its Rejected state; {}",
                rejection_leaves(r.workflow).join("; ")
            ));
            Ok(true)
        }
        Sent::Gone(why) => Err(CliError::Console(format!(
            "{name} no longer waits for this approval ({why}): answered by someone else, or expired: this answer was not delivered"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_carries_the_token_and_the_plan() {
        let message = "A failover is planned.\n\nTo approve:\n  aws stepfunctions send-task-success --region us-west-2 --task-output '{}' --task-token 'AAAA+token/1=='\n\nPlan (JSON):\n{\"status\":\"planned\",\"summary\":\"efs-dr failover plan: fs-2 (us-west-2)\",\"results\":[]}";
        assert_eq!(token_in(message).as_deref(), Some("AAAA+token/1=="));
        let plan = plan_in(message).unwrap_or_default();
        assert_eq!(plan["status"], "planned");
        assert_eq!(
            report::lines(&plan, true),
            vec!["efs-dr failover plan: fs-2 (us-west-2)".to_string()]
        );
        assert!(token_in("no token here").is_none());
        assert_eq!(
            short_name("arn:aws:states:us-west-2:1:execution:m:run-1"),
            "run-1"
        );
    }
}
