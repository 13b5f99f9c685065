//! The mount-target-ensure request, and how it resolves against the
//! configured pairs into one target per file system, before any AWS call.

use crate::domain::config::{region_of, Config};
use crate::domain::error::{Error, Result};
use crate::domain::ids::{FileSystemId, FileSystemRef, RegionName};
use crate::domain::model::{AccessPointSpec, MountTargetSpec};
use crate::domain::modes::{Mode, RunMode};
use crate::domain::parse;
use serde::{Deserialize, Serialize};

/// Where to copy access points from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPointSource {
    pub file_system_id: FileSystemRef,
    pub region: RegionName,
}

/// The mount-target-ensure event (direct invoke or Step Functions).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_targets: Option<Vec<MountTargetSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_points_from: Option<AccessPointSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_points: Option<Vec<AccessPointSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
    /// Polls this loop has made already (Step Functions counts them), so that
    /// step mode's `wait_seconds` grows with the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<u32>,
}

impl ReadinessRequest {
    pub fn from_json(value: serde_json::Value) -> Result<ReadinessRequest> {
        parse::request(
            "mount-target-ensure",
            value,
            "file_system_id, region, mount_targets, \
             access_points_from {file_system_id, region}, access_points, prune, mode (plan|execute), wait, run_mode, poll",
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum AccessPointsWanted {
    None,
    CopyFrom {
        file_system_id: FileSystemId,
        region: RegionName,
        /// The source's account when it is another one (named by ARN).
        account: Option<crate::domain::ids::AccountId>,
    },
    Explicit(Vec<AccessPointSpec>),
}

/// One file system to make ready, fully resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadinessTarget {
    pub file_system_id: FileSystemId,
    pub region: RegionName,
    pub mount_targets: Vec<MountTargetSpec>,
    /// `mount_targets: []` given on purpose (in the request or on the pair):
    /// a replica without mount targets is then ready, not merely unconfigured.
    pub no_mount_targets_wanted: bool,
    pub access_points: AccessPointsWanted,
    pub prune: bool,
    pub mode: Mode,
    pub wait: bool,
}

/// Merges the request with the configured pairs: by default every configured
/// replica, with the configured mount targets and its source's access points.
pub fn resolve(request: &ReadinessRequest, config: &Config) -> Result<Vec<ReadinessTarget>> {
    if request.access_points_from.is_some() && request.access_points.is_some() {
        return Err(Error::InvalidInput(
            "give access_points_from or access_points, not both".into(),
        ));
    }
    let mode = request.mode.unwrap_or(config.default_mode);
    let prune = request.prune.unwrap_or(false);
    let wait = request.wait.unwrap_or(true);
    let explicit_aps = || match (&request.access_points_from, &request.access_points) {
        (Some(from), _) => AccessPointsWanted::CopyFrom {
            account: from.file_system_id.arn_account.clone(),
            file_system_id: from.file_system_id.id.clone(),
            region: from
                .file_system_id
                .arn_region
                .clone()
                .unwrap_or_else(|| from.region.clone()),
        },
        (None, Some(list)) => AccessPointsWanted::Explicit(list.clone()),
        (None, None) => AccessPointsWanted::None,
    };
    let mut targets = Vec::new();
    if let Some(fs) = &request.file_system_id {
        let region = region_of(fs, request.region.as_ref(), "file_system_id")?
            .or_else(|| config.destination_region.clone())
            .ok_or_else(|| {
                Error::InvalidInput("region is required (the Region of file_system_id)".into())
            })?;
        targets.push(ReadinessTarget {
            file_system_id: fs.id.clone(),
            region,
            mount_targets: request
                .mount_targets
                .clone()
                .unwrap_or_else(|| config.mount_targets.clone()),
            no_mount_targets_wanted: request.mount_targets.as_ref().is_some_and(Vec::is_empty),
            access_points: explicit_aps(),
            prune,
            mode,
            wait,
        });
    } else {
        if config.pairs.is_empty() {
            return Err(Error::InvalidInput(
                "no file system named: give file_system_id and region in the event, or configure EFS_DR_PAIRS".into(),
            ));
        }
        for p in &config.pairs {
            let dest = p.destination_file_system_id.as_ref().ok_or_else(|| {
                Error::InvalidInput(format!(
                    "the configured pair of {} has no destination_file_system_id: the readiness check needs the replica's ID",
                    p.source_file_system_id.id
                ))
            })?;
            let region = dest
                .arn_region
                .clone()
                .or_else(|| p.destination_region.clone())
                .or_else(|| config.destination_region.clone())
                .ok_or_else(|| {
                    Error::InvalidInput(
                        "the DR Region is not configured (EFS_DR_DESTINATION_REGION or AWS_REGION)"
                            .into(),
                    )
                })?;
            let source_region = p
                .source_file_system_id
                .arn_region
                .clone()
                .or_else(|| p.source_region.clone())
                .or_else(|| config.source_region.clone());
            let access_points = match (explicit_aps(), source_region) {
                (AccessPointsWanted::None, Some(sr)) => AccessPointsWanted::CopyFrom {
                    account: p.source_file_system_id.arn_account.clone(),
                    file_system_id: p.source_file_system_id.id.clone(),
                    region: sr,
                },
                (other, _) => other,
            };
            targets.push(ReadinessTarget {
                file_system_id: dest.id.clone(),
                region,
                mount_targets: request
                    .mount_targets
                    .clone()
                    .or_else(|| p.mount_targets.clone())
                    .unwrap_or_else(|| config.mount_targets.clone()),
                no_mount_targets_wanted: request
                    .mount_targets
                    .as_ref()
                    .or(p.mount_targets.as_ref())
                    .is_some_and(Vec::is_empty),
                access_points,
                prune,
                mode,
                wait,
            });
        }
    }
    for t in &targets {
        if t.prune && t.mount_targets.is_empty() {
            return Err(Error::InvalidInput(format!(
                "prune needs the list of mount targets to keep (mount_targets) for {}; with none given it would delete them all",
                t.file_system_id
            )));
        }
    }
    Ok(targets)
}
