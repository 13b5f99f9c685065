//! The emulated world: every Region's file systems, replications, mount
//! targets, access points, metrics, alarms and topics, and how they change
//! over (emulated) time.
//!
//! The data types live in files that import nothing else from the world
//! (`clock`, `metrics`, `alarms`, `topics`, `files`, `plans`) or only those
//! (`backup`); `model` gathers them into `World`; the files that change the
//! world as time passes (`agenda`, `monitoring`, `fanout`, `backup_jobs`)
//! build on `model`. The service handlers (`efs`, `cloudwatch`, `sns`,
//! `backup`), the shared state and the control API use the world; the world
//! uses none of them.

mod agenda;
pub mod alarms;
pub mod backup;
mod backup_jobs;
pub mod clock;
pub mod fanout;
pub mod files;
pub mod metrics;
pub mod model;
pub mod monitoring;
pub mod plans;
pub mod topics;
pub mod witness;
