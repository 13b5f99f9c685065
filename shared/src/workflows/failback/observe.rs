//! The failback's observe half: the original's Region probed, the preflight
//! checks, and the pair as one pass sees it.

use super::*;

impl<'a, P: Platform> Failback<'a, P> {
    /// One-time checks before any change: the original Region answers, no split brain.
    /// The original Region must answer: failback needs both. Checked before any read there.
    pub(super) async fn probe_original(&mut self) -> Result<()> {
        if self.checked {
            return Ok(());
        }
        let started = self.now();
        let probe = self
            .platform
            .efs(self.original_at(), CallBudget::Short)
            .probe()
            .await;
        if let Some(e) = probe.err().filter(|e| e.kind.is_no_answer()) {
            self.refuse(
                "OriginalRegionUnreachable",
                format!(
                    "{} does not answer ({}): failback needs both Regions",
                    self.t.original_region, e.message
                ),
                "wait until the original Region is back, then run failback again",
            )?;
        }
        self.step(
            "probe original Region",
            Outcome::Checked,
            started,
            format!("{} answers", self.t.original_region),
        );
        Ok(())
    }

    pub(super) async fn preflight(
        &mut self,
        original: Option<&FileSystem>,
        replica: &FileSystem,
    ) -> Result<()> {
        if self.checked {
            return Ok(());
        }
        // Clients on the original since the failover would be writing to a file system about to be overwritten.
        if let Some(o) = original {
            let since = replica
                .tag(tags::PROMOTED_AT)
                .and_then(|v| v.parse::<f64>().ok());
            if let Some(since) = since {
                let now = self.now();
                let dims = vec![("FileSystemId".to_string(), o.id.to_string())];
                let period_seconds = finest_period_kept(since, now);
                let seen = self
                    .platform
                    .metrics(self.original_at())
                    .series(&SeriesQuery {
                        namespace: "AWS/EFS",
                        metric: "ClientConnections",
                        dimensions: &dims,
                        start: (since / f64::from(period_seconds)).floor()
                            * f64::from(period_seconds),
                        end: now + 60.0,
                        period_seconds,
                        statistic: Statistic::Maximum,
                    })
                    .await?;
                // A period that began before the failover still overlaps the time after it.
                let after_failover: Vec<&(f64, f64)> = seen
                    .iter()
                    .filter(|(t, _)| *t + f64::from(period_seconds) > since)
                    .collect();
                let connected: Vec<String> = after_failover
                    .iter()
                    .filter(|(_, v)| *v > 0.0)
                    .map(|(t, v)| format!("{v:.0} at {}", iso8601(*t)))
                    .collect();
                // Known only from a period wholly after the failover.
                let known = seen.iter().any(|(t, _)| *t >= since);
                let problem = if !known {
                    Some(format!(
                        "CloudWatch has no ClientConnections for {} since the failover ({}): whether clients wrote there is unknown",
                        o.id,
                        iso8601(since)
                    ))
                } else if !connected.is_empty() {
                    Some(format!(
                        "{} had client connections after the failover ({}): writes there would be lost or conflict",
                        o.id,
                        connected.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                    ))
                } else {
                    None
                };
                if let Some(message) = problem {
                    self.refuse(
                        "SplitBrain",
                        message.clone(),
                        "stop the clients still using the original, copy anything they wrote, then run again (or set force: true)",
                    )?;
                    self.report.warn(format!(
                        "guardrail SplitBrain overridden by force: {message}"
                    ));
                }
                self.step(
                    "check client connections",
                    Outcome::Checked,
                    now,
                    "no client connections on the original since the failover",
                );
            }
        }
        self.checked = true;
        Ok(())
    }

    /// Reads both Regions (and runs the one-time checks) into a plain snapshot.
    pub(super) async fn observe(&mut self) -> Result<Observed> {
        let replica_id = self.t.replica_id.clone();
        let replica = self.replica.describe_file_system(&replica_id).await;
        if self.report.timeline.is_empty() {
            let now = self.now();
            self.report.restart(now);
        }
        let replica = replica?.ok_or_else(|| {
            Error::InvalidInput(format!(
                "replica {replica_id} does not exist in {}: check replica_file_system_id and replica_region",
                self.t.replica_region
            ))
        })?;
        let replica_replication = self.replica.describe_replication(&replica_id).await?;
        self.check_accounts(&replica)?;
        self.probe_original().await?;
        // The original: named, or (new_file_system) the destination of the reverse replication.
        let original_id = match &replica_replication {
            Some(r)
                if r.source_file_system_id == replica_id
                    && r.destination_region == self.t.original_region =>
            {
                Some(r.destination_file_system_id.clone())
            }
            _ => self.report.destination.file_system_id.clone(),
        };
        self.report.destination.file_system_id = original_id.clone();
        let original = match &original_id {
            Some(id) => self.original.describe_file_system(id).await?,
            None => None,
        };
        if let (Some(id), None) = (&original_id, &original) {
            if self.t.strategy != Strategy::NewFileSystem {
                return Err(Error::InvalidInput(format!(
                    "original {id} does not exist in {}: if it is gone, use strategy new_file_system",
                    self.t.original_region
                )));
            }
        }
        self.preflight(original.as_ref(), &replica).await?;
        let original_replication = match &original {
            Some(o) => self.original.describe_replication(&o.id).await?,
            None => None,
        };
        Ok(Observed {
            replica,
            replica_replication,
            original,
            original_replication,
        })
    }
}
