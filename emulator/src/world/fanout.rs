//! Publishing to an SNS topic: the message is logged and handed to every
//! confirmed `lambda` subscriber whose filter policy it passes. Used by the
//! SNS Publish action and by alarm actions.

use super::clock::iso8601;
use super::model::World;
use super::topics::{passes, Delivery, PublishedMessage, Subscription};
use crate::error::ApiError;

/// Publishes to a topic (by ARN, in the ARN's Region) and fans out to its
/// subscribers. Used by Publish and by alarm actions.
pub fn publish_internal(
    world: &mut World,
    topic_arn: &str,
    subject: Option<&str>,
    message: &str,
) -> Result<String, ApiError> {
    let region = topic_arn.split(':').nth(3).unwrap_or("").to_string();
    if !world
        .region(&region)
        .is_some_and(|r| r.topics.contains_key(topic_arn))
    {
        return Err(ApiError::new(
            "NotFound",
            404,
            format!("Topic does not exist: {topic_arn}"),
        ));
    }
    let message_id = world.rng.uuid();
    let now = world.now;
    let subscriptions: Vec<Subscription> = world
        .region_mut(&region)
        .subscriptions
        .iter()
        .filter(|s| s.topic_arn == topic_arn && s.confirmed)
        .cloned()
        .collect();
    let mut delivered_to = Vec::new();
    for sub in subscriptions.iter().filter(|s| {
        s.protocol == "lambda"
            && s.filter_policy
                .as_ref()
                .is_none_or(|p| passes(p, s.filter_on_body, message))
    }) {
        let function_name = sub.endpoint.split(':').nth(6).unwrap_or("").to_string();
        let event = serde_json::json!({
            "Records": [{
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": sub.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": iso8601(now),
                    "SignatureVersion": "1",
                    "Signature": "EMULATOR",
                    "SigningCertUrl": "https://sns.emulator.invalid/cert.pem",
                    "UnsubscribeUrl": format!("https://sns.emulator.invalid/?Action=Unsubscribe&SubscriptionArn={}", sub.arn),
                    "MessageAttributes": {}
                }
            }]
        });
        world.outbox.push(Delivery {
            function_name: function_name.clone(),
            payload: event.to_string(),
        });
        delivered_to.push(function_name);
    }
    world.messages.push(PublishedMessage {
        message_id: message_id.clone(),
        topic_arn: topic_arn.to_string(),
        region,
        subject: subject.map(str::to_string),
        message: message.to_string(),
        time: now,
        delivered_to,
    });
    Ok(message_id)
}
