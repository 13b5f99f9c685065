//! efs-dr: the EFS disaster-recovery workflows shared by the four Lambda
//! functions. Workflows talk to small ports (`ports`); `aws` adapts them to
//! the AWS SDK. Nothing here depends on the Lambda runtime except `lambda`,
//! behind the `lambda` feature.

pub mod alarms;
pub mod aws;
pub mod config;
pub mod error;
pub mod events;
pub mod failback;
pub mod failover;
pub mod ids;
pub mod lag;
pub mod model;
pub mod mount_targets;
pub mod ports;
pub mod readiness;
pub mod report;
pub mod runner;
pub mod summary;
pub mod tags;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(feature = "lambda")]
pub mod lambda;

pub use error::{Error, Result};
