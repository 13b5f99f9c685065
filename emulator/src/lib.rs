//! A local emulator of the AWS APIs efs-dr depends on: the EFS replication
//! control plane (REST-JSON), the CloudWatch subset (smithy RPC v2 CBOR) and
//! the SNS subset (Query), with emulated time, a data model, faults and a
//! call log. One port serves every Region; the Region and service come from
//! each request's SigV4 credential scope.

pub mod cbor;
pub mod clock;
pub mod cloudwatch;
pub mod config;
pub mod control;
pub mod efs;
pub mod error;
pub mod faults;
pub mod http;
pub mod model;
pub mod rng;
pub mod server;
pub mod sns;

pub use clock::ClockMode;
pub use config::{Durations, Seed};
pub use error::{ApiError, EmulatorError};
pub use faults::{FaultUpdate, OutageMode, Throttle};
pub use model::ReplicationFault;
pub use server::{start, EmulatorConfig, EmulatorHandle, Shared};
