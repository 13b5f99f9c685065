//! What the workflows observe of AWS, independent of the SDK's types.

use crate::ids::{FileSystemId, RegionName, SecurityGroupId, SubnetId};
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
