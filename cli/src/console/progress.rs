//! What an execution is doing, read from its history events: the task state
//! it runs, the phase and status the last pass of that task reported, and the
//! wait before the next pass.

use super::history::Event;
use super::Workflow;
use serde_json::Value;
use std::time::Instant;

/// What the execution is doing, from its history.
pub(crate) struct Progress {
    workflow: Workflow,
    /// The task state running or last run (Choice and Pass states take no time).
    task: Option<String>,
    phase: Option<String>,
    status: Option<String>,
    wait_seconds: Option<u64>,
    /// In a Wait state since the console saw it enter.
    waiting: Option<Instant>,
    /// The current task's report has been read (from its Lambda result).
    fresh: bool,
    last: Option<Value>,
    noted: bool,
}

impl Progress {
    pub fn new(workflow: Workflow) -> Progress {
        Progress {
            workflow,
            task: None,
            phase: None,
            status: None,
            wait_seconds: None,
            waiting: None,
            fresh: false,
            last: None,
            noted: false,
        }
    }

    /// Takes one event in; a note for the person when there is one.
    pub fn apply(&mut self, e: &Event) -> Option<String> {
        let parsed = || {
            e.data
                .as_deref()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
        };
        match e.kind.as_str() {
            "WaitStateEntered" => {
                self.waiting = Some(Instant::now());
                None
            }
            "TaskStateEntered" => {
                self.waiting = None;
                if e.state != self.task {
                    self.phase = None;
                    self.status = None;
                    self.wait_seconds = None;
                }
                self.task = e.state.clone();
                self.fresh = false;
                None
            }
            k if k.ends_with("StateEntered") => {
                self.waiting = None;
                None
            }
            // A lambda:invoke task's result is {"Payload": <the function's RunSummary>, ...}.
            "TaskSucceeded" if e.resource.as_deref() == Some("invoke") => {
                self.take(parsed().map(|v| v["Payload"].clone()))
            }
            // Without the task's own result, the state output where ResultPath put the report.
            "TaskStateExited" if !self.fresh => {
                let name = e.state.as_deref().unwrap_or_default();
                let key = if name.contains("MountTargets") {
                    "readiness"
                } else if name == "Preflight" {
                    "preflight"
                } else {
                    "step"
                };
                self.take(parsed().map(|v| v[key]["summary"].clone()))
            }
            // Retried or caught by the state machine; worth a line either way.
            "TaskFailed" if e.resource.as_deref() == Some("invoke") => {
                let cause: String = e.cause.as_deref().unwrap_or("").chars().take(200).collect();
                Some(format!(
                    "{}: the function failed ({}: {cause}); the state machine retries or stops",
                    self.task.as_deref().unwrap_or("a task"),
                    e.error.as_deref().unwrap_or("error")
                ))
            }
            _ => None,
        }
    }

    /// The last pass's report, for an execution that ended without output.
    pub fn take_last(&mut self) -> Option<Value> {
        self.last.take()
    }

    fn take(&mut self, summary: Option<Value>) -> Option<String> {
        let s = summary.filter(|s| s["status"].is_string() && s["results"].is_array())?;
        self.fresh = true;
        self.phase = s["results"][0]["phase"].as_str().map(str::to_string);
        self.status = s["status"].as_str().map(str::to_string);
        self.wait_seconds = s["wait_seconds"].as_u64();
        // The note is about this workflow's own passes, not the mount target check.
        let own = s["workflow"].as_str() == Some(self.workflow.title().to_lowercase().as_str());
        let first_wait = !self.noted && own && s["status"] == "in_progress";
        self.last = Some(s);
        if !first_wait {
            return None;
        }
        self.noted = true;
        Some(match self.workflow {
            Workflow::Failover => "expected: several minutes in AWS until the replica is writable (AWS documents that deleting a replication configuration and making the destination writable \"can take several minutes\"), then the mount target check".to_string(),
            Workflow::Failback => "no estimate: a failback lasts as long as the reverse replication takes to copy what changed during the outage (minutes for little data, hours for a lot)".to_string(),
        })
    }

    /// The progress line: live (counting down) and stable (once per change).
    pub fn line(&self) -> (String, String) {
        let Some(task) = &self.task else {
            let s = "starting".to_string();
            return (s.clone(), s);
        };
        let base = match (&self.phase, &self.status) {
            (Some(p), Some(s)) if s != "in_progress" => format!("{task}: phase {p} ({s})"),
            (Some(p), _) => format!("{task}: phase {p}"),
            _ => format!("{task}: running"),
        };
        if self.status.as_deref() != Some("in_progress") {
            return (base.clone(), base);
        }
        // The state machines wait 10 s when a pass gives no wait_seconds.
        let wait = self.wait_seconds.unwrap_or(10);
        let stable = format!("{base}, next check in {wait} s");
        let live = match self.waiting {
            Some(since) => {
                let left = (wait as f64 - since.elapsed().as_secs_f64())
                    .max(0.0)
                    .ceil();
                format!("{base}, next check in {left} s")
            }
            None => format!("{base}, checking"),
        };
        (live, stable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lambda_result(id: i64, summary: Value) -> Event {
        Event {
            id,
            kind: "TaskSucceeded".into(),
            resource: Some("invoke".into()),
            data: Some(json!({"StatusCode": 200, "Payload": summary}).to_string()),
            ..Event::default()
        }
    }

    #[test]
    fn progress_follows_the_passes() {
        let mut p = Progress::new(Workflow::Failover);
        assert_eq!(p.line().1, "starting");
        p.apply(&Event {
            id: 1,
            kind: "TaskStateEntered".into(),
            state: Some("Promote".into()),
            ..Event::default()
        });
        assert_eq!(p.line().1, "Promote: running");
        let note = p.apply(&lambda_result(
            2,
            json!({"workflow": "failover", "status": "in_progress", "done": false, "wait_seconds": 7,
                   "results": [{"phase": "deleting_replication"}]}),
        ));
        assert!(note.is_some_and(|n| n.contains("several minutes")));
        assert_eq!(
            p.line().1,
            "Promote: phase deleting_replication, next check in 7 s"
        );
        assert_eq!(p.line().0, "Promote: phase deleting_replication, checking");
        // The note is given once.
        assert!(p
            .apply(&lambda_result(
                3,
                json!({"status": "in_progress", "results": [{"phase": "deleting_replication"}]})
            ))
            .is_none());
    }
}
