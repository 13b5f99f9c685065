#![allow(dead_code)]
//! Workflow tests run the real AWS adapters against an in-process emulator
//! whose clock is virtual: every wait of a workflow moves emulated time.

use efs_dr_aws::{AwsContext, AwsSettings};
use efs_dr_emulator::EmulatorConfig;
use efs_dr_shared::domain::config::Config;
use efs_dr_shared::domain::ids::RegionName;
use efs_dr_shared::domain::time::Backoff;
use efs_dr_shared::testing::{MutationBudget, TestPlatform, VirtualClock};
use efs_dr_testkit::Kit;
use std::time::Duration;

pub use efs_dr_testkit::{BACKUP_ROLE, EAST, WEST};

/// The test kit's emulator, with what the workflow tests ask of it.
pub struct World {
    pub kit: Kit,
}

impl std::ops::Deref for World {
    type Target = Kit;
    fn deref(&self) -> &Kit {
        &self.kit
    }
}

pub async fn world() -> World {
    world_with(EmulatorConfig::manual()).await
}

pub async fn world_with(config: EmulatorConfig) -> World {
    let kit = Kit::start(config).await.expect("emulator");
    World { kit }
}

pub fn production_role() -> efs_dr_shared::domain::config::AssumedRole {
    use efs_dr_testkit::accounts::*;
    efs_dr_shared::domain::config::AssumedRole {
        arn: PRODUCTION_ROLE.into(),
        account: efs_dr_shared::domain::ids::AccountId::parse(PRODUCTION).expect("account"),
        external_id: Some(EXTERNAL_ID.into()),
    }
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
            ..AwsSettings::default()
        };
        let (now, adv) = (self.emu.shared.clone(), self.emu.shared.clone());
        TestPlatform {
            inner: AwsContext::from_sdk_config(self.sdk.clone(), settings),
            clock: VirtualClock::new(move || now.now(), move |s| adv.advance(s)),
            budget,
        }
    }

    /// The platform of a deployment across accounts: the functions' own
    /// credentials, and the production role assumed for the original's account.
    pub async fn platform_across_accounts(
        &self,
        budget: MutationBudget,
    ) -> TestPlatform<AwsContext> {
        let mut p = self.platform(budget);
        p.inner = p.inner.assuming(&production_role()).await;
        p
    }

    /// `config()` with the roles a deployment across accounts is given.
    pub fn config_across_accounts(&self) -> Config {
        use efs_dr_testkit::accounts::*;
        Config {
            source_account_role: Some(production_role()),
            replication_role_arn: Some(DR_REPLICATION_ROLE.into()),
            source_replication_role_arn: Some(SOURCE_REPLICATION_ROLE.into()),
            source_backup_role_arn: Some(SOURCE_BACKUP_ROLE.into()),
            ..self.config()
        }
    }

    pub fn config(&self) -> Config {
        Config {
            destination_region: Some(region(WEST)),
            backup_role_arn: Some(BACKUP_ROLE.into()),
            // One source probe per run: these suites time their own minutes.
            // The region detector's suite sets the template's 3.
            detector: efs_dr_shared::domain::config::DetectorSettings {
                probes_per_run: 1,
                ..Default::default()
            },
            backoff: Backoff {
                initial: Duration::from_secs(5),
                max: Duration::from_secs(30),
            },
            ..Config::default()
        }
    }

    pub fn efs(&self, r: &str) -> aws_sdk_efs::Client {
        self.kit.efs(r)
    }

    pub fn sns(&self, r: &str) -> aws_sdk_sns::Client {
        self.kit.sns(r)
    }

    pub fn advance(&self, s: f64) {
        self.kit.advance(s);
    }

    pub fn faults(&self, v: serde_json::Value) {
        self.emu
            .shared
            .set_faults(&serde_json::from_value(v).expect("faults"))
            .expect("faults apply");
    }

    pub fn write(&self, r: &str, fs: &str, path: &str, content: &str) -> f64 {
        self.kit.write(r, fs, path, content).expect("write")
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
        self.kit
            .replicated_pair(token)
            .await
            .expect("a replicated pair")
    }

    pub async fn protection(&self, r: &str, fs: &str) -> String {
        self.kit.protection(r, fs).await.unwrap_or_default()
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
