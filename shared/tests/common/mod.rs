#![allow(dead_code)]
//! Workflow tests run the real AWS adapters against an in-process emulator
//! whose clock is virtual: every wait of a workflow moves emulated time.

use aws_sdk_efs::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use efs_dr_emulator::{start, EmulatorConfig, EmulatorHandle};
use efs_dr_shared::aws::{AwsContext, AwsSettings};
use efs_dr_shared::config::Config;
use efs_dr_shared::ids::RegionName;
use efs_dr_shared::runner::Backoff;
use efs_dr_shared::testing::{MutationBudget, TestPlatform, VirtualClock};
use std::time::Duration;

pub const EAST: &str = "us-east-1";
pub const WEST: &str = "us-west-2";

pub struct World {
    pub emu: EmulatorHandle,
    pub sdk: aws_config::SdkConfig,
}

pub async fn world() -> World {
    world_with(EmulatorConfig::manual()).await
}

pub async fn world_with(config: EmulatorConfig) -> World {
    let emu = start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator");
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(WEST))
        .endpoint_url(emu.url())
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKID", "secret", None, None, "test",
        )))
        .build();
    World { emu, sdk }
}

pub fn region(r: &str) -> RegionName {
    RegionName::parse(r).expect("region")
}

impl World {
    pub fn platform(&self, budget: MutationBudget) -> TestPlatform<AwsContext> {
        let settings = AwsSettings {
            attempt_timeout: Duration::from_secs(2),
            operation_timeout: Duration::from_secs(10),
            source_timeout: Duration::from_secs(1),
            max_attempts: 4,
        };
        let (now, adv) = (self.emu.shared.clone(), self.emu.shared.clone());
        TestPlatform {
            inner: AwsContext::from_sdk_config(self.sdk.clone(), settings),
            clock: VirtualClock::new(move || now.now(), move |s| adv.advance(s)),
            budget,
        }
    }

    pub fn config(&self) -> Config {
        Config {
            destination_region: Some(region(WEST)),
            backoff: Backoff {
                initial: Duration::from_secs(5),
                max: Duration::from_secs(30),
            },
            ..Config::default()
        }
    }

    pub fn efs(&self, r: &str) -> aws_sdk_efs::Client {
        aws_sdk_efs::Client::from_conf(
            aws_sdk_efs::config::Builder::from(&self.sdk)
                .region(Region::new(r.to_string()))
                .build(),
        )
    }

    pub fn sns(&self, r: &str) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&self.sdk)
                .region(Region::new(r.to_string()))
                .build(),
        )
    }

    pub fn advance(&self, s: f64) {
        self.emu.shared.advance(s);
    }

    pub fn faults(&self, v: serde_json::Value) {
        self.emu
            .shared
            .set_faults(&serde_json::from_value(v).expect("faults"))
            .expect("faults apply");
    }

    pub fn write(&self, r: &str, fs: &str, path: &str, content: &str) -> f64 {
        self.emu
            .shared
            .write(r, fs, path, content)
            .expect("write")
            .time
    }

    pub fn mutating_calls_since(&self, seq: usize) -> Vec<String> {
        self.emu
            .shared
            .calls()
            .into_iter()
            .skip(seq)
            .filter(|c| c.mutating)
            .map(|c| format!("{} {}", c.region, c.operation))
            .collect()
    }

    pub fn call_count(&self) -> usize {
        self.emu.shared.calls().len()
    }

    /// A source in us-east-1 with writes, replicating to us-west-2, synced.
    pub async fn replicated_pair(&self, token: &str) -> (String, String) {
        let east = self.efs(EAST);
        let src = east
            .create_file_system()
            .creation_token(token)
            .encrypted(true)
            .send()
            .await
            .expect("create")
            .file_system_id;
        self.advance(15.0);
        self.write(EAST, &src, "/before.txt", "written before replication");
        let out = east
            .create_replication_configuration()
            .source_file_system_id(&src)
            .destinations(
                aws_sdk_efs::types::DestinationToCreate::builder()
                    .region(WEST)
                    .build(),
            )
            .send()
            .await
            .expect("replicate");
        let dst = out.destinations()[0].file_system_id().to_string();
        self.advance(700.0);
        (src, dst)
    }

    pub async fn protection(&self, r: &str, fs: &str) -> String {
        let out = self
            .efs(r)
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

    pub async fn tags(&self, r: &str, fs: &str) -> Vec<(String, String)> {
        let out = self
            .efs(r)
            .list_tags_for_resource()
            .resource_id(fs)
            .send()
            .await
            .expect("tags");
        out.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    }

    pub async fn has_replication(&self, r: &str, fs: &str) -> bool {
        self.efs(r)
            .describe_replication_configurations()
            .file_system_id(fs)
            .send()
            .await
            .is_ok()
    }

    pub async fn alerts_topic(&self) -> String {
        self.sns(WEST)
            .create_topic()
            .name("efs-dr-alerts")
            .send()
            .await
            .expect("topic")
            .topic_arn()
            .expect("arn")
            .to_string()
    }
}
