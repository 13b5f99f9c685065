//! Amazon EFS, REST-JSON, as described by the botocore service model
//! (`efs-service-2.json`, API version 2015-02-01).

use crate::error::ApiError;
use crate::http::{percent_decode, Reply, ServiceRequest};
use crate::model::{
    AccessPoint, FileSystem, LifeCycle, MountTarget, Protection, Replication, ReplicationFault,
    SideState, World,
};
use serde_json::{json, Map, Value};

const PREFIX: &str = "/2015-02-01";

/// Operation name and whether it changes anything, from method and path.
pub fn operation(method: &str, path: &str) -> (&'static str, bool) {
    let segments: Vec<&str> = path
        .strip_prefix(PREFIX)
        .unwrap_or("")
        .trim_matches('/')
        .split('/')
        .collect();
    let op = match (method, segments.as_slice()) {
        ("POST", ["file-systems"]) => "CreateFileSystem",
        ("GET", ["file-systems"]) => "DescribeFileSystems",
        ("GET", ["file-systems", "replication-configurations"]) => {
            "DescribeReplicationConfigurations"
        }
        ("DELETE", ["file-systems", _]) => "DeleteFileSystem",
        ("POST", ["file-systems", _, "replication-configuration"]) => {
            "CreateReplicationConfiguration"
        }
        ("DELETE", ["file-systems", _, "replication-configuration"]) => {
            "DeleteReplicationConfiguration"
        }
        ("PUT", ["file-systems", _, "protection"]) => "UpdateFileSystemProtection",
        ("POST", ["mount-targets"]) => "CreateMountTarget",
        ("GET", ["mount-targets"]) => "DescribeMountTargets",
        ("DELETE", ["mount-targets", _]) => "DeleteMountTarget",
        ("GET", ["mount-targets", _, "security-groups"]) => "DescribeMountTargetSecurityGroups",
        ("PUT", ["mount-targets", _, "security-groups"]) => "ModifyMountTargetSecurityGroups",
        ("POST", ["access-points"]) => "CreateAccessPoint",
        ("GET", ["access-points"]) => "DescribeAccessPoints",
        ("DELETE", ["access-points", _]) => "DeleteAccessPoint",
        ("POST", ["resource-tags", _]) => "TagResource",
        ("DELETE", ["resource-tags", _]) => "UntagResource",
        ("GET", ["resource-tags", _]) => "ListTagsForResource",
        _ => "Unknown",
    };
    let mutating = !matches!(
        op,
        "DescribeFileSystems"
            | "DescribeReplicationConfigurations"
            | "DescribeMountTargets"
            | "DescribeMountTargetSecurityGroups"
            | "DescribeAccessPoints"
            | "ListTagsForResource"
            | "Unknown"
    );
    (op, mutating)
}

/// Renders an error as EFS does: `x-amzn-ErrorType` (what clients read) and
/// a body with the modelled `ErrorCode` and `Message`.
pub fn error_reply(err: &ApiError) -> Reply {
    let mut body = Map::new();
    body.insert("ErrorCode".into(), json!(err.code));
    body.insert("Message".into(), json!(err.message));
    if err.code == "ThrottlingException" {
        // What AWS actually sends for rate limiting.
        body.insert("message".into(), json!(err.message));
    }
    for (k, v) in &err.extra {
        body.insert(k.clone(), json!(v));
    }
    let mut reply = Reply::json(err.status, &Value::Object(body));
    reply
        .headers
        .push(("x-amzn-ErrorType".into(), err.code.clone()));
    reply
}

pub fn handle(world: &mut World, region: &str, req: &ServiceRequest) -> Result<Reply, ApiError> {
    world.region_mut(region);
    let raw: Vec<String> = req
        .path
        .strip_prefix(PREFIX)
        .unwrap_or("")
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let seg: Vec<&str> = raw.iter().map(String::as_str).collect();
    let (op, _) = operation(req.method, req.path);
    let body = || parse_body(req.body);
    match op {
        "CreateFileSystem" => create_file_system(world, region, &body()?),
        "DescribeFileSystems" => describe_file_systems(world, region, req),
        "DeleteFileSystem" => delete_file_system(world, region, seg[1]),
        "DescribeReplicationConfigurations" => describe_replications(world, region, req),
        "CreateReplicationConfiguration" => create_replication(world, region, seg[1], &body()?),
        "DeleteReplicationConfiguration" => delete_replication(world, region, seg[1], req),
        "UpdateFileSystemProtection" => update_protection(world, region, seg[1], &body()?),
        "CreateMountTarget" => create_mount_target(world, region, &body()?),
        "DescribeMountTargets" => describe_mount_targets(world, region, req),
        "DeleteMountTarget" => delete_mount_target(world, region, seg[1]),
        "DescribeMountTargetSecurityGroups" => describe_mt_security_groups(world, region, seg[1]),
        "ModifyMountTargetSecurityGroups" => {
            modify_mt_security_groups(world, region, seg[1], &body()?)
        }
        "CreateAccessPoint" => create_access_point(world, region, &body()?),
        "DescribeAccessPoints" => describe_access_points(world, region, req),
        "DeleteAccessPoint" => delete_access_point(world, region, seg[1]),
        "TagResource" => tag_resource(world, region, seg[1], &body()?),
        "UntagResource" => untag_resource(world, region, seg[1], req),
        "ListTagsForResource" => list_tags(world, region, seg[1], req),
        _ => Err(ApiError::new(
            "NotImplemented",
            501,
            format!(
                "The emulator does not implement {} {}. Supported: the replication, mount target, \
                 access point and tagging operations listed in the README.",
                req.method, req.path
            ),
        )),
    }
}

// ---- parsing and validation -----------------------------------------------------------

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

fn is_hex_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        (8..=40).contains(&rest.len()) && rest.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    })
}

/// A resource ID given as an ID or as an ARN of this Region and account.
/// An ARN for another Region names nothing here (it is not found).
fn resource_id(
    world: &World,
    region: &str,
    raw: &str,
    prefix: &str,
    kind: &str,
) -> Result<String, ApiError> {
    let id_prefix = format!("{prefix}-");
    if is_hex_id(raw, &id_prefix) {
        return Ok(raw.to_string());
    }
    if let Some(rest) = raw.strip_prefix("arn:aws:elasticfilesystem:") {
        let parts: Vec<&str> = rest.splitn(3, ':').collect();
        if let [arn_region, account, resource] = parts.as_slice() {
            if let Some(id) = resource.strip_prefix(&format!("{kind}/")) {
                if is_hex_id(id, &id_prefix) {
                    if *arn_region != region || *account != world.account_id {
                        return Ok(format!("{id}@elsewhere"));
                    }
                    return Ok(id.to_string());
                }
            }
        }
    }
    Err(ApiError::bad_request(format!(
        "Invalid {kind} identifier '{raw}': expected {prefix}- followed by 8 to 40 lowercase \
         hex digits, or its ARN."
    )))
}

fn fs_id(world: &World, region: &str, raw: &str) -> Result<String, ApiError> {
    resource_id(world, region, raw, "fs", "file-system")
}

fn str_field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

fn required<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    str_field(body, name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "The request is missing the required member '{name}'."
        ))
    })
}

fn existing_fs<'a>(world: &'a World, region: &str, id: &str) -> Result<&'a FileSystem, ApiError> {
    world
        .file_system(region, id)
        .ok_or_else(|| ApiError::file_system_not_found(id.trim_end_matches("@elsewhere")))
}

fn fs_mut<'a>(
    world: &'a mut World,
    region: &str,
    id: &str,
) -> Result<&'a mut FileSystem, ApiError> {
    world
        .region_mut(region)
        .file_systems
        .get_mut(id)
        .ok_or_else(|| ApiError::file_system_not_found(id.trim_end_matches("@elsewhere")))
}

fn parse_tags(value: Option<&Value>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let list = value
        .as_array()
        .ok_or_else(|| ApiError::bad_request("Tags must be a list of {Key, Value}."))?;
    let mut tags = Vec::new();
    for t in list {
        let key =
            str_field(t, "Key").ok_or_else(|| ApiError::bad_request("Every tag needs a Key."))?;
        let value = str_field(t, "Value")
            .ok_or_else(|| ApiError::bad_request("Every tag needs a Value."))?;
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(ApiError::bad_request(format!(
                "Tag '{key}': keys are 1 to 128 characters, values at most 256."
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::bad_request(format!(
                "Tag key '{key}' uses the reserved prefix 'aws:'."
            )));
        }
        tags.push((key.to_string(), value.to_string()));
    }
    Ok(tags)
}

fn merge_tags(
    existing: &mut Vec<(String, String)>,
    new: Vec<(String, String)>,
) -> Result<(), ApiError> {
    for (k, v) in new {
        match existing.iter_mut().find(|(ek, _)| *ek == k) {
            Some(slot) => slot.1 = v,
            None => existing.push((k, v)),
        }
    }
    if existing.len() > 50 {
        return Err(ApiError::bad_request(
            "A resource can have at most 50 tags.",
        ));
    }
    Ok(())
}

fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

fn page_size(req: &ServiceRequest, name: &str, default: usize) -> Result<usize, ApiError> {
    match req.query_param(name) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(default)),
            _ => Err(ApiError::bad_request(format!(
                "{name} must be a positive integer, got '{v}'."
            ))),
        },
    }
}

/// Pages over items whose keys are IDs: the token is the key of the first item of the next page.
fn paginate<T: Clone>(
    items: Vec<(String, T)>,
    start: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut items = items;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let from = match start {
        None => 0,
        // Items are in key order: resume at the token's place even if that item went away meanwhile.
        Some("") => return Err(ApiError::bad_request("The pagination token is empty.")),
        Some(token) => items
            .iter()
            .position(|(k, _)| k.as_str() >= token)
            .unwrap_or(items.len()),
    };
    let page: Vec<T> = items
        .iter()
        .skip(from)
        .take(size)
        .map(|(_, v)| v.clone())
        .collect();
    let next = items.get(from + size).map(|(k, _)| k.clone());
    Ok((page, next))
}

// ---- rendering --------------------------------------------------------------------------

fn az_id(az: &str) -> String {
    // "us-east-1a" -> "use1-az1": stable and shaped like AWS's AZ IDs.
    let (region, letter) = az.split_at(az.len().saturating_sub(1));
    let parts: Vec<&str> = region.split('-').collect();
    let short = match parts.as_slice() {
        [geo, dir, num] => format!("{geo}{}{num}", dir.chars().next().unwrap_or('x')),
        _ => region.to_string(),
    };
    let n = letter
        .chars()
        .next()
        .map(|c| (c as u32).saturating_sub('a' as u32) + 1)
        .unwrap_or(1);
    format!("{short}-az{n}")
}

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
        "OwnerId": world.account_id,
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
                json!(format!(
                    "arn:aws:kms:{region}:{}:key/00000000-0000-4000-8000-0000000e0f51",
                    world.account_id
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

pub fn replication_json(world: &World, rep: &Replication, region: &str) -> Value {
    let (status, message) = rep.status_in(region, world.now);
    let mut dest = json!({
        "Status": status,
        "FileSystemId": rep.destination_file_system_id,
        "Region": rep.destination_region,
        "OwnerId": world.account_id,
    });
    let d = dest.as_object_mut().expect("object literal");
    if let Some(t) = rep.last_replicated {
        d.insert("LastReplicatedTimestamp".into(), json!(t));
    }
    if let Some(m) = message {
        d.insert("StatusMessage".into(), json!(m));
    }
    json!({
        "SourceFileSystemId": rep.source_file_system_id,
        "SourceFileSystemRegion": rep.source_region,
        "SourceFileSystemArn": rep.source_arn,
        "OriginalSourceFileSystemArn": rep.original_source_arn,
        "CreationTime": rep.creation_time,
        "SourceFileSystemOwnerId": world.account_id,
        "Destinations": [dest],
    })
}

fn mt_json(world: &World, mt: &MountTarget) -> Value {
    json!({
        "OwnerId": world.account_id,
        "MountTargetId": mt.id,
        "FileSystemId": mt.file_system_id,
        "SubnetId": mt.subnet_id,
        "LifeCycleState": mt.life_cycle.as_str(),
        "IpAddress": mt.ip_address,
        "NetworkInterfaceId": mt.network_interface_id,
        "AvailabilityZoneId": az_id(&mt.availability_zone),
        "AvailabilityZoneName": mt.availability_zone,
        "VpcId": mt.vpc_id,
    })
}

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

// ---- file systems -----------------------------------------------------------------------

fn create_file_system(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
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
    let r = world.region_mut(region);
    if let Some(existing) = r.file_systems.values().find(|f| f.creation_token == token) {
        let id = existing.id.clone();
        return Err(ApiError::new(
            "FileSystemAlreadyExists",
            409,
            format!("File system '{id}' already exists with creation token '{token}'."),
        )
        .with("FileSystemId", id));
    }
    if r.file_systems.len() >= world.file_system_limit {
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
fn new_file_system(
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
    FileSystem {
        arn: world.fs_arn(region, &id),
        id,
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
        files: Default::default(),
        connected_clients: 0,
    }
}

fn describe_file_systems(
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
    let r = world.region_mut(region);
    if let Some(id) = &by_id {
        if !r.file_systems.contains_key(id) {
            return Err(ApiError::file_system_not_found(
                id.trim_end_matches("@elsewhere"),
            ));
        }
    }
    let items: Vec<(String, String)> = r
        .file_systems
        .values()
        .filter(|f| by_id.as_ref().is_none_or(|id| &f.id == id))
        .filter(|f| token.is_none_or(|t| f.creation_token == t))
        .map(|f| (f.id.clone(), f.id.clone()))
        .collect();
    let marker = req.query_param("Marker");
    let (page, next) = paginate(items, marker, size)?;
    let world = &*world;
    let file_systems: Vec<Value> = page
        .iter()
        .filter_map(|id| world.file_system(region, id))
        .map(|f| fs_json(world, region, f))
        .collect();
    let mut out = json!({ "FileSystems": file_systems });
    if let Some(m) = marker {
        out["Marker"] = json!(m);
    }
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(Reply::json(200, &out))
}

fn delete_file_system(world: &mut World, region: &str, raw: &str) -> Result<Reply, ApiError> {
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

fn update_protection(
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
    let fs = existing_fs(world, region, &id)?;
    if fs.life_cycle != LifeCycle::Available {
        return Err(ApiError::new(
            "IncorrectFileSystemLifeCycleState",
            409,
            format!(
                "File system '{id}' is {}, not available.",
                fs.life_cycle.as_str()
            ),
        ));
    }
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

// ---- replication ----------------------------------------------------------------------

fn valid_region_name(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts
            .iter()
            .take(parts.len() - 1)
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
}

fn peer_unreachable(peer: &str) -> ApiError {
    ApiError::internal(format!(
        "Amazon EFS could not reach Region {peer} to complete the request. Retry later; to delete \
         only this Region's side of a replication configuration, use deletionMode=LOCAL_CONFIGURATION_ONLY."
    ))
}

fn create_replication(
    world: &mut World,
    region: &str,
    raw: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let source_id = fs_id(world, region, raw)?;
    let destinations = body
        .get("Destinations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::bad_request("The request is missing the required member 'Destinations'.")
        })?;
    if destinations.len() != 1 {
        return Err(ApiError::bad_request(format!(
            "Destinations must contain exactly one destination, got {}.",
            destinations.len()
        )));
    }
    let dest = &destinations[0];
    // Either a Region or a One Zone AZ (whose name starts with its Region) names the destination.
    let dest_region = match (
        str_field(dest, "Region"),
        str_field(dest, "AvailabilityZoneName"),
    ) {
        (Some(r), _) => r.to_string(),
        (None, Some(az)) => az
            .trim_end_matches(|c: char| c.is_ascii_lowercase())
            .to_string(),
        (None, None) => {
            return Err(ApiError::bad_request(
                "The destination needs a Region or an AvailabilityZoneName.",
            ))
        }
    };
    if !valid_region_name(&dest_region) {
        return Err(ApiError::bad_request(format!(
            "'{dest_region}' is not a valid Region name."
        )));
    }
    let source = existing_fs(world, region, &source_id)?.clone();
    if source.life_cycle != LifeCycle::Available {
        return Err(ApiError::new(
            "IncorrectFileSystemLifeCycleState",
            409,
            format!(
                "File system '{source_id}' is {}, not available.",
                source.life_cycle.as_str()
            ),
        ));
    }
    if world.replication_of(region, &source_id).is_some()
        || source.protection == Protection::Replicating
    {
        return Err(ApiError::new(
            "ReplicationAlreadyExists",
            409,
            format!("File system '{source_id}' is already part of a replication configuration."),
        ));
    }
    if !world.is_reachable(&dest_region) {
        return Err(peer_unreachable(&dest_region));
    }
    let az = str_field(dest, "AvailabilityZoneName").map(str::to_string);
    if let Some(az) = &az {
        let ok = world
            .region_mut(&dest_region)
            .subnets
            .iter()
            .any(|s| &s.availability_zone == az);
        if !ok {
            return Err(ApiError::new(
                "UnsupportedAvailabilityZone",
                400,
                format!("Availability Zone '{az}' is not available in {dest_region}."),
            ));
        }
    }
    let dest_fs_id = match str_field(dest, "FileSystemId") {
        Some(raw_dest) => {
            let id = fs_id(world, &dest_region, raw_dest)?;
            let existing = existing_fs(world, &dest_region, &id)?;
            if id == source_id && dest_region == region {
                return Err(ApiError::bad_request(
                    "The destination cannot be the source file system.",
                ));
            }
            if existing.life_cycle != LifeCycle::Available {
                return Err(ApiError::new(
                    "IncorrectFileSystemLifeCycleState",
                    409,
                    format!(
                        "Destination file system '{id}' is {}, not available.",
                        existing.life_cycle.as_str()
                    ),
                ));
            }
            if world.replication_of(&dest_region, &id).is_some() {
                return Err(ApiError::new(
                    "ReplicationAlreadyExists",
                    409,
                    format!("Destination file system '{id}' is already part of a replication configuration."),
                ));
            }
            if existing.protection != Protection::Disabled {
                return Err(ApiError::bad_request(format!(
                    "Destination file system '{id}' has replication overwrite protection {}; set it to DISABLED with UpdateFileSystemProtection before replicating into it.",
                    existing.protection.as_str()
                )));
            }
            if source.encrypted && !existing.encrypted {
                return Err(ApiError::new(
                    "ConflictException",
                    409,
                    format!("Source file system '{source_id}' is encrypted but destination '{id}' is not."),
                ));
            }
            let fs = fs_mut(world, &dest_region, &id)?;
            fs.protection = Protection::Replicating;
            id
        }
        None => {
            // EFS creates a new, encrypted, read-only destination.
            let token = format!("replication-{}", world.rng.uuid());
            let kms = str_field(dest, "KmsKeyId").map(str::to_string);
            let fs = new_file_system(
                world,
                &dest_region,
                &token,
                Vec::new(),
                true,
                kms,
                az,
                &source.performance_mode,
                "bursting",
                None,
                Protection::Replicating,
            );
            let id = fs.id.clone();
            world
                .region_mut(&dest_region)
                .file_systems
                .insert(id.clone(), fs);
            id
        }
    };
    let original_source_arn = source.arn.clone();
    let rep = Replication {
        source_file_system_id: source_id,
        source_region: region.to_string(),
        source_arn: source.arn.clone(),
        original_source_arn,
        destination_file_system_id: dest_fs_id,
        destination_region: dest_region,
        creation_time: world.now,
        source_side: SideState::Present,
        destination_side: SideState::Present,
        last_replicated: None,
        sync: None,
        enabled_at: world.now + world.durations.replication_enable,
        next_sync_at: world.now + world.durations.replication_enable,
        fault: ReplicationFault::Healthy,
        orphaned: false,
    };
    let out = replication_json(world, &rep, region);
    world.replications.push(rep);
    Ok(Reply::json(200, &out))
}

fn describe_replications(
    world: &mut World,
    region: &str,
    req: &ServiceRequest,
) -> Result<Reply, ApiError> {
    let size = page_size(req, "MaxResults", 100)?;
    let indices: Vec<usize> = match req.query_param("FileSystemId") {
        Some(raw) => {
            let id = fs_id(world, region, raw)?;
            existing_fs(world, region, &id)?;
            match world.replication_of(region, &id) {
                Some(i) => vec![i],
                None => {
                    return Err(ApiError::new(
                        "ReplicationNotFound",
                        404,
                        format!("No replication configuration found for file system '{id}'."),
                    ))
                }
            }
        }
        None => (0..world.replications.len())
            .filter(|i| world.replications[*i].side_in(region).is_some())
            .collect(),
    };
    let items: Vec<(String, usize)> = indices
        .into_iter()
        .map(|i| (world.replications[i].source_file_system_id.clone(), i))
        .collect();
    let (page, next) = paginate(items, req.query_param("NextToken"), size)?;
    let list: Vec<Value> = page
        .into_iter()
        .map(|i| replication_json(world, &world.replications[i], region))
        .collect();
    let mut out = json!({ "Replications": list });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(Reply::json(200, &out))
}

fn delete_replication(
    world: &mut World,
    region: &str,
    raw: &str,
    req: &ServiceRequest,
) -> Result<Reply, ApiError> {
    let source_id = fs_id(world, region, raw)?;
    let local_only = match req.query_param("deletionMode") {
        None | Some("ALL_CONFIGURATIONS") => false,
        Some("LOCAL_CONFIGURATION_ONLY") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "deletionMode '{other}' is not one of ALL_CONFIGURATIONS, LOCAL_CONFIGURATION_ONLY."
            )))
        }
    };
    let known_anywhere = world
        .regions
        .values()
        .any(|r| r.file_systems.contains_key(&source_id));
    if !known_anywhere {
        // A typo, not an already-deleted configuration.
        return Err(ApiError::file_system_not_found(
            source_id.trim_end_matches("@elsewhere"),
        ));
    }
    let index = world
        .replications
        .iter()
        .position(|r| r.source_file_system_id == source_id && r.side_in(region).is_some())
        .ok_or_else(|| {
            ApiError::new(
                "ReplicationNotFound",
                404,
                format!("No replication configuration with source file system '{source_id}' exists in {region}."),
            )
        })?;
    let done_at = world.now + world.durations.replication_delete;
    let rep = &world.replications[index];
    let is_source_side = rep.source_region == region && rep.source_side != SideState::Gone;
    let (local, peer) = if is_source_side {
        (rep.source_side, rep.destination_side)
    } else {
        (rep.destination_side, rep.source_side)
    };
    if matches!(local, SideState::Deleting { .. }) {
        return Ok(Reply::empty(204));
    }
    let peer_region = if is_source_side {
        rep.destination_region.clone()
    } else {
        rep.source_region.clone()
    };
    if local_only && rep.source_region == rep.destination_region {
        return Err(ApiError::bad_request(
            "deletionMode LOCAL_CONFIGURATION_ONLY is not supported for a replication within one Region.",
        ));
    }
    let delete_peer = !local_only && peer == SideState::Present;
    if delete_peer && !world.is_reachable(&peer_region) {
        return Err(peer_unreachable(&peer_region));
    }
    let rep = &mut world.replications[index];
    let deleting = SideState::Deleting { done_at };
    if is_source_side {
        rep.source_side = deleting;
        if delete_peer {
            rep.destination_side = deleting;
        }
    } else {
        rep.destination_side = deleting;
        if delete_peer {
            rep.source_side = deleting;
        }
    }
    rep.sync = None;
    Ok(Reply::empty(204))
}

// ---- mount targets --------------------------------------------------------------------

fn check_security_groups(
    world: &mut World,
    region: &str,
    vpc_id: &str,
    groups: &[String],
) -> Result<(), ApiError> {
    if groups.len() > 5 {
        return Err(ApiError::new(
            "SecurityGroupLimitExceeded",
            400,
            format!(
                "A mount target can have at most 5 security groups, got {}.",
                groups.len()
            ),
        ));
    }
    let r = world.region_mut(region);
    for g in groups {
        match r.security_groups.iter().find(|s| &s.id == g) {
            Some(s) if s.vpc_id == vpc_id => {}
            Some(s) => {
                return Err(ApiError::new(
                    "SecurityGroupNotFound",
                    400,
                    format!(
                        "Security group '{g}' is in {}, not in the subnet's VPC {vpc_id}.",
                        s.vpc_id
                    ),
                ))
            }
            None => {
                return Err(ApiError::new(
                    "SecurityGroupNotFound",
                    400,
                    format!("Security group '{g}' does not exist in {region}."),
                ))
            }
        }
    }
    Ok(())
}

fn string_list(body: &Value, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::bad_request(format!("{name} must be a list of strings."))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::bad_request(format!(
            "{name} must be a list of strings."
        ))),
    }
}

fn create_mount_target(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
    let id = fs_id(world, region, required(body, "FileSystemId")?)?;
    let subnet_id = required(body, "SubnetId")?.to_string();
    if !is_hex_id(&subnet_id, "subnet-") {
        return Err(ApiError::bad_request(format!(
            "Invalid subnet ID '{subnet_id}'."
        )));
    }
    let fs = existing_fs(world, region, &id)?.clone();
    if fs.life_cycle != LifeCycle::Available {
        return Err(ApiError::new(
            "IncorrectFileSystemLifeCycleState",
            409,
            format!(
                "File system '{id}' is {}, not available.",
                fs.life_cycle.as_str()
            ),
        ));
    }
    let subnet = world
        .region_mut(region)
        .subnets
        .iter()
        .find(|s| s.id == subnet_id)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                "SubnetNotFound",
                400,
                format!("Subnet '{subnet_id}' does not exist in {region}."),
            )
        })?;
    if let Some(az) = &fs.availability_zone {
        if az != &subnet.availability_zone {
            return Err(ApiError::new(
                "AvailabilityZonesMismatch",
                400,
                format!(
                    "File system '{id}' is One Zone in {az}; subnet '{subnet_id}' is in {}.",
                    subnet.availability_zone
                ),
            ));
        }
    }
    let groups = match string_list(body, "SecurityGroups")? {
        Some(g) => g,
        None => world
            .region_mut(region)
            .security_groups
            .iter()
            .find(|s| s.vpc_id == subnet.vpc_id)
            .map(|s| vec![s.id.clone()])
            .unwrap_or_default(),
    };
    check_security_groups(world, region, &subnet.vpc_id, &groups)?;
    let r = world.region_mut(region);
    for mt in r.mount_targets.values().filter(|m| m.file_system_id == id) {
        if mt.vpc_id != subnet.vpc_id {
            return Err(ApiError::new(
                "MountTargetConflict",
                409,
                format!("File system '{id}' has mount targets in {}; all its mount targets must be in one VPC.", mt.vpc_id),
            ));
        }
        if mt.availability_zone == subnet.availability_zone {
            return Err(ApiError::new(
                "MountTargetConflict",
                409,
                format!(
                    "File system '{id}' already has mount target {} in Availability Zone {}.",
                    mt.id, mt.availability_zone
                ),
            ));
        }
    }
    let ip = match str_field(body, "IpAddress") {
        Some(ip) => {
            if !ip.starts_with(&format!("{}.", subnet.cidr_prefix)) {
                return Err(ApiError::bad_request(format!(
                    "IP address {ip} is not in subnet '{subnet_id}'."
                )));
            }
            if r.mount_targets.values().any(|m| m.ip_address == ip) {
                return Err(ApiError::new(
                    "IpAddressInUse",
                    409,
                    format!("IP address {ip} is already in use."),
                ));
            }
            ip.to_string()
        }
        None => {
            let s = r
                .subnets
                .iter_mut()
                .find(|s| s.id == subnet_id)
                .expect("found above");
            if s.next_host > 254 {
                return Err(ApiError::new(
                    "NoFreeAddressesInSubnet",
                    409,
                    format!("Subnet '{subnet_id}' has no free addresses."),
                ));
            }
            let ip = format!("{}.{}", s.cidr_prefix, s.next_host);
            s.next_host += 1;
            ip
        }
    };
    let mt = MountTarget {
        id: world.rng.id("fsmt"),
        file_system_id: id,
        subnet_id,
        vpc_id: subnet.vpc_id,
        availability_zone: subnet.availability_zone,
        ip_address: ip,
        network_interface_id: world.rng.id("eni"),
        security_groups: groups,
        life_cycle: LifeCycle::Creating,
        transition_at: Some(world.now + world.durations.mount_target_create),
    };
    let out = mt_json(world, &mt);
    world
        .region_mut(region)
        .mount_targets
        .insert(mt.id.clone(), mt);
    Ok(Reply::json(200, &out))
}

fn mount_target_id(raw: &str) -> Result<String, ApiError> {
    if is_hex_id(raw, "fsmt-") {
        Ok(raw.to_string())
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid mount target ID '{raw}'."
        )))
    }
}

fn mt_not_found(id: &str) -> ApiError {
    ApiError::new(
        "MountTargetNotFound",
        404,
        format!("Mount target '{id}' does not exist."),
    )
}

fn describe_mount_targets(
    world: &mut World,
    region: &str,
    req: &ServiceRequest,
) -> Result<Reply, ApiError> {
    let size = page_size(req, "MaxItems", 100)?;
    let fs = req.query_param("FileSystemId");
    let mt = req.query_param("MountTargetId");
    let ap = req.query_param("AccessPointId");
    let given = [fs, mt, ap].iter().filter(|x| x.is_some()).count();
    if given != 1 {
        return Err(ApiError::bad_request(
            "Specify exactly one of FileSystemId, MountTargetId or AccessPointId.",
        ));
    }
    let filter_fs = if let Some(raw) = fs {
        let id = fs_id(world, region, raw)?;
        existing_fs(world, region, &id)?;
        Some(id)
    } else if let Some(raw) = ap {
        let id = access_point_id(world, region, raw)?;
        let r = world.region_mut(region);
        Some(
            r.access_points
                .get(&id)
                .map(|a| a.file_system_id.clone())
                .ok_or_else(|| ap_not_found(&id))?,
        )
    } else {
        None
    };
    let filter_mt = mt.map(mount_target_id).transpose()?;
    let r = world.region_mut(region);
    if let Some(id) = &filter_mt {
        if !r.mount_targets.contains_key(id) {
            return Err(mt_not_found(id));
        }
    }
    let items: Vec<(String, MountTarget)> = r
        .mount_targets
        .values()
        .filter(|m| filter_fs.as_ref().is_none_or(|f| &m.file_system_id == f))
        .filter(|m| filter_mt.as_ref().is_none_or(|i| &m.id == i))
        .map(|m| (m.id.clone(), m.clone()))
        .collect();
    let marker = req.query_param("Marker");
    let (page, next) = paginate(items, marker, size)?;
    let list: Vec<Value> = page.iter().map(|m| mt_json(world, m)).collect();
    let mut out = json!({ "MountTargets": list });
    if let Some(m) = marker {
        out["Marker"] = json!(m);
    }
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(Reply::json(200, &out))
}

fn delete_mount_target(world: &mut World, region: &str, raw: &str) -> Result<Reply, ApiError> {
    let id = mount_target_id(raw)?;
    let done = world.now + world.durations.mount_target_delete;
    let mt = world
        .region_mut(region)
        .mount_targets
        .get_mut(&id)
        .ok_or_else(|| mt_not_found(&id))?;
    if mt.life_cycle != LifeCycle::Deleting {
        mt.life_cycle = LifeCycle::Deleting;
        mt.transition_at = Some(done);
    }
    Ok(Reply::empty(204))
}

fn describe_mt_security_groups(
    world: &mut World,
    region: &str,
    raw: &str,
) -> Result<Reply, ApiError> {
    let id = mount_target_id(raw)?;
    let mt = world
        .region_mut(region)
        .mount_targets
        .get(&id)
        .ok_or_else(|| mt_not_found(&id))?;
    if mt.life_cycle == LifeCycle::Deleting {
        return Err(ApiError::new(
            "IncorrectMountTargetState",
            409,
            format!("Mount target '{id}' is deleting."),
        ));
    }
    Ok(Reply::json(
        200,
        &json!({ "SecurityGroups": mt.security_groups }),
    ))
}

fn modify_mt_security_groups(
    world: &mut World,
    region: &str,
    raw: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let id = mount_target_id(raw)?;
    let groups = string_list(body, "SecurityGroups")?.unwrap_or_default();
    if groups.is_empty() {
        return Err(ApiError::bad_request(
            "SecurityGroups must name at least one security group.",
        ));
    }
    let mt = world
        .region_mut(region)
        .mount_targets
        .get(&id)
        .cloned()
        .ok_or_else(|| mt_not_found(&id))?;
    // The network interface exists from CreateMountTarget's answer on; only deletion blocks changes.
    if mt.life_cycle == LifeCycle::Deleting {
        return Err(ApiError::new(
            "IncorrectMountTargetState",
            409,
            format!("Mount target '{id}' is deleting."),
        ));
    }
    check_security_groups(world, region, &mt.vpc_id, &groups)?;
    if let Some(m) = world.region_mut(region).mount_targets.get_mut(&id) {
        m.security_groups = groups;
    }
    Ok(Reply::empty(204))
}

// ---- access points ---------------------------------------------------------------------

fn access_point_id(world: &World, region: &str, raw: &str) -> Result<String, ApiError> {
    resource_id(world, region, raw, "fsap", "access-point")
}

fn ap_not_found(id: &str) -> ApiError {
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

fn create_access_point(world: &mut World, region: &str, body: &Value) -> Result<Reply, ApiError> {
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
    let fs = existing_fs(world, region, &id)?;
    if fs.life_cycle != LifeCycle::Available {
        return Err(ApiError::new(
            "IncorrectFileSystemLifeCycleState",
            409,
            format!(
                "File system '{id}' is {}, not available.",
                fs.life_cycle.as_str()
            ),
        ));
    }
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
        arn: format!(
            "arn:aws:elasticfilesystem:{region}:{}:access-point/{ap_id}",
            world.account_id
        ),
        id: ap_id,
        file_system_id: id,
        client_token: token,
        posix_user,
        root_directory,
        tags,
        life_cycle: LifeCycle::Creating,
        transition_at: Some(world.now + world.durations.access_point_create),
    };
    let out = ap_json(world, &ap);
    world
        .region_mut(region)
        .access_points
        .insert(ap.id.clone(), ap);
    Ok(Reply::json(200, &out))
}

fn describe_access_points(
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
    let r = world.region_mut(region);
    if let Some(id) = &filter_ap {
        if !r.access_points.contains_key(id) {
            return Err(ap_not_found(id));
        }
    }
    let items: Vec<(String, AccessPoint)> = r
        .access_points
        .values()
        .filter(|a| filter_fs.as_ref().is_none_or(|f| &a.file_system_id == f))
        .filter(|a| filter_ap.as_ref().is_none_or(|i| &a.id == i))
        .map(|a| (a.id.clone(), a.clone()))
        .collect();
    let (page, next) = paginate(items, req.query_param("NextToken"), size)?;
    let list: Vec<Value> = page.iter().map(|a| ap_json(world, a)).collect();
    let mut out = json!({ "AccessPoints": list });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(Reply::json(200, &out))
}

fn delete_access_point(world: &mut World, region: &str, raw: &str) -> Result<Reply, ApiError> {
    let id = access_point_id(world, region, raw)?;
    world
        .region_mut(region)
        .access_points
        .remove(&id)
        .ok_or_else(|| ap_not_found(&id))?;
    Ok(Reply::empty(204))
}

// ---- tags --------------------------------------------------------------------------------

enum Resource {
    FileSystem(String),
    AccessPoint(String),
}

fn resource(world: &mut World, region: &str, raw: &str) -> Result<Resource, ApiError> {
    let is_ap = raw.starts_with("fsap-") || raw.contains(":access-point/");
    if is_ap {
        let id = access_point_id(world, region, raw)?;
        if !world.region_mut(region).access_points.contains_key(&id) {
            return Err(ap_not_found(&id));
        }
        Ok(Resource::AccessPoint(id))
    } else {
        let id = fs_id(world, region, raw)?;
        existing_fs(world, region, &id)?;
        Ok(Resource::FileSystem(id))
    }
}

fn tags_of<'a>(
    world: &'a mut World,
    region: &str,
    res: &Resource,
) -> &'a mut Vec<(String, String)> {
    let r = world.region_mut(region);
    match res {
        Resource::FileSystem(id) => &mut r.file_systems.get_mut(id).expect("checked").tags,
        Resource::AccessPoint(id) => &mut r.access_points.get_mut(id).expect("checked").tags,
    }
}

fn tag_resource(
    world: &mut World,
    region: &str,
    raw: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let res = resource(world, region, raw)?;
    if body.get("Tags").is_none() {
        return Err(ApiError::bad_request(
            "The request is missing the required member 'Tags'.",
        ));
    }
    let new = parse_tags(body.get("Tags"))?;
    let tags = tags_of(world, region, &res);
    let mut merged = tags.clone();
    merge_tags(&mut merged, new)?;
    *tags = merged;
    Ok(Reply::empty(200))
}

fn untag_resource(
    world: &mut World,
    region: &str,
    raw: &str,
    req: &ServiceRequest,
) -> Result<Reply, ApiError> {
    let res = resource(world, region, raw)?;
    let keys: Vec<String> = req
        .query_all("tagKeys")
        .into_iter()
        .map(str::to_string)
        .collect();
    if keys.is_empty() {
        return Err(ApiError::bad_request(
            "The request is missing the required member 'TagKeys'.",
        ));
    }
    tags_of(world, region, &res).retain(|(k, _)| !keys.contains(k));
    Ok(Reply::empty(200))
}

fn list_tags(
    world: &mut World,
    region: &str,
    raw: &str,
    req: &ServiceRequest,
) -> Result<Reply, ApiError> {
    let res = resource(world, region, raw)?;
    let size = page_size(req, "MaxResults", 100)?;
    let tags = tags_of(world, region, &res).clone();
    let items: Vec<(String, (String, String))> =
        tags.into_iter().map(|t| (t.0.clone(), t)).collect();
    let (page, next) = paginate(items, req.query_param("NextToken"), size)?;
    let mut out = json!({ "Tags": tags_json(&page) });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(Reply::json(200, &out))
}
