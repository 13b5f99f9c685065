//! Backup vaults: CreateBackupVault. Every Region starts with the vault
//! `Default` (`world::backup::BackupState::with_default_vault`).

use super::protocol::{check_vault_name, invalid, opt_str, parse_tags};
use crate::error::ApiError;
use crate::http::Reply;
use crate::world::backup::{managed_key_arn, BackupVault};
use crate::world::model::World;
use serde_json::{json, Value};

/// Backup vaults per account and Region (AWS Backup quotas).
pub(super) const VAULT_LIMIT: usize = 100;

fn check_request_id(id: &str) -> Result<(), ApiError> {
    let ok = (1..=50).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "CreatorRequestId '{id}' must be 1 to 50 letters, digits or '-_.' characters."
        )))
    }
}

fn check_key(key: &str) -> Result<(), ApiError> {
    let ok = crate::arn::parse(key).is_some_and(|a| {
        a.service == "kms" && (a.resource.starts_with("key/") || a.resource.starts_with("alias/"))
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "EncryptionKeyArn '{key}' is not a KMS key ARN."
        )))
    }
}

fn vault_reply(v: &BackupVault) -> Reply {
    Reply::json(
        200,
        &json!({
            "BackupVaultName": v.name,
            "BackupVaultArn": v.arn,
            "CreationDate": v.creation_date,
        }),
    )
}

pub(super) fn create_backup_vault(
    world: &mut World,
    region: &str,
    name: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    check_vault_name(name)?;
    let request_id = opt_str(body, "CreatorRequestId")?;
    if let Some(id) = request_id {
        check_request_id(id)?;
    }
    let key = opt_str(body, "EncryptionKeyArn")?;
    if let Some(k) = key {
        check_key(k)?;
    }
    let tags = parse_tags(body, "BackupVaultTags")?;
    let (now, account) = (world.now, world.account_id.clone());
    let vaults = &mut world.region_mut(region).backup.vaults;
    if let Some(existing) = vaults.get(name) {
        // A retry of the request that created it is answered again.
        if request_id.is_some() && existing.creator_request_id.as_deref() == request_id {
            return Ok(vault_reply(existing));
        }
        let mut err = ApiError::new(
            "AlreadyExistsException",
            400,
            format!("Backup vault '{name}' already exists in {region}."),
        )
        .with("Arn", existing.arn.clone());
        if let Some(id) = &existing.creator_request_id {
            err = err.with("CreatorRequestId", id.clone());
        }
        return Err(err);
    }
    if vaults.len() >= VAULT_LIMIT {
        return Err(ApiError::new(
            "LimitExceededException",
            400,
            format!(
                "{region} already has {VAULT_LIMIT} backup vaults, the most AWS Backup allows."
            ),
        ));
    }
    let vault = BackupVault {
        name: name.to_string(),
        arn: crate::arn::make("backup", region, &account, &format!("backup-vault:{name}")),
        creation_date: now,
        encryption_key_arn: key
            .map(str::to_string)
            .unwrap_or_else(|| managed_key_arn(region, &account)),
        creator_request_id: request_id.map(str::to_string),
        tags,
    };
    let reply = vault_reply(&vault);
    vaults.insert(name.to_string(), vault);
    Ok(reply)
}
