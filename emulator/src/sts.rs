//! AWS STS, Query protocol, as far as efs-dr needs it: AssumeRole (trust
//! policy and external ID enforced, credentials that sign as the role) and
//! GetCallerIdentity.

use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::iam::Principal;
use crate::world::model::World;

const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// How long the emulator's session credentials last (AssumeRole's default).
const SESSION_SECONDS: f64 = 3600.0;

pub fn operation(body: &[u8]) -> (String, bool) {
    let action = form_urlencoded::parse(body)
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "Unknown".to_string());
    (action, false)
}

use crate::http::xml_escape as escape;

fn reply(action: &str, result: &str, request_id: &str) -> Reply {
    Reply::query(XMLNS, action, result, request_id)
}

pub fn error_reply(err: &ApiError, request_id: &str) -> Reply {
    Reply::query_error(XMLNS, err, request_id)
}

pub fn handle(world: &mut World, _region: &str, req: &ServiceRequest) -> Result<Reply, ApiError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain(req.query.iter().cloned())
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match get("Action").unwrap_or("") {
        "AssumeRole" => {
            let role_arn = get("RoleArn").ok_or_else(|| missing("RoleArn"))?;
            let session = get("RoleSessionName").ok_or_else(|| missing("RoleSessionName"))?;
            assume_role(world, role_arn, session, get("ExternalId"), req.request_id)
        }
        "GetCallerIdentity" => {
            let c = &world.caller;
            let result = format!(
                "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>",
                escape(&c.arn()),
                escape(&c.account),
                escape(&c.account)
            );
            Ok(reply("GetCallerIdentity", &result, req.request_id))
        }
        other => Err(ApiError::new(
            "InvalidAction",
            400,
            format!("The emulator implements STS AssumeRole and GetCallerIdentity, not '{other}'."),
        )),
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::new(
        "ValidationError",
        400,
        format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"),
    )
}

fn assume_role(
    world: &mut World,
    role_arn: &str,
    session: &str,
    external_id: Option<&str>,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let caller = world.caller.clone();
    let denied = || {
        // STS says no more than this, whatever the reason (no role, no trust, wrong external ID).
        ApiError::new(
            "AccessDenied",
            403,
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn()
            ),
        )
    };
    let role = world.roles.get(role_arn).ok_or_else(denied)?;
    let external_ok = match &role.external_id {
        Some(required) => external_id == Some(required.as_str()),
        None => true,
    };
    if !role.trusts(&caller.account) || !external_ok {
        return Err(denied());
    }
    let account = role.account().unwrap_or_default().to_string();
    let key = format!(
        "ASIA{}",
        world.rng.id("k").trim_start_matches("k-").to_uppercase()
    );
    world.access_keys.insert(
        key.clone(),
        Principal {
            account: account.clone(),
            role: Some(role_arn.to_string()),
        },
    );
    // Clients judge expiry by their own clock, which emulated time may trail.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let expires = crate::world::clock::iso8601(world.now.max(wall) + SESSION_SECONDS);
    let name = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let result = format!(
        "<Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>emulated</SecretAccessKey>\
         <SessionToken>emulated-session-{key}</SessionToken><Expiration>{expires}</Expiration></Credentials>\
         <AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/{}/{}</Arn>\
         <AssumedRoleId>AROA{key}:{}</AssumedRoleId></AssumedRoleUser>",
        escape(name),
        escape(session),
        escape(session)
    );
    Ok(reply("AssumeRole", &result, request_id))
}
