//! CloudWatch's two wire protocols: smithy RPC v2 CBOR (the Rust SDK) and
//! awsJson1_0 (botocore, `X-Amz-Target`). Handlers read CBOR values and
//! answer in CBOR; JSON requests and replies are converted at this edge.
//! Errors carry the query-compatible code in `x-amzn-query-error`.

use crate::cbor;
use crate::error::ApiError;
use crate::http::{Reply, ServiceRequest};
use ciborium::value::Value;

pub use crate::http::{protocol, Protocol};

fn query_code(code: &str) -> (&'static str, &str) {
    // (fault type, query-compatible code) as the x-amzn-query-error header carries them.
    match code {
        "InternalServiceError" | "InternalFailure" => ("Receiver", code),
        _ => ("Sender", code),
    }
}

pub fn error_reply(err: &ApiError, protocol: Protocol) -> Reply {
    let (fault, code) = query_code(&err.code);
    let body = cbor::map(vec![
        (
            "__type",
            cbor::text(format!("com.amazonaws.cloudwatch#{code}")),
        ),
        ("message", cbor::text(err.message.clone())),
    ]);
    let reply = Reply {
        status: err.status,
        headers: vec![
            ("content-type".into(), "application/cbor".into()),
            ("smithy-protocol".into(), "rpc-v2-cbor".into()),
            ("x-amzn-query-error".into(), format!("{code};{fault}")),
        ],
        body: cbor::encode(&body),
    };
    match protocol {
        Protocol::Json => to_json_reply(reply),
        Protocol::Cbor => reply,
    }
}

/// Re-encodes a CBOR reply as awsJson1_0 (timestamps become epoch seconds).
pub(super) fn to_json_reply(reply: Reply) -> Reply {
    let value = cbor::decode(&reply.body)
        .map(|v| cbor::to_json(&v))
        .unwrap_or(serde_json::Value::Null);
    let mut headers: Vec<(String, String)> = reply
        .headers
        .into_iter()
        .filter(|(k, _)| k != "content-type" && k != "smithy-protocol")
        .collect();
    headers.push(("content-type".into(), "application/x-amz-json-1.0".into()));
    Reply {
        status: reply.status,
        headers,
        body: serde_json::to_vec(&value).unwrap_or_default(),
    }
}

pub(super) fn ok(value: Value) -> Reply {
    Reply {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/cbor".into()),
            ("smithy-protocol".into(), "rpc-v2-cbor".into()),
        ],
        body: cbor::encode(&value),
    }
}

pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid_parameter_value(message)
}

pub(super) fn missing(name: &str) -> ApiError {
    ApiError::missing_parameter(name)
}

pub(super) fn decode_body(req: &ServiceRequest) -> Result<Value, ApiError> {
    let gzipped = req
        .header("content-encoding")
        .is_some_and(|e| e.contains("gzip"));
    let raw: std::borrow::Cow<[u8]> = if gzipped {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(req.body)
            .read_to_end(&mut out)
            .map_err(|e| {
                ApiError::new(
                    "InvalidParameterValue",
                    400,
                    format!("The gzip request body is corrupt: {e}"),
                )
            })?;
        out.into()
    } else {
        req.body.into()
    };
    if protocol(req.headers) == Protocol::Json {
        let json: serde_json::Value = if raw.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_slice(&raw).map_err(|e| {
                ApiError::new(
                    "SerializationException",
                    400,
                    format!("malformed JSON body: {e}"),
                )
            })?
        };
        return Ok(cbor::from_json(&json));
    }
    cbor::decode(&raw).map_err(|e| ApiError::new("SerializationException", 400, e))
}
