//! efs-dr's core, the lowest layer: identifiers, the model, errors, tags, the
//! ports the workflows talk to, time, modes, configuration, and the report a
//! run produces. It depends on no AWS SDK and no runtime, so the compiler
//! keeps the workflows (`efs-dr-shared`) and the adapters (`efs-dr-aws`) above it.

pub mod domain;
pub mod report;

pub use domain::error::{Error, Result};
