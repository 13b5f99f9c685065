//! Amazon SNS, Query protocol: topics, subscriptions and publishing, with
//! delivery to `lambda` subscribers through a Lambda Invoke API endpoint.

use crate::clock::iso8601;
use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::model::World;
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
fn passes(policy: &serde_json::Value, on_body: bool, message: &str) -> bool {
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

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

fn xml_reply(action: &str, result: &str, request_id: &str) -> Reply {
    let body = format!(
        "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result>\
         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    );
    Reply {
        status: 200,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: body.into_bytes(),
    }
}

pub fn error_reply(err: &ApiError, request_id: &str) -> Reply {
    let fault = if err.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error>\
         <RequestId>{}</RequestId></ErrorResponse>",
        xml_escape(&err.code),
        xml_escape(&err.message),
        xml_escape(request_id)
    );
    Reply {
        status: err.status,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: body.into_bytes(),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameter", 400, message)
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new("NotFound", 404, message)
}

struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| invalid(format!("Invalid parameter: {name} is required.")))
    }

    /// `Prefix.entry.N.key` / `.value` maps.
    fn entries(&self, prefix: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for n in 1.. {
            let key = self.get(&format!("{prefix}.entry.{n}.key"));
            let value = self.get(&format!("{prefix}.entry.{n}.value"));
            match (key, value) {
                (Some(k), Some(v)) => out.push((k.to_string(), v.to_string())),
                _ => break,
            }
        }
        out
    }
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

fn create_topic(
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
    let arn = format!("arn:aws:sns:{region}:{}:{name}", world.account_id);
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

fn topic_in<'a>(world: &'a mut World, region: &str, arn: &str) -> Result<&'a Topic, ApiError> {
    if !arn.starts_with("arn:aws:sns:") {
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

fn subscribe(
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
        "lambda" if !endpoint.starts_with("arn:aws:lambda:") => {
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

fn publish(
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
        return Err(not_found(format!("Topic does not exist: {topic_arn}")));
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

fn list_subscriptions(
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

fn list_topics(world: &mut World, region: &str, request_id: &str) -> Result<Reply, ApiError> {
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
