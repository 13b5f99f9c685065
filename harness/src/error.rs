//! The one error type of the harness and its benchmark binary.

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("usage: {0}")]
    Usage(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Kit(#[from] efs_dr_testkit::KitError),
    #[error(transparent)]
    Workflow(#[from] efs_dr_shared::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A function invocation answered with Lambda's error shape.
    #[error("the function failed: {0}")]
    Function(serde_json::Value),
    /// A run did not end as a benchmark needs it to.
    #[error("{0}")]
    Run(String),
}

impl From<serde_json::Value> for HarnessError {
    fn from(error: serde_json::Value) -> HarnessError {
        HarnessError::Function(error)
    }
}

impl From<String> for HarnessError {
    fn from(message: String) -> HarnessError {
        HarnessError::Run(message)
    }
}

impl From<&str> for HarnessError {
    fn from(message: &str) -> HarnessError {
        HarnessError::Run(message.to_string())
    }
}

pub type HarnessResult<T> = Result<T, HarnessError>;
