//! What the workflows observe of AWS, independent of the SDK's types.

use crate::domain::ids::{AccountId, FileSystemId, RegionName, SecurityGroupId, SubnetId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protection {
    Enabled,
    Disabled,
    Replicating,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifeCycle {
    Creating,
    Available,
    Updating,
    Deleting,
    Deleted,
    Error,
    #[serde(untagged)]
    Other(String),
}

impl LifeCycle {
    pub fn parse(s: &str) -> LifeCycle {
        match s {
            "creating" => LifeCycle::Creating,
            "available" => LifeCycle::Available,
            "updating" => LifeCycle::Updating,
            "deleting" => LifeCycle::Deleting,
            "deleted" => LifeCycle::Deleted,
            "error" => LifeCycle::Error,
            other => LifeCycle::Other(other.to_string()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileSystem {
    pub id: FileSystemId,
    pub region: RegionName,
    pub arn: String,
    pub life_cycle: LifeCycle,
    pub protection: Protection,
    pub name: Option<String>,
    pub tags: Vec<(String, String)>,
    pub mount_target_count: i32,
}

impl FileSystem {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The DNS name clients mount: `fs-….efs.REGION.amazonaws.com`.
    pub fn dns_name(&self) -> String {
        format!("{}.efs.{}.amazonaws.com", self.id, self.region)
    }

    /// Writable in EFS replication terms: protection back to ENABLED (a replica
    /// is `available` while read-only, so the life cycle is not the signal).
    pub fn is_writable(&self) -> bool {
        self.protection == Protection::Enabled && self.life_cycle == LifeCycle::Available
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplicationStatus {
    Enabled,
    Enabling,
    Deleting,
    Error,
    Paused,
    Pausing,
    #[serde(untagged)]
    Other(String),
}

impl ReplicationStatus {
    pub fn parse(s: &str) -> ReplicationStatus {
        match s {
            "ENABLED" => ReplicationStatus::Enabled,
            "ENABLING" => ReplicationStatus::Enabling,
            "DELETING" => ReplicationStatus::Deleting,
            "ERROR" => ReplicationStatus::Error,
            "PAUSED" => ReplicationStatus::Paused,
            "PAUSING" => ReplicationStatus::Pausing,
            other => ReplicationStatus::Other(other.to_string()),
        }
    }
}

/// One replication configuration, as the Region it was read from reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Replication {
    pub source_file_system_id: FileSystemId,
    pub source_region: RegionName,
    pub destination_file_system_id: FileSystemId,
    pub destination_region: RegionName,
    pub status: ReplicationStatus,
    pub status_message: Option<String>,
    /// Epoch seconds of the last completed sync; absent until the first one.
    pub last_replicated: Option<f64>,
    pub owners: Owners,
}

/// The accounts of a configuration's two sides, and the role EFS replicates
/// with across them (all absent in answers from before cross-account EFS).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Owners {
    pub source: Option<AccountId>,
    pub destination: Option<AccountId>,
    pub role_arn: Option<String>,
}

impl Owners {
    pub fn cross_account(&self) -> bool {
        matches!((&self.source, &self.destination), (Some(s), Some(d)) if s != d)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeletionMode {
    AllConfigurations,
    LocalConfigurationOnly,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MountTarget {
    pub id: String,
    pub file_system_id: FileSystemId,
    pub subnet_id: String,
    pub availability_zone: Option<String>,
    pub ip_address: Option<String>,
    pub life_cycle: LifeCycle,
}

/// A mount target an operator wants: a subnet and its security groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountTargetSpec {
    pub subnet_id: SubnetId,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroupId>,
}

/// A metric datapoint for our own namespace.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricPoint {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub dimensions: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosixUser {
    pub uid: i64,
    pub gid: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_gids: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreationInfo {
    pub owner_uid: i64,
    pub owner_gid: i64,
    pub permissions: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootDirectory {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_info: Option<CreationInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSpec {
    pub key: String,
    pub value: String,
}

/// An access point as wanted or as found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPointSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posix_user: Option<PosixUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<RootDirectory>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagSpec>,
}

impl AccessPointSpec {
    /// How an access point is recognised on the other file system: its Name
    /// tag, else its root directory and POSIX user.
    pub fn key(&self) -> String {
        let name = self.name.clone().or_else(|| {
            self.tags
                .iter()
                .find(|t| t.key == "Name")
                .map(|t| t.value.clone())
        });
        match name {
            Some(n) => format!("name:{n}"),
            None => {
                let path = self
                    .root_directory
                    .as_ref()
                    .map(|r| r.path.as_str())
                    .unwrap_or("/");
                let user = self
                    .posix_user
                    .as_ref()
                    .map(|u| format!("{}:{}", u.uid, u.gid))
                    .unwrap_or_else(|| "-".into());
                format!("root:{path} user:{user}")
            }
        }
    }

    /// Tags to create with: the given ones plus Name.
    pub fn all_tags(&self) -> Vec<(String, String)> {
        let mut tags: Vec<(String, String)> = self
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        if let Some(n) = &self.name {
            if !tags.iter().any(|(k, _)| k == "Name") {
                tags.push(("Name".into(), n.clone()));
            }
        }
        tags
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccessPoint {
    pub id: String,
    pub file_system_id: FileSystemId,
    pub spec: AccessPointSpec,
    pub life_cycle: LifeCycle,
}

/// An on-demand AWS Backup job of one file system.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BackupJobRequest {
    pub resource_arn: String,
    pub vault: String,
    pub iam_role_arn: String,
    pub idempotency_token: String,
}

/// A backup job as DescribeBackupJob reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BackupJob {
    pub id: String,
    /// CREATED, PENDING, RUNNING, ABORTING, ABORTED, COMPLETED, FAILED, EXPIRED or PARTIAL.
    pub state: String,
    pub status_message: Option<String>,
    pub recovery_point_arn: Option<String>,
    pub completed_at: Option<f64>,
}

impl BackupJob {
    pub fn is_completed(&self) -> bool {
        self.state == "COMPLETED"
    }

    /// Ended without a whole copy: nothing may be overwritten on its strength.
    pub fn has_failed(&self) -> bool {
        matches!(
            self.state.as_str(),
            "FAILED" | "ABORTED" | "EXPIRED" | "PARTIAL"
        )
    }
}

/// What GetPlanExecution says of an execution.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanExecution {
    pub action: String,
    pub region: String,
    pub mode: String,
    pub state: String,
    pub start_time: Option<f64>,
    /// When each step started, by name (the step states Region switch reports).
    pub step_starts: Vec<(String, f64)>,
}

impl PlanExecution {
    /// When the named step began, as Region switch reports it.
    pub fn step_start(&self, step: Option<&str>) -> Option<f64> {
        let name = step?;
        self.step_starts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
    }
}
