//! An execution's history as the console reads it: the events after the last
//! one seen (newest first, page by page, so that a poll of a long execution
//! costs one page), reduced to what the console looks at.

use super::aws_failure;
use crate::error::CliResult;
use aws_sdk_sfn::types::HistoryEvent;

/// One history event: its type, the state it is about, and its JSON text
/// (a state's input or output, a task's parameters or output).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Event {
    pub id: i64,
    pub kind: String,
    /// Epoch seconds, as the service stamped it.
    pub at: f64,
    /// The state entered or exited.
    pub state: Option<String>,
    /// A task's resource: `invoke`, `publish`, `publish.waitForTaskToken`.
    pub resource: Option<String>,
    pub data: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Event {
    fn from_sdk(e: &HistoryEvent) -> Event {
        let mut out = Event {
            id: e.id(),
            kind: e.r#type().as_str().to_string(),
            at: e.timestamp().as_secs_f64(),
            ..Event::default()
        };
        if let Some(d) = e.state_entered_event_details() {
            out.state = Some(d.name().to_string());
            out.data = d.input().map(str::to_string);
        } else if let Some(d) = e.state_exited_event_details() {
            out.state = Some(d.name().to_string());
            out.data = d.output().map(str::to_string);
        } else if let Some(d) = e.task_scheduled_event_details() {
            out.resource = Some(d.resource().to_string());
            out.data = Some(d.parameters().to_string());
        } else if let Some(d) = e.task_succeeded_event_details() {
            out.resource = Some(d.resource().to_string());
            out.data = d.output().map(str::to_string);
        } else if let Some(d) = e.task_failed_event_details() {
            out.resource = Some(d.resource().to_string());
            out.error = d.error().map(str::to_string);
            out.cause = d.cause().map(str::to_string);
        } else if let Some(d) = e.task_timed_out_event_details() {
            out.resource = Some(d.resource().to_string());
            out.error = d.error().map(str::to_string);
            out.cause = d.cause().map(str::to_string);
        } else if let Some(d) = e.execution_succeeded_event_details() {
            out.data = d.output().map(str::to_string);
        } else if let Some(d) = e.execution_failed_event_details() {
            out.error = d.error().map(str::to_string);
            out.cause = d.cause().map(str::to_string);
        }
        out
    }
}

/// The events with an id above `after`, oldest first.
pub(crate) async fn events_after(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
    after: i64,
) -> CliResult<Vec<Event>> {
    let mut newest_first = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .max_results(if after == 0 { 1000 } else { 100 })
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws_failure("Step Functions GetExecutionHistory", &e))?;
        let mut reached = false;
        for e in page.events() {
            if e.id() <= after {
                reached = true;
                break;
            }
            newest_first.push(Event::from_sdk(e));
        }
        match page.next_token() {
            Some(t) if !reached => token = Some(t.to_string()),
            _ => break,
        }
    }
    newest_first.reverse();
    Ok(newest_first)
}

/// The events that end a wait for an answer: the task's answer (success,
/// failure, time-out), the state's exit, or the execution's end.
const ANSWERS: [&str; 10] = [
    "TaskSucceeded",
    "TaskFailed",
    "TaskTimedOut",
    "TaskSubmitFailed",
    "TaskStartFailed",
    "TaskStateExited",
    "ExecutionSucceeded",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "ExecutionAborted",
];

/// The approval an execution waits for: the last task-token request with no
/// answer after it (success, failure, time-out or the state's exit).
pub(crate) fn waiting(events: &[Event]) -> Option<&Event> {
    let at = events.iter().rposition(|e| {
        e.kind == "TaskScheduled" && e.resource.as_deref() == Some("publish.waitForTaskToken")
    })?;
    let answered = events[at + 1..]
        .iter()
        .any(|e| ANSWERS.contains(&e.kind.as_str()));
    if answered {
        None
    } else {
        events.get(at)
    }
}

/// What ended the wait of the request `request_id`, for a person, from the
/// events after it; none while it still waits.
pub(crate) fn answer_after(events: &[Event], request_id: i64) -> Option<String> {
    let e = events
        .iter()
        .find(|e| e.id > request_id && ANSWERS.contains(&e.kind.as_str()))?;
    Some(match e.kind.as_str() {
        "TaskSucceeded" => "the approval was answered elsewhere: approved".to_string(),
        "TaskFailed" if e.error.as_deref() == Some("Rejected") => {
            "the approval was answered elsewhere: rejected".to_string()
        }
        "TaskTimedOut" => "the approval expired (nobody answered in time)".to_string(),
        "TaskFailed" | "TaskSubmitFailed" | "TaskStartFailed" => format!(
            "the approval request failed ({})",
            e.error.as_deref().unwrap_or("no error given")
        ),
        "TaskStateExited" => "the approval step was left".to_string(),
        other => format!(
            "the execution ended ({})",
            other.trim_start_matches("Execution").to_lowercase()
        ),
    })
}

/// The state an event belongs to: the last state entered at or before it.
pub(crate) fn state_of<'a>(events: &'a [Event], event: &Event) -> Option<&'a str> {
    events
        .iter()
        .rfind(|e| e.id <= event.id && e.kind.ends_with("StateEntered"))
        .and_then(|e| e.state.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, kind: &str, state: Option<&str>, resource: Option<&str>) -> Event {
        Event {
            id,
            kind: kind.into(),
            state: state.map(str::to_string),
            resource: resource.map(str::to_string),
            ..Event::default()
        }
    }

    #[test]
    fn a_token_request_waits_until_answered() {
        let mut events = vec![
            ev(1, "ExecutionStarted", None, None),
            ev(2, "TaskStateEntered", Some("WaitForApproval"), None),
            ev(3, "TaskScheduled", None, Some("publish.waitForTaskToken")),
        ];
        assert_eq!(waiting(&events).map(|e| e.id), Some(3));
        assert_eq!(state_of(&events, &events[2]), Some("WaitForApproval"));
        events.push(ev(
            4,
            "TaskSucceeded",
            None,
            Some("publish.waitForTaskToken"),
        ));
        assert!(waiting(&events).is_none());
        assert_eq!(
            answer_after(&events, 3).as_deref(),
            Some("the approval was answered elsewhere: approved")
        );
        assert!(answer_after(&events[..3], 3).is_none());
        let rejected = Event {
            id: 4,
            kind: "TaskFailed".into(),
            error: Some("Rejected".into()),
            ..Event::default()
        };
        assert_eq!(
            answer_after(&[rejected], 3).as_deref(),
            Some("the approval was answered elsewhere: rejected")
        );
        // A Lambda task is no approval.
        let lambda = vec![ev(1, "TaskScheduled", None, Some("invoke"))];
        assert!(waiting(&lambda).is_none());
    }
}
