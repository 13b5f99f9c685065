//! Two accounts in one emulator: production (the source) and the DR account
//! (the replica and the functions, the emulator's home account), with the
//! roles and file system policies `deploy/source-account.yaml` and the EFS
//! user guide set up, each of which a test can leave out.

use crate::{create_file_system, Kit, KitError, Result, EAST, WEST};
use aws_sdk_efs::config::{Credentials, Region, SharedCredentialsProvider};
use efs_dr_emulator::iam::{Role, EFS_SERVICE};
use serde_json::json;

pub const PRODUCTION: &str = "111111111111";
pub const PRODUCTION_KEY: &str = "AKIAPRODUCTION";
/// The emulator's home account: where the functions run.
pub const DR_ACCOUNT: &str = "123456789012";
pub const EXTERNAL_ID: &str = "efs-dr-external-id";
/// What `deploy/source-account.yaml` creates in production.
pub const PRODUCTION_ROLE: &str = "arn:aws:iam::111111111111:role/efs-dr-source-access";
pub const SOURCE_REPLICATION_ROLE: &str =
    "arn:aws:iam::111111111111:role/efs-dr-source-replication";
pub const SOURCE_BACKUP_ROLE: &str = "arn:aws:iam::111111111111:role/efs-dr-source-backup";
/// What the main template creates in the DR account.
pub const DR_REPLICATION_ROLE: &str = "arn:aws:iam::123456789012:role/efs-dr-replication";

/// The actions of the production role, as `deploy/source-account.yaml`
/// grants them (a test holds the two lists equal).
pub const PRODUCTION_ROLE_ACTIONS: [&str; 23] = [
    "elasticfilesystem:DescribeFileSystems",
    "elasticfilesystem:DescribeReplicationConfigurations",
    "elasticfilesystem:DeleteReplicationConfiguration",
    "elasticfilesystem:CreateReplicationConfiguration",
    "elasticfilesystem:UpdateFileSystemProtection",
    "elasticfilesystem:DescribeFileSystemPolicy",
    "elasticfilesystem:PutFileSystemPolicy",
    "elasticfilesystem:TagResource",
    "elasticfilesystem:ListTagsForResource",
    "elasticfilesystem:DescribeMountTargets",
    "elasticfilesystem:DescribeMountTargetSecurityGroups",
    "elasticfilesystem:CreateMountTarget",
    "elasticfilesystem:ModifyMountTargetSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeNetworkInterfaceAttribute",
    "ec2:CreateNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "backup:StartBackupJob",
    "backup:DescribeBackupJob",
    "backup:DescribeRecoveryPoint",
    "cloudwatch:GetMetricData",
    "iam:PassRole",
];

/// The replication role's actions (the EFS user guide's list, both sides).
pub const REPLICATION_ROLE_ACTIONS: [&str; 6] = [
    "elasticfilesystem:DescribeFileSystems",
    "elasticfilesystem:CreateReplicationConfiguration",
    "elasticfilesystem:DescribeReplicationConfigurations",
    "elasticfilesystem:DeleteReplicationConfiguration",
    "elasticfilesystem:ReplicationRead",
    "elasticfilesystem:ReplicationWrite",
];

/// What the destination grants the source's account (the guide's
/// `AllowSourceAccountReplicationActions`).
pub const DESTINATION_GRANTS: [&str; 5] = [
    "elasticfilesystem:DescribeFileSystems",
    "elasticfilesystem:CreateReplicationConfiguration",
    "elasticfilesystem:DescribeReplicationConfigurations",
    "elasticfilesystem:DeleteReplicationConfiguration",
    "elasticfilesystem:ReplicationWrite",
];

/// Which parts of the setup exist: a test of a refusal leaves one out.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The source's policy lets the DR account delete the configuration.
    pub source_policy: bool,
    /// The forward replication role may write into the destination.
    pub replication_write: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            source_policy: true,
            replication_write: true,
        }
    }
}

/// A source in production replicating into a replica in the DR account.
#[derive(Clone, Debug)]
pub struct CrossAccountPair {
    pub source: String,
    pub source_arn: String,
    pub replica: String,
    pub replica_arn: String,
}

pub fn fs_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:elasticfilesystem:{region}:{account}:file-system/{id}")
}

fn policy(principal_account: &str, actions: &[&str], resource: &str, sid: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{principal_account}:root")},
        "Action": actions,
        "Resource": resource,
    }]})
    .to_string()
}

impl Kit {
    /// An EFS client signing as `access_key`.
    pub fn efs_as(&self, region: &str, access_key: &str) -> aws_sdk_efs::Client {
        let creds = Credentials::new(access_key, "secret", None, None, "efs-dr-testkit");
        aws_sdk_efs::Client::from_conf(
            aws_sdk_efs::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .credentials_provider(SharedCredentialsProvider::new(creds))
                .build(),
        )
    }

    pub fn production_efs(&self, region: &str) -> aws_sdk_efs::Client {
        self.efs_as(region, PRODUCTION_KEY)
    }

    /// The production account and the roles of both templates.
    pub fn add_accounts(&self, setup: &Setup) {
        let mut w = self.emu.shared.world();
        w.access_keys.insert(
            PRODUCTION_KEY.into(),
            efs_dr_emulator::iam::Principal::account(PRODUCTION),
        );
        let role =
            |arn: &str, trusted: Vec<String>, external_id: Option<&str>, actions: &[&str]| Role {
                arn: arn.into(),
                trusted,
                external_id: external_id.map(str::to_string),
                actions: actions.iter().map(|a| a.to_string()).collect(),
            };
        let forward: Vec<&str> = REPLICATION_ROLE_ACTIONS
            .iter()
            .copied()
            .filter(|a| setup.replication_write || *a != "elasticfilesystem:ReplicationWrite")
            .collect();
        for r in [
            role(
                PRODUCTION_ROLE,
                vec![format!("arn:aws:iam::{DR_ACCOUNT}:root")],
                Some(EXTERNAL_ID),
                &PRODUCTION_ROLE_ACTIONS,
            ),
            role(
                SOURCE_REPLICATION_ROLE,
                vec![EFS_SERVICE.into()],
                None,
                &forward,
            ),
            role(
                DR_REPLICATION_ROLE,
                vec![EFS_SERVICE.into()],
                None,
                &REPLICATION_ROLE_ACTIONS,
            ),
            role(
                SOURCE_BACKUP_ROLE,
                vec!["backup.amazonaws.com".into()],
                None,
                &["backup:*"],
            ),
        ] {
            w.roles.insert(r.arn.clone(), r);
        }
    }

    /// Production's source in us-east-1 (holding `/before.txt`), replicating
    /// into the DR account's replica in us-west-2, past its initial sync
    /// unless the setup leaves the replication role unable to write.
    pub async fn cross_account_pair(&self, token: &str, setup: &Setup) -> Result<CrossAccountPair> {
        self.add_accounts(setup);
        let prod = self.production_efs(EAST);
        let dr = self.efs(WEST);
        let source = create_file_system(&prod, token).await?;
        let replica = create_file_system(&dr, &format!("{token}-replica")).await?;
        self.advance(15.0);
        let (source_arn, replica_arn) = (
            fs_arn(EAST, PRODUCTION, &source),
            fs_arn(WEST, DR_ACCOUNT, &replica),
        );
        dr.update_file_system_protection()
            .file_system_id(&replica)
            .replication_overwrite_protection(
                aws_sdk_efs::types::ReplicationOverwriteProtection::Disabled,
            )
            .send()
            .await
            .map_err(|e| KitError::sdk("UpdateFileSystemProtection", e))?;
        dr.put_file_system_policy()
            .file_system_id(&replica)
            .policy(policy(
                PRODUCTION,
                &DESTINATION_GRANTS,
                &replica_arn,
                "AllowSourceAccountReplicationActions",
            ))
            .send()
            .await
            .map_err(|e| KitError::sdk("PutFileSystemPolicy", e))?;
        if setup.source_policy {
            prod.put_file_system_policy()
                .file_system_id(&source)
                .policy(policy(
                    DR_ACCOUNT,
                    &["elasticfilesystem:DeleteReplicationConfiguration"],
                    &source_arn,
                    "AllowDestinationAccountToDeleteReplication",
                ))
                .send()
                .await
                .map_err(|e| KitError::sdk("PutFileSystemPolicy", e))?;
        }
        self.emu.shared.write(
            EAST,
            &source,
            "/before.txt",
            "written before replication",
            None,
        )?;
        prod.create_replication_configuration()
            .source_file_system_id(&source)
            .destinations(
                aws_sdk_efs::types::DestinationToCreate::builder()
                    .region(WEST)
                    .file_system_id(&replica_arn)
                    .role_arn(SOURCE_REPLICATION_ROLE)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| KitError::sdk("CreateReplicationConfiguration", e))?;
        self.advance(700.0);
        Ok(CrossAccountPair {
            source,
            source_arn,
            replica,
            replica_arn,
        })
    }
}
