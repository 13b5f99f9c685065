//! `efs-dr iac`: for each configured pair as it is now, what a Terraform or
//! CloudFormation user changes (the same advice failover and failback reports
//! carry), read from the DR Region.

use crate::error::{CliError, CliResult};
use efs_dr_aws::AwsContext;
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::domain::ports::CallBudget;
use efs_dr_shared::domain::tags;
use efs_dr_shared::workflows::discovery;
use efs_dr_shared::workflows::iac::{self, Addresses, FsAt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Terraform,
    CloudFormation,
    Json,
}

pub async fn run(aws: &AwsContext, config: &Config, format: Format) -> CliResult<bool> {
    if config.pairs.is_empty() {
        return Err(CliError::Config(
            "no pairs configured: set EFS_DR_PAIRS (a JSON list of {source_file_system_id, source_region, destination_file_system_id}), \
             or EFS_DR_SOURCE_FILE_SYSTEM_ID and EFS_DR_SOURCE_REGION"
                .into(),
        ));
    }
    let dr_region = config
        .destination_region
        .clone()
        .ok_or_else(|| CliError::Config("the DR Region is not set (AWS_REGION)".into()))?;
    let mut all = Vec::new();
    let count = config.pairs.len();
    for (i, p) in config.pairs.iter().enumerate() {
        let primary_region = p
            .source_region
            .clone()
            .or_else(|| p.source_file_system_id.arn_region.clone())
            .or_else(|| config.source_region.clone())
            .ok_or_else(|| {
                CliError::Config(format!(
                    "pair {}: its source Region is not set (source_region in EFS_DR_PAIRS, or EFS_DR_SOURCE_REGION)",
                    p.source_file_system_id.id
                ))
            })?;
        let replica_region = p.destination_region.clone().unwrap_or(dr_region.clone());
        let primary = FsAt {
            id: p.source_file_system_id.id.clone(),
            region: primary_region,
        };
        let Some(replica_id) = replica_of(aws, p, &primary, &replica_region).await? else {
            eprintln!(
                "pair {}: no replica found in {replica_region} (no replication from it, and no file system tagged {} = it): skipped",
                primary.id,
                tags::FAILOVER_SOURCE
            );
            continue;
        };
        let replica = FsAt {
            id: replica_id,
            region: replica_region,
        };
        let now = iac::observe(aws, primary, replica, true).await?;
        all.push(iac::render(&now, &Addresses::for_pair(i, count)));
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default()),
        Format::Terraform => {
            // Variables first (a .tfvars file), then the blocks (a .tf file).
            println!("# ---- terraform.tfvars");
            for a in &all {
                println!("{}", a.terraform_tfvars);
            }
            println!("# ---- efs-dr.tf");
            for a in &all {
                println!("{}", a.terraform);
            }
        }
        Format::CloudFormation => {
            for a in &all {
                println!("{}", a.cloudformation);
            }
        }
    }
    Ok(all.len() == count)
}

/// The pair's replica: configured, or found as the failover would find it
/// (its replication, either direction, or the promotion's tag).
async fn replica_of(
    aws: &AwsContext,
    pair: &efs_dr_shared::domain::config::PairConfig,
    primary: &FsAt,
    region: &efs_dr_shared::domain::ids::RegionName,
) -> CliResult<Option<efs_dr_shared::domain::ids::FileSystemId>> {
    if let Some(d) = &pair.destination_file_system_id {
        return Ok(Some(d.id.clone()));
    }
    let efs = aws.efs(region, CallBudget::Normal);
    Ok(discovery::replica_of(&efs, &primary.id, &primary.region, true).await?)
}
