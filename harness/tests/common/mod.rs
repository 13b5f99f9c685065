#![allow(dead_code)]
//! Shared by the end-to-end suites: a time-scaled emulator and the built
//! function binaries behind the Lambda Invoke API.

use aws_sdk_efs::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use efs_dr_emulator::{start, ClockMode, EmulatorConfig, EmulatorHandle};
use efs_dr_harness::{target_bin_dir, FunctionRuntime, Lambda};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SCALE: f64 = 300.0;

/// The suites time real processes against a time-scaled emulator: run them one
/// at a time so that they do not starve each other of the two cores.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Env {
    pub emu: EmulatorHandle,
    pub sdk: aws_config::SdkConfig,
}

impl Env {
    pub async fn new() -> Env {
        let emu = start(
            EmulatorConfig {
                clock: ClockMode::Scaled { scale: SCALE },
                ..Default::default()
            },
            "127.0.0.1:0".parse().expect("addr"),
        )
        .await
        .expect("emulator");
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-west-2"))
            .endpoint_url(emu.url())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKID", "secret", None, None, "e2e",
            )))
            .build();
        Env { emu, sdk }
    }

    pub fn efs(&self, region: &str) -> aws_sdk_efs::Client {
        aws_sdk_efs::Client::from_conf(
            aws_sdk_efs::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    pub async fn pair(&self, token: &str) -> (String, String) {
        let east = self.efs("us-east-1");
        let src = east
            .create_file_system()
            .creation_token(token)
            .encrypted(true)
            .send()
            .await
            .expect("fs")
            .file_system_id;
        self.emu.shared.advance(15.0);
        let out = east
            .create_replication_configuration()
            .source_file_system_id(&src)
            .destinations(
                aws_sdk_efs::types::DestinationToCreate::builder()
                    .region("us-west-2")
                    .build(),
            )
            .send()
            .await
            .expect("replicate");
        self.emu.shared.advance(700.0);
        (src, out.destinations()[0].file_system_id().to_string())
    }

    pub async fn protection(&self, fs: &str) -> String {
        let out = self
            .efs("us-west-2")
            .describe_file_systems()
            .file_system_id(fs)
            .send()
            .await
            .expect("describe");
        out.file_systems()[0]
            .file_system_protection()
            .and_then(|p| p.replication_overwrite_protection())
            .map(|p| p.as_str().to_string())
            .unwrap_or_default()
    }
}

pub async fn functions(env: &Env, extra: &[(&str, String)]) -> Lambda {
    let bin = target_bin_dir();
    let mut vars: Vec<(String, String)> = vec![
        ("AWS_ENDPOINT_URL".into(), env.emu.url()),
        ("AWS_REGION".into(), "us-west-2".into()),
        ("AWS_ACCESS_KEY_ID".into(), "AKID".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "secret".into()),
        ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("EFS_DR_SOURCE_REGION".into(), "us-east-1".into()),
        // About 20 emulated seconds between polls.
        ("EFS_DR_POLL_MS".into(), "70".into()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let mut map = HashMap::new();
    for name in [
        "failover",
        "failback",
        "mount-target-ensure",
        "lag-alarm-handler",
    ] {
        let path = bin.join(name);
        assert!(
            path.exists(),
            "{} is built (cargo build --workspace --bins)",
            path.display()
        );
        map.insert(
            name.to_string(),
            Arc::new(
                FunctionRuntime::start(name, &path, &[], &vars)
                    .await
                    .expect("start function"),
            ),
        );
    }
    let lambda = Lambda::serve(map).await.expect("invoke api");
    env.emu.shared.set_lambda_endpoint(Some(lambda.url.clone()));
    lambda
}

pub async fn until(what: &str, secs: u64, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
