//! The failover's observe half: the source Region probed, the replica found,
//! the recovery point read, and the world as one pass sees it.

use super::*;

impl<'a, P: Platform> Failover<'a, P> {
    pub(super) async fn probe_source(&mut self) -> bool {
        let started = self.now();
        let window = match (self.target.known_source_window, self.windows) {
            (Some(known), _) => known,
            (None, Some(shared)) => {
                // One pair probes; the others of the run wait for its window.
                let mut windows = shared.lock().await;
                let region = self.target.source_region.to_string();
                match windows.get(&region) {
                    Some((at, w)) if started - at <= SHARED_WINDOW_SECONDS => *w,
                    _ => {
                        let w = self.probe_window().await;
                        windows.insert(region, (self.now(), w));
                        w
                    }
                }
            }
            (None, None) => self.probe_window().await,
        };
        let reachable = window.working;
        self.source_silent = Some(!window.answered);
        let now = self.now();
        self.report.source_region_reachable = Some(reachable);
        self.report.step(
            "probe source Region",
            Outcome::Checked,
            started,
            now,
            if reachable {
                format!("{} answers", self.target.source_region)
            } else {
                format!(
                    "{} gave no working answer in {SOURCE_PROBES} probes (silence, throttling or 5xx; a signal only, failover does not need it)",
                    self.target.source_region
                )
            },
        );
        reachable
    }

    async fn probe_window(&self) -> crate::domain::ports::Window {
        crate::domain::ports::answers_within_window(
            &self.source,
            self.platform.clock(),
            SOURCE_PROBES,
            SOURCE_PROBE_SPACING,
        )
        .await
    }

    /// Finds the replica when only the source was named: from the replication
    /// configuration, or after promotion from the tag an earlier run left.
    pub(super) async fn discover(&mut self) -> Result<FileSystemId> {
        let region = &self.target.destination_region;
        let found = crate::workflows::discovery::replica_of(
            &self.dest,
            &self.target.source_id,
            &self.target.source_region,
            false,
        )
        .await?;
        if let Some(id) = found {
            return Ok(id);
        }
        Err(Error::InvalidInput(format!(
            "no replication of {} ({}) is visible in {region}, and no file system there carries the tag of an \
             earlier failover. Give destination_file_system_id, or check source_region and destination_region.",
            self.target.source_id, self.target.source_region
        )))
    }

    pub(super) fn recovery_point_from_tags(&mut self, fs: &FileSystem) {
        if fs.tag(tags::SOURCE_CLEANUP_NEEDED) == Some("true") {
            self.report.deletion_mode = Some(DeletionMode::LocalConfigurationOnly);
            self.report.warn(format!(
                "the replication configuration in {} was left behind (LOCAL_CONFIGURATION_ONLY): it must be deleted there before failback",
                self.target.source_region
            ));
        }
        if fs.tag(tags::RECOVERY_POINT) == Some(tags::NONE) {
            self.report.warn(format!(
                "no recovery point: {} was promoted before it completed a sync, so it holds an incomplete copy",
                fs.id
            ));
        }
        let num = |k: &str| fs.tag(k).and_then(|v| v.parse::<f64>().ok());
        if let (Some(lrt), Some(promoted)) = (num(tags::RECOVERY_POINT), num(tags::PROMOTED_AT)) {
            self.report.recovery_point = Some(RecoveryPoint {
                last_replicated_timestamp: iso8601(lrt),
                last_replicated_epoch: lrt,
                promoted_at: iso8601(promoted),
                recovery_point_seconds: ((promoted - lrt).max(0.0) * 1000.0).round() / 1000.0,
            });
        }
    }

    /// Reads the destination from the DR Region, and probes the source Region once.
    pub(super) async fn observe(&mut self) -> Result<Observed> {
        let dest_id = match &self.report.destination.file_system_id {
            Some(id) => id.clone(),
            None => {
                let id = self.discover().await?;
                self.report.destination.file_system_id = Some(id.clone());
                id
            }
        };
        let fs = self.dest.describe_file_system(&dest_id).await;
        if self.report.timeline.is_empty() {
            // The clock follows the AWS side's answers: start timing once the first one is in.
            let now = self.now();
            self.report.restart(now);
        }
        let destination = fs?.ok_or_else(|| {
            Error::InvalidInput(format!(
                "destination file system {dest_id} does not exist in {}: check destination_file_system_id and destination_region",
                self.target.destination_region
            ))
        })?;
        self.report.dns_name = Some(destination.dns_name());
        self.own_account = crate::domain::ids::arn_account(&destination.arn);
        let replication = self.dest.describe_replication(&dest_id).await?;
        // Probe once, and again while a promotion hangs past its bound: the
        // escalation needs the source's state now, not at the start.
        let hanging = replication
            .as_ref()
            .is_some_and(|r| r.status == ReplicationStatus::Deleting)
            && destination
                .tag(tags::PROMOTED_AT)
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|p| self.now() - p >= self.target.max_promotion_wait_seconds as f64);
        if self.report.source_region_reachable.is_none() || hanging {
            self.probe_source().await;
        }
        Ok(Observed {
            destination,
            replication,
            source_reachable: self.report.source_region_reachable,
            source_silent: self.source_silent,
        })
    }
}
