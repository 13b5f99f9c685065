//! Two independent choices every run makes, named apart because both are
//! "modes" in the request (`mode` and `run_mode`).

use serde::{Deserialize, Serialize};

/// What a run may do: `mode: plan|execute`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Observe and report what would be done; no mutating call.
    Plan,
    Execute,
}

/// How a run uses its invocation: `run_mode: to_completion|step`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Loop inside the invocation until done or out of time.
    #[default]
    ToCompletion,
    /// One reconcile pass; the caller waits `wait_seconds` and calls again.
    Step,
}
