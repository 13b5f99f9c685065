//! Emulator configuration: the network topology (seed file) and how long AWS
//! takes for each transition.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long each asynchronous AWS transition takes, in emulated seconds.
/// Defaults follow what AWS documents or what is commonly observed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Durations {
    /// CreateFileSystem: `creating` -> `available`.
    pub file_system_create: f64,
    /// DeleteFileSystem: `deleting` -> gone.
    pub file_system_delete: f64,
    /// CreateReplicationConfiguration: ENABLING -> ENABLED (the configuration is being created).
    pub replication_enable: f64,
    /// First sync after that: ENABLED with no LastReplicatedTimestamp meanwhile (incomplete replica).
    pub initial_sync: f64,
    /// A start of a sync is attempted this often.
    pub sync_interval: f64,
    /// Time one incremental sync takes; LastReplicatedTimestamp is its start.
    pub sync_duration: f64,
    /// DeleteReplicationConfiguration: DELETING -> gone, destination writable
    /// ("can take several minutes").
    pub replication_delete: f64,
    /// CreateMountTarget: `creating` -> `available` ("a minute or two").
    pub mount_target_create: f64,
    /// DeleteMountTarget: `deleting` -> gone.
    pub mount_target_delete: f64,
    /// CreateAccessPoint: `creating` -> `available`.
    pub access_point_create: f64,
    /// StartBackupJob: `CREATED` -> `RUNNING`, counted from the call (at most `backup_job`).
    pub backup_job_start: f64,
    /// StartBackupJob: the call -> `COMPLETED` (or the outcome a fault forces).
    pub backup_job: f64,
    /// After the destination's side of a deleted configuration is gone, how long
    /// overwrite protection stays REPLICATING before it becomes ENABLED.
    pub protection_enable: f64,
    /// How much later the second side of a configuration finishes deleting.
    pub side_delete_skew: f64,
    /// A sync moves this many emulated seconds per MiB changed (the initial sync:
    /// per MiB of the whole source), on top of `sync_duration` / `initial_sync`.
    pub sync_seconds_per_mib: f64,
    /// A created resource stays invisible to Describe calls this long.
    pub describe_lag: f64,
}

impl Default for Durations {
    fn default() -> Self {
        Durations {
            file_system_create: 10.0,
            file_system_delete: 10.0,
            replication_enable: 60.0,
            initial_sync: 600.0,
            sync_interval: 60.0,
            sync_duration: 30.0,
            replication_delete: 180.0,
            mount_target_create: 90.0,
            mount_target_delete: 60.0,
            access_point_create: 2.0,
            backup_job_start: 60.0,
            backup_job: 300.0,
            protection_enable: 20.0,
            side_delete_skew: 30.0,
            sync_seconds_per_mib: 0.5,
            describe_lag: 0.0,
        }
    }
}

pub use crate::faults::variants::{
    DeleteOrder, PlanExecutionReads, Profile, RecoveryPointDoneStatus, SourceDownDelete, Variants,
    UNKIND_DESCRIBE_LAG,
};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubnetSeed {
    pub id: String,
    pub availability_zone: String,
    pub vpc_id: String,
    /// First three octets of the subnet's /24, e.g. "10.0.1". Optional.
    #[serde(default)]
    pub cidr_prefix: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupSeed {
    pub id: String,
    pub vpc_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegionSeed {
    #[serde(default)]
    pub subnets: Vec<SubnetSeed>,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroupSeed>,
}

/// The seed file: `{"regions": {"us-east-1": {"subnets": [...], "security_groups": [...]}}}`,
/// optionally with `account_id`, `durations` and the behaviour variants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    pub regions: BTreeMap<String, RegionSeed>,
    #[serde(default = "default_account")]
    pub account_id: String,
    /// Access keys that sign as other accounts: `{"AKIAPRODUCTION": "111111111111"}`.
    #[serde(default)]
    pub accounts: BTreeMap<String, String>,
    #[serde(default)]
    pub durations: Option<Durations>,
    /// Idle minutes publish no `DataWriteIOBytes` datapoint (instead of a 0).
    #[serde(default)]
    pub sparse_io_metrics: bool,
    /// `Status` of a recovery point whose job completed: `COMPLETED` or `AVAILABLE`.
    #[serde(default)]
    pub recovery_point_status: RecoveryPointDoneStatus,
    #[serde(default)]
    pub delete_order: DeleteOrder,
    #[serde(default)]
    pub delete_with_source_down: SourceDownDelete,
    #[serde(default)]
    pub plan_execution_reads: PlanExecutionReads,
    /// Sets every variant above (and `describe_lag`) at once; explicit fields are ignored then.
    #[serde(default)]
    pub profile: Option<Profile>,
}

fn default_account() -> String {
    "123456789012".to_string()
}

/// Regions of the default topology. Any other Region is created on first use
/// with the same generated layout, so a typo in a Region name shows up as
/// "not found" rather than as a crash.
pub const DEFAULT_REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"];

/// Three subnets in three AZs of one VPC, and two security groups in it.
/// IDs are derived from the Region name so they are stable and documented:
/// e.g. us-east-1 gets subnet-0use1a0000000001 ... and sg-0use1000000000001.
pub fn generated_region(region: &str) -> RegionSeed {
    let short = short_region(region);
    let vpc_id = format!("vpc-0{short}{}", "0".repeat(16 - short.len().min(16)));
    let subnets = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, az)| SubnetSeed {
            id: pad_id("subnet", &format!("{short}{az}"), i as u64 + 1),
            availability_zone: format!("{region}{az}"),
            vpc_id: vpc_id.clone(),
            cidr_prefix: Some(format!("10.0.{}", i + 1)),
        })
        .collect();
    let security_groups = (1..=2)
        .map(|n| SecurityGroupSeed {
            id: pad_id("sg", &short, n),
            vpc_id: vpc_id.clone(),
        })
        .collect();
    RegionSeed {
        subnets,
        security_groups,
    }
}

/// "us-east-1" -> "use1", "eu-central-1" -> "euc1".
fn short_region(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    match parts.as_slice() {
        [geo, dir, num] => format!("{geo}{}{num}", dir.chars().next().unwrap_or('x')),
        _ => region
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect(),
    }
}

/// IDs with 17 hex-ish characters after the prefix: "0" + tag + zero padding + n.
fn pad_id(prefix: &str, tag: &str, n: u64) -> String {
    // Region tags contain letters beyond hex; EFS validates subnet IDs as hex,
    // so map them to hex digits deterministically.
    let hexed: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_hexdigit() {
                c.to_ascii_lowercase()
            } else {
                std::char::from_digit((c as u32) % 16, 16).unwrap_or('0')
            }
        })
        .collect();
    let body = format!("0{hexed}");
    let width = 17usize.saturating_sub(body.len());
    format!("{prefix}-{body}{n:0width$x}")
}

impl Seed {
    pub fn variants(&self) -> Variants {
        match self.profile {
            Some(p) => Variants::of(p),
            None => Variants {
                sparse_io_metrics: self.sparse_io_metrics,
                recovery_point_status: self.recovery_point_status,
                delete_order: self.delete_order,
                delete_with_source_down: self.delete_with_source_down,
                plan_execution_reads: self.plan_execution_reads,
                ..Variants::default()
            },
        }
    }

    pub fn durations(&self) -> Durations {
        let mut d = self.durations.clone().unwrap_or_default();
        if self.profile == Some(Profile::Unkind) {
            d.describe_lag = d.describe_lag.max(UNKIND_DESCRIBE_LAG);
        }
        d
    }

    pub fn default_topology() -> Seed {
        Seed {
            regions: DEFAULT_REGIONS
                .iter()
                .map(|r| (r.to_string(), generated_region(r)))
                .collect(),
            account_id: default_account(),
            accounts: BTreeMap::new(),
            durations: None,
            sparse_io_metrics: false,
            recovery_point_status: Default::default(),
            delete_order: Default::default(),
            plan_execution_reads: Default::default(),
            delete_with_source_down: Default::default(),
            profile: None,
        }
    }

    pub fn from_json(text: &str) -> Result<Seed, String> {
        let seed: Seed = serde_json::from_str(text).map_err(|e| {
            format!(
                "the seed file is not valid: {e}. Expected {{\"regions\": {{\"us-east-1\": \
                 {{\"subnets\": [{{\"id\", \"availability_zone\", \"vpc_id\"}}], \
                 \"security_groups\": [{{\"id\", \"vpc_id\"}}]}}}}}}"
            )
        })?;
        for (region, r) in &seed.regions {
            for s in &r.subnets {
                if !s.availability_zone.starts_with(region.as_str()) {
                    return Err(format!(
                        "subnet {} is in availability zone {} which is not in region {region}",
                        s.id, s.availability_zone
                    ));
                }
            }
        }
        Ok(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_match_aws_patterns() {
        let r = generated_region("us-east-1");
        for s in &r.subnets {
            assert!(s.id.starts_with("subnet-0"), "{}", s.id);
            assert_eq!(s.id.len(), "subnet-".len() + 17, "{}", s.id);
            assert!(s.id["subnet-".len()..]
                .chars()
                .all(|c| c.is_ascii_hexdigit()));
        }
        assert_eq!(r.subnets[0].availability_zone, "us-east-1a");
        assert_eq!(r.security_groups.len(), 2);
        assert!(r.security_groups[0].id["sg-".len()..]
            .chars()
            .all(|c| c.is_ascii_hexdigit()));
        let other = generated_region("us-west-2");
        assert_ne!(r.subnets[0].id, other.subnets[0].id);
    }

    #[test]
    fn rejects_subnet_in_wrong_region() {
        let text = r#"{"regions":{"us-east-1":{"subnets":[{"id":"subnet-0123456789abcdef0","availability_zone":"us-west-2a","vpc_id":"vpc-1"}]}}}"#;
        assert!(Seed::from_json(text).is_err());
    }
}
