//! lag-alarm-handler: replication health from the DR Region, and alarm-driven failover.
//! Triggers: the scheduled probe (EventBridge), alarm notifications through SNS,
//! and CloudWatch alarm actions invoking it directly.

#![recursion_limit = "256"]

use efs_dr_aws::lambda;
use efs_dr_aws::AwsContext;
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::workflows::lag_alarm as lag;
use efs_dr_shared::Error;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let aws = AwsContext::load().await;
    let config = Config::from_env().map_err(|e| e.to_string());
    lambda::serve("lag-alarm-handler", |event, remaining| {
        let (aws, config) = (&aws, &config);
        async move {
            let config = config
                .as_ref()
                .map_err(|e| Error::InvalidInput(e.clone()))?;
            lag::handle_event_within(aws, config, event, remaining).await
        }
    })
    .await
}
