//! Parsing a request from JSON so that every error names the field it is about.

use crate::domain::error::{Error, Result};
use serde::de::DeserializeOwned;

/// Parses `value` as a `what` request (e.g. "failover"). serde's own message
/// often lacks the field ("invalid type: integer, expected a string"), so the
/// path where it failed comes first: `field mount_targets[0].subnet_id: …`.
/// `fields` lists the accepted fields, for whoever has to fix the event.
pub fn request<T: DeserializeOwned>(
    what: &str,
    value: serde_json::Value,
    fields: &str,
) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        // At the root there is no field to name: serde's message then says the
        // event is not an object, or names the missing field itself.
        let at = if e.path().iter().next().is_some() {
            format!("field {}: ", e.path())
        } else {
            String::new()
        };
        Error::InvalidInput(format!(
            "{what} request: {at}{}. Fields: {fields}",
            e.into_inner()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default)]
        items: Vec<Inner>,
        #[serde(default)]
        flag: Option<bool>,
    }

    fn message(v: serde_json::Value) -> String {
        match request::<Outer>("test", v, "items, flag") {
            Err(Error::InvalidInput(m)) => m,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_path_serde_leaves_out() {
        assert_eq!(
            message(json!({"flag": 3})),
            "test request: field flag: invalid type: integer `3`, expected a boolean. Fields: items, flag"
        );
        assert!(message(json!({"items": [{"name": "a"}, {"name": 1}]}))
            .starts_with("test request: field items[1].name: invalid type: integer `1`"));
        assert!(message(json!({"items": [{}]}))
            .starts_with("test request: field items[0]: missing field `name`"));
    }

    #[test]
    fn an_unknown_field_is_its_own_path_and_the_root_has_none() {
        let m = message(json!({"flga": true}));
        assert!(
            m.starts_with("test request: field flga: unknown field `flga`, expected"),
            "{m}"
        );
        assert!(m.ends_with(". Fields: items, flag"), "{m}");
        assert_eq!(
            message(json!(5)),
            "test request: invalid type: integer `5`, expected struct Outer. Fields: items, flag"
        );
    }
}
