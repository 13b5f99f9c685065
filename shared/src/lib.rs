//! efs-dr: the EFS disaster-recovery workflows shared by the four Lambda
//! functions. The folders read like the architecture:
//! - `domain`: identifiers, the model, errors, tags, the ports workflows talk
//!   to, time, modes and configuration. Depends on nothing else here.
//! - `run`: the run machinery: the runner (step or run to completion), the
//!   report, the summary with its notification, event intake.
//! - `workflows`: failover, failback, mount-target-ensure and the lag alarm
//!   handler, each a pass of observe, decide, act.
//! - `aws`: the aws-sdk adapters of the ports.
//! - `lambda`: the Lambda runtime glue, behind the `lambda` feature.

pub mod aws;
pub mod domain;
pub mod run;
pub mod workflows;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(feature = "lambda")]
pub mod lambda;

pub use domain::error::{Error, Result};
