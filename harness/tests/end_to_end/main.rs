//! Every integration suite of this crate in one test binary: the AWS SDK
//! stack is linked once instead of once per suite.

mod common;
mod console;
mod e2e;
mod operator_path;
mod state_machines;
