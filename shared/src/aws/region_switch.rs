//! The `RegionSwitch` port over aws-sdk-arcregionswitch: what a plan
//! execution asks of the Lambda block it invoked.

use super::aws_error;
use crate::domain::ids::RegionName;
use crate::domain::ports::{AwsResult, RegionSwitch};
use crate::workflows::region_switch::PlanExecution;

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
        let out = self
            .client
            .get_plan_execution()
            .plan_arn(plan_arn)
            .execution_id(execution_id)
            // Step states are not needed: one page of them is the least to ask for.
            .max_results(1)
            .send()
            .await
            .map_err(|e| aws_error("GetPlanExecution", &self.region, &e))?;
        Ok(PlanExecution {
            action: out.execution_action().as_str().to_string(),
            region: out.execution_region().to_string(),
            mode: out.mode().as_str().to_string(),
            state: out.execution_state().as_str().to_string(),
            start_time: Some(out.start_time().as_secs_f64()),
        })
    }
}
