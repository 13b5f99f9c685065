//! Replication configurations: CreateReplicationConfiguration,
//! DescribeReplicationConfigurations and DeleteReplicationConfiguration, as
//! each Region sees them. How they progress over time is `world::agenda`.

use super::file_systems::new_file_system;
use super::protocol::{available_fs, existing_fs, fs_id, fs_mut, page_size, paginate, str_field};
use super::protocol::{page_reply, Paging};
use crate::config::{DeleteOrder, SourceDownDelete};
use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::world::model::{LifeCycle, Protection, Replication, ReplicationFault, SideState, World};
use serde_json::{json, Value};

pub fn replication_json(world: &World, rep: &Replication, region: &str) -> Value {
    let (status, message) = rep.status_in(region, world.now);
    let mut dest = json!({
        "Status": status,
        "FileSystemId": rep.destination_file_system_id,
        "Region": rep.destination_region,
        "OwnerId": rep.destination_owner,
    });
    let d = dest.as_object_mut().expect("object literal");
    if let Some(role) = &rep.role_arn {
        d.insert("RoleArn".into(), json!(role));
    }
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
        "SourceFileSystemOwnerId": rep.source_owner,
        "Destinations": [dest],
    })
}

/// Across accounts, EFS replicates with a role of the source account that the
/// request names; within one, the service-linked role does (RoleArn optional).
fn cross_account_role(
    dest: &Value,
    source_owner: &str,
    destination_owner: &str,
) -> Result<Option<String>, ApiError> {
    let role = str_field(dest, "RoleArn").map(str::to_string);
    if source_owner == destination_owner {
        return Ok(role);
    }
    let Some(role) = role else {
        // The message AWS gives, as seen in use.
        return Err(ApiError::bad_request(
            "No RoleArn provided.  RoleArn is required for cross-account replication.",
        ));
    };
    if crate::iam::arn_account(&role) != Some(source_owner) || !role.contains(":role/") {
        return Err(ApiError::new(
            "ValidationException",
            400,
            format!("RoleArn '{role}' is not a role of the source account {source_owner}."),
        ));
    }
    Ok(Some(role))
}

/// The destination's account lets the source's replicate into it by its
/// file system policy (`AllowSourceAccountReplicationActions` in the EFS guide).
fn destination_policy_allows_create(
    world: &World,
    destination: &crate::world::model::FileSystem,
) -> Result<(), ApiError> {
    let action = "elasticfilesystem:CreateReplicationConfiguration";
    if crate::iam::policy_allows(destination.policy.as_deref(), &world.caller, action) {
        return Ok(());
    }
    Err(crate::iam::access_denied(
        &world.caller,
        action,
        &destination.arn,
        &format!(
            "because its file system policy (account {}) does not allow it.",
            destination.owner
        ),
    ))
}

/// Deleting both sides from one account deletes the other account's side
/// too: its file system policy must grant that (a local-only delete needs no grant).
fn peer_may_be_deleted_by(
    world: &World,
    index: usize,
    caller_is_source: bool,
    caller: &crate::iam::Principal,
) -> Result<(), ApiError> {
    let rep = &world.replications[index];
    let (region, id, owner) = if caller_is_source {
        (
            &rep.destination_region,
            &rep.destination_file_system_id,
            &rep.destination_owner,
        )
    } else {
        (
            &rep.source_region,
            &rep.source_file_system_id,
            &rep.source_owner,
        )
    };
    if owner == &caller.account {
        return Ok(());
    }
    let action = "elasticfilesystem:DeleteReplicationConfiguration";
    let policy = world
        .file_system(region, id)
        .and_then(|f| f.policy.as_deref());
    if crate::iam::policy_allows(policy, caller, action) {
        return Ok(());
    }
    Err(crate::iam::access_denied(
        caller,
        action,
        &world.fs_arn(region, owner, id),
        &format!(
            "because the file system policy of {id} in {region} (account {owner}) does not allow \
             it. Add a statement allowing it, or delete only this Region's side with \
             deletionMode=LOCAL_CONFIGURATION_ONLY."
        ),
    ))
}

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

pub(super) fn create_replication(
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
    let source = available_fs(world, region, &source_id)?.clone();
    if world.replication_of(region, &source_id).is_some()
        || source.protection == Protection::Replicating
    {
        return Err(ApiError::new(
            "ReplicationAlreadyExists",
            409,
            format!("File system '{source_id}' is already part of a replication configuration."),
        ));
    }
    if !world.reaches(region, &dest_region) {
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
            let owner = existing.owner.clone();
            let role = cross_account_role(dest, &source.owner, &owner)?;
            if owner != source.owner {
                destination_policy_allows_create(world, existing)?;
            }
            let fs = fs_mut(world, &dest_region, &id)?;
            fs.protection = Protection::Replicating;
            (id, owner, role)
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
            let owner = fs.owner.clone();
            let role = str_field(dest, "RoleArn").map(str::to_string);
            world
                .region_mut(&dest_region)
                .file_systems
                .insert(id.clone(), fs);
            (id, owner, role)
        }
    };
    let (dest_fs_id, destination_owner, role_arn) = dest_fs_id;
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
        hung_on: None,
        fault_since: world.now,
        source_owner: source.owner.clone(),
        destination_owner,
        role_arn,
        denied: None,
    };
    let out = replication_json(world, &rep, region);
    world.replications.push(rep);
    Ok(Reply::json(200, &out))
}

pub(super) fn describe_replications(
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
                Some(i) if world.visible(world.replications[i].creation_time) => vec![i],
                _ => {
                    return Err(ApiError::new(
                        "ReplicationNotFound",
                        404,
                        format!("No replication configuration found for file system '{id}'."),
                    ))
                }
            }
        }
        // Across accounts, each account sees the configuration in its own Region only.
        None => (0..world.replications.len())
            .filter(|i| world.replications[*i].owner_in(region) == Some(&world.caller.account))
            .filter(|i| world.visible(world.replications[*i].creation_time))
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
    Ok(page_reply(
        "Replications",
        list,
        Paging::NextToken,
        req,
        next,
    ))
}

pub(super) fn delete_replication(
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
    // The destination's account names the configuration by its source's ID too.
    let source_id = source_id.trim_end_matches("@elsewhere").to_string();
    let known_anywhere = world
        .regions
        .values()
        .any(|r| r.file_systems.contains_key(&source_id));
    if !known_anywhere {
        // A typo, not an already-deleted configuration.
        return Err(ApiError::file_system_not_found(&source_id));
    }
    let caller = world.caller.clone();
    let index = world
        .replications
        .iter()
        .position(|r| r.source_file_system_id == source_id && r.owner_in(region) == Some(&caller.account))
        .ok_or_else(|| {
            ApiError::new(
                "ReplicationNotFound",
                404,
                format!("No replication configuration with source file system '{source_id}' exists in {region}."),
            )
        })?;
    let now = world.now;
    let (delete, skew) = (
        world.durations.replication_delete,
        world.durations.side_delete_skew,
    );
    let variants = world.variants;
    let rep = &world.replications[index];
    let is_source_side = rep.source_region == region && rep.source_side != SideState::Gone;
    let (local, peer) = if is_source_side {
        (rep.source_side, rep.destination_side)
    } else {
        (rep.destination_side, rep.source_side)
    };
    if let SideState::Deleting { done_at } = local {
        // A local-only delete of a side that hangs on its unreachable peer goes on alone.
        if local_only && done_at.is_infinite() {
            let rep = &mut world.replications[index];
            rep.hung_on = None;
            let side = if is_source_side {
                &mut rep.source_side
            } else {
                &mut rep.destination_side
            };
            *side = SideState::Deleting {
                done_at: now + delete,
            };
        }
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
    let hang = delete_peer && !world.reaches(region, &peer_region);
    if delete_peer && !hang {
        peer_may_be_deleted_by(world, index, is_source_side, &caller)?;
    }
    if hang && variants.delete_with_source_down == SourceDownDelete::FailFast {
        return Err(peer_unreachable(&peer_region));
    }
    if let Some(sync) = world.replications[index].sync.take() {
        // Deleted mid-sync: what the sync had moved lands in lost+found.
        world.apply_partial_sync(index, &sync, true);
    }
    let rep = &mut world.replications[index];
    // The two sides finish apart, in the configured order.
    let (first, second) = (now + delete, now + delete + skew);
    let (source_at, destination_at) = match variants.delete_order {
        DeleteOrder::DestinationFirst => (second, first),
        DeleteOrder::SourceFirst => (first, second),
    };
    let (local_at, peer_at) = if is_source_side {
        (source_at, destination_at)
    } else {
        (destination_at, source_at)
    };
    let local_state = if hang {
        rep.hung_on = Some(peer_region);
        SideState::Deleting {
            done_at: f64::INFINITY,
        }
    } else if delete_peer {
        SideState::Deleting { done_at: local_at }
    } else {
        SideState::Deleting {
            done_at: now + delete,
        }
    };
    let peer_state = SideState::Deleting { done_at: peer_at };
    if is_source_side {
        rep.source_side = local_state;
        if delete_peer && !hang {
            rep.destination_side = peer_state;
        }
    } else {
        rep.destination_side = local_state;
        if delete_peer && !hang {
            rep.source_side = peer_state;
        }
    }
    Ok(Reply::empty(204))
}
