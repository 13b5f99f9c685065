//! Amazon CloudWatch in the smithy RPC v2 CBOR protocol the Rust SDK speaks
//! (and awsJson1_0 for botocore): metrics, static-threshold alarms and their
//! SNS actions. The AWS/EFS metrics the emulated file systems publish, and
//! alarm evaluation, are the world's (`world::monitoring`).
//!
//! This file only routes: it names the operation and hands the decoded body
//! to `metrics` or `alarms`. The wire formats are in `protocol`.

mod alarms;
mod metrics;
mod protocol;

pub use protocol::{error_reply, protocol, Protocol};

use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use crate::world::model::World;
use alarms::{delete_alarms, describe_alarms, put_metric_alarm, set_alarm_state};
use metrics::{get_metric_data, get_metric_statistics, put_metric_data};
use protocol::{decode_body, to_json_reply};

pub fn operation(path: &str, headers: &[(String, String)]) -> (String, bool) {
    let op = crate::http::rpc_operation(path, headers);
    let mutating = matches!(
        op.as_str(),
        "PutMetricData" | "PutMetricAlarm" | "SetAlarmState" | "DeleteAlarms"
    );
    (op, mutating)
}

pub fn handle(world: &mut World, region: &str, req: &ServiceRequest) -> Result<Reply, ApiError> {
    let reply = dispatch(world, region, req)?;
    Ok(match protocol(req.headers) {
        Protocol::Json => to_json_reply(reply),
        Protocol::Cbor => reply,
    })
}

fn dispatch(world: &mut World, region: &str, req: &ServiceRequest) -> Result<Reply, ApiError> {
    let (op, _) = operation(req.path, req.headers);
    let body = decode_body(req)?;
    match op.as_str() {
        "PutMetricData" => put_metric_data(world, region, &body),
        "GetMetricStatistics" => get_metric_statistics(world, region, &body),
        "GetMetricData" => get_metric_data(world, region, &body),
        "PutMetricAlarm" => put_metric_alarm(world, region, &body),
        "DescribeAlarms" => describe_alarms(world, region, &body),
        "SetAlarmState" => set_alarm_state(world, region, &body),
        "DeleteAlarms" => delete_alarms(world, region, &body),
        other => Err(ApiError::new(
            "InvalidAction",
            400,
            format!("The emulator does not implement CloudWatch operation {other}."),
        )),
    }
}
