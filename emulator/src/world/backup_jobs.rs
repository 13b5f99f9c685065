//! How backup jobs move through emulated time: the agenda fires a job when
//! it is due and this file applies its state machine (`backup::BackupJob::step`)
//! to the world: a completed job fills its recovery point with the file
//! system's files, a failed one takes its recovery point away, and a Region
//! going down fails every job still open there. Lifecycles delete recovery
//! points when their day comes.

use super::backup::{
    delta_bytes, outage_message, ForcedOutcome, JobEnv, JobState, JobStep, RecoveryPointState,
};
use super::model::{LifeCycle, World};

impl World {
    /// Moves job `id` of `region` on to `self.now`; returns when it is next due.
    pub(super) fn step_backup_job(&mut self, region: &str, id: &str) -> Option<f64> {
        let now = self.now;
        let region_up = self.is_reachable(region);
        let r = self.regions.get_mut(region)?;
        let job = r.backup.jobs.get(id)?;
        let fs = r.file_systems.get(&job.file_system_id);
        let env = JobEnv {
            region_up,
            resource_available: fs.is_some_and(|f| f.life_cycle == LifeCycle::Available),
            forced: r
                .backup
                .forced
                .get(&job.file_system_id)
                .and_then(|q| q.front().copied()),
        };
        let step = job.step(now, region, env);
        let fs_id = job.file_system_id.clone();
        let rp_arn = job.recovery_point_arn.clone();
        let backup = &mut r.backup;
        match step.clone() {
            JobStep::Wait => {}
            JobStep::Run => {
                if let Some(job) = backup.jobs.get_mut(id) {
                    job.state = JobState::Running;
                }
            }
            JobStep::Complete => {
                // The recovery point holds the files as of completion.
                let files = r
                    .file_systems
                    .get(&fs_id)
                    .map(|f| f.files.clone())
                    .unwrap_or_default();
                let size = delta_bytes(backup.latest_done(&fs_id).map(|p| &p.files), &files);
                if let Some(job) = backup.jobs.get_mut(id) {
                    job.end(JobState::Completed, None, now);
                    job.backup_size = Some(size);
                }
                if let Some(point) = backup.recovery_points.get_mut(&rp_arn) {
                    point.state = RecoveryPointState::Done;
                    point.completion_date = Some(now);
                    point.backup_size = size;
                    point.files = files;
                }
            }
            JobStep::Forced(outcome) => {
                if let Some(queue) = backup.forced.get_mut(&fs_id) {
                    queue.pop_front();
                    if queue.is_empty() {
                        backup.forced.remove(&fs_id);
                    }
                }
                if let Some(job) = backup.jobs.get_mut(id) {
                    job.end_forced(outcome, now);
                }
                backup.recovery_points.remove(&rp_arn);
            }
            JobStep::End(state, message) => {
                if let Some(job) = backup.jobs.get_mut(id) {
                    job.end(state, Some(message), now);
                }
                backup.recovery_points.remove(&rp_arn);
            }
        }
        // Never due again at this very instant: that would spin the agenda.
        backup
            .jobs
            .get(id)
            .and_then(|j| j.due())
            .filter(|t| *t > now || step != JobStep::Wait)
    }

    /// A Region went down: every job still open there fails at once.
    pub fn fail_backup_jobs_for_outage(&mut self, region: &str) {
        let now = self.now;
        let Some(r) = self.regions.get_mut(region) else {
            return;
        };
        let backup = &mut r.backup;
        for job in backup.jobs.values_mut() {
            if !job.state.is_terminal() {
                job.end(JobState::Failed, Some(outage_message(region)), now);
                backup.recovery_points.remove(&job.recovery_point_arn);
            }
        }
    }

    /// Deletes recovery point `arn` of `region` if its lifecycle says so by now.
    pub(super) fn expire_recovery_point(&mut self, region: &str, arn: &str) {
        let now = self.now;
        if let Some(r) = self.regions.get_mut(region) {
            let due = r
                .backup
                .recovery_points
                .get(arn)
                .and_then(|p| p.delete_at())
                .is_some_and(|t| t <= now);
            if due {
                r.backup.recovery_points.remove(arn);
            }
        }
    }
}

impl World {
    /// Queues `count` forced outcomes for the next jobs of `file_system_id`
    /// (in `region`, or wherever it exists); `count` 0 clears the queue.
    /// Returns the file system's Region and its pending outcomes.
    pub fn force_backup_outcomes(
        &mut self,
        region: Option<&str>,
        file_system_id: &str,
        outcome: ForcedOutcome,
        count: usize,
    ) -> Result<(String, Vec<ForcedOutcome>), String> {
        let region = self
            .regions
            .iter()
            .find(|(name, r)| {
                region.is_none_or(|want| want == name.as_str())
                    && r.file_systems.contains_key(file_system_id)
            })
            .map(|(name, _)| name.clone())
            .ok_or_else(|| match region {
                Some(r) => format!("file system {file_system_id} does not exist in {r}"),
                None => format!("file system {file_system_id} does not exist in any Region"),
            })?;
        let forced = &mut self.region_mut(&region).backup.forced;
        if count == 0 {
            forced.remove(file_system_id);
            return Ok((region, Vec::new()));
        }
        let queue = forced.entry(file_system_id.to_string()).or_default();
        queue.extend(std::iter::repeat_n(outcome, count));
        let pending = queue.iter().copied().collect();
        Ok((region, pending))
    }
}
