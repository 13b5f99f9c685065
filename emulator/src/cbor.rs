//! Minimal CBOR writer for smithy RPC v2 CBOR responses, and the conversions
//! between CBOR and JSON values that CloudWatch's awsJson1_0 protocol needs.
//!
//! Decoding uses ciborium. Encoding is hand-written because the SDK's decoder
//! reads `double` members only from CBOR floats, and ciborium shrinks floats to
//! half/single precision, which the SDK's decoder does not always accept.

use ciborium::value::Value;

/// Marks a value the model types `Float`: written as a single-precision
/// float without any tag, as the SDK reads those members only from one.
/// The tag number is private to this writer and never reaches the wire.
const SINGLE: u64 = 0x07ff_ff32;

/// A `Float` (single precision) member.
pub fn single(f: f64) -> Value {
    Value::Tag(SINGLE, Box::new(Value::Float(f)))
}

pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value);
    out
}

fn write_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= u8::MAX as u64 {
        out.push(m | 24);
        out.push(n as u8);
    } else if n <= u16::MAX as u64 {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u32::MAX as u64 {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Integer(i) => {
            let i: i128 = (*i).into();
            if i >= 0 {
                write_head(out, 0, i as u64);
            } else {
                write_head(out, 1, (-1 - i) as u64);
            }
        }
        Value::Bytes(b) => {
            write_head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Text(s) => {
            write_head(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(items) => {
            write_head(out, 4, items.len() as u64);
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(entries) => {
            write_head(out, 5, entries.len() as u64);
            for (k, v) in entries {
                write_value(out, k);
                write_value(out, v);
            }
        }
        Value::Tag(SINGLE, inner) => match inner.as_ref() {
            Value::Float(f) => {
                out.push(0xfa);
                out.extend_from_slice(&(*f as f32).to_be_bytes());
            }
            other => write_value(out, other),
        },
        Value::Tag(tag, inner) => {
            write_head(out, 6, *tag);
            write_value(out, inner);
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Float(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        _ => out.push(0xf6),
    }
}

pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    if bytes.is_empty() {
        return Ok(Value::Map(Vec::new()));
    }
    ciborium::de::from_reader(bytes).map_err(|e| format!("malformed CBOR body: {e}"))
}

/// Builder helpers so handlers read like the JSON they mirror.
pub fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

pub fn double(f: f64) -> Value {
    Value::Float(f)
}

pub fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

/// Epoch-seconds timestamp, CBOR tag 1, as smithy expects.
pub fn timestamp(epoch_seconds: f64) -> Value {
    Value::Tag(1, Box::new(Value::Float(epoch_seconds)))
}

pub fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
}

/// Read access to a decoded request map.
pub struct Fields<'a>(pub &'a [(Value, Value)]);

impl<'a> Fields<'a> {
    pub fn of(value: &'a Value) -> Fields<'a> {
        match value {
            Value::Map(m) => Fields(m),
            _ => Fields(&[]),
        }
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.0
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
            .map(|(_, v)| v)
    }

    pub fn str(&self, key: &str) -> Option<&'a str> {
        match self.get(key) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }

    pub fn f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(as_f64)
    }

    pub fn i64(&self, key: &str) -> Option<i64> {
        match self.get(key) {
            Some(Value::Integer(i)) => i64::try_from(*i).ok(),
            Some(Value::Float(f)) => Some(*f as i64),
            _ => None,
        }
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn list(&self, key: &str) -> &'a [Value] {
        match self.get(key) {
            Some(Value::Array(a)) => a,
            _ => &[],
        }
    }

    pub fn strings(&self, key: &str) -> Vec<String> {
        self.list(key)
            .iter()
            .filter_map(|v| match v {
                Value::Text(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn timestamp(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Value::Tag(_, inner)) => as_f64(inner),
            Some(other) => as_f64(other),
            None => None,
        }
    }
}

pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => i64::try_from(*i).ok().map(|i| i as f64),
        _ => None,
    }
}

/// A JSON value as CBOR: integers stay integers, other numbers become doubles.
pub fn from_json(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => int(i),
            None => double(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => text(s.clone()),
        J::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        J::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (text(k.clone()), from_json(v)))
                .collect(),
        ),
    }
}

/// A CBOR value as JSON: tags are unwrapped (timestamps become epoch seconds),
/// entries with non-text keys are left out, and what JSON cannot hold is null.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Integer(i) => i64::try_from(*i).map(J::from).unwrap_or(J::Null),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::Text(s) => J::String(s.clone()),
        Value::Bool(b) => J::Bool(*b),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .filter_map(|(k, v)| match k {
                    Value::Text(k) => Some((k.clone(), to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        Value::Tag(_, inner) => to_json(inner),
        _ => J::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_ciborium() {
        let v = map(vec![
            ("a", int(-5)),
            ("b", double(1.5)),
            ("c", timestamp(1_700_000_000.25)),
            (
                "d",
                Value::Array(vec![text("x"), Value::Bool(true), Value::Null]),
            ),
            ("e", int(70_000)),
        ]);
        let bytes = encode(&v);
        let back = decode(&bytes).expect("decodes");
        let f = Fields::of(&back);
        assert_eq!(f.i64("a"), Some(-5));
        assert_eq!(f.f64("b"), Some(1.5));
        assert_eq!(f.timestamp("c"), Some(1_700_000_000.25));
        assert_eq!(f.list("d").len(), 3);
        assert_eq!(f.i64("e"), Some(70_000));
    }

    #[test]
    fn doubles_are_always_eight_bytes() {
        assert_eq!(
            encode(&double(1.0)),
            vec![0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]
        );
    }
}
