//! The SNS Query protocol: form-encoded parameters in, XML out, and errors
//! as `ErrorResponse` documents.

use crate::error::ApiError;
use crate::http::Reply;

pub(super) use crate::http::xml_escape;

const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

pub(super) fn xml_reply(action: &str, result: &str, request_id: &str) -> Reply {
    Reply::query(XMLNS, action, result, request_id)
}

pub fn error_reply(err: &ApiError, request_id: &str) -> Reply {
    Reply::query_error(XMLNS, err, request_id)
}

pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameter", 400, message)
}

pub(super) fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new("NotFound", 404, message)
}

pub(super) struct Params(pub(super) Vec<(String, String)>);

impl Params {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| invalid(format!("Invalid parameter: {name} is required.")))
    }

    /// `Prefix.entry.N.key` / `.value` maps.
    pub(super) fn entries(&self, prefix: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for n in 1.. {
            let key = self.get(&format!("{prefix}.entry.{n}.key"));
            let value = self.get(&format!("{prefix}.entry.{n}.value"));
            match (key, value) {
                (Some(k), Some(v)) => out.push((k.to_string(), v.to_string())),
                _ => break,
            }
        }
        out
    }
}
