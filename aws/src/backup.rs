//! The `Backup` port over aws-sdk-backup: on-demand backups of EFS file
//! systems before replication overwrites them.

use super::aws_error;
use efs_dr_core::domain::ids::RegionName;
use efs_dr_core::domain::model::{BackupJob, BackupJobRequest};
use efs_dr_core::domain::ports::{AwsResult, Backup};

#[derive(Clone)]
pub struct BackupClient {
    client: aws_sdk_backup::Client,
    region: RegionName,
}

impl BackupClient {
    pub fn new(client: aws_sdk_backup::Client, region: RegionName) -> Self {
        BackupClient { client, region }
    }
}

impl Backup for BackupClient {
    async fn start_backup_job(&self, request: &BackupJobRequest) -> AwsResult<String> {
        let out = self
            .client
            .start_backup_job()
            .backup_vault_name(&request.vault)
            .resource_arn(&request.resource_arn)
            .iam_role_arn(&request.iam_role_arn)
            .idempotency_token(&request.idempotency_token)
            .send()
            .await
            .map_err(|e| aws_error("StartBackupJob", &self.region, &e))?;
        Ok(out.backup_job_id().unwrap_or_default().to_string())
    }

    async fn describe_backup_job(&self, job_id: &str) -> AwsResult<BackupJob> {
        let out = self
            .client
            .describe_backup_job()
            .backup_job_id(job_id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeBackupJob", &self.region, &e))?;
        Ok(BackupJob {
            id: out.backup_job_id().unwrap_or(job_id).to_string(),
            state: out
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_message: out.status_message().map(str::to_string),
            recovery_point_arn: out.recovery_point_arn().map(str::to_string),
            completed_at: out.completion_date().map(|t| t.as_secs_f64()),
        })
    }
}
