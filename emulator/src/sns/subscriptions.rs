//! Subscription actions: Subscribe (with filter policies) and
//! ListSubscriptionsByTopic.

use super::protocol::{invalid, xml_escape, xml_reply, Params};
use super::topics::topic_in;
use crate::error::ApiError;
use crate::http::Reply;
use crate::world::model::World;
use crate::world::topics::Subscription;

pub(super) fn subscribe(
    world: &mut World,
    region: &str,
    p: &Params,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let topic_arn = p.required("TopicArn")?.to_string();
    let protocol = p.required("Protocol")?.to_string();
    let endpoint = p.get("Endpoint").unwrap_or("").to_string();
    topic_in(world, region, &topic_arn)?;
    let attributes = p.entries("Attributes");
    let filter_policy = match attributes.iter().find(|(k, _)| k == "FilterPolicy") {
        Some((_, v)) => Some(
            serde_json::from_str::<serde_json::Value>(v)
                .map_err(|e| invalid(format!("Invalid parameter: FilterPolicy: not JSON ({e})")))?,
        ),
        None => None,
    };
    let filter_on_body = attributes
        .iter()
        .any(|(k, v)| k == "FilterPolicyScope" && v == "MessageBody");
    match protocol.as_str() {
        "lambda" if !crate::arn::is_service(&endpoint, "lambda") => {
            return Err(invalid(format!(
                "Invalid parameter: Lambda endpoint '{endpoint}' must be a function ARN."
            )))
        }
        "email" | "email-json" if !endpoint.contains('@') => {
            return Err(invalid(format!(
                "Invalid parameter: Email address '{endpoint}'."
            )))
        }
        "lambda" | "email" | "email-json" | "sqs" | "http" | "https" | "sms" | "application"
        | "firehose" => {}
        other => {
            return Err(invalid(format!(
                "Invalid parameter: Amazon SNS does not support protocol '{other}'."
            )))
        }
    }
    let r = world.region_mut(region);
    let existing = r
        .subscriptions
        .iter()
        .find(|s| s.topic_arn == topic_arn && s.protocol == protocol && s.endpoint == endpoint)
        .map(|s| s.arn.clone());
    let arn = match existing {
        Some(a) => a,
        None => {
            let id = world.rng.uuid();
            let arn = format!("{topic_arn}:{id}");
            // Email subscriptions wait for a person to confirm; the others are confirmed at once.
            let confirmed = !protocol.starts_with("email");
            world.region_mut(region).subscriptions.push(Subscription {
                arn: arn.clone(),
                topic_arn,
                protocol: protocol.clone(),
                endpoint,
                confirmed,
                filter_policy,
                filter_on_body,
            });
            arn
        }
    };
    let shown = if protocol.starts_with("email") && p.get("ReturnSubscriptionArn") != Some("true") {
        "pending confirmation".to_string()
    } else {
        arn
    };
    Ok(xml_reply(
        "Subscribe",
        &format!("<SubscriptionArn>{}</SubscriptionArn>", xml_escape(&shown)),
        request_id,
    ))
}

pub(super) fn list_subscriptions(
    world: &mut World,
    region: &str,
    p: &Params,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let topic_arn = p.required("TopicArn")?.to_string();
    topic_in(world, region, &topic_arn)?;
    let account = world.account_id.clone();
    let members: String = world
        .region_mut(region)
        .subscriptions
        .iter()
        .filter(|s| s.topic_arn == topic_arn)
        .map(|s| {
            let arn = if s.confirmed { s.arn.as_str() } else { "PendingConfirmation" };
            format!(
                "<member><TopicArn>{}</TopicArn><Protocol>{}</Protocol><SubscriptionArn>{}</SubscriptionArn>\
                 <Owner>{account}</Owner><Endpoint>{}</Endpoint></member>",
                xml_escape(&s.topic_arn),
                xml_escape(&s.protocol),
                xml_escape(arn),
                xml_escape(&s.endpoint)
            )
        })
        .collect();
    Ok(xml_reply(
        "ListSubscriptionsByTopic",
        &format!("<Subscriptions>{members}</Subscriptions>"),
        request_id,
    ))
}
