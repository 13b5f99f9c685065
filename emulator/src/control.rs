//! The control API under `/_emulator/`: inspect state and the call log, move
//! the clock, inject faults, write data as a client would, read SNS messages.

use crate::config::{
    DeleteOrder, Profile, RecoveryPointDoneStatus, SourceDownDelete, Variants, UNKIND_DESCRIBE_LAG,
};
use crate::state::Shared;
use crate::world::clock::iso8601;
use crate::world::files::FileEntry;
use crate::world::metrics::Datapoint;
use crate::world::model::World;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use crate::http::{control_error as error, parse_body as parse, Reply};

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Another account: calls signed with `access_key` act as `account_id`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountRequest {
    access_key: String,
    account_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    advance_seconds: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteRequest {
    region: String,
    file_system_id: String,
    path: String,
    content: String,
    /// The bytes the write stands for, when more than its content (syncs take longer).
    #[serde(default)]
    size_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsRequest {
    region: String,
    file_system_id: String,
    connected: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRequest {
    #[serde(default)]
    lambda_endpoint: Option<String>,
    /// Only the fields given change.
    #[serde(default)]
    durations: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    sparse_io_metrics: Option<bool>,
    #[serde(default)]
    recovery_point_status: Option<RecoveryPointDoneStatus>,
    #[serde(default)]
    delete_order: Option<DeleteOrder>,
    #[serde(default)]
    delete_with_source_down: Option<SourceDownDelete>,
    /// Every variant at once (and describe_lag); applied before the fields above.
    #[serde(default)]
    profile: Option<Profile>,
}

/// `current` with the given fields replaced; an unknown name or a bad value changes nothing.
fn merged_durations(
    current: &crate::config::Durations,
    changes: serde_json::Map<String, Value>,
) -> Result<crate::config::Durations, Reply> {
    let mut all = match serde_json::to_value(current) {
        Ok(Value::Object(all)) => all,
        _ => return Err(error(500, "durations could not be read")),
    };
    all.extend(changes);
    if let Some((name, value)) = all
        .iter()
        .find(|(_, v)| !v.as_f64().is_some_and(|s| s.is_finite() && s >= 0.0))
    {
        return Err(error(
            400,
            format!("durations.{name} is {value}; give a number of seconds, 0 or more"),
        ));
    }
    serde_json::from_value(Value::Object(all)).map_err(|e| {
        error(
            400,
            format!("durations: {e}; give seconds by name, e.g. {{\"replication_delete\": 30}}"),
        )
    })
}

fn config_reply(w: &World) -> Reply {
    Reply::json(
        200,
        &json!({
            "lambda_endpoint": w.lambda_endpoint,
            "durations": w.durations,
            "account_id": w.account_id,
            "sparse_io_metrics": w.variants.sparse_io_metrics,
            "recovery_point_status": w.variants.recovery_point_status,
            "delete_order": w.variants.delete_order,
            "delete_with_source_down": w.variants.delete_with_source_down,
        }),
    )
}

pub fn handle(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Reply {
    let route = path.trim_start_matches("/_emulator").trim_end_matches('/');
    if let Some(reply) = crate::faults::control::route(shared, method, route, body) {
        return reply;
    }
    let result = match (method, route) {
        ("GET", "/health") => Ok(Reply::json(200, &json!({"ok": true}))),
        ("GET", "/state") => Ok(state(shared)),
        ("GET", "/calls") => Ok(calls(shared, query)),
        ("DELETE", "/calls") => {
            shared.world().calls.clear();
            Ok(Reply::json(200, &json!({"cleared": true})))
        }
        ("GET", "/clock") => Ok(clock(shared)),
        ("POST", "/clock") => parse::<ClockRequest>(body, "{\"advance_seconds\": 60}").map(|r| {
            if r.advance_seconds.is_finite() && r.advance_seconds > 0.0 {
                shared.advance(r.advance_seconds);
                clock(shared)
            } else {
                error(400, "advance_seconds must be a positive number of seconds")
            }
        }),
        ("POST", "/writes") => parse::<WriteRequest>(
            body,
            "{\"region\", \"file_system_id\", \"path\", \"content\"}",
        )
        .map(|r| match shared.write(&r.region, &r.file_system_id, &r.path, &r.content, r.size_bytes) {
            Ok(rec) => Reply::json(200, &serde_json::to_value(rec).unwrap_or(Value::Null)),
            Err(e) => error(409, e),
        }),
        ("GET", "/writes") => {
            let w = shared.world();
            Ok(Reply::json(200, &json!({ "writes": w.writes })))
        }
        ("GET", "/files") => Ok(files(shared, query)),
        ("POST", "/clients") => parse::<ClientsRequest>(body, "{\"region\", \"file_system_id\", \"connected\": 3}").map(|r| {
            let mut w = shared.world();
            match w.region_mut(&r.region).file_systems.get_mut(&r.file_system_id) {
                Some(fs) => {
                    fs.connected_clients = r.connected;
                    Reply::json(200, &json!({"file_system_id": r.file_system_id, "connected": r.connected}))
                }
                None => error(404, format!("file system {} does not exist in {}", r.file_system_id, r.region)),
            }
        }),
        ("GET", "/sns/messages") => {
            let w = shared.world();
            let topic = param(query, "topic_arn");
            let list: Vec<_> = w.messages.iter().filter(|m| topic.is_none_or(|t| m.topic_arn == t)).collect();
            Ok(Reply::json(200, &json!({ "messages": list })))
        }
        ("GET", "/metrics") => Ok(metrics(shared, query)),
        ("GET", "/config") => {
            let w = shared.world();
            Ok(config_reply(&w))
        }
        ("POST", "/config") => parse::<ConfigRequest>(
            body,
            "{\"lambda_endpoint\": \"http://127.0.0.1:9000\", \"durations\": {\"replication_delete\": 30}, \
             \"sparse_io_metrics\": true, \"recovery_point_status\": \"COMPLETED\"|\"AVAILABLE\", \
             \"delete_order\": \"destination_first\"|\"source_first\", \
             \"delete_with_source_down\": \"fail_fast\"|\"accept_and_hang\", \"profile\": \"kind\"|\"unkind\"}",
        )
        .and_then(|r| {
            let mut w = shared.world();
            let durations = match r.durations {
                Some(changes) => merged_durations(&w.durations, changes)?,
                None => w.durations.clone(),
            };
            w.durations = durations;
            if let Some(profile) = r.profile {
                w.variants = Variants::of(profile);
                w.durations.describe_lag = match profile {
                    Profile::Unkind => w.durations.describe_lag.max(UNKIND_DESCRIBE_LAG),
                    Profile::Kind => 0.0,
                };
            }
            if r.lambda_endpoint.is_some() {
                w.lambda_endpoint = r.lambda_endpoint;
            }
            let v = &mut w.variants;
            if let Some(sparse) = r.sparse_io_metrics {
                v.sparse_io_metrics = sparse;
            }
            if let Some(status) = r.recovery_point_status {
                v.recovery_point_status = status;
            }
            if let Some(order) = r.delete_order {
                v.delete_order = order;
            }
            if let Some(mode) = r.delete_with_source_down {
                v.delete_with_source_down = mode;
            }
            Ok(config_reply(&w))
        }),
        ("POST", "/accounts") => parse::<AccountRequest>(
            body,
            "{\"access_key\": \"AKIAPRODUCTION\", \"account_id\": \"111111111111\"}",
        )
        .and_then(|r| {
            if r.account_id.len() != 12 || !r.account_id.chars().all(|c| c.is_ascii_digit()) {
                return Err(error(400, format!("account_id '{}' is not 12 digits", r.account_id)));
            }
            let mut w = shared.world();
            w.access_keys
                .insert(r.access_key, crate::iam::Principal::account(&r.account_id));
            Ok(Reply::json(200, &json!({"accounts": w.access_keys})))
        }),
        ("GET", "/roles") => Ok(Reply::json(200, &json!({"roles": shared.world().roles.values().collect::<Vec<_>>()}))),
        ("POST", "/roles") => parse::<crate::iam::Role>(
            body,
            "{\"arn\": \"arn:aws:iam::111111111111:role/NAME\", \"trusted\": [\"elasticfilesystem.amazonaws.com\"], \"actions\": [\"elasticfilesystem:ReplicationRead\"]}",
        )
        .and_then(|role| {
            role.validate().map_err(|e| error(400, e))?;
            let mut w = shared.world();
            w.roles.insert(role.arn.clone(), role.clone());
            Ok(Reply::json(200, &json!({"role": role})))
        }),
        ("DELETE", "/roles") => match param(query, "arn") {
            Some(arn) => {
                let removed = shared.world().roles.remove(arn);
                Ok(Reply::json(200, &json!({"removed": removed.is_some()})))
            }
            None => Err(error(400, "DELETE /_emulator/roles needs ?arn=ROLE_ARN")),
        },
        _ => Err(error(
            404,
            format!(
                "no control endpoint {method} /_emulator{route}; see docs/emulator.md, section \"Control API\""
            ),
        )),
    };
    result.unwrap_or_else(|e| e)
}

fn state(shared: &Shared) -> Reply {
    let w = shared.world();
    let replications: Vec<Value> = w
        .replications
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["source_status"] = json!(r.status_in(&r.source_region, w.now).0);
            v["destination_status"] = json!(r.status_in(&r.destination_region, w.now).0);
            v
        })
        .collect();
    Reply::json(
        200,
        &json!({
            "now": w.now,
            "now_iso": iso8601(w.now),
            "account_id": w.account_id,
            "regions": w.regions,
            "replications": replications,
        }),
    )
}

fn clock(shared: &Shared) -> Reply {
    let (now, manual, scale) = shared.clock_info();
    Reply::json(
        200,
        &json!({"now": now, "now_iso": iso8601(now), "mode": if manual { "manual" } else { "scaled" }, "time_scale": scale}),
    )
}

fn calls(shared: &Shared, query: &[(String, String)]) -> Reply {
    let w = shared.world();
    let since: u64 = param(query, "since")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mutating_only = param(query, "mutating") == Some("true");
    let region = param(query, "region");
    let service = param(query, "service");
    let list: Vec<_> = w
        .calls
        .iter()
        .filter(|c| c.seq > since)
        .filter(|c| !mutating_only || c.mutating)
        .filter(|c| region.is_none_or(|r| c.region == r))
        .filter(|c| service.is_none_or(|s| c.service == s))
        .collect();
    Reply::json(200, &json!({ "calls": list }))
}

fn files_json(files: &BTreeMap<String, FileEntry>) -> Vec<Value> {
    files
        .iter()
        .map(|(p, f)| json!({"path": p, "content": f.content, "seq": f.seq, "written_at": f.written_at}))
        .collect()
}

fn files(shared: &Shared, query: &[(String, String)]) -> Reply {
    if let Some(arn) = param(query, "recovery_point_arn") {
        return recovery_point_files(shared, arn);
    }
    let (Some(region), Some(fs_id)) = (param(query, "region"), param(query, "file_system_id"))
    else {
        return error(400, "give region and file_system_id, e.g. /_emulator/files?region=us-east-1&file_system_id=fs-..., \
             or recovery_point_arn");
    };
    let w = shared.world();
    match w.file_system(region, fs_id) {
        Some(fs) => Reply::json(
            200,
            &json!({"region": region, "file_system_id": fs_id, "files": files_json(&fs.files)}),
        ),
        None => error(
            404,
            format!("file system {fs_id} does not exist in {region}"),
        ),
    }
}

/// The files a recovery point holds: the file system's as of its job's completion.
fn recovery_point_files(shared: &Shared, arn: &str) -> Reply {
    use crate::world::backup::RecoveryPointState;
    let w = shared.world();
    let found = w
        .regions
        .iter()
        .find_map(|(name, r)| r.backup.recovery_points.get(arn).map(|p| (name, p)));
    match found {
        Some((region, p)) if p.state == RecoveryPointState::Done => Reply::json(
            200,
            &json!({
                "region": region,
                "file_system_id": p.file_system_id,
                "recovery_point_arn": p.arn,
                "files": files_json(&p.files),
            }),
        ),
        Some(_) => error(
            409,
            format!("recovery point {arn} is still CREATING: it holds files once its backup job completes"),
        ),
        None => error(
            404,
            format!("recovery point {arn} does not exist (a job that did not complete leaves none)"),
        ),
    }
}

fn metrics(shared: &Shared, query: &[(String, String)]) -> Reply {
    let Some(region) = param(query, "region") else {
        return error(400, "give region, and optionally namespace and metric_name");
    };
    let w = shared.world();
    let namespace = param(query, "namespace");
    let name = param(query, "metric_name");
    let list: Vec<Datapoint> = w
        .region(region)
        .map(|r| {
            r.metrics
                .datapoints()
                .into_iter()
                .filter(|d| namespace.is_none_or(|n| d.namespace == n))
                .filter(|d| name.is_none_or(|n| d.metric_name == n))
                .collect()
        })
        .unwrap_or_default();
    Reply::json(200, &json!({ "datapoints": list }))
}
