//! Recovery points: ListRecoveryPointsByResource (paged, newest first) and
//! DescribeRecoveryPoint.

use super::protocol::{check_vault_name, invalid, lifecycle_json, not_found, put};
use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::world::backup::{RecoveryPoint, RecoveryPointState};
use crate::world::model::World;
use serde_json::{json, Map, Value};

/// Page size without `maxResults` (the model leaves it open).
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

fn status(world: &World, p: &RecoveryPoint) -> &'static str {
    match p.state {
        RecoveryPointState::Creating => "CREATING",
        RecoveryPointState::Done => world.variants.recovery_point_status.as_str(),
    }
}

/// Sorts newest first; ties by ARN. The key is also the page token.
fn order_key(p: &RecoveryPoint) -> String {
    let millis = (p.creation_date.max(0.0) * 1000.0) as u64;
    format!("{:016x}{}", u64::MAX - millis, p.arn)
}

fn page_size(req: &ServiceRequest) -> Result<usize, ApiError> {
    match req.query_param("maxResults") {
        None => Ok(DEFAULT_PAGE),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(invalid(format!(
                "MaxResults must be an integer from 1 to {MAX_PAGE}, got '{v}'."
            ))),
        },
    }
}

pub(super) fn list_by_resource(
    world: &mut World,
    region: &str,
    resource_arn: &str,
    req: &ServiceRequest,
) -> Result<Reply, ApiError> {
    if crate::arn::parse(resource_arn).is_none() {
        return Err(invalid(format!("Invalid resource ARN '{resource_arn}'.")));
    }
    let size = page_size(req)?;
    match req.query_param("managedByAWSBackupOnly") {
        None | Some("true") | Some("false") => {}
        Some(other) => {
            return Err(invalid(format!(
                "ManagedByAWSBackupOnly must be true or false, got '{other}'."
            )))
        }
    }
    let token = req.query_param("nextToken");
    if let Some(t) = token {
        let valid = t.len() > 16 && t[..16].chars().all(|c| c.is_ascii_hexdigit());
        if !valid {
            return Err(invalid(format!("Invalid NextToken '{t}'.")));
        }
    }
    world.region_mut(region);
    let Some(r) = world.region(region) else {
        return Err(not_found(format!("Region {region} is unknown.")));
    };
    let mut points: Vec<(String, &RecoveryPoint)> = r
        .backup
        .recovery_points
        .values()
        .filter(|p| p.resource_arn == resource_arn)
        .map(|p| (order_key(p), p))
        .collect();
    points.sort_by(|a, b| a.0.cmp(&b.0));
    // Resume at the token's place in that order, even if its point is gone.
    let from = token.map_or(0, |t| {
        points
            .iter()
            .position(|(k, _)| k.as_str() >= t)
            .unwrap_or(points.len())
    });
    let page: Vec<Value> = points
        .iter()
        .skip(from)
        .take(size)
        .map(|(_, p)| {
            let mut out = Map::new();
            out.insert("RecoveryPointArn".into(), json!(p.arn));
            out.insert("CreationDate".into(), json!(p.creation_date));
            out.insert("Status".into(), json!(status(world, p)));
            out.insert("EncryptionKeyArn".into(), json!(p.encryption_key_arn));
            out.insert("BackupSizeBytes".into(), json!(p.backup_size));
            out.insert("BackupVaultName".into(), json!(p.vault_name));
            out.insert("IsParent".into(), json!(false));
            put(&mut out, "ResourceName", p.resource_name.clone());
            out.insert("VaultType".into(), json!("BACKUP_VAULT"));
            Value::Object(out)
        })
        .collect();
    let mut out = Map::new();
    out.insert("RecoveryPoints".into(), Value::Array(page));
    if let Some((next, _)) = points.get(from + size) {
        out.insert("NextToken".into(), json!(next));
    }
    Ok(Reply::json(200, &Value::Object(out)))
}

pub(super) fn describe_recovery_point(
    world: &mut World,
    region: &str,
    vault_name: &str,
    arn: &str,
    req: &ServiceRequest,
) -> Result<Reply, ApiError> {
    check_vault_name(vault_name)?;
    if crate::arn::parse(arn).is_none() {
        return Err(invalid(format!("Invalid recovery point ARN '{arn}'.")));
    }
    if let Some(account) = req.query_param("backupVaultAccountId") {
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid(format!(
                "BackupVaultAccountId '{account}' is not a 12-digit account ID."
            )));
        }
        if account != world.account_id {
            return Err(not_found(format!(
                "Backup vault '{vault_name}' of account {account} does not exist in {region}."
            )));
        }
    }
    let now = world.now;
    world.region_mut(region);
    let Some(r) = world.region(region) else {
        return Err(not_found(format!("Region {region} is unknown.")));
    };
    if !r.backup.vaults.contains_key(vault_name) {
        return Err(not_found(format!(
            "Backup vault '{vault_name}' does not exist in {region}."
        )));
    }
    let p = r
        .backup
        .recovery_points
        .get(arn)
        .filter(|p| p.vault_name == vault_name)
        .ok_or_else(|| {
            not_found(format!(
                "Recovery point '{arn}' does not exist in backup vault '{vault_name}'."
            ))
        })?;
    let cold_at = p
        .lifecycle
        .as_ref()
        .and_then(|l| l.move_to_cold_at(p.creation_date));
    let mut out = Map::new();
    out.insert("RecoveryPointArn".into(), json!(p.arn));
    out.insert("BackupVaultName".into(), json!(p.vault_name));
    out.insert("BackupVaultArn".into(), json!(p.vault_arn));
    out.insert("ResourceArn".into(), json!(p.resource_arn));
    out.insert("ResourceType".into(), json!("EFS"));
    put(&mut out, "ResourceName", p.resource_name.clone());
    out.insert("IamRoleArn".into(), json!(p.iam_role_arn));
    out.insert("Status".into(), json!(status(world, p)));
    out.insert("CreationDate".into(), json!(p.creation_date));
    put(&mut out, "CompletionDate", p.completion_date);
    out.insert("BackupSizeInBytes".into(), json!(p.backup_size));
    if let Some(l) = &p.lifecycle {
        let mut calculated = Map::new();
        put(&mut calculated, "MoveToColdStorageAt", cold_at);
        put(&mut calculated, "DeleteAt", l.delete_at(p.creation_date));
        out.insert("CalculatedLifecycle".into(), Value::Object(calculated));
        out.insert("Lifecycle".into(), lifecycle_json(l));
    }
    out.insert("EncryptionKeyArn".into(), json!(p.encryption_key_arn));
    out.insert("IsEncrypted".into(), json!(true));
    let cold = cold_at.is_some_and(|t| t <= now);
    out.insert(
        "StorageClass".into(),
        json!(if cold { "COLD" } else { "WARM" }),
    );
    out.insert("IsParent".into(), json!(false));
    out.insert("VaultType".into(), json!("BACKUP_VAULT"));
    Ok(Reply::json(200, &Value::Object(out)))
}
