//! A Lambda Invoke API on loopback that runs the function handlers in
//! process, so the emulator's SNS subscriptions reach them as they would in AWS.

use efs_dr_shared::aws::AwsContext;
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::workflows::{
    failback, failover, lag_alarm as lag, mount_target_ensure as readiness,
};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::SocketAddr;
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
    let r = match function {
        "failover" => failover::handle_event(aws, config, event, None).await,
        "failback" => failback::handle_event(aws, config, event, None).await,
        "mount-target-ensure" => readiness::handle_event(aws, config, event, None).await,
        "lag-alarm-handler" => lag::handle_event(aws, config, event).await,
        other => return Err(format!("no function named {other}")),
    };
    r.map_err(|e| format!("{}: {e}", e.error_type()))
}

/// Serves `POST /2015-03-31/functions/{name}/invocations`; returns its URL.
pub async fn serve(aws: AwsContext, config: Config, log: Log) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let shared = Arc::new((aws, config, log));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let shared = shared.clone();
                        async move {
                            let function =
                                req.uri().path().split('/').nth(3).unwrap_or("").to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            // Asynchronous invocation, as SNS makes it: accept now, run in the background.
                            tokio::spawn(async move {
                                let (aws, config, log) = &*shared;
                                let result = dispatch(aws, config, &function, event).await;
                                if let Ok(mut l) = log.lock() {
                                    l.push(Invocation { function, result });
                                }
                            });
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(202)
                                    .body(Full::new(bytes::Bytes::new()))
                                    .unwrap_or_else(|_| {
                                        hyper::Response::new(Full::new(bytes::Bytes::new()))
                                    }),
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(url)
}
