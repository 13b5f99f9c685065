//! The SNS Query protocol: form-encoded parameters in, XML out, and errors
//! as `ErrorResponse` documents.

use crate::error::ApiError;
use crate::http::Reply;

pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

pub(super) fn xml_reply(action: &str, result: &str, request_id: &str) -> Reply {
    let body = format!(
        "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result>\
         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    );
    Reply {
        status: 200,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: body.into_bytes(),
    }
}

pub fn error_reply(err: &ApiError, request_id: &str) -> Reply {
    let fault = if err.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error>\
         <RequestId>{}</RequestId></ErrorResponse>",
        xml_escape(&err.code),
        xml_escape(&err.message),
        xml_escape(request_id)
    );
    Reply {
        status: err.status,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: body.into_bytes(),
    }
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
