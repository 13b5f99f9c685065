//! The failover request: its fields, and how it resolves against the
//! configured pairs into one target per file system, before any AWS call.

use crate::domain::config::{region_of, Config, PairConfig};
use crate::domain::error::{Error, Result};
use crate::domain::ids::{FileSystemId, FileSystemRef, RegionName};
use crate::domain::model::{DeletionMode, MountTargetSpec};
use crate::domain::modes::{Mode, RunMode};
use crate::domain::parse;
use serde::{Deserialize, Serialize};

/// The failover event (direct invoke, SNS message, Step Functions input).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_file_system_id: Option<FileSystemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_region: Option<RegionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rpo_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_targets: Option<Vec<MountTargetSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Many file systems at once (a Region failover means all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Vec<PairConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_mode: Option<RunMode>,
    /// Polls this loop has made already (Step Functions counts them), so that
    /// step mode's `wait_seconds` grows with the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<u32>,
    /// LOCAL_CONFIGURATION_ONLY promotes without the source Region; refused
    /// while the source answers, unless `force`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_mode: Option<DeletionMode>,
    /// How long a promotion may stay DELETING with the source unreachable
    /// before it escalates to LOCAL_CONFIGURATION_ONLY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_promotion_wait_seconds: Option<u64>,
    /// Promote only once a sync has completed after this time (epoch seconds
    /// or ISO 8601), so that everything written before it is on the replica:
    /// a planned failover gives the moment writers stopped. While the source
    /// Region is silent no sync can complete, and the failover goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_after: Option<crate::domain::time::TimeValue>,
    /// How many times a request from the failover-requests topic was
    /// published again because its run ended `in_progress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<u32>,
    /// Set by an ARC Region switch step: the execution is read again before
    /// every pass, and a cancelled or paused one stops the failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_switch_execution: Option<crate::workflows::region_switch::ExecutionRef>,
    /// The source Region as a caller in this process just probed it (the
    /// region detector building a plan for a page): not probed again. Never
    /// read from an event.
    #[serde(skip)]
    pub known_source_window: Option<crate::domain::ports::Window>,
}

/// A request from the topic resumes itself this many times at most (each run
/// lasts up to the function's 15 minutes); then a person is told.
pub const MAX_RESUMES: u32 = 12;

/// A full delete accepted while the source is down may hang in DELETING until
/// it returns; after this long the failover goes on without it.
pub const DEFAULT_MAX_PROMOTION_WAIT_SECONDS: u64 = 600;

impl FailoverRequest {
    /// Parses a request; unknown fields and malformed IDs are errors that name the field.
    pub fn from_json(value: serde_json::Value) -> Result<FailoverRequest> {
        parse::request(
            "failover",
            value,
            "source_file_system_id, source_region, destination_file_system_id, \
             destination_region, mode (plan|execute), max_rpo_seconds, force, mount_targets, reason, pairs, run_mode, poll, \
             deletion_mode (ALL_CONFIGURATIONS|LOCAL_CONFIGURATION_ONLY), max_promotion_wait_seconds, synced_after, resumed, region_switch_execution",
        )
    }
}

/// One file system to fail over, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailoverTarget {
    pub source_id: FileSystemId,
    pub source_region: RegionName,
    pub destination_id: Option<FileSystemId>,
    pub destination_region: RegionName,
    pub mode: Mode,
    pub max_rpo_seconds: u64,
    pub force: bool,
    pub mount_targets: Vec<MountTargetSpec>,
    pub reason: Option<String>,
    /// Asked for by the operator; `None` lets the failover choose.
    pub deletion_mode: Option<DeletionMode>,
    pub max_promotion_wait_seconds: u64,
    /// Epoch seconds: wait for a sync completed after it before promoting.
    pub synced_after: Option<f64>,
    pub region_switch: Option<crate::workflows::region_switch::ExecutionRef>,
    #[serde(skip)]
    pub known_source_window: Option<crate::domain::ports::Window>,
}

/// Merges the request with the configured pairs and defaults. Fails with a
/// message that says what to give, before any AWS call.
/// A request whose source is one configured pair's and whose destination is
/// another's is a mistake (often a console input laid over a pair's
/// request): refused before anything starts, naming both pairs.
fn refuse_mixed_pairs(p: &PairConfig, config: &Config) -> Result<()> {
    let Some(dest) = &p.destination_file_system_id else {
        return Ok(());
    };
    let by_source = config
        .pairs
        .iter()
        .find(|c| c.source_file_system_id.id == p.source_file_system_id.id);
    let by_destination = config.pairs.iter().find(|c| {
        c.destination_file_system_id
            .as_ref()
            .is_some_and(|d| d.id == dest.id)
    });
    match (by_source, by_destination) {
        (Some(a), Some(b)) if a.source_file_system_id.id != b.source_file_system_id.id => {
            let replica = |c: &PairConfig| {
                c.destination_file_system_id
                    .as_ref()
                    .map(|d| d.id.to_string())
                    .unwrap_or_else(|| "its replica".into())
            };
            Err(Error::InvalidInput(format!(
                "the request names file systems of two pairs: source {} is the pair {} -> {}, destination {} is the pair {} -> {}. Name one pair: its source with its own replica",
                p.source_file_system_id.id,
                a.source_file_system_id.id,
                replica(a),
                dest.id,
                b.source_file_system_id.id,
                replica(b),
            )))
        }
        _ => Ok(()),
    }
}

pub fn resolve(request: &FailoverRequest, config: &Config) -> Result<Vec<FailoverTarget>> {
    let synced_after = request
        .synced_after
        .as_ref()
        .map(|t| t.epoch("synced_after"))
        .transpose()?;
    let pairs: Vec<PairConfig> = if let Some(pairs) = &request.pairs {
        if request.source_file_system_id.is_some() {
            return Err(Error::InvalidInput(
                "give either pairs or source_file_system_id, not both".into(),
            ));
        }
        if pairs.is_empty() {
            return Err(Error::InvalidInput(
                "pairs is empty: name at least one file system".into(),
            ));
        }
        pairs.clone()
    } else if let Some(src) = &request.source_file_system_id {
        let configured = config
            .pairs
            .iter()
            .find(|p| p.source_file_system_id.id == src.id);
        vec![PairConfig {
            source_file_system_id: src.clone(),
            source_region: request
                .source_region
                .clone()
                .or_else(|| configured.and_then(|p| p.source_region.clone())),
            destination_file_system_id: request
                .destination_file_system_id
                .clone()
                .or_else(|| configured.and_then(|p| p.destination_file_system_id.clone())),
            destination_region: request
                .destination_region
                .clone()
                .or_else(|| configured.and_then(|p| p.destination_region.clone())),
            mount_targets: request
                .mount_targets
                .clone()
                .or_else(|| configured.and_then(|p| p.mount_targets.clone())),
        }]
    } else if !config.pairs.is_empty() {
        config.pairs.clone()
    } else {
        return Err(Error::InvalidInput(
            "no file system named: give source_file_system_id and source_region (and optionally \
             destination_file_system_id) in the event, or configure EFS_DR_PAIRS for this function"
                .into(),
        ));
    };
    let mode = request.mode.unwrap_or(config.default_mode);
    let max_rpo_seconds = request.max_rpo_seconds.unwrap_or(config.max_rpo_seconds);
    if max_rpo_seconds == 0 {
        return Err(Error::InvalidInput(
            "max_rpo_seconds must be at least 1".into(),
        ));
    }
    let mut targets = Vec::new();
    for p in pairs {
        refuse_mixed_pairs(&p, config)?;
        let source_region = region_of(
            &p.source_file_system_id,
            p.source_region
                .as_ref()
                .or(request.source_region.as_ref())
                .or(config.source_region.as_ref()),
            "source_file_system_id",
        )?
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "source_region is required for {} (or give the file system's ARN)",
                p.source_file_system_id.id
            ))
        })?;
        let dest_ref = p.destination_file_system_id.clone().or_else(|| {
            request
                .destination_file_system_id
                .clone()
                .filter(|_| request.pairs.is_none())
        });
        let given_dest_region = p
            .destination_region
            .as_ref()
            .or(request.destination_region.as_ref())
            .or(config.destination_region.as_ref());
        let destination_region = match &dest_ref {
            Some(d) => region_of(d, given_dest_region, "destination_file_system_id")?,
            None => given_dest_region.cloned(),
        }
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "destination_region is required for {} (the DR Region; the functions default to AWS_REGION)",
                p.source_file_system_id.id
            ))
        })?;
        let destination_id = dest_ref.map(|d| d.id);
        if destination_id.as_ref() == Some(&p.source_file_system_id.id)
            && destination_region == source_region
        {
            return Err(Error::InvalidInput(format!(
                "source_file_system_id and destination_file_system_id are the same file system ({} in {source_region})",
                p.source_file_system_id.id
            )));
        }
        if targets.iter().any(|t: &FailoverTarget| {
            t.source_id == p.source_file_system_id.id && t.source_region == source_region
        }) {
            return Err(Error::InvalidInput(format!(
                "{} is named twice in {}",
                p.source_file_system_id.id,
                if request.pairs.is_some() {
                    "pairs"
                } else {
                    "EFS_DR_PAIRS"
                }
            )));
        }
        targets.push(FailoverTarget {
            source_id: p.source_file_system_id.id.clone(),
            source_region,
            destination_id,
            destination_region,
            mode,
            max_rpo_seconds,
            force: request.force.unwrap_or(false),
            mount_targets: p
                .mount_targets
                .clone()
                .or_else(|| request.mount_targets.clone())
                .unwrap_or_else(|| config.mount_targets.clone()),
            reason: request.reason.clone(),
            deletion_mode: request.deletion_mode,
            max_promotion_wait_seconds: request
                .max_promotion_wait_seconds
                .unwrap_or(DEFAULT_MAX_PROMOTION_WAIT_SECONDS),
            synced_after,
            region_switch: request.region_switch_execution.clone(),
            known_source_window: request.known_source_window,
        });
    }
    Ok(targets)
}
