//! Mount targets: CreateMountTarget, DescribeMountTargets, DeleteMountTarget
//! and their security groups, with the subnet, VPC and address checks EFS makes.

use super::access_points::{access_point_id, ap_not_found};
use super::protocol::{
    available_fs, az_id, existing_fs, fs_id, is_hex_id, page_size, paginate, required, str_field,
    string_list,
};
use super::protocol::{page_reply, Paging};
use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::world::model::{LifeCycle, MountTarget, World};
use serde_json::{json, Value};

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

pub(super) fn create_mount_target(
    world: &mut World,
    region: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let id = fs_id(world, region, required(body, "FileSystemId")?)?;
    let subnet_id = required(body, "SubnetId")?.to_string();
    if !is_hex_id(&subnet_id, "subnet-") {
        return Err(ApiError::bad_request(format!(
            "Invalid subnet ID '{subnet_id}'."
        )));
    }
    let fs = available_fs(world, region, &id)?.clone();
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
        created_at: world.now,
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

pub(super) fn describe_mount_targets(
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
    // Eventual consistency: a mount target just created is not listed yet.
    let shown_if_created_by = world.now - world.durations.describe_lag;
    let r = world.region_mut(region);
    if let Some(id) = &filter_mt {
        if !r
            .mount_targets
            .get(id)
            .is_some_and(|m| m.created_at <= shown_if_created_by)
        {
            return Err(mt_not_found(id));
        }
    }
    let items: Vec<(String, MountTarget)> = r
        .mount_targets
        .values()
        .filter(|m| m.created_at <= shown_if_created_by)
        .filter(|m| filter_fs.as_ref().is_none_or(|f| &m.file_system_id == f))
        .filter(|m| filter_mt.as_ref().is_none_or(|i| &m.id == i))
        .map(|m| (m.id.clone(), m.clone()))
        .collect();
    let (page, next) = paginate(items, req.query_param("Marker"), size)?;
    let list: Vec<Value> = page.iter().map(|m| mt_json(world, m)).collect();
    Ok(page_reply("MountTargets", list, Paging::Marker, req, next))
}

pub(super) fn delete_mount_target(
    world: &mut World,
    region: &str,
    raw: &str,
) -> Result<Reply, ApiError> {
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

pub(super) fn describe_mt_security_groups(
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

pub(super) fn modify_mt_security_groups(
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
