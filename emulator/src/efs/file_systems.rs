//! File systems: CreateFileSystem, DescribeFileSystems, DeleteFileSystem and
//! UpdateFileSystemProtection, and how a file system is rendered.

use super::protocol::{
    available_fs, az_id, existing_fs, fs_id, fs_mut, page_size, paginate, parse_tags, required,
    str_field, tags_json,
};
use super::protocol::{page_reply, Paging};
use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::world::model::{FileSystem, LifeCycle, Protection, World};
use serde_json::{json, Value};

fn fs_json(world: &World, region: &str, fs: &FileSystem) -> Value {
    let mount_targets = world
        .region(region)
        .map(|r| {
            r.mount_targets
                .values()
                .filter(|m| m.file_system_id == fs.id)
                .count()
        })
        .unwrap_or(0);
    let size = fs.size_bytes();
    let mut v = json!({
        "OwnerId": fs.owner,
        "CreationToken": fs.creation_token,
        "FileSystemId": fs.id,
        "FileSystemArn": fs.arn,
        "CreationTime": fs.creation_time,
        "LifeCycleState": fs.life_cycle.as_str(),
        "NumberOfMountTargets": mount_targets,
        "SizeInBytes": {"Value": size, "Timestamp": world.now, "ValueInIA": 0, "ValueInStandard": size, "ValueInArchive": 0},
        "PerformanceMode": fs.performance_mode,
        "Encrypted": fs.encrypted,
        "ThroughputMode": fs.throughput_mode,
        "Tags": tags_json(&fs.tags),
        "FileSystemProtection": {"ReplicationOverwriteProtection": fs.protection.as_str()},
    });
    let o = v.as_object_mut().expect("object literal");
    if let Some(name) = fs.name() {
        o.insert("Name".into(), json!(name));
    }
    match &fs.kms_key_id {
        Some(k) => {
            o.insert("KmsKeyId".into(), json!(k));
        }
        // Encrypted without a key named: the AWS managed key of the Region.
        None if fs.encrypted => {
            o.insert(
                "KmsKeyId".into(),
                json!(crate::arn::make(
                    "kms",
                    region,
                    &fs.owner,
                    "key/00000000-0000-4000-8000-0000000e0f51",
                )),
            );
        }
        None => {}
    }
    if let Some(p) = fs.provisioned_throughput {
        o.insert("ProvisionedThroughputInMibps".into(), json!(p));
    }
    if let Some(az) = &fs.availability_zone {
        o.insert("AvailabilityZoneName".into(), json!(az));
        o.insert("AvailabilityZoneId".into(), json!(az_id(az)));
    }
    v
}

pub(super) fn create_file_system(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let token = required(body, "CreationToken")?;
    if token.is_empty() || token.len() > 64 {
        return Err(ApiError::bad_request(
            "CreationToken must be 1 to 64 characters.",
        ));
    }
    let performance_mode = str_field(body, "PerformanceMode").unwrap_or("generalPurpose");
    if !matches!(performance_mode, "generalPurpose" | "maxIO") {
        return Err(ApiError::bad_request(format!(
            "PerformanceMode '{performance_mode}' is not one of generalPurpose, maxIO."
        )));
    }
    let throughput_mode = str_field(body, "ThroughputMode").unwrap_or("bursting");
    if !matches!(throughput_mode, "bursting" | "provisioned" | "elastic") {
        return Err(ApiError::bad_request(format!(
            "ThroughputMode '{throughput_mode}' is not one of bursting, provisioned, elastic."
        )));
    }
    let provisioned = body
        .get("ProvisionedThroughputInMibps")
        .and_then(Value::as_f64);
    if throughput_mode == "provisioned" && provisioned.is_none_or(|p| p < 1.0) {
        return Err(ApiError::bad_request(
            "ThroughputMode provisioned needs ProvisionedThroughputInMibps of at least 1.",
        ));
    }
    let kms_key_id = str_field(body, "KmsKeyId").map(str::to_string);
    let encrypted = body
        .get("Encrypted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if kms_key_id.is_some() && !encrypted {
        return Err(ApiError::bad_request(
            "KmsKeyId is only allowed with Encrypted set to true.",
        ));
    }
    let az = str_field(body, "AvailabilityZoneName").map(str::to_string);
    if let Some(az) = &az {
        let known = world
            .region_mut(region)
            .subnets
            .iter()
            .any(|s| &s.availability_zone == az);
        if !known {
            return Err(ApiError::new(
                "UnsupportedAvailabilityZone",
                400,
                format!("Availability Zone '{az}' is not available in {region}."),
            ));
        }
    }
    let tags = parse_tags(body.get("Tags"))?;
    let caller = world.caller.account.clone();
    let r = world.region_mut(region);
    // Creation tokens, like the limit, are per account.
    if let Some(existing) = r
        .file_systems
        .values()
        .find(|f| f.creation_token == token && f.owner == caller)
    {
        let id = existing.id.clone();
        return Err(ApiError::new(
            "FileSystemAlreadyExists",
            409,
            format!("File system '{id}' already exists with creation token '{token}'."),
        )
        .with("FileSystemId", id));
    }
    if r.file_systems
        .values()
        .filter(|f| f.owner == caller)
        .count()
        >= world.file_system_limit
    {
        return Err(ApiError::new(
            "FileSystemLimitExceeded",
            403,
            "You have reached the maximum number of file systems allowed in this Region.",
        ));
    }
    let fs = new_file_system(
        world,
        region,
        token,
        tags,
        encrypted,
        kms_key_id,
        az,
        performance_mode,
        throughput_mode,
        provisioned,
        Protection::Enabled,
    );
    let out = fs_json(world, region, &fs);
    world
        .region_mut(region)
        .file_systems
        .insert(fs.id.clone(), fs);
    Ok(Reply::json(201, &out))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn new_file_system(
    world: &mut World,
    region: &str,
    token: &str,
    tags: Vec<(String, String)>,
    encrypted: bool,
    kms_key_id: Option<String>,
    availability_zone: Option<String>,
    performance_mode: &str,
    throughput_mode: &str,
    provisioned_throughput: Option<f64>,
    protection: Protection,
) -> FileSystem {
    let id = world.rng.id("fs");
    let owner = world.caller.account.clone();
    FileSystem {
        arn: world.fs_arn(region, &owner, &id),
        id,
        owner,
        policy: None,
        creation_token: token.to_string(),
        creation_time: world.now,
        life_cycle: LifeCycle::Creating,
        transition_at: Some(world.now + world.durations.file_system_create),
        performance_mode: performance_mode.to_string(),
        throughput_mode: throughput_mode.to_string(),
        provisioned_throughput,
        encrypted,
        kms_key_id,
        availability_zone,
        tags,
        protection,
        protection_enable_at: None,
        files: Default::default(),
        connected_clients: 0,
        write_io: Default::default(),
    }
}

pub(super) fn describe_file_systems(
    world: &mut World,
    region: &str,
    req: &ServiceRequest,
) -> Result<Reply, ApiError> {
    let size = page_size(req, "MaxItems", 100)?;
    let by_id = req
        .query_param("FileSystemId")
        .map(|raw| fs_id(world, region, raw))
        .transpose()?;
    let token = req.query_param("CreationToken");
    // Eventual consistency: a file system just created is not listed yet.
    let shown_if_created_by = world.now - world.durations.describe_lag;
    let caller = world.caller.account.clone();
    let r = world.region_mut(region);
    if let Some(id) = &by_id {
        if !r
            .file_systems
            .get(id)
            .is_some_and(|f| f.creation_time <= shown_if_created_by)
        {
            return Err(ApiError::file_system_not_found(
                id.trim_end_matches("@elsewhere"),
            ));
        }
    }
    let items: Vec<(String, String)> = r
        .file_systems
        .values()
        .filter(|f| f.creation_time <= shown_if_created_by)
        .filter(|f| match &by_id {
            // Named by ARN (and allowed by its policy) another account's shows too.
            Some(id) => &f.id == id,
            None => f.owner == caller,
        })
        .filter(|f| token.is_none_or(|t| f.creation_token == t))
        .map(|f| (f.id.clone(), f.id.clone()))
        .collect();
    let (page, next) = paginate(items, req.query_param("Marker"), size)?;
    let world = &*world;
    let file_systems: Vec<Value> = page
        .iter()
        .filter_map(|id| world.file_system(region, id))
        .map(|f| fs_json(world, region, f))
        .collect();
    Ok(page_reply(
        "FileSystems",
        file_systems,
        Paging::Marker,
        req,
        next,
    ))
}

pub(super) fn delete_file_system(
    world: &mut World,
    region: &str,
    raw: &str,
) -> Result<Reply, ApiError> {
    let id = fs_id(world, region, raw)?;
    existing_fs(world, region, &id)?;
    if world.replication_of(region, &id).is_some() {
        return Err(ApiError::new(
            "FileSystemInUse",
            409,
            format!("File system '{id}' is part of a replication configuration. Delete the replication configuration first."),
        ));
    }
    let has_mount_targets = world
        .region_mut(region)
        .mount_targets
        .values()
        .any(|m| m.file_system_id == id);
    if has_mount_targets {
        return Err(ApiError::new(
            "FileSystemInUse",
            409,
            format!("File system '{id}' has mount targets. Delete them first."),
        ));
    }
    let done = world.now + world.durations.file_system_delete;
    let r = world.region_mut(region);
    if let Some(fs) = r.file_systems.get_mut(&id) {
        if fs.life_cycle != LifeCycle::Deleting {
            fs.life_cycle = LifeCycle::Deleting;
            fs.transition_at = Some(done);
        }
    }
    // Access points go with their file system.
    r.access_points.retain(|_, ap| ap.file_system_id != id);
    Ok(Reply::empty(204))
}

pub(super) fn update_protection(
    world: &mut World,
    region: &str,
    raw: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let id = fs_id(world, region, raw)?;
    let wanted = match str_field(body, "ReplicationOverwriteProtection") {
        Some("ENABLED") => Protection::Enabled,
        Some("DISABLED") => Protection::Disabled,
        Some("REPLICATING") => {
            return Err(ApiError::bad_request(
                "ReplicationOverwriteProtection REPLICATING is set by EFS replication only; use ENABLED or DISABLED.",
            ))
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "ReplicationOverwriteProtection '{other}' is not one of ENABLED, DISABLED."
            )))
        }
        None => {
            let fs = existing_fs(world, region, &id)?;
            return Ok(Reply::json(200, &json!({"ReplicationOverwriteProtection": fs.protection.as_str()})));
        }
    };
    let fs = available_fs(world, region, &id)?;
    if fs.protection != wanted && world.replication_of(region, &id).is_some() {
        return Err(ApiError::new(
            "ReplicationAlreadyExists",
            409,
            format!(
                "File system '{id}' is part of a replication configuration; its replication overwrite protection cannot change until the configuration is deleted."
            ),
        ));
    }
    let fs = fs_mut(world, region, &id)?;
    fs.protection = wanted;
    Ok(Reply::json(
        200,
        &json!({"ReplicationOverwriteProtection": wanted.as_str()}),
    ))
}
