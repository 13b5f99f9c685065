//! Amazon EFS, REST-JSON, as described by the botocore service model
//! (`efs-service-2.json`, API version 2015-02-01).
//!
//! This file only routes: it names the operation from the method and path and
//! hands the request to the file of its operation family. The wire format
//! (shapes, request parsing, error replies) lives in `protocol`.

mod access_points;
mod file_systems;
mod mount_targets;
mod policy;
mod protocol;
mod replication;
mod tags;

pub use protocol::error_reply;
pub use replication::replication_json;

use crate::error::ApiError;
use crate::http::{percent_decode, Reply, ServiceRequest};
use crate::world::model::World;
use access_points::{create_access_point, delete_access_point, describe_access_points};
use file_systems::{
    create_file_system, delete_file_system, describe_file_systems, update_protection,
};
use mount_targets::{
    create_mount_target, delete_mount_target, describe_mount_targets, describe_mt_security_groups,
    modify_mt_security_groups,
};
use policy::{delete_policy, describe_policy, put_policy};
use protocol::{authorize, parse_body};
use replication::{create_replication, delete_replication, describe_replications};
use tags::{list_tags, tag_resource, untag_resource};

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
        ("PUT", ["file-systems", _, "policy"]) => "PutFileSystemPolicy",
        ("GET", ["file-systems", _, "policy"]) => "DescribeFileSystemPolicy",
        ("DELETE", ["file-systems", _, "policy"]) => "DeleteFileSystemPolicy",
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
            | "DescribeFileSystemPolicy"
            | "ListTagsForResource"
            | "Unknown"
    );
    (op, mutating)
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
    let named = match seg.as_slice() {
        ["file-systems" | "resource-tags", id, ..] if *id != "replication-configurations" => {
            Some(*id)
        }
        _ => req.query_param("FileSystemId"),
    };
    // CreateMountTarget and CreateAccessPoint name theirs in the body.
    let in_body = parse_body(req.body).ok().and_then(|b| {
        b.get("FileSystemId")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    });
    authorize(world, region, op, named.or(in_body.as_deref()))?;
    let body = || parse_body(req.body);
    match op {
        "CreateFileSystem" => create_file_system(world, region, &body()?),
        "DescribeFileSystems" => describe_file_systems(world, region, req),
        "DeleteFileSystem" => delete_file_system(world, region, seg[1]),
        "DescribeReplicationConfigurations" => describe_replications(world, region, req),
        "CreateReplicationConfiguration" => create_replication(world, region, seg[1], &body()?),
        "DeleteReplicationConfiguration" => delete_replication(world, region, seg[1], req),
        "UpdateFileSystemProtection" => update_protection(world, region, seg[1], &body()?),
        "PutFileSystemPolicy" => put_policy(world, region, seg[1], &body()?),
        "DescribeFileSystemPolicy" => describe_policy(world, region, seg[1]),
        "DeleteFileSystemPolicy" => delete_policy(world, region, seg[1]),
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
                 access point and tagging operations listed in docs/emulator.md.",
                req.method, req.path
            ),
        )),
    }
}
