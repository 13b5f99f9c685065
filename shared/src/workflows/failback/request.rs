//! The failback request: its fields, and how it resolves against the
//! configured pairs into one target, before any AWS call.

use crate::domain::config::{region_of, AssumedRole, Config, PairConfig};
use crate::domain::error::{Error, Result};
use crate::domain::ids::{AccountId, FileSystemId, FileSystemRef, RegionName};
use crate::domain::model::MountTargetSpec;
use crate::domain::modes::{Mode, RunMode};
use crate::domain::parse;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Reverse-replicate the outage's writes into the original, then restore the original direction.
    #[default]
    KeepChanges,
    /// Re-create original -> replica, overwriting what was written on the replica.
    DiscardChanges,
    /// The original is gone: replicate into a new file system in the original Region, then as keep_changes.
    NewFileSystem,
}

/// What to do with writes only the file system about to be overwritten holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preserve {
    /// Back it up when CloudWatch shows writes since the two last matched, or cannot tell.
    #[default]
    Auto,
    /// Back it up whatever CloudWatch shows.
    Always,
    /// Overwrite without a copy (needs acknowledge_data_loss); the report counts the bytes.
    Never,
}

pub use crate::domain::time::TimeValue;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailbackRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Go on past "in sync" and switch back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutover: Option<bool>,
    /// When writes to the promoted replica stopped (epoch seconds or ISO 8601); default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutover_mark: Option<TimeValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve: Option<Preserve>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge_data_loss: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Mount targets the original must have in its Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_mount_targets: Option<Vec<MountTargetSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
    /// Polls this loop has made already (Step Functions counts them), so that
    /// step mode's `wait_seconds` grows with the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set by an ARC Region switch step: the execution is read again before
    /// every pass, and a cancelled or paused one stops the failback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_switch_execution: Option<crate::workflows::region_switch::ExecutionRef>,
}

impl FailbackRequest {
    pub fn from_json(value: serde_json::Value) -> Result<FailbackRequest> {
        parse::request(
            "failback",
            value,
            "original_file_system_id, original_region, replica_file_system_id, replica_region, \
             strategy (keep_changes|discard_changes|new_file_system), mode (plan|execute), cutover, cutover_mark, \
             preserve (auto|always|never), acknowledge_data_loss, force, original_mount_targets, run_mode, poll, reason, region_switch_execution",
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FailbackTarget {
    pub original_id: Option<FileSystemId>,
    pub original_region: RegionName,
    pub replica_id: FileSystemId,
    pub replica_region: RegionName,
    pub strategy: Strategy,
    pub mode: Mode,
    pub cutover: bool,
    pub cutover_mark: Option<f64>,
    pub force: bool,
    pub mount_targets: Vec<MountTargetSpec>,
    pub reason: Option<String>,
    pub preserve: Preserve,
    /// Where preserved writes go: the configured vault and the role AWS Backup assumes.
    pub backup_vault: String,
    pub backup_role_arn: Option<String>,
    pub region_switch: Option<crate::workflows::region_switch::ExecutionRef>,
    /// The original's account, when its ARN names one (a pair across accounts).
    pub original_account: Option<AccountId>,
    pub source_account_role: Option<AssumedRole>,
    pub replication_role_arn: Option<String>,
    pub source_replication_role_arn: Option<String>,
    pub source_backup_role_arn: Option<String>,
}

pub fn resolve(request: &FailbackRequest, config: &Config) -> Result<FailbackTarget> {
    let strategy = request.strategy.unwrap_or_default();
    let preserve = request.preserve.unwrap_or_default();
    if preserve == Preserve::Never && request.acknowledge_data_loss != Some(true) {
        return Err(Error::InvalidInput(
            "preserve: never overwrites, without a copy, whatever the overwritten file system alone holds: \
             set acknowledge_data_loss: true to confirm, or use preserve: auto (the default)"
                .into(),
        ));
    }
    if strategy == Strategy::DiscardChanges && request.acknowledge_data_loss != Some(true) {
        return Err(Error::InvalidInput(
            "strategy discard_changes overwrites everything written on the replica since the failover: \
             set acknowledge_data_loss: true to confirm, or use keep_changes (the default)"
                .into(),
        ));
    }
    let configured: Option<&PairConfig> = match (&request.original_file_system_id, &request.replica_file_system_id) {
        (Some(o), _) => config.pairs.iter().find(|p| p.source_file_system_id.id == o.id),
        (None, Some(r)) => config.pairs.iter().find(|p| p.destination_file_system_id.as_ref().is_some_and(|d| d.id == r.id)),
        (None, None) if config.pairs.len() == 1 => config.pairs.first(),
        (None, None) if config.pairs.is_empty() => {
            return Err(Error::InvalidInput(
                "no file system named: give original_file_system_id, original_region, replica_file_system_id and replica_region, or configure EFS_DR_PAIRS".into(),
            ))
        }
        (None, None) => {
            return Err(Error::InvalidInput(format!(
                "{} pairs are configured: name the one to fail back (original_file_system_id or replica_file_system_id)",
                config.pairs.len()
            )))
        }
    };
    let original = request
        .original_file_system_id
        .clone()
        .or_else(|| configured.map(|p| p.source_file_system_id.clone()));
    let replica = request
        .replica_file_system_id
        .clone()
        .or_else(|| configured.and_then(|p| p.destination_file_system_id.clone()))
        .ok_or_else(|| {
            Error::InvalidInput(
                "replica_file_system_id is required (the file system promoted by the failover)"
                    .into(),
            )
        })?;
    let original_region = match &original {
        Some(o) => region_of(
            o,
            request
                .original_region
                .as_ref()
                .or(configured.and_then(|p| p.source_region.as_ref()))
                .or(config.source_region.as_ref()),
            "original_file_system_id",
        )?,
        None => request
            .original_region
            .clone()
            .or_else(|| config.source_region.clone()),
    }
    .ok_or_else(|| Error::InvalidInput("original_region is required".into()))?;
    let replica_region = region_of(
        &replica,
        request
            .replica_region
            .as_ref()
            .or(configured.and_then(|p| p.destination_region.as_ref()))
            .or(config.destination_region.as_ref()),
        "replica_file_system_id",
    )?
    .ok_or_else(|| Error::InvalidInput("replica_region is required".into()))?;
    if original.is_none() && strategy != Strategy::NewFileSystem {
        return Err(Error::InvalidInput(
            "original_file_system_id is required, unless strategy is new_file_system (the original is gone)".into(),
        ));
    }
    let cutover_mark = request
        .cutover_mark
        .as_ref()
        .map(|t| t.epoch("cutover_mark"))
        .transpose()?;
    if request.cutover == Some(true)
        && cutover_mark.is_none()
        && request.run_mode == Some(RunMode::Step)
    {
        return Err(Error::InvalidInput(
            "cutover in step mode needs cutover_mark (when writes to the replica stopped): each step is a new invocation, \
             so \"now\" would move with every step"
                .into(),
        ));
    }
    if cutover_mark.is_some() && request.cutover != Some(true) {
        return Err(Error::InvalidInput(
            "cutover_mark is only used with cutover: true".into(),
        ));
    }
    // Named by bare ID, the original still has the configured pair's account.
    let original_account = original.as_ref().and_then(|o| {
        o.arn_account.clone().or_else(|| {
            config
                .pairs
                .iter()
                .find(|p| p.source_file_system_id.id == o.id)
                .and_then(|p| p.source_file_system_id.arn_account.clone())
        })
    });
    Ok(FailbackTarget {
        original_account,
        source_account_role: config.source_account_role.clone(),
        replication_role_arn: config.replication_role_arn.clone(),
        source_replication_role_arn: config.source_replication_role_arn.clone(),
        source_backup_role_arn: config.source_backup_role_arn.clone(),
        original_id: original.map(|o| o.id),
        original_region,
        replica_id: replica.id,
        replica_region,
        strategy,
        mode: request.mode.unwrap_or(config.default_mode),
        cutover: request.cutover.unwrap_or(false),
        cutover_mark,
        force: request.force.unwrap_or(false),
        mount_targets: request.original_mount_targets.clone().unwrap_or_default(),
        reason: request.reason.clone(),
        preserve,
        backup_vault: config.backup_vault.clone(),
        backup_role_arn: config.backup_role_arn.clone(),
        region_switch: request.region_switch_execution.clone(),
    })
}
