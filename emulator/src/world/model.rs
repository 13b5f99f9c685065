//! The world's data model: every Region's file systems, replications, mount
//! targets, access points, metrics, alarms and topics, the call and write
//! logs, and `World`, which holds them all. How the world changes over
//! emulated time is in `agenda` (and, each minute, `monitoring`).

use super::alarms::Alarm;
use super::backup::BackupState;
use super::metrics::{MetricStore, WriteIo};
use super::topics::{Delivery, PublishedMessage, Subscription, Topic};
use crate::config::{generated_region, Durations, RegionSeed, Seed, Variants};
use crate::faults::RegionFaults;
use crate::iam::{Principal, Role};
use crate::rng::Rng;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LifeCycle {
    Creating,
    Available,
    Deleting,
}

impl LifeCycle {
    pub fn as_str(self) -> &'static str {
        match self {
            LifeCycle::Creating => "creating",
            LifeCycle::Available => "available",
            LifeCycle::Deleting => "deleting",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protection {
    Enabled,
    Disabled,
    Replicating,
}

impl Protection {
    pub fn as_str(self) -> &'static str {
        match self {
            Protection::Enabled => "ENABLED",
            Protection::Disabled => "DISABLED",
            Protection::Replicating => "REPLICATING",
        }
    }
}

pub use super::files::FileEntry;

#[derive(Clone, Debug, Serialize)]
pub struct FileSystem {
    pub id: String,
    pub arn: String,
    /// The account that created it: only it, and those its policy names, reach it.
    pub owner: String,
    /// The file system policy (IAM JSON), as PutFileSystemPolicy stored it.
    pub policy: Option<String>,
    pub creation_token: String,
    pub creation_time: f64,
    pub life_cycle: LifeCycle,
    /// When the current `creating`/`deleting` state ends.
    pub transition_at: Option<f64>,
    pub performance_mode: String,
    pub throughput_mode: String,
    pub provisioned_throughput: Option<f64>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub availability_zone: Option<String>,
    pub tags: Vec<(String, String)>,
    pub protection: Protection,
    /// Set when the replica's configuration is gone: AWS turns protection
    /// ENABLED a little later, not in the same instant.
    pub protection_enable_at: Option<f64>,
    pub files: BTreeMap<String, FileEntry>,
    /// Clients the control API says are connected (drives ClientConnections).
    pub connected_clients: u64,
    /// Writes of the current minute (drives DataWriteIOBytes).
    #[serde(skip)]
    pub write_io: WriteIo,
}

impl FileSystem {
    pub fn name(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == "Name")
            .map(|(_, v)| v.as_str())
    }

    pub fn size_bytes(&self) -> u64 {
        // Every file system carries a small amount of metadata, as EFS reports 6 KiB for an empty one.
        6144 + self
            .files
            .values()
            .map(|f| f.content.len() as u64)
            .sum::<u64>()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct MountTarget {
    pub id: String,
    pub file_system_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub ip_address: String,
    pub network_interface_id: String,
    pub security_groups: Vec<String>,
    pub life_cycle: LifeCycle,
    pub transition_at: Option<f64>,
    pub created_at: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AccessPoint {
    pub id: String,
    pub arn: String,
    pub file_system_id: String,
    pub client_token: String,
    pub posix_user: Option<serde_json::Value>,
    pub root_directory: Option<serde_json::Value>,
    pub tags: Vec<(String, String)>,
    pub life_cycle: LifeCycle,
    pub transition_at: Option<f64>,
    pub created_at: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SideState {
    Present,
    Deleting { done_at: f64 },
    Gone,
}

/// Replication faults switched on through the control API.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationFault {
    /// Syncs go on.
    Healthy,
    /// Syncs stop; status stays ENABLED while lag grows.
    Stalled,
    /// Status PAUSED with a message; no syncs.
    Paused,
    /// Status ERROR (unrecoverable); no syncs.
    Error,
    /// The source's KMS key was disabled: PAUSING for `PAUSING_SECONDS`, then
    /// PAUSED; no syncs.
    SourceKeyDisabled,
}

/// How long a replication whose source key was disabled reports PAUSING.
pub const PAUSING_SECONDS: f64 = 60.0;

#[derive(Clone, Debug, Serialize)]
pub struct SyncInProgress {
    pub started_at: f64,
    pub completes_at: f64,
    #[serde(skip)]
    pub snapshot: BTreeMap<String, FileEntry>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Replication {
    pub source_file_system_id: String,
    pub source_region: String,
    pub source_arn: String,
    pub original_source_arn: String,
    pub destination_file_system_id: String,
    pub destination_region: String,
    pub creation_time: f64,
    pub source_side: SideState,
    pub destination_side: SideState,
    pub last_replicated: Option<f64>,
    /// Until then the configuration is being created (ENABLING); after it, ENABLED
    /// with no LastReplicatedTimestamp until the initial sync completes.
    pub enabled_at: f64,
    pub sync: Option<SyncInProgress>,
    pub next_sync_at: f64,
    pub fault: ReplicationFault,
    /// When `fault` was set.
    pub fault_since: f64,
    /// Set when one side was deleted with LOCAL_CONFIGURATION_ONLY: the other
    /// side can never sync again.
    pub orphaned: bool,
    /// A full delete accepted while this Region did not answer
    /// (`accept_and_hang`): DELETING until it answers again.
    pub hung_on: Option<String>,
    pub source_owner: String,
    pub destination_owner: String,
    /// The role EFS assumes to replicate across accounts (`Destinations[].RoleArn`).
    pub role_arn: Option<String>,
    /// Why the last sync attempt was not allowed: the configuration is PAUSED
    /// with this StatusMessage until the permissions are mended.
    pub denied: Option<String>,
}

impl Replication {
    pub fn side_in(&self, region: &str) -> Option<SideState> {
        if self.source_region == region && self.source_side != SideState::Gone {
            Some(self.source_side)
        } else if self.destination_region == region && self.destination_side != SideState::Gone {
            Some(self.destination_side)
        } else {
            None
        }
    }

    /// The account owning this configuration's side in `region`, if it has one there.
    pub fn owner_in(&self, region: &str) -> Option<&String> {
        if self.source_region == region && self.source_side != SideState::Gone {
            Some(&self.source_owner)
        } else if self.destination_region == region && self.destination_side != SideState::Gone {
            Some(&self.destination_owner)
        } else {
            None
        }
    }

    /// True if `fs_id` in `region` takes part in this configuration as seen from that Region.
    pub fn involves(&self, region: &str, fs_id: &str) -> bool {
        (self.source_region == region
            && self.source_file_system_id == fs_id
            && self.source_side != SideState::Gone)
            || (self.destination_region == region
                && self.destination_file_system_id == fs_id
                && self.destination_side != SideState::Gone)
    }

    /// Status as the Region `region` reports it.
    pub fn status_in(&self, region: &str, now: f64) -> (&'static str, Option<String>) {
        if let Some(SideState::Deleting { .. }) = self.side_in(region) {
            return ("DELETING", None);
        }
        if self.orphaned {
            return (
                "ERROR",
                Some(
                    "The replication configuration was deleted in the other Region. \
                     Delete this configuration; it cannot be recovered."
                        .to_string(),
                ),
            );
        }
        match self.fault {
            ReplicationFault::Error => (
                "ERROR",
                Some(
                    "The source or destination file system failed and is unrecoverable. \
                     Delete the replication configuration and restore the most recent backup \
                     of the failed file system to a new file system."
                        .to_string(),
                ),
            ),
            ReplicationFault::Paused => (
                "PAUSED",
                Some(
                    "Authorization error. Permissions issues prevent Amazon EFS from performing \
                     replication."
                        .to_string(),
                ),
            ),
            ReplicationFault::SourceKeyDisabled if now < self.fault_since + PAUSING_SECONDS => {
                ("PAUSING", None)
            }
            _ if self.denied.is_some() && now >= self.enabled_at => ("PAUSED", self.denied.clone()),
            ReplicationFault::SourceKeyDisabled => (
                "PAUSED",
                Some(
                    "The KMS key of the source file system is disabled. Enable the key to \
                     resume replication."
                        .to_string(),
                ),
            ),
            _ if now < self.enabled_at => ("ENABLING", None),
            _ => ("ENABLED", None),
        }
    }

    pub(super) fn is_deleting(&self) -> bool {
        matches!(self.source_side, SideState::Deleting { .. })
            || matches!(self.destination_side, SideState::Deleting { .. })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Subnet {
    pub id: String,
    pub availability_zone: String,
    pub vpc_id: String,
    pub cidr_prefix: String,
    #[serde(skip)]
    pub next_host: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct SecurityGroup {
    pub id: String,
    pub vpc_id: String,
}

#[derive(Debug, Default, Serialize)]
pub struct RegionState {
    pub subnets: Vec<Subnet>,
    pub security_groups: Vec<SecurityGroup>,
    pub file_systems: BTreeMap<String, FileSystem>,
    pub mount_targets: BTreeMap<String, MountTarget>,
    pub access_points: BTreeMap<String, AccessPoint>,
    #[serde(skip)]
    pub metrics: MetricStore,
    pub alarms: BTreeMap<String, Alarm>,
    pub topics: BTreeMap<String, Topic>,
    pub subscriptions: Vec<Subscription>,
    pub faults: RegionFaults,
    pub backup: BackupState,
}

impl RegionState {
    pub fn from_seed(seed: &RegionSeed) -> RegionState {
        RegionState {
            subnets: seed
                .subnets
                .iter()
                .enumerate()
                .map(|(i, s)| Subnet {
                    id: s.id.clone(),
                    availability_zone: s.availability_zone.clone(),
                    vpc_id: s.vpc_id.clone(),
                    cidr_prefix: s
                        .cidr_prefix
                        .clone()
                        .unwrap_or_else(|| format!("10.{}.{}", 10 + i / 250, i % 250)),
                    next_host: 10,
                })
                .collect(),
            security_groups: seed
                .security_groups
                .iter()
                .map(|g| SecurityGroup {
                    id: g.id.clone(),
                    vpc_id: g.vpc_id.clone(),
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// One entry of the call log.
#[derive(Clone, Debug, Serialize)]
pub struct CallRecord {
    pub seq: u64,
    /// Emulated time of the call.
    pub time: f64,
    pub region: String,
    pub service: String,
    pub operation: String,
    /// HTTP status, or 0 when the connection was dropped (Region outage).
    pub status: u16,
    pub error_code: Option<String>,
    pub mutating: bool,
    /// The EFS file system the call names (path or FileSystemId), if any: how
    /// a test proves no call touched a file system outside its pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_system_id: Option<String>,
    /// The account that signed it, and the role if it signed as one.
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A write acknowledged to a client through the control API.
#[derive(Clone, Debug, Serialize)]
pub struct WriteRecord {
    pub seq: u64,
    pub time: f64,
    pub region: String,
    pub file_system_id: String,
    pub path: String,
    pub content: String,
}

pub struct World {
    pub now: f64,
    /// The home account: unknown access keys sign as it.
    pub account_id: String,
    /// Access keys of other accounts and of assumed roles.
    pub access_keys: BTreeMap<String, Principal>,
    pub roles: BTreeMap<String, Role>,
    /// Who signed the request being handled (set under the lock for each call).
    pub caller: Principal,
    pub durations: Durations,
    pub regions: BTreeMap<String, RegionState>,
    pub replications: Vec<Replication>,
    pub rng: Rng,
    pub write_seq: u64,
    pub writes: Vec<WriteRecord>,
    pub calls: Vec<CallRecord>,
    pub messages: Vec<PublishedMessage>,
    /// Lambda invocations waiting to be sent (outside the lock).
    pub outbox: Vec<Delivery>,
    pub lambda_endpoint: Option<String>,
    pub next_minute: f64,
    pub access_point_limit: usize,
    pub file_system_limit: usize,
    /// The behaviours AWS leaves open, as chosen.
    pub variants: Variants,
    /// ARC Region switch plans and executions (global, as in AWS).
    pub region_switch: crate::world::plans::RegionSwitchState,
    /// Vantage points outside both Regions (see `witness`).
    pub witnesses: Vec<crate::world::witness::Witness>,
}

impl World {
    pub fn new(seed: &Seed, start: f64, rng_seed: u64) -> World {
        let regions = seed
            .regions
            .iter()
            .map(|(name, r)| {
                let mut state = RegionState::from_seed(r);
                state.backup = BackupState::with_default_vault(name, &seed.account_id, start);
                (name.clone(), state)
            })
            .collect();
        World {
            now: start,
            account_id: seed.account_id.clone(),
            access_keys: seed
                .accounts
                .iter()
                .map(|(key, account)| (key.clone(), Principal::account(account)))
                .collect(),
            roles: BTreeMap::new(),
            caller: Principal::account(&seed.account_id),
            durations: seed.durations(),
            regions,
            replications: Vec::new(),
            rng: Rng::new(rng_seed),
            write_seq: 0,
            writes: Vec::new(),
            calls: Vec::new(),
            messages: Vec::new(),
            outbox: Vec::new(),
            lambda_endpoint: None,
            next_minute: (start / 60.0).floor() * 60.0 + 60.0,
            access_point_limit: 10_000,
            file_system_limit: 1_000,
            variants: seed.variants(),
            region_switch: Default::default(),
            witnesses: Vec::new(),
        }
    }

    /// The Region's state, created with the generated layout (and the
    /// Backup vault `Default`) on first use.
    pub fn region_mut(&mut self, region: &str) -> &mut RegionState {
        let (account, now) = (&self.account_id, self.now);
        self.regions.entry(region.to_string()).or_insert_with(|| {
            let mut state = RegionState::from_seed(&generated_region(region));
            state.backup = BackupState::with_default_vault(region, account, now);
            state
        })
    }

    pub fn region(&self, region: &str) -> Option<&RegionState> {
        self.regions.get(region)
    }

    /// Whether a resource created at `created_at` shows in Describe calls yet
    /// (eventual consistency, `durations.describe_lag`).
    pub fn visible(&self, created_at: f64) -> bool {
        self.now >= created_at + self.durations.describe_lag
    }

    pub fn is_reachable(&self, region: &str) -> bool {
        self.regions
            .get(region)
            .is_none_or(|r| !r.faults.region_down())
    }

    /// Whether traffic between two Regions flows: both up, no partition between them.
    pub fn reaches(&self, a: &str, b: &str) -> bool {
        let cut = |x: &str, y: &str| {
            self.regions
                .get(x)
                .is_some_and(|r| r.faults.partitioned_from.iter().any(|p| p == y))
        };
        self.is_reachable(a) && self.is_reachable(b) && !cut(a, b) && !cut(b, a)
    }

    pub fn fs_arn(&self, region: &str, account: &str, id: &str) -> String {
        crate::arn::make(
            "elasticfilesystem",
            region,
            account,
            &format!("file-system/{id}"),
        )
    }

    /// The principal an access key signs as: an unknown key is the home account.
    pub fn principal_of(&self, access_key: &str) -> Principal {
        self.access_keys
            .get(access_key)
            .cloned()
            .unwrap_or_else(|| Principal::account(&self.account_id))
    }

    pub fn file_system(&self, region: &str, id: &str) -> Option<&FileSystem> {
        self.regions.get(region)?.file_systems.get(id)
    }

    /// The configuration `fs_id` takes part in, as seen from `region`.
    pub fn replication_of(&self, region: &str, fs_id: &str) -> Option<usize> {
        self.replications
            .iter()
            .position(|r| r.involves(region, fs_id))
    }

    // ---- data plane (control API) -------------------------------------------------

    /// A client write. Refused where a real NFS client would get EROFS or no answer.
    pub fn write(
        &mut self,
        region: &str,
        fs_id: &str,
        path: &str,
        content: &str,
        size: Option<u64>,
    ) -> Result<WriteRecord, String> {
        if !self.is_reachable(region) {
            return Err(format!("Region {region} is unreachable (outage)"));
        }
        let now = self.now;
        let seq = self.write_seq + 1;
        let fs = self
            .regions
            .get_mut(region)
            .and_then(|r| r.file_systems.get_mut(fs_id))
            .ok_or_else(|| format!("file system {fs_id} does not exist in {region}"))?;
        if fs.life_cycle != LifeCycle::Available {
            return Err(format!(
                "file system {fs_id} is {}, not available",
                fs.life_cycle.as_str()
            ));
        }
        if fs.protection != Protection::Enabled {
            return Err(format!(
                "file system {fs_id} is read-only (replication overwrite protection {})",
                fs.protection.as_str()
            ));
        }
        let size = size.unwrap_or(content.len() as u64);
        fs.write_io.record(size);
        fs.files.insert(
            path.to_string(),
            FileEntry {
                content: content.to_string(),
                seq,
                written_at: now,
                size,
            },
        );
        self.write_seq = seq;
        let record = WriteRecord {
            seq,
            time: now,
            region: region.to_string(),
            file_system_id: fs_id.to_string(),
            path: path.to_string(),
            content: content.to_string(),
        };
        self.writes.push(record.clone());
        Ok(record)
    }
}
