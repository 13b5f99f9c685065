//! Tagging: TagResource, UntagResource and ListTagsForResource on file
//! systems and access points.

use super::access_points::{access_point_id, ap_not_found};
use super::protocol::{existing_fs, fs_id, page_size, paginate, parse_tags};
use super::protocol::{page_reply, Paging};
use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::world::model::World;
use serde_json::{json, Value};

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

pub(super) fn tag_resource(
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

pub(super) fn untag_resource(
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

pub(super) fn list_tags(
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
    let list = page
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(page_reply("Tags", list, Paging::NextToken, req, next))
}
