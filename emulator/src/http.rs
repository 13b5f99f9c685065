//! Protocol-neutral request and reply passed between the server and the
//! service handlers.

pub struct ServiceRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Vec<(String, String)>,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// Also sent as `x-amzn-RequestId`; Query services repeat it in the body.
    pub request_id: &'a str,
}

impl ServiceRequest<'_> {
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A Query-protocol answer (SNS, STS): `<ActionResponse>` with its
    /// `<ActionResult>` and the request ID.
    pub fn query(xmlns: &str, action: &str, result: &str, request_id: &str) -> Reply {
        let body = format!(
            "<{action}Response xmlns=\"{xmlns}\"><{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
        );
        Reply::xml(200, body)
    }

    /// A Query-protocol error: an `ErrorResponse` document.
    pub fn query_error(xmlns: &str, err: &crate::error::ApiError, request_id: &str) -> Reply {
        let fault = if err.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{xmlns}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error>\
             <RequestId>{}</RequestId></ErrorResponse>",
            xml_escape(&err.code),
            xml_escape(&err.message),
            xml_escape(request_id)
        );
        Reply::xml(err.status, body)
    }

    fn xml(status: u16, body: String) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "text/xml".into())],
            body: body.into_bytes(),
        }
    }
}

pub fn xml_escape(s: &str) -> String {
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

/// Decodes `%XX` escapes (path segments; `+` stays `+`).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

/// The operation of an RPC-style request: the last part of `X-Amz-Target`
/// (awsJson, as botocore sends it), else what follows `/operation/` in the
/// path (smithy RPC v2 CBOR, as the Rust SDK sends it).
pub fn rpc_operation(path: &str, headers: &[(String, String)]) -> String {
    let target = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
        .and_then(|(_, v)| v.rsplit('.').next());
    match target {
        Some(t) => t.to_string(),
        None => path
            .rsplit_once("/operation/")
            .map(|(_, op)| op.to_string())
            .unwrap_or_else(|| "Unknown".into()),
    }
}

/// The two wire protocols of the smithy RPC services (CloudWatch, Region
/// switch): the Rust SDK speaks RPC v2 CBOR, botocore picks awsJson1_0
/// (`X-Amz-Target`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Cbor,
    Json,
}

pub fn protocol(headers: &[(String, String)]) -> Protocol {
    let json = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("x-amz-target")
            || (k.eq_ignore_ascii_case("content-type") && v.contains("amz-json"))
    });
    if json {
        Protocol::Json
    } else {
        Protocol::Cbor
    }
}

/// A control API error: `{"error": message}`.
pub fn control_error(status: u16, message: impl Into<String>) -> Reply {
    Reply::json(status, &serde_json::json!({ "error": message.into() }))
}

/// A control API request body, or a 400 that shows the expected shape.
pub fn parse_body<T: for<'de> serde::Deserialize<'de>>(
    body: &[u8],
    shape: &str,
) -> Result<T, Reply> {
    serde_json::from_slice(body)
        .map_err(|e| control_error(400, format!("invalid request body: {e}. Expected {shape}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_arn_segments() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Aelasticfilesystem%3Aus-east-1%3A1%3Afile-system%2Ffs-1"),
            "arn:aws:elasticfilesystem:us-east-1:1:file-system/fs-1"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
