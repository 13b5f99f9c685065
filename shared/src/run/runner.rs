//! Two ways to run a workflow: one reconcile pass (Step Functions loops with
//! Wait states, so no Lambda is billed for sleeping), or passes until done or
//! until the invocation's deadline minus a margin.

use crate::domain::config::Config;
use crate::domain::error::{Error, Result};
use crate::domain::modes::RunMode;
use crate::domain::ports::Clock;
use crate::domain::time::Backoff;
use crate::run::report::{Report, ReportError, Status};

use std::time::Duration;

/// What one pass concluded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pass {
    Done,
    /// AWS is mid-transition; look again after the poll interval.
    Wait,
    /// Nothing more to do until a person (or a state machine) says so.
    Paused,
}

pub trait Workflow: Send {
    fn pass(&mut self) -> impl std::future::Future<Output = Result<Pass>> + Send;
    fn report(&mut self) -> &mut Report;
    /// The longest poll interval worth using in the phase the last pass reached:
    /// phases that take hours (a full sync, a backup) poll rarely, so that a
    /// state machine's history stays small; `None` keeps the configured cap.
    fn max_wait(&self) -> Option<Duration> {
        None
    }
}

#[derive(Clone, Debug)]
pub struct RunLimits {
    pub mode: RunMode,
    /// Time left in the invocation, from `Clock::monotonic` at the start.
    pub remaining: Option<Duration>,
    /// Stop this long before the deadline to return a report in time.
    pub margin: Duration,
    pub backoff: Backoff,
    /// Polls already made in this loop by earlier invocations (a state
    /// machine counts them), so that step mode's waits keep growing.
    pub poll: u32,
    /// Bounds how many workflows make their AWS calls at once; one that
    /// waits (for a promotion, say) holds no permit, so a Region's worth of
    /// pairs waits side by side instead of in batches.
    pub passes: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            mode: RunMode::ToCompletion,
            remaining: None,
            margin: Duration::from_secs(10),
            backoff: Backoff::default(),
            poll: 0,
            passes: None,
        }
    }
}

impl RunLimits {
    /// The limits of one invocation: the request's run mode, the time it has
    /// left, and the configured margin and poll intervals.
    pub fn for_run(
        mode: Option<RunMode>,
        poll: Option<u32>,
        remaining: Option<Duration>,
        config: &Config,
    ) -> Self {
        RunLimits {
            mode: mode.unwrap_or_default(),
            remaining,
            margin: config.margin,
            backoff: config.backoff.clone(),
            poll: poll.unwrap_or(0),
            passes: None,
        }
    }

    /// The wait before poll number `n` of a loop. In step mode a phase's own
    /// longer bound applies (it keeps Step Functions' history small); a run
    /// to completion keeps the configured cap: its waits are billed, and a
    /// long sleep would only eat the invocation's time.
    fn poll_wait(&self, n: u32, phase_cap: Option<Duration>) -> Duration {
        let cap = match phase_cap {
            Some(c) if self.mode == RunMode::Step => c.max(self.backoff.max),
            _ => self.backoff.max,
        };
        Backoff {
            initial: self.backoff.initial,
            max: cap,
        }
        .nth(n)
    }
}

/// Drives a workflow and leaves the outcome in its report.
/// Transient AWS failures (throttling, 5xx, no answer) are retried while time allows.
pub async fn drive<W: Workflow, C: Clock>(workflow: &mut W, clock: &C, limits: &RunLimits) {
    let start = clock.monotonic();
    let deadline = limits
        .remaining
        .map(|r| start + r.saturating_sub(limits.margin));
    let mut polls = 0u32;
    let mut failures = 0u32;
    loop {
        let result = match &limits.passes {
            Some(passes) => {
                let _permit = passes.acquire().await;
                workflow.pass().await
            }
            None => workflow.pass().await,
        };
        let wait = match result {
            Ok(Pass::Done) => {
                let r = workflow.report();
                if r.status == Status::InProgress {
                    r.status = Status::Completed;
                }
                r.wait_seconds = None;
                break;
            }
            Ok(Pass::Paused) => {
                let r = workflow.report();
                r.status = Status::InProgress;
                r.wait_seconds = None;
                break;
            }
            Ok(Pass::Wait) => {
                polls += 1;
                failures = 0;
                limits.poll_wait(limits.poll.saturating_add(polls - 1), workflow.max_wait())
            }
            // Without a deadline, transient failures are retried a bounded number of times.
            Err(e)
                if e.is_transient()
                    && limits.mode == RunMode::ToCompletion
                    && (deadline.is_some() || failures < 8) =>
            {
                failures += 1;
                let r = workflow.report();
                r.warn(format!("retrying after a transient AWS failure: {e}"));
                jittered(limits.backoff.nth(failures))
            }
            Err(e) => {
                record_error(workflow.report(), &e);
                break;
            }
        };
        let r = workflow.report();
        r.wait_seconds = Some(wait.as_secs_f64());
        if limits.mode == RunMode::Step {
            r.status = Status::InProgress;
            break;
        }
        if let Some(deadline) = deadline {
            if clock.monotonic() + wait > deadline {
                r.status = Status::InProgress;
                r.next(format!(
                    "time ran out in phase '{}': invoke again with the same input to continue from the observed state",
                    r.phase
                ));
                break;
            }
        }
        clock.sleep(wait).await;
    }
    let now = clock.now();
    workflow.report().finish(now);
}

/// Between half and all of `d`: many workflows throttled at once must not retry in step.
fn jittered(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    d.mul_f64(0.5 + (r % 1000) as f64 / 2000.0)
}

pub fn record_error(report: &mut Report, e: &Error) {
    report.status = match e {
        Error::Refused(r) => {
            report.next(r.remedy.clone());
            Status::Refused
        }
        _ => Status::Failed,
    };
    report.error = Some(ReportError {
        error_type: e.error_type(),
        message: e.to_string(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_with_the_poll_count_up_to_the_phase_s_bound_in_step_mode_only() {
        let step = RunLimits {
            mode: RunMode::Step,
            ..RunLimits::default()
        };
        let long = Some(Duration::from_secs(600));
        assert_eq!(step.poll_wait(0, long), Duration::from_secs(5));
        assert!(step.poll_wait(5, long) > step.poll_wait(4, long));
        assert_eq!(step.poll_wait(12, None), Duration::from_secs(30));
        assert_eq!(step.poll_wait(20, long), Duration::from_secs(600));
        let to_completion = RunLimits::default();
        assert_eq!(to_completion.poll_wait(20, long), Duration::from_secs(30));
    }
}
