//! SNS as the world keeps it: topics, subscriptions (with their filter
//! policies), the messages published, and the Lambda deliveries waiting to be
//! sent. Publishing is in `fanout`; the SNS API is in `sns`.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Topic {
    pub arn: String,
    pub name: String,
    pub attributes: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Subscription {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub confirmed: bool,
    /// SNS subscription filter policy (JSON), applied to the message body when
    /// `FilterPolicyScope` is `MessageBody`, else to message attributes (none here).
    pub filter_policy: Option<serde_json::Value>,
    pub filter_on_body: bool,
}

/// Whether a message passes a filter policy: every key must match one of its
/// conditions (an exact string, a number, or `{"exists": bool}`).
pub fn passes(policy: &serde_json::Value, on_body: bool, message: &str) -> bool {
    let Some(rules) = policy.as_object() else {
        return true;
    };
    let body: serde_json::Value = if on_body {
        serde_json::from_str(message).unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::Value::Null
    };
    rules.iter().all(|(key, conditions)| {
        let value = body.get(key);
        let conditions = conditions.as_array().cloned().unwrap_or_default();
        conditions.iter().any(|c| match c {
            serde_json::Value::Object(o) => match o.get("exists").and_then(|e| e.as_bool()) {
                Some(want) => value.is_some_and(|v| !v.is_null()) == want,
                None => false,
            },
            other => value == Some(other),
        })
    })
}

/// Every message published, readable through the control API.
#[derive(Clone, Debug, Serialize)]
pub struct PublishedMessage {
    pub message_id: String,
    pub topic_arn: String,
    pub region: String,
    pub subject: Option<String>,
    pub message: String,
    pub time: f64,
    /// Lambda functions the message was handed to.
    pub delivered_to: Vec<String>,
}

/// A Lambda invocation to send once the world's lock is released.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub function_name: String,
    pub payload: String,
}
