//! A Lambda Invoke API on loopback that runs the function handlers in
//! process, so the emulator's SNS subscriptions reach them as they would in AWS.

use efs_dr_aws::AwsContext;
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::workflows::functions;
use efs_dr_testkit::invoke_api::{function_name, serve_async_invokes};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One invocation and what the handler answered.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub function: String,
    pub result: Result<Value, String>,
}

pub type Log = Arc<Mutex<Vec<Invocation>>>;

pub async fn dispatch(
    aws: &AwsContext,
    config: &Config,
    function: &str,
    event: Value,
) -> Result<Value, String> {
    match functions::dispatch(aws, config, function, event, None).await {
        Some(r) => r.map_err(|e| format!("{}: {e}", e.error_type())),
        None => Err(format!("no function named {function}")),
    }
}

/// Serves the Lambda Invoke API for the four handlers; returns its URL.
pub async fn serve(aws: AwsContext, config: Config, log: Log) -> std::io::Result<String> {
    let shared = Arc::new((aws, config, log));
    serve_async_invokes(move |path, body| {
        let function = function_name(&path).to_string();
        let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let shared = shared.clone();
        // Asynchronous invocation, as SNS makes it: accepted now, run in the background.
        tokio::spawn(async move {
            let (aws, config, log) = &*shared;
            let result = dispatch(aws, config, &function, event).await;
            if let Ok(mut l) = log.lock() {
                l.push(Invocation { function, result });
            }
        });
    })
    .await
}
