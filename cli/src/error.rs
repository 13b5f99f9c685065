//! The one error type of the command line.

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Configuration, event parsing or a workflow refused or failed.
    #[error(transparent)]
    Workflow(#[from] efs_dr_shared::Error),
    /// The embedded emulator or an SDK call of the drill's own setup.
    #[cfg(feature = "drill")]
    #[error(transparent)]
    Kit(#[from] efs_dr_testkit::KitError),
    #[error(transparent)]
    Aws(#[from] efs_dr_shared::domain::error::AwsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Config(String),
    #[cfg(feature = "drill")]
    #[error("invalid identifier: {0}")]
    Id(String),
    #[cfg(feature = "drill")]
    #[error("timed out waiting for {0}")]
    TimedOut(String),
    #[cfg(feature = "drill")]
    #[error("{0}")]
    Drill(String),
    /// The operator console: the stack, a state machine, an execution or an
    /// answer is not as needed; the message says what to do.
    // Unused until main.rs declares `mod console`; then drop this allow.
    #[error("{0}")]
    Console(String),
}

pub type CliResult<T> = Result<T, CliError>;
