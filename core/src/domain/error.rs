//! The one error type of the shared crate.

use serde::Serialize;

/// How an AWS call failed, as far as a workflow cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AwsErrorKind {
    /// No answer: connection refused or reset, DNS failure, timeout.
    Unreachable,
    /// Still throttled after the SDK's retries.
    Throttled,
    /// A 5xx after the SDK's retries.
    ServerError,
    /// A modelled error answer (4xx) other than throttling.
    Service,
    /// Anything else (a malformed answer, a request that could not be built).
    Other,
}

impl AwsErrorKind {
    /// The Region gave no answer at all. An error answer (AccessDenied, throttling, a 500)
    /// still proves it is up: an IAM mistake must never look like a Region outage.
    pub fn is_no_answer(self) -> bool {
        self == AwsErrorKind::Unreachable
    }

    /// Worth trying again later within the same run.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            AwsErrorKind::Unreachable | AwsErrorKind::Throttled | AwsErrorKind::ServerError
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, thiserror::Error)]
#[error("{operation} in {region} failed: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub region: String,
    pub kind: AwsErrorKind,
    pub code: Option<String>,
    pub status: Option<u16>,
    pub message: String,
}

/// A guardrail that stopped a workflow before it changed anything.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refusal {
    /// Stable name, e.g. `InitialSync`, `RecoveryPointTooOld`.
    pub guardrail: &'static str,
    pub message: String,
    /// What the operator can do about it.
    pub remedy: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("refused by guardrail {}: {} {}", .0.guardrail, .0.message, .0.remedy)]
    Refused(Refusal),
    #[error("unexpected state: {0}")]
    Topology(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// An error already recorded in a report, raised again for the caller.
    #[error("{error_type}: {message}")]
    Reported { error_type: String, message: String },
}

impl Error {
    /// Lambda `errorType`: a stable name callers (Step Functions Retry/Catch) can match.
    pub fn error_type(&self) -> String {
        match self {
            Error::InvalidInput(_) => "InvalidInput".into(),
            Error::Refused(r) => format!("Refused.{}", r.guardrail),
            Error::Topology(_) => "UnexpectedState".into(),
            Error::Aws(e) => match e.kind {
                AwsErrorKind::Throttled => "AwsThrottled".into(),
                AwsErrorKind::Unreachable => "AwsUnreachable".into(),
                AwsErrorKind::ServerError => "AwsServerError".into(),
                _ => format!("Aws.{}", e.code.clone().unwrap_or_else(|| "Unknown".into())),
            },
            Error::Reported { error_type, .. } => error_type.clone(),
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Aws(e) if e.kind.is_transient())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
