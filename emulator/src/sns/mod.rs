//! Amazon SNS, Query protocol: topics, subscriptions and publishing, with
//! delivery to `lambda` subscribers through a Lambda Invoke API endpoint.
//!
//! This file only routes: it names the action and hands the parameters to
//! `topics` or `subscriptions`. The Query/XML format is in `protocol`; the
//! topics themselves and the fan-out to subscribers are the world's
//! (`world::topics`, `world::fanout`).

mod protocol;
mod subscriptions;
mod topics;

pub use protocol::error_reply;

use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::world::model::World;
use protocol::Params;
use subscriptions::{list_subscriptions, subscribe};
use topics::{create_topic, list_topics, publish};

pub fn operation(body: &[u8]) -> (String, bool) {
    let action = form_urlencoded::parse(body)
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "Unknown".to_string());
    let mutating = matches!(
        action.as_str(),
        "CreateTopic" | "Subscribe" | "Publish" | "DeleteTopic" | "Unsubscribe"
    );
    (action, mutating)
}

pub fn handle(world: &mut World, region: &str, req: &ServiceRequest) -> Result<Reply, ApiError> {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.extend(req.query.iter().cloned());
    let p = Params(pairs);
    let request_id = req.request_id.to_string();
    let action = p.get("Action").unwrap_or("").to_string();
    world.region_mut(region);
    match action.as_str() {
        "CreateTopic" => create_topic(world, region, &p, &request_id),
        "Subscribe" => subscribe(world, region, &p, &request_id),
        "Publish" => publish(world, region, &p, &request_id),
        "ListSubscriptionsByTopic" => list_subscriptions(world, region, &p, &request_id),
        "ListTopics" => list_topics(world, region, &request_id),
        "" => Err(ApiError::new(
            "MissingAction",
            400,
            "The request has no Action parameter.",
        )),
        other => Err(ApiError::new(
            "InvalidAction",
            400,
            format!("The emulator does not implement SNS action {other}."),
        )),
    }
}
