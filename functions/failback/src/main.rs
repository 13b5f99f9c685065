//! failback: return to the original Region, keeping what was written during the outage.
//! Triggers: direct invoke, SNS, Step Functions steps.

#![recursion_limit = "256"]

use efs_dr_aws::lambda;
use efs_dr_aws::AwsContext;
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::workflows::failback;
use efs_dr_shared::Error;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::from_env().map_err(|e| e.to_string());
    // Across accounts, the production role is assumed when first used.
    let aws = AwsContext::load()
        .await
        .for_config(config.as_ref().ok())
        .await;
    lambda::serve("failback", |event, remaining| {
        let (aws, config) = (&aws, &config);
        async move {
            let config = config
                .as_ref()
                .map_err(|e| Error::InvalidInput(e.clone()))?;
            failback::handle_event(aws, config, event, remaining).await
        }
    })
    .await
}
