//! The AWS Backup REST-JSON wire format shared by every operation family:
//! error replies and the model's exceptions, request bodies and fields, the
//! checks on names and ARNs, and the JSON of lifecycles and tags.

use crate::error::ApiError;
use crate::http::Reply;
use crate::world::backup::Lifecycle;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Renders an error as AWS Backup does: `x-amzn-ErrorType` (what clients
/// read first) and a body with the model's `Code` and `Message` members.
pub fn error_reply(err: &ApiError) -> Reply {
    let mut body = Map::new();
    body.insert("Code".into(), json!(err.code));
    body.insert("Message".into(), json!(err.message));
    if err.code == "ThrottlingException" {
        body.insert("message".into(), json!(err.message));
    }
    for (k, v) in &err.extra {
        body.insert(k.clone(), json!(v));
    }
    let mut reply = Reply::json(err.status, &Value::Object(body));
    reply
        .headers
        .push(("x-amzn-ErrorType".into(), err.code.clone()));
    reply
}

// The model's exceptions carry no HTTP status; AWS documents 400 for the
// client errors and 500 for the faults (ServiceUnavailableException).

pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterValueException", 400, message)
}

pub(super) fn missing(name: &str) -> ApiError {
    ApiError::new(
        "MissingParameterValueException",
        400,
        format!("The required parameter {name} is missing."),
    )
}

pub(super) fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new("ResourceNotFoundException", 400, message)
}

pub(super) fn bad_input(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidRequestException", 400, message)
}

/// What a throttled request gets (the common AWS error, not in the model).
pub fn throttled() -> ApiError {
    ApiError::new("ThrottlingException", 400, "Rate exceeded")
}

/// What an injected server error looks like: the model's fault.
pub fn unavailable() -> ApiError {
    ApiError::new(
        "ServiceUnavailableException",
        500,
        "The request failed due to a temporary failure of the server.",
    )
}

pub(super) fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(bad_input("The request body must be a JSON object.")),
        Err(e) => Err(bad_input(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// A string member that may be absent; another type is a bad request.
pub(super) fn opt_str<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(bad_input(format!("{name} must be a string, not {other}."))),
    }
}

/// A required string member: absent or empty is MissingParameterValueException.
pub(super) fn required_str<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    match opt_str(body, name)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(missing(name)),
    }
}

/// An integer member that may be absent.
pub(super) fn opt_i64(body: &Value, name: &str) -> Result<Option<i64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad_input(format!("{name} must be an integer, not {v}."))),
    }
}

/// `BackupVaultName`: `^[a-zA-Z0-9\-\_]{2,50}$`.
pub(super) fn check_vault_name(name: &str) -> Result<(), ApiError> {
    let ok = (2..=50).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Invalid backup vault name '{name}': use 2 to 50 letters, digits, hyphens and \
             underscores."
        )))
    }
}

/// A string-to-string map (`Tags`): keys 1 to 128 characters without the
/// reserved `aws:` prefix, values up to 256.
pub(super) fn parse_tags(body: &Value, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let map = match body.get(name) {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(bad_input(format!(
                "{name} must be a map of strings, not {other}."
            )))
        }
    };
    let mut tags = BTreeMap::new();
    for (key, value) in map {
        let value = value
            .as_str()
            .ok_or_else(|| bad_input(format!("{name}.{key} must be a string.")))?;
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(invalid(format!(
                "{name}: tag '{key}': keys are 1 to 128 characters, values at most 256."
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid(format!(
                "{name}: tag key '{key}' uses the reserved prefix 'aws:'."
            )));
        }
        tags.insert(key.clone(), value.to_string());
    }
    Ok(tags)
}

/// `Lifecycle`: days are -1 (keep forever) or positive; a point moved to
/// cold storage must stay there 90 days before it is deleted.
pub(super) fn parse_lifecycle(body: &Value) -> Result<Option<Lifecycle>, ApiError> {
    let l = match body.get("Lifecycle") {
        None | Some(Value::Null) => return Ok(None),
        Some(l @ Value::Object(_)) => l,
        Some(other) => {
            return Err(bad_input(format!(
                "Lifecycle must be a structure, not {other}."
            )))
        }
    };
    let days = |name: &str| -> Result<Option<i64>, ApiError> {
        match opt_i64(l, name)? {
            Some(d) if d != -1 && d < 1 => Err(invalid(format!(
                "Lifecycle.{name} is {d}; give a number of days of at least 1, or -1."
            ))),
            other => Ok(other),
        }
    };
    let lifecycle = Lifecycle {
        move_to_cold_storage_after_days: days("MoveToColdStorageAfterDays")?,
        delete_after_days: days("DeleteAfterDays")?,
        opt_in_to_archive_for_supported_resources: match l
            .get("OptInToArchiveForSupportedResources")
        {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                return Err(bad_input(format!(
                    "Lifecycle.OptInToArchiveForSupportedResources must be a boolean, not {other}."
                )))
            }
        },
        delete_after_event: match opt_str(l, "DeleteAfterEvent")? {
            None => None,
            Some("DELETE_AFTER_COPY") => Some("DELETE_AFTER_COPY".to_string()),
            Some(other) => {
                return Err(invalid(format!(
                    "Lifecycle.DeleteAfterEvent '{other}' is not DELETE_AFTER_COPY."
                )))
            }
        },
    };
    if let (Some(cold), Some(delete)) = (
        lifecycle.move_to_cold_storage_after_days.filter(|d| *d > 0),
        lifecycle.delete_after_days.filter(|d| *d > 0),
    ) {
        if delete < cold + 90 {
            return Err(invalid(format!(
                "Lifecycle.DeleteAfterDays ({delete}) must be at least 90 days more than \
                 MoveToColdStorageAfterDays ({cold})."
            )));
        }
    }
    Ok(Some(lifecycle))
}

pub(super) fn lifecycle_json(l: &Lifecycle) -> Value {
    let mut out = Map::new();
    if let Some(d) = l.move_to_cold_storage_after_days {
        out.insert("MoveToColdStorageAfterDays".into(), json!(d));
    }
    if let Some(d) = l.delete_after_days {
        out.insert("DeleteAfterDays".into(), json!(d));
    }
    if let Some(b) = l.opt_in_to_archive_for_supported_resources {
        out.insert("OptInToArchiveForSupportedResources".into(), json!(b));
    }
    if let Some(e) = &l.delete_after_event {
        out.insert("DeleteAfterEvent".into(), json!(e));
    }
    Value::Object(out)
}

/// Inserts `value` under `name` when there is one.
pub(super) fn put<T: Into<Value>>(out: &mut Map<String, Value>, name: &str, value: Option<T>) {
    if let Some(v) = value {
        out.insert(name.to_string(), v.into());
    }
}

/// An upper-case UUID, as Backup job IDs and recovery point IDs are written.
pub(super) fn upper_uuid(world: &mut crate::world::model::World) -> String {
    world.rng.uuid().to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_names_follow_the_model_pattern() {
        for ok in ["Default", "my-vault_1", "ab"] {
            assert!(check_vault_name(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "has space", "dots.not.allowed", &"x".repeat(51)] {
            let e = check_vault_name(bad).unwrap_err();
            assert_eq!(
                (e.code.as_str(), e.status),
                ("InvalidParameterValueException", 400)
            );
        }
    }

    #[test]
    fn lifecycle_needs_ninety_cold_days_before_deletion() {
        let ok = json!({"Lifecycle": {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 91}});
        assert!(parse_lifecycle(&ok).unwrap().is_some());
        let short = json!({"Lifecycle": {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 90}});
        assert_eq!(
            parse_lifecycle(&short).unwrap_err().code,
            "InvalidParameterValueException"
        );
        let forever =
            json!({"Lifecycle": {"MoveToColdStorageAfterDays": -1, "DeleteAfterDays": -1}});
        assert!(parse_lifecycle(&forever).is_ok());
        let zero = json!({"Lifecycle": {"DeleteAfterDays": 0}});
        assert!(parse_lifecycle(&zero).is_err());
        let typed = json!({"Lifecycle": {"DeleteAfterDays": "7"}});
        assert_eq!(
            parse_lifecycle(&typed).unwrap_err().code,
            "InvalidRequestException"
        );
    }

    #[test]
    fn required_members_are_missing_when_absent_or_empty() {
        let body = json!({"A": "", "B": 3});
        assert_eq!(
            required_str(&body, "A").unwrap_err().code,
            "MissingParameterValueException"
        );
        assert_eq!(
            required_str(&body, "C").unwrap_err().code,
            "MissingParameterValueException"
        );
        assert_eq!(
            required_str(&body, "B").unwrap_err().code,
            "InvalidRequestException"
        );
    }
}
