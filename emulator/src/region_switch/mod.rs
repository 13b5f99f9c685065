//! ARC Region switch, the subset a plan's Lambda block and its tests need:
//! CreatePlan (with the workflow rules AWS states), GetPlan,
//! StartPlanExecution, GetPlanExecution, UpdatePlanExecution and
//! CancelPlanExecution,
//! in smithy RPC v2 CBOR (the Rust SDK) and awsJson1_0 (botocore). Plans are
//! global, as in AWS: one store whatever Region a call is signed for.
//!
//! Region switch itself (invoking the blocks) is not emulated here: the
//! harness plays it, under each reading of the undocumented parts, and reads
//! and updates the executions through this API.

use crate::cbor::{self, Fields};
use crate::error::ApiError;
use crate::http::{protocol, Protocol};
use crate::http::{Reply, ServiceRequest};
use crate::world::model::World;
use crate::world::plans::{Execution, Plan};
use ciborium::value::Value;

const TERMINAL: [&str; 6] = [
    "completed",
    "completedWithExceptions",
    "completedMonitoringApplicationHealth",
    "canceled",
    "failed",
    "planExecutionTimedOut",
];

pub fn operation(path: &str, headers: &[(String, String)]) -> (String, bool) {
    let op = crate::http::rpc_operation(path, headers);
    // GetPlan reads; the rest of this list changes state.
    let mutating = matches!(
        op.as_str(),
        "CreatePlan" | "StartPlanExecution" | "UpdatePlanExecution" | "CancelPlanExecution"
    );
    (op, mutating)
}

pub fn error_reply(err: &ApiError, headers: &[(String, String)]) -> Reply {
    let body = cbor::map(vec![
        (
            "__type",
            cbor::text(format!("com.amazonaws.arcregionswitch#{}", err.code)),
        ),
        ("message", cbor::text(err.message.clone())),
    ]);
    encode(err.status, body, headers)
}

fn encode(status: u16, value: Value, headers: &[(String, String)]) -> Reply {
    match protocol(headers) {
        Protocol::Cbor => Reply {
            status,
            headers: vec![
                ("content-type".into(), "application/cbor".into()),
                ("smithy-protocol".into(), "rpc-v2-cbor".into()),
            ],
            body: cbor::encode(&value),
        },
        Protocol::Json => Reply {
            status,
            headers: vec![("content-type".into(), "application/x-amz-json-1.0".into())],
            body: serde_json::to_vec(&cbor::to_json(&value)).unwrap_or_default(),
        },
    }
}

fn decode(req: &ServiceRequest) -> Result<Value, ApiError> {
    if protocol(req.headers) == Protocol::Json {
        let json: serde_json::Value = if req.body.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_slice(req.body).map_err(|e| {
                ApiError::new("ValidationException", 400, format!("malformed JSON: {e}"))
            })?
        };
        return Ok(cbor::from_json(&json));
    }
    if req.body.is_empty() {
        return Ok(cbor::map(vec![]));
    }
    cbor::decode(req.body).map_err(|e| ApiError::new("ValidationException", 400, e))
}

fn illegal_argument(message: impl Into<String>) -> ApiError {
    ApiError::new("IllegalArgumentException", 400, message)
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        404,
        format!("{what} {id} was not found"),
    )
}

fn required<'a>(f: &Fields<'a>, key: &str) -> Result<&'a str, ApiError> {
    f.str(key)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| illegal_argument(format!("{key} is required")))
}

pub fn handle(world: &mut World, region: &str, req: &ServiceRequest) -> Result<Reply, ApiError> {
    let (op, _) = operation(req.path, req.headers);
    let body = decode(req)?;
    let f = Fields::of(&body);
    let value = match op.as_str() {
        "CreatePlan" => create_plan(world, &f)?,
        "GetPlan" => {
            let arn = required(&f, "arn")?;
            let plan = world
                .region_switch
                .plans
                .iter()
                .find(|p| p.arn == arn)
                .ok_or_else(|| not_found("Plan", arn))?;
            cbor::map(vec![("plan", plan_value(plan, &world.account_id))])
        }
        "StartPlanExecution" => start_execution(world, region, &f)?,
        "GetPlanExecution" => get_execution(world, region, &f)?,
        "UpdatePlanExecution" => update_execution(world, &f)?,
        "CancelPlanExecution" => {
            let now = world.now;
            let e = find(world, &f)?;
            if TERMINAL.contains(&e.state.as_str()) {
                return Err(ApiError::new(
                    "IllegalStateException",
                    400,
                    format!("The execution is {}", e.state),
                ));
            }
            e.state = "canceled".into();
            e.end = Some(now);
            cbor::map(vec![])
        }
        other => {
            return Err(ApiError::new(
                "UnknownOperationException",
                400,
                format!("The emulator does not implement Region switch {other}"),
            ))
        }
    };
    Ok(encode(200, value, req.headers))
}

fn create_plan(world: &mut World, f: &Fields) -> Result<Value, ApiError> {
    let name = required(f, "name")?.to_string();
    let regions = f.strings("regions");
    if regions.len() != 2 {
        return Err(illegal_argument("regions must list exactly 2 Regions"));
    }
    let execution_role = required(f, "executionRole")?.to_string();
    let recovery_approach = required(f, "recoveryApproach")?.to_string();
    let raw = f
        .get("workflows")
        .ok_or_else(|| illegal_argument("workflows is required"))?;
    validate_workflows(&regions, raw)?;
    let workflows = single_precision(raw);
    if world.region_switch.plans.iter().any(|p| p.name == name) {
        return Err(ApiError::new(
            "ConflictException",
            409,
            format!("A plan named {name} already exists"),
        ));
    }
    let suffix = world.rng.uuid().replace('-', "");
    let arn = format!(
        "arn:aws:arc-region-switch::{}:plan/{name}:{}",
        world.account_id,
        &suffix[..6]
    );
    let plan = Plan {
        arn,
        name,
        regions,
        primary_region: f.str("primaryRegion").map(str::to_string),
        execution_role,
        recovery_approach,
        workflows,
    };
    let value = plan_value(&plan, &world.account_id);
    world.region_switch.plans.push(plan);
    Ok(cbor::map(vec![("plan", value)]))
}

/// The model types the retry interval `Float`: AWS answers it in single
/// precision, whatever precision the request used.
fn single_precision(v: &Value) -> Value {
    match v {
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let v = match (k, v) {
                        (Value::Text(key), _) if key == "retryIntervalMinutes" => {
                            cbor::as_f64(v).map(cbor::single).unwrap_or(v.clone())
                        }
                        _ => single_precision(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(single_precision).collect()),
        other => other.clone(),
    }
}

fn plan_value(plan: &Plan, account: &str) -> Value {
    let mut entries = vec![
        ("arn", cbor::text(plan.arn.clone())),
        ("name", cbor::text(plan.name.clone())),
        (
            "regions",
            Value::Array(plan.regions.iter().cloned().map(cbor::text).collect()),
        ),
        ("executionRole", cbor::text(plan.execution_role.clone())),
        (
            "recoveryApproach",
            cbor::text(plan.recovery_approach.clone()),
        ),
        ("owner", cbor::text(account.to_string())),
        ("workflows", plan.workflows.clone()),
    ];
    if let Some(p) = &plan.primary_region {
        entries.push(("primaryRegion", cbor::text(p.clone())));
    }
    cbor::map(entries)
}

/// The rules AWS states for a plan's workflows and Lambda blocks (API
/// reference: Workflow, Step, CustomActionLambdaConfiguration, Lambdas).
/// Other block types are accepted as given.
fn validate_workflows(regions: &[String], workflows: &Value) -> Result<(), ApiError> {
    let Value::Array(list) = workflows else {
        return Err(illegal_argument("workflows must be a list"));
    };
    if list.is_empty() {
        return Err(illegal_argument("workflows must not be empty"));
    }
    let mut names = Vec::new();
    for (i, w) in list.iter().enumerate() {
        let wf = Fields::of(w);
        let action = wf.str("workflowTargetAction").unwrap_or_default();
        if !matches!(action, "activate" | "deactivate" | "postRecovery") {
            return Err(illegal_argument(format!(
                "workflows[{i}].workflowTargetAction '{action}' is not activate, deactivate or postRecovery"
            )));
        }
        if let Some(r) = wf.str("workflowTargetRegion") {
            if !regions.iter().any(|x| x == r) {
                return Err(illegal_argument(format!(
                    "workflows[{i}].workflowTargetRegion {r} is not one of the plan's Regions"
                )));
            }
        }
        for (j, step) in wf.list("steps").iter().enumerate() {
            let at = format!("workflows[{i}].steps[{j}]");
            let sf = Fields::of(step);
            let name = sf.str("name").unwrap_or_default();
            if name.is_empty() {
                return Err(illegal_argument(format!("{at}.name is required")));
            }
            if names.contains(&name.to_string()) {
                return Err(illegal_argument(format!("{at}.name {name} is used twice")));
            }
            names.push(name.to_string());
            if sf.str("executionBlockType") != Some("CustomActionLambda") {
                continue;
            }
            let config = sf
                .get("executionBlockConfiguration")
                .map(Fields::of)
                .and_then(|c| c.get("customActionLambdaConfig").map(Fields::of))
                .ok_or_else(|| {
                    illegal_argument(format!(
                        "{at}: a CustomActionLambda step needs executionBlockConfiguration.customActionLambdaConfig"
                    ))
                })?;
            let lambdas = config.list("lambdas");
            if lambdas.is_empty() || lambdas.len() > 2 {
                return Err(illegal_argument(format!(
                    "{at}.lambdas must list 1 or 2 functions, got {}",
                    lambdas.len()
                )));
            }
            for l in lambdas {
                let arn = Fields::of(l).str("arn").unwrap_or_default();
                let region = arn.split(':').nth(3).unwrap_or_default();
                if !arn.starts_with("arn:") || !arn.contains(":lambda:") {
                    return Err(illegal_argument(format!(
                        "{at}: '{arn}' is not a Lambda function ARN"
                    )));
                }
                if !regions.iter().any(|r| r == region) {
                    return Err(illegal_argument(format!(
                        "{at}: the function {arn} is not in one of the plan's Regions"
                    )));
                }
            }
            let run = config.str("regionToRun").unwrap_or_default();
            let allowed: &[&str] = if action == "postRecovery" {
                &["activeRegion", "inactiveRegion"]
            } else {
                &["activatingRegion", "deactivatingRegion"]
            };
            if !allowed.contains(&run) {
                return Err(illegal_argument(format!(
                    "{at}.regionToRun '{run}' is not one of {allowed:?} for a {action} workflow"
                )));
            }
            match config.f64("retryIntervalMinutes") {
                Some(m) if m > 0.0 => {}
                _ => {
                    return Err(illegal_argument(format!(
                        "{at}.retryIntervalMinutes is required and must be positive"
                    )))
                }
            }
            if config.get("timeoutMinutes").is_some()
                && config.i64("timeoutMinutes").is_none_or(|t| t < 1)
            {
                return Err(illegal_argument(format!(
                    "{at}.timeoutMinutes must be at least 1"
                )));
            }
            if let Some(u) = config.get("ungraceful") {
                let behavior = Fields::of(u).str("behavior");
                if behavior.is_some_and(|b| b != "skip") {
                    return Err(illegal_argument(format!(
                        "{at}.ungraceful.behavior must be skip"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn start_execution(world: &mut World, region: &str, f: &Fields) -> Result<Value, ApiError> {
    let plan_arn = required(f, "planArn")?.to_string();
    let target = required(f, "targetRegion")?.to_string();
    let action = required(f, "action")?.to_string();
    let mode = f.str("mode").unwrap_or("graceful").to_string();
    let plan = world
        .region_switch
        .plans
        .iter()
        .find(|p| p.arn == plan_arn)
        .ok_or_else(|| not_found("Plan", &plan_arn))?;
    if !plan.regions.contains(&target) {
        return Err(illegal_argument(format!(
            "targetRegion {target} is not one of the plan's Regions"
        )));
    }
    if !matches!(action.as_str(), "activate" | "deactivate") {
        return Err(illegal_argument(format!(
            "action {action} is not activate or deactivate"
        )));
    }
    if !matches!(mode.as_str(), "graceful" | "ungraceful") {
        return Err(illegal_argument(format!(
            "mode {mode} is not graceful or ungraceful"
        )));
    }
    if world
        .region_switch
        .executions
        .iter()
        .any(|e| e.plan_arn == plan_arn && !TERMINAL.contains(&e.state.as_str()))
    {
        return Err(ApiError::new(
            "ConflictException",
            409,
            "The plan has an execution in progress",
        ));
    }
    let id = world.rng.uuid();
    world.region_switch.executions.push(Execution {
        plan_arn: plan_arn.clone(),
        id: id.clone(),
        action,
        region: target,
        mode,
        state: "inProgress".into(),
        start: world.now,
        end: None,
        comment: f.str("comment").map(str::to_string),
        home: region.to_string(),
        steps: Vec::new(),
    });
    Ok(cbor::map(vec![
        ("executionId", cbor::text(id)),
        ("plan", cbor::text(plan_arn)),
    ]))
}

fn find<'a>(world: &'a mut World, f: &Fields) -> Result<&'a mut Execution, ApiError> {
    let plan_arn = required(f, "planArn")?;
    let id = required(f, "executionId")?;
    world
        .region_switch
        .executions
        .iter_mut()
        .find(|e| e.plan_arn == plan_arn && e.id == id)
        .ok_or_else(|| not_found("Execution", id))
}

fn get_execution(world: &mut World, region: &str, f: &Fields) -> Result<Value, ApiError> {
    let now = world.now;
    let home_only =
        world.variants.plan_execution_reads == crate::config::PlanExecutionReads::StartingRegion;
    let e = find(world, f)?;
    if home_only && e.home != region {
        return Err(not_found("Execution", &e.id.clone()));
    }
    let mut entries = vec![
        ("planArn", cbor::text(e.plan_arn.clone())),
        ("executionId", cbor::text(e.id.clone())),
        ("startTime", cbor::timestamp(e.start)),
        ("updatedAt", cbor::timestamp(now)),
        ("mode", cbor::text(e.mode.clone())),
        ("executionState", cbor::text(e.state.clone())),
        ("executionAction", cbor::text(e.action.clone())),
        ("executionRegion", cbor::text(e.region.clone())),
    ];
    if let Some(end) = e.end {
        entries.push(("endTime", cbor::timestamp(end)));
    }
    if let Some(c) = &e.comment {
        entries.push(("comment", cbor::text(c.clone())));
    }
    let steps = e
        .steps
        .iter()
        .map(|(name, status, start)| {
            cbor::map(vec![
                ("name", cbor::text(name.clone())),
                ("status", cbor::text(status.clone())),
                ("startTime", cbor::timestamp(*start)),
                ("stepMode", cbor::text(e.mode.clone())),
            ])
        })
        .collect();
    entries.push(("stepStates", Value::Array(steps)));
    Ok(cbor::map(entries))
}

/// The execution's state as Region switch moves it: the harness's engine
/// sets completed or pausedByFailedStep; an operator pauses, resumes or
/// changes the mode.
fn update_execution(world: &mut World, f: &Fields) -> Result<Value, ApiError> {
    let action = required(f, "action")?.to_string();
    let now = world.now;
    let e = find(world, f)?;
    if TERMINAL.contains(&e.state.as_str()) {
        return Err(ApiError::new(
            "IllegalStateException",
            400,
            format!("The execution is {}", e.state),
        ));
    }
    let (state, end) = match action.as_str() {
        "pause" => ("pausedByOperator", false),
        "resume" => ("inProgress", false),
        "switchToUngraceful" | "switchToGraceful" => {
            e.mode = if action == "switchToUngraceful" {
                "ungraceful".into()
            } else {
                "graceful".into()
            };
            return Ok(cbor::map(vec![]));
        }
        // Not AWS actions: how the harness's engine reports a block's outcome.
        "emulatorStepStarted" => {
            // The step's name comes as the comment: the engine's own channel.
            let name = f.str("comment").unwrap_or_default().to_string();
            if !e.steps.iter().any(|(n, _, _)| *n == name) {
                e.steps.push((name, "running".into(), now));
            }
            return Ok(cbor::map(vec![]));
        }
        "emulatorComplete" => ("completed", true),
        "emulatorStepFailed" => ("pausedByFailedStep", false),
        other => return Err(illegal_argument(format!("action {other} is not supported"))),
    };
    e.state = state.into();
    if end {
        e.end = Some(now);
    }
    Ok(cbor::map(vec![]))
}
