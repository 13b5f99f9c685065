//! Adapters from the ports to the AWS SDK: clients for any Region from one
//! loaded configuration, retries with backoff, a timeout on every call (a
//! short one for calls into the source Region), and a clock that follows the
//! AWS side's `Date` header.

mod backup;
mod cloudwatch;
mod efs;
mod region_switch;
mod sns;

#[cfg(feature = "lambda")]
pub mod lambda;

pub use backup::BackupClient;
pub use cloudwatch::CloudWatchMetrics;
pub use efs::EfsClient;
pub use region_switch::RegionSwitchClient;
pub use sns::{sns_subject, SnsNotifier};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use efs_dr_core::domain::error::{AwsError, AwsErrorKind};
use efs_dr_core::domain::ids::{AccountId, Location, RegionName};
use efs_dr_core::domain::ports::{CallBudget, Clock, Platform};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Timeouts and retries. Defaults suit a Lambda function in the DR Region.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// One attempt of a call in the Region we work in.
    pub attempt_timeout: Duration,
    /// A whole call including retries.
    pub operation_timeout: Duration,
    /// A whole call into the source Region, which may be the one that failed.
    pub source_timeout: Duration,
    pub max_attempts: u32,
    /// Emulated seconds per real second, for a run against a time-scaled
    /// emulator (the drill): the workflows' waits and the SDK's retry
    /// back-offs shrink by it, so that they cost the emulated time they
    /// would cost in AWS. 1 in AWS.
    pub time_scale: f64,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            attempt_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(30),
            source_timeout: Duration::from_secs(3),
            max_attempts: 6,
            time_scale: 1.0,
        }
    }
}

impl AwsSettings {
    /// Overrides from `EFS_DR_CALL_TIMEOUT_MS`, `EFS_DR_SOURCE_TIMEOUT_MS`,
    /// `EFS_DR_MAX_ATTEMPTS` and `EFS_DR_TIME_SCALE`.
    pub fn from_env() -> Self {
        let mut s = AwsSettings::default();
        let ms = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_millis)
        };
        if let Some(d) = ms("EFS_DR_CALL_TIMEOUT_MS") {
            s.attempt_timeout = d;
            s.operation_timeout = d * 6;
        }
        if let Some(d) = ms("EFS_DR_SOURCE_TIMEOUT_MS") {
            s.source_timeout = d;
        }
        // Only against a time-scaled emulator (the harness, drills): emulated
        // seconds per real second. Never set in AWS.
        if let Some(scale) = std::env::var("EFS_DR_TIME_SCALE")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
        {
            s.time_scale = valid_scale(scale);
        }
        if let Some(n) = std::env::var("EFS_DR_MAX_ATTEMPTS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            s.max_attempts = n;
        }
        s
    }
}

/// Time as the AWS side tells it (the `Date` header of its answers), so that
/// lags computed against LastReplicatedTimestamp do not suffer local clock skew.
#[derive(Clone, Debug)]
pub struct AwsClock {
    last: Arc<Mutex<Option<(f64, Instant)>>>,
    /// Emulated seconds per real second (`AwsSettings::time_scale`).
    scale: f64,
}

impl Default for AwsClock {
    fn default() -> Self {
        AwsClock {
            last: Arc::default(),
            scale: 1.0,
        }
    }
}

/// A time scale that cannot break duration arithmetic: finite and positive,
/// else 1 (real time).
fn valid_scale(scale: f64) -> f64 {
    if scale.is_finite() && scale > 0.0 && scale <= 1e6 {
        scale
    } else {
        1.0
    }
}

fn system_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl AwsClock {
    fn observe(&self, server_epoch: f64) {
        if let Ok(mut last) = self.last.lock() {
            // The Date header has second precision: keep the later estimate so time never runs backwards.
            let candidate = server_epoch + 0.5;
            let keep = match *last {
                Some((s, at)) => candidate > s + at.elapsed().as_secs_f64() * self.scale,
                None => true,
            };
            if keep {
                *last = Some((candidate, Instant::now()));
            }
        }
    }
}

impl Clock for AwsClock {
    fn now(&self) -> f64 {
        match self.last.lock().ok().and_then(|l| *l) {
            Some((server, at)) => server + at.elapsed().as_secs_f64() * self.scale,
            None => system_now(),
        }
    }

    fn monotonic(&self) -> Duration {
        process_start().elapsed().mul_f64(self.scale)
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d.div_f64(self.scale)).await
    }
}

fn process_start() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now)
}

#[derive(Debug)]
struct ServerClockInterceptor(AwsClock);

impl Intercept for ServerClockInterceptor {
    fn name(&self) -> &'static str {
        "ServerClock"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            if let Ok(t) = httpdate::parse_http_date(date) {
                if let Ok(d) = t.duration_since(UNIX_EPOCH) {
                    self.0.observe(d.as_secs_f64());
                }
            }
        }
        Ok(())
    }
}

/// One loaded AWS configuration, from which clients for any location are
/// made: the loaded credentials for the functions' own account, and the
/// credentials registered for any other account (`with_account`).
#[derive(Clone)]
pub struct AwsContext {
    sdk: SdkConfig,
    accounts: Arc<std::collections::HashMap<AccountId, SdkConfig>>,
    settings: AwsSettings,
    clock: AwsClock,
    /// One client (and connection pool) per Region and budget, shared by every
    /// workflow of a run instead of one per file system.
    efs_clients: Arc<Mutex<std::collections::HashMap<(Location, CallBudget), EfsClient>>>,
}

impl AwsContext {
    /// Credentials, endpoint overrides (`AWS_ENDPOINT_URL`…) and Region from the environment.
    pub async fn load() -> Self {
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Self::from_sdk_config(sdk, AwsSettings::from_env())
    }

    pub fn from_sdk_config(sdk: SdkConfig, settings: AwsSettings) -> Self {
        AwsContext {
            sdk,
            clock: AwsClock {
                scale: valid_scale(settings.time_scale),
                ..AwsClock::default()
            },
            settings,
            accounts: Arc::default(),
            efs_clients: Arc::default(),
        }
    }

    /// Calls to `account` use `sdk`'s credentials (an assumed role, say).
    pub fn with_account(mut self, account: AccountId, sdk: SdkConfig) -> Self {
        Arc::make_mut(&mut self.accounts).insert(account, sdk);
        self.efs_clients = Arc::default();
        self
    }

    /// Calls into the production account assume `role` there (with its
    /// external ID): for what only the owner of the original can do.
    /// Credentials are fetched when first used and refreshed before they expire.
    pub async fn assuming(self, role: &efs_dr_core::domain::config::AssumedRole) -> Self {
        // The provider judges expiry by a time source; a hand-built configuration may lack one.
        let base = match self.sdk.time_source() {
            Some(_) => self.sdk.clone(),
            None => self
                .sdk
                .clone()
                .into_builder()
                .time_source(aws_smithy_async::time::SystemTimeSource::new())
                .build(),
        };
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(role.arn.clone())
            .session_name("efs-dr")
            .configure(&base);
        if let Some(id) = &role.external_id {
            provider = provider.external_id(id.clone());
        }
        let provider = provider.build().await;
        let sdk = self
            .sdk
            .clone()
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
        let account = role.account.clone();
        self.with_account(account, sdk)
    }

    /// The context a deployment's configuration asks for: its own
    /// credentials, and the production account's role when one is configured.
    pub async fn for_config(self, config: Option<&efs_dr_core::domain::config::Config>) -> Self {
        match config.and_then(|c| c.source_account_role.as_ref()) {
            Some(role) => self.assuming(role).await,
            None => self,
        }
    }

    /// The configuration whose credentials reach `at`.
    fn sdk_for(&self, at: &Location) -> &SdkConfig {
        at.account
            .as_ref()
            .and_then(|a| self.accounts.get(a))
            .unwrap_or(&self.sdk)
    }

    /// The Region the functions run in (the DR Region).
    pub fn home_region(&self) -> Option<RegionName> {
        self.sdk
            .region()
            .and_then(|r| RegionName::parse(r.as_ref()).ok())
    }

    pub fn clock(&self) -> AwsClock {
        self.clock.clone()
    }

    /// A real-time duration for an emulated one.
    fn scaled(&self, d: Duration) -> Duration {
        d.div_f64(valid_scale(self.settings.time_scale))
            .max(Duration::from_millis(1))
    }

    fn retry(&self, budget: CallBudget) -> RetryConfig {
        match budget {
            CallBudget::Normal => RetryConfig::standard()
                .with_max_attempts(self.settings.max_attempts)
                .with_initial_backoff(self.scaled(Duration::from_millis(200)))
                .with_max_backoff(self.scaled(Duration::from_secs(5))),
            // The source Region is a signal, not a dependency: one quick look, no waiting on retries.
            CallBudget::Short => RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(self.scaled(Duration::from_millis(100))),
        }
    }

    fn timeouts(&self, budget: CallBudget) -> TimeoutConfig {
        let (attempt, operation) = match budget {
            CallBudget::Normal => (
                self.settings.attempt_timeout,
                self.settings.operation_timeout,
            ),
            CallBudget::Short => (
                self.settings.source_timeout / 2,
                self.settings.source_timeout,
            ),
        };
        TimeoutConfig::builder()
            .connect_timeout(attempt.min(Duration::from_secs(3)))
            .operation_attempt_timeout(attempt)
            .operation_timeout(operation)
            .build()
    }

    pub fn efs(&self, at: impl Into<Location>, budget: CallBudget) -> EfsClient {
        let at = at.into();
        let region = &at.region;
        let key = (at.clone(), budget);
        if let Some(client) = self
            .efs_clients
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned())
        {
            return client;
        }
        let conf = aws_sdk_efs::config::Builder::from(self.sdk_for(&at))
            .region(aws_sdk_efs::config::Region::new(region.to_string()))
            .retry_config(self.retry(budget))
            .timeout_config(self.timeouts(budget))
            .interceptor(ServerClockInterceptor(self.clock.clone()))
            .build();
        // Into another account without its credentials, file systems are named by ARN.
        let foreign = at
            .account
            .clone()
            .filter(|a| !self.accounts.contains_key(a));
        let client = EfsClient::new(aws_sdk_efs::Client::from_conf(conf), region.clone())
            .naming_account(foreign);
        if let Ok(mut cache) = self.efs_clients.lock() {
            cache.insert(key, client.clone());
        }
        client
    }

    /// Notifications to any recipient; SNS clients are made per topic Region.
    pub fn notifier(&self) -> SnsNotifier {
        SnsNotifier::new(self.clone())
    }

    fn sns(&self, region: &RegionName) -> aws_sdk_sns::Client {
        let conf = aws_sdk_sns::config::Builder::from(&self.sdk)
            .region(aws_sdk_sns::config::Region::new(region.to_string()))
            .retry_config(self.retry(CallBudget::Normal))
            .timeout_config(self.timeouts(CallBudget::Normal))
            .interceptor(ServerClockInterceptor(self.clock.clone()))
            .build();
        aws_sdk_sns::Client::from_conf(conf)
    }

    pub fn backup(&self, at: impl Into<Location>) -> BackupClient {
        let at = at.into();
        let region = &at.region;
        let conf = aws_sdk_backup::config::Builder::from(self.sdk_for(&at))
            .region(aws_sdk_backup::config::Region::new(region.to_string()))
            .retry_config(self.retry(CallBudget::Normal))
            .timeout_config(self.timeouts(CallBudget::Normal))
            .interceptor(ServerClockInterceptor(self.clock.clone()))
            .build();
        BackupClient::new(aws_sdk_backup::Client::from_conf(conf), region.clone())
    }

    pub fn region_switch(&self, at: impl Into<Location>) -> RegionSwitchClient {
        let at = at.into();
        let region = &at.region;
        let conf = aws_sdk_arcregionswitch::config::Builder::from(self.sdk_for(&at))
            .region(aws_sdk_arcregionswitch::config::Region::new(
                region.to_string(),
            ))
            .retry_config(self.retry(CallBudget::Normal))
            .timeout_config(self.timeouts(CallBudget::Normal))
            .interceptor(ServerClockInterceptor(self.clock.clone()))
            .build();
        RegionSwitchClient::new(
            aws_sdk_arcregionswitch::Client::from_conf(conf),
            region.clone(),
        )
    }

    pub fn metrics(&self, at: impl Into<Location>) -> CloudWatchMetrics {
        let at = at.into();
        let region = &at.region;
        let conf = aws_sdk_cloudwatch::config::Builder::from(self.sdk_for(&at))
            .region(aws_sdk_cloudwatch::config::Region::new(region.to_string()))
            .retry_config(self.retry(CallBudget::Normal))
            .timeout_config(self.timeouts(CallBudget::Normal))
            .interceptor(ServerClockInterceptor(self.clock.clone()))
            .build();
        CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::from_conf(conf), region.clone())
    }
}

/// Classifies an SDK failure for the workflows.
pub(crate) fn aws_error<E, R>(
    operation: &'static str,
    region: &RegionName,
    err: &SdkError<E, R>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + std::fmt::Debug,
{
    let status = err.raw_response().map(|r| r.status_code());
    let code = err.code().map(str::to_string);
    let kind = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => AwsErrorKind::Unreachable,
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let throttled = matches!(
                code.as_deref(),
                Some(
                    "ThrottlingException"
                        | "Throttling"
                        | "ThrottledException"
                        | "TooManyRequestsException"
                        | "RequestLimitExceeded"
                )
            );
            if throttled {
                AwsErrorKind::Throttled
            } else if status.is_some_and(|s| s >= 500) {
                AwsErrorKind::ServerError
            } else if matches!(err, SdkError::ResponseError(_)) {
                AwsErrorKind::Other
            } else {
                AwsErrorKind::Service
            }
        }
        _ => AwsErrorKind::Other,
    };
    let message = match (err.message(), &code) {
        (Some(m), Some(c)) => format!("{c}: {m}"),
        (Some(m), None) => m.to_string(),
        (None, Some(c)) => c.clone(),
        (None, None) => {
            use std::error::Error as _;
            let mut text = err.to_string();
            let mut source = err.source();
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    };
    AwsError {
        operation,
        region: region.to_string(),
        kind,
        code,
        status,
        message,
    }
}

pub(crate) trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

impl Platform for AwsContext {
    type Efs = EfsClient;
    type Backup = BackupClient;
    type Notifier = SnsNotifier;
    type Metrics = CloudWatchMetrics;
    type Clock = AwsClock;
    type RegionSwitch = RegionSwitchClient;

    fn efs(&self, at: impl Into<Location>, budget: CallBudget) -> EfsClient {
        AwsContext::efs(self, at, budget)
    }

    fn backup(&self, at: impl Into<Location>) -> BackupClient {
        AwsContext::backup(self, at)
    }

    fn notifier(&self) -> SnsNotifier {
        AwsContext::notifier(self)
    }

    fn metrics(&self, at: impl Into<Location>) -> CloudWatchMetrics {
        AwsContext::metrics(self, at)
    }

    fn clock(&self) -> &AwsClock {
        &self.clock
    }

    fn region_switch(&self, at: impl Into<Location>) -> RegionSwitchClient {
        AwsContext::region_switch(self, at)
    }
}
