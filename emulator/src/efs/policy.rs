//! File system policies: PutFileSystemPolicy, DescribeFileSystemPolicy and
//! DeleteFileSystemPolicy. What a policy grants is evaluated in `iam`.

use super::protocol::{available_fs, existing_fs, fs_id, fs_mut, required};
use crate::error::ApiError;
use crate::http::Reply;
use crate::world::model::World;
use serde_json::{json, Value};

/// EFS file system policies are at most 20,000 characters.
const MAX_POLICY: usize = 20_000;

pub(super) fn put_policy(
    world: &mut World,
    region: &str,
    raw: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let id = fs_id(world, region, raw)?;
    available_fs(world, region, &id)?;
    let policy = required(body, "Policy")?.to_string();
    let invalid = |m: String| ApiError::new("InvalidPolicyException", 400, m);
    if policy.len() > MAX_POLICY {
        return Err(invalid(format!(
            "The policy is {} characters; file system policies are at most {MAX_POLICY}.",
            policy.len()
        )));
    }
    crate::iam::validate_policy(&policy).map_err(invalid)?;
    let bypass = body
        .get("BypassPolicyLockoutSafetyCheck")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !bypass
        && crate::iam::policy_denies(
            &policy,
            &world.caller,
            "elasticfilesystem:PutFileSystemPolicy",
        )
    {
        return Err(invalid(
            "The policy would lock you out of changing it again (it denies you \
             elasticfilesystem:PutFileSystemPolicy). Set BypassPolicyLockoutSafetyCheck if you mean it."
                .into(),
        ));
    }
    fs_mut(world, region, &id)?.policy = Some(policy.clone());
    Ok(Reply::json(
        200,
        &json!({"FileSystemId": id, "Policy": policy}),
    ))
}

pub(super) fn describe_policy(
    world: &mut World,
    region: &str,
    raw: &str,
) -> Result<Reply, ApiError> {
    let id = fs_id(world, region, raw)?;
    let fs = existing_fs(world, region, &id)?;
    match &fs.policy {
        Some(p) => Ok(Reply::json(200, &json!({"FileSystemId": id, "Policy": p}))),
        None => Err(ApiError::new(
            "PolicyNotFound",
            404,
            format!("File system '{id}' has no file system policy."),
        )),
    }
}

pub(super) fn delete_policy(world: &mut World, region: &str, raw: &str) -> Result<Reply, ApiError> {
    let id = fs_id(world, region, raw)?;
    available_fs(world, region, &id)?;
    // Deleting a policy that is not there succeeds, as in AWS.
    fs_mut(world, region, &id)?.policy = None;
    Ok(Reply::empty(200))
}
