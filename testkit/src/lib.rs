//! One emulator test kit for every test tier and the drill: an in-process
//! emulator, an SDK configuration and clients pointed at it, replicated pairs
//! with data, writes, and the DR Region's alarm path as the template deploys
//! it. Nothing here is used by the Lambda functions themselves.

pub mod accounts;
pub mod alarm_path;
#[cfg(feature = "hcl")]
pub mod hcl;
pub mod invoke_api;
pub mod region_switch;

use aws_config::SdkConfig;
use aws_sdk_efs::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_smithy_types::error::display::DisplayErrorContext;
use efs_dr_emulator::{EmulatorConfig, EmulatorHandle};
use std::net::SocketAddr;

pub const EAST: &str = "us-east-1";
pub const WEST: &str = "us-west-2";
/// A third Region, neither source nor DR: where the witness runs.
pub const THIRD: &str = "eu-west-1";
/// The role AWS Backup assumes for efs-dr's preservation jobs, as tests configure it.
pub const BACKUP_ROLE: &str = "arn:aws:iam::123456789012:role/efs-dr-backup";
/// The Region the SDK configuration defaults to: the DR Region of every pair the kit makes.
pub const DR_REGION: &str = WEST;

#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("the emulator did not start: {0}")]
    Start(String),
    #[error("{operation}: {message}")]
    Sdk {
        operation: &'static str,
        message: String,
    },
    #[error("{0}")]
    Emulator(String),
}

impl KitError {
    pub fn sdk(operation: &'static str, e: impl std::error::Error) -> KitError {
        KitError::Sdk {
            operation,
            message: DisplayErrorContext(&e).to_string(),
        }
    }
}

impl From<String> for KitError {
    fn from(message: String) -> KitError {
        KitError::Emulator(message)
    }
}

/// Chooses the emulator's profile for every kit started in this process.
pub const PROFILE_ENV: &str = "EFS_DR_EMULATOR_PROFILE";

pub type Result<T, E = KitError> = std::result::Result<T, E>;

/// An SDK configuration for the emulator at `endpoint_url`: static
/// credentials, the DR Region, nothing read from this machine.
pub fn sdk_config(endpoint_url: String) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(DR_REGION))
        .endpoint_url(endpoint_url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKID",
            "secret",
            None,
            None,
            "efs-dr-testkit",
        )))
        .build()
}

/// CreateFileSystem (encrypted) with this creation token: its ID. The file
/// system becomes available after the emulator's `file_system_create` time.
pub async fn create_file_system(efs: &aws_sdk_efs::Client, creation_token: &str) -> Result<String> {
    Ok(efs
        .create_file_system()
        .creation_token(creation_token)
        .encrypted(true)
        .send()
        .await
        .map_err(|e| KitError::sdk("CreateFileSystem", e))?
        .file_system_id)
}

/// CreateReplicationConfiguration from `source` into a new file system in
/// `destination_region`: the new file system's ID.
pub async fn replicate_to_new(
    efs: &aws_sdk_efs::Client,
    source: &str,
    destination_region: &str,
) -> Result<String> {
    let created = efs
        .create_replication_configuration()
        .source_file_system_id(source)
        .destinations(
            aws_sdk_efs::types::DestinationToCreate::builder()
                .region(destination_region)
                .build(),
        )
        .send()
        .await
        .map_err(|e| KitError::sdk("CreateReplicationConfiguration", e))?;
    created
        .destinations()
        .first()
        .map(|d| d.file_system_id().to_string())
        .ok_or_else(|| {
            KitError::Emulator("CreateReplicationConfiguration named no destination".into())
        })
}

/// One file as the control API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct FileCopy {
    pub path: String,
    pub content: String,
    pub seq: u64,
}

fn files_of(v: &serde_json::Value) -> Vec<FileCopy> {
    v["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| FileCopy {
            path: f["path"].as_str().unwrap_or_default().to_string(),
            content: f["content"].as_str().unwrap_or_default().to_string(),
            seq: f["seq"].as_u64().unwrap_or_default(),
        })
        .collect()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// An emulator and an SDK configuration pointed at it.
pub struct Kit {
    pub emu: EmulatorHandle,
    pub sdk: SdkConfig,
}

impl Kit {
    /// Starts an emulator. `EFS_DR_EMULATOR_PROFILE=unkind` runs it with every
    /// behaviour AWS leaves open set to the variant harder on a client, so the
    /// same suites run under both readings of AWS.
    pub async fn start(mut config: EmulatorConfig) -> Result<Kit> {
        match std::env::var(PROFILE_ENV).ok().as_deref() {
            None | Some("") => {}
            Some("kind") => config.seed.profile = Some(efs_dr_emulator::config::Profile::Kind),
            Some("unkind") => config.seed.profile = Some(efs_dr_emulator::config::Profile::Unkind),
            Some(other) => {
                return Err(KitError::Start(format!(
                    "{PROFILE_ENV}={other}: give kind or unkind"
                )))
            }
        }
        let emu = efs_dr_emulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| KitError::Start(e.to_string()))?;
        let sdk = sdk_config(emu.url());
        Ok(Kit { emu, sdk })
    }

    pub fn efs(&self, region: &str) -> aws_sdk_efs::Client {
        aws_sdk_efs::Client::from_conf(
            aws_sdk_efs::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    pub fn sns(&self, region: &str) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    pub fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .build(),
        )
    }

    /// A witness for `source_region`: a canary in `THIRD` that checks the
    /// application on the source's data plane, and the alarm on it that the
    /// region detector reads (as docs/deploy.md sets it up). Returns the
    /// alarm's ARN, for `EFS_DR_WITNESS_ALARM_ARN`.
    pub async fn witness(&self, source_region: &str) -> Result<String> {
        let name = format!("efs-dr-witness-{source_region}");
        self.emu
            .shared
            .world()
            .set_witness(efs_dr_emulator::world::witness::WitnessRequest {
                name: name.clone(),
                kind: Default::default(),
                region: Some(THIRD.to_string()),
                target_region: source_region.to_string(),
                watches: Default::default(),
                delay_seconds: None,
                stopped: false,
            })
            .map_err(KitError::Start)?;
        use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
        self.cloudwatch(THIRD)
            .put_metric_alarm()
            .alarm_name(&name)
            .namespace("CloudWatchSynthetics")
            .metric_name("SuccessPercent")
            .dimensions(Dimension::builder().name("CanaryName").value(&name).build())
            .statistic(Statistic::Average)
            .period(60)
            .evaluation_periods(1)
            .threshold(100.0)
            .comparison_operator(ComparisonOperator::LessThanThreshold)
            .treat_missing_data("missing")
            .send()
            .await
            .map_err(|e| KitError::sdk("PutMetricAlarm", e))?;
        let account = self.emu.shared.world().account_id.clone();
        Ok(format!("arn:aws:cloudwatch:{THIRD}:{account}:alarm:{name}"))
    }

    /// Moves emulated time forward.
    pub fn advance(&self, seconds: f64) {
        self.emu.shared.advance(seconds);
    }

    /// A client's write to a file system; returns its emulated time.
    pub fn write(&self, region: &str, fs: &str, path: &str, content: &str) -> Result<f64> {
        Ok(self.emu.shared.write(region, fs, path, content, None)?.time)
    }

    /// A source in us-east-1 holding `/before.txt`, replicating to a new file
    /// system in us-west-2, past its initial sync: (source, replica).
    pub async fn replicated_pair(&self, creation_token: &str) -> Result<(String, String)> {
        let mut pairs = self
            .replicated_pairs_with(&[creation_token.to_string()])
            .await?;
        pairs
            .pop()
            .ok_or_else(|| KitError::Emulator("no pair was made".into()))
    }

    /// `n` such pairs, their creation tokens `{tag}-{i}`.
    pub async fn replicated_pairs(&self, n: usize, tag: &str) -> Result<Vec<(String, String)>> {
        let tokens: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
        self.replicated_pairs_with(&tokens).await
    }

    async fn replicated_pairs_with(&self, tokens: &[String]) -> Result<Vec<(String, String)>> {
        let east = self.efs(EAST);
        let mut sources = Vec::new();
        for token in tokens {
            sources.push(create_file_system(&east, token).await?);
        }
        self.advance(15.0);
        let mut pairs = Vec::new();
        for source in sources {
            self.write(EAST, &source, "/before.txt", "written before replication")?;
            let replica = replicate_to_new(&east, &source, WEST).await?;
            pairs.push((source, replica));
        }
        self.advance(700.0);
        Ok(pairs)
    }

    /// A call to the emulator's control API (`/_emulator/...`): its JSON answer.
    pub async fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value> {
        control_at(self.emu.addr, method, path, body).await
    }

    /// Path -> (content, write sequence number) of a recovery point's files, from the control API.
    pub async fn recovery_point_files(&self, recovery_point_arn: &str) -> Result<Vec<FileCopy>> {
        let v = self
            .control(
                "GET",
                &format!(
                    "/_emulator/files?recovery_point_arn={}",
                    url_encode(recovery_point_arn)
                ),
                None,
            )
            .await?;
        Ok(files_of(&v))
    }

    /// The same for a file system's live files.
    pub async fn file_system_files(&self, region: &str, fs: &str) -> Result<Vec<FileCopy>> {
        let v = self
            .control(
                "GET",
                &format!("/_emulator/files?region={region}&file_system_id={fs}"),
                None,
            )
            .await?;
        Ok(files_of(&v))
    }

    /// ReplicationOverwriteProtection of a file system, if it can be read.
    pub async fn protection(&self, region: &str, fs: &str) -> Option<String> {
        let out = self
            .efs(region)
            .describe_file_systems()
            .file_system_id(fs)
            .send()
            .await
            .ok()?;
        out.file_systems()
            .first()?
            .file_system_protection()?
            .replication_overwrite_protection()
            .map(|p| p.as_str().to_string())
    }

    /// The last replicated time of the replication `fs` takes part in, if any.
    pub async fn last_replicated(&self, region: &str, fs: &str) -> Option<f64> {
        let out = self
            .efs(region)
            .describe_replication_configurations()
            .file_system_id(fs)
            .send()
            .await
            .ok()?;
        out.replications()
            .first()?
            .destinations()
            .first()?
            .last_replicated_timestamp()
            .map(|t| t.as_secs_f64())
    }

    /// Environment for a function process: the emulator's endpoint and
    /// static credentials, nothing from this machine's AWS configuration.
    pub fn function_env(&self, extra: &[(&str, String)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("AWS_ENDPOINT_URL", self.emu.url()),
            ("AWS_REGION", DR_REGION.into()),
            ("AWS_DEFAULT_REGION", DR_REGION.into()),
            ("AWS_ACCESS_KEY_ID", "AKID".into()),
            ("AWS_SECRET_ACCESS_KEY", "secret".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("EFS_DR_BACKUP_ROLE_ARN", BACKUP_ROLE.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        env
    }
}

/// A call to the emulator's control API at `addr`; the JSON answer.
pub async fn control_at(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| KitError::Emulator(format!("control API: {e}")))?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| KitError::Emulator(format!("control API: {e}")))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .map_err(|e| KitError::Emulator(format!("control API: {e}")))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, json) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| KitError::Emulator(format!("control API: no body in {answer}")))?;
    if !head.starts_with("HTTP/1.1 2") {
        return Err(KitError::Emulator(format!(
            "control API {method} {path}: {head} {json}"
        )));
    }
    serde_json::from_str(json)
        .map_err(|e| KitError::Emulator(format!("control API {method} {path}: {e}: {json}")))
}
