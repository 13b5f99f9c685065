//! Every integration suite of this crate in one test binary: the AWS SDK
//! stack is linked once instead of once per suite.

mod accounts;
mod cloudwatch_sns_api;
mod common;
mod efs_api;
mod faults_and_calls;
mod time;
mod unkind;
