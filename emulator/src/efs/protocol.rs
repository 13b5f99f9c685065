//! The EFS REST-JSON wire format shared by every operation family: error
//! replies, request bodies and fields, resource identifiers (IDs or ARNs),
//! tags, pagination and Availability Zone IDs.

use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::world::model::{FileSystem, World};
use serde_json::{json, Map, Value};

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

pub(super) fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
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

pub(super) fn is_hex_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        (8..=40).contains(&rest.len()) && rest.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    })
}

/// A resource ID given as an ID or as an ARN of this Region. An ARN for
/// another Region names nothing here (it is not found); a bare file system ID
/// names only the caller's own, and another account's is reached by its ARN
/// (which `authorize` has checked against its policy).
pub(super) fn resource_id(
    world: &World,
    region: &str,
    raw: &str,
    prefix: &str,
    kind: &str,
) -> Result<String, ApiError> {
    let id_prefix = format!("{prefix}-");
    let owner = |id: &str| {
        (kind == "file-system")
            .then(|| world.file_system(region, id).map(|f| f.owner.as_str()))
            .flatten()
    };
    if is_hex_id(raw, &id_prefix) {
        if owner(raw).is_some_and(|o| o != world.caller.account) {
            return Ok(format!("{raw}@elsewhere"));
        }
        return Ok(raw.to_string());
    }
    if let Some(arn) = crate::arn::parse(raw).filter(|a| a.service == "elasticfilesystem") {
        if let Some(id) = arn.resource.strip_prefix(&format!("{kind}/")) {
            if is_hex_id(id, &id_prefix) {
                let named_owner_holds_it = match owner(id) {
                    Some(o) => o == arn.account,
                    None => arn.account == world.caller.account,
                };
                // Another Region, account or partition names nothing here.
                if arn.region != region
                    || !named_owner_holds_it
                    || arn.partition != crate::arn::partition_of(region)
                {
                    return Ok(format!("{id}@elsewhere"));
                }
                return Ok(id.to_string());
            }
        }
    }
    Err(ApiError::bad_request(format!(
        "Invalid {kind} identifier '{raw}': expected {prefix}- followed by 8 to 40 lowercase \
         hex digits, or its ARN."
    )))
}

/// IAM for one EFS call: an assumed role may do only what its policies list,
/// and a file system of another account, named by its ARN, only what that
/// file system's policy grants the caller.
pub(super) fn authorize(
    world: &World,
    region: &str,
    operation: &str,
    named: Option<&str>,
) -> Result<(), ApiError> {
    let action = format!("elasticfilesystem:{operation}");
    let caller = &world.caller;
    let target = named.and_then(|raw| {
        let arn = crate::arn::parse(raw)?;
        let id = arn.resource.strip_prefix("file-system/")?;
        let fs = world.file_system(region, id)?;
        (fs.owner == arn.account).then_some(fs)
    });
    let resource = target
        .map(|f| f.arn.clone())
        .unwrap_or_else(|| "*".to_string());
    let denied = |why: String| crate::iam::access_denied(caller, &action, &resource, &why);
    if let Some(role) = &caller.role {
        let allowed = world.roles.get(role).is_some_and(|r| r.allows(&action));
        if !allowed {
            return Err(denied(
                "because no identity-based policy allows the action".into(),
            ));
        }
    }
    if let Some(fs) = target.filter(|f| f.owner != caller.account) {
        if !crate::iam::policy_allows(fs.policy.as_deref(), caller, &action) {
            return Err(denied(format!(
                "because the file system policy of {} (account {}) does not allow it",
                fs.id, fs.owner
            )));
        }
    }
    Ok(())
}

pub(super) fn fs_id(world: &World, region: &str, raw: &str) -> Result<String, ApiError> {
    resource_id(world, region, raw, "fs", "file-system")
}

pub(super) fn str_field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

pub(super) fn required<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    str_field(body, name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "The request is missing the required member '{name}'."
        ))
    })
}

pub(super) fn existing_fs<'a>(
    world: &'a World,
    region: &str,
    id: &str,
) -> Result<&'a FileSystem, ApiError> {
    world
        .file_system(region, id)
        .ok_or_else(|| ApiError::file_system_not_found(id.trim_end_matches("@elsewhere")))
}

/// A file system the call needs `available`: `409 IncorrectFileSystemLifeCycleState` otherwise.
pub(super) fn available_fs<'a>(
    world: &'a World,
    region: &str,
    id: &str,
) -> Result<&'a FileSystem, ApiError> {
    let fs = existing_fs(world, region, id)?;
    if fs.life_cycle != crate::world::model::LifeCycle::Available {
        return Err(ApiError::new(
            "IncorrectFileSystemLifeCycleState",
            409,
            format!(
                "File system '{id}' is {}, not available.",
                fs.life_cycle.as_str()
            ),
        ));
    }
    Ok(fs)
}

pub(super) fn fs_mut<'a>(
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

pub(super) fn parse_tags(value: Option<&Value>) -> Result<Vec<(String, String)>, ApiError> {
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

pub(super) fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

pub(super) fn page_size(
    req: &ServiceRequest,
    name: &str,
    default: usize,
) -> Result<usize, ApiError> {
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
pub(super) fn paginate<T: Clone>(
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

/// How a Describe operation names its page tokens.
pub(super) enum Paging {
    /// `Marker` in, echoed, and `NextMarker` out (file systems, mount targets).
    Marker,
    /// `NextToken` in and out (access points, replications, tags).
    NextToken,
}

/// The answer of a paged Describe: one page under `list_key`, with the tokens of its API style.
pub(super) fn page_reply(
    list_key: &str,
    page: Vec<Value>,
    paging: Paging,
    req: &ServiceRequest,
    next: Option<String>,
) -> Reply {
    let mut out = serde_json::Map::new();
    out.insert(list_key.to_string(), Value::Array(page));
    let next_key = match paging {
        Paging::Marker => {
            if let Some(m) = req.query_param("Marker") {
                out.insert("Marker".into(), Value::from(m));
            }
            "NextMarker"
        }
        Paging::NextToken => "NextToken",
    };
    if let Some(n) = next {
        out.insert(next_key.into(), Value::from(n));
    }
    Reply::json(200, &Value::Object(out))
}

pub(super) fn az_id(az: &str) -> String {
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

pub(super) fn string_list(body: &Value, name: &str) -> Result<Option<Vec<String>>, ApiError> {
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
