//! One error type for every AWS-facing failure the emulator returns. Each
//! protocol (REST-JSON, RPC v2 CBOR, Query) renders it the way AWS does.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApiError {
    pub code: String,
    pub status: u16,
    pub message: String,
    /// Extra modelled members, e.g. `FileSystemId` on FileSystemAlreadyExists.
    pub extra: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(code: &str, status: u16, message: impl Into<String>) -> Self {
        ApiError {
            code: code.to_string(),
            status,
            message: message.into(),
            extra: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.extra.push((key.to_string(), value.into()));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new("BadRequest", 400, message)
    }

    pub fn file_system_not_found(id: &str) -> Self {
        Self::new(
            "FileSystemNotFound",
            404,
            format!("File system '{id}' does not exist."),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalServerError", 500, message)
    }

    /// CloudWatch's answer to a required member left out.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            "MissingParameter",
            400,
            format!("The parameter {name} is required."),
        )
    }

    /// CloudWatch's answer to a member with a value it does not accept.
    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", 400, message)
    }
}

/// Errors of the emulator itself (start-up, control API), not AWS answers.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot read seed file {path}: {source}")]
    SeedRead {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Seed(String),
    #[error("{0}")]
    Invalid(String),
}
