//! Every integration suite of this crate in one test binary: the AWS SDK
//! stack is linked once instead of once per suite.

mod common;
mod composite;
mod cross_account;
mod detection;
mod events;
mod failback;
mod failover;
mod fault_matrix;
mod fuzz_events;
mod guardrails;
mod iac;
mod lag;
mod preserve;
mod readiness;
mod region_switch;
mod statemachines;
mod unkind;
