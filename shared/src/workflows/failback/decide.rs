//! Failback's decision: from what both Regions show, the one next step.
//! Pure (no AWS call, no clock), so every branch is tested by the table in
//! `decide_tests.rs`.

use super::request::{FailbackTarget, Strategy};
use crate::domain::error::{Error, Refusal, Result};
use crate::domain::ids::FileSystemId;
use crate::domain::model::{FileSystem, Protection, Replication, ReplicationStatus};
use crate::domain::tags;

/// Both Regions as one pass read them.
#[derive(Clone, Debug)]
pub struct Observed {
    pub replica: FileSystem,
    /// The replica's replication configuration, as the replica's Region reports it.
    pub replica_replication: Option<Replication>,
    /// None only with new_file_system, before the new original exists.
    pub original: Option<FileSystem>,
    pub original_replication: Option<Replication>,
}

/// The next step of a failback.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// new_file_system: the reverse replication exists; its new destination is not visible yet.
    AwaitNewOriginal,
    /// new_file_system: replicate the replica into a new file system in the original Region.
    CreateNewOriginal,
    /// The configuration a LOCAL_CONFIGURATION_ONLY failover left behind is being deleted.
    AwaitCleanup,
    /// Delete the configuration a LOCAL_CONFIGURATION_ONLY failover left in the original Region.
    CleanUpLeftover,
    /// original -> replica replicates again: mount targets, then done.
    Finish,
    /// original -> replica exists but is not yet replicating with a completed sync.
    AwaitForwardSync {
        status: ReplicationStatus,
        last_replicated: Option<f64>,
    },
    /// The reverse replication is being deleted at cutover.
    AwaitOriginalWritableAtCutover,
    /// replica -> original is in its initial sync.
    AwaitReverseSync { status: ReplicationStatus },
    /// In sync; a person (or the state machine) decides when to cut over.
    AwaitCutoverApproval { last_replicated: f64 },
    /// Cutover asked, but the last sync started before writes stopped.
    AwaitCutoverMark { last_replicated: f64, mark: f64 },
    /// Delete the reverse replication: the original becomes writable with everything up to the mark.
    Cutover { last_replicated: f64, mark: f64 },
    /// No configuration left; the original is not writable yet.
    AwaitOriginalWritable,
    /// Re-protect, step one: let the original overwrite the replica.
    AllowReplicaOverwrite,
    /// Re-protect, step two: original -> replica.
    RestoreOriginalDirection,
    /// keep_changes, step one: let the replica overwrite the original.
    AllowOriginalOverwrite,
    /// keep_changes, step two: replica -> original.
    ReverseReplicate,
}

/// Where a failback is, as the report's `phase` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    CreateNewOriginal,
    AwaitCleanup,
    CleanUpLeftover,
    Finish,
    AwaitMountTargets,
    Completed,
    AwaitForwardSync,
    AwaitOriginalWritableAtCutover,
    AwaitReverseSync,
    AwaitCutoverApproval,
    AwaitCutoverMark,
    Cutover,
    AwaitOriginalWritable,
    Reprotect,
    ReverseReplication,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::CreateNewOriginal => "create a new original",
            Phase::AwaitCleanup => "clean up: wait for the leftover configuration to go",
            Phase::CleanUpLeftover => "clean up the configuration left in the original Region",
            Phase::Finish => "restore mount targets and finish",
            Phase::AwaitMountTargets => "waiting for mount targets",
            Phase::Completed => "completed",
            Phase::AwaitForwardSync => "wait for the original direction to be replicating",
            Phase::AwaitOriginalWritableAtCutover => "cutover: wait until the original is writable",
            Phase::AwaitReverseSync => "reverse replication: initial sync",
            Phase::AwaitCutoverApproval => "in sync, waiting for cutover",
            Phase::AwaitCutoverMark => "wait until the reverse replication passes the cutover mark",
            Phase::Cutover => "cutover",
            Phase::AwaitOriginalWritable => "wait until the original is writable",
            Phase::Reprotect => "re-protect",
            Phase::ReverseReplication => "reverse replication",
        }
    }
}

impl Action {
    pub fn phase(&self) -> Phase {
        match self {
            Action::AwaitNewOriginal | Action::CreateNewOriginal => Phase::CreateNewOriginal,
            Action::AwaitCleanup => Phase::AwaitCleanup,
            Action::CleanUpLeftover => Phase::CleanUpLeftover,
            Action::Finish => Phase::Finish,
            Action::AwaitForwardSync { .. } => Phase::AwaitForwardSync,
            Action::AwaitOriginalWritableAtCutover => Phase::AwaitOriginalWritableAtCutover,
            Action::AwaitReverseSync { .. } => Phase::AwaitReverseSync,
            Action::AwaitCutoverApproval { .. } => Phase::AwaitCutoverApproval,
            Action::AwaitCutoverMark { .. } => Phase::AwaitCutoverMark,
            Action::Cutover { .. } => Phase::Cutover,
            Action::AwaitOriginalWritable => Phase::AwaitOriginalWritable,
            Action::AllowReplicaOverwrite | Action::RestoreOriginalDirection => Phase::Reprotect,
            Action::AllowOriginalOverwrite | Action::ReverseReplicate => Phase::ReverseReplication,
        }
    }
}

pub(crate) fn is_pair(r: &Replication, source: &FileSystemId, dest: &FileSystemId) -> bool {
    &r.source_file_system_id == source && &r.destination_file_system_id == dest
}

fn epoch_tag(fs: &FileSystem, key: &str) -> Option<f64> {
    fs.tag(key).and_then(|v| v.parse::<f64>().ok())
}

fn cutover_begun(original: &FileSystem) -> bool {
    original
        .tag(tags::FAILBACK_CUTOVER_AT)
        .is_some_and(|v| v != tags::NONE)
}

/// The next step toward original -> replica with the outage's writes kept
/// (or discarded, as asked). `mark` is the cutover mark fixed by an earlier
/// pass of this run, if any; `now` fixes it otherwise.
pub fn decide(
    target: &FailbackTarget,
    seen: &Observed,
    mark: Option<f64>,
    now: f64,
) -> Result<Action> {
    let replica = &seen.replica;
    let replica_id = &replica.id;
    let replica_replication = seen.replica_replication.as_ref();
    let Some(original) = &seen.original else {
        let reverse_exists =
            replica_replication.is_some_and(|r| &r.source_file_system_id == replica_id);
        return Ok(if reverse_exists {
            Action::AwaitNewOriginal
        } else {
            Action::CreateNewOriginal
        });
    };
    let original_id = &original.id;
    let original_replication = seen.original_replication.as_ref();

    // The original may not take part in any other replication.
    if let Some(r) = original_replication {
        let ours = is_pair(r, original_id, replica_id) || is_pair(r, replica_id, original_id);
        if !ours {
            return Err(Error::Refused(Refusal {
                guardrail: "OriginalInOtherReplication",
                message: format!(
                    "{original_id} takes part in a replication with {} (not with {replica_id})",
                    if &r.source_file_system_id == original_id {
                        r.destination_file_system_id.to_string()
                    } else {
                        r.source_file_system_id.to_string()
                    }
                ),
                remedy: "delete that replication first, or name the right file systems".into(),
            }));
        }
    }

    // Forward configuration (original -> replica): the end state, the leftover of a local-only failover, or discard_changes in progress.
    if let Some(forward) = original_replication.filter(|r| is_pair(r, original_id, replica_id)) {
        let leftover_of_local_failover = replica_replication.is_none()
            && (replica.protection == Protection::Enabled
                || forward.status == ReplicationStatus::Error);
        if leftover_of_local_failover {
            return Ok(if forward.status == ReplicationStatus::Deleting {
                Action::AwaitCleanup
            } else {
                Action::CleanUpLeftover
            });
        }
        return match (&forward.status, forward.last_replicated) {
            (ReplicationStatus::Enabled, Some(_))
                if replica.protection == Protection::Replicating =>
            {
                let failed_over = epoch_tag(replica, tags::FAILOVER_COMPLETED_AT);
                let failed_back = epoch_tag(original, tags::FAILBACK_COMPLETED_AT);
                let discarded = target.strategy == Strategy::DiscardChanges;
                if failed_over.is_some_and(|fo| failed_back.is_none_or(|fb| fb < fo))
                    || cutover_begun(original)
                    || discarded
                    || failed_back.is_some()
                {
                    Ok(Action::Finish)
                } else {
                    Err(Error::Refused(Refusal {
                        guardrail: "ReplicaNotPromoted",
                        message: format!("{replica_id} is still a read-only replica of {original_id}: there was no failover to fail back from"),
                        remedy: "nothing to do; run failover first if that was the intent".into(),
                    }))
                }
            }
            _ => Ok(Action::AwaitForwardSync {
                status: forward.status.clone(),
                last_replicated: forward.last_replicated,
            }),
        };
    }

    // Reverse configuration (replica -> original): syncing, in sync, or being deleted at cutover.
    if let Some(reverse) = replica_replication.filter(|r| is_pair(r, replica_id, original_id)) {
        if reverse.status == ReplicationStatus::Deleting {
            return Ok(Action::AwaitOriginalWritableAtCutover);
        }
        let Some(last_replicated) = reverse
            .last_replicated
            .filter(|_| reverse.status == ReplicationStatus::Enabled)
        else {
            return Ok(Action::AwaitReverseSync {
                status: reverse.status.clone(),
            });
        };
        if !target.cutover {
            return Ok(Action::AwaitCutoverApproval { last_replicated });
        }
        let mark = mark.unwrap_or(now);
        if last_replicated < mark {
            return Ok(Action::AwaitCutoverMark {
                last_replicated,
                mark,
            });
        }
        return Ok(Action::Cutover {
            last_replicated,
            mark,
        });
    }
    // The replica's side of the reverse configuration finished deleting first:
    // the original's side is still on its way out.
    if original_replication.is_some_and(|r| {
        is_pair(r, replica_id, original_id) && r.status == ReplicationStatus::Deleting
    }) {
        return Ok(Action::AwaitOriginalWritableAtCutover);
    }
    if replica_replication.is_some() || original_replication.is_some() {
        return Err(Error::Topology(
            "a replication configuration in an unexpected direction; read the state and fix it by hand".into(),
        ));
    }

    // No configuration at all: where are we?
    if target.strategy == Strategy::DiscardChanges
        || cutover_begun(original)
        || replica.protection == Protection::Disabled
    {
        // Re-protect: original -> replica into the existing replica.
        if original.protection != Protection::Enabled {
            return Ok(Action::AwaitOriginalWritable);
        }
        return Ok(if replica.protection == Protection::Enabled {
            Action::AllowReplicaOverwrite
        } else {
            Action::RestoreOriginalDirection
        });
    }
    if replica.protection != Protection::Enabled {
        return Err(Error::Refused(Refusal {
            guardrail: "ReplicaNotPromoted",
            message: format!(
                "{replica_id} is read-only ({:?}) and not replicating: it was not promoted",
                replica.protection
            ),
            remedy: "run failover first, or check the file system IDs".into(),
        }));
    }
    // keep_changes: reverse-replicate the replica into the original.
    Ok(if original.protection == Protection::Enabled {
        Action::AllowOriginalOverwrite
    } else {
        Action::ReverseReplicate
    })
}
