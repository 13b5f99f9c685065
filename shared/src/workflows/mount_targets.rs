//! Mount targets: make the wanted ones exist, with the wanted security
//! groups, and report when they are all available. One implementation for
//! failover, failback and mount-target-ensure.

use crate::domain::error::Result;
use crate::domain::ids::{FileSystemId, SecurityGroupId};
use crate::domain::model::{LifeCycle, MountTarget, MountTargetSpec};
use crate::domain::modes::Mode;
use crate::domain::ports::{CreateMountTargetOutcome, Efs};
use crate::run::report::{Outcome, Report};
use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct MountTargetsResult {
    /// The file system's mount targets after this pass.
    pub targets: Vec<MountTarget>,
    /// What was changed (or, in plan mode, would be).
    pub actions: Vec<String>,
    /// Specs that cannot be met as asked (e.g. the AZ already has another target).
    pub conflicts: Vec<String>,
    /// Drift found before fixing it.
    pub drift: Vec<String>,
    /// Some target is not `available` yet.
    pub pending: bool,
}

impl MountTargetsResult {
    pub fn all_available(&self) -> bool {
        !self.pending
    }

    /// Puts this pass in the report: conflicts as warnings, the targets as
    /// they are now, and one step for what was changed (or planned).
    pub fn record(&self, report: &mut Report, outcome: Outcome, started: f64, now: f64) {
        for c in &self.conflicts {
            report.warn(format!("mount target conflict: {c}"));
        }
        report.mount_targets = self.targets.clone();
        if !self.actions.is_empty() {
            report.step(
                "mount targets",
                outcome,
                started,
                now,
                self.actions.join("; "),
            );
        }
    }
}

fn same_groups(current: &[String], wanted: &[SecurityGroupId]) -> bool {
    let mut a: Vec<&str> = current.iter().map(String::as_str).collect();
    let mut b: Vec<&str> = wanted.iter().map(|g| g.as_str()).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// One pass toward the wanted mount targets. Never creates a second target
/// for a subnet; reports MountTargetConflict instead of failing. With `prune`,
/// targets in subnets that are not wanted are deleted.
pub async fn ensure<E: Efs>(
    efs: &E,
    fs: &FileSystemId,
    wanted: &[MountTargetSpec],
    mode: Mode,
    prune: bool,
) -> Result<MountTargetsResult> {
    let mut result = MountTargetsResult::default();
    let mut current = efs.describe_mount_targets(fs).await?;
    for spec in wanted {
        match current
            .iter()
            .find(|m| m.subnet_id == spec.subnet_id.as_str() && m.life_cycle != LifeCycle::Deleting)
        {
            Some(mt) => {
                if spec.security_groups.is_empty() {
                    continue;
                }
                let groups = efs.mount_target_security_groups(&mt.id).await?;
                if same_groups(&groups, &spec.security_groups) {
                    continue;
                }
                result.drift.push(format!(
                    "mount target {} in {} has security groups [{}], wanted [{}]",
                    mt.id,
                    mt.subnet_id,
                    groups.join(", "),
                    spec.security_groups
                        .iter()
                        .map(|g| g.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                if mode == Mode::Plan {
                    result
                        .actions
                        .push(format!("would set the security groups of {}", mt.id));
                } else {
                    efs.set_mount_target_security_groups(&mt.id, &spec.security_groups)
                        .await?;
                    result
                        .actions
                        .push(format!("set the security groups of {}", mt.id));
                }
            }
            None => {
                result
                    .drift
                    .push(format!("no mount target in {}", spec.subnet_id));
                if mode == Mode::Plan {
                    result
                        .actions
                        .push(format!("would create a mount target in {}", spec.subnet_id));
                    continue;
                }
                match efs
                    .create_mount_target(fs, &spec.subnet_id, &spec.security_groups)
                    .await?
                {
                    CreateMountTargetOutcome::Created(mt) => {
                        result.actions.push(format!(
                            "created mount target {} in {}",
                            mt.id, mt.subnet_id
                        ));
                        current.push(mt);
                    }
                    CreateMountTargetOutcome::Conflict(message) => {
                        // A retry after a lost answer meets the target the first try made: ours.
                        let ours = efs.describe_mount_targets(fs).await?.into_iter().find(|m| {
                            m.subnet_id == spec.subnet_id.as_str()
                                && m.life_cycle != LifeCycle::Deleting
                        });
                        match ours {
                            Some(mt) => {
                                result.actions.push(format!(
                                    "created mount target {} in {} (found after a conflict: an earlier attempt made it)",
                                    mt.id, mt.subnet_id
                                ));
                                current.push(mt);
                            }
                            None => result
                                .conflicts
                                .push(format!("subnet {}: {message}", spec.subnet_id)),
                        }
                    }
                }
            }
        }
    }
    if prune {
        for mt in current
            .iter()
            .filter(|m| m.life_cycle != LifeCycle::Deleting)
        {
            if wanted.iter().any(|w| w.subnet_id.as_str() == mt.subnet_id) {
                continue;
            }
            result.drift.push(format!(
                "mount target {} in {} is not wanted",
                mt.id, mt.subnet_id
            ));
            if mode == Mode::Plan {
                result
                    .actions
                    .push(format!("would delete mount target {}", mt.id));
            } else {
                efs.delete_mount_target(&mt.id).await?;
                result.actions.push(format!(
                    "deleted mount target {} in {}",
                    mt.id, mt.subnet_id
                ));
            }
        }
    }
    if !result.actions.is_empty() && mode == Mode::Execute {
        let made = std::mem::take(&mut current);
        current = efs.describe_mount_targets(fs).await?;
        // Describe may not list a target created a moment ago (eventual
        // consistency): one we made still counts, as not yet available.
        for mt in made {
            if mt.life_cycle == LifeCycle::Creating && !current.iter().any(|m| m.id == mt.id) {
                current.push(mt);
            }
        }
    }
    // A target being deleted (pruned) is not waited for: it is on its way out.
    result.pending |= current
        .iter()
        .any(|m| m.life_cycle != LifeCycle::Available && m.life_cycle != LifeCycle::Deleting);
    for m in current
        .iter()
        .filter(|m| m.life_cycle == LifeCycle::Creating)
    {
        result.drift.push(format!(
            "mount target {} in {} is not available yet",
            m.id, m.subnet_id
        ));
    }
    result.targets = current;
    Ok(result)
}
