//! Plays ARC Region switch over a plan held by the emulator: picks the
//! workflow an execution runs, and runs its Lambda blocks as Region switch
//! would, under each reading of what AWS leaves undocumented.
//!
//! Documented and modelled: the block invokes the plan Region's function
//! chosen by `regionToRun`; a JSON-object payload gets the execution metadata
//! merged in (the payload's own keys win); `retryIntervalMinutes` and
//! `timeoutMinutes`. Undocumented, so both readings are played: whether an
//! error means "invoke again after the retry interval" or fails the step at
//! once (the execution pauses until the operator resumes it), and whether an
//! ungraceful execution skips every Lambda block (the user guide) or only
//! those configured `ungraceful.behavior: skip` (the API model).

use crate::KitError;
use aws_sdk_arcregionswitch as arc;
use serde_json::{json, Map, Value};
use std::future::Future;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorReading {
    /// An error is "not yet": invoked again after the retry interval.
    RetryAfterInterval,
    /// An error fails the step: the execution pauses; the operator resumes it.
    PauseForOperator,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UngracefulReading {
    /// "In ungraceful execution mode, Region switch skips the Lambda execution block step."
    SkipEveryLambdaBlock,
    /// Only blocks configured `ungraceful.behavior: skip` are skipped.
    SkipWhenConfigured,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepOutcome {
    Completed(Value),
    Skipped,
    /// The step failed for good (timed out, or no function to run).
    Failed(String),
}

#[derive(Clone, Debug)]
pub struct StepRun {
    pub name: String,
    pub function_arn: Option<String>,
    pub invocations: u32,
    /// The last errors (up to 5) the step raised before its outcome, in order.
    pub errors: Vec<String>,
    pub outcome: StepOutcome,
}

/// The emulated clock, as the engine needs it.
pub trait Clock {
    fn now(&self) -> f64;
    fn advance(&self, seconds: f64);
}

fn sdk(operation: &'static str, e: impl std::error::Error) -> KitError {
    KitError::sdk(operation, e)
}

/// Runs the execution's workflow; invokes each function through `invoke`
/// (the function's ARN and the event). Marks the execution completed, or
/// paused by a failed step, in the emulator.
pub async fn play<F, Fut>(
    client: &arc::Client,
    plan_arn: &str,
    execution_id: &str,
    errors: ErrorReading,
    ungraceful: UngracefulReading,
    clock: &dyn Clock,
    invoke: F,
) -> Result<Vec<StepRun>, KitError>
where
    F: Fn(String, Value) -> Fut,
    Fut: Future<Output = Result<Value, String>>,
{
    let execution = client
        .get_plan_execution()
        .plan_arn(plan_arn)
        .execution_id(execution_id)
        .send()
        .await
        .map_err(|e| sdk("GetPlanExecution", e))?;
    let plan = client
        .get_plan()
        .arn(plan_arn)
        .send()
        .await
        .map_err(|e| sdk("GetPlan", e))?
        .plan
        .ok_or_else(|| KitError::Emulator("GetPlan answered without a plan".into()))?;
    let action = execution.execution_action().as_str().to_string();
    let region = execution.execution_region().to_string();
    let ungraceful_mode = execution.mode().as_str() == "ungraceful";
    let other = plan
        .regions()
        .iter()
        .find(|r| **r != region)
        .cloned()
        .unwrap_or_default();
    let (activating, deactivating) = if action == "activate" {
        (region.clone(), other)
    } else {
        (other, region.clone())
    };
    let workflow = plan
        .workflows()
        .iter()
        .find(|w| {
            w.workflow_target_action().as_str() == action
                && w.workflow_target_region().is_none_or(|r| r == region)
        })
        .ok_or_else(|| KitError::Emulator(format!("no {action} workflow for {region}")))?;

    let mut runs = Vec::new();
    let mut failed = false;
    for step in workflow.steps() {
        let Some(arc::types::ExecutionBlockConfiguration::CustomActionLambdaConfig(config)) =
            step.execution_block_configuration()
        else {
            continue;
        };
        let configured_skip = config
            .ungraceful()
            .map(|u| u.behavior())
            .is_some_and(|b| b.as_str() == "skip");
        if ungraceful_mode
            && (ungraceful == UngracefulReading::SkipEveryLambdaBlock || configured_skip)
        {
            runs.push(StepRun {
                name: step.name().to_string(),
                function_arn: None,
                invocations: 0,
                errors: Vec::new(),
                outcome: StepOutcome::Skipped,
            });
            continue;
        }
        let run_in = match config.region_to_run().as_str() {
            "activatingRegion" => &activating,
            _ => &deactivating,
        };
        let function = config
            .lambdas()
            .iter()
            .find(|l| l.arn().and_then(|a| a.split(':').nth(3)) == Some(run_in.as_str()));
        let Some(function) = function else {
            runs.push(StepRun {
                name: step.name().to_string(),
                function_arn: None,
                invocations: 0,
                errors: Vec::new(),
                outcome: StepOutcome::Failed(format!("the step lists no function in {run_in}")),
            });
            failed = true;
            break;
        };
        let arn = function.arn().unwrap_or_default().to_string();
        update(
            client,
            plan_arn,
            execution_id,
            "emulatorStepStarted",
            Some(step.name()),
        )
        .await?;
        let event = event(function.payload(), plan_arn, execution_id, step.name());
        let started = clock.now();
        let timeout = f64::from(config.timeout_minutes().max(1)) * 60.0;
        let mut run = StepRun {
            name: step.name().to_string(),
            function_arn: Some(arn.clone()),
            invocations: 0,
            errors: Vec::new(),
            outcome: StepOutcome::Skipped,
        };
        loop {
            run.invocations += 1;
            match invoke(arn.clone(), event.clone()).await {
                Ok(v) => {
                    run.outcome = StepOutcome::Completed(v);
                    break;
                }
                Err(e) => {
                    // The last few are enough to read; a long step would fill pages.
                    if run.errors.len() == 5 {
                        run.errors.remove(0);
                    }
                    run.errors.push(e.clone());
                    if clock.now() - started >= timeout {
                        run.outcome = StepOutcome::Failed(format!("timed out: {e}"));
                        break;
                    }
                    if errors == ErrorReading::PauseForOperator {
                        update(client, plan_arn, execution_id, "emulatorStepFailed", None).await?;
                        update(client, plan_arn, execution_id, "resume", None).await?;
                    }
                    clock.advance(f64::from(config.retry_interval_minutes()) * 60.0);
                }
            }
        }
        failed = matches!(run.outcome, StepOutcome::Failed(_));
        runs.push(run);
        if failed {
            break;
        }
    }
    let state = if failed {
        "emulatorStepFailed"
    } else {
        "emulatorComplete"
    };
    update(client, plan_arn, execution_id, state, None).await?;
    Ok(runs)
}

/// The block's payload with the metadata merged in, as Region switch sends it.
fn event(payload: Option<&str>, plan: &str, execution: &str, step: &str) -> Value {
    let metadata = json!({
        "InvokedBy": "ARC Region switch",
        "PlanArn": plan,
        "ExecutionId": execution,
        "StepName": step,
    });
    let parsed = payload.map(|p| serde_json::from_str::<Value>(p).unwrap_or(Value::from(p)));
    match parsed {
        None => metadata,
        Some(Value::Object(own)) => {
            let mut merged: Map<String, Value> = metadata.as_object().cloned().unwrap_or_default();
            merged.extend(own);
            Value::Object(merged)
        }
        // Any other JSON goes to the function unchanged, without metadata.
        Some(other) => other,
    }
}

async fn update(
    client: &arc::Client,
    plan_arn: &str,
    execution_id: &str,
    action: &str,
    comment: Option<&str>,
) -> Result<(), KitError> {
    client
        .update_plan_execution()
        .plan_arn(plan_arn)
        .execution_id(execution_id)
        .action(action.into())
        .set_comment(comment.map(str::to_string))
        .send()
        .await
        .map_err(|e| sdk("UpdatePlanExecution", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_wins_and_non_objects_pass_unchanged() {
        let e = event(Some(r#"{"StepName": "mine", "x": 1}"#), "p", "e", "s");
        assert_eq!(e["StepName"], "mine");
        assert_eq!(e["PlanArn"], "p");
        assert_eq!(e["x"], 1);
        assert_eq!(event(Some("[1,2]"), "p", "e", "s"), json!([1, 2]));
        assert_eq!(event(None, "p", "e", "s")["ExecutionId"], "e");
    }
}
