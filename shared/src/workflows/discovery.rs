//! Protected pairs found at run time: every replica in the DR Region that
//! carries the configured tag key (`EFS_DR_DISCOVER_TAG_KEY`). A fleet of
//! hundreds of pairs does not fit Lambda's 4 KB environment; a tag on each
//! replica does, and a new pair is protected by tagging it.

use crate::domain::config::{Config, PairConfig};
use crate::domain::error::{Error, Result};
use crate::domain::ids::{FileSystemId, FileSystemRef, RegionName};
use crate::domain::model::{FileSystem, Replication};
use crate::domain::ports::{CallBudget, Efs, Platform};
use crate::domain::tags;
use std::borrow::Cow;

/// The configuration with the discovered pairs added after the explicit ones
/// (an explicit pair wins: it may name mount targets). Without a tag key the
/// configuration is returned as it is, and no AWS call is made.
pub async fn with_discovered_pairs<'c, P: Platform>(
    platform: &P,
    config: &'c Config,
) -> Result<Cow<'c, Config>> {
    let Some(key) = &config.discover_tag_key else {
        return Ok(Cow::Borrowed(config));
    };
    let region = config.destination_region.clone().ok_or_else(|| {
        Error::InvalidInput(
            "pair discovery needs the DR Region (EFS_DR_DESTINATION_REGION or AWS_REGION)".into(),
        )
    })?;
    let efs = platform.efs(&region, CallBudget::Normal);
    let file_systems = efs.list_file_systems().await?;
    let tagged: Vec<&FileSystem> = file_systems
        .iter()
        .filter(|f| f.tag(key).is_some())
        .collect();
    let replications = if tagged.is_empty() {
        Vec::new()
    } else {
        efs.list_replications().await?
    };
    let discovered = discovered_pairs(&region, &tagged, &replications);
    let mut merged = config.clone();
    for p in discovered {
        // The functions' permissions reach the configured source Region only.
        if let (Some(want), Some(got)) = (&config.source_region, &p.source_region) {
            if want != got {
                let replica = p
                    .destination_file_system_id
                    .as_ref()
                    .map(|d| d.id.to_string())
                    .unwrap_or_default();
                tracing::warn!(%replica, source_region = %got,
                    "a tagged replica replicates from another Region than EFS_DR_SOURCE_REGION: not protected by this stack");
                continue;
            }
        }
        let known = merged.pairs.iter().any(|q| {
            q.source_file_system_id.id == p.source_file_system_id.id
                || q.destination_file_system_id.as_ref().map(|d| &d.id)
                    == p.destination_file_system_id.as_ref().map(|d| &d.id)
        });
        if !known {
            merged.pairs.push(p);
        }
    }
    Ok(Cow::Owned(merged))
}

/// Pure: a tagged replica's pair, from its replication configuration or,
/// once promoted, from the failover-source mark efs-dr left on it.
pub fn discovered_pairs(
    region: &RegionName,
    tagged: &[&FileSystem],
    replications: &[Replication],
) -> Vec<PairConfig> {
    tagged
        .iter()
        .filter_map(|fs| {
            let configured = replications
                .iter()
                .find(|r| r.destination_file_system_id == fs.id && &r.destination_region == region);
            // Across accounts the configuration names the source's account: keep it.
            let account = configured
                .filter(|r| r.owners.cross_account())
                .and_then(|r| r.owners.source.clone());
            let source = configured
                .map(|r| (r.source_file_system_id.clone(), r.source_region.clone()))
                .or_else(|| promoted_from(fs))?;
            Some(PairConfig {
                source_file_system_id: FileSystemRef {
                    arn_account: account,
                    id: source.0,
                    arn_region: None,
                },
                source_region: Some(source.1),
                destination_file_system_id: Some(FileSystemRef {
                    arn_account: None,
                    id: fs.id.clone(),
                    arn_region: None,
                }),
                destination_region: Some(region.clone()),
                mount_targets: None,
            })
        })
        .collect()
}

/// The `efs-dr:failover-source` value a promotion of `source` leaves.
pub fn failover_source_tag(source: &FileSystemId, region: &RegionName) -> String {
    format!("{source}@{region}")
}

/// The replica of `source` (in `source_region`) among the file systems `efs`
/// sees in its Region: the destination of its replication, the source of a
/// replication back into it (a failback under way) when `either_direction`,
/// or the file system a failover promoted from it (by its tag).
pub async fn replica_of<E: Efs>(
    efs: &E,
    source: &FileSystemId,
    source_region: &RegionName,
    either_direction: bool,
) -> crate::domain::ports::AwsResult<Option<FileSystemId>> {
    let here = efs.region().clone();
    for r in efs.list_replications().await? {
        if &r.source_file_system_id == source
            && &r.source_region == source_region
            && r.destination_region == here
        {
            return Ok(Some(r.destination_file_system_id));
        }
        if either_direction
            && &r.destination_file_system_id == source
            && &r.destination_region == source_region
            && r.source_region == here
        {
            return Ok(Some(r.source_file_system_id));
        }
    }
    let wanted = failover_source_tag(source, source_region);
    Ok(efs
        .list_file_systems()
        .await?
        .into_iter()
        .find(|fs| fs.tag(tags::FAILOVER_SOURCE) == Some(wanted.as_str()))
        .map(|fs| fs.id))
}

fn promoted_from(fs: &FileSystem) -> Option<(FileSystemId, RegionName)> {
    let (id, region) = fs.tag(tags::FAILOVER_SOURCE)?.split_once('@')?;
    Some((
        FileSystemId::parse(id).ok()?,
        RegionName::parse(region).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{LifeCycle, Protection, ReplicationStatus};

    fn fs(id: &str, tags: &[(&str, &str)]) -> FileSystem {
        FileSystem {
            id: FileSystemId::parse(id).unwrap(),
            region: RegionName::parse("us-west-2").unwrap(),
            arn: String::new(),
            life_cycle: LifeCycle::Available,
            protection: Protection::Replicating,
            name: None,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            mount_target_count: 0,
        }
    }

    fn replication(from: &str, into: &str) -> Replication {
        Replication {
            source_file_system_id: FileSystemId::parse(from).unwrap(),
            source_region: RegionName::parse("us-east-1").unwrap(),
            destination_file_system_id: FileSystemId::parse(into).unwrap(),
            destination_region: RegionName::parse("us-west-2").unwrap(),
            status: ReplicationStatus::Enabled,
            status_message: None,
            last_replicated: Some(1.0),
            owners: Default::default(),
        }
    }

    #[test]
    fn a_tagged_replica_is_a_pair_by_its_configuration_or_its_failover_mark() {
        let region = RegionName::parse("us-west-2").unwrap();
        let replicating = fs("fs-0000000000000000b", &[("efs-dr:protect", "")]);
        let promoted = fs(
            "fs-0000000000000000d",
            &[
                ("efs-dr:protect", "yes"),
                (tags::FAILOVER_SOURCE, "fs-0000000000000000c@us-east-1"),
            ],
        );
        let unknown = fs("fs-0000000000000000e", &[("efs-dr:protect", "yes")]);
        let reps = vec![
            replication("fs-0000000000000000a", "fs-0000000000000000b"),
            replication("fs-0000000000000000f", "fs-00000000000000010"),
        ];
        let pairs = discovered_pairs(&region, &[&replicating, &promoted, &unknown], &reps);
        let got: Vec<(String, String)> = pairs
            .iter()
            .map(|p| {
                (
                    p.source_file_system_id.id.to_string(),
                    p.destination_file_system_id
                        .as_ref()
                        .map(|d| d.id.to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("fs-0000000000000000a".into(), "fs-0000000000000000b".into()),
                ("fs-0000000000000000c".into(), "fs-0000000000000000d".into()),
            ]
        );
        assert!(pairs
            .iter()
            .all(|p| p.source_region.as_ref().map(|r| r.as_str()) == Some("us-east-1")));
    }
}
