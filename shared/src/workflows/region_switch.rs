//! ARC Region switch: the failover and failback functions as a plan's
//! custom-action Lambda block.
//!
//! Region switch invokes the function with the execution metadata
//! (`InvokedBy`, `PlanArn`, `ExecutionId`, `StepName`) merged into the
//! block's payload. What the execution does (activate or deactivate, which
//! Region, graceful or ungraceful) is read back with GetPlanExecution, never
//! guessed from the step's name. AWS does not document how a block reports
//! "still working"; the safe reading is that a normal return means done, so
//! the function returns only when its work is complete and otherwise raises
//! `InProgress` for Region switch to invoke it again after the retry interval.
//! Every invocation is an idempotent pass.

use crate::domain::error::{Error, Refusal, Result};
use crate::domain::ids::RegionName;
use crate::domain::ports::{Platform, RegionSwitch};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The execution a step works for, and where it was read: the workflow
/// reads it again before every pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionRef {
    pub plan_arn: String,
    pub execution_id: String,
    pub region: RegionName,
}

/// States in which a step must not change anything more.
const STOPPED: [&str; 8] = [
    "canceled",
    "pausedByOperator",
    "pausedByFailedStep",
    "failed",
    "planExecutionTimedOut",
    "completed",
    "completedWithExceptions",
    "completedMonitoringApplicationHealth",
];

/// Refuses the next pass when the execution has been cancelled, paused or
/// has ended since the step began: a wait inside one invocation (a graceful
/// failover's final sync, say) never outlasts a cancel by more than one pass.
pub async fn still_running<P: Platform>(platform: &P, x: &ExecutionRef) -> Result<()> {
    let e = platform
        .region_switch(&x.region)
        .get_plan_execution(&x.plan_arn, &x.execution_id)
        .await?;
    if STOPPED.contains(&e.state.as_str()) {
        return Err(Error::Refused(Refusal {
            guardrail: "RegionSwitchStopped",
            message: format!(
                "the Region switch execution {} is {}: stopped before the next change",
                x.execution_id, e.state
            ),
            remedy: "resume the execution (it invokes this step again) or start a new one; what was done so far is kept and a re-run continues from it".into(),
        }));
    }
    Ok(())
}

/// The metadata keys Region switch merges into the payload.
const METADATA: [&str; 4] = ["InvokedBy", "PlanArn", "ExecutionId", "StepName"];

#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub plan_arn: String,
    pub execution_id: String,
    pub step_name: Option<String>,
    /// The block's own payload: request fields for the workflow.
    pub payload: Map<String, Value>,
}

pub use crate::domain::model::PlanExecution;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Failover,
    Failback,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Failover => "failover",
            Role::Failback => "failback",
        }
    }
}

/// The invocation, if the event is one from Region switch: an object with
/// any of the metadata keys (no request has them), which must then carry
/// `PlanArn` and `ExecutionId`.
pub fn invocation(event: &Value) -> Result<Option<Invocation>> {
    let Some(obj) = event.as_object() else {
        return Ok(None);
    };
    if !METADATA.iter().any(|k| obj.contains_key(*k)) {
        return Ok(None);
    }
    let text = |key: &str| -> Result<String> {
        obj.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "Region switch invocation: field {key} is missing or not a string; \
                     the event needs both PlanArn and ExecutionId, as Region switch sends them"
                ))
            })
    };
    let plan_arn = text("PlanArn")?;
    let execution_id = text("ExecutionId")?;
    let payload = obj
        .iter()
        .filter(|(k, _)| !METADATA.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Some(Invocation {
        plan_arn,
        execution_id,
        step_name: obj
            .get("StepName")
            .and_then(Value::as_str)
            .map(str::to_string),
        payload,
    }))
}

/// Whether this function acts on the execution. The functions live in the
/// DR Region: failover acts when the execution activates the DR Region (or
/// deactivates another Region), failback when it activates another Region
/// (or deactivates the DR Region). Anything else changes nothing.
pub fn decide(role: Role, execution: &PlanExecution, dr_region: &RegionName) -> Result<()> {
    const TERMINAL: [&str; 6] = [
        "completed",
        "completedWithExceptions",
        "completedMonitoringApplicationHealth",
        "canceled",
        "failed",
        "planExecutionTimedOut",
    ];
    if TERMINAL.contains(&execution.state.as_str()) {
        return Err(Error::InvalidInput(format!(
            "the Region switch execution is {}: nothing was changed; start a new execution to {} again",
            execution.state,
            role.name()
        )));
    }
    let here = execution.region == dr_region.as_str();
    let wanted = match (execution.action.as_str(), role) {
        ("activate", Role::Failover) | ("deactivate", Role::Failback) => here,
        ("deactivate", Role::Failover) | ("activate", Role::Failback) => !here,
        _ => false,
    };
    if wanted {
        return Ok(());
    }
    let fits = match role {
        Role::Failover => format!("the workflow that activates {dr_region}"),
        Role::Failback => {
            format!("the workflow that activates the primary Region (not {dr_region})")
        }
    };
    Err(Error::InvalidInput(format!(
        "this Region switch execution does {} {}, but the {} function serves {fits}: nothing was changed; \
         move this step to that workflow",
        execution.action,
        execution.region,
        role.name()
    )))
}

/// The workflow request for an accepted invocation: the block's payload over
/// the defaults (execute, run to completion). The mark is when this step
/// began. A graceful failover promotes only after a sync completed after it
/// (everything written before it is on the replica); an ungraceful one does
/// not wait for a Region that failed. A failback cuts over once everything
/// written to the replica before the mark is on the original; what is
/// written after it is preserved in a backup before the replica is
/// overwritten, never lost.
pub fn request(
    role: Role,
    invocation: &Invocation,
    execution: &PlanExecution,
    read_in: &RegionName,
) -> Value {
    // The mark: when this step began (Region switch starts a step once the
    // steps before it, which stop writers, are done), else when the execution did.
    let step_start = execution.step_start(invocation.step_name.as_deref());
    let mark = step_start.or(execution.start_time);
    let mut r = Map::new();
    r.insert("mode".into(), Value::from("execute"));
    r.insert("run_mode".into(), Value::from("to_completion"));
    r.insert(
        "reason".into(),
        Value::from(format!(
            "Region switch {} of {} ({} mode), execution {}; mark {} ({})",
            execution.action,
            execution.region,
            execution.mode,
            invocation.execution_id,
            mark.map(crate::domain::time::iso8601)
                .unwrap_or_else(|| "none".into()),
            if step_start.is_some() {
                "when this step began"
            } else {
                "the execution's start: Region switch reported no start for this step"
            }
        )),
    );
    match (role, mark) {
        (Role::Failback, _) => {
            r.insert("strategy".into(), Value::from("keep_changes"));
            r.insert("cutover".into(), Value::from(true));
            if let Some(t) = mark {
                r.insert("cutover_mark".into(), Value::from(t));
            }
        }
        (Role::Failover, Some(t)) if execution.mode == "graceful" => {
            r.insert("synced_after".into(), Value::from(t));
        }
        (Role::Failover, _) => {}
    }
    for (k, v) in &invocation.payload {
        r.insert(k.clone(), v.clone());
    }
    r.insert(
        "region_switch_execution".into(),
        serde_json::json!({
            "plan_arn": invocation.plan_arn,
            "execution_id": invocation.execution_id,
            "region": read_in,
        }),
    );
    Value::Object(r)
}

/// Resolves a Region switch event into the workflow's request, or `None` if
/// the event is not from Region switch. Reads the execution in the DR Region,
/// and in the primary Region(s) if the DR Region does not know it (AWS does
/// not say whether an execution is readable outside the Region it ran from).
pub async fn resolve<P: Platform>(
    platform: &P,
    role: Role,
    config: &crate::domain::config::Config,
    event: &Value,
) -> Result<Option<Value>> {
    let Some(invocation) = invocation(event)? else {
        return Ok(None);
    };
    let Some(dr_region) = config.destination_region.as_ref() else {
        return Err(Error::InvalidInput(
            "a Region switch invocation needs the DR Region: set AWS_REGION".into(),
        ));
    };
    let mut regions = vec![dr_region.clone()];
    for r in config
        .source_region
        .iter()
        .chain(config.pairs.iter().filter_map(|p| p.source_region.as_ref()))
    {
        if !regions.contains(r) {
            regions.push(r.clone());
        }
    }
    let mut found = None;
    let mut first_error = None;
    for region in &regions {
        match platform
            .region_switch(region)
            .get_plan_execution(&invocation.plan_arn, &invocation.execution_id)
            .await
        {
            Ok(e) => {
                found = Some((e, region.clone()));
                break;
            }
            // Which error another Region gives for an execution it does not
            // serve is not documented: any refusal moves on; a transient
            // error is raised, and Region switch invokes the step again.
            Err(e) if !e.kind.is_transient() => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let Some((execution, read_in)) = found else {
        return Err(match first_error {
            Some(e) => e.into(),
            None => Error::Topology("no Region to read the Region switch execution in".into()),
        });
    };
    tracing::info!(
        plan = %invocation.plan_arn,
        execution = %invocation.execution_id,
        step = invocation.step_name.as_deref().unwrap_or(""),
        action = %execution.action,
        region = %execution.region,
        mode = %execution.mode,
        state = %execution.state,
        "Region switch invocation"
    );
    decide(role, &execution, dr_region)?;
    Ok(Some(request(role, &invocation, &execution, &read_in)))
}

/// The event as the workflow's request, and whether it came from Region switch.
pub async fn request_for<P: Platform>(
    platform: &P,
    role: Role,
    config: &crate::domain::config::Config,
    event: Value,
) -> Result<(Value, bool)> {
    match resolve(platform, role, config, &event).await? {
        Some(request) => Ok((request, true)),
        None => Ok((event, false)),
    }
}

/// Region switch reads a normal return as done, so only a completed run
/// returns: one still going raises `InProgress` (Region switch invokes the step
/// again after its retry interval), and a refused or failed one raises its
/// error, so that traffic never moves to a file system that is not writable.
pub fn finished(summary: &crate::run::summary::RunSummary) -> Result<()> {
    use crate::run::report::Status;
    if !summary.done {
        return Err(Error::Reported {
            error_type: "InProgress".into(),
            message: format!(
                "{} (not finished; Region switch invokes this step again after its retry interval)",
                summary.summary
            ),
        });
    }
    if summary
        .results
        .iter()
        .all(|r| r.status == Status::Completed)
    {
        return Ok(());
    }
    Err(match summary.first_error() {
        Error::Topology(_) => Error::Reported {
            error_type: "NotCompleted".into(),
            message: summary.summary.clone(),
        },
        e => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exec(action: &str, region: &str, state: &str) -> PlanExecution {
        PlanExecution {
            action: action.into(),
            region: region.into(),
            mode: "graceful".into(),
            state: state.into(),
            start_time: Some(100.0),
            step_starts: vec![("efs-dr-failback".into(), 160.0)],
        }
    }

    #[test]
    fn metadata_is_split_from_the_payload() {
        let event = json!({"InvokedBy": "ARC Region switch", "PlanArn": "arn:p", "ExecutionId": "e-1", "StepName": "efs-dr-failover", "max_rpo_seconds": 60});
        let inv = invocation(&event).unwrap().unwrap();
        assert_eq!(inv.plan_arn, "arn:p");
        assert_eq!(inv.execution_id, "e-1");
        assert_eq!(inv.step_name.as_deref(), Some("efs-dr-failover"));
        assert_eq!(Value::Object(inv.payload), json!({"max_rpo_seconds": 60}));
        assert_eq!(invocation(&json!({"mode": "plan"})).unwrap(), None);
        let broken = invocation(&json!({"PlanArn": "arn:p"}))
            .unwrap_err()
            .to_string();
        assert!(broken.contains("ExecutionId"), "{broken}");
    }

    #[test]
    fn each_function_acts_only_for_its_direction() {
        let dr = RegionName::parse("us-west-2").unwrap();
        let table = [
            (Role::Failover, "activate", "us-west-2", true),
            (Role::Failover, "deactivate", "us-east-1", true),
            (Role::Failover, "activate", "us-east-1", false),
            (Role::Failover, "deactivate", "us-west-2", false),
            (Role::Failover, "postRecovery", "us-west-2", false),
            (Role::Failback, "activate", "us-east-1", true),
            (Role::Failback, "deactivate", "us-west-2", true),
            (Role::Failback, "activate", "us-west-2", false),
            (Role::Failback, "deactivate", "us-east-1", false),
        ];
        for (role, action, region, acts) in table {
            let got = decide(role, &exec(action, region, "inProgress"), &dr);
            assert_eq!(got.is_ok(), acts, "{role:?} {action} {region}: {got:?}");
        }
        let over = decide(
            Role::Failover,
            &exec("activate", "us-west-2", "canceled"),
            &dr,
        );
        assert!(over.unwrap_err().to_string().contains("canceled"));
    }

    #[test]
    fn the_payload_wins_over_the_defaults() {
        let inv = invocation(
            &json!({"PlanArn": "p", "ExecutionId": "e", "preserve": "always", "cutover": false}),
        )
        .unwrap()
        .unwrap();
        let west = RegionName::parse("us-west-2").unwrap();
        let r = request(
            Role::Failback,
            &inv,
            &exec("activate", "us-east-1", "inProgress"),
            &west,
        );
        assert_eq!(r["region_switch_execution"]["execution_id"], "e");
        assert_eq!(r["region_switch_execution"]["region"], "us-west-2");
        assert_eq!(r["strategy"], "keep_changes");
        assert_eq!(r["cutover"], false);
        assert_eq!(r["cutover_mark"], 100.0);
        assert_eq!(r["preserve"], "always");
        assert_eq!(r["mode"], "execute");
        let f = request(
            Role::Failover,
            &inv,
            &exec("activate", "us-west-2", "inProgress"),
            &west,
        );
        assert!(f.get("strategy").is_none());
        assert_eq!(f["synced_after"], 100.0, "graceful: a sync after the mark");
        let mut ungraceful = exec("activate", "us-west-2", "inProgress");
        ungraceful.mode = "ungraceful".into();
        let f = request(Role::Failover, &inv, &ungraceful, &west);
        assert!(
            f.get("synced_after").is_none(),
            "no waiting for a failed Region"
        );
        // The step's own start is the mark when Region switch reports it.
        let mut stepped = inv.clone();
        stepped.step_name = Some("efs-dr-failback".into());
        let r = request(
            Role::Failback,
            &stepped,
            &exec("activate", "us-east-1", "inProgress"),
            &west,
        );
        assert_eq!(r["cutover_mark"], 160.0);
    }
}
