//! How a workflow is run: event intake, the runner that drives reconcile
//! passes, the report of one file system and the summary of a run.

pub mod intake;
pub use efs_dr_core::report;
pub mod runner;
pub mod summary;
