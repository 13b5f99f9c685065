//! The `Efs` port over aws-sdk-efs.

use super::aws_error;
use aws_sdk_efs::error::ProvideErrorMetadata;
use aws_sdk_efs::types as t;
use aws_sdk_efs::Client;
use efs_dr_core::domain::ids::{AccountId, FileSystemId, RegionName, SecurityGroupId, SubnetId};
use efs_dr_core::domain::model::{
    AccessPoint, AccessPointSpec, CreationInfo, DeletionMode, FileSystem, LifeCycle, MountTarget,
    Owners, PosixUser, Protection, Replication, ReplicationStatus, RootDirectory, TagSpec,
};
use efs_dr_core::domain::ports::{
    AwsResult, CreateAccessPointOutcome, CreateMountTargetOutcome, CreateReplicationOutcome,
    DeleteOutcome, Efs, ReplicationDestination,
};

fn build_error(
    operation: &'static str,
    region: &RegionName,
    e: impl std::fmt::Display,
) -> efs_dr_core::domain::error::AwsError {
    efs_dr_core::domain::error::AwsError {
        operation,
        region: region.to_string(),
        kind: efs_dr_core::domain::error::AwsErrorKind::Other,
        code: None,
        status: None,
        message: format!("the request could not be built: {e}"),
    }
}

#[derive(Clone)]
pub struct EfsClient {
    client: Client,
    region: RegionName,
    /// Set when this client calls into another account with the functions'
    /// own credentials: that account's file systems are named by ARN.
    foreign_account: Option<AccountId>,
}

pub use efs_dr_core::domain::ids::file_system_arn as arn_of;

impl EfsClient {
    pub fn new(client: Client, region: RegionName) -> Self {
        EfsClient {
            client,
            region,
            foreign_account: None,
        }
    }

    pub fn naming_account(mut self, account: Option<AccountId>) -> Self {
        self.foreign_account = account;
        self
    }

    /// How a request names a file system of this client's account.
    fn name(&self, id: &FileSystemId) -> String {
        match &self.foreign_account {
            Some(account) => arn_of(&self.region, account, id),
            None => id.to_string(),
        }
    }

    pub fn sdk(&self) -> &Client {
        &self.client
    }
}

fn protection(p: Option<&t::FileSystemProtectionDescription>) -> Protection {
    match p.and_then(|p| p.replication_overwrite_protection()) {
        Some(t::ReplicationOverwriteProtection::Disabled) => Protection::Disabled,
        Some(t::ReplicationOverwriteProtection::Replicating) => Protection::Replicating,
        _ => Protection::Enabled,
    }
}

fn file_system(region: &RegionName, d: &t::FileSystemDescription) -> Option<FileSystem> {
    Some(FileSystem {
        id: FileSystemId::parse(d.file_system_id()).ok()?,
        region: region.clone(),
        arn: d.file_system_arn().unwrap_or_default().to_string(),
        life_cycle: LifeCycle::parse(d.life_cycle_state().as_str()),
        protection: protection(d.file_system_protection()),
        name: d.name().map(str::to_string),
        tags: d
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        mount_target_count: d.number_of_mount_targets(),
    })
}

fn replication(d: &t::ReplicationConfigurationDescription) -> Option<Replication> {
    let dest = d.destinations().first()?;
    Some(Replication {
        source_file_system_id: FileSystemId::parse(d.source_file_system_id()).ok()?,
        source_region: RegionName::parse(d.source_file_system_region()).ok()?,
        destination_file_system_id: FileSystemId::parse(dest.file_system_id()).ok()?,
        destination_region: RegionName::parse(dest.region()).ok()?,
        status: ReplicationStatus::parse(dest.status().as_str()),
        status_message: dest.status_message().map(str::to_string),
        last_replicated: dest.last_replicated_timestamp().map(|t| t.as_secs_f64()),
        owners: Owners {
            source: d
                .source_file_system_owner_id()
                .and_then(|a| AccountId::parse(a).ok()),
            destination: dest.owner_id().and_then(|a| AccountId::parse(a).ok()),
            role_arn: dest.role_arn().map(str::to_string),
        },
    })
}

fn mount_target(d: &t::MountTargetDescription) -> Option<MountTarget> {
    Some(MountTarget {
        id: d.mount_target_id().to_string(),
        file_system_id: FileSystemId::parse(d.file_system_id()).ok()?,
        subnet_id: d.subnet_id().to_string(),
        availability_zone: d.availability_zone_name().map(str::to_string),
        ip_address: d.ip_address().map(str::to_string),
        life_cycle: LifeCycle::parse(d.life_cycle_state().as_str()),
    })
}

fn access_point(d: &t::AccessPointDescription) -> Option<AccessPoint> {
    let tags: Vec<TagSpec> = d
        .tags()
        .iter()
        .map(|t| TagSpec {
            key: t.key().to_string(),
            value: t.value().to_string(),
        })
        .collect();
    Some(AccessPoint {
        id: d.access_point_id()?.to_string(),
        file_system_id: FileSystemId::parse(d.file_system_id()?).ok()?,
        spec: AccessPointSpec {
            name: d.name().map(str::to_string),
            posix_user: d.posix_user().map(|p| PosixUser {
                uid: p.uid(),
                gid: p.gid(),
                secondary_gids: p.secondary_gids().to_vec(),
            }),
            root_directory: d.root_directory().map(|r| RootDirectory {
                path: r.path().unwrap_or("/").to_string(),
                creation_info: r.creation_info().map(|c| CreationInfo {
                    owner_uid: c.owner_uid(),
                    owner_gid: c.owner_gid(),
                    permissions: c.permissions().to_string(),
                }),
            }),
            tags,
        },
        life_cycle: LifeCycle::parse(
            d.life_cycle_state()
                .map(|s| s.as_str())
                .unwrap_or("available"),
        ),
    })
}

impl Efs for EfsClient {
    fn region(&self) -> &RegionName {
        &self.region
    }

    async fn describe_file_system(&self, id: &FileSystemId) -> AwsResult<Option<FileSystem>> {
        match self
            .client
            .describe_file_systems()
            .file_system_id(self.name(id))
            .send()
            .await
        {
            Ok(out) => Ok(out
                .file_systems()
                .first()
                .and_then(|d| file_system(&self.region, d))),
            Err(e) if e.code() == Some("FileSystemNotFound") => Ok(None),
            Err(e) => Err(aws_error("DescribeFileSystems", &self.region, &e)),
        }
    }

    async fn list_file_systems(&self) -> AwsResult<Vec<FileSystem>> {
        let mut out = Vec::new();
        let mut pages = self.client.describe_file_systems().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("DescribeFileSystems", &self.region, &e))?;
            out.extend(
                page.file_systems()
                    .iter()
                    .filter_map(|d| file_system(&self.region, d)),
            );
        }
        Ok(out)
    }

    async fn describe_replication(&self, id: &FileSystemId) -> AwsResult<Option<Replication>> {
        match self
            .client
            .describe_replication_configurations()
            .file_system_id(self.name(id))
            .send()
            .await
        {
            Ok(out) => Ok(out.replications().first().and_then(replication)),
            Err(e) if e.code() == Some("ReplicationNotFound") => Ok(None),
            Err(e) => Err(aws_error(
                "DescribeReplicationConfigurations",
                &self.region,
                &e,
            )),
        }
    }

    async fn list_replications(&self) -> AwsResult<Vec<Replication>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .describe_replication_configurations()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| aws_error("DescribeReplicationConfigurations", &self.region, &e))?;
            out.extend(page.replications().iter().filter_map(replication));
        }
        Ok(out)
    }

    async fn delete_replication(
        &self,
        source: &FileSystemId,
        mode: DeletionMode,
    ) -> AwsResult<DeleteOutcome> {
        let mode = match mode {
            DeletionMode::AllConfigurations => t::DeletionMode::AllConfigurations,
            DeletionMode::LocalConfigurationOnly => t::DeletionMode::LocalConfigurationOnly,
        };
        match self
            .client
            .delete_replication_configuration()
            .source_file_system_id(self.name(source))
            .deletion_mode(mode)
            .send()
            .await
        {
            Ok(_) => Ok(DeleteOutcome::Accepted),
            Err(e) if e.code() == Some("ReplicationNotFound") => Ok(DeleteOutcome::NotFound),
            Err(e) => Err(aws_error(
                "DeleteReplicationConfiguration",
                &self.region,
                &e,
            )),
        }
    }

    async fn create_replication(
        &self,
        source: &FileSystemId,
        destination: &ReplicationDestination<'_>,
    ) -> AwsResult<CreateReplicationOutcome> {
        // Another account's file system is named by its ARN.
        let file_system = destination.file_system.map(|d| match destination.account {
            Some(account) => arn_of(destination.region, account, d),
            None => d.to_string(),
        });
        let dest = t::DestinationToCreate::builder()
            .region(destination.region.as_str())
            .set_file_system_id(file_system)
            .set_role_arn(destination.role_arn.map(str::to_string))
            .build();
        match self
            .client
            .create_replication_configuration()
            .source_file_system_id(self.name(source))
            .destinations(dest)
            .send()
            .await
        {
            Ok(out) => {
                let described = t::ReplicationConfigurationDescription::builder()
                    .source_file_system_id(out.source_file_system_id())
                    .source_file_system_region(out.source_file_system_region())
                    .set_destinations(Some(out.destinations().to_vec()))
                    .source_file_system_arn(out.source_file_system_arn())
                    .original_source_file_system_arn(out.original_source_file_system_arn())
                    .creation_time(out.creation_time().to_owned())
                    .build();
                match described.ok().as_ref().and_then(replication) {
                    Some(r) => Ok(CreateReplicationOutcome::Created(Box::new(r))),
                    None => Ok(CreateReplicationOutcome::AlreadyExists(
                        "created, but the answer could not be read; re-read the configuration"
                            .into(),
                    )),
                }
            }
            Err(e) if e.code() == Some("ReplicationAlreadyExists") => {
                Ok(CreateReplicationOutcome::AlreadyExists(
                    e.message().unwrap_or_default().to_string(),
                ))
            }
            Err(e) => Err(aws_error(
                "CreateReplicationConfiguration",
                &self.region,
                &e,
            )),
        }
    }

    async fn update_protection(&self, id: &FileSystemId, protection: Protection) -> AwsResult<()> {
        let p = match protection {
            Protection::Enabled => t::ReplicationOverwriteProtection::Enabled,
            Protection::Disabled => t::ReplicationOverwriteProtection::Disabled,
            Protection::Replicating => t::ReplicationOverwriteProtection::Replicating,
        };
        self.client
            .update_file_system_protection()
            .file_system_id(self.name(id))
            .replication_overwrite_protection(p)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("UpdateFileSystemProtection", &self.region, &e))
    }

    async fn tag_file_system(&self, id: &FileSystemId, tags: &[(String, String)]) -> AwsResult<()> {
        let tags: Vec<t::Tag> = tags
            .iter()
            .filter_map(|(k, v)| t::Tag::builder().key(k).value(v).build().ok())
            .collect();
        self.client
            .tag_resource()
            .resource_id(self.name(id))
            .set_tags(Some(tags))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("TagResource", &self.region, &e))
    }

    async fn describe_mount_targets(&self, id: &FileSystemId) -> AwsResult<Vec<MountTarget>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .describe_mount_targets()
            .file_system_id(self.name(id))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("DescribeMountTargets", &self.region, &e))?;
            out.extend(page.mount_targets().iter().filter_map(mount_target));
        }
        Ok(out)
    }

    async fn mount_target_security_groups(&self, mount_target_id: &str) -> AwsResult<Vec<String>> {
        self.client
            .describe_mount_target_security_groups()
            .mount_target_id(mount_target_id)
            .send()
            .await
            .map(|o| o.security_groups().to_vec())
            .map_err(|e| aws_error("DescribeMountTargetSecurityGroups", &self.region, &e))
    }

    async fn create_mount_target(
        &self,
        id: &FileSystemId,
        subnet: &SubnetId,
        security_groups: &[SecurityGroupId],
    ) -> AwsResult<CreateMountTargetOutcome> {
        let groups = (!security_groups.is_empty())
            .then(|| security_groups.iter().map(|g| g.to_string()).collect());
        match self
            .client
            .create_mount_target()
            .file_system_id(self.name(id))
            .subnet_id(subnet.as_str())
            .set_security_groups(groups)
            .send()
            .await
        {
            Ok(out) => {
                let described = t::MountTargetDescription::builder()
                    .mount_target_id(out.mount_target_id())
                    .file_system_id(out.file_system_id())
                    .subnet_id(out.subnet_id())
                    .life_cycle_state(out.life_cycle_state().clone())
                    .set_ip_address(out.ip_address().map(str::to_string))
                    .set_availability_zone_name(out.availability_zone_name().map(str::to_string))
                    .build();
                match described.ok().as_ref().and_then(mount_target) {
                    Some(mt) => Ok(CreateMountTargetOutcome::Created(mt)),
                    None => Ok(CreateMountTargetOutcome::Conflict(
                        "created, but the answer could not be read".into(),
                    )),
                }
            }
            Err(e) if e.code() == Some("MountTargetConflict") => {
                Ok(CreateMountTargetOutcome::Conflict(
                    e.message().unwrap_or("MountTargetConflict").to_string(),
                ))
            }
            Err(e) => Err(aws_error("CreateMountTarget", &self.region, &e)),
        }
    }

    async fn set_mount_target_security_groups(
        &self,
        mount_target_id: &str,
        security_groups: &[SecurityGroupId],
    ) -> AwsResult<()> {
        self.client
            .modify_mount_target_security_groups()
            .mount_target_id(mount_target_id)
            .set_security_groups(Some(
                security_groups.iter().map(|g| g.to_string()).collect(),
            ))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("ModifyMountTargetSecurityGroups", &self.region, &e))
    }

    async fn delete_mount_target(&self, mount_target_id: &str) -> AwsResult<()> {
        match self
            .client
            .delete_mount_target()
            .mount_target_id(mount_target_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("MountTargetNotFound") => Ok(()),
            Err(e) => Err(aws_error("DeleteMountTarget", &self.region, &e)),
        }
    }

    async fn describe_access_points(&self, id: &FileSystemId) -> AwsResult<Vec<AccessPoint>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .describe_access_points()
            .file_system_id(self.name(id))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("DescribeAccessPoints", &self.region, &e))?;
            out.extend(page.access_points().iter().filter_map(access_point));
        }
        Ok(out)
    }

    async fn create_access_point(
        &self,
        id: &FileSystemId,
        spec: &AccessPointSpec,
        client_token: &str,
    ) -> AwsResult<CreateAccessPointOutcome> {
        let posix = match &spec.posix_user {
            Some(p) => Some(
                t::PosixUser::builder()
                    .uid(p.uid)
                    .gid(p.gid)
                    .set_secondary_gids(
                        (!p.secondary_gids.is_empty()).then(|| p.secondary_gids.clone()),
                    )
                    .build()
                    .map_err(|e| build_error("CreateAccessPoint", &self.region, e))?,
            ),
            None => None,
        };
        let root = match &spec.root_directory {
            Some(r) => {
                let info = match &r.creation_info {
                    Some(c) => Some(
                        t::CreationInfo::builder()
                            .owner_uid(c.owner_uid)
                            .owner_gid(c.owner_gid)
                            .permissions(&c.permissions)
                            .build()
                            .map_err(|e| build_error("CreateAccessPoint", &self.region, e))?,
                    ),
                    None => None,
                };
                Some(
                    t::RootDirectory::builder()
                        .path(&r.path)
                        .set_creation_info(info)
                        .build(),
                )
            }
            None => None,
        };
        let tags: Vec<t::Tag> = spec
            .all_tags()
            .iter()
            .filter_map(|(k, v)| t::Tag::builder().key(k).value(v).build().ok())
            .collect();
        let result = self
            .client
            .create_access_point()
            .client_token(client_token)
            .file_system_id(self.name(id))
            .set_posix_user(posix)
            .set_root_directory(root)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await;
        match result {
            Ok(out) => {
                let described = t::AccessPointDescription::builder()
                    .set_access_point_id(out.access_point_id().map(str::to_string))
                    .set_file_system_id(out.file_system_id().map(str::to_string))
                    .set_name(out.name().map(str::to_string))
                    .set_posix_user(out.posix_user().cloned())
                    .set_root_directory(out.root_directory().cloned())
                    .set_tags(Some(out.tags().to_vec()))
                    .set_life_cycle_state(out.life_cycle_state().cloned())
                    .build();
                match access_point(&described) {
                    Some(ap) => Ok(CreateAccessPointOutcome::Created(ap)),
                    None => Err(build_error("CreateAccessPoint", &self.region, "the answer carried no access point ID")),
                }
            }
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_efs::operation::create_access_point::CreateAccessPointError::AccessPointAlreadyExists(x)) => {
                    Ok(CreateAccessPointOutcome::AlreadyExists(x.access_point_id().to_string()))
                }
                _ => Err(aws_error("CreateAccessPoint", &self.region, &e)),
            },
        }
    }

    async fn tag_access_point(
        &self,
        access_point_id: &str,
        tags: &[(String, String)],
    ) -> AwsResult<()> {
        let tags: Vec<t::Tag> = tags
            .iter()
            .filter_map(|(k, v)| t::Tag::builder().key(k).value(v).build().ok())
            .collect();
        self.client
            .tag_resource()
            .resource_id(access_point_id)
            .set_tags(Some(tags))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("TagResource", &self.region, &e))
    }

    async fn put_file_system_policy(&self, id: &FileSystemId, policy: &str) -> AwsResult<()> {
        self.client
            .put_file_system_policy()
            .file_system_id(self.name(id))
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("PutFileSystemPolicy", &self.region, &e))
    }

    async fn file_system_policy(&self, id: &FileSystemId) -> AwsResult<Option<String>> {
        match self
            .client
            .describe_file_system_policy()
            .file_system_id(self.name(id))
            .send()
            .await
        {
            Ok(out) => Ok(out.policy().map(str::to_string)),
            Err(e) if e.code() == Some("PolicyNotFound") => Ok(None),
            Err(e) => Err(aws_error("DescribeFileSystemPolicy", &self.region, &e)),
        }
    }

    async fn probe(&self) -> AwsResult<()> {
        self.client
            .describe_file_systems()
            .max_items(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("DescribeFileSystems", &self.region, &e))
    }
}
