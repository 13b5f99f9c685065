//! Failover's decision: from what the DR Region shows, the one next step and
//! the guardrails that stand in its way. Pure (no AWS call, no clock), so
//! every branch is tested by the table in `decide_tests.rs`.

use super::request::FailoverTarget;
use crate::domain::error::{Error, Refusal, Result};
use crate::domain::ids::{FileSystemId, RegionName};
use crate::domain::model::{DeletionMode, FileSystem, Protection, Replication, ReplicationStatus};
use crate::domain::modes::Mode;
use crate::domain::tags;
use crate::domain::time::iso8601;

/// How far ahead of the clock a `synced_after` may be (clock skew).
pub const SYNCED_AFTER_SLACK_SECONDS: f64 = 300.0;

/// The destination as one pass read it from the DR Region.
#[derive(Clone, Debug)]
pub struct Observed {
    pub destination: FileSystem,
    pub replication: Option<Replication>,
    /// Whether the source Region answered the probe window; `None` before a probe.
    pub source_reachable: Option<bool>,
    /// No answer at all in the window, not even throttling or a 5xx: the
    /// Region is gone rather than browned out. `None` before a probe.
    pub source_silent: Option<bool>,
}

/// The next step of a failover.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The configuration is gone and protection is not ENABLED yet (AWS finishes the two apart).
    AwaitWritable,
    /// Plan mode on a file system that is already writable.
    ReportAlreadyWritable,
    /// Writable: mount targets, the recovery point, then done.
    FinishPromoted,
    /// Plan mode while AWS is already deleting the configuration.
    ReportPromotionUnderWay,
    /// AWS is deleting the configuration: prepare mount targets while it does.
    AwaitDeletion,
    /// Plan mode: what execute would do.
    Plan { last_replicated: Option<f64> },
    /// `synced_after` asks for a sync completed after `mark`; the last one
    /// completed before it, and the source Region can still sync.
    AwaitSync {
        mark: f64,
        last_replicated: Option<f64>,
    },
    /// Record the recovery point and delete the replication configuration of `source`.
    Promote {
        last_replicated: Option<f64>,
        source: Source,
        deletion_mode: DeletionMode,
    },
    /// The promotion has hung in DELETING past `max_promotion_wait_seconds` with
    /// the source unreachable: delete the destination's side alone.
    Escalate { source: Source, waited_seconds: f64 },
}

/// The source of the configuration observed on the destination.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub file_system_id: FileSystemId,
    pub region: RegionName,
}

/// Where a failover is, as the report's `phase` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Promoting,
    AwaitingSync,
    AlreadyPromoted,
    MountTargets,
    Planned,
    Completed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Promoting => "promoting",
            Phase::AwaitingSync => "awaiting a final sync",
            Phase::AlreadyPromoted => "already promoted",
            Phase::MountTargets => "mount targets",
            Phase::Planned => "planned",
            Phase::Completed => "completed",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub action: Action,
    /// In the order they arose, guardrails overridden by `force` among them.
    pub warnings: Vec<String>,
}

/// Refuses, or with `force` lets it pass and says so in the warnings.
fn guard(
    force: bool,
    warnings: &mut Vec<String>,
    guardrail: &'static str,
    message: String,
    remedy: String,
) -> Result<()> {
    if !force {
        return Err(Error::Refused(Refusal {
            guardrail,
            message,
            remedy,
        }));
    }
    warnings.push(format!(
        "guardrail {guardrail} overridden by force: {message}"
    ));
    Ok(())
}

/// WrongSource is never overridden, not even by `force`: promoting a
/// replica on another pair's say-so gives it the wrong clients and access
/// points, and leaves the pair that was meant unprotected.
fn wrong_source(message: String) -> Error {
    Error::Refused(Refusal {
        guardrail: "WrongSource",
        message,
        remedy: "name the source with its own replica (source_file_system_id, source_region, destination_file_system_id); force does not override this".into(),
    })
}

/// The next step toward a writable replica, or the guardrail that refuses it.
pub fn decide(target: &FailoverTarget, seen: &Observed, now: f64) -> Result<Decision> {
    let fs = &seen.destination;
    let dest_id = &fs.id;
    let region = &target.destination_region;
    let force = target.force;
    let mut warnings = Vec::new();
    let wanted_source =
        crate::workflows::discovery::failover_source_tag(&target.source_id, &target.source_region);
    let Some(r) = &seen.replication else {
        let action = match fs.protection {
            // The two reads are not atomic: a configuration that finished deleting between
            // them leaves REPLICATING on the first read. Look again.
            Protection::Replicating if target.mode == Mode::Execute => Action::AwaitWritable,
            Protection::Replicating if fs.tag(tags::PROMOTED_AT).is_some() => {
                Action::ReportPromotionUnderWay
            }
            Protection::Enabled => {
                match fs.tag(tags::FAILOVER_SOURCE) {
                    None => guard(
                        force,
                        &mut warnings,
                        "NotAReplica",
                        format!(
                            "{dest_id} is writable and not replicating, and efs-dr never promoted it: it was promoted outside efs-dr, or was never a replica of {wanted_source}"
                        ),
                        "check destination_file_system_id and destination_region, or set force: true if this is the promoted replica".into(),
                    )?,
                    Some(promoted_from) if promoted_from != wanted_source => {
                        return Err(wrong_source(
                            format!("{dest_id} was promoted from {promoted_from}, not from {wanted_source}: they are two pairs"),
                        ))
                    }
                    Some(_) => {}
                }
                if target.mode == Mode::Plan {
                    Action::ReportAlreadyWritable
                } else {
                    Action::FinishPromoted
                }
            }
            other => {
                return Err(Error::Topology(format!(
                    "{dest_id} has overwrite protection {other:?} but no replication configuration: it is neither a replica nor writable"
                )))
            }
        };
        return Ok(Decision { action, warnings });
    };
    if &r.destination_file_system_id != dest_id {
        return Err(Error::InvalidInput(format!(
            "{dest_id} in {region} is the source of a replication to {} in {}, not a replica: are source and destination swapped?",
            r.destination_file_system_id, r.destination_region
        )));
    }
    if r.source_file_system_id != target.source_id || r.source_region != target.source_region {
        return Err(wrong_source(format!(
            "{dest_id} is the replica of {} in {} (pair {} -> {dest_id}), not of {} in {}: the request names two pairs",
            r.source_file_system_id, r.source_region, r.source_file_system_id, target.source_id, target.source_region
        )));
    }
    if r.status == ReplicationStatus::Deleting {
        let waited = fs
            .tag(tags::PROMOTED_AT)
            .and_then(|t| t.parse::<f64>().ok())
            .map(|promoted| (now - promoted).max(0.0));
        let hung = waited.filter(|w| *w >= target.max_promotion_wait_seconds as f64);
        let action = match (target.mode, hung, seen.source_reachable) {
            (Mode::Plan, _, _) => Action::ReportPromotionUnderWay,
            (Mode::Execute, Some(waited_seconds), Some(false)) => Action::Escalate {
                source: Source {
                    file_system_id: r.source_file_system_id.clone(),
                    region: r.source_region.clone(),
                },
                waited_seconds,
            },
            (Mode::Execute, _, _) => Action::AwaitDeletion,
        };
        return Ok(Decision { action, warnings });
    }
    if r.status == ReplicationStatus::Enabling || r.last_replicated.is_none() {
        guard(
            force,
            &mut warnings,
            "InitialSync",
            format!(
                "replication {} -> {dest_id} is still in its initial sync: the replica is incomplete",
                r.source_file_system_id
            ),
            "wait until the status is ENABLED with a last replicated time, or set force: true to promote an incomplete copy".into(),
        )?;
    }
    if r.status == ReplicationStatus::Error {
        guard(
            force,
            &mut warnings,
            "ReplicationError",
            format!(
                "replication is in ERROR ({}): the configuration is unrecoverable and the replica holds data as of its last sync",
                r.status_message.clone().unwrap_or_default()
            ),
            "restore the most recent backup of the failed file system to a new file system, or set force: true to promote the replica as it is".into(),
        )?;
    }
    if matches!(
        r.status,
        ReplicationStatus::Paused | ReplicationStatus::Pausing
    ) {
        warnings.push(format!(
            "replication is {:?}: {}",
            r.status,
            r.status_message.clone().unwrap_or_default()
        ));
    }
    if let Some(lrt) = r.last_replicated {
        let age = (now - lrt).max(0.0);
        if age > target.max_rpo_seconds as f64 {
            let synced = format!(
                "the last sync completed {age:.0} s ago ({}), beyond max_rpo_seconds {}",
                iso8601(lrt),
                target.max_rpo_seconds
            );
            // The guardrail stops a promotion that waiting would improve. With
            // the source Region silent, no sync can complete: the recovery
            // point is as good as it will get, and refusing would only hold
            // clients off during the very outage that called for the failover.
            if seen.source_silent == Some(true) {
                warnings.push(format!(
                    "{synced}; {} does not answer, so waiting cannot bring the replica closer: promoting with a recovery point of {age:.0} s",
                    r.source_region
                ));
            } else {
                guard(
                    force,
                    &mut warnings,
                    "RecoveryPointTooOld",
                    format!(
                        "{synced}, and {} answers (if only with errors or throttling): replication can still catch up",
                        r.source_region
                    ),
                    format!("wait for the lag to fall below max_rpo_seconds, raise max_rpo_seconds, or set force: true to accept losing up to {age:.0} s of writes"),
                )?;
            }
        }
    }
    if let Some(mark) = target.synced_after {
        // A mark further ahead than clock skew can explain is a mistake
        // (milliseconds for seconds, a wrong offset): it would never be met.
        if mark > now + SYNCED_AFTER_SLACK_SECONDS {
            return Err(Error::InvalidInput(format!(
                "synced_after {} is in the future (now {}): give the moment writers stopped, in epoch seconds or ISO 8601",
                iso8601(mark),
                iso8601(now)
            )));
        }
        let last = r.last_replicated;
        if last.is_none_or(|l| l < mark) {
            let last_text = last.map(iso8601).unwrap_or_else(|| "never".into());
            let waiting_for = format!(
                "no sync has completed after synced_after {} (the last: {last_text})",
                iso8601(mark)
            );
            // Only an ENABLED replication completes syncs: a wait for one
            // from a paused or failed replication would never end.
            let can_sync = r.status == ReplicationStatus::Enabled;
            if !can_sync {
                guard(
                    force,
                    &mut warnings,
                    "NoSyncCanComplete",
                    format!(
                        "{waiting_for}, and the replication is {:?}: none will",
                        r.status
                    ),
                    "resume the replication, leave synced_after out, or set force: true to promote without the writes since the last sync".into(),
                )?;
            } else if force {
                warnings.push(format!("{waiting_for}: promoting without it (force)"));
            } else if target.mode == Mode::Execute {
                // Waits even while the source is silent: synced_after is asked
                // for a planned move, where a silence is more likely a blip
                // than a lost Region. The way out is force, or (Region
                // switch) switching the execution to ungraceful.
                if seen.source_silent == Some(true) {
                    warnings.push(format!(
                        "{waiting_for}; {} does not answer now, so none can until it does: set force: true (or switch a Region switch execution to ungraceful) to promote without it",
                        r.source_region
                    ));
                }
                return Ok(Decision {
                    action: Action::AwaitSync {
                        mark,
                        last_replicated: last,
                    },
                    warnings,
                });
            } else {
                warnings.push(format!("{waiting_for}: execute waits for one"));
            }
        }
    }
    let deletion_mode = match target.deletion_mode {
        Some(DeletionMode::LocalConfigurationOnly) => {
            if seen.source_reachable == Some(true) {
                guard(
                    force,
                    &mut warnings,
                    "SourceReachable",
                    format!(
                        "deletion_mode LOCAL_CONFIGURATION_ONLY was asked for, but {} answers: a local-only delete would leave its side of the configuration behind, unrecoverable",
                        r.source_region
                    ),
                    "leave deletion_mode out (the full delete reaches both sides), or set force: true".into(),
                )?;
            }
            DeletionMode::LocalConfigurationOnly
        }
        _ => DeletionMode::AllConfigurations,
    };
    let action = if target.mode == Mode::Plan {
        Action::Plan {
            last_replicated: r.last_replicated,
        }
    } else {
        // The configuration observed on the destination, even when force overrode
        // WrongSource: never the one the event named, which can belong to another pair.
        Action::Promote {
            last_replicated: r.last_replicated,
            source: Source {
                file_system_id: r.source_file_system_id.clone(),
                region: r.source_region.clone(),
            },
            deletion_mode,
        }
    };
    Ok(Decision { action, warnings })
}
