//! A local emulator of the AWS APIs efs-dr depends on: the EFS replication
//! control plane (REST-JSON), the CloudWatch subset (smithy RPC v2 CBOR), the
//! SNS subset (Query) and the AWS Backup subset (REST-JSON), with emulated
//! time, a data model, faults and a call log. One port serves every Region;
//! the Region and service come from each request's SigV4 credential scope.
//!
//! Modules by responsibility, each using only modules listed after it, so
//! there are no cycles:
//! - `server`: the HTTP front, which picks the service and Region;
//! - `control`: the control API under `/_emulator/`;
//! - `faults`: every fault and behaviour variant in one place: `faults::control`
//!   (their control routes) uses what follows, `faults::region` and
//!   `faults::variants` are leaves;
//! - `state`: `Shared`, the state the server, control API and callers share;
//! - `efs`, `cloudwatch`, `sns`, `backup`, `region_switch`: the AWS APIs, a folder each;
//! - `world`: the data model, emulated time and its agenda;
//! - `config`, `rng`, `cbor`, `http`, `error`, `arn`: leaves.

pub mod arn;
pub mod backup;
pub mod cbor;
pub mod cloudwatch;
pub mod config;
pub mod control;
pub mod efs;
pub mod error;
pub mod faults;
pub mod http;
pub mod iam;
pub mod region_switch;
pub mod rng;
pub mod server;
pub mod sns;
pub mod state;
pub mod sts;
pub mod world;

/// `efs_dr_emulator::model::LifeCycle` and the other model paths, as before
/// the world moved into its own folder.
pub use world::model;

pub use config::{Durations, Seed};
pub use error::{ApiError, EmulatorError};
pub use faults::{FaultUpdate, OutageMode, Throttle};
pub use model::ReplicationFault;
pub use server::{start, EmulatorConfig, EmulatorHandle};
pub use state::Shared;
pub use world::clock::ClockMode;
