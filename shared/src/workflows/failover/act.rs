//! The failover's act half: each phase's step toward a writable replica
//! (the delete that promotes it, its fallback, mount targets, the tags after).

use super::*;

impl<'a, P: Platform> Failover<'a, P> {
    /// Deletes only the destination's side, recording first that the source's
    /// side is left behind so that a re-run and failback clean it up.
    pub(super) async fn delete_local_side(
        &mut self,
        dest_id: &FileSystemId,
        source: &Source,
        started: f64,
        why: String,
    ) -> Result<()> {
        self.dest
            .tag_file_system(
                dest_id,
                &[(tags::SOURCE_CLEANUP_NEEDED.to_string(), "true".to_string())],
            )
            .await?;
        let outcome = self
            .dest
            .delete_replication(&source.file_system_id, DeletionMode::LocalConfigurationOnly)
            .await?;
        self.report.deletion_mode = Some(DeletionMode::LocalConfigurationOnly);
        self.report.step(
            "promote",
            if outcome == DeleteOutcome::Accepted {
                Outcome::Done
            } else {
                Outcome::AlreadyDone
            },
            started,
            self.now(),
            why,
        );
        self.report.warn(format!(
            "the replication configuration in {} was left behind (LOCAL_CONFIGURATION_ONLY): it must be deleted there before failback",
            source.region
        ));
        self.report.next(format!(
            "when {} is back: aws efs delete-replication-configuration --region {} --source-file-system-id {} --deletion-mode LOCAL_CONFIGURATION_ONLY (failback does this for you)",
            source.region, source.region, source.file_system_id
        ));
        Ok(())
    }

    pub(super) async fn promote(
        &mut self,
        last_replicated: Option<f64>,
        source: &Source,
        deletion_mode: DeletionMode,
    ) -> Result<()> {
        let dest_id = self
            .report
            .destination
            .file_system_id
            .clone()
            .ok_or_else(|| Error::Topology("destination unknown".into()))?;
        let started = self.now();
        // The recovery point disappears with the configuration: keep it on the file system first.
        // A replica forced through before its first sync has no recovery point: say so,
        // over whatever an earlier failover of this file system recorded.
        let recovery_point = last_replicated
            .map(|lrt| format!("{lrt:.3}"))
            .unwrap_or_else(|| tags::NONE.to_string());
        let marks = vec![
            (
                tags::FAILOVER_SOURCE.to_string(),
                crate::workflows::discovery::failover_source_tag(
                    &source.file_system_id,
                    &source.region,
                ),
            ),
            (tags::PROMOTED_AT.to_string(), format!("{started:.3}")),
            (tags::RECOVERY_POINT.to_string(), recovery_point),
        ];
        self.dest.tag_file_system(&dest_id, &marks).await?;
        self.report.step(
            "record recovery point",
            Outcome::Done,
            started,
            self.now(),
            match last_replicated {
                Some(lrt) => format!("last replicated {}", iso8601(lrt)),
                None => "the replica never completed a sync: no recovery point".to_string(),
            },
        );
        let started = self.now();
        if deletion_mode == DeletionMode::LocalConfigurationOnly {
            let why = "deleted the destination side only (LOCAL_CONFIGURATION_ONLY), as asked"
                .to_string();
            return self.delete_local_side(&dest_id, source, started, why).await;
        }
        match self
            .dest
            .delete_replication(&source.file_system_id, DeletionMode::AllConfigurations)
            .await
        {
            Ok(outcome) => {
                self.report.deletion_mode = Some(DeletionMode::AllConfigurations);
                let (o, d) = match outcome {
                    DeleteOutcome::Accepted => (Outcome::Done, "DeleteReplicationConfiguration accepted; the replica becomes writable in a few minutes"),
                    DeleteOutcome::NotFound => (Outcome::AlreadyDone, "the configuration was already gone"),
                };
                self.report.step("promote", o, started, self.now(), d);
                Ok(())
            }
            Err(full) => {
                // Only an unreachable source side justifies leaving its configuration behind.
                let reachable = self.probe_source().await;
                if reachable && full.code.as_deref() == Some("AccessDeniedException") {
                    // Not promoted: the mark must not say so (the detector's cool-down reads it).
                    let unmark = [(tags::PROMOTED_AT.to_string(), tags::NONE.to_string())];
                    if let Err(e) = self.dest.tag_file_system(&dest_id, &unmark).await {
                        tracing::warn!(error = %e, "could not clear the promotion mark");
                    }
                    return Err(self.delete_denied(source, &full.message));
                }
                if reachable {
                    return Err(full.into());
                }
                let why = format!(
                    "full delete failed ({}); deleted the destination side only (LOCAL_CONFIGURATION_ONLY)",
                    full.message
                );
                self.delete_local_side(&dest_id, source, started, why).await
            }
        }
    }

    /// Across accounts, deleting both sides from the DR account needs the
    /// source's file system policy to allow it. Nothing was deleted; a person
    /// chooses between granting it and leaving the source's side behind.
    fn delete_denied(&self, source: &Source, message: &str) -> Error {
        let dr_account = self
            .own_account
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "<this account>".into());
        let partition = crate::domain::ids::partition_of(&source.region);
        let statement = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AllowDestinationAccountToDeleteReplication","Effect":"Allow","Principal":{{"AWS":"arn:{partition}:iam::{dr_account}:root"}},"Action":"elasticfilesystem:DeleteReplicationConfiguration","Resource":"*"}}]}}"#
        );
        Error::Refused(crate::domain::error::Refusal {
            guardrail: "SourcePolicyDeniesDelete",
            message: format!(
                "{} in {} answers, and its file system policy does not let this account ({dr_account}) delete the \
                 replication configuration there ({message}); nothing was deleted",
                source.file_system_id, source.region
            ),
            remedy: format!(
                "in the production account, add this statement to the policy of {} (merged with what it has): \
                 aws efs put-file-system-policy --region {} --file-system-id {} --policy '{statement}', then run again. \
                 Or, if the source must be left as it is, run again with deletion_mode LOCAL_CONFIGURATION_ONLY \
                 and force: true (its configuration stays behind until failback deletes it)",
                source.file_system_id, source.region, source.file_system_id
            ),
        })
    }

    /// Mount targets can be created on a read-only replica: start them while the
    /// promotion runs, so that the two waits overlap instead of adding up.
    pub(super) async fn prepare_mount_targets(&mut self, dest_id: &FileSystemId) -> Result<()> {
        if self.target.mount_targets.is_empty() {
            return Ok(());
        }
        let started = self.now();
        let mts = mount_targets::ensure(
            &self.dest,
            dest_id,
            &self.target.mount_targets,
            self.target.mode,
            false,
        )
        .await?;
        if !mts.actions.is_empty() {
            self.report.step(
                "mount targets",
                Outcome::Done,
                started,
                self.now(),
                mts.actions.join("; "),
            );
        }
        Ok(())
    }

    pub(super) async fn after_promotion(&mut self, fs: FileSystem) -> Result<Pass> {
        let now = self.now();
        if let Some(since) = self.waiting_since.take() {
            self.report.step(
                "wait until writable",
                Outcome::Done,
                since,
                now,
                "no configuration left, overwrite protection ENABLED",
            );
        }
        self.recovery_point_from_tags(&fs);
        self.set_phase(Phase::MountTargets);
        let started = self.now();
        let mts = mount_targets::ensure(
            &self.dest,
            &fs.id,
            &self.target.mount_targets,
            self.target.mode,
            false,
        )
        .await?;
        let now = self.now();
        mts.record(&mut self.report, Outcome::Done, started, now);
        if mts.pending {
            self.report.step(
                "wait for mount targets",
                Outcome::Waiting,
                started,
                self.now(),
                "mount targets not yet available",
            );
            return Ok(Pass::Wait);
        }
        if self.target.mount_targets.is_empty() && mts.targets.is_empty() {
            self.report.warn(format!(
                "{} has no mount targets: clients cannot mount it until some are created",
                fs.id
            ));
        }
        let completed = fs.tag(tags::FAILOVER_COMPLETED_AT).is_some()
            && fs.tag(tags::ROLE) == Some(tags::ROLE_PRIMARY);
        if completed {
            self.report.step(
                "finish",
                Outcome::AlreadyDone,
                started,
                self.now(),
                format!(
                    "failover already completed at {}",
                    fs.tag(tags::FAILOVER_COMPLETED_AT).unwrap_or("?")
                ),
            );
        } else {
            self.needs_completion_mark = true;
        }
        self.set_phase(Phase::Completed);
        self.report.next(format!(
            "point clients at {} (mount {}); access point IDs differ on the replica",
            fs.id,
            fs.dns_name()
        ));
        self.destination_fs = Some(fs);
        Ok(Pass::Done)
    }

    /// Takes the one step `decide` chose.
    pub(super) async fn act(&mut self, decision: Decision, seen: Observed) -> Result<Pass> {
        for w in decision.warnings {
            self.report.warn(w);
        }
        let dest_id = seen.destination.id.clone();
        let now = self.now();
        match decision.action {
            Action::AwaitWritable => {
                self.report.step(
                    "wait until writable",
                    Outcome::Waiting,
                    now,
                    now,
                    "configuration gone, protection not yet ENABLED",
                );
                Ok(Pass::Wait)
            }
            Action::ReportAlreadyWritable => {
                self.report.step(
                    "promote",
                    Outcome::AlreadyDone,
                    now,
                    now,
                    format!("{dest_id} is already writable"),
                );
                self.report.status = Status::Planned;
                self.set_phase(Phase::AlreadyPromoted);
                Ok(Pass::Done)
            }
            Action::FinishPromoted => self.after_promotion(seen.destination).await,
            Action::ReportPromotionUnderWay => {
                self.report.step(
                    "promote",
                    Outcome::AlreadyDone,
                    now,
                    now,
                    "promotion already under way (DELETING)",
                );
                self.report.status = Status::Planned;
                Ok(Pass::Done)
            }
            Action::AwaitDeletion => {
                self.prepare_mount_targets(&dest_id).await?;
                let now = self.now();
                self.waiting_since.get_or_insert(now);
                self.set_phase(Phase::Promoting);
                self.report.step(
                    "wait until writable",
                    Outcome::Waiting,
                    now,
                    now,
                    "replication configuration DELETING",
                );
                Ok(Pass::Wait)
            }
            Action::AwaitSync {
                mark,
                last_replicated,
            } => {
                self.set_phase(Phase::AwaitingSync);
                self.report.step(
                    "wait for a final sync",
                    Outcome::Waiting,
                    now,
                    now,
                    format!(
                        "the last sync completed {}, before synced_after {}: what was written before it may not be on the replica yet",
                        last_replicated.map(iso8601).unwrap_or_else(|| "never".into()),
                        iso8601(mark)
                    ),
                );
                Ok(Pass::Wait)
            }
            Action::Plan { last_replicated } => {
                let reachable = self.report.source_region_reachable.unwrap_or(false);
                self.plan(reachable, last_replicated);
                Ok(Pass::Done)
            }
            Action::Escalate {
                source,
                waited_seconds,
            } => {
                let why = format!(
                    "escalated: DELETING for {waited_seconds:.0} s (max_promotion_wait_seconds {}) with {} unreachable; deleted the destination side only (LOCAL_CONFIGURATION_ONLY)",
                    self.target.max_promotion_wait_seconds, source.region
                );
                self.report.warn(why.clone());
                self.delete_local_side(&dest_id, &source, now, why).await?;
                Ok(Pass::Wait)
            }
            Action::Promote {
                last_replicated,
                source,
                deletion_mode,
            } => {
                self.set_phase(Phase::Promoting);
                self.promote(last_replicated, &source, deletion_mode)
                    .await?;
                self.prepare_mount_targets(&dest_id).await?;
                self.waiting_since.get_or_insert(self.now());
                Ok(Pass::Wait)
            }
        }
    }
}
