//! Topic actions: CreateTopic, ListTopics and Publish. Publishing itself
//! (the message log and the Lambda deliveries) is `world::fanout`.

use super::protocol::{invalid, not_found, xml_escape, xml_reply, Params};
use crate::error::ApiError;
use crate::http::Reply;
use crate::world::fanout::publish_internal;
use crate::world::model::World;
use crate::world::topics::Topic;

pub(super) fn create_topic(
    world: &mut World,
    region: &str,
    p: &Params,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let name = p.required("Name")?;
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if base.is_empty()
        || name.len() > 256
        || !base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(format!(
            "Invalid parameter: Topic Name '{name}': use 1 to 256 letters, digits, hyphens and underscores."
        )));
    }
    let arn = crate::arn::make("sns", region, &world.account_id, name);
    let attributes = p.entries("Attributes");
    let r = world.region_mut(region);
    r.topics.entry(arn.clone()).or_insert(Topic {
        arn: arn.clone(),
        name: name.to_string(),
        attributes,
    });
    Ok(xml_reply(
        "CreateTopic",
        &format!("<TopicArn>{}</TopicArn>", xml_escape(&arn)),
        request_id,
    ))
}

pub(super) fn topic_in<'a>(
    world: &'a mut World,
    region: &str,
    arn: &str,
) -> Result<&'a Topic, ApiError> {
    if !crate::arn::is_service(arn, "sns") {
        return Err(invalid(format!(
            "Invalid parameter: TopicArn '{arn}' is not an SNS topic ARN."
        )));
    }
    world
        .region_mut(region)
        .topics
        .get(arn)
        .ok_or_else(|| not_found(format!("Topic does not exist: {arn}")))
}

pub(super) fn publish(
    world: &mut World,
    region: &str,
    p: &Params,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let topic_arn = p
        .get("TopicArn")
        .or_else(|| p.get("TargetArn"))
        .ok_or_else(|| invalid("Invalid parameter: TopicArn or TargetArn is required."))?
        .to_string();
    let message = p.required("Message")?;
    if message.is_empty() {
        return Err(invalid("Invalid parameter: Empty message."));
    }
    if message.len() > 262_144 {
        return Err(invalid(
            "Invalid parameter: Message too long (over 256 KB).",
        ));
    }
    let subject = p.get("Subject");
    if let Some(s) = subject {
        let ok = !s.is_empty() && s.len() <= 100 && s.chars().all(|c| (' '..='~').contains(&c));
        if !ok {
            return Err(invalid(
                "Invalid parameter: Subject must be 1 to 100 printable ASCII characters with no line breaks.",
            ));
        }
    }
    topic_in(world, region, &topic_arn)?;
    let id = publish_internal(world, &topic_arn, subject, message)?;
    Ok(xml_reply(
        "Publish",
        &format!("<MessageId>{id}</MessageId>"),
        request_id,
    ))
}

pub(super) fn list_topics(
    world: &mut World,
    region: &str,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let members: String = world
        .region_mut(region)
        .topics
        .keys()
        .map(|arn| format!("<member><TopicArn>{}</TopicArn></member>", xml_escape(arn)))
        .collect();
    Ok(xml_reply(
        "ListTopics",
        &format!("<Topics>{members}</Topics>"),
        request_id,
    ))
}
