#![allow(dead_code)]
//! Helpers shared by the emulator's SDK-level tests: an in-process emulator
//! with a manual clock, and real AWS SDK clients pointed at it.

use aws_sdk_efs::config::Region;
use aws_sdk_efs::error::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use efs_dr_emulator::{start, EmulatorConfig, EmulatorHandle};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const EAST: &str = "us-east-1";
pub const WEST: &str = "us-west-2";

pub async fn emulator() -> EmulatorHandle {
    start(
        EmulatorConfig::manual(),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator starts")
}

/// The test kit's SDK configuration for this emulator: the same static
/// credentials and endpoint every tier uses.
fn sdk(emu: &EmulatorHandle) -> aws_config::SdkConfig {
    efs_dr_testkit::sdk_config(emu.url())
}

pub fn efs(emu: &EmulatorHandle, region: &str) -> aws_sdk_efs::Client {
    efs_with(emu, region, 1, None)
}

pub fn efs_with(
    emu: &EmulatorHandle,
    region: &str,
    attempts: u32,
    timeout: Option<Duration>,
) -> aws_sdk_efs::Client {
    let mut timeouts = TimeoutConfig::builder();
    if let Some(t) = timeout {
        timeouts = timeouts.operation_attempt_timeout(t);
    }
    let conf = aws_sdk_efs::config::Builder::from(&sdk(emu))
        .region(Region::new(region.to_string()))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(50)),
        )
        .timeout_config(timeouts.build())
        .build();
    aws_sdk_efs::Client::from_conf(conf)
}

pub fn cloudwatch(emu: &EmulatorHandle, region: &str) -> aws_sdk_cloudwatch::Client {
    let conf = aws_sdk_cloudwatch::config::Builder::from(&sdk(emu))
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_cloudwatch::Client::from_conf(conf)
}

pub fn sns(emu: &EmulatorHandle, region: &str) -> aws_sdk_sns::Client {
    let conf = aws_sdk_sns::config::Builder::from(&sdk(emu))
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sns::Client::from_conf(conf)
}

/// Error code and HTTP status of a failed SDK call.
pub fn code_and_status<E, R>(err: &aws_sdk_efs::error::SdkError<E, R>) -> (String, u16)
where
    E: aws_sdk_efs::error::ProvideErrorMetadata,
    R: std::fmt::Debug + HttpStatus,
{
    let code = err.code().unwrap_or("<none>").to_string();
    let status = err.raw_response().map(|r| r.http_status()).unwrap_or(0);
    (code, status)
}

pub trait HttpStatus {
    fn http_status(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn http_status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Creates a file system and waits (emulated time) until it is available.
pub async fn available_fs(emu: &EmulatorHandle, region: &str, token: &str) -> String {
    let id = efs_dr_testkit::create_file_system(&efs(emu, region), token)
        .await
        .expect("create file system");
    emu.shared.advance(15.0);
    id
}

/// A source in us-east-1 replicating to a new destination in us-west-2, past its initial sync.
pub async fn replicated_pair(emu: &EmulatorHandle) -> (String, String) {
    let source = available_fs(emu, EAST, "source").await;
    let dest = efs_dr_testkit::replicate_to_new(&efs(emu, EAST), &source, WEST)
        .await
        .expect("create replication");
    // File system creation, then the initial sync (defaults: 10 s + 600 s).
    emu.shared.advance(700.0);
    (source, dest)
}

/// A stand-in for the Lambda Invoke API that records every invocation.
pub struct FakeLambda {
    pub url: String,
    pub invocations: Arc<Mutex<Vec<(String, String)>>>,
}

pub async fn fake_lambda() -> FakeLambda {
    let invocations: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = invocations.clone();
    let url = efs_dr_testkit::invoke_api::serve_async_invokes(move |path, body| {
        seen.lock()
            .unwrap()
            .push((path, String::from_utf8_lossy(&body).into_owned()));
    })
    .await
    .expect("invoke api");
    FakeLambda { url, invocations }
}

/// Waits (real time, bounded) until `cond` holds.
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
