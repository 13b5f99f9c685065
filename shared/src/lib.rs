//! efs-dr's workflows, shared by the four Lambda functions: failover,
//! failback, mount-target-ensure and the lag alarm handler, each a pass of
//! observe, decide, act over the ports of `efs-dr-core`. The layers are crates:
//! - `efs-dr-core` (re-exported here as `domain` and `run::report`):
//!   identifiers, model, errors, tags, ports, time, configuration, reports.
//! - this crate: `run` (the runner, the summary, event intake) and
//!   `workflows`. It knows no AWS SDK: the adapters live in `efs-dr-aws`.

pub use efs_dr_core::domain;
pub mod run;
pub mod workflows;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use efs_dr_core::{Error, Result};
