//! AWS Backup, REST-JSON, as described by the botocore service model
//! (`backup/2018-11-15/service-2.json`): the subset efs-dr needs to back up
//! an EFS file system and find its recovery points.
//!
//! This file only routes: it names the operation from the method and path and
//! hands the request to the file of its operation family. The wire format
//! (errors, request members, checks) lives in `protocol`; vaults, jobs and
//! recovery points as the world keeps them are in `world::backup`.

mod jobs;
mod protocol;
mod recovery_points;
mod vaults;

pub use protocol::{error_reply, throttled, unavailable};

use crate::error::ApiError;
use crate::http::{percent_decode, Reply, ServiceRequest};
use crate::world::model::World;
use protocol::{missing, parse_body};

/// An operation and the path parameters it was called with (decoded).
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    StartBackupJob,
    DescribeBackupJob(String),
    ListRecoveryPointsByResource(String),
    DescribeRecoveryPoint { vault: String, arn: String },
    CreateBackupVault(String),
    Unknown,
}

impl Route {
    /// The operation's name, as the call log shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Route::StartBackupJob => "StartBackupJob",
            Route::DescribeBackupJob(_) => "DescribeBackupJob",
            Route::ListRecoveryPointsByResource(_) => "ListRecoveryPointsByResource",
            Route::DescribeRecoveryPoint { .. } => "DescribeRecoveryPoint",
            Route::CreateBackupVault(_) => "CreateBackupVault",
            Route::Unknown => "Unknown",
        }
    }

    /// Whether the operation changes anything.
    pub fn mutating(&self) -> bool {
        matches!(self, Route::StartBackupJob | Route::CreateBackupVault(_))
    }
}

/// The route of a request. Path parameters are percent-decoded; an ARN sent
/// with its `/` unencoded still routes, as `resources/{resourceArn}` ends at
/// the fixed `/recovery-points` that follows it.
pub fn route(method: &str, path: &str) -> Route {
    let trimmed = path.trim_end_matches('/');
    if let Some(rest) = trimmed.strip_prefix("/resources/") {
        if let Some(arn) = rest.strip_suffix("/recovery-points") {
            if method == "GET" {
                return Route::ListRecoveryPointsByResource(percent_decode(arn));
            }
        }
        return Route::Unknown;
    }
    let segments: Vec<String> = trimmed
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, seg.as_slice()) {
        ("PUT", ["backup-jobs"]) => Route::StartBackupJob,
        ("GET", ["backup-jobs", id]) => Route::DescribeBackupJob(id.to_string()),
        ("PUT", ["backup-vaults", name]) => Route::CreateBackupVault(name.to_string()),
        ("GET", ["backup-vaults", vault, "recovery-points", arn]) => Route::DescribeRecoveryPoint {
            vault: vault.to_string(),
            arn: arn.to_string(),
        },
        _ => Route::Unknown,
    }
}

/// Operation name and whether it changes anything, from method and path.
pub fn operation(method: &str, path: &str) -> (&'static str, bool) {
    let r = route(method, path);
    (r.name(), r.mutating())
}

fn non_empty<'a>(value: &'a str, name: &str) -> Result<&'a str, ApiError> {
    if value.is_empty() {
        Err(missing(name))
    } else {
        Ok(value)
    }
}

pub fn handle(world: &mut World, region: &str, req: &ServiceRequest) -> Result<Reply, ApiError> {
    // A Region seen for the first time gets its layout and its Default vault.
    world.region_mut(region);
    match route(req.method, req.path) {
        Route::StartBackupJob => jobs::start_backup_job(world, region, &parse_body(req.body)?),
        Route::DescribeBackupJob(id) => {
            jobs::describe_backup_job(world, region, non_empty(&id, "BackupJobId")?)
        }
        Route::ListRecoveryPointsByResource(arn) => {
            recovery_points::list_by_resource(world, region, non_empty(&arn, "ResourceArn")?, req)
        }
        Route::DescribeRecoveryPoint { vault, arn } => recovery_points::describe_recovery_point(
            world,
            region,
            non_empty(&vault, "BackupVaultName")?,
            non_empty(&arn, "RecoveryPointArn")?,
            req,
        ),
        Route::CreateBackupVault(name) => vaults::create_backup_vault(
            world,
            region,
            non_empty(&name, "BackupVaultName")?,
            &parse_body(req.body)?,
        ),
        Route::Unknown => Err(ApiError::new(
            "NotImplemented",
            501,
            format!(
                "The emulator does not implement {} {}. Supported: StartBackupJob, \
                 DescribeBackupJob, ListRecoveryPointsByResource, DescribeRecoveryPoint and \
                 CreateBackupVault (docs/emulator.md).",
                req.method, req.path
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_the_model_paths() {
        assert_eq!(route("PUT", "/backup-jobs"), Route::StartBackupJob);
        assert_eq!(
            route("GET", "/backup-jobs/AB-12"),
            Route::DescribeBackupJob("AB-12".into())
        );
        let fs =
            "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0";
        let encoded = fs.replace(':', "%3A").replace('/', "%2F");
        for path in [
            format!("/resources/{encoded}/recovery-points/"),
            format!("/resources/{fs}/recovery-points/"),
            format!("/resources/{encoded}/recovery-points"),
        ] {
            assert_eq!(
                route("GET", &path),
                Route::ListRecoveryPointsByResource(fs.into()),
                "{path}"
            );
        }
        assert_eq!(
            route(
                "GET",
                "/backup-vaults/Default/recovery-points/arn%3Aaws%3Abackup%3Aus-east-1%3A1%3Arecovery-point%3AX"
            ),
            Route::DescribeRecoveryPoint {
                vault: "Default".into(),
                arn: "arn:aws:backup:us-east-1:1:recovery-point:X".into()
            }
        );
        assert_eq!(
            route("PUT", "/backup-vaults/v1"),
            Route::CreateBackupVault("v1".into())
        );
        assert_eq!(route("DELETE", "/backup-vaults/v1"), Route::Unknown);
        assert_eq!(
            route("POST", "/resources/x/recovery-points/"),
            Route::Unknown
        );
    }

    #[test]
    fn only_start_and_create_are_mutating() {
        assert_eq!(operation("PUT", "/backup-jobs"), ("StartBackupJob", true));
        assert_eq!(
            operation("PUT", "/backup-vaults/v"),
            ("CreateBackupVault", true)
        );
        assert_eq!(
            operation("GET", "/backup-jobs/J"),
            ("DescribeBackupJob", false)
        );
        assert_eq!(
            operation("GET", "/resources/arn/recovery-points/"),
            ("ListRecoveryPointsByResource", false)
        );
        assert_eq!(
            operation("GET", "/backup-vaults/v/recovery-points/a"),
            ("DescribeRecoveryPoint", false)
        );
        assert_eq!(operation("GET", "/nothing"), ("Unknown", false));
    }
}

#[cfg(test)]
mod world_tests;
