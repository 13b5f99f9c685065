//! Deployment configuration from the environment (set by the SAM template),
//! so that a manual invoke with `{}` does the configured thing.

use crate::domain::error::{Error, Result};
use crate::domain::ids::{AccountId, FileSystemRef, RegionName};
use crate::domain::model::MountTargetSpec;
use crate::domain::modes::Mode;
use crate::domain::time::Backoff;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A protected pair as configured: source (primary) and its replica.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairConfig {
    pub source_file_system_id: FileSystemRef,
    #[serde(default)]
    pub source_region: Option<RegionName>,
    #[serde(default)]
    pub destination_file_system_id: Option<FileSystemRef>,
    #[serde(default)]
    pub destination_region: Option<RegionName>,
    #[serde(default)]
    pub mount_targets: Option<Vec<MountTargetSpec>>,
}

/// What an alarm in ALARM may lead to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmPolicy {
    /// Tell a person, with the exact failover command (the default).
    Notify,
    /// Fail over by itself when every signal agrees (opt-in).
    AutoFailover,
}

/// How the lag-alarm-handler's probe tells a lost Region from slow
/// replication (see `workflows::lag_alarm::detector`).
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorSettings {
    /// `EFS_DR_REGION_DETECTOR=off` leaves the lag alarm path alone (it then
    /// judges the source from its own run's probes).
    pub enabled: bool,
    /// The source must stay silent this long, through every probe, before
    /// the Region counts as lost: `EFS_DR_DETECT_CONFIRM_SECONDS`.
    pub confirm_seconds: f64,
    /// And through at least this many failed probes in a row.
    pub min_failed_probes: u32,
    /// The gap between syncs assumed when a pair has no lag history yet:
    /// `EFS_DR_SYNC_GAP_FALLBACK_SECONDS`.
    pub fallback_sync_gap: f64,
    /// No pair is judged stalled before this long without a sync.
    pub min_sync_gap: f64,
    /// Source probes per probe run, this far apart (several a minute).
    pub probes_per_run: u32,
    pub probe_spacing: Duration,
    /// A witness reports late: while the source has been silent for less than
    /// this, a witness that still sees it serve is not yet a veto:
    /// `EFS_DR_WITNESS_GRACE_SECONDS`.
    pub witness_grace: f64,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        DetectorSettings {
            enabled: true,
            confirm_seconds: 120.0,
            min_failed_probes: 4,
            fallback_sync_gap: 300.0,
            min_sync_gap: 60.0,
            probes_per_run: 3,
            probe_spacing: Duration::from_secs(20),
            witness_grace: 180.0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub pairs: Vec<PairConfig>,
    /// Where the functions run (the DR Region): `EFS_DR_DESTINATION_REGION`, else `AWS_REGION`.
    pub destination_region: Option<RegionName>,
    pub source_region: Option<RegionName>,
    pub default_mode: Mode,
    pub max_rpo_seconds: u64,
    pub mount_targets: Vec<MountTargetSpec>,
    pub alerts_topic_arn: Option<String>,
    pub failover_topic_arn: Option<String>,
    pub concurrency: usize,
    pub backoff: Backoff,
    pub margin: Duration,
    pub alarm_policy: AlarmPolicy,
    /// An alarm must have been in ALARM this long before an automatic failover.
    pub alarm_min_seconds: f64,
    /// No automatic failover this long after a failover or failback.
    pub cooldown_seconds: f64,
    /// Name of the failover function, for the commands printed in notifications.
    pub failover_function_name: String,
    /// The recovery point an automatic failover accepts. It is started by a lag
    /// alarm, so the replica is behind by at least the alarm's threshold.
    pub auto_failover_max_rpo_seconds: u64,
    /// DR-side alarms the probe re-reads (policy auto_failover): names carry the replica's ID.
    pub watched_alarms: Vec<String>,
    /// The AWS Backup vault, by that name in each Region, that keeps what a
    /// file system alone held before replication overwrote it: `EFS_DR_BACKUP_VAULT`.
    pub backup_vault: String,
    /// The role AWS Backup assumes for those jobs: `EFS_DR_BACKUP_ROLE_ARN`.
    pub backup_role_arn: Option<String>,
    /// `EFS_DR_DISCOVER_TAG_KEY`: every replica in the DR Region carrying this
    /// tag key is a protected pair too (fleets beyond the 4 KB environment).
    pub discover_tag_key: Option<String>,
    pub detector: DetectorSettings,
    /// The alarm that says, from outside both Regions, whether the source
    /// Region serves: `EFS_DR_WITNESS_ALARM_ARN`. Without it, policy
    /// auto_failover runs as notify.
    pub witness_alarm: Option<WitnessAlarm>,
    /// While a Region stays lost and the replica unpromoted, a refusal or a
    /// doubt is paged again at most this often: `EFS_DR_REPAGE_SECONDS`.
    pub repage_seconds: f64,
    /// A requested failover not done within this long is requested again:
    /// `EFS_DR_REQUEST_TIMEOUT_SECONDS`.
    pub request_timeout_seconds: f64,
    /// The role in the production account that failback assumes for what
    /// only the owner of the original can do: `EFS_DR_SOURCE_ACCOUNT_ROLE_ARN`
    /// with `EFS_DR_SOURCE_ACCOUNT_EXTERNAL_ID`.
    pub source_account_role: Option<AssumedRole>,
    /// Across accounts, the role of the functions' (DR) account that EFS
    /// replicates the replica back into the original with: `EFS_DR_REPLICATION_ROLE_ARN`.
    pub replication_role_arn: Option<String>,
    /// And the production account's role for the original direction:
    /// `EFS_DR_SOURCE_REPLICATION_ROLE_ARN`.
    pub source_replication_role_arn: Option<String>,
    /// The production account's role AWS Backup preserves the original
    /// with: `EFS_DR_SOURCE_BACKUP_ROLE_ARN`.
    pub source_backup_role_arn: Option<String>,
}

/// A role of another account that efs-dr assumes.
#[derive(Clone, Debug, PartialEq)]
pub struct AssumedRole {
    pub arn: String,
    pub account: AccountId,
    pub external_id: Option<String>,
}

/// `arn:aws:iam::ACCOUNT:role/NAME` -> ACCOUNT, checked.
pub fn role_account(arn: &str) -> std::result::Result<AccountId, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", account, resource]
            if resource.starts_with("role/") && resource.len() > 5 =>
        {
            AccountId::parse(account)
        }
        _ => Err(format!("'{arn}' is not an IAM role ARN")),
    }
}

/// A CloudWatch alarm by ARN: `arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`.
#[derive(Clone, Debug, PartialEq)]
pub struct WitnessAlarm {
    pub region: RegionName,
    pub name: String,
}

impl WitnessAlarm {
    pub fn parse(arn: &str) -> std::result::Result<WitnessAlarm, String> {
        let parts: Vec<&str> = arn.splitn(7, ':').collect();
        match parts.as_slice() {
            ["arn", _, "cloudwatch", region, _, "alarm", name] if !name.is_empty() => {
                Ok(WitnessAlarm {
                    region: RegionName::parse(region)
                        .map_err(|e| format!("'{arn}' names no valid Region: {e}"))?,
                    name: (*name).to_string(),
                })
            }
            _ => Err(format!("'{arn}' is not a CloudWatch alarm ARN")),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pairs: Vec::new(),
            destination_region: None,
            source_region: None,
            default_mode: Mode::Plan,
            max_rpo_seconds: 900,
            mount_targets: Vec::new(),
            alerts_topic_arn: None,
            failover_topic_arn: None,
            concurrency: 10,
            backoff: Backoff::default(),
            margin: Duration::from_secs(10),
            alarm_policy: AlarmPolicy::Notify,
            alarm_min_seconds: 300.0,
            cooldown_seconds: 3600.0,
            failover_function_name: "failover".into(),
            auto_failover_max_rpo_seconds: 0,
            watched_alarms: Vec::new(),
            backup_vault: "Default".into(),
            backup_role_arn: None,
            discover_tag_key: None,
            detector: DetectorSettings::default(),
            witness_alarm: None,
            repage_seconds: 1800.0,
            request_timeout_seconds: 900.0,
            source_account_role: None,
            replication_role_arn: None,
            source_replication_role_arn: None,
            source_backup_role_arn: None,
        }
    }
}

/// The Region of a file system given by ID or ARN: an ARN names its Region,
/// which must agree with the one given beside it.
pub fn region_of(
    r: &FileSystemRef,
    given: Option<&RegionName>,
    field: &str,
) -> Result<Option<RegionName>> {
    match (&r.arn_region, given) {
        (Some(a), Some(g)) if a != g => Err(Error::InvalidInput(format!(
            "{field} is an ARN in {a} but the Region given for it is {g}; they must agree"
        ))),
        (Some(a), _) => Ok(Some(a.clone())),
        (None, g) => Ok(g.cloned()),
    }
}

fn parse_env<T>(
    name: &str,
    value: &str,
    what: &str,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Result<T> {
    parse(value).map_err(|e| {
        Error::InvalidInput(format!(
            "environment variable {name}: {e}. Expected {what}."
        ))
    })
}

impl Config {
    pub fn from_env() -> Result<Config> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads `EFS_DR_*` variables through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let mut c = Config::default();
        let region = |name: &str| -> Result<Option<RegionName>> {
            lookup(name)
                .map(|v| {
                    parse_env(
                        name,
                        &v,
                        "a Region name such as us-west-2",
                        RegionName::parse,
                    )
                })
                .transpose()
        };
        c.destination_region = match region("EFS_DR_DESTINATION_REGION")? {
            Some(r) => Some(r),
            None => region("AWS_REGION")?,
        };
        c.source_region = region("EFS_DR_SOURCE_REGION")?;
        if let Some(v) = lookup("EFS_DR_PAIRS") {
            c.pairs = parse_env(
                "EFS_DR_PAIRS",
                &v,
                "a JSON list of {source_file_system_id, source_region, destination_file_system_id}",
                |s| serde_json::from_str(s).map_err(|e| e.to_string()),
            )?;
        } else if let Some(src) = lookup("EFS_DR_SOURCE_FILE_SYSTEM_ID") {
            let source = parse_env(
                "EFS_DR_SOURCE_FILE_SYSTEM_ID",
                &src,
                "fs-… or its ARN",
                FileSystemRef::parse,
            )?;
            let dest = lookup("EFS_DR_DESTINATION_FILE_SYSTEM_ID")
                .map(|v| {
                    parse_env(
                        "EFS_DR_DESTINATION_FILE_SYSTEM_ID",
                        &v,
                        "fs-… or its ARN",
                        FileSystemRef::parse,
                    )
                })
                .transpose()?;
            c.pairs.push(PairConfig {
                source_file_system_id: source,
                source_region: None,
                destination_file_system_id: dest,
                destination_region: None,
                mount_targets: None,
            });
        }
        if let Some(v) = lookup("EFS_DR_DEFAULT_MODE") {
            c.default_mode =
                parse_env("EFS_DR_DEFAULT_MODE", &v, "plan or execute", |s| match s {
                    "plan" => Ok(Mode::Plan),
                    "execute" => Ok(Mode::Execute),
                    other => Err(format!("'{other}' is not a mode")),
                })?;
        }
        if let Some(v) = lookup("EFS_DR_MAX_RPO_SECONDS") {
            c.max_rpo_seconds = parse_env(
                "EFS_DR_MAX_RPO_SECONDS",
                &v,
                "a whole number of seconds",
                |s| s.parse().map_err(|_| format!("'{s}' is not a number")),
            )?;
        }
        if let Some(v) = lookup("EFS_DR_MOUNT_TARGETS") {
            c.mount_targets = parse_env(
                "EFS_DR_MOUNT_TARGETS",
                &v,
                "a JSON list of {subnet_id, security_groups}",
                |s| serde_json::from_str(s).map_err(|e| e.to_string()),
            )?;
        }
        c.alerts_topic_arn = lookup("EFS_DR_ALERTS_TOPIC_ARN");
        c.failover_topic_arn = lookup("EFS_DR_FAILOVER_TOPIC_ARN");
        c.discover_tag_key = lookup("EFS_DR_DISCOVER_TAG_KEY").filter(|k| !k.trim().is_empty());
        if let Some(v) = lookup("EFS_DR_CONCURRENCY") {
            c.concurrency =
                parse_env(
                    "EFS_DR_CONCURRENCY",
                    &v,
                    "a number from 1 to 100",
                    |s| match s.parse::<usize>() {
                        Ok(n) if (1..=100).contains(&n) => Ok(n),
                        _ => Err(format!("'{s}' is out of range")),
                    },
                )?;
        }
        if let Some(v) = lookup("EFS_DR_POLL_MS") {
            let ms: u64 = parse_env("EFS_DR_POLL_MS", &v, "milliseconds", |s| {
                s.parse().map_err(|_| format!("'{s}' is not a number"))
            })?;
            // A fixed interval: what "the poll interval" means in the benchmarks and drills.
            c.backoff = Backoff {
                initial: Duration::from_millis(ms.max(1)),
                max: Duration::from_millis(ms.max(1)),
            };
            c.margin = c.margin.min(Duration::from_millis(ms.max(1) * 2));
        }
        if let Some(v) = lookup("EFS_DR_ALARM_POLICY") {
            c.alarm_policy = parse_env(
                "EFS_DR_ALARM_POLICY",
                &v,
                "notify or auto_failover",
                |s| match s {
                    "notify" => Ok(AlarmPolicy::Notify),
                    "auto_failover" => Ok(AlarmPolicy::AutoFailover),
                    other => Err(format!("'{other}' is not a policy")),
                },
            )?;
        }
        let seconds = |name: &str| -> Result<Option<f64>> {
            lookup(name)
                .map(|v| {
                    parse_env(name, &v, "a number of seconds", |s| {
                        s.parse::<f64>()
                            .ok()
                            .filter(|x| *x >= 0.0)
                            .ok_or_else(|| format!("'{s}' is not a number of seconds"))
                    })
                })
                .transpose()
        };
        if let Some(s) = seconds("EFS_DR_ALARM_MIN_SECONDS")? {
            c.alarm_min_seconds = s;
        }
        if let Some(s) = seconds("EFS_DR_COOLDOWN_SECONDS")? {
            c.cooldown_seconds = s;
        }
        if let Some(v) = lookup("EFS_DR_AUTO_FAILOVER_MAX_RPO_SECONDS") {
            c.auto_failover_max_rpo_seconds = parse_env(
                "EFS_DR_AUTO_FAILOVER_MAX_RPO_SECONDS",
                &v,
                "a whole number of seconds",
                |s| {
                    s.parse()
                        .ok()
                        .ok_or_else(|| format!("'{s}' is not a whole number (0: no cap)"))
                },
            )?;
        }
        if let Some(v) = lookup("EFS_DR_REGION_DETECTOR") {
            c.detector.enabled =
                parse_env("EFS_DR_REGION_DETECTOR", &v, "on or off", |s| match s {
                    "on" => Ok(true),
                    "off" => Ok(false),
                    other => Err(format!("'{other}' is not on or off")),
                })?;
        }
        if let Some(v) = lookup("EFS_DR_WITNESS_ALARM_ARN") {
            c.witness_alarm = Some(parse_env(
                "EFS_DR_WITNESS_ALARM_ARN",
                &v,
                "the ARN of the alarm that watches the source Region from a third Region, arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME",
                WitnessAlarm::parse,
            )?);
        }
        if let Some(v) = lookup("EFS_DR_SOURCE_ACCOUNT_ROLE_ARN") {
            let account = parse_env(
                "EFS_DR_SOURCE_ACCOUNT_ROLE_ARN",
                &v,
                "the ARN of the role deploy/source-account.yaml created in the production account, arn:aws:iam::ACCOUNT:role/NAME",
                role_account,
            )?;
            c.source_account_role = Some(AssumedRole {
                arn: v.trim().to_string(),
                account,
                external_id: lookup("EFS_DR_SOURCE_ACCOUNT_EXTERNAL_ID"),
            });
        } else if lookup("EFS_DR_SOURCE_ACCOUNT_EXTERNAL_ID").is_some() {
            return Err(Error::InvalidInput(
                "EFS_DR_SOURCE_ACCOUNT_EXTERNAL_ID is set without EFS_DR_SOURCE_ACCOUNT_ROLE_ARN: \
                 set the role it belongs to, or unset it"
                    .into(),
            ));
        }
        for (name, slot) in [
            ("EFS_DR_REPLICATION_ROLE_ARN", &mut c.replication_role_arn),
            (
                "EFS_DR_SOURCE_REPLICATION_ROLE_ARN",
                &mut c.source_replication_role_arn,
            ),
            (
                "EFS_DR_SOURCE_BACKUP_ROLE_ARN",
                &mut c.source_backup_role_arn,
            ),
        ] {
            if let Some(v) = lookup(name) {
                parse_env(
                    name,
                    &v,
                    "an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME",
                    role_account,
                )?;
                *slot = Some(v.trim().to_string());
            }
        }
        if let Some(s) = seconds("EFS_DR_WITNESS_GRACE_SECONDS")? {
            c.detector.witness_grace = s;
        }
        if let Some(s) = seconds("EFS_DR_REPAGE_SECONDS")? {
            c.repage_seconds = s.max(60.0);
        }
        if let Some(s) = seconds("EFS_DR_REQUEST_TIMEOUT_SECONDS")? {
            c.request_timeout_seconds = s.max(60.0);
        }
        if let Some(s) = seconds("EFS_DR_DETECT_CONFIRM_SECONDS")? {
            c.detector.confirm_seconds = s;
        }
        if let Some(s) = seconds("EFS_DR_SYNC_GAP_FALLBACK_SECONDS")? {
            c.detector.fallback_sync_gap = s;
        }
        if let Some(v) = lookup("EFS_DR_SOURCE_PROBES") {
            c.detector.probes_per_run = parse_env(
                "EFS_DR_SOURCE_PROBES",
                &v,
                "a number from 1 to 6",
                |s| match s.parse::<u32>() {
                    Ok(n) if (1..=6).contains(&n) => Ok(n),
                    _ => Err(format!("'{s}' is not a number from 1 to 6")),
                },
            )?;
        }
        if let Some(v) = lookup("EFS_DR_SOURCE_PROBE_SPACING_MS") {
            let ms: u64 = parse_env("EFS_DR_SOURCE_PROBE_SPACING_MS", &v, "milliseconds", |s| {
                s.parse().map_err(|_| format!("'{s}' is not a number"))
            })?;
            c.detector.probe_spacing = Duration::from_millis(ms);
        }
        if let Some(v) = lookup("EFS_DR_WATCHED_ALARMS") {
            c.watched_alarms = v
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect();
        }
        if let Some(n) = lookup("EFS_DR_FAILOVER_FUNCTION_NAME") {
            c.failover_function_name = n;
        }
        if let Some(v) = lookup("EFS_DR_BACKUP_VAULT").filter(|v| !v.trim().is_empty()) {
            c.backup_vault = v.trim().to_string();
        }
        if let Some(v) = lookup("EFS_DR_BACKUP_ROLE_ARN").filter(|v| !v.trim().is_empty()) {
            let v = v.trim().to_string();
            if !(v.starts_with("arn:") && v.contains(":iam::") && v.contains(":role/")) {
                return Err(Error::InvalidInput(format!(
                    "EFS_DR_BACKUP_ROLE_ARN '{v}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
                )));
            }
            c.backup_role_arn = Some(v);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_a_single_pair_and_region_defaults() {
        let c = Config::from_lookup(lookup(&[
            ("AWS_REGION", "us-west-2"),
            ("EFS_DR_SOURCE_FILE_SYSTEM_ID", "fs-0123456789abcdef0"),
            ("EFS_DR_SOURCE_REGION", "us-east-1"),
            ("EFS_DR_DEFAULT_MODE", "execute"),
        ]))
        .unwrap();
        assert_eq!(c.destination_region.unwrap().as_str(), "us-west-2");
        assert_eq!(c.pairs.len(), 1);
        assert_eq!(c.default_mode, Mode::Execute);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Config::from_lookup(lookup(&[("EFS_DR_MAX_RPO_SECONDS", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("EFS_DR_MAX_RPO_SECONDS"), "{err}");
        let err = Config::from_lookup(lookup(&[(
            "EFS_DR_PAIRS",
            "[{\"source_file_system_id\":\"fs-1\"}]",
        )]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("EFS_DR_PAIRS") && err.contains("fs-1"),
            "{err}"
        );
    }
}
