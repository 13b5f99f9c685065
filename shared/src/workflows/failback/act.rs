//! The failback's act half: each phase's step (the reverse replication, its
//! cutover, the original direction restored) and the protection changes.

use super::*;

impl<'a, P: Platform> Failback<'a, P> {
    /// A wait that plan mode reports instead of waiting out.
    pub(super) fn wait_unless_planning(&self) -> Pass {
        if self.t.mode == Mode::Plan {
            Pass::Done
        } else {
            Pass::Wait
        }
    }

    /// Takes the one step `decide` chose.
    pub(super) async fn act(&mut self, action: Action, seen: Observed) -> Result<Pass> {
        self.report.phase = action.phase().as_str().into();
        let first_step_of_overwrite = matches!(
            action,
            Action::AllowReplicaOverwrite | Action::AllowOriginalOverwrite
        );
        let replica_id = seen.replica.id.clone();
        let now = self.now();
        let Some(original) = seen.original else {
            return match action {
                Action::CreateNewOriginal => {
                    self.create(&replica_id, true, None, "replicate into a new file system")
                        .await
                }
                _ => Ok(Pass::Wait),
            };
        };
        let original_id = original.id.clone();
        match action {
            Action::AwaitNewOriginal | Action::CreateNewOriginal => Ok(Pass::Wait),
            Action::AwaitCleanup => {
                self.step("wait for the clean-up", Outcome::Waiting, now, "DELETING");
                Ok(self.wait_unless_planning())
            }
            Action::CleanUpLeftover => {
                if let Some(n) = self.plan_or("clean up") {
                    self.step(n, Outcome::Planned, now, "DeleteReplicationConfiguration LOCAL_CONFIGURATION_ONLY in the original Region");
                    self.report.status = Status::Planned;
                    return Ok(Pass::Done);
                }
                let outcome = self
                    .original
                    .delete_replication(&original_id, DeletionMode::LocalConfigurationOnly)
                    .await?;
                self.step(
                    "clean up",
                    done_or_already(outcome),
                    now,
                    "deleted the configuration a LOCAL_CONFIGURATION_ONLY failover left behind",
                );
                Ok(Pass::Wait)
            }
            Action::Finish => self.finish(&original, &seen.replica).await,
            Action::AwaitForwardSync {
                status,
                last_replicated,
            } => {
                self.step(
                    "wait for replication",
                    Outcome::Waiting,
                    now,
                    format!(
                        "{status:?}, last replicated {:?}",
                        last_replicated.map(iso8601)
                    ),
                );
                Ok(self.wait_unless_planning())
            }
            Action::AwaitOriginalWritableAtCutover => {
                self.step(
                    "wait until the original is writable",
                    Outcome::Waiting,
                    now,
                    "reverse replication DELETING",
                );
                Ok(Pass::Wait)
            }
            Action::AwaitReverseSync { status } => {
                self.step(
                    "wait for the reverse sync",
                    Outcome::Waiting,
                    now,
                    format!("{status:?}"),
                );
                Ok(self.wait_unless_planning())
            }
            Action::AwaitCutoverApproval { last_replicated } => {
                self.step(
                    "reverse replication in sync",
                    Outcome::Checked,
                    now,
                    format!("last replicated {}", iso8601(last_replicated)),
                );
                self.report.next(
                    "stop writes to the replica, then run again with cutover: true and cutover_mark set to when writes stopped \
                     (in Step Functions: approve the cutover)",
                );
                Ok(Pass::Paused)
            }
            Action::AwaitCutoverMark {
                last_replicated,
                mark,
            } => {
                self.mark = Some(mark);
                self.step(
                    "wait for the cutover mark",
                    Outcome::Waiting,
                    now,
                    format!(
                        "last replicated {} < mark {}",
                        iso8601(last_replicated),
                        iso8601(mark)
                    ),
                );
                Ok(self.wait_unless_planning())
            }
            Action::Cutover {
                last_replicated,
                mark,
            } => {
                self.mark = Some(mark);
                self.refuse_while_clients_write(&seen.replica).await?;
                if let Some(n) = self.plan_or("cutover") {
                    self.step(
                        n,
                        Outcome::Planned,
                        now,
                        "delete the reverse replication; the original becomes writable",
                    );
                    self.report.status = Status::Planned;
                    return Ok(Pass::Done);
                }
                // Marked first: after the deletion both file systems are writable, and only this tells a re-run where it is.
                self.original
                    .tag_file_system(
                        &original_id,
                        &[(tags::FAILBACK_CUTOVER_AT.to_string(), format!("{mark:.3}"))],
                    )
                    .await?;
                let outcome = self
                    .replica
                    .delete_replication(&replica_id, DeletionMode::AllConfigurations)
                    .await?;
                self.step(
                    "cutover",
                    done_or_already(outcome),
                    now,
                    format!(
                        "reverse replication deleted with everything up to {} on the original",
                        iso8601(last_replicated)
                    ),
                );
                Ok(Pass::Wait)
            }
            Action::AwaitOriginalWritable => Ok(self.wait_unless_planning()),
            Action::AllowReplicaOverwrite | Action::RestoreOriginalDirection => {
                // The replica's writes since the cutover mark (or, discarding, since the promotion)
                // exist nowhere else.
                let since = epoch_tag(&original, tags::FAILBACK_CUTOVER_AT)
                    .or_else(|| epoch_tag(&seen.replica, tags::PROMOTED_AT));
                let at = Location::from(&self.t.replica_region);
                if let Some(pass) = self
                    .preserve_before_overwrite(&seen.replica, &at, since)
                    .await?
                {
                    return Ok(pass);
                }
                if first_step_of_overwrite {
                    // Across accounts the grant comes first: a policy that cannot be
                    // amended stops the failback before the replica is opened.
                    if self.t.mode == Mode::Execute {
                        self.grant_replication_into(false, &seen.replica).await?;
                    }
                    self.open_for_overwrite(&replica_id, false).await?;
                    self.set_protection(
                        false,
                        &replica_id,
                        Protection::Disabled,
                        "allow the replica to be overwritten",
                    )
                    .await
                } else {
                    if self.t.mode == Mode::Execute {
                        self.grant_replication_into(false, &seen.replica).await?;
                    }
                    self.create(
                        &original_id,
                        false,
                        Some(replica_id),
                        "restore original -> replica",
                    )
                    .await
                }
            }
            Action::AllowOriginalOverwrite | Action::ReverseReplicate => {
                // The original's writes after the recovery point never reached the replica.
                let since = epoch_tag(&seen.replica, tags::RECOVERY_POINT);
                let at = self.original_at();
                if let Some(pass) = self
                    .preserve_before_overwrite(&original, &at, since)
                    .await?
                {
                    return Ok(pass);
                }
                if first_step_of_overwrite {
                    if self.t.mode == Mode::Execute {
                        self.grant_replication_into(true, &original).await?;
                    }
                    self.open_for_overwrite(&original_id, true).await?;
                    self.set_protection(
                        true,
                        &original_id,
                        Protection::Disabled,
                        "allow the original to be overwritten",
                    )
                    .await
                } else {
                    if self.t.mode == Mode::Execute {
                        self.grant_replication_into(true, &original).await?;
                    }
                    self.create(
                        &replica_id,
                        true,
                        Some(original_id),
                        "replicate the replica back into the original",
                    )
                    .await
                }
            }
        }
    }

    pub(super) async fn create(
        &mut self,
        from: &FileSystemId,
        from_region_is_replica: bool,
        into: Option<FileSystemId>,
        name: &str,
    ) -> Result<Pass> {
        let started = self.now();
        if let Some(p) = self.plan_or(name) {
            self.step(
                p,
                Outcome::Planned,
                started,
                "CreateReplicationConfiguration",
            );
            self.report.status = Status::Planned;
            return Ok(Pass::Done);
        }
        let (efs, dest_region) = if from_region_is_replica {
            (&self.replica, &self.t.original_region)
        } else {
            (&self.original, &self.t.replica_region)
        };
        let (account, role_arn) = self.destination_across(from_region_is_replica);
        let destination = ReplicationDestination {
            region: dest_region,
            file_system: into.as_ref(),
            account: account.as_ref(),
            role_arn: role_arn.as_deref(),
        };
        match efs.create_replication(from, &destination).await? {
            CreateReplicationOutcome::Created(r) => {
                if into.is_none() {
                    // new_file_system: this is the new original.
                    self.report.destination.file_system_id =
                        Some(r.destination_file_system_id.clone());
                }
                self.step(
                    name,
                    Outcome::Done,
                    started,
                    format!(
                        "{} -> {}",
                        r.source_file_system_id, r.destination_file_system_id
                    ),
                );
            }
            // Another run got there first: the next pass reads what exists.
            CreateReplicationOutcome::AlreadyExists(m) => {
                self.step(name, Outcome::AlreadyDone, started, m)
            }
        }
        Ok(Pass::Wait)
    }

    pub(super) async fn set_protection(
        &mut self,
        region_is_original: bool,
        id: &FileSystemId,
        p: Protection,
        name: &str,
    ) -> Result<Pass> {
        let started = self.now();
        if let Some(n) = self.plan_or(name) {
            self.step(n, Outcome::Planned, started, format!("{id}: {p:?}"));
            self.report.status = Status::Planned;
            return Ok(Pass::Done);
        }
        let efs = if region_is_original {
            &self.original
        } else {
            &self.replica
        };
        efs.update_protection(id, p).await?;
        self.step(
            name,
            Outcome::Done,
            started,
            format!("{id}: overwrite protection {p:?}"),
        );
        Ok(Pass::Wait)
    }

    pub(super) async fn finish(&mut self, o: &FileSystem, r: &FileSystem) -> Result<Pass> {
        let started = self.now();
        let mts = mount_targets::ensure(
            &self.original,
            &o.id,
            &self.t.mount_targets,
            self.t.mode,
            false,
        )
        .await?;
        let now = self.now();
        mts.record(&mut self.report, Outcome::Done, started, now);
        if mts.pending && self.t.mode == Mode::Execute {
            self.report.phase = Phase::AwaitMountTargets.as_str().into();
            return Ok(Pass::Wait);
        }
        self.report.dns_name = Some(o.dns_name());
        let done_before = o.tag(tags::FAILBACK_COMPLETED_AT).is_some()
            && o.tag(tags::FAILBACK_CUTOVER_AT)
                .is_none_or(|v| v == tags::NONE)
            && o.tag(tags::ROLE) == Some(tags::ROLE_PRIMARY)
            && r.tag(tags::ROLE) == Some(tags::ROLE_REPLICA);
        if done_before {
            self.step(
                "finish",
                Outcome::AlreadyDone,
                started,
                "the original topology is in place",
            );
        } else {
            self.needs_completion_mark = true;
        }
        self.report.phase = Phase::Completed.as_str().into();
        self.report.next(format!(
            "point clients back at {} (mount {})",
            o.id,
            o.dns_name()
        ));
        Ok(Pass::Done)
    }
}
