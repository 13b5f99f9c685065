//! The ports the workflows talk to. Adapters over the AWS SDK live in `aws`;
//! tests wrap them to inject crashes and count calls.

use crate::domain::error::AwsError;
use crate::domain::ids::{
    AccountId, FileSystemId, Location, RegionName, SecurityGroupId, SubnetId,
};
use crate::domain::model::{
    AccessPoint, AccessPointSpec, BackupJob, BackupJobRequest, DeletionMode, FileSystem,
    MetricPoint, MountTarget, Protection, Replication,
};
use std::future::Future;
use std::time::Duration;

pub type AwsResult<T> = Result<T, AwsError>;

/// How far a call may go: normal calls, or short ones into a Region that may be down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallBudget {
    Normal,
    Short,
}

/// Where the workflows get their ports from: clients for any location (an
/// account and a Region; a bare Region means the functions' own account),
/// a notifier and a clock.
pub trait Platform: Send + Sync {
    type Efs: Efs;
    type Backup: Backup;
    type Notifier: Notifier;
    type Metrics: Metrics;
    type Clock: Clock;
    type RegionSwitch: RegionSwitch;
    fn efs(&self, at: impl Into<Location>, budget: CallBudget) -> Self::Efs;
    fn backup(&self, at: impl Into<Location>) -> Self::Backup;
    fn notifier(&self) -> Self::Notifier;
    fn metrics(&self, at: impl Into<Location>) -> Self::Metrics;
    fn clock(&self) -> &Self::Clock;
    fn region_switch(&self, at: impl Into<Location>) -> Self::RegionSwitch;
}

/// ARC Region switch, as far as a plan's Lambda block needs it.
pub trait RegionSwitch: Send + Sync {
    fn get_plan_execution(
        &self,
        plan_arn: &str,
        execution_id: &str,
    ) -> impl Future<Output = AwsResult<crate::domain::model::PlanExecution>> + Send;
}

/// Answer to DeleteReplicationConfiguration.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome {
    Accepted,
    /// ReplicationNotFound: nothing to delete (already gone).
    NotFound,
}

/// Answer to CreateMountTarget.
#[derive(Clone, Debug, PartialEq)]
pub enum CreateMountTargetOutcome {
    Created(MountTarget),
    /// MountTargetConflict: the AZ already has a target, or another VPC is in use.
    Conflict(String),
}

/// Answer to CreateAccessPoint.
#[derive(Clone, Debug, PartialEq)]
pub enum CreateAccessPointOutcome {
    Created(AccessPoint),
    /// AccessPointAlreadyExists: the client token was used before, for this access point ID.
    AlreadyExists(String),
}

/// Where CreateReplicationConfiguration replicates to.
#[derive(Clone, Copy, Debug)]
pub struct ReplicationDestination<'a> {
    pub region: &'a RegionName,
    /// An existing file system (overwrite protection DISABLED), or a new one.
    pub file_system: Option<&'a FileSystemId>,
    /// Its account when it is not the caller's: then it is named by ARN and
    /// EFS replicates with `role_arn`, a role of the source's account.
    pub account: Option<&'a AccountId>,
    pub role_arn: Option<&'a str>,
}

impl<'a> ReplicationDestination<'a> {
    pub fn in_region(region: &'a RegionName, file_system: Option<&'a FileSystemId>) -> Self {
        ReplicationDestination {
            region,
            file_system,
            account: None,
            role_arn: None,
        }
    }
}

/// Answer to CreateReplicationConfiguration.
#[derive(Clone, Debug, PartialEq)]
pub enum CreateReplicationOutcome {
    Created(Box<Replication>),
    /// ReplicationAlreadyExists: one of the file systems is already in a configuration.
    AlreadyExists(String),
}

/// EFS in one Region.
pub trait Efs: Send + Sync {
    fn region(&self) -> &RegionName;

    /// `None` when the file system does not exist in this Region.
    fn describe_file_system(
        &self,
        id: &FileSystemId,
    ) -> impl Future<Output = AwsResult<Option<FileSystem>>> + Send;

    fn list_file_systems(&self) -> impl Future<Output = AwsResult<Vec<FileSystem>>> + Send;

    /// The configuration the file system takes part in, as this Region reports it.
    fn describe_replication(
        &self,
        id: &FileSystemId,
    ) -> impl Future<Output = AwsResult<Option<Replication>>> + Send;

    /// Every configuration visible in this Region.
    fn list_replications(&self) -> impl Future<Output = AwsResult<Vec<Replication>>> + Send;

    fn delete_replication(
        &self,
        source: &FileSystemId,
        mode: DeletionMode,
    ) -> impl Future<Output = AwsResult<DeleteOutcome>> + Send;

    fn create_replication(
        &self,
        source: &FileSystemId,
        destination: &ReplicationDestination<'_>,
    ) -> impl Future<Output = AwsResult<CreateReplicationOutcome>> + Send;

    /// PutFileSystemPolicy: the file system policy, as IAM JSON.
    fn put_file_system_policy(
        &self,
        id: &FileSystemId,
        policy: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;

    /// DescribeFileSystemPolicy: `None` while the default policy is in effect.
    fn file_system_policy(
        &self,
        id: &FileSystemId,
    ) -> impl Future<Output = AwsResult<Option<String>>> + Send;

    fn update_protection(
        &self,
        id: &FileSystemId,
        protection: Protection,
    ) -> impl Future<Output = AwsResult<()>> + Send;

    fn tag_file_system(
        &self,
        id: &FileSystemId,
        tags: &[(String, String)],
    ) -> impl Future<Output = AwsResult<()>> + Send;

    fn describe_mount_targets(
        &self,
        id: &FileSystemId,
    ) -> impl Future<Output = AwsResult<Vec<MountTarget>>> + Send;

    fn mount_target_security_groups(
        &self,
        mount_target_id: &str,
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;

    fn create_mount_target(
        &self,
        id: &FileSystemId,
        subnet: &SubnetId,
        security_groups: &[SecurityGroupId],
    ) -> impl Future<Output = AwsResult<CreateMountTargetOutcome>> + Send;

    fn set_mount_target_security_groups(
        &self,
        mount_target_id: &str,
        security_groups: &[SecurityGroupId],
    ) -> impl Future<Output = AwsResult<()>> + Send;

    fn delete_mount_target(
        &self,
        mount_target_id: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;

    fn describe_access_points(
        &self,
        id: &FileSystemId,
    ) -> impl Future<Output = AwsResult<Vec<AccessPoint>>> + Send;

    /// Creates with the tags in the same call; `client_token` makes retries safe.
    fn create_access_point(
        &self,
        id: &FileSystemId,
        spec: &AccessPointSpec,
        client_token: &str,
    ) -> impl Future<Output = AwsResult<CreateAccessPointOutcome>> + Send;

    fn tag_access_point(
        &self,
        access_point_id: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = AwsResult<()>> + Send;

    /// A cheap read with a short timeout. Only `Unreachable` means the Region did not
    /// answer; see [`reachable`].
    fn probe(&self) -> impl Future<Output = AwsResult<()>> + Send;
}

/// Where a notification goes. SNS is the one channel today; the workflows
/// say who hears, the adapter knows how to reach them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    SnsTopic { arn: String, region: RegionName },
}

impl Recipient {
    /// `None` when `arn` is not an SNS topic ARN.
    pub fn sns_topic(arn: &str) -> Option<Recipient> {
        let region = crate::domain::ids::topic_region(arn)?;
        Some(Recipient::SnsTopic {
            arn: arn.to_string(),
            region,
        })
    }

    /// The address, as an operator reads it in a warning.
    pub fn address(&self) -> &str {
        match self {
            Recipient::SnsTopic { arn, .. } => arn,
        }
    }
}

/// A message to people or to another function.
#[derive(Clone, Copy, Debug)]
pub struct Notification<'a> {
    pub to: &'a Recipient,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Notifications to people and to other functions.
pub trait Notifier: Send + Sync {
    fn send(&self, notification: Notification<'_>) -> impl Future<Output = AwsResult<()>> + Send;
}

/// An alarm's current state as CloudWatch reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmStatus {
    pub state: String,
    /// When it entered that state (epoch seconds).
    pub since: f64,
    /// `breaching`, `notBreaching`, `ignore` or `missing` (absent: missing).
    pub treat_missing_data: Option<String>,
}

/// Our own metrics (namespace `EfsDr`) and the alarms on them.
pub trait Metrics: Send + Sync {
    fn put(&self, points: &[MetricPoint]) -> impl Future<Output = AwsResult<()>> + Send;

    /// `None` when no alarm has that name.
    fn alarm(&self, name: &str) -> impl Future<Output = AwsResult<Option<AlarmStatus>>> + Send;

    /// One statistic of a metric per period, oldest first.
    fn series(
        &self,
        query: &SeriesQuery<'_>,
    ) -> impl Future<Output = AwsResult<Vec<(f64, f64)>>> + Send;

    /// Several series at once (one GetMetricData per 500 queries), in the
    /// order asked.
    fn series_many(
        &self,
        queries: &[SeriesQuery<'_>],
    ) -> impl Future<Output = AwsResult<Vec<Vec<(f64, f64)>>>> + Send {
        async move {
            let mut out = Vec::with_capacity(queries.len());
            for q in queries {
                out.push(self.series(q).await?);
            }
            Ok(out)
        }
    }

    /// Maximum per minute of a metric over the last `seconds`, oldest first.
    fn recent(
        &self,
        namespace: &str,
        metric: &str,
        dimensions: &[(String, String)],
        seconds: f64,
        now: f64,
    ) -> impl Future<Output = AwsResult<Vec<(f64, f64)>>> + Send {
        async move {
            self.series(&SeriesQuery {
                namespace,
                metric,
                dimensions,
                start: now - seconds,
                end: now + 60.0,
                period_seconds: 60,
                statistic: Statistic::Maximum,
            })
            .await
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    Maximum,
    Minimum,
    Sum,
}

impl Statistic {
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Maximum => "Maximum",
            Statistic::Minimum => "Minimum",
            Statistic::Sum => "Sum",
        }
    }
}

/// A GetMetricData question: `statistic` of `metric` per `period_seconds`
/// between `start` and `end` (epoch seconds).
#[derive(Clone, Debug)]
pub struct SeriesQuery<'a> {
    pub namespace: &'a str,
    pub metric: &'a str,
    pub dimensions: &'a [(String, String)],
    pub start: f64,
    pub end: f64,
    pub period_seconds: u32,
    pub statistic: Statistic,
}

/// The finest period CloudWatch still keeps for data from `start`: 60 s data
/// for 15 days, 5 minutes for 63 days, 1 hour beyond. Asking finer than
/// what is kept returns nothing, which would read as "no clients".
pub fn finest_period_kept(start: f64, now: f64) -> u32 {
    const DAY: f64 = 86_400.0;
    let age = now - start;
    if age <= 15.0 * DAY {
        60
    } else if age <= 63.0 * DAY {
        300
    } else {
        3600
    }
}

/// AWS Backup in one Region: the copy efs-dr takes of a file system before
/// replication overwrites it.
pub trait Backup: Send + Sync {
    /// StartBackupJob; the same `idempotency_token` always answers with the same job.
    fn start_backup_job(
        &self,
        request: &BackupJobRequest,
    ) -> impl Future<Output = AwsResult<String>> + Send;

    fn describe_backup_job(
        &self,
        job_id: &str,
    ) -> impl Future<Output = AwsResult<BackupJob>> + Send;
}

/// Time. In production the AWS side's clock (LastReplicatedTimestamp is stamped
/// by AWS); in tests a virtual clock that moves the emulator's.
pub trait Clock: Send + Sync {
    /// Epoch seconds.
    fn now(&self) -> f64;
    /// Monotonic time since an arbitrary start, the basis of invocation deadlines.
    fn monotonic(&self) -> Duration;
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send;
}

/// Whether a Region's EFS control plane works, from `probes` probes `spacing`
/// apart: any success, or an authoritative refusal (AccessDenied: an IAM
/// mistake must not look like an outage), means yes; a Region that only gives
/// silence, throttling or 5xx for the whole window does not count as reachable.
pub async fn answers_within_window<E: Efs, C: Clock>(
    efs: &E,
    clock: &C,
    probes: u32,
    spacing: Duration,
) -> Window {
    let mut answered = false;
    for n in 0..probes.max(1) {
        if n > 0 {
            clock.sleep(spacing).await;
        }
        match efs.probe().await {
            Ok(()) => {
                return Window {
                    working: true,
                    answered: true,
                }
            }
            Err(e) if !e.kind.is_transient() => {
                return Window {
                    working: true,
                    answered: true,
                }
            }
            Err(e) => answered |= !e.kind.is_no_answer(),
        }
    }
    Window {
        working: false,
        answered,
    }
}

/// What a probe window saw of a Region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// A success or an authoritative refusal: the Region works.
    pub working: bool,
    /// Any answer at all, throttling and 5xx included: the Region is there,
    /// even if browned out.
    pub answered: bool,
}

/// Whether a Region's EFS answers: any answer, even an error, counts.
pub async fn reachable<E: Efs>(efs: &E) -> bool {
    match efs.probe().await {
        Ok(()) => true,
        Err(e) => !e.kind.is_no_answer(),
    }
}

#[cfg(test)]
mod tests {
    use super::finest_period_kept;

    #[test]
    fn older_windows_are_read_at_the_resolution_cloudwatch_still_keeps() {
        let day = 86_400.0;
        let now = 100.0 * day;
        assert_eq!(finest_period_kept(now - 3_600.0, now), 60);
        assert_eq!(finest_period_kept(now - 15.0 * day, now), 60);
        assert_eq!(finest_period_kept(now - 16.0 * day, now), 300);
        assert_eq!(finest_period_kept(now - 63.0 * day, now), 300);
        assert_eq!(finest_period_kept(now - 64.0 * day, now), 3600);
    }
}
