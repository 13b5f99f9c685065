//! mount-target-ensure: keep mount targets and access points ready on the replica.
//! Triggers: direct invoke, the readiness schedule (EventBridge), Step Functions.

#![recursion_limit = "256"]

use efs_dr_aws::lambda;
use efs_dr_aws::AwsContext;
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::workflows::mount_target_ensure as readiness;
use efs_dr_shared::Error;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let aws = AwsContext::load().await;
    let config = Config::from_env().map_err(|e| e.to_string());
    lambda::serve("mount-target-ensure", |event, remaining| {
        let (aws, config) = (&aws, &config);
        async move {
            let config = config
                .as_ref()
                .map_err(|e| Error::InvalidInput(e.clone()))?;
            readiness::handle_event(aws, config, event, remaining).await
        }
    })
    .await
}
