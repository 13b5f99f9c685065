//! AWS Backup as the world keeps it: each Region's vaults, backup jobs and
//! recovery points, the outcomes tests force on a file system's next jobs,
//! and the state machine a job follows through emulated time. The jobs are
//! moved on by `backup_jobs` (through the agenda); the Backup API is in
//! `backup`.

use super::files::FileEntry;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// `BackupJobState` of the botocore model, as far as the emulator reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JobState {
    Created,
    Running,
    Completed,
    Failed,
    Aborted,
    Expired,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Created => "CREATED",
            JobState::Running => "RUNNING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Aborted => "ABORTED",
            JobState::Expired => "EXPIRED",
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::Created | JobState::Running)
    }
}

/// A terminal state forced on a job through `POST /_emulator/backup-fault`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ForcedOutcome {
    Failed,
    Aborted,
    Expired,
}

impl ForcedOutcome {
    pub fn state(self) -> JobState {
        match self {
            ForcedOutcome::Failed => JobState::Failed,
            ForcedOutcome::Aborted => JobState::Aborted,
            ForcedOutcome::Expired => JobState::Expired,
        }
    }

    fn message(self) -> &'static str {
        match self {
            ForcedOutcome::Failed => {
                "Backup job failed: the outcome was forced with POST /_emulator/backup-fault."
            }
            ForcedOutcome::Aborted => {
                "Backup job was aborted: the outcome was forced with POST /_emulator/backup-fault."
            }
            ForcedOutcome::Expired => {
                "Backup job expired before completion: the outcome was forced with \
                 POST /_emulator/backup-fault."
            }
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BackupVault {
    pub name: String,
    pub arn: String,
    pub creation_date: f64,
    pub encryption_key_arn: String,
    pub creator_request_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// `Lifecycle` of the model: days after creation; -1 keeps the point forever.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Lifecycle {
    pub move_to_cold_storage_after_days: Option<i64>,
    pub delete_after_days: Option<i64>,
    pub opt_in_to_archive_for_supported_resources: Option<bool>,
    pub delete_after_event: Option<String>,
}

impl Lifecycle {
    const DAY: f64 = 86_400.0;

    /// When a point created at `created` moves to cold storage, if ever.
    pub fn move_to_cold_at(&self, created: f64) -> Option<f64> {
        self.move_to_cold_storage_after_days
            .filter(|d| *d > 0)
            .map(|d| created + d as f64 * Self::DAY)
    }

    /// When a point created at `created` is deleted, if ever.
    pub fn delete_at(&self, created: f64) -> Option<f64> {
        self.delete_after_days
            .filter(|d| *d > 0)
            .map(|d| created + d as f64 * Self::DAY)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BackupJob {
    pub id: String,
    pub vault_name: String,
    pub vault_arn: String,
    pub recovery_point_arn: String,
    pub resource_arn: String,
    pub file_system_id: String,
    pub resource_name: Option<String>,
    pub iam_role_arn: String,
    pub idempotency_token: Option<String>,
    /// The request minus its token: a retry with the same token must match it.
    #[serde(skip)]
    pub request: serde_json::Value,
    pub creation_date: f64,
    /// CREATED -> RUNNING.
    pub running_at: f64,
    /// RUNNING -> COMPLETED (or the forced outcome).
    pub complete_at: f64,
    /// End of the start window (`StartBy`).
    pub start_by: f64,
    /// End of the completion window: still running then means EXPIRED.
    pub complete_by: Option<f64>,
    pub state: JobState,
    pub status_message: Option<String>,
    pub completion_date: Option<f64>,
    /// Progress when the job ended (100 when COMPLETED).
    pub percent_at_end: Option<f64>,
    pub backup_size: Option<u64>,
    pub lifecycle: Option<Lifecycle>,
    pub recovery_point_tags: BTreeMap<String, String>,
}

/// What the world around a job looks like when it is due.
#[derive(Clone, Copy, Debug)]
pub struct JobEnv {
    pub region_up: bool,
    /// The file system exists in the Region and is `available`.
    pub resource_available: bool,
    /// The outcome forced on the file system's next job, if any.
    pub forced: Option<ForcedOutcome>,
}

/// The change a job goes through at a given instant.
#[derive(Clone, Debug, PartialEq)]
pub enum JobStep {
    Wait,
    Run,
    Complete,
    /// Ends with the forced outcome (which the caller then takes off the queue).
    Forced(ForcedOutcome),
    End(JobState, String),
}

impl BackupJob {
    /// When the job next changes by itself.
    pub fn due(&self) -> Option<f64> {
        let deadline = self.complete_by.unwrap_or(f64::INFINITY);
        match self.state {
            JobState::Created => Some(self.running_at.min(self.start_by).min(deadline)),
            JobState::Running => Some(self.complete_at.min(deadline)),
            _ => None,
        }
    }

    /// The job's state machine: CREATED -> RUNNING -> COMPLETED, or FAILED
    /// (Region down, file system gone), EXPIRED (start or completion window
    /// over) or the outcome a fault forces.
    pub fn step(&self, now: f64, region: &str, env: JobEnv) -> JobStep {
        if self.state.is_terminal() {
            return JobStep::Wait;
        }
        if !env.region_up {
            return JobStep::End(JobState::Failed, outage_message(region));
        }
        if self.complete_by.is_some_and(|d| now >= d) {
            return JobStep::End(
                JobState::Expired,
                "Backup job expired before completion.".to_string(),
            );
        }
        let unavailable = || {
            JobStep::End(
                JobState::Failed,
                format!(
                    "Backup job failed: the resource {} does not exist or is not available.",
                    self.resource_arn
                ),
            )
        };
        match self.state {
            JobState::Created if self.start_by <= self.running_at && now >= self.start_by => {
                JobStep::End(
                    JobState::Expired,
                    "Backup job expired: it did not start within its start window.".to_string(),
                )
            }
            JobState::Created if now >= self.running_at => {
                if env.resource_available {
                    JobStep::Run
                } else {
                    unavailable()
                }
            }
            JobState::Running if now >= self.complete_at => match env.forced {
                Some(outcome) => JobStep::Forced(outcome),
                None if !env.resource_available => unavailable(),
                None => JobStep::Complete,
            },
            _ => JobStep::Wait,
        }
    }

    /// Applies a step's terminal state and message.
    pub fn end(&mut self, state: JobState, message: Option<String>, now: f64) {
        self.percent_at_end = Some(if state == JobState::Completed {
            100.0
        } else {
            self.progress(now)
        });
        self.state = state;
        self.status_message = message;
        self.completion_date = Some(now);
    }

    /// Ends the job with `outcome`'s state and message.
    pub fn end_forced(&mut self, outcome: ForcedOutcome, now: f64) {
        self.end(outcome.state(), Some(outcome.message().to_string()), now);
    }

    /// `PercentDone` as a number: 0 until RUNNING, linear while running (never
    /// 100 before the job completes), frozen when it ends.
    pub fn progress(&self, now: f64) -> f64 {
        if let Some(p) = self.percent_at_end {
            return p;
        }
        match self.state {
            JobState::Running => {
                let span = (self.complete_at - self.running_at).max(f64::EPSILON);
                (((now - self.running_at) / span) * 100.0).clamp(0.0, 99.0)
            }
            _ => 0.0,
        }
    }
}

pub fn outage_message(region: &str) -> String {
    format!(
        "Backup job failed: AWS Backup in {region} was unavailable while the job ran \
         (emulated Region outage)."
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecoveryPointState {
    Creating,
    Done,
}

#[derive(Clone, Debug, Serialize)]
pub struct RecoveryPoint {
    pub arn: String,
    pub vault_name: String,
    pub vault_arn: String,
    pub resource_arn: String,
    pub file_system_id: String,
    pub resource_name: Option<String>,
    pub iam_role_arn: String,
    pub job_id: String,
    pub creation_date: f64,
    pub completion_date: Option<f64>,
    pub state: RecoveryPointState,
    pub backup_size: u64,
    pub lifecycle: Option<Lifecycle>,
    pub encryption_key_arn: String,
    pub tags: BTreeMap<String, String>,
    /// The file system's files when the job completed (empty while CREATING).
    #[serde(skip)]
    pub files: BTreeMap<String, FileEntry>,
}

impl RecoveryPoint {
    /// When the lifecycle deletes this point, if it is complete and ever will.
    pub fn delete_at(&self) -> Option<f64> {
        if self.state != RecoveryPointState::Done {
            return None;
        }
        self.lifecycle.as_ref()?.delete_at(self.creation_date)
    }
}

/// A Region's AWS Backup.
#[derive(Debug, Default, Serialize)]
pub struct BackupState {
    pub vaults: BTreeMap<String, BackupVault>,
    pub jobs: BTreeMap<String, BackupJob>,
    pub recovery_points: BTreeMap<String, RecoveryPoint>,
    /// Outcomes forced on the next jobs of a file system, by file system ID.
    pub forced: BTreeMap<String, VecDeque<ForcedOutcome>>,
}

impl BackupState {
    /// Every Region starts with the vault `Default`.
    pub fn with_default_vault(region: &str, account: &str, now: f64) -> BackupState {
        let mut state = BackupState::default();
        let vault = BackupVault {
            name: "Default".to_string(),
            arn: crate::arn::make("backup", region, account, "backup-vault:Default"),
            creation_date: now,
            encryption_key_arn: managed_key_arn(region, account),
            creator_request_id: None,
            tags: BTreeMap::new(),
        };
        state.vaults.insert(vault.name.clone(), vault);
        state
    }

    /// The job started with `token`, if any.
    pub fn job_by_token(&self, token: &str) -> Option<&BackupJob> {
        self.jobs
            .values()
            .find(|j| j.idempotency_token.as_deref() == Some(token))
    }

    /// The most recent complete recovery point of a file system.
    pub fn latest_done(&self, file_system_id: &str) -> Option<&RecoveryPoint> {
        self.recovery_points
            .values()
            .filter(|p| p.file_system_id == file_system_id && p.state == RecoveryPointState::Done)
            .max_by(|a, b| {
                a.completion_date
                    .unwrap_or(0.0)
                    .total_cmp(&b.completion_date.unwrap_or(0.0))
            })
    }
}

/// The Region's AWS managed key for Backup (`aws/backup`).
pub fn managed_key_arn(region: &str, account: &str) -> String {
    crate::arn::make(
        "kms",
        region,
        account,
        "key/00000000-0000-4000-8000-00000000bac0",
    )
}

/// Bytes an EFS backup transfers: the content of every file that is new or
/// changed since `previous` (AWS: "For Amazon EFS, this value refers to the
/// delta bytes transferred during a backup").
pub fn delta_bytes(
    previous: Option<&BTreeMap<String, FileEntry>>,
    now: &BTreeMap<String, FileEntry>,
) -> u64 {
    now.iter()
        .filter(|(path, f)| {
            previous
                .and_then(|p| p.get(*path))
                .is_none_or(|old| old != *f)
        })
        .map(|(_, f)| f.content.len() as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(complete_by: Option<f64>) -> BackupJob {
        BackupJob {
            id: "J".into(),
            vault_name: "Default".into(),
            vault_arn: "v".into(),
            recovery_point_arn: "rp".into(),
            resource_arn: "arn:aws:elasticfilesystem:us-east-1:1:file-system/fs-1".into(),
            file_system_id: "fs-1".into(),
            resource_name: None,
            iam_role_arn: "r".into(),
            idempotency_token: Some("t".into()),
            request: serde_json::Value::Null,
            creation_date: 0.0,
            running_at: 60.0,
            complete_at: 300.0,
            start_by: 28_800.0,
            complete_by,
            state: JobState::Created,
            status_message: None,
            completion_date: None,
            percent_at_end: None,
            backup_size: None,
            lifecycle: None,
            recovery_point_tags: BTreeMap::new(),
        }
    }

    const UP: JobEnv = JobEnv {
        region_up: true,
        resource_available: true,
        forced: None,
    };

    #[test]
    fn a_job_runs_then_completes_on_time() {
        let mut j = job(None);
        assert_eq!(j.due(), Some(60.0));
        assert_eq!(j.step(59.0, "us-east-1", UP), JobStep::Wait);
        assert_eq!(j.step(60.0, "us-east-1", UP), JobStep::Run);
        j.state = JobState::Running;
        assert_eq!(j.due(), Some(300.0));
        assert_eq!(j.progress(180.0), 50.0);
        assert_eq!(j.progress(299.99).min(99.0), j.progress(299.99));
        assert_eq!(j.step(299.0, "us-east-1", UP), JobStep::Wait);
        assert_eq!(j.step(300.0, "us-east-1", UP), JobStep::Complete);
        j.end(JobState::Completed, None, 300.0);
        assert_eq!((j.due(), j.progress(400.0)), (None, 100.0));
        assert_eq!(j.step(400.0, "us-east-1", UP), JobStep::Wait);
    }

    #[test]
    fn outage_forced_outcomes_and_windows_end_a_job() {
        let mut j = job(None);
        let down = JobEnv {
            region_up: false,
            ..UP
        };
        assert!(matches!(
            j.step(10.0, "us-east-1", down),
            JobStep::End(JobState::Failed, m) if m.contains("us-east-1")
        ));
        j.state = JobState::Running;
        let forced = JobEnv {
            forced: Some(ForcedOutcome::Aborted),
            ..UP
        };
        // A forced outcome waits for the job's completion time.
        assert_eq!(j.step(200.0, "us-east-1", forced), JobStep::Wait);
        assert_eq!(
            j.step(300.0, "us-east-1", forced),
            JobStep::Forced(ForcedOutcome::Aborted)
        );
        let gone = JobEnv {
            resource_available: false,
            ..UP
        };
        assert!(matches!(
            j.step(300.0, "us-east-1", gone),
            JobStep::End(JobState::Failed, _)
        ));
        j.end_forced(ForcedOutcome::Aborted, 120.0);
        assert_eq!(
            (j.state, j.completion_date, j.progress(500.0)),
            (JobState::Aborted, Some(120.0), 25.0)
        );
        // A start window shorter than the wait for RUNNING expires the job.
        let mut late = job(None);
        late.start_by = 30.0;
        assert_eq!(late.due(), Some(30.0));
        assert!(matches!(
            late.step(30.0, "us-east-1", UP),
            JobStep::End(JobState::Expired, _)
        ));
        // A completion window shorter than the job expires it.
        let short = job(Some(240.0));
        assert_eq!(short.due(), Some(60.0));
        let mut running = short.clone();
        running.state = JobState::Running;
        assert_eq!(running.due(), Some(240.0));
        assert_eq!(
            running.step(240.0, "us-east-1", UP),
            JobStep::End(
                JobState::Expired,
                "Backup job expired before completion.".into()
            )
        );
    }

    #[test]
    fn backup_size_is_the_delta_since_the_previous_point() {
        let entry = |c: &str, seq| FileEntry {
            content: c.into(),
            seq,
            written_at: 0.0,
            size: c.len() as u64,
        };
        let first: BTreeMap<String, FileEntry> = [
            ("/a".to_string(), entry("aaaa", 1)),
            ("/b".to_string(), entry("bb", 2)),
        ]
        .into();
        assert_eq!(delta_bytes(None, &first), 6);
        let mut second = first.clone();
        second.insert("/b".into(), entry("bbb", 3));
        second.insert("/c".into(), entry("c", 4));
        assert_eq!(delta_bytes(Some(&first), &second), 4);
        assert_eq!(delta_bytes(Some(&second), &second), 0);
    }

    #[test]
    fn lifecycle_days_count_from_creation() {
        let l = Lifecycle {
            move_to_cold_storage_after_days: Some(1),
            delete_after_days: Some(91),
            ..Default::default()
        };
        assert_eq!(l.move_to_cold_at(100.0), Some(100.0 + 86_400.0));
        assert_eq!(l.delete_at(0.0), Some(91.0 * 86_400.0));
        let forever = Lifecycle {
            delete_after_days: Some(-1),
            ..Default::default()
        };
        assert_eq!(forever.delete_at(0.0), None);
    }
}
