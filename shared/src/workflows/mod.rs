//! The four workflows, one per Lambda function, and the mount target
//! reconcile they share.

pub mod discovery;
pub mod failback;
pub mod failover;
pub mod functions;
pub mod iac;
pub mod lag_alarm;
pub mod mount_target_ensure;
pub mod mount_targets;
#[cfg(test)]
mod props;
pub mod region_switch;
