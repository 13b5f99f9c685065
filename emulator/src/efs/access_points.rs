//! Access points: CreateAccessPoint, DescribeAccessPoints and
//! DeleteAccessPoint, with the POSIX user and root directory checks.

use super::protocol::{
    available_fs, existing_fs, fs_id, page_size, paginate, parse_tags, required, resource_id,
    tags_json,
};
use super::protocol::{page_reply, Paging};
use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::world::model::{AccessPoint, LifeCycle, World};
use serde_json::{json, Value};

fn ap_json(world: &World, ap: &AccessPoint) -> Value {
    let mut v = json!({
        "ClientToken": ap.client_token,
        "Tags": tags_json(&ap.tags),
        "AccessPointId": ap.id,
        "AccessPointArn": ap.arn,
        "FileSystemId": ap.file_system_id,
        "RootDirectory": ap.root_directory.clone().unwrap_or_else(|| json!({"Path": "/"})),
        "OwnerId": world.account_id,
        "LifeCycleState": ap.life_cycle.as_str(),
    });
    let o = v.as_object_mut().expect("object literal");
    if let Some((_, name)) = ap.tags.iter().find(|(k, _)| k == "Name") {
        o.insert("Name".into(), json!(name));
    }
    if let Some(p) = &ap.posix_user {
        o.insert("PosixUser".into(), p.clone());
    }
    v
}

pub(super) fn access_point_id(world: &World, region: &str, raw: &str) -> Result<String, ApiError> {
    resource_id(world, region, raw, "fsap", "access-point")
}

pub(super) fn ap_not_found(id: &str) -> ApiError {
    ApiError::new(
        "AccessPointNotFound",
        404,
        format!(
            "Access point '{}' does not exist.",
            id.trim_end_matches("@elsewhere")
        ),
    )
}

fn validate_posix_user(v: &Value) -> Result<(), ApiError> {
    let ok_id = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .is_some_and(|n| n <= 4_294_967_295)
    };
    if !ok_id("Uid") || !ok_id("Gid") {
        return Err(ApiError::bad_request(
            "PosixUser needs Uid and Gid between 0 and 4294967295.",
        ));
    }
    Ok(())
}

fn validate_root_directory(v: &Value) -> Result<(), ApiError> {
    if let Some(path) = v.get("Path") {
        let path = path.as_str().unwrap_or("");
        if path.is_empty() || path.len() > 100 || !path.starts_with('/') {
            return Err(ApiError::bad_request(format!(
                "RootDirectory Path '{path}' must start with '/' and be 1 to 100 characters."
            )));
        }
    }
    if let Some(ci) = v.get("CreationInfo") {
        let perms = ci.get("Permissions").and_then(Value::as_str).unwrap_or("");
        let perms_ok =
            (3..=4).contains(&perms.len()) && perms.chars().all(|c| ('0'..='7').contains(&c));
        let ids_ok = ci.get("OwnerUid").and_then(Value::as_u64).is_some()
            && ci.get("OwnerGid").and_then(Value::as_u64).is_some();
        if !perms_ok || !ids_ok {
            return Err(ApiError::bad_request(
                "RootDirectory CreationInfo needs OwnerUid, OwnerGid and octal Permissions such as '0755'.",
            ));
        }
    }
    Ok(())
}

pub(super) fn create_access_point(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let token = required(body, "ClientToken")?.to_string();
    if token.is_empty() || token.len() > 64 {
        return Err(ApiError::bad_request(
            "ClientToken must be 1 to 64 characters.",
        ));
    }
    let id = fs_id(world, region, required(body, "FileSystemId")?)?;
    let posix_user = body.get("PosixUser").cloned();
    if let Some(p) = &posix_user {
        validate_posix_user(p)?;
    }
    let root_directory = body.get("RootDirectory").cloned();
    if let Some(r) = &root_directory {
        validate_root_directory(r)?;
    }
    let tags = parse_tags(body.get("Tags"))?;
    available_fs(world, region, &id)?;
    let r = world.region_mut(region);
    if let Some(existing) = r.access_points.values().find(|a| a.client_token == token) {
        // As on AWS, a reused token is a 409 naming the access point, even for an identical retry.
        let existing_id = existing.id.clone();
        return Err(ApiError::new(
            "AccessPointAlreadyExists",
            409,
            format!("Access point '{existing_id}' already exists with client token '{token}'."),
        )
        .with("AccessPointId", existing_id));
    }
    if r.access_points
        .values()
        .filter(|a| a.file_system_id == id)
        .count()
        >= world.access_point_limit
    {
        return Err(ApiError::new(
            "AccessPointLimitExceeded",
            403,
            format!("File system '{id}' has reached the maximum number of access points."),
        ));
    }
    let ap_id = world.rng.id("fsap");
    let ap = AccessPoint {
        arn: crate::arn::make(
            "elasticfilesystem",
            region,
            &world.account_id,
            &format!("access-point/{ap_id}"),
        ),
        id: ap_id,
        file_system_id: id,
        client_token: token,
        posix_user,
        root_directory,
        tags,
        life_cycle: LifeCycle::Creating,
        transition_at: Some(world.now + world.durations.access_point_create),
        created_at: world.now,
    };
    let out = ap_json(world, &ap);
    world
        .region_mut(region)
        .access_points
        .insert(ap.id.clone(), ap);
    Ok(Reply::json(200, &out))
}

pub(super) fn describe_access_points(
    world: &mut World,
    region: &str,
    req: &ServiceRequest,
) -> Result<Reply, ApiError> {
    let size = page_size(req, "MaxResults", 100)?;
    let fs = req.query_param("FileSystemId");
    let ap = req.query_param("AccessPointId");
    if fs.is_some() && ap.is_some() {
        return Err(ApiError::bad_request(
            "Specify FileSystemId or AccessPointId, not both.",
        ));
    }
    let filter_fs = fs.map(|raw| fs_id(world, region, raw)).transpose()?;
    if let Some(id) = &filter_fs {
        existing_fs(world, region, id)?;
    }
    let filter_ap = ap
        .map(|raw| access_point_id(world, region, raw))
        .transpose()?;
    // Eventual consistency: an access point just created is not listed yet.
    let shown_if_created_by = world.now - world.durations.describe_lag;
    let r = world.region_mut(region);
    if let Some(id) = &filter_ap {
        if !r
            .access_points
            .get(id)
            .is_some_and(|a| a.created_at <= shown_if_created_by)
        {
            return Err(ap_not_found(id));
        }
    }
    let items: Vec<(String, AccessPoint)> = r
        .access_points
        .values()
        .filter(|a| a.created_at <= shown_if_created_by)
        .filter(|a| filter_fs.as_ref().is_none_or(|f| &a.file_system_id == f))
        .filter(|a| filter_ap.as_ref().is_none_or(|i| &a.id == i))
        .map(|a| (a.id.clone(), a.clone()))
        .collect();
    let (page, next) = paginate(items, req.query_param("NextToken"), size)?;
    let list: Vec<Value> = page.iter().map(|a| ap_json(world, a)).collect();
    Ok(page_reply(
        "AccessPoints",
        list,
        Paging::NextToken,
        req,
        next,
    ))
}

pub(super) fn delete_access_point(
    world: &mut World,
    region: &str,
    raw: &str,
) -> Result<Reply, ApiError> {
    let id = access_point_id(world, region, raw)?;
    world
        .region_mut(region)
        .access_points
        .remove(&id)
        .ok_or_else(|| ap_not_found(&id))?;
    Ok(Reply::empty(204))
}
