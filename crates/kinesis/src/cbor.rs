//! Kinesis' CBOR wire format (`Content-Type: application/x-amz-cbor-1.1`), which the AWS SDK for
//! Java (v1 and v2) speaks to Kinesis by default: the same members as AWS JSON 1.1 in a CBOR
//! map, blobs (`Data`) as CBOR byte strings, and timestamps as tag 1 over integer epoch
//! **milliseconds** (not RFC 8949's seconds: aws/aws-sdk-java-v2#979 and #4661). Errors are a
//! CBOR map with `__type` and `message`, plus `x-amzn-ErrorType`.
//!
//! A request is translated to the JSON value the JSON 1.1 edge reads, and the JSON answer back
//! to CBOR, so both protocols share one implementation; the price is one base64 round trip of
//! record data per request, left for later.

use base64::Engine as _;
use ciborium::value::Value as Cbor;
use serde_json::{Map, Number, Value};

pub const CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

/// Members that are timestamps in the operations served.
const TIMESTAMPS: &[&str] = &[
    "Timestamp",
    "ApproximateArrivalTimestamp",
    "StreamCreationTimestamp",
    "ConsumerCreationTimestamp",
];
/// Members that are blobs.
const BLOBS: &[&str] = &["Data"];

/// A CBOR request body as the JSON the JSON 1.1 edge reads.
pub fn to_json(v: Cbor) -> Result<Value, String> {
    Ok(match v {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => {
            let i = i128::from(i);
            if let Ok(n) = i64::try_from(i) {
                Value::from(n)
            } else if let Ok(n) = u64::try_from(i) {
                Value::from(n)
            } else {
                return Err(format!("integer {i} out of range"));
            }
        }
        Cbor::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        // Epoch milliseconds on this wire; epoch seconds in JSON.
        Cbor::Tag(1, inner) => {
            let millis = match *inner {
                Cbor::Integer(i) => i128::from(i) as f64,
                Cbor::Float(f) => f,
                _ => return Err("a timestamp must be a number".into()),
            };
            Number::from_f64(millis / 1000.0).map_or(Value::Null, Value::Number)
        }
        Cbor::Tag(_, inner) => to_json(*inner)?,
        Cbor::Array(a) => Value::Array(a.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Cbor::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let Cbor::Text(k) = k else {
                    return Err("map keys must be text".into());
                };
                out.insert(k, to_json(v)?);
            }
            Value::Object(out)
        }
        _ => return Err("unsupported CBOR value".into()),
    })
}

/// A JSON answer as CBOR, `key` being the member it is the value of.
pub fn from_json(v: Value, key: Option<&str>) -> Cbor {
    match v {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(b),
        Value::Number(n) if key.is_some_and(|k| TIMESTAMPS.contains(&k)) => {
            let millis = (n.as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
            Cbor::Tag(1, Box::new(Cbor::Integer(millis.into())))
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Cbor::Integer(i.into())
            } else if let Some(u) = n.as_u64() {
                Cbor::Integer(u.into())
            } else {
                Cbor::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) if key.is_some_and(|k| BLOBS.contains(&k)) => {
            match base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) {
                Ok(b) => Cbor::Bytes(b),
                Err(_) => Cbor::Text(s),
            }
        }
        Value::String(s) => Cbor::Text(s),
        Value::Array(a) => Cbor::Array(a.into_iter().map(|v| from_json(v, key)).collect()),
        Value::Object(m) => Cbor::Map(
            m.into_iter()
                .map(|(k, v)| {
                    let c = from_json(v, Some(&k));
                    (Cbor::Text(k), c)
                })
                .collect(),
        ),
    }
}

pub fn decode(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let v: Cbor = ciborium::de::from_reader(body).map_err(|e| e.to_string())?;
    to_json(v)
}

pub fn encode(v: Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = ciborium::ser::into_writer(&from_json(v, None), &mut out);
    out
}
