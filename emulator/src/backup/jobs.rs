//! Backup jobs: StartBackupJob (with its idempotency token) and
//! DescribeBackupJob. How a job moves on in emulated time is the world's
//! (`world::backup` and `world::backup_jobs`).

use super::protocol::{
    bad_input, check_vault_name, invalid, lifecycle_json, not_found, opt_i64, opt_str,
    parse_lifecycle, parse_tags, put, required_str, upper_uuid,
};
use crate::error::ApiError;
use crate::http::Reply;
use crate::world::backup::{
    managed_key_arn, BackupJob, JobState, RecoveryPoint, RecoveryPointState,
};
use crate::world::model::World;
use serde_json::{json, Map, Value};

/// Longest start or completion window the model allows (100 years).
const MAX_WINDOW_MINUTES: i64 = 52_560_000;
/// The start window when none is given (8 hours).
const DEFAULT_START_WINDOW_MINUTES: i64 = 480;

/// The file system a `ResourceArn` names: an EFS file-system ARN of this
/// Region and account, in the Region's partition.
fn file_system_of(world: &World, region: &str, resource_arn: &str) -> Result<String, ApiError> {
    let arn = crate::arn::parse(resource_arn)
        .ok_or_else(|| invalid(format!("Invalid ARN '{resource_arn}'.")))?;
    if arn.service != "elasticfilesystem" {
        return Err(invalid(format!(
            "The emulator backs up Amazon EFS file systems only, not '{resource_arn}'."
        )));
    }
    let id = arn
        .resource
        .strip_prefix("file-system/")
        .filter(|id| {
            id.strip_prefix("fs-").is_some_and(|hex| {
                (8..=40).contains(&hex.len())
                    && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
            })
        })
        .ok_or_else(|| {
            invalid(format!(
                "'{resource_arn}' is not an EFS file-system ARN (…:file-system/fs-…)."
            ))
        })?;
    if !arn.partition_matches_region() {
        return Err(invalid(format!(
            "'{resource_arn}': partition {} does not hold Region {}.",
            arn.partition, arn.region
        )));
    }
    if arn.region != region || arn.account != world.caller.account {
        return Err(invalid(format!(
            "'{resource_arn}' is not a resource of account {} in {region}: AWS Backup backs up \
             resources of its own Region and account.",
            world.caller.account
        )));
    }
    Ok(id.to_string())
}

/// `IamRoleArn`: `arn:PARTITION:iam::ACCOUNT:role/NAME`.
fn check_role(role: &str) -> Result<(), ApiError> {
    let ok = crate::arn::parse(role).is_some_and(|a| {
        a.service == "iam"
            && a.region.is_empty()
            && a.account.len() == 12
            && a.account.chars().all(|c| c.is_ascii_digit())
            && a.resource
                .strip_prefix("role/")
                .is_some_and(|n| !n.is_empty())
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Invalid IAM role ARN '{role}': expected arn:aws:iam::123456789012:role/NAME."
        )))
    }
}

fn window(body: &Value, name: &str, min: i64) -> Result<Option<i64>, ApiError> {
    match opt_i64(body, name)? {
        Some(m) if !(min..=MAX_WINDOW_MINUTES).contains(&m) => Err(invalid(format!(
            "{name} is {m}; it must be between {min} and {MAX_WINDOW_MINUTES} minutes."
        ))),
        other => Ok(other),
    }
}

pub(super) fn start_backup_job(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let vault_name = required_str(body, "BackupVaultName")?;
    let resource_arn = required_str(body, "ResourceArn")?;
    let role = required_str(body, "IamRoleArn")?;
    let token = opt_str(body, "IdempotencyToken")?;
    check_vault_name(vault_name)?;
    if token == Some("") {
        return Err(invalid("IdempotencyToken must not be empty."));
    }
    let start_window = window(body, "StartWindowMinutes", 60)?;
    let complete_window = window(body, "CompleteWindowMinutes", 1)?;
    let lifecycle = parse_lifecycle(body)?;
    let tags = parse_tags(body, "RecoveryPointTags")?;
    match body.get("BackupOptions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) if o.is_empty() => {}
        Some(_) => {
            return Err(invalid(
                "BackupOptions apply to Windows VSS backups of EC2 only, not to EFS file systems.",
            ))
        }
    }
    match opt_str(body, "Index")? {
        None | Some("DISABLED") => {}
        Some("ENABLED") => {
            return Err(invalid(
                "Index ENABLED is not supported for EFS file systems.",
            ))
        }
        Some(other) => {
            return Err(invalid(format!(
                "Index '{other}' is not ENABLED or DISABLED."
            )))
        }
    }
    if opt_str(body, "LogicallyAirGappedBackupVaultArn")?.is_some() {
        return Err(invalid(
            "The emulator has no logically air-gapped vaults; leave out \
             LogicallyAirGappedBackupVaultArn.",
        ));
    }
    check_role(role)?;
    let fs_id = file_system_of(world, region, resource_arn)?;

    // A retry with the same token and the same parameters is the same job.
    let mut request = body.clone();
    if let Some(o) = request.as_object_mut() {
        o.remove("IdempotencyToken");
    }
    // The recovery point belongs to the account that backs the file system up.
    let account = world.caller.account.clone();
    let r = world.region_mut(region);
    if let Some(t) = token {
        if let Some(job) = r.backup.job_by_token(t) {
            if job.request != request {
                return Err(bad_input(format!(
                    "IdempotencyToken '{t}' was already used by backup job {} with other \
                     parameters.",
                    job.id
                )));
            }
            return Ok(start_reply(job));
        }
    }
    let vault = r.backup.vaults.get(vault_name).cloned().ok_or_else(|| {
        not_found(format!(
            "Backup vault '{vault_name}' does not exist in {region}."
        ))
    })?;
    let fs = r.file_systems.get(&fs_id).ok_or_else(|| {
        not_found(format!(
            "Resource '{resource_arn}' does not exist in {region}."
        ))
    })?;
    let resource_name = fs.name().map(str::to_string);
    let (now, d) = (world.now, world.durations.clone());
    let job_id = upper_uuid(world);
    let rp_id = upper_uuid(world);
    let rp_arn = crate::arn::make(
        "backup",
        region,
        &account,
        &format!("recovery-point:{rp_id}"),
    );
    let job = BackupJob {
        id: job_id.clone(),
        vault_name: vault.name.clone(),
        vault_arn: vault.arn.clone(),
        recovery_point_arn: rp_arn.clone(),
        resource_arn: resource_arn.to_string(),
        file_system_id: fs_id.clone(),
        resource_name: resource_name.clone(),
        iam_role_arn: role.to_string(),
        idempotency_token: token.map(str::to_string),
        request,
        creation_date: now,
        running_at: now + d.backup_job_start.min(d.backup_job),
        complete_at: now + d.backup_job,
        start_by: now + start_window.unwrap_or(DEFAULT_START_WINDOW_MINUTES) as f64 * 60.0,
        complete_by: complete_window.map(|m| now + m as f64 * 60.0),
        state: JobState::Created,
        status_message: None,
        completion_date: None,
        percent_at_end: None,
        backup_size: None,
        lifecycle: lifecycle.clone(),
        recovery_point_tags: tags.clone(),
    };
    // The recovery point exists (CREATING) from the start of the job.
    let point = RecoveryPoint {
        arn: rp_arn.clone(),
        vault_name: vault.name.clone(),
        vault_arn: vault.arn.clone(),
        resource_arn: resource_arn.to_string(),
        file_system_id: fs_id,
        resource_name,
        iam_role_arn: role.to_string(),
        job_id: job_id.clone(),
        creation_date: now,
        completion_date: None,
        state: RecoveryPointState::Creating,
        backup_size: 0,
        lifecycle,
        encryption_key_arn: vault.encryption_key_arn.clone(),
        tags,
        files: Default::default(),
    };
    let reply = start_reply(&job);
    let backup = &mut world.region_mut(region).backup;
    backup.recovery_points.insert(rp_arn, point);
    backup.jobs.insert(job_id, job);
    Ok(reply)
}

fn start_reply(job: &BackupJob) -> Reply {
    Reply::json(
        200,
        &json!({
            "BackupJobId": job.id,
            "RecoveryPointArn": job.recovery_point_arn,
            "CreationDate": job.creation_date,
        }),
    )
}

pub(super) fn describe_backup_job(
    world: &mut World,
    region: &str,
    job_id: &str,
) -> Result<Reply, ApiError> {
    let now = world.now;
    let account = world.caller.account.clone();
    let r = world.region_mut(region);
    let job =
        r.backup.jobs.get(job_id).ok_or_else(|| {
            not_found(format!("Backup job '{job_id}' does not exist in {region}."))
        })?;
    let key = r
        .backup
        .vaults
        .get(&job.vault_name)
        .map(|v| v.encryption_key_arn.clone())
        .unwrap_or_else(|| managed_key_arn(region, &account));
    let size = job.backup_size.unwrap_or(0);
    let mut out = Map::new();
    out.insert("AccountId".into(), json!(account));
    out.insert("BackupJobId".into(), json!(job.id));
    out.insert("BackupVaultName".into(), json!(job.vault_name));
    out.insert("BackupVaultArn".into(), json!(job.vault_arn));
    out.insert("VaultType".into(), json!("BACKUP_VAULT"));
    out.insert("RecoveryPointArn".into(), json!(job.recovery_point_arn));
    out.insert("EncryptionKeyArn".into(), json!(key));
    out.insert("IsEncrypted".into(), json!(true));
    out.insert("ResourceArn".into(), json!(job.resource_arn));
    out.insert("ResourceType".into(), json!("EFS"));
    put(&mut out, "ResourceName", job.resource_name.clone());
    out.insert("CreationDate".into(), json!(job.creation_date));
    put(&mut out, "CompletionDate", job.completion_date);
    out.insert("State".into(), json!(job.state.as_str()));
    put(&mut out, "StatusMessage", job.status_message.clone());
    out.insert(
        "PercentDone".into(),
        json!(format!("{:.1}", job.progress(now))),
    );
    out.insert("BackupSizeInBytes".into(), json!(size));
    out.insert("BytesTransferred".into(), json!(size));
    out.insert("IamRoleArn".into(), json!(job.iam_role_arn));
    out.insert("StartBy".into(), json!(job.start_by));
    put(
        &mut out,
        "RecoveryPointLifecycle",
        job.lifecycle.as_ref().map(lifecycle_json),
    );
    out.insert("IsParent".into(), json!(false));
    Ok(Reply::json(200, &Value::Object(out)))
}
