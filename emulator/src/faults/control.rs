//! The fault routes of the control API: Region faults, replication
//! faults and forced backup outcomes. (The variants are set with the rest
//! of the configuration, `POST /_emulator/config`.)

use super::FaultUpdate;
use crate::http::{control_error as error, parse_body as parse, Reply};
use crate::state::Shared;
use crate::world::backup::ForcedOutcome;
use crate::world::model::ReplicationFault;
use crate::world::witness::WitnessRequest;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplicationFaultRequest {
    file_system_id: String,
    fault: ReplicationFault,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupFaultRequest {
    #[serde(default)]
    region: Option<String>,
    file_system_id: String,
    outcome: ForcedOutcome,
    /// How many of the file system's next jobs end so; 0 clears. Default 1.
    #[serde(default = "one")]
    count: usize,
}

fn one() -> usize {
    1
}

/// The reply to a fault route, or `None` when the route is not one of them.
pub fn route(shared: &Shared, method: &str, route: &str, body: &[u8]) -> Option<Reply> {
    let result = match (method, route) {
        ("GET", "/faults") => {
            let w = shared.world();
            let faults: serde_json::Map<String, Value> = w
                .regions
                .iter()
                .map(|(name, r)| (name.clone(), serde_json::to_value(&r.faults).unwrap_or(Value::Null)))
                .collect();
            Ok(Reply::json(200, &json!({ "regions": faults })))
        }
        ("POST", "/faults") => parse::<FaultUpdate>(
            body,
            "{\"region\": \"us-east-1\", \"outage\": true, \"outage_mode\": \"refuse\"|\"blackhole\", \"outage_seconds\": 30, \"outage_services\": [\"elasticfilesystem\"], \"partitioned_from\": [\"us-west-2\"], \
             \"throttle\": {\"rate\": 5, \"burst\": 10}|null, \"error_rate\": 0.05, \"latency_ms\": 100}",
        )
        .map(|u| match shared.set_faults(&u) {
            Ok(()) => {
                let w = shared.world();
                Reply::json(200, &json!({ "region": u.region, "faults": w.region(&u.region).map(|r| &r.faults) }))
            }
            Err(e) => error(400, e),
        }),
        ("GET", "/witnesses") => Ok(Reply::json(200, &json!({"witnesses": shared.world().witnesses}))),
        ("POST", "/witnesses") => parse::<WitnessRequest>(
            body,
            "{\"name\": \"app-canary\", \"kind\": \"canary\"|\"route53\", \"region\": \"eu-west-1\", \"target_region\": \"us-east-1\",              \"watches\": \"data_plane\"|\"api\", \"delay_seconds\": 60, \"stopped\": false}",
        )
        .map(|r| {
            let mut w = shared.world();
            match w.set_witness(r) {
                Ok(witness) => Reply::json(200, &json!({"witness": witness})),
                Err(e) => error(400, e),
            }
        }),
        ("POST", "/replication-fault") => parse::<ReplicationFaultRequest>(
            body,
            "{\"file_system_id\": \"fs-...\", \"fault\": \"healthy\"|\"stalled\"|\"paused\"|\"error\"}",
        )
        .map(|r| match shared.set_replication_fault(&r.file_system_id, r.fault.clone()) {
            Ok(()) => Reply::json(200, &json!({"file_system_id": r.file_system_id, "fault": r.fault})),
            Err(e) => error(404, e),
        }),
        ("POST", "/backup-fault") => parse::<BackupFaultRequest>(
            body,
            "{\"file_system_id\": \"fs-...\", \"outcome\": \"FAILED\"|\"ABORTED\"|\"EXPIRED\", \
             \"count\": 1, \"region\": \"us-east-1\"}; count and region are optional",
        )
        .map(|r| {
            let mut w = shared.world();
            match w.force_backup_outcomes(r.region.as_deref(), &r.file_system_id, r.outcome, r.count) {
                Ok((region, pending)) => Reply::json(
                    200,
                    &json!({"region": region, "file_system_id": r.file_system_id, "pending": pending}),
                ),
                Err(e) => error(404, e),
            }
        }),
        _ => return None,
    };
    Some(result.unwrap_or_else(|e| e))
}
