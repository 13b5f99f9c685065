//! The `RegionSwitch` port over aws-sdk-arcregionswitch: what a plan
//! execution asks of the Lambda block it invoked.

use super::aws_error;
use efs_dr_core::domain::ids::RegionName;
use efs_dr_core::domain::model::PlanExecution;
use efs_dr_core::domain::ports::{AwsResult, RegionSwitch};

#[derive(Clone)]
pub struct RegionSwitchClient {
    client: aws_sdk_arcregionswitch::Client,
    region: RegionName,
}

impl RegionSwitchClient {
    pub fn new(client: aws_sdk_arcregionswitch::Client, region: RegionName) -> Self {
        RegionSwitchClient { client, region }
    }
}

impl RegionSwitch for RegionSwitchClient {
    async fn get_plan_execution(
        &self,
        plan_arn: &str,
        execution_id: &str,
    ) -> AwsResult<PlanExecution> {
        let mut step_starts = Vec::new();
        let mut token: Option<String> = None;
        // Step states come in pages; a plan has few steps, so few pages.
        for _ in 0..20 {
            let out = self
                .client
                .get_plan_execution()
                .plan_arn(plan_arn)
                .execution_id(execution_id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("GetPlanExecution", &self.region, &e))?;
            step_starts.extend(
                out.step_states()
                    .iter()
                    .filter_map(|s| Some((s.name()?.to_string(), s.start_time()?.as_secs_f64()))),
            );
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(PlanExecution {
                    action: out.execution_action().as_str().to_string(),
                    region: out.execution_region().to_string(),
                    mode: out.mode().as_str().to_string(),
                    state: out.execution_state().as_str().to_string(),
                    start_time: Some(out.start_time().as_secs_f64()),
                    step_starts,
                });
            }
        }
        Err(efs_dr_core::domain::error::AwsError {
            operation: "GetPlanExecution",
            region: self.region.to_string(),
            kind: efs_dr_core::domain::error::AwsErrorKind::Other,
            code: None,
            status: None,
            message: "more than 20 pages of step states".into(),
        })
    }
}
